//! Groups: a list of steps run as one step, in the same scope.

use super::super::error::RunError;
use super::super::run::{Event, Report, StepCtx};
use super::first_id;
use crate::state::StepStart;
use crate::workflow::Step;

pub async fn run(cx: &mut StepCtx<'_, '_>, children: &[Step]) -> Result<Report, RunError> {
    let at = cx.at;
    let depth = at.ctx.depth;
    if at.resuming {
        cx.emit(Event::Heading {
            display: at.display.to_owned(),
            label: "group".to_owned(),
        })?;
    } else {
        cx.start("group", StepStart::default())?;
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
