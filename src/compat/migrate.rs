//! `agent-runner migrate [DIR] [--write]` (compat-go.md §5): rewrites a Go project's
//! configuration and workflows into this tool's native format.
//!
//! Workflows are edited as text (see [`rewrite`](super::rewrite)), so comments and layout stay:
//! every prompt step without `mode` gets the mode the Go rules gave it, `autonomous` becomes
//! `headless`, `cursor` becomes `cursor-agent`, and removed Go built-ins called by `workflow:`
//! become their equivalent. A Go-shaped `config.yaml` (the Go tool wrote it, without comments)
//! is written anew: no `default_mode`, the active profile set's agents as plain profiles, and
//! the implicit Go profiles written out. Without `--write` a unified diff is printed and nothing
//! changes; with it, each changed file keeps a `.bak` copy of what it was. Go-only features that
//! have no equivalent are reported and left for the user.

use std::path::{Path, PathBuf};

use super::rewrite::Edits;
use super::workflow::{GoContext, normalize};
use crate::config::{self, Config, Profile};
use crate::console;
use crate::exit;
use crate::workflow::Diagnostic;
use crate::workflow::fields::Sink;
use crate::workflow::loader::resolve_findings;
use crate::workflow::positions::{PositionIndex, join};
use crate::workflow::resolve::{Project, list_names};
use crate::workflow::yaml::{self, Node};

/// One file to change: where, what it shows as, its text now and after.
struct Change {
    path: PathBuf,
    shown: String,
    old: String,
    new: String,
}

/// Runs the command; returns the exit code.
pub fn run(project: &Project, dir: Option<&Path>, write: bool) -> i32 {
    let dir = match dir {
        Some(dir) => project.dir.join(dir),
        None => project.config_dir(),
    };
    if !dir.is_dir() {
        console::error(&format!("no such directory: {}", project.show_path(&dir)));
        return exit::USAGE;
    }
    let config = match config::load(project) {
        Ok(config) => config,
        Err(diagnostics) => {
            for d in diagnostics {
                console::eprint_line(&d.to_string());
            }
            return exit::INVALID;
        }
    };
    let ctx = GoContext::from_config(&config);
    let mut changes = Vec::new();
    let mut left: Vec<Diagnostic> = Vec::new();
    let config_path = dir.join("config.yaml");
    if config_path.is_file() {
        let shown = project.show_path(&config_path);
        match std::fs::read_to_string(&config_path) {
            Ok(old) => {
                let new = migrate_config(&config_path, &shown, &old, &config);
                changes.push(Change {
                    path: config_path,
                    shown,
                    old,
                    new,
                });
            }
            Err(err) => return read_failed(&shown, &err),
        }
    }
    for (_, path) in list_names(&dir.join("workflows")) {
        let shown = project.show_path(&path);
        match std::fs::read_to_string(&path) {
            Ok(old) => {
                let (new, notes) = migrate_workflow(&old, &shown, &ctx);
                left.extend(notes);
                changes.push(Change {
                    path,
                    shown,
                    old,
                    new,
                });
            }
            Err(err) => return read_failed(&shown, &err),
        }
    }
    changes.retain(|c| c.old != c.new);
    if changes.is_empty() {
        console::eprint_line(&format!(
            "agent-runner: nothing to migrate in {}",
            project.show_path(&dir)
        ));
    }
    for change in &changes {
        if write {
            let backup = PathBuf::from(format!("{}.bak", change.path.display()));
            let done = std::fs::copy(&change.path, &backup)
                .and_then(|_| std::fs::write(&change.path, &change.new));
            if let Err(err) = done {
                console::error(&format!("cannot write {}: {err}", change.shown));
                return exit::RUNTIME;
            }
            console::eprint_line(&format!(
                "agent-runner: migrated {} (the original is in {}.bak)",
                change.shown, change.shown
            ));
        } else {
            let diff = similar::TextDiff::from_lines(&change.old, &change.new);
            let text = diff
                .unified_diff()
                .header(
                    &format!("a/{}", change.shown),
                    &format!("b/{}", change.shown),
                )
                .to_string();
            console::print_stdout(&text);
        }
    }
    if !left.is_empty() {
        for d in &left {
            console::eprint_line(&d.to_string());
        }
        console::eprint_line(&format!(
            "agent-runner: {} Go-only construct(s) need a change by hand; see {}",
            left.len(),
            super::MIGRATING_DOC
        ));
        return exit::INVALID;
    }
    if !write && !changes.is_empty() {
        console::eprint_line(
            "agent-runner: nothing was changed; run \"agent-runner migrate --write\" to apply this diff",
        );
    }
    exit::SUCCESS
}

fn read_failed(shown: &str, err: &std::io::Error) -> i32 {
    console::error(&format!("cannot read {shown}: {err}"));
    exit::RUNTIME
}

/// A workflow file's text, migrated, and the Go-only constructs it still has.
fn migrate_workflow(text: &str, shown: &str, ctx: &GoContext) -> (String, Vec<Diagnostic>) {
    let Ok(original) = yaml::parse(text) else {
        return (text.to_owned(), Vec::new());
    };
    let mut normalized = original.clone();
    let mut sink = Sink::default();
    normalize(&mut normalized, ctx, &mut sink);
    let notes = resolve_findings(sink.findings, text, shown);
    let index = PositionIndex::build(text);
    let mut edits = Edits::default();
    let cursor = |edits: &mut Edits, node: &Node, path: &str| {
        if node.get("cli").and_then(Node::as_str) == Some("cursor") {
            edits.replace_value(&index, text, &join(path, "cli"), "cursor", "cursor-agent");
        }
    };
    if let Some(defaults) = original.get("defaults") {
        cursor(&mut edits, defaults, "defaults");
    }
    if let Some(Node::Seq(sessions)) = original.get("sessions") {
        for (i, session) in sessions.iter().enumerate() {
            cursor(&mut edits, session, &join("sessions", &i.to_string()));
        }
    }
    if let (Some(Node::Seq(old)), Some(Node::Seq(new))) =
        (original.get("steps"), normalized.get("steps"))
    {
        steps(old, new, "steps", &index, text, &mut edits);
    }
    if edits.is_empty() {
        return (text.to_owned(), notes);
    }
    (edits.apply(text), notes)
}

/// The edits of one step list; `new` is the same list after [`normalize`].
fn steps(
    old: &[Node],
    new: &[Node],
    path: &str,
    index: &PositionIndex,
    text: &str,
    edits: &mut Edits,
) {
    for (i, (step, normalized)) in old.iter().zip(new).enumerate() {
        let path = join(path, &i.to_string());
        let get = |key: &str| step.get(key).and_then(Node::as_str);
        if get("cli") == Some("cursor") {
            edits.replace_value(index, text, &join(&path, "cli"), "cursor", "cursor-agent");
        }
        match get("mode") {
            Some("autonomous") => {
                edits.replace_value(index, text, &join(&path, "mode"), "autonomous", "headless");
            }
            None if step.get("prompt").is_some() && normalized.get("command").is_none() => {
                let mode = normalized
                    .get("mode")
                    .and_then(Node::as_str)
                    .unwrap_or("interactive");
                edits.add_entry(index, text, &join(&path, "id"), "mode", mode);
            }
            _ => {}
        }
        if let Some(call) = get("workflow")
            && let Some(native) = super::names::replacement(call)
        {
            edits.replace_value(index, text, &join(&path, "workflow"), call, native);
        }
        if let (Some(Node::Seq(old)), Some(Node::Seq(new))) =
            (step.get("steps"), normalized.get("steps"))
        {
            steps(old, new, &join(&path, "steps"), index, text, edits);
        }
    }
}

/// A configuration file's text, migrated. `merged` is every layer together: the agents of the
/// active set may come from another file, and are written into this one.
fn migrate_config(path: &Path, shown: &str, text: &str, merged: &Config) -> String {
    let (layer, diagnostics) = config::load_file(path, shown);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return text.to_owned();
    }
    if !layer.go_project {
        // Only the Go name of the Cursor CLI can be left in a native file.
        let Ok(node) = yaml::parse(text) else {
            return text.to_owned();
        };
        let index = PositionIndex::build(text);
        let mut edits = Edits::default();
        if node.get("default_cli").and_then(Node::as_str) == Some("cursor") {
            edits.replace_value(&index, text, "default_cli", "cursor", "cursor-agent");
        }
        if let Some(profiles) = node.get("profiles").and_then(Node::as_map) {
            for (name, profile) in profiles {
                if profile.get("cli").and_then(Node::as_str) == Some("cursor") {
                    let at = join(&join("profiles", name), "cli");
                    edits.replace_value(&index, text, &at, "cursor", "cursor-agent");
                }
            }
        }
        return edits.apply(text);
    }
    let mut layer = layer;
    if layer.active_profile.is_some()
        && let Ok(agents) = merged
            .profile_sets
            .active_agents(merged.active_profile.as_deref())
    {
        for (name, profile) in agents {
            layer.profiles.entry(name).or_insert(profile);
        }
    }
    for (name, profile) in super::profiles::implicit_profiles() {
        layer.profiles.entry(name).or_insert(profile);
    }
    native_yaml(&layer)
}

/// A configuration layer as native YAML, without any Go-era key.
fn native_yaml(c: &Config) -> String {
    let mut out =
        String::from("# Migrated from the Go agent-runner by \"agent-runner migrate\".\n");
    let mut line = |indent: usize, key: &str, value: &str| {
        out.push_str(&format!(
            "{}{key}:{}{value}\n",
            "  ".repeat(indent),
            if value.is_empty() { "" } else { " " }
        ));
    };
    if let Some(cli) = &c.default_cli {
        line(0, "default_cli", &scalar(cli));
    }
    if let Some(model) = &c.default_model {
        line(0, "default_model", &scalar(model));
    }
    if let Some(effort) = c.default_effort {
        line(0, "default_effort", effort.as_str());
    }
    if c.permissions_interactive.is_some() || c.permissions_headless.is_some() {
        line(0, "permissions", "");
        if let Some(p) = c.permissions_interactive {
            line(1, "interactive", p.as_str());
        }
        if let Some(p) = c.permissions_headless {
            line(1, "headless", p.as_str());
        }
    }
    if !c.clis.is_empty() {
        line(0, "clis", "");
        for (name, cli) in &c.clis {
            line(1, name, "");
            if let Some(binary) = &cli.binary {
                line(2, "binary", &scalar(binary));
            }
            if let Some(args) = &cli.extra_args {
                line(2, "extra_args", &list(args));
            }
            if let Some(model) = &cli.model {
                line(2, "model", &scalar(model));
            }
            if let Some(effort) = cli.effort {
                line(2, "effort", effort.as_str());
            }
            if !cli.env.is_empty() {
                line(2, "env", "");
                for (key, value) in &cli.env {
                    line(3, key, &scalar(value));
                }
            }
        }
    }
    if !c.profiles.is_empty() {
        line(0, "profiles", "");
        for (name, p) in &c.profiles {
            profile(&mut line, name, p);
        }
    }
    if let Some(shell) = &c.shell {
        line(0, "shell", &scalar(shell));
    }
    if c.idle_hint.is_some() || c.idle_hint_after.is_some() || c.stop_grace.is_some() {
        line(0, "interactive", "");
        if let Some(hint) = c.idle_hint {
            line(1, "idle_hint", if hint { "true" } else { "false" });
        }
        if let Some(d) = c.idle_hint_after {
            line(1, "idle_hint_after", &duration(d));
        }
        if let Some(d) = c.stop_grace {
            line(1, "stop_grace", &duration(d));
        }
    }
    if let Some(patterns) = &c.redact {
        line(0, "redact", &list(patterns));
    }
    out
}

fn profile(line: &mut impl FnMut(usize, &str, &str), name: &str, p: &Profile) {
    line(1, name, if *p == Profile::default() { "{}" } else { "" });
    if let Some(parent) = &p.extends {
        line(2, "extends", &scalar(parent));
    }
    if let Some(cli) = &p.cli {
        line(2, "cli", &scalar(cli));
    }
    if let Some(model) = &p.model {
        line(2, "model", &scalar(model));
    }
    if let Some(effort) = p.effort {
        line(2, "effort", effort.as_str());
    }
    if let Some(permissions) = p.permissions {
        line(2, "permissions", permissions.as_str());
    }
    if let Some(prompt) = &p.system_prompt {
        line(2, "system_prompt", &scalar(prompt));
    }
}

/// A string as a YAML scalar: plain when that reads back the same, else double-quoted.
fn scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && !["true", "false", "yes", "no", "on", "off", "null"]
            .contains(&text.to_ascii_lowercase().as_str());
    if plain {
        text.to_owned()
    } else {
        serde_json::Value::String(text.to_owned()).to_string()
    }
}

fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| scalar(i)).collect();
    format!("[{}]", items.join(", "))
}

fn duration(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_that_would_change_meaning_are_quoted() {
        assert_eq!(scalar("opus"), "opus");
        assert_eq!(scalar("gpt-5.4-mini"), "gpt-5.4-mini");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("5"), "\"5\"");
    }
}
