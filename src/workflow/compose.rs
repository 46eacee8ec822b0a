//! Composition: a workflow together with every sub-workflow reachable through a static
//! `workflow:` value (workflow-format.md §12, §15).
//!
//! Each file is read and analysed once, whatever the number of calls to it. The walk keeps the
//! active call chain as an explicit stack, so a cycle is reported with the whole chain
//! (`a.yaml -> b.yaml -> a.yaml`), and nesting is bounded by [`MAX_NESTING`]. Problems found at a
//! call (missing file, cycle, invalid callee, parameter mismatch) are reported in the calling
//! file; an invalid callee's own diagnostics are nested under its `sub-workflow-invalid`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::builtin;
use super::diagnostic::Diagnostic;
use super::engine_file;
use super::fields::{Finding, Target};
use super::loader::{Analysis, LoadContext, load_bytes, load_file, resolve_findings};
use super::model::{Source, Workflow};
use super::resolve::{Project, ResolveError};
use super::suggest::did_you_mean;
use crate::config::Config;

/// Sub-workflow calls nested deeper than this are an error.
pub const MAX_NESTING: usize = 32;

/// The result of loading a workflow and everything it statically calls.
#[derive(Debug, Default)]
pub struct Composition {
    /// The root workflow, when it and everything it calls are valid.
    pub root: Option<Arc<Workflow>>,
    /// Every valid file of the composition, by source.
    pub files: BTreeMap<Source, Arc<Workflow>>,
    /// The root's `name`, when it could be read (also for invalid files).
    pub name: Option<String>,
    /// Every file checked, as shown to the user, in the order they were first reached.
    pub checked: Vec<String>,
    /// The root file's diagnostics, including problems of its calls (with the callee's own
    /// diagnostics nested in `related`).
    pub diagnostics: Vec<Diagnostic>,
}

impl Composition {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// A file's outcome in the walk.
struct Done {
    diagnostics: Vec<Diagnostic>,
    workflow: Option<Arc<Workflow>>,
    /// The file or a sub-workflow it calls has `worktree: true`.
    worktrees: bool,
}

struct Walk<'a> {
    root_name: Option<String>,
    project: &'a Project,
    ctx: &'a LoadContext,
    done: HashMap<Source, Done>,
    chain: Vec<Source>,
    checked: Vec<String>,
    /// First declaration of each named session with a `cli`: (cli, file).
    sessions: HashMap<String, (String, String)>,
}

/// Loads `root` and every statically reachable sub-workflow, each once.
pub fn load_composition(root: Source, project: &Project, ctx: &LoadContext) -> Composition {
    let mut walk = Walk {
        root_name: None,
        project,
        ctx,
        done: HashMap::new(),
        chain: Vec::new(),
        checked: Vec::new(),
        sessions: HashMap::new(),
    };
    walk.visit(&root);
    let root_done = walk.done.remove(&root);
    let mut files = BTreeMap::new();
    for (source, done) in walk.done {
        if let Some(workflow) = done.workflow {
            files.insert(source, workflow);
        }
    }
    let (diagnostics, root_workflow) = match root_done {
        Some(done) => (done.diagnostics, done.workflow),
        None => (Vec::new(), None),
    };
    if let Some(workflow) = &root_workflow {
        files.insert(root, Arc::clone(workflow));
    }
    Composition {
        name: walk.root_name,
        root: root_workflow,
        files,
        checked: walk.checked,
        diagnostics,
    }
}

/// What loading needs beyond the files: the agent profiles of `config` (`None` when the
/// configuration is invalid, which skips the `unknown-profile` check) and the engine files of the
/// project and user dirs. The caller passes the configuration it already has.
pub fn load_context(project: &Project, config: Option<&Config>) -> LoadContext {
    let profiles = config.map(|c| c.profiles.keys().cloned().collect());
    let mut engine_files: Vec<(String, Vec<String>)> = Vec::new();
    let mut dirs = vec![project.config_dir().join("engines")];
    dirs.extend(project.user_dir.as_ref().map(|d| d.join("engines")));
    for dir in dirs {
        for path in engine_file::yaml_files(&dir) {
            let engine = engine_file::check_file(&path, &project.show_path(&path));
            if !engine_files.iter().any(|(n, _)| *n == engine.name) {
                engine_files.push((engine.name, engine.options));
            }
        }
    }
    LoadContext {
        profiles,
        engine_files,
        go: config
            .map(crate::compat::workflow::GoContext::from_config)
            .unwrap_or_default(),
    }
}

/// Reads and analyses one source (a file on disk or a built-in).
pub fn analyze_source(source: &Source, project: &Project, ctx: &LoadContext) -> Analysis {
    let shown = project.show(source);
    match source {
        Source::File(path) => load_file(path, &shown, ctx),
        Source::Builtin(name) => match builtin::workflow(name) {
            Some(bytes) => load_bytes(bytes, source.clone(), &shown, ctx),
            None => load_bytes(b"", source.clone(), &shown, ctx),
        },
    }
}

impl Walk<'_> {
    fn visit(&mut self, source: &Source) {
        let shown = self.project.show(source);
        self.checked.push(shown.clone());
        let analysis = analyze_source(source, self.project, self.ctx);
        if self.chain.is_empty() {
            self.root_name.clone_from(&analysis.name);
        }
        let mut diagnostics = analysis.diagnostics.clone();
        let mut findings: Vec<Finding> = Vec::new();

        for (name, cli) in &analysis.sessions {
            let Some(cli) = cli else { continue };
            match self.sessions.get(name) {
                Some((first_cli, first_file)) if first_cli != cli => findings.push(finding(
                    "session-conflict",
                    format!(
                        "named session \"{name}\" is declared with cli \"{first_cli}\" in {first_file} but cli \"{cli}\" in {shown}"
                    ),
                    "sessions",
                    "top level".to_owned(),
                    None,
                )),
                Some(_) => {}
                None => {
                    self.sessions.insert(name.clone(), (cli.clone(), shown.clone()));
                }
            }
        }

        let mut worktrees = analysis
            .workflow
            .as_ref()
            .is_some_and(Workflow::uses_worktrees);
        self.chain.push(source.clone());
        for call in &analysis.calls {
            let at = |code: &'static str, message: String| {
                finding(
                    code,
                    message,
                    &call.value_path,
                    call.location.clone(),
                    call.step_id.clone(),
                )
            };
            let child = match self.project.resolve_sub(&call.value, source) {
                Ok(child) => child,
                Err(ResolveError::NotFound { looked_for, .. }) => {
                    findings.push(at(
                        "sub-workflow-missing",
                        format!(
                            "sub-workflow not found: {} (looked for {looked_for})",
                            call.value
                        ),
                    ));
                    continue;
                }
                Err(err) => {
                    findings.push(at(
                        "sub-workflow-missing",
                        format!("sub-workflow not found: {} ({err})", call.value),
                    ));
                    continue;
                }
            };
            if let Source::File(path) = &child
                && !path.is_file()
            {
                findings.push(at(
                    "sub-workflow-missing",
                    format!(
                        "sub-workflow not found: {} (looked for {})",
                        call.value,
                        self.project.show_path(path)
                    ),
                ));
                continue;
            }
            if let Some(start) = self.chain.iter().position(|s| *s == child) {
                let mut names: Vec<String> = self.chain[start..]
                    .iter()
                    .map(|s| self.project.show(s))
                    .collect();
                names.push(self.project.show(&child));
                findings.push(at(
                    "sub-workflow-cycle",
                    format!("sub-workflow cycle: {}", names.join(" -> ")),
                ));
                continue;
            }
            if self.chain.len() >= MAX_NESTING {
                findings.push(at(
                    "sub-workflow-depth",
                    format!("sub-workflows are nested more than {MAX_NESTING} levels deep"),
                ));
                continue;
            }
            if !self.done.contains_key(&child) {
                self.visit(&child);
            }
            let Some(done) = self.done.get(&child) else {
                continue;
            };
            let child_shown = self.project.show(&child);
            worktrees |= done.worktrees;
            if call.in_worktree && done.worktrees {
                findings.push(at(
                    "nested-worktree",
                    format!(
                        "sub-workflow {child_shown} makes worktrees (\"worktree: true\"), but this call is inside a branch that already runs in its own worktree; remove \"worktree\" from one of them"
                    ),
                ));
            }
            match &done.workflow {
                None => {
                    let mut d = at(
                        "sub-workflow-invalid",
                        format!("sub-workflow {child_shown} is invalid"),
                    );
                    d.diagnostic.related = done
                        .diagnostics
                        .iter()
                        .filter(|d| d.is_error())
                        .cloned()
                        .collect();
                    findings.push(d);
                }
                Some(workflow) => {
                    let names = workflow.params.iter().map(|p| p.name.as_str());
                    for passed in &call.params {
                        if !workflow.params.iter().any(|p| p.name == *passed) {
                            let hint = did_you_mean(passed, names.clone());
                            let mut f = at(
                                "sub-workflow-param",
                                format!(
                                    "sub-workflow \"{}\" has no parameter \"{passed}\"{hint}",
                                    call.value
                                ),
                            );
                            f.path = format!("{}.params.{passed}", call.step_path);
                            f.target = Target::Key;
                            findings.push(f);
                        }
                    }
                    for param in &workflow.params {
                        if param.required && !call.params.contains(&param.name) {
                            let mut f = at(
                                "sub-workflow-param",
                                format!(
                                    "sub-workflow \"{}\" needs parameter \"{}\", which this step does not pass",
                                    call.value, param.name
                                ),
                            );
                            f.path.clone_from(&call.step_path);
                            findings.push(f);
                        }
                    }
                }
            }
        }
        self.chain.pop();

        let has_call_errors = findings.iter().any(|f| f.diagnostic.is_error());
        diagnostics.extend(resolve_findings(findings, &analysis.text, &shown));
        // Top to bottom; diagnostics without a position (whole-file problems) first.
        diagnostics.sort_by_key(|d| (d.line, d.column));
        let workflow = match analysis.workflow {
            Some(workflow) if !has_call_errors => Some(Arc::new(workflow)),
            _ => None,
        };
        self.done.insert(
            source.clone(),
            Done {
                diagnostics,
                workflow,
                worktrees,
            },
        );
    }
}

fn finding(
    code: &'static str,
    message: String,
    path: &str,
    location: String,
    step_id: Option<String>,
) -> Finding {
    let mut diagnostic = Diagnostic::error(code, message);
    diagnostic.location = location;
    diagnostic.step_id = step_id;
    Finding {
        diagnostic,
        path: path.to_owned(),
        target: Target::Value,
        first_use: None,
    }
}
