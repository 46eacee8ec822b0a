//! The YAML examples in `README.md` and `docs/*.md` must stay valid.
//!
//! Every ```yaml block of a Markdown file is one of:
//! - a workflow (top-level `name:` and `steps:`), written to
//!   `.agent-runner/workflows/docs/<file>-L<line>.yaml`;
//! - a file with a fixed place, when its first line is `# file: <path>`: a project path under
//!   `.agent-runner/`, or `~/.config/agent-runner/…` for the user config dir;
//! - a fragment that contains the comment `# not a workflow`, which is skipped.
//!
//! Anything else fails, so an example cannot slip through unchecked. All blocks of one Markdown
//! file go into one project (an example may use the profile of that page's configuration example,
//! or its engine), and `agent-runner --validate` must accept every one of them without a warning.

use std::path::{Path, PathBuf};

use crate::test::Test;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SKIP_MARKER: &str = "# not a workflow";
const FILE_MARKER: &str = "# file: ";
const USER_DIR: &str = "~/.config/agent-runner/";

/// The Markdown files whose examples are checked; `every_markdown_file_is_listed` keeps this
/// list complete.
const DOCS: &[&str] = &[
    "README.md",
    "docs/agent-clis.md",
    "docs/architecture.md",
    "docs/builtin-workflows.md",
    "docs/cli.md",
    "docs/configuration.md",
    "docs/engines.md",
    "docs/kubernetes.md",
    "docs/launchers.md",
    "docs/migrating.md",
    "docs/recipes.md",
    "docs/runs-and-state.md",
    "docs/workflow-format.md",
];

/// One ```yaml block: the 1-based line of its opening fence and its text.
#[derive(Debug, PartialEq, Eq)]
struct Block {
    line: usize,
    text: String,
}

/// Where a block goes.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    Skip,
    /// Relative to the project dir.
    Project(String),
    /// Relative to the user config dir.
    User(String),
}

/// Every ```yaml block of a Markdown text. Fences may be indented (inside lists); the block's
/// lines lose that indentation.
fn yaml_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, usize, Vec<&str>)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                if trimmed.trim_end() == "```yaml" {
                    open = Some((i + 1, indent, Vec::new()));
                }
            }
            Some((start, indent, lines)) => {
                if trimmed.trim_end() == "```" {
                    let mut text = lines.join("\n");
                    text.push('\n');
                    blocks.push(Block { line: *start, text });
                    open = None;
                } else {
                    let cut = line.len().min(*indent);
                    lines.push(line.get(cut..).unwrap_or(line));
                }
            }
        }
    }
    assert!(open.is_none(), "a ```yaml block is never closed");
    blocks
}

/// Where the block of `doc` (e.g. `README.md`) at `block.line` is written, or why it fails.
fn place(doc: &str, block: &Block) -> Result<Place, String> {
    if block.text.contains(SKIP_MARKER) {
        return Ok(Place::Skip);
    }
    let first = block.text.lines().next().unwrap_or_default();
    if let Some(path) = first.strip_prefix(FILE_MARKER) {
        let path = path.trim();
        if path.contains("..") {
            return Err(format!("\"{path}\" must not contain \"..\""));
        }
        if let Some(rest) = path.strip_prefix(USER_DIR) {
            return Ok(Place::User(rest.to_owned()));
        }
        if path.starts_with(".agent-runner/") {
            return Ok(Place::Project(path.to_owned()));
        }
        return Err(format!(
            "\"{path}\" must be under .agent-runner/ or {USER_DIR}"
        ));
    }
    let top = |key: &str| block.text.lines().any(|l| l.starts_with(key));
    if top("name:") && top("steps:") {
        let stem = Path::new(doc)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("doc")
            .to_lowercase();
        return Ok(Place::Project(format!(
            ".agent-runner/workflows/docs/{stem}-L{}.yaml",
            block.line
        )));
    }
    Err(format!(
        "it is not a workflow (no top-level name: and steps:); start it with \"{FILE_MARKER}<path>\" or add \"{SKIP_MARKER}\""
    ))
}

/// Validates every example of one Markdown file; returns how many files were validated.
fn check(doc: &str) -> usize {
    let markdown = std::fs::read_to_string(Path::new(ROOT).join(doc))
        .unwrap_or_else(|e| panic!("cannot read {doc}: {e}"));
    let mut test = Test::new();
    let mut targets: Vec<(usize, String)> = Vec::new();
    let mut written: Vec<PathBuf> = Vec::new();
    for block in yaml_blocks(&markdown) {
        let place = place(doc, &block)
            .unwrap_or_else(|why| panic!("{doc}:{}: ```yaml block: {why}", block.line));
        let (target, at) = match place {
            Place::Skip => continue,
            Place::Project(path) => {
                let at = test.project().join(&path);
                test = test.write(&path, &block.text);
                (path, at)
            }
            Place::User(path) => {
                let at = test.path().join("home/.config/agent-runner").join(&path);
                test = test.write_user(&path, &block.text);
                (at.display().to_string(), at)
            }
        };
        assert!(
            !written.contains(&at),
            "{doc}:{}: a second example for {}",
            block.line,
            at.display()
        );
        written.push(at);
        targets.push((block.line, target));
    }
    if targets.is_empty() {
        return 0;
    }
    // Workflow examples are named after their line (`readme-L120.yaml`), so a failure below
    // points at the example.
    let output = targets
        .iter()
        .fold(test.arg("--validate"), |t, (_, target)| t.arg(target))
        .stderr("")
        .run();
    let ok = output
        .stdout
        .lines()
        .filter(|l| l.starts_with("ok: "))
        .count();
    assert_eq!(ok, targets.len(), "{doc}: stdout:\n{}", output.stdout);
    targets.len()
}

#[test]
fn readme_examples_are_valid() {
    assert!(check("README.md") >= 5, "the README lost its examples");
}

#[test]
fn workflow_format_examples_are_valid() {
    assert!(check("docs/workflow-format.md") >= 8);
}

#[test]
fn configuration_examples_are_valid() {
    assert!(check("docs/configuration.md") >= 2);
}

#[test]
fn engines_examples_are_valid() {
    assert!(check("docs/engines.md") >= 3);
}

#[test]
fn migrating_examples_are_valid() {
    assert!(check("docs/migrating.md") >= 1);
}

#[test]
fn recipes_examples_are_valid() {
    assert_eq!(check("docs/recipes.md"), 3);
}

#[test]
fn other_docs_examples_are_valid() {
    for doc in [
        "docs/agent-clis.md",
        "docs/architecture.md",
        "docs/builtin-workflows.md",
        "docs/cli.md",
        "docs/runs-and-state.md",
    ] {
        check(doc);
    }
}

#[test]
fn every_markdown_file_is_listed() {
    let mut found: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    found.push("README.md".to_owned());
    found.sort();
    let mut listed: Vec<String> = DOCS.iter().map(|d| (*d).to_owned()).collect();
    listed.sort();
    assert_eq!(
        found, listed,
        "add new Markdown files to DOCS and to a test"
    );
}

#[test]
fn blocks_are_extracted_and_placed() {
    let markdown = "text\n```yaml\nname: a\nsteps:\n  - {id: x, command: ls}\n```\n\
                    1. item\n   ```yaml\n   # file: .agent-runner/config.yaml\n   shell: /bin/sh\n   ```\n\
                    ```yaml\nkey: value   # not a workflow\n```\n```sh\nname: not yaml\n```\n\
                    ```yaml\nshell: /bin/sh\n```\n";
    let blocks = yaml_blocks(markdown);
    assert_eq!(blocks.len(), 4);
    assert_eq!(blocks[0].line, 2);
    assert_eq!(
        blocks[1].text,
        "# file: .agent-runner/config.yaml\nshell: /bin/sh\n"
    );
    let places: Vec<_> = blocks.iter().map(|b| place("docs/x.md", b)).collect();
    assert_eq!(
        places[0],
        Ok(Place::Project(
            ".agent-runner/workflows/docs/x-L2.yaml".to_owned()
        ))
    );
    assert_eq!(
        places[1],
        Ok(Place::Project(".agent-runner/config.yaml".to_owned()))
    );
    assert_eq!(places[2], Ok(Place::Skip));
    assert!(places[3].is_err());
    let user = Block {
        line: 1,
        text: "# file: ~/.config/agent-runner/config.yaml\n".to_owned(),
    };
    assert_eq!(
        place("README.md", &user),
        Ok(Place::User("config.yaml".to_owned()))
    );
}

#[test]
fn an_invalid_example_is_caught() {
    let test = Test::new().write(
        ".agent-runner/workflows/docs/bad.yaml",
        "name: bad\nsteps:\n  - id: a\n    comand: ls\n",
    );
    let output = test
        .args(["--validate", ".agent-runner/workflows/docs/bad.yaml"])
        .status(3)
        .run();
    assert!(output.stderr.contains("error[unknown-key]"));
}
