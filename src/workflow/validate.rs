//! Template checks and the known-names logic (workflow-format.md §8.4).
//!
//! A template field is checked only when its text contains `{{`. The template itself is analysed
//! by the `interpolate` module (syntax, helpers, quoting in shell contexts), and the model keeps
//! that analysis in its [`Template`] for run time; this module decides
//! which variable names are known at that point of the file and reports the others as
//! `undefined-variable`, with a did-you-mean and the list of known names.

use super::fields::{Target, YamlPath};
use super::loader::Analyzer;
use super::model::{BUILTIN_VARS, Template};
use super::suggest::suggest;
use rustc_hash::FxHashMap;

/// At most this many known names are listed in the help of an `undefined-variable` error.
const LISTED_NAMES: usize = 40;

/// `a, b, c`, cut after [`LISTED_NAMES`] with how many more there are.
pub(super) fn listing(names: &[&str]) -> String {
    let mut text = names
        .iter()
        .take(LISTED_NAMES)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED_NAMES {
        text.push_str(&format!(" and {} more", names.len() - LISTED_NAMES));
    }
    text
}

impl<'a> Analyzer<'a> {
    /// Checks a template field at `path` and returns it as the model keeps it, with its
    /// analysis. `builtins_only` is for param defaults.
    pub(crate) fn template(
        &mut self,
        text: &str,
        field: &str,
        shell: bool,
        path: YamlPath<'_>,
        builtins_only: bool,
    ) -> Template {
        // The analysis returns at once, allocating nothing, for text without `{{`.
        let (template, analysis) = Template::analysed(text.to_owned(), field, shell);
        for issue in analysis.issues {
            self.sink
                .error(issue.code, issue.message, path, Target::Value);
        }
        let mut reported: FxHashMap<&str, ()> = FxHashMap::default();
        // Computed once per field, and only when a name is unknown.
        let mut known: Option<(Vec<&str>, String)> = None;
        for var in &analysis.vars {
            let name = var.name.as_str();
            if let Some(tail) = &var.field
                && !builtins_only
                && self.is_known(name, false)
                && !self.is_json_capture(name)
            {
                self.sink.error(
                    "unknown-helper",
                    format!(
                        "\"{name}.{tail}\" in \"{field}\" reads a field, but \"{name}\" is not a JSON capture; only the capture of a step with \"output\" has fields"
                    ),
                    path,
                    Target::Value,
                );
                continue;
            }
            if reported.contains_key(name) || self.is_known(name, builtins_only) {
                continue;
            }
            reported.insert(name, ());
            if self.race.contains(name) {
                self.sink.error(
                    "parallel-capture-race",
                    format!(
                        "\"{field}\" reads \"{name}\", which a sibling branch of this parallel step captures while this one runs; read it after the parallel step"
                    ),
                    path,
                    Target::Value,
                );
                continue;
            }
            let (names, listed) = known.get_or_insert_with(|| {
                let names = self.known_names(builtins_only);
                let listed = listing(&names);
                (names, listed)
            });
            let hint = match suggest(name, names.iter().copied()) {
                Some(best) => format!(" (did you mean \"{best}\"?)"),
                None => String::new(),
            };
            self.sink.error_help(
                "undefined-variable",
                format!("undefined variable \"{name}\" in \"{field}\"{hint}"),
                format!("known here: {listed}"),
                path,
                Target::Value,
            );
        }
        template
    }

    /// A capture made by a step with `output:` (in scope here), whose fields a dotted path reads.
    fn is_json_capture(&self, name: &str) -> bool {
        self.json_captures.contains(name) || self.body_json_captures.contains(name)
    }

    fn is_known(&self, name: &str, builtins_only: bool) -> bool {
        if BUILTIN_VARS.contains(&name) {
            return true;
        }
        if builtins_only {
            return false;
        }
        self.params.contains(name)
            || self.loop_vars.contains(name)
            || self.captures.contains(name)
            || self.body_captures.contains(name)
    }

    /// Known names in the order the help lists them: params, captures, loop variables
    /// (innermost first), builtins.
    fn known_names(&self, builtins_only: bool) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = Vec::new();
        let mut seen: FxHashMap<&'a str, ()> = FxHashMap::default();
        let mut add = |name: &&'a str| {
            if seen.insert(name, ()).is_none() {
                names.push(name);
            }
        };
        if !builtins_only {
            self.params.iter().for_each(&mut add);
            self.captures.iter().for_each(&mut add);
            self.body_captures.iter().for_each(&mut add);
            self.loop_vars.iter().rev().for_each(&mut add);
        }
        BUILTIN_VARS.iter().for_each(&mut add);
        names
    }
}
