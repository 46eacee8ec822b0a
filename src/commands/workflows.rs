//! `agent-runner workflows [--all] [--json]`: the workflows available here (cli.md §2, §9):
//! project, then user, then built-in. A name that a higher source also has is marked
//! `(shadowed)`. Workflows marked `hidden: true` are listed only with `--all`.

use serde_json::{Value, json};

use crate::console;
use crate::exit;
use crate::workflow::compose::analyze_source;
use crate::workflow::resolve::{Project, list_names};
use crate::workflow::{Source, builtin};

struct Entry {
    name: String,
    source: &'static str,
    source_ref: Source,
    shadowed: bool,
}

/// Lists the workflows; returns the exit code.
pub fn run(json: bool, all: bool, project: &Project) -> i32 {
    let mut entries: Vec<Entry> = Vec::new();
    let mut add = |name: String, source: &'static str, source_ref: Source| {
        let shadowed = entries.iter().any(|e| e.name == name);
        entries.push(Entry {
            name,
            source,
            source_ref,
            shadowed,
        });
    };
    for (name, path) in list_names(&project.workflows_dir()) {
        add(name, "project", Source::File(path));
    }
    if let Some(dir) = project.user_workflows_dir() {
        for (name, path) in list_names(&dir) {
            add(name, "user", Source::File(path));
        }
    }
    for name in builtin::workflow_names() {
        add(name.to_owned(), "builtin", Source::Builtin(name.to_owned()));
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name).then(a.shadowed.cmp(&b.shadowed)));

    // The configuration decides the Go-era modes a file's steps get, hence whether it is valid.
    let config = crate::config::load(project).ok();
    let ctx = crate::workflow::compose::load_context(project, config.as_ref());
    let rows: Vec<Value> = entries
        .iter()
        .filter_map(|e| {
            let shown = project.show(&e.source_ref);
            let analysis = analyze_source(&e.source_ref, project, &ctx);
            // `hidden: true` (Go): listed only with --all (compat-go.md §2).
            if !all && crate::compat::workflow::is_hidden(&analysis.text) {
                return None;
            }
            let (description, params) = match &analysis.workflow {
                Some(w) => (
                    w.description.lines().next().unwrap_or("").to_owned(),
                    w.params
                        .iter()
                        .map(|p| {
                            json!({"name": p.name, "required": p.required,
                                   "default": p.default.as_ref().map(|d| d.text())})
                        })
                        .collect(),
                ),
                None => (
                    format!("(invalid: see agent-runner --validate {shown})"),
                    Vec::new(),
                ),
            };
            Some(json!({"name": e.name, "source": e.source, "path": shown,
                   "description": description, "params": params, "shadowed": e.shadowed}))
        })
        .collect();
    if json {
        let mut text = serde_json::to_string(&json!({"format_version": 1, "workflows": rows}))
            .unwrap_or_default();
        text.push('\n');
        console::print_stdout(&text);
        return exit::SUCCESS;
    }
    let cell = |row: &Value, key: &str| row[key].as_str().unwrap_or_default().to_owned();
    let table: Vec<[String; 3]> = rows
        .iter()
        .map(|row| {
            let mut source = cell(row, "source");
            if row["shadowed"] == json!(true) {
                source.push_str(" (shadowed)");
            }
            [cell(row, "name"), source, cell(row, "description")]
        })
        .collect();
    let width = |i: usize, title: &str| {
        table
            .iter()
            .map(|r| r[i].chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0, "NAME"), width(1, "SOURCE"));
    let mut text = format!("{:w0$}  {:w1$}  DESCRIPTION\n", "NAME", "SOURCE");
    for [name, source, description] in &table {
        let line = format!("{name:w0$}  {source:w1$}  {description}");
        text.push_str(line.trim_end());
        text.push('\n');
    }
    console::print_stdout(&text);
    exit::SUCCESS
}
