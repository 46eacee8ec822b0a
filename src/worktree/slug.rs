//! Branch slugs (control.md §11 "Worktrees, precisely"): the last part of a branch's worktree path
//! and git branch name. A slug is `[a-z0-9-]`, never empty, never starts or ends with `-`, so it
//! is always a valid path component and git ref component.

use crate::state::{slug, slug_or};

/// The slug of a loop iteration's branch: `<index>-<item slug>`, or `<index>` when there is no
/// item (a counted loop) or its slug is empty. The index is the iteration's, as in audit paths.
/// A for-each item is a path; its slug is made from its file name without the extension
/// (`tasks/03-login.md` → `03-login`), the part that tells the items apart.
pub fn iteration(index: u64, item: Option<&str>) -> String {
    let name = |item: &str| {
        let stem = std::path::Path::new(item)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
        slug(&stem.unwrap_or_else(|| item.to_owned()))
    };
    match item.map(name).filter(|s| !s.is_empty()) {
        Some(item) => format!("{index}-{item}"),
        None => index.to_string(),
    }
}

/// The slug of a parallel group's branch: its step id, made like a run-id slug (`branch` if the
/// id has no letter or digit).
pub fn group(step_id: &str) -> String {
    slug_or(step_id, "branch")
}

/// `wanted` when no other branch of the run has it, else the first free `wanted-2`, `wanted-3`,
/// …: two branches never share a slug (two parallel steps of a run may have branches of the same
/// name, and `a_b` and `a-b` make the same slug).
pub fn unique(wanted: String, taken: impl Fn(&str) -> bool) -> String {
    if !taken(&wanted) {
        return wanted;
    }
    (2u64..)
        .map(|n| format!("{wanted}-{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_slugs_start_with_the_index() {
        assert_eq!(iteration(3, Some("tasks/Add Login.md")), "3-add-login");
        assert_eq!(iteration(4, Some("/abs/dir/tasks/")), "4-tasks");
        assert_eq!(iteration(5, Some("a.tar.gz")), "5-a-tar");
        assert_eq!(iteration(0, None), "0");
        assert_eq!(iteration(7, Some("日本")), "7");
        assert_eq!(iteration(12, Some("--x--")), "12-x");
    }

    #[test]
    fn item_slugs_are_cut_to_40_characters() {
        let slug = iteration(1, Some(&"a".repeat(100)));
        assert_eq!(slug, format!("1-{}", "a".repeat(40)));
    }

    #[test]
    fn slugs_are_safe_path_components_and_ref_names() {
        let hostile = [
            "../../etc/passwd",
            "a..b",
            "x.lock",
            "@{-1}",
            "refs/heads/main",
            " ~^:?*[\\",
            "-rf",
            ".hidden",
            "$(touch pwned)",
        ];
        for item in hostile {
            for slug in [iteration(2, Some(item)), group(item)] {
                assert!(!slug.is_empty(), "{item:?}");
                assert!(
                    slug.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{item:?} -> {slug}"
                );
                assert!(!slug.starts_with('-') && !slug.ends_with('-'), "{slug}");
                assert!(!slug.contains("--"), "{slug}");
            }
        }
    }

    #[test]
    fn group_slugs_are_the_step_id() {
        assert_eq!(group("codex-review"), "codex-review");
        assert_eq!(group("Claude_Review"), "claude-review");
        assert_eq!(group("___"), "branch");
    }

    #[test]
    fn taken_slugs_get_a_number() {
        let taken = ["a-b", "a-b-2"];
        assert_eq!(unique("a-b".into(), |s| taken.contains(&s)), "a-b-3");
        assert_eq!(unique("c".into(), |s| taken.contains(&s)), "c");
    }
}
