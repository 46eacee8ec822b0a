//! The loader: workflow bytes → [`Workflow`] plus every diagnostic, all at once.
//!
//! Pipeline: [`yaml::parse`](super::yaml::parse) gives a [`Node`] tree; the [`Analyzer`] walks it
//! (top-level keys here, steps in [`steps`](super::steps), templates and known names in
//! [`validate`](super::validate)), collecting [`Finding`]s with YAML paths and building the step
//! tree as it goes. Only when there are findings is the text read a second time for positions.
//! A file with errors yields no workflow; one with only warnings does.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::condition_worker::Prepared;
use super::diagnostic::Diagnostic;
use super::fields::{
    Finding, Location, MAX_FINDINGS, MapReader, Sink, Target, YamlPath, is_identifier, push_number,
};
use super::model::*;
use super::names::Names;
use super::positions::{PositionIndex, with_ancestors};
use super::suggest::did_you_mean;
use super::yaml::{self, Node};
use rustc_hash::FxHashMap;

/// Workflow files larger than this are refused (a workflow is a page of YAML, not megabytes).
pub const MAX_FILE_SIZE: usize = 1024 * 1024;

/// Top-level keys (workflow-format.md §1), in the order the schema lists them.
pub const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "params",
    "sessions",
    "engine",
    "requires",
    "defaults",
    "budget",
    "env",
    "steps",
];
pub const PARAM_KEYS: &[&str] = &["name", "description", "default", "required", "secret"];
pub const SESSION_KEYS: &[&str] = &["name", "cli", "model", "effort", "agent", "permissions"];
pub const DEFAULTS_KEYS: &[&str] = &[
    "cli",
    "model",
    "effort",
    "agent",
    "permissions",
    "timeout",
    "idle_timeout",
    "launcher",
    "retry",
    "deny",
];

/// The built-in engines and the options each accepts.
pub const BUILTIN_ENGINES: &[(&str, &[&str])] = &[("openspec", &["change_param"])];

/// What the loader needs to know beyond the file itself.
#[derive(Debug, Clone, Default)]
pub struct LoadContext {
    /// Agent profile names from the configuration; `None` skips the `unknown-profile` check.
    pub profiles: Option<Vec<String>>,
    /// Engine files found in the project and user dirs, by name, with their declared options.
    pub engine_files: Vec<(String, Vec<String>)>,
    /// What the Go-era rules need from the configuration (compat-go.md).
    pub go: crate::compat::workflow::GoContext,
}

/// A `workflow:` call with a static value, recorded for the composition walk.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub value: String,
    /// YAML path of the `workflow:` value, and of the step.
    pub value_path: String,
    pub step_path: String,
    pub location: String,
    pub step_id: Option<String>,
    /// Keys of the step's `params:`.
    pub params: Vec<String>,
    /// The call is inside a branch with its own worktree (`nested-worktree` if the callee
    /// makes worktrees too).
    pub in_worktree: bool,
}

/// The result of analysing one file.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Set when the file has no errors.
    pub workflow: Option<Workflow>,
    pub diagnostics: Vec<Diagnostic>,
    /// Static sub-workflow calls, also collected from files with errors.
    pub calls: Vec<Call>,
    /// The `name` of the workflow, when it is a string (also for files with errors).
    pub name: Option<String>,
    /// Named session declarations `(name, cli)`, for the cross-file `session-conflict` check.
    pub sessions: Vec<(String, Option<String>)>,
    /// The text, kept to position diagnostics found later (composition); the same bytes as the
    /// workflow's [`SourceHash`] (and the very buffer the file was read into).
    pub text: Arc<String>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    fn failed(diagnostic: Diagnostic) -> Analysis {
        Analysis {
            workflow: None,
            diagnostics: vec![diagnostic],
            calls: Vec::new(),
            name: None,
            sessions: Vec::new(),
            text: Arc::default(),
        }
    }
}

/// Reads and analyses a workflow file. `file` is the name diagnostics show.
pub fn load_file(path: &Path, file: &str, ctx: &LoadContext) -> Analysis {
    match read_limited(path) {
        Ok(bytes) => load_vec(bytes, Source::File(path.to_path_buf()), file, ctx),
        Err(message) => {
            let mut d = Diagnostic::error(
                "read-error",
                format!("cannot read workflow file: {message}"),
            );
            d.file = file.to_owned();
            Analysis::failed(d)
        }
    }
}

/// Reads a file, refusing ones over [`MAX_FILE_SIZE`] before reading them.
pub fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    crate::capped::read(path, MAX_FILE_SIZE as u64).map_err(|err| {
        if err.kind() != std::io::ErrorKind::FileTooLarge {
            return err.to_string();
        }
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        format!(
            "the file is {:.1} MiB; workflow files are limited to 1 MiB",
            size as f64 / (1024.0 * 1024.0)
        )
    })
}

/// Analyses workflow bytes from `source`. `file` is the name diagnostics show.
pub fn load_bytes(bytes: &[u8], source: Source, file: &str, ctx: &LoadContext) -> Analysis {
    load_vec(bytes.to_vec(), source, file, ctx)
}

/// [`load_bytes`] of bytes read for it, which the analysis keeps (as [`Analysis::text`]).
fn load_vec(bytes: Vec<u8>, source: Source, file: &str, ctx: &LoadContext) -> Analysis {
    let shared = match String::from_utf8(bytes) {
        Ok(text) => Arc::new(text),
        Err(err) => {
            let bytes = err.as_bytes();
            let valid = &bytes[..err.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count()
                + 1;
            let mut d = Diagnostic::error(
                "yaml-syntax",
                "invalid YAML: the file is not valid UTF-8 (workflow files must be UTF-8 text)",
            );
            d.file = file.to_owned();
            d.line = Some(line);
            d.column = Some(column);
            return Analysis::failed(d);
        }
    };
    let text = shared.as_str();
    // Conditions start parsing on the worker as the parser reads them.
    let mut prepared = Prepared::default();
    let parsed = yaml::parse_keeping_first(text, &mut |key, value| prepared.watch(key, value));
    prepared.send();
    let (mut node, repeated_keys) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            let mut d = Diagnostic::error(err.code, err.message);
            d.file = file.to_owned();
            d.line = err.line;
            d.column = err.column;
            return Analysis::failed(d);
        }
    };
    // Go spellings become native ones first; a file that has any gets the Go rules (compat-go.md).
    let mut go_findings = Sink::default();
    let go_file = crate::compat::workflow::normalize(&mut node, &ctx.go, &mut go_findings);
    let go_ctx;
    let ctx = if go_file && !ctx.go.go_project {
        go_ctx = crate::compat::workflow::go_file_context(ctx);
        &go_ctx
    } else {
        ctx
    };
    let mut analyzer = Analyzer::new(ctx);
    analyzer.prepared = prepared;
    analyzer.dir = match &source {
        Source::File(path) => path.parent(),
        Source::Builtin(_) => None,
    };
    analyzer.sink.absorb(go_findings);
    let built = analyzer.workflow(&node, text.trim().is_empty());
    analyzer.reserved_names();
    let Analyzer {
        sink,
        calls,
        declared,
        first_uses,
        ..
    } = analyzer;
    let has_errors = sink.has_errors() || repeated_keys;
    let mut dropped = sink.dropped();
    let mut findings = sink.findings;
    if !first_uses.is_empty() {
        let paths = node_paths(&node, first_uses.iter().map(|(_, node)| *node));
        for (finding, node) in first_uses {
            findings[finding].first_use = paths.get(&std::ptr::from_ref(node)).cloned();
        }
    }
    let mut diagnostics = resolve_findings(findings, text, file);
    if repeated_keys {
        let (repeats, total) = super::repeated_keys::diagnostics(&node, text, file, MAX_FINDINGS);
        dropped += total - repeats.len();
        diagnostics.extend(repeats);
        diagnostics.sort_by_key(|d| d.line.unwrap_or(0));
    }
    if dropped > 0 {
        let mut d = Diagnostic::error(
            "too-many-findings",
            format!(
                "{dropped} more errors and warnings in this file are not listed (only the first {MAX_FINDINGS} are)"
            ),
        );
        d.file = file.to_owned();
        diagnostics.push(d);
    }
    let workflow = match built {
        Some(mut workflow) if !has_errors => {
            workflow.source = source;
            workflow.hash = SourceHash::of(Arc::clone(&shared));
            Some(workflow)
        }
        _ => None,
    };
    Analysis {
        workflow,
        diagnostics,
        calls,
        name: node.get("name").and_then(Node::as_str).map(str::to_owned),
        sessions: declared,
        text: shared,
    }
}

/// `sha256:<hex>` of the bytes.
pub fn hash(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

/// The YAML paths of `wanted` (nodes of the tree under `root`), written as analysis writes them:
/// one walk of the tree, only when a finding needs a path it did not keep.
fn node_paths<'n>(
    root: &'n Node,
    wanted: impl Iterator<Item = &'n Node>,
) -> FxHashMap<*const Node, String> {
    fn walk(
        node: &Node,
        path: &mut String,
        wanted: &FxHashMap<*const Node, ()>,
        found: &mut FxHashMap<*const Node, String>,
    ) {
        if wanted.contains_key(&std::ptr::from_ref(node)) {
            found.insert(node, path.clone());
        }
        let len = path.len();
        let enter = |path: &mut String| {
            if len > 0 {
                path.push('.');
            }
        };
        match node {
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    enter(path);
                    push_number(path, i);
                    walk(item, path, wanted, found);
                    path.truncate(len);
                }
            }
            Node::Map(entries) => {
                for (key, value) in entries {
                    enter(path);
                    path.push_str(key);
                    walk(value, path, wanted, found);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let wanted: FxHashMap<*const Node, ()> =
        wanted.map(|node| (std::ptr::from_ref(node), ())).collect();
    let mut found = FxHashMap::default();
    walk(root, &mut String::new(), &wanted, &mut found);
    found
}

/// Gives findings their file name and positions (building the position index only if needed).
pub fn resolve_findings(findings: Vec<Finding>, text: &str, file: &str) -> Vec<Diagnostic> {
    if findings.is_empty() {
        return Vec::new();
    }
    let mut wanted = std::collections::HashSet::new();
    for finding in &findings {
        with_ancestors(&finding.path, &mut wanted);
        if let Some(first) = &finding.first_use {
            with_ancestors(first, &mut wanted);
        }
    }
    let index = PositionIndex::build_for(text, Some(&wanted));
    // The file's lines, split once if a finding points inside a value.
    let lines: std::cell::OnceCell<Vec<&str>> = std::cell::OnceCell::new();
    findings
        .into_iter()
        .map(|finding| {
            let mut d = finding.diagnostic;
            d.file = file.to_owned();
            let pos = match finding.target {
                Target::Key => index.key(&finding.path),
                Target::Value => index.value(&finding.path),
                Target::Within { line, column } => index.value(&finding.path).map(|pos| {
                    let lines = lines.get_or_init(|| text.lines().collect());
                    super::positions::within(lines, pos, line, column)
                }),
            };
            if let Some(pos) = pos {
                d.line = Some(pos.line);
                d.column = Some(pos.column);
            }
            if let Some(first) = finding.first_use {
                match index.value(&first) {
                    Some(pos) => d
                        .message
                        .push_str(&format!(" (first used at line {})", pos.line)),
                    None => d.message.push_str(" (first used earlier in this file)"),
                }
            }
            d
        })
        .collect()
}

/// The analysis state of one file: findings, declared names and the scope of variables.
///
/// Names are borrowed from the [`Node`] tree (`'a`), which outlives the analysis.
pub(crate) struct Analyzer<'a> {
    pub sink: Sink,
    pub ctx: &'a LoadContext,
    pub params: Names<'a>,
    /// Named sessions declared in this file, with their `cli`.
    pub declared: Vec<(String, Option<String>)>,
    /// Step ids seen so far, with the node of the first `id` value.
    pub ids: FxHashMap<&'a str, &'a Node>,
    /// `duplicate-id` findings (by index) and the `id` node of the first use, whose path is
    /// looked up only at the end.
    pub first_uses: Vec<(usize, &'a Node)>,
    /// Variables of the enclosing loops, innermost last.
    pub loop_vars: Names<'a>,
    /// Captures of steps earlier in document order.
    pub captures: Names<'a>,
    /// Every capture anywhere in the enclosing loop bodies.
    pub body_captures: Names<'a>,
    /// Every step id anywhere in the enclosing loop bodies (`steps.<id>` in a condition).
    pub body_ids: Names<'a>,
    /// Parameters and captures named after a reserved word of conditions: where, the YAML
    /// path, the name and what it names. An error only in a file that has conditions.
    pub reserved: Vec<(Location, String, &'a str, &'static str)>,
    /// The file has a condition (`when:`, an expression `break_if:`).
    pub has_conditions: bool,
    /// The file's conditions, handed to the worker thread as the YAML parser read them.
    pub prepared: Prepared,
    /// The captures among [`Analyzer::captures`] made by steps with `output:` (JSON captures,
    /// whose fields templates may read with a dotted path).
    pub json_captures: Names<'a>,
    /// The same among [`Analyzer::body_captures`].
    pub body_json_captures: Names<'a>,
    /// The directory of the workflow file, for `schema_file`; `None` for built-ins.
    pub dir: Option<&'a Path>,
    pub loop_depth: usize,
    /// How many enclosing steps have `worktree: true` (more than one is `nested-worktree`).
    pub worktree_depth: usize,
    /// For each enclosing loop, innermost last: whether its iterations run at once.
    pub loop_parallel: Vec<bool>,
    /// An agent step has been seen (session defaulting, workflow-format.md §6).
    pub seen_agent: bool,
    pub calls: Vec<Call>,
    /// The parallel steps around the step being analysed (control.md §8).
    pub branchings: Vec<super::parallel::Branching<'a>>,
    /// Captures made by sibling branches: reading one is `parallel-capture-race`.
    pub race: Names<'a>,
    /// The next step list is a parallel group's: each item is a branch of its own.
    pub branch_list_next: bool,
}

impl<'a> Analyzer<'a> {
    pub fn new(ctx: &'a LoadContext) -> Self {
        Analyzer {
            sink: Sink::default(),
            ctx,
            params: Names::default(),
            declared: Vec::new(),
            ids: FxHashMap::default(),
            first_uses: Vec::new(),
            loop_vars: Names::default(),
            captures: Names::default(),
            body_captures: Names::default(),
            body_ids: Names::default(),
            reserved: Vec::new(),
            has_conditions: false,
            prepared: Prepared::default(),
            json_captures: Names::default(),
            body_json_captures: Names::default(),
            dir: None,
            loop_depth: 0,
            worktree_depth: 0,
            loop_parallel: Vec::new(),
            seen_agent: false,
            calls: Vec::new(),
            branchings: Vec::new(),
            race: Names::default(),
            branch_list_next: false,
        }
    }

    /// The whole file. Returns the workflow as far as it could be built.
    fn workflow(&mut self, node: &'a Node, empty: bool) -> Option<Workflow> {
        let Node::Map(entries) = node else {
            let message = "a workflow file must be a YAML mapping with \"name\" and \"steps\"";
            let help = if empty {
                "the file is empty".to_owned()
            } else {
                format!("the file holds {}", node.describe())
            };
            self.sink
                .error_help("not-a-mapping", message.to_owned(), help, "", Target::Value);
            return None;
        };
        let r = MapReader::new(entries, YamlPath::ROOT);
        r.check_keys(TOP_KEYS, &mut self.sink);
        let name = match r.get("name") {
            None => {
                self.missing("name", YamlPath::ROOT);
                None
            }
            Some(_) => r.nonempty_string("name", &mut self.sink).and_then(|name| {
                if name.contains('\n') {
                    self.sink.error(
                        "invalid-value",
                        "\"name\" must be a single line".to_owned(),
                        "name",
                        Target::Value,
                    );
                    None
                } else {
                    Some(name.trim().to_owned())
                }
            }),
        };
        let description = r
            .string("description", &mut self.sink)
            .unwrap_or("")
            .to_owned();
        let params = r
            .list("params", &mut self.sink)
            .map(|items| self.params(items))
            .unwrap_or_default();
        let sessions = r
            .list("sessions", &mut self.sink)
            .map(|items| self.sessions(items))
            .unwrap_or_default();
        let engine = r.map("engine", &mut self.sink).and_then(|e| self.engine(e));
        let requires = r
            .list("requires", &mut self.sink)
            .map(|items| super::requires::read(items, &mut self.sink))
            .unwrap_or_default();
        let (defaults, default_limits, default_launcher, default_retry, default_deny) = r
            .map("defaults", &mut self.sink)
            .map(|d| {
                let reader = MapReader::new(d, "defaults");
                reader.check_keys(DEFAULTS_KEYS, &mut self.sink);
                let limits = super::duration::read_limits(&reader, &mut self.sink);
                let launcher = super::launcher::read(
                    &reader,
                    &mut self.sink,
                    &mut super::launcher::plain_word,
                );
                let retry = super::retry::read_retry(&reader, &mut self.sink);
                let deny = super::retry::read_deny(&reader, &mut self.sink);
                (self.agent_settings(&reader), limits, launcher, retry, deny)
            })
            .unwrap_or_default();
        let budget = super::budget::read_budget(&r, &mut self.sink);
        let env = self.env(&r);
        let steps = match r.get("steps") {
            None => {
                self.missing("steps", YamlPath::ROOT);
                None
            }
            Some(_) => r
                .list("steps", &mut self.sink)
                .and_then(|items| self.step_list(items, YamlPath::Text("steps"), "steps", 0)),
        };
        Some(Workflow {
            name: name?,
            description,
            params,
            sessions,
            engine,
            requires,
            defaults,
            default_limits,
            default_launcher,
            budget,
            default_retry,
            default_deny,
            env,
            steps: steps?,
            source: Source::Builtin(String::new()),
            hash: SourceHash::default(),
        })
    }

    pub fn missing(&mut self, key: &str, path: YamlPath<'_>) {
        self.sink.error(
            "missing-key",
            format!("missing required key \"{key}\""),
            path,
            Target::Value,
        );
    }

    fn params(&mut self, items: &'a [Node]) -> Vec<Param> {
        let mut params = Vec::new();
        let list = YamlPath::Text("params");
        for (i, item) in items.iter().enumerate() {
            let path = list.index(i);
            let fallback = || Location::Text(format!("params[{i}]").into());
            let param = match item {
                Node::Str(name) => {
                    self.sink.location =
                        Location::Text(format!("params[{i}] (name \"{name}\")").into());
                    self.param_name(name, path);
                    Some(Param {
                        name: name.clone(),
                        description: String::new(),
                        default: None,
                        required: true,
                        secret: false,
                    })
                }
                Node::Map(entries) => {
                    let r = MapReader::new(entries, path);
                    self.sink.location = match r.get("name").and_then(Node::as_str) {
                        Some(name) => {
                            Location::Text(format!("params[{i}] (name \"{name}\")").into())
                        }
                        None => fallback(),
                    };
                    r.check_keys(PARAM_KEYS, &mut self.sink);
                    let name = match r.get("name") {
                        None => {
                            self.missing("name", path);
                            None
                        }
                        Some(_) => r.string("name", &mut self.sink),
                    };
                    if let Some(name) = name {
                        self.param_name(name, r.path_of("name"));
                    }
                    let description = r.string("description", &mut self.sink).unwrap_or("");
                    let default = r.scalar("default", &mut self.sink);
                    let default = default.map(|default| {
                        self.template(&default, "default", false, r.path_of("default"), true)
                    });
                    let required = r.bool("required", &mut self.sink);
                    if required == Some(true)
                        && default.is_some()
                        && let Some(name) = name
                    {
                        self.sink.warning(
                            "required-with-default",
                            format!("parameter \"{name}\" has a default, so \"required: true\" has no effect"),
                            r.path_of("required"),
                            Target::Key,
                        );
                    }
                    let secret = r.bool("secret", &mut self.sink).unwrap_or(false);
                    name.map(|name| Param {
                        name: name.to_owned(),
                        description: description.to_owned(),
                        required: default.is_none() && required.unwrap_or(true),
                        default,
                        secret,
                    })
                }
                other => {
                    self.sink.location = fallback();
                    self.sink.error(
                        "wrong-type",
                        format!(
                            "a parameter must be a name or a mapping with \"name\", found {}",
                            other.describe()
                        ),
                        path,
                        Target::Value,
                    );
                    None
                }
            };
            params.extend(param);
        }
        self.sink.location = Location::TOP_LEVEL;
        params
    }

    fn param_name(&mut self, name: &'a str, path: YamlPath<'_>) {
        if self.check_identifier(name, "parameter", path) && self.params.contains(name) {
            self.sink.error(
                "duplicate-param",
                format!("duplicate parameter \"{name}\""),
                path,
                Target::Value,
            );
        }
        self.params.push(name);
    }

    /// `invalid-identifier` / `reserved-name` checks for a variable name; true when it is fine.
    pub fn check_identifier(
        &mut self,
        name: &'a str,
        what: &'static str,
        path: YamlPath<'_>,
    ) -> bool {
        if !is_identifier(name) {
            self.sink.error(
                "invalid-identifier",
                format!(
                    "{what} name {} is not valid: use letters, digits and \"_\", not starting with a digit",
                    yaml::quote_short(name)
                ),
                path,
                Target::Value,
            );
            return false;
        }
        if BUILTIN_VARS.contains(&name) && what == "parameter" && self.ctx.go.go_project {
            // A Go project may name a parameter after a built-in; it shadows it (compat-go.md §3).
            self.sink.warning(
                "reserved-name",
                format!("\"{name}\" is a built-in variable; this {what} shadows it"),
                path,
                Target::Value,
            );
        } else if BUILTIN_VARS.contains(&name) {
            self.sink.error(
                "reserved-name",
                format!("\"{name}\" is a built-in variable and cannot be used as a {what} name"),
                path,
                Target::Value,
            );
            return false;
        }
        if super::condition::RESERVED.contains(&name) && what != "loop variable" {
            // Only a file with conditions is affected: decided when the file is read.
            self.reserved
                .push((self.sink.location.clone(), path.to_string(), name, what));
        }
        true
    }

    fn sessions(&mut self, items: &[Node]) -> Vec<SessionDecl> {
        let mut sessions = Vec::new();
        let list = YamlPath::Text("sessions");
        for (i, item) in items.iter().enumerate() {
            let path = list.index(i);
            let Node::Map(entries) = item else {
                self.sink.location = Location::Text(format!("sessions[{i}]").into());
                self.sink
                    .wrong_type("sessions[]", super::fields::A_MAPPING, item, path);
                continue;
            };
            let r = MapReader::new(entries, path);
            self.sink.location = Location::Text(
                match r.get("name").and_then(Node::as_str) {
                    Some(name) => format!("sessions[{i}] (name \"{name}\")"),
                    None => format!("sessions[{i}]"),
                }
                .into(),
            );
            r.check_keys(SESSION_KEYS, &mut self.sink);
            let name = match r.get("name") {
                None => {
                    self.missing("name", path);
                    None
                }
                Some(_) => r.string("name", &mut self.sink),
            };
            let settings = self.agent_settings(&r);
            let Some(name) = name else { continue };
            let name_path = r.path_of("name");
            if SESSION_KEYWORDS.contains(&name) {
                self.sink.error(
                    "reserved-session",
                    format!(
                        "\"{name}\" is a reserved session keyword and cannot be a session name"
                    ),
                    name_path,
                    Target::Value,
                );
                continue;
            }
            if !crate::compat::workflow::is_session_name(name) {
                self.sink.error(
                    "invalid-identifier",
                    format!(
                        "session name {} is not valid: use letters, digits, \"_\" and \"-\", starting with a letter or \"_\"",
                        yaml::quote_short(name)
                    ),
                    name_path,
                    Target::Value,
                );
                continue;
            }
            if self.declared.iter().any(|(n, _)| n == name) {
                self.sink.error(
                    "duplicate-session",
                    format!("duplicate session declaration \"{name}\""),
                    name_path,
                    Target::Value,
                );
                continue;
            }
            self.declared.push((name.to_owned(), settings.cli.clone()));
            sessions.push(SessionDecl {
                name: name.to_owned(),
                cli: settings.cli,
                model: settings.model,
                effort: settings.effort,
                agent: settings.agent,
                permissions: settings.permissions,
            });
        }
        self.sink.location = Location::TOP_LEVEL;
        sessions
    }

    /// `cli`, `model`, `effort`, `agent`, `permissions` of a mapping (defaults, sessions, steps).
    pub fn agent_settings(&mut self, r: &MapReader<'_, '_>) -> AgentSettings {
        let cli = r.string("cli", &mut self.sink).and_then(|cli| {
            if CLI_NAMES.contains(&cli) {
                Some(cli.to_owned())
            } else {
                let hint = crate::compat::workflow::cli_hint(cli);
                let message = format!(
                    "unknown cli {}{hint}; available: {}",
                    yaml::quote_short(cli),
                    CLI_NAMES.join(", ")
                );
                self.sink
                    .error("unknown-cli", message, r.path_of("cli"), Target::Value);
                None
            }
        });
        let model = r
            .string("model", &mut self.sink)
            .map(|model| self.template(model, "model", false, r.path_of("model"), false));
        let effort = r.keyword("effort", Effort::ALL, Effort::parse, &mut self.sink);
        let permissions = r.keyword(
            "permissions",
            Permissions::ALL,
            Permissions::parse,
            &mut self.sink,
        );
        let agent = r.string("agent", &mut self.sink).map(|agent| {
            if let Some(profiles) = &self.ctx.profiles
                && !profiles.iter().any(|p| p == agent)
            {
                let hint = did_you_mean(agent, profiles.iter().map(String::as_str));
                self.sink.error(
                    "unknown-profile",
                    format!(
                        "unknown agent profile {}{hint}; profiles come from config.yaml",
                        yaml::quote_short(agent)
                    ),
                    r.path_of("agent"),
                    Target::Value,
                );
            }
            agent.to_owned()
        });
        AgentSettings {
            cli,
            model,
            effort,
            agent,
            permissions,
        }
    }

    fn engine(&mut self, entries: &[(String, Node)]) -> Option<EngineUse> {
        let r = MapReader::new(entries, "engine");
        let kind = match r.get("type") {
            None => {
                self.missing("type", YamlPath::Text("engine"));
                None
            }
            Some(_) => r.nonempty_string("type", &mut self.sink),
        }?;
        let builtin = BUILTIN_ENGINES
            .iter()
            .find(|(name, _)| *name == kind)
            .map(|(_, options)| options.iter().map(|o| (*o).to_owned()).collect::<Vec<_>>());
        let file = self
            .ctx
            .engine_files
            .iter()
            .find(|(name, _)| name == kind)
            .map(|(_, options)| options.clone());
        let Some(allowed) = file.or(builtin) else {
            let mut names: Vec<&str> = BUILTIN_ENGINES.iter().map(|(n, _)| *n).collect();
            names.extend(self.ctx.engine_files.iter().map(|(n, _)| n.as_str()));
            names.sort_unstable();
            names.dedup();
            let hint = did_you_mean(kind, names.iter().copied());
            self.sink.error(
                "engine-unknown",
                format!(
                    "unknown engine {}{hint}; available: {}",
                    yaml::quote_short(kind),
                    names.join(", ")
                ),
                "engine.type",
                Target::Value,
            );
            return None;
        };
        let mut options = Vec::new();
        for (key, value) in entries {
            if key == "type" {
                continue;
            }
            let path = r.path_of(key);
            if !allowed.iter().any(|a| a == key) {
                self.sink.error(
                    "engine-option",
                    format!("engine \"{kind}\" has no option \"{key}\""),
                    path,
                    Target::Key,
                );
                continue;
            }
            match value.scalar_text() {
                Some(text) => options.push((key.clone(), text)),
                None => self
                    .sink
                    .wrong_type(key, super::fields::A_STRING, value, path),
            }
        }
        Some(EngineUse {
            kind: kind.to_owned(),
            options,
        })
    }

    /// An `env:` mapping of `r`: names → scalar templates.
    pub fn env(&mut self, r: &MapReader<'_, '_>) -> Vec<(String, Template)> {
        let Some(entries) = r.map("env", &mut self.sink) else {
            return Vec::new();
        };
        let env_path = r.path_of("env");
        let mut env = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let path = env_path.key(key);
            match value.scalar_text() {
                Some(text) => {
                    let template = self.template(&text, "env", false, path, false);
                    env.push((key.clone(), template));
                }
                None => self
                    .sink
                    .wrong_type(key, super::fields::A_STRING, value, path),
            }
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = include_str!("../../tests/fixtures/valid/everything.yaml");

    /// The model of `text`, a valid workflow.
    fn valid(text: &str) -> Workflow {
        let analysis = load_bytes(
            text.as_bytes(),
            Source::Builtin("t".into()),
            "t.yaml",
            &LoadContext::default(),
        );
        analysis.workflow.expect("valid")
    }

    #[test]
    fn loads_a_valid_file_with_session_defaults() {
        let workflow = valid(
            "name: t\nsteps:\n  - {id: a, prompt: hi}\n  - {id: g, steps: [{id: b, prompt: again}]}\n",
        );
        let sessions: Vec<String> = workflow
            .walk()
            .filter_map(|s| match &s.kind {
                StepKind::Agent(a) => Some(a.session.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(sessions, ["new", "resume"]);
        // Loading (and so `--validate`) does not hash the file; a run asking for it does.
        assert!(!workflow.hash.is_computed());
        assert!(workflow.hash.as_str().starts_with("sha256:"));
        assert!(workflow.hash.is_computed());
    }

    #[test]
    fn walk_visits_every_step_depth_first_in_document_order() {
        let workflow = valid(
            "name: t\nsteps:\n  - {id: a, command: x}\n  - id: g\n    steps:\n      - {id: b, command: x}\n      - id: l\n        loop: {max: 2}\n        steps: [{id: c, command: x}, {id: d, command: x}]\n      - {id: e, command: x}\n  - {id: f, command: x}\n",
        );
        let ids: Vec<&str> = workflow.walk().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "g", "b", "l", "c", "d", "e", "f"]);
    }

    /// The first use of a repeated id is found by its node, at any depth, for every repeat.
    #[test]
    fn duplicate_ids_point_at_the_first_use() {
        let text = "name: t\nsteps:\n  - {id: a, prompt: hi}\n  - id: g\n    steps:\n      - {id: a, prompt: x}\n  - {id: a, prompt: y}\n";
        let analysis = load_bytes(
            text.as_bytes(),
            Source::Builtin("t".into()),
            "t.yaml",
            &LoadContext::default(),
        );
        let found: Vec<(String, String, Option<usize>)> = analysis
            .diagnostics
            .iter()
            .map(|d| (d.message.clone(), d.location.clone(), d.line))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "duplicate step id \"a\" (first used at line 3)".to_owned(),
                    "steps[1].steps[0] (id \"a\")".to_owned(),
                    Some(6)
                ),
                (
                    "duplicate step id \"a\" (first used at line 3)".to_owned(),
                    "steps[2] (id \"a\")".to_owned(),
                    Some(7)
                ),
            ]
        );
    }

    /// Random byte and line mutations of a valid file never panic.
    #[test]
    fn mutations_never_panic() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const PIECES: &[&str] = &[
            "{{",
            "}}",
            ":",
            "- ",
            "\t",
            "'",
            "\"",
            "[",
            "]",
            "{",
            "}",
            "&a ",
            "*a",
            "!!str ",
            "\n  ",
            "steps:",
            "loop:",
            "\u{0}",
            "99999999999999999999999",
            "{{#if x}}",
            "\\",
        ];
        let ctx = LoadContext::default();
        for _ in 0..3000 {
            let mut bytes = VALID.as_bytes().to_vec();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % (bytes.len() + 1);
                match next() % 4 {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => bytes[at] = (next() % 256) as u8,
                    _ => {
                        let piece = PIECES[(next() as usize) % PIECES.len()];
                        bytes.splice(at..at, piece.bytes());
                    }
                }
            }
            let analysis = load_bytes(&bytes, Source::Builtin("f".into()), "f.yaml", &ctx);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = PositionIndex::build(text);
            }
            let _ = analysis.has_errors();
        }
    }
}
