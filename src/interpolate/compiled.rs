//! A template analysed once and rendered many times.
//!
//! The loader analyses every template field ([`Compiled::new`] returns that analysis); the model
//! keeps the result: which variables the template uses, whether it is valid, whether it is a
//! shell template. A render then looks up just those variables (the caller's [`Lookup`], no copy
//! of every capture) and hands Handlebars the template rewritten into helper calls, which is made
//! at the first render and kept (not at load, so `--validate` never pays for it).
//!
//! Handlebars' parse of the rewritten text is not kept: it takes about ten times the memory of
//! the text (some 0.7 MiB more peak RSS over a 1000-step run, against a target of 8 MiB), and a
//! step renders each of its templates once per run, or once per loop iteration.

use std::sync::OnceLock;

use handlebars::{Context, RenderContext, Renderable, StringOutput};
use rustc_hash::FxHashSet;
use serde_json::{Map, Value};

use super::analyze::{Analysis, analyze, syntax_message};
use super::lex::lex;
use super::registry::WORKFLOW_REGISTRY;
use super::render::{RenderError, from_handlebars, rewrite};
use super::vars::{VarValue, Vars};

/// The value of one variable, as a render sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarRef<'a> {
    Set(&'a str),
    /// A JSON capture: its fields can be read with a dotted path.
    Json(&'a Value),
    /// A known capture that has no value yet: false in `{{#if}}`, an error anywhere else.
    Unset,
}

/// Where a render finds its variables; `None` for a name that does not exist.
pub trait Lookup {
    fn lookup(&self, name: &str) -> Option<VarRef<'_>>;
}

impl Lookup for Vars {
    fn lookup(&self, name: &str) -> Option<VarRef<'_>> {
        self.get(name).map(|value| match value {
            VarValue::Set(text) => VarRef::Set(text),
            VarValue::Json(value) => VarRef::Json(value),
            VarValue::Unset => VarRef::Unset,
        })
    }
}

/// What rendering needs to know about one template, from its analysis.
#[derive(Debug)]
pub struct Compiled {
    shell: bool,
    /// No `{{`: the template renders as its text.
    is_static: bool,
    /// The analysis found a problem, so every render fails.
    faulty: bool,
    /// Each variable the template uses, once, in order of first use.
    names: Box<[Box<str>]>,
    /// The template rewritten into helper calls, made at the first render.
    rewritten: OnceLock<Box<str>>,
}

impl Compiled {
    /// Analyses `text`. `field` names the template in the analysis' messages; `shell` is true for
    /// `command` and `skip_if: sh:`, whose placeholders are shell-quoted.
    pub fn new(text: &str, field: &str, shell: bool) -> (Compiled, Analysis) {
        let analysis = analyze(text, field, shell);
        // A set, not a search of the list: one template may use thousands of names.
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        let names: Vec<Box<str>> = analysis
            .vars
            .iter()
            .filter(|var| seen.insert(&var.name))
            .map(|var| var.name.as_str().into())
            .collect();
        let compiled = Compiled {
            shell,
            is_static: !text.contains("{{"),
            faulty: !analysis.issues.is_empty(),
            names: names.into_boxed_slice(),
            rewritten: OnceLock::new(),
        };
        (compiled, analysis)
    }

    /// True when rendering cannot change the text (no `{{`): the model need not keep this.
    pub fn is_static(&self) -> bool {
        self.is_static
    }

    /// Renders `text` (the text this was compiled from) with the variables of `vars`.
    pub fn render(&self, text: &str, vars: &dyn Lookup) -> Result<String, RenderError> {
        if self.is_static {
            // Without `{{` there are no tags and no escapes: Handlebars would copy the text.
            return Ok(text.to_owned());
        }
        if self.faulty {
            return Err(run_time_issue(text, self.shell));
        }
        // Checked up front, in every branch, so a typo fails the same way whatever the conditions.
        let mut data = Map::with_capacity(self.names.len());
        for name in &self.names {
            let value = match vars.lookup(name) {
                None => return Err(RenderError::Undefined(name.to_string())),
                Some(VarRef::Set(text)) => Value::String(text.to_owned()),
                Some(VarRef::Json(value)) => value.clone(),
                // Left out of the data: false in `{{#if}}`, `NoValue` where it is written.
                Some(VarRef::Unset) => continue,
            };
            data.insert(name.to_string(), value);
        }
        let rewritten = self
            .rewritten
            .get_or_init(|| rewrite(text, &lex(text), self.shell).into_boxed_str());
        let template = handlebars::Template::compile(rewritten)
            .map_err(|err| RenderError::Template(syntax_message(&err)))?;
        let context = Context::from(Value::Object(data));
        let mut render_context = RenderContext::new(None);
        let mut out = StringOutput::new();
        template
            .render(&WORKFLOW_REGISTRY, &context, &mut render_context, &mut out)
            .map_err(from_handlebars)?;
        out.into_string()
            .map_err(|err| RenderError::Template(err.to_string()))
    }
}

/// The error of a template the analysis rejected, worded as a render has always worded it.
fn run_time_issue(text: &str, shell: bool) -> RenderError {
    let message = analyze(text, "template", shell)
        .issues
        .into_iter()
        .next()
        .map_or_else(|| "invalid template".to_owned(), |issue| issue.message);
    RenderError::Template(message)
}
