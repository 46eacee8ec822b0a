//! Shell quoting for `command` and `skip_if: sh:` templates (workflow-format.md §8.5).
//!
//! Before a shell template is rendered, its literal text is fed through [`QuoteScanner`], which
//! tracks the quoting state `sh` will be in at each placeholder: unquoted, inside `"…"`, inside
//! `'…'`/`$'…'`, or inside a `#` comment, and how many backtick command substitutions enclose it.
//! Each value is then quoted for exactly that place (see the `quote` module), so that whatever a
//! value contains (quotes, `$(…)`, backticks, newlines) reaches the command as inert data.
//!
//! Known limits, as the spec says: here-document bodies are treated as unquoted text, and
//! backticks nested with `` \` `` are not tracked.

/// Where a placeholder stands, as far as quoting is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub quote: Quote,
    /// Backtick substitutions around the placeholder: each one unescapes `\\`, `` \` `` and `\$`
    /// once more before the inner command is parsed.
    pub backticks: usize,
    /// The text before the placeholder ends in an unpaired backslash, which would escape the
    /// first character inserted.
    pub escaped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quote {
    Unquoted,
    Double,
    /// `'…'` or `$'…'`: nothing can be inserted safely here.
    Single,
    /// A `#` comment, which ends at the first newline whatever quotes follow.
    Comment,
}

/// One level of the scanner's stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Ordinary shell text: the top level, or the inside of `$(…)` (with its open-paren depth)
    /// or of backticks.
    Plain(Closer),
    Double,
    Single,
    AnsiC,
    Comment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closer {
    Top,
    Paren(usize),
    Backtick,
}

/// Tracks `sh` quoting state over a template's literal text, one character at a time.
pub(crate) struct QuoteScanner {
    stack: Vec<Frame>,
    escaped: bool,
    after_dollar: bool,
    word_start: bool,
}

impl QuoteScanner {
    pub(crate) fn new() -> Self {
        QuoteScanner {
            stack: Vec::new(),
            escaped: false,
            after_dollar: false,
            word_start: true,
        }
    }

    fn top(&self) -> Frame {
        self.stack
            .last()
            .copied()
            .unwrap_or(Frame::Plain(Closer::Top))
    }

    fn set_top(&mut self, frame: Frame) {
        match self.stack.last_mut() {
            Some(top) => *top = frame,
            None => self.stack.push(frame),
        }
    }

    /// Feeds literal text that the shell will see.
    pub(crate) fn feed(&mut self, text: &str) {
        for c in text.chars() {
            self.feed_char(c);
        }
    }

    fn feed_char(&mut self, c: char) {
        if std::mem::take(&mut self.escaped) {
            self.after_dollar = false;
            self.word_start = false;
            return;
        }
        let dollar = std::mem::take(&mut self.after_dollar);
        match self.top() {
            Frame::Single => {
                if c == '\'' {
                    self.stack.pop();
                }
            }
            Frame::AnsiC => match c {
                '\\' => self.escaped = true,
                '\'' => {
                    self.stack.pop();
                }
                _ => {}
            },
            Frame::Comment => {
                if c == '\n' {
                    self.stack.pop();
                    self.word_start = true;
                }
            }
            Frame::Double => match c {
                '\\' => self.escaped = true,
                '"' => {
                    self.stack.pop();
                }
                '`' => self.backtick(),
                '$' => self.after_dollar = true,
                '(' if dollar => self.stack.push(Frame::Plain(Closer::Paren(0))),
                _ => {}
            },
            Frame::Plain(closer) => {
                self.plain_char(c, closer, dollar);
                self.word_start =
                    c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '<' | '>');
            }
        }
    }

    fn plain_char(&mut self, c: char, closer: Closer, dollar: bool) {
        match c {
            '\\' => self.escaped = true,
            '\'' if dollar => self.stack.push(Frame::AnsiC),
            '\'' => self.stack.push(Frame::Single),
            '"' => self.stack.push(Frame::Double),
            '`' => self.backtick(),
            '$' => self.after_dollar = true,
            '#' if self.word_start => self.stack.push(Frame::Comment),
            '(' if dollar => self.stack.push(Frame::Plain(Closer::Paren(0))),
            '(' => {
                if let Closer::Paren(depth) = closer {
                    self.set_top(Frame::Plain(Closer::Paren(depth + 1)));
                }
            }
            ')' => match closer {
                Closer::Paren(0) => {
                    self.stack.pop();
                }
                Closer::Paren(depth) => self.set_top(Frame::Plain(Closer::Paren(depth - 1))),
                Closer::Top | Closer::Backtick => {}
            },
            _ => {}
        }
    }

    /// A bare backtick closes the innermost open backtick substitution (the shell looks for it
    /// without regard to quotes inside), or opens a new one.
    fn backtick(&mut self) {
        match self
            .stack
            .iter()
            .rposition(|f| *f == Frame::Plain(Closer::Backtick))
        {
            Some(i) => self.stack.truncate(i),
            None => self.stack.push(Frame::Plain(Closer::Backtick)),
        }
    }

    /// Where a placeholder at the current position stands.
    pub(crate) fn slot(&self) -> Slot {
        let quote = match self.top() {
            Frame::Plain(_) => Quote::Unquoted,
            Frame::Double => Quote::Double,
            Frame::Single | Frame::AnsiC => Quote::Single,
            Frame::Comment => Quote::Comment,
        };
        let backticks = self
            .stack
            .iter()
            .filter(|f| **f == Frame::Plain(Closer::Backtick))
            .count();
        Slot {
            quote,
            backticks,
            escaped: self.escaped,
        }
    }

    /// Records that a value was inserted here: it is part of a word and consumes any escape.
    pub(crate) fn inserted(&mut self) {
        self.escaped = false;
        self.after_dollar = false;
        if matches!(self.top(), Frame::Plain(_)) {
            self.word_start = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot_after(text: &str) -> Slot {
        let mut scanner = QuoteScanner::new();
        scanner.feed(text);
        scanner.slot()
    }

    fn quote_after(text: &str) -> Quote {
        slot_after(text).quote
    }

    #[test]
    fn tracks_quotes() {
        assert_eq!(quote_after("echo "), Quote::Unquoted);
        assert_eq!(quote_after("echo \""), Quote::Double);
        assert_eq!(quote_after("echo '"), Quote::Single);
        assert_eq!(quote_after("echo $'"), Quote::Single);
        assert_eq!(quote_after("echo $'a\\'b"), Quote::Single);
        assert_eq!(quote_after("echo 'a' "), Quote::Unquoted);
        assert_eq!(quote_after("echo \"a\\\"b"), Quote::Double);
        assert_eq!(quote_after("echo \\'"), Quote::Unquoted);
        assert_eq!(quote_after("echo \"it's "), Quote::Double);
    }

    #[test]
    fn restarts_inside_substitutions() {
        assert_eq!(quote_after("echo \"$("), Quote::Unquoted);
        assert_eq!(quote_after("echo \"$(cat \"f\") "), Quote::Double);
        assert_eq!(quote_after("echo \"$( (a) "), Quote::Unquoted);
        assert_eq!(quote_after("echo '$("), Quote::Single);
        assert_eq!(quote_after("echo \"`"), Quote::Unquoted);
        assert_eq!(slot_after("echo \"`").backticks, 1);
        assert_eq!(slot_after("echo `a` ").backticks, 0);
        assert_eq!(quote_after("echo `a` \""), Quote::Double);
    }

    #[test]
    fn comments_end_at_newline() {
        assert_eq!(quote_after("# it's\necho "), Quote::Unquoted);
        assert_eq!(quote_after("echo a#b '"), Quote::Single);
        assert_eq!(quote_after("echo # "), Quote::Comment);
    }
}
