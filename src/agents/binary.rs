//! Which executable runs a CLI: `$AGENT_RUNNER_<CLI>_BIN`, else `clis.<cli>.binary`, else the
//! adapter's default name; and the PATH lookup the preflight uses to tell "missing" early.

use std::path::{Path, PathBuf};

/// `AGENT_RUNNER_CLAUDE_BIN`, `AGENT_RUNNER_CURSOR_AGENT_BIN`, ...
pub fn binary_env_var(cli: &str) -> String {
    let upper: String = cli
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("AGENT_RUNNER_{upper}_BIN")
}

/// The binary for `cli`: the environment override, then the configured binary, then `default`.
/// `env` looks a variable up (pass `|k| std::env::var(k).ok()` outside tests).
pub fn resolve_binary(
    cli: &str,
    configured: Option<&str>,
    default: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> String {
    env(&binary_env_var(cli))
        .filter(|v| !v.is_empty())
        .or_else(|| configured.filter(|c| !c.is_empty()).map(str::to_string))
        .unwrap_or_else(|| default.to_string())
}

/// Finds `program` the way a spawn would: a name with a `/` is taken as a path, anything else is
/// searched in `path` (a `PATH`-style list). Only executable regular files count.
pub fn find_on_path(program: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return is_executable(p).then(|| p.to_path_buf());
    }
    let path = path?;
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names() {
        assert_eq!(binary_env_var("claude"), "AGENT_RUNNER_CLAUDE_BIN");
        assert_eq!(
            binary_env_var("cursor-agent"),
            "AGENT_RUNNER_CURSOR_AGENT_BIN"
        );
    }

    #[test]
    fn precedence_env_then_config_then_default() {
        let env = |k: &str| (k == "AGENT_RUNNER_CODEX_BIN").then(|| "/opt/codex".to_string());
        let none = |_: &str| None;
        assert_eq!(
            resolve_binary("codex", Some("codex2"), "codex", &env),
            "/opt/codex"
        );
        assert_eq!(
            resolve_binary("codex", Some("codex2"), "codex", &none),
            "codex2"
        );
        assert_eq!(resolve_binary("codex", None, "codex", &none), "codex");
    }

    #[test]
    fn finds_executables_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("plain"), "").unwrap();
        let path = std::env::join_paths([Path::new("/nonexistent"), dir.path()]).unwrap();
        assert_eq!(find_on_path("tool", Some(&path)), Some(exe.clone()));
        assert_eq!(find_on_path("plain", Some(&path)), None);
        assert_eq!(find_on_path(exe.to_str().unwrap(), None), Some(exe));
    }
}
