//! The built-in workflows and engines, embedded by `build.rs` from `workflows/` and `engines/`.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The bytes of built-in workflow `name` (`flokay`, `core/run-validator`).
pub fn workflow(name: &str) -> Option<&'static [u8]> {
    lookup(WORKFLOWS, name)
}

/// Names of all built-in workflows, sorted.
pub fn workflow_names() -> impl Iterator<Item = &'static str> {
    WORKFLOWS.iter().map(|(name, _)| *name)
}

/// The bytes of built-in engine `name`.
pub fn engine(name: &str) -> Option<&'static [u8]> {
    lookup(ENGINES, name)
}

/// Names of all built-in engine files, sorted.
pub fn engine_names() -> impl Iterator<Item = &'static str> {
    ENGINES.iter().map(|(name, _)| *name)
}

fn lookup(table: &'static [(&'static str, &'static [u8])], name: &str) -> Option<&'static [u8]> {
    table
        .binary_search_by(|(key, _)| (*key).cmp(name))
        .ok()
        .map(|i| table[i].1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_validator_is_embedded() {
        assert!(super::workflow("core/run-validator").is_some());
        assert!(super::workflow("core/nope").is_none());
        assert!(super::workflow_names().any(|n| n == "core/run-validator"));
    }
}
