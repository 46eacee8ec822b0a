//! The variables one render sees: a flat map from name to value, built by the caller.
//!
//! Precedence (params < captures < loop variables, workflow-format.md §8.3) is the caller's job:
//! it sets the layers in that order and later values replace earlier ones. A capture that is
//! known but has no value yet is kept as [`VarValue::Unset`], so rendering can tell "the step
//! that captures it did not run" apart from a name that does not exist at all.

use std::collections::BTreeMap;

use serde_json::Value;

/// The value of one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarValue {
    Set(String),
    /// A JSON capture (control.md §7): `{{name}}` writes its text, `{{name.field}}` a field.
    Json(Value),
    /// A known capture that has no value yet: false in `{{#if}}`, an error anywhere else.
    Unset,
}

/// Variable values for one render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    // Sorted, so that environment exports come out in a stable order.
    values: BTreeMap<String, VarValue>,
}

impl Vars {
    pub fn new() -> Self {
        Vars::default()
    }

    /// Sets `name`, replacing any earlier value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.values.insert(name.into(), VarValue::Set(value.into()));
        self
    }

    /// Sets `name` to a JSON value, replacing any earlier value.
    pub fn set_json(&mut self, name: impl Into<String>, value: Value) -> &mut Self {
        self.values.insert(name.into(), VarValue::Json(value));
        self
    }

    /// Declares `name` as known but without a value, replacing any earlier value.
    pub fn set_unset(&mut self, name: impl Into<String>) -> &mut Self {
        self.values.insert(name.into(), VarValue::Unset);
        self
    }

    pub fn get(&self, name: &str) -> Option<&VarValue> {
        self.values.get(name)
    }

    /// All variables, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &VarValue)> {
        self.values
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_values_win() {
        let mut vars = Vars::new();
        vars.set("a", "param")
            .set("a", "capture")
            .set_unset("b")
            .set("c", "");
        assert_eq!(vars.get("a"), Some(&VarValue::Set("capture".into())));
        assert_eq!(vars.get("b"), Some(&VarValue::Unset));
        assert_eq!(vars.get("z"), None);
        let names: Vec<_> = vars.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }
}
