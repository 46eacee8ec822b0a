//! Load-time checks of engine templates: syntax, helper names, the variables a template may use
//! where it stands, and `data.<name>` uses that the hook does not list in `needs`.
//!
//! Each template is compiled with Handlebars and its syntax tree walked. Inside `each` and `with`
//! the context changes (`this`, `../x`, field names of the items), so variable checks stop at
//! those blocks; helper names are checked everywhere.

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};

use super::helpers::HELPER_NAMES;
use crate::workflow::fields::{Sink, Target};
use crate::workflow::suggest::did_you_mean;

/// Where a template stands: the top-level names it may use, and the data its hook needs.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub roots: &'a [&'a str],
    /// `Some` inside a hook: `data.<name>` must be one of these.
    pub needs: Option<&'a [String]>,
}

/// Checks one template; findings go to `sink` at `path` (a YAML path) under the name `field`.
pub fn check(text: &str, field: &str, scope: Scope<'_>, path: &str, sink: &mut Sink) {
    let template = match Template::compile(text) {
        Ok(template) => template,
        Err(err) => {
            sink.error(
                "engine-template",
                format!("invalid template in \"{field}\": {}", syntax_message(&err)),
                path,
                Target::Value,
            );
            return;
        }
    };
    let mut walker = Walker {
        field,
        scope,
        path,
        sink,
    };
    walker.template(&template, 0);
}

/// Handlebars' reason on one line, with the position inside the template when known. Pest's
/// list of expected tokens says nothing to a reader, so it is replaced by a plain phrase.
pub fn syntax_message(err: &handlebars::TemplateError) -> String {
    let reason = match err.reason() {
        handlebars::TemplateErrorReason::InvalidSyntax(_) => {
            "invalid syntax (an unclosed block or tag, or a stray \"{{\"?)".to_owned()
        }
        other => other
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    match err.pos() {
        Some((line, column)) => format!("{reason} at line {line}, column {column} of the template"),
        None => reason,
    }
}

struct Walker<'a, 's> {
    field: &'a str,
    scope: Scope<'a>,
    path: &'a str,
    sink: &'s mut Sink,
}

impl Walker<'_, '_> {
    /// `depth` counts enclosing blocks that change the context (`each`, `with`).
    fn template(&mut self, template: &Template, depth: usize) {
        for element in &template.elements {
            match element {
                TemplateElement::Expression(ht) | TemplateElement::HtmlExpression(ht) => {
                    self.expression(ht, depth);
                }
                TemplateElement::HelperBlock(ht) => {
                    let name = ht.name.as_name().unwrap_or_default();
                    self.helper(name);
                    self.params(ht, depth);
                    let inner = if matches!(name, "each" | "with") {
                        depth + 1
                    } else {
                        depth
                    };
                    if let Some(t) = &ht.template {
                        self.template(t, inner);
                    }
                    if let Some(t) = &ht.inverse {
                        self.template(t, depth);
                    }
                }
                TemplateElement::DecoratorExpression(_)
                | TemplateElement::DecoratorBlock(_)
                | TemplateElement::PartialExpression(_)
                | TemplateElement::PartialBlock(_) => self.error(
                    "engine-template",
                    format!(
                        "invalid template in \"{}\": partials and decorators are not supported",
                        self.field
                    ),
                ),
                _ => {}
            }
        }
    }

    /// `{{x}}` (a value) or `{{helper a b}}` (a call).
    fn expression(&mut self, ht: &HelperTemplate, depth: usize) {
        let call = !ht.params.is_empty() || !ht.hash.is_empty();
        match &ht.name {
            Parameter::Subexpression(_) => self.param(&ht.name, depth),
            name if call => {
                self.helper(name.as_name().unwrap_or_default());
                self.params(ht, depth);
            }
            Parameter::Name(name) if HELPER_NAMES.contains(&name.as_str()) => {}
            other => self.param(other, depth),
        }
    }

    fn params(&mut self, ht: &HelperTemplate, depth: usize) {
        for param in ht.params.iter().chain(ht.hash.values()) {
            self.param(param, depth);
        }
    }

    fn param(&mut self, param: &Parameter, depth: usize) {
        match param {
            Parameter::Name(name) => self.variable(name, depth),
            Parameter::Path(path) => {
                if let Some(raw) = param.as_name()
                    && matches!(path, handlebars::Path::Relative(_))
                {
                    self.variable(raw, depth);
                }
            }
            Parameter::Subexpression(sub) => {
                if let TemplateElement::Expression(ht) = sub.as_element() {
                    self.helper(ht.name.as_name().unwrap_or_default());
                    self.params(ht, depth);
                }
            }
            _ => {}
        }
    }

    fn helper(&mut self, name: &str) {
        if HELPER_NAMES.contains(&name) {
            return;
        }
        let hint = did_you_mean(name, HELPER_NAMES.iter().copied());
        self.error(
            "engine-helper",
            format!(
                "unknown template helper \"{name}\"{hint} in \"{}\"; available: {}",
                self.field,
                HELPER_NAMES.join(", ")
            ),
        );
    }

    /// A path used as a value: its first segment must be a name known here.
    fn variable(&mut self, raw: &str, depth: usize) {
        if depth > 0 {
            return;
        }
        let mut segments = raw.split(['.', '/']).map(|s| s.trim_matches(['[', ']']));
        let Some(root) = segments.next() else {
            return;
        };
        if root.is_empty() || root == "this" || root.starts_with('@') {
            return;
        }
        if !self.scope.roots.contains(&root) {
            let hint = did_you_mean(root, self.scope.roots.iter().copied());
            self.error(
                "engine-variable",
                format!(
                    "unknown variable \"{root}\"{hint} in \"{}\"; known here: {}",
                    self.field,
                    self.scope.roots.join(", ")
                ),
            );
            return;
        }
        if root == "data"
            && let (Some(needs), Some(name)) = (self.scope.needs, segments.next())
            && !needs.iter().any(|n| n == name)
        {
            self.error(
                "engine-needs",
                format!(
                    "\"{}\" uses data \"{name}\", which the hook does not list in \"needs\"",
                    self.field
                ),
            );
        }
    }

    fn error(&mut self, code: &'static str, message: String) {
        self.sink.error(code, message, self.path, Target::Value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str, roots: &[&str], needs: Option<&[String]>) -> Vec<String> {
        let mut sink = Sink::default();
        check(text, "error", Scope { roots, needs }, "x", &mut sink);
        sink.findings
            .iter()
            .map(|f| format!("{}: {}", f.diagnostic.code, f.diagnostic.message))
            .collect()
    }

    #[test]
    fn accepts_the_helper_set_and_nested_contexts() {
        let needs = vec!["status".to_owned()];
        let text = r#"{{#with (difference (pluck data.status.artifacts "id") workflow.ids)}}{{#if (len this)}}{{join this ", "}}{{/if}}{{/with}}{{#each data.status.artifacts}}{{id}}{{../step.id}}{{/each}}{{trim (default step.x "y")}}"#;
        assert_eq!(
            codes(text, &["data", "workflow", "step"], Some(&needs)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn reports_syntax_helpers_variables_and_needs() {
        let needs: Vec<String> = Vec::new();
        assert_eq!(
            codes("{{#if x}}", &["x"], None),
            [
                "engine-template: invalid template in \"error\": invalid syntax (an unclosed \
              block or tag, or a stray \"{{\"?) at line 1, column 10 of the template"
            ]
        );
        assert_eq!(
            codes("{{uppercase step.id}}", &["step"], None),
            [format!(
                "engine-helper: unknown template helper \"uppercase\" in \"error\"; available: {}",
                HELPER_NAMES.join(", ")
            )]
        );
        assert_eq!(
            codes(
                "{{stpe.id}} {{#if (eq step.id outptu)}}{{/if}}",
                &["step", "output"],
                None
            ),
            [
                "engine-variable: unknown variable \"stpe\" (did you mean \"step\"?) in \"error\"; known here: step, output",
                "engine-variable: unknown variable \"outptu\" (did you mean \"output\"?) in \"error\"; known here: step, output",
            ]
        );
        assert_eq!(
            codes("{{data.status.x}}", &["data"], Some(&needs)),
            [
                "engine-needs: \"error\" uses data \"status\", which the hook does not list in \"needs\""
            ]
        );
        assert_eq!(
            codes("{{#if x}}{{/each}}", &["x"], None),
            [
                "engine-template: invalid template in \"error\": helper \"if\" was opened, but \"each\" is closing at line 1, column 10 of the template"
            ]
        );
        assert_eq!(
            codes("{{> part}}", &[], None),
            [
                "engine-template: invalid template in \"error\": partials and decorators are not supported"
            ]
        );
    }
}
