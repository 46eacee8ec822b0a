//! Workflow names → sources (workflow-format.md §12 and §13).
//!
//! On the command line a workflow is `builtin:<name>`, `<ns>:<name>` (a built-in, for
//! compatibility), a file path, or a bare name searched in the project, then the user's
//! workflows dir, then the built-ins. Sub-workflow values resolve the same way, except that paths
//! are relative to the calling file, and inside the built-in set when the caller is a built-in.

use std::path::{Component, Path, PathBuf};

use thiserror::Error;

use super::builtin;
use super::model::Source;
use super::suggest::suggest;

/// The project dir and the user config dir: where workflows are looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Absolute project directory.
    pub dir: PathBuf,
    /// The user config dir (workflow-format.md §14), if a home could be found.
    pub user_dir: Option<PathBuf>,
    /// The home directory, to show `~` in messages.
    pub home: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveError {
    /// No workflow of that name anywhere.
    #[error("{message}")]
    NotFound {
        message: String,
        /// What was looked for, for `sub-workflow-missing`.
        looked_for: String,
    },
    /// The argument is neither a name nor a path.
    #[error(
        "invalid workflow name \"{0}\": use a name (letters, digits, \"-\", \"_\" and \"/\"), builtin:<name>, or a path to a .yaml file"
    )]
    Invalid(String),
    /// A relative path in a built-in workflow leads outside the built-in set.
    #[error("path \"{0}\" leaves the built-in workflows")]
    Escapes(String),
}

impl Project {
    /// The project at `dir`, with the user dir taken from the environment.
    pub fn from_env(dir: PathBuf) -> Project {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = var("HOME");
        let user_dir = var("AGENT_RUNNER_CONFIG_DIR").or_else(|| {
            let xdg = var("XDG_CONFIG_HOME")
                .or_else(|| home.as_ref().map(|h| h.join(".config")))
                .map(|base| base.join("agent-runner"));
            xdg.filter(|dir| dir.is_dir())
                .or_else(|| var("AGENT_RUNNER_HOME"))
                .or_else(|| home.as_ref().map(|h| h.join(".agent-runner")))
        });
        Project {
            dir,
            user_dir,
            home,
        }
    }

    /// `<project>/.agent-runner`
    pub fn config_dir(&self) -> PathBuf {
        self.dir.join(".agent-runner")
    }

    /// `<project>/.agent-runner/workflows`
    pub fn workflows_dir(&self) -> PathBuf {
        self.config_dir().join("workflows")
    }

    /// `<user dir>/workflows`
    pub fn user_workflows_dir(&self) -> Option<PathBuf> {
        self.user_dir.as_ref().map(|d| d.join("workflows"))
    }

    /// A path as shown to the user: relative to the project when inside it, `~/…` under the
    /// home directory, else absolute.
    pub fn show_path(&self, path: &Path) -> String {
        if let Ok(rel) = path.strip_prefix(&self.dir) {
            return rel.display().to_string();
        }
        if let Some(home) = &self.home
            && let Ok(rel) = path.strip_prefix(home)
        {
            return format!("~/{}", rel.display());
        }
        path.display().to_string()
    }

    /// A source as diagnostics show it.
    pub fn show(&self, source: &Source) -> String {
        match source {
            Source::Builtin(name) => format!("builtin:{name}"),
            Source::File(path) => self.show_path(path),
        }
    }

    fn user_dir_shown(&self) -> String {
        match &self.user_dir {
            Some(dir) => self.show_path(dir),
            None => "~/.agent-runner".to_owned(),
        }
    }

    /// Resolves a command-line workflow argument (§13). Path forms are returned without checking
    /// that the file exists; reading it reports that.
    pub fn resolve_name(&self, arg: &str) -> Result<Source, ResolveError> {
        if let Some(name) = arg.strip_prefix("builtin:") {
            return builtin_source(name, arg);
        }
        if is_path(arg) {
            return Ok(Source::File(normalize(&self.dir.join(arg))));
        }
        if let Some((ns, name)) = arg.split_once(':') {
            if is_name(ns) && is_name(name) {
                return builtin_source(&format!("{ns}/{name}"), arg).map_err(|err| {
                    match crate::compat::names::removed_builtin(arg) {
                        Some(message) => ResolveError::NotFound {
                            message,
                            looked_for: format!("builtin:{ns}/{name}"),
                        },
                        None => err,
                    }
                });
            }
            return Err(ResolveError::Invalid(arg.to_owned()));
        }
        if !is_name(arg) {
            return Err(ResolveError::Invalid(arg.to_owned()));
        }
        let mut dirs = vec![self.workflows_dir()];
        dirs.extend(self.user_workflows_dir());
        for dir in &dirs {
            for ext in ["yaml", "yml"] {
                let path = dir.join(format!("{arg}.{ext}"));
                if path.is_file() && !is_meta_file(&path) {
                    return Ok(Source::File(path));
                }
            }
        }
        if builtin::workflow(arg).is_some() {
            return Ok(Source::Builtin(arg.to_owned()));
        }
        let mut names: Vec<String> = builtin::workflow_names().map(str::to_owned).collect();
        for dir in &dirs {
            names.extend(list_names(dir).into_iter().map(|(name, _)| name));
        }
        let hint = suggest(arg, names.iter().map(String::as_str))
            .map(|best| format!(" (did you mean \"{best}\"?)"))
            .unwrap_or_default();
        let user = self.user_dir_shown();
        Err(ResolveError::NotFound {
            message: format!(
                "workflow \"{arg}\" not found (looked in .agent-runner/workflows/, {user}/workflows/ and the built-in workflows){hint}"
            ),
            looked_for: format!(
                ".agent-runner/workflows/{arg}.yaml, {user}/workflows/{arg}.yaml and builtin:{arg}"
            ),
        })
    }

    /// Resolves a sub-workflow value (§12) called from `caller`. A file source may not exist.
    pub fn resolve_sub(&self, value: &str, caller: &Source) -> Result<Source, ResolveError> {
        if let Some(name) = value.strip_prefix("builtin:") {
            return builtin_source(name, value);
        }
        if !(value.ends_with(".yaml") || value.ends_with(".yml")) {
            return self.resolve_name(value);
        }
        match caller {
            Source::File(path) => {
                let base = path.parent().unwrap_or(&self.dir);
                Ok(Source::File(normalize(&base.join(value))))
            }
            Source::Builtin(name) if Path::new(value).is_absolute() => {
                let _ = name;
                Ok(Source::File(normalize(Path::new(value))))
            }
            Source::Builtin(name) => {
                let dir = Path::new(name).parent().unwrap_or(Path::new(""));
                let mut parts: Vec<String> = Vec::new();
                for component in dir.join(value).components() {
                    match component {
                        Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
                        Component::CurDir => {}
                        Component::ParentDir => {
                            if parts.pop().is_none() {
                                return Err(ResolveError::Escapes(value.to_owned()));
                            }
                        }
                        _ => return Err(ResolveError::Escapes(value.to_owned())),
                    }
                }
                let joined = parts.join("/");
                let stem = joined
                    .strip_suffix(".yaml")
                    .or_else(|| joined.strip_suffix(".yml"))
                    .unwrap_or(&joined);
                builtin_source(stem, value)
            }
        }
    }
}

fn builtin_source(name: &str, arg: &str) -> Result<Source, ResolveError> {
    if builtin::workflow(name).is_some() {
        return Ok(Source::Builtin(name.to_owned()));
    }
    let hint = suggest(name, builtin::workflow_names())
        .map(|best| format!(" (did you mean \"builtin:{best}\"?)"))
        .unwrap_or_default();
    Err(ResolveError::NotFound {
        message: format!("workflow \"{arg}\" not found among the built-in workflows{hint}"),
        looked_for: format!("builtin:{name}"),
    })
}

/// Ends in `.yaml`/`.yml`, or starts with `./`, `../` or `/`.
pub fn is_path(arg: &str) -> bool {
    arg.ends_with(".yaml")
        || arg.ends_with(".yml")
        || arg.starts_with("./")
        || arg.starts_with("../")
        || arg.starts_with('/')
}

/// `name` or `dir/name`, with `[A-Za-z0-9_.-]+` segments; `.` is not first and `..` does not
/// occur (versioned names such as `deploy-v2.0`, compat-go.md §2).
pub fn is_name(arg: &str) -> bool {
    !arg.is_empty()
        && arg.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && !seg.contains("..")
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        })
}

/// A file in a workflows folder whose name starts with `_` (the Go tool's `_group.yaml`): not a
/// workflow, so listing, name resolution and `--validate` without targets skip it.
pub fn is_meta_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('_'))
}

/// Removes `.` and resolves `..` lexically.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Workflow files in `dir` (recursively), as `(name, path)`; `.yaml` wins over `.yml`.
pub fn list_names(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let Some(file) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if is_meta_file(&path) {
                continue;
            }
            if path.is_dir() {
                if stack.len() < 64 {
                    stack.push((path, format!("{prefix}{file}/")));
                }
                continue;
            }
            let stem = file
                .strip_suffix(".yaml")
                .or_else(|| file.strip_suffix(".yml"));
            if let Some(stem) = stem {
                let name = format!("{prefix}{stem}");
                if is_name(&name) && !out.iter().any(|(n, _)| *n == name) {
                    out.push((name, path));
                }
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dir: &Path) -> Project {
        Project {
            dir: dir.to_path_buf(),
            user_dir: Some(dir.join("user")),
            home: None,
        }
    }

    #[test]
    fn resolves_in_order_project_user_builtin() {
        let tmp = tempfile::tempdir().unwrap();
        let p = project(tmp.path());
        assert_eq!(
            p.resolve_name("core/run-validator").unwrap(),
            Source::Builtin("core/run-validator".into())
        );
        assert_eq!(
            p.resolve_name("core:run-validator").unwrap(),
            Source::Builtin("core/run-validator".into())
        );
        std::fs::create_dir_all(tmp.path().join("user/workflows/core")).unwrap();
        std::fs::write(
            tmp.path().join("user/workflows/core/run-validator.yml"),
            "x",
        )
        .unwrap();
        assert!(matches!(
            p.resolve_name("core/run-validator").unwrap(),
            Source::File(_)
        ));
        assert_eq!(
            p.resolve_name("builtin:core/run-validator").unwrap(),
            Source::Builtin("core/run-validator".into())
        );
        let err = p
            .resolve_name("core/run-validater")
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean \"core/run-validator\""), "{err}");
        assert!(matches!(
            p.resolve_name("a b"),
            Err(ResolveError::Invalid(_))
        ));
    }

    #[test]
    fn builtin_relative_paths_stay_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let p = project(tmp.path());
        let caller = Source::Builtin("flokay".into());
        assert_eq!(
            p.resolve_sub("core/run-validator.yaml", &caller).unwrap(),
            Source::Builtin("core/run-validator".into())
        );
        let caller = Source::Builtin("core/x".into());
        assert_eq!(
            p.resolve_sub("../core/run-validator.yaml", &caller)
                .unwrap(),
            Source::Builtin("core/run-validator".into())
        );
        assert!(matches!(
            p.resolve_sub("../../etc/x.yaml", &caller),
            Err(ResolveError::Escapes(_))
        ));
    }
}
