//! Bounds on what a small YAML file may cost to read, checked before serde_yaml reads it.
//!
//! Two shapes make a file far more expensive than its size: deep flow nesting (`[[[[…`), which
//! libyaml's scanner handles in time quadratic in the depth, and aliases, which serde_yaml
//! expands into copies (a few hundred bytes of anchors can stand for gigabytes). One streaming
//! pass over libyaml's events stops at the first nesting level past serde_yaml's own limit and
//! adds up what aliases expand to, so both are refused early, in linear time and constant memory
//! per level. Documents that pass are read by serde_yaml as before.

use std::collections::HashMap;

use super::libyaml::{EventKind, Parser, Pos};
use super::yaml::SyntaxError;

/// serde_yaml's nesting limit; deeper documents are refused without reading further.
pub const MAX_DEPTH: usize = 128;

/// What one node costs once built, in bytes, besides the text of a scalar.
const NODE_COST: u64 = 64;

/// How much aliases may add to a document, in the units of [`NODE_COST`]: about what the largest
/// plain 1 MiB document builds, so aliases can never make a file cost more than twice that.
pub const MAX_ALIAS_EXPANSION: u64 = 32 * 1024 * 1024;

/// Checks `text` for the two shapes; `Ok` also when libyaml fails (serde_yaml reports that).
pub fn check(text: &str) -> Result<(), SyntaxError> {
    let Some(mut parser) = Parser::new(text.as_bytes()) else {
        return Ok(());
    };
    // Weight of each open collection, and the anchor it defines.
    let mut open: Vec<(u64, Option<String>)> = Vec::new();
    let mut anchors: HashMap<String, u64> = HashMap::new();
    let mut expanded: u64 = 0;
    while let Some(event) = parser.next_event() {
        let weight = match event.kind {
            EventKind::Scalar { value, .. } => {
                let weight = NODE_COST + value.len() as u64;
                if let Some(name) = event.anchor {
                    anchors.insert(name, weight);
                }
                weight
            }
            EventKind::Alias => {
                let Some(weight) = event.anchor.as_ref().and_then(|name| anchors.get(name)) else {
                    continue;
                };
                expanded = expanded.saturating_add(*weight);
                if expanded > MAX_ALIAS_EXPANSION {
                    let mib = MAX_ALIAS_EXPANSION / (1024 * 1024);
                    return Err(too_costly(
                        format!(
                            "aliases expand this document too much (they may add at most {mib} MiB); write the repeated parts out or share less"
                        ),
                        event.pos,
                    ));
                }
                *weight
            }
            EventKind::SequenceStart { .. } | EventKind::MappingStart { .. } => {
                open.push((NODE_COST, event.anchor));
                if open.len() > MAX_DEPTH {
                    return Err(too_costly(
                        format!("the document is nested too deeply (more than {MAX_DEPTH} levels)"),
                        event.pos,
                    ));
                }
                continue;
            }
            EventKind::SequenceEnd | EventKind::MappingEnd => match open.pop() {
                Some((weight, anchor)) => {
                    if let Some(name) = anchor {
                        anchors.insert(name, weight);
                    }
                    weight
                }
                None => continue,
            },
            _ => continue,
        };
        if let Some((total, _)) = open.last_mut() {
            *total = total.saturating_add(weight);
        }
    }
    Ok(())
}

fn too_costly(message: String, pos: Pos) -> SyntaxError {
    SyntaxError {
        code: "yaml-syntax",
        message: format!("invalid YAML: {message}"),
        line: Some(pos.line),
        column: Some(pos.column),
    }
}
