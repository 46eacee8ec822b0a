//! The fake codex's usage: each headless turn adds a `token_count` event with the thread's new
//! total to the rollout (as codex does), and `turn.completed` reports either that total
//! (cumulative, as codex-cli 0.171.0 does on resumed threads; the default) or the turn's own
//! usage (`FAKE_CODEX_USAGE=per_turn`, as older CLIs did).

use std::io::Write;

use serde_json::{Value, json};

use super::clis::Cli;
use super::sessions;
use super::turn::TurnCtx;

const FIELDS: [&str; 4] = [
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
];

/// `line` as the fake prints it: a `turn.completed` gets its usage rewritten (and recorded in the
/// rollout); any other line is unchanged.
pub fn turn_line(ctx: &TurnCtx, line: &str) -> String {
    if ctx.cli != Cli::Codex || !line.contains("\"turn.completed\"") {
        return line.to_owned();
    }
    let Ok(mut value) = serde_json::from_str::<Value>(line) else {
        return line.to_owned();
    };
    let turn = value.get("usage").cloned().unwrap_or_else(|| json!({}));
    let Some(rollout) = sessions::find(Cli::Codex, &ctx.session_id, &ctx.cwd) else {
        return line.to_owned();
    };
    let previous = std::fs::read_to_string(&rollout)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.pointer("/payload/info/total_token_usage").cloned())
        .next_back()
        .unwrap_or_else(|| json!({}));
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let mut total = serde_json::Map::new();
    for key in FIELDS {
        total.insert(key.into(), json!(field(&previous, key) + field(&turn, key)));
    }
    let total = Value::Object(total);
    let event = json!({"type": "event_msg", "payload": {"type": "token_count",
        "info": {"total_token_usage": total, "last_token_usage": turn}}});
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&rollout) {
        let _ = f.write_all(format!("{event}\n").as_bytes());
    }
    let per_turn = std::env::var("FAKE_CODEX_USAGE").is_ok_and(|m| m == "per_turn");
    value["usage"] = if per_turn { turn } else { total };
    value.to_string()
}
