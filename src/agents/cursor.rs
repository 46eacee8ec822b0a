//! The cursor-agent adapter (agents.md §4): Cursor's CLI agent.
//!
//! Not verified against the real CLI: it is not published on npm (the npm package `cursor-agent`
//! is an unrelated project), so argv and stream follow Cursor's published documentation:
//! `-p --output-format stream-json`, `--trust`, `--model`, `--force`, `--resume <id>`; a
//! Claude-like stream with `system/init`, `assistant`, `tool_call` (`started`/`completed`) and
//! `result`. Session ids cannot be chosen in advance; the system text is folded into the prompt.

use serde::Deserialize;
use serde_json::Value;

use crate::workflow::model::Permissions;

use super::codex::fold_system_text;
use super::event::{
    AgentEvent, Completion, ErrorClass, ExitInfo, Failure, StreamParser, Usage, feed_json,
    final_text,
};
use super::invocation::{Argv, BuildError, Capabilities, CommandSpec, Invocation};
use super::json::{Content, Loose, count};
use super::summary::summarize;
use super::{Adapter, Identity};

/// The cursor-agent adapter.
pub struct Cursor;

const IDENTITY: Identity = Identity {
    name: "cursor-agent",
    binary: "cursor-agent",
    install_hint: "curl https://cursor.com/install -fsS | bash",
    login_hint: "run \"cursor-agent login\"",
};

impl Adapter for Cursor {
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
            output_schema: false,
            effort: false,
            usage: true,
            cost: false,
        }
    }

    fn build(&self, inv: &Invocation) -> Result<CommandSpec, BuildError> {
        let mut a = Argv::default();
        if inv.headless() {
            a.args(["-p", "--output-format", "stream-json", "--trust"]);
        }
        a.opt("--model", inv.model.as_deref());
        if inv.permissions == Permissions::Full {
            a.arg("--force");
        }
        a.opt("--resume", inv.resume_id());
        a.args(inv.extra_args.iter().cloned());
        a.arg("--")
            .arg(fold_system_text(&inv.system_text, &inv.prompt));
        Ok(inv.command(a.0))
    }

    fn parser(&self, inv: &Invocation) -> Box<dyn StreamParser> {
        Box::new(CursorParser {
            expected_id: inv.resume_id().map(str::to_string),
            ..CursorParser::default()
        })
    }
}

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
    #[serde(default, borrow)]
    message: Option<Message<'a>>,
    #[serde(default)]
    tool_call: Option<Value>,
    #[serde(default, borrow)]
    result: Loose<'a>,
    #[serde(default, borrow)]
    is_error: Loose<'a>,
    #[serde(default)]
    usage: Option<CursorUsage>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default, borrow)]
    content: Content<'a>,
}

#[derive(Deserialize)]
struct CursorUsage {
    #[serde(default, rename = "inputTokens", deserialize_with = "count")]
    input: u64,
    #[serde(default, rename = "outputTokens", deserialize_with = "count")]
    output: u64,
    #[serde(default, rename = "cacheReadTokens", deserialize_with = "count")]
    cache_read: u64,
    #[serde(default, rename = "cacheWriteTokens", deserialize_with = "count")]
    cache_write: u64,
}

/// Parser for `cursor-agent -p --output-format stream-json`.
#[derive(Default)]
pub struct CursorParser {
    expected_id: Option<String>,
    session_id: Option<String>,
    last_text: Option<String>,
    result: Option<(String, bool)>,
    usage: Option<Usage>,
}

/// `{"readToolCall": {"args": {...}, "result": {...}}}` → ("Read", args, Some(ok)).
fn tool_parts(call: &Value) -> (String, Value, Option<bool>) {
    let Some((key, body)) = call.as_object().and_then(|m| m.iter().next()) else {
        return ("tool".into(), Value::Null, None);
    };
    let name = match key.strip_suffix("ToolCall") {
        Some(stem) => {
            let mut chars = stem.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
        None => body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_string(),
    };
    let args = body
        .get("args")
        .or_else(|| body.get("arguments"))
        .cloned()
        .unwrap_or(Value::Null);
    let ok = body.get("result").map(|r| r.get("success").is_some());
    (name, args, ok)
}

impl CursorParser {
    fn on_line(&mut self, line: Line<'_>) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        if self.session_id.is_none()
            && let Some(id) = line.session_id.as_str()
        {
            self.session_id = Some(id.to_string());
            out.push(AgentEvent::SessionStarted {
                id: id.to_string(),
                model: line.model.as_str().map(str::to_string),
            });
        }
        match (
            line.kind.as_str().unwrap_or(""),
            line.subtype.as_str().unwrap_or(""),
        ) {
            ("assistant", _) => {
                let text = line
                    .message
                    .map(|m| m.content.joined_text())
                    .unwrap_or_default();
                if !text.is_empty() {
                    self.last_text = Some(text.clone());
                    out.push(AgentEvent::Text {
                        text,
                        sub_agent: false,
                    });
                }
            }
            ("tool_call", sub) => {
                let (tool, args, ok) = tool_parts(line.tool_call.as_ref().unwrap_or(&Value::Null));
                if sub == "started" {
                    out.push(AgentEvent::ToolUse {
                        summary: summarize(&tool, &args),
                        tool,
                        sub_agent: false,
                    });
                } else if sub == "completed" {
                    out.push(AgentEvent::ToolResult {
                        ok: ok.unwrap_or(true),
                        text: String::new(),
                        sub_agent: false,
                    });
                }
            }
            ("result", _) => {
                let text = line.result.as_str().unwrap_or("").to_string();
                let is_error = line.is_error.as_bool() == Some(true);
                if let Some(u) = line.usage {
                    let usage = Usage {
                        input_tokens: u.input,
                        cached_input_tokens: u.cache_read,
                        cache_creation_tokens: u.cache_write,
                        output_tokens: u.output,
                        reasoning_tokens: 0,
                    };
                    self.usage = Some(usage);
                    out.push(AgentEvent::Usage(usage));
                }
                out.push(AgentEvent::Final {
                    text: text.clone(),
                    is_error,
                });
                self.result = Some((text, is_error));
            }
            _ => {}
        }
        out
    }

    fn classify(&self, exit: &ExitInfo) -> Option<Failure> {
        let is_error = self.result.as_ref().is_some_and(|r| r.1);
        if exit.success() && !is_error {
            return None;
        }
        let lower = exit.stderr_tail.to_ascii_lowercase();
        if lower.contains("authentication required") || lower.contains("not logged in") {
            return Some(Cursor.not_logged_in());
        }
        if let Some(id) = &self.expected_id
            && lower.contains(&format!("session {} not found", id.to_ascii_lowercase()))
        {
            return Some(Failure::new(
                ErrorClass::SessionMissing,
                format!("cursor-agent has no session {id}"),
            ));
        }
        if is_error {
            let text = self
                .result
                .as_ref()
                .map(|r| r.0.trim())
                .filter(|t| !t.is_empty());
            return Some(Failure::new(
                ErrorClass::CliError,
                text.unwrap_or("cursor-agent reported an error"),
            ));
        }
        Some(exit.failure("cursor-agent"))
    }
}

impl StreamParser for CursorParser {
    fn feed(&mut self, line: &[u8]) -> Vec<AgentEvent> {
        feed_json(line, |parsed: Line| self.on_line(parsed))
    }

    fn finish(&mut self, exit: &ExitInfo) -> Completion {
        let failure = self.classify(exit);
        let answer = match (&self.result, &failure) {
            (Some((text, false)), None) => final_text(text),
            _ => self.last_text.as_deref().and_then(final_text),
        };
        let mut completion = Completion {
            models: Vec::new(),
            session_id: self.session_id.clone().or_else(|| self.expected_id.clone()),
            final_text: answer,
            usage: self.usage,
            cost_usd: None,
            num_turns: None,
            structured: None,
            failure,
            denials: Vec::new(),
        };
        super::classify::refine(&mut completion, exit);
        completion
    }
}
