//! What `--validate` says about files with several problems: every finding at the step it is
//! in, and a summary that counts each finding and file once.

use crate::test::Test;

#[test]
fn a_duplicate_key_names_its_step_and_hides_no_other_error() {
    Test::new()
        .write(
            ".agent-runner/workflows/dup.yaml",
            "name: dup\nsteps:\n  - id: a\n    command: ls\n  - id: g\n    steps:\n      - id: inner\n        command: ls\n        command: pwd\n  - id: c\n    comand: ls\n",
        )
        .args(["--validate", "dup"])
        .status(3)
        .stderr(
            ".agent-runner/workflows/dup.yaml:9:9: error[duplicate-key]: steps[1].steps[0] (id \"inner\"): duplicate key \"command\"\n  \
             help: a key may appear once in a mapping; keep one \"command\" and remove the other\n\
             .agent-runner/workflows/dup.yaml:11:5: error[unknown-key]: steps[2] (id \"c\"): unknown key \"comand\" (did you mean \"command\"?)\n\
             agent-runner: validation failed: 2 error(s), 0 warning(s) in 1 file(s)\n",
        )
        .run();
}

#[test]
fn a_duplicate_key_in_a_file_with_aliases_is_still_located() {
    Test::new()
        .write(
            ".agent-runner/workflows/dup.yaml",
            "name: dup\nx: &cmd ls\nsteps:\n  - id: a\n    command: *cmd\n    command: pwd\n",
        )
        .args(["--validate", "dup"])
        .status(3)
        .stderr_contains(
            "dup.yaml:6:5: error[duplicate-key]: steps[0] (id \"a\"): duplicate key \"command\"",
        )
        .run();
}

#[test]
fn validate_summary_counts_only_the_files_with_findings() {
    // Clean files checked alongside (a good target and its sub-workflow) are not "in" the
    // failure; a target that does not exist is one file.
    Test::new()
        .write(
            ".agent-runner/workflows/good.yaml",
            "name: good\nsteps:\n  - {id: a, workflow: sub.yaml}\n",
        )
        .write(
            ".agent-runner/workflows/sub.yaml",
            "name: sub\nsteps:\n  - {id: a, command: ls}\n",
        )
        .write(
            ".agent-runner/workflows/bad.yaml",
            "name: bad\nsteps:\n  - {id: a, comand: ls}\n",
        )
        .args(["--validate", "good", "bad", "missing"])
        .status(3)
        .stdout("ok: good (2 files checked)\n")
        .stderr_contains("validation failed: 2 error(s), 0 warning(s) in 2 file(s)\n")
        .run();
}

#[test]
fn a_value_in_arithmetic_or_backticks_is_refused_before_anything_runs() {
    // Each form ran the value as a command when the quoting scanner misread it.
    for command in [
        "echo \"$(( {{n}} + 1 ))\"",
        "echo \"`echo \\\"{{n}}\\\"`\"",
        "echo \"${{n}}\"",
    ] {
        let output = Test::new()
            .write(
                ".agent-runner/workflows/calc.yaml",
                format!(
                    "name: calc\nparams: [n]\nsteps:\n  - id: first\n    command: touch started\n  - id: calc\n    command: '{}'\n",
                    command.replace('\'', "''")
                ),
            )
            .args(["calc", "n=(touch pwned)$(touch pwned)"])
            .status(3)
            .stderr_contains("error[unsafe-shell-context]: steps[1] (id \"calc\"): cannot safely insert {{n}}")
            .stderr_contains("\"$AR_N\"")
            .run();
        assert!(!output.project().join("pwned").exists(), "{command}");
        assert!(!output.project().join("started").exists(), "{command}");
    }
}

#[test]
fn a_tab_in_the_indentation_is_called_a_tab() {
    Test::new()
        .write(
            ".agent-runner/workflows/tabs.yaml",
            "name: tabs\nsteps:\n  - id: a\n\tcommand: ls\n",
        )
        .args(["--validate", "tabs"])
        .status(3)
        .stderr_contains(
            "tabs.yaml:4:1: error[yaml-syntax]: top level: invalid YAML: a tab character here; YAML is indented with spaces, not tabs",
        )
        .run();
}

#[test]
fn an_unknown_cli_written_as_its_product_name_gets_a_did_you_mean() {
    Test::new()
        .write(
            ".agent-runner/workflows/clis.yaml",
            "name: clis\nsteps:\n  - {id: a, prompt: hi, cli: claude-code}\n  - {id: b, prompt: hi, cli: gemini-cli}\n",
        )
        .args(["--validate", "clis"])
        .status(3)
        .stderr_contains("unknown cli \"claude-code\" (did you mean \"claude\"?)")
        .stderr_contains("unknown cli \"gemini-cli\" (did you mean \"gemini\"?)")
        .run();
}

/// codex's `--output-schema` is strict: a codex step whose schema leaves an object open or a
/// property optional gets a warning at the schema, with the fix; other CLIs' steps do not.
#[test]
fn a_codex_schema_that_is_not_strict_is_warned_about_at_the_schema() {
    Test::new()
        .write(
            ".agent-runner/workflows/r.yaml",
            "name: r\nsessions: [{name: con, cli: codex}]\nsteps:\n  - id: review\n    mode: headless\n    cli: codex\n    prompt: Review.\n    output:\n      schema:\n        type: object\n        required: [verdict]\n        properties:\n          verdict: { enum: [pass, fail] }\n          issues: { type: array, items: { type: string } }\n  - id: again\n    mode: headless\n    session: con\n    prompt: Again.\n    output:\n      schema: {type: object, additionalProperties: false, required: [a], properties: {a: {type: object, additionalProperties: false, properties: {b: {type: string}}}}}\n  - id: strict\n    mode: headless\n    cli: codex\n    prompt: Strict.\n    output:\n      schema: {type: object, additionalProperties: false, required: [a], properties: {a: {type: string}}}\n  - id: claude\n    mode: headless\n    cli: claude\n    prompt: Open.\n    output:\n      schema: {type: object, properties: {a: {type: string}}}\n",
        )
        .args(["--validate", "r"])
        .stdout("ok: r (1 file checked)\n")
        .stderr(
            ".agent-runner/workflows/r.yaml:9:7: warning[codex-schema]: steps[0] (id \"review\"): codex's --output-schema is strict and refuses this schema: at its root, \"additionalProperties\" must be false (and 1 more)\n  \
             help: in every object of the schema, set \"additionalProperties: false\" and list every property in \"required\" (make a field optional by allowing null in its type)\n\
             .agent-runner/workflows/r.yaml:20:7: warning[codex-schema]: steps[1] (id \"again\"): codex's --output-schema is strict and refuses this schema: at /properties/a, \"required\" must list every property; missing: b\n  \
             help: in every object of the schema, set \"additionalProperties: false\" and list every property in \"required\" (make a field optional by allowing null in its type)\n",
        )
        .run();
}
