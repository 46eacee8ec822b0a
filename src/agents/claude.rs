//! The claude adapter (agents.md §2): Claude Code's argv, its `stream-json` stream, its session
//! store under `${CLAUDE_CONFIG_DIR:-~/.claude}/projects/<key>/`, and its failure modes.
//!
//! Checked against claude 2.1.197: a logged-out turn ends with `"subtype":"success"` but
//! `"is_error":true`, so failure is decided by `is_error` and the exit status, never by `subtype`;
//! resuming an unknown id prints `No conversation found with session ID: <id>` and ends with an
//! `error_during_execution` result whose `errors` carry the same text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::workflow::model::Permissions;

use super::classify;
use super::claude_failure::{ResultFacts, Signals};
use super::claude_usage::{self, MessageUsage, ModelEntry, Running};
use super::event::{
    AgentEvent, Completion, ErrorClass, ExitInfo, Failure, StreamParser, Usage, feed_json,
    final_text,
};
use super::event::{ModelUsage, RunningUsage, SessionSpend};
use super::invocation::{Argv, BuildError, Capabilities, CommandSpec, Invocation};
use super::json::{Content, Loose, object_or_none};
use super::summary::summarize;
use super::{Adapter, EnvLookup, Identity, home};

/// The claude adapter.
pub struct Claude;

const IDENTITY: Identity = Identity {
    name: "claude",
    binary: "claude",
    install_hint: "npm install -g @anthropic-ai/claude-code",
    login_hint: "run \"claude auth login\" (or start claude and type /login)",
};

/// The message for `permissions: full` as root outside a sandbox.
pub const ROOT_FULL_MESSAGE: &str = "claude refuses \"permissions: full\" when run as root; run agent-runner as a normal user, use permissions: edit, or set IS_SANDBOX=1 in a disposable sandbox";

const NO_CONVERSATION: &str = "No conversation found with session ID";

impl Adapter for Claude {
    fn identity(&self) -> &'static Identity {
        &IDENTITY
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            headless: true,
            interactive: true,
            resume_headless: true,
            resume_interactive: true,
            preassigned_session_id: true,
            system_prompt_flag: true,
            output_schema: true,
            effort: true,
            usage: true,
            cost: true,
        }
    }

    fn build(&self, inv: &Invocation) -> Result<CommandSpec, BuildError> {
        if inv.permissions == Permissions::Full && inv.host.root && !inv.host.is_sandbox {
            return Err(BuildError::Refused(ROOT_FULL_MESSAGE.to_string()));
        }
        let mut a = Argv::default();
        if inv.headless() {
            a.args(["-p", "--output-format", "stream-json", "--verbose"]);
        }
        a.opt("--session-id", inv.preassigned_id());
        a.opt("--resume", inv.resume_id());
        a.opt("--model", inv.model.as_deref());
        a.opt("--effort", inv.effort.map(|e| e.as_str()));
        if inv.headless() {
            // Only with --print; the runner also enforces the limit itself.
            let left = inv
                .max_budget_usd
                .map(|usd| format!("{:.4}", usd.max(0.0001)));
            a.opt("--max-budget-usd", left.as_deref());
        }
        match inv.permissions {
            Permissions::Ask => {}
            Permissions::Edit => {
                a.args(["--permission-mode", "acceptEdits"]);
            }
            Permissions::Full => {
                a.args(["--permission-mode", "bypassPermissions"]);
            }
        }
        // --add-dir and the tool lists are variadic: each is followed by another option or `--`.
        a.arg("--add-dir").arg(inv.run_dir_arg());
        if inv.headless() {
            a.args(["--disallowedTools", "AskUserQuestion"]);
        }
        if inv.headless()
            && let Some(schema) = &inv.output_schema
        {
            a.arg("--json-schema").arg(schema.json.as_str());
        }
        if !inv.system_text.is_empty() {
            a.arg("--append-system-prompt")
                .arg(inv.system_text.as_str());
        }
        if !inv.headless() {
            a.arg("--allowedTools").arg(format!(
                "Bash({} step continue:*)",
                inv.runner_exe.display()
            ));
        }
        a.args(inv.extra_args.iter().cloned());
        a.arg("--").arg(inv.prompt.as_str());
        Ok(inv.command(a.0))
    }

    fn parser(&self, inv: &Invocation) -> Box<dyn StreamParser> {
        let expected = inv.preassigned_id().or(inv.resume_id()).map(str::to_string);
        let mut parser = ClaudeParser::new(expected, inv.workdir.clone());
        parser.session_before = inv.session_before.clone();
        Box::new(parser)
    }

    fn session_exists(&self, id: &str, workdir: &Path, env: EnvLookup) -> Option<bool> {
        let config = config_dir(env)?;
        Some(
            config
                .join("projects")
                .join(project_key(&workdir.to_string_lossy()))
                .join(format!("{id}.jsonl"))
                .is_file(),
        )
    }

    fn preflight_args(&self, env: EnvLookup) -> Option<Vec<String>> {
        if env("ANTHROPIC_API_KEY").is_some_and(|k| !k.is_empty()) {
            return None;
        }
        Some(vec!["auth".into(), "status".into()])
    }
}

/// `${CLAUDE_CONFIG_DIR:-~/.claude}`.
pub fn config_dir(env: EnvLookup) -> Option<PathBuf> {
    match env("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => home(env).map(|h| h.join(".claude")),
    }
}

/// The folder name Claude uses for a project: every UTF-16 unit outside `[A-Za-z0-9]` becomes
/// `-`; a key over 200 characters is cut to 200 and followed by `-` and the base-36 absolute
/// value of the Java string hash of the path.
pub fn project_key(path: &str) -> String {
    let key: String = path
        .chars()
        .flat_map(|c| {
            let keep = c.is_ascii_alphanumeric();
            std::iter::repeat_n(
                if keep { c } else { '-' },
                if keep { 1 } else { c.len_utf16() },
            )
        })
        .collect();
    if key.len() <= 200 {
        return key;
    }
    format!(
        "{}-{}",
        &key[..200],
        base36(i64::from(java_string_hash(path)).unsigned_abs())
    )
}

/// Java's `String.hashCode` over UTF-16 units (wrapping 32-bit arithmetic).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// One `stream-json` line; only the fields the parser uses.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Loose<'a>,
    #[serde(default, borrow)]
    subtype: Loose<'a>,
    #[serde(default, borrow)]
    session_id: Loose<'a>,
    #[serde(default, borrow)]
    model: Loose<'a>,
    /// An object on assistant and user lines, a string on `permission_denied` lines.
    #[serde(default, borrow, deserialize_with = "object_or_none")]
    message: Option<Message<'a>>,
    #[serde(default, borrow)]
    parent_tool_use_id: Loose<'a>,
    #[serde(default, borrow)]
    terminal_reason: Loose<'a>,
    #[serde(default, borrow)]
    startup_failure_reason: Loose<'a>,
    #[serde(default, borrow)]
    api_error_status: Loose<'a>,
    #[serde(default, borrow)]
    tool_name: Loose<'a>,
    #[serde(default, borrow)]
    rate_limit_info: Option<RateLimitInfo<'a>>,
    #[serde(default, borrow)]
    permission_denials: Option<Vec<Denial<'a>>>,
    #[serde(default, borrow)]
    error: Loose<'a>,
    #[serde(default, borrow)]
    result: Loose<'a>,
    #[serde(default, borrow)]
    is_error: Loose<'a>,
    #[serde(default, borrow)]
    num_turns: Loose<'a>,
    #[serde(default, borrow)]
    total_cost_usd: Loose<'a>,
    #[serde(default)]
    usage: Option<MessageUsage>,
    #[serde(default, rename = "modelUsage")]
    model_usage: Option<HashMap<String, ModelEntry>>,
    #[serde(default, borrow)]
    errors: Option<Vec<Loose<'a>>>,
    #[serde(default, borrow)]
    attempt: Loose<'a>,
    #[serde(default, borrow)]
    max_retries: Loose<'a>,
    /// The value of a `--json-schema` answer, on the result line.
    #[serde(default)]
    structured_output: Option<serde_json::Value>,
}

/// `rate_limit_event.rate_limit_info`: `resetsAt` is in Unix seconds.
#[derive(Deserialize)]
struct RateLimitInfo<'a> {
    #[serde(default, borrow)]
    status: Loose<'a>,
    #[serde(rename = "resetsAt", default, borrow)]
    resets_at: Loose<'a>,
}

/// One entry of `result.permission_denials`.
#[derive(Deserialize)]
struct Denial<'a> {
    #[serde(default, borrow)]
    tool_name: Loose<'a>,
    #[serde(default)]
    tool_input: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default, borrow)]
    content: Content<'a>,
    #[serde(default, borrow)]
    id: Loose<'a>,
    #[serde(default)]
    usage: Option<MessageUsage>,
}

/// What the `result` line said.
#[derive(Debug, Default)]
struct ResultInfo {
    text: String,
    /// `error_max_structured_output_retries`: claude gave up matching `--json-schema`.
    schema_gave_up: bool,
    structured: Option<serde_json::Value>,
    is_error: bool,
    errors: Vec<String>,
    num_turns: Option<u32>,
    cost_usd: Option<f64>,
    usage: Option<Usage>,
    models: Vec<ModelUsage>,
    facts: ResultFacts,
    /// `permission_denials`, as `Bash(rm -rf build)` or the tool's name.
    denials: Vec<String>,
}

/// The tool claude uses to put a question to the user; headless steps disallow it.
const ASK_USER_TOOL: &str = "AskUserQuestion";

/// The failure of a headless step whose agent tried to ask the user something.
fn asked_failure(question: &str) -> Failure {
    let quoted = if question.trim().is_empty() {
        String::new()
    } else {
        format!(" (\"{}\")", question.trim())
    };
    Failure::new(
        ErrorClass::AgentQuestion,
        format!(
            "claude tried to ask the user a question{quoted}, but nobody can answer in a headless step; put the answer in the prompt, or make the step interactive"
        ),
    )
}

/// Parser for `claude -p --output-format stream-json --verbose`.
pub struct ClaudeParser {
    expected_id: Option<String>,
    workdir: PathBuf,
    session_id: Option<String>,
    last_text: Option<String>,
    signals: Signals,
    /// Tools named by `permission_denied` events (the result's list wins when there is one).
    denied_events: Vec<String>,
    result: Option<ResultInfo>,
    /// The question of an `AskUserQuestion` call: a headless step that asks the user fails.
    asked: Option<String>,
    running: Running,
    /// What the resumed session reported before this invocation (see [`claude_usage::since`]).
    session_before: Option<SessionSpend>,
}

impl ClaudeParser {
    pub fn new(expected_id: Option<String>, workdir: PathBuf) -> Self {
        ClaudeParser {
            expected_id,
            workdir,
            session_id: None,
            last_text: None,
            signals: Signals::default(),
            denied_events: Vec::new(),
            result: None,
            asked: None,
            running: Running::default(),
            session_before: None,
        }
    }

    fn on_line(&mut self, line: Line<'_>) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        if self.session_id.is_none()
            && let Some(id) = line.session_id.as_str()
        {
            self.note_session(id, line.model.as_str(), &mut out);
        }
        let sub_agent = line.parent_tool_use_id.as_str().is_some();
        match (
            line.kind.as_str().unwrap_or(""),
            line.subtype.as_str().unwrap_or(""),
        ) {
            ("system", "init") => {}
            ("system", "permission_denied") => {
                if let Some(tool) = line.tool_name.as_str().filter(|t| *t != ASK_USER_TOOL) {
                    self.denied_events.push(tool.to_string());
                }
            }
            ("rate_limit_event", _) => {
                if let Some(info) = &line.rate_limit_info {
                    self.signals
                        .rate_limit_event(info.status.as_str(), info.resets_at.as_f64());
                }
            }
            ("system", "api_retry") => {
                if let Some(kind) = line.error.as_str() {
                    self.signals.retry_error = Some(kind.to_string());
                }
                let attempt = line
                    .attempt
                    .as_u64()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "?".into());
                let max = line
                    .max_retries
                    .as_u64()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "?".into());
                let why = line
                    .error
                    .as_str()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                out.push(AgentEvent::Warning {
                    message: format!("API request failed, retrying ({attempt}/{max}){why}"),
                });
            }
            ("assistant", _) => {
                match line.error.as_str() {
                    Some("authentication_failed") => self.signals.auth_failed = true,
                    Some(kind) if !sub_agent => {
                        let text = line
                            .message
                            .as_ref()
                            .map(|m| m.content.joined_text())
                            .unwrap_or_default();
                        self.signals.api_error = Some((kind.to_string(), text));
                    }
                    _ => {}
                }
                if let Some(msg) = &line.message {
                    if let (Some(id), Some(usage)) = (msg.id.as_str(), &msg.usage) {
                        self.running.message(id, usage);
                    }
                    self.on_assistant(&msg.content, sub_agent, &mut out);
                }
            }
            ("user", _) => {
                if let Some(msg) = &line.message {
                    for block in msg
                        .content
                        .blocks()
                        .iter()
                        .filter(|b| b.kind.as_str() == Some("tool_result"))
                    {
                        out.push(AgentEvent::ToolResult {
                            ok: block.is_error.as_bool() != Some(true),
                            text: block.content.joined_text(),
                            sub_agent,
                        });
                    }
                }
            }
            ("result", _) => self.on_result(line, &mut out),
            _ => {}
        }
        out
    }

    fn note_session(&mut self, id: &str, model: Option<&str>, out: &mut Vec<AgentEvent>) {
        if let Some(expected) = &self.expected_id
            && expected != id
        {
            out.push(AgentEvent::Warning {
                message: format!("claude reported session {id} instead of {expected}; using {id}"),
            });
        }
        self.session_id = Some(id.to_string());
        out.push(AgentEvent::SessionStarted {
            id: id.to_string(),
            model: model.map(str::to_string),
        });
    }

    fn on_assistant(&mut self, content: &Content<'_>, sub_agent: bool, out: &mut Vec<AgentEvent>) {
        for block in content.blocks() {
            match block.kind.as_str() {
                Some("text") => {
                    let text = block.text.as_str().unwrap_or("").to_string();
                    if !sub_agent {
                        self.last_text = Some(text.clone());
                    }
                    out.push(AgentEvent::Text { text, sub_agent });
                }
                Some("tool_use") => {
                    let tool = block.name.as_str().unwrap_or("tool").to_string();
                    let input = block.input.clone().unwrap_or_default();
                    if tool == ASK_USER_TOOL && !sub_agent && self.asked.is_none() {
                        let question = input
                            .pointer("/questions/0/question")
                            .or_else(|| input.get("question"))
                            .and_then(|q| q.as_str())
                            .unwrap_or("");
                        self.asked = Some(question.to_string());
                    }
                    out.push(AgentEvent::ToolUse {
                        summary: summarize(&tool, &input),
                        tool,
                        sub_agent,
                    });
                }
                Some("thinking") => out.push(AgentEvent::Reasoning {
                    text: block.thinking.as_str().unwrap_or("").to_string(),
                }),
                _ => {}
            }
        }
    }

    fn on_result(&mut self, line: Line<'_>, out: &mut Vec<AgentEvent>) {
        let info = ResultInfo {
            text: line.result.as_str().unwrap_or("").to_string(),
            schema_gave_up: line.subtype.as_str() == Some("error_max_structured_output_retries"),
            structured: line.structured_output,
            is_error: line.is_error.as_bool() == Some(true),
            errors: line
                .errors
                .unwrap_or_default()
                .iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect(),
            num_turns: line.num_turns.as_u64().map(|n| n as u32),
            cost_usd: line.total_cost_usd.as_f64(),
            usage: None,
            models: line
                .model_usage
                .map(claude_usage::models)
                .unwrap_or_default(),
            facts: ResultFacts {
                subtype: line.subtype.as_str().unwrap_or("").to_string(),
                terminal_reason: line.terminal_reason.as_str().map(str::to_string),
                startup_failure_reason: line.startup_failure_reason.as_str().map(str::to_string),
                api_error_status: line.api_error_status.as_u64(),
            },
            denials: line
                .permission_denials
                .unwrap_or_default()
                .iter()
                .filter_map(denied_call)
                .collect(),
        };
        let mut info = info;
        if let Some(before) = &self.session_before
            && let Some((models, cost)) =
                claude_usage::since(&info.models, info.cost_usd, before, self.running.streamed())
        {
            info.models = models;
            info.cost_usd = cost;
        }
        // `modelUsage` covers sub-agents too; `usage` is the main loop only (its fallback).
        info.usage = if info.models.is_empty() {
            line.usage.map(|u| u.usage())
        } else {
            Some(claude_usage::total(&info.models))
        };
        if info.cost_usd.is_none() && info.models.iter().any(|m| m.cost_usd.is_some()) {
            info.cost_usd = Some(info.models.iter().filter_map(|m| m.cost_usd).sum());
        }
        self.running.result(info.usage.as_ref(), info.cost_usd);
        if let Some(usage) = info.usage {
            out.push(AgentEvent::Usage(usage));
        }
        let text = if info.text.is_empty() {
            info.errors.join("\n")
        } else {
            info.text.clone()
        };
        out.push(AgentEvent::Final {
            text,
            is_error: info.is_error,
        });
        self.result = Some(info);
    }

    fn classify(&self, exit: &ExitInfo) -> Option<Failure> {
        let result = self.result.as_ref();
        let is_error = result.is_some_and(|r| r.is_error);
        if exit.success() && !is_error {
            return match result {
                Some(_) => self.asked.as_deref().map(asked_failure),
                None => Some(Failure::new(
                    ErrorClass::CliError,
                    "claude ended without a result",
                )),
            };
        }
        let result_text = result.map(|r| r.text.as_str()).unwrap_or("");
        if self.signals.auth_failed
            || result_text.starts_with("Not logged in")
            || result_text.starts_with("Invalid API key")
        {
            return Some(Claude.not_logged_in());
        }
        let mentions_missing = |s: &str| s.contains(NO_CONVERSATION);
        let structured = self.signals.class(result.map(|r| &r.facts));
        if structured == Some(ErrorClass::SessionMissing)
            || result.is_some_and(|r| r.errors.iter().any(|e| mentions_missing(e)))
            || mentions_missing(result_text)
            || mentions_missing(&exit.stderr_tail)
        {
            let id = self
                .expected_id
                .as_deref()
                .or(self.session_id.as_deref())
                .unwrap_or("?");
            return Some(Failure::new(
                ErrorClass::SessionMissing,
                format!("claude has no session {id} for {}", self.workdir.display()),
            ));
        }
        if result.is_some_and(|r| r.schema_gave_up) {
            return Some(Failure::new(
                ErrorClass::OutputInvalid,
                "claude could not give an answer that matches the output schema (error_max_structured_output_retries)",
            ));
        }
        let mut failure = if is_error {
            let message = match result {
                Some(r) if !r.text.trim().is_empty() => r.text.trim().to_string(),
                Some(r) if !r.errors.is_empty() => r.errors.join("; "),
                _ => match structured {
                    Some(ErrorClass::MaxTurns) => "claude stopped at its turn limit".to_string(),
                    Some(ErrorClass::Budget) => "claude stopped at its budget".to_string(),
                    _ => "claude reported an error".to_string(),
                },
            };
            Failure::new(ErrorClass::CliError, message)
        } else {
            exit.failure("claude")
        };
        if let Some(class) = structured {
            failure.class = class;
        }
        if failure.class == ErrorClass::Quota {
            failure.reset_at = self.signals.quota_reset;
        }
        Some(failure)
    }

    /// The tool calls claude denied: the result's `permission_denials`, else the tools of the
    /// `permission_denied` events.
    fn denials(&self) -> Vec<String> {
        match &self.result {
            Some(r) if !r.denials.is_empty() => r.denials.clone(),
            _ => self.denied_events.clone(),
        }
    }
}

impl StreamParser for ClaudeParser {
    fn feed(&mut self, line: &[u8]) -> Vec<AgentEvent> {
        feed_json(line, |parsed: Line| self.on_line(parsed))
    }

    fn finish(&mut self, exit: &ExitInfo) -> Completion {
        let failure = self.classify(exit);
        let final_answer = match (&self.result, &failure) {
            (Some(r), None) => final_text(&r.text),
            _ => self.last_text.as_deref().and_then(final_text),
        };
        let mut completion = Completion {
            session_id: self.session_id.clone().or_else(|| self.expected_id.clone()),
            final_text: final_answer,
            structured: match (&self.result, &failure) {
                (Some(r), None) => r.structured.clone(),
                _ => None,
            },
            usage: self.result.as_ref().and_then(|r| r.usage),
            cost_usd: self.result.as_ref().and_then(|r| r.cost_usd),
            num_turns: self.result.as_ref().and_then(|r| r.num_turns),
            failure,
            models: self
                .result
                .as_ref()
                .map(|r| r.models.clone())
                .unwrap_or_default(),
            denials: self.denials(),
        };
        classify::refine(&mut completion, exit);
        completion
    }

    fn running(&self) -> Option<RunningUsage> {
        Some(self.running.now())
    }
}

/// A denied call as the warning names it: `Bash(rm -rf build)`, or the tool's name. A denied
/// `AskUserQuestion` is not a tool denial: it is the `agent_question` failure.
fn denied_call(denial: &Denial<'_>) -> Option<String> {
    let tool = denial.tool_name.as_str().unwrap_or("tool");
    if tool == ASK_USER_TOOL {
        return None;
    }
    let command = denial
        .tool_input
        .as_ref()
        .filter(|_| tool == "Bash")
        .and_then(|input| input.get("command"))
        .and_then(serde_json::Value::as_str)
        .map(super::summary::first_line);
    Some(match command {
        Some(command) => format!("{tool}({command})"),
        None => tool.to_string(),
    })
}
