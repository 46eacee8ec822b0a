//! The lines a run prints on stderr while it executes (cli.md §6): headings, details, the end
//! line of each step. Colour only when stderr is a terminal and `NO_COLOR` is unset
//! (`CLICOLOR_FORCE=1` forces it). `--quiet` hides headings and successes but never failures.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::IsTerminal;
use std::time::Duration;

use super::{eprint_line, format};

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

#[derive(Debug, Clone, Default)]
pub struct Console {
    pub colour: bool,
    pub quiet: bool,
    /// `--simulate`: every step heading ends with ` (stub)`.
    pub stub: bool,
    /// `[label] ` before every line of a parallel branch (control.md §8), painted already.
    pub prefix: String,
    /// Lines kept back by [`Console::hold`], in order, until [`Console::release`].
    held: RefCell<Option<Vec<String>>>,
}

impl Console {
    /// A console for stderr with the colour rules applied.
    pub fn for_stderr(quiet: bool) -> Self {
        Console {
            colour: colour_enabled(std::io::stderr().is_terminal()),
            quiet,
            stub: false,
            prefix: String::new(),
            held: RefCell::new(None),
        }
    }

    /// Keeps every line from now on back (the run's writer, while the end of the step before is
    /// still being made durable) until [`Console::release`].
    pub fn hold(&self) {
        self.held.borrow_mut().get_or_insert_with(Vec::new);
    }

    /// Whether lines are being kept back.
    pub fn holding(&self) -> bool {
        self.held.borrow().is_some()
    }

    /// Writes the lines kept back, in order, and stops holding.
    pub fn release(&self) {
        let held = self.held.borrow_mut().take();
        for line in held.into_iter().flatten() {
            eprint_line(&line);
        }
    }

    /// Lines from now on belong to the branch `label` (`None`: to the run's own walk); `colour`
    /// is its ANSI colour number on a colour terminal.
    pub fn set_branch(&mut self, label: Option<&str>, colour: u8) {
        self.prefix.clear();
        if let Some(label) = label {
            self.prefix = branch_prefix(label, colour, self.colour);
        }
    }

    /// Writes one whole line of the run, with the branch prefix.
    pub fn emit(&self, line: &str) {
        let line = if self.prefix.is_empty() {
            Cow::Borrowed(line)
        } else {
            Cow::Owned(format!("{}{line}", self.prefix))
        };
        match self.held.borrow_mut().as_mut() {
            Some(held) => held.push(line.into_owned()),
            None => eprint_line(&line),
        }
    }

    fn paint(&self, style: &str, text: &str) -> String {
        if self.colour {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    /// `==> <display path> [<kind label>]`
    pub fn heading(&self, display: &str, label: &str) {
        if !self.quiet {
            let stub = if self.stub { " (stub)" } else { "" };
            self.emit(&self.paint(BOLD, &format!("==> {display} [{label}]{stub}")));
        }
    }

    /// `==> <display path of loop> > #<k>/<n>` (for-each adds ` <item>`)
    pub fn iteration(&self, heading: &str, item: Option<&str>) {
        if !self.quiet {
            let text = match item {
                Some(item) => format!("==> {heading} {item}"),
                None => format!("==> {heading}"),
            };
            self.emit(&self.paint(BOLD, &text));
        }
    }

    /// `==> <display path> [skipped: <reason>]`
    pub fn skipped(&self, display: &str, reason: &str) {
        if !self.quiet {
            self.emit(&self.paint(DIM, &format!("==> {display} [skipped: {reason}]")));
        }
    }

    /// An indented detail line (`  command: …`, `  session: …`).
    pub fn detail(&self, text: &str) {
        if !self.quiet {
            self.emit(&format!("  {text}"));
        }
    }

    /// `  ok (<duration>)` or `  ok (<duration>, <usage>)`
    pub fn ok(&self, duration: Duration, usage: Option<&str>) {
        if self.quiet {
            return;
        }
        let text = match usage {
            Some(usage) => format!("ok ({}, {usage})", format::duration(duration)),
            None => format!("ok ({})", format::duration(duration)),
        };
        self.emit(&format!("  {}", self.paint(GREEN, &text)));
    }

    /// `  failed: <reason> (<duration>)`, with the continuing note when `continue_on_failure` applies.
    pub fn failed(&self, reason: &str, duration: Duration, continuing: bool) {
        let mut text = format!("failed: {reason} ({})", format::duration(duration));
        if continuing {
            text.push_str("; continuing because continue_on_failure is set");
        }
        self.emit(&format!("  {}", self.paint(RED, &text)));
    }

    /// A line of the runner's own that `--quiet` hides (the banner at the start of a run).
    pub fn info(&self, text: &str) {
        if !self.quiet {
            self.emit(text);
        }
    }

    /// An indented line that is not hidden by `--quiet` (break notes, engine messages).
    pub fn line(&self, text: &str) {
        self.emit(text);
    }

    /// `agent-runner: warning: <text>` in yellow.
    pub fn warning(&self, text: &str) {
        self.emit(&self.paint(YELLOW, &format!("agent-runner: warning: {text}")));
    }
}

/// Colour rules: `CLICOLOR_FORCE=1` forces it, `NO_COLOR` disables it, else only on a terminal.
pub fn colour_enabled(is_terminal: bool) -> bool {
    if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v == "1") {
        return true;
    }
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && is_terminal
}

/// `[label] ` of a parallel branch's lines, in its ANSI colour number `colour` when `coloured`.
pub fn branch_prefix(label: &str, colour: u8, coloured: bool) -> String {
    if coloured {
        format!("\x1b[{colour}m[{label}]{RESET} ")
    } else {
        format!("[{label}] ")
    }
}
