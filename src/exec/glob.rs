//! For-each loop patterns, expanded with shell semantics (workflow-format.md §11).
//!
//! The pattern is matched one path component at a time while walking the directory tree, which
//! gives the shell's rules directly: `*`, `?` and `[…]` never cross `/`; `**` as a whole component
//! matches zero or more directories (without following directory symlinks); a name starting with
//! `.` is matched only by a pattern component that starts with `.`; a trailing `/` matches
//! directories only. Matches are returned exactly as matched (relative when the pattern is
//! relative) and sorted by bytes.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

/// Why a pattern could not be expanded.
#[derive(Debug, thiserror::Error)]
pub enum GlobError {
    #[error("invalid pattern \"{pattern}\": {message}")]
    Pattern { pattern: String, message: String },
}

enum Part {
    /// `**`: zero or more directories.
    AnyDirs,
    Literal(String),
    Glob {
        matcher: GlobMatcher,
        dot: bool,
    },
}

/// Expands `pattern` relative to `base` (the project dir).
pub fn expand(pattern: &str, base: &Path) -> Result<Vec<String>, GlobError> {
    let dirs_only = pattern.ends_with('/') && pattern.len() > 1;
    let absolute = pattern.starts_with('/');
    let parts = pattern
        .split('/')
        .filter(|c| !c.is_empty())
        .map(|component| compile(component, pattern))
        .collect::<Result<Vec<_>, _>>()?;
    let root = if absolute {
        PathBuf::from("/")
    } else {
        base.to_path_buf()
    };
    let start = if absolute {
        "/".to_owned()
    } else {
        String::new()
    };
    let mut found = Vec::new();
    walk(&root, &start, &parts, dirs_only, &mut found);
    found.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    found.dedup();
    Ok(found)
}

fn compile(component: &str, pattern: &str) -> Result<Part, GlobError> {
    if component == "**" {
        return Ok(Part::AnyDirs);
    }
    if !component.contains(['*', '?', '[', '{', '\\']) {
        return Ok(Part::Literal(component.to_owned()));
    }
    let glob = GlobBuilder::new(component)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|err| GlobError::Pattern {
            pattern: pattern.to_owned(),
            message: err.kind().to_string(),
        })?;
    Ok(Part::Glob {
        matcher: glob.compile_matcher(),
        dot: component.starts_with('.'),
    })
}

/// Matches `parts` below `dir`; `shown` is how `dir` is written in results.
fn walk(dir: &Path, shown: &str, parts: &[Part], dirs_only: bool, found: &mut Vec<String>) {
    let Some((part, rest)) = parts.split_first() else {
        return;
    };
    let join = |name: &str| {
        if shown.is_empty() {
            name.to_owned()
        } else if shown.ends_with('/') {
            format!("{shown}{name}")
        } else {
            format!("{shown}/{name}")
        }
    };
    let accept = |path: &Path, shown: String, found: &mut Vec<String>| {
        if !dirs_only || path.is_dir() {
            found.push(if dirs_only {
                format!("{shown}/")
            } else {
                shown
            });
        }
    };
    match part {
        Part::Literal(name) => {
            let path = dir.join(name);
            if rest.is_empty() {
                if path.symlink_metadata().is_ok() {
                    accept(&path, join(name), found);
                }
            } else if path.is_dir() {
                walk(&path, &join(name), rest, dirs_only, found);
            }
        }
        Part::Glob { matcher, dot } => {
            for (name, path, _) in entries(dir) {
                if (name.starts_with('.') && !dot) || !matcher.is_match(&name) {
                    continue;
                }
                if rest.is_empty() {
                    accept(&path, join(&name), found);
                } else if path.is_dir() {
                    walk(&path, &join(&name), rest, dirs_only, found);
                }
            }
        }
        Part::AnyDirs => {
            // Zero directories: the rest matches right here.
            walk(dir, shown, rest, dirs_only, found);
            for (name, path, is_real_dir) in entries(dir) {
                if is_real_dir && !name.starts_with('.') {
                    walk(&path, &join(&name), parts, dirs_only, found);
                }
            }
        }
    }
}

/// The entries of `dir` as (name, path, is a directory that is not a symlink). Unreadable
/// directories and non-UTF-8 names are passed over.
fn entries(dir: &Path) -> Vec<(String, PathBuf, bool)> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let is_real_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            Some((name, entry.path(), is_real_dir))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            if !file.ends_with('/') {
                std::fs::write(path, "").unwrap();
            }
        }
        dir
    }

    #[test]
    fn shell_semantics() {
        let dir = tree(&[
            "a.md",
            "b.md",
            ".hidden.md",
            "docs/x.md",
            "docs/deep/y.md",
            "docs/.h/z.md",
            "c.txt",
        ]);
        let base = dir.path();
        assert_eq!(expand("*.md", base).unwrap(), ["a.md", "b.md"]);
        assert_eq!(expand(".*.md", base).unwrap(), [".hidden.md"]);
        assert_eq!(
            expand("**/*.md", base).unwrap(),
            ["a.md", "b.md", "docs/deep/y.md", "docs/x.md"]
        );
        assert_eq!(expand("docs/*", base).unwrap(), ["docs/deep", "docs/x.md"]);
        assert_eq!(expand("docs/*/", base).unwrap(), ["docs/deep/"]);
        assert_eq!(expand("{a,c}.*", base).unwrap(), ["a.md", "c.txt"]);
        assert_eq!(expand("nothing/*.md", base).unwrap(), Vec::<String>::new());
        let absolute = format!("{}/*.txt", base.display());
        assert_eq!(
            expand(&absolute, base).unwrap(),
            [format!("{}/c.txt", base.display())]
        );
    }

    #[test]
    fn double_star_does_not_follow_directory_symlinks() {
        let dir = tree(&["real/f.md"]);
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        assert_eq!(expand("**/*.md", dir.path()).unwrap(), ["real/f.md"]);
        assert_eq!(expand("link/*.md", dir.path()).unwrap(), ["link/f.md"]);
    }

    #[test]
    fn bad_pattern_is_an_error() {
        assert!(expand("[a", Path::new(".")).is_err());
    }
}
