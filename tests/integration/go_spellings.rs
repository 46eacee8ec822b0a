//! Go spellings, one by one, through the real binary (compat-go.md §2–§4): each alias does what
//! its native equivalent does, each later Go feature is refused with exactly one
//! `go-only-feature` diagnostic, and the Go tool's own must-fail cases still fail.

use pretty_assertions::assert_eq;

use crate::go_projects::{go_project, turn_settings};
use crate::test::{ALL_CLIS, Test, agent_workflow};

/// The diagnostic lines `--validate w` prints for workflow `yaml`.
fn diagnostics(yaml: &str) -> Vec<String> {
    let out = Test::new()
        .workflow("w", yaml)
        .args(["--validate", "w"])
        .status(3)
        .run();
    out.stderr
        .lines()
        .filter(|l| l.contains("error[") || l.contains("warning["))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_later_go_feature_is_one_go_only_feature_error_pointing_to_migrating_md() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "steps:\n  - id: pick\n    mode: ui\n    title: Pick one\n    actions: [{label: Go, outcome: continue}]\n    outcome_capture: choice\n",
            "4:11",
            "steps[0] (id \"pick\"): \"mode: ui\"",
        ),
        (
            "steps:\n  - id: detect\n    script: detect.sh\n    script_inputs: {cwd: x}\n    capture: found\n    capture_format: json\n  - id: use\n    command: echo {{found}}\n",
            "4:5",
            "steps[0] (id \"detect\"): \"script\"",
        ),
        (
            "tools: [gh]\nsteps:\n  - {id: a, command: ls}\n",
            "2:1",
            "top level: \"tools:\"",
        ),
        (
            "steps:\n  - id: a\n    command: ls\n    tools: [gh]\n",
            "5:5",
            "steps[0] (id \"a\"): \"tools:\"",
        ),
        (
            "steps:\n  - id: a\n    mode: headless\n    prompt: \"Continue from {{intake_handoff}}\"\n",
            "5:13",
            "steps[0] (id \"a\"): \"{{intake_handoff}}\"",
        ),
        (
            "steps:\n  - id: a\n    mode: interactive\n    prompt: Ask me.\n    capture: answer\n",
            "6:5",
            "steps[0] (id \"a\"): \"capture on an interactive step\"",
        ),
    ];
    for (steps, position, what) in cases {
        let lines = diagnostics(&format!("name: w\n{steps}"));
        assert_eq!(
            lines,
            [format!(
                ".agent-runner/workflows/w.yaml:{position}: error[go-only-feature]: {what} is a feature of the Go agent-runner that agent-runner does not support; see docs/migrating.md"
            )],
            "{steps}"
        );
    }
}

#[test]
fn autonomous_cursor_and_hyphenated_sessions_are_aliases() {
    let out = agent_workflow(
        "name: w\nsessions:\n  - {name: lead-agent, cli: cursor, model: auto}\nsteps:\n\
         \x20 - {id: a, session: lead-agent, mode: autonomous, prompt: one}\n\
         \x20 - {id: b, session: lead-agent, mode: autonomous, prompt: two}\n\
         \x20 - {id: c, session: new, cli: cursor, mode: autonomous, prompt: three}\n",
    )
    .run();
    let settings = turn_settings(&out.turns());
    assert_eq!(settings.len(), 3);
    for (cli, mode, _, _) in &settings {
        assert_eq!((cli.as_str(), mode.as_str()), ("cursor-agent", "headless"));
    }
    assert_eq!(out.turn_session(0), out.turn_session(1));
    // `defaults: {cli: cursor}` and `capture_format: text` (what every capture is here).
    let out = agent_workflow(
        "name: w\ndefaults: {cli: cursor}\nsteps:\n\
         \x20 - {id: a, command: echo hi, capture: greeting, capture_format: text}\n\
         \x20 - {id: b, mode: autonomous, prompt: \"say {{greeting}}\"}\n",
    )
    .run();
    assert_eq!(out.turns()[0]["cli"], "cursor-agent");
    // `capture_format: json` is `output: json`: the capture is a JSON value.
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: a, command: 'echo [1, 2]', capture: list, capture_format: json}\n\
         \x20 - {id: b, command: 'echo {{list.1}} > second.txt'}\n",
    )
    .run();
    assert_eq!(out.read("second.txt"), "2\n");
    assert_eq!(
        out.state()["scope"]["captures"]["list"],
        serde_json::json!({"json": [1, 2]})
    );
    let lines = diagnostics(
        "name: w\nsteps:\n  - {id: a, command: ls, capture: c, capture_format: yaml}\n",
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("error[invalid-value]: steps[0] (id \"a\"): invalid capture_format \"yaml\": use text or json"),
        "{lines:?}"
    );
    // Parameter and capture names keep the identifier rule: they become AR_<NAME> and CEL names.
    let lines = diagnostics("name: w\nparams: [my-param]\nsteps:\n  - {id: a, command: ls}\n");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("error[invalid-identifier]"), "{lines:?}");
}

#[test]
fn unknown_cli_names_get_a_did_you_mean() {
    let lines =
        diagnostics("name: w\nsteps:\n  - {id: a, mode: headless, cli: cursr, prompt: x}\n");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("unknown cli \"cursr\" (did you mean \"cursor-agent\"?)"),
        "{lines:?}"
    );
}

#[test]
fn hidden_versioned_and_underscore_files_in_the_workflows_folder() {
    let listed = go_project("later").arg("workflows").run();
    let names: Vec<&str> = listed
        .stdout
        .lines()
        .filter(|l| l.contains(" project "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["review-change-v2.0", "team/deploy-v2.0"]);
    let all = listed.then().args(["workflows", "--all"]).run();
    assert!(all.stdout.contains("internal-v1.0 "), "{}", all.stdout);
    assert!(!all.stdout.contains("_group"), "{}", all.stdout);
    // A versioned name runs; `_group` is no workflow, but it is valid YAML when named.
    let ran = all.then().args(["team/deploy-v2.0", "env=prod"]).run();
    assert_eq!(ran.read("deployed.txt"), "deploying to prod\n");
    let group = ran
        .then()
        .args(["--validate", ".agent-runner/workflows/_group.yaml"])
        .stdout("ok: .agent-runner/workflows/_group.yaml (1 file checked)\n")
        .run();
    let everything = group.then().arg("--validate").run();
    assert!(
        !everything.stdout.contains("_group"),
        "{}",
        everything.stdout
    );
    everything
        .then()
        .arg("_group")
        .status(2)
        .stderr_contains("workflow \"_group\" not found")
        .run();
}

#[test]
fn go_command_words_and_flags() {
    let project = Test::new().workflow(
        "resume",
        "name: resume\nsteps:\n  - {id: a, command: echo resumed-workflow}\n",
    );
    let validated = project
        .args(["validate", "resume"])
        .stdout("ok: resume (1 file checked)\n")
        .run();
    // The command word wins; `run resume` reaches the workflow of that name.
    let word = validated
        .then()
        .arg("resume")
        .status(2)
        .stderr_contains("no failed or interrupted run to resume")
        .run();
    let ran = word.then().args(["run", "resume"]).run();
    assert!(ran.stderr.contains("resumed-workflow"), "{}", ran.stderr);
    // `-headless` (the Go tool's "no TUI") is accepted without a warning.
    let plain = ran.then().args(["-headless", "run", "resume"]).run();
    assert!(!plain.stderr.contains("headless"), "{}", plain.stderr);
    assert!(!plain.stderr.contains("warning"), "{}", plain.stderr);
}

#[test]
fn removed_go_builtins_name_their_equivalent() {
    for (name, message) in [
        (
            "openspec:change",
            "is a Go agent-runner built-in; its equivalent here is \"flokay\"",
        ),
        (
            "spec-driven:plan-change",
            "is a Go agent-runner built-in; its equivalent here is \"flokay\"",
        ),
        (
            "onboarding:welcome",
            "is a Go agent-runner built-in; its equivalent here is \"demo\"",
        ),
        (
            "core:intake",
            "is a Go agent-runner built-in with no equivalent here; see docs/migrating.md",
        ),
    ] {
        Test::new()
            .arg(name)
            .status(2)
            .stderr(&format!(
                "agent-runner: error: workflow \"{name}\" {message}\n"
            ))
            .run();
    }
}

#[test]
fn a_run_written_by_the_go_tool_is_refused_on_resume() {
    let out = Test::new()
        .workflow("w", "name: w\nsteps:\n  - {id: a, command: ls}\n")
        .arg("w")
        .run();
    let runs = out.run_dir().parent().unwrap().to_path_buf();
    let go_run = runs.join("implement-change-20261121-083312-7f3a");
    std::fs::create_dir_all(&go_run).unwrap();
    let state = r#"{"workflowFile": "implement-change.yaml", "workflowName": "implement-change", "currentStep": "generate-code", "params": {}, "workflowHash": "x"}"#;
    std::fs::write(go_run.join("state.json"), state).unwrap();
    let refused = out
        .then()
        .args(["--resume", "implement-change-20261121-083312-7f3a"])
        .status(3)
        .run();
    assert!(
        refused
            .stderr
            .contains("was written by the Go agent-runner; it cannot be resumed by agent-runner"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(go_run.join("state.json")).unwrap(),
        state
    );
}

#[test]
fn go_config_keys_only_the_go_tool_knew_are_warnings_and_elsewhere_errors() {
    // Profile sets merge across layers: the project picks a set the user file defines.
    let out = crate::test::agent_workflow(
        "name: w\nsteps:\n  - {id: a, agent: worker, prompt: x}\n",
    )
    .write_user(
        "config.yaml",
        "profiles:\n  team:\n    agents:\n      worker: {default_mode: autonomous, cli: codex}\n",
    )
    .project_config("active_profile: team\n")
    .run();
    assert_eq!(out.turns()[0]["cli"], "codex");
    assert_eq!(out.turns()[0]["mode"], "headless");
    let workflow = "name: w\nsteps:\n  - {id: a, command: ls}\n";
    let go = Test::new()
        .workflow("w", workflow)
        .project_config("active_profile: default\ntheme: dark\nprofiles:\n  default:\n    agents:\n      worker: {default_mode: autonomous, cli: claude}\n")
        .arg("w")
        .run();
    assert!(
        go.stderr
            .contains("warning[unknown-key]: top level: unknown key \"theme\""),
        "{}",
        go.stderr
    );
    Test::new()
        .workflow("w", workflow)
        .project_config("theme: dark\nshel: /bin/bash\n")
        .arg("w")
        .status(3)
        .stderr_contains("error[config]: top level: unknown key \"shel\" (did you mean \"shell\"?)")
        .run();
    Test::new()
        .workflow("w", workflow)
        .project_config(
            "active_profile: tem\nprofiles:\n  team:\n    agents:\n      worker: {cli: claude}\n",
        )
        .arg("w")
        .status(3)
        .stderr_contains(
            "configuration: error[config]: top level: active_profile \"tem\" names no profile set (did you mean \"team\"?)",
        )
        .run();
}

#[test]
fn in_a_go_project_a_parameter_may_shadow_a_builtin_variable() {
    let workflow = "name: w\nparams:\n  - {name: workflow_name, default: mine}\nsteps:\n  - {id: a, command: 'echo \"wn={{workflow_name}}\"'}\n";
    let out = Test::new()
        .workflow("w", workflow)
        .project_config("default_mode: headless\n")
        .arg("w")
        .run();
    assert!(
        out.stderr.contains("warning[reserved-name]"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("wn=mine"), "{}", out.stderr);
    // A file written for the Go tool gets the same rule in any project.
    let go_file = format!("hidden: true\n{workflow}");
    let out = Test::new().workflow("w", &go_file).arg("w").run();
    assert!(
        out.stderr.contains("warning[reserved-name]"),
        "{}",
        out.stderr
    );
    // A native file outside a Go project: still an error.
    Test::new()
        .workflow("w", workflow)
        .arg("w")
        .status(3)
        .stderr_contains("error[reserved-name]")
        .run();
}

#[test]
fn a_project_profile_replaces_the_implicit_go_profile_of_the_same_name() {
    let out = agent_workflow(
        "name: w\nsteps:\n  - {id: a, mode: headless, agent: implementor, prompt: x}\n",
    )
    .project_config("profiles:\n  implementor: {cli: codex}\n")
    .run();
    assert_eq!(out.turns()[0]["cli"], "codex");
}

#[test]
fn the_go_tools_must_fail_cases_still_fail() {
    let go = || go_project("readme-era");
    go().workflow("empty", "name: empty\nsteps: []\n")
        .args(["empty"])
        .status(3)
        .stderr_contains("empty.yaml:2:8: error[empty-steps]: top level: \"steps\" must contain at least one step")
        .run();
    go().workflow("stepless", "name: stepless\n")
        .args(["stepless"])
        .status(3)
        .stderr_contains("missing required key \"steps\"")
        .run();
    go().workflow(
        "caller",
        "name: caller\nsteps:\n  - {id: call, workflow: no-such-flow.yaml}\n",
    )
    .args(["caller"])
    .status(3)
    .stderr_contains("error[sub-workflow-missing]")
    .run();
    let _ = ALL_CLIS;
}

#[test]
fn the_default_mode_deprecation_is_printed_once_per_run_however_many_files_set_it() {
    let out = agent_workflow("name: w\nsteps:\n  - {id: a, prompt: x}\n  - {id: b, prompt: y}\n")
        .write_user("config.yaml", "default_mode: headless\n")
        .project_config(
            "profiles:\n  mine: {default_mode: headless, cli: claude}\ndefault_mode: headless\n",
        )
        .run();
    let warning =
        "default_mode is deprecated; set mode: on the steps (agent-runner migrate does it)";
    assert_eq!(out.stderr.matches(warning).count(), 1, "{}", out.stderr);
    // The configuration's default_mode made both steps headless.
    let turns = out.turns();
    let modes: Vec<&str> = turns.iter().map(|t| t["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["headless", "headless"]);
}
