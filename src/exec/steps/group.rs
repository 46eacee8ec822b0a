//! Groups: a list of steps run as one step, in the same scope; with `parallel`, the children
//! run at once ([`super::parallel`]).

use super::super::error::RunError;
use super::super::run::{Event, Report, StepCtx};
use super::first_id;
use crate::state::StepStart;
use crate::workflow::Step;

pub async fn run(cx: &mut StepCtx<'_, '_>, children: &[Step]) -> Result<Report, RunError> {
    let at = cx.at;
    let depth = at.ctx.depth;
    let label = if at.step.parallel.is_some() {
        "parallel group"
    } else {
        "group"
    };
    if at.resuming {
        cx.emit(Event::Heading {
            display: at.display.to_owned(),
            label: label.to_owned(),
        })?;
    } else {
        cx.start(label, StepStart::default())?;
    }
    if let Some(parallel) = at.step.parallel {
        return super::parallel::group(cx, children, parallel).await;
    }
    if cx.frame().is_none_or(|f| f.child.is_none()) {
        cx.emit(Event::GroupOpened {
            depth,
            first_id: first_id(children),
        })?;
    }
    let body = at
        .ctx
        .group(at.ctx.path.enter(at.index, at.steps.len(), &at.step.id));
    let end = cx.run_list(&body, children).await?;
    Ok(Report::new(end))
}
