//! Repeated mapping keys: one `duplicate-key` error at each repeat, located at the step it is in.
//!
//! The YAML reader keeps the first value of a repeated key (see
//! [`parse_keeping_first`](super::yaml::parse_keeping_first)) so that the rest of the file is
//! analysed as usual; this module reports the repeats themselves.

use std::collections::HashSet;

use super::diagnostic::Diagnostic;
use super::fields::Location;
use super::positions::PositionIndex;
use super::yaml::Node;

/// The first `limit` `duplicate-key` errors of `text`, whose tree (first values kept) is
/// `root`, and how many there are in all.
pub fn diagnostics(root: &Node, text: &str, file: &str, limit: usize) -> (Vec<Diagnostic>, usize) {
    // Only the repeats are needed, not the position of every node.
    let index = PositionIndex::build_for(text, Some(&HashSet::new()));
    let found = index
        .duplicates
        .iter()
        .take(limit)
        .map(|(map_path, key, pos)| {
            let mut d = Diagnostic::error("duplicate-key", format!("duplicate key \"{key}\""))
                .with_help(format!(
                    "a key may appear once in a mapping; keep one \"{key}\" and remove the other"
                ));
            d.file = file.to_owned();
            d.line = Some(pos.line);
            d.column = Some(pos.column);
            let location = step_at(root, map_path);
            d.location = location.text();
            d.step_id = location.step_id().map(str::to_owned);
            d
        })
        .collect();
    (found, index.duplicates.len())
}

/// The innermost step that contains the YAML path `path` (`steps.2.steps.0.loop`), or the top
/// level.
fn step_at(root: &Node, path: &str) -> Location {
    let mut segments = path.split('.').filter(|s| !s.is_empty());
    let mut node = root;
    let mut step: Option<(String, &Node)> = None;
    while let Some("steps") = segments.next() {
        let Some(index) = segments.next().and_then(|s| s.parse::<usize>().ok()) else {
            break;
        };
        let Some(Node::Seq(items)) = node.get("steps") else {
            break;
        };
        let Some(item) = items.get(index) else {
            break;
        };
        let mut loc = step.map(|(loc, _)| format!("{loc}.")).unwrap_or_default();
        loc.push_str(&format!("steps[{index}]"));
        step = Some((loc, item));
        node = item;
    }
    match step {
        Some((path, node)) => Location::Step {
            path,
            id: node.get("id").and_then(Node::as_str).map(str::to_owned),
        },
        None => Location::TOP_LEVEL,
    }
}
