//! The step tree: the typed, validated form of a workflow file.
//!
//! The loader turns YAML into these types after every check in workflow-format.md has passed, so
//! the rest of the program can rely on them: every step has exactly one kind, defaults (mode,
//! session) are applied, and fields that are templates are kept as [`Template`]s to be rendered at
//! run time. Nothing here knows about YAML.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

pub use super::condition::Condition;
pub use super::template::Template;

/// One workflow file, loaded and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub name: String,
    pub description: String,
    pub params: Vec<Param>,
    pub sessions: Vec<SessionDecl>,
    pub engine: Option<EngineUse>,
    /// What must be installed or present before the first step (`requires:`).
    pub requires: Vec<super::requires::Requirement>,
    pub defaults: AgentSettings,
    /// `defaults.timeout` and `defaults.idle_timeout`: for the file's shell and agent steps.
    pub default_limits: super::duration::StepLimits,
    /// `defaults.launcher`: for the file's shell and agent steps (docs/launchers.md).
    pub default_launcher: Option<super::launcher::Launcher>,
    /// The top-level `budget` (control.md §5): the run's, or in a sub-workflow file, that call's.
    pub budget: Option<super::budget::Budget>,
    /// `defaults.retry`: for the file's shell and headless steps.
    pub default_retry: Option<super::retry::Retry>,
    /// `defaults.deny`: for the file's headless steps.
    pub default_deny: Option<super::retry::Deny>,
    pub env: Vec<(String, Template)>,
    pub steps: Vec<Step>,
    pub source: Source,
    /// `sha256:<hex>` of the file bytes, worked out when a run first records it.
    pub hash: SourceHash,
}

/// The `sha256:<hex>` of a workflow file's bytes, computed on first use: validating a workflow
/// never hashes it, only a run that records the hash does.
#[derive(Debug, Clone, Default)]
pub struct SourceHash {
    text: Arc<String>,
    digest: Arc<OnceLock<String>>,
}

impl SourceHash {
    /// The hash of this text (shared, not copied), not yet computed.
    pub fn of(text: Arc<String>) -> Self {
        SourceHash {
            text,
            digest: Arc::default(),
        }
    }

    /// Whether the digest has been worked out yet.
    #[cfg(test)]
    pub fn is_computed(&self) -> bool {
        self.digest.get().is_some()
    }

    /// `sha256:<hex>`, computed the first time it is asked for.
    pub fn as_str(&self) -> &str {
        self.digest
            .get_or_init(|| super::loader::hash(self.text.as_bytes()))
    }
}

impl PartialEq for SourceHash {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// Where a workflow file comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A workflow embedded in the binary, by its name (`core/implement-task`).
    Builtin(String),
    /// A file on disk, by its absolute path.
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin(name) => write!(f, "builtin:{name}"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A declared workflow parameter. Values are always strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub description: String,
    /// A template over builtins only (`agent/{{run_id}}`).
    pub default: Option<Template>,
    pub required: bool,
    pub secret: bool,
}

/// A named session declared in `sessions:`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionDecl {
    pub name: String,
    pub cli: Option<String>,
    pub model: Option<Template>,
    pub effort: Option<Effort>,
    pub agent: Option<String>,
    pub permissions: Option<Permissions>,
}

/// `engine: {type: <kind>, <options>}`. Option values are scalars, kept as strings.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineUse {
    pub kind: String,
    pub options: Vec<(String, String)>,
}

/// Agent settings that can be set at several layers (workflow `defaults:`, profiles, config).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentSettings {
    pub cli: Option<String>,
    pub model: Option<Template>,
    pub effort: Option<Effort>,
    pub agent: Option<String>,
    pub permissions: Option<Permissions>,
}

/// One entry of a step list.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub description: String,
    pub kind: StepKind,
    pub continue_on_failure: bool,
    /// `when:` (control.md §6): the step runs only when it is true.
    pub when: Option<Condition>,
    pub skip_if: Option<Box<SkipIf>>,
    pub break_if: Option<BreakIf>,
    /// `timeout` and `idle_timeout` (control.md §2), on shell and headless steps.
    pub limits: super::duration::StepLimits,
    /// `launcher:` on a shell or agent step: where its process runs (docs/launchers.md).
    pub launcher: Option<Box<super::launcher::Launcher>>,
    /// `budget` (control.md §5), on headless agent steps and containers.
    pub budget: Option<Box<super::budget::Budget>>,
    /// `worktree: true` (control.md §8): each branch of this parallel step runs in its own git
    /// worktree.
    pub worktree: bool,
    /// `retry` (control.md §4), on shell and headless steps.
    pub retry: Option<Box<super::retry::Retry>>,
    /// `deny` (control.md §3), on headless steps.
    pub deny: Option<super::retry::Deny>,
    /// `parallel` on a group (control.md §8): its children run at once, each a branch.
    pub parallel: Option<Parallel>,
    /// Where the step sits in its file, for diagnostics: `steps[2].steps[0]`.
    pub yaml_path: String,
}

impl Step {
    /// The step's own `budget`, if it sets one (kept boxed: few steps do).
    pub fn budget(&self) -> Option<super::budget::Budget> {
        self.budget.as_deref().copied()
    }

    /// The name of the step's `capture`, if it has one.
    pub fn capture(&self) -> Option<&str> {
        match &self.kind {
            StepKind::Shell(shell) => shell.capture.as_ref().map(|c| c.name.as_str()),
            StepKind::Agent(agent) => agent.capture.as_deref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Shell(ShellStep),
    Agent(Box<AgentStep>),
    Loop(LoopStep),
    SubWorkflow(SubWorkflowStep),
    Group(Vec<Step>),
}

impl StepKind {
    /// The child step list of a loop or group.
    pub fn children(&self) -> Option<&[Step]> {
        match self {
            StepKind::Loop(l) => Some(&l.steps),
            StepKind::Group(steps) => Some(steps),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SkipIf {
    PreviousSuccess,
    /// `sh: <cmd>`: the command is a shell-context template.
    Shell(Template),
}

#[derive(Debug, Clone, PartialEq)]
pub enum BreakIf {
    Success,
    Failure,
    /// A CEL expression, evaluated after the step (control.md §6).
    When(Condition),
}

/// A `command` step (`mode: shell`, or `mode: interactive` for the terminal relay).
#[derive(Debug, Clone, PartialEq)]
pub struct ShellStep {
    pub command: Template,
    pub interactive: bool,
    pub capture: Option<Capture>,
    /// `output:` (control.md §7): stdout is one JSON value, captured as JSON.
    pub output: Option<super::output::OutputSpec>,
    pub workdir: Option<Template>,
    pub env: Vec<(String, Template)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub name: String,
    /// Append stderr to the value (shell steps only).
    pub stderr: bool,
}

/// A `prompt` step, run by an agent CLI.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentStep {
    pub mode: AgentMode,
    pub prompt: Template,
    /// After defaulting (workflow-format.md §6), never absent.
    pub session: SessionStrategy,
    pub cli: Option<String>,
    pub model: Option<Template>,
    pub effort: Option<Effort>,
    pub agent: Option<String>,
    pub permissions: Option<Permissions>,
    pub capture: Option<String>,
    /// `output:` (control.md §7, headless only): the final answer is one JSON value.
    pub output: Option<super::output::OutputSpec>,
    pub workdir: Option<Template>,
    pub env: Vec<(String, Template)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentMode {
    Interactive,
    Headless,
}

impl AgentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentMode::Interactive => "interactive",
            AgentMode::Headless => "headless",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionStrategy {
    New,
    Resume,
    Inherit,
    Named(String),
}

impl SessionStrategy {
    /// `new`, `resume`, `inherit`, or any other word as a declared session's name.
    pub fn from_name(text: &str) -> Self {
        match text {
            "new" => SessionStrategy::New,
            "resume" => SessionStrategy::Resume,
            "inherit" => SessionStrategy::Inherit,
            name => SessionStrategy::Named(name.to_owned()),
        }
    }
}

/// Written as its keyword or the session's name (state.json `strategy`, the audit log).
impl serde::Serialize for SessionStrategy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SessionStrategy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| SessionStrategy::from_name(&text))
    }
}

impl fmt::Display for SessionStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionStrategy::New => f.write_str("new"),
            SessionStrategy::Resume => f.write_str("resume"),
            SessionStrategy::Inherit => f.write_str("inherit"),
            SessionStrategy::Named(name) => f.write_str(name),
        }
    }
}

/// Defines a closed set of lowercase keywords with `parse`, `as_str` and `ALL`.
macro_rules! keyword_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),+];

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::unknown_variant(&text, Self::ALL)
                })
            }
        }
    };
}

keyword_enum!(
    /// Reasoning effort, mapped per CLI by the adapters.
    Effort { Low => "low", Medium => "medium", High => "high", Xhigh => "xhigh", Max => "max" }
);

keyword_enum!(
    /// Approval level: `ask` (the CLI prompts), `edit` (workspace edits approved), `full` (bypass).
    Permissions { Ask => "ask", Edit => "edit", Full => "full" }
);

/// `parallel: true` or `parallel: {max, fail_fast}` on a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallel {
    /// At most this many branches at once; `None`: all of them.
    pub max: Option<u32>,
    /// The first failed branch stops the others (the default).
    pub fail_fast: bool,
}

/// A loop step: counted or for-each, with its body.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopStep {
    pub kind: LoopKind,
    pub as_index: Option<String>,
    /// `max_parallel`: up to this many iterations at once (a whole number of at least 1, or a
    /// template rendered when the loop starts).
    pub max_parallel: Option<LoopMax>,
    pub steps: Vec<Step>,
    /// The body contains a `break_if` (at any depth, not inside a nested loop): running out of
    /// counted iterations is then a failure.
    pub has_break: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoopKind {
    Counted {
        max: LoopMax,
    },
    ForEach {
        over: Template,
        var: String,
        require_matches: bool,
    },
}

/// A count: a loop's `max` or `max_parallel`.
#[derive(Debug, Clone, PartialEq)]
pub enum LoopMax {
    Fixed(u32),
    /// A template that must render to a whole number from 1 to 10000.
    Template(Template),
}

/// A `workflow:` step.
#[derive(Debug, Clone, PartialEq)]
pub struct SubWorkflowStep {
    pub workflow: Template,
    /// Rendered in the caller's scope, not shell-quoted.
    pub params: Vec<(String, Template)>,
}

/// Names of the built-in variables (workflow-format.md §8.3).
pub const BUILTIN_VARS: &[&str] = &["session_dir", "run_id", "step_id", "workflow_name"];

/// Session keywords that cannot be session names.
pub const SESSION_KEYWORDS: &[&str] = &["new", "resume", "inherit"];

/// Adapter names, in the order the spec lists them.
pub const CLI_NAMES: &[&str] = &[
    "claude",
    "codex",
    "copilot",
    "cursor-agent",
    "opencode",
    "gemini",
];

impl LoopStep {
    /// Whether iterations may run at once: a `max_parallel` that is a template, or any number
    /// other than 1, counts (control.md §11).
    pub fn is_parallel(&self) -> bool {
        !matches!(self.max_parallel, None | Some(LoopMax::Fixed(1)))
    }
}

impl Workflow {
    /// The `sessions:` declaration a step's strategy names, if it names one.
    pub fn session_decl(&self, strategy: &SessionStrategy) -> Option<&SessionDecl> {
        match strategy {
            SessionStrategy::Named(name) => self.sessions.iter().find(|d| d.name == *name),
            _ => None,
        }
    }

    /// Whether a step of this file has `worktree: true` (not looking into sub-workflows).
    pub fn uses_worktrees(&self) -> bool {
        self.walk().any(|step| step.worktree)
    }

    /// Every step of this file, depth first in document order (not into sub-workflows).
    /// It keeps one position per level of nesting, not a list of all the steps.
    pub fn walk(&self) -> impl Iterator<Item = &Step> {
        let mut stack: Vec<std::slice::Iter<'_, Step>> = vec![self.steps.iter()];
        std::iter::from_fn(move || {
            loop {
                let Some(step) = stack.last_mut()?.next() else {
                    stack.pop();
                    continue;
                };
                if let Some(children) = step.kind.children() {
                    stack.push(children.iter());
                }
                return Some(step);
            }
        })
    }
}
