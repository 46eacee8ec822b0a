//! Loading workflows for a run: the root (with its static composition, validated up front),
//! sub-workflows whose `workflow:` is rendered at run time, and the files a resume reloads.
//!
//! Every file is validated before it runs. Files of the static composition are loaded once and
//! cached; a dynamic call loads and validates its target (and that target's own composition)
//! when the step runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::RunError;
use super::outcome::{ErrorClass, Failure};
use crate::config::{self, Config};
use crate::console;
use crate::state::{StringMap, SubWorkflowFrame, WorkflowRef};
use crate::workflow::compose::{Composition, load_composition, load_context};
use crate::workflow::loader::LoadContext;
use crate::workflow::resolve::{Project, ResolveError};
use crate::workflow::{Diagnostic, Source, Workflow};

pub struct Loader {
    project: Project,
    config: Config,
    ctx: LoadContext,
    files: BTreeMap<Source, Arc<Workflow>>,
}

impl Loader {
    /// The loader of the project at `dir`, with its configuration loaded (exit 3 when invalid).
    pub fn new(dir: &Path) -> Result<Self, RunError> {
        let project = Project::from_env(dir.to_path_buf());
        let config = config::load(&project).map_err(|diagnostics| {
            print_diagnostics(&diagnostics);
            RunError::InvalidConfig
        })?;
        // Deprecations and Go-only keys of the configuration: once per run, however many files
        // say the same.
        let mut printed: Vec<(&str, &str)> = Vec::new();
        for warning in &config.warnings {
            if !printed.contains(&(warning.code, warning.message.as_str())) {
                printed.push((warning.code, warning.message.as_str()));
                console::eprint_line(&warning.to_string());
            }
        }
        let ctx = load_context(&project, Some(&config));
        Ok(Loader {
            project,
            config,
            ctx,
            files: BTreeMap::new(),
        })
    }

    pub fn config(&self) -> Config {
        self.config.clone()
    }

    /// Every file loaded and validated so far, by source (the static composition and more).
    pub fn files(&self) -> &BTreeMap<Source, Arc<Workflow>> {
        &self.files
    }

    pub fn project(&self) -> &Project {
        &self.project
    }

    /// Whether `name` resolves to a workflow.
    pub fn exists(&mut self, name: &str) -> bool {
        self.project.resolve_name(name).is_ok()
    }

    /// Resolves and validates the root workflow with its static sub-workflows.
    pub fn load_root(&mut self, arg: &str) -> Result<Arc<Workflow>, RunError> {
        let source = self
            .project
            .resolve_name(arg)
            .map_err(RunError::UnknownWorkflow)?;
        self.load_checked(source)
            .map_err(|()| RunError::InvalidWorkflow)
    }

    /// Reloads the root workflow of a run being resumed; `true` when its bytes changed.
    pub fn load_recorded(
        &mut self,
        recorded: &WorkflowRef,
    ) -> Result<(Arc<Workflow>, bool), RunError> {
        let source = parse_source(&recorded.source);
        if let Source::File(path) = &source
            && !path.exists()
        {
            return Err(RunError::WorkflowGone(path.clone()));
        }
        let workflow = self
            .load_checked(source)
            .map_err(|()| RunError::InvalidWorkflow)?;
        let changed = workflow.hash != recorded.hash;
        Ok((workflow, changed))
    }

    /// Loads the target of a sub-workflow call made from `caller` (`value` already rendered).
    pub fn load_sub(&mut self, value: &str, caller: &Source) -> Result<Arc<Workflow>, Failure> {
        let source = self.project.resolve_sub(value, caller).map_err(|err| {
            let message = match err {
                ResolveError::NotFound { looked_for, .. } => {
                    format!("sub-workflow not found: {value} (looked for {looked_for})")
                }
                other => other.to_string(),
            };
            Failure::new(ErrorClass::SubWorkflow, message)
        })?;
        self.load_checked(source.clone()).map_err(|()| {
            Failure::new(
                ErrorClass::SubWorkflow,
                format!("sub-workflow {} is invalid", self.project.show(&source)),
            )
        })
    }

    /// Reloads the sub-workflow of a saved frame; `true` when its bytes changed.
    pub fn reload(&mut self, frame: &SubWorkflowFrame) -> Result<(Arc<Workflow>, bool), Failure> {
        let source = parse_source(&frame.source);
        if let Source::File(path) = &source
            && !path.exists()
        {
            return Err(Failure::new(
                ErrorClass::SubWorkflow,
                format!("sub-workflow file {} no longer exists", path.display()),
            ));
        }
        let workflow = self.load_checked(source.clone()).map_err(|()| {
            Failure::new(
                ErrorClass::SubWorkflow,
                format!("sub-workflow {} is invalid", self.project.show(&source)),
            )
        })?;
        let changed = workflow.hash != frame.hash;
        Ok((workflow, changed))
    }

    /// Validates `source` with its composition (cached), printing diagnostics; `Err` on errors.
    fn load_checked(&mut self, source: Source) -> Result<Arc<Workflow>, ()> {
        if let Some(workflow) = self.files.get(&source) {
            return Ok(workflow.clone());
        }
        let Composition {
            root,
            files,
            diagnostics,
            ..
        } = load_composition(source, &self.project, &self.ctx);
        print_diagnostics(&diagnostics);
        match root {
            Some(workflow) if !diagnostics.iter().any(Diagnostic::is_error) => {
                self.files.extend(files);
                Ok(workflow)
            }
            _ => Err(()),
        }
    }
}

/// Prints diagnostics to stderr, in the `--validate` format.
fn print_diagnostics(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        console::eprint_line(&diagnostic.to_string());
    }
}

/// `builtin:<name>` or an absolute path, as state.json records it.
fn parse_source(text: &str) -> Source {
    match text.strip_prefix("builtin:") {
        Some(name) => Source::Builtin(name.to_owned()),
        None => Source::File(PathBuf::from(text)),
    }
}

/// Binds a workflow's parameters from `given` (already rendered) plus its defaults, which are
/// templates over builtins. Unknown or missing parameters fail the call.
pub fn bind_params(
    workflow: &Workflow,
    given: Vec<(String, String)>,
    run_id: &str,
    session_dir: &str,
) -> Result<StringMap, Failure> {
    let fail = |message: String| Failure::new(ErrorClass::SubWorkflow, message);
    let mut values = StringMap::new();
    for (name, value) in given {
        if !workflow.params.iter().any(|p| p.name == name) {
            let names = workflow.params.iter().map(|p| p.name.as_str());
            let hint = crate::workflow::suggest::did_you_mean(&name, names);
            return Err(fail(format!(
                "sub-workflow \"{}\" has no parameter \"{name}\"{hint}",
                workflow.name
            )));
        }
        values.insert(name, value);
    }
    let mut builtins = crate::interpolate::Vars::new();
    builtins.set("run_id", run_id);
    builtins.set("session_dir", session_dir);
    builtins.set("workflow_name", &workflow.name);
    builtins.set("step_id", "");
    for param in &workflow.params {
        if values.contains_key(&param.name) {
            continue;
        }
        let value = match &param.default {
            Some(default) => default
                .render(&builtins)
                .map_err(|err| fail(format!("default of parameter \"{}\": {err}", param.name)))?,
            None if !param.required => String::new(),
            None => {
                return Err(fail(format!(
                    "sub-workflow \"{}\" needs parameter \"{}\", which this step does not pass",
                    workflow.name, param.name
                )));
            }
        };
        values.insert(param.name.clone(), value);
    }
    Ok(values)
}
