//! The command line a launcher runs on the other side (docs/launchers.md): `cd` to the step's
//! directory, the step's environment set, then the step's own argv, every word quoted for a
//! POSIX shell so that a value never becomes code there.
//!
//! The environment never travels on a command line, where `ps` on either machine would show it
//! (values are often secrets): it is an [`env_block`] of `export NAME='value'` lines, quoted
//! here, that a headless step's script reads from the connection's stdin (a known number of
//! lines, with the shell's own `read`) before anything else. An interactive step's stdin is the
//! remote terminal, which would echo the block, so its block is first written to a private
//! file on the other side by a separate connection (see [`stage_script`]), which the step's
//! script sources and deletes.
//!
//! A headless process (a shell step, a headless agent) runs under a small `sh` wrapper: it
//! starts the process with `setsid` (its own process group, where `setsid` exists) and stdin
//! from `/dev/null`, keeps the connection's stdin, and when that closes (the launcher's client
//! was stopped or died) sends SIGTERM to the group, then SIGKILL to what is left a second later. The runner
//! holds the client's stdin open for as long as the step runs and writes nothing after the
//! block. An interactive process gets the remote terminal instead and is `exec`ed: closing the
//! terminal hangs it up.

use std::path::Path;

use crate::interpolate::{is_identifier, shell_quote};

/// What runs on the other side.
pub struct RemoteCommand<'a> {
    pub workdir: &'a Path,
    /// How the process gets its environment.
    pub env: RemoteEnv<'a>,
    /// The program and its arguments.
    pub argv: &'a [String],
    /// The process gets the remote terminal (and is stopped by its hangup).
    pub interactive: bool,
}

/// Where the other side finds the step's environment.
#[derive(Debug, Clone, Copy)]
pub enum RemoteEnv<'a> {
    /// An [`env_block`] of this many lines arrives first on the connection's stdin (headless).
    Stdin(usize),
    /// A file written by [`stage_script`] (interactive): sourced, then deleted.
    Staged(&'a str),
    None,
}

/// The marker before the staged file's path in [`stage_script`]'s output.
pub const STAGED_MARKER: &str = "agent-runner-env:";

/// The step's environment as `export NAME='value'` lines for the other side's shell; `Err`
/// names a variable that cannot be passed on.
pub fn env_block(env: &[(String, String)]) -> Result<String, String> {
    let mut block = String::new();
    for (name, value) in env {
        if !is_identifier(name) {
            return Err(format!(
                "the variable name \"{name}\" cannot be passed through a launcher; use letters, digits and _"
            ));
        }
        block.push_str("export ");
        block.push_str(name);
        block.push('=');
        block.push_str(&shell_quote(value));
        block.push('\n');
    }
    Ok(block)
}

/// The number of lines `block` sends (what [`RemoteEnv::Stdin`] needs).
pub fn lines(block: &str) -> usize {
    block.matches('\n').count()
}

/// Shell lines that read `count` lines from stdin into `__ar_env`. `read` takes one byte at a
/// time from a pipe, so nothing after the block is consumed.
fn read_lines(count: usize) -> String {
    format!(
        "__ar_env=; __ar_i=0
while [ $__ar_i -lt {count} ]; do IFS= read -r __ar_l || exit 126; __ar_env=\"$__ar_env$__ar_l
\"; __ar_i=$((__ar_i+1)); done
"
    )
}

/// Shell lines that read `count` lines from stdin into `__ar_env` and evaluate them: our own
/// quoted `export` lines, so no value is code.
fn read_env(count: usize) -> String {
    if count == 0 {
        return String::new();
    }
    format!("{}eval \"$__ar_env\"\n", read_lines(count))
}

/// The script of the connection that stages an interactive step's environment: reads the
/// block of `count` lines from stdin into a new private file and prints its path after
/// [`STAGED_MARKER`].
pub fn stage_script(count: usize) -> String {
    format!(
        "umask 077
__ar_f=$(mktemp) || exit 126
{}printf '%s' \"$__ar_env\" > \"$__ar_f\" || exit 126
printf '{STAGED_MARKER}%s\\n' \"$__ar_f\"",
        read_lines(count)
    )
}

/// How long the remote group has between SIGTERM and SIGKILL once the connection closed, in
/// tenths of a second.
const REMOTE_GRACE_TICKS: usize = 10;

/// The local argv: the launcher's words (with `-t` for an interactive step, see [`with_tty`]),
/// then the remote command: one `sh -c '<script>'` word for a launcher that reads a shell
/// command line (`shell: true`, ssh), or the words `sh`, `-c`, `<script>` for one that takes
/// an argv.
pub fn local_argv(launcher: &[String], shell: bool, command: &RemoteCommand<'_>) -> Vec<String> {
    client_argv(launcher, shell, command.interactive, script(command))
}

/// The local argv that runs `script` with `sh -c` on the other side (see [`local_argv`]).
pub fn client_argv(launcher: &[String], shell: bool, tty: bool, script: String) -> Vec<String> {
    let mut argv = if tty {
        with_tty(launcher)
    } else {
        launcher.to_vec()
    };
    if shell {
        argv.push(format!("sh -c {}", shell_quote(&script)));
    } else {
        argv.extend(["sh".to_owned(), "-c".to_owned(), script]);
    }
    argv
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
pub fn script(command: &RemoteCommand<'_>) -> String {
    let run = command
        .argv
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ");
    let cd = format!(
        "cd {} || exit 126",
        shell_quote(&command.workdir.to_string_lossy())
    );
    let env = match command.env {
        RemoteEnv::Stdin(count) => read_env(count),
        RemoteEnv::Staged(file) => {
            let file = shell_quote(file);
            format!(". {file}; rm -f {file}\n")
        }
        RemoteEnv::None => String::new(),
    };
    if command.interactive {
        return format!("{env}{cd}\nexec {run}");
    }
    // Ten checks a second while the group is still there (a `sleep` without fractions
    // returns at once, which only shortens the grace).
    let ticks = ["1"; REMOTE_GRACE_TICKS].join(" ");
    format!(
        "{env}{cd}
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
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    /// Runs `sh -c <script>` locally with `input` written to its stdin, which then stays open
    /// (as a launcher's connection does), and returns its stdout: what the other side would do.
    fn run_script(script: &str, input: &str) -> String {
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .env_remove("V")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut held = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut held, input.as_bytes()).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        child.wait().unwrap();
        drop(held);
        out
    }

    const HOSTILE: &str = "it's \"$(touch pwned1)\" `touch pwned2` $HOME\nnext; touch pwned3 &\n";

    #[test]
    fn hostile_values_arrive_as_they_are_and_never_on_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let block = env_block(&[("V".to_owned(), HOSTILE.to_owned())]).unwrap();
        let argv = strings(&[
            "sh",
            "-c",
            "printf '%s|%s|' \"$V\" \"$1\"; pwd",
            "x",
            HOSTILE,
        ]);
        let command = RemoteCommand {
            workdir: dir.path(),
            env: RemoteEnv::Stdin(lines(&block)),
            argv: &argv,
            interactive: false,
        };
        let out = run_script(&script(&command), &block);
        let expected = format!(
            "{HOSTILE}|{HOSTILE}|{}\n",
            dir.path().canonicalize().unwrap().display()
        );
        assert_eq!(out, expected);
        // Through a launcher that joins its words into one shell line, the same holds.
        let local = local_argv(&strings(&["ssh", "box", "--"]), true, &command);
        assert_eq!(local.len(), 4, "{local:?}");
        assert_eq!(run_script(&local[3], &block), expected);
        for file in ["pwned1", "pwned2", "pwned3"] {
            assert!(!dir.path().join(file).exists(), "{file} was created");
        }
        // The value is in the block, not in any word of the command line.
        let secret = env_block(&[("V".to_owned(), "s3cr3t-value".to_owned())]).unwrap();
        let command = RemoteCommand {
            env: RemoteEnv::Stdin(lines(&secret)),
            ..command
        };
        let words = local_argv(&strings(&["ssh", "box", "--"]), true, &command);
        assert!(words.iter().all(|w| !w.contains("s3cr3t")), "{words:?}");
    }

    #[test]
    fn a_staged_environment_is_written_privately_then_sourced_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let block = env_block(&[("V".to_owned(), HOSTILE.to_owned())]).unwrap();
        let staged = run_script(&stage_script(lines(&block)), &block);
        let file = staged.trim_end().strip_prefix(STAGED_MARKER).unwrap();
        let mode = std::fs::metadata(file).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077, 0);
        let argv = strings(&["sh", "-c", "printf '%s|' \"$V\"; pwd"]);
        let command = RemoteCommand {
            workdir: dir.path(),
            env: RemoteEnv::Staged(file),
            argv: &argv,
            interactive: true,
        };
        let out = run_script(&script(&command), "");
        assert_eq!(
            out,
            format!(
                "{HOSTILE}|{}\n",
                dir.path().canonicalize().unwrap().display()
            )
        );
        assert!(!Path::new(file).exists(), "the staged file was not deleted");
    }

    #[test]
    fn a_bad_variable_name_is_refused() {
        let env = vec![("A=B".to_owned(), "x".to_owned())];
        assert!(env_block(&env).unwrap_err().contains("A=B"));
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
