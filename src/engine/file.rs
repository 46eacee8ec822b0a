//! Engine files → [`EngineSpec`], with every problem as a diagnostic (engines.md §2).
//!
//! [`analyze`] walks the YAML tree of an engine file the way the workflow loader walks a workflow:
//! strict key sets with did-you-mean, typed values, every template compiled and checked for its
//! helpers and the variables available where it stands ([`templates`](super::templates)). It
//! reports all findings, and gives a spec only when there are no errors.
//! [`workflow::engine_file`](crate::workflow::engine_file) wraps it with reading, YAML parsing
//! and positions, for `--validate` and for [`find`](super::find).

use super::spec::{
    CachePolicy, DataDecl, EngineSpec, HookDecl, HookKind, OnError, OptionDecl, OutputKind,
};
use super::templates::{self, Scope};
use crate::workflow::fields::{A_MAPPING, A_STRING, Location, MapReader, Sink, Target};
use crate::workflow::positions::join;
use crate::workflow::yaml::Node;

pub const ENGINE_KEYS: &[&str] = &[
    "format_version",
    "name",
    "description",
    "requires",
    "options",
    "vars",
    "checks",
    "data",
    "hooks",
];
pub const OPTION_KEYS: &[&str] = &["description", "default", "required"];
pub const DATA_KEYS: &[&str] = &["run", "output", "cache"];
const HOOK_COMMON_KEYS: &[&str] = &["needs", "when", "run", "output", "let", "on_error"];

/// Names every engine template may use.
const BASE_ROOTS: &[&str] = &[
    "params",
    "options",
    "vars",
    "workflow",
    "run",
    "project_dir",
];

/// What analysis found: the spec (only without errors) and the declared option names (always,
/// so the loader can check a workflow's `engine:` block even against a broken file).
#[derive(Debug, Default)]
pub struct Analysis {
    pub spec: Option<EngineSpec>,
    pub options: Vec<String>,
}

/// Analyses the root node of an engine file; `stem` is the file name without `.yaml` and
/// `source` the name the spec records.
pub fn analyze(node: &Node, stem: &str, source: &str, sink: &mut Sink) -> Analysis {
    let Node::Map(entries) = node else {
        sink.error(
            "not-a-mapping",
            "an engine file must be a YAML mapping with \"format_version\" and \"name\"".to_owned(),
            "",
            Target::Value,
        );
        return Analysis::default();
    };
    let errors_before = sink.error_count();
    let r = MapReader::new(entries, "");
    r.check_keys(ENGINE_KEYS, sink);
    format_version(&r, sink);
    let name = name(&r, stem, sink);
    let description = r.string("description", sink).unwrap_or_default().to_owned();
    let requires = string_list(&r, "requires", sink);
    let options = options(&r, sink);
    let vars = vars(&r, sink);
    let checks = checks(&r, sink);
    let data = data(&r, sink);
    // Names under `data`, also those with errors of their own (`needs` should not add one).
    let declared: Vec<&str> = r
        .get("data")
        .and_then(Node::as_map)
        .map(|entries| entries.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let hooks = hooks(&r, &declared, sink);
    let option_names = options.iter().map(|o| o.name.clone()).collect();
    let spec = (sink.error_count() == errors_before).then(|| EngineSpec {
        name: name.unwrap_or_else(|| stem.to_owned()),
        description,
        source: source.to_owned(),
        requires,
        options,
        vars,
        checks,
        data,
        hooks,
    });
    Analysis {
        spec,
        options: option_names,
    }
}

fn format_version(r: &MapReader<'_, '_>, sink: &mut Sink) {
    match r.get("format_version") {
        None => missing(sink, "format_version", ""),
        Some(Node::Num { int: Some(1), .. }) => {}
        Some(other) => sink.error(
            "engine-format",
            format!("\"format_version\" must be 1, found {}", other.describe()),
            "format_version",
            Target::Value,
        ),
    }
}

fn name(r: &MapReader<'_, '_>, stem: &str, sink: &mut Sink) -> Option<String> {
    if !r.has("name") {
        missing(sink, "name", "");
        return None;
    }
    let name = r.string("name", sink)?;
    if name != stem {
        sink.error(
            "engine-name",
            format!("engine name \"{name}\" must equal the file name \"{stem}\""),
            "name",
            Target::Value,
        );
    }
    Some(name.to_owned())
}

fn missing(sink: &mut Sink, key: &str, parent: &str) {
    sink.error(
        "missing-key",
        format!("missing required key \"{key}\""),
        parent,
        Target::Value,
    );
}

/// Runs `f` with the sink's location set to `location` (`hooks.enrich_prompt`, `vars.change`).
fn at<T>(sink: &mut Sink, location: &str, f: impl FnOnce(&mut Sink) -> T) -> T {
    let saved = std::mem::replace(
        &mut sink.location,
        Location::Text(location.to_owned().into()),
    );
    let result = f(sink);
    sink.location = saved;
    result
}

/// A list of strings; other items are `wrong-type`.
fn string_list(r: &MapReader<'_, '_>, key: &str, sink: &mut Sink) -> Vec<String> {
    let Some(items) = r.list(key, sink) else {
        return Vec::new();
    };
    let base = r.path_of(key);
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Node::Str(s) => out.push(s.clone()),
            other => sink.wrong_type(
                &format!("{key}[{i}]"),
                A_STRING,
                other,
                &format!("{base}[{i}]"),
            ),
        }
    }
    out
}

fn options(r: &MapReader<'_, '_>, sink: &mut Sink) -> Vec<OptionDecl> {
    let Some(entries) = r.map("options", sink) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(entries.len());
    for (name, node) in entries {
        let path = join("options", name);
        let decl = at(sink, &path, |sink| {
            let mut decl = OptionDecl {
                name: name.clone(),
                description: String::new(),
                default: None,
                required: false,
            };
            let entries: &[(String, Node)] = match node {
                Node::Null => &[],
                Node::Map(entries) => entries,
                other => {
                    sink.wrong_type(name, A_MAPPING, other, &path);
                    return decl;
                }
            };
            let o = MapReader::new(entries, &path);
            o.check_keys(OPTION_KEYS, sink);
            decl.description = o.string("description", sink).unwrap_or_default().to_owned();
            decl.default = o.scalar("default", sink);
            decl.required = o.bool("required", sink).unwrap_or(false);
            if decl.required && decl.default.is_some() {
                sink.warning(
                    "engine-option",
                    format!("option \"{name}\" has a default, so \"required: true\" has no effect"),
                    o.path_of("required"),
                    Target::Key,
                );
            }
            decl
        });
        out.push(decl);
    }
    out
}

/// A mapping of names to template strings, each checked with the roots `roots(index)` allows.
fn vars(r: &MapReader<'_, '_>, sink: &mut Sink) -> Vec<(String, String)> {
    let Some(entries) = r.map("vars", sink) else {
        return Vec::new();
    };
    let scope = Scope {
        roots: BASE_ROOTS,
        needs: None,
    };
    let mut out = Vec::with_capacity(entries.len());
    for (name, node) in entries {
        let path = join("vars", name);
        at(sink, &path, |sink| {
            if let Some(text) = template_node(node, name, scope, &path, sink) {
                out.push((name.clone(), text));
            }
        });
    }
    out
}

fn checks(r: &MapReader<'_, '_>, sink: &mut Sink) -> Vec<String> {
    let Some(items) = r.list("checks", sink) else {
        return Vec::new();
    };
    let scope = Scope {
        roots: BASE_ROOTS,
        needs: None,
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, node) in items.iter().enumerate() {
        let field = format!("checks[{i}]");
        at(sink, &field.clone(), |sink| {
            if let Some(text) = template_node(node, &field, scope, &field, sink) {
                out.push(text);
            }
        });
    }
    out
}

/// A string template at `path`, checked; other kinds are `wrong-type`.
fn template_node(
    node: &Node,
    field: &str,
    scope: Scope<'_>,
    path: &str,
    sink: &mut Sink,
) -> Option<String> {
    match node {
        Node::Str(text) => {
            templates::check(text, field, scope, path, sink);
            Some(text.clone())
        }
        other => {
            sink.wrong_type(field, A_STRING, other, path);
            None
        }
    }
}

/// The template at `key` of `r`, checked.
fn template_key(
    r: &MapReader<'_, '_>,
    key: &str,
    scope: Scope<'_>,
    sink: &mut Sink,
) -> Option<String> {
    let node = r.get(key)?;
    template_node(node, key, scope, &r.path_of(key).to_string(), sink)
}

/// `run: [argv...]`: a non-empty list of string templates.
fn argv(r: &MapReader<'_, '_>, scope: Scope<'_>, sink: &mut Sink) -> Option<Vec<String>> {
    let items = r.list("run", sink)?;
    let path = r.path_of("run");
    if items.is_empty() {
        sink.error(
            "empty-value",
            "\"run\" must not be empty".to_owned(),
            path,
            Target::Value,
        );
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("run[{i}]");
        let item_path = format!("{path}[{i}]");
        // Numbers and booleans are fine as arguments (`[sleep, 1]`).
        match item.scalar_text() {
            Some(text) => {
                templates::check(&text, &field, scope, &item_path, sink);
                out.push(text);
            }
            None => sink.wrong_type(&field, A_STRING, item, &item_path),
        }
    }
    Some(out)
}

fn data(r: &MapReader<'_, '_>, sink: &mut Sink) -> Vec<DataDecl> {
    let Some(entries) = r.map("data", sink) else {
        return Vec::new();
    };
    let roots: Vec<&str> = BASE_ROOTS.iter().copied().chain(["step"]).collect();
    let scope = Scope {
        roots: &roots,
        needs: None,
    };
    let mut out = Vec::with_capacity(entries.len());
    for (name, node) in entries {
        let path = join("data", name);
        at(sink, &path, |sink| {
            let Node::Map(entries) = node else {
                sink.wrong_type(name, A_MAPPING, node, &path);
                return;
            };
            let d = MapReader::new(entries, &path);
            d.check_keys(DATA_KEYS, sink);
            if !d.has("run") {
                missing(sink, "run", &path);
            }
            let run = argv(&d, scope, sink);
            let output = d.keyword("output", OutputKind::ALL, OutputKind::parse, sink);
            let cache = d.keyword("cache", CachePolicy::ALL, CachePolicy::parse, sink);
            if let Some(run) = run {
                out.push(DataDecl {
                    name: name.clone(),
                    run,
                    output: output.unwrap_or_default(),
                    cache: cache.unwrap_or_default(),
                });
            }
        });
    }
    out
}

fn hooks(r: &MapReader<'_, '_>, data: &[&str], sink: &mut Sink) -> Vec<HookDecl> {
    let Some(entries) = r.map("hooks", sink) else {
        return Vec::new();
    };
    let names: Vec<&str> = HookKind::ALL.iter().map(|k| k.as_str()).collect();
    let hooks_reader = MapReader::new(entries, "hooks");
    hooks_reader.check_keys(&names, sink);
    let mut out = Vec::new();
    for (key, node) in entries {
        let Some(kind) = HookKind::parse(key) else {
            continue;
        };
        let path = join("hooks", key);
        let hook = at(sink, &path, |sink| {
            let Node::Map(entries) = node else {
                sink.wrong_type(key, A_MAPPING, node, &path);
                return None;
            };
            hook(kind, &MapReader::new(entries, &path), data, sink)
        });
        out.extend(hook);
    }
    out
}

fn hook(kind: HookKind, h: &MapReader<'_, '_>, data: &[&str], sink: &mut Sink) -> Option<HookDecl> {
    let mut allowed = HOOK_COMMON_KEYS.to_vec();
    allowed.push(kind.result_key());
    h.check_keys(&allowed, sink);
    let needs = string_list(h, "needs", sink);
    for (i, need) in needs.iter().enumerate() {
        if !data.contains(&need.as_str()) {
            sink.error(
                "engine-needs",
                format!(
                    "\"needs\" lists \"{need}\", which is not declared under \"data\"{}",
                    if data.is_empty() {
                        String::new()
                    } else {
                        format!(" (declared: {})", data.join(", "))
                    }
                ),
                &format!("{}[{i}]", h.path_of("needs")),
                Target::Value,
            );
        }
    }
    let mut roots: Vec<&str> = BASE_ROOTS.iter().copied().chain(["data"]).collect();
    if kind.has_step() {
        roots.push("step");
    }
    let before_run = Scope {
        roots: &roots,
        needs: Some(&needs),
    };
    let when = template_key(h, "when", before_run, sink);
    let run = if h.has("run") {
        argv(h, before_run, sink)
    } else {
        None
    };
    let output = h.keyword("output", OutputKind::ALL, OutputKind::parse, sink);
    let on_error = h.keyword("on_error", OnError::ALL, OnError::parse, sink);
    let mut after_roots = roots.clone();
    if h.has("run") {
        after_roots.push("output");
    }
    after_roots.push("let");
    let after_run = Scope {
        roots: &after_roots,
        needs: Some(&needs),
    };
    let mut lets = Vec::new();
    if let Some(entries) = h.map("let", sink) {
        let let_path = h.path_of("let");
        for (name, node) in entries {
            let field = join("let", name);
            if let Some(text) = template_node(
                node,
                &field,
                after_run,
                &let_path.key(name).to_string(),
                sink,
            ) {
                lets.push((name.clone(), text));
            }
        }
    }
    let result_key = kind.result_key();
    if !h.has(result_key) {
        missing(sink, result_key, &h.path.to_string());
    }
    let result = template_key(h, result_key, after_run, sink)?;
    Some(HookDecl {
        kind,
        needs,
        when,
        run,
        output: output.unwrap_or_default(),
        lets,
        result,
        on_error: on_error.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::yaml;

    fn run(text: &str) -> (Analysis, Vec<String>) {
        let node = yaml::parse(text).unwrap();
        let mut sink = Sink::default();
        let analysis = analyze(&node, "todo", "t.yaml", &mut sink);
        let found = sink
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{} @{} [{}]: {}",
                    f.diagnostic.code, f.path, f.diagnostic.location, f.diagnostic.message
                )
            })
            .collect();
        (analysis, found)
    }

    #[test]
    fn the_minimal_example_of_the_spec_is_valid() {
        let text = r#"
format_version: 1
name: todo
hooks:
  enrich_prompt:
    when: '{{eq step.id "implement"}}'
    run: [sh, -c, "grep -rn 'TODO' src || true"]
    output: text
    template: "Open TODO markers:\n{{output}}"
  validate_step:
    when: '{{eq step.id "implement"}}'
    run: [sh, -c, "grep -rc 'TODO' src | awk -F: '{s+=$2} END {print s+0}'"]
    output: text
    error: '{{#if (ne output "0")}}{{output}} TODO markers are still in src/{{/if}}'
  state_dir:
    path: ".work"
"#;
        let (analysis, found) = run(text);
        assert_eq!(found, Vec::<String>::new());
        let spec = analysis.spec.unwrap();
        assert_eq!(spec.hooks.len(), 3);
        let enrich = spec.hook(HookKind::EnrichPrompt).unwrap();
        assert_eq!(enrich.output, OutputKind::Text);
        assert_eq!(enrich.run.as_ref().unwrap()[0], "sh");
        assert_eq!(spec.hook(HookKind::StateDir).unwrap().result, ".work");
    }

    #[test]
    fn reports_every_problem_with_its_location() {
        let text = r#"
format_version: 1
name: todo
requires: [git, 3]
options:
  a: {description: x, default: y, required: true, typo: 1}
  b: 5
vars:
  v: "{{params.x}}"
  w: [1]
checks:
  - "{{#if vars.v}}"
data:
  status: {run: [], output: yaml, cahce: none}
  other: {output: json}
hooks:
  enrich_prompt:
    needs: [status, nope]
    when: "{{output.x}}"
    error: "x"
  validate_stpe:
    error: ""
  state_dir:
    path: "{{uppercase project_dir}}"
"#;
        let (analysis, found) = run(text);
        assert!(analysis.spec.is_none());
        assert_eq!(analysis.options, ["a", "b"]);
        let expected = [
            "wrong-type @requires[1] [top level]: \"requires[1]\" must be a string, found number 3",
            "unknown-key @options.a.typo [options.a]: unknown key \"typo\"; allowed here: description, default, required",
            "engine-option @options.a.required [options.a]: option \"a\" has a default, so \"required: true\" has no effect",
            "wrong-type @options.b [options.b]: \"b\" must be a mapping, found number 5",
            "wrong-type @vars.w [vars.w]: \"w\" must be a string, found a list",
            "engine-template @checks[0] [checks[0]]: invalid template in \"checks[0]\": invalid syntax (an unclosed block or tag, or a stray \"{{\"?) at line 1, column 15 of the template",
            "unknown-key @data.status.cahce [data.status]: unknown key \"cahce\" (did you mean \"cache\"?)",
            "empty-value @data.status.run [data.status]: \"run\" must not be empty",
            "invalid-value @data.status.output [data.status]: invalid output \"yaml\": use json or text",
            "missing-key @data.other [data.other]: missing required key \"run\"",
            "unknown-key @hooks.validate_stpe [top level]: unknown key \"validate_stpe\" (did you mean \"validate_step\"?)",
            "unknown-key @hooks.enrich_prompt.error [hooks.enrich_prompt]: unknown key \"error\"; allowed here: needs, when, run, output, let, on_error, template",
            "engine-needs @hooks.enrich_prompt.needs[1] [hooks.enrich_prompt]: \"needs\" lists \"nope\", which is not declared under \"data\" (declared: status, other)",
            "engine-variable @hooks.enrich_prompt.when [hooks.enrich_prompt]: unknown variable \"output\" in \"when\"; known here: params, options, vars, workflow, run, project_dir, data, step",
            "missing-key @hooks.enrich_prompt [hooks.enrich_prompt]: missing required key \"template\"",
        ];
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.push(format!(
            "engine-helper @hooks.state_dir.path [hooks.state_dir]: unknown template helper \"uppercase\" in \"path\"; available: {}",
            crate::engine::helpers::HELPER_NAMES.join(", ")
        ));
        assert_eq!(found, expected);
    }
}
