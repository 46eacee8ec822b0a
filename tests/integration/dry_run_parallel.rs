//! `--dry-run` of parallel steps (control.md §8): a group's branches side by side when they fit
//! an 80-column page, else one after the other with every line marked `║`; a parallel loop's
//! body marked the same way; the limits, fail-fast and worktrees in the step's line.

use crate::run_support::wf;
use crate::test::Test;

const PARALLEL: &str = r#"name: p
steps:
  - id: short
    parallel: { max: 2 }
    steps:
      - { id: a, command: sleep 1 }
      - { id: b, command: sleep 2 }
      - id: c
        steps:
          - { id: c1, command: "true" }
          - { id: c2, command: "false" }
  - id: reviews
    parallel: { fail_fast: false }
    worktree: true
    steps:
      - { id: claude-review, mode: headless, prompt: "Review the change against the spec and list every problem you find." }
      - { id: codex-review, mode: headless, cli: codex, prompt: "Review the change." }
  - id: each
    loop: { max: 3, as_index: i, max_parallel: "{{n}}" }
    worktree: true
    steps:
      - { id: work, command: "echo {{i}}" }
      - { id: check, command: "test -e done-{{i}}" }
  - id: serial
    loop: { max: 2, max_parallel: 1 }
    steps:
      - { id: one, command: "true" }
params:
  - { name: n, default: "2" }
"#;

#[test]
fn dry_run_shows_the_branches_of_parallel_steps_side_by_side_or_marked() {
    let out = Test::new()
        .write(&wf("p"), PARALLEL)
        .args(["--dry-run", "p"])
        .stderr("")
        .run();
    // The columns fit an 80-column page.
    let columns: Vec<&str> = out.stdout.lines().filter(|l| l.contains('│')).collect();
    assert_eq!(columns.len(), 3, "{}", out.stdout);
    assert!(
        columns.iter().all(|l| l.chars().count() <= 80),
        "{}",
        out.stdout
    );
    insta::assert_snapshot!("dry_run_parallel", out.stdout);
    let json = out.again().args(["--dry-run", "--json", "p"]).run();
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(plan["steps"][0]["parallel"]["max"], 2);
    assert_eq!(plan["steps"][1]["parallel"]["fail_fast"], false);
    assert_eq!(plan["steps"][1]["worktree"], true);
    assert_eq!(plan["steps"][1]["steps"][1]["id"], "codex-review");
}
