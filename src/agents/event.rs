//! What a headless agent run produces: the typed events of its stream and the summary at its end.
//!
//! Every adapter turns its CLI's JSON lines into [`AgentEvent`]s through a [`StreamParser`]. The
//! executor renders the events as they arrive (see `render`) and, when the child has exited, asks
//! the parser for the [`Completion`]: session id, final answer, usage, cost and, if the step
//! failed, a classified [`Failure`].

/// Longest stream line the parsers accept (agents.md §1). Longer lines become a warning.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// One thing that happened in an agent's stream.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// The CLI reported its session id (and model, when it says).
    SessionStarted { id: String, model: Option<String> },
    /// Assistant text. `sub_agent` marks output of a sub-agent (shown dimmed, indented once more).
    Text { text: String, sub_agent: bool },
    /// A tool call. `summary` is already reduced to one readable line (uncut).
    ToolUse {
        tool: String,
        summary: String,
        sub_agent: bool,
    },
    /// The result of a tool call.
    ToolResult {
        ok: bool,
        text: String,
        sub_agent: bool,
    },
    /// Model reasoning or thinking.
    Reasoning { text: String },
    /// Something worth showing that is not a failure by itself (reconnects, retries).
    Warning { message: String },
    /// Token counts reported by the CLI.
    Usage(Usage),
    /// The CLI's own final result.
    Final { text: String, is_error: bool },
    /// A line that is not (complete) JSON, kept verbatim.
    Raw { line: String },
}

/// Token counts. Fields the CLI does not report stay 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_creation_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Adds `other` field by field (codex and opencode report per turn or per step).
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.cache_creation_tokens += other.cache_creation_tokens;
        self.output_tokens += other.output_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
    }

    /// `self` less `earlier`, field by field; `None` when any field of `earlier` is larger (then
    /// `self` does not include it).
    pub fn minus(&self, earlier: &Usage) -> Option<Usage> {
        Some(Usage {
            input_tokens: self.input_tokens.checked_sub(earlier.input_tokens)?,
            cached_input_tokens: self
                .cached_input_tokens
                .checked_sub(earlier.cached_input_tokens)?,
            cache_creation_tokens: self
                .cache_creation_tokens
                .checked_sub(earlier.cache_creation_tokens)?,
            output_tokens: self.output_tokens.checked_sub(earlier.output_tokens)?,
            reasoning_tokens: self
                .reasoning_tokens
                .checked_sub(earlier.reasoning_tokens)?,
        })
    }
}

/// One model's share of a step's usage (claude `result.modelUsage`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelUsage {
    pub model: String,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
}

/// What the earlier invocations of a session reported in this run, by model: claude's result
/// totals of a resumed session continue from them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSpend {
    pub models: Vec<ModelUsage>,
    pub cost_usd: f64,
}

impl SessionSpend {
    /// Adds one invocation's split and cost.
    pub fn add(&mut self, models: &[ModelUsage], cost_usd: Option<f64>) {
        for m in models {
            match self.models.iter_mut().find(|s| s.model == m.model) {
                Some(seen) => {
                    seen.usage.add(&m.usage);
                    seen.cost_usd = match (seen.cost_usd, m.cost_usd) {
                        (None, None) => None,
                        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
                    };
                }
                None => self.models.push(m.clone()),
            }
        }
        self.cost_usd += cost_usd.unwrap_or(0.0);
    }
}

/// What a running step has used so far in this invocation, as far as the stream has told.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunningUsage {
    pub tokens: u64,
    pub cost_usd: Option<f64>,
}

pub use crate::error::ErrorClass;

/// A classified failure with the message shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: ErrorClass,
    pub message: String,
    /// When a `quota` resets, if the CLI said so.
    pub reset_at: Option<std::time::SystemTime>,
}

impl Failure {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Failure {
            class,
            message: message.into(),
            reset_at: None,
        }
    }
}

/// How the child ended, plus the end of its stderr (for classification).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code, if it exited normally.
    pub code: Option<i32>,
    /// The signal that killed it, if any.
    pub signal: Option<i32>,
    /// The last lines of its stderr (the executor keeps ~20 lines).
    pub stderr_tail: String,
}

impl ExitInfo {
    /// An exit with status `code` and no stderr.
    pub fn code(code: i32) -> Self {
        ExitInfo {
            code: Some(code),
            ..ExitInfo::default()
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The `exit_status` failure of a CLI that ended badly: `<cli> failed with exit status 3: <the
    /// last error line of its stderr>`.
    pub fn failure(&self, cli: &str) -> Failure {
        let detail = self
            .error_line()
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        Failure::new(
            ErrorClass::ExitStatus,
            format!("{cli} failed with {}{detail}", self.describe()),
        )
    }

    /// `exit status 3` / `killed by signal SIGKILL`, for messages.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!(
                "killed by signal {}",
                crate::console::format::signal_name(sig)
            ),
            (None, None) => "unknown exit status".to_string(),
        }
    }

    /// The stderr line that best explains a failure: the last one starting with `error`
    /// (any case), else the last non-empty one. Backtraces after the error line are skipped.
    pub fn error_line(&self) -> Option<&str> {
        let mut lines = self
            .stderr_tail
            .lines()
            .rev()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        let last = lines.clone().next();
        lines
            .find(|l| l.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("error")))
            .or(last)
    }
}

/// The lines of a CLI's `stderr` worth showing on the console: everything before a stack
/// backtrace (a CLI's own Rust trace is noise to the user; the output file keeps it), and how
/// many lines were left out.
pub fn without_backtrace(stderr: &str) -> (Vec<&str>, usize) {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines.iter().position(|l| {
        let l = l.trim().to_ascii_lowercase();
        l.starts_with("stack backtrace:") || l.starts_with("note: run with `rust_backtrace")
    });
    match start {
        Some(start) => {
            let mut kept = lines[..start].to_vec();
            while kept.last().is_some_and(|l| l.trim().is_empty()) {
                kept.pop();
            }
            (kept, lines.len() - start)
        }
        None => (lines, 0),
    }
}

/// The summary of one headless invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    pub session_id: Option<String>,
    /// The final assistant answer, trimmed (what `capture` stores).
    pub final_text: Option<String>,
    /// The answer the CLI returned through its native structured-output option (claude's
    /// `structured_output`), when there is one.
    pub structured: Option<serde_json::Value>,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
    pub num_turns: Option<u32>,
    pub failure: Option<Failure>,
    /// The split by model, where the CLI reports one (claude).
    pub models: Vec<ModelUsage>,
    /// Tool calls the CLI denied (`Bash(rm -rf build)`, `WebFetch`), in order.
    pub denials: Vec<String>,
}

/// Turns one CLI's stream into events, line by line, and summarises it at the end.
pub trait StreamParser: Send {
    /// Parses one line (without its newline). Never panics; bad input becomes `Raw`.
    fn feed(&mut self, line: &[u8]) -> Vec<AgentEvent>;

    /// Called once after the child exited.
    fn finish(&mut self, exit: &ExitInfo) -> Completion;

    /// The usage so far, for budgets enforced while the step runs (control.md §5). `None`
    /// when the CLI reports usage only at its end.
    fn running(&self) -> Option<RunningUsage> {
        None
    }

    /// The tokens a budget counts in `usage`: input and output, cached input counted as input.
    /// Claude reports cache reads and writes apart from `input_tokens`; a CLI whose
    /// `input_tokens` already include the cached ones overrides this.
    fn tokens_of(&self, usage: &Usage) -> u64 {
        usage.input_tokens
            + usage.cached_input_tokens
            + usage.cache_creation_tokens
            + usage.output_tokens
    }
}

/// What the shared line pre-check decided.
enum LineKind<'a> {
    /// A line that may be JSON: the parser should try it.
    Json(&'a str),
    /// Blank line: no events.
    Empty,
    /// Not JSON, too long or not UTF-8: this event is the whole answer.
    Other(AgentEvent),
}

/// The checks every parser makes before it looks at a line's JSON.
fn classify_line(line: &[u8]) -> LineKind<'_> {
    if line.len() > MAX_LINE_BYTES {
        return LineKind::Other(AgentEvent::Warning {
            message: format!(
                "skipped a stream line of {} bytes (the limit is 16 MiB)",
                line.len()
            ),
        });
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(text) = std::str::from_utf8(line) else {
        return LineKind::Other(raw(&String::from_utf8_lossy(line)));
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        LineKind::Empty
    } else if trimmed.starts_with('{') {
        LineKind::Json(trimmed)
    } else {
        LineKind::Other(raw(text))
    }
}

/// The common `feed`: pre-checks the line, deserializes it into `T` and hands it to `on`; a line
/// that does not deserialize (truncated JSON, a wrong shape) becomes `Raw`.
pub(crate) fn feed_json<'a, T, F>(line: &'a [u8], on: F) -> Vec<AgentEvent>
where
    T: serde::Deserialize<'a>,
    F: FnOnce(T) -> Vec<AgentEvent>,
{
    match classify_line(line) {
        LineKind::Empty => Vec::new(),
        LineKind::Other(event) => vec![event],
        LineKind::Json(text) => match serde_json::from_str::<T>(text) {
            Ok(parsed) => on(parsed),
            Err(_) => vec![raw(text)],
        },
    }
}

pub(crate) fn raw(line: &str) -> AgentEvent {
    AgentEvent::Raw {
        line: line.to_string(),
    }
}

/// Trims a final answer and drops it when empty.
pub(crate) fn final_text(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}
