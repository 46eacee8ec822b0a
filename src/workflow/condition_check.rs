//! Load-time checks of conditions (control.md §6, §11): `when:` and the expression form of
//! `break_if:` are compiled (`when-syntax`, at the column of the error), and every name they read
//! is checked against what is statically in scope at that point of the file
//! (`undefined-variable`, with a did-you-mean).
//!
//! In scope: parameters, captures of earlier steps (every capture of an enclosing loop body),
//! loop variables, and the reserved `steps` (ids of steps earlier in the file, or anywhere in an
//! enclosing loop body), `run`, `env` and `params`.

use super::condition::{Condition, RESERVED, RUN_FIELDS, Read, is_cel_name};
use super::fields::{MapReader, Target, YamlPath};
use super::loader::Analyzer;
use super::model::BreakIf;
use super::suggest::suggest;
use super::yaml::Node;
use rustc_hash::FxHashMap;

/// The words of `break_if` that are not expressions.
const SUCCESS: &str = "success";
const FAILURE: &str = "failure";

/// Whether the value of `field` is an expression to parse: any `when`, and a `break_if` other
/// than the words `success` and `failure`.
pub(crate) fn is_expression(field: &str, value: &str) -> bool {
    match field {
        "when" => true,
        "break_if" => !matches!(value.trim(), SUCCESS | FAILURE),
        _ => false,
    }
}

impl<'a> Analyzer<'a> {
    /// `when:` of the step `r` reads, compiled and checked.
    pub(crate) fn when(&mut self, r: &MapReader<'a, '_>) -> Option<Condition> {
        let text = r.nonempty_string("when", &mut self.sink)?;
        self.condition(text, "when", r.path_of("when"))
    }

    /// `break_if:` of the step `r` reads: `success`, `failure`, or an expression (read after the
    /// step itself, whose capture it may test).
    pub(crate) fn break_if(&mut self, r: &MapReader<'a, '_>) -> Option<BreakIf> {
        let node = r.get("break_if")?;
        let path = r.path_of("break_if");
        let Node::Str(text) = node else {
            self.sink
                .wrong_type("break_if", super::fields::A_STRING, node, path);
            return None;
        };
        if self.loop_depth == 0 {
            self.sink.error(
                "break-if-outside-loop",
                "break_if is only allowed on steps inside a loop body in the same file".to_owned(),
                path,
                Target::Key,
            );
        } else if self.loop_parallel.last() == Some(&true) {
            self.sink.error(
                "break-if-parallel",
                "break_if is not allowed in the body of a loop with \"max_parallel\", whose iterations run at once; remove \"max_parallel\" or the break_if"
                    .to_owned(),
                path,
                Target::Key,
            );
        }
        match text.trim() {
            // The words keep their first-release meaning, even if a capture has that name.
            SUCCESS => Some(BreakIf::Success),
            FAILURE => Some(BreakIf::Failure),
            "" => {
                self.sink.error(
                    "invalid-value",
                    "\"break_if\" is empty: use success, failure or an expression".to_owned(),
                    path,
                    Target::Value,
                );
                None
            }
            // A lone word that is no variable is a misspelled keyword, not an expression.
            word if super::fields::is_identifier(word) && !self.is_variable(word) => {
                let hint = hint(word, ["success", "failure"]);
                self.sink.error(
                    "invalid-value",
                    format!(
                        "invalid break_if {}: use success, failure or an expression{hint}",
                        super::yaml::quote_short(word)
                    ),
                    path,
                    Target::Value,
                );
                None
            }
            _ => self.condition(text, "break_if", path).map(BreakIf::When),
        }
    }

    /// The `reserved-name` errors of a file that has conditions: there `steps`, `run`, `env`
    /// and `params` mean the run's own values, so a parameter or capture cannot have one of
    /// those names. (A file without conditions keeps its first-release meaning.)
    pub(crate) fn reserved_names(&mut self) {
        if !self.has_conditions {
            return;
        }
        let current = self.sink.location.clone();
        for (location, path, name, what) in std::mem::take(&mut self.reserved) {
            self.sink.location = location;
            self.sink.error_help(
                "reserved-name",
                format!(
                    "\"{name}\" is reserved for conditions (\"when\", \"break_if\") and cannot be used as a {what} name"
                ),
                "reserved: steps, run, env, params; choose another name".to_owned(),
                path.as_str(),
                Target::Value,
            );
        }
        self.sink.location = current;
    }

    /// Compiles `text` (the value of `field` at `path`) and checks its names.
    fn condition(&mut self, text: &str, field: &str, path: YamlPath<'_>) -> Option<Condition> {
        self.has_conditions = true;
        let condition = match self.prepared.parse(text) {
            Ok(condition) => condition,
            Err(err) => {
                self.sink.error_help(
                    "when-syntax",
                    format!(
                        "invalid expression in \"{field}\": {} (line {}, column {} of the expression)",
                        err.message, err.line, err.column
                    ),
                    "write a CEL expression, for example: review.verdict == \"fail\" && steps.tests.outcome == \"success\"".to_owned(),
                    path,
                    Target::Within {
                        line: err.line,
                        column: err.column,
                    },
                );
                return None;
            }
        };
        let before = self.sink.error_count();
        self.check_names(&condition, field, path);
        (self.sink.error_count() == before).then_some(condition)
    }

    fn check_names(&mut self, condition: &Condition, field: &str, path: YamlPath<'_>) {
        let uses = condition.uses();
        let at =
            |read: Read, name: &str| at_offset(condition.text(), condition.offset_of(read, name));
        let mut known: Option<Vec<&str>> = None;
        for name in uses.names() {
            if RESERVED.contains(&name) || is_cel_name(name) || self.is_variable(name) {
                continue;
            }
            let known = known.get_or_insert_with(|| self.condition_names());
            let hint = hint(name, known.iter().copied());
            self.sink.error_help(
                "undefined-variable",
                format!("undefined variable \"{name}\" in \"{field}\"{hint}"),
                format!("known here: {}", super::validate::listing(known)),
                path,
                at(Read::Name, name),
            );
        }
        for id in uses.steps() {
            if self.ids.contains_key(id) || self.body_ids.contains(id) {
                continue;
            }
            let ids: Vec<&str> = self
                .ids
                .keys()
                .copied()
                .chain(self.body_ids.iter().copied())
                .collect();
            let hint = hint(id, ids.iter().copied());
            self.sink.error_help(
                "undefined-variable",
                format!("\"steps.{id}\" in \"{field}\": no step \"{id}\" runs before this one in this file{hint}"),
                "steps.<id> reads steps of the same file that ran before this one".to_owned(),
                path,
                at(Read::Step, id),
            );
        }
        for name in uses.params() {
            if self.params.contains(name) {
                continue;
            }
            let hint = hint(name, self.params.iter().copied());
            self.sink.error(
                "undefined-variable",
                format!("\"params.{name}\" in \"{field}\": this workflow has no parameter \"{name}\"{hint}"),
                path,
                at(Read::Param, name),
            );
        }
        for name in uses.run() {
            if RUN_FIELDS.contains(&name) {
                continue;
            }
            let hint = hint(name, RUN_FIELDS.iter().copied());
            self.sink.error(
                "undefined-variable",
                format!("\"run.{name}\" in \"{field}\": run has cost_usd, tokens and id{hint}"),
                path,
                at(Read::Run, name),
            );
        }
    }

    /// A parameter, capture or loop variable known at this point of the file.
    fn is_variable(&self, name: &str) -> bool {
        self.params.contains(name)
            || self.loop_vars.contains(name)
            || self.captures.contains(name)
            || self.body_captures.contains(name)
    }

    /// What a condition can read here, in the order the help lists them.
    fn condition_names(&self) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = Vec::new();
        let mut seen: FxHashMap<&'a str, ()> = FxHashMap::default();
        let lists = [
            &self.params,
            &self.captures,
            &self.body_captures,
            &self.loop_vars,
        ];
        for name in lists.into_iter().flat_map(|list| list.iter()) {
            if seen.insert(name, ()).is_none() {
                names.push(name);
            }
        }
        names.extend(RESERVED.iter().copied());
        names
    }
}

/// ` (did you mean "<best>"?)` or nothing.
fn hint<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    match suggest(word, candidates) {
        Some(best) => format!(" (did you mean \"{best}\"?)"),
        None => String::new(),
    }
}

/// The place of character `offset` of `text`, for a finding.
fn at_offset(text: &str, offset: usize) -> Target {
    let before: String = text.chars().take(offset).collect();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Target::Within { line, column }
}
