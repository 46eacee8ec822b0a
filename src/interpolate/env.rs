//! `AR_<NAME>` environment exports for shell steps (workflow-format.md §8.5).
//!
//! Shell steps can read every variable from the environment as well as through placeholders,
//! which is the safe route for here-documents and other places the quote scanner does not
//! understand. Values over 64 KiB are left out (a large environment can make `exec` fail with
//! E2BIG); the caller records a warning for each one.

use super::vars::{VarValue, Vars};

/// The largest value exported, in bytes.
pub const MAX_ENV_VALUE: usize = 64 * 1024;

/// `AR_<NAME>` exports for every variable that has a value, with the name upper-cased (a JSON
/// capture as its text: compact JSON, or a string's contents). The
/// second list names the variables that were left out: values over 64 KiB, and values with a
/// NUL byte (which no environment can hold). Unset captures and names that are not
/// identifiers are skipped silently.
pub fn export_env(vars: &Vars) -> (Vec<(String, String)>, Vec<String>) {
    let mut exported = Vec::new();
    let mut skipped = Vec::new();
    for (name, value) in vars.iter() {
        let value = match value {
            VarValue::Set(text) => std::borrow::Cow::Borrowed(text.as_str()),
            VarValue::Json(json) => crate::state::json_text(json),
            VarValue::Unset => continue,
        };
        if !is_identifier(name) {
            continue;
        }
        if value.len() > MAX_ENV_VALUE || value.contains('\0') {
            skipped.push(name.to_owned());
            continue;
        }
        exported.push((
            format!("AR_{}", name.to_ascii_uppercase()),
            value.into_owned(),
        ));
    }
    (exported, skipped)
}

/// A name made of ASCII letters, digits and `_`, not starting with a digit (a shell variable name).
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_upper_cased_names() {
        let mut vars = Vars::new();
        vars.set("change_name", "add-login")
            .set("session_dir", "/tmp/run")
            .set_unset("review")
            .set("big", "x".repeat(MAX_ENV_VALUE + 1))
            .set("edge", "y".repeat(MAX_ENV_VALUE))
            .set("nul", "a\0b")
            .set_json(
                "review",
                serde_json::json!({"verdict": "pass", "n": [1, 2]}),
            )
            .set("not-an-id", "v");
        let (exported, skipped) = export_env(&vars);
        let names: Vec<_> = exported.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["AR_CHANGE_NAME", "AR_EDGE", "AR_REVIEW", "AR_SESSION_DIR"]
        );
        assert_eq!(exported[0].1, "add-login");
        assert_eq!(exported[2].1, r#"{"verdict":"pass","n":[1,2]}"#);
        assert_eq!(skipped, ["big", "nul"]);
    }
}
