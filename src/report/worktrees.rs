//! The worktrees part of `show`: the git worktree of each parallel branch of the run
//! (control.md §8), from the audit log's `worktree` events (the last one of a branch wins: a
//! resume that reuses a worktree says so again).

use serde_json::{Value, json};

use super::one_line;
use crate::state::{AuditData, AuditRecord};

/// One branch's worktree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorktreeRow {
    /// The branch's step path (`tasks[2]`, `reviews/claude-review`).
    pub step: String,
    pub path: String,
    pub branch: String,
    pub base_commit: String,
}

/// The worktrees of an audit log, in the order they were first made.
pub fn from_audit(records: &[AuditRecord]) -> Vec<WorktreeRow> {
    let mut rows: Vec<WorktreeRow> = Vec::new();
    for record in records {
        let AuditData::Worktree(worktree) = record.typed() else {
            continue;
        };
        let row = WorktreeRow {
            step: record.path.clone(),
            path: worktree.path.unwrap_or_default(),
            branch: worktree.branch.unwrap_or_default(),
            base_commit: worktree.base_commit.unwrap_or_default(),
        };
        match rows.iter_mut().find(|r| r.path == row.path) {
            Some(known) => *known = row,
            None => rows.push(row),
        }
    }
    rows
}

/// `worktrees:` and one line per branch: step, branch, directory.
pub fn render_text(rows: &[WorktreeRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut table = super::table::Table::new(["STEP", "BRANCH", "WORKTREE"]);
    for row in rows {
        table.push(vec![
            one_line(&row.step, 80),
            one_line(&row.branch, 120),
            one_line(&row.path, usize::MAX),
        ]);
    }
    let mut out = "\nworktrees (merge the branches you want; agent-runner worktrees prune <run-id> removes the rest):\n".to_owned();
    for line in table.render().lines() {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

/// `[{step, branch, path, base_commit}]` for `show --json`.
pub fn render_json(rows: &[WorktreeRow]) -> Value {
    rows.iter()
        .map(|row| {
            json!({
                "step": row.step,
                "branch": row.branch,
                "path": row.path,
                "base_commit": row.base_commit,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::WorktreeRecord;

    fn record(step: &str, slug: &str, created: bool) -> AuditRecord {
        let data = AuditData::Worktree(WorktreeRecord::new(
            format!("/p/.agent-runner/worktrees/r/{slug}"),
            format!("agent-runner/r/{slug}"),
            "9f3e".into(),
            created,
        ));
        AuditRecord {
            ts: "2026-12-04T10:00:00.000Z".into(),
            seq: 1,
            run_id: "r".into(),
            event: "worktree".into(),
            path: step.into(),
            data: data.to_value(),
        }
    }

    #[test]
    fn a_reused_worktree_is_listed_once() {
        let rows = from_audit(&[
            record("tasks[0]", "0-a", true),
            record("tasks[1]", "1-b", true),
            record("tasks[0]", "0-a", false),
        ]);
        let branches: Vec<_> = rows.iter().map(|r| r.branch.as_str()).collect();
        assert_eq!(branches, ["agent-runner/r/0-a", "agent-runner/r/1-b"]);
        let text = render_text(&rows);
        assert!(
            text.contains("  tasks[1]  agent-runner/r/1-b  /p/.agent-runner/worktrees/r/1-b\n"),
            "{text}"
        );
        assert_eq!(render_text(&[]), "");
    }
}
