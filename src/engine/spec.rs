//! [`EngineSpec`]: the typed form of an engine file (engines.md §2), after every check of
//! [`file::analyze`](super::file::analyze) has passed. Templates are kept as text; they were
//! compiled once during the checks and are rendered by [`Engine`](super::Engine) at run time.

use std::fmt;

/// A parsed, valid engine file.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSpec {
    pub name: String,
    pub description: String,
    /// Where it came from, as shown to the user: `builtin:openspec` or a file path.
    pub source: String,
    /// Binaries checked on `PATH` when the engine attaches.
    pub requires: Vec<String>,
    pub options: Vec<OptionDecl>,
    /// `vars`, in file order: each template may use the ones before it.
    pub vars: Vec<(String, String)>,
    pub checks: Vec<String>,
    pub data: Vec<DataDecl>,
    pub hooks: Vec<HookDecl>,
}

impl EngineSpec {
    pub fn hook(&self, kind: HookKind) -> Option<&HookDecl> {
        self.hooks.iter().find(|h| h.kind == kind)
    }

    pub fn data(&self, name: &str) -> Option<&DataDecl> {
        self.data.iter().find(|d| d.name == name)
    }

    pub fn option(&self, name: &str) -> Option<&OptionDecl> {
        self.options.iter().find(|o| o.name == name)
    }
}

/// One entry of `options`: a key the workflow's `engine:` block may set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDecl {
    pub name: String,
    pub description: String,
    pub default: Option<String>,
    pub required: bool,
}

/// One entry of `data`: a named command that hooks use through `needs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDecl {
    pub name: String,
    /// argv; every element is a template.
    pub run: Vec<String>,
    pub output: OutputKind,
    pub cache: CachePolicy,
}

/// How a command's stdout becomes a template value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputKind {
    /// Parsed as JSON (the default).
    #[default]
    Json,
    /// The trimmed text.
    Text,
}

impl OutputKind {
    pub const ALL: &'static [&'static str] = &["json", "text"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "json" => Some(OutputKind::Json),
            "text" => Some(OutputKind::Text),
            _ => None,
        }
    }
}

/// How long a successful data result is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CachePolicy {
    /// For the life of the engine instance (the default). Failures are never cached.
    #[default]
    Engine,
    /// Run on every use.
    None,
}

impl CachePolicy {
    pub const ALL: &'static [&'static str] = &["engine", "none"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "engine" => Some(CachePolicy::Engine),
            "none" => Some(CachePolicy::None),
            _ => None,
        }
    }
}

/// What a failing data or run command means for a `validate_*` hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// The hook does not apply (the default).
    #[default]
    Skip,
    /// A rejection whose message is the command's stderr.
    Fail,
}

impl OnError {
    pub const ALL: &'static [&'static str] = &["skip", "fail"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "skip" => Some(OnError::Skip),
            "fail" => Some(OnError::Fail),
            _ => None,
        }
    }
}

/// The four hooks of engines.md §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookKind {
    ValidateWorkflow,
    EnrichPrompt,
    ValidateStep,
    StateDir,
}

impl HookKind {
    pub const ALL: [HookKind; 4] = [
        HookKind::ValidateWorkflow,
        HookKind::EnrichPrompt,
        HookKind::ValidateStep,
        HookKind::StateDir,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::ValidateWorkflow => "validate_workflow",
            HookKind::EnrichPrompt => "enrich_prompt",
            HookKind::ValidateStep => "validate_step",
            HookKind::StateDir => "state_dir",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        HookKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The key holding the hook's result template: `template`, `error` or `path`.
    pub fn result_key(self) -> &'static str {
        match self {
            HookKind::EnrichPrompt => "template",
            HookKind::ValidateWorkflow | HookKind::ValidateStep => "error",
            HookKind::StateDir => "path",
        }
    }

    /// True when the template context has a `step`.
    pub fn has_step(self) -> bool {
        matches!(self, HookKind::EnrichPrompt | HookKind::ValidateStep)
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `hooks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDecl {
    pub kind: HookKind,
    /// Data commands run (or taken from the cache) before anything is rendered.
    pub needs: Vec<String>,
    pub when: Option<String>,
    /// The hook's own command; every element is a template.
    pub run: Option<Vec<String>>,
    pub output: OutputKind,
    /// `let`, in file order.
    pub lets: Vec<(String, String)>,
    /// The `template`, `error` or `path` template (see [`HookKind::result_key`]).
    pub result: String,
    pub on_error: OnError,
}
