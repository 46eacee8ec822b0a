//! Helpers for the `run_*` tests: the run dirs a test produced, their `state.json`, audit log and
//! output files, and console text with the parts that change from run to run (durations, the
//! time and random part of run ids) made stable.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// Where a workflow named `name` lives in the test project.
pub fn wf(name: &str) -> String {
    format!(".agent-runner/workflows/{name}.yaml")
}

/// One run directory under the test's `AGENT_RUNNER_HOME`.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
}

/// Every run of every project under the temp dir `root`, oldest first.
pub fn runs(root: &Path) -> Vec<Run> {
    let projects = root.join("home/.agent-runner/projects");
    let mut runs = Vec::new();
    for project in read_dir(&projects) {
        for dir in read_dir(&project.join("runs")) {
            runs.push(Run { dir });
        }
    }
    // A test may have broken a state.json on purpose; such a run sorts first.
    runs.sort_by_key(|run| {
        let state = std::fs::read_to_string(run.dir.join("state.json")).unwrap_or_default();
        let created = serde_json::from_str::<Value>(&state)
            .ok()
            .and_then(|s| s["created_at"].as_str().map(str::to_owned))
            .unwrap_or_default();
        (created, run.id())
    });
    runs
}

/// The one run under `root` (panics when there are none or several).
pub fn only_run(root: &Path) -> Run {
    let mut all = runs(root);
    assert_eq!(all.len(), 1, "expected exactly one run: {all:?}");
    all.remove(0)
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    paths.sort();
    paths
}

impl Run {
    pub fn id(&self) -> String {
        self.dir
            .file_name()
            .expect("run dir name")
            .to_string_lossy()
            .into_owned()
    }

    pub fn state_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("state.json")).expect("read state.json")
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&self.state_text()).expect("state.json is JSON")
    }

    /// Every audit event, in file order.
    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("audit.jsonl"))
            .expect("read audit.jsonl")
            .lines()
            .map(|line| serde_json::from_str(line).expect("audit line is JSON"))
            .collect()
    }

    /// `"<event> <path>"` for every audit event, the compact form most tests compare.
    pub fn events(&self) -> Vec<String> {
        self.audit()
            .iter()
            .map(|e| format!("{} {}", text(&e["event"]), text(&e["path"])))
            .map(|line| line.trim_end().to_owned())
            .collect()
    }

    /// The audit events named `event`, in order.
    pub fn events_named(&self, event: &str) -> Vec<Value> {
        self.audit()
            .into_iter()
            .filter(|e| e["event"] == event)
            .collect()
    }

    /// `"<path> <reason>"` for every `skip` event, in order.
    pub fn skips(&self) -> Vec<String> {
        self.events_named("skip")
            .iter()
            .map(|e| format!("{} {}", text(&e["path"]), text(&e["data"]["reason"])))
            .collect()
    }

    /// The names of the files in `output/`, sorted.
    pub fn outputs(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("output")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    pub fn output(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("output").join(name))
            .unwrap_or_else(|e| panic!("cannot read output/{name}: {e}"))
    }
}

/// A JSON string value (or `""`).
pub fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d+ms|\d+\.\ds|\d+m\d\ds|\d+h\d\dm)\b").expect("duration regex")
});
static RUN_ID_TAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d{8}-\d{6}-[0-9a-f]{4}\b").expect("run id regex"));

/// Console text with durations replaced by `<D>` and run ids by `<slug>-<ID>`.
pub fn stable(text: &str) -> String {
    let text = DURATION.replace_all(text, "<D>");
    RUN_ID_TAIL.replace_all(&text, "<ID>").into_owned()
}

/// SIGKILLs the process group led by `pid` (children a SIGKILLed runner could not stop).
pub fn kill_group(pid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}
