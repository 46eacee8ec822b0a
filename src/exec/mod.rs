//! Running workflows.
//!
//! Theory of operation: [`start`] prepares a run (or a resume) and hands it to the
//! [`dispatcher`], which owns the run's truth — the position, scopes and sessions in
//! `state.json`, and the audit log. It walks the step tree one step list at a time, giving each
//! step to the executor for its kind: [`leaf`] for shell steps, [`agent`] for agent steps,
//! [`containers`] for loops, groups and sub-workflows (which recurse into the dispatcher).
//! Executors run processes and report what happened; only the dispatcher writes state. Signals
//! are counted by [`signals`]; a running child is stopped by [`process`]. [`finish`] writes the
//! end of the run.

pub mod agent;
pub mod containers;
pub mod context;
pub mod dispatcher;
pub mod display;
pub mod dry_run;
pub mod engines;
pub mod files;
pub mod finish;
pub mod from;
pub mod glob;
pub mod headless;
pub mod interactive;
pub mod labels;
pub mod leaf;
pub mod outcome;
pub mod params;
pub mod preflight;
pub mod process;
pub mod reopen;
pub mod secrets;
pub mod sessions;
pub mod settings;
pub mod shell;
pub mod signals;
pub mod start;
pub mod step;
pub mod subflow;
pub mod usage;
