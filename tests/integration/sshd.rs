//! A throwaway OpenSSH server for the launcher tests: `/usr/sbin/sshd` (Debian's
//! openssh-server, installed by `make tools`) on 127.0.0.1, on two free ports, run as the
//! current user with a host key, a user key and a config made in a temporary directory.
//!
//! Every session gets `AGENT_RUNNER_VIA=sshd-<port>` (`SetEnv`), so a test can tell that a
//! process ran on the other side of the connection, and through which port. Without `sshd` the
//! tests are skipped with a message, except under CI, where they fail.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd; dropping it stops the server.
pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    pub ports: [u16; 2],
}

/// Whether the tests can run here: `false` (with a message) without sshd outside CI.
fn available() -> bool {
    let present = Path::new(SSHD).exists()
        && ["ssh", "ssh-keygen"].iter().all(|tool| {
            Command::new(tool)
                .arg("-V")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        });
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "{SSHD}, ssh or ssh-keygen is missing; CI must install openssh-server (make tools)"
        );
        eprintln!("SKIPPED: the launcher tests need {SSHD} (apt-get install openssh-server)");
    }
    present
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
}

impl Sshd {
    /// Starts a server, or `None` when sshd is missing outside CI.
    pub fn start() -> Option<Sshd> {
        if !available() {
            return None;
        }
        if nix::unistd::geteuid().is_root() {
            // sshd started by root wants its privilege separation directory.
            std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        }
        let dir = tempfile::Builder::new()
            .prefix("ar-sshd")
            .tempdir()
            .expect("temp dir");
        let at = |name: &str| dir.path().join(name);
        keygen(&at("host_key"));
        keygen(&at("user_key"));
        std::fs::copy(at("user_key.pub"), at("authorized_keys")).expect("authorized_keys");
        let ports = [free_port(), free_port()];
        let mut config = String::new();
        for port in ports {
            config.push_str(&format!("Port {port}\n"));
        }
        config.push_str(&format!(
            "ListenAddress 127.0.0.1
HostKey {host_key}
AuthorizedKeysFile {authorized}
PidFile {pid}
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin yes
MaxStartups 100:30:200
MaxSessions 100
LogLevel ERROR
",
            host_key = at("host_key").display(),
            authorized = at("authorized_keys").display(),
            pid = at("sshd.pid").display(),
        ));
        for port in ports {
            config.push_str(&format!(
                "Match LocalPort {port}\n  SetEnv AGENT_RUNNER_VIA=sshd-{port}\n"
            ));
        }
        std::fs::write(at("sshd_config"), config).expect("sshd_config");
        let log = std::fs::File::create(at("sshd.log")).expect("sshd.log");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(at("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        let sshd = Sshd { dir, child, ports };
        sshd.wait_ready();
        Some(sshd)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in self.ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "sshd did not listen on port {port}: {}",
                    std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// The private key of the test user.
    pub fn key(&self) -> PathBuf {
        self.dir.path().join("user_key")
    }

    /// The ssh client's words that reach the server on `ports[i]`, ending with `--`.
    pub fn client(&self, i: usize) -> Vec<String> {
        let port = self.ports[i].to_string();
        let key = self.key().display().to_string();
        [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            &key,
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "-p",
            &port,
            "127.0.0.1",
            "--",
        ]
        .iter()
        .map(|w| (*w).to_owned())
        .collect()
    }

    /// [`Sshd::client`] as a YAML flow list, for a `launcher:` value.
    pub fn launcher(&self, i: usize) -> String {
        let words: Vec<String> = self
            .client(i)
            .iter()
            .map(|w| serde_json::to_string(w).expect("json"))
            .collect();
        format!("[{}]", words.join(", "))
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes (pid, command line) whose command line contains `marker`, on this machine:
/// the local and the remote side of a test's launcher are both here.
pub fn processes_with(marker: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(marker) && !is_zombie(pid) {
            found.push((pid, text));
        }
    }
    found
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

/// Waits up to `limit` for no process to carry `marker`; the survivors when some still do.
pub fn gone_within(marker: &str, limit: Duration) -> Result<(), Vec<(u32, String)>> {
    let deadline = Instant::now() + limit;
    loop {
        let left = processes_with(marker);
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(left);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
