//! Starting a run: a new run (cli.md §4) or a resume (runs-and-state.md §5), up to the point
//! where the runtime takes over; then the end of the run.
//!
//! Order for a new run: resolve and validate the workflow with its static sub-workflows (exit 3),
//! load the configuration (exit 3), bind parameters (exit 2), preflight the agent CLIs (exit 4),
//! then create the run dir, take the lock and write the first state before any step runs.

use super::super::budget::{SessionSpends, Spent, Tracker, in_force, spent_in_audit};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::super::context::ListCtx;
use super::super::error::RunError;
use super::super::params::{self, Bound};
use super::super::secrets;
use super::super::signals::{Interrupts, SignalName};
use super::super::subflow::Loader;
use super::event::Event;
use super::walk::{RunSettings, Runtime, Shared};
use super::writer::Writer;
use crate::cli::{Global, RunRequest};
use crate::console::{self, Console, eprint_line};
use crate::exit;
use crate::state::{
    AuditData, AuditWriter, Frame, LockTakeoverRecord, Redactor, RunDir, RunLock, RunStart,
    RunStatus, SeedRecord, SeedSession, Skip, SkipReason, StateDoc, StateError, StateRoot,
    WorkflowRecord, WorkflowRef,
};
use crate::workflow::Workflow;

/// `agent-runner <workflow> [params]` and `--dry-run`.
pub fn run_new(request: RunRequest, global: &Global) -> i32 {
    if !request.dry_run && request.simulate.is_none() {
        super::super::process::guard::start_early();
    }
    block_on(async move {
        run_new_async(request, global)
            .await
            .unwrap_or_else(report_fatal)
    })
}

/// `agent-runner --resume [RUN_ID] [--from STEP]`.
pub fn resume(run_id: Option<String>, from: Option<String>, global: &Global) -> i32 {
    super::super::process::guard::start_early();
    block_on(async move {
        resume_async(run_id, from, global)
            .await
            .unwrap_or_else(report_fatal)
    })
}

fn block_on(future: impl std::future::Future<Output = i32>) -> i32 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        Err(err) => {
            console::error(&format!("cannot start the async runtime: {err}"));
            exit::RUNTIME
        }
    }
}

fn report_fatal(err: RunError) -> i32 {
    crate::error::Error::Run(err).report()
}

fn project_dir() -> Result<PathBuf, RunError> {
    std::env::current_dir()
        .and_then(|dir| dir.canonicalize())
        .map_err(RunError::CurrentDir)
}

fn state_error(err: StateError) -> RunError {
    RunError::State(err)
}

async fn run_new_async(request: RunRequest, global: &Global) -> Result<i32, RunError> {
    let project = project_dir()?;
    let mut loader = Loader::new(&project)?;
    let workflow = loader.load_root(&request.workflow)?;
    let config = loader.config();
    let bound = params::bind(&workflow, &request.params).map_err(|err| {
        console::error(&err.message);
        eprint_line(&err.usage);
        RunError::Params
    })?;
    if request.dry_run {
        return super::super::dry_run::print(&mut loader, &workflow, &bound, global.json);
    }
    if let Some(from) = &request.from {
        super::super::from::check_exists(&mut loader, &workflow, from)?;
    }
    // A simulation keeps its state in a temporary directory, removed at its end.
    let simulation = match &request.simulate {
        Some(simulation) => Some(super::super::simulate::Simulation::start(simulation)?),
        None => None,
    };
    // The run id comes first so engine hooks see it; the run dir is created last, where the
    // engine's `state_dir` says (cli.md §4).
    let root = match &simulation {
        Some(simulation) => StateRoot::new(simulation.dir()),
        None => StateRoot::from_env().map_err(state_error)?,
    };
    let project_state = root.project(&project).map_err(state_error)?;
    // The id is claimed on disk at once: another run started in the same second cannot draw it.
    let reserved = match &request.run_id {
        Some(id) => project_state.reserve_named(id),
        None => project_state.reserve_run(&workflow.name),
    }
    .map_err(state_error)?;
    let run_id = reserved.id().to_owned();
    let default_dir = reserved.default_dir().display().to_string();
    let params = render_params(&workflow, bound.clone(), &run_id, &default_dir)?;
    let redactor = secrets::install_redactor(secrets::secret_values(&workflow, &params), &config)?;
    // A simulation runs no engine hook and needs no agent CLI.
    let engine = match &simulation {
        Some(_) => None,
        None => {
            super::super::engines::attach_root(&loader, &workflow, &params, &run_id, None, true)?
        }
    };
    if simulation.is_none() {
        super::super::preflight::check(&mut loader, &workflow)?;
        super::super::preflight::warn_without_terminal(&workflow);
    }

    let relocate = engine.as_ref().and_then(|root| root.state_dir.clone());
    let run_dir = reserved.create(relocate.as_deref()).map_err(state_error)?;
    let session_dir = run_dir.path().display().to_string();
    let params = if session_dir == default_dir {
        params
    } else {
        render_params(&workflow, bound, &run_id, &session_dir)?
    };
    let (engines, engine_records) = match engine {
        Some(mut root) => {
            root.engine.set_run_dir(run_dir.path().to_path_buf());
            (vec![root.engine], root.records)
        }
        None => (Vec::new(), Vec::new()),
    };
    let secret_names: Vec<String> = workflow
        .params
        .iter()
        .filter(|p| p.secret)
        .map(|p| p.name.clone())
        .collect();
    let mut doc = StateDoc::new(
        &run_id,
        project.display().to_string(),
        workflow_ref(&workflow),
    );
    doc.params = params;
    doc.secret_params = secret_names;
    doc.seed_session = request.seed_session.as_deref().map(parse_seed);
    doc.budget = in_force::for_new_run(global.budget, &workflow, &config);
    doc.position = Some(Frame::pending(
        0,
        workflow
            .steps
            .first()
            .map(|s| s.id.clone())
            .unwrap_or_default(),
    ));
    if let Some(from) = &request.from {
        doc.position = Some(super::super::from::chain_to(&mut loader, &workflow, from)?);
    }
    let mut d = open_runtime(
        doc,
        run_dir,
        loader,
        global,
        &config,
        Some(redactor),
        workflow.clone(),
        false,
        simulation.as_ref().map(|s| s.stubs.clone()),
    )?;
    *d.engines.borrow_mut() = engines;
    let running = match &simulation {
        Some(_) => {
            d.writer().console_mut().stub = true;
            "simulating"
        }
        None => "running",
    };
    d.writer().console().info(&format!(
        "agent-runner: {running} workflow \"{}\" (run {run_id})",
        workflow.name
    ));
    let budget_in_force = d.writer().doc().budget;
    if let Some(warning) = in_force::cost_blind_warning(budget_in_force, &workflow, &config) {
        d.warn("", "budget", &warning);
    }
    d.writer().console().info("");
    let mut skipped = Vec::new();
    if let Some(from) = &request.from {
        console::note(&format!(
            "starting at \"{from}\"; earlier steps are skipped and their captures are unset"
        ));
        skipped = super::super::from::skipped_before(&mut d.loader.borrow_mut(), &workflow, from)?;
    }
    let code = start_and_execute(d, workflow, None, request.from, skipped, engine_records).await;
    drop(simulation);
    code
}

async fn resume_async(
    run_id: Option<String>,
    from: Option<String>,
    global: &Global,
) -> Result<i32, RunError> {
    let project = project_dir()?;
    let root = StateRoot::from_env().map_err(state_error)?;
    let project_state = root.project(&project).map_err(state_error)?;
    let run_dir = match &run_id {
        Some(id) => project_state.open_run(id).map_err(|err| match err {
            StateError::NoSuchRun(_) => RunError::NoSuchRun {
                id: id.clone(),
                is_workflow: Loader::new(&project).is_ok_and(|mut l| l.exists(id)),
            },
            other => state_error(other),
        })?,
        None => project_state.newest_resumable().map_err(state_error)?.run,
    };
    let mut doc = run_dir.read_state().map_err(state_error)?;
    if let (true, Some(from)) = (doc.completed || doc.status == RunStatus::Completed, &from) {
        // A completed run has no position to go back to: say how to run it again instead of
        // saying "nothing to resume" as if --from had not been given.
        let mut loader = Loader::new(&project)?;
        let (workflow, _) = loader.load_recorded(&doc.workflow)?;
        super::super::from::check_exists(&mut loader, &workflow, from)?;
        let source = &doc.workflow.source;
        let target = source.strip_prefix("builtin:").unwrap_or(source);
        return Err(RunError::CompletedFrom {
            run_id: doc.run_id.clone(),
            target: target.to_owned(),
            from: from.clone(),
        });
    }
    if doc.completed || doc.status == RunStatus::Completed {
        eprint_line(&format!(
            "agent-runner: run {} already completed; nothing to resume",
            doc.run_id
        ));
        return Ok(exit::SUCCESS);
    }
    let mut loader = Loader::new(&project)?;
    let (workflow, changed) = loader.load_recorded(&doc.workflow)?;
    let config = loader.config();
    match &from {
        Some(from) => super::super::from::check_exists(&mut loader, &workflow, from)?,
        None => super::super::from::check_position(&doc, &workflow)?,
    }
    let run_path = run_dir.path().to_path_buf();
    let engine = super::super::engines::attach_root(
        &loader,
        &workflow,
        &doc.params,
        &doc.run_id,
        Some(run_path),
        false,
    )?;
    super::super::preflight::check(&mut loader, &workflow)?;
    super::super::preflight::warn_without_terminal(&workflow);
    if let Some(from) = &from {
        doc.position = Some(super::super::from::chain_to(&mut loader, &workflow, from)?);
    }
    doc.status = RunStatus::Running;
    doc.last_failure = None;
    doc.budget = in_force::for_resume(global.budget, doc.budget);
    let resume_from = doc.position_path();
    let mut d = open_runtime(
        doc,
        run_dir,
        loader,
        global,
        &config,
        None,
        workflow.clone(),
        from.is_none(),
        None,
    )?;
    d.resuming_step.set(true);
    let mut engine_records = Vec::new();
    if let Some(root) = engine {
        d.engines.borrow_mut().push(root.engine);
        engine_records = root.records;
    }
    let at = super::super::from::display_position(d.writer().doc(), &workflow);
    let run_id = d.writer().doc().run_id.clone();
    d.writer().console().info(&format!(
        "agent-runner: resuming run {run_id} of workflow \"{}\" at {at}",
        workflow.name
    ));
    if changed {
        d.warn(
            "",
            "workflow_changed",
            &format!(
                "{} changed since this run started; continuing by step id",
                workflow.source
            ),
        );
    }
    d.writer().console().info("");
    start_and_execute(d, workflow, resume_from, from, Vec::new(), engine_records).await
}

/// Writes `run_start` and the first state of this invocation, then runs the workflow.
async fn start_and_execute(
    d: Runtime,
    workflow: Arc<Workflow>,
    resume_from: Option<String>,
    from: Option<String>,
    skipped: Vec<(String, String, bool)>,
    engine_records: Vec<crate::engine::HookRecord>,
) -> Result<i32, RunError> {
    // Only the params and the seed: the document can hold a long loop list.
    let (params, seed_session) = {
        let writer = d.writer();
        let doc = writer.doc();
        (doc.params.clone(), doc.seed_session.clone())
    };
    let params = match d.redact_map(&params) {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let start = RunStart {
        workflow: Some(WorkflowRecord {
            name: Some(workflow.name.clone()),
            source: Some(workflow.source.to_string()),
            hash: Some(workflow.hash.as_str().to_owned()),
        }),
        params,
        project_dir: Some(d.settings.project_dir.display().to_string()),
        agent_runner_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        resumed: Some(resume_from.is_some()),
        resume_from,
        from: from.clone(),
        seed_session: seed_session.as_ref().map(|s| SeedRecord {
            cli: s.cli.clone(),
            id: s.id.clone(),
        }),
    };
    let resumed = start.resumed == Some(true);
    d.writer().record("", &AuditData::RunStart(start))?;
    d.writer().emit(Event::Engine {
        path: String::new(),
        records: engine_records,
    })?;
    for (display, path, leaf) in skipped {
        d.writer().emit(Event::Skipped {
            display,
            path,
            reason: "--from".to_owned(),
            skip: Skip::because(SkipReason::From),
            leaf,
        })?;
    }
    if resumed && from.is_none() {
        // A plain resume changes only the status (and clears last_failure) before the first
        // step: the state on disk is already a resumable position, so this record need not be
        // waited for, nor hold back what follows (Writer::save_unheld): if a crash loses it, the
        // resume starts again from the same position. A new run must have its state on disk
        // now, and `--from` must record the chain it chose before anything else happens.
        d.writer().save_unheld()?;
    } else {
        d.writer().save()?;
    }
    Ok(execute(d, workflow).await)
}

/// Takes the lock, opens the audit log and builds the runtime. `redactor` is the one a new run
/// installed as soon as its parameters were known; a resume builds it here from the state.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of a run both start paths hand over, each used once"
)]
fn open_runtime(
    doc: StateDoc,
    run_dir: RunDir,
    loader: Loader,
    global: &Global,
    config: &crate::config::Config,
    redactor: Option<Redactor>,
    root: Arc<Workflow>,
    snapshot_current: bool,
    simulate: Option<Arc<super::super::simulate::Stubs>>,
) -> Result<Runtime, RunError> {
    let (lock, takeover) =
        RunLock::acquire(&run_dir.lock_path(), &doc.run_id).map_err(state_error)?;
    run_dir.remove_stale_temps().map_err(state_error)?;
    let redactor = match redactor {
        Some(redactor) => redactor,
        None => {
            let values = doc
                .secret_params
                .iter()
                .filter_map(|name| doc.params.get(name))
                .chain(&doc.sub_secrets);
            secrets::install_redactor(values, config)?
        }
    };
    let redactor = Arc::new(redactor);
    // What the log held before this invocation: the sessions' earlier spending is read from it.
    let logged = std::fs::metadata(run_dir.audit_path()).map_or(0, |m| m.len());
    let audit = AuditWriter::open(&run_dir.audit_path(), &doc.run_id, (*redactor).clone())
        .map_err(state_error)?;
    if !global.quiet && !global.plain && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        console::spinner::enable();
        tokio::spawn(async {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
            loop {
                tick.tick().await;
                console::spinner::tick();
            }
        });
    }
    let spent = match doc.budget {
        Some(_) => spent_in_audit(&run_dir.audit_path(), ""),
        None => Spent::default(),
    };
    let budget = Tracker::new(in_force::as_budget(doc.budget), spent)
        .with_sessions(SessionSpends::in_audit(&run_dir.audit_path(), logged));
    let budget = Arc::new(budget);
    let signal = SignalName::default();
    let interrupts = Interrupts::listen(signal.clone()).map_err(RunError::Signals)?;
    let settings = RunSettings {
        project_dir: PathBuf::from(&doc.project_dir),
        shell: config.shell.clone().unwrap_or_else(|| "/bin/sh".to_owned()),
        quiet: global.quiet,
        verbose: global.verbose,
        runner_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("agent-runner")),
        simulate,
    };
    let run_dir_path = run_dir.path().to_path_buf();
    let slots = super::slots::Slots::from_config(config);
    let shared = Shared {
        writer: std::cell::RefCell::new(
            Writer::new(
                doc,
                run_dir,
                audit,
                Console::for_stderr(global.quiet),
                redactor.clone(),
                snapshot_current,
            )
            .map_err(state_error)?,
        ),
        redactor,
        settings,
        signal,
        started: Instant::now(),
        resuming_step: std::cell::Cell::new(false),
        loader: std::cell::RefCell::new(loader),
        lock: std::cell::RefCell::new(Some(lock)),
        root,
        engines: std::cell::RefCell::new(Vec::new()),
        slots,
        run_dir: run_dir_path,
        halt: super::super::signals::Halt::new(),
        budget,
    };
    let d = Runtime::new(shared, interrupts);
    if let Some(takeover) = takeover {
        let record = LockTakeoverRecord {
            previous_pid: Some(u64::from(takeover.previous_pid)),
            previous_host: Some(takeover.previous_host),
        };
        d.writer().record("", &AuditData::LockTakeover(record))?;
    }
    Ok(d)
}

/// Runs the root step list to its end, then writes the end of the run and releases the lock.
async fn execute(mut d: Runtime, workflow: Arc<Workflow>) -> i32 {
    let engine = (!d.engines.borrow().is_empty()).then_some(0);
    let ctx = ListCtx::root(workflow.clone(), engine);
    let end = d.run_list(&ctx, &workflow.steps).await;
    let code = super::finish::finish(&mut d, end, &workflow.name);
    let lock = d.lock.borrow_mut().take();
    if let Some(lock) = lock
        && let Err(err) = lock.release()
    {
        console::warning(&format!("cannot release the run lock: {err}"));
    }
    code
}

/// Renders parameter defaults (templates over builtins) now that the run id exists.
fn render_params(
    workflow: &Workflow,
    bound: Vec<(String, Bound)>,
    run_id: &str,
    session_dir: &str,
) -> Result<crate::state::StringMap, RunError> {
    let given: Vec<(String, String)> = bound
        .into_iter()
        .filter_map(|(name, value)| match value {
            Bound::Given(value) => Some((name, value)),
            Bound::Default(_) | Bound::Empty => None,
        })
        .collect();
    super::super::subflow::bind_params(workflow, given, run_id, session_dir)
        .map_err(RunError::ParamDefault)
}

fn workflow_ref(workflow: &Workflow) -> WorkflowRef {
    WorkflowRef {
        name: workflow.name.clone(),
        source: workflow.source.to_string(),
        hash: workflow.hash.as_str().to_owned(),
    }
}

/// `--session [cli:]id` given with a workflow.
fn parse_seed(text: &str) -> SeedSession {
    match text.split_once(':') {
        Some((cli, id)) if crate::workflow::CLI_NAMES.contains(&cli) => SeedSession {
            cli: Some(cli.to_owned()),
            id: id.to_owned(),
        },
        _ => SeedSession {
            cli: None,
            id: text.to_owned(),
        },
    }
}
