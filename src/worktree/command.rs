//! `agent-runner worktrees list` and `agent-runner worktrees prune <run-id> [--force]`
//! (control.md §11): the worktrees and branches that runs made in this project's repository.
//!
//! Git is the truth here, not the runs' state: a worktree is listed as long as its branch
//! exists, even when the run that made it was deleted.

use std::path::Path;

use serde_json::json;

use super::prune::{Pruned, RunBranch};
use super::repo::Repo;
use crate::console;
use crate::exit;
use crate::report::table::Table;
use crate::state::{StateRoot, validate_run_id};

/// `worktrees list [--json]`.
pub fn list(json: bool) -> i32 {
    let found = repo().and_then(|repo| {
        let branches = repo.run_branches(None).map_err(|e| e.to_string())?;
        Ok((repo, branches))
    });
    let (repo, branches) = match found {
        Ok(found) => found,
        Err(message) => return fail(&message),
    };
    let text = if json {
        let value = render_json(&repo.project_dir, &branches);
        format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        )
    } else {
        render_text(&repo.project_dir, &branches)
    };
    console::print_stdout(&text);
    exit::SUCCESS
}

/// `worktrees prune <run-id> [--force]`.
pub fn prune(run_id: &str, force: bool) -> i32 {
    if let Err(err) = validate_run_id(run_id) {
        console::error(&err.to_string());
        return err.exit_code();
    }
    let repo = match repo() {
        Ok(repo) => repo,
        Err(message) => return fail(&message),
    };
    if let Some(message) = running(&repo.project_dir, run_id) {
        return fail(&message);
    }
    match repo.prune(run_id, force) {
        Ok(pruned) if pruned.removed.is_empty() && pruned.kept.is_empty() => {
            console::error(&format!(
                "no worktree or branch of run \"{run_id}\" in this repository (see \"agent-runner worktrees list\")"
            ));
            exit::USAGE
        }
        Ok(pruned) => {
            console::print_stdout(&render_pruned(&repo.project_dir, &pruned));
            exit::SUCCESS
        }
        Err(err) => fail(&err.to_string()),
    }
}

/// The repository of the current directory (after `-C`).
fn repo() -> Result<Repo, String> {
    let dir = std::env::current_dir()
        .map_err(|err| format!("cannot read the current directory: {err}"))?;
    Repo::discover(&dir).map_err(|err| err.to_string())
}

/// Why the run's worktrees cannot be pruned now: it is running (its worktrees are in use).
fn running(project_dir: &Path, run_id: &str) -> Option<String> {
    let run = StateRoot::from_env()
        .ok()?
        .project(project_dir)
        .ok()?
        .find_run(run_id)
        .ok()?;
    let holder = run.lock_holder?;
    Some(format!(
        "run {run_id} is running (pid {}); prune its worktrees after it ends",
        holder.pid
    ))
}

fn fail(message: &str) -> i32 {
    console::error(message);
    exit::RUNTIME
}

/// A path relative to the project dir when it is inside it.
fn shown(project_dir: &Path, path: &Path) -> String {
    let project = project_dir
        .canonicalize()
        .unwrap_or_else(|_| project_dir.to_path_buf());
    path.strip_prefix(&project)
        .or_else(|_| path.strip_prefix(project_dir))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The branches as a table: run, slug, unmerged commits, uncommitted changes, worktree.
pub fn render_text(project_dir: &Path, branches: &[RunBranch]) -> String {
    if branches.is_empty() {
        return "no agent-runner worktrees in this repository\n".to_owned();
    }
    let mut table = Table::new(["RUN", "BRANCH", "COMMITS", "CHANGES", "WORKTREE"]);
    for branch in branches {
        let (run, slug) = branch.run_and_slug();
        table.push(vec![
            run.to_owned(),
            slug.to_owned(),
            branch.unmerged.to_string(),
            if branch.dirty { "yes" } else { "no" }.to_owned(),
            branch
                .worktree
                .as_deref()
                .map_or_else(|| "(none)".to_owned(), |p| shown(project_dir, p)),
        ]);
    }
    table.render()
}

/// `{"worktrees": [{run_id, branch, slug, path, unmerged_commits, uncommitted_changes}]}`.
pub fn render_json(project_dir: &Path, branches: &[RunBranch]) -> serde_json::Value {
    let rows: Vec<_> = branches
        .iter()
        .map(|branch| {
            let (run, slug) = branch.run_and_slug();
            json!({
                "run_id": run,
                "slug": slug,
                "branch": branch.branch,
                "path": branch.worktree.as_deref().map(|p| shown(project_dir, p)),
                "unmerged_commits": branch.unmerged,
                "uncommitted_changes": branch.dirty,
            })
        })
        .collect();
    json!({ "worktrees": rows })
}

/// One line per branch: `removed <branch>` or `kept <branch> (<why>; --force removes it)`.
pub fn render_pruned(project_dir: &Path, pruned: &Pruned) -> String {
    let mut out = String::new();
    for branch in &pruned.removed {
        let place = branch
            .worktree
            .as_deref()
            .map(|p| format!(" and {}", shown(project_dir, p)))
            .unwrap_or_default();
        out.push_str(&format!("removed {}{place}\n", branch.branch));
    }
    for (branch, why) in &pruned.kept {
        out.push_str(&format!(
            "kept    {} ({why}; --force removes it)\n",
            branch.branch
        ));
    }
    out
}
