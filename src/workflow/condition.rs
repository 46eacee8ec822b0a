//! Conditions: `when:` and the expression form of `break_if:` (control.md §6, §11 "Conditions,
//! precisely").
//!
//! A condition is a CEL expression, parsed once when its file is loaded by the `cel` crate (a
//! maintained implementation of the language; nothing here parses CEL). Besides the expression
//! tree, a [`Condition`] keeps what the name check and run time need to know about it without
//! walking it again: the free names it reads, the literal `steps.<id>` and `params.<name>` it
//! names, and the names it tests with `has()`.
//!
//! The crate has two parsers of the same grammar. Its Pratt parser (feature `parser_pratt`) is
//! about forty times faster than its ANTLR one, which costs some 70 µs per expression and made
//! validating a workflow full of conditions ten times slower; so conditions are parsed with the
//! Pratt parser. The ANTLR parser stays the reference for what a user reads: when the Pratt
//! parser rejects an expression, the ANTLR parser's verdict and message are used (and its tree,
//! should it accept what the Pratt one did not), and the character offsets of a name in an error
//! message come from it too (the Pratt parser keeps offsets only for its own errors).

use std::fmt;
use std::sync::{Arc, OnceLock};

use cel::common::ast::{EntryExpr, Expr, LiteralValue};
use cel::parser::PrattParser;
use cel::{IdedExpr, Program};

/// The names that mean the run's own values in a condition; they cannot be parameter or capture
/// names (`reserved-name`).
pub const RESERVED: &[&str] = &["steps", "run", "env", "params"];

/// The fields of `run` in a condition.
pub const RUN_FIELDS: &[&str] = &["cost_usd", "tokens", "id"];

/// The fields of `steps.<id>` in a condition.
pub const STEP_FIELDS: &[&str] = &["outcome", "exit_code", "class", "duration_ms", "cost_usd"];

/// Names CEL itself defines (types and type conversions usable as identifiers).
const CEL_NAMES: &[&str] = &[
    "bool",
    "bytes",
    "double",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "type",
    "uint",
];

/// A CEL expression as written, with what it reads. Clones share one [`Compiled`].
#[derive(Clone)]
pub struct Condition {
    compiled: Arc<Compiled>,
}

/// What [`Condition::parse`] found, and the expression tree, built again on first evaluation.
///
/// The tree of a condition is not kept from the load: a file is loaded (and `--validate`d) far
/// more often than its conditions run, most conditions of a run never need one (their step is
/// skipped earlier or never reached), and a thousand trees of small allocations held to the end
/// cost more, in memory, in freeing and in the allocator's upkeep, than parsing a condition once
/// more (a few microseconds) when it is evaluated.
struct Compiled {
    text: String,
    uses: Uses,
    expression: OnceLock<Result<IdedExpr, SyntaxError>>,
}

/// What a condition reads, found once at load time: free names (not bound by a macro such as
/// `all(x, …)`), `steps.<id>` (and `steps["<id>"]`), `params.<name>`, `run.<field>`, and the
/// names whose fields the expression tests with `has()` (`has(review.verdict)`); each list in
/// order of first use.
///
/// The names are kept together, in two allocations whatever their number: a condition is most
/// often parsed on the worker thread and checked on the loading one, and each allocation read
/// there is a transfer between the two cores' caches.
#[derive(Debug, Default, PartialEq)]
pub struct Uses {
    /// The names, one after another.
    text: Box<str>,
    /// For each name, in order: its list, and where it ends in `text`.
    marks: Box<[(List, usize)]>,
}

/// The lists of [`Uses`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Name,
    Step,
    Param,
    Run,
    Guarded,
}

impl Uses {
    fn new(entries: impl Iterator<Item = (List, String)>) -> Self {
        let mut text = String::new();
        let mut marks = Vec::new();
        for (list, name) in entries {
            text.push_str(&name);
            marks.push((list, text.len()));
        }
        Uses {
            text: text.into(),
            marks: marks.into(),
        }
    }

    fn list(&self, list: List) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.marks.iter().filter_map(move |&(of, end)| {
            let name = self.text.get(start..end);
            start = end;
            if of == list { name } else { None }
        })
    }

    /// Free names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.list(List::Name)
    }

    /// The ids of `steps.<id>`.
    pub fn steps(&self) -> impl Iterator<Item = &str> {
        self.list(List::Step)
    }

    /// The names of `params.<name>`.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.list(List::Param)
    }

    /// The fields of `run.<field>`.
    pub fn run(&self) -> impl Iterator<Item = &str> {
        self.list(List::Run)
    }

    /// The names tested with `has()`.
    pub fn guarded(&self) -> impl Iterator<Item = &str> {
        self.list(List::Guarded)
    }
}

/// How a condition reads a name, for [`Condition::offset_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// A free name.
    Name,
    /// `steps.<id>`.
    Step,
    /// `params.<name>`.
    Param,
    /// `run.<field>`.
    Run,
}

/// What a walk of the tree finds: each read with the offset `at` gave it.
#[derive(Default)]
struct Found {
    reads: Vec<(Read, String, usize)>,
    guarded: Vec<String>,
}

/// Why a condition does not compile: the parser's message and where, 1-based, in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl Condition {
    /// Parses `text`: with the crate's Pratt parser, or, when it rejects the text, with its
    /// ANTLR parser, whose verdict and message count.
    pub fn parse(text: &str) -> Result<Condition, SyntaxError> {
        let expression = tree(text)?;
        let mut found = Found::default();
        collect(&expression, &|_| 0, &mut Vec::new(), &mut found);
        drop(expression);
        let lists = |read| match read {
            Read::Name => List::Name,
            Read::Step => List::Step,
            Read::Param => List::Param,
            Read::Run => List::Run,
        };
        let uses = Uses::new(
            found
                .reads
                .into_iter()
                .map(|(read, name, _)| (lists(read), name))
                .chain(found.guarded.into_iter().map(|name| (List::Guarded, name))),
        );
        Ok(Condition {
            compiled: Arc::new(Compiled {
                text: text.to_owned(),
                uses,
                expression: OnceLock::new(),
            }),
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.compiled.text
    }

    /// The parsed expression, for evaluation: parsed again on the first call (the text parsed
    /// when the condition was made, so this does not fail).
    pub fn expression(&self) -> Result<&IdedExpr, &SyntaxError> {
        self.compiled
            .expression
            .get_or_init(|| tree(&self.compiled.text))
            .as_ref()
    }

    /// The character offset of the first place the expression reads `name` as `read`, for an
    /// error message (0 if not found). It parses the text again with the ANTLR parser, the one
    /// that records offsets, so it is meant for the rare error path only.
    pub fn offset_of(&self, read: Read, name: &str) -> usize {
        let Ok(program) = compile(&self.compiled.text) else {
            return 0;
        };
        let mut found = Found::default();
        let at = |expr: &IdedExpr| offset(&program, expr);
        collect(program.expression(), &at, &mut Vec::new(), &mut found);
        found
            .reads
            .into_iter()
            .find(|(r, n, _)| *r == read && n == name)
            .map_or(0, |(_, _, offset)| offset)
    }

    pub fn uses(&self) -> &Uses {
        &self.compiled.uses
    }

    /// Whether the expression reads `name` as a free name.
    pub fn reads(&self, name: &str) -> bool {
        self.compiled.uses.names().any(|n| n == name)
    }
}

/// The tree of `text`: the Pratt parser's, or, when it rejects the text, the ANTLR parser's.
fn tree(text: &str) -> Result<IdedExpr, SyntaxError> {
    match PrattParser::default().parse(text) {
        Ok(expression) => Ok(expression),
        Err(_) => Ok(compile(text)?.expression().clone()),
    }
}

/// `text` compiled by the ANTLR parser, its errors made a [`SyntaxError`].
fn compile(text: &str) -> Result<Program, SyntaxError> {
    Program::compile(text).map_err(|errors| {
        let first = errors.errors.first();
        let (line, column) = first.map_or((1, 1), |e| e.pos);
        SyntaxError {
            message: first.map_or_else(|| "not a valid expression".to_owned(), |e| tidy(&e.msg)),
            line: usize::try_from(line).unwrap_or(1).max(1),
            column: usize::try_from(column).unwrap_or(1).max(1),
        }
    })
}

/// Whether `name` is a name CEL defines by itself (`int`, `string`, …).
pub fn is_cel_name(name: &str) -> bool {
    CEL_NAMES.contains(&name)
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition")
            .field(&self.compiled.text)
            .finish()
    }
}

/// Two conditions are equal when they are written the same.
impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.compiled.text == other.compiled.text
    }
}

/// The parser's message, shorter: no prefix, no list of every token it would have accepted.
fn tidy(message: &str) -> String {
    let message = message.trim();
    let message = message.strip_prefix("Syntax error: ").unwrap_or(message);
    if message.starts_with("mismatched input '<EOF>'")
        || message.starts_with("missing ") && message.ends_with("at '<EOF>'")
    {
        return "the expression ends too early".to_owned();
    }
    if let Some(text) = message.strip_prefix("token recognition error at: ") {
        // The lexer quotes what it could not read, with what follows: say the first character.
        return match text.trim_matches('\'').chars().next() {
            Some('\'' | '"') => "a string is not closed".to_owned(),
            Some('=') => "unexpected '=' (compare with ==)".to_owned(),
            Some(c) => format!("unexpected character '{c}'"),
            None => "unexpected text".to_owned(),
        };
    }
    match message.find(" expecting ") {
        Some(cut) => message[..cut].to_owned(),
        None => message.to_owned(),
    }
}

/// The character offset where `expr` starts in the source.
fn offset(program: &Program, expr: &IdedExpr) -> usize {
    program
        .source_info()
        .offset_for(expr.id)
        .map_or(0, |(start, _)| start as usize)
}

/// `steps.<id>`, `params.<name>` or `run.<field>` (or `base["<key>"]`) on the free name `base`:
/// how it reads, the field, and the operand (for its offset).
fn member_of<'e>(expr: &'e IdedExpr, bound: &[String]) -> Option<(Read, &'e str, &'e IdedExpr)> {
    let (operand, field) = match &expr.expr {
        Expr::Select(select) => (&*select.operand, select.field.as_str()),
        Expr::Call(call) if call.func_name == "_[_]" && call.args.len() == 2 => {
            match &call.args[1].expr {
                Expr::Literal(LiteralValue::String(key)) => (&call.args[0], key.as_ref()),
                _ => return None,
            }
        }
        _ => return None,
    };
    let Expr::Ident(base) = &operand.expr else {
        return None;
    };
    let read = match base.as_str() {
        "steps" => Read::Step,
        "params" => Read::Param,
        "run" => Read::Run,
        _ => return None,
    };
    (!bound.iter().any(|b| b == base)).then_some((read, field, operand))
}

/// Walks the expression tree (iteratively deep only as far as the parser allowed nesting); `at`
/// gives the offset of a node.
fn collect(
    expr: &IdedExpr,
    at: &dyn Fn(&IdedExpr) -> usize,
    bound: &mut Vec<String>,
    found: &mut Found,
) {
    if let Some((read, field, operand)) = member_of(expr, bound) {
        found.reads.push((read, field.to_owned(), at(operand)));
    }
    match &expr.expr {
        Expr::Unspecified | Expr::Literal(_) => {}
        Expr::Ident(name) => {
            if !name.starts_with('@')
                && !bound.iter().any(|b| b == name)
                && !found
                    .reads
                    .iter()
                    .any(|(r, n, _)| *r == Read::Name && n == name)
            {
                found.reads.push((Read::Name, name.clone(), at(expr)));
            }
        }
        Expr::Select(select) => {
            if select.test
                && let Some(root) = root_name(&select.operand)
                && !found.guarded.iter().any(|g| g == root)
            {
                found.guarded.push(root.to_owned());
            }
            collect(&select.operand, at, bound, found);
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                collect(target, at, bound, found);
            }
            for arg in &call.args {
                collect(arg, at, bound, found);
            }
        }
        Expr::List(list) => {
            for element in &list.elements {
                collect(element, at, bound, found);
            }
        }
        Expr::Map(map) => entries(&map.entries, at, bound, found),
        Expr::Struct(structure) => entries(&structure.entries, at, bound, found),
        Expr::Comprehension(comprehension) => {
            collect(&comprehension.iter_range, at, bound, found);
            collect(&comprehension.accu_init, at, bound, found);
            let before = bound.len();
            bound.push(comprehension.iter_var.clone());
            bound.extend(comprehension.iter_var2.clone());
            bound.push(comprehension.accu_var.clone());
            collect(&comprehension.loop_cond, at, bound, found);
            collect(&comprehension.loop_step, at, bound, found);
            collect(&comprehension.result, at, bound, found);
            bound.truncate(before);
        }
    }
}

fn entries(
    entries: &[cel::common::ast::IdedEntryExpr],
    at: &dyn Fn(&IdedExpr) -> usize,
    bound: &mut Vec<String>,
    found: &mut Found,
) {
    for entry in entries {
        match &entry.expr {
            EntryExpr::StructField(field) => collect(&field.value, at, bound, found),
            EntryExpr::MapEntry(pair) => {
                collect(&pair.key, at, bound, found);
                collect(&pair.value, at, bound, found);
            }
        }
    }
}

/// The identifier a chain of field selections starts from (`review` in `review.a.b`).
fn root_name(expr: &IdedExpr) -> Option<&str> {
    let mut expr = expr;
    loop {
        match &expr.expr {
            Expr::Ident(name) => return Some(name),
            Expr::Select(select) => expr = &select.operand,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(condition: &Condition) -> Vec<&str> {
        condition.uses().names().collect()
    }

    #[test]
    fn free_names_leave_out_macro_variables() {
        let c = Condition::parse("items.all(x, x != review) && size(y) > 0").unwrap();
        assert_eq!(names(&c), ["items", "review", "y"]);
    }

    #[test]
    fn steps_and_params_are_read_by_field_or_index() {
        let c = Condition::parse(
            "steps.tests.outcome == 'failed' && steps[\"flaky-tests\"].exit_code == 1 && params.who == 'x' && run.cost_usd < 1.0",
        )
        .unwrap();
        assert_eq!(
            c.uses().steps().collect::<Vec<_>>(),
            ["tests", "flaky-tests"]
        );
        assert_eq!(c.uses().params().collect::<Vec<_>>(), ["who"]);
        assert_eq!(c.uses().run().collect::<Vec<_>>(), ["cost_usd"]);
        assert_eq!(c.offset_of(Read::Step, "tests"), 0);
        assert_eq!(c.offset_of(Read::Step, "flaky-tests"), 35);
        assert_eq!(c.offset_of(Read::Param, "who"), 74);
    }

    #[test]
    fn a_name_is_located_in_the_text() {
        let c = Condition::parse("a == 1 &&\n  verdict == 'x'").unwrap();
        assert_eq!(c.offset_of(Read::Name, "verdict"), 12);
        assert_eq!(c.offset_of(Read::Name, "nowhere"), 0);
    }

    /// The Pratt parser and the ANTLR parser agree on what they accept, and on the tree (up to
    /// node ids), for the kinds of expression conditions use.
    #[test]
    fn both_parsers_of_the_crate_agree() {
        let ids = regex::Regex::new(r"id: \d+").unwrap();
        for text in [
            "a ? b : c",
            "[1, 2, 3].exists(x, x > 2) && m.all(k, m[k] > 0)",
            "l.map(x, x * 2).filter(x, x % 2 == 0).exists_one(x, x == 4)",
            "{'a': 1, \"b\": [2u, 3.5, -4]}.size() == 2",
            "'k' in m && !a || !!b && -x < -1",
            "r'raw' + 'esc\\t\\u00e9' == \"\"\"triple\"\"\"",
            "steps[\"flaky-tests\"].exit_code == 3 && has(review.verdict)",
            "int(round) % 2 == 1 && params.mode == 'fast' && run.cost_usd < 5.0",
            "a // comment\n && b",
        ] {
            let pratt = PrattParser::default().parse(text).unwrap();
            let antlr = Program::compile(text).unwrap();
            assert_eq!(
                ids.replace_all(&format!("{pratt:?}"), "id"),
                ids.replace_all(&format!("{:?}", antlr.expression()), "id"),
                "{text}"
            );
        }
        for text in [
            "a &&& b",
            "a = 'b",
            "review.verdict == ",
            "a..b",
            "f(,)",
            "in",
            "1.5e",
            "m[",
        ] {
            assert!(PrattParser::default().parse(text).is_err(), "{text}");
            assert!(Program::compile(text).is_err(), "{text}");
        }
    }

    #[test]
    fn has_marks_the_root_name_as_guarded() {
        let c = Condition::parse("has(review.verdict) && review.verdict == 'pass'").unwrap();
        assert_eq!(c.uses().guarded().collect::<Vec<_>>(), ["review"]);
    }

    #[test]
    fn a_syntax_error_has_its_column() {
        let err = Condition::parse("review.verdict == ").err().unwrap();
        assert_eq!(err.line, 1);
        assert_eq!(err.column, 19, "{err:?}");
        assert_eq!(err.message, "the expression ends too early");
        let err = Condition::parse("a &&& b").err().unwrap();
        assert_eq!((err.line, err.column), (1, 5), "{err:?}");
        assert_eq!(err.message, "unexpected character '&'");
        let err = Condition::parse("a = 'b").err().unwrap();
        assert_eq!(err.message, "unexpected '=' (compare with ==)");
        let err = Condition::parse("has(review)").err().unwrap();
        assert_eq!(
            (err.line, err.column, err.message.as_str()),
            (1, 5, "invalid argument to has() macro")
        );
    }
}
