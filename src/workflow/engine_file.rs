//! Engine definition files (engines.md §2) as the loader and `--validate` see them: the file is
//! read, parsed as YAML and handed to [`crate::engine::file::analyze`], which checks everything (keys,
//! types, option declarations, `name` = file name, every template's syntax, helpers and
//! variables); the findings get their positions here. The loader uses the declared option names
//! to check a workflow's `engine:` block; [`engine::find`](crate::engine::find) uses the spec.

use std::path::{Path, PathBuf};

use super::diagnostic::Diagnostic;
use super::fields::Sink;
use super::loader::{read_limited, resolve_findings};
use super::yaml;
use crate::engine::EngineSpec;
use crate::engine::file as engine;

pub use crate::engine::file::ENGINE_KEYS;

/// An engine file after checking.
#[derive(Debug, Clone, Default)]
pub struct EngineFile {
    /// The file name without `.yaml`.
    pub name: String,
    /// The file as diagnostics show it.
    pub shown: String,
    /// Declared option names (also for files with errors).
    pub options: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
    /// Set when the file has no errors.
    pub spec: Option<EngineSpec>,
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
            shown: file.to_owned(),
            diagnostics: vec![at_file(
                Diagnostic::error("read-error", format!("cannot read engine file: {message}")),
                file,
            )],
            ..EngineFile::default()
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
        shown: file.to_owned(),
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
    let analysis = engine::analyze(&node, stem, file, &mut sink);
    engine.options = analysis.options;
    engine.spec = analysis.spec;
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
