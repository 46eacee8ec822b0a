//! The `step_end` records of a run's audit log that report spending (token usage or a cost):
//! what a resumed run's budgets and its claude session totals continue from. Only those lines
//! are parsed; a log of shell steps has none, so reading it costs one pass over its bytes.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use memchr::memmem;

use super::audit::AuditRecord;

/// The spending `step_end` records of the log at `path`, in order, from its first `limit` bytes
/// (all of it with `None`). A log that cannot be read has none; lines that do not parse are
/// skipped.
pub fn spending_step_ends(path: &Path, limit: Option<u64>) -> Vec<AuditRecord> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    let mut reader = BufReader::with_capacity(64 * 1024, file.take(limit.unwrap_or(u64::MAX)));
    // The writer's own compact JSON: the event's key and value appear exactly so. A string
    // inside `data` that happens to hold these words is only parsed for nothing.
    let step_end = memmem::Finder::new(br#""event":"step_end""#);
    let usage = memmem::Finder::new(br#""usage""#);
    let cost = memmem::Finder::new(br#""cost_usd""#);
    let mut records = Vec::new();
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
        if step_end.find(&line).is_some()
            && (usage.find(&line).is_some() || cost.find(&line).is_some())
            && let Ok(record) = serde_json::from_slice::<AuditRecord>(line.trim_ascii())
            && record.event == "step_end"
        {
            records.push(record);
        }
        line.clear();
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_step_ends_that_report_spending_are_read_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let line = |seq: u64, event: &str, data: &str| {
            format!(
                r#"{{"ts":"2026-12-06T00:00:00.000Z","seq":{seq},"run_id":"r","event":"{event}","path":"a","data":{data}}}"#
            ) + "\n"
        };
        let first = line(
            1,
            "step_end",
            r#"{"outcome":"success","usage":{"input_tokens":5}}"#,
        ) + &line(2, "step_end", r#"{"outcome":"success","exit_code":0}"#)
            + &line(
                3,
                "step_start",
                r#"{"prompt":"say \"usage\" and \"cost_usd\""}"#,
            )
            + &line(4, "step_end", r#"{"outcome":"failed","cost_usd":0.5}"#)
            + "{\"ts\":\"cut short, \\\"usage\\\"\n";
        let later = line(5, "step_end", r#"{"outcome":"success","cost_usd":1.0}"#);
        std::fs::write(&path, format!("{first}{later}")).unwrap();
        let seqs = |limit| -> Vec<u64> {
            spending_step_ends(&path, limit)
                .iter()
                .map(|r| r.seq)
                .collect()
        };
        assert_eq!(seqs(None), [1, 4, 5]);
        assert_eq!(seqs(Some(first.len() as u64)), [1, 4]);
        assert!(spending_step_ends(&dir.path().join("missing"), None).is_empty());
    }
}
