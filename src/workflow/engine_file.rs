//! Engine definition files (engines.md §2), checked as far as the loader needs them: a YAML
//! mapping with `format_version: 1`, a `name` equal to the file name, only the known keys, and
//! the names of its `options` (which a workflow's `engine:` block may set).

use std::path::{Path, PathBuf};

use super::diagnostic::Diagnostic;
use super::fields::{MapReader, Sink, Target};
use super::loader::{read_limited, resolve_findings};
use super::yaml::{self, Node};

pub const ENGINE_KEYS: &[&str] = &[
    "format_version",
    "name",
    "description",
    "requires",
    "options",
    "vars",
    "checks",
    "data",
    "hooks",
];

/// An engine file after checking: its option names, and its diagnostics.
#[derive(Debug, Clone, Default)]
pub struct EngineFile {
    pub name: String,
    pub options: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads and checks the engine file at `path`; `file` is the name diagnostics show.
pub fn check_file(path: &Path, file: &str) -> EngineFile {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    match read_limited(path) {
        Ok(bytes) => check_bytes(&bytes, &stem, file),
        Err(message) => EngineFile {
            name: stem,
            options: Vec::new(),
            diagnostics: vec![at_file(
                Diagnostic::error("read-error", format!("cannot read engine file: {message}")),
                file,
            )],
        },
    }
}

fn at_file(mut d: Diagnostic, file: &str) -> Diagnostic {
    d.file = file.to_owned();
    d
}

/// Checks engine bytes; `stem` is the file name without `.yaml`.
pub fn check_bytes(bytes: &[u8], stem: &str, file: &str) -> EngineFile {
    let mut engine = EngineFile {
        name: stem.to_owned(),
        ..EngineFile::default()
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        engine.diagnostics.push(at_file(
            Diagnostic::error("yaml-syntax", "invalid YAML: the file is not valid UTF-8"),
            file,
        ));
        return engine;
    };
    let node = match yaml::parse(text) {
        Ok(node) => node,
        Err(err) => {
            let mut d = at_file(Diagnostic::error(err.code, err.message), file);
            d.line = err.line;
            d.column = err.column;
            engine.diagnostics.push(d);
            return engine;
        }
    };
    let mut sink = Sink::default();
    let Node::Map(entries) = &node else {
        sink.error(
            "not-a-mapping",
            "an engine file must be a YAML mapping with \"format_version\" and \"name\"".to_owned(),
            "",
            Target::Value,
        );
        engine.diagnostics = resolve_findings(sink.findings, text, file);
        return engine;
    };
    let r = MapReader::new(entries, "");
    r.check_keys(ENGINE_KEYS, &[], &mut sink);
    match r.get("format_version") {
        None => sink.error(
            "missing-key",
            "missing required key \"format_version\"".to_owned(),
            "",
            Target::Value,
        ),
        Some(Node::Num { int: Some(1), .. }) => {}
        Some(other) => sink.error(
            "engine-format",
            format!("\"format_version\" must be 1, found {}", other.describe()),
            "format_version",
            Target::Value,
        ),
    }
    match r.get("name") {
        None => sink.error(
            "missing-key",
            "missing required key \"name\"".to_owned(),
            "",
            Target::Value,
        ),
        Some(_) => {
            if let Some(name) = r.string("name", &mut sink)
                && name != stem
            {
                sink.error(
                    "engine-name",
                    format!("engine name \"{name}\" must equal the file name \"{stem}\""),
                    "name",
                    Target::Value,
                );
            }
        }
    }
    r.string("description", &mut sink);
    if let Some(options) = r.map("options", &mut sink) {
        engine.options = options.iter().map(|(k, _)| k.clone()).collect();
    }
    r.list("requires", &mut sink);
    r.map("vars", &mut sink);
    r.list("checks", &mut sink);
    r.map("data", &mut sink);
    r.map("hooks", &mut sink);
    engine.diagnostics = resolve_findings(sink.findings, text, file);
    engine
}

/// `*.yaml` and `*.yml` files directly in `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_and_keys() {
        let e = check_bytes(
            b"format_version: 1\nname: todo\noptions: {a: {}}\n",
            "todo",
            "t.yaml",
        );
        assert!(e.diagnostics.is_empty());
        assert_eq!(e.options, ["a"]);
        let e = check_bytes(b"format_version: 2\nname: x\nhook: {}\n", "todo", "t.yaml");
        let codes: Vec<_> = e.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["unknown-key", "engine-format", "engine-name"]);
    }
}
