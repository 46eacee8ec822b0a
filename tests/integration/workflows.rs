//! `workflows` and `schema`.

use crate::test::Test;

#[test]
fn lists_project_user_and_builtin_with_shadowing() {
    let out = Test::new()
        .write(
            ".agent-runner/workflows/core/run-validator.yaml",
            "name: mine\ndescription: My checks\nsteps: [{id: a, command: ls}]\n",
        )
        .write(".agent-runner/workflows/broken.yaml", "name: [\n")
        .write_user(
            "workflows/tidy.yml",
            "name: tidy\nsteps: [{id: a, command: ls}]\n",
        )
        .args(["workflows"])
        .run();
    // Other built-ins come and go (and widen the columns); these rows, in this order, are what
    // this test is about. Runs of column padding are compared as two spaces.
    let normalized: Vec<String> = out
        .stdout
        .lines()
        .map(|line| {
            line.split("  ")
                .filter(|cell| !cell.is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("  ")
        })
        .collect();
    let expected = [
        "NAME  SOURCE  DESCRIPTION",
        "broken  project  (invalid: see agent-runner --validate .agent-runner/workflows/broken.yaml)",
        "core/run-validator  project  My checks",
        "core/run-validator  builtin (shadowed)  Run the project's checks; let an agent fix failures; retry",
        "tidy  user",
    ];
    let mut rows = normalized.iter();
    for row in expected {
        assert!(
            rows.any(|line| line == row),
            "no row {row:?} (in order) in:\n{}",
            out.stdout
        );
    }
}

#[test]
fn workflows_json() {
    Test::new()
        .write(
            ".agent-runner/workflows/fix.yaml",
            "name: fix\nparams: [change, {name: base, default: main}]\nsteps: [{id: a, command: ls}]\n",
        )
        .args(["workflows", "--json"])
        .stdout_contains(r#"{"format_version":1,"workflows":[{"name":"#)
        .stdout_contains(r#"{"name":"core/run-validator","source":"builtin","path":"builtin:core/run-validator","#)
        .stdout_contains(r#"{"name":"fix","source":"project","path":".agent-runner/workflows/fix.yaml","description":"","params":[{"name":"change","required":true,"default":null},{"name":"base","required":false,"default":"main"}],"shadowed":false}"#)
        .run();
}

#[test]
fn schema_prints_the_committed_file() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/workflow.schema.json"
    ))
    .unwrap();
    Test::new().args(["schema"]).stdout(&committed).run();
}
