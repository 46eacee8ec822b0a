//! Configuration layers for agent steps through the real binary (workflow-format.md §14): the
//! user and project `config.yaml`, profiles, workflow `defaults` and step keys decide the CLI,
//! binary, model, effort, permissions, system prompt and extra arguments the fake CLI receives.

use pretty_assertions::assert_eq;

use crate::test::{Output, Test, agent_workflow, headless_preamble};

/// The value after `flag` in `argv`, if the flag is there.
fn flag_value(argv: &[String], flag: &str) -> Option<String> {
    argv.iter()
        .position(|a| a == flag)
        .map(|i| argv[i + 1].clone())
}

/// (cli, model, effort) of each turn, read from the argv the way each CLI spells them.
fn settings(out: &Output) -> Vec<(String, Option<String>, Option<String>)> {
    out.turns()
        .iter()
        .zip(out.turn_argvs())
        .map(|(turn, argv)| {
            let cli = turn["cli"].as_str().unwrap().to_owned();
            let (model, effort) = match cli.as_str() {
                "codex" => (
                    flag_value(&argv, "-m"),
                    flag_value(&argv, "-c").map(|c| {
                        c.trim_start_matches("model_reasoning_effort=")
                            .trim_matches('"')
                            .to_owned()
                    }),
                ),
                _ => (flag_value(&argv, "--model"), flag_value(&argv, "--effort")),
            };
            (cli, model, effort)
        })
        .collect()
}

fn s(
    cli: &str,
    model: Option<&str>,
    effort: Option<&str>,
) -> (String, Option<String>, Option<String>) {
    (
        cli.to_owned(),
        model.map(str::to_owned),
        effort.map(str::to_owned),
    )
}

#[test]
fn default_cli_and_default_model_come_from_the_project_config() {
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: a, mode: headless, prompt: a}\n\
         \x20 - {id: b, mode: headless, cli: claude, session: new, prompt: b}\n",
    )
    .project_config("default_cli: codex\ndefault_model: gpt-9\ndefault_effort: high\n")
    .run();
    // The default model and effort apply only to the default CLI.
    assert_eq!(
        settings(&out),
        [
            s("codex", Some("gpt-9"), Some("high")),
            s("claude", None, None)
        ]
    );
}

#[test]
fn project_config_overrides_the_user_config_and_mappings_merge() {
    let out = agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, prompt: a}\n")
        .write_user(
            "config.yaml",
            "default_cli: codex\nclis:\n  claude: {model: user-model, effort: low}\n",
        )
        .project_config("default_cli: claude\nclis:\n  claude: {effort: max}\n")
        .run();
    assert_eq!(
        settings(&out),
        [s("claude", Some("user-model"), Some("max"))]
    );
}

#[test]
fn workflow_defaults_apply_to_their_cli_and_steps_override_them() {
    let out = agent_workflow(
        "name: w\ndefaults: {cli: codex, model: gpt-d, effort: low, permissions: full}\nsteps:\n\
         \x20 - {id: a, mode: headless, prompt: a}\n\
         \x20 - {id: b, mode: headless, cli: claude, session: new, prompt: b}\n\
         \x20 - {id: c, mode: headless, session: new, model: '{{workflow_name}}-m', effort: xhigh, permissions: ask, prompt: c}\n",
    )
    .project_config("clis:\n  claude: {model: cfg-claude}\n")
    .run();
    assert_eq!(
        settings(&out),
        [
            s("codex", Some("gpt-d"), Some("low")),
            s("claude", Some("cfg-claude"), None),
            s("codex", Some("w-m"), Some("xhigh")),
        ]
    );
    let argvs = out.turn_argvs();
    assert_eq!(argvs[0][0], "--dangerously-bypass-approvals-and-sandbox");
    assert_eq!(
        flag_value(&argvs[1], "--permission-mode").as_deref(),
        Some("bypassPermissions")
    );
    assert_eq!(argvs[2][..4], ["-s", "read-only", "-a", "never"]);
}

#[test]
fn profiles_extend_each_other_and_add_their_system_prompt() {
    let out =
        agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, agent: lead, prompt: task}\n")
            .write_user(
                "config.yaml",
                "profiles:\n  lead: {cli: claude, model: ignored}\n",
            )
            .project_config(
                "profiles:\n\
         \x20 base: {cli: codex, model: gpt-b, effort: high, permissions: ask}\n\
         \x20 lead: {extends: base, model: gpt-l, system_prompt: Be terse.}\n",
            )
            .run();
    // The project profile replaces the user's profile of the same name as a whole.
    assert_eq!(settings(&out), [s("codex", Some("gpt-l"), Some("high"))]);
    let argv = &out.turn_argvs()[0];
    assert_eq!(argv[..4], ["-s", "read-only", "-a", "never"]);
    assert_eq!(
        argv.last().unwrap(),
        &format!(
            "<workflow-context>\nBe terse.\n\n{}\n</workflow-context>\n\ntask",
            headless_preamble("a", "w")
        )
    );
}

#[test]
fn a_profile_cycle_is_a_configuration_error() {
    let out = agent_workflow("name: w\nsteps:\n  - {id: a, mode: headless, agent: a, prompt: p}\n")
        .project_config("profiles:\n  a: {extends: b}\n  b: {extends: a}\n")
        .status(3)
        .stderr_contains(".agent-runner/config.yaml:2:3: error[config]:")
        .stderr_contains("profile cycle: a -> b -> a")
        .run();
    assert!(out.turns().is_empty());
    assert!(out.run_dirs().is_empty());
}

#[test]
fn extra_args_go_after_the_generated_flags_and_before_the_separator() {
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: a, mode: headless, prompt: a}\n\
         \x20 - {id: b, mode: headless, cli: codex, session: new, prompt: b}\n",
    )
    .project_config(
        "clis:\n  claude: {extra_args: [--fallback-model, haiku]}\n  codex: {extra_args: [--ephemeral]}\n",
    )
    .run();
    let argvs = out.turn_argvs();
    let claude = &argvs[0];
    let sep = claude.iter().position(|a| a == "--").unwrap();
    assert_eq!(
        claude[sep - 4..sep],
        [
            "--append-system-prompt",
            &headless_preamble("a", "w"),
            "--fallback-model",
            "haiku"
        ]
    );
    let codex = &argvs[1];
    let sep = codex.iter().position(|a| a == "--").unwrap();
    assert_eq!(
        codex[sep - 2..sep],
        ["--skip-git-repo-check", "--ephemeral"]
    );
}

#[test]
fn the_binary_comes_from_config_and_the_environment_overrides_it() {
    let test = Test::new().fake_clis(&["codex"]);
    let link = |dir: &str| {
        let at = test.path().join(dir);
        std::fs::create_dir_all(&at).unwrap();
        std::os::unix::fs::symlink(crate::helpers::fake_agent(), at.join("claude")).unwrap();
        at.join("claude").display().to_string()
    };
    let (configured, from_env) = (link("configured"), link("from-env"));
    let yaml = "name: w\nsteps:\n  - {id: a, mode: headless, prompt: a}\n";
    let out = test
        .workflow("w", yaml)
        .project_config(&format!("clis:\n  claude: {{binary: {configured}}}\n"))
        .arg("w")
        .run();
    assert_eq!(out.turns()[0]["argv0"], configured);
    let out = out
        .again()
        .env("AGENT_RUNNER_CLAUDE_BIN", &from_env)
        .arg("w")
        .run();
    assert_eq!(out.turns()[1]["argv0"], from_env);
    // Neither is on PATH; `claude` itself is not installed.
    assert!(!out.tempdir.path().join("bin/claude").exists());
}

#[test]
fn a_step_model_is_passed_again_when_its_session_is_resumed() {
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: a, mode: headless, model: opus, effort: max, prompt: a}\n\
         \x20 - {id: b, mode: headless, prompt: b}\n\
         \x20 - {id: c, mode: headless, model: haiku, prompt: c}\n\
         \x20 - {id: d, mode: headless, prompt: d}\n",
    )
    .run();
    assert_eq!(
        settings(&out),
        [
            s("claude", Some("opus"), Some("max")),
            s("claude", Some("opus"), Some("max")),
            s("claude", Some("haiku"), Some("max")),
            s("claude", Some("haiku"), Some("max")),
        ]
    );
}
