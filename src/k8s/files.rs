//! The project files a Job's pod needs: everything under `.agent-runner/` (workflows, engines,
//! the project configuration) except worktrees, and every workflow file the run loads from
//! elsewhere in the project. Paths are relative to the project directory.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::workflow::Source;

/// A ConfigMap holds at most 1 MiB; the files must fit with room for the keys.
const MAX_TOTAL_BYTES: usize = 900 * 1024;
/// Directories under `.agent-runner/` that are not configuration.
const SKIPPED_DIRS: &[&str] = &["worktrees", "runs"];

/// The files, by relative path (`/`-separated), with their text.
pub fn collect<'a>(
    project_dir: &Path,
    loaded: impl Iterator<Item = &'a Source>,
) -> Result<BTreeMap<String, String>, String> {
    let mut files = BTreeMap::new();
    let config_dir = project_dir.join(".agent-runner");
    if config_dir.is_dir() {
        walk(project_dir, &config_dir, &mut files)?;
    }
    for source in loaded {
        let Source::File(path) = source else {
            continue;
        };
        let relative = relative_to(project_dir, path).ok_or_else(|| {
            format!(
                "{} is outside the project, so the Job cannot see it; copy it into .agent-runner/workflows/",
                path.display()
            )
        })?;
        add(path, relative, &mut files)?;
    }
    let total: usize = files.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_TOTAL_BYTES {
        return Err(format!(
            "the project's .agent-runner/ files take {total} bytes, more than a ConfigMap holds (about {MAX_TOTAL_BYTES}); remove what the run does not need"
        ));
    }
    Ok(files)
}

fn walk(
    project_dir: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Ok(kind) = std::fs::symlink_metadata(&path).map(|m| m.file_type()) else {
            continue;
        };
        let skipped = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| SKIPPED_DIRS.contains(&n) || n.starts_with('.'));
        if skipped {
            continue;
        }
        if kind.is_dir() {
            walk(project_dir, &path, files)?;
        } else if kind.is_file()
            && let Some(relative) = relative_to(project_dir, &path)
        {
            add(&path, relative, files)?;
        }
    }
    Ok(())
}

fn add(path: &Path, relative: String, files: &mut BTreeMap<String, String>) -> Result<(), String> {
    if files.contains_key(&relative) {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {} for the ConfigMap: {e} (only text files can be carried)",
            path.display()
        )
    })?;
    files.insert(relative, text);
    Ok(())
}

/// `path` relative to `base` with `/` separators, if it is inside it and every component is
/// plain UTF-8.
fn relative_to(base: &Path, path: &Path) -> Option<String> {
    let base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let relative = path.strip_prefix(&base).ok()?;
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_owned()),
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}
