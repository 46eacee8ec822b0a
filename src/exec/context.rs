//! The context of one step list: which file it belongs to, its scope, loop variables and paths.
//!
//! Scopes (the root workflow and each sub-workflow call) own params, captures and the most recent
//! session; loops and groups do not create scopes. The state document holds the scopes, so a
//! context only says where to find its own: the root, or the sub-workflow frame at some depth.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::display::StepPath;
use crate::interpolate::Vars;
use crate::workflow::{StepKind, Workflow};

/// Where a step list's scope lives in the state document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeRef {
    Root,
    /// The `sub_workflow` of the frame at this depth.
    SubWorkflow(usize),
}

/// Everything that is fixed for one step list while it runs.
#[derive(Debug, Clone)]
pub struct ListCtx {
    /// Depth of this list's frame in the position chain (0 = top level).
    pub depth: usize,
    pub workflow: Arc<Workflow>,
    pub scope: ScopeRef,
    /// Loop variables of enclosing loops in this scope, outermost first.
    pub loop_vars: Vec<(String, String)>,
    /// Depth of the frame of the nearest enclosing loop in the same file (for `break_if`).
    pub loop_depth: Option<usize>,
    pub path: StepPath,
    /// Sources of the sub-workflow calls that lead here (cycle detection), root first.
    pub chain: Vec<String>,
    /// Every capture name of this file: known names without a value render as unset.
    pub capture_names: Arc<BTreeSet<String>>,
    /// The engine instance of this scope (its own or its caller's), by index in the runtime.
    pub engine: Option<usize>,
}

impl ListCtx {
    pub fn root(workflow: Arc<Workflow>, engine: Option<usize>) -> Self {
        let chain = vec![workflow.source.to_string()];
        ListCtx {
            depth: 0,
            capture_names: Arc::new(capture_names(&workflow)),
            workflow,
            scope: ScopeRef::Root,
            loop_vars: Vec::new(),
            loop_depth: None,
            path: StepPath::default(),
            chain,
            engine,
        }
    }

    /// The context of a sub-workflow's steps, whose frame is at `depth`; `engine` is the child's
    /// own instance, or `None` to share the caller's.
    pub fn sub_workflow(
        &self,
        workflow: Arc<Workflow>,
        frame_depth: usize,
        path: StepPath,
        engine: Option<usize>,
    ) -> Self {
        let mut chain = self.chain.clone();
        chain.push(workflow.source.to_string());
        ListCtx {
            depth: frame_depth + 1,
            capture_names: Arc::new(capture_names(&workflow)),
            workflow,
            scope: ScopeRef::SubWorkflow(frame_depth),
            loop_vars: Vec::new(),
            loop_depth: None,
            path,
            chain,
            engine: engine.or(self.engine),
        }
    }

    /// The context of a group's children.
    pub fn group(&self, path: StepPath) -> Self {
        ListCtx {
            depth: self.depth + 1,
            path,
            ..self.clone()
        }
    }

    /// The context of a loop body in one iteration.
    pub fn loop_body(&self, path: StepPath, vars: Vec<(String, String)>) -> Self {
        let mut loop_vars = self.loop_vars.clone();
        loop_vars.extend(vars);
        ListCtx {
            depth: self.depth + 1,
            path,
            loop_vars,
            loop_depth: Some(self.depth),
            ..self.clone()
        }
    }
}

/// Capture names declared anywhere in this file.
fn capture_names(workflow: &Workflow) -> BTreeSet<String> {
    workflow
        .walk()
        .filter_map(|step| match &step.kind {
            StepKind::Shell(shell) => shell.capture.as_ref().map(|c| c.name.clone()),
            StepKind::Agent(agent) => agent.capture.clone(),
            _ => None,
        })
        .collect()
}

/// Builds the variables for rendering, lowest precedence first: builtins, params, captures (known
/// names without a value are unset), loop variables (inner loops last, so they win).
pub struct VarsBuilder<'a> {
    pub builtins: [(&'static str, &'a str); 4],
    pub params: &'a std::collections::BTreeMap<String, String>,
    pub captures: &'a std::collections::BTreeMap<String, String>,
    pub capture_names: &'a BTreeSet<String>,
    pub loop_vars: &'a [(String, String)],
}

impl VarsBuilder<'_> {
    pub fn build(&self) -> Vars {
        let mut vars = Vars::new();
        for (name, value) in self.builtins {
            vars.set(name, value);
        }
        for (name, value) in self.params {
            vars.set(name, value);
        }
        for name in self.capture_names {
            match self.captures.get(name) {
                Some(value) => vars.set(name, value),
                None => vars.set_unset(name),
            };
        }
        for (name, value) in self.loop_vars {
            vars.set(name, value);
        }
        vars
    }
}
