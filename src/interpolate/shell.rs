//! Shell quoting for `command` and `skip_if: sh:` templates (workflow-format.md §8.5).
//!
//! Before a shell template is rendered, its literal text is fed through [`QuoteScanner`], which
//! tracks the quoting state `sh` will be in at each placeholder: unquoted, inside `"…"`, inside
//! `'…'`/`$'…'`, or inside a `#` comment. Each value is then quoted for exactly that place (see
//! the `quote` module), so that whatever a value contains (quotes, `$(…)`, backticks, newlines)
//! reaches the command as inert data.
//!
//! Some places have no safe quoting, because the shell reads what is there again after quote
//! removal or by rules no single quoting survives: arithmetic, `${…}` operands, backticks,
//! here-document bodies, `[[ … ]]`, and the arguments of commands that run them as code or read
//! them as variable names (`eval`, `sh -c`, `ssh`, `unset`, …, see `shell_words`). The scanner
//! reports those as [`Quote::Unsafe`], and the template is refused at load time.

use super::shell_words::{Command, Unsafe};

/// Deeper nesting than this is not followed: placeholders there are refused.
const MAX_DEPTH: usize = 32;

/// Where a placeholder stands, as far as quoting is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub quote: Quote,
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
    /// A place no quoting makes safe.
    Unsafe(Unsafe),
}

/// One level of the scanner's stack.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Frame {
    /// Ordinary shell text: the top level, or the inside of `$(…)`, `$((…))`, `${…}`, `$[…]`.
    /// Each has its own [`Command`] in `QuoteScanner::commands`.
    Plain(Closer),
    Double,
    Single,
    AnsiC,
    Comment,
    /// `` `…` ``: followed only to find its end.
    Backtick,
    /// A here-document body, until the line `delimiter` (tabs stripped first with `<<-`).
    Heredoc {
        delimiter: String,
        strip_tabs: bool,
        line: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closer {
    Top,
    /// `$(`, with the depth of unmatched `(` inside.
    Paren(usize),
    /// `$((` or `((`, closed by `))`.
    Arith(usize),
    /// `$[`, closed by `]`.
    Bracket(usize),
    /// `${`, closed by `}`.
    Brace(usize),
}

/// The delimiter word after `<<` or `<<-`, being read.
#[derive(Debug, Default)]
struct HeredocWord {
    text: String,
    strip_tabs: bool,
    started: bool,
}

/// Tracks `sh` quoting state over a template's literal text, one character at a time.
pub(crate) struct QuoteScanner {
    stack: Vec<Frame>,
    /// The command being read in each plain frame: the top level first.
    commands: Vec<Command>,
    escaped: bool,
    after_dollar: bool,
    /// The previous character opened `$(`: one more `(` makes it arithmetic.
    after_subst: bool,
    /// An arithmetic `)` was seen; the `)` after it is part of the same `))`.
    closing_arith: bool,
    word_start: bool,
    /// The previous characters were unquoted `<` (how many, at most 3).
    less: u8,
    prev_plain: Option<char>,
    heredoc_word: Option<HeredocWord>,
    /// Here-documents whose bodies start at the next newline.
    pending: Vec<(String, bool)>,
}

impl QuoteScanner {
    pub(crate) fn new() -> Self {
        QuoteScanner {
            stack: Vec::new(),
            commands: vec![Command::new()],
            escaped: false,
            after_dollar: false,
            after_subst: false,
            closing_arith: false,
            word_start: true,
            less: 0,
            prev_plain: None,
            heredoc_word: None,
            pending: Vec::new(),
        }
    }

    fn top(&self) -> Frame {
        self.stack
            .last()
            .cloned()
            .unwrap_or(Frame::Plain(Closer::Top))
    }

    fn set_closer(&mut self, closer: Closer) {
        match self.stack.last_mut() {
            Some(top) => *top = Frame::Plain(closer),
            None => self.push(Frame::Plain(closer)),
        }
    }

    fn push(&mut self, frame: Frame) {
        if matches!(frame, Frame::Plain(_)) {
            self.commands.push(Command::new());
        }
        self.stack.push(frame);
    }

    fn pop(&mut self) {
        if let Some(Frame::Plain(_)) = self.stack.pop() {
            self.commands.pop();
        }
    }

    fn command(&mut self) -> &mut Command {
        if self.commands.is_empty() {
            self.commands.push(Command::new());
        }
        let last = self.commands.len() - 1;
        &mut self.commands[last]
    }

    /// Feeds literal text that the shell will see.
    pub(crate) fn feed(&mut self, text: &str) {
        for c in text.chars() {
            self.feed_char(c);
        }
    }

    fn feed_char(&mut self, c: char) {
        self.heredoc_word(c);
        if std::mem::take(&mut self.escaped) {
            self.after_dollar = false;
            self.word_start = false;
            self.command().taint();
            return;
        }
        let dollar = std::mem::take(&mut self.after_dollar);
        let subst = std::mem::take(&mut self.after_subst);
        match self.top() {
            Frame::Single => {
                if c == '\'' {
                    self.pop();
                } else {
                    self.command().push(c);
                }
            }
            Frame::AnsiC => match c {
                '\\' => self.escaped = true,
                '\'' => self.pop(),
                _ => {}
            },
            Frame::Comment => {
                if c == '\n' {
                    self.pop();
                    self.word_start = true;
                    self.command().end_command();
                    self.start_heredoc();
                }
            }
            Frame::Backtick => match c {
                '\\' => self.escaped = true,
                '`' => self.pop(),
                _ => {}
            },
            Frame::Heredoc { .. } => self.heredoc_char(c),
            Frame::Double => match c {
                '\\' => self.escaped = true,
                '"' => self.pop(),
                '`' => self.push(Frame::Backtick),
                '$' => {
                    self.after_dollar = true;
                    self.command().taint();
                }
                '(' if dollar => {
                    self.push(Frame::Plain(Closer::Paren(0)));
                    self.after_subst = true;
                }
                '{' if dollar => self.push(Frame::Plain(Closer::Brace(0))),
                '[' if dollar => self.push(Frame::Plain(Closer::Bracket(0))),
                _ => self.command().push(c),
            },
            Frame::Plain(closer) => {
                self.plain_char(c, closer, dollar, subst);
                self.word_start = matches!(
                    c,
                    ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>'
                );
                self.less = if c == '<' { (self.less + 1).min(3) } else { 0 };
                self.prev_plain = Some(c);
            }
        }
    }

    fn plain_char(&mut self, c: char, closer: Closer, dollar: bool, subst: bool) {
        if std::mem::take(&mut self.closing_arith) && c == ')' {
            return;
        }
        if self.less == 2 && c != '<' {
            self.heredoc_word = Some(HeredocWord {
                strip_tabs: c == '-',
                ..HeredocWord::default()
            });
            if c == '-' {
                return;
            }
            self.heredoc_word(c);
        }
        match c {
            '\\' => self.escaped = true,
            '\'' if dollar => self.push(Frame::AnsiC),
            '\'' => self.push(Frame::Single),
            '"' => self.push(Frame::Double),
            '`' => self.push(Frame::Backtick),
            '$' => {
                self.after_dollar = true;
                self.command().taint();
            }
            '#' if self.word_start => self.push(Frame::Comment),
            '(' if subst => self.set_closer(Closer::Arith(0)),
            '(' if dollar => {
                self.push(Frame::Plain(Closer::Paren(0)));
                self.after_subst = true;
            }
            '{' if dollar => self.push(Frame::Plain(Closer::Brace(0))),
            '[' if dollar => self.push(Frame::Plain(Closer::Bracket(0))),
            '(' => self.open_paren(closer),
            ')' => self.close_paren(closer),
            '{' | '[' | '}' | ']' => self.nest(c, closer),
            ' ' | '\t' | '<' | '>' => self.command().end_word(),
            '\n' => {
                self.command().end_command();
                self.start_heredoc();
            }
            ';' | '&' | '|' => self.command().end_command(),
            _ => self.command().push(c),
        }
    }

    fn open_paren(&mut self, closer: Closer) {
        // `((` (no `$`) is bash's arithmetic command.
        let arith = self.prev_plain == Some('(');
        match closer {
            Closer::Paren(depth) if arith => {
                self.set_closer(Closer::Paren(depth.saturating_sub(1)));
                self.push(Frame::Plain(Closer::Arith(0)));
            }
            Closer::Top if arith => self.push(Frame::Plain(Closer::Arith(0))),
            Closer::Paren(depth) => self.set_closer(Closer::Paren(depth + 1)),
            Closer::Arith(depth) => self.set_closer(Closer::Arith(depth + 1)),
            _ => {}
        }
        self.command().end_command();
    }

    fn close_paren(&mut self, closer: Closer) {
        let command = self.command();
        // The word before the `)` may be `esac`.
        command.end_word();
        if command.cases > 0 && matches!(closer, Closer::Paren(0) | Closer::Top) {
            // A `case` pattern ends here, not the substitution.
            command.end_command();
            return;
        }
        command.end_command();
        match closer {
            Closer::Paren(0) => self.pop(),
            Closer::Paren(depth) => self.set_closer(Closer::Paren(depth - 1)),
            Closer::Arith(0) => {
                self.pop();
                self.closing_arith = true;
            }
            Closer::Arith(depth) => self.set_closer(Closer::Arith(depth - 1)),
            _ => {}
        }
    }

    /// Braces and brackets: only `${…}` and `$[…]` frames count them.
    fn nest(&mut self, c: char, closer: Closer) {
        match (c, closer) {
            ('{', Closer::Brace(depth)) => self.set_closer(Closer::Brace(depth + 1)),
            ('}', Closer::Brace(0)) | (']', Closer::Bracket(0)) => self.pop(),
            ('}', Closer::Brace(depth)) => self.set_closer(Closer::Brace(depth - 1)),
            ('[', Closer::Bracket(depth)) => self.set_closer(Closer::Bracket(depth + 1)),
            (']', Closer::Bracket(depth)) => self.set_closer(Closer::Bracket(depth - 1)),
            _ => self.command().push(c),
        }
    }

    /// Reads the delimiter after `<<`, alongside the normal scan.
    fn heredoc_word(&mut self, c: char) {
        let in_quotes = matches!(self.top(), Frame::Single | Frame::Double);
        let Some(word) = self.heredoc_word.as_mut() else {
            return;
        };
        match c {
            ' ' | '\t' if !word.started => {}
            '\'' | '"' | '\\' => word.started = true,
            ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' if !in_quotes => {
                if let Some(word) = self.heredoc_word.take() {
                    self.pending.push((word.text, word.strip_tabs));
                }
            }
            _ => {
                word.text.push(c);
                word.started = true;
            }
        }
    }

    /// At a newline: the first pending here-document body starts.
    fn start_heredoc(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let (delimiter, strip_tabs) = self.pending.remove(0);
        self.push(Frame::Heredoc {
            delimiter,
            strip_tabs,
            line: String::new(),
        });
    }

    fn heredoc_char(&mut self, c: char) {
        let Some(Frame::Heredoc {
            delimiter,
            strip_tabs,
            line,
        }) = self.stack.last_mut()
        else {
            return;
        };
        if c != '\n' {
            if line.len() <= delimiter.len() + 1 {
                line.push(c);
            }
            return;
        }
        let text = if *strip_tabs {
            line.trim_start_matches('\t')
        } else {
            line.as_str()
        };
        if text == delimiter.as_str() {
            self.pop();
            self.start_heredoc();
        } else {
            line.clear();
        }
    }

    /// Where a placeholder at the current position stands.
    pub(crate) fn slot(&self) -> Slot {
        let quote = match self.unsafe_here() {
            Some(place) => Quote::Unsafe(place),
            None => match self.top() {
                Frame::Plain(_) => Quote::Unquoted,
                Frame::Double => Quote::Double,
                Frame::Single | Frame::AnsiC => Quote::Single,
                Frame::Comment => Quote::Comment,
                Frame::Backtick => Quote::Unsafe(Unsafe::Backticks),
                Frame::Heredoc { .. } => Quote::Unsafe(Unsafe::Heredoc),
            },
        };
        Slot {
            quote,
            escaped: self.escaped,
        }
    }

    /// The innermost enclosing place where no quoting is safe, if any. A comment is safe
    /// whatever encloses it.
    fn unsafe_here(&self) -> Option<Unsafe> {
        if matches!(self.top(), Frame::Comment) && self.stack.len() == 1 {
            return None;
        }
        if self.stack.len() > MAX_DEPTH {
            return Some(Unsafe::TooDeep);
        }
        if self.after_dollar {
            return Some(Unsafe::AfterDollar);
        }
        // The delimiter of a here-document (`<<{{x}}`).
        if self.heredoc_word.is_some() || self.less == 2 {
            return Some(Unsafe::Heredoc);
        }
        let frames = self.stack.iter().rev().find_map(|frame| match frame {
            Frame::Plain(Closer::Arith(_) | Closer::Bracket(_)) => Some(Unsafe::Arithmetic),
            Frame::Plain(Closer::Brace(_)) => Some(Unsafe::ParamExpansion),
            Frame::Backtick => Some(Unsafe::Backticks),
            Frame::Heredoc { .. } => Some(Unsafe::Heredoc),
            _ => None,
        });
        frames.or_else(|| self.commands.iter().rev().find_map(Command::unsafe_here))
    }

    /// Records that a value was inserted here: it is part of a word and consumes any escape.
    pub(crate) fn inserted(&mut self) {
        self.escaped = false;
        self.after_dollar = false;
        self.after_subst = false;
        self.closing_arith = false;
        self.less = 0;
        self.command().taint();
        if matches!(self.top(), Frame::Plain(_)) {
            self.word_start = false;
            self.prev_plain = None;
        }
        if let Some(Frame::Heredoc { line, .. }) = self.stack.last_mut() {
            line.push('\0');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote_after(text: &str) -> Quote {
        let mut scanner = QuoteScanner::new();
        scanner.feed(text);
        scanner.slot().quote
    }

    fn refused(text: &str) -> Option<Unsafe> {
        match quote_after(text) {
            Quote::Unsafe(place) => Some(place),
            _ => None,
        }
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
        assert_eq!(quote_after("echo `a` \""), Quote::Double);
        assert_eq!(
            quote_after("x=$(case $y in a) echo hi;; esac) \""),
            Quote::Double
        );
        assert_eq!(
            quote_after("echo \"$(case $y in (a) echo \"x\";; esac) "),
            Quote::Double
        );
    }

    #[test]
    fn comments_end_at_newline() {
        assert_eq!(quote_after("# it's\necho "), Quote::Unquoted);
        assert_eq!(quote_after("echo a#b '"), Quote::Single);
        assert_eq!(quote_after("echo # "), Quote::Comment);
    }

    #[test]
    fn refuses_places_without_safe_quoting() {
        use Unsafe::*;
        let cases: &[(&str, Unsafe)] = &[
            ("echo $(( ", Arithmetic),
            ("echo \"$(( 1 + ", Arithmetic),
            ("echo $(( (1 + 2) * ", Arithmetic),
            ("(( n = ", Arithmetic),
            ("if (( ", Arithmetic),
            ("echo $[ ", Arithmetic),
            ("let n=", Arithmetic),
            ("echo ${x:-", ParamExpansion),
            ("echo \"${x:-", ParamExpansion),
            ("echo ${x//", ParamExpansion),
            ("echo `echo ", Backticks),
            ("echo \"`echo \\\"", Backticks),
            ("cat <<EOF\n", Heredoc),
            ("cat <<'EOF'\nline\n", Heredoc),
            ("cat <<-\"EOF\"\n\tx\n", Heredoc),
            ("cat <<EOF; echo done\n", Heredoc),
            ("[[ ", TestBrackets),
            ("[[ a && ", TestBrackets),
            ("if [[ $a == b || ", TestBrackets),
            ("eval ", Command("eval")),
            ("eval \"echo ", Command("eval")),
            ("eval \"$(printf %s ", Command("eval")),
            ("x=1 eval ", Command("eval")),
            ("sh -c ", Command("sh")),
            ("bash -lc \"echo ", Command("bash")),
            ("xargs -0 sh -c ", Command("sh")),
            ("find . -exec bash -c ", Command("bash")),
            ("sudo -u x sh -c ", Command("sh")),
            ("ssh host ", Command("ssh")),
            ("trap ", Command("trap")),
            ("unset ", Command("unset")),
            ("read -r ", Command("read")),
            ("printf -v ", Command("printf")),
            ("declare -i n=", Command("declare")),
            ("local -n ref=", Command("local")),
            ("[ -v ", Command("[")),
            ("python3 -c ", Command("python3")),
            ("perl -ne ", Command("perl")),
            ("awk ", Command("awk")),
            ("awk -F: ", Command("awk")),
            ("awk -v x=1 ", Command("awk")),
            ("awk \"$(echo ", Command("awk")),
            ("sed -e ", Command("sed")),
            ("sed -n -e p -e ", Command("sed")),
            ("sed -E ", Command("sed")),
            ("echo ok; if true; then eval ", Command("eval")),
            ("echo \"$", AfterDollar),
            ("echo $", AfterDollar),
            ("cat <<", Heredoc),
            ("arr[", Arithmetic),
            ("x=1; arr[1+", Arithmetic),
            ("cat <<-", Heredoc),
        ];
        for (text, place) in cases {
            assert_eq!(refused(text), Some(*place), "{text:?}");
        }
    }

    #[test]
    fn safe_places_stay_safe() {
        for text in [
            "echo $((1 + 2)) ",
            "echo $(( 1 )) \"",
            "echo ${x:-a} ",
            "echo `date` ",
            "cat <<EOF\nbody\nEOF\necho ",
            "cat <<EOF ",
            "cat <<< ",
            "[[ -f a ]] && echo ",
            "echo eval; echo ",
            "sh script.sh ",
            "printf '%s' ",
            "declare x=",
            "grep -c x ",
            "( (echo a) ); echo ",
            "echo x | ",
            "echo $x ",
            "f() { echo ",
            "# eval ",
            "awk '{print}' ",
            "awk -v t=\"$x\" '{print}' ",
            "awk -f prog.awk ",
            "sed -E 's/a/b/' ",
            "sed -e p ",
            "sed -n -f script.sed ",
            "arr[1]=",
            "echo a[",
        ] {
            assert_eq!(refused(text), None, "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_in_linear_time() {
        let deep = "$(".repeat(100_000);
        assert_eq!(refused(&deep), Some(Unsafe::TooDeep));
        assert_eq!(refused("echo $(echo $(echo "), None);
    }
}
