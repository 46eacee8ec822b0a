//! Diagnostics: what validation says about a file, in the format of workflow-format.md §15.
//!
//! A diagnostic names the file, the position (when known), the location in the file (`top level`,
//! `params[1] (name "x")`, `steps[2].steps[0] (id "fix")`), a stable code and a message, and
//! optionally a hint. Validation collects all of them; nothing stops at the first.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable kebab-case code, e.g. `unknown-key`.
    pub code: &'static str,
    pub message: String,
    /// The file as shown to the user: relative to the project dir when inside it, else absolute,
    /// or `builtin:<name>`.
    pub file: String,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// `top level`, `params[1] (name "x")`, `sessions[0] (name "planner")` or a step path.
    pub location: String,
    pub step_id: Option<String>,
    pub help: Option<String>,
    /// For `sub-workflow-invalid`: the sub-workflow's own diagnostics, printed indented.
    pub related: Vec<Diagnostic>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: String::new(),
            line: None,
            column: None,
            location: "top level".to_owned(),
            step_id: None,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// One line per diagnostic plus an optional `  help:` line; related diagnostics follow, indented.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_diagnostic(f, self, "")
    }
}

fn write_diagnostic(f: &mut fmt::Formatter<'_>, d: &Diagnostic, indent: &str) -> fmt::Result {
    write!(f, "{indent}{}", d.file)?;
    if let (Some(line), Some(column)) = (d.line, d.column) {
        write!(f, ":{line}:{column}")?;
    }
    write!(
        f,
        ": {}[{}]: {}: {}",
        d.severity.as_str(),
        d.code,
        d.location,
        d.message
    )?;
    if let Some(help) = &d.help {
        write!(f, "\n{indent}  help: {help}")?;
    }
    let nested = format!("{indent}    ");
    for related in &d.related {
        writeln!(f)?;
        write_diagnostic(f, related, &nested)?;
    }
    Ok(())
}
