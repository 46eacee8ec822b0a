//! `agent-runner list`: one line (or one JSON object) per run, newest first.
//!
//! [`gather_project`] and [`gather_all`] turn [`RunEntry`]s into [`RunSummary`]s — what a list
//! shows of a run, with its params already redacted — and [`render_text`]/[`render_json`] lay
//! them out. A run whose state cannot be read is listed with status `unreadable` and its reason,
//! so one damaged run never hides the others.

use std::cmp::Reverse;
use std::fs;

use serde_json::{Value, json};

use super::table::Table;
use super::{ReportError, path_string, redactor_for, short_time, shown_params};
use crate::state::{
    ProjectDir, Redactor, RunEntry, StateRoot, StringMap, parse_rfc3339_millis, unix_millis,
};

/// The status shown for a run whose state.json cannot be read.
pub const UNREADABLE: &str = "unreadable";

/// Which runs a listing covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// The runs of the project at this path.
    Project(String),
    /// The runs of every project (`--all`).
    All,
}

/// What `list` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub scope: ListScope,
    pub runs: Vec<RunSummary>,
}

/// One run as `list` shows it. Fields that come from state.json are `None` when it is unreadable.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The project's path (its state key when the path is unknown).
    pub project: String,
    pub run_id: String,
    pub workflow: Option<String>,
    pub source: Option<String>,
    /// `running`, `interrupted`, `failed`, `completed` or `unreadable`.
    pub status: String,
    /// The step path of the current position.
    pub position: Option<String>,
    /// Params with secrets redacted.
    pub params: Option<StringMap>,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
    pub run_dir: String,
    pub locked_by_pid: Option<u32>,
    /// Why the state cannot be read.
    pub error: Option<String>,
}

impl RunSummary {
    /// The summary of `entry`, a run of `project`. `base` redacts runs without secret params;
    /// runs with some get a redactor of their own that also knows their values.
    pub fn from_entry(
        entry: &RunEntry,
        project: &str,
        base: &Redactor,
        env: &[(String, String)],
    ) -> Result<Self, ReportError> {
        let status = entry
            .status
            .map_or(UNREADABLE, |status| status.as_str())
            .to_owned();
        let mut summary = RunSummary {
            project: project.to_owned(),
            run_id: entry.id().to_owned(),
            workflow: None,
            source: None,
            status,
            position: None,
            params: None,
            started_at: None,
            updated_at: None,
            run_dir: path_string(entry.run.path()),
            locked_by_pid: entry.lock_holder.as_ref().map(|info| info.pid),
            error: None,
        };
        match &entry.state {
            Ok(doc) => {
                let own;
                let redactor = if doc.secret_params.is_empty() {
                    base
                } else {
                    own = redactor_for(Some(doc), env)?;
                    &own
                };
                summary.workflow = Some(redactor.redact(&doc.workflow.name).into_owned());
                summary.source = Some(redactor.redact(&doc.workflow.source).into_owned());
                summary.position = doc
                    .position_path()
                    .map(|p| redactor.redact(&p).into_owned());
                summary.params = Some(shown_params(doc, redactor));
                summary.started_at = Some(doc.created_at.clone());
                summary.updated_at = Some(doc.updated_at.clone());
            }
            Err(err) => summary.error = Some(base.redact(&err.to_string()).into_owned()),
        }
        Ok(summary)
    }
}

/// The runs of `project`, newest first, at most `limit` of them (0: all).
pub fn gather_project(
    project: &ProjectDir,
    env: &[(String, String)],
    limit: usize,
) -> Result<Listing, ReportError> {
    let name = project_name(project);
    let entries = project.list_newest_runs(limit)?;
    let base = redactor_for(None, env)?;
    let runs = limited(entries.iter(), limit)
        .map(|entry| RunSummary::from_entry(entry, &name, &base, env))
        .collect::<Result<_, _>>()?;
    Ok(Listing {
        scope: ListScope::Project(name),
        runs,
    })
}

/// The runs of every project under `root`, newest first across projects, at most `limit` (0: all).
pub fn gather_all(
    root: &StateRoot,
    env: &[(String, String)],
    limit: usize,
) -> Result<Listing, ReportError> {
    let projects = root.list_newest_all_runs(limit)?;
    let mut entries: Vec<(String, &RunEntry)> = projects
        .iter()
        .flat_map(|p| {
            let name = project_name(&p.project);
            p.runs.iter().map(move |run| (name.clone(), run))
        })
        .collect();
    // Stable, so runs of one project keep their order when their times tie.
    entries.sort_by_key(|(_, entry)| Reverse(created_millis(entry)));
    let base = redactor_for(None, env)?;
    let runs = limited(entries.iter(), limit)
        .map(|(name, entry)| RunSummary::from_entry(entry, name, &base, env))
        .collect::<Result<_, _>>()?;
    Ok(Listing {
        scope: ListScope::All,
        runs,
    })
}

fn limited<I: Iterator>(items: I, limit: usize) -> impl Iterator<Item = I::Item> {
    items.take(if limit == 0 { usize::MAX } else { limit })
}

fn project_name(project: &ProjectDir) -> String {
    project
        .project_path()
        .map_or_else(|| project.key().to_owned(), path_string)
}

/// When the run was created, for ordering across projects: `created_at`, else the run dir's
/// modification time.
fn created_millis(entry: &RunEntry) -> i64 {
    entry
        .state
        .as_ref()
        .ok()
        .and_then(|doc| parse_rfc3339_millis(&doc.created_at))
        .or_else(|| {
            let modified = fs::metadata(entry.run.path()).and_then(|m| m.modified());
            modified.ok().map(unix_millis)
        })
        .unwrap_or(0)
}

/// The listing as an aligned table, or `no runs in this project`.
pub fn render_text(listing: &Listing) -> String {
    let all = listing.scope == ListScope::All;
    if listing.runs.is_empty() {
        return if all {
            "no runs in any project\n".to_owned()
        } else {
            "no runs in this project\n".to_owned()
        };
    }
    let mut header = vec!["RUN ID", "WORKFLOW", "STATUS", "AT", "UPDATED"];
    if all {
        header.push("PROJECT");
    }
    let mut table = Table::new(header);
    for run in &listing.runs {
        let mut row = vec![
            run.run_id.clone(),
            cell(run.workflow.as_deref()),
            run.status.clone(),
            cell(run.position.as_deref()),
            run.updated_at
                .as_deref()
                .map_or_else(|| "-".to_owned(), short_time),
        ];
        if all {
            row.push(super::one_line(&run.project, usize::MAX));
        }
        table.push(row);
    }
    table.render()
}

fn cell(text: Option<&str>) -> String {
    text.map_or_else(|| "-".to_owned(), |t| super::one_line(t, 60))
}

/// The listing in the `list --json` shape of cli.md §9. With `--all`, `project` is null at the
/// top and set on every run instead.
pub fn render_json(listing: &Listing) -> Value {
    let runs: Vec<Value> = listing
        .runs
        .iter()
        .map(|run| {
            let mut object = json!({
                "run_id": run.run_id,
                "workflow": run.workflow,
                "source": run.source,
                "status": run.status,
                "position": run.position,
                "params": run.params,
                "started_at": run.started_at,
                "updated_at": run.updated_at,
                "run_dir": run.run_dir,
                "locked_by_pid": run.locked_by_pid,
            });
            if let Some(map) = object.as_object_mut() {
                if listing.scope == ListScope::All {
                    map.insert("project".to_owned(), json!(run.project));
                }
                if let Some(error) = &run.error {
                    map.insert("error".to_owned(), json!(error));
                }
            }
            object
        })
        .collect();
    let project = match &listing.scope {
        ListScope::Project(path) => json!(path),
        ListScope::All => Value::Null,
    };
    json!({"format_version": 1, "project": project, "runs": runs})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{Fixture, write_run};
    use crate::state::{Frame, LoopFrame, RunStatus};
    use pretty_assertions::assert_eq;

    fn position() -> Frame {
        let mut child = Frame::pending(0, "work");
        child.state = crate::state::FrameState::Running;
        let mut top = Frame::pending(8, "implement");
        top.loop_ = Some(LoopFrame {
            iteration: 1,
            ..LoopFrame::default()
        });
        top.child = Some(Box::new(child));
        top
    }

    #[test]
    fn text_table_newest_first() {
        let f = Fixture::new();
        write_run(&f.project, "flokay", |doc| {
            doc.status = RunStatus::Failed;
            doc.created_at = "2026-11-21T08:33:12.511Z".into();
            doc.updated_at = "2026-11-21T09:40:02.004Z".into();
            doc.position = Some(position());
        });
        write_run(&f.project, "fix-tests", |doc| {
            doc.status = RunStatus::Completed;
            doc.completed = true;
            doc.created_at = "2026-11-22T10:00:00.000Z".into();
            doc.updated_at = "2026-11-22T10:05:59.999Z".into();
        });
        let listing = gather_project(&f.project, &[], 20).unwrap();
        let ids: Vec<&str> = listing.runs.iter().map(|r| r.run_id.as_str()).collect();
        let w = ids[0].len().max(ids[1].len());
        let expected = format!(
            "{:w$}  WORKFLOW   STATUS     AT                 UPDATED\n\
             {:w$}  fix-tests  completed  -                  2026-11-22 10:05\n\
             {:w$}  flokay     failed     implement[1]/work  2026-11-21 09:40\n",
            "RUN ID", ids[0], ids[1],
        );
        assert_eq!(render_text(&listing), expected);

        let one = gather_project(&f.project, &[], 1).unwrap();
        assert_eq!(one.runs.len(), 1);
        assert_eq!(one.runs[0].workflow.as_deref(), Some("fix-tests"));
        assert_eq!(gather_project(&f.project, &[], 0).unwrap().runs.len(), 2);
    }

    #[test]
    fn no_runs() {
        let f = Fixture::new();
        let listing = gather_project(&f.project, &[], 20).unwrap();
        assert_eq!(render_text(&listing), "no runs in this project\n");
        let json = render_json(&listing);
        assert_eq!(json["runs"], json!([]));
        assert_eq!(json["project"], json!(f.project_path()));
    }

    #[test]
    fn json_shape_with_secrets_redacted() {
        let f = Fixture::new();
        let run = write_run(&f.project, "flokay", |doc| {
            doc.status = RunStatus::Running; // no live lock: a crash
            doc.created_at = "2026-11-21T08:33:12.511Z".into();
            doc.updated_at = "2026-11-21T09:40:02.004Z".into();
            doc.workflow.source = "builtin:flokay".into();
            doc.params.insert("change_name".into(), "add-login".into());
            doc.params.insert("api_token".into(), "tok".into());
            doc.secret_params = vec!["api_token".into()];
            doc.position = Some(position());
        });
        let listing = gather_project(&f.project, &[], 20).unwrap();
        assert_eq!(
            render_json(&listing),
            json!({
                "format_version": 1,
                "project": f.project_path(),
                "runs": [{
                    "run_id": run.id(),
                    "workflow": "flokay",
                    "source": "builtin:flokay",
                    "status": "interrupted",
                    "position": "implement[1]/work",
                    "params": {"api_token": "[REDACTED]", "change_name": "add-login"},
                    "started_at": "2026-11-21T08:33:12.511Z",
                    "updated_at": "2026-11-21T09:40:02.004Z",
                    "run_dir": path_string(run.path()),
                    "locked_by_pid": null,
                }],
            })
        );
        // Field order as in cli.md §9.
        let text = serde_json::to_string(&render_json(&listing)).unwrap();
        assert!(
            text.starts_with("{\"format_version\":1,\"project\":"),
            "{text}"
        );
        assert!(text.contains("{\"run_id\":"), "{text}");
    }

    #[test]
    fn live_lock_shows_running_with_pid() {
        let f = Fixture::new();
        let run = write_run(&f.project, "w", |doc| doc.status = RunStatus::Running);
        let (lock, _) = run.lock().unwrap();
        let listing = gather_project(&f.project, &[], 20).unwrap();
        assert_eq!(listing.runs[0].status, "running");
        assert_eq!(listing.runs[0].locked_by_pid, Some(lock.info().pid));
        assert_eq!(
            render_json(&listing)["runs"][0]["locked_by_pid"],
            json!(std::process::id())
        );
        lock.release().unwrap();
        let listing = gather_project(&f.project, &[], 20).unwrap();
        assert_eq!(listing.runs[0].status, "interrupted");
    }

    #[test]
    fn unreadable_state_is_listed() {
        let f = Fixture::new();
        let run = write_run(&f.project, "w", |_| {});
        fs::write(run.state_path(), "{not json").unwrap();
        let listing = gather_project(&f.project, &[], 20).unwrap();
        let text = render_text(&listing);
        let line = text.lines().nth(1).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells, [run.id(), "-", "unreadable", "-", "-"]);
        let json = render_json(&listing);
        assert_eq!(json["runs"][0]["status"], "unreadable");
        assert_eq!(json["runs"][0]["workflow"], Value::Null);
        let error = json["runs"][0]["error"].as_str().unwrap();
        assert!(error.starts_with(&format!("state of run {} is unreadable (", run.id())));
    }

    #[test]
    fn all_projects_have_a_project_column() {
        let f = Fixture::new();
        let other = f.other_project("other");
        write_run(&f.project, "a", |doc| {
            doc.created_at = "2026-01-01T00:00:00.000Z".into();
            doc.updated_at = doc.created_at.clone();
            doc.status = RunStatus::Completed;
        });
        write_run(&other, "b", |doc| {
            doc.created_at = "2026-01-02T00:00:00.000Z".into();
            doc.updated_at = doc.created_at.clone();
            doc.status = RunStatus::Failed;
        });
        let listing = gather_all(&f.root, &[], 20).unwrap();
        let workflows: Vec<_> = listing.runs.iter().map(|r| r.workflow.clone()).collect();
        assert_eq!(workflows, [Some("b".to_owned()), Some("a".to_owned())]);
        let text = render_text(&listing);
        let header: Vec<&str> = text.lines().next().unwrap().split("  ").collect();
        assert!(header[0].starts_with("RUN ID"));
        assert_eq!(
            text.lines().next().unwrap().split_whitespace().last(),
            Some("PROJECT")
        );
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .ends_with(&path_string(other.project_path().unwrap()))
        );
        let json = render_json(&listing);
        assert_eq!(json["project"], Value::Null);
        assert_eq!(json["runs"][1]["project"], json!(f.project_path()));
        assert_eq!(gather_all(&f.root, &[], 1).unwrap().runs.len(), 1);
    }
}
