//! Go built-in workflow names that do not exist here (compat-go.md §2): instead of a bare "not
//! found", the error names the equivalent.

/// Namespaces of the Go built-ins and the workflow here that does the same job.
const GO_NAMESPACES: &[(&str, Option<&str>)] = &[
    ("openspec", Some("flokay")),
    ("spec-driven", Some("flokay")),
    ("onboarding", Some("demo")),
    ("core", None),
];

/// The error for `arg` when it names a Go built-in (`openspec:change`) that is not built in
/// here; `None` for any other name.
pub fn removed_builtin(arg: &str) -> Option<String> {
    let (ns, _) = arg.split_once(':')?;
    if !GO_NAMESPACES.iter().any(|(n, _)| *n == ns) {
        return None;
    }
    Some(match replacement(arg) {
        Some(equivalent) => format!(
            "workflow \"{arg}\" is a Go agent-runner built-in; its equivalent here is \"{equivalent}\""
        ),
        None => format!(
            "workflow \"{arg}\" is a Go agent-runner built-in with no equivalent here; see {}",
            super::MIGRATING_DOC
        ),
    })
}

/// The native name of a Go built-in (what `agent-runner migrate` writes), when there is one.
pub fn replacement(arg: &str) -> Option<&'static str> {
    let (ns, name) = arg.split_once(':')?;
    if crate::workflow::builtin::workflow(&format!("{ns}/{name}")).is_some() {
        return None;
    }
    let (_, equivalent) = GO_NAMESPACES.iter().find(|(n, _)| *n == ns)?;
    // Go's change lifecycles in `core` are what flokay does here.
    equivalent.or_else(|| name.contains("change").then_some("flokay"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_builtins_name_their_equivalent() {
        assert_eq!(
            removed_builtin("openspec:change").as_deref(),
            Some(
                "workflow \"openspec:change\" is a Go agent-runner built-in; its equivalent here is \"flokay\""
            )
        );
        assert_eq!(replacement("spec-driven:plan-change"), Some("flokay"));
        assert_eq!(replacement("core:verify-change"), Some("flokay"));
        assert_eq!(replacement("core:intake"), None);
        // Built-ins that exist here stay as they are.
        assert_eq!(replacement("core:finalize-pr"), None);
        assert!(removed_builtin("core:intake").is_some());
        assert!(removed_builtin("team:deploy").is_none());
    }
}
