//! Per-CLI argv handling for the fake: each real CLI's options, its error texts and exit codes
//! for rejected argv, and what a valid command line asks for ([`Plan`]).
//!
//! Texts marked "recorded" were captured from the real CLIs (claude 2.1.197, codex-cli 0.169.0,
//! copilot 1.0.102, gemini 0.61.0, opencode 1.18.33); see docs/agent-clis.md.

use super::argv::{ArgError, Opt, Parsed, flag, optional, parse, value, variadic};

/// Which CLI the fake is playing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    Claude,
    Codex,
    Copilot,
    Cursor,
    Opencode,
    Gemini,
}

impl Cli {
    pub fn from_argv0(argv0: &str) -> Option<Cli> {
        let base = argv0.rsplit('/').next().unwrap_or(argv0);
        Some(match base {
            "claude" => Cli::Claude,
            "codex" => Cli::Codex,
            "copilot" => Cli::Copilot,
            "cursor-agent" => Cli::Cursor,
            "opencode" => Cli::Opencode,
            "gemini" => Cli::Gemini,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::Copilot => "copilot",
            Cli::Cursor => "cursor-agent",
            Cli::Opencode => "opencode",
            Cli::Gemini => "gemini",
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone)]
pub enum Plan {
    /// The real CLI rejects this argv: print `stderr`, exit with `code`.
    Reject { stderr: String, code: i32 },
    /// `--version` and the like.
    Print { stdout: String },
    /// `claude auth status`, `codex login status`, ...
    AuthStatus,
    /// An agent turn.
    Turn(Box<Turn>),
}

#[derive(Debug, Clone)]
pub struct Turn {
    pub headless: bool,
    pub session: SessionArg,
    pub prompt: String,
    /// Parsed options, for checks that need them later.
    pub parsed: Parsed,
    /// The session is resumed in a sandbox that needs a terminal (codex interactive).
    pub needs_tty: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionArg {
    /// New session; `Some` when the id was given on the command line.
    New(Option<String>),
    Resume(String),
}

pub fn plan(cli: Cli, args: &[String]) -> Plan {
    match cli {
        Cli::Claude => claude(args),
        Cli::Codex => codex(args),
        Cli::Copilot => copilot(args),
        Cli::Cursor => cursor(args),
        Cli::Opencode => opencode(args),
        Cli::Gemini => gemini(args),
    }
}

fn reject(stderr: impl Into<String>, code: i32) -> Plan {
    Plan::Reject {
        stderr: stderr.into(),
        code,
    }
}

const CLAUDE_OPTS: &[Opt] = &[
    flag(&["-p", "--print"]),
    flag(&["--verbose"]),
    flag(&["-c", "--continue"]),
    flag(&["--fork-session"]),
    flag(&["--dangerously-skip-permissions"]),
    flag(&["--allow-dangerously-skip-permissions"]),
    flag(&["--include-partial-messages"]),
    flag(&["--no-session-persistence"]),
    flag(&["--strict-mcp-config"]),
    flag(&["--bare"]),
    flag(&["--ide"]),
    flag(&["-h", "--help"]),
    flag(&["-v", "--version"]),
    value(&["--output-format"]),
    value(&["--input-format"]),
    value(&["--session-id"]),
    optional(&["-r", "--resume"]),
    value(&["--model"]),
    value(&["--fallback-model"]),
    value(&["--effort"]),
    value(&["--permission-mode"]),
    value(&["--append-system-prompt"]),
    value(&["--system-prompt"]),
    value(&["--max-budget-usd"]),
    value(&["--settings"]),
    value(&["--agent"]),
    value(&["--agents"]),
    value(&["--json-schema"]),
    value(&["-n", "--name"]),
    value(&["--setting-sources"]),
    optional(&["-d", "--debug"]),
    value(&["--debug-file"]),
    variadic(&["--add-dir"]),
    variadic(&["--allowedTools", "--allowed-tools"]),
    variadic(&["--disallowedTools", "--disallowed-tools"]),
    variadic(&["--tools"]),
    variadic(&["--mcp-config"]),
    variadic(&["--betas"]),
];

const PERMISSION_MODES: &[&str] = &[
    "acceptEdits",
    "auto",
    "bypassPermissions",
    "default",
    "dontAsk",
    "plan",
];

fn claude(args: &[String]) -> Plan {
    if args.first().map(String::as_str) == Some("auth") {
        return match args.get(1).map(String::as_str) {
            Some("status") => Plan::AuthStatus,
            _ => reject("error: unknown command", 1),
        };
    }
    let p = match parse(args, CLAUDE_OPTS, &[]) {
        Ok(p) => p,
        Err(ArgError::Unknown(a)) => return reject(format!("error: unknown option '{a}'"), 1),
        Err(ArgError::Missing(name)) => {
            return reject(
                format!("error: option '{name} <value>' argument missing"),
                1,
            );
        }
    };
    if p.has("-v") {
        return Plan::Print {
            stdout: "2.1.197 (Claude Code)\n".into(),
        };
    }
    if let Some(mode) = p.value("--permission-mode")
        && !PERMISSION_MODES.contains(&mode)
    {
        return reject(
            format!(
                "error: option '--permission-mode <mode>' argument '{mode}' is invalid. Allowed choices are {}.",
                PERMISSION_MODES.join(", ")
            ),
            1,
        );
    }
    let headless = p.has("-p");
    if headless && p.value("--output-format") == Some("stream-json") && !p.has("--verbose") {
        return reject(
            "Error: When using --print, --output-format=stream-json requires --verbose",
            1,
        );
    }
    let session = match (p.value("--session-id"), p.value("-r")) {
        (Some(id), _) if !agent_runner::agents::ids::is_uuid(id) => {
            return reject("Error: Invalid session ID. Must be a valid UUID.", 1);
        }
        (_, Some(id)) => SessionArg::Resume(id.to_string()),
        (id, None) => SessionArg::New(id.map(str::to_string)),
    };
    let prompt = p.positionals.join(" ");
    if headless && prompt.is_empty() {
        return reject(
            "Error: Input must be provided either through stdin or as a prompt argument when using --print",
            1,
        );
    }
    Plan::Turn(Box::new(Turn {
        headless,
        session,
        prompt,
        parsed: p,
        needs_tty: false,
    }))
}

/// Options `codex` accepts before a subcommand (and `codex resume` accepts too).
const CODEX_GLOBAL: &[Opt] = &[
    value(&["-c", "--config"]),
    value(&["--enable"]),
    value(&["--disable"]),
    value(&["--remote"]),
    value(&["--remote-auth-token-env"]),
    flag(&["--strict-config"]),
    value(&["-i", "--image"]),
    value(&["-m", "--model"]),
    flag(&["--oss"]),
    value(&["--local-provider"]),
    value(&["-p", "--profile"]),
    value(&["-s", "--sandbox"]),
    flag(&["--approve-for-me"]),
    flag(&["--dangerously-bypass-approvals-and-sandbox"]),
    flag(&["--dangerously-bypass-hook-trust"]),
    value(&["-C", "--cd"]),
    flag(&["--worktree"]),
    value(&["--add-dir"]),
    value(&["-a", "--ask-for-approval"]),
    flag(&["--search"]),
    flag(&["--no-alt-screen"]),
    flag(&["--no-daemon"]),
    flag(&["-h", "--help"]),
    flag(&["-V", "--version"]),
    flag(&["--last"]),
    flag(&["--all"]),
    flag(&["--include-non-interactive"]),
];

const CODEX_EXEC: &[Opt] = &[
    value(&["-c", "--config"]),
    value(&["--enable"]),
    value(&["--disable"]),
    flag(&["--strict-config"]),
    value(&["-i", "--image"]),
    value(&["-m", "--model"]),
    flag(&["--oss"]),
    value(&["--local-provider"]),
    value(&["-p", "--profile"]),
    value(&["-s", "--sandbox"]),
    flag(&["--approve-for-me"]),
    flag(&["--dangerously-bypass-approvals-and-sandbox"]),
    flag(&["--dangerously-bypass-hook-trust"]),
    value(&["-C", "--cd"]),
    flag(&["--worktree"]),
    value(&["--add-dir"]),
    value(&["--thread-source"]),
    value(&["--cyber-access-program"]),
    flag(&["--skip-git-repo-check"]),
    flag(&["--trust"]),
    flag(&["--ephemeral"]),
    flag(&["--ignore-user-config"]),
    flag(&["--ignore-rules"]),
    value(&["--output-schema"]),
    value(&["--color"]),
    flag(&["--json"]),
    value(&["-o", "--output-last-message"]),
    flag(&["-h", "--help"]),
];

/// `codex exec resume` has no sandbox, approval or `--add-dir` options of its own.
const CODEX_EXEC_RESUME: &[Opt] = &[
    value(&["-c", "--config"]),
    flag(&["--last"]),
    flag(&["--all"]),
    value(&["--enable"]),
    value(&["--disable"]),
    value(&["-i", "--image"]),
    flag(&["--strict-config"]),
    value(&["-m", "--model"]),
    flag(&["--dangerously-bypass-approvals-and-sandbox"]),
    flag(&["--dangerously-bypass-hook-trust"]),
    flag(&["--worktree"]),
    value(&["--thread-source"]),
    value(&["--cyber-access-program"]),
    flag(&["--skip-git-repo-check"]),
    flag(&["--trust"]),
    flag(&["--ephemeral"]),
    flag(&["--ignore-user-config"]),
    flag(&["--ignore-rules"]),
    value(&["--output-schema"]),
    flag(&["--json"]),
    value(&["-o", "--output-last-message"]),
    flag(&["-h", "--help"]),
];

/// clap's error for an unknown argument (recorded from codex-cli 0.169.0, exit 2).
fn clap_unexpected(arg: &str, usage: &str) -> String {
    format!(
        "error: unexpected argument '{arg}' found\n\n  tip: to pass '{arg}' as a value, use '-- {arg}'\n\n{usage}\n\nFor more information, try '--help'."
    )
}

fn clap_missing(name: &str, usage: &str) -> String {
    format!(
        "error: a value is required for '{name} <VALUE>' but none was supplied\n\n{usage}\n\nFor more information, try '--help'."
    )
}

const CODEX_USAGE: &str =
    "Usage: codex [OPTIONS] [PROMPT]\n       codex [OPTIONS] <COMMAND> [ARGS]";
const CODEX_EXEC_USAGE: &str =
    "Usage: codex exec [OPTIONS] [PROMPT]\n       codex exec [OPTIONS] <COMMAND> [ARGS]";
const CODEX_EXEC_RESUME_USAGE: &str = "Usage: codex exec resume [OPTIONS] [SESSION_ID] [PROMPT]";
const CODEX_RESUME_USAGE: &str = "Usage: codex resume [OPTIONS] [SESSION_ID] [PROMPT]";

fn codex_parse(args: &[String], opts: &[Opt], subs: &[&str], usage: &str) -> Result<Parsed, Plan> {
    parse(args, opts, subs).map_err(|e| match e {
        ArgError::Unknown(a) => reject(clap_unexpected(&a, usage), 2),
        ArgError::Missing(n) => reject(clap_missing(n, usage), 2),
    })
}

fn merge(mut outer: Parsed, inner: Parsed) -> Parsed {
    outer.opts.extend(inner.opts);
    outer.positionals = inner.positionals;
    outer.subcommand = inner.subcommand;
    outer
}

fn codex(args: &[String]) -> Plan {
    let top = match codex_parse(
        args,
        CODEX_GLOBAL,
        &["exec", "e", "resume", "login"],
        CODEX_USAGE,
    ) {
        Ok(p) => p,
        Err(plan) => return plan,
    };
    if top.has("-V") {
        return Plan::Print {
            stdout: "codex-cli 0.169.0\n".into(),
        };
    }
    let Some((sub, rest)) = top.subcommand.clone() else {
        let prompt = top.positionals.join(" ");
        return Plan::Turn(Box::new(Turn {
            headless: false,
            session: SessionArg::New(None),
            prompt,
            parsed: top,
            needs_tty: true,
        }));
    };
    match sub.as_str() {
        "login" => match rest.first().map(String::as_str) {
            Some("status") => Plan::AuthStatus,
            _ => reject("error: the fake supports only \"codex login status\"", 2),
        },
        "resume" => match codex_parse(&rest, CODEX_GLOBAL, &[], CODEX_RESUME_USAGE) {
            Err(plan) => plan,
            Ok(inner) => {
                let p = merge(top, inner);
                let Some(id) = p.positionals.first().cloned() else {
                    return reject("Error: the fake needs a session id for \"codex resume\"", 1);
                };
                let prompt = p.positionals[1..].join(" ");
                Plan::Turn(Box::new(Turn {
                    headless: false,
                    session: SessionArg::Resume(id),
                    prompt,
                    parsed: p,
                    needs_tty: true,
                }))
            }
        },
        _ => match codex_parse(&rest, CODEX_EXEC, &["resume"], CODEX_EXEC_USAGE) {
            Err(plan) => plan,
            Ok(exec) => match exec.subcommand.clone() {
                Some((_, resume_args)) => match codex_parse(
                    &resume_args,
                    CODEX_EXEC_RESUME,
                    &[],
                    CODEX_EXEC_RESUME_USAGE,
                ) {
                    Err(plan) => plan,
                    Ok(inner) => {
                        let p = merge(merge(top, exec), inner);
                        let Some(id) = p.positionals.first().cloned() else {
                            return reject(
                                "Error: the fake needs a session id for \"codex exec resume\"",
                                1,
                            );
                        };
                        let prompt = p.positionals[1..].join(" ");
                        Plan::Turn(Box::new(Turn {
                            headless: true,
                            session: SessionArg::Resume(id),
                            prompt,
                            parsed: p,
                            needs_tty: false,
                        }))
                    }
                },
                None => {
                    let p = merge(top, exec);
                    let prompt = p.positionals.join(" ");
                    Plan::Turn(Box::new(Turn {
                        headless: true,
                        session: SessionArg::New(None),
                        prompt,
                        parsed: p,
                        needs_tty: false,
                    }))
                }
            },
        },
    }
}

const COPILOT_OPTS: &[Opt] = &[
    value(&["-p", "--prompt"]),
    value(&["-i", "--interactive"]),
    value(&["--output-format"]),
    flag(&["--no-ask-user"]),
    flag(&["--no-auto-update"]),
    flag(&["--no-color"]),
    flag(&["--no-custom-instructions"]),
    value(&["--session-id"]),
    optional(&["-r", "--resume"]),
    flag(&["--continue"]),
    value(&["--model"]),
    value(&["--reasoning-effort"]),
    flag(&["--allow-all-tools"]),
    flag(&["--allow-all-paths"]),
    flag(&["--allow-all-urls"]),
    flag(&["--allow-all"]),
    flag(&["--yolo"]),
    value(&["--add-dir"]),
    flag(&["-s", "--silent"]),
    flag(&["--trust-folder"]),
    value(&["--stream"]),
    value(&["--log-level"]),
    value(&["--log-dir"]),
    value(&["--agent"]),
    value(&["-n", "--name"]),
    flag(&["-v", "--version"]),
    flag(&["-h", "--help"]),
];

const EFFORTS_COPILOT: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh", "max"];

fn copilot(args: &[String]) -> Plan {
    let p = match parse(args, COPILOT_OPTS, &["login"]) {
        Ok(p) => p,
        Err(ArgError::Unknown(a)) => {
            return reject(
                format!(
                    "error: unexpected argument '{a}' found\n\nUsage: copilot [OPTIONS] [COMMAND]\n\nFor more information, try '--help'."
                ),
                1,
            );
        }
        Err(ArgError::Missing(n)) => {
            return reject(clap_missing(n, "Usage: copilot [OPTIONS] [COMMAND]"), 1);
        }
    };
    if p.subcommand.is_some() {
        return Plan::AuthStatus;
    }
    if p.has("-v") {
        return Plan::Print {
            stdout: "GitHub Copilot CLI 1.0.102.\n".into(),
        };
    }
    if let Some(e) = p.value("--reasoning-effort")
        && !EFFORTS_COPILOT.contains(&e)
    {
        return reject(
            format!("error: invalid value '{e}' for '--reasoning-effort <level>'"),
            1,
        );
    }
    let headless = p.has("-p");
    let prompt = p.value("-p").or(p.value("-i")).unwrap_or("").to_string();
    let session = match (p.value("-r"), p.value("--session-id")) {
        (Some(id), _) => SessionArg::Resume(id.to_string()),
        (None, id) => SessionArg::New(id.map(str::to_string)),
    };
    Plan::Turn(Box::new(Turn {
        headless,
        session,
        prompt,
        parsed: p,
        needs_tty: false,
    }))
}

const CURSOR_OPTS: &[Opt] = &[
    flag(&["-p", "--print"]),
    value(&["--output-format"]),
    flag(&["--trust"]),
    value(&["--model"]),
    flag(&["-f", "--force"]),
    optional(&["--resume"]),
    value(&["--api-key"]),
    flag(&["-v", "--version"]),
    flag(&["-h", "--help"]),
];

fn cursor(args: &[String]) -> Plan {
    let p = match parse(args, CURSOR_OPTS, &["status", "login"]) {
        Ok(p) => p,
        Err(ArgError::Unknown(a)) => return reject(format!("error: unknown option '{a}'"), 1),
        Err(ArgError::Missing(n)) => {
            return reject(format!("error: option '{n} <value>' argument missing"), 1);
        }
    };
    if p.subcommand.is_some() {
        return Plan::AuthStatus;
    }
    let session = match p.value("--resume") {
        Some(id) => SessionArg::Resume(id.to_string()),
        None => SessionArg::New(None),
    };
    let prompt = p.positionals.join(" ");
    Plan::Turn(Box::new(Turn {
        headless: p.has("-p"),
        session,
        prompt,
        parsed: p,
        needs_tty: false,
    }))
}

const OPENCODE_RUN: &[Opt] = &[
    value(&["--format"]),
    value(&["-m", "--model"]),
    value(&["--variant"]),
    value(&["-s", "--session"]),
    flag(&["-c", "--continue"]),
    flag(&["--fork"]),
    flag(&["--auto"]),
    flag(&["--thinking"]),
    flag(&["--share"]),
    value(&["--agent"]),
    value(&["--title"]),
    value(&["--dir"]),
    value(&["--log-level"]),
    flag(&["--print-logs"]),
    flag(&["--pure"]),
    flag(&["-h", "--help"]),
];

const OPENCODE_TUI: &[Opt] = &[
    value(&["-m", "--model"]),
    value(&["-s", "--session"]),
    flag(&["-c", "--continue"]),
    value(&["--prompt"]),
    value(&["--agent"]),
    flag(&["--auto"]),
    value(&["--log-level"]),
    flag(&["--print-logs"]),
    flag(&["--pure"]),
    value(&["--port"]),
    value(&["--hostname"]),
    flag(&["-v", "--version"]),
    flag(&["-h", "--help"]),
];

fn opencode(args: &[String]) -> Plan {
    let yargs_error = |usage: &str| reject(usage.to_string(), 1);
    let top = match parse(args, OPENCODE_TUI, &["run", "auth", "providers"]) {
        Ok(p) => p,
        Err(_) => return yargs_error("opencode [project]\n\nstart opencode tui"),
    };
    if top.has("-v") {
        return Plan::Print {
            stdout: "1.18.33\n".into(),
        };
    }
    match top.subcommand.clone() {
        Some((sub, _)) if sub != "run" => Plan::AuthStatus,
        Some((_, rest)) => {
            let p = match parse(&rest, OPENCODE_RUN, &[]) {
                Ok(p) => p,
                Err(_) => {
                    return yargs_error("opencode run [message..]\n\nrun opencode with a message");
                }
            };
            let prompt = p.positionals.join(" ");
            if prompt.trim().is_empty() {
                return reject("Error: You must provide a message or a command", 1);
            }
            let session = match p.value("-s") {
                Some(id) => SessionArg::Resume(id.to_string()),
                None => SessionArg::New(None),
            };
            Plan::Turn(Box::new(Turn {
                headless: true,
                session,
                prompt,
                parsed: p,
                needs_tty: false,
            }))
        }
        None => {
            let session = match top.value("-s") {
                Some(id) => SessionArg::Resume(id.to_string()),
                None => SessionArg::New(None),
            };
            let prompt = top.value("--prompt").unwrap_or("").to_string();
            Plan::Turn(Box::new(Turn {
                headless: false,
                session,
                prompt,
                parsed: top,
                needs_tty: false,
            }))
        }
    }
}

const GEMINI_OPTS: &[Opt] = &[
    value(&["-p", "--prompt"]),
    value(&["-i", "--prompt-interactive"]),
    value(&["-m", "--model"]),
    value(&["-o", "--output-format"]),
    value(&["--approval-mode"]),
    flag(&["-y", "--yolo"]),
    value(&["-r", "--resume"]),
    value(&["--session-id"]),
    flag(&["--skip-trust"]),
    flag(&["-s", "--sandbox"]),
    flag(&["-d", "--debug"]),
    value(&["--include-directories"]),
    flag(&["--raw-output"]),
    flag(&["--accept-raw-output-risk"]),
    flag(&["-v", "--version"]),
    flag(&["-h", "--help"]),
];

const GEMINI_USAGE: &str = "Usage: gemini [options] [command]\n\nGemini CLI - Defaults to interactive mode. Use -p/--prompt for non-interactive (headless) mode.";

fn gemini(args: &[String]) -> Plan {
    let p = match parse(args, GEMINI_OPTS, &[]) {
        Ok(p) => p,
        Err(ArgError::Unknown(a)) => {
            return reject(
                format!(
                    "Unknown argument: {}\n{GEMINI_USAGE}",
                    a.trim_start_matches('-')
                ),
                1,
            );
        }
        Err(ArgError::Missing(n)) => {
            return reject(
                format!(
                    "Not enough arguments following: {}\n{GEMINI_USAGE}",
                    n.trim_start_matches('-')
                ),
                1,
            );
        }
    };
    if p.has("-v") {
        return Plan::Print {
            stdout: "0.61.0\n".into(),
        };
    }
    if let Some(mode) = p.value("--approval-mode")
        && !["default", "auto_edit", "yolo", "plan"].contains(&mode)
    {
        return reject(
            format!(
                "Invalid values:\n  Argument: approval-mode, Given: \"{mode}\", Choices: \"default\", \"auto_edit\", \"yolo\", \"plan\"\n{GEMINI_USAGE}"
            ),
            1,
        );
    }
    let headless = p.has("-p");
    let prompt = p
        .value("-p")
        .or(p.value("-i"))
        .map(str::to_string)
        .unwrap_or_else(|| p.positionals.join(" "));
    let session = match (p.value("-r"), p.value("--session-id")) {
        (Some(id), _) => SessionArg::Resume(id.to_string()),
        (None, id) => SessionArg::New(id.map(str::to_string)),
    };
    Plan::Turn(Box::new(Turn {
        headless,
        session,
        prompt,
        parsed: p,
        needs_tty: false,
    }))
}
