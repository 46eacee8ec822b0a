//! `--dry-run`: load, validate and resolve everything, then print the plan (cli.md §7).
//!
//! Nothing is executed: no steps, no `skip_if` commands, no engine hooks, no preflight. Globs are
//! expanded (that only reads the file system). Values only known at run time (captures, the run
//! id, the run dir) appear as `{{name}}`, and a field of a JSON capture as `{{review.verdict}}`.
//! The branches of a parallel step are laid out by [`branches`].

mod branches;

use std::sync::Arc;

use serde_json::{Value, json};

use super::error::RunError;
use super::labels::agent_label;
use super::params::Bound;
use super::steps::agent::settings::{Layers, Recorded, Resolved};
use super::subflow::Loader;
use crate::config::Config;
use crate::exit;
use crate::interpolate::{VarValue, Vars, shell_quote};
use crate::state::Redactor;
use crate::workflow::{
    AgentStep, BreakIf, LoopKind, LoopMax, LoopStep, Parallel, Step, StepKind, Template, Workflow,
};

/// Longest prompt excerpt shown in a plan line.
const PROMPT_EXCERPT: usize = 60;

pub fn print(
    loader: &mut Loader,
    workflow: &Arc<Workflow>,
    bound: &[(String, Bound)],
    json: bool,
) -> Result<i32, RunError> {
    let config = loader.config();
    let mut builtins = Vars::new();
    for name in ["run_id", "session_dir"] {
        placeholder(&mut builtins, name);
    }
    builtins.set("workflow_name", &workflow.name);
    builtins.set("step_id", "");
    let mut params = Vec::new();
    for (name, value) in bound {
        let value = match value {
            Bound::Given(value) => value.clone(),
            Bound::Default(template) => template
                .render(&builtins)
                .unwrap_or_else(|_| template.text().to_owned()),
            Bound::Empty => String::new(),
        };
        params.push((name.clone(), value));
    }
    let secret = |name: &str| workflow.params.iter().any(|p| p.name == name && p.secret);
    // The plan is printed through the console, which hides every value this redactor knows,
    // including the secret params of the sub-workflows the plan expands.
    let redactor = super::secrets::install_redactor(
        params.iter().filter(|(k, _)| secret(k)).map(|(_, v)| v),
        &config,
    )?;
    let mut plan = Plan {
        loader,
        redactor,
        config: &config,
        lines: Vec::new(),
        depth_guard: 0,
    };
    let steps = plan.steps(workflow, &workflow.steps, &params, 0);
    let shown_params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if secret(k) {
                    crate::state::REDACTED.to_owned()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    if json {
        let doc = json!({
            "format_version": 1,
            "workflow": {"name": workflow.name, "source": workflow.source.to_string()},
            "params": Value::Object(shown_params.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
            "steps": steps,
        });
        crate::console::print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ));
        return Ok(exit::SUCCESS);
    }
    let mut out = format!(
        "agent-runner: dry run of workflow \"{}\" ({}); nothing is executed\n",
        workflow.name, workflow.source
    );
    let list: Vec<String> = shown_params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    out.push_str(&format!("params: {}\n", list.join(", ")));
    for line in &plan.lines {
        out.push_str(line);
        out.push('\n');
    }
    crate::console::print_stdout(&out);
    Ok(exit::SUCCESS)
}

struct Plan<'a> {
    loader: &'a mut Loader,
    redactor: Redactor,
    config: &'a Config,
    lines: Vec<String>,
    depth_guard: usize,
}

impl Plan<'_> {
    fn steps(
        &mut self,
        workflow: &Arc<Workflow>,
        steps: &[Step],
        params: &[(String, String)],
        depth: usize,
    ) -> Value {
        let mut out = Vec::new();
        for step in steps {
            let vars = self.vars(workflow, step, params);
            let (label, detail) = self.describe(workflow, step, &vars);
            self.lines.push(format!(
                "{}{}  {label}  {detail}",
                "  ".repeat(depth),
                step.id
            ));
            let via = self.via(workflow, step, &vars);
            if let Some(words) = &via {
                let words: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
                let shown = self.redactor.redact(&words.join(" ")).into_owned();
                self.lines
                    .push(format!("{}  via: {shown}", "  ".repeat(depth)));
            }
            // A condition is shown as written: it is decided only when the run reaches it.
            if let Some(when) = &step.when {
                self.lines
                    .push(format!("{}  when: {}", "  ".repeat(depth), when.text()));
            }
            if let Some(BreakIf::When(condition)) = &step.break_if {
                self.lines.push(format!(
                    "{}  break_if: {}",
                    "  ".repeat(depth),
                    condition.text()
                ));
            }
            let children = match &step.kind {
                StepKind::Group(children) if step.parallel.is_some() => {
                    let bodies: Vec<&[Step]> = children.iter().map(std::slice::from_ref).collect();
                    self.branches(workflow, &bodies, params, depth + 1)
                }
                StepKind::Group(children) => self.steps(workflow, children, params, depth + 1),
                StepKind::Loop(looped) if is_parallel(looped) => {
                    self.branches(workflow, &[&looped.steps], params, depth + 1)
                }
                StepKind::Loop(looped) => self.steps(workflow, &looped.steps, params, depth + 1),
                StepKind::SubWorkflow(call)
                    if call.workflow.is_static() && self.depth_guard < 32 =>
                {
                    match self.loader.load_sub(call.workflow.text(), &workflow.source) {
                        Ok(child) => {
                            let mut child_params = Vec::new();
                            for (name, template) in &call.params {
                                child_params.push((name.clone(), render(template, &vars)));
                            }
                            let bound = super::subflow::bind_params(
                                &child,
                                child_params,
                                "{{run_id}}",
                                "{{session_dir}}",
                            )
                            .unwrap_or_default();
                            let secrets = super::secrets::secret_values(&child, &bound);
                            if self.redactor.add_secrets(secrets).is_err() {
                                // A value the regex engine cannot take: show nothing of it.
                                return json!([]);
                            }
                            let bound: Vec<_> = bound.into_iter().collect();
                            self.depth_guard += 1;
                            let value = self.steps(&child, &child.steps, &bound, depth + 1);
                            self.depth_guard -= 1;
                            value
                        }
                        Err(_) => json!([]),
                    }
                }
                _ => json!([]),
            };
            let mut entry = json!({"id": step.id, "kind": super::run::step::kind_name(step), "label": label, "detail": detail, "steps": children});
            if let Some(fields) = entry.as_object_mut() {
                if let Some(when) = &step.when {
                    fields.insert("when".to_owned(), json!(when.text()));
                }
                if let Some(parallel) = &step.parallel {
                    fields.insert(
                        "parallel".to_owned(),
                        json!({"max": parallel.max, "fail_fast": parallel.fail_fast}),
                    );
                }
                if step.worktree {
                    fields.insert("worktree".to_owned(), json!(true));
                }
                if let Some(words) = via {
                    let shown: Vec<String> = words
                        .iter()
                        .map(|w| self.redactor.redact(w).into_owned())
                        .collect();
                    fields.insert("launcher".to_owned(), json!(shown));
                }
            }
            if let (Some(BreakIf::When(condition)), Some(fields)) =
                (&step.break_if, entry.as_object_mut())
            {
                fields.insert("break_if".to_owned(), json!(condition.text()));
            }
            out.push(entry);
        }
        Value::Array(out)
    }

    /// The branches of a parallel step (a group's children one by one, or a loop's body as
    /// one), laid out side by side or marked (see [`branches::layout`]).
    fn branches(
        &mut self,
        workflow: &Arc<Workflow>,
        bodies: &[&[Step]],
        params: &[(String, String)],
        depth: usize,
    ) -> Value {
        let outer = std::mem::take(&mut self.lines);
        let mut blocks = Vec::new();
        let mut values = Vec::new();
        for body in bodies {
            if let Value::Array(value) = self.steps(workflow, body, params, 0) {
                values.extend(value);
            }
            blocks.push(std::mem::take(&mut self.lines));
        }
        self.lines = outer;
        self.lines
            .extend(branches::layout(&blocks, &"  ".repeat(depth)));
        Value::Array(values)
    }

    fn vars(&self, workflow: &Workflow, step: &Step, params: &[(String, String)]) -> Vars {
        let mut vars = Vars::new();
        for name in ["run_id", "session_dir"] {
            placeholder(&mut vars, name);
        }
        vars.set("workflow_name", &workflow.name);
        vars.set("step_id", &step.id);
        for (name, value) in params {
            vars.set(name, value);
        }
        for other in workflow.walk() {
            let capture = match &other.kind {
                StepKind::Shell(s) => s.capture.as_ref().map(|c| c.name.clone()),
                StepKind::Agent(a) => a.capture.clone(),
                StepKind::Loop(l) => {
                    if let LoopKind::ForEach { var, .. } = &l.kind {
                        placeholder(&mut vars, var);
                    }
                    if let Some(index) = &l.as_index {
                        placeholder(&mut vars, index);
                    }
                    None
                }
                _ => None,
            };
            if let Some(name) = capture {
                placeholder(&mut vars, &name);
            }
        }
        vars
    }

    /// An agent step's CLI, model and profile settings, as a run would resolve them.
    fn resolve(
        &self,
        workflow: &Workflow,
        agent: &AgentStep,
        vars: &Vars,
    ) -> Result<Resolved, String> {
        let layers = Layers {
            step: agent,
            workflow,
            config: self.config,
            decl: workflow.session_decl(&agent.session),
            recorded: None::<&Recorded>,
        };
        layers.resolve(&mut |t: &Template| Ok(render(t, vars)))
    }

    /// The words of the launcher a shell or agent step runs through (docs/launchers.md),
    /// rendered, or `None` when it runs here.
    fn via(&self, workflow: &Workflow, step: &Step, vars: &Vars) -> Option<Vec<String>> {
        let profile = match &step.kind {
            StepKind::Agent(agent) => self
                .resolve(workflow, agent, vars)
                .ok()
                .and_then(|r| r.launcher),
            StepKind::Shell(_) => None,
            _ => return None,
        };
        let launcher = super::launch::chosen(step, profile.as_ref(), workflow, self.config)?;
        Some(launcher.argv.iter().map(|w| render(w, vars)).collect())
    }

    fn describe(&mut self, workflow: &Workflow, step: &Step, vars: &Vars) -> (String, String) {
        match &step.kind {
            StepKind::Shell(shell) => {
                let label = if shell.interactive {
                    "interactive shell"
                } else {
                    "shell"
                };
                (label.to_owned(), first_line(&render(&shell.command, vars)))
            }
            StepKind::Agent(agent) => {
                let resolved = self.resolve(workflow, agent, vars);
                let label = match &resolved {
                    Ok(r) => agent_label(agent, &r.cli, r.model.as_deref()),
                    Err(_) => agent_label(agent, "?", None),
                };
                let prompt = render(&agent.prompt, vars);
                let first = prompt.lines().next().unwrap_or_default();
                let detail = if first.chars().count() > PROMPT_EXCERPT {
                    format!(
                        "{}…",
                        first.chars().take(PROMPT_EXCERPT).collect::<String>()
                    )
                } else {
                    first.to_owned()
                };
                (label, detail)
            }
            StepKind::Group(children) => match &step.parallel {
                Some(parallel) => (
                    "parallel group".to_owned(),
                    group_detail(children.len(), parallel, step.worktree),
                ),
                None => ("group".to_owned(), String::new()),
            },
            StepKind::SubWorkflow(call) => {
                let value = render(&call.workflow, vars);
                let detail = match self.loader.load_sub(&value, &workflow.source) {
                    Ok(child) => format!("{} ({})", child.name, child.source),
                    Err(_) => value,
                };
                ("sub-workflow".to_owned(), detail)
            }
            StepKind::Loop(looped) => {
                let (label, detail) = match &looped.kind {
                    LoopKind::Counted { max } => {
                        (format!("loop x{}", loop_max(max, vars)), String::new())
                    }
                    LoopKind::ForEach { over, .. } => {
                        let pattern = render(over, vars);
                        let project = self.loader.project().dir.clone();
                        let count = super::glob::expand(&pattern, &project)
                            .map(|m| m.len())
                            .unwrap_or(0);
                        (format!("for-each {count} matches"), pattern)
                    }
                };
                match looped.max_parallel.as_ref().filter(|_| is_parallel(looped)) {
                    Some(max) => {
                        let at_once = format!("{label}, at most {} at once", loop_max(max, vars));
                        (with_worktrees(at_once, step.worktree), detail)
                    }
                    None => (label, detail),
                }
            }
        }
    }
}

/// A loop whose iterations run as branches: `max_parallel` other than 1.
fn is_parallel(looped: &LoopStep) -> bool {
    !matches!(looped.max_parallel, None | Some(LoopMax::Fixed(1)))
}

fn loop_max(max: &LoopMax, vars: &Vars) -> String {
    match max {
        LoopMax::Fixed(n) => n.to_string(),
        LoopMax::Template(t) => render(t, vars),
    }
}

/// `3 branches, at most 2 at once, no fail-fast, in worktrees`.
fn group_detail(branches: usize, parallel: &Parallel, worktree: bool) -> String {
    let mut detail = match parallel.max {
        Some(max) if (max as usize) < branches => {
            format!("{branches} branches, at most {max} at once")
        }
        _ => format!("{branches} branches, all at once"),
    };
    if !parallel.fail_fast {
        detail.push_str(", no fail-fast");
    }
    with_worktrees(detail, worktree)
}

fn with_worktrees(text: String, worktree: bool) -> String {
    if worktree {
        format!("{text}, in worktrees")
    } else {
        text
    }
}

fn render(template: &Template, vars: &Vars) -> String {
    let fields = field_placeholders(template, vars);
    let rendered = if fields.is_empty() {
        template.render(vars)
    } else {
        let mut vars = vars.clone();
        for (name, value) in fields {
            vars.set_json(name, value);
        }
        template.render(&vars)
    };
    rendered.unwrap_or_else(|_| template.text().to_owned())
}

/// The fields a template reads of captures only known at run time (`{{review.verdict}}`), as
/// one JSON placeholder per capture whose fields show as `{{review.verdict}}`.
fn field_placeholders(template: &Template, vars: &Vars) -> Vec<(String, Value)> {
    if template.is_static() {
        return Vec::new();
    }
    let mut objects: Vec<(String, Value)> = Vec::new();
    let uses = crate::interpolate::analyze(template.text(), "template", template.is_shell()).vars;
    for var in uses {
        let Some(field) = &var.field else { continue };
        let shown = format!("{{{{{}}}}}", var.name);
        if !matches!(vars.get(&var.name), Some(VarValue::Set(v)) if *v == shown) {
            continue;
        }
        let at = match objects.iter().position(|(n, _)| *n == var.name) {
            Some(at) => at,
            None => {
                objects.push((var.name.clone(), json!({})));
                objects.len() - 1
            }
        };
        let mut node = &mut objects[at].1;
        let parts: Vec<&str> = field.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Some(map) = node.as_object_mut() else {
                break;
            };
            let leaf = i + 1 == parts.len();
            node = map.entry((*part).to_owned()).or_insert_with(|| {
                if leaf {
                    json!(format!("{{{{{}.{field}}}}}", var.name))
                } else {
                    json!({})
                }
            });
        }
    }
    objects
}

/// A value only known at run time shows as `{{name}}`.
fn placeholder(vars: &mut Vars, name: &str) {
    vars.set(name, format!("{{{{{name}}}}}"));
}

/// A plan line stays one line: a multi-line command shows its first line and `…`.
fn first_line(text: &str) -> String {
    let text = text.trim();
    match text.split_once('\n') {
        Some((first, _)) => format!("{} …", first.trim_end()),
        None => text.to_owned(),
    }
}
