//! `$FAKE_AGENT_LOG`: one JSON line per invocation (`"kind":"invocation"`), plus, in interactive
//! mode, one line per chunk read from the terminal (`"kind":"stdin"`, with `hex` and `text`), so
//! tests can assert on argv, environment and every byte the agent received.

use std::io::{IsTerminal, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use serde_json::{Map, Value, json};

/// Facts about this process recorded with every invocation.
pub fn invocation_line(
    cli: &str,
    turn: Option<u64>,
    args: &[String],
    mode: &str,
    session_id: Option<&str>,
) -> Value {
    let env: Map<String, Value> = std::env::vars()
        .filter(|(k, _)| k.starts_with("AGENT_RUNNER_"))
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    json!({
        "kind": "invocation",
        "cli": cli,
        "turn": turn,
        "pid": std::process::id(),
        "argv0": std::env::args().next().unwrap_or_default(),
        "argv": args,
        "mode": mode,
        "cwd": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        "stdin_is_tty": std::io::stdin().is_terminal(),
        "stdin_is_devnull": stdin_is_devnull(),
        "env": env,
        "claudecode": std::env::var_os("CLAUDECODE").is_some(),
        "term": std::env::var("TERM").ok(),
        "session_id": session_id,
    })
}

/// The line for one chunk of terminal input.
pub fn stdin_line(turn: Option<u64>, bytes: &[u8]) -> Value {
    json!({
        "kind": "stdin",
        "turn": turn,
        "pid": std::process::id(),
        "hex": bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "text": String::from_utf8_lossy(bytes),
    })
}

/// Appends `line` to `$FAKE_AGENT_LOG`, if set. Errors are ignored: the log is a test aid.
pub fn append(line: &Value) {
    let Some(path) = std::env::var_os("FAKE_AGENT_LOG") else {
        return;
    };
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}

/// Whether stdin is `/dev/null`.
pub fn stdin_is_devnull() -> bool {
    let Ok(stdin) = nix::sys::stat::fstat(std::io::stdin()) else {
        return false;
    };
    let Ok(null) = std::fs::metadata("/dev/null") else {
        return false;
    };
    #[allow(
        clippy::unnecessary_cast,
        reason = "dev_t is u64 on Linux but i32 on macOS"
    )]
    let rdev = stdin.st_rdev as u64;
    null.file_type().is_char_device() && rdev == null.rdev()
}
