//! Projects written for the Go agent-runner (compat-go.md), through the real binary: the fixtures
//! in `tests/fixtures/go/` (README-era and later Go formats) run unchanged with every agent step
//! in the mode the Go tool gave it, and `agent-runner migrate` turns them into the native format
//! without changing how the agents are invoked.

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::test::{ALL_CLIS, Output, Test};

const DEPRECATION: &str =
    "default_mode is deprecated; set mode: on the steps (agent-runner migrate does it)";

/// A test whose project is a copy of `tests/fixtures/go/<name>/`, with every fake CLI on PATH.
pub fn go_project(name: &str) -> Test {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/go")
        .join(name);
    let mut test = Test::new().fake_clis(ALL_CLIS);
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(&root).unwrap().display().to_string();
                test = test.write(&rel, std::fs::read(&path).unwrap());
            }
        }
    }
    test
}

/// The value after `flag` in `argv`.
fn flag(argv: &[String], name: &str) -> Option<String> {
    argv.iter()
        .position(|a| a == name)
        .map(|i| argv[i + 1].clone())
}

/// (cli, mode, model, effort) of each agent turn, from the fake's argv log.
pub fn turn_settings(turns: &[Value]) -> Vec<(String, String, Option<String>, Option<String>)> {
    turns
        .iter()
        .map(|t| {
            let argv: Vec<String> = t["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            (
                t["cli"].as_str().unwrap().to_owned(),
                t["mode"].as_str().unwrap().to_owned(),
                flag(&argv, "--model"),
                flag(&argv, "--effort"),
            )
        })
        .collect()
}

fn setting(
    cli: &str,
    mode: &str,
    model: Option<&str>,
    effort: Option<&str>,
) -> (String, String, Option<String>, Option<String>) {
    (
        cli.to_owned(),
        mode.to_owned(),
        model.map(str::to_owned),
        effort.map(str::to_owned),
    )
}

/// Each turn's argv with the session ids of `turns` and run ids replaced by placeholders.
fn argvs_without_sessions(turns: &[Value]) -> Vec<Vec<String>> {
    let ids: Vec<String> = turns
        .iter()
        .filter_map(|t| t["session_id"].as_str().map(str::to_owned))
        .collect();
    let run_id = regex::Regex::new(r"-\d{8}-\d{6}-[0-9a-f]{4}").unwrap();
    turns
        .iter()
        .map(|t| {
            t["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    let mut a = a.as_str().unwrap().to_owned();
                    for id in &ids {
                        a = a.replace(id.as_str(), "<session>");
                    }
                    run_id.replace_all(&a, "-<run>").into_owned()
                })
                .collect()
        })
        .collect()
}

fn readme_era_run() -> Test {
    go_project("readme-era")
        .write("changes/add-login/tasks/1-form.md", "Add the login form.\n")
        .write(
            "changes/add-login/tasks/2-session.md",
            "Keep the session.\n",
        )
        .args(["implement-change", "add-login"])
}

/// The README-era run: two tasks, each implement (implementor), leftovers (resumed), summary
/// (summarizer); then finalize (implementor). All headless, as under the Go tool.
fn expected_readme_era_turns() -> Vec<(String, String, Option<String>, Option<String>)> {
    let implementor = setting("claude", "headless", Some("sonnet"), Some("high"));
    let summarizer = setting("claude", "headless", Some("haiku"), Some("low"));
    vec![
        implementor.clone(),
        implementor.clone(),
        summarizer.clone(),
        implementor.clone(),
        implementor.clone(),
        summarizer,
        implementor,
    ]
}

#[test]
fn a_readme_era_go_project_runs_unchanged_and_every_agent_step_keeps_its_go_mode() {
    let out = readme_era_run().run();
    assert_eq!(turn_settings(&out.turns()), expected_readme_era_turns());
    // Headless turns get `-p`, never a terminal: the unattended per-task loop does not stop.
    for argv in out.turn_argvs() {
        assert!(argv.contains(&"-p".to_owned()), "{argv:?}");
    }
    assert_eq!(out.stderr.matches(DEPRECATION).count(), 1, "{}", out.stderr);
    assert_eq!(out.read("implemented.txt"), "add-login implemented\n");
}

#[test]
fn profile_modes_carry_over_to_resumed_steps_in_the_plan() {
    let out = go_project("readme-era")
        .args(["--dry-run", "plan-change", "x"])
        .run();
    let modes: Vec<(&str, &str)> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?, words.next()?))
        })
        .filter(|(id, _)| ["proposal", "refine", "tasks", "review-tasks"].contains(id))
        .collect();
    assert_eq!(
        modes,
        [
            ("proposal", "interactive"),
            ("refine", "interactive"),
            ("tasks", "headless"),
            ("review-tasks", "headless"),
        ]
    );
}

#[test]
fn migrate_prints_a_diff_then_writes_with_backups_and_the_agents_run_exactly_as_before() {
    let before = readme_era_run().run();
    let first = before.turns();
    let config = before.read(".agent-runner/config.yaml");
    let task = before.read(".agent-runner/workflows/implement-task.yaml");

    // Without --write: a unified diff on stdout, nothing changed.
    let diff = before.again().arg("migrate").run();
    for line in [
        "--- a/.agent-runner/workflows/implement-task.yaml",
        "+    mode: headless\n",
        "-    default_mode: headless\n",
    ] {
        assert!(diff.stdout.contains(line), "{line:?} in:\n{}", diff.stdout);
    }
    assert_eq!(diff.read(".agent-runner/config.yaml"), config);
    assert!(
        !diff
            .project()
            .join(".agent-runner/config.yaml.bak")
            .exists()
    );

    // --write: each changed file keeps a .bak of what it was.
    let written = diff.again().args(["migrate", "--write"]).run();
    assert_eq!(written.read(".agent-runner/config.yaml.bak"), config);
    assert_eq!(
        written.read(".agent-runner/workflows/implement-task.yaml.bak"),
        task
    );
    let migrated = written.read(".agent-runner/workflows/implement-task.yaml");
    assert!(
        migrated.contains("  - id: generate-code\n    mode: headless\n"),
        "{migrated}"
    );
    assert!(
        !written
            .read(".agent-runner/config.yaml")
            .contains("default_mode")
    );

    // Clean validation, no deprecation warning; a second migrate has nothing to do.
    let valid = written.again().arg("--validate").run();
    assert!(!valid.stderr.contains("deprecated"), "{}", valid.stderr);
    assert!(!valid.stderr.contains("warning"), "{}", valid.stderr);
    let again = valid.again().arg("migrate").stdout("").run();
    assert!(
        again.stderr.contains("nothing to migrate"),
        "{}",
        again.stderr
    );

    // The run after migration invokes the agents exactly as before.
    let after = again
        .again()
        .write("changes/add-login/tasks/1-form.md", "Add the login form.\n")
        .args(["implement-change", "add-login"])
        .run();
    assert!(!after.stderr.contains("deprecated"), "{}", after.stderr);
    let all = after.turns();
    let second = &all[first.len()..];
    assert_eq!(turn_settings(second), turn_settings(&first));
    assert_eq!(
        argvs_without_sessions(second),
        argvs_without_sessions(&first)
    );
}

fn later_run(out: Test) -> Output {
    out.args(["review-change-v2.0", "change_name=login"]).run()
}

#[test]
fn a_later_go_project_runs_with_profile_sets_named_sessions_and_aliases() {
    let out = later_run(go_project("later"));
    assert_eq!(
        turn_settings(&out.turns()),
        [
            // crosscheck-agent: the active set's fast_reviewer, extending the implicit crosscheck.
            setting("claude", "headless", Some("sonnet"), Some("medium")),
            // fix-agent: cursor_worker, `default_mode: autonomous`, `cli: cursor`.
            setting("cursor-agent", "headless", Some("auto"), None),
            // `session: resume` with `mode: autonomous` continues the cursor session.
            setting("cursor-agent", "headless", Some("auto"), None),
            // The implicit tester profile.
            setting("claude", "headless", Some("sonnet"), Some("high")),
            // The named session again: resumed.
            setting("claude", "headless", Some("sonnet"), Some("medium")),
        ]
    );
    assert_eq!(out.turn_session(0), out.turn_session(4));
    assert_eq!(out.turn_session(1), out.turn_session(2));
    assert_eq!(out.stderr.matches(DEPRECATION).count(), 1, "{}", out.stderr);
}

#[test]
fn a_later_go_project_migrates_to_a_native_one_that_runs_the_same() {
    let before = later_run(go_project("later"));
    let first = before.turns();
    let written = before.again().args(["migrate", "--write"]).run();
    let config = written.read(".agent-runner/config.yaml");
    for gone in [
        "active_profile",
        "agents:",
        "default_mode",
        "cursor\n",
        "solo",
    ] {
        assert!(!config.contains(gone), "{gone:?} in\n{config}");
    }
    for kept in [
        "  fast_reviewer:\n    extends: crosscheck\n",
        "  cursor_worker:\n    cli: cursor-agent\n",
        "  crosscheck:\n",
    ] {
        assert!(config.contains(kept), "{kept:?} not in\n{config}");
    }
    let workflow = written.read(".agent-runner/workflows/review-change-v2.0.yaml");
    assert!(
        workflow.contains("    mode: headless\n    prompt: \"Check your fix once more.\""),
        "{workflow}"
    );
    let valid = written.again().arg("--validate").run();
    assert!(!valid.stderr.contains("warning"), "{}", valid.stderr);
    let after = later_run(valid.again());
    let second = &after.turns()[first.len()..];
    assert_eq!(turn_settings(second), turn_settings(&first));
    assert_eq!(
        argvs_without_sessions(second),
        argvs_without_sessions(&first)
    );
}

#[test]
fn migrate_reports_what_it_cannot_convert_and_rewrites_removed_builtin_calls() {
    let out = go_project("readme-era")
        .workflow(
            "setup",
            "name: setup\nsteps:\n  - id: pick\n    mode: ui\n    title: Pick\n    actions: [{label: Go, outcome: continue}]\n  - {id: plan, workflow: \"openspec:plan-change\", params: {change_name: x}}\n",
        )
        .args(["migrate", "--write"])
        .status(3)
        .run();
    assert!(
        out.stderr
            .contains("error[go-only-feature]: steps[0] (id \"pick\"): \"mode: ui\""),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("1 Go-only construct(s) need a change by hand; see docs/migrating.md"),
        "{}",
        out.stderr
    );
    let setup = out.read(".agent-runner/workflows/setup.yaml");
    assert!(setup.contains("workflow: \"flokay\""), "{setup}");
    assert!(setup.contains("mode: ui"), "{setup}");
    out.then()
        .args(["migrate", "no-such-dir"])
        .status(2)
        .stderr_contains("no such directory: no-such-dir")
        .run();
}
