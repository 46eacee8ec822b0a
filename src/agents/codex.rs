//! The codex adapter (agents.md §3): Codex CLI's argv, its `exec --json` stream, its rollout files
//! under `${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/`, and interactive session discovery.
//!
//! Checked against codex-cli 0.169.0: sandbox and approval flags are global and go before `exec`
//! (`-a` after `exec` is `error: unexpected argument '-a' found`, exit 2); `--` is accepted before
//! the prompt in all four forms and before `<id> <prompt>` for both resume forms; the first line
//! of a rollout is `{"type":"session_meta","payload":{"id":..,"cwd":..}}`; resuming an unknown id
//! fails with `no rollout found for thread id <id>` on stderr, exit 1.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::Value;

use crate::workflow::model::{Effort, Permissions};

use super::classify;
use super::codex_usage;
use super::event::{
    AgentEvent, Completion, ErrorClass, ExitInfo, Failure, StreamParser, Usage, feed_json,
    final_text,
};
use super::ids::date_path;
use super::invocation::{Argv, BuildError, Capabilities, CommandSpec, Invocation};
use super::json::{Loose, count};
use super::summary::{compact, first_line};
use super::{Adapter, Discovery, DiscoveryContext, EnvLookup, Identity, home};

/// The codex adapter.
pub struct Codex;

const IDENTITY: Identity = Identity {
    name: "codex",
    binary: "codex",
    install_hint: "npm install -g @openai/codex",
    login_hint: "run \"codex login\"",
};

const NO_ROLLOUT: &str = "no rollout found for thread id";

/// The tool codex uses to ask the user something; `codex exec` refuses it with a message that
/// names it (`request_user_input is not supported in exec mode for thread ...`).
const ASK_USER_TOOL: &str = "request_user_input";

impl Adapter for Codex {
    fn identity(&self) -> &'static Identity {
        &IDENTITY
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            headless: true,
            interactive: true,
            resume_headless: true,
            resume_interactive: true,
            preassigned_session_id: false,
            system_prompt_flag: false,
            output_schema: true,
            effort: true,
            usage: true,
            cost: false,
        }
    }

    fn build(&self, inv: &Invocation) -> Result<CommandSpec, BuildError> {
        let mut a = Argv::default();
        let resume = inv.resume_id();
        if inv.headless() {
            sandbox_flags(&mut a, inv);
            a.arg("exec");
            if resume.is_some() {
                a.arg("resume");
            }
            a.args(["--json", "--skip-git-repo-check"]);
            if let Some(schema) = &inv.output_schema {
                a.arg("--output-schema")
                    .arg(schema.file.display().to_string());
            }
        } else {
            if resume.is_some() {
                a.arg("resume");
            }
            a.args(["--no-alt-screen", "--no-daemon"]);
            sandbox_flags(&mut a, inv);
        }
        a.opt("-m", inv.model.as_deref());
        if let Some(effort) = inv.effort {
            a.arg("-c").arg(format!(
                "model_reasoning_effort=\"{}\"",
                effort_value(effort)
            ));
        }
        a.args(inv.extra_args.iter().cloned());
        a.arg("--");
        if let Some(id) = resume {
            a.arg(id);
        }
        a.arg(fold_system_text(&inv.system_text, &inv.prompt));
        Ok(inv.command(a.0))
    }

    fn parser(&self, inv: &Invocation) -> Box<dyn StreamParser> {
        let mut parser = CodexParser::new(inv.resume_id().map(str::to_string));
        // A resumed thread: its total so far, to tell a cumulative report from a per-turn one.
        parser.rollout = inv.resume_id().and_then(|id| {
            let sessions = codex_home(&super::process_env)?.join("sessions");
            codex_usage::rollout_of(&sessions, id)
        });
        parser.baseline = parser
            .rollout
            .as_deref()
            .and_then(codex_usage::thread_total);
        Box::new(parser)
    }

    fn session_exists(&self, id: &str, _workdir: &Path, env: EnvLookup) -> Option<bool> {
        let sessions = codex_home(env)?.join("sessions");
        let suffix = format!("-{id}.jsonl");
        let found = subdirs(&sessions)
            .flat_map(|y| subdirs(&y).collect::<Vec<_>>())
            .flat_map(|m| subdirs(&m).collect::<Vec<_>>())
            .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
            .any(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.starts_with("rollout-") && name.ends_with(&suffix)
            });
        Some(found)
    }

    fn discover_session(&self, ctx: &DiscoveryContext, env: EnvLookup) -> Option<Discovery> {
        let sessions = codex_home(env)?.join("sessions");
        Some(discover_in(&sessions, ctx))
    }

    fn preflight_args(&self, _env: EnvLookup) -> Option<Vec<String>> {
        Some(vec!["login".into(), "status".into()])
    }
}

/// `-s ... [--add-dir <run_dir>] -a ...` or the bypass flag (agents.md §3 table).
fn sandbox_flags(a: &mut Argv, inv: &Invocation) {
    let approval = if inv.headless() {
        "never"
    } else {
        "on-request"
    };
    match inv.permissions {
        Permissions::Ask => {
            a.args(["-s", "read-only", "-a", approval]);
        }
        Permissions::Edit => {
            a.args(["-s", "workspace-write", "--add-dir"])
                .arg(inv.run_dir_arg())
                .args(["-a", approval]);
        }
        Permissions::Full => {
            a.arg("--dangerously-bypass-approvals-and-sandbox");
        }
    }
}

/// Codex has `xhigh` but no `max`.
fn effort_value(effort: Effort) -> &'static str {
    match effort {
        Effort::Max => "xhigh",
        other => other.as_str(),
    }
}

/// Codex has no system prompt flag: the system text goes in front of the prompt.
pub fn fold_system_text(system_text: &str, prompt: &str) -> String {
    if system_text.is_empty() {
        prompt.to_string()
    } else {
        format!("<workflow-context>\n{system_text}\n</workflow-context>\n\n{prompt}")
    }
}

/// `${CODEX_HOME:-~/.codex}`.
pub fn codex_home(env: EnvLookup) -> Option<PathBuf> {
    match env("CODEX_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => home(env).map(|h| h.join(".codex")),
    }
}

fn subdirs(dir: &Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
}

/// One discovery pass over `<sessions>/<today>` and `<sessions>/<yesterday>` (UTC).
pub fn discover_in(sessions: &Path, ctx: &DiscoveryContext) -> Discovery {
    let spawned = secs(ctx.spawned_at);
    let yesterday = ctx
        .now
        .checked_sub(Duration::from_secs(86_400))
        .unwrap_or(UNIX_EPOCH);
    let mut dirs = vec![date_path(ctx.now), date_path(yesterday)];
    dirs.dedup();
    let mut matches: Vec<(u64, String, String)> = Vec::new();
    for dir in dirs {
        for entry in std::fs::read_dir(sessions.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            if !(name.starts_with("rollout-") && name.ends_with(".jsonl")) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let created = secs(
                meta.created()
                    .or_else(|_| meta.modified())
                    .unwrap_or(UNIX_EPOCH),
            );
            if created < spawned {
                continue;
            }
            if let Some(id) = session_meta_id(&entry.path(), &ctx.workdir) {
                matches.push((created, name, id));
            }
        }
    }
    matches.sort();
    let warning = (matches.len() > 1).then(|| {
        format!(
            "{} codex sessions started in {} since the step began; using the earliest",
            matches.len(),
            ctx.workdir.display()
        )
    });
    Discovery {
        session_id: matches.into_iter().next().map(|m| m.2),
        warning,
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The session id of a rollout whose `session_meta` first line has `payload.cwd == workdir`.
fn session_meta_id(path: &Path, workdir: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct First<'a> {
        #[serde(rename = "type", borrow)]
        kind: Loose<'a>,
        #[serde(borrow)]
        payload: Option<Payload<'a>>,
    }
    #[derive(Deserialize)]
    struct Payload<'a> {
        #[serde(borrow)]
        id: Loose<'a>,
        #[serde(borrow)]
        cwd: Loose<'a>,
    }
    let mut line = String::new();
    std::io::BufReader::new(std::fs::File::open(path).ok()?)
        .read_line(&mut line)
        .ok()?;
    let first: First = serde_json::from_str(line.trim_end()).ok()?;
    let payload = first.payload?;
    (first.kind.as_str() == Some("session_meta")
        && payload.cwd.as_str().map(Path::new) == Some(workdir))
    .then(|| payload.id.as_str().map(str::to_string))
    .flatten()
}

/// One `exec --json` line.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Loose<'a>,
    #[serde(default, borrow)]
    thread_id: Loose<'a>,
    #[serde(default, borrow)]
    item: Option<Item<'a>>,
    #[serde(default)]
    usage: Option<TurnUsage>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default, borrow)]
    message: Loose<'a>,
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(default, borrow)]
    id: Loose<'a>,
    #[serde(rename = "type", default, borrow)]
    kind: Loose<'a>,
    #[serde(default, borrow)]
    text: Loose<'a>,
    #[serde(default)]
    command: Option<Value>,
    #[serde(default, borrow)]
    aggregated_output: Loose<'a>,
    #[serde(default, borrow)]
    exit_code: Loose<'a>,
    #[serde(default, borrow)]
    status: Loose<'a>,
    #[serde(default, borrow)]
    changes: Option<Vec<Change<'a>>>,
    #[serde(default, borrow)]
    server: Loose<'a>,
    #[serde(default, borrow)]
    tool: Loose<'a>,
    #[serde(default)]
    arguments: Option<Value>,
    #[serde(default, borrow)]
    query: Loose<'a>,
    #[serde(default, borrow)]
    items: Option<Vec<Todo<'a>>>,
    #[serde(default, borrow)]
    message: Loose<'a>,
}

#[derive(Deserialize)]
struct Change<'a> {
    #[serde(default, borrow)]
    path: Loose<'a>,
    #[serde(default, borrow)]
    kind: Loose<'a>,
}

#[derive(Deserialize)]
struct Todo<'a> {
    #[serde(default, borrow)]
    completed: Loose<'a>,
}

#[derive(Deserialize)]
struct TurnUsage {
    #[serde(default, deserialize_with = "count")]
    input_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    cached_input_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    output_tokens: u64,
    #[serde(default, deserialize_with = "count")]
    reasoning_output_tokens: u64,
}

/// Parser for `codex exec --json`.
pub struct CodexParser {
    expected_id: Option<String>,
    session_id: Option<String>,
    last_message: Option<String>,
    started_commands: HashSet<String>,
    last_todo: Option<String>,
    turns_completed: u32,
    usage: Option<Usage>,
    turn_failed: Option<String>,
    /// The thread's token total before this invocation (resumed threads), then after each
    /// cumulative report.
    baseline: Option<Usage>,
    /// The rollout of a resumed thread.
    rollout: Option<std::path::PathBuf>,
    /// The last `error` event's message (codex says what it is retrying, and why).
    last_error: Option<String>,
    /// The agent tried to ask the user a question (`request_user_input`).
    asked: bool,
}

impl CodexParser {
    pub fn new(expected_id: Option<String>) -> Self {
        CodexParser {
            expected_id,
            session_id: None,
            last_message: None,
            started_commands: HashSet::new(),
            last_todo: None,
            turns_completed: 0,
            usage: None,
            turn_failed: None,
            baseline: None,
            rollout: None,
            last_error: None,
            asked: false,
        }
    }

    fn on_line(&mut self, line: Line<'_>) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        match line.kind.as_str().unwrap_or("") {
            "thread.started" => {
                if let Some(id) = line.thread_id.as_str() {
                    if let Some(expected) = &self.expected_id
                        && expected != id
                    {
                        out.push(AgentEvent::Warning {
                            message: format!(
                                "codex resumed thread {id} instead of {expected}; using {id}"
                            ),
                        });
                    }
                    self.session_id = Some(id.to_string());
                    out.push(AgentEvent::SessionStarted {
                        id: id.to_string(),
                        model: None,
                    });
                }
            }
            "item.started" | "item.updated" => {
                if let Some(item) = &line.item {
                    self.on_item(item, false, &mut out);
                }
            }
            "item.completed" => {
                if let Some(item) = &line.item {
                    self.on_item(item, true, &mut out);
                }
            }
            "turn.completed" => {
                self.turns_completed += 1;
                if let Some(u) = line.usage {
                    let reported = Usage {
                        input_tokens: u.input_tokens,
                        cached_input_tokens: u.cached_input_tokens,
                        cache_creation_tokens: 0,
                        output_tokens: u.output_tokens,
                        reasoning_tokens: u.reasoning_output_tokens,
                    };
                    let now = self
                        .baseline
                        .and(self.rollout.as_deref())
                        .and_then(codex_usage::thread_total);
                    let usage = codex_usage::per_turn(reported, &mut self.baseline, now);
                    self.usage.get_or_insert_with(Usage::default).add(&usage);
                    out.push(AgentEvent::Usage(usage));
                }
                out.push(AgentEvent::Final {
                    text: self.last_message.clone().unwrap_or_default(),
                    is_error: false,
                });
            }
            "turn.failed" => {
                let message = line
                    .error
                    .as_ref()
                    .and_then(|e| e.get("message").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| "codex reported a failed turn".to_string());
                out.push(AgentEvent::Final {
                    text: message.clone(),
                    is_error: true,
                });
                self.turn_failed = Some(message);
            }
            "error" => {
                if let Some(message) = line.message.as_str() {
                    self.asked |= message.contains(ASK_USER_TOOL);
                    self.last_error = Some(message.to_string());
                    out.push(AgentEvent::Warning {
                        message: message.to_string(),
                    });
                }
            }
            _ => {}
        }
        out
    }

    fn on_item(&mut self, item: &Item<'_>, completed: bool, out: &mut Vec<AgentEvent>) {
        let id = item.id.as_str().unwrap_or("").to_string();
        match item.kind.as_str().unwrap_or("") {
            "agent_message" if completed => {
                let text = item.text.as_str().unwrap_or("").to_string();
                self.last_message = Some(text.clone());
                out.push(AgentEvent::Text {
                    text,
                    sub_agent: false,
                });
            }
            "reasoning" if completed => {
                out.push(AgentEvent::Reasoning {
                    text: item.text.as_str().unwrap_or("").to_string(),
                });
            }
            "command_execution" => {
                if !self.started_commands.contains(&id) {
                    self.started_commands.insert(id);
                    out.push(AgentEvent::ToolUse {
                        tool: "shell".into(),
                        summary: command_line(item.command.as_ref()),
                        sub_agent: false,
                    });
                }
                if completed {
                    out.push(AgentEvent::ToolResult {
                        ok: item.exit_code.as_f64() == Some(0.0),
                        text: item.aggregated_output.as_str().unwrap_or("").to_string(),
                        sub_agent: false,
                    });
                }
            }
            "file_change" if completed => {
                for change in item.changes.iter().flatten() {
                    let path = change.path.as_str().unwrap_or("?");
                    let kind = change.kind.as_str().unwrap_or("update");
                    out.push(AgentEvent::ToolUse {
                        tool: "edit".into(),
                        summary: format!("{path} ({kind})"),
                        sub_agent: false,
                    });
                }
                self.push_failed_status(item, out);
            }
            "mcp_tool_call" if completed => {
                let tool = format!(
                    "{}.{}",
                    item.server.as_str().unwrap_or("mcp"),
                    item.tool.as_str().unwrap_or("tool")
                );
                let summary = item
                    .arguments
                    .as_ref()
                    .map(compact)
                    .unwrap_or_else(|| "{}".into());
                out.push(AgentEvent::ToolUse {
                    tool,
                    summary,
                    sub_agent: false,
                });
                self.push_failed_status(item, out);
            }
            "web_search" if completed => {
                out.push(AgentEvent::ToolUse {
                    tool: "search".into(),
                    summary: item.query.as_str().unwrap_or("").to_string(),
                    sub_agent: false,
                });
            }
            "todo_list" => {
                let items = item.items.as_deref().unwrap_or(&[]);
                let done = items
                    .iter()
                    .filter(|t| t.completed.as_bool() == Some(true))
                    .count();
                let summary = format!("{done}/{} done", items.len());
                if self.last_todo.as_deref() != Some(summary.as_str()) {
                    self.last_todo = Some(summary.clone());
                    out.push(AgentEvent::ToolUse {
                        tool: "todo".into(),
                        summary,
                        sub_agent: false,
                    });
                }
            }
            "error" if completed => {
                let message = item.message.as_str().unwrap_or("");
                self.asked |= message.contains(ASK_USER_TOOL);
                out.push(AgentEvent::Warning {
                    message: message.to_string(),
                });
            }
            _ => {}
        }
    }

    fn push_failed_status(&self, item: &Item<'_>, out: &mut Vec<AgentEvent>) {
        if item.status.as_str() == Some("failed") {
            out.push(AgentEvent::ToolResult {
                ok: false,
                text: String::new(),
                sub_agent: false,
            });
        }
    }

    fn classify(&self, exit: &ExitInfo) -> Option<Failure> {
        let no_session = || {
            let id = self.expected_id.as_deref().unwrap_or("?");
            Failure::new(
                ErrorClass::SessionMissing,
                format!("codex has no session {id}"),
            )
        };
        if self.asked {
            return Some(Failure::new(
                ErrorClass::AgentQuestion,
                "codex tried to ask the user a question (request_user_input), but nobody can answer in a headless step; put the answer in the prompt, or make the step interactive",
            ));
        }
        if let Some(message) = &self.turn_failed {
            return Some(if message.contains("401 Unauthorized") {
                Codex.not_logged_in()
            } else if message.contains(NO_ROLLOUT) {
                no_session()
            } else {
                Failure::new(ErrorClass::CliError, message.clone())
            });
        }
        if !exit.success() {
            let stderr = &exit.stderr_tail;
            if stderr.contains("401 Unauthorized")
                || stderr.lines().any(|l| l.trim() == "Not logged in")
            {
                return Some(Codex.not_logged_in());
            }
            if stderr.contains(NO_ROLLOUT) {
                return Some(no_session());
            }
            let mut failure = exit.failure("codex");
            // Killed while retrying (codex retries a lost network forever): say what it was
            // retrying.
            if let Some(class) = self.last_error.as_deref().and_then(classify::from_text) {
                failure.class = class;
            }
            return Some(failure);
        }
        if self.turns_completed == 0 {
            return Some(Failure::new(
                ErrorClass::CliError,
                "codex ended without completing its turn",
            ));
        }
        None
    }
}

/// The first line of a command that is a string or an argv array.
fn command_line(command: Option<&Value>) -> String {
    match command {
        Some(Value::String(s)) => first_line(s).to_string(),
        Some(Value::Array(parts)) => first_line(
            &parts
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        )
        .to_string(),
        _ => String::new(),
    }
}

impl StreamParser for CodexParser {
    fn feed(&mut self, line: &[u8]) -> Vec<AgentEvent> {
        feed_json(line, |parsed: Line| self.on_line(parsed))
    }

    fn finish(&mut self, exit: &ExitInfo) -> Completion {
        let mut completion = Completion {
            models: Vec::new(),
            session_id: self.session_id.clone().or_else(|| self.expected_id.clone()),
            final_text: self.last_message.as_deref().and_then(final_text),
            usage: self.usage,
            cost_usd: None,
            num_turns: (self.turns_completed > 0).then_some(self.turns_completed),
            structured: None,
            failure: self.classify(exit),
            denials: Vec::new(),
        };
        classify::refine(&mut completion, exit);
        completion
    }

    fn running(&self) -> Option<super::event::RunningUsage> {
        let usage = self.usage?;
        Some(super::event::RunningUsage {
            tokens: self.tokens_of(&usage),
            cost_usd: None,
        })
    }

    /// Codex's `input_tokens` include the cached ones.
    fn tokens_of(&self, usage: &Usage) -> u64 {
        usage.input_tokens + usage.output_tokens
    }
}
