//! Test fixtures for the report commands: a temporary state root with a project, and real run
//! dirs written through the state API (state.json via `RunDir::write_state`, events via
//! `AuditWriter`), exactly as the run's writer leaves them.

use std::fs;

use serde_json::Value;

use crate::state::{AuditEvent, ProjectDir, Redactor, RunDir, StateDoc, StateRoot, WorkflowRef};

/// A state root in a temp dir and one project in it.
pub struct Fixture {
    tmp: tempfile::TempDir,
    pub root: StateRoot,
    pub project: ProjectDir,
}

impl Fixture {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = StateRoot::new(tmp.path().join("state"));
        let work = tmp.path().join("app");
        fs::create_dir(&work).unwrap();
        let project = root.project(&work).unwrap();
        Fixture { tmp, root, project }
    }

    /// The project's real path as a string.
    pub fn project_path(&self) -> String {
        self.project
            .project_path()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// Another project under the same state root.
    pub fn other_project(&self, name: &str) -> ProjectDir {
        let work = self.tmp.path().join(name);
        fs::create_dir(&work).unwrap();
        self.root.project(&work).unwrap()
    }
}

/// Creates a run of `workflow` in `project` and writes its state after `edit`.
pub fn write_run(project: &ProjectDir, workflow: &str, edit: impl FnOnce(&mut StateDoc)) -> RunDir {
    let run = project.create_run(workflow, None).unwrap();
    let mut doc = StateDoc::new(
        run.id(),
        project.project_path().unwrap().to_string_lossy(),
        WorkflowRef {
            name: workflow.to_owned(),
            source: format!("builtin:{workflow}"),
            hash: "sha256:00".to_owned(),
        },
    );
    edit(&mut doc);
    run.write_state(&doc).unwrap();
    run
}

/// Appends events to the run's audit log through the real writer.
pub fn append_events(run: &RunDir, events: &[(AuditEvent, &str, Value)]) {
    let mut writer = run
        .open_audit(Redactor::token_shapes_only().unwrap())
        .unwrap();
    for (event, path, data) in events {
        writer.append(*event, path, data.clone()).unwrap();
    }
}
