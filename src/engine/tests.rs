//! Unit tests of attached engines: attach, the hook stages, the data cache, failure rules, and
//! engine lookup. Commands are small `sh -c` scripts run in a temporary project dir.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use pretty_assertions::assert_eq;
use tempfile::TempDir;

use super::*;
use crate::workflow::engine_file::check_bytes;
use crate::workflow::resolve::Project;

fn spec(yaml: &str) -> EngineSpec {
    let file = check_bytes(yaml.as_bytes(), "t", "t.yaml");
    match file.spec {
        Some(spec) => spec,
        None => panic!("invalid test engine: {:#?}", file.diagnostics),
    }
}

fn context(dir: &Path) -> EngineContext {
    let workflow = WorkflowInfo {
        name: "wf".into(),
        file: "/x/wf.yaml".into(),
        step_ids: vec!["a".into(), "b".into()],
        top_level_step_ids: vec!["a".into()],
        reachable_step_ids: vec!["a".into(), "b".into()],
        has_sub_workflows: false,
    };
    let mut ctx = EngineContext::new(dir.to_path_buf(), "wf-20260101-000000-abcd", workflow);
    ctx.timeout = Duration::from_secs(10);
    ctx
}

fn attach(yaml: &str, dir: &Path) -> Engine {
    attach_with(yaml, dir, &[], &[])
        .map(|(engine, _)| engine)
        .unwrap_or_else(|e| panic!("attach failed: {e}"))
}

fn attach_with(
    yaml: &str,
    dir: &Path,
    options: &[(&str, &str)],
    params: &[(&str, &str)],
) -> Result<(Engine, Vec<String>), EngineError> {
    let options: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let params: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Engine::attach(spec(yaml), &options, &params, context(dir))
}

fn step(id: &str) -> StepInfo {
    StepInfo {
        id: id.into(),
        path: id.into(),
        kind: "agent".into(),
        mode: Some("headless".into()),
        cli: Some("claude".into()),
        session_strategy: Some("new".into()),
        continues_session: false,
    }
}

const HEAD: &str = "format_version: 1\nname: t\n";

#[test]
fn attach_fills_options_renders_vars_in_order_and_runs_checks() {
    let dir = TempDir::new().unwrap();
    let yaml = format!(
        "{HEAD}options:\n  p: {{default: change}}\n  extra: {{}}\nvars:\n  a: \"{{{{lookup params options.p}}}}\"\n  b: \"[{{{{vars.a}}}}{{{{options.extra}}}}]\"\nchecks:\n  - \"{{{{#unless vars.a}}}}needs {{{{options.p}}}}{{{{/unless}}}}\"\n"
    );
    let (engine, warnings) = attach_with(&yaml, dir.path(), &[], &[("change", "x")]).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(engine.vars()["b"], "[x]");
    let err = attach_with(&yaml, dir.path(), &[("p", "other")], &[("change", "x")])
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "engine t: needs other");
    let err = attach_with(&yaml, dir.path(), &[("nope", "1")], &[])
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "engine \"t\" has no option \"nope\"");
    let required = format!("{HEAD}options:\n  p: {{required: true}}\n");
    let err = attach_with(&required, dir.path(), &[], &[]).err().unwrap();
    assert_eq!(err.to_string(), "engine \"t\" needs option \"p\"");
}

#[test]
fn a_var_that_cannot_render_is_an_attach_error() {
    let dir = TempDir::new().unwrap();
    let yaml = format!("{HEAD}vars:\n  a: \"{{{{params.missing}}}}\"\n");
    let err = attach_with(&yaml, dir.path(), &[], &[]).err().unwrap();
    assert_eq!(
        err.to_string(),
        "engine t: cannot compute var \"a\": \"params.missing\" is not defined"
    );
}

#[test]
fn a_missing_required_binary_is_a_warning_and_hooks_that_run_it_fail() {
    let dir = TempDir::new().unwrap();
    let yaml = format!(
        "{HEAD}requires: [sh, agent-runner-no-such-tool]\nhooks:\n  enrich_prompt:\n    run: [agent-runner-no-such-tool]\n    template: x\n  validate_step:\n    run: [agent-runner-no-such-tool]\n    on_error: fail\n    error: x\n"
    );
    let (mut engine, warnings) = attach_with(&yaml, dir.path(), &[], &[]).unwrap();
    assert_eq!(
        warnings,
        ["engine t: \"agent-runner-no-such-tool\" is not on PATH"]
    );
    let result = engine.enrich_prompt(&step("a"));
    assert_eq!(
        result.outcome,
        HookOutcome::Error("\"agent-runner-no-such-tool\" is not on PATH".into())
    );
    let record = result.record.unwrap();
    assert_eq!(record.outcome, "error");
    assert_eq!(record.hook, "enrich_prompt");
    assert_eq!(record.argv, Some(vec!["agent-runner-no-such-tool".into()]));
    assert_eq!(
        engine.validate_step(&step("a")).outcome,
        HookOutcome::Rejected("\"agent-runner-no-such-tool\" is not on PATH".into())
    );
}

#[test]
fn enrich_prompt_renders_output_and_let_and_trims() {
    let dir = TempDir::new().unwrap();
    let yaml = format!(
        r#"{HEAD}hooks:
  enrich_prompt:
    when: '{{{{eq step.id "a"}}}}'
    run: [sh, -c, 'printf "{{\"n\": %s, \"dir\": \"%s\"}}" 2 "$(pwd)"', "{{{{step.id}}}}"]
    let:
      twice: "{{{{output.n}}}}{{{{output.n}}}}"
    template: "\n  n={{{{let.twice}}}} cwd={{{{output.dir}}}} run={{{{run.id}}}} wf={{{{workflow.name}}}}\n\n"
"#
    );
    let mut engine = attach(&yaml, dir.path());
    let result = engine.enrich_prompt(&step("a"));
    let cwd = dir.path().canonicalize().unwrap();
    assert_eq!(
        result.outcome,
        HookOutcome::Ok(Some(format!(
            "n=22 cwd={} run=wf-20260101-000000-abcd wf=wf",
            cwd.display()
        )))
    );
    let record = result.record.unwrap();
    assert_eq!(record.exit_code, Some(0));
    assert_eq!(record.argv.unwrap()[3], "a");
    // `when` false: skipped, with a record and no command.
    let result = engine.enrich_prompt(&step("b"));
    assert_eq!(result.outcome, HookOutcome::Skipped);
    let record = result.record.unwrap();
    assert_eq!((record.outcome, record.argv), ("skipped", None));
    // A hook the engine does not define: skipped, nothing to log.
    assert_eq!(
        engine.validate_step(&step("a")),
        HookResult {
            outcome: HookOutcome::Skipped,
            record: None
        }
    );
}

/// An engine whose `status` data command counts its runs in `count` and fails while the file
/// `missing` exists.
fn counting_engine(cache: &str, on_error: &str) -> String {
    format!(
        r#"{HEAD}data:
  status:
    run: [sh, -c, 'echo x >> count; if [ -e missing ]; then echo "no change" >&2; exit 1; fi; echo "{{\"ids\": [\"a\", \"c\"]}}"']
    cache: {cache}
hooks:
  validate_workflow:
    needs: [status]
    on_error: {on_error}
    error: '{{{{#with (difference data.status.ids workflow.reachable_step_ids)}}}}{{{{#if (len this)}}}}missing steps: {{{{join this ", "}}}}{{{{/if}}}}{{{{/with}}}}'
  enrich_prompt:
    needs: [status]
    template: '{{{{join data.status.ids "+"}}}}'
"#
    )
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("count"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn data_is_cached_after_success_only() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("missing"), "").unwrap();
    let mut engine = attach(&counting_engine("engine", "skip"), dir.path());
    let result = engine.validate_workflow();
    assert_eq!(result.outcome, HookOutcome::Skipped);
    let record = result.record.unwrap();
    assert_eq!(record.outcome, "skipped");
    assert_eq!(record.exit_code, Some(1));
    let message = record.message.unwrap();
    assert!(
        message.starts_with("data \"status\": sh -c 'echo x >> count;"),
        "{message}"
    );
    assert!(
        message.ends_with("' failed with exit status 1: no change"),
        "{message}"
    );
    let result = engine.enrich_prompt(&step("a"));
    assert!(matches!(result.outcome, HookOutcome::Error(ref m) if m.ends_with(": no change")));
    assert_eq!(runs(dir.path()), 2);
    std::fs::remove_file(dir.path().join("missing")).unwrap();
    assert_eq!(
        engine.validate_workflow().outcome,
        HookOutcome::Rejected("missing steps: c".into())
    );
    assert_eq!(
        engine.enrich_prompt(&step("a")).outcome,
        HookOutcome::Ok(Some("a+c".into()))
    );
    // The success was cached: no third run, and the record shows no command.
    assert_eq!(runs(dir.path()), 3);
    let result = engine.enrich_prompt(&step("a"));
    assert_eq!(result.record.unwrap().argv, None);
    assert_eq!(runs(dir.path()), 3);
}

#[test]
fn cache_none_runs_every_time() {
    let dir = TempDir::new().unwrap();
    let mut engine = attach(&counting_engine("none", "skip"), dir.path());
    for _ in 0..3 {
        engine.enrich_prompt(&step("a"));
    }
    assert_eq!(runs(dir.path()), 3);
}

#[test]
fn on_error_fail_rejects_with_stderr() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("missing"), "").unwrap();
    let mut engine = attach(&counting_engine("engine", "fail"), dir.path());
    let result = engine.validate_workflow();
    assert_eq!(result.outcome, HookOutcome::Rejected("no change".into()));
    assert_eq!(result.record.unwrap().outcome, "rejected");
}

#[test]
fn invalid_json_and_timeouts_are_command_failures() {
    let dir = TempDir::new().unwrap();
    let yaml = format!(
        "{HEAD}hooks:\n  enrich_prompt:\n    run: [sh, -c, 'echo not json']\n    template: x\n  validate_step:\n    run: [sleep, 5]\n    output: text\n    on_error: fail\n    error: x\n"
    );
    let (spec, ctx) = (spec(&yaml), {
        let mut ctx = context(dir.path());
        ctx.timeout = Duration::from_millis(200);
        ctx
    });
    let (mut engine, _) = Engine::attach(spec, &[], &BTreeMap::new(), ctx).unwrap();
    let result = engine.enrich_prompt(&step("a"));
    assert_eq!(
        result.outcome,
        HookOutcome::Error(
            "sh -c 'echo not json' printed output that is not valid JSON (expected ident at line 1 column 2)".into()
        )
    );
    let result = engine.validate_step(&step("a"));
    assert_eq!(
        result.outcome,
        HookOutcome::Rejected("sleep 5 timed out after 0.2 s".into())
    );
    assert_eq!(result.record.unwrap().exit_code, None);
}

#[test]
fn a_template_that_fails_at_run_time_is_a_failure_of_the_hook() {
    let dir = TempDir::new().unwrap();
    let yaml = format!(
        "{HEAD}hooks:\n  enrich_prompt:\n    template: '{{{{step.nope}}}}'\n  validate_workflow:\n    on_error: fail\n    error: '{{{{join workflow.name \",\"}}}}'\n"
    );
    let mut engine = attach(&yaml, dir.path());
    assert_eq!(
        engine.enrich_prompt(&step("a")).outcome,
        HookOutcome::Error("cannot render \"template\": \"step.nope\" is not defined".into())
    );
    assert_eq!(
        engine.validate_workflow().outcome,
        HookOutcome::Rejected(
            "cannot render \"error\": helper \"join\": the first parameter must be a list, found a string"
                .into()
        )
    );
}

#[test]
fn state_dir_is_absolute_and_normalised() {
    let dir = TempDir::new().unwrap();
    let yaml = format!("{HEAD}hooks:\n  state_dir:\n    path: 'sub/../.work'\n");
    let mut engine = attach(&yaml, dir.path());
    let result = engine.state_dir();
    assert_eq!(
        result.outcome,
        HookOutcome::Ok(Some(dir.path().join(".work")))
    );
    let data = result.record.unwrap().to_json();
    assert_eq!(
        data.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "engine",
            "hook",
            "outcome",
            "argv",
            "exit_code",
            "duration_ms",
            "message"
        ]
    );
}

#[test]
fn find_looks_in_project_then_user_then_builtin() {
    let dir = TempDir::new().unwrap();
    let project = Project {
        dir: dir.path().join("p"),
        user_dir: Some(dir.path().join("u")),
        home: None,
    };
    assert_eq!(
        find("openspec", &project).unwrap().source,
        "builtin:openspec"
    );
    std::fs::create_dir_all(dir.path().join("u/engines")).unwrap();
    std::fs::write(
        dir.path().join("u/engines/openspec.yaml"),
        "format_version: 1\nname: openspec\n",
    )
    .unwrap();
    let found = find("openspec", &project).unwrap();
    assert!(
        found.source.ends_with("u/engines/openspec.yaml"),
        "{}",
        found.source
    );
    std::fs::create_dir_all(dir.path().join("p/.agent-runner/engines")).unwrap();
    std::fs::write(
        dir.path().join("p/.agent-runner/engines/openspec.yaml"),
        "format_version: 1\nname: open_spec\n",
    )
    .unwrap();
    let err = find("openspec", &project).unwrap_err();
    assert_eq!(
        err.to_string(),
        "engine file .agent-runner/engines/openspec.yaml is invalid (1 error(s)); run agent-runner --validate .agent-runner/engines/openspec.yaml"
    );
    let EngineError::Invalid { diagnostics, .. } = err else {
        panic!()
    };
    assert_eq!(
        diagnostics[0].to_string(),
        ".agent-runner/engines/openspec.yaml:2:7: error[engine-name]: top level: engine name \"open_spec\" must equal the file name \"openspec\""
    );
    assert_eq!(
        find("opensepc", &project).unwrap_err().to_string(),
        "unknown engine \"opensepc\" (did you mean \"openspec\"?); available: openspec"
    );
    assert!(matches!(
        find("../openspec", &project),
        Err(EngineError::Unknown { .. })
    ));
}

#[test]
fn the_builtin_openspec_engine_is_valid() {
    let bytes = crate::workflow::builtin::engine("openspec").unwrap();
    let file = check_bytes(bytes, "openspec", "builtin:openspec");
    assert_eq!(file.diagnostics, Vec::new());
    let spec = file.spec.unwrap();
    assert_eq!(spec.requires, ["openspec"]);
    assert_eq!(spec.hooks.len(), 3);
    assert!(spec.hook(HookKind::StateDir).is_none());
}

#[test]
fn openspec_checks_the_change_name() {
    let dir = TempDir::new().unwrap();
    let text = std::str::from_utf8(crate::workflow::builtin::engine("openspec").unwrap()).unwrap();
    let check = |params: &[(&str, &str)], options: &[(&str, &str)]| {
        let mut text = text.replace("name: openspec", "name: t");
        text.push('\n');
        attach_with(&text, dir.path(), options, params)
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(check(&[("change_name", "add-login")], &[]), None);
    assert_eq!(
        check(&[], &[]).as_deref(),
        Some(
            "engine t: the openspec engine needs parameter \"change_name\" (set engine.change_param to use another parameter)"
        )
    );
    assert_eq!(
        check(&[("change_name", "")], &[]).as_deref(),
        Some(
            "engine t: the openspec engine needs parameter \"change_name\" (set engine.change_param to use another parameter)"
        )
    );
    assert_eq!(
        check(&[("change_name", "x")], &[("change_param", "ticket")]).as_deref(),
        Some(
            "engine t: the openspec engine needs parameter \"ticket\" (set engine.change_param to use another parameter)"
        )
    );
    for bad in ["a/b", "..", "x..y", "a\\b"] {
        assert_eq!(
            check(&[("change_name", bad)], &[]),
            Some(format!(
                "engine t: invalid change name \"{bad}\": it must not contain \"/\", \"\\\" or \"..\""
            ))
        );
    }
}

/// A fake `openspec` that answers like an older version: `instructions` has no inline
/// `template`, so the engine looks for the schema's template file.
fn fake_openspec(dir: &Path) -> Vec<(String, String)> {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let change_dir = dir.join("openspec/changes/add-login");
    let script = format!(
        r#"#!/bin/sh
case "$1" in
  status) echo '{{"artifacts": [{{"id": "design", "status": "ready"}}]}}' ;;
  instructions) echo '{{"changeDir": "{}", "artifactId": "design", "schemaName": "old", "outputPath": "design.md", "instruction": "  Write the design.  ", "dependencies": []}}' ;;
esac
"#,
        change_dir.display()
    );
    let path = bin.join("openspec");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rest = std::env::var("PATH").unwrap_or_default();
    vec![("PATH".into(), format!("{}:{rest}", bin.display()))]
}

#[test]
fn openspec_enrichment_uses_a_template_file_or_none() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let yaml = std::str::from_utf8(crate::workflow::builtin::engine("openspec").unwrap())
        .unwrap()
        .replace("name: openspec", "name: t");
    let mut ctx = context(&root);
    ctx.env = fake_openspec(&root);
    let params = BTreeMap::from([("change_name".to_owned(), "add-login".to_owned())]);
    let (mut engine, warnings) = Engine::attach(spec(&yaml), &[], &params, ctx).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let change = root.join("openspec/changes/add-login");
    assert_eq!(
        engine.enrich_prompt(&step("design")).outcome,
        HookOutcome::Ok(Some(format!(
            "**Output path:** {}/design.md\n\nWrite the design.\n\nWrite your output to the output path.",
            change.display()
        )))
    );
    let template = root.join("openspec/schemas/old/templates/design.md");
    std::fs::create_dir_all(template.parent().unwrap()).unwrap();
    std::fs::write(&template, "# Design\n").unwrap();
    assert_eq!(
        engine.enrich_prompt(&step("design")).outcome,
        HookOutcome::Ok(Some(format!(
            "**Output path:** {}/design.md\n**Template:** {}\n\nWrite the design.\n\nFollow the template's structure, then write your output to the output path.",
            change.display(),
            template.display()
        )))
    );
}

#[test]
fn the_loader_knows_every_builtin_engine_and_its_options() {
    use crate::workflow::loader::BUILTIN_ENGINES;
    let names: Vec<&str> = crate::workflow::builtin::engine_names().collect();
    assert_eq!(
        names,
        BUILTIN_ENGINES.iter().map(|(n, _)| *n).collect::<Vec<_>>()
    );
    for (name, options) in BUILTIN_ENGINES {
        let bytes = crate::workflow::builtin::engine(name).unwrap();
        let file = check_bytes(bytes, name, name);
        assert_eq!(
            file.options, *options,
            "options of the built-in engine {name}"
        );
    }
}
