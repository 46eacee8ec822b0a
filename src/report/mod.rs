//! The read-only commands `list`, `show` and `log` (cli.md §2, §9): they read run dirs through
//! [`crate::state`] and never write anything.
//!
//! Each command is cut in two. A thin wrapper here gathers the data (the project of the current
//! directory, its runs, the audit log, a redactor for the run's secrets and the environment),
//! prints, and returns the exit code. The rendering lives in [`list`], [`show`] and [`log`] as
//! pure functions from that data to text or JSON, which is what the tests pin down. A closed
//! stdout (`agent-runner list | head`) ends the output quietly with exit 0.

pub mod list;
pub mod log;
pub mod models;
pub mod show;
pub mod table;
pub mod worktrees;

use std::path::PathBuf;

use crate::cli::Global;
use crate::console;
use crate::exit;
use crate::state::{
    ProjectDir, REDACTED, Redactor, RunEntry, Skip, SkipReason, StateDoc, StateError, StateRoot,
    StringMap, format_utc_millis, parse_rfc3339_millis,
};

/// `agent-runner list [--all] [--limit N] [--json]`: the runs of this project (or of every
/// project), newest first. `limit` 0 means no limit.
pub fn list(global: &Global, all: bool, limit: usize) -> i32 {
    let env = process_env();
    let result = if all {
        StateRoot::from_env()
            .map_err(ReportError::from)
            .and_then(|root| list::gather_all(&root, &env, limit))
    } else {
        current_project().and_then(|project| list::gather_project(&project, &env, limit))
    };
    print_report(result, global.json, list::render_json, list::render_text)
}

/// `agent-runner show [RUN_ID] [--json]`: the summary of one run (default: the latest one).
pub fn show(global: &Global, run_id: Option<&str>) -> i32 {
    let env = process_env();
    let report = select_run(run_id).and_then(|run| {
        // Everything printed about this run, errors included, hides its secrets.
        crate::state::secrets::install(&redactor_for(run.state.as_ref().ok(), &env)?);
        show::gather(run, &env)
    });
    print_report(report, global.json, show::render_json, show::render_text)
}

/// Prints what a command gathered, as JSON or text, or its error; returns the exit code.
fn print_report<T>(
    gathered: Result<T, ReportError>,
    json: bool,
    render_json: fn(&T) -> serde_json::Value,
    render_text: fn(&T) -> String,
) -> i32 {
    match gathered {
        Ok(data) => {
            let text = if json {
                json_text(&render_json(&data))
            } else {
                render_text(&data)
            };
            console::print_stdout(&text);
            exit::SUCCESS
        }
        Err(err) => fail(err),
    }
}

/// `agent-runner log [RUN_ID] [--json] [-f]`: the audit log, readable or raw, optionally
/// followed until the run ends.
pub fn log(global: &Global, run_id: Option<&str>, follow: bool) -> i32 {
    let env = process_env();
    let run = match select_run(run_id) {
        Ok(run) => run,
        Err(err) => return fail(err),
    };
    let redactor = match redactor_for(run.state.as_ref().ok(), &env) {
        Ok(redactor) => redactor,
        Err(err) => return fail(ReportError::State(err)),
    };
    crate::state::secrets::install(&redactor);
    let options = log::Options {
        json: global.json,
        follow,
        poll: log::POLL_INTERVAL,
    };
    let mut out = std::io::stdout().lock();
    match log::write_log(&run, &redactor, &options, &mut out) {
        Ok(()) => exit::SUCCESS,
        Err(err) => fail(err),
    }
}

/// Why a report command could not produce its output.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Locating or reading the run failed; the error knows its exit code.
    #[error(transparent)]
    State(#[from] StateError),
    /// `show`/`log` without an id in a project that has no runs.
    #[error("no runs in this project (see \"agent-runner list\")")]
    NoRuns,
    /// The current directory cannot be determined.
    #[error("cannot determine the current directory: {0}")]
    CurrentDir(std::io::Error),
    /// Writing to stdout failed for a reason other than a closed pipe.
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
}

impl ReportError {
    /// The exit code this error ends the command with (cli.md §8).
    pub fn exit_code(&self) -> i32 {
        match self {
            ReportError::State(err) => err.exit_code(),
            ReportError::NoRuns => exit::USAGE,
            ReportError::CurrentDir(_) | ReportError::Stdout(_) => exit::RUNTIME,
        }
    }
}

fn fail(err: ReportError) -> i32 {
    crate::error::Error::Report(err).report()
}

/// The project of the current directory (its real path; `-C` has already changed into it).
fn current_project() -> Result<ProjectDir, ReportError> {
    let cwd = std::env::current_dir().map_err(ReportError::CurrentDir)?;
    Ok(StateRoot::from_env()?.project(&cwd)?)
}

/// The run `show`/`log` report on: the given id, else the newest run of the project.
fn select_run(run_id: Option<&str>) -> Result<RunEntry, ReportError> {
    select_run_in(&current_project()?, run_id)
}

/// [`select_run`] in a given project.
pub fn select_run_in(project: &ProjectDir, run_id: Option<&str>) -> Result<RunEntry, ReportError> {
    match run_id {
        Some(id) => Ok(project.find_run(id)?),
        None => project.latest_run()?.ok_or(ReportError::NoRuns),
    }
}

/// The runner's environment as name/value pairs (the redactor hides secret-named values).
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// A redactor for one run: the values of its secret params and those of its sub-workflows (when
/// its state is readable), the secret-looking values of `env`, and the token shapes.
pub fn redactor_for(
    doc: Option<&StateDoc>,
    env: &[(String, String)],
) -> Result<Redactor, StateError> {
    let secrets = doc.into_iter().flat_map(|doc| {
        doc.secret_params
            .iter()
            .filter_map(|name| doc.params.get(name))
            .chain(&doc.sub_secrets)
    });
    Redactor::new(secrets, env.iter().map(|(k, v)| (k, v)), &[])
}

/// A run's params as they may be shown: secret ones replaced by `[REDACTED]` whatever their
/// length, the others redacted for embedded secrets.
pub fn shown_params(doc: &StateDoc, redactor: &Redactor) -> StringMap {
    doc.params
        .iter()
        .map(|(name, value)| {
            let shown = if doc.secret_params.contains(name) {
                REDACTED.to_owned()
            } else {
                redactor.redact(value).into_owned()
            };
            (name.clone(), shown)
        })
        .collect()
}

/// `2026-11-21 09:40` (UTC) from an RFC 3339 timestamp; `-` when it is malformed.
pub fn short_time(rfc3339: &str) -> String {
    match parse_rfc3339_millis(rfc3339) {
        Some(ms) => format_utc_millis(
            ms,
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]"),
        ),
        None => "-".to_owned(),
    }
}

/// `09:40:02.004` (UTC) from an RFC 3339 timestamp; `--:--:--.---` when it is malformed.
pub fn clock_time(rfc3339: &str) -> String {
    match parse_rfc3339_millis(rfc3339) {
        Some(ms) => format_utc_millis(
            ms,
            time::macros::format_description!("[hour]:[minute]:[second].[subsecond digits:3]"),
        ),
        None => "--:--:--.---".to_owned(),
    }
}

/// Text for one table cell or summary: newlines and tabs shown as `\n`/`\t`, other control
/// characters dropped, and cut to `max` characters with `…`.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

pub use crate::console::format::usage as usage_label;

/// Why a step was skipped, as the console says it: `previous step succeeded`,
/// `sh: <cmd> exited 0`, `--from`, `when: <expression>`.
pub fn skip_reason_label(skip: &Skip) -> String {
    match (skip.reason(), skip.reason_text.as_deref()) {
        (Some(SkipReason::PreviousSuccess), _) => "previous step succeeded".to_owned(),
        (Some(SkipReason::Sh), _) => {
            let command = one_line(skip.command.as_deref().unwrap_or("?"), 80);
            match skip.exit_code {
                Some(code) => format!("sh: {command} exited {code}"),
                None => format!("sh: {command}"),
            }
        }
        (Some(SkipReason::From), _) => "--from".to_owned(),
        (Some(SkipReason::When), _) => {
            format!(
                "when: {}",
                one_line(skip.expression.as_deref().unwrap_or("?"), 80)
            )
        }
        (None, Some(other)) => one_line(other, 80),
        (None, None) => "unknown reason".to_owned(),
    }
}

/// A string field of an event's `data`.
pub fn get_str<'a>(data: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    data.get(key).and_then(serde_json::Value::as_str)
}

/// An unsigned integer field of an event's `data`.
pub fn get_u64(data: &serde_json::Value, key: &str) -> Option<u64> {
    data.get(key).and_then(serde_json::Value::as_u64)
}

/// A number field of an event's `data`.
pub fn get_f64(data: &serde_json::Value, key: &str) -> Option<f64> {
    data.get(key).and_then(serde_json::Value::as_f64)
}

/// Pretty JSON with a trailing newline.
fn json_text(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
    text.push('\n');
    text
}

/// A path as a JSON/text string.
fn path_string(path: impl Into<PathBuf>) -> String {
    path.into().to_string_lossy().into_owned()
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::WorkflowRef;
    use pretty_assertions::assert_eq;

    #[test]
    fn times() {
        assert_eq!(short_time("2026-11-21T09:40:02.004Z"), "2026-11-21 09:40");
        assert_eq!(
            short_time("2026-11-21T10:40:02.004+01:00"),
            "2026-11-21 09:40"
        );
        assert_eq!(short_time("yesterday"), "-");
        assert_eq!(clock_time("2026-11-21T09:40:02.004Z"), "09:40:02.004");
        assert_eq!(clock_time(""), "--:--:--.---");
    }

    #[test]
    fn one_line_escapes_and_cuts() {
        assert_eq!(one_line("a\nb\tc\u{7}d", 20), "a\\nb\\tcd");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("abc", 3), "abc");
    }

    #[test]
    fn params_hide_secrets_of_any_length() {
        let mut doc = StateDoc::new("r-1", "/p", WorkflowRef::default());
        doc.params.insert("token".into(), "abc".into());
        doc.params.insert("key".into(), "hunter22".into());
        doc.params
            .insert("note".into(), "uses hunter22 and ghp_".into());
        doc.secret_params = vec!["token".into(), "key".into()];
        let redactor = redactor_for(Some(&doc), &[]).unwrap();
        let shown = shown_params(&doc, &redactor);
        assert_eq!(shown["token"], REDACTED);
        assert_eq!(shown["key"], REDACTED);
        assert_eq!(shown["note"], "uses [REDACTED] and ghp_");
    }

    #[test]
    fn environment_secrets_are_redacted() {
        let env = vec![("MY_API_KEY".to_owned(), "s3cr3t-value".to_owned())];
        let redactor = redactor_for(None, &env).unwrap();
        assert_eq!(redactor.redact("key=s3cr3t-value"), "key=[REDACTED]");
    }
}
