//! `launcher:` (docs/launchers.md): the argv prefix that runs a step's process somewhere else
//! (`[ssh, build-box, --]`, `[docker, exec, -i, "{{container}}"]`), as written in the
//! configuration, a profile, the workflow `defaults` or a step, and read into one [`Launcher`].
//!
//! Two spellings: a list of strings (the argv prefix), or a mapping with `argv` and the options
//! `shell`, `max_concurrent` and `check`. Every word is a template rendered when the step runs,
//! except the program (the first word), which preflight must be able to find.

use super::fields::{A_STRING, MapReader, Sink, Target, YamlPath};
use super::model::Template;
use super::yaml::Node;

/// The keys of the mapping form.
pub const LAUNCHER_KEYS: &[&str] = &["argv", "shell", "max_concurrent", "check"];
/// The fix every `launcher` error carries.
pub const LAUNCHER_HINT: &str = "write a list such as [ssh, build-box, --], or a mapping {argv: [ssh, build-box, --], shell: true, max_concurrent: 2, check: true}";

/// One launcher, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    /// The argv prefix; the first word is a literal program name or path.
    pub argv: Vec<Template>,
    /// The other side reads one shell command line (ssh joins its arguments with spaces),
    /// rather than an argv (`docker exec`, `kubectl exec`).
    pub shell: bool,
    /// At most this many steps run through this launcher (the same rendered argv) at once.
    pub max_concurrent: Option<u32>,
    /// The probe preflight runs through the launcher before the first step (`check: true` runs
    /// `true`).
    pub check: Option<String>,
}

impl Launcher {
    /// The program: the first word, which is never a template.
    pub fn program(&self) -> &str {
        self.argv.first().map(Template::text).unwrap_or_default()
    }
}

/// Programs whose trailing arguments the other side joins into one shell command line.
const SHELL_PROGRAMS: &[&str] = &["ssh", "autossh"];

/// Whether `program` (a name or a path) is one that takes a shell command line.
pub fn takes_shell_line(program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or(program);
    SHELL_PROGRAMS.contains(&name)
}

/// Reads `launcher` of `r`, if present; every problem is a `launcher` error at its position.
/// `word` turns the text of an argv word (and its path) into a template: the loader checks the
/// variables of a step's launcher where the step stands; elsewhere the text is only parsed.
pub fn read(
    r: &MapReader<'_, '_>,
    sink: &mut Sink,
    word: &mut dyn FnMut(&mut Sink, &str, YamlPath<'_>) -> Template,
) -> Option<Launcher> {
    let node = r.get("launcher")?;
    let path = r.path_of("launcher");
    match node {
        Node::Seq(items) => {
            let argv = argv(items, path, sink, word)?;
            let shell = takes_shell_line(argv.first().map(Template::text).unwrap_or_default());
            Some(Launcher {
                argv,
                shell,
                max_concurrent: None,
                check: None,
            })
        }
        Node::Map(entries) => {
            let m = MapReader::new(entries, path);
            m.check_keys(LAUNCHER_KEYS, sink);
            let Some(items) = m.get("argv") else {
                launcher_error(sink, "\"launcher\" needs \"argv\"".to_owned(), path);
                return None;
            };
            let Node::Seq(items) = items else {
                launcher_error(
                    sink,
                    format!(
                        "\"launcher.argv\" must be a list of strings, found {}",
                        items.describe()
                    ),
                    m.path_of("argv"),
                );
                return None;
            };
            let argv = argv(items, m.path_of("argv"), sink, word);
            let shell = m.bool("shell", sink);
            let max_concurrent = m.positive_int("max_concurrent", "launcher", sink);
            let check = match m.get("check") {
                None | Some(Node::Bool(false)) => None,
                Some(Node::Bool(true)) => Some("true".to_owned()),
                Some(Node::Str(text)) if !text.trim().is_empty() => Some(text.clone()),
                Some(other) => {
                    launcher_error(
                        sink,
                        format!(
                            "\"launcher.check\" must be true, false or a command, found {}",
                            other.describe()
                        ),
                        m.path_of("check"),
                    );
                    None
                }
            };
            let argv = argv?;
            let shell = shell.unwrap_or_else(|| {
                takes_shell_line(argv.first().map(Template::text).unwrap_or_default())
            });
            Some(Launcher {
                argv,
                shell,
                max_concurrent,
                check,
            })
        }
        other => {
            launcher_error(
                sink,
                format!(
                    "\"launcher\" must be a list of strings or a mapping, found {}",
                    other.describe()
                ),
                path,
            );
            None
        }
    }
}

fn argv(
    items: &[Node],
    path: YamlPath<'_>,
    sink: &mut Sink,
    word: &mut dyn FnMut(&mut Sink, &str, YamlPath<'_>) -> Template,
) -> Option<Vec<Template>> {
    if items.is_empty() {
        launcher_error(
            sink,
            "\"launcher\" must name a program: the list is empty".to_owned(),
            path,
        );
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let Some(text) = item.scalar_text() else {
            sink.wrong_type(&format!("launcher[{i}]"), A_STRING, item, path.index(i));
            ok = false;
            continue;
        };
        if i == 0 && (text.trim().is_empty() || text.contains("{{")) {
            launcher_error(
                sink,
                format!(
                    "the launcher's program \"{text}\" must be a program name or path, not empty and not a template (preflight checks that it is installed)"
                ),
                path.index(i),
            );
            ok = false;
            continue;
        }
        out.push(word(sink, &text, path.index(i)));
    }
    ok.then_some(out)
}

fn launcher_error(sink: &mut Sink, message: String, path: YamlPath<'_>) {
    sink.error_help(
        "launcher",
        message,
        LAUNCHER_HINT.to_owned(),
        path,
        Target::Value,
    );
}

/// A word of a launcher outside a workflow step (configuration, profile, `defaults`): parsed,
/// with its syntax errors reported; its variables are looked up when the step runs.
pub fn plain_word(sink: &mut Sink, text: &str, path: YamlPath<'_>) -> Template {
    let (template, analysis) = Template::analysed(text.to_owned(), "launcher", false);
    for issue in analysis.issues {
        sink.error(issue.code, issue.message, path, Target::Value);
    }
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_takes_a_shell_line_and_docker_an_argv() {
        assert!(takes_shell_line("ssh"));
        assert!(takes_shell_line("/usr/bin/ssh"));
        assert!(!takes_shell_line("docker"));
        assert!(!takes_shell_line("kubectl"));
    }
}
