//! The built-in workflows as files: each one passes `--validate` (with every sub-workflow it
//! calls), is listed by `workflows`, and prints the plan pinned in its `--dry-run` snapshot.
//! The snapshots are the reviewable record of every step, option and rendered prompt line.

use crate::test::Test;

/// Every built-in the spec defines (builtin-workflows.md), plus the demo and its report.
const BUILTINS: &[&str] = &[
    "flokay",
    "core/implement-task",
    "core/run-validator",
    "core/finalize-pr",
    "until-done",
    "autonomous",
    "debate",
    "pr-job",
    "parallel-tasks",
];

#[test]
fn every_builtin_passes_validate() {
    let mut args = vec!["--validate".to_string()];
    args.extend(BUILTINS.iter().map(|b| format!("builtin:{b}")));
    // The compatibility spelling of a namespaced built-in still resolves.
    args.push("core:finalize-pr".into());
    let mut test = Test::new();
    for arg in &args {
        test = test.arg(arg);
    }
    test.stdout(
        "ok: builtin:flokay (4 files checked)\n\
         ok: builtin:core/implement-task (2 files checked)\n\
         ok: builtin:core/run-validator (1 file checked)\n\
         ok: builtin:core/finalize-pr (1 file checked)\n\
         ok: builtin:until-done (1 file checked)\n\
         ok: builtin:autonomous (2 files checked)\n\
         ok: builtin:debate (1 file checked)\n\
         ok: builtin:pr-job (3 files checked)\n\
         ok: builtin:parallel-tasks (2 files checked)\n\
         ok: core:finalize-pr (1 file checked)\n",
    )
    .stderr("")
    .run();
}

#[test]
fn every_builtin_is_listed_with_its_description() {
    let out = Test::new().args(["workflows"]).run();
    for name in BUILTINS {
        let row = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} is not listed:\n{}", out.stdout));
        assert!(row.contains("builtin"), "{row}");
    }
}

/// A copied set keeps working: the built-ins call each other by relative paths, so the same
/// files validate from a project's `.agent-runner/workflows/`.
#[test]
fn a_copied_set_validates_on_disk() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/workflows");
    let mut test = Test::new();
    for name in BUILTINS {
        let text = std::fs::read_to_string(format!("{root}/{name}.yaml")).unwrap();
        test = test.write(&format!(".agent-runner/workflows/{name}.yaml"), text);
    }
    test.args(["--validate", "flokay", "pr-job", "autonomous"])
        .stdout(
            "ok: flokay (4 files checked)\nok: pr-job (3 files checked)\nok: autonomous (2 files checked)\n",
        )
        .run();
}

/// `--dry-run` of `workflow` with `params`, snapshotted under `name`.
fn dry_run(name: &str, workflow: &str, params: &[&str]) {
    let mut test = Test::new().args(["--dry-run", workflow]);
    for p in params {
        test = test.arg(p);
    }
    let out = test.stderr("").run();
    insta::assert_snapshot!(name, out.stdout);
}

#[test]
fn dry_run_flokay() {
    dry_run("builtin_flokay", "flokay", &["add-login"]);
}

#[test]
fn dry_run_implement_task() {
    dry_run(
        "builtin_implement_task",
        "core/implement-task",
        &["tasks.md", "context=See docs/design.md."],
    );
}

#[test]
fn dry_run_run_validator() {
    dry_run(
        "builtin_run_validator",
        "core/run-validator",
        &[
            "validate_command=make lint",
            "goal=Add a parser",
            "max_attempts=2",
        ],
    );
}

#[test]
fn dry_run_finalize_pr() {
    dry_run(
        "builtin_finalize_pr",
        "core:finalize-pr",
        &["title=Add login", "notes=Closes #12.", "draft=yes"],
    );
}

#[test]
fn dry_run_until_done() {
    dry_run(
        "builtin_until_done",
        "until-done",
        &["Translate the README"],
    );
}

#[test]
fn dry_run_autonomous() {
    dry_run(
        "builtin_autonomous",
        "autonomous",
        &["Add a CSV export", "max_cycles=4", "open_pr=yes"],
    );
}

#[test]
fn dry_run_debate() {
    dry_run(
        "builtin_debate",
        "debate",
        &[
            "Tabs or spaces?",
            "action=Apply the decision to .editorconfig",
        ],
    );
}

#[test]
fn dry_run_pr_job() {
    dry_run(
        "builtin_pr_job",
        "pr-job",
        &[
            "Fix the typo in the README",
            "branch=fix/typo",
            "validate_command=make check",
        ],
    );
}

#[test]
fn dry_run_parallel_tasks() {
    dry_run(
        "builtin_parallel_tasks",
        "parallel-tasks",
        &["add-login", "max_parallel=2", "validate_command=make check"],
    );
}
