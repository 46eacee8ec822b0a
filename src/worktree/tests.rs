//! The worktree module against real git repositories in temporary directories.

use std::path::{Path, PathBuf};

use super::*;

/// A repository with one commit, its project dir at the top.
fn repo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().canonicalize().unwrap().join("project");
    std::fs::create_dir(&project).unwrap();
    git(&project, &["init", "-q", "-b", "main"]);
    std::fs::write(project.join("README"), "hello\n").unwrap();
    commit_all(&project, "initial");
    (dir, project)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "-c",
        "user.name=Test",
        "-c",
        "user.email=test@example.com",
        "-c",
        "commit.gpgsign=false",
    ];
    all.extend(args);
    super::git::run(dir, all).unwrap()
}

fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

#[test]
fn outside_a_repository_is_not_git() {
    let dir = tempfile::tempdir().unwrap();
    let err = Repo::discover(dir.path()).unwrap_err();
    assert!(matches!(err, WorktreeError::NotGit(_)), "{err}");
    assert_eq!(err.exit_code(), 4);
}

#[test]
fn a_repository_without_a_commit_has_nothing_to_branch_from() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    let err = Repo::discover(dir.path()).unwrap_err();
    assert!(matches!(err, WorktreeError::NoCommit(_)), "{err}");
}

#[test]
fn a_worktree_is_created_on_its_branch_from_the_base_and_reused_after() {
    let (_dir, project) = repo();
    let repo = Repo::discover(&project).unwrap();
    let base = repo.head().unwrap();
    // A commit after the base is not in the worktree.
    std::fs::write(project.join("later"), "x").unwrap();
    commit_all(&project, "later");

    let first = repo.ensure("wf-1", "0-a", "t[0]", &base).unwrap();
    assert!(first.created);
    assert_eq!(first.branch, "agent-runner/wf-1/0-a");
    assert_eq!(first.path, project.join(".agent-runner/worktrees/wf-1/0-a"));
    assert!(first.path.join("README").is_file());
    assert!(!first.path.join("later").exists());
    assert_eq!(git(&first.path, &["rev-parse", "HEAD"]), base);
    assert_eq!(
        git(&first.path, &["branch", "--show-current"]),
        "agent-runner/wf-1/0-a"
    );
    let ignore = project.join(".agent-runner/worktrees/.gitignore");
    assert_eq!(std::fs::read_to_string(ignore).unwrap(), "*\n");
    // The worktrees are not changes of the project.
    assert!(!repo.has_uncommitted_changes().unwrap());

    std::fs::write(first.path.join("work"), "in progress").unwrap();
    let again = repo.ensure("wf-1", "0-a", "t[0]", &base).unwrap();
    assert!(!again.created);
    assert_eq!(again.path, first.path);
    assert!(again.path.join("work").is_file(), "the work is kept");
}

#[test]
fn a_branch_left_without_its_worktree_is_checked_out_again() {
    let (_dir, project) = repo();
    let repo = Repo::discover(&project).unwrap();
    let base = repo.head().unwrap();
    let wt = repo.ensure("wf-1", "g", "p/g", &base).unwrap();
    std::fs::write(wt.path.join("done"), "x").unwrap();
    commit_all(&wt.path, "work");
    let tip = git(&wt.path, &["rev-parse", "HEAD"]);
    std::fs::remove_dir_all(&wt.path).unwrap();

    let again = repo.ensure("wf-1", "g", "p/g", &base).unwrap();
    assert!(again.created);
    assert_eq!(git(&again.path, &["rev-parse", "HEAD"]), tip);
}

#[test]
fn a_path_that_is_not_the_runs_worktree_is_left_alone() {
    let (_dir, project) = repo();
    let repo = Repo::discover(&project).unwrap();
    let base = repo.head().unwrap();
    let path = repo.worktree_path("wf-1", "x");
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("mine"), "keep").unwrap();
    let wt = repo.ensure("wf-1", "x", "p/x", &base).unwrap();
    assert_eq!(wt.slug, "x-2");
    assert!(path.join("mine").is_file());
}

#[test]
fn a_project_in_a_subdirectory_runs_in_the_same_subdirectory_of_the_worktree() {
    let (_dir, top) = repo();
    let project = top.join("app");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("f"), "x").unwrap();
    commit_all(&top, "app");
    let repo = Repo::discover(&project).unwrap();
    assert_eq!(repo.prefix, PathBuf::from("app/"));
    let wt = repo
        .ensure("wf-1", "a", "p/a", &repo.head().unwrap())
        .unwrap();
    assert!(wt.path.starts_with(project.join(WORKTREES_DIR)));
    assert!(repo.workdir_in(&wt.path).join("f").is_file());
}

#[test]
fn two_branches_wanting_one_slug_get_two() {
    let (_dir, project) = repo();
    let repo = Repo::discover(&project).unwrap();
    let base = repo.head().unwrap();
    let first = repo.ensure("wf-1", "impl", "a/impl", &base).unwrap();
    let second = repo.ensure("wf-1", "impl", "b/impl", &base).unwrap();
    assert_eq!(
        (first.slug.as_str(), second.slug.as_str()),
        ("impl", "impl-2")
    );
    // Each finds its own again, in any order.
    let again = repo.ensure("wf-1", "impl", "b/impl", &base).unwrap();
    assert_eq!((again.slug.as_str(), again.created), ("impl-2", false));
    let again = repo.ensure("wf-1", "impl", "a/impl", &base).unwrap();
    assert_eq!((again.slug.as_str(), again.created), ("impl", false));
}

#[test]
fn uncommitted_changes_are_seen() {
    let (_dir, project) = repo();
    let repo = Repo::discover(&project).unwrap();
    assert!(!repo.has_uncommitted_changes().unwrap());
    std::fs::write(project.join("README"), "changed\n").unwrap();
    assert!(repo.has_uncommitted_changes().unwrap());
}

#[test]
fn prune_keeps_unmerged_and_dirty_work_unless_forced() {
    let (_dir, project) = repo();
    let repo = Repo::discover(&project).unwrap();
    let base = repo.head().unwrap();
    let clean = repo.ensure("wf-1", "0-clean", "t[0]", &base).unwrap();
    let dirty = repo.ensure("wf-1", "1-dirty", "t[1]", &base).unwrap();
    let committed = repo.ensure("wf-1", "2-committed", "t[2]", &base).unwrap();
    let other = repo.ensure("wf-2", "0-other", "t[0]", &base).unwrap();
    std::fs::write(dirty.path.join("new"), "x").unwrap();
    std::fs::write(committed.path.join("new"), "x").unwrap();
    commit_all(&committed.path, "work");

    let pruned = repo.prune("wf-1", false).unwrap();
    let removed: Vec<_> = pruned.removed.iter().map(|b| b.branch.as_str()).collect();
    assert_eq!(removed, ["agent-runner/wf-1/0-clean"]);
    let kept: Vec<_> = pruned
        .kept
        .iter()
        .map(|(b, why)| (b.branch.as_str(), why.as_str()))
        .collect();
    assert_eq!(
        kept,
        [
            ("agent-runner/wf-1/1-dirty", "uncommitted changes"),
            ("agent-runner/wf-1/2-committed", "1 unmerged commit"),
        ]
    );
    assert!(!clean.path.exists());
    assert!(dirty.path.join("new").exists());

    let forced = repo.prune("wf-1", true).unwrap();
    assert_eq!(forced.removed.len(), 2);
    assert!(!project.join(".agent-runner/worktrees/wf-1").exists());
    assert!(repo.run_branches(Some("wf-1")).unwrap().is_empty());
    // Another run's worktree is untouched.
    assert!(other.path.is_dir());
    assert_eq!(repo.run_branches(None).unwrap().len(), 1);
}

#[test]
fn a_merged_branch_is_pruned() {
    let (_dir, project) = repo();
    let repo = Repo::discover(&project).unwrap();
    let wt = repo
        .ensure("wf-1", "a", "p/a", &repo.head().unwrap())
        .unwrap();
    std::fs::write(wt.path.join("new"), "x").unwrap();
    commit_all(&wt.path, "work");
    git(&project, &["merge", "-q", "--ff-only", &wt.branch]);
    let pruned = repo.prune("wf-1", false).unwrap();
    assert_eq!(pruned.removed.len(), 1);
    assert!(pruned.kept.is_empty());
}
