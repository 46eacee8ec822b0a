//! The events of a plain block-style YAML document, read without libyaml.
//!
//! Workflow files are almost always written in a small part of YAML: block mappings with simple
//! keys, block sequences (`- ` entries, compact `- key: value` mappings), one-line plain, quoted
//! and flow (`{a: 1}`, `[a, b]`) values, literal blocks (`|`, `|-`) and comments. For such a
//! document this module gives the same events libyaml gives (kinds, values and styles; not
//! positions), line by line at a small fraction of libyaml's cost, which reads and copies the
//! text character by character and allocates several buffers per scalar.
//!
//! It only ever answers "these are the events" or "ask libyaml": anything outside that part
//! (tabs, anchors, tags, multi-line plain or quoted scalars, folded blocks, explicit keys,
//! documents markers, unusual indentation, and anything it finds wrong) gives `None`, and
//! [`yaml`](super::yaml) reads the document through libyaml as before, which gives the verdict
//! and the message. Unit tests compare it with libyaml on the fixtures, the built-in workflows
//! and damaged copies of them.

use super::libyaml::EventKind;

/// Deeper documents are left to libyaml (the tree builder also hands over past 64 levels).
const MAX_DEPTH: usize = 48;

/// The events of `text`, from `StreamStart` to `StreamEnd`, when it is a document of the part
/// of YAML this module reads; `None` means "read it with libyaml" (it may be valid or not).
pub(super) fn events(text: &str) -> Option<Vec<EventKind>> {
    if !text.chars().all(allowed) {
        return None;
    }
    let mut lines = Vec::new();
    for line in text.split('\n') {
        if line.starts_with("---") || line.starts_with("...") || line.starts_with('%') {
            return None;
        }
        let content = line.trim_start_matches(' ');
        lines.push(Line {
            indent: line.len() - content.len(),
            content,
        });
    }
    let mut reader = Reader {
        lines,
        at: 0,
        depth: 0,
        events: Vec::with_capacity(text.len() / 8),
    };
    reader.events.push(EventKind::StreamStart);
    reader.events.push(EventKind::DocumentStart);
    reader.skip_blank();
    let first = reader.line()?;
    if first.indent != 0 {
        return None;
    }
    if is_entry(first.content) {
        reader.sequence(0)?;
    } else {
        reader.mapping(0)?;
    }
    reader.skip_blank();
    if reader.line().is_some() {
        return None;
    }
    reader.events.push(EventKind::DocumentEnd);
    reader.events.push(EventKind::StreamEnd);
    Some(reader.events)
}

/// Characters libyaml reads as printable and not as line breaks (it reads U+0085, U+2028 and
/// U+2029 as breaks); tabs and carriage returns are left to it too.
fn allowed(c: char) -> bool {
    matches!(c, '\n' | ' '..='~')
        || (c >= '\u{A0}'
            && !matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
            ))
}

#[derive(Clone, Copy)]
struct Line<'t> {
    indent: usize,
    /// The line after its indentation.
    content: &'t str,
}

/// Whether a line's content is a block sequence entry (`-` alone or followed by a space).
fn is_entry(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// A simple mapping key at the start of `content` (letters, digits, `_`, `-`, `.`, not starting
/// with `-` or `.`) followed by `:` and a space or the end: the key and what follows the colon.
fn key(content: &str) -> Option<(&str, &str)> {
    let len = content
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .count();
    if len == 0 || content.starts_with(['-', '.']) {
        return None;
    }
    let rest = content[len..].strip_prefix(':')?;
    (rest.is_empty() || rest.starts_with(' ')).then(|| (&content[..len], rest))
}

/// Whether `rest` (after a value) is empty or only a comment (which a space must precede).
fn is_blank(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.len() < rest.len() && trimmed.starts_with('#'))
}

struct Reader<'t> {
    lines: Vec<Line<'t>>,
    /// The next line to read.
    at: usize,
    depth: usize,
    events: Vec<EventKind>,
}

impl<'t> Reader<'t> {
    fn line(&self) -> Option<Line<'t>> {
        self.lines.get(self.at).copied()
    }

    /// Past empty lines and comment lines.
    fn skip_blank(&mut self) {
        while self
            .line()
            .is_some_and(|l| l.content.is_empty() || l.content.starts_with('#'))
        {
            self.at += 1;
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn scalar(&mut self, value: String, plain: bool) {
        self.events.push(EventKind::Scalar {
            value,
            plain,
            tagged: false,
        });
    }

    /// A block mapping whose keys are at `indent`, starting at the current line.
    fn mapping(&mut self, indent: usize) -> Option<()> {
        self.enter()?;
        self.events.push(EventKind::MappingStart { tagged: false });
        loop {
            self.skip_blank();
            let Some(line) = self.line() else { break };
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return None;
            }
            // An entry here ends the sequence value of the key before it, which ended already.
            let (key, rest) = key(line.content)?;
            self.scalar(key.to_owned(), true);
            self.at += 1;
            if is_blank(rest) {
                self.block_value(indent, true)?;
            } else {
                self.inline(rest.trim_start_matches(' '), indent)?;
            }
        }
        self.events.push(EventKind::MappingEnd);
        self.depth -= 1;
        Some(())
    }

    /// A block sequence whose entries are at `indent`, starting at the current line.
    fn sequence(&mut self, indent: usize) -> Option<()> {
        self.enter()?;
        self.events.push(EventKind::SequenceStart { tagged: false });
        loop {
            self.skip_blank();
            let Some(line) = self.line() else { break };
            if line.indent < indent || (line.indent == indent && !is_entry(line.content)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let after = &line.content[1..];
            let rest = after.trim_start_matches(' ');
            if is_blank(after) {
                self.at += 1;
                self.block_value(indent, false)?;
            } else if is_entry(rest) {
                return None;
            } else if key(rest).is_some() {
                // `- key: value`: a mapping whose keys are at the column of this key.
                let column = indent + 1 + (after.len() - rest.len());
                self.lines[self.at] = Line {
                    indent: column,
                    content: rest,
                };
                self.mapping(column)?;
            } else {
                self.at += 1;
                self.inline(rest, indent)?;
            }
        }
        self.events.push(EventKind::SequenceEnd);
        self.depth -= 1;
        Some(())
    }

    /// The value of a key or entry at `indent` written on the lines that follow: a nested
    /// mapping or sequence, or nothing (an empty plain scalar). A sequence at the same
    /// indentation belongs to a key (`key:` then `- a`), not to an entry.
    fn block_value(&mut self, indent: usize, same_indent_sequence: bool) -> Option<()> {
        self.skip_blank();
        let Some(line) = self.line() else {
            self.scalar(String::new(), true);
            return Some(());
        };
        if line.indent == indent && same_indent_sequence && is_entry(line.content) {
            return self.sequence(indent);
        }
        if line.indent <= indent {
            self.scalar(String::new(), true);
            return Some(());
        }
        if is_entry(line.content) {
            self.sequence(line.indent)
        } else if key(line.content).is_some() {
            self.mapping(line.indent)
        } else {
            None
        }
    }

    /// A value written after `key: ` or `- ` on its line, `text` (not blank), for a node at
    /// `indent`. The current line is the next one.
    fn inline(&mut self, text: &'t str, indent: usize) -> Option<()> {
        match text.as_bytes()[0] {
            b'|' => self.literal(text, indent),
            b'\'' | b'"' => {
                let (value, rest) = quoted(text)?;
                self.scalar(value, false);
                is_blank(rest).then_some(())
            }
            b'[' | b'{' => {
                let rest = self.flow(text)?;
                is_blank(rest).then_some(())
            }
            _ => {
                let value = plain(text)?;
                self.scalar(value.to_owned(), true);
                Some(())
            }
        }
    }

    /// A literal block (`|` or `|-`) whose header is `header`, under a node at `indent`.
    fn literal(&mut self, header: &str, indent: usize) -> Option<()> {
        let keep_last_break = match header.trim_end_matches(' ') {
            "|" => true,
            "|-" => false,
            _ => return None,
        };
        // Its indentation is that of its first line, which must not be empty.
        let first = self.line()?;
        if first.content.is_empty() || first.indent <= indent {
            return None;
        }
        let block = first.indent;
        let mut value = String::new();
        let mut pending_breaks = 0;
        while let Some(line) = self.line() {
            if line.content.is_empty() {
                if line.indent > block {
                    return None;
                }
                pending_breaks += 1;
            } else if line.indent < block {
                break;
            } else {
                if !value.is_empty() {
                    pending_breaks += 1;
                }
                value.extend(std::iter::repeat_n('\n', pending_breaks));
                pending_breaks = 0;
                value.extend(std::iter::repeat_n(' ', line.indent - block));
                value.push_str(line.content);
            }
            self.at += 1;
        }
        // A block that runs to the end of a file without a final line break has none.
        let last_line_broken = self.at < self.lines.len() || pending_breaks > 0;
        if keep_last_break && last_line_broken {
            value.push('\n');
        }
        self.scalar(value, false);
        Some(())
    }

    /// A flow collection on one line, `text` starting with `[` or `{`: what follows it.
    fn flow(&mut self, text: &'t str) -> Option<&'t str> {
        self.enter()?;
        let mapping = text.starts_with('{');
        let close = if mapping { '}' } else { ']' };
        self.events.push(if mapping {
            EventKind::MappingStart { tagged: false }
        } else {
            EventKind::SequenceStart { tagged: false }
        });
        let mut rest = text[1..].trim_start_matches(' ');
        if let Some(after) = rest.strip_prefix(close) {
            rest = after;
        } else {
            loop {
                if mapping {
                    let (key, after) = key(rest)?;
                    if after.is_empty() {
                        return None;
                    }
                    self.scalar(key.to_owned(), true);
                    rest = after.trim_start_matches(' ');
                }
                rest = self.flow_item(rest)?.trim_start_matches(' ');
                if let Some(after) = rest.strip_prefix(close) {
                    rest = after;
                    break;
                }
                rest = rest.strip_prefix(',')?.trim_start_matches(' ');
                if rest.starts_with([']', '}', ',']) {
                    return None;
                }
            }
        }
        self.events.push(if mapping {
            EventKind::MappingEnd
        } else {
            EventKind::SequenceEnd
        });
        self.depth -= 1;
        Some(rest)
    }

    /// One value in a flow collection: what follows it.
    fn flow_item(&mut self, text: &'t str) -> Option<&'t str> {
        match text.as_bytes().first()? {
            b'[' | b'{' => self.flow(text),
            b'\'' | b'"' => {
                let (value, rest) = quoted(text)?;
                self.scalar(value, false);
                Some(rest)
            }
            _ => {
                let len = text.find([',', ']', '}'])?;
                let value = text[..len].trim_end_matches(' ');
                // `?` starts an explicit key in a flow collection.
                if value.starts_with('?') || value.contains([':', '#', '[', '{', '\'', '"']) {
                    return None;
                }
                let value = plain(value)?;
                self.scalar(value.to_owned(), true);
                Some(&text[len..])
            }
        }
    }
}

/// A one-line plain scalar `text` (not blank), up to a comment and without trailing spaces.
fn plain(text: &str) -> Option<&str> {
    let value = match text.find(" #") {
        Some(cut) => &text[..cut],
        None => text,
    }
    .trim_end_matches(' ');
    let first = value.chars().next()?;
    let starts_badly = match first {
        '-' | '?' | ':' => value.len() == 1 || value[1..].starts_with(' '),
        _ => "[]{},#&*!|>'\"%@`".contains(first),
    };
    if starts_badly || value.contains(": ") || value.ends_with(':') || value.starts_with("- ") {
        return None;
    }
    Some(value)
}

/// A quoted scalar on one line at the start of `text`: its value and what follows the closing
/// quote. Double-quoted ones may use the escapes `\\`, `\"`, `\n`, `\t` and `\/`.
fn quoted(text: &str) -> Option<(String, &str)> {
    let quote = text.as_bytes()[0];
    let body = &text[1..];
    let mut value = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        match (quote, c) {
            (b'\'', '\'') => {
                if body[at + 1..].starts_with('\'') {
                    chars.next();
                    value.push('\'');
                } else {
                    return Some((value, &body[at + 1..]));
                }
            }
            (b'"', '"') => return Some((value, &body[at + 1..])),
            (b'"', '\\') => value.push(match chars.next()?.1 {
                '\\' => '\\',
                '"' => '"',
                'n' => '\n',
                't' => '\t',
                '/' => '/',
                _ => return None,
            }),
            _ => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::libyaml::Parser;
    use super::super::yaml::tests::fixture_texts as texts;
    use super::*;

    fn libyaml(text: &str) -> Option<Vec<EventKind>> {
        let mut parser = Parser::new(text.as_bytes())?;
        let mut events = Vec::new();
        loop {
            let event = parser.next_event()?.kind;
            let end = event == EventKind::StreamEnd;
            events.push(event);
            if end {
                return Some(events);
            }
        }
    }

    /// Whenever this module reads `text`, libyaml reads it too, into the same events. Returns
    /// whether this module read it.
    fn same(text: &str) -> bool {
        let Some(events) = events(text) else {
            return false;
        };
        assert_eq!(Some(events), libyaml(text), "{text:?}");
        true
    }

    #[test]
    fn reads_fixtures_and_builtins_as_libyaml_does() {
        let texts = texts();
        let read = texts.iter().filter(|text| same(text)).count();
        assert!(read > texts.len() / 2, "{read} of {}", texts.len());
    }

    /// Damaged copies of every file: lines dropped, repeated, swapped, indented or cut short.
    #[test]
    fn reads_damaged_files_as_libyaml_does_or_not_at_all() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut read, mut tried) = (0, 0);
        for text in texts() {
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                continue;
            }
            for _ in 0..40 {
                let mut mutated: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
                let at = next(mutated.len());
                match next(6) {
                    0 => {
                        mutated.remove(at);
                    }
                    1 => mutated.insert(at, lines[next(lines.len())].to_owned()),
                    2 => mutated.swap(at, next(lines.len())),
                    3 => mutated[at].insert(0, ' '),
                    4 => {
                        let line = &mut mutated[at];
                        let cut = next(line.len() + 1);
                        if line.is_char_boundary(cut) {
                            line.truncate(cut);
                        }
                    }
                    _ => {
                        let line = &mut mutated[at];
                        let spaces = line.len() - line.trim_start().len();
                        line.drain(..spaces.min(2));
                    }
                }
                let mut mutated = mutated.join("\n");
                if next(2) == 0 {
                    mutated.push('\n');
                }
                tried += 1;
                read += usize::from(same(&mutated));
            }
        }
        assert!(read > tried / 4, "{read} of {tried}");
    }

    #[test]
    fn reads_the_forms_workflows_use() {
        for text in [
            "a: 1\nb: x y # c\nc: 'it''s'\nd: \"q\\\"\\n\"\ne:\nf: ~\n",
            "steps:\n  - id: a\n    command: echo {{x}}\n  -   id: b\n      loop: {max: 3, as_index: i}\n",
            "params: [change, {name: base, default: main}, 'x', \"y\"]\nempty: []\nnone: {}\n",
            "a:\n- 1\n- b: 2\n  c:\n  - 3\n-\n- x\nb: z\n",
            "p: |\n  one\n\n    two\n  three\n\nq: |-\n  x\n  y\nr: |\n  last",
            "p: |\n  one\n\n\n",
            "- a\n-\n  - b\n- - c\n",
            "a: b:c\nd: -1\ne: http://x/y#z\nf: '#'\ng: ?x\nh: a, [b] {c}\n",
            "# head\n\n  # indented\na: 1 # tail\n",
            "a: é — “x”\n",
        ] {
            assert!(events(text).is_none() || same(text), "{text:?}");
        }
        for text in [
            "a: 1\nb: x y # c\n",
            "steps:\n  - id: a\n    command: echo {{x}}\n",
            "params: [change, {name: base, default: main}]\n",
            "p: |\n  one\n\n    two\nq: |-\n  x\n",
        ] {
            assert!(same(text), "{text:?}");
        }
    }

    #[test]
    fn hands_over_what_it_does_not_read() {
        for text in [
            "",
            "# only\n",
            "x\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: >\n  folded\n",
            "a: |2\n  x\n",
            "a: |\n\n  x\n",
            "a: multi\n  line\n",
            "a: 'open\n  quote'\n",
            "a: [1,\n  2]\n",
            "? a\n: b\n",
            "---\na: 1\n",
            "a:\tb\n",
            "a: 1\r\n",
            "a: \"\\u00e9\"\n",
            "a: b: c\n",
            "a: - b\n",
            "\"a\": 1\n",
            "a : 1\n",
            "a: 'x'y\n",
            "a: 'x'#y\n",
            "a: [b: c]\n",
            "a: [b,]\n",
            "a: {b: }\n",
            " a: 1\n",
            "a: 1\n b: 2\n",
            "a:\n  - b\n c: 1\n",
            "a: @x\n",
        ] {
            assert_eq!(events(text), None, "{text:?}");
        }
        let deep: String = (0..60).map(|i| format!("{}k:\n", "  ".repeat(i))).collect();
        assert_eq!(events(&deep), None);
    }
}
