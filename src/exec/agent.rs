//! Agent steps on the dispatcher's side: which session to use, which settings, the framing, the
//! invocation built by the CLI's adapter, and what the result means for the run.
//!
//! The headless process itself runs in [`super::headless`] and only sends stream lines back;
//! this module parses them with the adapter's parser, renders them, and records the session id
//! in `state.json` the moment it is known, so an interrupted step can continue its conversation.

use serde_json::{Map, json};
use tokio::sync::mpsc;

use super::dispatcher::{Dispatcher, Fatal};
use super::display::output_stem;
use super::labels::agent_label;
use super::outcome::{End, ErrorClass, Failure};
use super::sessions::{Continue, SessionPlan, plan_session};
use super::settings::{Layers, Recorded, Resolved};
use super::step::{At, Report};
use crate::agents::{
    self, Adapter, AgentEvent, Completion, EnvLayers, ExitInfo, HostFacts, Invocation,
    SessionRequest, framing,
    render::{RenderOptions, Target},
};
use crate::console::format;
use crate::state::{AgentFrame, AuditEvent, LastSession, NamedSession};
use crate::workflow::{AgentMode, AgentStep, SessionStrategy, StepKind, Template};

async fn run_agent_once(
    d: &mut Dispatcher,
    at: &At<'_>,
    step: &AgentStep,
) -> Result<Report, Fatal> {
    let plan = plan_session(d, at, step);
    // A `--session` seed does not choose the step's CLI: it applies only when the step resolves
    // to the seed's CLI (any CLI when the seed has no `<cli>:` prefix).
    let recorded = plan
        .resume
        .as_ref()
        .filter(|c| !c.is_seed())
        .map(|c| Recorded {
            cli: Some(c.cli.clone()),
            model: c.model.clone(),
            effort: c.effort.clone(),
        });
    let config = d.loader.config();
    let decl = at.ctx.workflow.session_decl(&step.session);
    let layers = Layers {
        step,
        workflow: &at.ctx.workflow,
        config: &config,
        decl,
        recorded: recorded.as_ref(),
    };
    let resolved = {
        let mut render = |t: &Template| d.render(at.ctx, &at.step.id, t).map_err(|f| f.message);
        layers.resolve(&mut render)
    };
    let resolved = match resolved {
        Ok(resolved) => resolved,
        Err(message) => {
            d.begin(at, &super::labels::kind_label(at.step), Map::new())?;
            return Ok(Report::failed(Failure::new(ErrorClass::CliError, message)));
        }
    };
    let label = agent_label(step, &resolved.cli, resolved.model.as_deref());
    let Some(adapter) = agents::adapter(&resolved.cli) else {
        d.begin(at, &label, Map::new())?;
        let message = format!("unknown cli \"{}\"", resolved.cli);
        return Ok(Report::failed(Failure::new(ErrorClass::CliError, message)));
    };
    // A resumed session stays on its own CLI; a different one cannot continue it.
    let plan = match plan.resume {
        Some(c) if c.is_seed() && c.cli.is_empty() => SessionPlan {
            resume: Some(Continue {
                cli: resolved.cli.clone(),
                ..c
            }),
            ..plan
        },
        Some(c) if c.cli != resolved.cli => SessionPlan {
            resume: None,
            nothing_to_resume: true,
            ..plan
        },
        _ => plan,
    };
    let caps = adapter.capabilities();
    let mode_ok = match step.mode {
        AgentMode::Headless => caps.headless && (plan.resume.is_none() || caps.resume_headless),
        AgentMode::Interactive => {
            caps.interactive && (plan.resume.is_none() || caps.resume_interactive)
        }
    };
    let session = match (&plan.resume, &plan.reuse_new_id) {
        (Some(c), _) => SessionRequest::Resume { id: c.id.clone() },
        (None, Some(id)) => SessionRequest::New {
            preassigned: Some(id.clone()),
        },
        (None, None) if caps.preassigned_session_id => match agents::new_session_id() {
            Ok(id) => SessionRequest::New {
                preassigned: Some(id),
            },
            Err(err) => {
                return Err(Fatal::new(
                    crate::exit::RUNTIME,
                    format!("cannot create a session id: {err}"),
                ));
            }
        },
        (None, None) => SessionRequest::New { preassigned: None },
    };
    let known_id = match &session {
        SessionRequest::Resume { id } => Some(id.clone()),
        SessionRequest::New { preassigned } => preassigned.clone(),
    };
    d.frame(at.ctx.depth).agent = Some(AgentFrame {
        cli: resolved.cli.clone(),
        strategy: step.session.to_string(),
        session_id: known_id.clone(),
        preassigned: matches!(
            &session,
            SessionRequest::New {
                preassigned: Some(_)
            }
        ),
    });

    let mut start = Map::new();
    start.insert("mode".into(), json!(step.mode.as_str()));
    start.insert("cli".into(), json!(resolved.cli));
    start.insert("model".into(), json!(resolved.model));
    start.insert("effort".into(), json!(resolved.effort.map(|e| e.as_str())));
    start.insert("permissions".into(), json!(resolved.permissions.as_str()));
    start.insert("session_strategy".into(), json!(step.session.to_string()));
    start.insert("session_id".into(), json!(known_id));
    let prompt = d.render(at.ctx, &at.step.id, &step.prompt);
    let workdir = super::leaf::resolve_workdir(d, at.ctx, at.step, step.workdir.as_ref());
    start.insert(
        "prompt".into(),
        json!(prompt.as_deref().unwrap_or(step.prompt.text())),
    );
    let (prompt, workdir) = match (prompt, workdir) {
        (Ok(prompt), Ok(workdir)) if mode_ok => (prompt, workdir),
        (Err(failure), _) | (_, Err(failure)) => {
            d.begin(at, &label, start)?;
            return Ok(Report::failed(failure));
        }
        _ => {
            d.begin(at, &label, start)?;
            let what = if plan.resume.is_some() {
                "resuming a session"
            } else {
                "this mode"
            };
            let message = format!(
                "{} does not support {what} in {} mode",
                resolved.cli,
                step.mode.as_str()
            );
            return Ok(Report::failed(Failure::new(ErrorClass::CliError, message)));
        }
    };
    let workdir = workdir.canonicalize().unwrap_or(workdir);
    let (enrichment, engine_note) = d.enrich(at, &resolved.cli, plan.resume.is_some())?;
    start.insert("enrichment".into(), json!(enrichment));
    let prompt = framing::assemble_prompt(&prompt, enrichment.as_deref());
    // The step_start event written by `begin` below gets this seq; output files are named by it.
    let seq = d.audit.next_seq();
    let stem = output_stem(seq, at.audit_path);
    let output_dir = d.run_dir.output_dir();
    let prompt_file = output_dir.join(format!("{stem}.prompt.md"));
    let prompt = match framing::large_prompt(&prompt, &prompt_file) {
        Some(short) => {
            if let Err(err) = super::files::write_agent_input(&prompt_file, &prompt) {
                d.begin(at, &label, start)?;
                return Ok(Report::failed(Failure::new(
                    ErrorClass::Internal,
                    err.to_string(),
                )));
            }
            short
        }
        None => prompt,
    };
    let root = d.root.clone();
    let framing_facts = framing::Framing {
        step_id: &at.step.id,
        workflow: &root.name,
        description: &root.description,
        profile_prompt: resolved.system_prompt.as_deref(),
    };
    let continuing = plan.resume.is_some();
    let system_text = match step.mode {
        AgentMode::Headless => {
            framing::headless_system_text(&framing_facts, at.resuming && continuing)
        }
        AgentMode::Interactive => {
            let situation = if d.resuming_step {
                framing::Situation::ResumedRun
            } else if continuing {
                framing::Situation::Continuing
            } else {
                framing::Situation::Fresh
            };
            framing::interactive_system_text(&framing_facts, situation, &d.settings.runner_exe)
        }
    };
    d.resuming_step = false;
    let cli_config = config.clis.get(&resolved.cli);
    let binary = agents::resolve_binary(
        &resolved.cli,
        cli_config.and_then(|c| c.binary.as_deref()),
        adapter.default_binary(),
        &|k| std::env::var(k).ok(),
    );
    let invocation = Invocation {
        binary,
        mode: step.mode,
        session,
        prompt,
        system_text,
        model: resolved.model.clone(),
        effort: resolved.effort,
        permissions: resolved.permissions,
        workdir: workdir.clone(),
        run_dir: d.run_dir.path().to_path_buf(),
        extra_args: cli_config
            .and_then(|c| c.extra_args.clone())
            .unwrap_or_default(),
        runner_exe: d.settings.runner_exe.clone(),
        host: HostFacts::detect(),
    };
    let spec = match adapter.build(&invocation) {
        Ok(spec) => spec,
        Err(err) => {
            d.begin(at, &label, start)?;
            return Ok(Report::failed(convert(err.to_failure())));
        }
    };
    let argv: Vec<String> = std::iter::once(spec.program.clone())
        .chain(spec.args.iter().map(|a| {
            if *a == invocation.prompt {
                "<prompt>".to_owned()
            } else {
                a.clone()
            }
        }))
        .collect();
    start.insert("argv".into(), json!(argv));
    d.begin(at, &label, start)?;
    if let Some(note) = engine_note {
        d.console.detail(&note);
    }
    if step.mode == AgentMode::Interactive
        && let Err(err) = crate::pty::check_terminals(at.audit_path)
    {
        return Ok(Report::failed(Failure::new(
            ErrorClass::NoTerminal,
            err.to_string(),
        )));
    }
    if let Some(id) = &known_id {
        let how = match &plan.resume {
            Some(c) => c.how,
            None => "preassigned",
        };
        let note = if continuing {
            "resumed"
        } else if plan.nothing_to_resume {
            "new, nothing to resume"
        } else {
            "new"
        };
        d.console.detail(&format!("session: {id} ({note})"));
        d.audit(
            AuditEvent::Session,
            at.audit_path,
            json!({"cli": resolved.cli, "session_id": id, "how": how}),
        )?;
    }
    let step_env = {
        let mut env = Vec::new();
        for (name, template) in &step.env {
            match d.render(at.ctx, &at.step.id, template) {
                Ok(value) => env.push((name.clone(), value)),
                Err(failure) => return Ok(Report::failed(failure)),
            }
        }
        env
    };
    let mut workflow_env = Vec::new();
    for (name, template) in &at.ctx.workflow.env {
        match d.render(at.ctx, &at.step.id, template) {
            Ok(value) => workflow_env.push((name.clone(), value)),
            Err(failure) => return Ok(Report::failed(failure)),
        }
    }
    let mut layers = EnvLayers {
        workflow: workflow_env,
        cli: cli_config
            .map(|c| c.env.clone().into_iter().collect())
            .unwrap_or_default(),
        step: step_env,
        runner: vec![
            ("AGENT_RUNNER_RUN_ID".into(), d.doc.run_id.clone()),
            (
                "AGENT_RUNNER_RUN_DIR".into(),
                d.run_dir.path().display().to_string(),
            ),
            ("AGENT_RUNNER_STEP".into(), at.audit_path.to_owned()),
        ],
        default_term: step.mode == AgentMode::Interactive,
    };
    let note = NoteSession {
        plan: &plan,
        resolved: &resolved,
        known: known_id,
    };
    match step.mode {
        AgentMode::Headless => {
            let env = agents::child_env(std::env::vars(), &spec, &layers);
            run_headless(d, at, step, adapter, &invocation, spec, env, &stem, note).await
        }
        AgentMode::Interactive => super::interactive::run_agent_relay(
            d,
            at,
            adapter,
            &invocation,
            spec,
            &mut layers,
            &stem,
            note.known.clone(),
        )
        .await
        .map(|(report, session_id)| finish_session(d, at, step, &note, session_id, report)),
    }
}

/// Runs an agent step; in a scope with an engine, a successful step must also pass the engine's
/// `validate_step`. A rejected step fails, or, on a terminal, the user may reopen it as an
/// interactive session that continues the step's conversation until the check passes.
pub async fn run_agent(d: &mut Dispatcher, at: &At<'_>, step: &AgentStep) -> Result<Report, Fatal> {
    let mut report = run_agent_once(d, at, step).await?;
    loop {
        if !matches!(report.end, End::Success) || at.ctx.engine.is_none() {
            return Ok(report);
        }
        let Some(agent) = d.frame(at.ctx.depth).agent.clone() else {
            return Ok(report);
        };
        let continues = agent.strategy != "new";
        let failure = match d.check_step(at, at.step, &agent.cli, continues)? {
            Ok(()) => return Ok(report),
            Err(failure) => failure,
        };
        if !super::reopen::wants_reopen(d, at, &failure) {
            report.end = End::Failed(failure);
            return Ok(report);
        }
        let reopened = super::reopen::reopen_step(at.step, &failure);
        let reopen_at = At {
            step: &reopened,
            resuming: false,
            ..*at
        };
        let StepKind::Agent(reopen_agent) = &reopened.kind else {
            return Ok(report);
        };
        report = run_agent_once(d, &reopen_at, reopen_agent).await?;
    }
}

/// What the end of the step needs to record the session.
struct NoteSession<'a> {
    plan: &'a SessionPlan,
    resolved: &'a Resolved,
    known: Option<String>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "the run's pieces an executor needs are passed explicitly, not bundled"
)]
async fn run_headless(
    d: &mut Dispatcher,
    at: &At<'_>,
    step: &AgentStep,
    adapter: &'static dyn Adapter,
    invocation: &Invocation,
    spec: agents::CommandSpec,
    env: Vec<(String, String)>,
    stem: &str,
    note: NoteSession<'_>,
) -> Result<Report, Fatal> {
    let output_dir = d.run_dir.output_dir();
    let job = super::headless::HeadlessJob {
        program: spec.program.clone(),
        args: spec.args.clone(),
        env,
        workdir: invocation.workdir.clone(),
        stream_file: output_dir.join(format!("{stem}.stream.jsonl")),
        stderr_file: output_dir.join(format!("{stem}.stderr")),
    };
    let text_path = output_dir.join(format!("{stem}.txt"));
    let mut text_file = String::new();
    let mut parser = adapter.parser(invocation);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let process = super::headless::run(job, tx, d.interrupts.clone());
    tokio::pin!(process);
    let mut session_id = note.known.clone();
    let colour = d.console.colour;
    let opts = RenderOptions {
        colour,
        verbose: d.settings.verbose,
    };
    let plain = RenderOptions {
        colour: false,
        verbose: d.settings.verbose,
    };
    let mut handle = |d: &mut Dispatcher,
                      line: Vec<u8>,
                      session_id: &mut Option<String>,
                      text_file: &mut String|
     -> Result<(), Fatal> {
        for event in parser.feed(&line) {
            if let AgentEvent::SessionStarted { id, .. } = &event {
                on_session(d, at, &note, session_id, id)?;
            }
            // `--quiet` keeps the step's output (the stream rendered on stdout) and drops only
            // what goes to stderr.
            for rendered in agents::render::render(&event, opts) {
                match rendered.target {
                    Target::Stdout => crate::console::print_stdout(&format!("{}\n", rendered.text)),
                    Target::Stderr if !d.settings.quiet => {
                        crate::console::eprint_line(&rendered.text)
                    }
                    Target::Stderr => {}
                }
            }
            for rendered in agents::render::render(&event, plain) {
                text_file.push_str(&rendered.text);
                text_file.push('\n');
            }
        }
        Ok(())
    };
    crate::console::spinner::step_started();
    let end = loop {
        tokio::select! {
            Some(line) = rx.recv() => handle(d, line, &mut session_id, &mut text_file)?,
            end = &mut process => {
                while let Ok(line) = rx.try_recv() {
                    handle(d, line, &mut session_id, &mut text_file)?;
                }
                break end;
            }
        }
    };
    crate::console::spinner::step_ended();
    let _ = super::files::write_private(&text_path, &text_file);
    let outputs = json!([
        format!("output/{stem}.stream.jsonl"),
        format!("output/{stem}.txt"),
        format!("output/{stem}.stderr"),
    ]);
    let end = match end {
        Ok(end) => end,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut report = Report::failed(convert(adapter.not_installed()));
            report.data.insert("outputs".into(), outputs);
            return Ok(report);
        }
        Err(err) => {
            let message = format!("cannot run {}: {err}", invocation.binary);
            return Ok(Report::failed(Failure::new(ErrorClass::Internal, message)));
        }
    };
    let Some(status) = end.status else {
        let mut report = Report::new(End::Interrupted);
        report.data.insert("outputs".into(), outputs);
        return Ok(report);
    };
    use std::os::unix::process::ExitStatusExt;
    let exit = ExitInfo {
        code: status.code(),
        signal: status.signal(),
        stderr_tail: end.stderr_tail.clone(),
    };
    let completion = parser.finish(&exit);
    if let Some(id) = &completion.session_id
        && session_id.as_deref() != Some(id)
    {
        on_session(d, at, &note, &mut session_id, id)?;
    }
    let mut report = completion_report(d, at, step, &completion, &end.stderr_tail);
    super::leaf::insert_status(&mut report.data, status);
    report.data.insert("outputs".into(), outputs);
    Ok(finish_session(d, at, step, &note, session_id, report))
}

/// A session id arrived from the stream: record it at once.
fn on_session(
    d: &mut Dispatcher,
    at: &At<'_>,
    note: &NoteSession<'_>,
    current: &mut Option<String>,
    id: &str,
) -> Result<(), Fatal> {
    if current.as_deref() == Some(id) {
        return Ok(());
    }
    if let Some(expected) = current.as_deref() {
        d.warn(
            at.audit_path,
            "session_id_changed",
            &format!(
                "{} reported session {id} instead of {expected}; using {id}",
                note.resolved.cli
            ),
        );
    } else {
        let label = if note.plan.nothing_to_resume {
            "new, nothing to resume"
        } else {
            "new"
        };
        d.console.detail(&format!("session: {id} ({label})"));
    }
    *current = Some(id.to_owned());
    if let Some(agent) = d.frame(at.ctx.depth).agent.as_mut() {
        agent.session_id = Some(id.to_owned());
    }
    d.audit(
        AuditEvent::Session,
        at.audit_path,
        json!({"cli": note.resolved.cli, "session_id": id, "how": "stream"}),
    )?;
    d.save()
}

/// The step's report from the parser's completion: outcome, capture, usage.
fn completion_report(
    d: &mut Dispatcher,
    at: &At<'_>,
    step: &AgentStep,
    completion: &Completion,
    stderr_tail: &str,
) -> Report {
    let mut report = match &completion.failure {
        Some(failure) => {
            if !stderr_tail.is_empty() && !d.settings.verbose {
                let (lines, left_out) = agents::event::without_backtrace(stderr_tail);
                for line in lines {
                    crate::console::eprint_line(&format!("  {line}"));
                }
                if left_out > 0 {
                    crate::console::eprint_line(&format!(
                        "  ({left_out} lines of the CLI's backtrace are in the step's .stderr output file)"
                    ));
                }
            }
            Report::failed(convert(failure.clone()))
        }
        None => Report::new(End::Success),
    };
    if let (Some(name), Some(text)) = (&step.capture, &completion.final_text)
        && let Err(failure) =
            super::leaf::store_capture(d, at, name, text.trim().to_owned(), &mut report.data)
    {
        report.end = End::Failed(failure);
    }
    let usage = completion.usage.unwrap_or_default();
    if completion.usage.is_some() || completion.cost_usd.is_some() {
        d.usage.add(
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.output_tokens,
            completion.cost_usd,
        );
        let mut text = format!(
            "{} in / {} out tokens",
            format::tokens(usage.input_tokens),
            format::tokens(usage.output_tokens)
        );
        if let Some(cost) = completion.cost_usd {
            text.push_str(&format!(", {}", format::cost(cost)));
        }
        report.usage_text = Some(text);
    } else {
        d.usage.add(0, 0, 0, None);
    }
    report.data.insert(
        "usage".into(),
        json!({
            "input_tokens": usage.input_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "cache_creation_tokens": usage.cache_creation_tokens,
            "output_tokens": usage.output_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        }),
    );
    report
        .data
        .insert("cost_usd".into(), json!(completion.cost_usd));
    report
        .data
        .insert("num_turns".into(), json!(completion.num_turns));
    report.data.insert(
        "final_text_bytes".into(),
        json!(completion.final_text.as_ref().map(String::len)),
    );
    report
}

/// After the step: the session becomes the scope's most recent one (and the named session's).
fn finish_session(
    d: &mut Dispatcher,
    at: &At<'_>,
    step: &AgentStep,
    note: &NoteSession<'_>,
    session_id: Option<String>,
    mut report: Report,
) -> Report {
    report.data.insert("session_id".into(), json!(session_id));
    let Some(id) = session_id else {
        return report;
    };
    let model = note.resolved.model.clone();
    let effort = note.resolved.effort.map(|e| e.as_str().to_owned());
    let cli = note.resolved.cli.clone();
    d.scope(at.ctx.scope).last_session = Some(LastSession {
        step_id: at.step.id.clone(),
        cli: cli.clone(),
        session_id: id.clone(),
        model: model.clone(),
        effort: effort.clone(),
    });
    if let SessionStrategy::Named(name) = &step.session {
        d.doc.named_sessions.insert(
            name.clone(),
            NamedSession {
                cli,
                session_id: id,
                model,
                effort,
            },
        );
    }
    report
}

/// An adapter's failure as a step failure.
pub fn convert(failure: agents::Failure) -> Failure {
    let class = ErrorClass::parse(failure.class.as_str()).unwrap_or(ErrorClass::CliError);
    Failure::new(class, failure.message)
}
