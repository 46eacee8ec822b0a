//! The loader's rules for parallel steps (control.md §8, §11): `parallel` on groups,
//! `max_parallel` in loops, and what branches may not do — capture the same name
//! (`parallel-capture-conflict`), read a sibling's capture (`parallel-capture-race`), drive one
//! conversation twice (`parallel-session-conflict`), run interactive steps
//! (`interactive-in-parallel`) or `break_if` out of a parallel loop (`break-if-parallel`).
//!
//! The analysis walks the file in document order, so for each branch it hides what earlier
//! siblings captured and remembers it as a race; a parallel loop's captures are dropped after
//! the loop (iteration-local); a branch's first agent step without `session` starts a new
//! conversation, and after the parallel step the defaulting goes on as before it.

use super::fields::{MapReader, Target, YamlPath};
use super::loader::Analyzer;
use super::model::{LoopMax, Parallel, SESSION_KEYWORDS};
use super::yaml::{Node, quote_short};

/// One parallel step being analysed.
#[derive(Debug)]
pub(crate) struct Branching<'a> {
    /// How many captures were known before it.
    captures_start: usize,
    race_start: usize,
    seen_agent: bool,
    /// A group's children: each one's captures (a loop has one body, no siblings).
    children: Vec<Vec<&'a str>>,
}

impl<'a> Analyzer<'a> {
    /// `parallel: true | false | {max, fail_fast}` on a step.
    pub(crate) fn parallel_key(&mut self, r: &MapReader<'a, '_>) -> Option<Parallel> {
        let node = r.get("parallel")?;
        match node {
            Node::Bool(true) => Some(Parallel {
                max: None,
                fail_fast: true,
            }),
            Node::Bool(false) => None,
            Node::Map(entries) => {
                let p = MapReader::new(entries, r.path_of("parallel"));
                p.check_keys(&["max", "fail_fast"], &mut self.sink);
                Some(Parallel {
                    max: p.positive_int("max", "invalid-value", &mut self.sink),
                    fail_fast: p.bool("fail_fast", &mut self.sink).unwrap_or(true),
                })
            }
            other => {
                self.sink.wrong_type(
                    "parallel",
                    "true, false or a mapping with \"max\" and \"fail_fast\"",
                    other,
                    r.path_of("parallel"),
                );
                None
            }
        }
    }

    /// `max_parallel` in a loop mapping: a whole number of at least 1, or a template.
    pub(crate) fn max_parallel(&mut self, l: &MapReader<'a, '_>) -> Option<LoopMax> {
        let node = l.get("max_parallel")?;
        let path = l.path_of("max_parallel");
        match node {
            Node::Num { int: Some(n), .. } if *n >= 1 => u32::try_from(*n).ok().map(LoopMax::Fixed),
            Node::Str(text) if text.contains("{{") => Some(LoopMax::Template(self.template(
                text,
                "loop.max_parallel",
                false,
                path,
                false,
            ))),
            Node::Str(text) if text.trim().parse::<u32>().is_ok_and(|n| n >= 1) => {
                text.trim().parse().ok().map(LoopMax::Fixed)
            }
            other => {
                self.sink.error(
                    "invalid-value",
                    format!(
                        "loop \"max_parallel\" must be a whole number of at least 1 or a template, found {}",
                        other.describe()
                    ),
                    path,
                    Target::Value,
                );
                None
            }
        }
    }

    /// Before the children of a parallel group (`items` at `path`): reports captures and named
    /// sessions shared by two children, and makes the next step list one branch per child.
    pub(crate) fn enter_parallel_group(&mut self, items: &'a [Node], path: YamlPath<'_>) {
        let children: Vec<Vec<&'a str>> =
            items.iter().map(|item| names_in(item, "capture")).collect();
        let sessions: Vec<Vec<&'a str>> = items.iter().map(|item| named_sessions(item)).collect();
        for (code, lists, what, fix) in [
            (
                "parallel-capture-conflict",
                &children,
                "capture",
                "give each branch its own capture name",
            ),
            (
                "parallel-session-conflict",
                &sessions,
                "session",
                "one conversation cannot be driven twice at once; give each branch its own session",
            ),
        ] {
            for (i, names) in lists.iter().enumerate() {
                for name in names {
                    if let Some(j) = lists[..i].iter().position(|earlier| earlier.contains(name)) {
                        self.sink.error(
                            code,
                            format!(
                                "{what} {} is used by two branches of this parallel group ({} and {}); {fix}",
                                quote_short(name),
                                child_id(&items[j]),
                                child_id(&items[i]),
                            ),
                            path.index(i),
                            Target::Value,
                        );
                    }
                }
            }
        }
        self.enter_branching(children);
        self.branch_list_next = true;
    }

    /// Before the body of a parallel loop (`items` at `path`): every iteration is a branch, so a
    /// named session used in it would be driven by several at once.
    pub(crate) fn enter_parallel_loop(&mut self, items: &'a [Node], path: YamlPath<'_>) {
        for (i, item) in items.iter().enumerate() {
            for name in named_sessions(item) {
                self.sink.error(
                    "parallel-session-conflict",
                    format!(
                        "session {} is used in the body of a loop with \"max_parallel\", whose iterations run at once; one conversation cannot be driven twice at once: use \"new\" or \"resume\"",
                        quote_short(name)
                    ),
                    path.index(i),
                    Target::Value,
                );
            }
        }
        self.enter_branching(Vec::new());
        self.seen_agent = false;
    }

    fn enter_branching(&mut self, children: Vec<Vec<&'a str>>) {
        self.branchings.push(Branching {
            captures_start: self.captures.len(),
            race_start: self.race.len(),
            seen_agent: self.seen_agent,
            children,
        });
    }

    /// Child `i` of a parallel group's list starts: what the other children capture is a race.
    pub(crate) fn start_branch(&mut self, i: usize) {
        let Some(top) = self.branchings.last() else {
            return;
        };
        self.captures.truncate(top.captures_start);
        self.race.truncate(top.race_start);
        let others: Vec<&'a str> = top
            .children
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, names)| names.iter().copied())
            .collect();
        self.race.extend(others);
        self.seen_agent = false;
    }

    /// After a parallel step: a group's captures are visible from now on, a loop's are not;
    /// session defaulting goes on as before the step.
    pub(crate) fn leave_branching(&mut self) {
        let Some(top) = self.branchings.pop() else {
            return;
        };
        self.captures.truncate(top.captures_start);
        self.race.truncate(top.race_start);
        self.captures
            .extend(top.children.into_iter().flatten().collect::<Vec<_>>());
        self.seen_agent = top.seen_agent;
    }

    /// Whether the step being analysed is inside a branch of a parallel step of this file.
    pub(crate) fn in_branch(&self) -> bool {
        !self.branchings.is_empty()
    }
}

/// The values of `key` in a step and every step below it (not into other files).
fn names_in<'a>(node: &'a Node, key: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        if let Some(value) = node.get(key).and_then(Node::as_str) {
            out.push(value);
        }
        if let Some(Node::Seq(children)) = node.get("steps") {
            stack.extend(children.iter());
        }
    }
    out
}

/// The named sessions a step and the steps below it use.
fn named_sessions(node: &Node) -> Vec<&str> {
    let mut names = names_in(node, "session");
    names.retain(|name| !SESSION_KEYWORDS.contains(name));
    names.sort_unstable();
    names.dedup();
    names
}

/// `"<id>"` of a child step, or `the step at index i` when it has none.
fn child_id(node: &Node) -> String {
    match node.get("id").and_then(Node::as_str) {
        Some(id) => format!("\"{id}\""),
        None => "a step without an id".to_owned(),
    }
}
