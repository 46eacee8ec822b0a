//! Runtime messages that used to mislead: each names what actually went wrong.

use std::fs::File;

use std::path::Path;

use crate::run_support::wf;
use crate::test::{Output, Test};

/// `path` as the test's output shows it (the temp dir replaced by `[TMP]`).
fn tmp_path(out: &Output, path: &Path) -> String {
    let root = out.tempdir.path().canonicalize().unwrap();
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    match path.strip_prefix(&root) {
        Ok(rest) => format!("[TMP]/{}", rest.display()),
        Err(_) => path.display().to_string(),
    }
}

#[test]
fn a_capture_over_1_mib_is_named_as_such_when_a_later_step_uses_it() {
    let out = Test::new()
        .write(
            &wf("w"),
            "name: w\nsteps:\n  - {id: big, command: 'head -c 1100000 /dev/zero | tr \"\\\\0\" x', capture: blob, continue_on_failure: true}\n  - {id: use, command: 'echo {{blob}}'}\n",
        )
        .arg("w")
        .status(1)
        .run();
    assert!(
        out.stderr.contains(
            "failed: variable \"blob\" has no value here: step \"big\" ran, but its output was larger than the 1 MiB capture limit"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("did not run"), "{}", out.stderr);
}

#[test]
fn a_held_lock_without_owner_details_names_the_lock_file_not_pid_unknown() {
    let out = Test::new()
        .write(
            &wf("w"),
            "name: w\nsteps:\n  - {id: a, command: 'exit 3'}\n",
        )
        .arg("w")
        .status(1)
        .run();
    let id = out.run_id();
    let lock_path = out.run_dir().join("lock");
    let shown = tmp_path(&out, &lock_path);
    // Another process holds the lock but has not written who it is (yet, or ever).
    let lock = File::create(&lock_path).unwrap();
    lock.lock().unwrap();
    let out = out
        .then()
        .args(["--resume", &id])
        .status(4)
        .stderr_contains(&format!(
            "agent-runner: error: run {id} is locked by another process that has not recorded who it is ({}); wait for it to finish or stop that process first",
            shown
        ))
        .run();
    assert!(!out.stderr.contains("unknown"), "{}", out.stderr);
    drop(lock);
}

#[test]
fn an_output_file_that_cannot_be_written_is_named_instead_of_the_shell() {
    let out = Test::new()
        .write(
            &wf("w"),
            "name: w\nsteps:\n  - {id: a, command: 'ln -s /dev/full \"$AGENT_RUNNER_RUN_DIR/output/0004-b.stdout\"'}\n  - {id: b, command: echo hi}\n",
        )
        .arg("w")
        .status(4)
        .run();
    // The run dir, not the file: the file is a link to /dev/full.
    let file = format!("{}/output/0004-b.stdout", tmp_path(&out, &out.run_dir()));
    assert!(
        out.stderr.contains(&format!(
            "failed: cannot write {file}: No space left on device"
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("cannot start"), "{}", out.stderr);
}

#[test]
fn a_codex_unknown_thread_failure_shows_the_error_not_the_clis_backtrace() {
    let out = Test::new()
        .fake_clis(&["codex"])
        .write(
            &wf("w"),
            "name: w\ndefaults: {cli: codex}\nsteps:\n  - {id: a, mode: headless, session: resume, prompt: p}\n",
        )
        .args(["w", "--session", "codex:0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"])
        .status(1)
        .run();
    assert!(
        out.stderr
            .contains("codex has no session 0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.to_lowercase().contains("backtrace:"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("0: <unknown>"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("lines of the CLI's backtrace are in the step's .stderr output file)"),
        "{}",
        out.stderr
    );
}
