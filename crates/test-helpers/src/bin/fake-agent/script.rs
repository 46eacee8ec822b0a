//! `FAKE_AGENT_SCRIPT`: what the fake does on each agent turn.
//!
//! The script is a YAML list with one entry per turn, in order: the first entry drives the first
//! headless or interactive invocation, the second the next one, and so on (auth checks, `--version`
//! and rejected argv do not count). Turns past the end of the list, and turns without a script,
//! get the default: a successful turn answering `Done.`. An entry is a list of actions, or `~`
//! for the default. Actions are one-key maps, or bare words for those without a value:
//!
//! ```yaml
//! - [{text: "first answer"}]                       # turn 1: success fixture with this answer
//! - [{stderr: "boom"}, {exit: 3}]                  # turn 2
//! - [{emit: {fixture: api_error, text: partial}}]  # turn 3: a recorded scenario
//! - [{sleep_ms: 200}, crash_mid_stream]            # turn 4
//! - [use_alt_screen, print_size, {continue_via_sentinel: {token: wrong}}, {exit_after_input: {contains: "q"}}]
//! - [{check_off: "$AGENT_RUNNER_RUN_DIR/checklist.md"}, {text: "one item done"}]
//! - [{sh: "git commit -qam 'M1: parser'"}, {check_off: {path: plan.md, all: true}}, {text: ok}]
//! - [{print: "FULL"}, {kill_self: SIGKILL}]       # an agent that crashes
//! - [{spend: {cost_usd: 0.6, tokens: 4000, messages: 4, sleep_ms: 100}}]  # usage as it goes
//! - [{json: {verdict: pass, issues: []}}]          # a structured answer (control.md §7)
//! ```
//!
//! `json` answers with one JSON value the way the CLI would: claude given `--json-schema` and
//! codex given `--output-schema` return it natively (claude's `structured_output`, codex's final
//! message); otherwise, and for the other CLIs, the answer is text with a ```json block. A script
//! that answers badly once and then correctly is two turns: `[{json: bad}]`, `[{json: good}]`.
//!
//! Paths of `write_file` and `check_off` may name environment variables (`$NAME` or `${NAME}`), so
//! a script can reach the run directory (`$AGENT_RUNNER_RUN_DIR`) without knowing the run id.
//! `sh` runs a command with `/bin/sh -c` in the working directory, with the fake's environment;
//! its output goes to stderr, and a failing command ends the turn with its exit status.
//!
//! The turn counter lives in a file next to `$FAKE_AGENT_LOG` (`<log>.count`), or next to the
//! script when there is no log, and is locked while it is read and bumped.
//!
//! Agents that run at the same time (parallel branches) make one global turn order
//! nondeterministic, so the script may instead be a mapping that picks the turns by prompt:
//!
//! ```yaml
//! by_prompt:
//!   - contains: "Debate, round"      # the first rule whose text is in the prompt wins
//!     cli: codex                     # optional: only turns of this CLI
//!     turns: [[{text: "first codex answer"}], [{text: "second"}]]
//! turns: [[{text: "a turn no rule matched"}]]
//! ```
//!
//! Each rule counts its own turns (`<counter>.<rule index>`), and `turns` counts the turns no rule
//! matched (`<counter>.rest`); the logged turn number stays the global one.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// One action of a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Emit a fixture scenario; `text` fills `{{text}}`.
    Emit {
        fixture: String,
        text: Option<String>,
    },
    /// A successful turn whose final answer is this text.
    Text(String),
    /// A successful turn whose answer is this JSON value (compact text), given the way the CLI
    /// gives structured answers.
    Json(String),
    WriteFile {
        path: String,
        content: String,
    },
    /// Change the first `- [ ]` of a checklist file (every one with `all`) to `- [x]`, as an agent
    /// that finished a task does.
    CheckOff {
        path: String,
        all: bool,
    },
    /// Run a shell command in the working directory (commit, edit a file, ...).
    Sh(String),
    SleepMs(u64),
    Exit(i32),
    Hang,
    /// Emit half of a fixture, then a cut-off line, then abort.
    CrashMidStream {
        fixture: String,
    },
    Stderr(String),
    /// Interactive: write text to the terminal.
    Print(String),
    /// Interactive: run `<agent-runner> step continue [--note <note>]`.
    ContinueViaCommand {
        note: Option<String>,
        exe: Option<String>,
    },
    /// Interactive: print the continue sentinel (to `$AGENT_RUNNER_TTY` when set).
    ContinueViaSentinel {
        token: Option<String>,
    },
    /// Interactive: wait until the input contains `contains` (any input when empty), then exit.
    ExitAfterInput {
        contains: String,
        code: i32,
    },
    UseAltScreen,
    /// Interactive: print `size: <rows>x<cols>` now and after every resize.
    PrintSize,
    /// Die by this signal (`SIGKILL` when no name is given).
    KillSelf(String),
    /// Report usage as the turn goes (budget tests).
    Spend(super::spend::Spend),
}

/// What picks a turn's entry besides the global turn number: the CLI, its prompt and the counter
/// file the per-rule counters sit beside.
pub struct Pick<'a> {
    pub cli: &'a str,
    pub prompt: &'a str,
    pub counter: &'a Path,
}

/// Loads the actions for turn `turn` (1-based, global), or `None` for the default behaviour.
pub fn actions_for(script: &Path, turn: u64, pick: &Pick) -> Result<Option<Vec<Action>>, String> {
    let text = std::fs::read_to_string(script)
        .map_err(|e| format!("cannot read {}: {e}", script.display()))?;
    let doc: Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", script.display()))?;
    let (entries, turn) = match &doc {
        Value::Sequence(entries) => (entries, turn),
        Value::Mapping(_) => by_prompt(&doc, pick)?,
        _ => return Err(
            "the script must be a YAML list with one entry per turn, or a mapping with by_prompt"
                .into(),
        ),
    };
    let Some(entry) = usize::try_from(turn)
        .ok()
        .and_then(|t| entries.get(t.checked_sub(1)?))
    else {
        return Ok(None);
    };
    if entry.is_null() {
        return Ok(None);
    }
    let list = entry
        .as_sequence()
        .ok_or(format!("turn {turn}: an entry must be a list of actions"))?;
    list.iter()
        .map(|a| parse_action(a).map_err(|e| format!("turn {turn}: {e}")))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The mapping form: the turns of the first rule that matches, numbered by that rule's own
/// counter, else the `turns` list numbered by the counter of unmatched turns.
fn by_prompt<'d>(doc: &'d Value, pick: &Pick) -> Result<(&'d Vec<Value>, u64), String> {
    static EMPTY: Vec<Value> = Vec::new();
    let rules = match doc.get("by_prompt") {
        None => &EMPTY,
        Some(v) => v.as_sequence().ok_or("by_prompt must be a list of rules")?,
    };
    for (index, rule) in rules.iter().enumerate() {
        let contains =
            s(rule, "contains").ok_or(format!("by_prompt rule {index} needs contains"))?;
        let cli_matches = s(rule, "cli").is_none_or(|cli| cli == pick.cli);
        if cli_matches && pick.prompt.contains(&contains) {
            let turns = rule
                .get("turns")
                .and_then(Value::as_sequence)
                .ok_or(format!("by_prompt rule {index} needs a turns list"))?;
            return Ok((turns, bump(pick.counter, &index.to_string())?));
        }
    }
    let rest = match doc.get("turns") {
        None => &EMPTY,
        Some(v) => v
            .as_sequence()
            .ok_or("turns must be a list with one entry per turn")?,
    };
    Ok((rest, bump(pick.counter, "rest")?))
}

/// Bumps the counter `<counter>.<suffix>`.
fn bump(counter: &Path, suffix: &str) -> Result<u64, String> {
    let mut name = counter.as_os_str().to_owned();
    name.push(format!(".{suffix}"));
    next_turn(Path::new(&name)).map_err(|e| format!("turn counter: {e}"))
}

fn parse_action(v: &Value) -> Result<Action, String> {
    if let Some(word) = v.as_str() {
        return bare(word, &Value::Null);
    }
    let map = v
        .as_mapping()
        .filter(|m| m.len() == 1)
        .ok_or("an action is a word or a map with one key")?;
    let (key, arg) = map.iter().next().ok_or("empty action")?;
    let key = key.as_str().ok_or("action names are strings")?;
    bare(key, arg)
}

fn s(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        other => serde_yaml::to_string(other)
            .ok()
            .map(|t| t.trim().to_string()),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn bare(key: &str, arg: &Value) -> Result<Action, String> {
    let int = |what: &str| arg.as_i64().ok_or(format!("{what} needs a number"));
    Ok(match key {
        "emit" => match scalar(arg) {
            Some(fixture) => Action::Emit {
                fixture,
                text: None,
            },
            None => Action::Emit {
                fixture: s(arg, "fixture").ok_or("emit needs a fixture name")?,
                text: s(arg, "text"),
            },
        },
        "text" => Action::Text(scalar(arg).ok_or("text needs a string")?),
        "json" => Action::Json(
            serde_json::to_string(arg).map_err(|e| format!("json needs a value: {e}"))?,
        ),
        "write_file" => Action::WriteFile {
            path: s(arg, "path").ok_or("write_file needs path")?,
            content: s(arg, "content").unwrap_or_default(),
        },
        "check_off" => match scalar(arg) {
            Some(path) => Action::CheckOff { path, all: false },
            None => Action::CheckOff {
                path: s(arg, "path").ok_or("check_off needs a path")?,
                all: arg.get("all").and_then(Value::as_bool).unwrap_or(false),
            },
        },
        "sh" => Action::Sh(scalar(arg).ok_or("sh needs a command")?),
        "sleep_ms" => Action::SleepMs(int("sleep_ms")?.max(0) as u64),
        "exit" => Action::Exit(int("exit")? as i32),
        "hang" => Action::Hang,
        "crash_mid_stream" => Action::CrashMidStream {
            fixture: scalar(arg).unwrap_or_else(|| "success".into()),
        },
        "stderr" => Action::Stderr(scalar(arg).ok_or("stderr needs a string")?),
        "print" => Action::Print(scalar(arg).ok_or("print needs a string")?),
        "continue_via_command" => Action::ContinueViaCommand {
            note: s(arg, "note"),
            exe: s(arg, "exe"),
        },
        "continue_via_sentinel" => Action::ContinueViaSentinel {
            token: s(arg, "token"),
        },
        "exit_after_input" => Action::ExitAfterInput {
            contains: scalar(arg)
                .filter(|_| !arg.is_number())
                .or_else(|| s(arg, "contains"))
                .unwrap_or_default(),
            code: arg
                .as_i64()
                .or_else(|| arg.get("code").and_then(Value::as_i64))
                .unwrap_or(0) as i32,
        },
        "use_alt_screen" => Action::UseAltScreen,
        "print_size" => Action::PrintSize,
        "spend" => Action::Spend(super::spend::Spend {
            cost_usd: arg.get("cost_usd").and_then(Value::as_f64).unwrap_or(0.0),
            tokens: arg.get("tokens").and_then(Value::as_u64).unwrap_or(0),
            messages: arg.get("messages").and_then(Value::as_u64).unwrap_or(1),
            sleep_ms: arg.get("sleep_ms").and_then(Value::as_u64).unwrap_or(0),
        }),
        "kill_self" => Action::KillSelf(scalar(arg).unwrap_or_else(|| "SIGKILL".into())),
        other => return Err(format!("unknown action \"{other}\"")),
    })
}

/// Replaces `$NAME` and `${NAME}` with the variable's value (empty when unset).
pub fn expand_env(text: &str) -> String {
    expand_with(text, |name| std::env::var(name).ok())
}

fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = match after.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) => (&braced[..end], &braced[end + 1..]),
                None => ("", after),
            },
            None => {
                let end = after.find(|c| !name_char(c)).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('$');
            rest = after;
        } else {
            out.push_str(&lookup(name).unwrap_or_default());
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// The checklist `text` with its first unchecked item (every one with `all`) checked.
pub fn check_off(text: &str, all: bool) -> String {
    let mut done = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        match trimmed.strip_prefix("- [ ]") {
            Some(tail) if all || !done => {
                out.push_str(&line[..line.len() - trimmed.len()]);
                out.push_str("- [x]");
                out.push_str(tail);
                done = true;
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Where the turn counter is kept.
pub fn counter_path(log: Option<&Path>, script: Option<&Path>) -> Option<PathBuf> {
    let base = log.or(script)?;
    let mut name = base.as_os_str().to_owned();
    name.push(".count");
    Some(PathBuf::from(name))
}

/// Bumps the counter and returns the new value (1 for the first turn).
pub fn next_turn(counter: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(counter)?;
    nix::fcntl::Flock::lock(file.try_clone()?, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))
        .and_then(|lock| {
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            let n = text.trim().parse::<u64>().unwrap_or(0) + 1;
            file.set_len(0)?;
            file.rewind()?;
            file.write_all(n.to_string().as_bytes())?;
            drop(lock);
            Ok(n)
        })
}
