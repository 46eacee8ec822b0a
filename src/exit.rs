//! Exit codes (cli.md §8). Every way the program ends maps to exactly one of these.

/// Success; also `--validate` without errors, `--resume` of a completed run, and the read-only
/// commands.
pub const SUCCESS: i32 = 0;
/// The workflow failed: a step failed and nothing consumed the failure. The run can be resumed.
pub const WORKFLOW_FAILED: i32 = 1;
/// Usage error: unknown option, bad combination, parameter errors, unknown workflow, run id or
/// `--from` step, `step continue` outside a step.
pub const USAGE: i32 = 2;
/// Validation or configuration error, an engine rejection at start, or a resume point that no
/// longer exists.
pub const INVALID: i32 = 3;
/// Runtime or environment error: agent CLI missing or logged out, no terminal for an interactive
/// step, run lock held, state or audit not writable, `ui` cannot listen (port in use), internal
/// error.
pub const RUNTIME: i32 = 4;
/// Interrupted by SIGINT, SIGTERM, SIGHUP or `/abort`. State is saved.
pub const INTERRUPTED: i32 = 130;
