//! Load-time analysis of one template field: which variables it uses, and what is wrong with it.
//!
//! The loader calls [`analyze`] on every template field of every step, so the common cases are
//! cheap: text without `{{` returns at once, and ordinary templates are checked by the
//! hand-written lexer alone. Handlebars' own parser runs only when the lexer meets something it
//! cannot vouch for, so that syntax errors carry Handlebars' message (workflow-format.md §15).

use super::lex::{Lexed, Piece, Tag, has_tag, lex};
use super::shell::{Quote, QuoteScanner};

/// What [`analyze`] found in one template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Every variable referenced, in order of appearance (duplicates allowed).
    pub vars: Vec<VarUse>,
    /// Problems found; each is already a complete message as in workflow-format.md §15.
    pub issues: Vec<TemplateIssue>,
}

/// One reference to a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarUse {
    /// The variable: `review` for `{{review.verdict}}`.
    pub name: String,
    /// The dotted path after the name (`verdict`), for a field of a JSON capture; `None` for a
    /// plain name.
    pub field: Option<String>,
    /// Byte offset of the `{{` that references it, inside the template text.
    pub offset: usize,
    /// True when the reference is only a condition of `{{#if}}`/`{{#unless}}`.
    pub in_condition: bool,
}

/// One problem in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateIssue {
    /// `template-syntax`, `unknown-helper`, `single-quoted-var` or `unsafe-shell-context`.
    pub code: &'static str,
    /// The exact message of workflow-format.md §15, including the field name.
    pub message: String,
    /// Byte offset inside the template text, when known.
    pub offset: Option<usize>,
}

impl TemplateIssue {
    fn syntax(field: &str, detail: &str, offset: Option<usize>) -> Self {
        TemplateIssue {
            code: "template-syntax",
            message: format!("invalid template in \"{field}\": {detail}"),
            offset,
        }
    }
}

/// Analyses one template field. `field` is the key name used in messages (`prompt`, `command`,
/// `skip_if`, `loop.over`, …). `shell` is true for `command` and `skip_if: sh:`, whose
/// placeholders are shell-quoted (workflow-format.md §8.5).
pub fn analyze(text: &str, field: &str, shell: bool) -> Analysis {
    if !has_tag(text) {
        return Analysis::default();
    }
    analyze_lexed(text, &lex(text), field, shell)
}

/// [`analyze`] for a template that is already lexed (rendering lexes once for both uses).
pub(crate) fn analyze_lexed(text: &str, lexed: &Lexed<'_>, field: &str, shell: bool) -> Analysis {
    let mut analysis = Analysis::default();
    let mut problems = Vec::new();
    let mut malformed = lexed.suspicious;
    for piece in &lexed.pieces {
        let Piece::Tag { src, tag, .. } = piece else {
            continue;
        };
        let offset = src.start;
        match tag {
            Tag::Var(name) | Tag::Raw(name) => analysis.vars.push(var_use(name, offset, false)),
            Tag::Open { name, .. } => analysis.vars.push(var_use(name, offset, true)),
            Tag::Unknown(helper) => problems.push(TemplateIssue {
                code: "unknown-helper",
                message: format!(
                    "unknown template helper \"{helper}\" in \"{field}\"; workflows may use raw, if, unless and else"
                ),
                offset: Some(offset),
            }),
            Tag::Invalid(_) => malformed = true,
            Tag::Else | Tag::Close(_) | Tag::Comment => {}
        }
    }
    let structure = check_blocks(lexed);
    if malformed || structure.is_some() {
        // Handlebars' message wins when it rejects the template; otherwise ours explains why
        // workflows do not accept what Handlebars would.
        if let Some(issue) = handlebars_syntax(text, field) {
            analysis.issues.push(issue);
            return analysis;
        }
        if let Some((detail, offset)) = first_invalid(lexed).or(structure) {
            problems.push(TemplateIssue::syntax(field, &detail, Some(offset)));
        }
    }
    if shell {
        problems.extend(unsafe_positions(lexed, field));
    }
    problems.sort_by_key(|issue| issue.offset);
    analysis.issues = problems;
    analysis
}

fn var_use(name: &str, offset: usize, in_condition: bool) -> VarUse {
    let (name, field) = match name.split_once('.') {
        Some((root, field)) => (root, Some(field.to_owned())),
        None => (name, None),
    };
    VarUse {
        name: name.to_owned(),
        field,
        offset,
        in_condition,
    }
}

fn first_invalid(lexed: &Lexed<'_>) -> Option<(String, usize)> {
    lexed.pieces.iter().find_map(|piece| match piece {
        Piece::Tag {
            src,
            tag: Tag::Invalid(detail),
            ..
        } => Some((detail.clone(), src.start)),
        _ => None,
    })
}

/// Checks that blocks nest and close properly, with at most one `{{else}}` each.
pub(crate) fn check_blocks(lexed: &Lexed<'_>) -> Option<(String, usize)> {
    // (helper, offset of its opening tag, seen else)
    let mut open: Vec<(&str, usize, bool)> = Vec::new();
    for piece in &lexed.pieces {
        let Piece::Tag {
            src, tag, opens, ..
        } = piece
        else {
            continue;
        };
        if let Some(helper) = opens {
            open.push((helper, src.start, false));
            continue;
        }
        match tag {
            Tag::Else => match open.last_mut() {
                Some((_, _, seen @ false)) => *seen = true,
                Some((helper, _, true)) => {
                    return Some((
                        format!("second {{{{else}}}} in {{{{#{helper}}}}}"),
                        src.start,
                    ));
                }
                None => {
                    return Some((
                        "{{else}} outside {{#if}} or {{#unless}}".to_owned(),
                        src.start,
                    ));
                }
            },
            Tag::Close(name) => match open.pop() {
                Some((helper, _, _)) if helper == *name => {}
                Some((helper, _, _)) => {
                    let detail =
                        format!("helper \"{helper}\" was opened, but \"{name}\" is closing");
                    return Some((detail, src.start));
                }
                None => return Some((format!("{{{{/{name}}}}} closes nothing"), src.start)),
            },
            _ => {}
        }
    }
    open.pop()
        .map(|(helper, offset, _)| (format!("{{{{#{helper}}}}} is never closed"), offset))
}

/// Runs Handlebars' parser and turns its complaint, if any, into a `template-syntax` issue.
fn handlebars_syntax(text: &str, field: &str) -> Option<TemplateIssue> {
    let error = handlebars::Template::compile(text).err()?;
    let offset = error
        .pos()
        .map(|(line, column)| line_column_offset(text, line, column));
    Some(TemplateIssue::syntax(
        field,
        &syntax_message(&error),
        offset,
    ))
}

/// Handlebars' reason, on one line (pest's messages can span several). The position is not
/// repeated here: it is the issue's offset, which the loader turns into a file line and column.
pub(crate) fn syntax_message(error: &handlebars::TemplateError) -> String {
    let reason = error.reason().to_string();
    reason.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Byte offset of a 1-based line and (character) column, clamped to the text.
fn line_column_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start = text
        .match_indices('\n')
        .nth(line.saturating_sub(2))
        .map_or(0, |(i, _)| if line <= 1 { 0 } else { i + 1 });
    let rest = &text[line_start..];
    line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

/// At most this many quoting issues are reported per template (a huge template of bad
/// placeholders must not build a message for each).
const MAX_QUOTING_ISSUES: usize = 100;

/// `single-quoted-var` and `unsafe-shell-context` issues: placeholders that stand where no
/// quoting keeps a value inert.
fn unsafe_positions(lexed: &Lexed<'_>, field: &str) -> Vec<TemplateIssue> {
    let mut scanner = QuoteScanner::new();
    let mut issues = Vec::new();
    for piece in &lexed.pieces {
        if issues.len() >= MAX_QUOTING_ISSUES {
            break;
        }
        match piece {
            Piece::Text { out, .. } => scanner.feed(out),
            Piece::Tag {
                src,
                tag: Tag::Var(name),
                ..
            } => {
                match scanner.slot().quote {
                    Quote::Single => issues.push(TemplateIssue {
                        code: "single-quoted-var",
                        message: format!(
                            "cannot safely insert {{{{{name}}}}} inside single quotes in \"{field}\"; put it outside the quotes (it is quoted for you) or write {{{{raw {name}}}}}"
                        ),
                        offset: Some(src.start),
                    }),
                    Quote::Unsafe(place) => issues.push(TemplateIssue {
                        code: "unsafe-shell-context",
                        message: format!(
                            "cannot safely insert {{{{{name}}}}} {} in \"{field}\": no quoting keeps a value from running as code there; read it from the environment instead (\"$AR_{}\", and check it first where it must be a number or a name), or write {{{{raw {name}}}}} if the value really is code",
                            place.describe(),
                            name.to_ascii_uppercase()
                        ),
                        offset: Some(src.start),
                    }),
                    _ => {}
                }
                scanner.inserted();
            }
            Piece::Tag {
                tag: Tag::Raw(_), ..
            } => scanner.inserted(),
            Piece::Tag { .. } => {}
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str, shell: bool) -> Vec<&'static str> {
        analyze(text, "command", shell)
            .issues
            .iter()
            .map(|i| i.code)
            .collect()
    }

    fn messages(text: &str, field: &str, shell: bool) -> Vec<String> {
        analyze(text, field, shell)
            .issues
            .into_iter()
            .map(|i| i.message)
            .collect()
    }

    #[test]
    fn plain_text_is_empty() {
        assert_eq!(
            analyze("no placeholders here {", "prompt", false),
            Analysis::default()
        );
    }

    #[test]
    fn lists_vars_with_offsets() {
        let a = analyze(
            "Hi {{name}}, {{#if x}}{{ raw y }}{{else}}{{{z}}}{{/if}} {{name}}",
            "prompt",
            false,
        );
        assert!(a.issues.is_empty(), "{:?}", a.issues);
        let got: Vec<_> = a
            .vars
            .iter()
            .map(|v| (v.name.as_str(), v.offset, v.in_condition))
            .collect();
        assert_eq!(
            got,
            vec![
                ("name", 3, false),
                ("x", 13, true),
                ("y", 22, false),
                ("z", 41, false),
                ("name", 56, false)
            ]
        );
    }

    #[test]
    fn escaped_braces_are_not_vars() {
        let a = analyze(r"literal \{{name}} here", "prompt", false);
        assert!(a.vars.is_empty());
        assert!(a.issues.is_empty());
    }

    #[test]
    fn unknown_helpers() {
        let cases = [
            ("{{#each xs}}{{this}}{{/each}}", "each"),
            ("{{#with a}}{{/with}}", "with"),
            ("{{lookup a b}}", "lookup"),
            ("{{#if (eq a \"b\")}}x{{/if}}", "eq"),
            ("{{a..b}}", "a..b"),
            ("{{this}}", "this"),
            ("{{@index}}", "@index"),
            ("{{> partial}}", ">partial"),
            ("{{log x}}", "log"),
            ("{{raw \"text\"}}", "\"text\""),
            ("{{raw 5}}", "5"),
        ];
        for (text, helper) in cases {
            let issues = analyze(text, "prompt", false).issues;
            assert!(
                issues.iter().all(|i| i.code == "unknown-helper"),
                "{text}: {issues:?}"
            );
            assert_eq!(
                issues[0].message,
                format!(
                    "unknown template helper \"{helper}\" in \"prompt\"; workflows may use raw, if, unless and else"
                ),
                "{text}"
            );
            assert_eq!(issues[0].offset, Some(0), "{text}");
        }
    }

    #[test]
    fn syntax_errors_come_from_handlebars() {
        for text in [
            "{{name",
            "{{#if x}}open",
            "{{#if x}}a{{/unless}}",
            "a {{}} b",
            "{{x}",
            "{{/if}}",
        ] {
            let issues = analyze(text, "prompt", false).issues;
            assert_eq!(issues.len(), 1, "{text}: {issues:?}");
            assert_eq!(issues[0].code, "template-syntax", "{text}");
            assert!(
                issues[0]
                    .message
                    .starts_with("invalid template in \"prompt\": "),
                "{text}"
            );
            assert!(!issues[0].message.contains('\n'), "{text}");
            assert!(issues[0].offset.is_some(), "{text}");
        }
        let issues = analyze("line1\n  {{#if a}}{{else}}{{else}}{{/if}}", "prompt", false).issues;
        assert_eq!(issues[0].offset, Some(27));
    }

    #[test]
    fn structure_errors_handlebars_accepts() {
        let m = messages("{{#if a}}x{{else}}y{{else}}z{{/if}}", "prompt", false);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with("invalid template in \"prompt\": "),
            "{m:?}"
        );
        assert_eq!(codes("{{raw}}", false), vec!["template-syntax"]);
        assert_eq!(codes("{{if x}}", false), vec!["template-syntax"]);
    }

    #[test]
    fn single_quoted_vars() {
        let m = messages("echo '{{x}}'", "command", true);
        assert_eq!(
            m,
            vec![
                "cannot safely insert {{x}} inside single quotes in \"command\"; put it outside the quotes (it is quoted for you) or write {{raw x}}"
            ]
        );
        assert_eq!(codes("echo $'a {{x}}'", true), vec!["single-quoted-var"]);
        assert_eq!(codes("echo '{{raw x}}'", true), Vec::<&str>::new());
        assert_eq!(codes("echo '{{x}}'", false), Vec::<&str>::new());
        assert_eq!(codes("echo \"'{{x}}'\"", true), Vec::<&str>::new());
        assert_eq!(codes("echo '$(' {{x}}", true), Vec::<&str>::new());
        assert_eq!(
            codes("echo \"$(echo '{{x}}')\"", true),
            vec!["single-quoted-var"]
        );
        let a = analyze("a '{{x}}' {{y}} '{{z}}'", "skip_if", true);
        let offsets: Vec<_> = a.issues.iter().map(|i| i.offset).collect();
        assert_eq!(offsets, vec![Some(3), Some(17)]);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let huge = "{{x}} '".repeat(10_000);
        for text in [
            "{{",
            "}}}}",
            "\\",
            "{{\\}}",
            "é{{é}}é'{{ü}}",
            "{{{{",
            "{{~x~}}",
            "\n{{#if\n",
            &huge,
        ] {
            let _ = analyze(text, "command", true);
            let _ = analyze(text, "prompt", false);
        }
    }

    #[test]
    fn line_column_offsets() {
        assert_eq!(line_column_offset("ab\ncd", 1, 2), 1);
        assert_eq!(line_column_offset("ab\ncd", 2, 1), 3);
        assert_eq!(line_column_offset("ab\ncd", 9, 9), 5);
    }

    #[test]
    fn rough_timing() {
        let plain = "Review PLAN.md critically. Reply with a numbered list of problems.";
        let ordinary =
            "Work with me on {{topic}} in {{session_dir}}; {{#if notes}}notes: {{notes}}{{/if}}";
        let command = "cargo test -p {{crate}} -- \"{{filter}}\" $(cat {{file}})";
        let start = std::time::Instant::now();
        for _ in 0..1000 {
            std::hint::black_box(analyze(plain, "prompt", false));
            std::hint::black_box(analyze(ordinary, "prompt", false));
            std::hint::black_box(analyze(command, "command", true));
        }
        eprintln!("3000 analyses: {:?}", start.elapsed());
    }
}
