//! An agent step starts: the prompt (rendered, enriched by the engine, framed), the invocation
//! the CLI's adapter turns into a command line, the `step_start` event, the known session, and
//! the child's environment. Any failure on the way fails the step after it has started.

use super::super::super::display::output_stem;
use super::super::super::engines;
use super::super::super::error::RunError;
use super::super::super::files::write_agent_input;
use super::super::super::outcome::{ErrorClass, Failure};
use super::super::super::run::{Event, StepCtx};
use super::super::shell::{resolve_workdir, runner_env};
use super::plan::Plan;
use crate::agents::{self, CommandSpec, EnvLayers, HostFacts, Invocation, SchemaArg, framing};
use crate::state::{SessionHow, SessionRecord, StepStart};
use crate::workflow::{AgentMode, AgentStep};

/// A started agent step, ready to run its CLI.
pub struct Launch {
    pub invocation: Invocation,
    pub spec: CommandSpec,
    pub env: EnvLayers,
    /// Output files are named `<stem>.<ext>`.
    pub stem: String,
}

/// Starts the step; `Ok(Err(_))` is a failure of the step (it has started by then).
pub fn start(
    cx: &mut StepCtx<'_, '_>,
    step: &AgentStep,
    plan: &Plan,
) -> Result<Result<Launch, Failure>, RunError> {
    let resolved = &plan.resolved;
    let mut start = StepStart {
        mode: Some(step.mode.as_str().to_owned()),
        cli: Some(resolved.cli.clone()),
        model: Some(resolved.model.clone()),
        effort: Some(resolved.effort),
        permissions: Some(resolved.permissions.as_str().to_owned()),
        session_strategy: Some(step.session.clone()),
        session_id: Some(plan.known_id.clone()),
        ..StepStart::default()
    };
    let prompt = cx.render(&step.prompt);
    let workdir = resolve_workdir(cx, step.workdir.as_ref());
    start.prompt = Some(prompt.as_deref().unwrap_or(step.prompt.text()).to_owned());
    let continuing = plan.session.resume.is_some();
    let (prompt, workdir) = match (prompt, workdir) {
        (Ok(prompt), Ok(workdir)) if plan.mode_ok => (prompt, workdir),
        (Err(failure), _) | (_, Err(failure)) => return failed(cx, plan, start, failure),
        _ => {
            let what = if continuing {
                "resuming a session"
            } else {
                "this mode"
            };
            let message = format!(
                "{} does not support {what} in {} mode",
                resolved.cli,
                step.mode.as_str()
            );
            return failed(cx, plan, start, Failure::new(ErrorClass::CliError, message));
        }
    };
    let workdir = workdir.canonicalize().unwrap_or(workdir);
    let (enrichment, engine_note) = engines::enrich(cx, &resolved.cli, continuing)?;
    start.enrichment = Some(enrichment.clone());
    let prompt = framing::assemble_prompt(&prompt, enrichment.as_deref());
    let prompt = match cx.at.previous_failure.filter(|_| continuing) {
        Some(failure) => framing::retry_prompt(failure.class.as_str(), &failure.message, &prompt),
        None => prompt,
    };
    // The step_start event written below gets this seq; output files are named by it.
    let stem = output_stem(cx.next_seq(), cx.at.audit_path);
    let (prompt, output_schema) = match structured_request(cx, step, plan, prompt, &stem) {
        Ok(request) => request,
        Err(failure) => return failed(cx, plan, start, failure),
    };
    let prompt_file = cx.output_dir().join(format!("{stem}.prompt.md"));
    let prompt = match framing::large_prompt(&prompt, &prompt_file) {
        Some(short) => {
            if let Err(err) = write_agent_input(&prompt_file, &prompt) {
                let failure = Failure::new(ErrorClass::Internal, err.to_string());
                return failed(cx, plan, start, failure);
            }
            short
        }
        None => prompt,
    };
    let root = cx.root();
    let framing_facts = framing::Framing {
        step_id: &cx.at.step.id,
        workflow: &root.name,
        description: &root.description,
        profile_prompt: resolved.system_prompt.as_deref(),
    };
    let resuming_run = cx.take_resuming_step();
    let system_text = match step.mode {
        AgentMode::Headless => {
            framing::headless_system_text(&framing_facts, cx.at.resuming && continuing)
        }
        AgentMode::Interactive => {
            let situation = if resuming_run {
                framing::Situation::ResumedRun
            } else if continuing {
                framing::Situation::Continuing
            } else {
                framing::Situation::Fresh
            };
            framing::interactive_system_text(&framing_facts, situation, &cx.settings().runner_exe)
        }
    };
    let cli_config = plan.config.clis.get(&resolved.cli);
    let binary = agents::resolve_binary(
        &resolved.cli,
        cli_config.and_then(|c| c.binary.as_deref()),
        plan.adapter.default_binary(),
        &|k| std::env::var(k).ok(),
    );
    let mut invocation = Invocation {
        binary,
        mode: step.mode,
        session: plan.request.clone(),
        prompt,
        system_text,
        model: resolved.model.clone(),
        effort: resolved.effort,
        permissions: resolved.permissions,
        workdir,
        run_dir: cx.run_dir().to_path_buf(),
        extra_args: cli_config
            .and_then(|c| c.extra_args.clone())
            .unwrap_or_default(),
        runner_exe: cx.settings().runner_exe.clone(),
        host: HostFacts::detect(),
        max_budget_usd: match step.mode {
            AgentMode::Headless => cx
                .budget()
                .cost_left_at(cx.at.audit_path, cx.at.step.budget()),
            AgentMode::Interactive => None,
        },
        output_schema,
        session_before: None,
    };
    invocation.session_before = invocation
        .resume_id()
        .and_then(|id| cx.budget().session_before(id));
    let spec = match plan.adapter.build(&invocation) {
        Ok(spec) => spec,
        Err(err) => return failed(cx, plan, start, err.to_failure().into()),
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
    start.argv = Some(argv);
    cx.start(&plan.label, start)?;
    if let Some(note) = engine_note {
        cx.emit(Event::Detail(note))?;
    }
    if step.mode == AgentMode::Interactive
        && let Err(err) = crate::pty::check_terminals(cx.at.audit_path)
    {
        return Ok(Err(Failure::new(ErrorClass::NoTerminal, err.to_string())));
    }
    if let Some(id) = &plan.known_id {
        announce_session(cx, plan, id)?;
    }
    let env = match child_env(cx, step, plan) {
        Ok(env) => env,
        Err(failure) => return Ok(Err(failure)),
    };
    Ok(Ok(Launch {
        invocation,
        spec,
        env,
        stem,
    }))
}

/// What a step with `output:` asks of its CLI (control.md §7): the native schema option where
/// the CLI has one (the schema is written to `<stem>.schema.json` for CLIs that read a file), or
/// else a request for one JSON value appended to the prompt.
fn structured_request(
    cx: &StepCtx<'_, '_>,
    step: &AgentStep,
    plan: &Plan,
    prompt: String,
    stem: &str,
) -> Result<(String, Option<SchemaArg>), Failure> {
    let Some(output) = &step.output else {
        return Ok((prompt, None));
    };
    let schema = output.schema.as_ref().map(|s| s.value());
    match schema {
        Some(schema) if plan.adapter.capabilities().output_schema => {
            let json = schema.to_string();
            let file = cx.output_dir().join(format!("{stem}.schema.json"));
            write_agent_input(&file, &json)
                .map_err(|err| Failure::new(ErrorClass::Internal, err.to_string()))?;
            Ok((prompt, Some(SchemaArg { json, file })))
        }
        _ => Ok((
            format!("{prompt}\n\n{}", framing::output_request(schema)),
            None,
        )),
    }
}

/// The step starts and fails at once.
fn failed(
    cx: &mut StepCtx<'_, '_>,
    plan: &Plan,
    start: StepStart,
    failure: Failure,
) -> Result<Result<Launch, Failure>, RunError> {
    cx.start(&plan.label, start)?;
    Ok(Err(failure))
}

/// `session: <id> (resumed|new…)` under the heading, and the `session` event.
fn announce_session(cx: &mut StepCtx<'_, '_>, plan: &Plan, id: &str) -> Result<(), RunError> {
    let how = match &plan.session.resume {
        Some(c) => c.how,
        None => SessionHow::Preassigned,
    };
    let note = if plan.session.resume.is_some() {
        "resumed"
    } else if plan.session.nothing_to_resume {
        "new, nothing to resume"
    } else {
        "new"
    };
    cx.emit(Event::Detail(format!("session: {id} ({note})")))?;
    cx.emit(Event::SessionSeen {
        step: cx.step_ref(),
        record: SessionRecord::new(&plan.resolved.cli, id, how),
        save: false,
    })
}

/// The environment layers of the agent's process: workflow `env` < CLI config `env` < step
/// `env` < the runner's own variables.
fn child_env(
    cx: &mut StepCtx<'_, '_>,
    step: &AgentStep,
    plan: &Plan,
) -> Result<EnvLayers, Failure> {
    let mut step_env = Vec::new();
    for (name, template) in &step.env {
        step_env.push((name.clone(), cx.render(template)?));
    }
    let mut workflow_env = Vec::new();
    for (name, template) in &cx.at.ctx.workflow.env {
        workflow_env.push((name.clone(), cx.render(template)?));
    }
    let cli_config = plan.config.clis.get(&plan.resolved.cli);
    Ok(EnvLayers {
        workflow: workflow_env,
        cli: cli_config
            .map(|c| c.env.clone().into_iter().collect())
            .unwrap_or_default(),
        step: step_env,
        runner: runner_env(cx),
        default_term: step.mode == AgentMode::Interactive,
    })
}
