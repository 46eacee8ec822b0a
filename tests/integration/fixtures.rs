//! Fixture tests: one test per file in `tests/fixtures/invalid/` (its diagnostics snapshotted
//! with insta) and every file in `tests/fixtures/valid/` validating cleanly.
//!
//! All fixtures are copied into the project's `.agent-runner/workflows/` (keeping their folders),
//! next to `tests/fixtures/sub/` (sub-workflows the fixtures call), with a configuration that
//! declares the profile `lead`.

use std::path::Path;

use crate::test::Test;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A project holding every fixture.
fn project() -> Test {
    let mut test = Test::new().write(
        ".agent-runner/config.yaml",
        "profiles:\n  lead: {cli: claude, model: opus}\n",
    );
    for dir in ["invalid", "valid", "sub"] {
        let mut entries: Vec<_> = std::fs::read_dir(Path::new(FIXTURES).join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            test = test.write(
                &format!(".agent-runner/workflows/{dir}/{name}"),
                std::fs::read(&path).unwrap(),
            );
        }
    }
    test
}

/// Validates one invalid fixture and snapshots what the user sees.
fn invalid(name: &str) {
    let output = project()
        .args([
            "--validate",
            &format!(".agent-runner/workflows/invalid/{name}.yaml"),
        ])
        .status(3)
        .stdout("")
        .run();
    insta::assert_snapshot!(name, output.stderr);
}

macro_rules! invalid_fixtures {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                invalid($file);
            }
        )*

        /// Every file in `tests/fixtures/invalid/` has its own test above.
        #[test]
        fn every_invalid_fixture_has_a_test() {
            let listed = [$($file),*];
            for entry in std::fs::read_dir(Path::new(FIXTURES).join("invalid")).unwrap() {
                let path = entry.unwrap().path();
                let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
                assert!(listed.contains(&stem.as_str()), "no test for fixture {stem}");
            }
        }
    };
}

invalid_fixtures! {
    ambiguous_kind => "ambiguous-kind",
    break_if_outside_loop => "break-if-outside-loop",
    break_if_parallel => "break-if-parallel",
    capture_stderr => "capture-stderr",
    comments_only => "comments-only",
    duplicate_id => "duplicate-id",
    duplicate_key => "duplicate-key",
    duplicate_param => "duplicate-param",
    duplicate_session => "duplicate-session",
    duration => "duration",
    empty_file => "empty-file",
    empty_steps => "empty-steps",
    empty_value => "empty-value",
    engine_missing_type => "engine-missing-type",
    engine_option => "engine-option",
    engine_unknown => "engine-unknown",
    field_not_allowed => "field-not-allowed",
    huge_integer => "huge-integer",
    invalid_id => "invalid-id",
    invalid_identifier => "invalid-identifier",
    invalid_mode => "invalid-mode",
    interactive_in_parallel => "interactive-in-parallel",
    invalid_value => "invalid-value",
    list_document => "list-document",
    loop_index => "loop-index",
    idle_timeout_interactive => "idle-timeout-interactive",
    output_kind => "output-kind",
    output_schema => "output-schema",
    retry_attempts => "retry-attempts",
    retry_class => "retry-class",
    retry_kind => "retry-kind",
    loop_max => "loop-max",
    loop_no_steps => "loop-no-steps",
    loop_shape => "loop-shape",
    missing_id => "missing-id",
    missing_key => "missing-key",
    mode_mismatch => "mode-mismatch",
    multiple_documents => "multiple-documents",
    name_multiline => "name-multiline",
    no_kind => "no-kind",
    non_utf8 => "non-utf8",
    parallel_capture_conflict => "parallel-capture-conflict",
    parallel_capture_race => "parallel-capture-race",
    parallel_iteration_capture => "parallel-iteration-capture",
    parallel_session_conflict => "parallel-session-conflict",
    reserved_name => "reserved-name",
    reserved_session => "reserved-session",
    scalar_document => "scalar-document",
    session_conflict => "session-conflict",
    session_pinned => "session-pinned",
    session_undeclared => "session-undeclared",
    single_quoted_var => "single-quoted-var",
    skip_if => "skip-if",
    skip_if_first => "skip-if-first",
    step_not_a_mapping => "step-not-a-mapping",
    sub_workflow_cycle => "sub-workflow-cycle",
    sub_workflow_invalid => "sub-workflow-invalid",
    sub_workflow_missing => "sub-workflow-missing",
    sub_workflow_param => "sub-workflow-param",
    tabs => "tabs",
    template_syntax => "template-syntax",
    undefined_variable => "undefined-variable",
    unknown_cli => "unknown-cli",
    unsafe_shell_context => "unsafe-shell-context",
    when_syntax => "when-syntax",
    unknown_helper => "unknown-helper",
    unknown_key => "unknown-key",
    unknown_profile => "unknown-profile",
    warnings_with_error => "warnings-with-error",
    worktree_kind => "worktree-kind",
    nested_worktree => "nested-worktree",
    wrong_types => "wrong-types",
    yaml_syntax => "yaml-syntax",
}

#[test]
fn valid_fixtures_validate() {
    let mut entries: Vec<_> = std::fs::read_dir(Path::new(FIXTURES).join("valid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        project()
            .args([
                "--validate",
                &format!(".agent-runner/workflows/valid/{name}"),
            ])
            .stderr("")
            .stdout_contains(&format!("ok: .agent-runner/workflows/valid/{name} ("))
            .run();
    }
}

/// Validates a generated file and snapshots the diagnostics.
fn generated(snapshot: &str, file: &str, text: String) {
    let output = Test::new()
        .write(file, text)
        .args(["--validate", file])
        .status(3)
        .run();
    insta::assert_snapshot!(snapshot, output.stderr);
}

#[test]
fn steps_nested_200_levels_deep() {
    let mut text = String::from("name: deep\nsteps:\n");
    for level in 0..200 {
        let indent = "  ".repeat(level * 2);
        text.push_str(&format!("{indent}  - id: s{level}\n{indent}    steps:\n"));
    }
    text.push_str(&format!(
        "{}  - {{id: leaf, command: ls}}\n",
        "  ".repeat(400)
    ));
    generated("nested-200", "deep.yaml", text);
}

#[test]
fn five_megabyte_file() {
    let mut text = String::from("name: big\nsteps:\n");
    let mut i = 0;
    while text.len() < 5 * 1024 * 1024 {
        text.push_str(&format!("  - {{id: s{i}, command: echo {i}}}\n"));
        i += 1;
    }
    generated("five-megabytes", "big.yaml", text);
}

#[test]
fn a_directory_is_a_read_error() {
    let output = Test::new()
        .write("dir.yaml/x", "")
        .args(["--validate", "dir.yaml"])
        .status(3)
        .run();
    insta::assert_snapshot!("read-error", output.stderr);
}
