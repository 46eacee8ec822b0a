//! Codex's usage on resumed threads (control.md §5 "Correct totals"). codex-cli 0.171.0 `exec
//! --json` reports on `turn.completed` the thread's token totals (`ThreadTokenUsage.total`), which
//! a resumed thread restores from its rollout: on a resumed thread the figure is cumulative. Older
//! CLIs reported the turn's own usage. The adapter reads the thread's total before the invocation
//! from the rollout (the last `event_msg` of type `token_count`, `info.total_token_usage`). A
//! report equal to the rollout's total at that moment is the thread's total: the baseline is
//! subtracted. Any other report is the turn's own. When the rollout cannot be read in time, a
//! cumulative report is taken whole: budgets then count too much, never too little.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::event::Usage;

/// The rollout file of thread `id` under `<CODEX_HOME>/sessions/YYYY/MM/DD/`.
pub fn rollout_of(sessions: &Path, id: &str) -> Option<PathBuf> {
    let suffix = format!("-{id}.jsonl");
    let dirs = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect()
    };
    dirs(sessions)
        .iter()
        .flat_map(|y| dirs(y))
        .flat_map(|m| dirs(&m))
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().ends_with(&suffix))
                .unwrap_or(false)
        })
}

#[derive(Deserialize, Default)]
struct Totals {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    cached_input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    reasoning_output_tokens: u64,
}

/// The thread's total so far: the last `token_count` of its rollout.
pub fn thread_total(rollout: &Path) -> Option<Usage> {
    let file = std::fs::File::open(rollout).ok()?;
    let mut last = None;
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        if !line.contains("\"token_count\"") {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Some(total) = value.pointer("/payload/info/total_token_usage") else {
            continue;
        };
        if let Ok(t) = serde_json::from_value::<Totals>(total.clone()) {
            last = Some(Usage {
                input_tokens: t.input_tokens,
                cached_input_tokens: t.cached_input_tokens,
                cache_creation_tokens: 0,
                output_tokens: t.output_tokens,
                reasoning_tokens: t.reasoning_output_tokens,
            });
        }
    }
    last
}

/// The turn's own usage from a report `reported`, given the thread's total `baseline` before it
/// (moved to the report when it was cumulative) and the thread's total `now` in its rollout.
pub fn per_turn(reported: Usage, baseline: &mut Option<Usage>, now: Option<Usage>) -> Usage {
    let Some(base) = *baseline else {
        return reported;
    };
    let own = reported.minus(&base).filter(|_| now == Some(reported));
    let Some(own) = own else {
        return reported;
    };
    *baseline = Some(reported);
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(input: u64, output: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            ..Usage::default()
        }
    }

    #[test]
    fn cumulative_reports_on_a_resumed_thread_are_reduced_to_the_turn() {
        let mut base = Some(u(1000, 100));
        let now = |i, o| Some(u(i, o));
        assert_eq!(
            per_turn(u(2500, 160), &mut base, now(2500, 160)),
            u(1500, 60)
        );
        // A second turn of the same invocation counts from the first.
        assert_eq!(
            per_turn(u(4000, 200), &mut base, now(4000, 200)),
            u(1500, 40)
        );
    }

    #[test]
    fn per_turn_reports_are_kept_and_a_new_thread_has_no_baseline() {
        let mut base = Some(u(1000, 100));
        // The turn used exactly what the thread had before: still the turn's own.
        assert_eq!(
            per_turn(u(1000, 100), &mut base, Some(u(2000, 200))),
            u(1000, 100)
        );
        // A rollout not written yet: the report is taken whole.
        assert_eq!(
            per_turn(u(2000, 200), &mut base, Some(u(1000, 100))),
            u(2000, 200)
        );
        let mut none = None;
        assert_eq!(
            per_turn(u(300, 20), &mut none, Some(u(300, 20))),
            u(300, 20)
        );
    }
}
