//! Text edits for `agent-runner migrate`: values replaced in place, lines inserted and removed,
//! so that comments, quoting and layout of the rest of a file stay as the user wrote them.
//! Positions are 1-based lines and character columns, as the YAML position index gives them.

use crate::workflow::positions::PositionIndex;

#[derive(Debug, Clone)]
enum Edit {
    /// Replace `len` characters at `line:column` with `text`.
    Replace {
        line: usize,
        column: usize,
        len: usize,
        text: String,
    },
    /// Insert a whole line after `line`.
    InsertLine { after: usize, text: String },
    /// Remove line `line`.
    RemoveLine { line: usize },
}

/// The edits of one file, applied together.
#[derive(Debug, Default)]
pub struct Edits {
    edits: Vec<Edit>,
}

impl Edits {
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Replaces the scalar value at YAML path `path` (written plain, as `old`) with `new`,
    /// keeping any quotes around it.
    pub fn replace_value(
        &mut self,
        index: &PositionIndex,
        text: &str,
        path: &str,
        old: &str,
        new: &str,
    ) {
        let Some(pos) = index.value(path) else { return };
        let Some(line) = text.lines().nth(pos.line - 1) else {
            return;
        };
        let rest: String = line.chars().skip(pos.column - 1).collect();
        let quoted = rest.starts_with('"') || rest.starts_with('\'');
        let column = pos.column + usize::from(quoted);
        let from: String = line
            .chars()
            .skip(column - 1)
            .take(old.chars().count())
            .collect();
        if from == old {
            self.edits.push(Edit::Replace {
                line: pos.line,
                column,
                len: old.chars().count(),
                text: new.to_owned(),
            });
        }
    }

    /// Adds `key: value` to the step mapping whose `id` key is at YAML path `id_path`: a line
    /// under `id` for a block mapping, `key: value, ` before `id` for a flow mapping.
    pub fn add_entry(
        &mut self,
        index: &PositionIndex,
        text: &str,
        id_path: &str,
        key: &str,
        value: &str,
    ) {
        let Some(pos) = index.key(id_path) else {
            return;
        };
        let Some(line) = text.lines().nth(pos.line - 1) else {
            return;
        };
        let before: String = line.chars().take(pos.column - 1).collect();
        let flow = matches!(before.trim_end().chars().last(), Some('{' | ','));
        if flow {
            self.edits.push(Edit::Replace {
                line: pos.line,
                column: pos.column,
                len: 0,
                text: format!("{key}: {value}, "),
            });
        } else {
            self.edits.push(Edit::InsertLine {
                after: pos.line,
                text: format!("{}{key}: {value}", " ".repeat(pos.column - 1)),
            });
        }
    }

    /// Removes the one-line entry whose key is at YAML path `path`.
    pub fn remove_entry(&mut self, index: &PositionIndex, path: &str) {
        if let Some(pos) = index.key(path) {
            self.edits.push(Edit::RemoveLine { line: pos.line });
        }
    }

    /// The text with every edit applied.
    pub fn apply(mut self, text: &str) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        // Bottom to top and right to left, so earlier positions stay valid.
        let key = |e: &Edit| match e {
            Edit::Replace { line, column, .. } => (*line, 1, *column),
            Edit::InsertLine { after, .. } => (*after, 2, 0),
            Edit::RemoveLine { line } => (*line, 0, 0),
        };
        self.edits.sort_by_key(|e| std::cmp::Reverse(key(e)));
        for edit in self.edits {
            match edit {
                Edit::Replace {
                    line,
                    column,
                    len,
                    text,
                } => {
                    if let Some(l) = lines.get_mut(line - 1) {
                        let chars: Vec<char> = l.chars().collect();
                        let start = (column - 1).min(chars.len());
                        let end = (start + len).min(chars.len());
                        let mut out: String = chars[..start].iter().collect();
                        out.push_str(&text);
                        out.extend(&chars[end..]);
                        *l = out;
                    }
                }
                Edit::InsertLine { after, text } => {
                    lines.insert(after.min(lines.len()), text);
                }
                Edit::RemoveLine { line } => {
                    if line - 1 < lines.len() {
                        lines.remove(line - 1);
                    }
                }
            }
        }
        let mut out = lines.join("\n");
        if text.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_the_rest_of_the_file() {
        let text = "# keep me\nsteps:\n  - id: a\n    mode: \"autonomous\"\n    prompt: x\n  - {id: b, prompt: y}\n";
        let index = PositionIndex::build(text);
        let mut edits = Edits::default();
        edits.replace_value(&index, text, "steps.0.mode", "autonomous", "headless");
        edits.add_entry(&index, text, "steps.1.id", "mode", "headless");
        edits.add_entry(&index, text, "steps.0.id", "cli", "claude");
        assert_eq!(
            edits.apply(text),
            "# keep me\nsteps:\n  - id: a\n    cli: claude\n    mode: \"headless\"\n    prompt: x\n  - {mode: headless, id: b, prompt: y}\n"
        );
    }
}
