//! Run-time rendering of workflow templates.
//!
//! Before Handlebars sees a template it is rewritten: every `{{x}}` becomes a call of a private
//! helper that writes the value verbatim or, in shell contexts, quoted for the position the quote
//! scanner found for it; conditions read the variable by a bracketed path. Handlebars then does
//! the rest (blocks, `\{{`, whitespace control), with the variables as context data. A model's
//! templates are rewritten and parsed once (see `compiled`); [`render`] is for text that is not
//! part of a model.

use super::analyze::syntax_message;
use super::compiled::Compiled;
use super::lex::{Lexed, Piece, Tag, bracketed};
use super::registry::{SHELL_HELPER, VALUE_HELPER, quote_name};
use super::shell::QuoteScanner;
use super::vars::Vars;

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("variable \"{0}\" has no value here (the step that captures it did not run)")]
    NoValue(String),
    /// A dotted path (`review.verdict`) names a field the captured JSON does not have.
    #[error("\"{path}\" has no value: \"{name}\" has no field \"{field}\"")]
    NoField {
        path: String,
        name: String,
        field: String,
    },
    #[error("undefined variable \"{0}\"")]
    Undefined(String),
    #[error("invalid template: {0}")]
    Template(String),
}

/// Renders `text` with `vars`. With `shell`, every `{{x}}` is quoted for the shell position it
/// stands in (workflow-format.md §8.5); otherwise values are written verbatim.
pub fn render(text: &str, vars: &Vars, shell: bool) -> Result<String, RenderError> {
    Compiled::new(text, "template", shell).0.render(text, vars)
}

/// The template with each allowed tag replaced by its helper call; text is kept as written.
pub(crate) fn rewrite(text: &str, lexed: &Lexed<'_>, shell: bool) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut scanner = QuoteScanner::new();
    for piece in &lexed.pieces {
        let (src, tag, tilde) = match piece {
            Piece::Text { src, out: seen } => {
                out.push_str(&text[src.clone()]);
                scanner.feed(seen);
                continue;
            }
            Piece::Tag {
                src, tag, tilde, ..
            } => (src, tag, tilde),
        };
        let body = match tag {
            Tag::Var(name) if shell => {
                let slot = scanner.slot();
                scanner.inserted();
                let quote = quote_name(slot.quote);
                format!(
                    "{SHELL_HELPER} {} \"{quote}\" {}",
                    bracketed(name),
                    slot.escaped
                )
            }
            Tag::Var(name) => format!("{VALUE_HELPER} {}", bracketed(name)),
            Tag::Raw(name) => {
                scanner.inserted();
                format!("raw {}", bracketed(name))
            }
            Tag::Open { helper, name } => format!("#{} {}", helper.as_str(), bracketed(name)),
            Tag::Else => "else".to_owned(),
            Tag::Close(name) => format!("/{name}"),
            // Comments are kept; the rest cannot get here (analysis rejects them).
            Tag::Comment | Tag::Unknown(_) | Tag::Invalid(_) => {
                out.push_str(&text[src.clone()]);
                continue;
            }
        };
        out.push_str(if tilde.0 { "{{~" } else { "{{" });
        out.push_str(&body);
        out.push_str(if tilde.1 { "~}}" } else { "}}" });
    }
    out
}

pub(crate) fn from_handlebars(error: handlebars::RenderError) -> RenderError {
    use handlebars::RenderErrorReason as Reason;
    match error.reason() {
        Reason::NestedError(inner) => {
            if let Some(ours) = inner.downcast_ref::<RenderError>() {
                return ours.clone();
            }
        }
        Reason::MissingVariable(Some(name)) => {
            return RenderError::Undefined(name.trim_matches(['[', ']']).to_owned());
        }
        Reason::TemplateError(template) => return RenderError::Template(syntax_message(template)),
        _ => {}
    }
    RenderError::Template(error.reason().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, Option<&str>)]) -> Vars {
        let mut vars = Vars::new();
        for (name, value) in pairs {
            match value {
                Some(value) => vars.set(*name, *value),
                None => vars.set_unset(*name),
            };
        }
        vars
    }

    fn text(template: &str, pairs: &[(&str, Option<&str>)]) -> Result<String, RenderError> {
        render(template, &vars(pairs), false)
    }

    fn sh(template: &str, value: &str) -> String {
        render(template, &vars(&[("x", Some(value))]), true).unwrap()
    }

    #[test]
    fn renders_values_verbatim() {
        let v = [("x", Some("<it's \"ok\" & $(x)>")), ("y", Some(""))];
        assert_eq!(text("a {{x}} b", &v).unwrap(), "a <it's \"ok\" & $(x)> b");
        assert_eq!(text("{{ x }}|{{{x}}}|{{raw x}}|{{y}}", &v).unwrap(), {
            let x = "<it's \"ok\" & $(x)>";
            format!("{x}|{x}|{x}|")
        });
        assert_eq!(text("no tags", &[]).unwrap(), "no tags");
    }

    #[test]
    fn escapes_and_whitespace_control() {
        let v = [("x", Some("v"))];
        assert_eq!(text(r"\{{x}} {{x}}", &v).unwrap(), "{{x}} v");
        assert_eq!(text(r"\\{{x}}", &v).unwrap(), r"\v");
        assert_eq!(text("a  {{~x~}}  b", &v).unwrap(), "avb");
        assert_eq!(text("a{{! note }}b", &v).unwrap(), "ab");
    }

    #[test]
    fn conditions() {
        let v = [("set", Some("yes")), ("empty", Some("")), ("unset", None)];
        let t = "{{#if set}}A{{else}}B{{/if}}{{#if empty}}C{{else}}D{{/if}}{{#if unset}}E{{else}}F{{/if}}";
        assert_eq!(text(t, &v).unwrap(), "ADF");
        assert_eq!(
            text("{{#unless unset}}none{{/unless}}", &v).unwrap(),
            "none"
        );
        assert_eq!(text("{{#if unset}}{{unset}}{{/if}}ok", &v).unwrap(), "ok");
        assert_eq!(
            text("{{#if set}}{{#unless empty}}{{set}}{{/unless}}{{/if}}", &v).unwrap(),
            "yes"
        );
    }

    #[test]
    fn unset_and_undefined() {
        let v = [("unset", None), ("x", Some("1"))];
        let no_value = RenderError::NoValue("unset".into());
        assert_eq!(text("a {{unset}}", &v), Err(no_value.clone()));
        assert_eq!(text("{{raw unset}}", &v), Err(no_value.clone()));
        assert_eq!(
            text("{{#unless unset}}{{unset}}{{/unless}}", &v),
            Err(no_value.clone())
        );
        assert_eq!(render("{{unset}}", &vars(&v), true), Err(no_value.clone()));
        assert_eq!(
            no_value.to_string(),
            "variable \"unset\" has no value here (the step that captures it did not run)"
        );
        assert_eq!(
            text("{{nope}}", &v),
            Err(RenderError::Undefined("nope".into()))
        );
        assert_eq!(
            text("{{#if x}}{{else}}{{nope}}{{/if}}", &v),
            Err(RenderError::Undefined("nope".into()))
        );
    }

    #[test]
    fn dotted_paths_read_json_fields() {
        let mut v = Vars::new();
        v.set_json(
            "r",
            serde_json::json!({"ok": true, "no": false, "list": ["a b", 2], "obj": {"k": null}}),
        )
        .set("t", "text")
        .set_unset("later");
        let t = "{{r.list.0}}|{{r.list.1}}|{{r.obj}}|{{r.obj.k}}|{{#if r.ok}}Y{{/if}}{{#if r.no}}N{{/if}}{{#if r.gone}}G{{/if}}";
        assert_eq!(render(t, &v, false).unwrap(), r#"a b|2|{"k":null}|null|Y"#);
        assert_eq!(
            render("echo {{r.list}}", &v, true).unwrap(),
            r#"echo '["a b",2]'"#
        );
        assert_eq!(
            render("{{r.gone}}", &v, false),
            Err(RenderError::NoField {
                path: "r.gone".into(),
                name: "r".into(),
                field: "gone".into()
            })
        );
        assert!(matches!(
            render("{{t.x}}", &v, false),
            Err(RenderError::NoField { .. })
        ));
        assert_eq!(
            render("{{later.x}}", &v, false),
            Err(RenderError::NoValue("later".into()))
        );
    }

    #[test]
    fn names_that_look_like_keywords() {
        let v = [
            ("as", Some("1")),
            ("raw", Some("2")),
            ("else_", Some("3")),
            ("a-b", Some("4")),
        ];
        assert_eq!(
            text("{{as}}{{raw raw}}{{else_}}{{#if as}}{{a-b}}{{/if}}", &v).unwrap(),
            "1234"
        );
    }

    #[test]
    fn rejects_what_analysis_rejects() {
        let v = [("x", Some("1")), ("xs", Some("1"))];
        for template in ["{{#each xs}}{{/each}}", "{{x", "{{lookup x 1}}", "{{a..b}}"] {
            assert!(
                matches!(text(template, &v), Err(RenderError::Template(_))),
                "{template}"
            );
        }
        let error = render("echo '{{x}}'", &vars(&v), true).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid template: cannot safely insert {{x}}"),
            "{error}"
        );
    }

    #[test]
    fn shell_quoting_table() {
        let v = "it's \"ok\"";
        assert_eq!(sh("echo {{x}}", v), r#"echo 'it'\''s "ok"'"#);
        assert_eq!(sh("echo \"{{x}}\"", v), r#"echo "it's \"ok\"""#);
        assert_eq!(sh("echo {{raw x}}", v), r#"echo it's "ok""#);
        assert_eq!(sh("echo '{{raw x}}'", v), r#"echo 'it's "ok"'"#);
        assert_eq!(sh("echo {{x}}", ""), "echo ''");
        assert_eq!(sh("echo \"{{x}}\"", ""), "echo \"\"");
        assert_eq!(sh("cp {{x}} b", "src/a-1.txt"), "cp src/a-1.txt b");
        assert_eq!(sh("echo \"$(cat {{x}})\"", "a b"), "echo \"$(cat 'a b')\"");
        assert!(matches!(
            render("echo \"`cat {{x}}`\"", &vars(&[("x", Some("a"))]), true),
            Err(RenderError::Template(m)) if m.contains("backticks")
        ));
        assert_eq!(
            sh("echo \"$x {{x}}\" '{{raw x}}' {{x}}", "$"),
            "echo \"$x \\$\" '$' '$'"
        );
    }

    #[test]
    fn shell_conditions_and_escapes() {
        let v = vars(&[("flag", Some("a b")), ("off", Some("")), ("later", None)]);
        let t = "run {{#if flag}}--name {{flag}}{{/if}}{{#if off}} --off{{/if}}{{#if later}} {{later}}{{/if}}";
        assert_eq!(render(t, &v, true).unwrap(), "run --name 'a b'");
        assert_eq!(
            render(r"echo \\{{flag}}", &v, true).unwrap(),
            "echo \\\n'a b'"
        );
        assert_eq!(
            render(r"echo '\{{flag}}'", &v, true).unwrap(),
            "echo '{{flag}}'"
        );
        assert_eq!(
            render("echo hi # {{flag}}", &v, true).unwrap(),
            "echo hi # 'a b'"
        );
    }

    #[test]
    fn non_shell_does_not_quote() {
        assert_eq!(
            render("echo '{{x}}'", &vars(&[("x", Some("a b"))]), false).unwrap(),
            "echo 'a b'"
        );
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let v = vars(&[("x", Some("v")), ("é", Some("ü"))]);
        // Handlebars' own compile time grows faster than linearly with the number of tags, so
        // the huge case is huge in text, not in tags.
        let huge = format!(
            "{}{}",
            "{{x}} \"$(`".repeat(200),
            "é \\ ' \" }} {".repeat(20_000)
        );
        for template in [
            "{{",
            "}}}}",
            "\\",
            "\\{{",
            "{{é}}",
            "{{{{raw}}}}",
            "{{~}}",
            "{{#if}}",
            &huge,
        ] {
            let _ = render(template, &v, true);
            let _ = render(template, &v, false);
        }
        assert_eq!(render("{{é}}", &v, false).unwrap(), "ü");
    }
}
