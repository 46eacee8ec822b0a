//! Tests of the `fake-agent` binary itself: it must reject what the real CLIs reject, accept every
//! command line the adapters build, keep sessions where the real CLIs do, follow scripts turn by
//! turn, and log what it received.

#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use agent_runner::agents::{
    self, AgentEvent, Completion, ErrorClass, ExitInfo, HostFacts, Invocation, SessionRequest,
};
use agent_runner::workflow::model::{AgentMode, Permissions};

/// A temp world: `bin/` with the fake under every CLI name, a home, a project dir and a log.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("proj")).unwrap();
        for cli in [
            "claude",
            "codex",
            "copilot",
            "cursor-agent",
            "opencode",
            "gemini",
        ] {
            std::os::unix::fs::symlink(
                env!("CARGO_BIN_EXE_fake-agent"),
                dir.path().join("bin").join(cli),
            )
            .unwrap();
        }
        World { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn proj(&self) -> PathBuf {
        self.path("proj").canonicalize().unwrap()
    }

    fn cmd(&self, cli: &str, args: &[String]) -> Command {
        let mut cmd = Command::new(self.path("bin").join(cli));
        cmd.args(args)
            .current_dir(self.proj())
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.path("bin").display()),
            )
            .env("HOME", self.path("home"))
            .env("CLAUDE_CONFIG_DIR", self.path("home/.claude"))
            .env("CODEX_HOME", self.path("home/.codex"))
            .env("FAKE_AGENT_LOG", self.path("log.jsonl"))
            .env("IS_SANDBOX", "1")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, cli: &str, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.cmd(cli, &args).output().unwrap()
    }

    fn script(&self, yaml: &str) -> PathBuf {
        let path = self.path("script.yaml");
        std::fs::write(&path, yaml).unwrap();
        path
    }

    fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path("log.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn invocation(
        &self,
        cli: &str,
        mode: AgentMode,
        session: SessionRequest,
        permissions: Permissions,
    ) -> Invocation {
        Invocation {
            binary: self.path("bin").join(cli).display().to_string(),
            mode,
            session,
            prompt: "-do the step".into(),
            system_text: "You are running non-interactively.".into(),
            model: Some("m1".into()),
            effort: Some(agent_runner::workflow::model::Effort::High),
            permissions,
            workdir: self.proj(),
            run_dir: self.path("run"),
            extra_args: Vec::new(),
            runner_exe: "/usr/local/bin/agent-runner".into(),
            host: HostFacts {
                root: false,
                is_sandbox: true,
            },
            max_budget_usd: None,
            session_before: None,
            output_schema: None,
        }
    }

    /// Builds `inv` with its adapter, runs the fake, parses stdout with the adapter's parser.
    fn turn(&self, inv: &Invocation, extra_env: &[(&str, &str)]) -> (Vec<AgentEvent>, Completion) {
        let name = inv.binary.rsplit('/').next().unwrap();
        let adapter = agents::adapter(name).unwrap();
        let spec = adapter.build(inv).unwrap();
        let mut cmd = self.cmd(name, &spec.args);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let mut parser = adapter.parser(inv);
        let mut events = Vec::new();
        for line in out.stdout.split(|b| *b == b'\n') {
            events.extend(parser.feed(line));
        }
        let exit = ExitInfo {
            code: out.status.code(),
            signal: None,
            stderr_tail: String::from_utf8_lossy(&out.stderr).to_string(),
        };
        let done = parser.finish(&exit);
        (events, done)
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn rejects_what_the_real_clis_reject() {
    let w = World::new();
    let o = w.run(
        "claude",
        &["-p", "--output-format", "stream-json", "--", "hi"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "Error: When using --print, --output-format=stream-json requires --verbose\n"
    );
    let o = w.run("codex", &["exec", "-a", "never", "--json", "--", "hi"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: unexpected argument '-a' found\n\n  tip: to pass '-a' as a value, use '-- -a'\n\nUsage: codex exec [OPTIONS] [PROMPT]"));
    let o = w.run("codex", &["exec", "--effort", "high", "hi"]);
    assert_eq!(o.status.code(), Some(2));
    let o = w.run("codex", &["--full-auto", "exec", "hi"]);
    assert!(stderr(&o).starts_with("error: unexpected argument '--full-auto' found"));
    let o = w.run("claude", &["-p", "--session-id", "nope", "hi"]);
    assert_eq!(
        stderr(&o),
        "Error: Invalid session ID. Must be a valid UUID.\n"
    );
    let o = w.run("claude", &["-p", "--bogus", "hi"]);
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (Some(1), "error: unknown option '--bogus'\n".to_string())
    );
    let o = w.run("gemini", &["-p", "hi", "--approval-mode", "nope"]);
    assert!(stderr(&o).starts_with("Invalid values:\n  Argument: approval-mode, Given: \"nope\""));
    assert!(w.log().iter().all(|l| l["mode"] == "rejected"));
}

#[test]
fn every_adapter_command_line_is_accepted_and_parses() {
    let w = World::new();
    let sid = agents::new_session_id().unwrap();
    for name in [
        "claude",
        "codex",
        "copilot",
        "cursor-agent",
        "opencode",
        "gemini",
    ] {
        let adapter = agents::adapter(name).unwrap();
        let preassigned = adapter
            .capabilities()
            .preassigned_session_id
            .then(|| sid.clone());
        for perms in [Permissions::Ask, Permissions::Edit, Permissions::Full] {
            let inv = w.invocation(
                name,
                AgentMode::Headless,
                SessionRequest::New { preassigned: None },
                perms,
            );
            let (_, done) = w.turn(&inv, &[]);
            assert_eq!(done.failure, None, "{name} {perms:?}");
            assert_eq!(done.final_text.as_deref(), Some("Done."), "{name}");
        }
        let inv = w.invocation(
            name,
            AgentMode::Headless,
            SessionRequest::New {
                preassigned: preassigned.clone(),
            },
            Permissions::Edit,
        );
        let (events, done) = w.turn(&inv, &[]);
        assert!(done.failure.is_none(), "{name}: {:?}", done.failure);
        let id = done.session_id.clone().unwrap();
        if let Some(p) = &preassigned {
            assert_eq!(&id, p, "{name}");
        }
        assert!(
            events
                .iter()
                .any(|e| matches!(e, AgentEvent::SessionStarted { .. })),
            "{name}"
        );
        let resume = w.invocation(
            name,
            AgentMode::Headless,
            SessionRequest::Resume { id: id.clone() },
            Permissions::Edit,
        );
        let (_, again) = w.turn(&resume, &[]);
        assert_eq!(
            (again.failure, again.session_id.as_deref()),
            (None, Some(id.as_str())),
            "{name} resume"
        );
    }
}

#[test]
fn sessions_live_where_the_real_clis_keep_them() {
    let w = World::new();
    let env = |k: &str| match k {
        "CLAUDE_CONFIG_DIR" => Some(w.path("home/.claude").display().to_string()),
        "CODEX_HOME" => Some(w.path("home/.codex").display().to_string()),
        _ => None,
    };
    for name in ["claude", "codex"] {
        let adapter = agents::adapter(name).unwrap();
        let preassigned = (name == "claude").then(|| agents::new_session_id().unwrap());
        let inv = w.invocation(
            name,
            AgentMode::Headless,
            SessionRequest::New { preassigned },
            Permissions::Ask,
        );
        let (_, done) = w.turn(&inv, &[]);
        let id = done.session_id.unwrap();
        assert_eq!(
            adapter.session_exists(&id, &w.proj(), &env),
            Some(true),
            "{name}"
        );
        assert_eq!(
            adapter.session_exists("0199aaaa-0000-7000-8000-000000000000", &w.proj(), &env),
            Some(false)
        );
        let unknown = w.invocation(
            name,
            AgentMode::Headless,
            SessionRequest::Resume {
                id: "5b2f8a8e-1111-4222-8333-444455556677".into(),
            },
            Permissions::Ask,
        );
        let failure = w.turn(&unknown, &[]).1.failure.unwrap();
        assert_eq!(failure.class, ErrorClass::SessionMissing, "{name}");
        assert!(
            failure
                .message
                .contains("has no session 5b2f8a8e-1111-4222-8333-444455556677"),
            "{}",
            failure.message
        );
    }
    let rollout = walk(&w.path("home/.codex/sessions"))
        .into_iter()
        .next()
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(rollout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["type"], "session_meta");
    assert_eq!(first["payload"]["cwd"], w.proj().display().to_string());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn logged_out_clis_fail_like_the_real_ones() {
    let w = World::new();
    let o = w
        .cmd("claude", &["auth".into(), "status".into()])
        .env("FAKE_AGENT_LOGGED_OUT", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"loggedIn\": false"));
    assert_eq!(w.run("claude", &["auth", "status"]).status.code(), Some(0));
    let o = w
        .cmd("codex", &["login".into(), "status".into()])
        .env("FAKE_AGENT_LOGGED_OUT", "1")
        .output()
        .unwrap();
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (Some(1), "Not logged in\n".to_string())
    );
    for name in ["claude", "codex", "copilot", "gemini"] {
        let inv = w.invocation(
            name,
            AgentMode::Headless,
            SessionRequest::New { preassigned: None },
            Permissions::Ask,
        );
        let failure = w
            .turn(&inv, &[("FAKE_AGENT_LOGGED_OUT", "1")])
            .1
            .failure
            .unwrap();
        assert_eq!(
            failure.class,
            ErrorClass::CliAuth,
            "{name}: {}",
            failure.message
        );
    }
}

#[test]
fn scripts_drive_each_turn() {
    let w = World::new();
    let script = w.script(
        "- [{text: \"first answer\"}]\n- [{stderr: boom}, {exit: 3}]\n- [{write_file: {path: out/report.md, content: hi}}, {emit: {fixture: api_error}}]\n- ~\n",
    );
    let script = script.display().to_string();
    let env = [("FAKE_AGENT_SCRIPT", script.as_str())];
    let inv = w.invocation(
        "claude",
        AgentMode::Headless,
        SessionRequest::New { preassigned: None },
        Permissions::Ask,
    );
    assert_eq!(
        w.turn(&inv, &env).1.final_text.as_deref(),
        Some("first answer")
    );
    let second = w.turn(&inv, &env).1.failure.unwrap();
    assert_eq!(
        (second.class, second.message.as_str()),
        (
            ErrorClass::ExitStatus,
            "claude failed with exit status 3: boom"
        )
    );
    let third = w.turn(&inv, &env).1;
    assert_eq!(
        third.failure.unwrap().message,
        "API Error: Repeated 529 Overloaded errors"
    );
    assert_eq!(
        std::fs::read_to_string(w.proj().join("out/report.md")).unwrap(),
        "hi"
    );
    assert_eq!(w.turn(&inv, &env).1.final_text.as_deref(), Some("Done."));
    let turns: Vec<_> = w.log().iter().map(|l| l["turn"].clone()).collect();
    assert_eq!(turns, vec![1, 2, 3, 4]);
}

#[test]
fn by_prompt_scripts_pick_each_turn_by_its_prompt_and_cli() {
    let w = World::new();
    let script = w.script(
        "by_prompt:\n  - {contains: \"do the\", cli: codex, turns: [[{text: codex one}], [{text: codex two}]]}\n  - {contains: \"do the\", turns: [[{text: any one}]]}\nturns: [[{text: unmatched}]]\n",
    );
    let script = script.display().to_string();
    let env = [("FAKE_AGENT_SCRIPT", script.as_str())];
    let inv = |cli: &str, prompt: &str| {
        let mut inv = w.invocation(
            cli,
            AgentMode::Headless,
            SessionRequest::New { preassigned: None },
            Permissions::Ask,
        );
        inv.prompt = prompt.into();
        inv
    };
    let answer = |inv: &Invocation| w.turn(inv, &env).1.final_text.unwrap_or_default();
    // Each rule counts its own turns, whatever the others did in between.
    assert_eq!(answer(&inv("claude", "-do the step")), "any one");
    assert_eq!(answer(&inv("codex", "-do the step")), "codex one");
    assert_eq!(answer(&inv("claude", "-something else")), "unmatched");
    assert_eq!(answer(&inv("codex", "-do the step")), "codex two");
    assert_eq!(answer(&inv("claude", "-do the step")), "Done.");
    assert_eq!(answer(&inv("claude", "-something else")), "Done.");
    // The logged turn numbers stay global.
    let turns: Vec<_> = w.log().iter().map(|l| l["turn"].clone()).collect();
    assert_eq!(turns, vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn crash_mid_stream_leaves_a_truncated_line() {
    let w = World::new();
    let script = w.script("- [crash_mid_stream]\n").display().to_string();
    let inv = w.invocation(
        "codex",
        AgentMode::Headless,
        SessionRequest::New { preassigned: None },
        Permissions::Ask,
    );
    let (events, done) = w.turn(&inv, &[("FAKE_AGENT_SCRIPT", script.as_str())]);
    assert!(
        matches!(events.last(), Some(AgentEvent::Raw { .. })),
        "{events:?}"
    );
    assert_eq!(done.failure.unwrap().class, ErrorClass::ExitStatus);
}

#[test]
fn log_records_the_environment() {
    let w = World::new();
    let o = w
        .cmd(
            "claude",
            &[
                "-p".into(),
                "--output-format".into(),
                "stream-json".into(),
                "--verbose".into(),
                "hi".into(),
            ],
        )
        .env("AGENT_RUNNER_STEP", "plan")
        .env("CLAUDECODE", "1")
        .output()
        .unwrap();
    assert!(o.status.success());
    let log = w.log();
    let line = &log[0];
    assert_eq!(line["kind"], "invocation");
    assert_eq!(line["mode"], "headless");
    assert_eq!(line["stdin_is_devnull"], true);
    assert_eq!(line["stdin_is_tty"], false);
    assert_eq!(line["claudecode"], true);
    assert_eq!(line["env"]["AGENT_RUNNER_STEP"], "plan");
    assert_eq!(line["cwd"], w.proj().display().to_string());
    assert!(line["session_id"].as_str().unwrap().len() == 36);
}

#[test]
fn interactive_mode_logs_terminal_input() {
    use nix::pty::openpty;
    let w = World::new();
    let script = w
        .script("- [print_size, {exit_after_input: {contains: \"q\", code: 4}}]\n")
        .display()
        .to_string();
    let pty = openpty(None, None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    let mut cmd = w.cmd(
        "claude",
        &[
            "--session-id".into(),
            agents::new_session_id().unwrap(),
            "--".into(),
            "hi".into(),
        ],
    );
    cmd.env("FAKE_AGENT_SCRIPT", &script)
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let mut master = std::fs::File::from(pty.master);
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains("size:") {
        let n = master.read(&mut buf).unwrap();
        seen.extend(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).contains("claude (fake) ready; session "));
    master.write_all(b"/cont\x7fq").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(4));
    let log = w.log();
    assert_eq!(log[0]["stdin_is_tty"], true);
    let hex: String = log
        .iter()
        .filter(|l| l["kind"] == "stdin")
        .map(|l| l["hex"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hex, "2f636f6e747f71");
}
