//! Launchers end to end (docs/launchers.md) against a real sshd on 127.0.0.1 (see
//! [`crate::sshd`]): shell and headless agent steps run on the other side with their workdir,
//! environment and hostile values intact; a timeout and a Ctrl-C leave nothing running there;
//! parallel branches fan out over two targets, with `max_concurrent`; the most specific launcher
//! wins; preflight and validation.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::sshd::{Sshd, gone_within};
use crate::test::Test;

const WAIT: Duration = Duration::from_secs(20);
/// A value that is code in every quoting context a naive remote command line would use.
const HOSTILE: &str = "it's \"$(touch pwned1)\" `touch pwned2` $HOME; touch pwned3 & \\ end";

/// The bin dir with the fake agent CLIs and the rest of PATH, for the other side.
fn remote_path(test: &Test) -> String {
    format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        test.path().join("bin").display()
    )
}

#[test]
fn a_shell_step_runs_on_the_other_side_with_its_workdir_env_and_hostile_values() {
    let Some(sshd) = Sshd::start() else { return };
    let workflow = format!(
        r#"name: w
params:
  - name: hostile
env:
  FROM_WORKFLOW: "{{{{hostile}}}}"
steps:
  - id: remote
    launcher: {launcher}
    workdir: sub dir
    env:
      FROM_STEP: "a\nb 'c' $(d)"
    capture: said
    command: |
      printf 'via=%s\n' "$AGENT_RUNNER_VIA"
      printf 'pwd=%s\n' "$(pwd)"
      printf 'workflow=[%s]\n' "$FROM_WORKFLOW"
      printf 'step=[%s]\n' "$FROM_STEP"
      printf 'template=[%s]\n' {{{{hostile}}}}
      printf 'ar=[%s]\n' "$AR_HOSTILE"
      printf 'runner=%s\n' "$AGENT_RUNNER_STEP"
  - id: local
    command: printf 'after=%s\n' "${{AGENT_RUNNER_VIA:-local}}"
"#,
        launcher = sshd.launcher(0)
    );
    let test = Test::new()
        .workflow("w", &workflow)
        .write("sub dir/.keep", "")
        .arg("w")
        .arg(&format!("hostile={HOSTILE}"));
    let project = test.project().canonicalize().unwrap();
    let out = test.run();
    let via = format!("via=sshd-{}\n", sshd.ports[0]);
    let expected = format!(
        "{via}pwd=[TMP]/project/sub dir\nworkflow=[{HOSTILE}]\nstep=[a\nb 'c' $(d)]\ntemplate=[{HOSTILE}]\nar=[{HOSTILE}]\nrunner=remote\n"
    );
    assert!(out.stdout.contains(&expected), "{}", out.stdout);
    assert!(out.stdout.contains("after=local\n"), "{}", out.stdout);
    for file in ["pwned1", "pwned2", "pwned3"] {
        assert!(
            !project.join("sub dir").join(file).exists(),
            "{file} was created"
        );
        assert!(!project.join(file).exists(), "{file} was created");
    }
}

#[test]
fn a_headless_agent_runs_on_the_other_side_with_stdin_null_and_its_environment() {
    let Some(sshd) = Sshd::start() else { return };
    let test = Test::new().fake_clis(&["claude"]);
    let log = test.path().join("fake-agent.log");
    let workflow = format!(
        r#"name: w
defaults:
  launcher: {launcher}
steps:
  - id: ask
    mode: headless
    cli: claude
    workdir: sub
    prompt: "Say {{{{hostile}}}}"
    env:
      PATH: "{path}"
      FAKE_AGENT_LOG: "{log}"
      CLAUDE_CONFIG_DIR: "{claude}"
      IS_SANDBOX: "1"
params:
  - name: hostile
"#,
        launcher = sshd.launcher(1),
        path = remote_path(&test),
        log = log.display(),
        claude = test.path().join("home/.claude").display(),
    );
    let out = test
        .workflow("w", &workflow)
        .write("sub/.keep", "")
        .arg("w")
        .arg(&format!("hostile={HOSTILE}"))
        .run();
    let turns = out.turns();
    assert_eq!(turns.len(), 1, "{turns:#?}\n{}", out.stderr);
    let turn = &turns[0];
    let project = out.project().canonicalize().unwrap();
    assert_eq!(turn["cwd"], project.join("sub").display().to_string());
    assert_eq!(turn["stdin_is_devnull"], true);
    assert_eq!(
        turn["env"]["AGENT_RUNNER_VIA"],
        format!("sshd-{}", sshd.ports[1]),
        "the agent did not run through sshd: {turn:#}"
    );
    assert_eq!(turn["env"]["AGENT_RUNNER_STEP"], "ask");
    let argv = turn["argv"].to_string();
    let hostile_json = serde_json::to_string(HOSTILE).unwrap();
    assert!(
        argv.contains(hostile_json.trim_matches('"')),
        "the prompt lost its value: {argv}"
    );
    assert!(!project.join("sub/pwned1").exists());
}

#[test]
fn the_environment_never_shows_on_a_command_line_on_either_side() {
    let Some(sshd) = Sshd::start() else { return };
    let secret = format!("s3cret-{}-value", std::process::id());
    let test = Test::new();
    let ps_file = test.path().join("ps.txt");
    let workflow = format!(
        r#"name: w
steps:
  - id: remote
    launcher: {launcher}
    env:
      TOKEN: "{secret}"
    command: |
      printf 'token=%s\n' "$TOKEN"
      ps -eww -o args > {ps}
"#,
        launcher = sshd.launcher(0),
        ps = ps_file.display()
    );
    let out = test.workflow("w", &workflow).arg("w").run();
    assert!(
        out.stdout.contains(&format!("token={secret}\n")),
        "{}",
        out.stdout
    );
    let ps = std::fs::read_to_string(&ps_file).unwrap();
    assert!(ps.contains("sshd"), "ps saw no sshd: {ps}");
    assert!(
        !ps.contains(&secret),
        "the value is visible to ps:\n{}",
        ps.lines()
            .filter(|l| l.contains(&secret))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A step that records its pid, then sleeps in a process whose argv carries `marker`.
fn sleeper(launcher: &str, marker: &str, pidfile: &str, extra: &str) -> String {
    format!(
        r#"name: w
steps:
  - id: nap
    launcher: {launcher}
{extra}    command: echo $$ > {pidfile}; exec sh -c 'sleep 300; true' {marker}
"#
    )
}

#[test]
fn a_timeout_leaves_no_process_on_the_other_side() {
    let Some(sshd) = Sshd::start() else { return };
    let marker = format!("launcher-timeout-{}", std::process::id());
    let test = Test::new();
    let pidfile = test.path().join("nap.pid").display().to_string();
    let out = test
        .workflow(
            "w",
            &sleeper(&sshd.launcher(0), &marker, &pidfile, "    timeout: 2s\n"),
        )
        .arg("w")
        .status(1)
        .run();
    assert!(out.stderr.contains("timed out after 2s"), "{}", out.stderr);
    assert!(
        std::path::Path::new(&pidfile).exists(),
        "the step never ran"
    );
    if let Err(left) = gone_within(&marker, Duration::from_secs(2)) {
        panic!("still running 2 s after the run ended: {left:#?}");
    }
}

#[test]
fn ctrl_c_leaves_no_process_on_the_other_side() {
    let Some(sshd) = Sshd::start() else { return };
    let marker = format!("launcher-sigint-{}", std::process::id());
    let test = Test::new();
    let pidfile = test.path().join("nap.pid");
    let mut running = test
        .workflow(
            "w",
            &sleeper(
                &sshd.launcher(0),
                &marker,
                &pidfile.display().to_string(),
                "",
            ),
        )
        .arg("w")
        .status(130)
        .spawn();
    running.wait_until(WAIT, "the remote step to start", |_| {
        pidfile.exists()
            && crate::sshd::processes_with(&format!("sleep 300; true {marker}")).len() == 1
    });
    running.signal(Signal::SIGINT);
    let out = running.finish(WAIT);
    assert_eq!(out.status, 130, "{}", out.stderr);
    if let Err(left) = gone_within(&marker, Duration::from_secs(2)) {
        panic!("still running 2 s after Ctrl-C: {left:#?}");
    }
}

#[test]
fn a_parallel_group_fans_out_over_two_launchers() {
    let Some(sshd) = Sshd::start() else { return };
    let workflow = format!(
        r#"name: w
steps:
  - id: hosts
    parallel: true
    steps:
      - id: a
        launcher: {a}
        command: printf '%s' "$AGENT_RUNNER_VIA"
        capture: on_a
      - id: b
        launcher: {b}
        command: printf '%s' "$AGENT_RUNNER_VIA"
        capture: on_b
  - id: report
    command: printf 'a=%s b=%s\n' {{{{on_a}}}} {{{{on_b}}}}
"#,
        a = sshd.launcher(0),
        b = sshd.launcher(1)
    );
    let out = Test::new().workflow("w", &workflow).arg("w").run();
    let expected = format!("a=sshd-{} b=sshd-{}\n", sshd.ports[0], sshd.ports[1]);
    assert!(out.stdout.contains(&expected), "{}", out.stdout);
}

#[test]
fn max_concurrent_runs_one_branch_at_a_time_through_a_launcher() {
    let Some(sshd) = Sshd::start() else { return };
    // Two branches at once would find the other's directory and fail.
    let command = "mkdir busy || exit 9; sleep 1; rmdir busy";
    let launcher = format!("{{argv: {}, max_concurrent: 1}}", sshd.launcher(0));
    let workflow = format!(
        r#"name: w
defaults:
  launcher: {launcher}
steps:
  - id: hosts
    parallel: true
    steps:
      - id: a
        command: "{command}"
      - id: b
        command: "{command}"
"#
    );
    let out = Test::new().workflow("w", &workflow).arg("w").run();
    assert!(
        out.stderr.contains("waiting for a launcher slot"),
        "{}",
        out.stderr
    );
}

#[test]
fn preflight_names_a_missing_launcher_program_and_a_failed_check() {
    let Some(sshd) = Sshd::start() else { return };
    let workflow = format!(
        r#"name: w
steps:
  - id: missing
    launcher: [no-such-launcher-program, box]
    command: "true"
  - id: probed
    launcher: {{argv: {launcher}, check: "exit 3"}}
    command: "true"
"#,
        launcher = sshd.launcher(0)
    );
    let out = Test::new()
        .workflow("w", &workflow)
        .arg("w")
        .status(4)
        .run();
    assert!(
        out.stderr.contains("the launcher program \"no-such-launcher-program\" is not installed or not on PATH (needed by step \"missing\")"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the launcher check \"exit 3\" through")
            && out
                .stderr
                .contains("failed (needed by step \"probed\"): exit status 3"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("── "), "a step ran: {}", out.stderr);
}

#[test]
fn a_passing_launcher_check_lets_the_run_start() {
    let Some(sshd) = Sshd::start() else { return };
    let workflow = format!(
        r#"name: w
steps:
  - id: probed
    launcher: {{argv: {launcher}, check: true}}
    command: printf 'ran\n'
"#,
        launcher = sshd.launcher(0)
    );
    Test::new()
        .workflow("w", &workflow)
        .arg("w")
        .stdout_contains("ran\n")
        .run();
}

#[test]
fn bad_launcher_values_are_validation_errors_with_positions() {
    let workflow = r#"name: w
defaults:
  launcher: ssh box
steps:
  - id: empty
    launcher: []
    command: "true"
  - id: templated
    launcher: ["{{prog}}", box]
    command: "true"
  - id: group
    launcher: [ssh, box]
    steps:
      - id: inner
        launcher: {argv: [ssh], shell: maybe, colour: red}
        command: "true"
"#;
    let out = Test::new()
        .workflow("w", workflow)
        .args(["--validate", "w"])
        .status(3)
        .run();
    for expected in [
        "w.yaml:3:13: error[launcher]",
        "\"launcher\" must be a list of strings or a mapping, found string \"ssh box\"",
        "w.yaml:6:15: error[launcher]",
        "the list is empty",
        "w.yaml:9:16: error[launcher]",
        "must be a program name or path, not empty and not a template",
        "w.yaml:12:5: error[field-not-allowed]",
        "\"launcher\" is not allowed on group steps; set it on the steps inside",
        "unknown key \"colour\"",
    ] {
        assert!(
            out.stderr.contains(expected) || out.stdout.contains(expected),
            "missing {expected:?} in:\n{}{}",
            out.stdout,
            out.stderr
        );
    }
}

/// A local launcher named `name`: it notes `name` in `via.log`, then runs its arguments.
fn via(test: Test, name: &str) -> Test {
    let log = test.path().join("via.log");
    test.write_bin(
        name,
        &format!(
            "#!/bin/sh\necho {name} >> '{}'\nexec \"$@\"\n",
            log.display()
        ),
    )
}

#[test]
fn the_most_specific_launcher_wins() {
    let mut test = Test::new().fake_clis(&["claude"]);
    for name in ["via-config", "via-profile", "via-defaults", "via-step"] {
        test = via(test, name);
    }
    let test = test
        .project_config("launcher: [via-config]\nprofiles:\n  boxed: {launcher: [via-profile]}\n")
        .workflow(
            "plain",
            "name: plain\nsteps:\n  - id: s\n    command: \"true\"\n  - id: p\n    mode: headless\n    agent: boxed\n    prompt: hi\n",
        )
        .workflow(
            "w",
            r#"name: w
defaults:
  launcher: [via-defaults]
steps:
  - id: from-defaults
    command: "true"
  - id: own
    launcher: [via-step]
    command: "true"
  - id: agent-own
    mode: headless
    agent: boxed
    launcher: [via-step]
    prompt: hi
  - id: agent-profile
    mode: headless
    agent: boxed
    prompt: hi
"#,
        )
        .arg("plain");
    let out = test.run();
    let log = out.tempdir.path().join("via.log");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "via-config\nvia-profile\n"
    );
    std::fs::remove_file(&log).unwrap();
    // Kept until the end: the temp dir goes with it.
    let _second = out.then().arg("w").run();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "via-defaults\nvia-step\nvia-step\nvia-profile\n"
    );
}

#[test]
fn dry_run_names_the_launcher_each_step_runs_through() {
    let test = Test::new()
        .fake_clis(&["claude"])
        .project_config("profiles:\n  boxed: {launcher: [ssh, gpu-box, --]}\n")
        .workflow(
            "w",
            r#"name: w
params:
  - { name: host, default: build-box }
defaults:
  launcher: [ssh, "{{host}}", --]
steps:
  - id: from-defaults
    command: make
  - id: own
    launcher: [docker, exec, -i, "my box"]
    command: "true"
  - id: agent-profile
    mode: headless
    agent: boxed
    prompt: hi
  - id: group
    steps:
      - { id: inner, command: "true" }
"#,
        )
        .args(["--dry-run", "w", "host=other-box"]);
    let out = test.run();
    let plan: Vec<&str> = out.stdout.lines().collect();
    let after = |id: &str| {
        let at = plan.iter().position(|l| l.trim_start().starts_with(id));
        at.and_then(|i| plan.get(i + 1))
            .map(|l| l.trim())
            .unwrap_or_default()
    };
    assert_eq!(
        after("from-defaults"),
        "via: ssh other-box --",
        "{}",
        out.stdout
    );
    assert_eq!(
        after("own"),
        "via: docker exec -i 'my box'",
        "{}",
        out.stdout
    );
    assert_eq!(
        after("agent-profile"),
        "via: ssh gpu-box --",
        "{}",
        out.stdout
    );
    // A group runs nothing itself; its steps do.
    assert!(after("group").starts_with("inner"), "{}", out.stdout);
    assert_eq!(after("inner"), "via: ssh other-box --", "{}", out.stdout);

    let json = out.then().args(["--dry-run", "--json", "w"]).run();
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["steps"][0]["launcher"],
        serde_json::json!(["ssh", "build-box", "--"])
    );
    assert_eq!(doc["steps"][3].get("launcher"), None);
}

#[test]
fn fail_fast_leaves_no_process_on_the_other_side() {
    let Some(sshd) = Sshd::start() else { return };
    let marker = format!("launcher-failfast-{}", std::process::id());
    let test = Test::new();
    let pidfile = test.path().join("nap.pid").display().to_string();
    // One branch sleeps on the other side; the other fails once that one has started.
    let workflow = format!(
        r#"name: w
steps:
  - id: both
    parallel: {{}}
    steps:
      - id: nap
        launcher: {launcher}
        command: echo $$ > {pidfile}; exec sh -c 'sleep 300; true' {marker}
      - id: fail
        command: until [ -e {pidfile} ]; do sleep 0.05; done; exit 3
"#,
        launcher = sshd.launcher(0)
    );
    let out = test.workflow("w", &workflow).arg("w").status(1).run();
    assert!(
        std::path::Path::new(&pidfile).exists(),
        "the remote step never ran"
    );
    if let Err(left) = gone_within(&marker, Duration::from_secs(2)) {
        panic!(
            "still running 2 s after the other branch failed: {left:#?}\n{}",
            out.stderr
        );
    }
}
