//! Line and column for YAML paths, from the libyaml event stream.
//!
//! Analysis works on [`Node`](super::yaml::Node)s, which carry no positions, and records a YAML
//! path (`steps.2.steps.0.comand`) with each finding. Only when a file has findings does the loader
//! build a [`PositionIndex`]: one more pass over the text with [libyaml](super::libyaml) (the
//! same parser serde_yaml wraps, so the two always agree on the structure). Valid files never pay
//! for it.

use std::collections::{HashMap, HashSet};

pub use super::libyaml::Pos;
use super::libyaml::{EventKind, Parser};

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Option<Pos>,
    value: Pos,
}

/// Positions of every key and value of a document, by YAML path.
#[derive(Debug, Default)]
pub struct PositionIndex {
    entries: HashMap<String, Entry>,
    /// Keys that occur twice in one mapping: (path of the mapping, key, position of the repeat).
    pub duplicates: Vec<(String, String, Pos)>,
}

/// `path` and every ancestor of it, down to the root (`""`).
pub fn with_ancestors(path: &str, into: &mut HashSet<String>) {
    let mut path = path;
    loop {
        if !into.insert(path.to_owned()) {
            return;
        }
        match parent_of(path) {
            Some(parent) => path = parent,
            None => return,
        }
    }
}

/// The path of a child: `join("steps.2", "id")` is `steps.2.id`; the root path is `""`.
pub fn join(parent: &str, segment: &str) -> String {
    if parent.is_empty() {
        segment.to_owned()
    } else {
        let mut path = String::with_capacity(parent.len() + 1 + segment.len());
        path.push_str(parent);
        path.push('.');
        path.push_str(segment);
        path
    }
}

/// The file position of `line`:`column` (1-based) of the text of the scalar that starts at
/// `start`, given the file's `lines`: past the opening quote of a quoted scalar, on the lines
/// below the indicator of a block scalar. A place the scalar's layout does not let us find
/// exactly falls back to `start`.
pub fn within(lines: &[&str], start: Pos, line: usize, column: usize) -> Pos {
    let Some(first) = lines.get(start.line.saturating_sub(1)) else {
        return start;
    };
    match first.chars().nth(start.column.saturating_sub(1)) {
        Some('|' | '>') => {
            // Line `line` of the block is the file line `line` below its indicator; the block's
            // indentation is its first content line's.
            let body = lines.get(start.line..).unwrap_or_default();
            let indent = body
                .iter()
                .take(line.max(1))
                .find(|l| !l.trim().is_empty())
                .map_or(0, |l| l.chars().take_while(|c| *c == ' ').count());
            match body.get(line.saturating_sub(1)) {
                Some(_) => Pos {
                    line: start.line + line,
                    column: indent + column,
                },
                None => start,
            }
        }
        _ if line != 1 => start,
        Some('"' | '\'') => Pos {
            line: start.line,
            column: start.column + column,
        },
        _ => Pos {
            line: start.line,
            column: (start.column + column).saturating_sub(1),
        },
    }
}

fn parent_of(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rfind('.').map_or("", |i| &path[..i]))
}

impl PositionIndex {
    /// Position of the key whose value is at `path` (or of the value, for list items and the
    /// root). Unknown paths fall back to the nearest ancestor.
    pub fn key(&self, path: &str) -> Option<Pos> {
        match self.entries.get(path) {
            Some(entry) => Some(entry.key.unwrap_or(entry.value)),
            None => self.value(parent_of(path)?),
        }
    }

    /// Position of the value at `path`, falling back to the nearest ancestor.
    pub fn value(&self, path: &str) -> Option<Pos> {
        let mut path = path;
        loop {
            if let Some(entry) = self.entries.get(path) {
                return Some(entry.value);
            }
            path = parent_of(path)?;
        }
    }

    /// Reads the positions of `text`. A syntax error ends the walk; what was read so far stays.
    pub fn build(text: &str) -> PositionIndex {
        Self::build_for(text, None)
    }

    /// [`PositionIndex::build`] keeping only the positions of `wanted` paths and their
    /// ancestors (what lookups fall back to), so a huge file costs no more memory than its
    /// findings need. `None` keeps every position.
    pub fn build_for(text: &str, wanted: Option<&HashSet<String>>) -> PositionIndex {
        let mut index = PositionIndex::default();
        let Some(mut parser) = Parser::new(text.as_bytes()) else {
            return index;
        };
        let mut frames: Vec<Frame> = Vec::new();
        // Depth of a complex (non-scalar) mapping key being skipped.
        let mut skipping = 0usize;
        while let Some(event) = parser.next_event() {
            let kind = match event.kind {
                EventKind::Scalar { value, .. } => Kind::Scalar(value),
                EventKind::Alias => Kind::Alias,
                EventKind::MappingStart { .. } => Kind::Start(true),
                EventKind::SequenceStart { .. } => Kind::Start(false),
                EventKind::MappingEnd | EventKind::SequenceEnd => Kind::End,
                EventKind::StreamStart
                | EventKind::StreamEnd
                | EventKind::DocumentStart
                | EventKind::DocumentEnd => continue,
            };
            if skipping > 0 {
                match kind {
                    Kind::Start(_) => skipping += 1,
                    Kind::End => skipping -= 1,
                    _ => {}
                }
                continue;
            }
            let pos = event.pos;
            // Where a new node sits: its path, and whether it is a mapping key.
            let placement = match frames.last_mut() {
                None => Placement::Node(String::new(), None),
                Some(Frame::Seq { path, next }) => {
                    let child = join(path, &next.to_string());
                    *next += 1;
                    Placement::Node(child, None)
                }
                Some(Frame::Map {
                    path,
                    pending_key,
                    seen,
                }) => match pending_key.take() {
                    Some((key, key_pos)) => Placement::Node(join(path, &key), Some(key_pos)),
                    None => {
                        if let Kind::Scalar(key) = &kind
                            && !seen.insert(key.clone())
                        {
                            index.duplicates.push((path.clone(), key.clone(), pos));
                        }
                        Placement::Key
                    }
                },
            };
            match (placement, kind) {
                (_, Kind::End) => {
                    frames.pop();
                }
                (Placement::Key, kind) => {
                    let key = match kind {
                        Kind::Scalar(key) => key,
                        Kind::Start(_) => {
                            skipping = 1;
                            "<complex key>".to_owned()
                        }
                        _ => "<complex key>".to_owned(),
                    };
                    if let Some(Frame::Map { pending_key, .. }) = frames.last_mut() {
                        *pending_key = Some((key, pos));
                    }
                }
                (Placement::Node(path, key), kind) => {
                    // Under a repeated key, the first value's positions stay (it is the one read).
                    if wanted.is_none_or(|wanted| wanted.contains(&path)) {
                        index
                            .entries
                            .entry(path.clone())
                            .or_insert(Entry { key, value: pos });
                    }
                    match kind {
                        Kind::Start(true) => frames.push(Frame::Map {
                            path,
                            pending_key: None,
                            seen: std::collections::HashSet::new(),
                        }),
                        Kind::Start(false) => frames.push(Frame::Seq { path, next: 0 }),
                        _ => {}
                    }
                }
            }
        }
        index
    }
}

/// The events the walk tells apart.
enum Kind {
    Scalar(String),
    /// Alias: a node with no children of its own.
    Alias,
    /// Start of a mapping (`true`) or sequence (`false`).
    Start(bool),
    End,
}

enum Placement {
    Key,
    Node(String, Option<Pos>),
}

enum Frame {
    Seq {
        path: String,
        next: usize,
    },
    Map {
        path: String,
        pending_key: Option<(String, Pos)>,
        seen: std::collections::HashSet<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_have_positions() {
        let text = "name: x\nsteps:\n  - id: a\n    comand: ls\n  - {id: b, prompt: hi}\n";
        let index = PositionIndex::build(text);
        assert_eq!(index.key("name"), Some(Pos { line: 1, column: 1 }));
        assert_eq!(index.value("name"), Some(Pos { line: 1, column: 7 }));
        assert_eq!(
            index.key("steps.0.comand"),
            Some(Pos { line: 4, column: 5 })
        );
        assert_eq!(
            index.value("steps.1.prompt"),
            Some(Pos {
                line: 5,
                column: 21
            })
        );
        // Unknown paths fall back to the nearest ancestor.
        assert_eq!(
            index.value("steps.1.nope.deeper"),
            Some(Pos { line: 5, column: 5 })
        );
    }

    #[test]
    fn finds_duplicate_keys_and_survives_errors() {
        let index = PositionIndex::build("a: 1\nb:\n  c: 1\n  c: 2\n");
        assert_eq!(
            index.duplicates,
            vec![("b".to_owned(), "c".to_owned(), Pos { line: 4, column: 3 })]
        );
        let index = PositionIndex::build("a: [\n\tb");
        assert!(index.value("a").is_some());
        let index = PositionIndex::build("? [a, b]\n: 1\nc: &x {d: 1}\ne: *x\n");
        assert!(index.value("e").is_some());
    }
}
