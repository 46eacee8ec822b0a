//! The gemini adapter (agents.md §4): Google's Gemini CLI.
//!
//! Checked against gemini-cli 0.61.0: `-p/--prompt`, `-i/--prompt-interactive`, `-m`,
//! `-o stream-json`, `--approval-mode default|auto_edit|yolo|plan`, `-r/--resume <uuid|index>`,
//! `--session-id <uuid>` (a new session with a chosen id), `--include-directories` and
//! `--skip-trust`. Without `--skip-trust` (or a trusted folder) the approval mode is silently
//! overridden to `default`, so headless runs pass it. Exit 41 is an auth failure, 42 bad input
//! (including an unknown session), 53 the turn limit. Assistant `message` events are deltas; they
//! are joined before they are shown. The system text is folded into the prompt.

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

/// The gemini adapter.
pub struct Gemini;

const IDENTITY: Identity = Identity {
    name: "gemini",
    binary: "gemini",
    install_hint: "npm install -g @google/gemini-cli",
    login_hint: "start gemini and choose a login method, or set GEMINI_API_KEY",
};

impl Adapter for Gemini {
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
            system_prompt_flag: false,
            output_schema: false,
            effort: false,
            usage: true,
            cost: false,
        }
    }

    fn build(&self, inv: &Invocation) -> Result<CommandSpec, BuildError> {
        let mut a = Argv::default();
        if inv.headless() {
            a.args(["--output-format", "stream-json", "--skip-trust"]);
        }
        a.opt("-m", inv.model.as_deref());
        let mode = match inv.permissions {
            Permissions::Ask => "default",
            Permissions::Edit => "auto_edit",
            Permissions::Full => "yolo",
        };
        a.args(["--approval-mode", mode]);
        if inv.permissions == Permissions::Edit {
            a.arg("--include-directories").arg(inv.run_dir_arg());
        }
        a.opt("--session-id", inv.preassigned_id());
        a.opt("-r", inv.resume_id());
        a.args(inv.extra_args.iter().cloned());
        let flag = if inv.headless() {
            "--prompt"
        } else {
            "--prompt-interactive"
        };
        a.arg(format!(
            "{flag}={}",
            fold_system_text(&inv.system_text, &inv.prompt)
        ));
        Ok(inv.command(a.0))
    }

    fn parser(&self, inv: &Invocation) -> Box<dyn StreamParser> {
        Box::new(GeminiParser {
            expected_id: inv.preassigned_id().or(inv.resume_id()).map(str::to_string),
            ..GeminiParser::default()
        })
    }
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Loose<'a>,
    #[serde(default, borrow)]
    session_id: Loose<'a>,
    #[serde(default, borrow)]
    model: Loose<'a>,
    #[serde(default, borrow)]
    role: Loose<'a>,
    #[serde(default, borrow)]
    content: Loose<'a>,
    #[serde(default, borrow)]
    tool_name: Loose<'a>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default, borrow)]
    status: Loose<'a>,
    #[serde(default, borrow)]
    output: Loose<'a>,
    #[serde(default, borrow)]
    message: Loose<'a>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    stats: Option<Value>,
}

/// Parser for `gemini -o stream-json`.
#[derive(Default)]
pub struct GeminiParser {
    expected_id: Option<String>,
    session_id: Option<String>,
    /// Assistant deltas not shown yet.
    pending: String,
    /// Assistant text since the last tool call (the final answer).
    since_tool: String,
    usage: Option<Usage>,
    error: Option<String>,
}

impl GeminiParser {
    fn flush(&mut self, out: &mut Vec<AgentEvent>) {
        if !self.pending.is_empty() {
            out.push(AgentEvent::Text {
                text: std::mem::take(&mut self.pending),
                sub_agent: false,
            });
        }
    }

    fn on_line(&mut self, line: Line<'_>) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        let kind = line.kind.as_str().unwrap_or("");
        if kind != "message" {
            self.flush(&mut out);
        }
        match kind {
            "init" => {
                if let Some(id) = line.session_id.as_str() {
                    self.session_id = Some(id.to_string());
                    out.push(AgentEvent::SessionStarted {
                        id: id.to_string(),
                        model: line.model.as_str().map(str::to_string),
                    });
                }
            }
            "message" if line.role.as_str() == Some("assistant") => {
                let text = line.content.as_str().unwrap_or("");
                self.pending.push_str(text);
                self.since_tool.push_str(text);
            }
            "tool_use" => {
                self.since_tool.clear();
                let tool = line.tool_name.as_str().unwrap_or("tool").to_string();
                let params = line.parameters.unwrap_or(Value::Null);
                out.push(AgentEvent::ToolUse {
                    summary: summarize(&tool, &params),
                    tool,
                    sub_agent: false,
                });
            }
            "tool_result" => {
                let ok = line.status.as_str() != Some("error");
                let text = match (ok, &line.error) {
                    (false, Some(e)) => e
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    _ => line.output.as_str().unwrap_or("").to_string(),
                };
                out.push(AgentEvent::ToolResult {
                    ok,
                    text,
                    sub_agent: false,
                });
            }
            "error" => out.push(AgentEvent::Warning {
                message: line.message.as_str().unwrap_or("").to_string(),
            }),
            "result" => {
                if let Some(stats) = &line.stats {
                    let n = |k: &str| stats.get(k).and_then(Value::as_u64).unwrap_or(0);
                    let usage = Usage {
                        input_tokens: n("input_tokens"),
                        cached_input_tokens: n("cached"),
                        cache_creation_tokens: 0,
                        output_tokens: n("output_tokens"),
                        reasoning_tokens: 0,
                    };
                    self.usage = Some(usage);
                    out.push(AgentEvent::Usage(usage));
                }
                let is_error = line.status.as_str() == Some("error");
                if is_error {
                    let message = line
                        .error
                        .as_ref()
                        .and_then(|e| e.get("message"))
                        .and_then(Value::as_str);
                    self.error = Some(message.unwrap_or("gemini reported an error").to_string());
                }
                let text = if is_error {
                    self.error.clone().unwrap_or_default()
                } else {
                    self.since_tool.clone()
                };
                out.push(AgentEvent::Final { text, is_error });
            }
            _ => {}
        }
        out
    }

    fn classify(&self, exit: &ExitInfo) -> Option<Failure> {
        let detail = || exit.error_line().unwrap_or("").to_string();
        match exit.code {
            Some(0) => self
                .error
                .as_ref()
                .map(|m| Failure::new(ErrorClass::CliError, m.clone())),
            Some(41) => Some(Gemini.not_logged_in()),
            Some(42) if exit.stderr_tail.contains("Error resuming session") => {
                let id = self.expected_id.as_deref().unwrap_or("?");
                Some(Failure::new(
                    ErrorClass::SessionMissing,
                    format!("gemini has no session {id}"),
                ))
            }
            // FatalTurnLimitedError: the session's `maxSessionTurns`.
            Some(53) => Some(Failure::new(
                ErrorClass::MaxTurns,
                self.error.clone().unwrap_or_else(detail),
            )),
            Some(42) => Some(Failure::new(
                ErrorClass::CliError,
                self.error.clone().unwrap_or_else(detail),
            )),
            _ => Some(exit.failure("gemini")),
        }
    }
}

impl StreamParser for GeminiParser {
    fn feed(&mut self, line: &[u8]) -> Vec<AgentEvent> {
        feed_json(line, |parsed: Line| self.on_line(parsed))
    }

    fn finish(&mut self, exit: &ExitInfo) -> Completion {
        let mut completion = Completion {
            models: Vec::new(),
            session_id: self.session_id.clone().or_else(|| self.expected_id.clone()),
            final_text: final_text(&self.since_tool),
            usage: self.usage,
            cost_usd: None,
            num_turns: None,
            structured: None,
            failure: self.classify(exit),
            denials: Vec::new(),
        };
        super::classify::refine(&mut completion, exit);
        completion
    }
}
