//! A safe, minimal view of the libyaml event stream (`unsafe-libyaml`, the parser serde_yaml
//! wraps, so both always agree on the structure of a document).
//!
//! Two readers use it: [`yaml`](super::yaml) builds [`Node`](super::yaml::Node)s straight from
//! the events on its fast path, and [`positions`](super::positions) finds line:column for YAML
//! paths. All unsafe code of the crate's YAML handling is in this file. The parser is boxed so it
//! never moves after initialisation, and it and every event are always freed.

use std::mem::MaybeUninit;

use unsafe_libyaml as unsafe_sys;

/// A 1-based position in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// One event, with what the readers need of it.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    /// An alias (`*name`): a node with no children of its own.
    Alias,
    Scalar {
        value: String,
        /// Written without quotes or block indicators, so its type comes from its text.
        plain: bool,
        /// Written with an explicit tag (`!!str x`, `!custom x`).
        tagged: bool,
    },
    SequenceStart {
        tagged: bool,
    },
    SequenceEnd,
    MappingStart {
        tagged: bool,
    },
    MappingEnd,
}

#[derive(Debug)]
pub struct Event {
    pub kind: EventKind,
    /// Where the event starts.
    pub pos: Pos,
    /// The anchor a node defines (`&name`), or the one an alias refers to (`*name`).
    pub anchor: Option<String>,
}

/// Copies a NUL-terminated libyaml string, if there is one.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string that lives for the call.
unsafe fn c_string(ptr: *const u8) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(ptr.cast()) };
    Some(text.to_string_lossy().into_owned())
}

/// Owns a libyaml parser reading from a borrowed byte slice.
pub struct Parser<'a> {
    sys: Box<MaybeUninit<unsafe_sys::yaml_parser_t>>,
    _input: &'a [u8],
    failed: bool,
}

impl<'a> Parser<'a> {
    /// A parser over `input`, with the encoding detected as serde_yaml has it detected.
    pub fn new(input: &'a [u8]) -> Option<Parser<'a>> {
        let mut sys = Box::new(MaybeUninit::<unsafe_sys::yaml_parser_t>::uninit());
        // SAFETY: `sys` points to writable, boxed (so never moved) memory for a parser struct;
        // `yaml_parser_initialize` fully initialises it. On failure nothing needs freeing.
        let ok = unsafe { unsafe_sys::yaml_parser_initialize(sys.as_mut_ptr()).ok };
        if !ok {
            return None;
        }
        // SAFETY: the parser was initialised above. `input` outlives the parser: the parser is
        // dropped before `'a` ends because `Parser<'a>` borrows it.
        unsafe {
            unsafe_sys::yaml_parser_set_input_string(
                sys.as_mut_ptr(),
                input.as_ptr(),
                input.len() as _,
            );
        }
        Some(Parser {
            sys,
            _input: input,
            failed: false,
        })
    }

    /// The next event; `None` at the first error (and after it). The stream ends with
    /// [`EventKind::StreamEnd`]; asking again after that is an error in libyaml, so `None`.
    pub fn next_event(&mut self) -> Option<Event> {
        if self.failed {
            return None;
        }
        let mut raw = MaybeUninit::<unsafe_sys::yaml_event_t>::uninit();
        // SAFETY: the parser is initialised; `raw` is writable memory for one event.
        let ok =
            unsafe { unsafe_sys::yaml_parser_parse(self.sys.as_mut_ptr(), raw.as_mut_ptr()).ok };
        if !ok {
            self.failed = true;
            return None;
        }
        // SAFETY: a successful `yaml_parser_parse` initialised the event.
        let event = unsafe { raw.assume_init_mut() };
        let pos = Pos {
            line: event.start_mark.line as usize + 1,
            column: event.start_mark.column as usize + 1,
        };
        // SAFETY: each event type is read through its own union member, whose anchor is null
        // or a NUL-terminated string owned by the event (copied before the event is freed).
        let anchor = unsafe {
            match event.type_ {
                unsafe_sys::YAML_ALIAS_EVENT => c_string(event.data.alias.anchor),
                unsafe_sys::YAML_SCALAR_EVENT => c_string(event.data.scalar.anchor),
                unsafe_sys::YAML_SEQUENCE_START_EVENT => c_string(event.data.sequence_start.anchor),
                unsafe_sys::YAML_MAPPING_START_EVENT => c_string(event.data.mapping_start.anchor),
                _ => None,
            }
        };
        let kind = match event.type_ {
            unsafe_sys::YAML_STREAM_START_EVENT => EventKind::StreamStart,
            unsafe_sys::YAML_STREAM_END_EVENT => {
                // libyaml reports an error if asked for more; keep that out of the callers' way.
                self.failed = true;
                EventKind::StreamEnd
            }
            unsafe_sys::YAML_DOCUMENT_START_EVENT => EventKind::DocumentStart,
            unsafe_sys::YAML_DOCUMENT_END_EVENT => EventKind::DocumentEnd,
            unsafe_sys::YAML_ALIAS_EVENT => EventKind::Alias,
            unsafe_sys::YAML_SCALAR_EVENT => {
                // SAFETY: for scalar events the `scalar` union member is the valid one, and
                // `value` points to `length` bytes owned by the event.
                let (value, plain, tagged) = unsafe {
                    let scalar = event.data.scalar;
                    let value = if scalar.value.is_null() {
                        String::new()
                    } else {
                        let bytes =
                            std::slice::from_raw_parts(scalar.value, scalar.length as usize);
                        // The input is UTF-8, so this is the common case; checking it first
                        // is cheaper than the chunked lossy walk.
                        match std::str::from_utf8(bytes) {
                            Ok(text) => text.to_owned(),
                            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
                        }
                    };
                    (
                        value,
                        scalar.style == unsafe_sys::YAML_PLAIN_SCALAR_STYLE,
                        !scalar.tag.is_null(),
                    )
                };
                EventKind::Scalar {
                    value,
                    plain,
                    tagged,
                }
            }
            unsafe_sys::YAML_SEQUENCE_START_EVENT => EventKind::SequenceStart {
                // SAFETY: for sequence-start events the `sequence_start` member is the valid one.
                tagged: unsafe { !event.data.sequence_start.tag.is_null() },
            },
            unsafe_sys::YAML_SEQUENCE_END_EVENT => EventKind::SequenceEnd,
            unsafe_sys::YAML_MAPPING_START_EVENT => EventKind::MappingStart {
                // SAFETY: for mapping-start events the `mapping_start` member is the valid one.
                tagged: unsafe { !event.data.mapping_start.tag.is_null() },
            },
            unsafe_sys::YAML_MAPPING_END_EVENT => EventKind::MappingEnd,
            // libyaml has no other event types; treat anything unknown as an error.
            _ => {
                self.failed = true;
                // SAFETY: see below; the event is freed exactly once.
                unsafe { unsafe_sys::yaml_event_delete(event) };
                return None;
            }
        };
        // SAFETY: the event was initialised by the parser and is freed exactly once; nothing
        // borrowed from it (the scalar text was copied) outlives this call.
        unsafe { unsafe_sys::yaml_event_delete(event) };
        Some(Event { kind, pos, anchor })
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: the parser was initialised in `new` (a `Parser` only exists after success) and
        // is deleted exactly once, here.
        unsafe { unsafe_sys::yaml_parser_delete(self.sys.as_mut_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<EventKind> {
        let mut parser = Parser::new(text.as_bytes()).unwrap();
        std::iter::from_fn(|| parser.next_event().map(|e| e.kind)).collect()
    }

    #[test]
    fn reports_styles_tags_and_stops_at_errors() {
        let events = kinds("a: 'x'\nb: !!str 1\n");
        assert_eq!(events.len(), 10);
        assert_eq!(
            events[3],
            EventKind::Scalar {
                value: "a".into(),
                plain: true,
                tagged: false
            }
        );
        assert_eq!(
            events[4],
            EventKind::Scalar {
                value: "x".into(),
                plain: false,
                tagged: false
            }
        );
        assert!(matches!(events[6], EventKind::Scalar { tagged: true, .. }));
        assert_eq!(events.last(), Some(&EventKind::StreamEnd));
        let events = kinds("a: [\n\tb");
        assert!(!events.contains(&EventKind::StreamEnd));
    }
}
