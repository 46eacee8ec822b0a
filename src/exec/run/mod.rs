//! Running a workflow, on the runtime's side: [`start`] a new run or a resume, [`walk`] the step
//! tree, one [`step`]'s life around its executor, and [`finish`] the run. Every change of the
//! run's truth is an [`Event`] applied by the one [`Writer`]; executors (in
//! [`super::steps`]) get a [`StepCtx`] and never this module's [`Runtime`].

mod branch;
mod branches;
mod conditions;
mod deadline;
pub mod event;
pub mod finish;
mod retry;
mod slots;
pub mod start;
pub mod step;
mod step_ctx;
pub mod walk;
pub mod writer;

pub use branch::{BranchCtx, Fork};
pub use branches::{BranchSpec, Branches, Policy};
pub use event::{EndLine, Event, StepRef, Subscriber};
pub use slots::Slot;
pub use step::{At, Report};
pub use step_ctx::StepCtx;
pub use walk::{BoxFuture, RunSettings, Runtime, Shared};
pub use writer::Writer;
