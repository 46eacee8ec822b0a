//! `agent-runner --validate [--json] [TARGET...]` (cli.md §5).
//!
//! Each target is a workflow name or a path. Paths are classified by location: under an
//! `engines/` directory an engine file, `config.yaml` directly in `.agent-runner/` or the user
//! config dir a configuration file, anything else a workflow (validated with every statically
//! reachable sub-workflow). Diagnostics go to stderr, `ok:` lines and `--json` to stdout. Nothing
//! external runs and no terminal is needed.

use std::io::IsTerminal;
use std::path::Path;

use serde_json::{Value, json};

use crate::config;
use crate::console;
use crate::exit;
use crate::workflow::compose::{load_composition, load_context};
use crate::workflow::engine_file::{self, yaml_files};
use crate::workflow::loader::LoadContext;
use crate::workflow::resolve::{Project, is_path, list_names};
use crate::workflow::{Diagnostic, Severity, Source};

/// What a target turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Workflow,
    Engine,
    Config,
    /// A `_`-file of a workflows folder (the Go tool's `_group.yaml`): only checked to be YAML.
    Meta,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Workflow => "workflow",
            Kind::Engine => "engine",
            Kind::Config => "config",
            Kind::Meta => "yaml",
        }
    }
}

/// The result of validating one target.
struct Outcome {
    target: String,
    kind: Kind,
    workflow: Option<String>,
    files: Vec<String>,
    diagnostics: Vec<Diagnostic>,
}

impl Outcome {
    fn ok(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Runs `--validate` in `project`; returns the exit code.
pub fn run(targets: &[String], json: bool, project: &Project) -> i32 {
    let ctx = load_context(project, config::load(project).ok().as_ref());
    let targets: Vec<String> = if targets.is_empty() {
        default_targets(project)
    } else {
        targets.to_vec()
    };
    if targets.is_empty() {
        console::warning(
            "nothing to validate: no files under .agent-runner/workflows/, .agent-runner/engines/ or .agent-runner/config.yaml",
        );
    }
    let outcomes: Vec<Outcome> = targets
        .iter()
        .map(|target| validate_target(target, project, &ctx))
        .collect();
    // Nothing more is loaded: the process need not wait for the conditions' thread at its exit.
    crate::workflow::retire_condition_worker();
    let code = report(&outcomes, json, project);
    // The process ends next: freeing the checked models (thousands of allocations for a big
    // file) would only cost time.
    std::mem::forget(outcomes);
    code
}

/// Prints the diagnostics and the summary of `outcomes`; returns the exit code.
fn report(outcomes: &[Outcome], json: bool, project: &Project) -> i32 {
    let terminal = std::io::stderr().is_terminal();
    let mut stdout = String::new();
    // A sub-workflow reached from several targets is reported, and counted, once.
    let mut seen = std::collections::HashSet::new();
    let mut unique: Vec<&Diagnostic> = Vec::new();
    for outcome in outcomes {
        for d in &outcome.diagnostics {
            if seen.insert(d.to_string()) {
                unique.push(d);
                console::eprint_line(&render(d, terminal, project));
            }
        }
        if outcome.ok() && !json {
            stdout.push_str(&format!(
                "ok: {} ({} {} checked)\n",
                outcome.target,
                outcome.files.len(),
                if outcome.files.len() == 1 {
                    "file"
                } else {
                    "files"
                }
            ));
        }
    }
    let count = |severity: Severity| unique.iter().filter(|d| d.severity == severity).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    if json {
        stdout =
            serde_json::to_string(&json_report(outcomes, errors, warnings)).unwrap_or_default();
        stdout.push('\n');
    }
    console::print_stdout(&stdout);
    if errors == 0 {
        return exit::SUCCESS;
    }
    // The files the errors and warnings are in (a target that was not found counts as one).
    let mut files: Vec<&str> = unique.iter().map(|d| d.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    console::eprint_line(&format!(
        "agent-runner: validation failed: {errors} error(s), {warnings} warning(s) in {} file(s)",
        files.len()
    ));
    exit::INVALID
}

/// Every workflow, engine and configuration file of the project, as relative paths.
fn default_targets(project: &Project) -> Vec<String> {
    let mut targets: Vec<String> = list_names(&project.workflows_dir())
        .into_iter()
        .map(|(_, path)| project.show_path(&path))
        .collect();
    targets.extend(
        yaml_files(&project.config_dir().join("engines"))
            .iter()
            .map(|p| project.show_path(p)),
    );
    let config = project.config_dir().join("config.yaml");
    if config.is_file() {
        targets.push(project.show_path(&config));
    }
    targets
}

fn validate_target(target: &str, project: &Project, ctx: &LoadContext) -> Outcome {
    let as_path = project.dir.join(target);
    let source = if is_path(target) || as_path.is_file() {
        Ok(Source::File(crate::workflow::resolve::normalize(&as_path)))
    } else {
        project.resolve_name(target)
    };
    let source = match source {
        Ok(source) => source,
        Err(err) => {
            let mut d = Diagnostic::error("not-found", err.to_string());
            d.file = target.to_owned();
            return Outcome {
                target: target.to_owned(),
                kind: Kind::Workflow,
                workflow: None,
                files: Vec::new(),
                diagnostics: vec![d],
            };
        }
    };
    let kind = match &source {
        Source::File(path) => classify(path, project),
        Source::Builtin(_) => Kind::Workflow,
    };
    let shown = project.show(&source);
    match (kind, &source) {
        (Kind::Engine, Source::File(path)) => Outcome {
            target: target.to_owned(),
            kind,
            workflow: None,
            files: vec![shown.clone()],
            diagnostics: engine_file::check_file(path, &shown).diagnostics,
        },
        (Kind::Meta, Source::File(path)) => Outcome {
            target: target.to_owned(),
            kind,
            workflow: None,
            files: vec![shown.clone()],
            diagnostics: crate::compat::workflow::check_yaml(path, &shown),
        },
        (Kind::Config, Source::File(path)) => Outcome {
            target: target.to_owned(),
            kind,
            workflow: None,
            files: vec![shown.clone()],
            diagnostics: config::load_file(path, &shown).1,
        },
        _ => {
            let composition = load_composition(source, project, ctx);
            // The models are not needed past here, and the process ends soon: not freeing
            // them saves time (see `run`).
            std::mem::forget((composition.root, composition.files));
            Outcome {
                target: target.to_owned(),
                kind: Kind::Workflow,
                workflow: composition.name,
                files: composition.checked,
                diagnostics: composition.diagnostics,
            }
        }
    }
}

/// Engine file under an `engines/` dir; `config.yaml` in `.agent-runner/` or the user dir.
fn classify(path: &Path, project: &Project) -> Kind {
    let parent = path.parent();
    if parent
        .and_then(Path::file_name)
        .is_some_and(|n| n == "engines")
    {
        return Kind::Engine;
    }
    if path.file_name().is_some_and(|n| n == "config.yaml")
        && let Some(parent) = parent
        && (parent == project.config_dir() || project.user_dir.as_deref() == Some(parent))
    {
        return Kind::Config;
    }
    if crate::workflow::resolve::is_meta_file(path) {
        return Kind::Meta;
    }
    Kind::Workflow
}

/// The diagnostic, plus a source excerpt with a caret on a terminal.
fn render(d: &Diagnostic, terminal: bool, project: &Project) -> String {
    let mut text = d.to_string();
    if !terminal {
        return text;
    }
    let (Some(line), Some(column)) = (d.line, d.column) else {
        return text;
    };
    let source = if let Some(name) = d.file.strip_prefix("builtin:") {
        crate::workflow::builtin::workflow(name).map(|b| String::from_utf8_lossy(b).into_owned())
    } else {
        std::fs::read(project.dir.join(&d.file))
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    if let Some(source_line) = source.as_deref().and_then(|s| s.lines().nth(line - 1)) {
        let gutter = " ".repeat(line.to_string().len());
        let pad: String = source_line
            .chars()
            .take(column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        text.push_str(&format!(
            "\n{gutter} |\n{line} | {source_line}\n{gutter} | {pad}^"
        ));
    }
    text
}

fn json_report(outcomes: &[Outcome], errors: usize, warnings: usize) -> Value {
    json!({
        "format_version": 1,
        "ok": errors == 0,
        "error_count": errors,
        "warning_count": warnings,
        "targets": outcomes.iter().map(|o| json!({
            "target": o.target,
            "kind": o.kind.as_str(),
            "workflow": o.workflow,
            "ok": o.ok(),
            "files": o.files,
            "diagnostics": o.diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// One diagnostic in the `--json` shape of cli.md §9 (plus `related`).
pub fn diagnostic_json(d: &Diagnostic) -> Value {
    json!({
        "severity": d.severity.as_str(),
        "code": d.code,
        "message": d.message,
        "file": d.file,
        "line": d.line,
        "column": d.column,
        "location": d.location,
        "step_id": d.step_id,
        "help": d.help,
        "related": d.related.iter().map(diagnostic_json).collect::<Vec<_>>(),
    })
}
