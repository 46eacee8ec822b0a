//! The opencode adapter (agents.md §4).
//!
//! Checked against opencode 1.18.33: `opencode run [message..]` with `--format json`, `-m
//! provider/model`, `--variant` (provider-specific effort), `-s <session>`, `--auto` (approve
//! every permission not explicitly denied), and `--` before the message; each JSON line is
//! `{type, timestamp, sessionID, part|error}` with types `step_start`, `text`, `tool_use`,
//! `step_finish` (tokens and cost), `reasoning` and `error`. Without `--auto`, `run` rejects every
//! permission request, so `full` maps to `--auto` and `ask`/`edit` to opencode's own defaults.
//! The TUI takes `--prompt`; its `-s` exists, but interactive resume stays disabled (agents.md §4).

use serde::Deserialize;
use serde_json::Value;

use crate::workflow::model::Permissions;

use super::codex::fold_system_text;
use super::event::{
    AgentEvent, Completion, ErrorClass, ExitInfo, Failure, StreamParser, Usage, feed_json,
    final_text,
};
use super::invocation::{Argv, BuildError, Capabilities, CommandSpec, Invocation};
use super::json::Loose;
use super::summary::summarize;
use super::{Adapter, Identity};

/// The opencode adapter.
pub struct Opencode;

const IDENTITY: Identity = Identity {
    name: "opencode",
    binary: "opencode",
    install_hint: "npm install -g opencode-ai",
    login_hint: "run \"opencode auth login\"",
};

impl Adapter for Opencode {
    fn identity(&self) -> &'static Identity {
        &IDENTITY
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            headless: true,
            interactive: true,
            resume_headless: true,
            resume_interactive: false,
            preassigned_session_id: false,
            system_prompt_flag: false,
            output_schema: false,
            effort: true,
            usage: true,
            cost: true,
        }
    }

    fn build(&self, inv: &Invocation) -> Result<CommandSpec, BuildError> {
        let prompt = fold_system_text(&inv.system_text, &inv.prompt);
        let mut a = Argv::default();
        if inv.headless() {
            a.args(["run", "--format", "json"]);
            a.opt("-m", inv.model.as_deref());
            a.opt("--variant", inv.effort.map(|e| e.as_str()));
            a.opt("-s", inv.resume_id());
        } else {
            if inv.resume_id().is_some() {
                return Err(BuildError::Unsupported {
                    cli: "opencode",
                    what: "resuming a session interactively",
                });
            }
            a.opt("-m", inv.model.as_deref());
        }
        if inv.permissions == Permissions::Full {
            a.arg("--auto");
        }
        a.args(inv.extra_args.iter().cloned());
        if inv.headless() {
            a.arg("--").arg(prompt);
        } else {
            a.arg(format!("--prompt={prompt}"));
        }
        Ok(inv.command(a.0))
    }

    fn parser(&self, inv: &Invocation) -> Box<dyn StreamParser> {
        Box::new(OpencodeParser {
            expected_id: inv.resume_id().map(str::to_string),
            ..OpencodeParser::default()
        })
    }
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Loose<'a>,
    #[serde(default, rename = "sessionID", borrow)]
    session_id: Loose<'a>,
    #[serde(default)]
    part: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

/// Parser for `opencode run --format json`.
#[derive(Default)]
pub struct OpencodeParser {
    expected_id: Option<String>,
    session_id: Option<String>,
    step_text: Vec<String>,
    last_step_text: Vec<String>,
    usage: Option<Usage>,
    cost: Option<f64>,
    /// The error event's message, whether it is the auth error, and the HTTP status it carries
    /// (`APIError.data.statusCode`).
    error: Option<(String, bool, Option<u64>)>,
}

fn num(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

impl OpencodeParser {
    fn on_line(&mut self, line: Line<'_>) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        if self.session_id.is_none()
            && let Some(id) = line.session_id.as_str()
        {
            self.session_id = Some(id.to_string());
            out.push(AgentEvent::SessionStarted {
                id: id.to_string(),
                model: None,
            });
        }
        let part = line.part.unwrap_or(Value::Null);
        let text_of = |p: &Value| {
            p.get("text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        match line.kind.as_str().unwrap_or("") {
            "step_start" => self.step_text.clear(),
            "text" => {
                let text = text_of(&part);
                self.step_text.push(text.clone());
                self.last_step_text = self.step_text.clone();
                out.push(AgentEvent::Text {
                    text,
                    sub_agent: false,
                });
            }
            "reasoning" => out.push(AgentEvent::Reasoning {
                text: text_of(&part),
            }),
            "tool_use" => {
                let tool = part
                    .get("tool")
                    .and_then(Value::as_str)
                    .unwrap_or("tool")
                    .to_string();
                let state = part.get("state").cloned().unwrap_or(Value::Null);
                let input = state.get("input").cloned().unwrap_or(Value::Null);
                out.push(AgentEvent::ToolUse {
                    summary: summarize(&tool, &input),
                    tool,
                    sub_agent: false,
                });
                let ok = state.get("status").and_then(Value::as_str) != Some("error");
                let text = state
                    .get(if ok { "output" } else { "error" })
                    .and_then(Value::as_str)
                    .unwrap_or("");
                out.push(AgentEvent::ToolResult {
                    ok,
                    text: text.to_string(),
                    sub_agent: false,
                });
            }
            "step_finish" => {
                let usage = Usage {
                    input_tokens: num(&part, "/tokens/input"),
                    cached_input_tokens: num(&part, "/tokens/cache/read"),
                    cache_creation_tokens: num(&part, "/tokens/cache/write"),
                    output_tokens: num(&part, "/tokens/output"),
                    reasoning_tokens: num(&part, "/tokens/reasoning"),
                };
                self.usage.get_or_insert_with(Usage::default).add(&usage);
                if let Some(cost) = part.get("cost").and_then(Value::as_f64) {
                    *self.cost.get_or_insert(0.0) += cost;
                }
                out.push(AgentEvent::Usage(usage));
            }
            "error" => {
                let error = line.error.unwrap_or(Value::Null);
                let name = error.get("name").and_then(Value::as_str).unwrap_or("error");
                let message = error
                    .pointer("/data/message")
                    .and_then(Value::as_str)
                    .unwrap_or(name)
                    .to_string();
                out.push(AgentEvent::Warning {
                    message: message.clone(),
                });
                let status = error.pointer("/data/statusCode").and_then(Value::as_u64);
                self.error = Some((message, name == "ProviderAuthError", status));
            }
            _ => {}
        }
        out
    }

    fn classify(&self, exit: &ExitInfo) -> Option<Failure> {
        if let Some((message, auth, status)) = &self.error {
            return Some(if *auth {
                Opencode.not_logged_in()
            } else {
                let class = status
                    .and_then(super::classify::from_status)
                    .unwrap_or(ErrorClass::CliError);
                Failure::new(class, message.clone())
            });
        }
        if exit.success() {
            return None;
        }
        if exit.stderr_tail.contains("Session not found") {
            let id = self.expected_id.as_deref().unwrap_or("?");
            return Some(Failure::new(
                ErrorClass::SessionMissing,
                format!("opencode has no session {id}"),
            ));
        }
        Some(exit.failure("opencode"))
    }
}

impl StreamParser for OpencodeParser {
    fn feed(&mut self, line: &[u8]) -> Vec<AgentEvent> {
        feed_json(line, |parsed: Line| self.on_line(parsed))
    }

    fn finish(&mut self, exit: &ExitInfo) -> Completion {
        let mut completion = Completion {
            models: Vec::new(),
            session_id: self.session_id.clone().or_else(|| self.expected_id.clone()),
            final_text: final_text(&self.last_step_text.join("\n")),
            usage: self.usage,
            cost_usd: self.cost,
            num_turns: None,
            structured: None,
            failure: self.classify(exit),
            denials: Vec::new(),
        };
        super::classify::refine(&mut completion, exit);
        completion
    }
}
