//! `--simulate` through the real binary (control.md §10, §11 "Simulation, precisely"): the
//! control flow runs for real, every shell and agent step is answered by a stub, nothing is
//! spawned, and no state is kept outside a temporary directory.

use crate::run_support::{runs, stable, wf};
use crate::test::Test;

const REVIEW: &str = r#"name: review
steps:
  - id: build
    command: touch spawned && echo built
    capture: built
  - id: review
    mode: headless
    cli: claude
    prompt: Review the change.
    output:
      schema:
        type: object
        required: [verdict, issues]
        properties:
          verdict: { enum: [fail, pass] }
          issues: { type: array, items: { type: string } }
    capture: review
  - id: rounds
    loop: { max: 3, as_index: i }
    steps:
      - id: fix
        when: review.verdict == "fail"
        mode: headless
        cli: claude
        prompt: Fix {{review.issues}}.
      - id: check
        command: touch spawned-check
        skip_if: "sh: touch spawned-skip-if"
        capture: result
        break_if: result == "green"
  - id: done
    when: built == "ok" && steps.rounds.outcome == "success"
    command: echo done
"#;

/// A project with the review workflow and a private temporary directory.
fn project() -> Test {
    let test = Test::new().write(&wf("review"), REVIEW);
    let tmp = test.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    test.env("TMPDIR", &tmp.display().to_string())
}

fn assert_nothing_spawned_or_kept(out: &crate::test::Output) {
    for file in ["spawned", "spawned-check", "spawned-skip-if"] {
        assert!(!out.project().join(file).exists(), "{file} was created");
    }
    assert!(runs(out.tempdir.path()).is_empty(), "a run was kept");
    let tmp: Vec<_> = std::fs::read_dir(out.tempdir.path().join("tmp"))
        .unwrap()
        .collect();
    assert!(tmp.is_empty(), "the simulation left {tmp:?}");
}

#[test]
fn defaults_answer_ok_and_the_minimal_schema_value_without_spawning_anything() {
    // No agent CLI is installed: a simulation needs none (no preflight).
    let out = project().args(["--simulate", "review"]).status(1).run();
    let stderr = stable(&out.stderr);
    assert!(
        stderr.starts_with("agent-runner: simulating workflow \"review\" (run review-<ID>)\n\n==> 1/4 build [shell] (stub)\n  stub: exit 0, output \"ok\"\n"),
        "{stderr}"
    );
    // The minimal value of the schema is {"verdict": "fail", "issues": []}: the fix runs, the
    // check answers "ok" three times, and the loop runs out.
    assert!(
        stderr.contains("==> 3/4 rounds > #1/3 > fix [headless claude, session resume] (stub)\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("==> 3/4 rounds > #3/3 > check [shell] (stub)\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "loop \"rounds\" ran all 3 iterations without meeting its break_if condition"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("to resume"), "{stderr}");
    assert_nothing_spawned_or_kept(&out);
}

#[test]
fn stubs_by_path_attempt_and_id_and_a_stub_file_drive_the_path_taken() {
    let out = project()
        .write(
            "stubs.yaml",
            "review:\n  value: {verdict: fail, issues: [typo]}\nbuild: ok\nrounds[1]/check: green\n",
        )
        .args([
            "--simulate",
            "review",
            "--stub-file",
            "stubs.yaml",
            "--stub",
            "check=red",
            "--stub",
            "rounds[0]/check#skip_if=0",
        ])
        .stdout("")
        .run();
    let stderr = stable(&out.stderr);
    assert!(
        stderr.contains(
            "==> 3/4 rounds > #1/3 > check [skipped: sh: touch spawned-skip-if exited 0 (stub)]\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("  stub: exit 0, output \"green\"\n  ok (<D>)\n  break_if result == \"green\" matched: leaving loop \"rounds\"\n"),
        "{stderr}"
    );
    assert!(stderr.contains("==> 4/4 done [shell] (stub)\n"), "{stderr}");
    assert!(stderr.contains("completed in"), "{stderr}");
    assert_nothing_spawned_or_kept(&out);
}

#[test]
fn a_failing_stub_fails_the_run_with_its_class_and_a_bad_value_is_output_invalid() {
    let out = project()
        .write("stubs.yaml", "build: {exit_code: 3}\n")
        .args(["--simulate", "review", "--stub-file", "stubs.yaml"])
        .status(1)
        .run();
    assert!(
        out.stderr
            .contains("agent-runner: step \"1/4 build\" failed: exit status 3 (stub)"),
        "{}",
        out.stderr
    );
    let out = project()
        .args([
            "--simulate",
            "review",
            "--stub",
            "review={\"verdict\": \"maybe\"}",
        ])
        .status(1)
        .run();
    assert!(
        out.stderr
            .contains("the stub does not match the output schema"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_condition_that_reads_fields_of_a_default_answer_names_the_step_to_stub() {
    let flow = r#"name: classify
steps:
  - id: classify
    command: |
      echo '{"kind": "bug"}'
    output: json
    capture: change
  - id: reproduce
    when: change.kind == "bug"
    command: touch spawned
"#;
    let out = project()
        .write(&wf("classify"), flow)
        .args(["--simulate", "classify"])
        .status(1)
        .run();
    assert!(
        out.stderr.contains(
            "cannot be evaluated: found no matching overload for '_._' applied to '(string, string)'; in a simulation a step without a stub answers \"ok\" (or its schema's minimal value): stub \"classify\", e.g. --stub classify='{...}'"
        ),
        "{}",
        out.stderr
    );
    // With the answer stubbed, the condition decides.
    let out = project()
        .write(&wf("classify"), flow)
        .args([
            "--simulate",
            "classify",
            "--stub",
            "classify={\"kind\": \"docs\"}",
        ])
        .run();
    assert!(
        out.stderr
            .contains("reproduce [shell] skipped (when: change.kind == \"bug\")")
            || out.stderr.contains("skipped"),
        "{}",
        out.stderr
    );
    assert_nothing_spawned_or_kept(&out);
}

#[test]
fn simulate_refuses_resume_from_and_dry_run_and_stubs_need_it() {
    for (args, message) in [
        (
            &["--simulate", "--resume"][..],
            "--simulate cannot be used with --resume",
        ),
        (
            &["--simulate", "review", "--from", "done"][..],
            "--simulate cannot be used with --from",
        ),
        (
            &["--simulate", "--dry-run", "review"][..],
            "--simulate cannot be used with --dry-run",
        ),
        (
            &["review", "--stub", "build=x"][..],
            "--stub and --stub-file need --simulate",
        ),
    ] {
        let mut test = project();
        for arg in args {
            test = test.arg(arg);
        }
        test.status(2).stderr_contains(message).run();
    }
    project()
        .args(["--simulate", "review", "--stub", "build"])
        .status(2)
        .stderr_contains("--stub \"build\": write <step-path>=<value>")
        .run();
}

/// A simulated retry records every try and says the delay a run would wait, but does not wait:
/// two backoffs of a minute and more would take minutes.
#[test]
fn a_simulated_retry_records_the_tries_without_waiting() {
    let started = std::time::Instant::now();
    let out = Test::new()
        .write(
            &wf("flaky"),
            "name: flaky\nsteps:\n  - id: flaky\n    command: touch spawned\n    retry: {attempts: 3, backoff: 1m, on: [exit_status]}\n",
        )
        .write("stubs.yaml", "flaky@1: {exit_code: 3}\nflaky@2: {exit_code: 3}\n")
        .args(["--simulate", "flaky", "--stub-file", "stubs.yaml"])
        .run();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the simulation waited: {:?}",
        started.elapsed()
    );
    let stderr = stable(&out.stderr);
    for retry in ["  retry 2/3 in ", "  retry 3/3 in "] {
        let line = stderr
            .lines()
            .find(|l| l.starts_with(retry))
            .unwrap_or_else(|| panic!("no {retry:?} line in {stderr}"));
        assert!(
            line.contains(" (not waited: simulation) (exit_status: "),
            "{line}"
        );
    }
    assert_eq!(stderr.matches("  stub: exit 3").count(), 2, "{stderr}");
    assert!(
        stderr.contains("  stub: exit 0, output \"ok\"\n"),
        "{stderr}"
    );
    assert!(stderr.contains("completed in"), "{stderr}");
    assert!(!out.project().join("spawned").exists());
}

/// `worktree: true` in a simulation makes no worktree and no branch: the branches run in place,
/// and the console says so. Outside a git repository it is no error either (no preflight).
#[test]
fn a_simulation_makes_no_worktrees_and_says_the_branches_run_in_place() {
    let workflow = "name: wt\nsteps:\n  - id: both\n    parallel: true\n    worktree: true\n    steps:\n      - id: a\n        command: echo {{worktree}} > a.txt\n      - id: b\n        command: echo {{worktree}} > b.txt\n  - id: each\n    loop: {max: 2, max_parallel: 2, as_index: i}\n    worktree: true\n    steps:\n      - id: t\n        command: echo {{worktree}} {{i}}\n";
    let line =
        "no worktrees in a simulation: the branches of \"both\" run in the project directory";
    let loop_line =
        "no worktrees in a simulation: the branches of \"each\" run in the project directory";
    Test::new()
        .write(&wf("wt"), workflow)
        .args(["--simulate", "wt"])
        .stderr_contains(line)
        .run();
    let test = crate::builtin_support::git_repo(Test::new().write(&wf("wt"), workflow));
    let out = test
        .args(["--simulate", "wt"])
        .stderr_contains(line)
        .stderr_contains(loop_line)
        .run();
    assert!(out.stderr.contains("completed in"), "{}", out.stderr);
    assert!(
        !out.project().join(".agent-runner/worktrees").exists(),
        "a worktree directory was made"
    );
    let git = |args: &[&str]| crate::builtin_support::project_git(&out, args);
    assert_eq!(git(&["worktree", "list"]).lines().count(), 1);
    assert_eq!(git(&["branch", "--format=%(refname:short)"]), "main");
    for file in ["a.txt", "b.txt"] {
        assert!(!out.project().join(file).exists(), "{file} was written");
    }
}
