//! Structured outputs on headless agent steps (control.md §7) through the real binary, with
//! `fake-agent` answering JSON: claude's `--json-schema` and codex's `--output-schema`, prompt
//! framing and extraction for the other CLIs, the one repair turn in the same session, and
//! `output_invalid` with JSON pointers.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::test::{Test, agent_workflow, line_starting};

const SCHEMA: &str = "      schema:
        type: object
        required: [verdict, issues]
        properties:
          verdict: { enum: [pass, fail] }
          issues: { type: array, items: { type: string } }
";

const SCHEMA_JSON: &str = r#"{"type":"object","required":["verdict","issues"],"properties":{"verdict":{"enum":["pass","fail"]},"issues":{"type":"array","items":{"type":"string"}}}}"#;

const REPAIR: &str = "Your answer did not match the required JSON schema: /verdict: \"maybe\" is not one of \"pass\" or \"fail\". Reply with only the corrected JSON.";

/// A review step on `cli` with the schema above, then a shell step that uses the capture.
fn review(cli: &str) -> Test {
    agent_workflow(&format!(
        "name: w\nsteps:\n  - id: review\n    mode: headless\n    cli: {cli}\n    prompt: Review the diff.\n    output:\n{SCHEMA}    capture: review\n  - id: use\n    command: printf '%s %s' {{{{review.verdict}}}} \"$AR_REVIEW\" > used.txt\n"
    ))
}

fn arg_after<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    let at = argv.iter().position(|a| a == flag)?;
    argv.get(at + 1).map(String::as_str)
}

#[test]
fn claude_gets_the_schema_with_json_schema_and_answers_in_structured_output() {
    let out = review("claude")
        .fake_script("- [{json: {verdict: pass, issues: [\"a b\"]}}]\n")
        .run();
    let argvs = out.turn_argvs();
    assert_eq!(argvs.len(), 1);
    assert_eq!(arg_after(&argvs[0], "--json-schema"), Some(SCHEMA_JSON));
    // The native option replaces the framing: the prompt is the step's own.
    assert_eq!(
        argvs[0].last().map(String::as_str),
        Some("Review the diff.")
    );
    assert_eq!(
        out.read("used.txt"),
        r#"pass {"verdict":"pass","issues":["a b"]}"#
    );
    let state = out.state();
    assert_eq!(
        state["scope"]["captures"]["review"],
        json!({"json": {"verdict": "pass", "issues": ["a b"]}})
    );
    assert_eq!(state["format_version"], 2);
}

#[test]
fn codex_gets_the_schema_as_an_output_schema_file() {
    let out = review("codex")
        .fake_script("- [{json: {verdict: fail, issues: []}}]\n")
        .run();
    let argv = &out.turn_argvs()[0];
    let file = arg_after(argv, "--output-schema").expect("--output-schema FILE");
    assert!(file.ends_with(".schema.json"), "{file}");
    assert_eq!(std::fs::read_to_string(file).unwrap(), SCHEMA_JSON);
    assert!(file.starts_with(&out.run_dir().join("output").display().to_string()));
    assert_eq!(
        out.read("used.txt"),
        r#"fail {"verdict":"fail","issues":[]}"#
    );
}

#[test]
fn other_clis_are_asked_in_the_prompt_and_the_last_json_block_is_taken() {
    for cli in ["copilot", "cursor-agent", "opencode", "gemini"] {
        let out = review(cli)
            .fake_script("- [{json: {verdict: pass, issues: []}}]\n")
            .run();
        let argv = &out.turn_argvs()[0];
        assert!(
            !argv
                .iter()
                .any(|a| a.contains("--json-schema") || a == "--output-schema")
        );
        let prompt = argv
            .iter()
            .find(|a| a.contains("Review the diff."))
            .unwrap_or_else(|| panic!("{cli}: no prompt in {argv:?}"));
        assert!(
            prompt.contains("Answer with one JSON value that matches this JSON Schema:\n```json\n{\n  \"type\": \"object\","),
            "{cli}: {prompt}"
        );
        assert!(
            prompt.ends_with("Put the value in a ```json block at the end of your answer."),
            "{cli}: {prompt}"
        );
        assert_eq!(
            out.read("used.txt"),
            r#"pass {"verdict":"pass","issues":[]}"#,
            "{cli}"
        );
    }
}

#[test]
fn output_json_without_a_schema_asks_for_any_json_value() {
    let out = agent_workflow(
        "name: w\nsteps:\n  - id: count\n    mode: headless\n    prompt: Count the files.\n    output: json\n    capture: n\n  - id: use\n    command: echo {{n}} > n.txt\n",
    )
    .fake_script("- [{json: 12}]\n")
    .run();
    let argv = &out.turn_argvs()[0];
    assert_eq!(arg_after(argv, "--json-schema"), None);
    assert_eq!(
        argv.last().map(String::as_str),
        Some(
            "Count the files.\n\nAnswer with one JSON value. Put it in a ```json block at the end of your answer."
        )
    );
    assert_eq!(out.read("n.txt"), "12\n");
}

#[test]
fn a_bad_answer_gets_one_repair_turn_in_the_same_session() {
    let out = review("claude")
        .fake_script(
            "- [{json: {verdict: maybe, issues: []}}]\n- [{json: {verdict: pass, issues: []}}]\n",
        )
        .stderr_contains(
            "  the answer does not match the output schema; asking again in the same session: /verdict: ",
        )
        .run();
    let argvs = out.turn_argvs();
    assert_eq!(argvs.len(), 2);
    let first_session = out.turn_session(0);
    assert_eq!(
        arg_after(&argvs[1], "--resume"),
        Some(first_session.as_str())
    );
    assert_eq!(arg_after(&argvs[1], "--json-schema"), Some(SCHEMA_JSON));
    assert_eq!(argvs[1].last().map(String::as_str), Some(REPAIR));
    assert_eq!(
        out.read("used.txt"),
        r#"pass {"verdict":"pass","issues":[]}"#
    );
    let repairs = out.events("output_repair");
    assert_eq!(repairs.len(), 1);
    assert_eq!(repairs[0]["path"], "review");
    assert_eq!(
        repairs[0]["data"]["errors"],
        json!([{"pointer": "/verdict", "message": "\"maybe\" is not one of \"pass\" or \"fail\""}])
    );
    // The repair is part of the attempt: one step_start and one step_end, with both turns' usage.
    let ends = out.events("step_end");
    assert_eq!(out.events("step_start").len(), 2);
    assert_eq!(ends[0]["data"]["outcome"], "success");
    assert_eq!(ends[0]["data"]["num_turns"], 4);
    let outputs: Vec<&str> = ends[0]["data"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        outputs
            .iter()
            .any(|o| o.ends_with("-review-repair.stream.jsonl")),
        "{outputs:?}"
    );
}

#[test]
fn an_answer_that_stays_invalid_fails_with_output_invalid_and_json_pointers() {
    let out = review("claude")
        .fake_script(
            "- [{json: {verdict: maybe, issues: [1]}}]\n- [{json: {verdict: maybe, issues: [1]}}]\n- [{json: {verdict: pass, issues: []}}]\n",
        )
        .status(1)
        .run();
    assert_eq!(out.turn_argvs().len(), 2, "exactly one repair turn");
    let line = line_starting(&out.stderr, "  failed: the final answer does not match");
    assert!(line.contains("/verdict: \"maybe\" is not one of"), "{line}");
    assert!(
        line.contains("/issues/0: 1 is not of type \"string\""),
        "{line}"
    );
    let state = out.state();
    assert_eq!(state["last_failure"]["class"], "output_invalid");
    assert_eq!(state["scope"]["captures"], json!({}));
}

#[test]
fn a_text_answer_without_json_is_repaired_on_a_cli_without_a_native_option() {
    let out = review("opencode")
        .fake_script("- [{text: \"Looks fine to me.\"}]\n- [{json: {verdict: pass, issues: []}}]\n")
        .run();
    let argvs = out.turn_argvs();
    assert_eq!(argvs.len(), 2);
    // opencode has no system-prompt flag: the framing comes first in the prompt argument.
    let repair = argvs[1].last().unwrap();
    assert!(
        repair.ends_with("\n\nYour answer did not match the required JSON schema: no JSON value found (expected a ```json block or a bare object or array). Reply with only the corrected JSON."),
        "{repair}"
    );
    assert_eq!(
        out.events("output_repair")[0]["data"]["errors"][0]["pointer"],
        ""
    );
    assert_eq!(
        out.read("used.txt"),
        r#"pass {"verdict":"pass","issues":[]}"#
    );
}

#[test]
fn claude_giving_up_on_the_schema_is_output_invalid() {
    let out = review("claude")
        .fake_script("- [{emit: structured_gave_up}]\n")
        .status(1)
        .stderr_contains("failed: claude could not give an answer that matches the output schema")
        .run();
    assert_eq!(out.turn_argvs().len(), 1);
    assert_eq!(out.state()["last_failure"]["class"], "output_invalid");
}

#[test]
fn output_is_refused_on_interactive_agent_steps_and_dotted_paths_on_text_captures() {
    Test::new()
        .workflow(
            "w",
            "name: w\nsteps:\n  - id: talk\n    mode: interactive\n    prompt: hi\n    output: json\n  - id: say\n    mode: headless\n    prompt: hi\n    capture: said\n  - id: use\n    command: echo {{said.text}}\n",
        )
        .args(["--validate", "w"])
        .status(3)
        .stderr_contains("error[output-kind]: steps[0] (id \"talk\"): \"output\" is not allowed on interactive steps")
        .stderr_contains("error[unknown-helper]: steps[2] (id \"use\"): \"said.text\" in \"command\" reads a field, but \"said\" is not a JSON capture")
        .run();
}
