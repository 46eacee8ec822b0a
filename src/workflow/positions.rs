//! Line and column for YAML paths, from the libyaml event stream.
//!
//! Analysis works on [`Node`](super::yaml::Node)s, which carry no positions, and records a YAML
//! path (`steps.2.steps.0.comand`) with each finding. Only when a file has findings does the loader
//! build a [`PositionIndex`]: one more pass over the text with libyaml (`unsafe-libyaml`, the same
//! parser serde_yaml wraps, so the two always agree on the structure). Valid files never pay for it.
//!
//! All unsafe code of the crate's YAML handling is in this file. The parser is boxed so it never
//! moves after initialisation, and it and every event are always freed.

use std::collections::HashMap;
use std::mem::MaybeUninit;

use unsafe_libyaml as unsafe_yaml;

/// A 1-based position in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

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
        let mut index = PositionIndex::default();
        let Some(mut parser) = Parser::new(text.as_bytes()) else {
            return index;
        };
        let mut frames: Vec<Frame> = Vec::new();
        // Depth of a complex (non-scalar) mapping key being skipped.
        let mut skipping = 0usize;
        while let Some(event) = parser.next() {
            if skipping > 0 {
                match event.kind {
                    EventKind::Start(_) => skipping += 1,
                    EventKind::End => skipping -= 1,
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
                        if let EventKind::Scalar(key) = &event.kind
                            && !seen.insert(key.clone())
                        {
                            index.duplicates.push((path.clone(), key.clone(), pos));
                        }
                        Placement::Key
                    }
                },
            };
            match (placement, event.kind) {
                (_, EventKind::End) => {
                    frames.pop();
                }
                (Placement::Key, kind) => {
                    let key = match kind {
                        EventKind::Scalar(key) => key,
                        EventKind::Start(_) => {
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
                    index
                        .entries
                        .insert(path.clone(), Entry { key, value: pos });
                    match kind {
                        EventKind::Start(true) => frames.push(Frame::Map {
                            path,
                            pending_key: None,
                            seen: std::collections::HashSet::new(),
                        }),
                        EventKind::Start(false) => frames.push(Frame::Seq { path, next: 0 }),
                        _ => {}
                    }
                }
            }
        }
        index
    }
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

enum EventKind {
    Scalar(String),
    /// Alias: a node with no children of its own.
    Alias,
    /// Start of a mapping (`true`) or sequence (`false`).
    Start(bool),
    End,
}

struct Event {
    kind: EventKind,
    pos: Pos,
}

/// Owns a libyaml parser reading from a borrowed byte slice.
struct Parser<'a> {
    sys: Box<MaybeUninit<unsafe_yaml::yaml_parser_t>>,
    _input: &'a [u8],
    done: bool,
}

impl<'a> Parser<'a> {
    fn new(input: &'a [u8]) -> Option<Parser<'a>> {
        let mut sys = Box::new(MaybeUninit::<unsafe_yaml::yaml_parser_t>::uninit());
        // SAFETY: `sys` points to writable, boxed (so never moved) memory for a parser struct;
        // `yaml_parser_initialize` fully initialises it. On failure nothing needs freeing.
        let ok = unsafe { unsafe_yaml::yaml_parser_initialize(sys.as_mut_ptr()).ok };
        if !ok {
            return None;
        }
        // SAFETY: the parser was initialised above. `input` outlives the parser: the parser is
        // dropped before `'a` ends because `Parser<'a>` borrows it.
        unsafe {
            unsafe_yaml::yaml_parser_set_encoding(
                sys.as_mut_ptr(),
                unsafe_yaml::YAML_UTF8_ENCODING,
            );
            unsafe_yaml::yaml_parser_set_input_string(
                sys.as_mut_ptr(),
                input.as_ptr(),
                input.len() as _,
            );
        }
        Some(Parser {
            sys,
            _input: input,
            done: false,
        })
    }

    /// The next node event; `None` at the end of the stream or at the first error.
    fn next(&mut self) -> Option<Event> {
        while !self.done {
            let mut raw = MaybeUninit::<unsafe_yaml::yaml_event_t>::uninit();
            // SAFETY: the parser is initialised; `raw` is writable memory for one event.
            let ok = unsafe {
                unsafe_yaml::yaml_parser_parse(self.sys.as_mut_ptr(), raw.as_mut_ptr()).ok
            };
            if !ok {
                self.done = true;
                return None;
            }
            // SAFETY: a successful `yaml_parser_parse` initialised the event.
            let event = unsafe { raw.assume_init_mut() };
            let pos = Pos {
                line: event.start_mark.line as usize + 1,
                column: event.start_mark.column as usize + 1,
            };
            let kind = match event.type_ {
                unsafe_yaml::YAML_SCALAR_EVENT => {
                    // SAFETY: for scalar events the `scalar` union member is the valid one, and
                    // `value` points to `length` bytes owned by the event.
                    let text = unsafe {
                        let scalar = event.data.scalar;
                        if scalar.value.is_null() {
                            String::new()
                        } else {
                            let bytes =
                                std::slice::from_raw_parts(scalar.value, scalar.length as usize);
                            String::from_utf8_lossy(bytes).into_owned()
                        }
                    };
                    Some(EventKind::Scalar(text))
                }
                unsafe_yaml::YAML_ALIAS_EVENT => Some(EventKind::Alias),
                unsafe_yaml::YAML_MAPPING_START_EVENT => Some(EventKind::Start(true)),
                unsafe_yaml::YAML_SEQUENCE_START_EVENT => Some(EventKind::Start(false)),
                unsafe_yaml::YAML_MAPPING_END_EVENT | unsafe_yaml::YAML_SEQUENCE_END_EVENT => {
                    Some(EventKind::End)
                }
                unsafe_yaml::YAML_STREAM_END_EVENT => {
                    self.done = true;
                    None
                }
                _ => None,
            };
            // SAFETY: the event was initialised by the parser and is freed exactly once; nothing
            // borrowed from it (the scalar text was copied) outlives this call.
            unsafe { unsafe_yaml::yaml_event_delete(event) };
            if let Some(kind) = kind {
                return Some(Event { kind, pos });
            }
        }
        None
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: the parser was initialised in `new` (a `Parser` only exists after success) and
        // is deleted exactly once, here.
        unsafe { unsafe_yaml::yaml_parser_delete(self.sys.as_mut_ptr()) }
    }
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
