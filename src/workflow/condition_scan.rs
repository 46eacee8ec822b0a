//! A quick first reading of a condition: for the plain expressions most conditions are (names,
//! `.field` and `["key"]`, calls, comparisons, arithmetic, `!`, `&&`, `||`, parentheses, strings
//! without escapes, decimal numbers, `true`, `false`, `null`), it checks the syntax and finds
//! what the expression reads in one pass over the text, without building a tree.
//!
//! It only ever says "this is a valid expression that reads these names" or "ask the crate":
//! anything outside that subset (macros such as `has` or `all`, `in`, `?:`, unary minus, lists,
//! maps, escapes, comments, other literals, reserved words, deep nesting) and anything it finds
//! wrong is handed back, and [`Condition::parse`](super::condition::Condition::parse) then
//! parses the text with the `cel` crate as before, which gives the verdict and the message. So
//! it never rejects an expression and never words an error; the crate stays the judge. What it
//! accepts, the crate's parsers accept with the same reads (unit tests compare them on
//! generated expressions). Parsing with the crate costs some twenty thousand instructions per
//! expression, mostly in building and freeing its tree; this costs a tenth of that, which is
//! what keeps `--validate` of a file full of conditions close to that of the same file without.

use super::condition::Uses;

/// Deeper nesting of parentheses, brackets and calls is left to the crate (its own limit is 96).
const MAX_DEPTH: usize = 32;

/// The longest integer read here: 18 digits always fit in an `i64`.
const MAX_DIGITS: usize = 18;

/// Whether the crate's lexer reads `word` as a keyword or a reserved word (besides `true`,
/// `false` and `null`, read here as literals).
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "in" | "as"
            | "break"
            | "const"
            | "continue"
            | "else"
            | "for"
            | "function"
            | "if"
            | "import"
            | "let"
            | "loop"
            | "package"
            | "namespace"
            | "return"
            | "var"
            | "void"
            | "while"
    )
}

/// Whether the crate expands a call of `name` as a macro (into a tree with variables of its
/// own).
fn is_macro(name: &str) -> bool {
    matches!(
        name,
        "has" | "all" | "exists" | "exists_one" | "existsOne" | "map" | "filter"
    )
}

/// What `text` reads, when it is an expression of the subset this module reads; `None` means
/// "parse it with the crate" (it may be valid or not).
pub(super) fn scan(text: &str) -> Option<Uses> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
        uses: Uses::default(),
        last: None,
    };
    scanner.expr()?;
    (scanner.token()? == Token::End).then_some(scanner.uses)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'t> {
    Ident(&'t str),
    /// A string literal's text, without its quotes (it has no escapes).
    Str(&'t str),
    /// A number, `true`, `false` or `null`.
    Literal,
    /// A binary operator.
    Binary,
    Not,
    Dot,
    Comma,
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    End,
}

/// What an operand turned out to be, as far as the reads care.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operand<'t> {
    /// A bare name (possibly in parentheses).
    Ident(&'t str),
    /// A bare string literal (possibly in parentheses).
    Str(&'t str),
    Other,
}

struct Scanner<'t> {
    bytes: &'t [u8],
    text: &'t str,
    pos: usize,
    depth: usize,
    uses: Uses,
    /// The last token read: where its reading started, the token, and where it ended (the
    /// grammar looks one token ahead, then steps back).
    last: Option<(usize, Token<'t>, usize)>,
}

impl<'t> Scanner<'t> {
    /// `unary (binary-operator unary)*`
    fn expr(&mut self) -> Option<Operand<'t>> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let mut operand = self.unary()?;
        loop {
            let before = self.pos;
            if self.token()? != Token::Binary {
                self.pos = before;
                break;
            }
            self.unary()?;
            operand = Operand::Other;
        }
        self.depth -= 1;
        Some(operand)
    }

    /// `!* postfix`
    fn unary(&mut self) -> Option<Operand<'t>> {
        let mut negated = false;
        loop {
            let before = self.pos;
            if self.token()? != Token::Not {
                self.pos = before;
                break;
            }
            negated = !negated;
        }
        let operand = self.postfix()?;
        // The crate reads `!!x` as `x`.
        Some(if negated { Operand::Other } else { operand })
    }

    /// `primary (.name | .name(args) | [expr])*`
    fn postfix(&mut self) -> Option<Operand<'t>> {
        let mut operand = self.primary()?;
        loop {
            let before = self.pos;
            match self.token()? {
                Token::Dot => {
                    let Token::Ident(field) = self.token()? else {
                        return None;
                    };
                    let after = self.pos;
                    if self.token()? == Token::Open {
                        if is_macro(field) {
                            return None;
                        }
                        self.arguments()?;
                    } else {
                        self.pos = after;
                        if let Operand::Ident(base) = operand {
                            self.read(base, field);
                        }
                    }
                }
                Token::OpenBracket => {
                    let index = self.expr()?;
                    if self.token()? != Token::CloseBracket {
                        return None;
                    }
                    if let (Operand::Ident(base), Operand::Str(key)) = (operand, index) {
                        self.read(base, key);
                    }
                }
                _ => {
                    self.pos = before;
                    return Some(operand);
                }
            }
            operand = Operand::Other;
        }
    }

    /// A name, a call, a literal or a parenthesized expression. A literal takes no `.` or `[`
    /// after it here (the crate's lexer reads `1.` and friends its own way).
    fn primary(&mut self) -> Option<Operand<'t>> {
        match self.token()? {
            Token::Ident(name) => {
                let after = self.pos;
                if self.token()? == Token::Open {
                    if is_macro(name) {
                        return None;
                    }
                    self.arguments()?;
                    return Some(Operand::Other);
                }
                self.pos = after;
                if !self.uses.names.iter().any(|n| n == name) {
                    self.uses.names.push(name.to_owned());
                }
                Some(Operand::Ident(name))
            }
            Token::Str(text) => self.no_selector(Operand::Str(text)),
            Token::Literal => self.no_selector(Operand::Other),
            Token::Open => {
                let inner = self.expr()?;
                (self.token()? == Token::Close).then_some(inner)
            }
            _ => None,
        }
    }

    fn no_selector(&mut self, operand: Operand<'t>) -> Option<Operand<'t>> {
        let before = self.pos;
        let next = self.token()?;
        self.pos = before;
        (!matches!(next, Token::Dot | Token::OpenBracket)).then_some(operand)
    }

    /// `(` already read: `)` or `expr (, expr)* )`.
    fn arguments(&mut self) -> Option<()> {
        let before = self.pos;
        if self.token()? == Token::Close {
            return Some(());
        }
        self.pos = before;
        loop {
            self.expr()?;
            match self.token()? {
                Token::Comma => {}
                Token::Close => return Some(()),
                _ => return None,
            }
        }
    }

    /// `base.field` or `base["field"]` on a bare name.
    fn read(&mut self, base: &str, field: &str) {
        let list = match base {
            "steps" => &mut self.uses.steps,
            "params" => &mut self.uses.params,
            "run" => &mut self.uses.run,
            _ => return,
        };
        list.push(field.to_owned());
    }

    /// The next token, after white space; `None` for anything this module does not read.
    fn token(&mut self) -> Option<Token<'t>> {
        if let Some((start, token, end)) = self.last
            && start == self.pos
        {
            self.pos = end;
            return Some(token);
        }
        let start = self.pos;
        let token = self.lex()?;
        self.last = Some((start, token, self.pos));
        Some(token)
    }

    fn lex(&mut self) -> Option<Token<'t>> {
        while let Some(b'\x0C' | b'\x0B' | b'\t' | b'\r' | b'\n' | b' ') = self.bytes.get(self.pos)
        {
            self.pos += 1;
        }
        let Some(&c) = self.bytes.get(self.pos) else {
            return Some(Token::End);
        };
        let next = self.bytes.get(self.pos + 1).copied();
        let (token, len) = match c {
            b'.' if next.is_some_and(|n| n.is_ascii_digit()) => return None,
            b'.' => (Token::Dot, 1),
            b',' => (Token::Comma, 1),
            b'(' => (Token::Open, 1),
            b')' => (Token::Close, 1),
            b'[' => (Token::OpenBracket, 1),
            b']' => (Token::CloseBracket, 1),
            b'!' if next == Some(b'=') => (Token::Binary, 2),
            b'!' => (Token::Not, 1),
            b'=' | b'&' | b'|' if next == Some(c) => (Token::Binary, 2),
            b'<' | b'>' if next == Some(b'=') => (Token::Binary, 2),
            b'<' | b'>' | b'+' | b'-' | b'*' | b'%' => (Token::Binary, 1),
            // `//` starts a comment.
            b'/' if next != Some(b'/') => (Token::Binary, 1),
            b'"' | b'\'' => return self.string(c),
            b'0'..=b'9' => return self.number(),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => return self.word(),
            _ => return None,
        };
        self.pos += len;
        Some(token)
    }

    /// A string without escapes on one line (not a triple-quoted one).
    fn string(&mut self, quote: u8) -> Option<Token<'t>> {
        let start = self.pos + 1;
        if self.bytes.get(start) == Some(&quote) {
            if self.bytes.get(start + 1) == Some(&quote) {
                return None;
            }
            self.pos = start + 1;
            return Some(Token::Str(""));
        }
        let len = self.bytes[start..]
            .iter()
            .position(|&b| b == quote || matches!(b, b'\\' | b'\n' | b'\r'))?;
        if self.bytes[start + len] != quote {
            return None;
        }
        self.pos = start + len + 1;
        Some(Token::Str(&self.text[start..start + len]))
    }

    /// A decimal integer (no leading zero, at most 18 digits) or `digits.digits`.
    fn number(&mut self) -> Option<Token<'t>> {
        let digits = |from: usize| {
            self.bytes[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let whole = digits(self.pos);
        if whole > MAX_DIGITS || (whole > 1 && self.bytes[self.pos] == b'0') {
            return None;
        }
        let mut end = self.pos + whole;
        if self.bytes.get(end) == Some(&b'.') {
            let fraction = digits(end + 1);
            if fraction == 0 {
                return None;
            }
            end += 1 + fraction;
        }
        if self
            .bytes
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
        {
            return None;
        }
        self.pos = end;
        Some(Token::Literal)
    }

    /// A name, or `true`, `false`, `null`; keywords, reserved words and prefixed strings
    /// (`r"…"`, `b'…'`) are the crate's.
    fn word(&mut self) -> Option<Token<'t>> {
        let start = self.pos;
        let len = self.bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        let word = &self.text[start..start + len];
        if matches!(self.bytes.get(start + len), Some(b'"' | b'\'')) || is_keyword(word) {
            return None;
        }
        self.pos = start + len;
        Some(match word {
            "true" | "false" | "null" => Token::Literal,
            _ => Token::Ident(word),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::condition::{tree, uses_of};
    use super::*;

    /// A small deterministic generator (no seed to manage, the same texts on every run).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const NAMES: &[&str] = &[
        "a", "b", "steps", "params", "run", "review", "out0", "_x1", "has", "map", "size", "in",
        "if", "r", "b", "int",
    ];
    const FIELDS: &[&str] = &["outcome", "x", "cost_usd", "in", "true", "size", "all"];
    const LITERALS: &[&str] = &[
        "0",
        "1",
        "42",
        "007",
        "1.5",
        "0.25",
        "1e3",
        "99999999999999999999",
        "0x1F",
        "1u",
        "'x'",
        "\"y\"",
        "\"\"",
        "''",
        "'flaky-tests'",
        "\"a\\tb\"",
        "'''t'''",
        "\"é\"",
        "true",
        "false",
        "null",
        "r\"x\"",
        "b'y'",
    ];
    const BINARY: &[&str] = &[
        "==", "!=", "<", "<=", ">", ">=", "&&", "||", "+", "-", "*", "/", "%", "in", "=", "&",
    ];
    const SPACE: &[&str] = &["", " ", " ", "  ", "\n", "\t", " // c\n"];

    fn expression(rng: &mut Rng, depth: usize) -> String {
        let choice = if depth > 4 {
            rng.below(2)
        } else {
            rng.below(16)
        };
        let sub = |rng: &mut Rng| expression(rng, depth + 1);
        let space = |rng: &mut Rng| rng.pick(SPACE).to_owned();
        match choice {
            0 => rng.pick(NAMES).to_owned(),
            1 => rng.pick(LITERALS).to_owned(),
            2 | 3 => format!("{}.{}", sub(rng), rng.pick(FIELDS)),
            4 => format!("{}[{}]", sub(rng), sub(rng)),
            5 => format!("{}({})", rng.pick(NAMES), arguments(rng, depth)),
            6 => format!(
                "{}.{}({})",
                sub(rng),
                rng.pick(&["size", "all", "exists", "startsWith"]),
                arguments(rng, depth)
            ),
            7..=9 => format!(
                "{}{}{}{}{}",
                sub(rng),
                space(rng),
                rng.pick(BINARY),
                space(rng),
                sub(rng)
            ),
            10 => format!("{}{}", rng.pick(&["!", "!!", "!!!", "-", "!-"]), sub(rng)),
            11 => format!("({}{})", space(rng), sub(rng)),
            12 => format!("(({}))", sub(rng)),
            13 | 14 => {
                let base = rng.pick(&["steps", "params", "run", "(steps)", "!!steps", "x"]);
                match rng.below(3) {
                    0 => format!("{base}.{}", rng.pick(FIELDS)),
                    1 => format!("{base}[{}]", rng.pick(LITERALS)),
                    _ => format!("{base}.{}({})", rng.pick(FIELDS), arguments(rng, depth)),
                }
            }
            _ => match rng.below(3) {
                0 => format!("[{}]", arguments(rng, depth)),
                1 => format!("{} ? {} : {}", sub(rng), sub(rng), sub(rng)),
                _ => format!("{{{}: {}}}", sub(rng), sub(rng)),
            },
        }
    }

    fn arguments(rng: &mut Rng, depth: usize) -> String {
        let count = rng.below(4);
        let args: Vec<String> = (0..count).map(|_| expression(rng, depth + 2)).collect();
        let mut text = args.join(", ");
        if count > 0 && rng.below(10) == 0 {
            text.push(',');
        }
        text
    }

    /// Sometimes a character is dropped or doubled, so broken texts are tried too.
    fn damage(rng: &mut Rng, text: String) -> String {
        if text.is_empty() || rng.below(4) != 0 {
            return text;
        }
        let chars: Vec<char> = text.chars().collect();
        let at = rng.below(chars.len());
        let mut out: String = chars[..at].iter().collect();
        if rng.below(2) == 0 {
            out.push(chars[at]);
            out.push(chars[at]);
        }
        out.extend(&chars[at + 1..]);
        out
    }

    /// Everything the scan accepts, both of the crate's parsers accept, and the reads are those
    /// of the crate's tree.
    #[test]
    fn what_the_scan_accepts_the_crate_accepts_with_the_same_reads() {
        let mut rng = Rng(7);
        let (mut accepted, mut handed_back, mut reading_steps) = (0, 0, 0);
        for _ in 0..12_000 {
            let text = expression(&mut rng, 0);
            let text = damage(&mut rng, text);
            let Some(uses) = scan(&text) else {
                handed_back += 1;
                continue;
            };
            accepted += 1;
            let expression = tree(&text).unwrap_or_else(|err| panic!("{text:?}: {err:?}"));
            assert!(
                cel::parser::PrattParser::default().parse(&text).is_ok(),
                "{text:?}"
            );
            assert!(cel::Program::compile(&text).is_ok(), "{text:?}");
            assert_eq!(uses, uses_of(&expression), "{text:?}");
            reading_steps += usize::from(!uses.steps.is_empty());
        }
        assert!(
            accepted > 1500 && handed_back > 1500 && reading_steps > 50,
            "{accepted} {handed_back} {reading_steps}"
        );
    }

    #[test]
    fn reads_a_plain_condition() {
        let uses = scan(
            "mode == \"full\" && out0 != \"\" && steps[\"shell-0\"].outcome != \"failed\" && 7 > 0 || !(params.who == 'x') && run.cost_usd < 5.0 && size(review.issues) > steps.b.exit_code",
        )
        .unwrap();
        assert_eq!(
            uses.names,
            ["mode", "out0", "steps", "params", "run", "review"]
        );
        assert_eq!(uses.steps, ["shell-0", "b"]);
        assert_eq!(uses.params, ["who"]);
        assert_eq!(uses.run, ["cost_usd"]);
        assert!(uses.guarded.is_empty());
    }

    #[test]
    fn hands_back_what_it_does_not_read() {
        for text in [
            "has(review.verdict)",
            "items.all(x, x > 0)",
            "'a' in list",
            "-x < 0",
            "a ? b : c",
            "[1, 2].size() > 0",
            "{'a': 1}",
            "'a\\n' == b",
            "a // comment",
            "if == 1",
            "r'raw' == a",
            "007 == a",
            "1e3 > a",
            "0x1F > a",
            "1u > a",
            "`a` == 1",
            "a.?b",
            "",
            "a ==",
            "a &&& b",
            "f(a,)",
            "'''x''' == a",
            "\"a\" == 'b",
        ] {
            assert_eq!(scan(text), None, "{text:?}");
        }
        let deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
        assert_eq!(scan(&deep), None);
        let negated = format!("{}a", "!".repeat(100_000));
        assert!(scan(&negated).is_some());
    }
}
