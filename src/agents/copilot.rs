//! The copilot adapter (agents.md §4): GitHub Copilot CLI.
//!
//! Checked against copilot 1.0.102 `--help`: `-p/--prompt`, `-i/--interactive`, `--output-format
//! json`, `--no-ask-user`, `--no-auto-update`, `--session-id` (sets a new session's UUID),
//! `--resume[=<id>]`, `--model`, `--reasoning-effort` (none..max), `--allow-all-tools`,
//! `--allow-all`, `--add-dir`. The prompt is passed as `--prompt=<p>` so a prompt starting with `-`
//! is never read as a flag. Copilot has no system prompt flag, so the system text is folded into
//! the prompt as for codex. The JSONL stream could not be captured logged out; the parser reads
//! the session-event shape (`assistant.message`, `tool.execution_*`, `assistant.usage`, `result`)
//! and ignores anything else.

use serde::Deserialize;
use serde_json::Value;

use crate::workflow::model::Permissions;

use super::codex::fold_system_text;
use super::event::{
    AgentEvent, Completion, ErrorClass, ExitInfo, Failure, StreamParser, Usage, feed_json,
    final_text,
};
use super::invocation::{Argv, BuildError, Capabilities, CommandSpec, Invocation};
use super::json::{Loose, count};
use super::summary::summarize;
use super::{Adapter, Identity};

/// The copilot adapter.
pub struct Copilot;

const IDENTITY: Identity = Identity {
    name: "copilot",
    binary: "copilot",
    install_hint: "npm install -g @github/copilot",
    login_hint: "start copilot and type /login, or set COPILOT_GITHUB_TOKEN",
};

impl Adapter for Copilot {
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
            effort: true,
            usage: true,
            cost: false,
        }
    }

    fn build(&self, inv: &Invocation) -> Result<CommandSpec, BuildError> {
        let mut a = Argv::default();
        if inv.headless() {
            a.args([
                "--output-format",
                "json",
                "--no-ask-user",
                "--no-auto-update",
            ]);
        }
        if let Some(id) = inv.preassigned_id() {
            a.arg(format!("--session-id={id}"));
        }
        if let Some(id) = inv.resume_id() {
            a.arg(format!("--resume={id}"));
        }
        a.opt("--model", inv.model.as_deref());
        a.opt("--reasoning-effort", inv.effort.map(|e| e.as_str()));
        match (inv.permissions, inv.headless()) {
            (Permissions::Full, _) => {
                a.arg("--allow-all");
            }
            (Permissions::Ask, false) => {
                a.arg("--add-dir").arg(inv.run_dir_arg());
            }
            _ => {
                a.arg("--allow-all-tools")
                    .arg("--add-dir")
                    .arg(inv.run_dir_arg());
            }
        }
        a.args(inv.extra_args.iter().cloned());
        let flag = if inv.headless() {
            "--prompt"
        } else {
            "--interactive"
        };
        a.arg(format!(
            "{flag}={}",
            fold_system_text(&inv.system_text, &inv.prompt)
        ));
        Ok(inv.command(a.0))
    }

    fn parser(&self, inv: &Invocation) -> Box<dyn StreamParser> {
        Box::new(CopilotParser {
            expected_id: inv.preassigned_id().or(inv.resume_id()).map(str::to_string),
            ..CopilotParser::default()
        })
    }
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Loose<'a>,
    #[serde(default, rename = "sessionId", borrow)]
    session_id: Loose<'a>,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Deserialize, Default)]
struct CopilotUsage {
    #[serde(default, rename = "inputTokens", deserialize_with = "count")]
    input: u64,
    #[serde(default, rename = "outputTokens", deserialize_with = "count")]
    output: u64,
    #[serde(default, rename = "cacheReadTokens", deserialize_with = "count")]
    cache_read: u64,
    #[serde(default, rename = "cacheWriteTokens", deserialize_with = "count")]
    cache_write: u64,
}

/// Parser for `copilot -p ... --output-format json`.
#[derive(Default)]
pub struct CopilotParser {
    expected_id: Option<String>,
    session_id: Option<String>,
    last_message: Option<String>,
    usage: Option<Usage>,
    error: Option<String>,
    result_seen: bool,
}

fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

impl CopilotParser {
    fn note_session(&mut self, id: &str, out: &mut Vec<AgentEvent>) {
        if self.session_id.is_none() {
            self.session_id = Some(id.to_string());
            out.push(AgentEvent::SessionStarted {
                id: id.to_string(),
                model: None,
            });
        }
    }

    fn on_line(&mut self, line: Line<'_>) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        let data = line.data.unwrap_or(Value::Null);
        if let Some(id) = line
            .session_id
            .as_str()
            .or_else(|| str_at(&data, "sessionId"))
        {
            self.note_session(id, &mut out);
        }
        match line.kind.as_str().unwrap_or("") {
            "assistant.message" => {
                if let Some(text) = str_at(&data, "content").filter(|t| !t.trim().is_empty()) {
                    self.last_message = Some(text.to_string());
                    out.push(AgentEvent::Text {
                        text: text.to_string(),
                        sub_agent: false,
                    });
                }
            }
            "assistant.reasoning" => out.push(AgentEvent::Reasoning {
                text: str_at(&data, "content").unwrap_or("").to_string(),
            }),
            "tool.execution_start" => {
                let tool = str_at(&data, "toolName").unwrap_or("tool").to_string();
                let args = data.get("arguments").cloned().unwrap_or(Value::Null);
                out.push(AgentEvent::ToolUse {
                    summary: summarize(&tool, &args),
                    tool,
                    sub_agent: false,
                });
            }
            "tool.execution_complete" => {
                let ok = data.get("success").and_then(Value::as_bool).unwrap_or(true);
                let text = data
                    .pointer("/result/content")
                    .or_else(|| data.pointer("/error/message"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                out.push(AgentEvent::ToolResult {
                    ok,
                    text,
                    sub_agent: false,
                });
            }
            "assistant.usage" => {
                let u: CopilotUsage = serde_json::from_value(data).unwrap_or_default();
                let usage = Usage {
                    input_tokens: u.input,
                    cached_input_tokens: u.cache_read,
                    cache_creation_tokens: u.cache_write,
                    output_tokens: u.output,
                    reasoning_tokens: 0,
                };
                self.usage.get_or_insert_with(Usage::default).add(&usage);
                out.push(AgentEvent::Usage(usage));
            }
            "session.error" => {
                let message = str_at(&data, "message")
                    .unwrap_or("copilot reported an error")
                    .to_string();
                out.push(AgentEvent::Warning {
                    message: message.clone(),
                });
                self.error = Some(message);
            }
            "result" => {
                self.result_seen = true;
                out.push(AgentEvent::Final {
                    text: self.last_message.clone().unwrap_or_default(),
                    is_error: false,
                });
            }
            _ => {}
        }
        out
    }

    fn classify(&self, exit: &ExitInfo) -> Option<Failure> {
        let stderr = &exit.stderr_tail;
        if stderr.contains("No authentication information found") {
            return Some(Copilot.not_logged_in());
        }
        if stderr.contains("No session, task, or name matched") {
            let id = self.expected_id.as_deref().unwrap_or("?");
            return Some(Failure::new(
                ErrorClass::SessionMissing,
                format!("copilot has no session {id}"),
            ));
        }
        if !exit.success() {
            return Some(exit.failure("copilot"));
        }
        self.error
            .as_ref()
            .map(|m| Failure::new(ErrorClass::CliError, m.clone()))
    }
}

impl StreamParser for CopilotParser {
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
            num_turns: None,
            structured: None,
            failure: self.classify(exit),
            denials: Vec::new(),
        };
        super::classify::refine(&mut completion, exit);
        completion
    }
}
