//! The JSON the page reads: `GET /api/runs` in the shape of `list --json` and
//! `GET /api/runs/<id>` in the shape of `show --json` (cli.md §9), both built by
//! [`crate::report`]. Each run of the listing also gets `usage` (tokens and cost, as `show`
//! sums them) for the board's cards, cached per run until its audit log changes. The cache is
//! filled in the background when the server starts ([`UsageCache::warm`]); until then a listing
//! carries the usage already known and the page asks again, so the first answer stays fast.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use serde_json::{Value, json};

use super::{App, Scope};
use crate::report::{ReportError, list, show};
use crate::state::{RunDir, RunEntry, StateError};

/// What a card shows of a run's usage.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Usage {
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: Option<f64>,
}

/// The audit log's size and mtime: when they change, the usage is computed again.
type Stamp = (u64, Option<SystemTime>);

/// Usage per run dir, with the stamp of the audit log it was computed from.
#[derive(Debug, Default)]
pub struct UsageCache {
    entries: Mutex<HashMap<String, (Stamp, Option<Usage>)>>,
    /// Set once [`UsageCache::warm`] has seen every run.
    warm: AtomicBool,
}

impl UsageCache {
    /// Computes the usage of every run shown (call it off the async thread).
    pub fn warm(app: &App) {
        if let Ok(listing) = gather(app) {
            for run in &listing.runs {
                app.usage.get(&run.run_dir, &run.run_id, &app.env, true);
            }
        }
        app.usage.warm.store(true, Ordering::Release);
    }

    /// The usage of the run at `run_dir`, recomputed only when its audit log changed; before
    /// the cache is warm (and `compute` is false) only what is cached: `None` when unknown yet,
    /// `Some(None)` for a run without readable usage.
    fn get(
        &self,
        run_dir: &str,
        run_id: &str,
        env: &[(String, String)],
        compute: bool,
    ) -> Option<Option<Usage>> {
        let run = RunDir::at(run_dir, run_id);
        let meta = std::fs::metadata(run.audit_path()).ok();
        let stamp: Stamp = (
            meta.as_ref().map_or(0, std::fs::Metadata::len),
            meta.and_then(|m| m.modified().ok()),
        );
        if let Ok(cache) = self.entries.lock()
            && let Some((cached, usage)) = cache.get(run_dir)
            && *cached == stamp
        {
            return Some(*usage);
        }
        if !compute && !self.warm.load(Ordering::Acquire) {
            return None;
        }
        let usage = show::gather(RunEntry::load(run), env)
            .ok()
            .map(|report| Usage {
                input_tokens: report.usage.input_tokens,
                output_tokens: report.usage.output_tokens,
                cost_usd: report.usage.cost_usd,
            });
        if let Ok(mut cache) = self.entries.lock() {
            cache.insert(run_dir.to_owned(), (stamp, usage));
        }
        Some(usage)
    }
}

/// `GET /api/runs`: every run shown, newest first, each with its `usage`.
pub fn runs(app: &App) -> Result<Value, ReportError> {
    let listing = gather(app)?;
    let mut value = list::render_json(&listing);
    let usages = listing
        .runs
        .iter()
        .map(|run| app.usage.get(&run.run_dir, &run.run_id, &app.env, false));
    if let Some(items) = value.get_mut("runs").and_then(Value::as_array_mut) {
        for (item, usage) in items.iter_mut().zip(usages) {
            if let (Some(map), Some(usage)) = (item.as_object_mut(), usage) {
                let usage = usage.map(|usage| {
                    json!({
                        "input_tokens": usage.input_tokens,
                        "output_tokens": usage.output_tokens,
                        "cost_usd": usage.cost_usd.map(|c| (c * 1e6).round() / 1e6),
                    })
                });
                map.insert("usage".to_owned(), json!(usage));
            }
        }
    }
    Ok(value)
}

/// The listing of the runs shown, as `list` gathers it.
fn gather(app: &App) -> Result<list::Listing, ReportError> {
    match &app.scope {
        Scope::Project(project) => list::gather_project(project, &app.env, 0),
        Scope::All => list::gather_all(&app.root, &app.env, 0),
    }
}

/// The run with this id among the runs shown.
pub fn find(app: &App, run_id: &str) -> Result<RunEntry, StateError> {
    match &app.scope {
        Scope::Project(project) => project.find_run(run_id),
        Scope::All => app
            .root
            .projects()?
            .iter()
            .find_map(|project| project.find_run(run_id).ok())
            .ok_or_else(|| StateError::NoSuchRun(run_id.to_owned())),
    }
}

/// `GET /api/runs/<id>`: the run's report.
pub fn run(app: &App, run_id: &str) -> Result<show::RunReport, ReportError> {
    show::gather(find(app, run_id)?, &app.env)
}
