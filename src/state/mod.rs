//! Durable run state (runs-and-state.md): where runs live, the state.json document and its atomic
//! writes, the run lock, the audit log, redaction, and run listing for `list`/`show`/`--resume`.
//!
//! Theory of operation: at start the runtime resolves the project ([`StateRoot`] →
//! [`ProjectDir`]), creates or finds the [`RunDir`] and takes its lock; from then on the run's
//! one writer (`exec::run::Writer`) owns it: for every event it changes its in-memory
//! [`StateDoc`] and calls [`RunDir::write_state`] and the audit writer, whose typed `data` is
//! one of the [`AuditData`] records that `show` and `log` read back. Everything here is synchronous std::fs and is never called by executors.
//! Readers (`list`, `show`, `log`) never write: a newer or corrupt file is reported and left as
//! it is.

mod audit;
mod capture;
mod document;
mod error;
mod format;
mod fs_util;
mod item_list;
mod journal;
mod list_file;
mod listing;
mod lock;
mod loop_lists;
mod output_name;
mod parallel;
mod paths;
mod records;
pub mod redact;
mod reserved_run;
mod run_dir;
mod run_id;
pub mod secrets;
mod snapshot;
mod spending_log;
mod state_file;
mod syncer;
pub(crate) mod time;

pub use self::time::{
    TimeFormat, duration_ms_between, format_rfc3339, format_utc, format_utc_millis, now_rfc3339,
    parse_rfc3339, parse_rfc3339_millis, system_time_from_millis, unix_millis,
};
pub use audit::{
    AuditEvent, AuditLine, AuditReader, AuditRecord, AuditWriter, MAX_STRING_BYTES, read_audit,
    truncate_strings,
};
pub use capture::{CaptureValue, Captures, json_text};
pub use document::{
    AgentFrame, FIRST_FORMAT_VERSION, FORMAT_VERSION, Frame, FrameState, LastFailure, LastSession,
    LoopFrame, LoopKind, NamedSession, Outcome, RunStatus, Scope, SeedSession, StateDoc,
    StepResult, StringMap, SubWorkflowFrame, WorkflowRef,
};
pub use error::StateError;
pub use format::BudgetInForce;
pub use item_list::ItemList;
pub use journal::{JOURNAL_FILE, Journal};
pub use listing::{ProjectRuns, RunEntry};
pub use lock::{LockInfo, LockTakeover, RunLock, probe as probe_lock};
pub use output_name::{output_file_name, output_slug};
pub use parallel::{BranchFrame, BranchState, ParallelFrame};
pub use paths::{
    PROJECT_FILE, ProjectDir, ProjectFile, REDIRECT_FILE, Redirect, StateRoot, project_key,
};
pub use records::{
    AuditData, CaptureRecord, Control, ControlAction, Counts, EngineRecord, ErrorRecord,
    FailureRecord, Interrupt, IterationEnd, IterationStart, LockTakeoverRecord, ModelUsageRecord,
    OutputRepair, RunEnd, RunOutcome, RunStart, RunUsage, SeedRecord, SessionHow, SessionRecord,
    Skip, SkipIfRecord, SkipReason, StepEnd, StepKindName, StepOutcome, StepRetry, StepStart,
    SubWorkflowEnd, SubWorkflowStart, TimeoutRecord, UsageRecord, Warning, WorkflowRecord,
    WorktreeRecord,
};
pub use redact::{LineRedactor, REDACTED, Redactor, is_secret_env_name};
pub use reserved_run::ReservedRun;
pub use run_dir::{AUDIT_FILE, LOCK_FILE, OUTPUT_DIR, RunDir};
pub use run_id::{new_run_id, slug, slug_or, validate_run_id, workflow_slug};
pub use snapshot::SnapshotStamp;
pub use spending_log::spending_step_ends;
pub use state_file::{STATE_FILE, decode_state, encode_state};
