//! Running workflows.
//!
//! Theory of operation, in three places:
//! - **Start a run** — [`run::start`] prepares a new run or a resume (validation, config,
//!   params, [`preflight`], run dir, lock) and builds the [`run::Runtime`]; [`run::finish`]
//!   writes the end of the run and picks the exit code.
//! - **Walk the step tree** — [`run::walk`] runs one step list at a time, evaluates `skip_if`,
//!   hands each step to its executor, and applies `continue_on_failure` / `break_if`
//!   ([`run::step`]). Containers come back to it for their child list: the one cycle.
//! - **Run one kind of step** — [`steps`]: one module per kind (shell, agent, loop, group,
//!   sub-workflow, and the terminal relay of interactive steps). An executor gets a
//!   [`run::StepCtx`] and reports what happened as [`run::Event`]s; only the
//!   [`run::Writer`] turns events into `state.json`, the audit log and console lines.
//!
//! Around them: [`process`] spawns and stops child processes (shell commands, headless agents),
//! [`launch`] runs a step's process through a launcher (ssh, `docker exec`),
//! [`signals`] counts interrupts, [`engines`] connects engines to the run, [`subflow`] loads
//! workflows, and [`error`] holds the errors that end a run.

pub mod budget;
pub mod condition;
pub mod context;
pub mod display;
pub mod dry_run;
pub mod engines;
pub mod error;
pub mod files;
pub mod from;
pub mod glob;
pub mod labels;
pub mod launch;
pub mod outcome;
pub mod params;
pub mod preflight;
pub mod process;
pub mod run;
pub mod secrets;
pub mod signals;
pub mod simulate;
pub mod steps;
pub mod subflow;
pub mod usage;
pub mod worktrees;
