//! `spend`: a headless turn that reports usage as it goes, for budget tests. claude: `messages`
//! assistant messages of `tokens / messages` tokens each (as `message.usage`, one message id
//! each), `sleep_ms` apart, then a result whose `modelUsage` splits the tokens and the cost
//! between the main model and a sub-agent's model (`result.usage` covers the main loop only,
//! as in the real CLI). On a resumed session claude's result totals continue from the totals
//! its transcript saved (Claude Agent SDK types), so the fake keeps them in the session file and
//! reports cumulatively, or the invocation's own with `FAKE_CLAUDE_USAGE=per_invocation`.
//! codex: `turn.completed` with the tokens as usage.

use serde_json::json;

use super::clis::Cli;
use super::turn::TurnCtx;

/// What to report.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    pub cost_usd: f64,
    pub tokens: u64,
    pub messages: u64,
    pub sleep_ms: u64,
}

fn line(value: serde_json::Value) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{value}");
    let _ = stdout.flush();
}

/// Emits the turn; returns its exit status.
pub fn run(ctx: &TurnCtx, spend: &Spend) -> i32 {
    let sid = &ctx.session_id;
    let messages = spend.messages.max(1);
    let each = spend.tokens / messages;
    match ctx.cli {
        Cli::Claude => {
            line(
                json!({"type": "system", "subtype": "init", "session_id": sid, "model": "claude-sonnet-5", "cwd": ctx.cwd}),
            );
            for i in 0..messages {
                line(
                    json!({"type": "assistant", "session_id": sid, "parent_tool_use_id": null,
                    "message": {"id": format!("msg_{i}"), "model": "claude-sonnet-5", "role": "assistant",
                        "usage": {"input_tokens": each, "output_tokens": 0},
                        "content": [{"type": "text", "text": format!("working {i}")}]}}),
                );
                std::thread::sleep(std::time::Duration::from_millis(spend.sleep_ms));
            }
            let main = spend.tokens - spend.tokens / 4;
            let sub = spend.tokens / 4;
            let own = Totals {
                cost_usd: spend.cost_usd,
                main,
                sub,
            };
            let shown = claude_totals(ctx, own);
            line(
                json!({"type": "result", "subtype": "success", "is_error": false, "num_turns": messages,
                "result": "Spent.", "session_id": sid, "total_cost_usd": shown.cost_usd,
                "usage": {"input_tokens": main, "output_tokens": 0},
                "modelUsage": {
                    "claude-sonnet-5": {"inputTokens": shown.main.saturating_sub(10), "outputTokens": 10, "thinkingTokens": 4,
                        "cacheReadInputTokens": 0, "cacheCreationInputTokens": 0,
                        "costUSD": shown.cost_usd * 0.75},
                    "claude-haiku-5": {"inputTokens": shown.sub, "outputTokens": 0,
                        "cacheReadInputTokens": 0, "cacheCreationInputTokens": 0,
                        "costUSD": shown.cost_usd * 0.25}}}),
            );
        }
        _ => {
            line(json!({"type": "thread.started", "thread_id": sid}));
            line(json!({"type": "turn.started"}));
            std::thread::sleep(std::time::Duration::from_millis(spend.sleep_ms));
            line(
                json!({"type": "item.completed", "item": {"id": "item_0", "type": "agent_message", "text": "Spent."}}),
            );
            let done = json!({"type": "turn.completed", "usage": {"input_tokens": spend.tokens, "cached_input_tokens": 0, "output_tokens": 0}});
            match serde_json::from_str(&super::codex_usage::turn_line(ctx, &done.to_string())) {
                Ok(rewritten) => line(rewritten),
                Err(_) => line(done),
            }
        }
    }
    0
}

/// A claude invocation's figures: the cost, the main model's and the sub-agent model's tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Totals {
    cost_usd: f64,
    main: u64,
    sub: u64,
}

/// What the result reports: the session's new totals (saved in its session file as the last
/// `fake_totals` line), or `own` with `FAKE_CLAUDE_USAGE=per_invocation`.
fn claude_totals(ctx: &TurnCtx, own: Totals) -> Totals {
    let Some(file) = super::sessions::find(Cli::Claude, &ctx.session_id, &ctx.cwd) else {
        return own;
    };
    let before = std::fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "fake_totals")
        .map(|v| Totals {
            cost_usd: v["cost_usd"].as_f64().unwrap_or(0.0),
            main: v["main"].as_u64().unwrap_or(0),
            sub: v["sub"].as_u64().unwrap_or(0),
        })
        .next_back()
        .unwrap_or_default();
    let total = Totals {
        cost_usd: before.cost_usd + own.cost_usd,
        main: before.main + own.main,
        sub: before.sub + own.sub,
    };
    let saved = json!({"type": "fake_totals", "cost_usd": total.cost_usd, "main": total.main, "sub": total.sub});
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&file) {
        use std::io::Write;
        let _ = writeln!(f, "{saved}");
    }
    let per_invocation = std::env::var("FAKE_CLAUDE_USAGE").is_ok_and(|m| m == "per_invocation");
    if per_invocation { own } else { total }
}
