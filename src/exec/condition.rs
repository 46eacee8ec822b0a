//! Evaluating a condition (`when:`, expression `break_if:`) against a scope's values (control.md
//! §6, §11 "Conditions, precisely").
//!
//! The expression was compiled when its file was loaded; here it gets a CEL context with only the
//! names it reads: parameters, captures and loop variables by name (loop variables win, then
//! captures, then parameters, as in templates), and the reserved `params`, `steps`, `run` and
//! `env`. A name that is statically known but has no value now (its step was skipped) is left
//! out of the context, so reading it fails the step with class `undefined_variable`; one the
//! expression tests with `has()` is bound to an empty map, so that `has(review.verdict)` is false.
//! Any other evaluation error, or a result that is not a boolean, fails the step with class
//! `invalid_value`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use cel::objects::{Key, Map};
use cel::{Context, Env, ExecutionError, Value};

use super::outcome::{ErrorClass, Failure};
use crate::state::{CaptureValue, Captures, StepResult};
use crate::workflow::Condition;

/// What a condition can read, borrowed from the run's state.
pub struct CondScope<'a> {
    pub params: &'a BTreeMap<String, String>,
    pub captures: &'a Captures,
    /// Every capture name of the file: a known name without a value is unset.
    pub capture_names: &'a BTreeSet<String>,
    pub loop_vars: &'a [(String, String)],
    pub steps: &'a BTreeMap<String, StepResult>,
    pub run: RunTotals<'a>,
}

/// `run.*` in a condition.
#[derive(Debug, Clone, Copy)]
pub struct RunTotals<'a> {
    pub id: &'a str,
    pub cost_usd: f64,
    pub tokens: u64,
}

/// The standard CEL environment, built once per process.
fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(Env::stdlib())).clone()
}

/// The CEL value of a capture: a string for captured text; for a JSON capture (control.md §7)
/// its value, objects as maps and arrays as lists.
pub fn capture_value(capture: &CaptureValue) -> Value {
    match capture {
        CaptureValue::Text(text) => Value::String(Arc::new(text.clone())),
        CaptureValue::Json(value) => json_value(value),
    }
}

/// A JSON value as CEL sees it: integers as `int` (or `uint` past `i64`), other numbers as
/// `double`.
fn json_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(text) => Value::String(Arc::new(text.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(json_value).collect()))
        }
        serde_json::Value::Object(fields) => {
            let map: HashMap<Key, Value> = fields
                .iter()
                .map(|(k, v)| (Key::from(k.as_str()), json_value(v)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// A string map as a CEL map.
fn string_map<'s>(pairs: impl Iterator<Item = (&'s str, &'s str)>) -> Value {
    let map: HashMap<Key, Value> = pairs.map(|(k, v)| (Key::from(k), Value::from(v))).collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// `steps.<id>` of one step.
fn step_value(result: &StepResult) -> Value {
    let mut map: HashMap<Key, Value> = HashMap::with_capacity(5);
    map.insert(Key::from("outcome"), Value::from(result.outcome.as_str()));
    map.insert(
        Key::from("exit_code"),
        result.exit_code.map_or(Value::Null, Value::Int),
    );
    map.insert(
        Key::from("class"),
        result
            .class
            .map_or(Value::Null, |class| Value::from(class.as_str())),
    );
    map.insert(
        Key::from("duration_ms"),
        Value::Int(i64::try_from(result.duration_ms).unwrap_or(i64::MAX)),
    );
    map.insert(
        Key::from("cost_usd"),
        Value::Float(
            result
                .cost_usd
                .as_ref()
                .and_then(serde_json::Number::as_f64)
                .unwrap_or(0.0),
        ),
    );
    Value::Map(Map { map: Arc::new(map) })
}

impl CondScope<'_> {
    /// The value of a reserved name or a variable; `None` when it has none now.
    fn value(&self, name: &str, guarded: bool) -> Option<Value> {
        match name {
            "params" => Some(string_map(
                self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )),
            "steps" => {
                let map: HashMap<Key, Value> = self
                    .steps
                    .iter()
                    .map(|(id, result)| (Key::from(id.as_str()), step_value(result)))
                    .collect();
                Some(Value::Map(Map { map: Arc::new(map) }))
            }
            "run" => {
                let mut map: HashMap<Key, Value> = HashMap::with_capacity(3);
                map.insert(Key::from("id"), Value::from(self.run.id));
                map.insert(Key::from("cost_usd"), Value::Float(self.run.cost_usd));
                map.insert(
                    Key::from("tokens"),
                    Value::Int(i64::try_from(self.run.tokens).unwrap_or(i64::MAX)),
                );
                Some(Value::Map(Map { map: Arc::new(map) }))
            }
            "env" => {
                let vars: Vec<(String, String)> = std::env::vars().collect();
                Some(string_map(
                    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ))
            }
            _ => {
                if let Some((_, value)) = self.loop_vars.iter().rev().find(|(n, _)| n == name) {
                    return Some(Value::from(value.as_str()));
                }
                if self.capture_names.contains(name) {
                    return match self.captures.get(name) {
                        Some(value) => Some(capture_value(value)),
                        // `has(review.verdict)` on a capture without a value is false.
                        None if guarded => Some(Value::Map(Map {
                            map: Arc::new(HashMap::new()),
                        })),
                        None => None,
                    };
                }
                self.params
                    .get(name)
                    .map(|value| Value::from(value.as_str()))
            }
        }
    }
}

/// Evaluates `condition`; `field` (`when`, `break_if`) names it in a failure.
pub fn evaluate(
    condition: &Condition,
    field: &str,
    scope: &CondScope<'_>,
) -> Result<bool, Failure> {
    let mut context = Context::with_env(env());
    let uses = condition.uses();
    for name in uses.names() {
        let guarded = uses.guarded().any(|g| g == name);
        if let Some(value) = scope.value(name, guarded) {
            context.add_variable_from_value(name, value);
        }
    }
    let text = condition.text();
    // The text compiled when its file was loaded, so this error is not expected.
    let expression = condition.expression().map_err(|err| {
        Failure::new(
            ErrorClass::InvalidValue,
            format!(
                "{field} {text:?} is not a valid expression: {}",
                err.message
            ),
        )
    })?;
    match Value::resolve(expression, &context) {
        Ok(Value::Bool(result)) => Ok(result),
        Ok(other) => Err(Failure::new(
            ErrorClass::InvalidValue,
            format!(
                "{field} {text:?} must be true or false, but it is {}",
                other.type_of()
            ),
        )),
        Err(ExecutionError::UndeclaredReference(name)) if !cel_defined(&name) => Err(Failure::new(
            ErrorClass::UndefinedVariable,
            format!(
                "{field} {text:?} reads \"{name}\", which has no value here (the step that sets it was skipped or has not run); guard it with has() or steps.<id>.outcome"
            ),
        )),
        Err(ExecutionError::NoSuchKey(key))
            if uses.steps().any(|id| id == key.as_str())
                && !scope.steps.contains_key(key.as_str()) =>
        {
            Err(Failure::new(
                ErrorClass::UndefinedVariable,
                format!(
                    "{field} {text:?} reads steps.{key}, but step \"{key}\" has not run in this scope; guard it with has(steps.{key})"
                ),
            ))
        }
        Err(err) => Err(Failure::new(
            ErrorClass::InvalidValue,
            format!("{field} {text:?} cannot be evaluated: {err}"),
        )),
    }
}

/// Whether an undeclared reference is to a name CEL defines itself (never the case for our
/// variables, which the name check knows).
fn cel_defined(name: &str) -> bool {
    crate::workflow::condition::is_cel_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        params: BTreeMap<String, String>,
        captures: Captures,
        capture_names: BTreeSet<String>,
        loop_vars: Vec<(String, String)>,
        steps: BTreeMap<String, StepResult>,
    }

    impl Fixture {
        fn new() -> Self {
            let mut steps = BTreeMap::new();
            steps.insert(
                "flaky-tests".to_owned(),
                StepResult {
                    outcome: "failed".to_owned(),
                    exit_code: Some(3),
                    class: Some(ErrorClass::ExitStatus),
                    duration_ms: 12,
                    cost_usd: None,
                },
            );
            Fixture {
                params: [("who".to_owned(), "world".to_owned())].into(),
                captures: [
                    ("verdict".to_owned(), CaptureValue::Text("pass".to_owned())),
                    (
                        "review".to_owned(),
                        CaptureValue::Json(serde_json::json!({
                            "verdict": "fail",
                            "issues": ["a", "b"],
                            "score": 7,
                            "ratio": 0.5,
                            "extra": null
                        })),
                    ),
                ]
                .into(),
                capture_names: [
                    "verdict".to_owned(),
                    "later".to_owned(),
                    "review".to_owned(),
                ]
                .into(),
                loop_vars: vec![("who".to_owned(), "loop".to_owned())],
                steps,
            }
        }

        fn eval(&self, text: &str) -> Result<bool, Failure> {
            let scope = CondScope {
                params: &self.params,
                captures: &self.captures,
                capture_names: &self.capture_names,
                loop_vars: &self.loop_vars,
                steps: &self.steps,
                run: RunTotals {
                    id: "r-1",
                    cost_usd: 0.5,
                    tokens: 1200,
                },
            };
            let condition = Condition::parse(text).unwrap();
            evaluate(&condition, "when", &scope)
        }
    }

    #[test]
    fn variables_params_steps_and_run_are_readable() {
        let f = Fixture::new();
        assert_eq!(f.eval("verdict == 'pass'"), Ok(true));
        assert_eq!(f.eval("who == 'loop' && params.who == 'world'"), Ok(true));
        assert_eq!(
            f.eval("steps[\"flaky-tests\"].outcome == 'failed' && steps[\"flaky-tests\"].exit_code == 3 && steps[\"flaky-tests\"].class == 'exit_status'"),
            Ok(true)
        );
        assert_eq!(
            f.eval("run.cost_usd < 1.0 && run.tokens == 1200 && run.id == 'r-1'"),
            Ok(true)
        );
    }

    #[test]
    fn a_json_capture_is_a_map() {
        let f = Fixture::new();
        assert_eq!(
            f.eval(
                "review.verdict == 'fail' && size(review.issues) == 2 && review.issues[1] == 'b'"
            ),
            Ok(true)
        );
        assert_eq!(
            f.eval("review.score > 5 && review.ratio < 1.0 && review.extra == null"),
            Ok(true)
        );
        assert_eq!(
            f.eval("has(review.verdict) && !has(review.missing)"),
            Ok(true)
        );
        assert_eq!(f.eval("review.issues.exists(i, i == 'a')"), Ok(true));
        let err = f.eval("review.missing == 'x'").unwrap_err();
        assert_eq!(err.class, ErrorClass::InvalidValue, "{}", err.message);
    }

    #[test]
    fn an_unset_capture_is_undefined_unless_guarded() {
        let f = Fixture::new();
        let err = f.eval("later == 'x'").unwrap_err();
        assert_eq!(err.class, ErrorClass::UndefinedVariable, "{}", err.message);
        assert_eq!(
            f.eval("has(later.verdict) && later.verdict == 'x'"),
            Ok(false)
        );
        assert_eq!(f.eval("verdict == 'fail' && later == 'x'"), Ok(false));
        let err = f.eval("steps.other.outcome == 'success'").unwrap_err();
        assert_eq!(err.class, ErrorClass::UndefinedVariable, "{}", err.message);
        assert_eq!(f.eval("!has(steps.other)"), Ok(true));
    }

    #[test]
    fn type_errors_and_non_booleans_are_invalid_values() {
        let f = Fixture::new();
        let err = f.eval("verdict > 3").unwrap_err();
        assert_eq!(err.class, ErrorClass::InvalidValue, "{}", err.message);
        let err = f.eval("verdict").unwrap_err();
        assert_eq!(err.class, ErrorClass::InvalidValue, "{}", err.message);
        assert!(
            err.message.contains("must be true or false"),
            "{}",
            err.message
        );
    }
}
