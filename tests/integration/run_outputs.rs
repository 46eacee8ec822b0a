//! Structured outputs on shell steps and typed captures (control.md §7, §11) through the real
//! binary: `output: json` and schemas, `{{capture.field}}`, `AR_*` JSON text, shell quoting of
//! objects, the `output_invalid` class with JSON pointers, `format_version: 2` in state.json and
//! the type surviving a resume.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::run_support::{only_run, runs, wf};
use crate::test::Test;

const REVIEW: &str =
    r#"{"verdict": "pass", "issues": ["it's \"quoted\"", "$(touch pwned)"], "n": 3}"#;

fn typed(rest: &str) -> String {
    format!(
        "name: typed\nsteps:\n  - id: review\n    command: cat review.json\n    output: json\n    capture: review\n{rest}"
    )
}

#[test]
fn a_json_capture_reads_fields_renders_compact_json_and_exports_it_as_text() {
    let out = Test::new()
        .write("review.json", REVIEW)
        .write(
            &wf("typed"),
            typed(
                r#"  - id: use
    command: |
      printf '%s|' {{review.verdict}} {{review.n}} {{review.issues.1}} > fields.txt
      printf '%s' {{review}} > whole.txt
      printf '%s' "$AR_REVIEW" > env.txt
      printf '%s' "{{review.issues}}" > list.txt
      echo "{{#if review.verdict}}set{{/if}}{{#if review.absent}}absent{{else}}none{{/if}}" > cond.txt
"#,
            ),
        )
        .args(["typed"])
        .run();
    let compact = r#"{"verdict":"pass","issues":["it's \"quoted\"","$(touch pwned)"],"n":3}"#;
    assert_eq!(out.read("fields.txt"), "pass|3|$(touch pwned)|");
    assert_eq!(out.read("whole.txt"), compact);
    assert_eq!(out.read("env.txt"), compact);
    assert_eq!(
        out.read("list.txt"),
        r#"["it's \"quoted\"","$(touch pwned)"]"#
    );
    assert_eq!(out.read("cond.txt"), "setnone\n");
    assert!(!out.project().join("pwned").exists());
    let run = only_run(out.tempdir.path());
    let state = run.state();
    assert_eq!(state["format_version"], 2);
    assert_eq!(
        state["scope"]["captures"]["review"],
        json!({"json": serde_json::from_str::<serde_json::Value>(REVIEW).unwrap()})
    );
    let end = &run.events_named("step_end")[0];
    assert_eq!(end["data"]["capture"]["bytes"], compact.len());
}

#[test]
fn an_object_in_a_shell_command_is_one_quoted_word() {
    let out = Test::new()
        .write("review.json", REVIEW)
        .write(
            &wf("typed"),
            typed(
                "  - id: count\n    command: |\n      count() { printf %s \"$#\" > argc.txt; }\n      count {{review}}\n",
            ),
        )
        .args(["typed"])
        .run();
    assert_eq!(out.read("argc.txt"), "1");
    assert!(!out.project().join("pwned").exists());
}

#[test]
fn a_missing_field_fails_the_step_as_undefined_variable() {
    let out = Test::new()
        .write("review.json", REVIEW)
        .write(
            &wf("typed"),
            typed("  - id: use\n    command: echo {{review.nope}}\n"),
        )
        .args(["typed"])
        .status(1)
        .stderr_contains("failed: \"review.nope\" has no value: \"review\" has no field \"nope\"")
        .run();
    let run = only_run(out.tempdir.path());
    assert_eq!(run.state()["last_failure"]["class"], "undefined_variable");
}

#[test]
fn a_json_capture_keeps_its_type_across_resume() {
    let first = Test::new()
        .write("review.json", REVIEW)
        .write(
            &wf("typed"),
            typed("  - id: gate\n    command: test -f go\n  - id: use\n    command: printf '%s %s' {{review.issues.0}} \"$AR_REVIEW\" > used.txt\n"),
        )
        .args(["typed"])
        .status(1)
        .run();
    let run = only_run(first.tempdir.path());
    assert_eq!(run.state()["format_version"], 2);
    // The file the capture came from is gone: only state.json can give it back.
    std::fs::remove_file(first.project().join("review.json")).unwrap();
    std::fs::write(first.project().join("go"), "").unwrap();
    let out = first.then().args(["--resume"]).run();
    assert_eq!(
        out.read("used.txt"),
        r#"it's "quoted" {"verdict":"pass","issues":["it's \"quoted\"","$(touch pwned)"],"n":3}"#
    );
    assert_eq!(runs(out.tempdir.path()).len(), 1);
}

#[test]
fn a_run_without_second_release_fields_stays_format_1() {
    let out = Test::new()
        .write(
            &wf("plain"),
            "name: plain\nsteps:\n  - id: a\n    command: |\n      echo '{\"a\": 1}'\n    capture: a\n",
        )
        .args(["plain"])
        .run();
    let run = only_run(out.tempdir.path());
    assert_eq!(run.state()["format_version"], 1);
    assert_eq!(run.state()["scope"]["captures"]["a"], r#"{"a": 1}"#);
}

#[test]
fn a_typed_capture_in_a_sub_workflow_makes_the_running_state_format_2() {
    let out = Test::new()
        .write(
            &wf("outer"),
            "name: outer\nsteps:\n  - id: call\n    workflow: inner.yaml\n",
        )
        .write(
            ".agent-runner/workflows/inner.yaml",
            "name: inner\nsteps:\n  - id: n\n    command: echo 7\n    output: json\n    capture: n\n  - id: peek\n    command: tail -n 1 \"$AGENT_RUNNER_RUN_DIR/journal.jsonl\" > during.json\n",
        )
        .args(["outer"])
        .run();
    let during: serde_json::Value = serde_json::from_str(&out.read("during.json")).unwrap();
    assert_eq!(during["format_version"], 2);
    assert_eq!(
        during["position"]["sub_workflow"]["scope"]["captures"]["n"],
        json!({"json": 7})
    );
    // The sub-workflow's scope is gone at the end: nothing of the second release is left.
    assert_eq!(only_run(out.tempdir.path()).state()["format_version"], 1);
}

#[test]
fn stdout_that_is_not_json_fails_with_output_invalid() {
    let out = Test::new()
        .write(
            &wf("bad"),
            "name: bad\nsteps:\n  - id: n\n    command: echo '<none>'\n    output: json\n    capture: n\n",
        )
        .args(["bad"])
        .status(1)
        .stderr_contains("failed: stdout is not a JSON value: expected value at line 1 column 1")
        .run();
    let run = only_run(out.tempdir.path());
    let state = run.state();
    assert_eq!(state["last_failure"]["class"], "output_invalid");
    assert_eq!(state["scope"]["captures"], json!({}));
    assert_eq!(state["format_version"], 1);
}

#[test]
fn a_schema_failure_names_every_error_by_its_json_pointer() {
    let out = Test::new()
        .write(
            "review.json",
            r#"{"verdict": "maybe", "issues": [1, "ok"]}"#,
        )
        .write(
            &wf("checked"),
            r#"name: checked
steps:
  - id: review
    command: cat review.json
    output:
      schema:
        type: object
        required: [verdict, issues, summary]
        properties:
          verdict: { enum: [pass, fail] }
          issues: { type: array, items: { type: string } }
    capture: review
"#,
        )
        .args(["checked"])
        .status(1)
        .run();
    let line = crate::test::line_starting(&out.stderr, "  failed: stdout does not match");
    for part in [
        "(root): \"summary\" is a required property",
        "/verdict: \"maybe\" is not one of",
        "/issues/0: 1 is not of type \"string\"",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    let state = only_run(out.tempdir.path()).state();
    assert_eq!(state["last_failure"]["class"], "output_invalid");
}

#[test]
fn a_schema_file_is_read_relative_to_the_workflow_and_a_failed_command_keeps_its_class() {
    let out = Test::new()
        .write(
            ".agent-runner/workflows/schemas/count.json",
            r#"{"type": "integer", "minimum": 1}"#,
        )
        .write(
            &wf("counted"),
            r#"name: counted
steps:
  - id: ok
    command: echo 4
    output: { schema_file: schemas/count.json }
    capture: n
  - id: broken
    command: echo 0; exit 3
    output: { schema_file: schemas/count.json }
    capture: m
    continue_on_failure: true
  - id: use
    command: echo "n={{n}}" > n.txt
"#,
        )
        .args(["counted"])
        .run();
    assert_eq!(out.read("n.txt"), "n=4\n");
    let run = only_run(out.tempdir.path());
    let ends = run.events_named("step_end");
    assert_eq!(ends[1]["data"]["error"]["class"], "exit_status");
    assert_eq!(run.state()["scope"]["captures"].get("m"), None);
}

/// `--dry-run` cannot know a JSON capture's fields: `{{review.verdict}}` shows as itself, quoted
/// like any other value in a command, and the rest of the template still renders.
#[test]
fn dry_run_shows_the_fields_of_a_json_capture_as_placeholders() {
    let out = Test::new()
        .write(
            &wf("plan"),
            r#"name: plan
params: [{name: who, default: Ann}]
steps:
  - id: review
    mode: headless
    prompt: Review it.
    output:
      schema: {type: object, properties: {verdict: {enum: [pass, fail]}, issues: {type: array}}}
    capture: review
  - id: rounds
    loop: {max: 2, as_index: i}
    steps:
      - id: fix
        mode: headless
        prompt: "{{who}}: {{review.verdict}}, first {{review.issues.0}}"
        break_if: review.verdict == "pass"
  - id: report
    command: echo {{who}} {{review.verdict}} {{review.issues.0}} {{review}}
"#,
        )
        .args(["--dry-run", "plan"])
        .stderr("")
        .run();
    insta::assert_snapshot!(out.stdout);
    let out = out.then().args(["--dry-run", "--json", "plan"]).run();
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        plan["steps"][1]["steps"][0]["break_if"],
        "review.verdict == \"pass\""
    );
}
