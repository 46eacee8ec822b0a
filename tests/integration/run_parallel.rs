//! Parallel branches (control.md §8): a `parallel` group's children and a `max_parallel` loop's
//! iterations run at once, within their limits; fail-fast stops a running sibling with its whole
//! process group; a run killed mid-parallel resumes only the branches that did not complete.
//! Overlap and limits are read from the recorded `step_start`/`step_end` times, not from
//! wall-clock budgets.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::process_lifetime::nothing_left;
use crate::run_support::{only_run, wf};
use crate::test::Test;

const WAIT: Duration = Duration::from_secs(20);

/// The `[start, end)` times of every leaf step whose path starts with `prefix`, by path.
pub fn intervals(audit: &[Value], prefix: &str) -> BTreeMap<String, (String, String)> {
    let mut spans: BTreeMap<String, (String, String)> = BTreeMap::new();
    for event in audit {
        let path = event["path"].as_str().unwrap_or_default();
        if !path.starts_with(prefix) || path == prefix.trim_end_matches('/') {
            continue;
        }
        let ts = event["ts"].as_str().unwrap_or_default().to_owned();
        match event["event"].as_str() {
            Some("step_start") => {
                spans.insert(path.to_owned(), (ts, String::new()));
            }
            Some("step_end") => {
                if let Some(span) = spans.get_mut(path) {
                    span.1 = ts;
                }
            }
            _ => {}
        }
    }
    spans
}

/// The most steps of `spans` that were running at one time (the times are RFC 3339 with
/// milliseconds, which sort as text).
pub fn most_at_once(spans: &BTreeMap<String, (String, String)>) -> usize {
    spans
        .values()
        .map(|(start, _)| {
            spans
                .values()
                .filter(|(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn a_parallel_groups_branches_overlap_up_to_max_and_their_captures_follow() {
    let out = Test::new()
        .workflow(
            "p",
            r#"name: p
steps:
  - id: before
    command: echo seed
    capture: seed
  - id: reviews
    parallel: { max: 2 }
    steps:
      - id: a
        command: sleep 0.4; echo a-{{seed}}
        capture: ca
      - id: b
        command: sleep 0.4; echo b
        capture: cb
      - id: c
        command: sleep 0.4; echo c
      - id: d
        command: sleep 0.4; echo d
  - id: after
    command: echo "after {{ca}} {{cb}}"
"#,
        )
        .arg("p")
        .stdout_contains("after a-seed b\n")
        .stderr_contains("[a] ==> 2/3 reviews > a [shell]\n")
        .stderr_contains("[d]   ok (")
        .run();
    let spans = intervals(&out.audit(), "reviews/");
    assert_eq!(spans.len(), 4, "{spans:?}");
    assert_eq!(most_at_once(&spans), 2, "{spans:?}");
    let start = out
        .events("step_start")
        .into_iter()
        .find(|e| e["path"] == "reviews/c")
        .unwrap();
    assert_eq!(start["data"]["branch"], "c");
    let state = out.state();
    assert_eq!(state["status"], "completed");
    assert_eq!(state["scope"]["captures"]["ca"], "a-seed");
}

#[test]
fn a_loop_with_max_parallel_runs_that_many_iterations_at_once_each_with_its_own_captures() {
    let out = Test::new()
        .workflow(
            "l",
            r#"name: l
steps:
  - id: each
    loop: { max: 6, as_index: i, max_parallel: 3 }
    steps:
      - id: work
        command: sleep 0.3; echo it-{{i}}
        capture: mine
      - id: use
        command: echo "{{i}} got {{mine}}" >> got.txt
"#,
        )
        .arg("l")
        .stderr_contains("[each[4]] ==> 1/1 each > #5/6 > work [shell]\n")
        .run();
    let spans = intervals(&out.audit(), "each[");
    let work: BTreeMap<_, _> = spans
        .into_iter()
        .filter(|(path, _)| path.ends_with("/work"))
        .collect();
    assert_eq!(work.len(), 6, "{work:?}");
    assert_eq!(most_at_once(&work), 3, "{work:?}");
    let mut got: Vec<String> = out.read("got.txt").lines().map(str::to_owned).collect();
    got.sort();
    let expected: Vec<String> = (0..6).map(|i| format!("{i} got it-{i}")).collect();
    assert_eq!(got, expected);
    let end = out
        .events("step_end")
        .into_iter()
        .find(|e| e["path"] == "each")
        .unwrap();
    assert_eq!(end["data"]["iterations"], 6);
}

#[test]
fn fail_fast_stops_a_running_sibling_with_its_whole_process_group_and_starts_no_other() {
    let out = Test::new()
        .workflow(
            "f",
            r#"name: f
steps:
  - id: reviews
    parallel: { max: 2 }
    steps:
      - id: slow
        command: sh -c 'sleep 60' & echo $! > child.pid; wait
      - id: broken
        command: until [ -s child.pid ]; do sleep 0.05; done; exit 3
      - id: never
        command: touch never-ran
  - id: after
    command: touch after-ran
"#,
        )
        .arg("f")
        .status(1)
        .stderr_contains("[broken]   failed: exit status 3 (")
        .run();
    nothing_left(&out);
    assert!(!out.project().join("never-ran").exists());
    assert!(!out.project().join("after-ran").exists());
    let ends: BTreeMap<String, Value> = out
        .events("step_end")
        .into_iter()
        .map(|e| (e["path"].as_str().unwrap().to_owned(), e["data"].clone()))
        .collect();
    assert_eq!(ends["reviews/slow"]["outcome"], "interrupted");
    assert_eq!(ends["reviews/broken"]["error"]["class"], "exit_status");
    assert_eq!(ends["reviews"]["outcome"], "failed");
    assert_eq!(ends["reviews"]["error"]["class"], "exit_status");
    assert!(!ends.contains_key("reviews/never"));
    let state = out.state();
    assert_eq!(state["format_version"], 2);
    let branches = &state["position"]["parallel"]["branches"];
    let states: Vec<(&str, &str)> = branches
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["label"].as_str().unwrap(), b["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("slow", "interrupted"), ("broken", "failed")]);
    // `show` lists every branch that is still going on.
    let show = out.then().args(["show", "--json"]).run();
    let report: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(
        report["position"],
        serde_json::json!(["reviews/slow", "reviews/broken"])
    );
}

#[test]
fn without_fail_fast_every_branch_runs_to_its_end_and_the_step_fails() {
    let out = Test::new()
        .workflow(
            "f",
            r#"name: f
steps:
  - id: checks
    parallel: { fail_fast: false }
    steps:
      - id: one
        command: exit 4
      - id: two
        command: sleep 0.3; touch two-ran
      - id: three
        command: exit 5
"#,
        )
        .arg("f")
        .status(1)
        .run();
    assert!(out.project().join("two-ran").exists());
    let end = out
        .events("step_end")
        .into_iter()
        .find(|e| e["path"] == "checks")
        .unwrap();
    assert_eq!(end["data"]["outcome"], "failed");
    let message = end["data"]["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with("(and 1 more failed branches: three)"),
        "{message}"
    );
}

const RESUMABLE: &str = r#"name: r
steps:
  - id: group
    parallel: true
    steps:
      - id: quick
        command: echo x >> quick.count
      - id: chain
        steps:
          - id: first
            command: echo x >> first.count
          - id: hang
            command: echo x >> hang.count; if [ ! -e resumed ]; then touch hang.started; sleep 60; fi
          - id: last
            command: echo x >> last.count
  - id: each
    loop: { max: 4, as_index: i, max_parallel: 4 }
    steps:
      - id: work
        command: echo x >> work-{{i}}.count; if [ {{i}} = 2 ] && [ ! -e resumed-loop ]; then touch loop.started; sleep 60; fi
"#;

#[test]
fn a_run_killed_mid_parallel_resumes_only_what_did_not_complete() {
    let mut running = Test::new().write(&wf("r"), RESUMABLE).arg("r").spawn();
    let project = running.project();
    // The group: `quick` and `first` are done (their counts are written before `hang` sleeps).
    running.wait_until(WAIT, "the hanging step", |_| {
        project.join("hang.started").exists() && project.join("quick.count").exists()
    });
    std::thread::sleep(Duration::from_millis(300));
    let test = running.kill();
    std::fs::write(project.join("resumed"), "").unwrap();
    let mut running = test.args(["--resume"]).spawn();
    running.wait_until(WAIT, "the hanging iteration", |_| {
        project.join("loop.started").exists()
            && (0..4).all(|i| project.join(format!("work-{i}.count")).exists())
    });
    std::thread::sleep(Duration::from_millis(300));
    let state = only_run(running.path()).state();
    assert_eq!(state["format_version"], 2);
    let test = running.kill();
    std::fs::write(project.join("resumed-loop"), "").unwrap();
    let out = test.args(["--resume"]).run();
    let count = |name: &str| out.read(name).lines().count();
    assert_eq!(
        count("quick.count"),
        1,
        "a completed branch never runs again"
    );
    assert_eq!(
        count("first.count"),
        1,
        "a completed step of a branch never runs again"
    );
    assert_eq!(count("hang.count"), 2, "the interrupted step runs again");
    assert_eq!(count("last.count"), 1);
    for i in [0, 1, 3] {
        assert_eq!(count(&format!("work-{i}.count")), 1, "iteration {i}");
    }
    assert_eq!(count("work-2.count"), 2);
    let state = out.state();
    assert_eq!(state["status"], "completed");
    assert!(state["position"].is_null());
}

#[test]
fn agent_caps_from_the_configuration_make_branches_wait_for_a_slot() {
    let script = "- [{sleep_ms: 300}, {text: one}]\n\
                  - [{sleep_ms: 300}, {text: two}]\n\
                  - [{sleep_ms: 300}, {text: three}]\n\
                  - [{sleep_ms: 300}, {text: four}]\n";
    let out = Test::new()
        .fake_clis(&["claude", "codex"])
        .fake_script(script)
        .project_config("clis:\n  claude:\n    max_concurrent: 1\nmax_concurrent_agents: 2\n")
        .workflow(
            "w",
            r#"name: w
steps:
  - id: agents
    parallel: true
    steps:
      - { id: a, mode: headless, prompt: One. }
      - { id: b, mode: headless, prompt: Two. }
      - { id: c, mode: headless, cli: codex, prompt: Three. }
      - { id: d, mode: headless, cli: codex, prompt: Four. }
"#,
        )
        .arg("w")
        .stderr_contains("  waiting for a claude slot\n")
        .run();
    let spans = intervals(&out.audit(), "agents/");
    assert_eq!(spans.len(), 4, "{spans:?}");
    assert_eq!(most_at_once(&spans), 2, "the run's cap: {spans:?}");
    let claude: BTreeMap<_, _> = spans
        .iter()
        .filter(|(path, _)| path.ends_with("/a") || path.ends_with("/b"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(most_at_once(&claude), 1, "one claude at a time: {claude:?}");
}
