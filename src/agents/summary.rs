//! One-line summaries of tool calls (agents.md §6), shared by every adapter that sees a tool's
//! input as JSON. The rules go by the kind of tool, so each CLI's own tool names map onto them:
//! a shell tool shows its command, a file tool its path, a search its pattern, and so on.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ToolKind {
    Shell,
    File,
    Search,
    Task,
    Web,
    Todo,
    Other,
}

fn kind_of(tool: &str) -> ToolKind {
    let t = tool.to_ascii_lowercase();
    match t.as_str() {
        "bash" | "shell" | "run_shell_command" | "shellcommand" | "command_execution" | "exec" => {
            ToolKind::Shell
        }
        "read" | "edit" | "write" | "multiedit" | "notebookedit" | "view" | "create"
        | "str_replace" | "read_file" | "write_file" | "replace" | "edit_file" | "delete_file"
        | "patch" => ToolKind::File,
        "grep" | "glob" | "search_file_content" | "list_directory" | "ls" | "codebase_search" => {
            ToolKind::Search
        }
        "task" | "agent" => ToolKind::Task,
        "webfetch" | "websearch" | "web_fetch" | "google_web_search" | "search" | "fetch" => {
            ToolKind::Web
        }
        "todowrite" | "todo" | "write_todos" | "update_todo" => ToolKind::Todo,
        _ => ToolKind::Other,
    }
}

/// The summary of a call to `tool` with `input`: the tool's most telling argument, or the whole
/// input as compact JSON when there is none.
pub fn summarize(tool: &str, input: &Value) -> String {
    let pick = |keys: &[&str]| keys.iter().find_map(|k| string_arg(input.get(*k)?));
    let found = match kind_of(tool) {
        ToolKind::Shell => pick(&["command", "cmd"]).map(|c| first_line(&c).to_string()),
        ToolKind::File => pick(&[
            "file_path",
            "filePath",
            "path",
            "notebook_path",
            "absolute_path",
            "target_file",
        ]),
        ToolKind::Search => pick(&["pattern", "query", "path", "dir_path"]),
        ToolKind::Task => pick(&["description", "prompt"]),
        ToolKind::Web => pick(&["url", "query", "prompt"]),
        ToolKind::Todo => todo_progress(input),
        ToolKind::Other => None,
    };
    found.unwrap_or_else(|| compact(input))
}

/// `<done>/<total> done` for a todo list: an array under `todos` or `items` whose entries have
/// `status: "completed"` or `completed: true`.
pub fn todo_progress(input: &Value) -> Option<String> {
    let items = input
        .get("todos")
        .or_else(|| input.get("items"))
        .and_then(Value::as_array)?;
    let done = items
        .iter()
        .filter(|i| {
            i.get("status").and_then(Value::as_str) == Some("completed")
                || i.get("completed").and_then(Value::as_bool) == Some(true)
        })
        .count();
    Some(format!("{done}/{} done", items.len()))
}

/// The first line of a (possibly multi-line) command.
pub fn first_line(text: &str) -> &str {
    text.trim_start().lines().next().unwrap_or("").trim_end()
}

/// Compact JSON; `{}` for null.
pub fn compact(value: &Value) -> String {
    if value.is_null() {
        return "{}".to_string();
    }
    serde_json::to_string(value).unwrap_or_default()
}

fn string_arg(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) if parts.iter().all(Value::is_string) => Some(
            parts
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summaries_by_kind() {
        assert_eq!(
            summarize("Bash", &json!({"command": "cargo test\necho done"})),
            "cargo test"
        );
        assert_eq!(
            summarize("Read", &json!({"file_path": "/a/b.rs"})),
            "/a/b.rs"
        );
        assert_eq!(
            summarize("Grep", &json!({"pattern": "fn main", "path": "src"})),
            "fn main"
        );
        assert_eq!(
            summarize(
                "Task",
                &json!({"description": "Find tests", "prompt": "..."})
            ),
            "Find tests"
        );
        assert_eq!(
            summarize("WebFetch", &json!({"url": "https://x.dev"})),
            "https://x.dev"
        );
        assert_eq!(
            summarize("WebSearch", &json!({"query": "rust serde"})),
            "rust serde"
        );
        assert_eq!(
            summarize(
                "TodoWrite",
                &json!({"todos": [{"status": "completed"}, {"status": "pending"}, {"status": "completed"}]})
            ),
            "2/3 done"
        );
        assert_eq!(
            summarize("mcp__x__y", &json!({"b": 1, "a": "z"})),
            r#"{"b":1,"a":"z"}"#
        );
        assert_eq!(
            summarize("run_shell_command", &json!({"command": ["ls", "-la"]})),
            "ls -la"
        );
        assert_eq!(summarize("Read", &json!({})), "{}");
    }
}
