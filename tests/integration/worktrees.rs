//! `worktree: true` and the `worktrees` command (control.md §8, §11): worktrees and branches in a
//! temporary git repository, through the real binary.

use crate::builtin_support::{git, git_repo};
use crate::test::Test;

const RUN: &str = "wf-20261204-101010-abcd";

/// A project in a git repository with two worktrees of run [`RUN`] made as a run makes them:
/// `0-clean` (nothing done) and `1-done` (one commit).
fn project_with_worktrees() -> Test {
    let test = git_repo(Test::new().write("README", "hello\n"));
    let project = test.project();
    for slug in ["0-clean", "1-done"] {
        git(
            &project,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                &format!("agent-runner/{RUN}/{slug}"),
                &format!(".agent-runner/worktrees/{RUN}/{slug}"),
            ],
        );
    }
    let done = project.join(format!(".agent-runner/worktrees/{RUN}/1-done"));
    std::fs::write(done.join("work.txt"), "done\n").unwrap();
    git(&done, &["add", "work.txt"]);
    git(&done, &["commit", "-q", "-m", "work"]);
    std::fs::write(project.join(".agent-runner/worktrees/.gitignore"), "*\n").unwrap();
    test
}

#[test]
fn worktrees_list_shows_each_branch_with_its_unmerged_commits() {
    let listed = project_with_worktrees()
        .args(["worktrees", "list"])
        .stdout(&format!(
            "RUN                      BRANCH   COMMITS  CHANGES  WORKTREE\n\
             {RUN}  0-clean  0        no       .agent-runner/worktrees/{RUN}/0-clean\n\
             {RUN}  1-done   1        no       .agent-runner/worktrees/{RUN}/1-done\n"
        ))
        .run();
    let json = listed.then().args(["worktrees", "list", "--json"]).run();
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        value["worktrees"][1]["branch"],
        format!("agent-runner/{RUN}/1-done")
    );
    assert_eq!(value["worktrees"][1]["unmerged_commits"], 1);
    assert_eq!(value["worktrees"][0]["uncommitted_changes"], false);
}

#[test]
fn worktrees_prune_keeps_unmerged_work_unless_forced() {
    let pruned = project_with_worktrees()
        .args(["worktrees", "prune", RUN])
        .stdout(&format!(
            "removed agent-runner/{RUN}/0-clean and .agent-runner/worktrees/{RUN}/0-clean\n\
             kept    agent-runner/{RUN}/1-done (1 unmerged commit; --force removes it)\n"
        ))
        .run();
    let project = pruned.project();
    assert!(
        !project
            .join(format!(".agent-runner/worktrees/{RUN}/0-clean"))
            .exists()
    );
    assert!(
        project
            .join(format!(".agent-runner/worktrees/{RUN}/1-done/work.txt"))
            .exists()
    );
    let forced = pruned
        .then()
        .args(["worktrees", "prune", RUN, "--force"])
        .stdout(&format!(
            "removed agent-runner/{RUN}/1-done and .agent-runner/worktrees/{RUN}/1-done\n"
        ))
        .run();
    let project = forced.project();
    assert!(
        !project
            .join(format!(".agent-runner/worktrees/{RUN}"))
            .exists()
    );
    assert_eq!(git(&project, &["branch", "--list", "agent-runner/*"]), "");
    forced
        .then()
        .args(["worktrees", "prune", RUN])
        .status(2)
        .stderr(&format!(
            "agent-runner: error: no worktree or branch of run \"{RUN}\" in this repository (see \"agent-runner worktrees list\")\n"
        ))
        .run();
}

#[test]
fn worktrees_commands_outside_a_repository_fail_with_exit_4() {
    Test::new()
        .args(["worktrees", "list"])
        .status(4)
        .stderr("agent-runner: error: [TMP]/project is not inside a git repository\n")
        .run();
}

#[test]
fn worktrees_is_a_command_word_and_run_reaches_the_workflow() {
    let project = Test::new().workflow(
        "worktrees",
        "name: worktrees\nsteps:\n  - {id: a, command: echo the-workflow-ran}\n",
    );
    let word = project
        .arg("worktrees")
        .status(2)
        .stderr_contains("unknown \"worktrees\" command; use \"agent-runner worktrees list\"")
        .run();
    let ran = word.then().args(["run", "worktrees"]).run();
    assert!(ran.stderr.contains("the-workflow-ran"), "{}", ran.stderr);
}

#[test]
fn worktrees_arguments_are_checked() {
    Test::new()
        .args(["worktrees", "prune"])
        .status(2)
        .stderr_contains("\"worktrees prune\" needs a run id")
        .run();
    Test::new()
        .args(["worktrees", "prune", "../x"])
        .status(2)
        .stderr_contains("invalid run id \"../x\"")
        .run();
    Test::new()
        .args(["worktrees", "list", "--force"])
        .status(2)
        .stderr_contains("--force cannot be used with \"worktrees list\"")
        .run();
}

#[test]
fn worktree_true_outside_a_git_repository_stops_before_any_step() {
    Test::new()
        .workflow(
            "tasks",
            "name: tasks\nsteps:\n  - {id: first, command: touch ran}\n  - id: each\n    loop: {max: 2, max_parallel: 2}\n    worktree: true\n    steps:\n      - {id: a, command: pwd}\n",
        )
        .arg("tasks")
        .status(4)
        .stderr_contains("step \"each\" has \"worktree: true\", which needs a git repository, but [TMP]/project is not inside a git repository (worktree-not-git)")
        .run();
}

/// A for-each of two tasks with `max_parallel` and `worktree: true`: each task commits in its own
/// worktree on its own branch.
const PER_TASK: &str = r#"name: per-task
steps:
  - id: tasks
    loop: { over: "tasks/*.md", as: task_file, max_parallel: 2 }
    worktree: true
    steps:
      - id: work
        skip_if: "sh: test -e skip-me"
        command: |
          test "$AR_WORKTREE" = {{worktree}}
          test "$(pwd)" = {{worktree}}
          cat {{task_file}} > done.txt
          git add done.txt && git commit -qm "did {{task_file}}"
"#;

#[test]
fn each_branch_works_and_commits_in_its_own_worktree() {
    let test = git_repo(
        Test::new()
            .write("tasks/Add Login.md", "login\n")
            .write("tasks/fix-logout.md", "logout\n")
            .workflow("per-task", PER_TASK),
    );
    // An uncommitted change is not in the worktrees, and the run says so.
    std::fs::write(test.project().join("tasks/fix-logout.md"), "changed\n").unwrap();
    let out = test
        .arg("per-task")
        .stderr_contains("uncommitted changes are not in the worktrees")
        .run();
    let run_id = out.run_id();
    let project = out.project();
    let worktrees = project.join(".agent-runner/worktrees");
    assert_eq!(
        std::fs::read_to_string(worktrees.join(".gitignore")).unwrap(),
        "*\n"
    );
    for (slug, content) in [("0-add-login", "login\n"), ("1-fix-logout", "logout\n")] {
        let dir = worktrees.join(&run_id).join(slug);
        assert_eq!(
            std::fs::read_to_string(dir.join("done.txt")).unwrap(),
            content
        );
        let branch = format!("agent-runner/{run_id}/{slug}");
        assert_eq!(git(&dir, &["branch", "--show-current"]), branch);
        assert_eq!(
            git(
                &project,
                &["rev-list", "--count", &format!("HEAD..{branch}")]
            ),
            "1"
        );
    }
    // The project's own checkout is untouched, and the worktrees are not changes of it.
    assert!(!project.join("done.txt").exists());
    assert_eq!(
        git(&project, &["status", "--porcelain"]),
        " M tasks/fix-logout.md"
    );
    let events = out.events("worktree");
    assert_eq!(events.len(), 2, "{events:?}");
    let head = git(&project, &["rev-parse", "HEAD"]);
    for event in &events {
        assert_eq!(event["data"]["base_commit"], head.as_str());
        assert_eq!(event["data"]["created"], true);
        assert!(
            event["data"]["branch"]
                .as_str()
                .unwrap()
                .starts_with("agent-runner/")
        );
    }
    let paths: std::collections::BTreeSet<_> = events
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths, ["tasks[0]", "tasks[1]"].map(String::from).into());
    let shown = out.again().arg("show").run();
    assert!(
        shown
            .stdout
            .contains(&format!("agent-runner/{run_id}/0-add-login")),
        "{}",
        shown.stdout
    );
    let listed = shown.then().args(["worktrees", "list"]).run();
    assert!(
        listed.stdout.contains("1-fix-logout  1 "),
        "{}",
        listed.stdout
    );
}
