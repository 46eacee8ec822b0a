//! Engines against the real OpenSpec CLI (`make tools` installs it into `.tools/`), the
//! `workflow` template context of a real composition, and `--validate` of engine files.
//!
//! The hooks are driven through the library API, as the runtime calls them. OpenSpec runs for
//! real in a temporary project; a missing CLI fails the tests instead of skipping them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use agent_runner::engine::{
    Engine, EngineContext, HookOutcome, StepInfo, WorkflowInfo, find, workflow_info,
};
use agent_runner::workflow::Source;
use agent_runner::workflow::compose::load_composition;
use agent_runner::workflow::loader::LoadContext;
use agent_runner::workflow::resolve::Project;
use pretty_assertions::assert_eq;
use serde_json::Value;
use tempfile::TempDir;

use crate::test::Test;

const CHANGE: &str = "add-login";
const ARTIFACTS: [&str; 4] = ["proposal", "specs", "design", "tasks"];

/// `PATH` with the project's `.tools` bin dir first; fails when OpenSpec is not installed there.
fn tools_path() -> String {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/node_modules/.bin");
    assert!(
        bin.join("openspec").is_file(),
        "the OpenSpec CLI is missing from {}: run `make tools` first",
        bin.display()
    );
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{rest}", bin.display())
}

/// A temporary project after `openspec init --tools none .`.
struct OpenSpecProject {
    dir: TempDir,
    path: String,
}

impl OpenSpecProject {
    fn new() -> Self {
        let project = OpenSpecProject {
            dir: TempDir::new().unwrap(),
            path: tools_path(),
        };
        project.openspec(&["init", "--tools", "none", "."]);
        project
    }

    /// The project dir, canonical (openspec reports real paths).
    fn root(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    fn openspec(&self, args: &[&str]) -> std::process::Output {
        let output = Command::new("openspec")
            .args(args)
            .current_dir(self.root())
            .env("PATH", &self.path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "openspec {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn new_change(&self) {
        self.openspec(&["new", "change", CHANGE]);
    }

    fn instructions(&self, artifact: &str) -> Value {
        let out = self.openspec(&["instructions", artifact, "--change", CHANGE, "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root().join("openspec/changes").join(CHANGE).join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// The built-in openspec engine, attached for a workflow with `steps`.
    fn engine(&self, steps: &[&str], params: &[(&str, &str)]) -> Result<Engine, String> {
        let project = Project {
            dir: self.root(),
            user_dir: None,
            home: None,
        };
        let spec = find("openspec", &project).map_err(|e| e.to_string())?;
        let ids: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
        let workflow = WorkflowInfo {
            name: "flokay".into(),
            file: "builtin:flokay".into(),
            step_ids: ids.clone(),
            top_level_step_ids: ids.clone(),
            reachable_step_ids: ids,
            has_sub_workflows: false,
        };
        let mut ctx = EngineContext::new(self.root(), "flokay-20260101-000000-abcd", workflow);
        ctx.env = vec![("PATH".into(), self.path.clone())];
        let params: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (engine, warnings) =
            Engine::attach(spec, &[], &params, ctx).map_err(|e| e.to_string())?;
        assert_eq!(warnings, Vec::<String>::new());
        Ok(engine)
    }
}

fn step(id: &str, continues_session: bool) -> StepInfo {
    StepInfo {
        id: id.into(),
        path: id.into(),
        kind: "agent".into(),
        mode: Some("headless".into()),
        cli: Some("claude".into()),
        session_strategy: Some(if continues_session { "resume" } else { "new" }.into()),
        continues_session,
    }
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_owned()
}

/// The enrichment block engines.md §3 describes, built from openspec's own answer.
fn expected_enrichment(instructions: &Value, continues_session: bool) -> String {
    let change_dir = text(instructions, "changeDir");
    let mut block = format!(
        "**Output path:** {change_dir}/{}\n",
        text(instructions, "outputPath")
    );
    let template = text(instructions, "template");
    assert!(
        !template.is_empty(),
        "openspec 1.13.2 returns the template inline"
    );
    block.push_str(&format!(
        "**Template:**\n~~~markdown\n{}\n~~~\n",
        template.trim()
    ));
    let dependencies = instructions["dependencies"].as_array().unwrap();
    if !continues_session && !dependencies.is_empty() {
        block.push_str("**Dependencies:**\n");
        for dep in dependencies {
            block.push_str(&format!(
                "- {change_dir}/{} — {}\n",
                text(dep, "path"),
                text(dep, "description")
            ));
        }
    }
    block.push_str(&format!(
        "\n{}\n\nFollow the template's structure, then write your output to the output path.",
        text(instructions, "instruction").trim()
    ));
    block
}

#[test]
fn validate_workflow_skips_until_the_change_exists_then_names_missing_artifact_steps() {
    let project = OpenSpecProject::new();
    let params = [("change_name", CHANGE)];
    let mut engine = project.engine(&["proposal", "specs"], &params).unwrap();
    let result = engine.validate_workflow();
    assert_eq!(result.outcome, HookOutcome::Skipped);
    let record = result.record.unwrap();
    assert_eq!(record.outcome, "skipped");
    assert_eq!(
        record.argv.unwrap(),
        ["openspec", "status", "--change", CHANGE, "--json"]
    );
    assert_eq!(record.exit_code, Some(1));
    assert_eq!(
        record.message.as_deref(),
        Some(
            "data \"status\": openspec status --change add-login --json failed with exit status 1"
        )
    );

    project.new_change();
    // The failure was not cached: the same instance sees the new change.
    assert_eq!(
        engine.validate_workflow().outcome,
        HookOutcome::Rejected(
            "workflow is missing steps for openspec artifacts: design, tasks".into()
        )
    );
    let mut complete = project
        .engine(
            &[
                "create",
                "proposal",
                "specs",
                "design",
                "tasks",
                "implement",
            ],
            &params,
        )
        .unwrap();
    let result = complete.validate_workflow();
    assert_eq!(result.outcome, HookOutcome::Ok(()));
    assert_eq!(result.record.unwrap().outcome, "ok");
}

#[test]
fn enrich_prompt_adds_the_openspec_instructions_to_artifact_steps() {
    let project = OpenSpecProject::new();
    let mut engine = project
        .engine(&ARTIFACTS, &[("change_name", CHANGE)])
        .unwrap();
    // Before the change exists the artifact list cannot be fetched: no enrichment, an error.
    let result = engine.enrich_prompt(&step("proposal", false));
    let HookOutcome::Error(reason) = &result.outcome else {
        panic!("expected an error, got {:?}", result.outcome)
    };
    assert_eq!(
        reason,
        "data \"status\": openspec status --change add-login --json failed with exit status 1"
    );
    assert_eq!(result.record.unwrap().outcome, "error");

    project.new_change();
    let proposal = engine.enrich_prompt(&step("proposal", false));
    let expected = expected_enrichment(&project.instructions("proposal"), false);
    assert!(expected.contains("/openspec/changes/add-login/proposal.md\n**Template:**"));
    assert!(!expected.contains("**Dependencies:**"));
    assert_eq!(proposal.outcome, HookOutcome::Ok(Some(expected)));
    assert_eq!(
        proposal.record.unwrap().argv.unwrap(),
        [
            "openspec",
            "instructions",
            "proposal",
            "--change",
            CHANGE,
            "--json"
        ]
    );

    let specs = engine.enrich_prompt(&step("specs", false));
    let instructions = project.instructions("specs");
    let expected = expected_enrichment(&instructions, false);
    let root = project.root();
    assert!(
        expected.contains(&format!(
            "**Dependencies:**\n- {}/openspec/changes/add-login/proposal.md — ",
            root.display()
        )),
        "{expected}"
    );
    assert_eq!(specs.outcome, HookOutcome::Ok(Some(expected)));
    let HookOutcome::Ok(Some(block)) = engine.enrich_prompt(&step("specs", false)).outcome else {
        panic!()
    };
    assert!(block.starts_with(&format!(
        "**Output path:** {}/openspec/changes/add-login/specs/**/*.md\n**Template:**\n~~~markdown\n# Spec Delta\n",
        root.display()
    )));
    assert!(block.ends_with(
        "\n\nFollow the template's structure, then write your output to the output path."
    ));

    // A step that continues its session has already seen the dependencies.
    let continued = engine.enrich_prompt(&step("specs", true));
    let expected = expected_enrichment(&instructions, true);
    assert!(!expected.contains("**Dependencies:**"));
    assert_eq!(continued.outcome, HookOutcome::Ok(Some(expected)));

    // Steps that are not artifacts get nothing, silently.
    let other = engine.enrich_prompt(&step("implement", false));
    assert_eq!(other.outcome, HookOutcome::Skipped);
    assert_eq!(other.record.unwrap().message, None);
}

#[test]
fn validate_step_rejects_until_the_artifact_is_done() {
    let project = OpenSpecProject::new();
    project.new_change();
    let mut engine = project
        .engine(&ARTIFACTS, &[("change_name", CHANGE)])
        .unwrap();
    project.write("proposal.md", "# Proposal\n");
    assert_eq!(
        engine.validate_step(&step("proposal", false)).outcome,
        HookOutcome::Ok(())
    );
    let result = engine.validate_step(&step("specs", false));
    assert_eq!(
        result.outcome,
        HookOutcome::Rejected("artifact \"specs\" is not done yet (status: ready)".into())
    );
    let record = result.record.unwrap();
    assert_eq!(record.outcome, "rejected");
    assert_eq!(record.exit_code, Some(0));
    project.write("specs/auth/spec.md", "# Spec Delta\n");
    // `status` runs fresh in validate_step, so the new file counts at once.
    assert_eq!(
        engine.validate_step(&step("specs", false)).outcome,
        HookOutcome::Ok(())
    );
    assert_eq!(
        engine.validate_step(&step("tasks", false)).outcome,
        HookOutcome::Rejected("artifact \"tasks\" is not done yet (status: blocked)".into())
    );
    assert_eq!(
        engine.validate_step(&step("implement", false)).outcome,
        HookOutcome::Skipped
    );
}

#[test]
fn openspec_attach_checks_the_change_name() {
    let project = OpenSpecProject::new();
    let needs = "engine openspec: the openspec engine needs parameter \"change_name\" (set engine.change_param to use another parameter)";
    assert_eq!(
        project.engine(&ARTIFACTS, &[]).err().as_deref(),
        Some(needs)
    );
    assert_eq!(
        project
            .engine(&ARTIFACTS, &[("change_name", "")])
            .err()
            .as_deref(),
        Some(needs)
    );
    for bad in ["team/add-login", "..", "../x"] {
        assert_eq!(
            project.engine(&ARTIFACTS, &[("change_name", bad)]).err(),
            Some(format!(
                "engine openspec: invalid change name \"{bad}\": it must not contain \"/\", \"\\\" or \"..\""
            ))
        );
    }
}

#[test]
fn workflow_info_follows_static_sub_workflows() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "main.yaml",
        "name: main\nsteps:\n  - id: proposal\n    prompt: p\n  - id: more\n    steps:\n      - id: specs\n        workflow: sub.yaml\n  - id: dynamic\n    workflow: \"{{run_id}}.yaml\"\n",
    );
    write(
        "sub.yaml",
        "name: sub\nsteps:\n  - id: design\n    prompt: d\n  - id: proposal\n    prompt: again\n",
    );
    let project = Project {
        dir: root.clone(),
        user_dir: None,
        home: None,
    };
    let composition = load_composition(
        Source::File(root.join("main.yaml")),
        &project,
        &LoadContext::default(),
    );
    assert_eq!(composition.diagnostics, Vec::new());
    let main: Arc<_> = composition.root.unwrap();
    let info = workflow_info(&main, &composition.files, &project);
    assert_eq!(
        info,
        WorkflowInfo {
            name: "main".into(),
            file: root.join("main.yaml").display().to_string(),
            step_ids: vec![
                "proposal".into(),
                "more".into(),
                "specs".into(),
                "dynamic".into()
            ],
            top_level_step_ids: vec!["proposal".into(), "more".into(), "dynamic".into()],
            reachable_step_ids: vec![
                "proposal".into(),
                "more".into(),
                "specs".into(),
                "dynamic".into(),
                "design".into()
            ],
            has_sub_workflows: true,
        }
    );
    let proposal = StepInfo::new(&main.steps[0], "proposal", Some("claude"), false);
    assert_eq!(
        serde_json::to_value(&proposal).unwrap(),
        serde_json::json!({"id": "proposal", "path": "proposal", "kind": "agent", "mode": "interactive",
            "cli": "claude", "session_strategy": "new", "continues_session": false})
    );
    let group = StepInfo::new(&main.steps[1], "more", None, false);
    assert_eq!((group.kind.as_str(), group.mode), ("group", None));
}

#[test]
fn validate_reports_every_problem_of_an_engine_file() {
    Test::new()
        .write(
            ".agent-runner/engines/todo.yaml",
            "format_version: 1\nname: todo\nrequires: [grep]\ndata:\n  count: {run: [sh, -c, 'grep -rc TODO src'], output: text, cache: none}\nhooks:\n  validate_step:\n    needs: [count]\n    when: '{{eq step.id \"implement\"}}'\n    eror: x\n    error: '{{#if (ne data.count \"0\")}}{{data.count}} left{{/if}'\n  enrich_prompt:\n    template: '{{uppercase step.id}} {{outptu}}'\n",
        )
        .args(["--validate", ".agent-runner/engines/todo.yaml"])
        .status(3)
        .stderr(
            ".agent-runner/engines/todo.yaml:10:5: error[unknown-key]: hooks.validate_step: unknown key \"eror\" (did you mean \"error\"?)\n\
             .agent-runner/engines/todo.yaml:11:12: error[engine-template]: hooks.validate_step: invalid template in \"error\": invalid syntax (an unclosed block or tag, or a stray \"{{\"?) at line 1, column 52 of the template\n\
             .agent-runner/engines/todo.yaml:13:15: error[engine-helper]: hooks.enrich_prompt: unknown template helper \"uppercase\" in \"template\"; available: if, unless, each, with, lookup, eq, ne, gt, gte, lt, lte, and, or, not, len, contains, pluck, difference, join, concat, trim, path_join, file_exists, json, default, safe_name\n\
             .agent-runner/engines/todo.yaml:13:15: error[engine-variable]: hooks.enrich_prompt: unknown variable \"outptu\" in \"template\"; known here: params, options, vars, workflow, run, project_dir, data, step, let\n\
             agent-runner: validation failed: 4 error(s), 0 warning(s) in 1 file(s)\n",
        )
        .run();
}

#[test]
fn validate_accepts_the_minimal_example_engine() {
    Test::new()
        .write(
            ".agent-runner/engines/todo.yaml",
            "# .agent-runner/engines/todo.yaml — enrich \"implement\" steps with open TODOs, require zero left after.\nformat_version: 1\nname: todo\nhooks:\n  enrich_prompt:\n    when: '{{eq step.id \"implement\"}}'\n    run: [sh, -c, \"grep -rn 'TODO' src || true\"]\n    output: text\n    template: \"Open TODO markers:\\n{{output}}\"\n  validate_step:\n    when: '{{eq step.id \"implement\"}}'\n    run: [sh, -c, \"grep -rc 'TODO' src | awk -F: '{s+=$2} END {print s+0}'\"]\n    output: text\n    error: '{{#if (ne output \"0\")}}{{output}} TODO markers are still in src/{{/if}}'\n  state_dir:\n    path: \".work\"\n",
        )
        .args(["--validate", ".agent-runner/engines/todo.yaml"])
        .stdout("ok: .agent-runner/engines/todo.yaml (1 file checked)\n")
        .run();
}
