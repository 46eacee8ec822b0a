//! `fake-agent`: a faithful stand-in for the agent CLIs in tests (agents.md §11).
//!
//! Copied or linked as `claude`, `codex`, `copilot`, `cursor-agent`, `opencode` or `gemini`, it
//! picks the CLI from `argv[0]`, parses argv the way that CLI does (rejecting what it rejects,
//! with its error text and exit status), replays recorded stream fixtures, writes session files
//! where the real CLI keeps them, and fails resumes of unknown sessions with the real messages.
//!
//! Environment:
//! - `FAKE_AGENT_LOGGED_OUT=1`: auth checks report logged out; turns fail like a logged-out CLI.
//! - `FAKE_AGENT_SCRIPT=<yaml>`: per-turn behaviour (see `script.rs` beside this file).
//! - `FAKE_AGENT_LOG=<file>`: one JSON line per invocation, plus terminal input in interactive mode.

mod argv;
mod clis;
mod codex_usage;
mod fixtures;
mod record;
mod script;
mod sessions;
mod spend;
mod turn;

use std::io::IsTerminal;
use std::path::PathBuf;

use clis::{Cli, Plan, SessionArg, Turn};
use script::Action;
use turn::TurnCtx;

fn main() {
    let mut all = std::env::args();
    let argv0 = all.next().unwrap_or_default();
    let args: Vec<String> = all.collect();
    let Some(cli) = Cli::from_argv0(&argv0) else {
        eprintln!(
            "fake-agent: run me as claude, codex, copilot, cursor-agent, opencode or gemini (argv[0] was {argv0:?})"
        );
        std::process::exit(2);
    };
    std::process::exit(run(cli, &args));
}

fn logged_out() -> bool {
    std::env::var("FAKE_AGENT_LOGGED_OUT").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn run(cli: Cli, args: &[String]) -> i32 {
    match clis::plan(cli, args) {
        Plan::Reject { stderr, code } => {
            record::append(&record::invocation_line(
                cli.name(),
                None,
                args,
                "rejected",
                None,
            ));
            eprintln!("{stderr}");
            code
        }
        Plan::Print { stdout } => {
            record::append(&record::invocation_line(
                cli.name(),
                None,
                args,
                "info",
                None,
            ));
            print!("{stdout}");
            0
        }
        Plan::AuthStatus => {
            record::append(&record::invocation_line(
                cli.name(),
                None,
                args,
                "auth_status",
                None,
            ));
            auth_status(cli)
        }
        Plan::Turn(t) => turn(cli, args, *t),
    }
}

/// `claude auth status`, `codex login status`, `cursor-agent status`, `opencode auth list`.
fn auth_status(cli: Cli) -> i32 {
    let out = logged_out();
    match cli {
        Cli::Claude => {
            let (logged, method) = if out {
                (false, "none")
            } else {
                (true, "claude.ai")
            };
            println!(
                "{{\n  \"loggedIn\": {logged},\n  \"authMethod\": \"{method}\",\n  \"apiProvider\": \"firstParty\"\n}}"
            );
            i32::from(out)
        }
        Cli::Codex => {
            eprintln!(
                "{}",
                if out {
                    "Not logged in"
                } else {
                    "Logged in using ChatGPT"
                }
            );
            i32::from(out)
        }
        Cli::Opencode => {
            println!(
                "┌  Credentials ~/.local/share/opencode/auth.json\n│\n└  {} credentials",
                if out { 0 } else { 1 }
            );
            0
        }
        Cli::Cursor => {
            println!(
                "{}",
                if out {
                    "Not logged in"
                } else {
                    "✓ Logged in as fake@example.com"
                }
            );
            i32::from(out)
        }
        Cli::Copilot | Cli::Gemini => {
            eprintln!("fake-agent: {} has no login status command", cli.name());
            2
        }
    }
}

/// The schema of claude's `--json-schema` or the contents of codex's `--output-schema` file.
fn native_schema(t: &Turn) -> Option<String> {
    if let Some(schema) = t.parsed.value("--json-schema") {
        return Some(schema.to_owned());
    }
    let file = t.parsed.value("--output-schema")?;
    Some(std::fs::read_to_string(file).unwrap_or_default())
}

fn turn(cli: Cli, args: &[String], t: Turn) -> i32 {
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let (session_id, resume) = match &t.session {
        SessionArg::New(Some(id)) => (id.clone(), false),
        SessionArg::New(None) => (sessions::new_id(cli), false),
        SessionArg::Resume(id) => (id.clone(), true),
    };
    let script = std::env::var_os("FAKE_AGENT_SCRIPT").map(PathBuf::from);
    let log = std::env::var_os("FAKE_AGENT_LOG").map(PathBuf::from);
    let counter = script::counter_path(log.as_deref(), script.as_deref());
    let number = counter.as_deref().and_then(|c| script::next_turn(c).ok());
    let mode = if t.headless {
        "headless"
    } else {
        "interactive"
    };
    record::append(&record::invocation_line(
        cli.name(),
        number,
        args,
        mode,
        Some(&session_id),
    ));

    let mut hints: Vec<&str> = t.parsed.values("--allowedTools");
    hints.extend(t.parsed.values("--append-system-prompt"));
    hints.push(&t.prompt);
    let ctx = TurnCtx {
        cli,
        turn: number,
        session_id: session_id.clone(),
        cwd: cwd.clone(),
        home: sessions::home().display().to_string(),
        prompt: t.prompt.clone(),
        hints: hints.join("\n"),
        interactive: !t.headless,
        native_schema: native_schema(&t),
    };

    if let Some(code) = refuse(cli, &t, &ctx, resume) {
        return code;
    }
    if cli == Cli::Codex
        && t.headless
        && !std::io::stdin().is_terminal()
        && !record::stdin_is_devnull()
    {
        // Like codex exec: a piped stdin is read to its end first (forever, if never closed).
        eprintln!("Reading additional input from stdin...");
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    }
    let actions = match script.as_deref().zip(number).zip(counter.as_deref()) {
        Some(((path, n), counter)) => match script::actions_for(
            path,
            n,
            &script::Pick {
                cli: cli.name(),
                prompt: &t.prompt,
                counter,
            },
        ) {
            Ok(actions) => actions,
            Err(e) => {
                eprintln!("fake-agent: FAKE_AGENT_SCRIPT: {e}");
                return 70;
            }
        },
        None => None,
    };
    let existing = sessions::find(cli, &session_id, &cwd);
    let file = match existing {
        Some(path) => Some(path),
        None => sessions::create(cli, &session_id, &cwd, t.headless).ok(),
    };
    if let Some(file) = &file {
        sessions::record_prompt(file, &session_id, &cwd, &ctx.prompt);
    }
    if t.headless {
        let actions = actions.unwrap_or_else(|| {
            vec![Action::Emit {
                fixture: "success".into(),
                text: None,
            }]
        });
        turn::run(&ctx, &actions, None)
    } else {
        turn::interactive(&ctx, &actions.unwrap_or_default())
    }
}

/// The real CLIs' refusals that depend on state: logged out, unknown or duplicate sessions,
/// no terminal, root with bypassed permissions. `Some(exit status)` when the turn ends here.
fn refuse(cli: Cli, t: &Turn, ctx: &TurnCtx, resume: bool) -> Option<i32> {
    let fail = |text: &str, code: i32| {
        eprintln!("{text}");
        Some(code)
    };
    if t.needs_tty && !std::io::stdin().is_terminal() {
        return fail("Error: stdin is not a terminal", 1);
    }
    let id = &ctx.session_id;
    if cli == Cli::Claude {
        let bypass = t.parsed.value("--permission-mode") == Some("bypassPermissions")
            || t.parsed.has("--dangerously-skip-permissions");
        if bypass && nix::unistd::geteuid().is_root() && std::env::var_os("IS_SANDBOX").is_none() {
            return fail(
                "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons",
                1,
            );
        }
    }
    let known = sessions::find(cli, id, &ctx.cwd).is_some();
    if !resume && known && matches!(t.session, SessionArg::New(Some(_))) {
        return match cli {
            Cli::Claude => fail(&format!("Error: Session ID {id} is already in use."), 1),
            Cli::Gemini => fail(
                &format!(
                    "Error starting session: Session ID \"{id}\" already exists. Use --resume to resume it, or provide a different ID."
                ),
                42,
            ),
            _ => None,
        };
    }
    if resume && !known {
        return Some(match (cli, t.headless) {
            (Cli::Claude, true) => ctx.emit("no_conversation", None),
            (Cli::Claude, false) => {
                fail(&format!("No conversation found with session ID: {id}"), 1)?
            }
            (Cli::Codex, _) => ctx.emit("no_rollout", None),
            (Cli::Copilot, _) => ctx.emit("no_session", None),
            (Cli::Opencode, _) => ctx.emit("no_session", None),
            (Cli::Gemini, _) if sessions::any_for_cwd(cli, &ctx.cwd) => fail(
                &format!(
                    "Error resuming session: Invalid session identifier \"{id}\". Use --list-sessions to see available sessions."
                ),
                42,
            )?,
            (Cli::Gemini, _) => ctx.emit("no_session", None),
            (Cli::Cursor, _) => fail(&format!("Error: session {id} not found"), 1)?,
        });
    }
    if logged_out() {
        return Some(match (cli, t.headless) {
            (Cli::Claude, false) => fail("Not logged in · Please run /login", 1)?,
            (Cli::Opencode, _) => ctx.emit("error", None),
            _ => {
                if let Some(path) = sessions::create(cli, id, &ctx.cwd, t.headless)
                    .ok()
                    .filter(|_| cli == Cli::Claude)
                {
                    sessions::record_prompt(&path, id, &ctx.cwd, &ctx.prompt);
                }
                ctx.emit("logged_out", None)
            }
        });
    }
    None
}
