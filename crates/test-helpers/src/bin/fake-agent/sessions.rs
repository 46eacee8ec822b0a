//! Session stores, written where each real CLI writes them, so the runner's `session_exists`
//! and codex discovery see what they would see with the real CLIs:
//! - claude: `${CLAUDE_CONFIG_DIR:-~/.claude}/projects/<key>/<id>.jsonl` (key: the cwd with every
//!   UTF-16 unit outside `[A-Za-z0-9]` as `-`; the real CLI shortens keys over 200 characters);
//! - codex: `${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/rollout-<ts>-<id>.jsonl`, first line
//!   `session_meta` with `payload.id` and `payload.cwd`;
//! - copilot: `~/.copilot/session-state/<id>/events.jsonl`;
//! - gemini: `~/.gemini/tmp/<cwd basename>/chats/session-<ts>-<id8>.jsonl`;
//! - opencode and cursor-agent: a file per session id under their data dirs (layout not mirrored).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use agent_runner::agents::ids::format_uuid_v4;
use agent_runner::state::format_utc;
use serde_json::json;
use time::macros::format_description;

use super::clis::Cli;

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

pub fn home() -> PathBuf {
    env_dir("HOME").unwrap_or_else(|| PathBuf::from("/"))
}

fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // A fake's ids only need to differ between runs; all zeros is still a valid id.
    let _ = getrandom::fill(&mut bytes);
    bytes
}

/// A new session id in the CLI's own format.
pub fn new_id(cli: Cli) -> String {
    let mut bytes = random_bytes();
    match cli {
        Cli::Codex => {
            // Codex thread ids are UUIDv7: 48 bits of milliseconds first.
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0) as u64;
            bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
            let v4 = format_uuid_v4(bytes);
            format!("{}7{}", &v4[..14], &v4[15..])
        }
        Cli::Opencode => {
            let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyz";
            let tail: String = bytes
                .iter()
                .chain(random_bytes().iter())
                .take(26)
                .map(|b| alphabet[*b as usize % alphabet.len()] as char)
                .collect();
            format!("ses_{tail}")
        }
        _ => format_uuid_v4(bytes),
    }
}

fn claude_key(cwd: &str) -> String {
    let mut key = String::new();
    for c in cwd.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else {
            key.extend(std::iter::repeat_n('-', c.len_utf16()));
        }
    }
    key
}

fn claude_file(id: &str, cwd: &str) -> PathBuf {
    let config = env_dir("CLAUDE_CONFIG_DIR").unwrap_or_else(|| home().join(".claude"));
    config
        .join("projects")
        .join(claude_key(cwd))
        .join(format!("{id}.jsonl"))
}

fn codex_sessions() -> PathBuf {
    env_dir("CODEX_HOME")
        .unwrap_or_else(|| home().join(".codex"))
        .join("sessions")
}

fn codex_find(id: &str) -> Option<PathBuf> {
    let suffix = format!("-{id}.jsonl");
    let list = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect()
    };
    list(&codex_sessions())
        .iter()
        .flat_map(|y| list(y))
        .flat_map(|m| list(&m))
        .flat_map(|d| list(&d))
        .find(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(&suffix))
        })
}

fn gemini_chats(cwd: &str) -> PathBuf {
    let project = Path::new(cwd)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    home()
        .join(".gemini")
        .join("tmp")
        .join(project)
        .join("chats")
}

fn gemini_find(id: &str, cwd: &str) -> Option<PathBuf> {
    std::fs::read_dir(gemini_chats(cwd))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let mut first = String::new();
            std::fs::File::open(p)
                .map(|f| std::io::BufReader::new(f).read_line(&mut first))
                .is_ok()
                && serde_json::from_str::<serde_json::Value>(&first)
                    .ok()
                    .and_then(|v| v.get("sessionId").cloned())
                    == Some(json!(id))
        })
}

/// The file holding session `id` as seen from `cwd`, if it exists.
pub fn find(cli: Cli, id: &str, cwd: &str) -> Option<PathBuf> {
    let existing = |p: PathBuf| p.is_file().then_some(p);
    match cli {
        Cli::Claude => existing(claude_file(id, cwd)),
        Cli::Codex => codex_find(id),
        Cli::Copilot => existing(
            home()
                .join(".copilot/session-state")
                .join(id)
                .join("events.jsonl"),
        ),
        Cli::Cursor => existing(home().join(".cursor/chats").join(format!("{id}.jsonl"))),
        Cli::Opencode => {
            let data = env_dir("XDG_DATA_HOME").unwrap_or_else(|| home().join(".local/share"));
            existing(
                data.join("opencode/storage/session")
                    .join(format!("{id}.jsonl")),
            )
        }
        Cli::Gemini => gemini_find(id, cwd),
    }
}

/// Whether any session is stored for `cwd` (gemini words its resume error by this).
pub fn any_for_cwd(cli: Cli, cwd: &str) -> bool {
    cli == Cli::Gemini
        && std::fs::read_dir(gemini_chats(cwd))
            .into_iter()
            .flatten()
            .flatten()
            .next()
            .is_some()
}

/// Creates the store entry of a new session (first line included).
pub fn create(cli: Cli, id: &str, cwd: &str, headless: bool) -> std::io::Result<PathBuf> {
    let now = SystemTime::now();
    let stamp = format_utc(
        now,
        format_description!("[year]-[month]-[day]T[hour]-[minute]-[second]"),
    );
    let iso = format_utc(
        now,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z"),
    );
    let (path, first) = match cli {
        Cli::Codex => (
            codex_sessions()
                .join(agent_runner::agents::ids::date_path(now))
                .join(format!("rollout-{stamp}-{id}.jsonl")),
            Some(
                json!({"timestamp": iso, "type": "session_meta", "payload": {
                    "session_id": id, "id": id, "timestamp": iso, "cwd": cwd,
                    "originator": if headless { "codex_exec" } else { "codex_cli_rs" },
                    "cli_version": "0.169.0", "source": if headless { "exec" } else { "cli" },
                }}),
            ),
        ),
        Cli::Gemini => (
            gemini_chats(cwd).join(format!("session-{stamp}-{}.jsonl", &id[..id.len().min(8)])),
            Some(json!({"sessionId": id, "startTime": iso, "lastUpdated": iso})),
        ),
        _ => (find_path_for_new(cli, id, cwd), None),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    if let Some(first) = first {
        file.write_all(format!("{first}\n").as_bytes())?;
    }
    Ok(path)
}

fn find_path_for_new(cli: Cli, id: &str, cwd: &str) -> PathBuf {
    match cli {
        Cli::Claude => claude_file(id, cwd),
        Cli::Copilot => home()
            .join(".copilot/session-state")
            .join(id)
            .join("events.jsonl"),
        Cli::Cursor => home().join(".cursor/chats").join(format!("{id}.jsonl")),
        _ => {
            let data = env_dir("XDG_DATA_HOME").unwrap_or_else(|| home().join(".local/share"));
            data.join("opencode/storage/session")
                .join(format!("{id}.jsonl"))
        }
    }
}

/// Appends the user's prompt to a session file.
pub fn record_prompt(path: &Path, id: &str, cwd: &str, prompt: &str) {
    let line = json!({"type": "user", "sessionId": id, "cwd": cwd, "message": {"role": "user", "content": prompt}});
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(path) {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}
