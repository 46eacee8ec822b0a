//! The engine template helpers (engines.md §2) and the registry engine templates render with.
//!
//! The registry starts from [`base_registry`] (strict, no escaping). Handlebars' `raw` and `log`
//! are removed so the helper set is exactly the documented one. Two built-ins are replaced where
//! strict mode would turn an ordinary value into an error: `lookup` gives `null` for a missing
//! key (`{{lookup params options.change_param}}` must yield an empty value, which a `checks`
//! template then explains, rather than abort the attach), and `with` over a value that exists but
//! is empty or false renders its `{{else}}` or nothing (Handlebars' own fails when there is no
//! `{{else}}`, so `{{#with (difference a b)}}` would fail exactly when nothing is missing).
//!
//! Our helpers return JSON values, so they compose in subexpressions: `pluck` gives a list that
//! `difference` and `join` take, `contains` and `file_exists` give booleans that `if` tests and
//! that render as `true`/`false`. Like the built-ins under strict mode, they refuse a missing
//! value, except `default`, whose purpose is to replace one.

use std::path::{Component, Path, PathBuf};

use handlebars::{
    BlockContext, BlockParams, Context, Handlebars, Helper, HelperDef, HelperResult, JsonTruthy,
    Output, RenderContext, RenderError, RenderErrorReason, Renderable, ScopedJson,
};
use serde_json::Value;

use crate::interpolate::base_registry;

/// Every helper an engine template may call: Handlebars' built-ins, then ours.
pub const HELPER_NAMES: &[&str] = &[
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "and",
    "or",
    "not",
    "len",
    "contains",
    "pluck",
    "difference",
    "join",
    "concat",
    "trim",
    "path_join",
    "file_exists",
    "json",
    "default",
    "safe_name",
];

/// The registry for an engine attached in `project_dir` (`file_exists` is relative to it).
pub fn registry(project_dir: &Path) -> Handlebars<'static> {
    let mut registry = base_registry();
    registry.unregister_helper("raw");
    registry.unregister_helper("log");
    registry.register_helper("with", Box::new(With));
    let computed: [(&'static str, usize, Option<usize>, ComputeFn); 11] = [
        ("lookup", 2, Some(2), Box::new(lookup)),
        ("contains", 2, Some(2), Box::new(contains)),
        ("pluck", 2, Some(2), Box::new(pluck)),
        ("difference", 2, Some(2), Box::new(difference)),
        ("join", 2, Some(2), Box::new(join)),
        ("concat", 1, None, Box::new(concat)),
        ("trim", 1, Some(1), Box::new(trim)),
        ("path_join", 1, None, Box::new(path_join)),
        ("json", 1, Some(1), Box::new(to_json)),
        ("default", 2, Some(2), Box::new(default)),
        ("safe_name", 1, Some(1), Box::new(safe_name)),
    ];
    for (name, min, max, f) in computed {
        registry.register_helper(name, Box::new(Computed { name, min, max, f }));
    }
    let project_dir = project_dir.to_path_buf();
    let file_exists: ComputeFn = Box::new(move |p| {
        let text = text_of(p[0]);
        Ok(Value::Bool(
            !text.is_empty() && project_dir.join(text).exists(),
        ))
    });
    registry.register_helper(
        "file_exists",
        Box::new(Computed {
            name: "file_exists",
            min: 1,
            max: Some(1),
            f: file_exists,
        }),
    );
    registry
}

type ComputeFn = Box<dyn Fn(&[&Value]) -> Result<Value, String> + Send + Sync>;

/// A helper that computes a value from its parameters, after checking their number.
struct Computed {
    name: &'static str,
    min: usize,
    max: Option<usize>,
    f: ComputeFn,
}

/// The parameter values, with the count checked and (except for `default`) no missing value.
fn param_values<'a>(
    h: &'a Helper<'_>,
    name: &str,
    min: usize,
    max: Option<usize>,
) -> Result<Vec<&'a Value>, RenderError> {
    let params = h.params();
    if params.len() < min || max.is_some_and(|max| params.len() > max) {
        let expected = match max {
            Some(max) if max == min => format!("{min}"),
            Some(max) => format!("{min} to {max}"),
            None => format!("at least {min}"),
        };
        return Err(fail(format!(
            "helper \"{name}\" takes {expected} parameter(s), got {}",
            params.len()
        )));
    }
    let mut values = Vec::with_capacity(params.len());
    for param in params {
        if param.is_value_missing() && name != "default" {
            let shown = param.relative_path().map_or("a value", String::as_str);
            return Err(fail(format!(
                "helper \"{name}\": \"{shown}\" is not defined"
            )));
        }
        values.push(param.value());
    }
    Ok(values)
}

fn fail(message: String) -> RenderError {
    RenderErrorReason::Other(message).into()
}

impl HelperDef for Computed {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let values = param_values(h, self.name, self.min, self.max)?;
        let value =
            (self.f)(&values).map_err(|e| fail(format!("helper \"{}\": {e}", self.name)))?;
        Ok(ScopedJson::Derived(value))
    }
}

/// `lookup <object|list> <key|index>`, giving `null` when there is no such entry.
fn lookup(p: &[&Value]) -> Result<Value, String> {
    let found = match (p[0], p[1]) {
        (Value::Object(map), key) => map.get(&text_of(key)),
        (Value::Array(items), Value::Number(n)) => n
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| items.get(i)),
        _ => None,
    };
    Ok(found.cloned().unwrap_or(Value::Null))
}

/// `{{#with value}}…{{else}}…{{/with}}`: the block with `value` as context when it is truthy,
/// else the `{{else}}` part or nothing. A missing value is still an error (strict mode).
struct With;

impl HelperDef for With {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let param = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("with", 0))?;
        if param.is_value_missing() {
            return Err(RenderError::strict_error(param.relative_path()));
        }
        if !param.value().is_truthy(false) {
            return match h.inverse() {
                Some(t) => t.render(r, ctx, rc, out),
                None => Ok(()),
            };
        }
        let mut block = BlockContext::new();
        match param.context_path() {
            Some(path) => block.base_path_mut().clone_from(path),
            None => block.set_base_value(param.value().clone()),
        }
        if let Some(parent) = rc.block() {
            block
                .local_variables_mut()
                .clone_from(parent.local_variables());
        }
        if let Some(name) = h.block_param() {
            let mut params = BlockParams::new();
            params.add_value(name, param.value().clone())?;
            block.set_block_params(params);
        }
        rc.push_block(block);
        let result = match h.template() {
            Some(t) => t.render(r, ctx, rc, out),
            None => Ok(()),
        };
        rc.pop_block();
        result
    }
}

/// A value as text: strings as they are, `null` as empty, anything else as JSON.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn list<'v>(value: &'v Value, what: &str) -> Result<&'v [Value], String> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(&[]),
        other => Err(format!("{what} must be a list, found {}", kind(other))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn contains(p: &[&Value]) -> Result<Value, String> {
    let found = match p[0] {
        Value::Array(items) => items.iter().any(|item| item == p[1]),
        Value::String(s) => s.contains(&text_of(p[1])),
        Value::Null => false,
        other => {
            return Err(format!(
                "the first parameter must be a list or a string, found {}",
                kind(other)
            ));
        }
    };
    Ok(Value::Bool(found))
}

fn pluck(p: &[&Value]) -> Result<Value, String> {
    let field = text_of(p[1]);
    let items = list(p[0], "the first parameter")?;
    Ok(Value::Array(
        items
            .iter()
            .filter_map(|item| item.get(&field).cloned())
            .collect(),
    ))
}

fn difference(p: &[&Value]) -> Result<Value, String> {
    let a = list(p[0], "the first parameter")?;
    let b = list(p[1], "the second parameter")?;
    Ok(Value::Array(
        a.iter().filter(|item| !b.contains(item)).cloned().collect(),
    ))
}

fn join(p: &[&Value]) -> Result<Value, String> {
    let items = list(p[0], "the first parameter")?;
    let texts: Vec<String> = items.iter().map(text_of).collect();
    Ok(Value::String(texts.join(&text_of(p[1]))))
}

/// Lists are concatenated into a list; anything else into a string.
fn concat(p: &[&Value]) -> Result<Value, String> {
    if p.iter().all(|v| v.is_array()) {
        let items = p.iter().flat_map(|v| list(v, "").unwrap_or_default());
        return Ok(Value::Array(items.cloned().collect()));
    }
    Ok(Value::String(p.iter().map(|v| text_of(v)).collect()))
}

fn trim(p: &[&Value]) -> Result<Value, String> {
    Ok(Value::String(text_of(p[0]).trim().to_owned()))
}

fn path_join(p: &[&Value]) -> Result<Value, String> {
    let mut joined = PathBuf::new();
    for part in p.iter().map(|v| text_of(v)).filter(|s| !s.is_empty()) {
        joined.push(part);
    }
    Ok(Value::String(normalize(&joined).display().to_string()))
}

/// Removes `.` and folds `..` lexically (a `..` at the start of a relative path is kept).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(component),
            },
            other => out.push(other),
        }
    }
    out.iter().collect()
}

fn to_json(p: &[&Value]) -> Result<Value, String> {
    serde_json::to_string(p[0])
        .map(Value::String)
        .map_err(|e| e.to_string())
}

/// The fallback when the value is missing, `null` or an empty string.
fn default(p: &[&Value]) -> Result<Value, String> {
    let empty = matches!(p[0], Value::Null) || p[0].as_str().is_some_and(str::is_empty);
    Ok(if empty { p[1] } else { p[0] }.clone())
}

fn safe_name(p: &[&Value]) -> Result<Value, String> {
    let s = text_of(p[0]);
    Ok(Value::Bool(
        !s.contains('/') && !s.contains('\\') && !s.contains(".."),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, data: &Value) -> Result<String, String> {
        registry(Path::new("/nonexistent-project"))
            .render_template(template, data)
            .map_err(|e| e.reason().to_string())
    }

    #[test]
    fn list_helpers_compose() {
        let data = json!({
            "artifacts": [{"id": "proposal"}, {"id": "specs"}, {"id": "design"}],
            "steps": ["proposal", "specs"],
        });
        assert_eq!(
            render(r#"{{join (pluck artifacts "id") ", "}}"#, &data).unwrap(),
            "proposal, specs, design"
        );
        assert_eq!(
            render(
                r#"{{join (difference (pluck artifacts "id") steps) "+"}}"#,
                &data
            )
            .unwrap(),
            "design"
        );
        assert_eq!(
            render(
                r#"{{contains steps "specs"}} {{contains steps "x"}}"#,
                &data
            )
            .unwrap(),
            "true false"
        );
        assert_eq!(
            render(r#"{{contains "add-login" "log"}}"#, &data).unwrap(),
            "true"
        );
        assert_eq!(
            render(r#"{{#if (contains steps "x")}}y{{else}}n{{/if}}"#, &data).unwrap(),
            "n"
        );
        assert_eq!(
            render("{{json (concat steps steps)}}", &data).unwrap(),
            r#"["proposal","specs","proposal","specs"]"#
        );
    }

    #[test]
    fn string_and_path_helpers() {
        let data = json!({"dir": "/a/b/changes/x", "s": "  pad \n", "n": null});
        assert_eq!(
            render(
                r#"{{path_join dir "../../schemas" "spec" (concat "specs" ".md")}}"#,
                &data
            )
            .unwrap(),
            "/a/b/schemas/spec/specs.md"
        );
        assert_eq!(
            render(r#"{{path_join "a/./b" "" "../c"}}"#, &data).unwrap(),
            "a/c"
        );
        assert_eq!(render("[{{trim s}}]", &data).unwrap(), "[pad]");
        assert_eq!(
            render(
                r#"{{default n "x"}}{{default missing "y"}}{{default s "z"}}"#,
                &data
            )
            .unwrap(),
            "xy  pad \n"
        );
        assert_eq!(
            render(
                r#"{{safe_name "ok-name"}} {{safe_name "a/b"}} {{safe_name "a\\b"}} {{safe_name "x..y"}}"#,
                &data
            )
            .unwrap(),
            "true false false false"
        );
        assert_eq!(
            render(r#"{{file_exists "Cargo.toml"}}"#, &data).unwrap(),
            "false"
        );
        let here = registry(Path::new(env!("CARGO_MANIFEST_DIR")));
        assert_eq!(
            here.render_template(r#"{{file_exists "Cargo.toml"}}"#, &data)
                .unwrap(),
            "true"
        );
    }

    #[test]
    fn lookup_of_a_missing_key_is_empty_and_strict_mode_stays_on() {
        let data = json!({"params": {"a": "1"}, "key": "b"});
        assert_eq!(render("[{{lookup params key}}]", &data).unwrap(), "[]");
        assert_eq!(render(r#"{{lookup params "a"}}"#, &data).unwrap(), "1");
        assert!(render("{{nope}}", &data).is_err());
        let err = render("{{trim nope}}", &data).unwrap_err();
        assert!(err.contains("\"nope\" is not defined"), "{err}");
        let err = render(r#"{{pluck "x" "id"}}"#, &data).unwrap_err();
        assert!(err.contains("must be a list, found a string"), "{err}");
        let err = render("{{join params}}", &data).unwrap_err();
        assert!(err.contains("takes 2 parameter(s), got 1"), "{err}");
        assert!(render("{{raw params}}", &data).is_err());
    }

    #[test]
    fn with_renders_nothing_or_else_for_an_empty_value_and_fails_for_a_missing_one() {
        let data = json!({"a": ["x"], "b": ["x", "y"], "o": {"k": "v"}});
        let diff = "{{#with (difference a b)}}[{{join this \",\"}}]{{/with}}";
        assert_eq!(render(diff, &data).unwrap(), "");
        let diff = "{{#with (difference b a)}}[{{join this \",\"}}]{{else}}none{{/with}}";
        assert_eq!(render(diff, &data).unwrap(), "[y]");
        assert_eq!(
            render("{{#with (difference a b)}}x{{else}}none{{/with}}", &data).unwrap(),
            "none"
        );
        assert_eq!(render("{{#with o}}{{k}}{{/with}}", &data).unwrap(), "v");
        assert_eq!(
            render("{{#with o as |p|}}{{p.k}}{{/with}}", &data).unwrap(),
            "v"
        );
        assert!(render("{{#with nope}}x{{/with}}", &data).is_err());
        // `if` tests a missing field (an older openspec without `template`) without failing.
        assert_eq!(render("{{#if o.t}}a{{else}}b{{/if}}", &data).unwrap(), "b");
    }
}
