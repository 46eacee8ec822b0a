//! `requires:` (workflow-format.md §1): what a workflow needs from the machine and the project
//! before its first step runs — programs on `PATH` and paths in the project — so that preflight
//! can name everything missing at once instead of a step failing halfway through the run.
//!
//! An entry is a program name (`git`), or a mapping with `program:` or `path:` and an optional
//! `hint:` that says how to get it (`install the GitHub CLI: https://cli.github.com`).

use std::borrow::Cow;

use super::fields::{Location, MapReader, Sink, Target, YamlPath};
use super::yaml::Node;

/// The keys of a `requires:` mapping entry.
pub const REQUIRE_KEYS: &[&str] = &["program", "path", "hint"];

/// One thing a workflow needs before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub need: Need,
    /// How to get it, shown after the problem.
    pub hint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// A program found on `PATH`.
    Program(String),
    /// A file or directory, relative to the project dir.
    Path(String),
}

/// Reads the items of `requires:`, reporting bad entries to `sink`.
pub fn read(items: &[Node], sink: &mut Sink) -> Vec<Requirement> {
    let list = YamlPath::Text("requires");
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = list.index(i);
        sink.location = Location::Text(Cow::Owned(format!("requires[{i}]")));
        match item {
            Node::Str(name) if !name.trim().is_empty() => out.push(Requirement {
                need: Need::Program(name.trim().to_owned()),
                hint: None,
            }),
            Node::Map(entries) => {
                let r = MapReader::new(entries, path);
                r.check_keys(REQUIRE_KEYS, sink);
                let program = r.nonempty_string("program", sink);
                let file = r.nonempty_string("path", sink);
                let hint = r.string("hint", sink).map(str::to_owned);
                let need = match (program, file) {
                    (Some(program), None) => Need::Program(program.trim().to_owned()),
                    (None, Some(file)) => Need::Path(file.trim().to_owned()),
                    _ => {
                        sink.error(
                            "invalid-value",
                            "a requirement needs exactly one of \"program\" and \"path\"".to_owned(),
                            path,
                            Target::Value,
                        );
                        continue;
                    }
                };
                out.push(Requirement { need, hint });
            }
            other => sink.error(
                "wrong-type",
                format!(
                    "a requirement must be a program name or a mapping with \"program\" or \"path\", found {}",
                    other.describe()
                ),
                path,
                Target::Value,
            ),
        }
    }
    sink.location = Location::TOP_LEVEL;
    out
}
