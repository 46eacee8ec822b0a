//! An interactive agent step through `ssh -t` (docs/launchers.md): the runner's relay drives the
//! local ssh client in its pseudo-terminal, the agent gets a terminal on the other side, and
//! `/continue` ends the step as it does locally.

use pretty_assertions::assert_eq;

use super::interactive_harness::World;
use crate::sshd::Sshd;

#[test]
fn an_interactive_step_through_ssh_gets_a_remote_terminal_and_ends_with_continue() {
    let Some(sshd) = Sshd::start() else { return };
    let world = World::new();
    let workflow = format!(
        r#"name: pair
steps:
  - id: chat
    cli: claude
    prompt: Talk with me
    launcher: {launcher}
    env:
      PATH: "{bin}:/usr/local/bin:/usr/bin:/bin"
      FAKE_AGENT_LOG: "{log}"
      CLAUDE_CONFIG_DIR: "{claude}"
      IS_SANDBOX: "1"
      AGENT_RUNNER_TEST_TOKEN: "it's a \"$(secret)\""
  - id: after
    command: printf 'next step %s\n' ran
"#,
        launcher = sshd.launcher(0),
        bin = world.path("bin").display(),
        log = world.path("fake.jsonl").display(),
        claude = world.path("home/.claude").display(),
    );
    let world = world.workflow("pair", &workflow);
    world.continue_through("pair");
    let turns = world.turns();
    assert_eq!(turns.len(), 1, "{turns:#?}");
    assert_eq!(turns[0]["stdin_is_tty"], true, "{:#}", turns[0]);
    assert_eq!(
        turns[0]["env"]["AGENT_RUNNER_VIA"],
        format!("sshd-{}", sshd.ports[0]),
        "the agent did not run through sshd: {:#}",
        turns[0]
    );
    assert_eq!(
        turns[0]["env"]["AGENT_RUNNER_TEST_TOKEN"],
        "it's a \"$(secret)\""
    );
    assert_eq!(turns[0]["cwd"], world.project().display().to_string());
    assert_eq!(world.step_end("chat")["outcome"], "success");
}
