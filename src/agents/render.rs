//! Console rendering of a headless stream (agents.md §6), shared by the live console and the
//! step's `.txt` output file (which renders with `colour: false`).
//!
//! Rendering is a pure function of one event: the executor prints the lines it returns, stdout
//! for the step's output and stderr for `!` warnings.

use super::event::AgentEvent;

/// Widest tool line, in columns, after the indent.
pub const TOOL_LINE_COLUMNS: usize = 100;

const DIM: &str = "\x1b[2m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    pub colour: bool,
    /// `--verbose`: show reasoning and tool output, dimmed.
    pub verbose: bool,
}

/// Where a rendered line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedLine {
    pub text: String,
    pub target: Target,
}

/// The console lines for one event (often none).
pub fn render(event: &AgentEvent, opts: RenderOptions) -> Vec<RenderedLine> {
    let out = |lines: Vec<String>| {
        lines
            .into_iter()
            .map(|text| RenderedLine {
                text,
                target: Target::Stdout,
            })
            .collect()
    };
    match event {
        AgentEvent::Text { text, sub_agent } => {
            let indent = indent_for(*sub_agent);
            out(text
                .trim_end_matches('\n')
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        style(&format!("{indent}{l}"), *sub_agent, opts)
                    }
                })
                .collect())
        }
        AgentEvent::ToolUse {
            tool,
            summary,
            sub_agent,
        } => {
            let body = if summary.is_empty() {
                format!("› {tool}")
            } else {
                format!("› {tool}: {summary}")
            };
            let body = cut(&body.replace(['\n', '\r'], " "), TOOL_LINE_COLUMNS);
            out(vec![style(
                &format!("{}{body}", indent_for(*sub_agent)),
                *sub_agent,
                opts,
            )])
        }
        AgentEvent::ToolResult {
            ok,
            text,
            sub_agent,
        } => {
            let indent = indent_for(*sub_agent);
            let mut lines = Vec::new();
            if !ok {
                lines.push(style(&format!("{indent}(failed)"), *sub_agent, opts));
            }
            if opts.verbose {
                lines.extend(
                    text.lines()
                        .take(5)
                        .map(|l| dim(&format!("{indent}  {l}"), opts)),
                );
            }
            out(lines)
        }
        AgentEvent::Reasoning { text } if opts.verbose => out(text
            .lines()
            .find(|l| !l.trim().is_empty())
            .map(|l| dim(&format!("  {}", l.trim()), opts))
            .into_iter()
            .collect()),
        AgentEvent::Warning { message } => {
            let text = format!("  ! {message}");
            vec![RenderedLine {
                text: if opts.colour {
                    format!("{YELLOW}{text}{RESET}")
                } else {
                    text
                },
                target: Target::Stderr,
            }]
        }
        AgentEvent::Raw { line } => out(vec![dim(&format!("  {line}"), opts)]),
        _ => Vec::new(),
    }
}

fn indent_for(sub_agent: bool) -> &'static str {
    if sub_agent { "    " } else { "  " }
}

fn style(text: &str, sub_agent: bool, opts: RenderOptions) -> String {
    if sub_agent {
        dim(text, opts)
    } else {
        text.to_string()
    }
}

fn dim(text: &str, opts: RenderOptions) -> String {
    if opts.colour {
        format!("{DIM}{text}{RESET}")
    } else {
        text.to_string()
    }
}

/// Cuts `text` to `columns` characters, the last one `…`.
pub fn cut(text: &str, columns: usize) -> String {
    if text.chars().count() <= columns {
        return text.to_string();
    }
    let mut out: String = text.chars().take(columns.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: RenderOptions = RenderOptions {
        colour: false,
        verbose: false,
    };

    fn texts(event: AgentEvent, opts: RenderOptions) -> Vec<String> {
        render(&event, opts).into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn text_is_indented() {
        let e = AgentEvent::Text {
            text: "Done.\n\nAll good.\n".into(),
            sub_agent: false,
        };
        assert_eq!(texts(e, PLAIN), vec!["  Done.", "", "  All good."]);
        let sub = AgentEvent::Text {
            text: "inner".into(),
            sub_agent: true,
        };
        assert_eq!(texts(sub.clone(), PLAIN), vec!["    inner"]);
        assert_eq!(
            texts(
                sub,
                RenderOptions {
                    colour: true,
                    verbose: false
                }
            ),
            vec!["\x1b[2m    inner\x1b[0m"]
        );
    }

    #[test]
    fn tool_lines_are_cut_at_100_columns() {
        let e = AgentEvent::ToolUse {
            tool: "Bash".into(),
            summary: "cargo test".into(),
            sub_agent: false,
        };
        assert_eq!(texts(e, PLAIN), vec!["  › Bash: cargo test"]);
        let long = AgentEvent::ToolUse {
            tool: "Read".into(),
            summary: "x".repeat(200),
            sub_agent: false,
        };
        let line = &texts(long, PLAIN)[0];
        assert_eq!(line.chars().count(), 2 + 100);
        assert!(line.ends_with("x…"));
    }

    #[test]
    fn failed_results_warnings_and_raw() {
        let ok = AgentEvent::ToolResult {
            ok: true,
            text: "out".into(),
            sub_agent: false,
        };
        assert!(texts(ok.clone(), PLAIN).is_empty());
        assert_eq!(
            texts(
                ok,
                RenderOptions {
                    colour: false,
                    verbose: true
                }
            ),
            vec!["    out"]
        );
        let failed = AgentEvent::ToolResult {
            ok: false,
            text: "boom".into(),
            sub_agent: false,
        };
        assert_eq!(texts(failed, PLAIN), vec!["  (failed)"]);
        let warn = render(
            &AgentEvent::Warning {
                message: "Reconnecting... 2/5".into(),
            },
            RenderOptions {
                colour: true,
                verbose: false,
            },
        );
        assert_eq!(
            warn,
            vec![RenderedLine {
                text: "\x1b[33m  ! Reconnecting... 2/5\x1b[0m".into(),
                target: Target::Stderr
            }]
        );
        assert_eq!(
            texts(
                AgentEvent::Raw {
                    line: "not json".into()
                },
                PLAIN
            ),
            vec!["  not json"]
        );
        assert!(texts(AgentEvent::Reasoning { text: "hmm".into() }, PLAIN).is_empty());
        assert_eq!(
            texts(
                AgentEvent::Reasoning {
                    text: "\nhmm\nmore".into()
                },
                RenderOptions {
                    colour: false,
                    verbose: true
                }
            ),
            vec!["  hmm"]
        );
    }
}
