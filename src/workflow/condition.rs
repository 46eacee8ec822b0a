//! Conditions: `when:` and the expression form of `break_if:` (control.md §6, §11 "Conditions,
//! precisely").
//!
//! A condition is a CEL expression, compiled once when its file is loaded by the `cel` crate (a
//! maintained implementation of the language; nothing here parses CEL). Besides the program, a
//! [`Condition`] keeps what the name check and run time need to know about it without walking
//! it again: the free names it reads and where, the literal `steps.<id>` and `params.<name>` it
//! names, and the names it tests with `has()`.

use std::fmt;
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr, LiteralValue};
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

/// A CEL expression as written, with its compiled program.
#[derive(Clone)]
pub struct Condition {
    text: String,
    program: Arc<Program>,
    uses: Arc<Uses>,
}

/// What a condition reads, found once at load time.
#[derive(Debug, Default, PartialEq)]
pub struct Uses {
    /// Free names (not bound by a macro such as `all(x, …)`), each once, with the character
    /// offset of its first use.
    pub names: Vec<(String, usize)>,
    /// `steps.<id>` and `steps["<id>"]`: the id and its offset.
    pub steps: Vec<(String, usize)>,
    /// `params.<name>` and `params["<name>"]`: the name and its offset.
    pub params: Vec<(String, usize)>,
    /// `run.<field>`: the field and its offset.
    pub run: Vec<(String, usize)>,
    /// Names whose fields the expression tests with `has()` (`has(review.verdict)`).
    pub guarded: Vec<String>,
}

/// Why a condition does not compile: the parser's message and where, 1-based, in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl Condition {
    /// Compiles `text`.
    pub fn parse(text: &str) -> Result<Condition, SyntaxError> {
        let program = Program::compile(text).map_err(|errors| {
            let first = errors.errors.first();
            let (line, column) = first.map_or((1, 1), |e| e.pos);
            SyntaxError {
                message: first
                    .map_or_else(|| "not a valid expression".to_owned(), |e| tidy(&e.msg)),
                line: usize::try_from(line).unwrap_or(1).max(1),
                column: usize::try_from(column).unwrap_or(1).max(1),
            }
        })?;
        let mut uses = Uses::default();
        let mut bound = Vec::new();
        collect(program.expression(), &program, &mut bound, &mut uses);
        Ok(Condition {
            text: text.to_owned(),
            program: Arc::new(program),
            uses: Arc::new(uses),
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn uses(&self) -> &Uses {
        &self.uses
    }

    /// Whether the expression reads `name` as a free name.
    pub fn reads(&self, name: &str) -> bool {
        self.uses.names.iter().any(|(n, _)| n == name)
    }
}

/// Whether `name` is a name CEL defines by itself (`int`, `string`, …).
pub fn is_cel_name(name: &str) -> bool {
    CEL_NAMES.contains(&name)
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.text).finish()
    }
}

/// Two conditions are equal when they are written the same.
impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
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

/// `base.<field>` or `base["<field>"]` on the free name `base`: the field and its offset.
fn member_of<'e>(
    expr: &'e IdedExpr,
    base: &str,
    bound: &[String],
) -> Option<(&'e str, &'e IdedExpr)> {
    let is_base = |operand: &IdedExpr| matches!(&operand.expr, Expr::Ident(name) if name == base && !bound.iter().any(|b| b == base));
    match &expr.expr {
        Expr::Select(select) if is_base(&select.operand) => Some((&select.field, &select.operand)),
        Expr::Call(call) if call.func_name == "_[_]" && call.args.len() == 2 => {
            let (operand, index) = (&call.args[0], &call.args[1]);
            match &index.expr {
                Expr::Literal(LiteralValue::String(key)) if is_base(operand) => {
                    Some((key.as_ref(), operand))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Walks the expression tree (iteratively deep only as far as the parser allowed nesting).
fn collect(expr: &IdedExpr, program: &Program, bound: &mut Vec<String>, uses: &mut Uses) {
    for (base, list) in [
        ("steps", &mut uses.steps),
        ("params", &mut uses.params),
        ("run", &mut uses.run),
    ] {
        if let Some((field, operand)) = member_of(expr, base, bound) {
            list.push((field.to_owned(), offset(program, operand)));
        }
    }
    match &expr.expr {
        Expr::Unspecified | Expr::Literal(_) => {}
        Expr::Ident(name) => {
            if !name.starts_with('@')
                && !bound.iter().any(|b| b == name)
                && !uses.names.iter().any(|(n, _)| n == name)
            {
                uses.names.push((name.clone(), offset(program, expr)));
            }
        }
        Expr::Select(select) => {
            if select.test
                && let Some(root) = root_name(&select.operand)
                && !uses.guarded.iter().any(|g| g == root)
            {
                uses.guarded.push(root.to_owned());
            }
            collect(&select.operand, program, bound, uses);
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                collect(target, program, bound, uses);
            }
            for arg in &call.args {
                collect(arg, program, bound, uses);
            }
        }
        Expr::List(list) => {
            for element in &list.elements {
                collect(element, program, bound, uses);
            }
        }
        Expr::Map(map) => entries(&map.entries, program, bound, uses),
        Expr::Struct(structure) => entries(&structure.entries, program, bound, uses),
        Expr::Comprehension(comprehension) => {
            collect(&comprehension.iter_range, program, bound, uses);
            collect(&comprehension.accu_init, program, bound, uses);
            let before = bound.len();
            bound.push(comprehension.iter_var.clone());
            bound.extend(comprehension.iter_var2.clone());
            bound.push(comprehension.accu_var.clone());
            collect(&comprehension.loop_cond, program, bound, uses);
            collect(&comprehension.loop_step, program, bound, uses);
            collect(&comprehension.result, program, bound, uses);
            bound.truncate(before);
        }
    }
}

fn entries(
    entries: &[cel::common::ast::IdedEntryExpr],
    program: &Program,
    bound: &mut Vec<String>,
    uses: &mut Uses,
) {
    for entry in entries {
        match &entry.expr {
            EntryExpr::StructField(field) => collect(&field.value, program, bound, uses),
            EntryExpr::MapEntry(pair) => {
                collect(&pair.key, program, bound, uses);
                collect(&pair.value, program, bound, uses);
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
        condition
            .uses()
            .names
            .iter()
            .map(|(n, _)| n.as_str())
            .collect()
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
        let ids: Vec<_> = c
            .uses()
            .steps
            .iter()
            .map(|(n, o)| (n.as_str(), *o))
            .collect();
        assert_eq!(ids, [("tests", 0), ("flaky-tests", 35)]);
        assert_eq!(c.uses().params[0].0, "who");
        assert_eq!(c.uses().run[0].0, "cost_usd");
    }

    #[test]
    fn has_marks_the_root_name_as_guarded() {
        let c = Condition::parse("has(review.verdict) && review.verdict == 'pass'").unwrap();
        assert_eq!(c.uses().guarded, ["review"]);
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
