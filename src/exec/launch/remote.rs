//! The command line a launcher runs on the other side (docs/launchers.md): `cd` to the step's
//! directory, the step's environment set with `env NAME=VALUE ...`, then the step's own argv,
//! every word quoted for a POSIX shell so that a value never becomes code there.
//!
//! A headless process (a shell step, a headless agent) runs under a small `sh` wrapper: it
//! starts the process with `setsid` (its own process group, where `setsid` exists) and stdin
//! from `/dev/null`, keeps the connection's stdin, and when that closes (the launcher's client
//! was stopped or died) sends SIGTERM to the group, then SIGKILL to what is left a second later. The runner
//! holds the client's stdin open for as long as the step runs and never writes to it. An
//! interactive process gets the remote terminal instead and is `exec`ed: closing the terminal
//! hangs it up.

use std::path::Path;

use crate::interpolate::{is_identifier, shell_quote};

/// What runs on the other side.
pub struct RemoteCommand<'a> {
    pub workdir: &'a Path,
    /// Variables set for the process (names are checked).
    pub env: &'a [(String, String)],
    /// The program and its arguments.
    pub argv: &'a [String],
    /// The process gets the remote terminal (and is stopped by its hangup).
    pub interactive: bool,
}

/// How long the remote group has between SIGTERM and SIGKILL once the connection closed, in
/// tenths of a second.
const REMOTE_GRACE_TICKS: usize = 10;

/// The local argv: the launcher's words (with `-t` for an interactive step, see [`with_tty`]),
/// then the remote command: one `sh -c '<script>'` word for a launcher that reads a shell
/// command line (`shell: true`, ssh), or the words `sh`, `-c`, `<script>` for one that takes
/// an argv. `Err` names a variable that cannot be passed on.
pub fn local_argv(
    launcher: &[String],
    shell: bool,
    command: &RemoteCommand<'_>,
) -> Result<Vec<String>, String> {
    let script = script(command)?;
    let mut argv = if command.interactive {
        with_tty(launcher)
    } else {
        launcher.to_vec()
    };
    if shell {
        argv.push(format!("sh -c {}", shell_quote(&script)));
    } else {
        argv.extend(["sh".to_owned(), "-c".to_owned(), script]);
    }
    Ok(argv)
}

/// The launcher with `-t` (a remote terminal) added: right after the first `exec` word
/// (`docker exec`, `podman exec`, `kubectl exec`), or else right after the program (`ssh`).
pub fn with_tty(launcher: &[String]) -> Vec<String> {
    let at = launcher
        .iter()
        .position(|word| word == "exec")
        .map_or(1, |i| i + 1)
        .min(launcher.len());
    let mut argv = launcher.to_vec();
    argv.insert(at, "-t".to_owned());
    argv
}

/// The script `sh -c` runs on the other side.
pub fn script(command: &RemoteCommand<'_>) -> Result<String, String> {
    let mut run = String::from("env");
    for (name, value) in command.env {
        if !is_identifier(name) {
            return Err(format!(
                "the variable name \"{name}\" cannot be passed through a launcher; use letters, digits and _"
            ));
        }
        run.push(' ');
        run.push_str(&shell_quote(&format!("{name}={value}")));
    }
    for word in command.argv {
        run.push(' ');
        run.push_str(&shell_quote(word));
    }
    let cd = format!(
        "cd {} || exit 126",
        shell_quote(&command.workdir.to_string_lossy())
    );
    if command.interactive {
        return Ok(format!("{cd}\nexec {run}"));
    }
    // Ten checks a second while the group is still there (a `sleep` without fractions
    // returns at once, which only shortens the grace).
    let ticks = ["1"; REMOTE_GRACE_TICKS].join(" ");
    Ok(format!(
        "{cd}
exec 3<&0 </dev/null
if command -v setsid >/dev/null 2>&1; then setsid {run} & else {run} & fi
p=$!
{{ cat <&3; kill -TERM -$p || kill -TERM $p; for i in {ticks}; do kill -0 $p || break; sleep 0.1; done; kill -KILL -$p || kill -KILL $p; }} >/dev/null 2>&1 &
w=$!
exec 3<&-
wait $p
s=$?
kill $w 2>/dev/null
exit $s"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    /// Runs `sh -c <script>` locally with stdin held open (as a launcher's connection is)
    /// and returns its stdout: what the other side would do.
    fn run_script(script: &str) -> String {
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let held = child.stdin.take();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        child.wait().unwrap();
        drop(held);
        out
    }

    #[test]
    fn hostile_values_arrive_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let hostile = "it's \"$(touch pwned1)\" `touch pwned2` $HOME\nnext; touch pwned3 &";
        let env = vec![("V".to_owned(), hostile.to_owned())];
        let argv = strings(&[
            "sh",
            "-c",
            "printf '%s|%s|' \"$V\" \"$1\"; pwd",
            "x",
            hostile,
        ]);
        let command = RemoteCommand {
            workdir: dir.path(),
            env: &env,
            argv: &argv,
            interactive: false,
        };
        let out = run_script(&script(&command).unwrap());
        let expected = format!(
            "{hostile}|{hostile}|{}\n",
            dir.path().canonicalize().unwrap().display()
        );
        assert_eq!(out, expected);
        // Through a launcher that joins its words into one shell line, the same holds.
        let local = local_argv(&strings(&["ssh", "box", "--"]), true, &command).unwrap();
        assert_eq!(local.len(), 4, "{local:?}");
        assert_eq!(run_script(&local[3]), expected);
        for file in ["pwned1", "pwned2", "pwned3"] {
            assert!(!dir.path().join(file).exists(), "{file} was created");
        }
    }

    #[test]
    fn a_bad_variable_name_is_refused() {
        let env = vec![("A=B".to_owned(), "x".to_owned())];
        let command = RemoteCommand {
            workdir: Path::new("/"),
            env: &env,
            argv: &strings(&["true"]),
            interactive: false,
        };
        assert!(script(&command).unwrap_err().contains("A=B"));
    }

    #[test]
    fn the_tty_flag_goes_after_exec_or_the_program() {
        assert_eq!(
            with_tty(&strings(&["ssh", "box", "--"])),
            strings(&["ssh", "-t", "box", "--"])
        );
        assert_eq!(
            with_tty(&strings(&["docker", "exec", "-i", "c"])),
            strings(&["docker", "exec", "-t", "-i", "c"])
        );
    }
}
