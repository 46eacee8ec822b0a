//! Go spellings of workflow files, rewritten into the native ones before analysis
//! (compat-go.md §2–§4), so the loader only ever sees this tool's format.
//!
//! The pass walks the node tree once, in document order: `mode: autonomous` becomes `headless`,
//! `cli: cursor` becomes `cursor-agent`, `hidden:` is taken off the top level, each prompt step
//! without `mode` gets the mode the Go tool gave it ([`modes`](super::modes)), and each later Go
//! feature is reported once as `go-only-feature` and taken out of the tree
//! ([`features`](super::features)), so no other diagnostic is reported for it. Positions stay
//! right: entries are changed or removed in place and steps are never moved.

use std::collections::BTreeMap;

use super::features;
use super::modes::Modes;
use crate::config::Config;
use crate::workflow::fields::{Location, Sink, push_number};
use crate::workflow::loader::LoadContext;
use crate::workflow::model::AgentMode;
use crate::workflow::yaml::Node;

/// What the Go rules need from the configuration, for the loader.
#[derive(Debug, Clone, Default)]
pub struct GoContext {
    /// The `default_mode` of every profile that has one (its `extends` chain applied).
    pub profile_modes: BTreeMap<String, AgentMode>,
    /// The configuration's own `default_mode`.
    pub default_mode: Option<AgentMode>,
    /// The project's configuration has the Go shape (compat-go.md §3).
    pub go_project: bool,
}

impl GoContext {
    pub fn from_config(config: &Config) -> GoContext {
        let profile_modes = config
            .profiles
            .keys()
            .filter_map(|name| {
                let mode = config.profile(name).ok()?.default_mode?;
                Some((name.clone(), mode))
            })
            .collect();
        GoContext {
            profile_modes,
            default_mode: config.default_mode,
            go_project: config.go_project,
        }
    }
}

/// `cursor` (the Go name of the Cursor CLI) as this tool names it.
pub fn cli_alias(cli: &str) -> &str {
    if cli == "cursor" { "cursor-agent" } else { cli }
}

/// The did-you-mean of an unknown CLI name, also matching the Go names (`cursr` → `cursor-agent`).
pub fn cli_hint(cli: &str) -> String {
    let candidates = crate::workflow::model::CLI_NAMES
        .iter()
        .copied()
        .chain(["cursor"]);
    match crate::workflow::suggest::suggest(cli, candidates) {
        Some(best) => format!(" (did you mean \"{}\"?)", cli_alias(best)),
        // Product and package names: claude-code, gemini-cli, github-copilot.
        None => crate::workflow::suggest::did_you_mean_cli(cli, crate::workflow::model::CLI_NAMES),
    }
}

/// The load context for a file written for the Go tool in a project that is not a Go project:
/// the file gets the Go rules (a parameter may shadow a built-in variable, compat-go.md §4).
pub fn go_file_context(ctx: &LoadContext) -> LoadContext {
    let mut ctx = ctx.clone();
    ctx.go.go_project = true;
    ctx
}

/// Rewrites the Go spellings of a workflow tree in place, reporting Go-only features to `sink`.
/// Returns true when the file had any Go spelling or Go-only feature.
pub fn normalize(root: &mut Node, ctx: &GoContext, sink: &mut Sink) -> bool {
    let Node::Map(entries) = root else {
        return false;
    };
    let reported = sink.findings.len();
    let mut go = false;
    if let Some(i) = entries.iter().position(|(k, _)| k == "hidden") {
        go = true;
        match &entries[i].1 {
            Node::Bool(_) => {
                entries.remove(i);
            }
            other => sink.wrong_type("hidden", crate::workflow::fields::A_BOOL, other, "hidden"),
        }
    }
    features::top_level(entries, sink);
    for (key, value) in entries.iter_mut() {
        match (key.as_str(), value) {
            ("defaults", Node::Map(fields)) => go |= alias_cli(fields),
            ("sessions", Node::Seq(items)) => {
                for item in items {
                    if let Node::Map(fields) = item {
                        go |= alias_cli(fields);
                        go |= fields.iter().any(|(k, v)| {
                            k == "name" && v.as_str().is_some_and(|n| n.contains('-'))
                        });
                    }
                }
            }
            _ => {}
        }
    }
    let mut modes = Modes::new(ctx, entries);
    if let Some((_, Node::Seq(steps))) = entries.iter_mut().find(|(k, _)| k == "steps") {
        go |= walk(steps, "steps", "steps", &mut modes, sink);
    }
    sink.location = Location::TOP_LEVEL;
    go || sink.findings.len() > reported
}

/// Renames `cli: cursor`; true when it did.
fn alias_cli(fields: &mut [(String, Node)]) -> bool {
    let mut renamed = false;
    for (key, value) in fields {
        if key == "cli"
            && let Node::Str(cli) = value
            && cli == "cursor"
        {
            *cli = cli_alias(cli).to_owned();
            renamed = true;
        }
    }
    renamed
}

/// The steps of one list, in document order; into groups and loop bodies, not sub-workflows.
/// True when a step had a Go spelling.
fn walk(steps: &mut [Node], yaml: &str, loc: &str, modes: &mut Modes, sink: &mut Sink) -> bool {
    let mut go = false;
    for (i, step) in steps.iter_mut().enumerate() {
        let Node::Map(fields) = step else { continue };
        // Built by hand: `format!` costs more than the rest of this loop.
        let mut yaml_path = String::with_capacity(yaml.len() + 8);
        yaml_path.push_str(yaml);
        yaml_path.push('.');
        push_number(&mut yaml_path, i);
        let mut loc_path = String::with_capacity(loc.len() + 8);
        loc_path.push_str(loc);
        loc_path.push('[');
        push_number(&mut loc_path, i);
        loc_path.push(']');
        let id = fields
            .iter()
            .find(|(k, _)| k == "id")
            .and_then(|(_, v)| v.as_str())
            .map(str::to_owned);
        sink.location = Location::Step {
            path: loc_path.clone(),
            id,
        };
        go |= alias_cli(fields);
        for (key, value) in fields.iter_mut() {
            if key == "mode"
                && let Node::Str(mode) = value
                && mode == "autonomous"
            {
                *mode = "headless".to_owned();
                go = true;
            }
        }
        if features::step(fields, &yaml_path, sink) {
            continue;
        }
        if is_prompt_step(fields) {
            let mode = modes.resolve(fields);
            features::interactive_capture(fields, mode, &yaml_path, sink);
        } else if fields.iter().any(|(k, _)| k == "command") {
            let interactive = fields
                .iter()
                .any(|(k, v)| k == "mode" && v.as_str() == Some("interactive"));
            let mode = if interactive {
                AgentMode::Interactive
            } else {
                AgentMode::Headless
            };
            features::interactive_capture(fields, mode, &yaml_path, sink);
        }
        if let Some((_, Node::Seq(children))) = fields.iter_mut().find(|(k, _)| k == "steps") {
            let child_yaml = yaml_path.clone() + ".steps";
            let child_loc = loc_path.clone() + ".steps";
            go |= walk(children, &child_yaml, &child_loc, modes, sink);
        }
    }
    go
}

/// A step whose kind is agent: it has `prompt` and no other kind key.
fn is_prompt_step(fields: &[(String, Node)]) -> bool {
    let has = |key: &str| fields.iter().any(|(k, _)| k == key);
    has("prompt")
        && !["command", "loop", "workflow", "steps"]
            .iter()
            .any(|k| has(k))
}

/// A session name: an identifier, or one with `-` as the Go agent-runner allowed (`lead-agent`).
/// Session names never become variables, so `-` is safe (compat-go.md §2).
pub fn is_session_name(name: &str) -> bool {
    !name.starts_with('-')
        && !name.ends_with('-')
        && crate::workflow::fields::is_identifier(&name.replace('-', "_"))
}

/// True when a workflow file's top level says `hidden: true` (left out of `workflows`).
pub fn is_hidden(text: &str) -> bool {
    crate::workflow::yaml::parse(text)
        .ok()
        .and_then(|node| node.get("hidden").cloned())
        .is_some_and(|hidden| matches!(hidden, Node::Bool(true)))
}

/// `--validate` of a `_`-file named explicitly: only that it reads as YAML (compat-go.md §2).
pub fn check_yaml(path: &std::path::Path, shown: &str) -> Vec<crate::workflow::Diagnostic> {
    let failed = |code: &'static str, message: String, line, column| {
        let mut d = crate::workflow::Diagnostic::error(code, message);
        d.file = shown.to_owned();
        d.line = line;
        d.column = column;
        vec![d]
    };
    let bytes = match crate::workflow::loader::read_limited(path) {
        Ok(bytes) => bytes,
        Err(message) => {
            return failed(
                "read-error",
                format!("cannot read file: {message}"),
                None,
                None,
            );
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return failed(
            "yaml-syntax",
            "invalid YAML: the file is not valid UTF-8".to_owned(),
            None,
            None,
        );
    };
    match crate::workflow::yaml::parse(text) {
        Ok(_) => Vec::new(),
        Err(err) => failed(err.code, err.message, err.line, err.column),
    }
}
