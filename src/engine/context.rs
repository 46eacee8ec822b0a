//! What engine templates can see about the run, the workflow and the current step
//! (engines.md §2, "Template context"), and how to build [`WorkflowInfo`] from a loaded
//! composition.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::workflow::resolve::Project;
use crate::workflow::{Source, Step, StepKind, Workflow};

/// How long a hook or data command may run.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(60);

/// The run an engine instance belongs to.
#[derive(Debug, Clone)]
pub struct EngineContext {
    /// Absolute project dir: hooks run there, and `file_exists` and `state_dir` are relative to it.
    pub project_dir: PathBuf,
    pub run_id: String,
    /// The run dir, once it exists (`state_dir` runs before it is created); see
    /// [`Engine::set_run_dir`](super::Engine::set_run_dir).
    pub run_dir: Option<PathBuf>,
    /// The workflow of the scope that declares the engine.
    pub workflow: WorkflowInfo,
    /// [`HOOK_TIMEOUT`]; tests set a shorter one.
    pub timeout: Duration,
    /// Variables set for engine commands on top of the cleaned environment. A `PATH` here is
    /// also where commands and `requires` binaries are looked up.
    pub env: Vec<(String, String)>,
}

impl EngineContext {
    pub fn new(project_dir: PathBuf, run_id: impl Into<String>, workflow: WorkflowInfo) -> Self {
        EngineContext {
            project_dir,
            run_id: run_id.into(),
            run_dir: None,
            workflow,
            timeout: HOOK_TIMEOUT,
            env: Vec::new(),
        }
    }
}

/// `workflow` in templates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkflowInfo {
    pub name: String,
    /// `builtin:<name>` or the absolute path.
    pub file: String,
    /// Every step id of the file, depth first (not into sub-workflows).
    pub step_ids: Vec<String>,
    /// The ids of the file's top-level steps.
    pub top_level_step_ids: Vec<String>,
    /// `step_ids` plus the step ids of every statically reachable sub-workflow, without repeats.
    pub reachable_step_ids: Vec<String>,
    /// True when some step is a `workflow:` step (static or not).
    pub has_sub_workflows: bool,
}

/// `step` in templates (enrich_prompt and validate_step).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StepInfo {
    pub id: String,
    /// The audit path: `implement[2]/work/fix`.
    pub path: String,
    /// `agent`, `shell`, `loop`, `workflow` or `group`.
    pub kind: String,
    /// `interactive` or `headless` (agent steps).
    pub mode: Option<String>,
    /// The agent CLI that runs the step.
    pub cli: Option<String>,
    /// `new`, `resume`, `inherit` or a session name.
    pub session_strategy: Option<String>,
    /// True when the step continues an existing conversation.
    pub continues_session: bool,
}

impl StepInfo {
    /// The `step` of `step` at audit path `path`: mode and session strategy come from the step
    /// itself; `cli` (after defaults and profiles) and `continues_session` (whether the run
    /// resumes a conversation) are what the runtime decided.
    pub fn new(step: &Step, path: &str, cli: Option<&str>, continues_session: bool) -> StepInfo {
        let (mode, session_strategy) = match &step.kind {
            StepKind::Agent(agent) => (
                Some(agent.mode.as_str().to_owned()),
                Some(agent.session.to_string()),
            ),
            _ => (None, None),
        };
        StepInfo {
            id: step.id.clone(),
            path: path.to_owned(),
            kind: kind_name(&step.kind).to_owned(),
            mode,
            cli: cli.map(str::to_owned),
            session_strategy,
            continues_session,
        }
    }
}

/// The template name of a step kind.
pub fn kind_name(kind: &StepKind) -> &'static str {
    match kind {
        StepKind::Shell(_) => "shell",
        StepKind::Agent(_) => "agent",
        StepKind::Loop(_) => "loop",
        StepKind::SubWorkflow(_) => "workflow",
        StepKind::Group(_) => "group",
    }
}

/// [`WorkflowInfo`] of `root`. `files` is the composition (`Composition::files`): sub-workflow
/// calls with a static value are followed through it, each file once.
pub fn workflow_info(
    root: &Workflow,
    files: &BTreeMap<Source, Arc<Workflow>>,
    project: &Project,
) -> WorkflowInfo {
    let step_ids: Vec<String> = root.walk().map(|s| s.id.clone()).collect();
    let mut reachable = step_ids.clone();
    let mut seen = vec![root.source.clone()];
    let mut queue = vec![root];
    while let Some(workflow) = queue.pop() {
        for step in workflow.walk() {
            let StepKind::SubWorkflow(call) = &step.kind else {
                continue;
            };
            if !call.workflow.is_static() {
                continue;
            }
            let Ok(source) = project.resolve_sub(call.workflow.text(), &workflow.source) else {
                continue;
            };
            let Some(child) = files.get(&source) else {
                continue;
            };
            if seen.contains(&source) {
                continue;
            }
            seen.push(source);
            for id in child.walk().map(|s| &s.id) {
                if !reachable.contains(id) {
                    reachable.push(id.clone());
                }
            }
            queue.push(child);
        }
    }
    WorkflowInfo {
        name: root.name.clone(),
        file: root.source.to_string(),
        top_level_step_ids: root.steps.iter().map(|s| s.id.clone()).collect(),
        has_sub_workflows: root
            .walk()
            .any(|s| matches!(s.kind, StepKind::SubWorkflow(_))),
        step_ids,
        reachable_step_ids: reachable,
    }
}
