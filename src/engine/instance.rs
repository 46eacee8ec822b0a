//! [`Engine`]: an engine attached to a workflow scope, and its hooks.
//!
//! Attaching fills the options, renders the `vars` and runs the `checks` (engines.md §2). Each
//! hook then goes through the same stages: `needs` (data from the cache or freshly run), `when`,
//! `run`, `let`, and finally the hook's own template (`template`, `error` or `path`). Whatever
//! happens, a hook returns a [`HookResult`]: the [`HookOutcome`] the runtime acts on, and a
//! [`HookRecord`] with the fields of the `engine` audit event (runs-and-state.md §7). Failures
//! never escape as errors: a failing command, bad JSON, a timeout or a template that cannot be
//! rendered all become an outcome, following the hook's failure rule.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use handlebars::{Handlebars, RenderErrorReason};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::command::{self, Finished};
use super::context::{EngineContext, StepInfo};
use super::error::EngineError;
use super::helpers::{self, normalize};
use super::spec::{CachePolicy, EngineSpec, HookDecl, HookKind, OnError, OutputKind};
use super::templates::syntax_message;
use crate::interpolate::shell_quote;

/// An attached engine: its spec, the filled options and vars, and the data cache.
pub struct Engine {
    spec: EngineSpec,
    registry: Handlebars<'static>,
    ctx: EngineContext,
    params: Map<String, Value>,
    options: Map<String, Value>,
    vars: Map<String, Value>,
    /// Successful results of `cache: engine` data commands.
    cache: HashMap<String, Value>,
}

/// What a hook decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome<T = ()> {
    /// The hook ran and passed; `enrich_prompt` and `state_dir` carry their value.
    Ok(T),
    /// The engine has no such hook, `when` said no, or (with `on_error: skip`) a command failed.
    Skipped,
    /// A `validate_*` hook rendered a non-empty `error`, or failed with `on_error: fail`.
    Rejected(String),
    /// `enrich_prompt` or `state_dir` failed: no enrichment, or the default run location.
    Error(String),
}

/// The data of one `engine` audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookRecord {
    pub engine: String,
    pub hook: &'static str,
    /// `ok`, `skipped`, `rejected` or `error`.
    pub outcome: &'static str,
    /// The last command the hook ran (its own `run`, or a data command), when it ran one.
    pub argv: Option<Vec<String>>,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub message: Option<String>,
}

impl HookRecord {
    /// The `data` object of the audit event (its [`crate::state::EngineRecord`]), fields in the
    /// documented order.
    pub fn to_json(&self) -> Value {
        crate::state::AuditData::Engine(self.clone().into()).to_value()
    }
}

/// A hook's outcome and its audit record. `record` is `None` only when the engine does not
/// define the hook (nothing ran, nothing to log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookResult<T = ()> {
    pub outcome: HookOutcome<T>,
    pub record: Option<HookRecord>,
}

/// How far a hook got.
enum Stage {
    NotDefined,
    /// `when` rendered empty or `false`.
    NotApplicable,
    /// The result template, rendered (not trimmed).
    Rendered(String),
    /// A command or a template failed; `stderr` is set for command failures.
    Failed {
        reason: String,
        stderr: Option<String>,
    },
}

/// The last command a hook ran, for the audit record.
#[derive(Default)]
struct Trace {
    argv: Option<Vec<String>>,
    exit_code: Option<i32>,
}

/// A failure inside a hook, before the hook's rule decides what it means.
struct Failure {
    reason: String,
    stderr: Option<String>,
}

impl Failure {
    fn template(field: &str, reason: String) -> Failure {
        Failure {
            reason: format!("cannot render \"{field}\": {reason}"),
            stderr: None,
        }
    }
}

impl Engine {
    /// Attaches `spec` to a scope: fills the option defaults, renders the vars, runs the checks.
    /// A failed check, a var that cannot be rendered, or options that do not fit are errors.
    /// Warnings (a `requires` binary not on `PATH`) come back with the engine, as console lines
    /// without the `agent-runner: warning: ` prefix.
    pub fn attach(
        spec: EngineSpec,
        options: &[(String, String)],
        params: &BTreeMap<String, String>,
        ctx: EngineContext,
    ) -> Result<(Engine, Vec<String>), EngineError> {
        let options = fill_options(&spec, options)?;
        let mut engine = Engine {
            registry: helpers::registry(&ctx.project_dir),
            params: params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
            options,
            vars: Map::new(),
            cache: HashMap::new(),
            ctx,
            spec,
        };
        for (name, template) in engine.spec.vars.clone() {
            let value = engine
                .render(&template, &engine.base_context(None))
                .map_err(|message| EngineError::Var {
                    engine: engine.spec.name.clone(),
                    var: name.clone(),
                    message,
                })?;
            engine.vars.insert(name, Value::String(value));
        }
        let mut failed = Vec::new();
        for (i, template) in engine.spec.checks.iter().enumerate() {
            match engine.render(template, &engine.base_context(None)) {
                Ok(text) if text.trim().is_empty() => {}
                Ok(text) => failed.push(text.trim().to_owned()),
                Err(message) => failed.push(format!("cannot render checks[{i}]: {message}")),
            }
        }
        if !failed.is_empty() {
            return Err(EngineError::Check {
                engine: engine.spec.name.clone(),
                message: failed.join("; "),
            });
        }
        let warnings = engine
            .spec
            .requires
            .iter()
            .filter(|bin| !on_path(bin, &engine.ctx.env))
            .map(|bin| format!("engine {}: \"{bin}\" is not on PATH", engine.spec.name))
            .collect();
        Ok((engine, warnings))
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn spec(&self) -> &EngineSpec {
        &self.spec
    }

    /// The rendered `vars`, by name.
    pub fn vars(&self) -> &Map<String, Value> {
        &self.vars
    }

    /// Tells the engine where the run dir is (`run.dir` in templates), once it exists.
    pub fn set_run_dir(&mut self, dir: PathBuf) {
        self.ctx.run_dir = Some(dir);
    }

    /// Once per scope start (not during `--validate` or `--dry-run`). `Rejected(message)` at run
    /// start is `engine <name> rejected workflow "<w>": <message>` and exit 3; at sub-workflow
    /// entry the step fails with class `engine_rejected`.
    pub fn validate_workflow(&mut self) -> HookResult {
        self.validate(HookKind::ValidateWorkflow, None)
    }

    /// Before every agent step in a scope that uses the engine. `Ok(Some(text))` is the block to
    /// add to the prompt after a blank line (trimmed, never empty); `Error(reason)` means no
    /// enrichment (console: `engine <name>: no extra context for this step (<reason>)`). The
    /// hook's `on_error` does not apply here: any failure is `Error` (engines.md §2, Failures).
    pub fn enrich_prompt(&mut self, step: &StepInfo) -> HookResult<Option<String>> {
        let started = Instant::now();
        let (stage, trace) = self.run_hook(HookKind::EnrichPrompt, Some(step));
        let outcome = match stage {
            Stage::NotDefined => return not_defined(),
            Stage::NotApplicable => HookOutcome::Skipped,
            Stage::Rendered(text) => {
                let text = text.trim();
                HookOutcome::Ok((!text.is_empty()).then(|| text.to_owned()))
            }
            Stage::Failed { reason, .. } => HookOutcome::Error(reason),
        };
        self.finish(HookKind::EnrichPrompt, outcome, trace, started)
    }

    /// After an agent step succeeds. `Rejected(message)` triggers engines.md §4.
    pub fn validate_step(&mut self, step: &StepInfo) -> HookResult {
        self.validate(HookKind::ValidateStep, Some(step))
    }

    /// Once at run start. `Ok(Some(dir))` is the rendered path made absolute against the project
    /// dir (the run relocates only if it exists); `Ok(None)` when it rendered empty.
    pub fn state_dir(&mut self) -> HookResult<Option<PathBuf>> {
        let started = Instant::now();
        let (stage, trace) = self.run_hook(HookKind::StateDir, None);
        let outcome = match stage {
            Stage::NotDefined => return not_defined(),
            Stage::NotApplicable => HookOutcome::Skipped,
            Stage::Rendered(text) => {
                let text = text.trim();
                HookOutcome::Ok(
                    (!text.is_empty()).then(|| normalize(&self.ctx.project_dir.join(text))),
                )
            }
            Stage::Failed { reason, .. } => HookOutcome::Error(reason),
        };
        self.finish(HookKind::StateDir, outcome, trace, started)
    }

    fn validate(&mut self, kind: HookKind, step: Option<&StepInfo>) -> HookResult {
        let started = Instant::now();
        let on_error = self.spec.hook(kind).map(|h| h.on_error).unwrap_or_default();
        let (stage, trace) = self.run_hook(kind, step);
        let outcome = match stage {
            Stage::NotDefined => return not_defined(),
            Stage::NotApplicable => HookOutcome::Skipped,
            Stage::Rendered(text) if text.trim().is_empty() => HookOutcome::Ok(()),
            Stage::Rendered(text) => HookOutcome::Rejected(text.trim().to_owned()),
            Stage::Failed { reason, stderr } => match on_error {
                // Not applicable, but the reason is worth keeping in the audit log.
                OnError::Skip => {
                    let record = self.record(kind, "skipped", Some(reason), trace, started);
                    return HookResult {
                        outcome: HookOutcome::Skipped,
                        record: Some(record),
                    };
                }
                OnError::Fail => HookOutcome::Rejected(
                    stderr
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .unwrap_or(reason),
                ),
            },
        };
        self.finish(kind, outcome, trace, started)
    }

    fn finish<T>(
        &self,
        kind: HookKind,
        outcome: HookOutcome<T>,
        trace: Trace,
        started: Instant,
    ) -> HookResult<T> {
        let (name, message) = match &outcome {
            HookOutcome::Ok(_) => ("ok", None),
            HookOutcome::Skipped => ("skipped", None),
            HookOutcome::Rejected(m) => ("rejected", Some(m.clone())),
            HookOutcome::Error(m) => ("error", Some(m.clone())),
        };
        let record = self.record(kind, name, message, trace, started);
        HookResult {
            outcome,
            record: Some(record),
        }
    }

    fn record(
        &self,
        kind: HookKind,
        outcome: &'static str,
        message: Option<String>,
        trace: Trace,
        started: Instant,
    ) -> HookRecord {
        HookRecord {
            engine: self.spec.name.clone(),
            hook: kind.as_str(),
            outcome,
            argv: trace.argv,
            exit_code: trace.exit_code,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            message,
        }
    }

    /// The stages of a hook, up to its rendered result.
    fn run_hook(&mut self, kind: HookKind, step: Option<&StepInfo>) -> (Stage, Trace) {
        let Some(hook) = self.spec.hook(kind).cloned() else {
            return (Stage::NotDefined, Trace::default());
        };
        let mut trace = Trace::default();
        let stage = match self.hook_stages(&hook, step, &mut trace) {
            Ok(Some(text)) => Stage::Rendered(text),
            Ok(None) => Stage::NotApplicable,
            Err(failure) => Stage::Failed {
                reason: failure.reason,
                stderr: failure.stderr,
            },
        };
        (stage, trace)
    }

    /// `needs` → `when` → `run` → `let` → result. `Ok(None)` when `when` says no.
    fn hook_stages(
        &mut self,
        hook: &HookDecl,
        step: Option<&StepInfo>,
        trace: &mut Trace,
    ) -> Result<Option<String>, Failure> {
        let mut context = self.base_context(step);
        let mut data = Map::new();
        for name in &hook.needs {
            let value = self.data(name, &context, trace)?;
            data.insert(name.clone(), value);
        }
        context.insert("data".to_owned(), Value::Object(data));
        if let Some(when) = &hook.when {
            let text = self
                .render(when, &context)
                .map_err(|e| Failure::template("when", e))?;
            let text = text.trim();
            if text.is_empty() || text == "false" {
                return Ok(None);
            }
        }
        if let Some(run) = &hook.run {
            let output = self.command(run, hook.output, &context, trace, "run")?;
            context.insert("output".to_owned(), output);
        }
        context.insert("let".to_owned(), Value::Object(Map::new()));
        for (name, template) in &hook.lets {
            let value = self
                .render(template, &context)
                .map_err(|e| Failure::template(&format!("let.{name}"), e))?;
            if let Some(Value::Object(lets)) = context.get_mut("let") {
                lets.insert(name.clone(), Value::String(value));
            }
        }
        let key = hook.kind.result_key();
        self.render(&hook.result, &context)
            .map(Some)
            .map_err(|e| Failure::template(key, e))
    }

    /// The value of data command `name`, from the cache or by running it.
    fn data(
        &mut self,
        name: &str,
        context: &Map<String, Value>,
        trace: &mut Trace,
    ) -> Result<Value, Failure> {
        if let Some(value) = self.cache.get(name) {
            return Ok(value.clone());
        }
        let Some(decl) = self.spec.data(name).cloned() else {
            return Err(Failure {
                reason: format!("data \"{name}\" is not declared"),
                stderr: None,
            });
        };
        let value = self
            .command(
                &decl.run,
                decl.output,
                context,
                trace,
                &format!("data.{name}.run"),
            )
            .map_err(|f| Failure {
                reason: format!("data \"{name}\": {}", f.reason),
                stderr: f.stderr,
            })?;
        if decl.cache == CachePolicy::Engine {
            self.cache.insert(name.to_owned(), value.clone());
        }
        Ok(value)
    }

    /// Renders `argv`, runs it, and reads its stdout as `output` says.
    fn command(
        &self,
        argv: &[String],
        output: OutputKind,
        context: &Map<String, Value>,
        trace: &mut Trace,
        field: &str,
    ) -> Result<Value, Failure> {
        let mut rendered = Vec::with_capacity(argv.len());
        for (i, template) in argv.iter().enumerate() {
            let arg = self
                .render(template, context)
                .map_err(|e| Failure::template(&format!("{field}[{i}]"), e))?;
            rendered.push(arg);
        }
        trace.argv = Some(rendered.clone());
        trace.exit_code = None;
        let shown: Vec<String> = rendered.iter().map(|a| shell_quote(a)).collect();
        let shown = shown.join(" ");
        let finished = command::run(
            &rendered,
            &self.ctx.project_dir,
            &self.ctx.env,
            self.ctx.timeout,
        )
        .map_err(|reason| Failure {
            reason,
            stderr: None,
        })?;
        trace.exit_code = finished.exit_code;
        if !finished.success() {
            return Err(command_failure(&shown, &finished, self.ctx.timeout));
        }
        match output {
            OutputKind::Text => Ok(Value::String(finished.stdout.trim().to_owned())),
            OutputKind::Json => serde_json::from_str(&finished.stdout).map_err(|e| Failure {
                reason: format!("{shown} printed output that is not valid JSON ({e})"),
                stderr: Some(finished.stderr),
            }),
        }
    }

    /// `params`, `options`, `vars`, `workflow`, `run`, `project_dir`, and `step` when given.
    fn base_context(&self, step: Option<&StepInfo>) -> Map<String, Value> {
        let mut context = Map::new();
        context.insert("params".to_owned(), Value::Object(self.params.clone()));
        context.insert("options".to_owned(), Value::Object(self.options.clone()));
        context.insert("vars".to_owned(), Value::Object(self.vars.clone()));
        context.insert("workflow".to_owned(), to_value(&self.ctx.workflow));
        let run_dir = self
            .ctx
            .run_dir
            .as_deref()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        context.insert(
            "run".to_owned(),
            json!({"id": self.ctx.run_id, "dir": run_dir}),
        );
        context.insert(
            "project_dir".to_owned(),
            Value::String(self.ctx.project_dir.display().to_string()),
        );
        if let Some(step) = step {
            context.insert("step".to_owned(), to_value(step));
        }
        context
    }

    fn render(&self, template: &str, context: &Map<String, Value>) -> Result<String, String> {
        self.registry
            .render_template(template, context)
            .map_err(|e| render_message(&e))
    }
}

fn not_defined<T>() -> HookResult<T> {
    HookResult {
        outcome: HookOutcome::Skipped,
        record: None,
    }
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The options of the workflow's `engine:` block, checked and completed with the defaults.
/// Declared options that are neither set nor defaulted are empty strings.
fn fill_options(
    spec: &EngineSpec,
    given: &[(String, String)],
) -> Result<Map<String, Value>, EngineError> {
    if let Some((key, _)) = given.iter().find(|(k, _)| spec.option(k).is_none()) {
        return Err(EngineError::Option(format!(
            "engine \"{}\" has no option \"{key}\"",
            spec.name
        )));
    }
    let mut options = Map::new();
    for decl in &spec.options {
        let value = match given.iter().rev().find(|(k, _)| *k == decl.name) {
            Some((_, v)) => v.clone(),
            None => match &decl.default {
                Some(default) => default.clone(),
                None if decl.required => {
                    return Err(EngineError::Option(format!(
                        "engine \"{}\" needs option \"{}\"",
                        spec.name, decl.name
                    )));
                }
                None => String::new(),
            },
        };
        options.insert(decl.name.clone(), Value::String(value));
    }
    Ok(options)
}

/// A command that ran but failed: its exit status or the time limit, and the first line of
/// stderr. `shown` is the command as a shell would read it.
fn command_failure(shown: &str, finished: &Finished, timeout: std::time::Duration) -> Failure {
    let what = if finished.timed_out {
        format!("timed out after {} s", timeout.as_secs_f64())
    } else {
        match finished.exit_code {
            Some(code) => format!("failed with exit status {code}"),
            None => "was killed by a signal".to_owned(),
        }
    };
    let detail = finished
        .stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| format!(": {}", truncate(l, 200)))
        .unwrap_or_default();
    Failure {
        reason: format!("{shown} {what}{detail}"),
        stderr: Some(finished.stderr.clone()),
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// A render error as a short reason.
fn render_message(err: &handlebars::RenderError) -> String {
    match err.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => format!("\"{path}\" is not defined"),
        RenderErrorReason::MissingVariable(None) => "a value is not defined".to_owned(),
        RenderErrorReason::TemplateError(t) => syntax_message(t),
        RenderErrorReason::Other(message) => message.clone(),
        other => other.to_string(),
    }
}

/// True when `bin` is a path to a file, or an executable file in a `PATH` dir (the `PATH` of
/// `env` when it sets one).
fn on_path(bin: &str, env: &[(String, String)]) -> bool {
    if bin.contains('/') {
        return Path::new(bin).is_file();
    }
    let path = match env.iter().rev().find(|(k, _)| k == "PATH") {
        Some((_, path)) => std::ffi::OsString::from(path),
        None => match std::env::var_os("PATH") {
            Some(path) => path,
            None => return false,
        },
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(bin)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
