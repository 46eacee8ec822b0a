//! The context of one step list: which file it belongs to, its scope, loop variables and paths.
//!
//! Scopes (the root workflow and each sub-workflow call) own params, captures and the most recent
//! session; loops and groups do not create scopes. The state document holds the scopes, so a
//! context only says where to find its own: the root, or the sub-workflow frame at some depth.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::display::StepPath;
use crate::interpolate::{Lookup, RenderError, VarRef, Vars};
use crate::state::{CaptureValue, Captures};
use crate::workflow::{BreakIf, Template, Workflow};

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
    /// The file's conditions read `steps.<id>`: how each step ends is kept in the scope.
    pub records_steps: bool,
}

impl ListCtx {
    pub fn root(workflow: Arc<Workflow>, engine: Option<usize>) -> Self {
        let chain = vec![workflow.source.to_string()];
        ListCtx {
            depth: 0,
            capture_names: Arc::new(capture_names(&workflow)),
            records_steps: reads_steps(&workflow),
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
            records_steps: reads_steps(&workflow),
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

/// Whether a condition of this file reads `steps`.
fn reads_steps(workflow: &Workflow) -> bool {
    workflow.walk().any(|step| {
        step.when.as_ref().is_some_and(|c| c.reads("steps"))
            || matches!(&step.break_if, Some(BreakIf::When(c)) if c.reads("steps"))
    })
}

/// Capture names declared anywhere in this file.
fn capture_names(workflow: &Workflow) -> BTreeSet<String> {
    workflow
        .walk()
        .filter_map(|step| step.capture().map(str::to_owned))
        .collect()
}

/// Builds the variables for rendering, lowest precedence first: builtins, params, captures (known
/// names without a value are unset), loop variables (inner loops last, so they win).
pub struct VarsBuilder<'a> {
    pub builtins: [(&'static str, &'a str); 4],
    pub params: &'a std::collections::BTreeMap<String, String>,
    pub captures: &'a Captures,
    pub capture_names: &'a BTreeSet<String>,
    pub loop_vars: &'a [(String, String)],
}

impl VarsBuilder<'_> {
    /// Renders `template` with these variables, looking up only the ones it uses.
    pub fn render(&self, template: &Template) -> Result<String, RenderError> {
        template.render(self)
    }

    /// All the variables, copied (for the `AR_*` environment of a shell step).
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
                Some(CaptureValue::Text(text)) => vars.set(name, text),
                Some(CaptureValue::Json(value)) => vars.set_json(name, value.clone()),
                None => vars.set_unset(name),
            };
        }
        for (name, value) in self.loop_vars {
            vars.set(name, value);
        }
        vars
    }
}

/// The same precedence as [`VarsBuilder::build`], answered in place: the innermost loop variable,
/// then captures (a known one without a value is unset), params, builtins.
impl Lookup for VarsBuilder<'_> {
    fn lookup(&self, name: &str) -> Option<VarRef<'_>> {
        if let Some((_, value)) = self.loop_vars.iter().rev().find(|(n, _)| n == name) {
            return Some(VarRef::Set(value));
        }
        if self.capture_names.contains(name) {
            return Some(match self.captures.get(name) {
                Some(CaptureValue::Text(text)) => VarRef::Set(text),
                Some(CaptureValue::Json(value)) => VarRef::Json(value),
                None => VarRef::Unset,
            });
        }
        if let Some(value) = self.params.get(name) {
            return Some(VarRef::Set(value));
        }
        self.builtins
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| VarRef::Set(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn lookup_in_place_agrees_with_the_copied_variables() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let params = map(&[("a", "param"), ("b", "param"), ("run_id", "shadowed")]);
        let mut captures: Captures = [("b", "capture"), ("stray", "not declared")]
            .iter()
            .map(|(k, v)| (k.to_string(), CaptureValue::from(*v)))
            .collect();
        captures.insert(
            "c".to_owned(),
            CaptureValue::Json(serde_json::json!({"v": [1]})),
        );
        let capture_names: BTreeSet<String> =
            ["b", "c", "d", "e"].iter().map(|s| s.to_string()).collect();
        let loop_vars = vec![
            ("e".to_owned(), "outer".to_owned()),
            ("e".to_owned(), "inner".to_owned()),
            ("f".to_owned(), "loop".to_owned()),
        ];
        let builder = VarsBuilder {
            builtins: [
                ("session_dir", "/s"),
                ("run_id", "r"),
                ("step_id", "x"),
                ("workflow_name", "w"),
            ],
            params: &params,
            captures: &captures,
            capture_names: &capture_names,
            loop_vars: &loop_vars,
        };
        let copied = builder.build();
        for name in [
            "a",
            "b",
            "c",
            "d",
            "e",
            "f",
            "stray",
            "run_id",
            "step_id",
            "session_dir",
            "workflow_name",
            "nothing",
        ] {
            assert_eq!(builder.lookup(name), copied.lookup(name), "{name}");
        }
        assert_eq!(builder.lookup("e"), Some(VarRef::Set("inner")));
        assert_eq!(builder.lookup("d"), Some(VarRef::Unset));
        assert_eq!(
            builder.lookup("c"),
            Some(VarRef::Json(&serde_json::json!({"v": [1]})))
        );
        assert_eq!(builder.lookup("stray"), None);
    }
}
