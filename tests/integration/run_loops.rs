//! Loops through the real binary: counted and for-each iterations, the sorted and frozen match
//! list, loop variables, `require_matches`, the exhaustion rule, a failing glob, and how
//! captures flow into and out of a loop body.

use pretty_assertions::assert_eq;

use crate::run_support::{only_run, stable, wf};
use crate::test::Test;

#[test]
fn for_each_iterates_the_sorted_frozen_match_list_with_relative_paths() {
    let out = Test::new()
        .write("items/b.md", "")
        .write("items/a.md", "")
        .write("items/sub/c.md", "")
        .write("items/.hidden.md", "")
        .write(
            &wf("each"),
            r#"name: each
steps:
  - id: each
    loop: {over: "items/**/*.md", as: f, as_index: i}
    steps:
      - id: body
        command: echo "{{i}}:{{f}}:$AR_F" >> seen.txt; touch items/new-{{i}}.md
"#,
        )
        .args(["each"])
        .stderr_contains("==> 1/1 each [for-each 3 matches]\n==> 1/1 each > #1/3 items/a.md\n")
        .stderr_contains("==> 1/1 each > #3/3 items/sub/c.md\n==> 1/1 each > #3/3 > body [shell]\n")
        .run();
    assert_eq!(
        out.read("seen.txt"),
        "0:items/a.md:items/a.md\n1:items/b.md:items/b.md\n2:items/sub/c.md:items/sub/c.md\n"
    );
    let run = only_run(out.tempdir.path());
    let start = &run.events_named("step_start")[0];
    assert_eq!(start["data"]["pattern"], "items/**/*.md");
    assert_eq!(start["data"]["match_count"], 3);
    let iterations: Vec<_> = run
        .events_named("iteration_start")
        .iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(
        iterations[1],
        serde_json::json!({"iteration": 1, "item": "items/b.md", "vars": {"f": "items/b.md", "i": "1"}})
    );
}

#[test]
fn require_matches_fails_with_the_spec_message_and_zero_matches_succeed_without_it() {
    Test::new()
        .write(
            &wf("none"),
            r#"name: none
steps:
  - id: each
    loop: {over: "none/*.md", as: f, require_matches: true}
    steps: [{id: body, command: touch ran}]
"#,
        )
        .args(["none"])
        .status(1)
        .stderr_contains(
            "agent-runner: step \"1/1 each\" failed: for-each loop \"each\" matched no files for pattern \"none/*.md\"\n",
        )
        .run();
    let out = Test::new()
        .write(
            &wf("none"),
            "name: none\nsteps:\n  - id: each\n    loop: {over: \"none/*.md\", as: f}\n    steps: [{id: body, command: touch ran}]\n",
        )
        .args(["none"])
        .stderr_contains("==> 1/1 each [for-each 0 matches]\n  ok (")
        .run();
    assert!(!out.project().join("ran").exists());
}

#[test]
fn a_bad_glob_fails_the_loop_step_with_class_glob() {
    let out = Test::new()
        .write(
            &wf("bad"),
            "name: bad\nparams: [pat]\nsteps:\n  - id: each\n    loop: {over: \"{{pat}}\", as: f}\n    steps: [{id: body, command: \"true\"}]\n",
        )
        .args(["bad", "items/["])
        .status(1)
        .stderr_contains("failed: invalid pattern \"items/[\": ")
        .run();
    assert_eq!(
        only_run(out.tempdir.path()).state()["last_failure"]["class"],
        "glob"
    );
}

#[test]
fn a_counted_loop_with_a_break_if_fails_when_it_runs_out_but_without_one_succeeds() {
    let out = Test::new()
        .write(
            &wf("retry"),
            r#"name: retry
params: [{name: n, default: "2"}]
steps:
  - id: plain
    loop: {max: "{{n}}", as_index: k}
    steps:
      - id: inner
        loop: {max: 1}
        continue_on_failure: true
        steps: [{id: never-breaks, command: "false", continue_on_failure: true, break_if: success}]
  - id: attempts
    loop: {max: 2}
    steps:
      - id: try
        command: echo try >> tries.txt; false
        continue_on_failure: true
        break_if: success
"#,
        )
        .args(["retry"])
        .status(1)
        .run();
    assert_eq!(out.read("tries.txt"), "try\ntry\n");
    let stderr = stable(&out.stderr);
    assert!(stderr.contains("==> 1/2 plain [loop x2]\n"), "{stderr}");
    assert!(
        stderr.ends_with(
            "  failed: loop \"attempts\" ran all 2 iterations without meeting its break_if condition (<D>)\n\n\
             agent-runner: step \"2/2 attempts\" failed: loop \"attempts\" ran all 2 iterations without meeting its break_if condition\n\
             to resume: agent-runner --resume retry-<ID>\n"
        ),
        "{stderr}"
    );
    let run = only_run(out.tempdir.path());
    assert_eq!(run.state()["last_failure"]["class"], "loop_exhausted");
    // The plain loop (its break_if sits in a nested loop) succeeded after both iterations.
    let plain = run
        .events_named("step_end")
        .into_iter()
        .find(|e| e["path"] == "plain")
        .unwrap();
    assert_eq!(plain["data"]["outcome"], "success");
    assert_eq!(plain["data"]["iterations"], 2);
}

#[test]
fn a_loop_max_template_that_is_not_a_number_fails_the_loop_step_with_exit_1() {
    Test::new()
        .write(
            &wf("m"),
            "name: m\nparams: [n]\nsteps:\n  - id: l\n    loop: {max: \"{{n}}\"}\n    steps: [{id: b, command: \"true\"}]\n",
        )
        .args(["m", "many"])
        .status(1)
        .stderr_contains(
            "agent-runner: step \"1/1 l\" failed: loop \"max\" must be a whole number from 1 to 10000, found \"many\"\n",
        )
        .run();
}

#[test]
fn captures_before_a_loop_are_seen_inside_and_the_last_inner_value_stays_after() {
    let out = Test::new()
        .write(
            &wf("caps"),
            r#"name: caps
steps:
  - id: before
    command: echo outer
    capture: seed
  - id: l
    loop: {max: 3, as_index: i}
    steps:
      - id: make
        command: echo "{{seed}}-{{i}}"
        capture: last
  - id: after
    command: printf '%s' {{last}} > after.txt
"#,
        )
        .args(["caps"])
        .stdout("outer\nouter-0\nouter-1\nouter-2\n")
        .run();
    assert_eq!(out.read("after.txt"), "outer-2");
}

const FAILS_AT_B: &str = r#"name: each
steps:
  - id: each
    loop: {over: "items/*", as: f}
    steps:
      - id: body
        command: test {{f}} != items/b || test -e go && echo {{f}} >> seen.txt
"#;

/// A run over items a, b, c that failed at b.
fn failed_at_b() -> crate::test::Output {
    Test::new()
        .write("items/a", "")
        .write("items/b", "")
        .write("items/c", "")
        .write(&wf("each"), FAILS_AT_B)
        .args(["each"])
        .status(1)
        .run()
}

fn file_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A run that fails inside a for-each loop keeps its journal, whose last record is stamped
/// with the state.json it wrote and names the loop's list file instead of holding the list;
/// its resume goes on from them and, once the run completes, only state.json is left.
#[test]
fn a_failed_loop_run_keeps_its_journal_and_list_file_for_its_resume() {
    let out = failed_at_b();
    let run = only_run(out.tempdir.path());
    let kept = file_names(&run.dir);
    let lists: Vec<_> = kept
        .iter()
        .filter(|n| n.starts_with("loop-items-"))
        .collect();
    assert_eq!(lists.len(), 1, "{kept:?}");
    assert!(lists[0].ends_with(".list"), "{kept:?}");
    let journal = std::fs::read_to_string(run.dir.join("journal.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(journal.lines().last().unwrap()).unwrap();
    assert_eq!(last["status"], "failed");
    assert!(last["snapshot"].is_object(), "{last}");
    let looped = &last["position"]["loop"];
    assert_eq!(looped["items_file"], lists[0].as_str());
    assert!(looped["items"].is_null(), "{looped}");
    assert_eq!(run.state()["position"]["loop"]["items"][2], "items/c");
    let out = out
        .then()
        .write("go", "")
        .args(["--resume", &run.id()])
        .stderr_contains("==> 1/1 each > #2/3 items/b\n")
        .stderr_contains("==> 1/1 each > #3/3 items/c\n")
        .run();
    assert_eq!(out.read("seen.txt"), "items/a\nitems/b\nitems/c\n");
    assert_eq!(
        file_names(&run.dir),
        ["audit.jsonl", "output", "state.json"]
    );
    assert_eq!(run.state()["status"], "completed");
}

/// state.json changed by hand after the run stopped is the run's state, not the journal kept
/// before: the resume goes on where the edited file says.
#[test]
fn a_state_json_edited_after_a_failure_wins_over_the_kept_journal() {
    let out = failed_at_b();
    let run = only_run(out.tempdir.path());
    let state = run.state_text();
    assert!(state.contains("\"iteration\": 1,"), "{state}");
    std::fs::write(
        run.dir.join("state.json"),
        state.replace("\"iteration\": 1,", "\"iteration\": 2,"),
    )
    .unwrap();
    let out = out
        .then()
        .args(["--resume", &run.id()])
        .stderr_contains("==> 1/1 each > #3/3 items/c\n")
        .run();
    assert_eq!(out.read("seen.txt"), "items/a\nitems/c\n");
    assert_eq!(run.state()["status"], "completed");
}
