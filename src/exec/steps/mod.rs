//! Running one step, one module per kind: [`shell`] (and `skip_if: sh:` conditions), [`agent`],
//! [`loops`], [`group`], [`sub_workflow`], and [`relay`] for the interactive kinds. Each executor
//! gets a [`StepCtx`], runs its step, reports what happened as events, and returns a [`Report`];
//! none of them sees the runtime. The containers ask the context to run their child list.

pub mod agent;
pub mod group;
pub mod loops;
pub mod output;
pub mod parallel;
pub mod relay;
pub mod shell;
mod stub;
pub mod sub_workflow;
pub mod timeouts;

use super::error::RunError;
use super::run::{Report, StepCtx};
use crate::workflow::StepKind;

/// Polls `future` once: its output if it finished at once, else `None` (it has run up to its
/// first wait: a process future has started its process).
pub(crate) async fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Option<F::Output> {
    let mut future = Some(future);
    std::future::poll_fn(|context| {
        let polled = future.take().map(|f| f.poll(context));
        std::task::Poll::Ready(match polled {
            Some(std::task::Poll::Ready(output)) => Some(output),
            _ => None,
        })
    })
    .await
}

/// Runs the step of `cx` with the executor for its kind.
pub async fn run(cx: &mut StepCtx<'_, '_>) -> Result<Report, RunError> {
    let step = cx.at.step;
    if let Some(stubs) = cx.settings().simulate.clone()
        && matches!(step.kind, StepKind::Shell(_) | StepKind::Agent(_))
    {
        return stub::run(cx, &stubs).await;
    }
    // A loop's or group's budget limits its steps while it runs (a sub-workflow's is entered
    // once its file is loaded).
    let _scope = match &step.kind {
        StepKind::Loop(_) | StepKind::Group(_) => budget_scope(cx, None),
        _ => None,
    };
    match &step.kind {
        StepKind::Shell(shell) => shell::run(cx, shell).await,
        StepKind::Agent(agent) => agent::run(cx, agent).await,
        StepKind::Loop(looped) => loops::run(cx, looped).await,
        StepKind::Group(children) => group::run(cx, children).await,
        StepKind::SubWorkflow(call) => sub_workflow::run(cx, call).await,
    }
}

/// Enters the budget of the container of `cx`, with a called file's own `file_budget`.
fn budget_scope(
    cx: &StepCtx<'_, '_>,
    file_budget: Option<crate::workflow::budget::Budget>,
) -> Option<super::budget::scope::ScopeGuard> {
    let audit_log = cx.run_dir().join(crate::state::AUDIT_FILE);
    super::budget::scope::enter(
        &cx.budget(),
        cx.at.step,
        cx.at.audit_path,
        file_budget,
        &audit_log,
        cx.at.resuming,
    )
}

/// The id of the first step of a child list (empty for an empty list).
fn first_id(steps: &[crate::workflow::Step]) -> String {
    steps.first().map(|s| s.id.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every `.rs` file below `dir`.
    fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Executors see a `StepCtx` and report events; the runtime and the writer stay out of reach.
    #[test]
    fn no_executor_reaches_the_runtime_or_the_writer() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/exec");
        let mut files = Vec::new();
        sources(&root.join("steps"), &mut files);
        sources(&root.join("process"), &mut files);
        files.push(root.join("engines.rs"));
        assert!(files.len() > 10, "{files:?}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            // Tests (this one included) may name what they check for.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for forbidden in [
                "Runtime",
                "run::walk",
                "run::writer",
                "Writer {",
                "&mut Writer",
            ] {
                let uses = code
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .any(|l| l.contains(forbidden));
                assert!(!uses, "{} uses {forbidden}", file.display());
            }
        }
    }
}
