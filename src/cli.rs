//! Command-line arguments, in two phases (cli.md §1–§2).
//!
//! Phase one rewrites the compatibility spellings (`-validate`, `-list`, `-inspect <id>`, …) and
//! splits off everything after `--`, then clap parses the rest into [`RawArgs`]. Phase two turns
//! the raw arguments into a validated [`Invocation`]: which command runs, with which options.
//! Nothing runs until the invocation is valid, and every mistake is a [`UsageError`] (exit 2).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

mod applies;

/// Words that name a command when they are the first positional argument.
pub const COMMAND_WORDS: &[&str] = &[
    "run",
    "list",
    "show",
    "log",
    "workflows",
    "step",
    "schema",
    "ui",
    "worktrees",
    "help",
    "migrate",
    "k8s",
    "resume",
    "validate",
];

const AFTER_HELP: &str = "\
Examples:
  agent-runner flokay add-login              run the built-in change lifecycle for \"add-login\"
  agent-runner demo                          run the built-in demo workflow
  agent-runner review.yaml topic=caching     run a workflow file with a keyed parameter
  agent-runner --validate .agent-runner/workflows/*.yaml
  agent-runner --resume                      continue the latest interrupted run of this project
  agent-runner --resume flokay-20261121-083312-7f3a --from tasks
  agent-runner --dry-run flokay add-login    print the plan without running anything
  agent-runner --simulate review.yaml --stub review=fail
                                             run the logic with every step answered by a stub
  agent-runner list | show [RUN_ID] | log [RUN_ID] [-f] | workflows [--all] | schema
  agent-runner migrate [DIR] [--write]       convert a Go agent-runner project (diff first)
  agent-runner ui                            a local web view of the runs (prints its URL)
  agent-runner worktrees list | prune RUN_ID [--force]   the git worktrees of parallel branches
  agent-runner k8s flokay add-login --image registry/agents:1 --secret agent-keys | kubectl apply -f -

Inside an interactive step, type /continue and Enter (or press Ctrl-]) to end the step; /abort
stops the run. Exit codes: 0 success, 1 workflow failed, 2 usage, 3 invalid workflow or config,
4 runtime or environment error, 130 interrupted.";

/// Run YAML workflows of AI coding-agent steps.
///
/// The runner controls the order of the steps; each step gets a fresh or resumed agent session
/// with one focused prompt. State is saved after every step, so any run can be resumed.
#[derive(Debug, Parser)]
#[command(
    name = "agent-runner",
    disable_version_flag = true,
    after_help = AFTER_HELP,
    override_usage = "agent-runner [OPTIONS] <WORKFLOW> [PARAMS]... [-- PARAMS...]\n       \
                      agent-runner --validate [--json] [<WORKFLOW|FILE>...]\n       \
                      agent-runner --resume [<RUN_ID>] [--from <STEP>]\n       \
                      agent-runner <list|show|log|workflows|schema|migrate|step continue> ...\n       \
                      agent-runner worktrees <list|prune RUN_ID [--force]>\n       \
                      agent-runner ui [--port N] [--bind ADDR] [--token-file F] [--all] [--open]\n       \
                      agent-runner k8s <WORKFLOW> [PARAMS]... --image IMAGE [--secret NAME]... [--pvc NAME]"
)]
pub struct RawArgs {
    /// Change to DIR first; it becomes the project directory.
    #[arg(short = 'C', value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Validate workflows, configuration and engine files (default: everything under .agent-runner/).
    #[arg(long)]
    pub validate: bool,

    /// Resume a failed or interrupted run (default: the latest one of this project).
    #[arg(long, value_name = "RUN_ID", num_args = 0..=1)]
    pub resume: Option<Option<String>>,

    /// With a workflow: seed the agent session that `resume` steps continue ([cli:]id).
    /// Without one: the run id to resume.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,

    /// Start at this step (a top-level id, or a path a/b into groups and sub-workflows).
    #[arg(long, value_name = "STEP")]
    pub from: Option<String>,

    /// Load, validate and print the plan; execute nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Run the workflow's logic with every shell and agent step answered by a stub; spawn nothing.
    #[arg(long)]
    pub simulate: bool,

    /// --simulate: what a step answers, <step-path>[@attempt]=<value> (repeatable).
    #[arg(long, value_name = "PATH=VALUE")]
    pub stub: Vec<String>,

    /// --simulate: a YAML file of step paths or ids to answers (value, exit_code, class).
    #[arg(long, value_name = "FILE")]
    pub stub_file: Option<PathBuf>,

    /// Machine-readable output for --validate, --dry-run, list, show, log and workflows.
    #[arg(long)]
    pub json: bool,

    /// Print only step failures, warnings and the final summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// Also show tool results and the agents' stderr.
    #[arg(long)]
    pub verbose: bool,

    /// A run: stop when the agents' reported cost passes this many US dollars (with --resume:
    /// raise the run's limit).
    #[arg(long, value_name = "USD", value_parser = parse_max_cost)]
    pub max_cost: Option<f64>,

    /// A run: stop when the agents' tokens (input + output) pass N (with --resume: raise it).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tokens: Option<u64>,

    /// list, ui: runs of every project. workflows: also the hidden ones.
    #[arg(long)]
    pub all: bool,

    /// migrate: write the changes (keeping a .bak of each file) instead of printing a diff.
    #[arg(long)]
    pub write: bool,

    /// worktrees prune: also remove branches with unmerged commits and worktrees with changes.
    #[arg(long)]
    pub force: bool,

    /// list: at most N runs (default 20).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// log: keep following the log until the run ends.
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// ui: the port to listen on (default 4780; 0 picks a free one).
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,

    /// ui: the address to listen on (default 127.0.0.1; others need --token-file).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,

    /// ui: a file holding the access token to use instead of a random one.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// ui: open the page in the default browser.
    #[arg(long)]
    pub open: bool,

    /// A new run (and k8s): use this run id instead of a generated one.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,

    /// k8s: the container image (with agent-runner and the agent CLIs).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    /// k8s: a Secret whose keys become environment variables (repeatable).
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,

    /// k8s: an existing PersistentVolumeClaim for the state and the workspace.
    #[arg(long, value_name = "NAME")]
    pub pvc: Option<String>,

    /// k8s: the namespace of the generated objects.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,

    /// step continue: a note for the audit log.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,

    /// Print the version.
    #[arg(short = 'v', long)]
    pub version: bool,

    /// A command word (run, list, show, log, workflows, schema, step, migrate, validate, resume,
    /// ui, worktrees) or a workflow, then parameters.
    #[arg(value_name = "WORKFLOW|COMMAND", allow_hyphen_values = false)]
    pub positional: Vec<String>,
}

/// Options that apply to every command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Global {
    pub dir: Option<PathBuf>,
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
    /// `-headless` (the Go tool's "no TUI"): no spinner.
    pub plain: bool,
    /// `--max-cost` and `--max-tokens` (control.md §5).
    pub budget: CliBudget,
}

/// The run budget given on the command line; it wins over the workflow's and the configuration's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CliBudget {
    pub max_cost_usd: Option<f64>,
    pub max_tokens: Option<u64>,
}

// The cost is checked to be a finite number greater than 0, never NaN.
impl Eq for CliBudget {}

/// `--max-cost`: a number of US dollars greater than 0.
fn parse_max_cost(text: &str) -> Result<f64, String> {
    match text.trim().trim_start_matches('$').parse::<f64>() {
        Ok(value) if value > 0.0 && value.is_finite() => Ok(value),
        _ => Err(format!(
            "\"{text}\" is not an amount of US dollars greater than 0 (write 5 or 0.50)"
        )),
    }
}

/// What the user asked for, after all checks of the arguments themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(RunRequest),
    Resume {
        run_id: Option<String>,
        from: Option<String>,
    },
    Validate {
        targets: Vec<String>,
    },
    List {
        all: bool,
        limit: usize,
    },
    Show {
        run_id: Option<String>,
    },
    Log {
        run_id: Option<String>,
        follow: bool,
    },
    Workflows {
        all: bool,
    },
    Migrate {
        dir: Option<PathBuf>,
        write: bool,
    },
    Schema,
    Ui(UiRequest),
    /// `worktrees list`.
    WorktreesList,
    /// `worktrees prune <run-id> [--force]`.
    WorktreesPrune {
        run_id: String,
        force: bool,
    },
    K8s(K8sRequest),
    StepContinue {
        note: Option<String>,
    },
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    pub workflow: String,
    pub params: Vec<String>,
    pub seed_session: Option<String>,
    pub from: Option<String>,
    pub dry_run: bool,
    /// `--run-id`: the id of the new run instead of a generated one.
    pub run_id: Option<String>,
    /// `--simulate`, with its `--stub` arguments and `--stub-file` (boxed: most runs have none).
    pub simulate: Option<Box<Simulation>>,
}

/// `--simulate`: the stubs as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Simulation {
    pub stubs: Vec<String>,
    pub stub_file: Option<PathBuf>,
}

/// `agent-runner k8s`: the manifests that run a workflow as a Kubernetes Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sRequest {
    pub workflow: String,
    pub params: Vec<String>,
    pub image: String,
    /// Secrets whose keys become the container's environment.
    pub secrets: Vec<String>,
    /// An existing claim for the state and workspace; without it one is generated.
    pub pvc: Option<String>,
    pub namespace: Option<String>,
    /// The run id, if the user chose it.
    pub run_id: Option<String>,
}

/// `agent-runner ui`: where to serve the run view and what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiRequest {
    pub port: u16,
    pub bind: String,
    pub token_file: Option<PathBuf>,
    pub all: bool,
    pub open: bool,
}

/// The port `ui` listens on when `--port` is not given.
pub const UI_DEFAULT_PORT: u16 = 4780;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub global: Global,
    pub command: Command,
    /// Warnings about the arguments, printed before anything runs.
    pub warnings: Vec<String>,
}

/// What parsing produced when it did not produce an invocation.
#[derive(Debug)]
pub enum ParseOutcome {
    Invocation(Box<Invocation>),
    /// `--help` or `help`: print this text to stdout, exit 0.
    Help(String),
    /// A usage error: print `agent-runner: error: <message>` to stderr, exit 2.
    Usage(String),
}

/// Parses the process arguments (including `argv[0]`).
pub fn parse(args: Vec<OsString>) -> ParseOutcome {
    let mut args = args.into_iter();
    let program = args
        .next()
        .unwrap_or_else(|| OsString::from("agent-runner"));
    let mut before: Vec<String> = Vec::new();
    let mut after: Vec<String> = Vec::new();
    let mut seen_separator = false;
    for arg in args {
        let Ok(arg) = arg.into_string() else {
            return ParseOutcome::Usage("arguments must be valid UTF-8".to_owned());
        };
        if seen_separator {
            after.push(arg);
        } else if arg == "--" {
            seen_separator = true;
        } else {
            before.push(arg);
        }
    }
    let (before, plain) = rewrite_compat(before);
    let mut argv = vec![program.to_string_lossy().into_owned()];
    argv.extend(before);
    let raw = match RawArgs::try_parse_from(argv) {
        Ok(raw) => raw,
        Err(err) => return clap_outcome(err),
    };
    let global = Global {
        dir: raw.dir.clone(),
        json: raw.json,
        quiet: raw.quiet,
        verbose: raw.verbose,
        plain,
        budget: CliBudget {
            max_cost_usd: raw.max_cost,
            max_tokens: raw.max_tokens,
        },
    };
    let decided = interpret(&raw, after).and_then(|command| match command {
        Some(command) => applies::check(&raw, &command).map(|()| Some(command)),
        None => Ok(None),
    });
    match decided {
        Ok(Some(command)) => ParseOutcome::Invocation(Box::new(Invocation {
            global,
            command,
            warnings: Vec::new(),
        })),
        Ok(None) => ParseOutcome::Help(help_text()),
        Err(message) => ParseOutcome::Usage(message),
    }
}

fn clap_outcome(err: clap::Error) -> ParseOutcome {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            ParseOutcome::Help(err.render().to_string())
        }
        _ => {
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let message = first.strip_prefix("error: ").unwrap_or(first);
            ParseOutcome::Usage(format!("{message} (see \"agent-runner --help\")"))
        }
    }
}

/// The full help text, as `--help` prints it.
pub fn help_text() -> String {
    use clap::CommandFactory;
    RawArgs::command().render_long_help().to_string()
}

/// Rewrites the single-dash compatibility spellings before `--` (cli.md §1); the flag is set when
/// `-headless` was given.
fn rewrite_compat(args: Vec<String>) -> (Vec<String>, bool) {
    const LONG: &[&str] = &[
        "validate", "resume", "session", "from", "dry-run", "json", "version", "help", "quiet",
        "verbose",
    ];
    let mut out = Vec::with_capacity(args.len());
    let mut plain = false;
    for arg in args {
        let Some(rest) = arg.strip_prefix('-').filter(|r| !r.starts_with('-')) else {
            out.push(arg);
            continue;
        };
        let (name, value) = match rest.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (rest, None),
        };
        if LONG.contains(&name) {
            out.push(match value {
                Some(value) => format!("--{name}={value}"),
                None => format!("--{name}"),
            });
        } else if name == "list" && value.is_none() {
            out.push("list".to_owned());
        } else if name == "inspect" {
            out.push("show".to_owned());
            out.extend(value.map(str::to_owned));
        } else if name == "headless" && value.is_none() {
            // The Go tool's "no TUI": accepted silently; step modes do not change.
            plain = true;
        } else {
            out.push(arg);
        }
    }
    (out, plain)
}

/// Phase two: checks combinations and decides the command. `Ok(None)` means "print help".
fn interpret(raw: &RawArgs, after: Vec<String>) -> Result<Option<Command>, String> {
    let mut positional = raw.positional.clone();
    let word = positional
        .first()
        .map(String::as_str)
        .filter(|w| COMMAND_WORDS.contains(w));
    let word = word.map(str::to_owned);

    let conflicts: &[(bool, &str, bool, &str)] = &[
        (raw.validate, "--validate", raw.resume.is_some(), "--resume"),
        (raw.validate, "--validate", raw.dry_run, "--dry-run"),
        (raw.validate, "--validate", raw.from.is_some(), "--from"),
        (
            raw.validate,
            "--validate",
            raw.session.is_some(),
            "--session",
        ),
        (raw.resume.is_some(), "--resume", raw.dry_run, "--dry-run"),
        (raw.dry_run, "--dry-run", raw.session.is_some(), "--session"),
        (raw.simulate, "--simulate", raw.resume.is_some(), "--resume"),
        (raw.simulate, "--simulate", raw.from.is_some(), "--from"),
        (raw.simulate, "--simulate", raw.dry_run, "--dry-run"),
        (raw.simulate, "--simulate", raw.validate, "--validate"),
    ];
    if !raw.simulate && (!raw.stub.is_empty() || raw.stub_file.is_some()) {
        return Err("--stub and --stub-file need --simulate".to_owned());
    }
    for (a, a_name, b, b_name) in conflicts {
        if *a && *b {
            return Err(format!("{a_name} cannot be used with {b_name}"));
        }
    }
    if let Some(word) = &word {
        for (set, name) in [
            (raw.resume.is_some(), "--resume"),
            (raw.validate, "--validate"),
        ] {
            if set {
                return Err(format!("{name} cannot be used with \"{word}\""));
            }
        }
    }
    if raw.version {
        return Ok(Some(Command::Version));
    }
    if raw.validate {
        positional.extend(after);
        return Ok(Some(Command::Validate {
            targets: positional,
        }));
    }

    // `--resume [ID]`, or `--session <run-id>` without a workflow.
    let resume_id = match &raw.resume {
        Some(id) => Some(id.clone().or_else(|| raw.session.clone())),
        None if positional.is_empty() && after.is_empty() && raw.session.is_some() => {
            Some(raw.session.clone())
        }
        None => None,
    };
    if let Some(run_id) = resume_id {
        if let Some(extra) = positional.first().or(after.first()) {
            return Err(format!(
                "--resume keeps the run's original parameters; remove \"{extra}\""
            ));
        }
        return Ok(Some(Command::Resume {
            run_id,
            from: raw.from.clone(),
        }));
    }

    let command_only =
        |command: Command, allowed_extra: usize| -> Result<Option<Command>, String> {
            if positional.len() > 1 + allowed_extra || !after.is_empty() {
                let extra = positional
                    .get(1 + allowed_extra)
                    .or(after.first())
                    .cloned()
                    .unwrap_or_default();
                return Err(format!("unexpected argument \"{extra}\""));
            }
            Ok(Some(command))
        };
    match word.as_deref() {
        None if positional.is_empty() => {
            if after.is_empty() {
                return Ok(None);
            }
            Err("a workflow name is needed before \"--\"".to_owned())
        }
        None | Some("run") => {
            let skip = usize::from(word.is_some());
            let mut rest = positional.into_iter().skip(skip);
            let Some(workflow) = rest.next() else {
                return Err("\"run\" needs a workflow name or file".to_owned());
            };
            let mut params: Vec<String> = rest.collect();
            params.extend(after);
            Ok(Some(Command::Run(RunRequest {
                workflow,
                params,
                seed_session: raw.session.clone(),
                from: raw.from.clone(),
                dry_run: raw.dry_run,
                run_id: raw.run_id.clone(),
                simulate: raw.simulate.then(|| {
                    Box::new(Simulation {
                        stubs: raw.stub.clone(),
                        stub_file: raw.stub_file.clone(),
                    })
                }),
            })))
        }
        Some("list") => command_only(
            Command::List {
                all: raw.all,
                limit: raw.limit.unwrap_or(20),
            },
            0,
        ),
        Some("show") => command_only(
            Command::Show {
                run_id: positional.get(1).cloned(),
            },
            1,
        ),
        Some("log") => command_only(
            Command::Log {
                run_id: positional.get(1).cloned(),
                follow: raw.follow,
            },
            1,
        ),
        Some("workflows") => command_only(Command::Workflows { all: raw.all }, 0),
        Some("migrate") => command_only(
            Command::Migrate {
                dir: positional.get(1).map(PathBuf::from),
                write: raw.write,
            },
            1,
        ),
        Some("resume") => command_only(
            Command::Resume {
                run_id: positional.get(1).cloned(),
                from: raw.from.clone(),
            },
            1,
        ),
        Some("validate") => {
            let mut targets: Vec<String> = positional.into_iter().skip(1).collect();
            targets.extend(after);
            Ok(Some(Command::Validate { targets }))
        }
        Some("schema") => command_only(Command::Schema, 0),
        Some("ui") => command_only(
            Command::Ui(UiRequest {
                port: raw.port.unwrap_or(UI_DEFAULT_PORT),
                bind: raw.bind.clone().unwrap_or_else(|| "127.0.0.1".to_owned()),
                token_file: raw.token_file.clone(),
                all: raw.all,
                open: raw.open,
            }),
            0,
        ),
        Some("k8s") => {
            let mut rest = positional.into_iter().skip(1);
            let Some(workflow) = rest.next() else {
                return Err("\"k8s\" needs a workflow name or file".to_owned());
            };
            let Some(image) = raw.image.clone() else {
                return Err("\"k8s\" needs --image <IMAGE>: the image the Job runs".to_owned());
            };
            let mut params: Vec<String> = rest.collect();
            params.extend(after);
            Ok(Some(Command::K8s(K8sRequest {
                workflow,
                params,
                image,
                secrets: raw.secrets.clone(),
                pvc: raw.pvc.clone(),
                namespace: raw.namespace.clone(),
                run_id: raw.run_id.clone(),
            })))
        }
        Some("help") => Ok(None),
        Some("worktrees") => match (positional.get(1).map(String::as_str), positional.get(2)) {
            (Some("list"), _) => command_only(Command::WorktreesList, 1),
            (Some("prune"), Some(run_id)) => command_only(
                Command::WorktreesPrune {
                    run_id: run_id.clone(),
                    force: raw.force,
                },
                2,
            ),
            (Some("prune"), None) => Err(
                "\"worktrees prune\" needs a run id: agent-runner worktrees prune <RUN_ID> [--force]"
                    .to_owned(),
            ),
            _ => Err(
                "unknown \"worktrees\" command; use \"agent-runner worktrees list\" or \"agent-runner worktrees prune <RUN_ID> [--force]\""
                    .to_owned(),
            ),
        },
        Some("step") => match positional.get(1).map(String::as_str) {
            Some("continue") => command_only(
                Command::StepContinue {
                    note: raw.note.clone(),
                },
                1,
            ),
            _ => Err(
                "unknown \"step\" command; use \"agent-runner step continue [--note <TEXT>]\""
                    .to_owned(),
            ),
        },
        Some(other) => Err(format!("unknown command \"{other}\"")),
    }
}
