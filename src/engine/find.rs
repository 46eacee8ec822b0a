//! Finding an engine by its `type`: `.agent-runner/engines/<name>.yaml` in the project, then
//! `<user config dir>/engines/<name>.yaml`, then the built-ins embedded from `engines/`.

use std::path::PathBuf;

use super::error::EngineError;
use super::spec::EngineSpec;
use crate::workflow::builtin;
use crate::workflow::engine_file::{self, EngineFile};
use crate::workflow::resolve::Project;
use crate::workflow::suggest::did_you_mean;

/// Loads and checks the engine `kind`. A file with errors is [`EngineError::Invalid`]; it does
/// not fall back to a built-in of the same name.
pub fn find(kind: &str, project: &Project) -> Result<EngineSpec, EngineError> {
    let file = if is_engine_name(kind) {
        load(kind, project)
    } else {
        None
    };
    let Some(file) = file else {
        let names = available(project);
        return Err(EngineError::Unknown {
            kind: kind.to_owned(),
            hint: did_you_mean(kind, names.iter().map(String::as_str)),
            available: names.join(", "),
        });
    };
    match file.spec {
        Some(spec) => Ok(spec),
        None => Err(EngineError::Invalid {
            file: file.shown,
            diagnostics: file.diagnostics,
        }),
    }
}

/// The engine file that `kind` names, checked; `None` when there is none.
fn load(kind: &str, project: &Project) -> Option<EngineFile> {
    for dir in engine_dirs(project) {
        let path = dir.join(format!("{kind}.yaml"));
        if path.is_file() {
            return Some(engine_file::check_file(&path, &project.show_path(&path)));
        }
    }
    let bytes = builtin::engine(kind)?;
    Some(engine_file::check_bytes(
        bytes,
        kind,
        &format!("builtin:{kind}"),
    ))
}

/// The project's and the user's engine dirs, in lookup order.
pub fn engine_dirs(project: &Project) -> Vec<PathBuf> {
    let mut dirs = vec![project.config_dir().join("engines")];
    dirs.extend(project.user_dir.as_ref().map(|d| d.join("engines")));
    dirs
}

/// Every engine name that [`find`] could load, sorted, without repeats.
pub fn available(project: &Project) -> Vec<String> {
    let mut names: Vec<String> = builtin::engine_names().map(str::to_owned).collect();
    for dir in engine_dirs(project) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".yaml"))
                && is_engine_name(stem)
            {
                names.push(stem.to_owned());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Engine names are file names: letters, digits, `-` and `_`, so a `type` can never reach
/// outside the engine dirs.
fn is_engine_name(kind: &str) -> bool {
    !kind.is_empty()
        && kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
