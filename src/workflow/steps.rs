//! Step analysis: one step mapping → one [`Step`] of the right kind, with every rule of
//! workflow-format.md §4–§6, §10 and §11 checked and reported.
//!
//! The walk is in document order, which is what session defaulting and "captures of earlier
//! steps" need. Nesting is bounded twice: by the YAML parser's own depth limit, and by
//! [`MAX_STEP_DEPTH`] here.

use super::duration::read_limits;
use super::fields::{Location, MapReader, Target, YamlPath, push_number};
use super::loader::{Analyzer, Call};
use super::model::*;
use super::retry::{read_deny, read_retry};
use super::suggest::did_you_mean;
use super::yaml::{Node, quote_short};

/// Defines [`STEP_KEYS`] and [`is_step_key`] from one list.
macro_rules! step_keys {
    ($($key:literal),* $(,)?) => {
        /// Every key a step may have (workflow-format.md §5), in the order the schema lists them.
        pub const STEP_KEYS: &[&str] = &[$($key),*];

        /// Whether `key` is one of [`STEP_KEYS`]: a match, which compiles to a few comparisons
        /// (each key of each step is looked up several times).
        pub fn is_step_key(key: &str) -> bool {
            matches!(key, $($key)|*)
        }
    };
}

step_keys!(
    "id",
    "description",
    "mode",
    "prompt",
    "command",
    "session",
    "cli",
    "model",
    "effort",
    "agent",
    "permissions",
    "capture",
    "capture_stderr",
    "output",
    "workdir",
    "env",
    "continue_on_failure",
    "when",
    "skip_if",
    "break_if",
    "timeout",
    "idle_timeout",
    "launcher",
    "budget",
    "retry",
    "deny",
    "loop",
    "steps",
    "parallel",
    "workflow",
    "params",
    "worktree",
);
pub const LOOP_KEYS: &[&str] = &[
    "max",
    "over",
    "as",
    "as_index",
    "require_matches",
    "max_parallel",
];
/// The keys that decide a step's kind, in the order of the rules.
const KIND_KEYS: &[&str] = &["loop", "workflow", "command", "prompt", "steps"];
/// Steps nested deeper than this are refused.
pub const MAX_STEP_DEPTH: usize = 50;

/// At most this many steps of a list are reserved room for up front.
const RESERVE_STEPS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Shell,
    InteractiveShell,
    Headless,
    Interactive,
    Loop,
    Sub,
    Group,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Shell => "shell",
            Kind::InteractiveShell => "interactive shell",
            Kind::Headless => "headless",
            Kind::Interactive => "interactive",
            Kind::Loop => "loop",
            Kind::Sub => "sub-workflow",
            Kind::Group => "group",
        }
    }

    /// Keys allowed besides the common ones (id, description, continue_on_failure, when,
    /// skip_if, break_if, timeout).
    fn allows(self, key: &str) -> bool {
        if matches!(
            key,
            "id" | "description"
                | "continue_on_failure"
                | "when"
                | "skip_if"
                | "break_if"
                | "timeout"
        ) {
            return true;
        }
        if key == "launcher" {
            // Where a process runs: every kind that starts one.
            return !matches!(self, Kind::Loop | Kind::Sub | Kind::Group);
        }
        const AGENT: &[&str] = &[
            "mode",
            "prompt",
            "session",
            "cli",
            "model",
            "effort",
            "agent",
            "permissions",
            "workdir",
            "env",
        ];
        match self {
            Kind::Shell => [
                "idle_timeout",
                "retry",
                "mode",
                "command",
                "capture",
                "capture_stderr",
                "output",
                "workdir",
                "env",
            ]
            .contains(&key),
            Kind::InteractiveShell => ["mode", "command", "workdir", "env"].contains(&key),
            Kind::Headless => {
                AGENT.contains(&key)
                    || [
                        "capture",
                        "output",
                        "idle_timeout",
                        "budget",
                        "retry",
                        "deny",
                    ]
                    .contains(&key)
            }
            Kind::Interactive => AGENT.contains(&key),
            Kind::Loop => ["loop", "steps", "mode", "worktree", "budget"].contains(&key),
            Kind::Sub => ["workflow", "params", "mode", "budget"].contains(&key),
            Kind::Group => ["steps", "mode", "parallel", "worktree", "budget"].contains(&key),
        }
    }
}

/// Keys with a code of their own where they are not (yet) allowed (`timeout`, `idle_timeout`,
/// `output`): the code and the message.
fn limit_not_allowed(key: &str, kind: Kind) -> Option<(&'static str, String)> {
    match (key, kind) {
        ("output", Kind::Shell | Kind::Headless) => None,
        ("output", _) => Some((
            "output-kind",
            format!(
                "\"output\" is not allowed on {} steps; only shell and headless agent steps \
                 produce a JSON answer",
                kind.label()
            ),
        )),
        ("idle_timeout", Kind::Interactive | Kind::InteractiveShell) => Some((
            "idle-timeout-interactive",
            "\"idle_timeout\" is not allowed on interactive steps, where a person is present; \
             use \"timeout\" or remove it"
                .to_owned(),
        )),
        ("worktree", kind) if !matches!(kind, Kind::Loop | Kind::Group) => Some((
            "worktree-kind",
            format!(
                "\"worktree\" is not allowed on {} steps; it goes on a parallel group \
                 (\"parallel\") or a loop with \"max_parallel\", whose branches each get a \
                 worktree",
                kind.label()
            ),
        )),
        (
            "retry",
            Kind::Interactive | Kind::InteractiveShell | Kind::Loop | Kind::Sub | Kind::Group,
        ) => Some((
            "retry-kind",
            format!(
                "\"retry\" is not allowed on {} steps; it applies to shell and headless steps \
                 (use a loop with break_if to retry several steps)",
                kind.label()
            ),
        )),
        ("idle_timeout", Kind::Loop | Kind::Sub | Kind::Group) => Some((
            "field-not-allowed",
            format!(
                "\"idle_timeout\" is not allowed on {} steps; set it on the shell and headless \
                 steps inside",
                kind.label()
            ),
        )),
        _ => None,
    }
}

/// Why a key is not allowed on a kind, when there is more to say.
fn reason(key: &str, kind: Kind) -> &'static str {
    match key {
        "capture" => "; only shell and headless steps can capture output",
        "capture_stderr" => "; only shell steps can capture stderr",
        "deny" => "; only headless agent steps have tool calls to deny",
        "session" | "cli" | "model" | "effort" | "agent" | "permissions" => {
            "; only agent steps (with \"prompt\") use it"
        }
        "params" => "; only sub-workflow steps (with \"workflow\") pass parameters",
        "budget" => {
            "; budgets limit headless agent steps and containers (loops, groups, sub-workflows)"
        }
        "workdir" | "env" | "launcher" if matches!(kind, Kind::Loop | Kind::Group | Kind::Sub) => {
            "; set it on the steps inside"
        }
        _ => "",
    }
}

impl<'a> Analyzer<'a> {
    /// A list of steps at `path` (YAML) / `loc` (diagnostic location prefix). `None` when any
    /// step could not be built.
    pub(crate) fn step_list(
        &mut self,
        items: &'a [Node],
        path: YamlPath<'_>,
        loc: &str,
        depth: usize,
    ) -> Option<Vec<Step>> {
        if items.is_empty() {
            self.sink.error(
                "empty-steps",
                "\"steps\" must contain at least one step".to_owned(),
                path,
                Target::Value,
            );
            return None;
        }
        if depth >= MAX_STEP_DEPTH {
            self.sink.error(
                "yaml-syntax",
                format!("steps are nested too deeply (more than {MAX_STEP_DEPTH} levels)"),
                path,
                Target::Value,
            );
            return None;
        }
        // Most items are steps with ids: grow the id map once per list, not step by step (within
        // reason: a huge list of bad items must not reserve room for steps it never builds).
        let mut steps = Vec::with_capacity(items.len().min(RESERVE_STEPS));
        self.ids.reserve(items.len().min(RESERVE_STEPS));
        let mut ok = true;
        // A parallel group's children are each a branch, and each the first of its list.
        let branches = std::mem::take(&mut self.branch_list_next);
        for (i, item) in items.iter().enumerate() {
            if branches {
                self.start_branch(i);
            }
            // `steps[2]`: one allocation, which becomes the step's `yaml_path`.
            let mut item_loc = String::with_capacity(loc.len() + 6);
            item_loc.push_str(loc);
            item_loc.push('[');
            push_number(&mut item_loc, i);
            item_loc.push(']');
            match self.step(item, path.index(i), item_loc, i == 0 || branches, depth) {
                Some(step) => steps.push(step),
                None => ok = false,
            }
        }
        ok.then_some(steps)
    }

    /// One step at `path`; `loc` is its location (`steps[2].steps[0]`), which findings inside
    /// the step show and the built step keeps.
    fn step(
        &mut self,
        node: &'a Node,
        path: YamlPath<'_>,
        loc: String,
        first: bool,
        depth: usize,
    ) -> Option<Step> {
        let Node::Map(entries) = node else {
            let parent = self.enter(loc, None);
            self.sink.error(
                "wrong-type",
                format!("a step must be a mapping, found {}", node.describe()),
                path,
                Target::Value,
            );
            self.leave(parent);
            return None;
        };
        let start = self.sink.error_count();
        let r = MapReader::new(entries, path);
        let raw_id = r.get("id");
        let parent = self.enter(loc, raw_id.and_then(Node::as_str).map(str::to_owned));
        let id_ok = self.step_id(&r, raw_id);
        let step = self.step_body(&r, first, depth, id_ok);
        let (loc, id) = self.leave(parent);
        let ok = self.sink.error_count() == start;
        let mut step = step?;
        step.id = id.filter(|_| id_ok)?;
        step.yaml_path = loc;
        ok.then_some(step)
    }

    /// Makes the step at `loc` (with a string `id`, if any) the location of findings; returns
    /// the location to give back to [`Analyzer::leave`].
    fn enter(&mut self, loc: String, id: Option<String>) -> Location {
        std::mem::replace(&mut self.sink.location, Location::Step { path: loc, id })
    }

    /// Restores the location `enter` replaced; returns the step's location and id.
    fn leave(&mut self, parent: Location) -> (String, Option<String>) {
        match std::mem::replace(&mut self.sink.location, parent) {
            Location::Step { path, id } => (path, id),
            // Every step restores the location it found, so this is the one `enter` set.
            Location::Text(text) => (text.into_owned(), None),
        }
    }

    /// `<this step's location>.steps`: the location prefix of its children.
    fn children_loc(&self) -> String {
        let path: &str = match &self.sink.location {
            Location::Step { path, .. } => path,
            Location::Text(text) => text,
        };
        let mut loc = String::with_capacity(path.len() + 6);
        loc.push_str(path);
        loc.push_str(".steps");
        loc
    }

    /// Everything of a step mapping after its id, in the order of the rules. The step comes
    /// back without `id` and `yaml_path`, which [`Analyzer::step`] fills in.
    fn step_body(
        &mut self,
        r: &MapReader<'a, '_>,
        first: bool,
        depth: usize,
        id_ok: bool,
    ) -> Option<Step> {
        r.check_keys_with(STEP_KEYS, is_step_key, &mut self.sink);

        let kind = self.kind(r);
        if let Some(kind) = kind {
            for (key, _) in r.entries {
                if let Some((code, message)) = limit_not_allowed(key, kind) {
                    self.sink.error(code, message, r.path_of(key), Target::Key);
                } else if is_step_key(key) && !kind.allows(key) {
                    self.sink.error(
                        "field-not-allowed",
                        format!(
                            "\"{key}\" is not allowed on {} steps{}",
                            kind.label(),
                            reason(key, kind)
                        ),
                        r.path_of(key),
                        Target::Key,
                    );
                }
            }
        }
        let description = r
            .string("description", &mut self.sink)
            .unwrap_or("")
            .to_owned();
        let continue_on_failure = r
            .bool("continue_on_failure", &mut self.sink)
            .unwrap_or(false);
        let when = self.when(r);
        let skip_if = self.skip_if(r, first);
        let limits = read_limits(r, &mut self.sink);
        let launcher = self.launcher(r);
        let budget = super::budget::read_budget(r, &mut self.sink);
        let retry = read_retry(r, &mut self.sink);
        let deny = read_deny(r, &mut self.sink);
        if matches!(kind, Some(Kind::Interactive | Kind::InteractiveShell)) && self.in_branch() {
            self.sink.error(
                "interactive-in-parallel",
                "interactive steps are not allowed in a branch of a parallel step: one terminal cannot be shared by branches running at once; use mode: headless".to_owned(),
                r.path,
                Target::Value,
            );
        }

        let worktree = self.worktree(r, kind);
        let vars_len = self.loop_vars.len();
        if worktree {
            // The branches' steps know their worktree as `{{worktree}}`.
            self.worktree_depth += 1;
            self.loop_vars.push("worktree");
        }
        let mut parallel = None;
        let step_kind = match kind {
            Some(Kind::Shell | Kind::InteractiveShell) => {
                self.shell(r, kind == Some(Kind::InteractiveShell))
            }
            Some(kind @ (Kind::Headless | Kind::Interactive)) => self.agent(r, kind),
            Some(Kind::Loop) => self.loop_step(r, depth),
            Some(Kind::Sub) => {
                let id = id_ok
                    .then(|| self.sink.location.step_id().map(str::to_owned))
                    .flatten();
                self.sub_workflow(r, id)
            }
            Some(Kind::Group) => {
                parallel = self.parallel_key(r);
                r.list("steps", &mut self.sink)
                    .and_then(|items| {
                        let loc = self.children_loc();
                        if parallel.is_some() {
                            self.enter_parallel_group(items, r.path_of("steps"));
                        }
                        let list = self.step_list(items, r.path_of("steps"), &loc, depth + 1);
                        if parallel.is_some() {
                            self.leave_branching();
                        }
                        list
                    })
                    .map(StepKind::Group)
            }
            None => None,
        };
        if worktree {
            self.worktree_depth -= 1;
            self.loop_vars.truncate(vars_len);
        }
        // Captures become visible to the steps after this one.
        if let Some(capture) = r.get("capture").and_then(Node::as_str)
            && matches!(kind, Some(Kind::Shell | Kind::Headless))
        {
            self.captures.push(capture);
            if r.has("output") {
                self.json_captures.push(capture);
            }
        }
        // After the step: an expression may test what the step captured.
        let break_if = self.break_if(r);
        Some(Step {
            id: String::new(),
            description,
            kind: step_kind?,
            continue_on_failure,
            when,
            skip_if: skip_if.map(Box::new),
            break_if,
            limits,
            launcher: launcher.map(Box::new),
            budget: budget.map(Box::new),
            worktree,
            retry: retry.map(Box::new),
            deny,
            parallel,
            yaml_path: String::new(),
        })
    }

    /// `worktree` (a bool, on loops and groups); `nested-worktree` inside a branch that already
    /// has a worktree.
    fn worktree(&mut self, r: &MapReader<'a, '_>, kind: Option<Kind>) -> bool {
        let worktree = r.bool("worktree", &mut self.sink).unwrap_or(false);
        if !worktree || !matches!(kind, Some(Kind::Loop | Kind::Group)) {
            return false;
        }
        // Read from the mapping itself, so that this holds whatever else is wrong with it.
        let parallel = match kind {
            Some(Kind::Group) => r.get("parallel").is_some_and(|p| *p != Node::Bool(false)),
            _ => {
                matches!(r.get("loop"), Some(Node::Map(entries)) if entries.iter().any(|(k, _)| k == "max_parallel"))
            }
        };
        if !parallel {
            let (what, fix) = match kind {
                Some(Kind::Group) => ("group", "add \"parallel: true\""),
                _ => ("loop", "add \"max_parallel\" to \"loop\""),
            };
            self.sink.error(
                "worktree-kind",
                format!(
                    "\"worktree\" needs branches that run side by side, but this {what} runs its \
                     steps one after another; {fix}, or remove \"worktree\""
                ),
                r.path_of("worktree"),
                Target::Key,
            );
        }
        if self.worktree_depth > 0 {
            self.sink.error(
                "nested-worktree",
                "\"worktree: true\" inside a branch that already runs in its own worktree; \
                 remove it here (the inner steps share the outer branch's worktree)"
                    .to_owned(),
                r.path_of("worktree"),
                Target::Key,
            );
        }
        true
    }

    /// Checks `id` (`raw`, already read from `r`); true when it is a valid id not used before.
    fn step_id(&mut self, r: &MapReader<'a, '_>, raw: Option<&'a Node>) -> bool {
        let Some(raw) = raw else {
            self.sink.error(
                "missing-id",
                "step has no \"id\"; every step needs an id that is unique in this file".to_owned(),
                r.path,
                Target::Value,
            );
            return false;
        };
        let Some(id) = r.string("id", &mut self.sink) else {
            return false;
        };
        let id_path = r.path_of("id");
        if !super::fields::is_step_id(id) {
            self.sink.error(
                "invalid-id",
                format!(
                    "step id {} is not valid: use letters, digits, \"-\" and \"_\" (at most 64 characters)",
                    quote_short(id)
                ),
                id_path,
                Target::Value,
            );
            return false;
        }
        if let Some(&first) = self.ids.get(id) {
            self.sink.push(
                super::diagnostic::Diagnostic::error(
                    "duplicate-id",
                    format!("duplicate step id \"{id}\""),
                ),
                id_path,
                Target::Value,
            );
            if let Some(index) = self.sink.last_kept() {
                self.first_uses.push((index, first));
            }
            return false;
        }
        self.ids.insert(id, raw);
        true
    }

    /// Decides the kind (§4), reporting `no-kind`, `ambiguous-kind`, `loop-no-steps`, mode errors.
    fn kind(&mut self, r: &MapReader<'a, '_>) -> Option<Kind> {
        // The kind keys the step has, in the order of the rules (no allocation per step).
        let mut found = [""; KIND_KEYS.len()];
        let mut count = 0;
        for key in KIND_KEYS {
            if r.has(key) {
                found[count] = key;
                count += 1;
            }
        }
        let present = &found[..count];
        let mode = match r.get("mode") {
            Some(Node::Str(m)) if ["interactive", "headless", "shell"].contains(&m.as_str()) => {
                Some(m.as_str())
            }
            Some(Node::Str(m)) => {
                let hint = did_you_mean(m, ["interactive", "headless", "shell"]);
                self.sink.error(
                    "invalid-mode",
                    format!(
                        "invalid mode {}: use interactive, headless or shell{hint}",
                        quote_short(m)
                    ),
                    r.path_of("mode"),
                    Target::Value,
                );
                None
            }
            Some(other) => {
                self.sink
                    .wrong_type("mode", super::fields::A_STRING, other, r.path_of("mode"));
                None
            }
            None => None,
        };
        // Two kind keys that may not go together make the step ambiguous.
        let conflict = present.iter().enumerate().find_map(|(i, a)| {
            present[i + 1..]
                .iter()
                .find(|b| !(*a == "loop" && **b == "steps"))
                .map(|b| (*a, *b))
        });
        if let Some((a, b)) = conflict {
            self.sink.error(
                "ambiguous-kind",
                format!("a step must be exactly one kind, but this one has \"{a}\" and \"{b}\"; split it into two steps"),
                r.path_of(b),
                Target::Key,
            );
            return None;
        }
        let mismatch = |sink: &mut super::fields::Sink, message: String| {
            sink.error("mode-mismatch", message, r.path_of("mode"), Target::Value);
        };
        let kind = match present.first().copied() {
            Some("loop") => {
                if !r.has("steps") {
                    self.sink.error(
                        "loop-no-steps",
                        "a loop needs \"steps\" (the body to repeat)".to_owned(),
                        r.path_of("loop"),
                        Target::Key,
                    );
                    return None;
                }
                Kind::Loop
            }
            Some("workflow") => Kind::Sub,
            Some("command") => match mode {
                Some("headless") => {
                    mismatch(
                        &mut self.sink,
                        "mode \"headless\" needs a \"prompt\"".to_owned(),
                    );
                    return None;
                }
                Some("interactive") => Kind::InteractiveShell,
                _ => Kind::Shell,
            },
            Some("prompt") => match mode {
                Some("shell") => {
                    mismatch(
                        &mut self.sink,
                        "mode \"shell\" needs a \"command\"".to_owned(),
                    );
                    return None;
                }
                Some("headless") => Kind::Headless,
                _ => Kind::Interactive,
            },
            Some(_) => Kind::Group,
            None => {
                match mode {
                    Some("shell") => mismatch(&mut self.sink, "mode \"shell\" needs a \"command\"".to_owned()),
                    Some(m) => mismatch(&mut self.sink, format!("mode \"{m}\" needs a \"prompt\"")),
                    None if r.has("mode") => {}
                    // A misspelled kind key (`comand`) is already reported with a did-you-mean.
                    None if r.entries.iter().any(|(key, _)| {
                        !is_step_key(key)
                            && super::suggest::suggest(key, KIND_KEYS.iter().copied()).is_some()
                    }) => {}
                    None => self.sink.error(
                        "no-kind",
                        "cannot tell what kind of step this is: add \"command\" (shell), \"prompt\" (agent), \"loop\" with \"steps\", \"workflow\" (sub-workflow), or \"steps\" (group)".to_owned(),
                        r.path,
                        Target::Value,
                    ),
                }
                return None;
            }
        };
        if let (Some(m), Kind::Loop | Kind::Sub | Kind::Group) = (mode, kind) {
            mismatch(
                &mut self.sink,
                format!("mode \"{m}\" is not allowed on {} steps", kind.label()),
            );
        }
        Some(kind)
    }

    fn skip_if(&mut self, r: &MapReader<'a, '_>, first: bool) -> Option<SkipIf> {
        let text = r.string("skip_if", &mut self.sink)?;
        let path = r.path_of("skip_if");
        if text == "previous_success" {
            if first {
                self.sink.error(
                    "skip-if-first",
                    "skip_if: previous_success cannot be used on the first step of a step list, because there is no previous step".to_owned(),
                    path,
                    Target::Value,
                );
            }
            return Some(SkipIf::PreviousSuccess);
        }
        if let Some(command) = text.strip_prefix("sh:") {
            let command = command.trim();
            if command.is_empty() {
                self.sink.error(
                    "skip-if",
                    "skip_if \"sh:\" has no command".to_owned(),
                    path,
                    Target::Value,
                );
                return None;
            }
            return Some(SkipIf::Shell(
                self.template(command, "skip_if", true, path, false),
            ));
        }
        self.sink.error(
            "skip-if",
            format!(
                "invalid skip_if {}: use \"previous_success\" or \"sh: <command>\"",
                quote_short(text)
            ),
            path,
            Target::Value,
        );
        None
    }

    /// A capture name on a step: identifier, not a builtin.
    fn capture_name(&mut self, r: &MapReader<'a, '_>) -> Option<String> {
        let name = r.string("capture", &mut self.sink)?;
        self.check_identifier(name, "capture", r.path_of("capture"))
            .then(|| name.to_owned())
    }

    fn shell(&mut self, r: &MapReader<'a, '_>, interactive: bool) -> Option<StepKind> {
        let command = r
            .nonempty_string("command", &mut self.sink)
            .map(|command| self.template(command, "command", true, r.path_of("command"), false));
        let capture = if interactive {
            None
        } else {
            self.capture_name(r)
        };
        let stderr = r.bool("capture_stderr", &mut self.sink).unwrap_or(false);
        if stderr && !r.has("capture") {
            self.sink.error(
                "capture-stderr",
                "\"capture_stderr\" needs \"capture\"".to_owned(),
                r.path_of("capture_stderr"),
                Target::Key,
            );
        }
        let output = if interactive {
            Ok(None)
        } else {
            self.output(r)
        };
        if stderr && matches!(output, Ok(Some(_))) {
            self.sink.error(
                "capture-stderr",
                "\"capture_stderr\" cannot be used with \"output\", which parses stdout alone"
                    .to_owned(),
                r.path_of("capture_stderr"),
                Target::Key,
            );
        }
        let workdir = self.workdir(r);
        let env = self.env(r);
        Some(StepKind::Shell(ShellStep {
            command: command?,
            interactive,
            capture: capture.map(|name| Capture { name, stderr }),
            output: output.ok()?,
            workdir,
            env,
        }))
    }

    /// `launcher` of a step: read, then its words' variables checked where the step stands.
    fn launcher(&mut self, r: &MapReader<'a, '_>) -> Option<super::launcher::Launcher> {
        let launcher = super::launcher::read(r, &mut self.sink, &mut |_, text, _| {
            Template::analysed(text.to_owned(), "launcher", false).0
        })?;
        for word in launcher.argv.iter().filter(|w| !w.is_static()) {
            self.template(word.text(), "launcher", false, r.path_of("launcher"), false);
        }
        Some(launcher)
    }

    fn workdir(&mut self, r: &MapReader<'a, '_>) -> Option<Template> {
        let workdir = r.nonempty_string("workdir", &mut self.sink)?;
        Some(self.template(workdir, "workdir", false, r.path_of("workdir"), false))
    }

    fn agent(&mut self, r: &MapReader<'a, '_>, kind: Kind) -> Option<StepKind> {
        let prompt = r
            .nonempty_string("prompt", &mut self.sink)
            .map(|prompt| self.template(prompt, "prompt", false, r.path_of("prompt"), false));
        let explicit = r.get("session").is_some();
        let session = match r.string("session", &mut self.sink) {
            Some("new") => Some(SessionStrategy::New),
            Some("resume") => Some(SessionStrategy::Resume),
            Some("inherit") => {
                if self.in_branch() {
                    self.sink.error(
                        "parallel-session-conflict",
                        "session \"inherit\" is not allowed in a branch of a parallel step: the caller's conversation cannot be driven by branches at once; use \"new\" or \"resume\"".to_owned(),
                        r.path_of("session"),
                        Target::Value,
                    );
                }
                Some(SessionStrategy::Inherit)
            }
            Some(name) => {
                if self.declared.iter().any(|(n, _)| n == name) {
                    Some(SessionStrategy::Named(name.to_owned()))
                } else {
                    let hint = did_you_mean(
                        name,
                        self.declared
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .chain(SESSION_KEYWORDS.iter().copied()),
                    );
                    self.sink.error(
                        "session-undeclared",
                        format!(
                            "session {} is not declared in this workflow's \"sessions\" block{hint}",
                            quote_short(name)
                        ),
                        r.path_of("session"),
                        Target::Value,
                    );
                    None
                }
            }
            None if explicit => None,
            // Defaulting (§6): the first agent step of the file starts fresh, later ones resume.
            None if self.seen_agent => Some(SessionStrategy::Resume),
            None => Some(SessionStrategy::New),
        };
        self.seen_agent = true;
        let settings = self.agent_settings(r);
        if let Some(strategy) = &session
            && !matches!(strategy, SessionStrategy::New)
        {
            let decider = match strategy {
                SessionStrategy::Named(_) => "session declaration",
                _ => "resumed session",
            };
            for key in ["cli", "agent"] {
                if explicit && r.has(key) {
                    self.sink.error(
                        "session-pinned",
                        format!("\"{key}\" cannot be set on a step with session \"{strategy}\": the {decider} decides it"),
                        r.path_of(key),
                        Target::Key,
                    );
                }
            }
        }
        let (capture, output) = if kind == Kind::Headless {
            (self.capture_name(r), self.output(r))
        } else {
            (None, Ok(None))
        };
        if let Ok(Some(spec)) = &output {
            let cli = match &session {
                Some(SessionStrategy::Named(name)) => self
                    .declared
                    .iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, cli)| cli.clone()),
                _ => settings.cli.clone(),
            };
            if cli.as_deref() == Some("codex") {
                self.codex_strict(spec, r);
            }
        }
        let workdir = self.workdir(r);
        let env = self.env(r);
        Some(StepKind::Agent(Box::new(AgentStep {
            mode: if kind == Kind::Headless {
                AgentMode::Headless
            } else {
                AgentMode::Interactive
            },
            prompt: prompt?,
            session: session?,
            cli: settings.cli,
            model: settings.model,
            effort: settings.effort,
            agent: settings.agent,
            permissions: settings.permissions,
            capture,
            output: output.ok()?,
            workdir,
            env,
        })))
    }

    fn loop_step(&mut self, r: &MapReader<'a, '_>, depth: usize) -> Option<StepKind> {
        let loop_path = r.path_of("loop");
        let entries = r.map("loop", &mut self.sink);
        let body = r.list("steps", &mut self.sink);
        let entries = entries?;
        let l = MapReader::new(entries, loop_path);
        l.check_keys(LOOP_KEYS, &mut self.sink);
        let before = self.sink.error_count();
        let shape = |sink: &mut super::fields::Sink, message: &str, path: YamlPath<'_>| {
            sink.error("loop-shape", message.to_owned(), path, Target::Key);
        };
        let (has_max, has_over) = (l.has("max"), l.has("over"));
        if has_max && has_over {
            shape(
                &mut self.sink,
                "loop cannot have both \"max\" and \"over\"",
                l.path_of("over"),
            );
        } else if !has_max && !has_over {
            shape(
                &mut self.sink,
                "loop needs either \"max\" or both \"over\" and \"as\"",
                loop_path,
            );
        } else if has_over && !l.has("as") {
            shape(
                &mut self.sink,
                "loop \"over\" needs \"as\" (the variable that receives each match)",
                l.path_of("over"),
            );
        }
        if has_max && !has_over {
            if l.has("require_matches") {
                shape(
                    &mut self.sink,
                    "\"require_matches\" only applies to for-each loops",
                    l.path_of("require_matches"),
                );
            }
            if l.has("as") {
                shape(
                    &mut self.sink,
                    "loop \"as\" only applies to for-each loops; use \"as_index\" for the iteration number",
                    l.path_of("as"),
                );
            }
        }
        // `max` and `over` are rendered outside the body: no loop variables yet.
        let max = l
            .get("max")
            .and_then(|node| self.loop_max(node, l.path_of("max")));
        let over = l
            .string("over", &mut self.sink)
            .map(|over| self.template(over, "loop.over", false, l.path_of("over"), false));
        let var = l
            .string("as", &mut self.sink)
            .and_then(|v| self.loop_var(v, l.path_of("as")));
        let index = l
            .string("as_index", &mut self.sink)
            .and_then(|v| self.loop_var(v, l.path_of("as_index")));
        if let (Some(a), Some(b)) = (&var, &index)
            && a == b
        {
            self.sink.error(
                "loop-index",
                "\"as_index\" must differ from \"as\"".to_owned(),
                l.path_of("as_index"),
                Target::Value,
            );
        }
        let require_matches = l.bool("require_matches", &mut self.sink).unwrap_or(false);
        let max_parallel = self.max_parallel(&l);
        let shape_ok = self.sink.error_count() == before;
        let parallel = !matches!(max_parallel, None | Some(LoopMax::Fixed(1)));

        // The body: loop variables and every capture in the body are known inside it.
        let vars_len = self.loop_vars.len();
        let body_len = self.body_captures.len();
        let ids_len = self.body_ids.len();
        let body_json_len = self.body_json_captures.len();
        self.loop_vars.extend(var);
        self.loop_vars.extend(index);
        if let Some(items) = body {
            collect_body(
                items,
                &mut self.body_captures,
                &mut self.body_json_captures,
                &mut self.body_ids,
            );
        }
        self.loop_depth += 1;
        self.loop_parallel.push(parallel);
        let steps = body.and_then(|items| {
            let loc = self.children_loc();
            if parallel {
                self.enter_parallel_loop(items, r.path_of("steps"));
            }
            let list = self.step_list(items, r.path_of("steps"), &loc, depth + 1);
            if parallel {
                self.leave_branching();
            }
            list
        });
        self.loop_parallel.pop();
        self.loop_depth -= 1;
        self.loop_vars.truncate(vars_len);
        self.body_captures.truncate(body_len);
        self.body_ids.truncate(ids_len);
        self.body_json_captures.truncate(body_json_len);

        let steps = steps?;
        if !shape_ok {
            return None;
        }
        let kind = match (max, over, &var) {
            (Some(max), None, _) => LoopKind::Counted { max },
            (None, Some(over), Some(var)) => LoopKind::ForEach {
                over,
                var: (*var).to_owned(),
                require_matches,
            },
            _ => return None,
        };
        let has_break = body_has_break(&steps);
        Some(StepKind::Loop(LoopStep {
            kind,
            as_index: index.map(str::to_owned),
            max_parallel,
            steps,
            has_break,
        }))
    }

    fn loop_max(&mut self, node: &Node, path: YamlPath<'_>) -> Option<LoopMax> {
        let bad = |sink: &mut super::fields::Sink, found: String| {
            sink.error(
                "loop-max",
                format!("loop \"max\" must be a whole number from 1 to 10000, found {found}"),
                path,
                Target::Value,
            );
        };
        match node {
            Node::Num { int: Some(n), .. } if (1..=10000).contains(n) => {
                u32::try_from(*n).ok().map(LoopMax::Fixed)
            }
            Node::Str(text) if text.contains("{{") => Some(LoopMax::Template(
                self.template(text, "loop.max", false, path, false),
            )),
            Node::Str(text) => match text.trim().parse::<u32>() {
                Ok(n) if (1..=10000).contains(&n) => Some(LoopMax::Fixed(n)),
                _ => {
                    bad(&mut self.sink, node.describe());
                    None
                }
            },
            Node::Num { text, .. } => {
                bad(&mut self.sink, text.clone());
                None
            }
            other => {
                bad(&mut self.sink, other.describe());
                None
            }
        }
    }

    fn loop_var(&mut self, name: &'a str, path: YamlPath<'_>) -> Option<&'a str> {
        if !self.check_identifier(name, "loop variable", path) {
            return None;
        }
        if self.params.contains(name) {
            self.sink.warning(
                "shadowed",
                format!(
                    "loop variable \"{name}\" hides the parameter of the same name inside this loop"
                ),
                path,
                Target::Value,
            );
        }
        Some(name)
    }

    fn sub_workflow(&mut self, r: &MapReader<'a, '_>, id: Option<String>) -> Option<StepKind> {
        let workflow = r.nonempty_string("workflow", &mut self.sink);
        let workflow_template = workflow.map(|workflow| {
            self.template(workflow, "workflow", false, r.path_of("workflow"), false)
        });
        let mut params = Vec::new();
        let mut ok = true;
        if let Some(entries) = r.map("params", &mut self.sink) {
            let params_path = r.path_of("params");
            for (key, value) in entries {
                let path = params_path.key(key);
                if !super::fields::is_identifier(key) {
                    self.sink.error(
                        "invalid-identifier",
                        format!("parameter name {} is not valid: use letters, digits and \"_\", not starting with a digit", quote_short(key)),
                        path,
                        Target::Key,
                    );
                    ok = false;
                    continue;
                }
                match value.scalar_text() {
                    Some(text) => {
                        let field = format!("params.{key}");
                        let template = self.template(&text, &field, false, path, false);
                        params.push((key.clone(), template));
                    }
                    None => {
                        self.sink
                            .wrong_type(key, super::fields::A_STRING, value, path);
                        ok = false;
                    }
                }
            }
        } else if r.has("params") {
            ok = false;
        }
        let (workflow, workflow_template) = workflow.zip(workflow_template)?;
        if !workflow.contains("{{") {
            self.calls.push(Call {
                value: workflow.to_owned(),
                value_path: r.path_of("workflow").to_string(),
                step_path: r.path.to_string(),
                location: self.sink.location.text(),
                step_id: id,
                params: params.iter().map(|(k, _)| k.clone()).collect(),
                in_worktree: self.worktree_depth > 0,
            });
        }
        ok.then(|| {
            StepKind::SubWorkflow(SubWorkflowStep {
                workflow: workflow_template,
                params,
            })
        })
    }
}

/// Every `capture` name and step id anywhere in a step list (iteratively, not into other
/// files); the captures of steps with `output:` also go to `json`.
fn collect_body<'a>(
    items: &'a [Node],
    out: &mut super::names::Names<'a>,
    json: &mut super::names::Names<'a>,
    ids: &mut super::names::Names<'a>,
) {
    let mut stack: Vec<&Node> = items.iter().collect();
    while let Some(node) = stack.pop() {
        if let Some(id) = node.get("id").and_then(Node::as_str) {
            ids.push(id);
        }
        if let Some(capture) = node.get("capture").and_then(Node::as_str) {
            out.push(capture);
            if node.get("output").is_some() {
                json.push(capture);
            }
        }
        if let Some(Node::Seq(children)) = node.get("steps") {
            stack.extend(children.iter());
        }
    }
}

/// Whether a loop body has a `break_if` at any depth, not counting nested loops.
fn body_has_break(steps: &[Step]) -> bool {
    let mut stack: Vec<&Step> = steps.iter().collect();
    while let Some(step) = stack.pop() {
        if step.break_if.is_some() {
            return true;
        }
        if let StepKind::Group(children) = &step.kind {
            stack.extend(children.iter());
        }
    }
    false
}
