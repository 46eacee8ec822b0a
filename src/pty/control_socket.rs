//! The control socket: how `agent-runner step continue`, run by the agent, reaches the relay
//! (interactive.md §5).
//!
//! One Unix socket per run directory, in a private (0700) per-user directory, named after a short
//! hash of the run directory so the path stays under macOS's 104-byte limit. The server lives as
//! long as one interactive step: it answers one JSON line per connection, checks the step's token,
//! and passes accepted requests to the relay over a channel. A repeated request with the right
//! token is answered `ok` again (the relay ignores all but the first); a wrong token means the
//! agent belongs to a step that has already ended.
//!
//! The accept loop polls with a short timeout so the server stops promptly; each connection gets
//! its own short-lived thread with a 5 s deadline, so a stuck client cannot block another.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The most a request line may hold.
pub const MAX_REQUEST_BYTES: usize = 4096;
/// How long one connection may take, end to end.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);
/// The answer to a request with another step's token.
pub const STEP_ENDED: &str = "this step has already ended";
const ACCEPT_POLL: u16 = 100;

/// An accepted `step continue` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlRequest {
    /// `--note`, for the `control` audit event.
    pub note: Option<String>,
}

/// The directory for control sockets: `$XDG_RUNTIME_DIR/agent-runner/`, or else
/// `$TMPDIR/agent-runner-<uid>/` (`/tmp` when `TMPDIR` is unset).
pub fn socket_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|dir| !dir.is_empty()) {
        Some(runtime) => Path::new(&runtime).join("agent-runner"),
        None => {
            let tmp = std::env::var_os("TMPDIR")
                .filter(|dir| !dir.is_empty())
                .unwrap_or_else(|| "/tmp".into());
            Path::new(&tmp).join(format!("agent-runner-{}", nix::unistd::getuid()))
        }
    }
}

/// The control socket for a run: `<socket_dir>/<first 8 hex of sha256(run dir)>.sock`.
pub fn control_socket_path(run_dir: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let digest = Sha256::digest(run_dir.as_os_str().as_bytes());
    socket_dir().join(format!("{}.sock", &hex(&digest)[..8]))
}

/// A fresh step token: 32 hex digits from the system's random source.
pub fn new_token() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The control server of one interactive step. Dropping it stops it and removes the socket.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Creates the socket directory (0700) and the socket at `path`, replacing a stale socket,
    /// and starts answering requests for `token`. Accepted requests are sent to `requests`.
    pub fn start(path: &Path, token: &str, requests: Sender<ControlRequest>) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            prepare_dir(dir)?;
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a file that is not a socket is in the way",
                ));
            }
            Err(_) => {}
        }
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            let token = token.to_owned();
            std::thread::Builder::new()
                .name("control-socket".into())
                .spawn(move || accept_loop(&listener, &token, &requests, &stop))?
        };
        Ok(Self {
            path: path.to_owned(),
            stop,
            thread: Some(thread),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn prepare_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.permissions().mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn accept_loop(
    listener: &UnixListener,
    token: &str,
    requests: &Sender<ControlRequest>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(ACCEPT_POLL)).unwrap_or(0) == 0 {
            continue;
        }
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        let token = token.to_owned();
        let requests = requests.clone();
        // A connection that cannot get a thread is simply dropped; the client falls back.
        let _ = std::thread::Builder::new()
            .name("control-connection".into())
            .spawn(move || {
                let _ = serve(stream, &token, &requests);
            });
    }
}

fn serve(mut stream: UnixStream, token: &str, requests: &Sender<ControlRequest>) -> io::Result<()> {
    // Accepted sockets inherit O_NONBLOCK on macOS.
    stream.set_nonblocking(false)?;
    let deadline = Instant::now() + CONNECTION_DEADLINE;
    let line = read_line(&mut stream, deadline)?;
    let (reply, request) = answer(&line, token);
    if let Some(request) = request {
        // The relay may already be gone; the agent is still told its request was fine.
        let _ = requests.send(request);
    }
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    stream.write_all(reply.as_bytes())
}

/// Reads one line (without its newline) of at most [`MAX_REQUEST_BYTES`] before `deadline`.
pub(crate) fn read_line(stream: &mut UnixStream, deadline: Instant) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(line);
        }
        line.extend_from_slice(&buf[..n]);
        if let Some(end) = line.iter().position(|&b| b == b'\n') {
            line.truncate(end);
            return Ok(line);
        }
        if line.len() > MAX_REQUEST_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
        }
    }
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
    }
    Ok(left)
}

/// The reply line for one request line, and the request to pass on if it is accepted.
fn answer(line: &[u8], token: &str) -> (String, Option<ControlRequest>) {
    let reply = |value: Value| format!("{value}\n");
    let Some(request) = parse_request(line) else {
        return (
            reply(json!({"ok": false, "error": "invalid request"})),
            None,
        );
    };
    if request.0 != token {
        return (reply(json!({"ok": false, "error": STEP_ENDED})), None);
    }
    (reply(json!({"ok": true})), Some(request.1))
}

/// `{"v":1,"type":"continue","token":"…","note":…}` → (token, request).
fn parse_request(line: &[u8]) -> Option<(String, ControlRequest)> {
    let value: Value = serde_json::from_slice(line).ok()?;
    if value.get("v")?.as_u64()? != 1 || value.get("type")?.as_str()? != "continue" {
        return None;
    }
    let token = value.get("token")?.as_str()?.to_owned();
    let note = match value.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(note)) => Some(note.clone()),
        Some(_) => return None,
    };
    Some((token, ControlRequest { note }))
}

/// The request line a client sends.
pub(crate) fn request_line(token: &str, note: Option<&str>) -> String {
    format!(
        "{}\n",
        json!({"v": 1, "type": "continue", "token": token, "note": note})
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn answers_follow_the_protocol() {
        let good = request_line("abc", Some("done"));
        let (reply, request) = answer(good.trim_end().as_bytes(), "abc");
        assert_eq!(reply, "{\"ok\":true}\n");
        assert_eq!(request.unwrap().note.as_deref(), Some("done"));
        let (reply, request) = answer(request_line("old", None).as_bytes(), "abc");
        assert_eq!(
            reply,
            "{\"ok\":false,\"error\":\"this step has already ended\"}\n"
        );
        assert!(request.is_none());
        for bad in [
            "not json",
            r#"{"v":2,"type":"continue","token":"abc"}"#,
            r#"{"v":1,"type":"stop","token":"abc"}"#,
            r#"{"v":1,"type":"continue","token":"abc","note":3}"#,
        ] {
            let (reply, request) = answer(bad.as_bytes(), "abc");
            assert!(reply.contains("invalid request"), "{bad}");
            assert!(request.is_none());
        }
    }

    #[test]
    fn socket_path_is_short_and_stable() {
        let a = control_socket_path(Path::new("/home/u/.agent-runner/runs/x"));
        let b = control_socket_path(Path::new("/home/u/.agent-runner/runs/x"));
        assert_eq!(a, b);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert_eq!(name.len(), "01234567.sock".len());
        assert!(name.ends_with(".sock"));
    }

    #[test]
    fn tokens_are_32_hex_digits_and_fresh() {
        let a = new_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_token().unwrap());
    }

    #[test]
    fn server_accepts_repeats_and_rejects_stale_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private").join("t.sock");
        let (tx, rx) = mpsc::channel();
        let server = ControlServer::start(&path, "tok", tx).unwrap();
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let ask = |token: &str| {
            let mut stream = UnixStream::connect(&path).unwrap();
            stream
                .write_all(request_line(token, Some("n")).as_bytes())
                .unwrap();
            let deadline = Instant::now() + CONNECTION_DEADLINE;
            String::from_utf8(read_line(&mut stream, deadline).unwrap()).unwrap()
        };
        assert_eq!(ask("tok"), r#"{"ok":true}"#);
        assert_eq!(ask("tok"), r#"{"ok":true}"#);
        assert!(ask("old").contains(STEP_ENDED));
        assert_eq!(rx.recv().unwrap().note.as_deref(), Some("n"));
        assert_eq!(rx.recv().unwrap().note.as_deref(), Some("n"));
        drop(server);
        assert!(!path.exists());
        assert!(rx.try_recv().is_err());
    }
}
