//! Parallel branches across a SIGKILL and a resume (control.md §8, §11): without fail-fast a
//! failed branch and an interrupted one run again while a completed one does not; each branch
//! comes back to its own worktree, logged once; and the agent sessions of branches stay in
//! their branch. Side effects are counted in files, never inferred from the console.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::builtin_support::{git, git_repo};
use crate::run_support::wf;
use crate::test::Test;

const WAIT: Duration = Duration::from_secs(20);

/// A group without fail-fast: `bad` fails until the run is resumed, `good` completes, `slow`
/// hangs until the run is resumed.
const NO_FAIL_FAST: &str = r#"name: r
steps:
  - id: group
    parallel: { fail_fast: false }
    steps:
      - id: bad
        command: echo x >> bad.count; test -e resumed
      - id: good
        command: echo x >> good.count
      - id: slow
        command: echo x >> slow.count; if [ ! -e resumed ]; then touch slow.started; sleep 60; fi
  - id: after
    command: echo x >> after.count
"#;

#[test]
fn resume_without_fail_fast_reruns_the_failed_and_the_interrupted_branch_but_not_the_completed_one()
{
    let mut running = Test::new().write(&wf("r"), NO_FAIL_FAST).arg("r").spawn();
    let project = running.project();
    running.wait_until(WAIT, "the failed and the completed branch", |_| {
        project.join("slow.started").exists()
            && project.join("bad.count").exists()
            && project.join("good.count").exists()
    });
    // Let the ends of `bad` and `good` reach the state.
    std::thread::sleep(Duration::from_millis(400));
    let test = running.kill();
    std::fs::write(project.join("resumed"), "").unwrap();
    let out = test.args(["--resume"]).run();
    let count = |name: &str| out.read(name).lines().count();
    assert_eq!(
        count("good.count"),
        1,
        "a completed branch never runs again"
    );
    assert_eq!(count("bad.count"), 2, "the failed branch runs again");
    assert_eq!(count("slow.count"), 2, "the interrupted branch runs again");
    assert_eq!(count("after.count"), 1);
    assert_eq!(out.state()["status"], "completed");
}

/// A for-each over three tasks in worktrees: each iteration notes its working directory and
/// appends to a file in it; `b` hangs until the run is resumed.
const IN_WORKTREES: &str = r#"name: w
steps:
  - id: tasks
    loop: { over: "tasks/*.md", as: t, max_parallel: 3 }
    worktree: true
    steps:
      - id: work
        command: |
          pwd >> attempts.log
          name=$(basename {{t}} .md)
          echo x >> "$AR_SESSION_DIR/$name.count"
          if [ "$name" = b ] && [ ! -e "$AR_SESSION_DIR/resumed" ]; then touch "$AR_SESSION_DIR/b.started"; sleep 60; fi
"#;

#[test]
fn a_run_killed_mid_parallel_resumes_each_branch_in_its_own_worktree_logged_once() {
    let test = git_repo(
        Test::new()
            .write("tasks/a.md", "a\n")
            .write("tasks/b.md", "b\n")
            .write("tasks/c.md", "c\n")
            .write(&wf("w"), IN_WORKTREES),
    );
    let mut running = test.arg("w").spawn();
    let root = running.path().to_path_buf();
    let run_dir = move || {
        crate::run_support::runs(&root)
            .first()
            .map(|run| run.dir.clone())
    };
    let started = run_dir.clone();
    running.wait_until(WAIT, "the hanging branch", move |_| {
        started().is_some_and(|dir| {
            ["a.count", "c.count", "b.started"]
                .iter()
                .all(|f| dir.join(f).exists())
        })
    });
    std::thread::sleep(Duration::from_millis(400));
    let test = running.kill();
    let dir = run_dir().expect("the run dir");
    std::fs::write(dir.join("resumed"), "").unwrap();
    let out = test.args(["--resume"]).run();
    let count = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(
        (count("a.count"), count("b.count"), count("c.count")),
        (1, 2, 1)
    );
    // `b` ran twice in the same worktree (its first attempt's file is still there); the others
    // once, each in its own.
    let run_id = out.run_id();
    let project = out.project();
    let worktrees = project.join(".agent-runner/worktrees").join(&run_id);
    let mut seen = BTreeMap::new();
    for (slug, runs) in [("0-a", 1), ("1-b", 2), ("2-c", 1)] {
        let wt = worktrees.join(slug);
        let log = std::fs::read_to_string(wt.join("attempts.log")).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), runs, "{slug}: {log}");
        let real = wt.canonicalize().unwrap().display().to_string();
        assert!(
            lines.iter().all(|l| *l == real),
            "{slug}: {log} (want {real})"
        );
        seen.insert(slug, real);
    }
    assert_eq!(seen.len(), 3);
    // No worktree or branch was made twice.
    let branches = git(&project, &["branch", "--list", "agent-runner/*"]);
    assert_eq!(branches.lines().count(), 3, "{branches}");
    let listed = git(&project, &["worktree", "list", "--porcelain"]);
    assert_eq!(
        listed
            .lines()
            .filter(|l| l.starts_with("worktree "))
            .count(),
        4,
        "the project and three worktrees:\n{listed}"
    );
    // One `worktree` event per branch, the one that made it: the resume does not log the reused
    // worktree again.
    let events = out.events("worktree");
    let paths: Vec<_> = events
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths.len(), 3, "{events:#?}");
    assert!(
        events.iter().all(|e| e["data"]["created"] == true),
        "{events:#?}"
    );
    let shown = out.again().arg("show").run();
    assert_eq!(
        shown
            .stdout
            .matches(&format!("agent-runner/{run_id}/1-b"))
            .count(),
        1,
        "{}",
        shown.stdout
    );
}

/// A session made before a parallel loop, then in each branch a first agent step and one that
/// resumes; after the loop, a step that resumes again.
const SESSIONS: &str = r#"name: s
steps:
  - id: before
    mode: headless
    prompt: "Before."
  - id: each
    loop: { max: 2, as_index: i, max_parallel: 2 }
    steps:
      - id: first
        mode: headless
        session: resume
        prompt: "First {{i}}."
      - id: again
        mode: headless
        session: resume
        prompt: "Again {{i}}."
  - id: after
    mode: headless
    session: resume
    prompt: "After."
"#;

#[test]
fn each_branch_has_its_own_sessions_and_the_scope_keeps_its_own_after_the_branches() {
    let out = Test::new()
        .fake_clis(&["claude"])
        .fake_script("by_prompt: []\n")
        .write(&wf("s"), SESSIONS)
        .arg("s")
        .run();
    let argvs = out.turn_argvs();
    let session_of = |text: &str| {
        let at = argvs
            .iter()
            .position(|argv| argv.iter().any(|a| a.contains(text)))
            .unwrap_or_else(|| panic!("no turn with {text:?}: {argvs:?}"));
        out.turn_session(at)
    };
    let before = session_of("Before.");
    let (first0, first1) = (session_of("First 0."), session_of("First 1."));
    // `resume` as a branch's first agent step starts a new session: not the one from before the
    // loop, and not the sibling's.
    assert_ne!(first0, before);
    assert_ne!(first1, before);
    assert_ne!(first0, first1);
    // Later in a branch, `resume` continues that branch's own session.
    assert_eq!(session_of("Again 0."), first0);
    assert_eq!(session_of("Again 1."), first1);
    // After the loop, the scope's most recent session is the one from before it.
    assert_eq!(session_of("After."), before);
}
