//! `state.json`, `audit.jsonl` and the output files of real runs: the document's shape while a
//! step runs and after the end, private file modes, every audit event in order with its fields,
//! output file names, and `list` / `show` / `log` on what a run left behind.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::run_support::{only_run, wf};
use crate::test::Test;

const NESTED: &str = r#"name: nested
steps:
  - id: peek
    command: tail -n 1 "$AGENT_RUNNER_RUN_DIR/journal.jsonl" > during.json
  - id: each
    loop: {max: 2}
    steps:
      - id: work
        command: echo work
      - id: maybe
        skip_if: previous_success
        command: echo never
  - id: call
    workflow: child.yaml
"#;

const CHILD: &str = "name: child\nsteps: [{id: inner, command: echo inner}]\n";

fn nested() -> Test {
    Test::new()
        .write(&wf("nested"), NESTED)
        .write(".agent-runner/workflows/child.yaml", CHILD)
        .args(["nested"])
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn state_while_a_step_runs_and_after_success() {
    let out = nested().run();
    let run = only_run(out.tempdir.path());
    let during: serde_json::Value = serde_json::from_str(&out.read("during.json")).unwrap();
    assert_eq!(during["format_version"], 1);
    assert_eq!(during["status"], "running");
    assert_eq!(during["completed"], false);
    assert_eq!(
        during["position"],
        json!({"index": 0, "step_id": "peek", "state": "running", "previous_outcome": null, "attempt": 1, "child": null})
    );
    let text = run.state_text();
    assert!(
        text.starts_with("{\n  \"format_version\": 1,\n  \"run_id\": "),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
    let state = run.state();
    assert_eq!(state["run_id"], run.id());
    assert_eq!(state["status"], "completed");
    assert_eq!(state["completed"], true);
    assert_eq!(state["position"], serde_json::Value::Null);
    assert_eq!(state["last_failure"], serde_json::Value::Null);
    assert_eq!(state["workflow"]["name"], "nested");
    assert!(
        state["workflow"]["hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

#[test]
fn run_files_are_private_and_no_temp_files_are_left() {
    let out = nested().run();
    let run = only_run(out.tempdir.path());
    let home = out.tempdir.path().join("home/.agent-runner");
    let project_dir = run.dir.parent().unwrap().parent().unwrap();
    for dir in [
        project_dir,
        &project_dir.join("runs"),
        &run.dir,
        &run.dir.join("output"),
    ] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
    assert_eq!(mode(&project_dir.join("project.json")), 0o600);
    let mut files = vec![run.dir.join("state.json"), run.dir.join("audit.jsonl")];
    files.extend(
        run.outputs()
            .iter()
            .map(|name| run.dir.join("output").join(name)),
    );
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    let leftovers: Vec<_> = std::fs::read_dir(&run.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "state.json" && name != "audit.jsonl" && name != "output")
        .collect();
    assert_eq!(
        leftovers,
        Vec::<String>::new(),
        "lock or temp files left behind"
    );
    assert!(home.is_dir());
}

#[test]
fn audit_events_fields_and_output_names_in_order() {
    let out = nested().stdout("work\nwork\ninner\n").run();
    let run = only_run(out.tempdir.path());
    assert_eq!(
        run.events(),
        [
            "run_start",
            "step_start peek",
            "step_end peek",
            "step_start each",
            "iteration_start each[0]",
            "step_start each[0]/work",
            "step_end each[0]/work",
            "skip each[0]/maybe",
            "iteration_end each[0]",
            "iteration_start each[1]",
            "step_start each[1]/work",
            "step_end each[1]/work",
            "skip each[1]/maybe",
            "iteration_end each[1]",
            "step_end each",
            "step_start call",
            "sub_workflow_start call",
            "step_start call/inner",
            "step_end call/inner",
            "sub_workflow_end call",
            "step_end call",
            "run_end",
        ]
    );
    let audit = run.audit();
    for (i, event) in audit.iter().enumerate() {
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["ts", "seq", "run_id", "event", "path", "data"]);
        assert_eq!(event["seq"], i as u64 + 1);
        assert_eq!(event["run_id"], run.id());
        let ts = event["ts"].as_str().unwrap();
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[19] == b'.',
            "{ts}"
        );
    }
    assert_eq!(audit[0]["data"]["resumed"], false);
    assert_eq!(
        audit.last().unwrap()["data"]["counts"],
        json!({"ok": 4, "skipped": 2, "failed_continued": 0})
    );
    assert_eq!(audit.last().unwrap()["data"]["outcome"], "completed");
    // Every shell step's files are named after the seq of its step_start, and only a stream
    // that printed something has one: `peek` prints nothing, the others only to stdout.
    let mut expected = Vec::new();
    for start in run.events_named("step_start") {
        if start["data"]["kind"] != "shell" {
            continue;
        }
        let slug = start["path"]
            .as_str()
            .unwrap()
            .replace('/', ".")
            .replace('[', "-")
            .replace(']', "");
        let stem = format!("{:04}-{slug}", start["seq"].as_u64().unwrap());
        let printed = start["path"] != "peek";
        if printed {
            expected.push(format!("{stem}.stdout"));
        }
        let end = audit
            .iter()
            .find(|e| e["event"] == "step_end" && e["path"] == start["path"])
            .unwrap();
        let listed = if printed {
            json!([format!("output/{stem}.stdout")])
        } else {
            json!([])
        };
        assert_eq!(end["data"]["outputs"], listed);
    }
    expected.sort();
    assert_eq!(run.outputs(), expected);
    assert_eq!(run.output("0006-each-0.work.stdout"), "work\n");
}

#[test]
fn list_show_and_log_read_a_real_failed_run() {
    let out = Test::new()
        .write(&wf("fails"), "name: fails\nsteps:\n  - {id: ok, command: \"true\"}\n  - {id: bad, command: exit 9}\n")
        .args(["fails"])
        .status(1)
        .run();
    let run = only_run(out.tempdir.path());
    let id = run.id();
    let out = out
        .then()
        .args(["list"])
        .stdout_contains(&format!("{id}  fails     failed  bad  "))
        .run();
    let out = out
        .then()
        .args(["show", &id])
        .stdout_contains("status:   failed\nposition: bad\n")
        .stdout_contains("failure:  bad: exit status 9 (exit_status)\n")
        .stdout_contains(&format!("to resume: agent-runner --resume {id}\n"))
        .run();
    let log = out.then().args(["log", &id]).run();
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert_eq!(lines.len(), run.audit().len());
    assert!(
        lines[lines.len() - 2].contains(" step_end bad "),
        "{}",
        log.stdout
    );
    let raw = log.then().args(["log", &id, "--json"]).run();
    let file = std::fs::read_to_string(run.dir.join("audit.jsonl")).unwrap();
    let tmp = raw.tempdir.path().display().to_string();
    assert_eq!(raw.stdout, file.replace(&tmp, "[TMP]"));
}

/// Copies the journal's last record (the durable state) and audit.jsonl as they are when the
/// command starts, to `<name>.json` and `<name>.jsonl` in the project.
fn peek(name: &str) -> String {
    format!(
        r#"tail -n 1 "$AGENT_RUNNER_RUN_DIR/journal.jsonl" > {name}.json && cp "$AGENT_RUNNER_RUN_DIR/audit.jsonl" {name}.jsonl"#
    )
}

/// `"<event> <path>"` of the audit log copied to `<name>.jsonl`.
fn peeked_events(out: &crate::test::Output, name: &str) -> Vec<String> {
    out.read(&format!("{name}.jsonl"))
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            format!(
                "{} {}",
                event["event"].as_str().unwrap(),
                event["path"].as_str().unwrap()
            )
            .trim_end()
            .to_owned()
        })
        .collect()
}

/// The end of a step is flushed while the runner moves on, and the events after it are held
/// until it is on disk: every command (a `skip_if: sh:` condition, a step, a step in the next
/// loop iteration) must still find, when it starts, the journal's last record and the log
/// saying exactly where the run is.
#[test]
fn every_command_starts_with_the_position_and_the_log_on_disk() {
    let workflow = format!(
        r#"name: peeks
steps:
  - id: a
    command: "true"
  - id: b
    skip_if: 'sh: {cond} && false'
    command: {b}
  - id: l
    loop: {{max: 2, as_index: i}}
    steps:
      - id: c
        command: "true"
      - id: d
        command: {d}
"#,
        cond = peek("cond"),
        b = serde_json::to_string(&peek("b")).unwrap(),
        d = serde_json::to_string(&peek("d{{i}}")).unwrap(),
    );
    let out = Test::new()
        .write(&wf("peeks"), workflow)
        .args(["peeks"])
        .run();

    // The condition runs once `a` has ended: position on `b`, pending, and `a`'s end logged.
    let cond: serde_json::Value = serde_json::from_str(&out.read("cond.json")).unwrap();
    assert_eq!(
        cond["position"],
        json!({"index": 1, "step_id": "b", "state": "pending", "previous_outcome": "success", "attempt": 0, "child": null})
    );
    assert_eq!(
        peeked_events(&out, "cond"),
        ["run_start", "step_start a", "step_end a"]
    );

    // The step itself runs once its start is on disk and logged.
    let b: serde_json::Value = serde_json::from_str(&out.read("b.json")).unwrap();
    assert_eq!(
        b["position"],
        json!({"index": 1, "step_id": "b", "state": "running", "previous_outcome": "success", "attempt": 1, "child": null})
    );
    assert_eq!(peeked_events(&out, "b").last().unwrap(), "step_start b");

    // In the second iteration, the first iteration's end and the second's start are there too.
    let d1: serde_json::Value = serde_json::from_str(&out.read("d1.json")).unwrap();
    assert_eq!(d1["position"]["step_id"], "l");
    assert_eq!(d1["position"]["loop"]["iteration"], 1);
    assert_eq!(
        d1["position"]["child"],
        json!({"index": 1, "step_id": "d", "state": "running", "previous_outcome": "success", "attempt": 1, "child": null})
    );
    let events = peeked_events(&out, "d1");
    assert_eq!(
        events[events.len() - 5..],
        [
            "iteration_end l[0]",
            "iteration_start l[1]",
            "step_start l[1]/c",
            "step_end l[1]/c",
            "step_start l[1]/d",
        ][..]
    );
}

#[test]
fn a_journal_that_grows_large_is_folded_into_state_json_at_a_step_boundary() {
    // The debug build folds the journal once it holds this many bytes: after every step here.
    let workflow = r#"name: long
steps:
  - id: each
    loop: {over: "items/*", as: item}
    steps:
      - id: work
        command: echo "{{item}}" >> done.txt
  - id: peek
    command: cp "$AGENT_RUNNER_RUN_DIR/state.json" snapshot.json && wc -l < "$AGENT_RUNNER_RUN_DIR/journal.jsonl" > journal-lines.txt
"#;
    let out = Test::new()
        .write(&wf("long"), workflow)
        .write("items/a", "")
        .write("items/b", "")
        .write("items/c", "")
        .env("AGENT_RUNNER_DEBUG_COMPACT_AT", "1")
        .args(["long"])
        .run();
    let snapshot: serde_json::Value = serde_json::from_str(&out.read("snapshot.json")).unwrap();
    // state.json is current up to the last step boundary: the loop is done, `peek` is next.
    assert_eq!(snapshot["position"]["step_id"], "peek", "{snapshot:#}");
    assert_eq!(snapshot["position"]["index"], 1);
    // The journal holds only what followed: `peek`'s start.
    assert_eq!(out.read("journal-lines.txt").trim(), "1");
    assert_eq!(out.read("done.txt").lines().count(), 3);
    let run = only_run(out.tempdir.path());
    assert_eq!(run.state()["status"], "completed");
}
