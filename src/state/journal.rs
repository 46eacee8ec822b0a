//! The run journal (`journal.jsonl`): the durable record of a run while it is going on.
//!
//! Every state change appends one line: the whole document, compact ([`StateDoc`] as in
//! state.json). A [`Syncer`] thread `fdatasync`s the file at step boundaries; the writer waits
//! for that flush before it reports a step complete (runs-and-state.md §4). The last whole line
//! is the run's state; a line a crash cut short is ignored. `state.json` is the readable
//! snapshot, compacted from the journal ([`compact`]) when a run starts, resumes and ends: the
//! compaction writes state.json atomically and durably and starts an empty journal in the same
//! directory fsync, so a journal with a record is always at least as new as state.json.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::document::StateDoc;
use super::error::StateError;
use super::fs_util::{private_file, stage, sync_dir};
use super::state_file::{STATE_FILE, decode_state, encode_state};
use super::syncer::Syncer;

/// The journal's file name inside a run dir.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// How much of the journal's tail is read at first when looking for its last record.
const TAIL_CHUNK: u64 = 64 * 1024;

/// The open journal of a locked run.
#[derive(Debug)]
pub struct Journal {
    file: File,
    syncer: Syncer,
    /// Records appended so far (the generation the syncer is asked to reach).
    appended: u64,
    /// Debug builds only: SIGKILL the process right after this many appends, before their
    /// flush (`AGENT_RUNNER_DEBUG_KILL_AFTER_APPEND`), for the crash test.
    kill_after: Option<u64>,
}

impl Journal {
    /// Opens the journal of `dir` for appending; `also_sync` (the audit log) is flushed with it.
    pub fn open(dir: &Path, also_sync: File) -> Result<Journal, StateError> {
        let path = dir.join(JOURNAL_FILE);
        let file = private_file()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(StateError::Save)?;
        let syncer = Syncer::start(vec![file.try_clone().map_err(StateError::Save)?, also_sync])
            .map_err(StateError::Save)?;
        Ok(Journal {
            file,
            syncer,
            appended: 0,
            kill_after: debug_kill_after(),
        })
    }

    /// Appends `doc` as one record (one `write`) and returns its generation. Nothing is flushed.
    pub fn append(&mut self, doc: &StateDoc) -> Result<u64, StateError> {
        let mut line =
            serde_json::to_vec(doc).map_err(|e| StateError::Save(io::Error::other(e)))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(StateError::Save)?;
        self.appended += 1;
        if self.kill_after == Some(self.appended) {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
        Ok(self.appended)
    }

    /// Starts flushing everything appended so far, without waiting.
    pub fn request_sync(&self) {
        self.syncer.request(self.appended);
    }

    /// Flushes everything appended so far (joining a flush already under way).
    pub fn sync(&self) -> Result<(), StateError> {
        self.syncer.wait(self.appended).map_err(StateError::Save)
    }
}

#[cfg(debug_assertions)]
fn debug_kill_after() -> Option<u64> {
    std::env::var("AGENT_RUNNER_DEBUG_KILL_AFTER_APPEND")
        .ok()?
        .parse()
        .ok()
}

#[cfg(not(debug_assertions))]
fn debug_kill_after() -> Option<u64> {
    None
}

/// Writes `doc` as the run's state.json (atomically and durably) and deletes the journal; with
/// `reopen`, an empty journal takes its place in the same dir fsync. `doc` must be the journal's
/// last record, or newer: a crash between the two steps then finds a journal that says the same
/// as state.json. Call only while holding the run lock.
pub fn compact(dir: &Path, doc: &StateDoc, reopen: bool) -> Result<(), StateError> {
    let bytes = encode_state(doc)?;
    stage(dir, STATE_FILE, &bytes)
        .and_then(super::fs_util::Staged::rename)
        .map_err(StateError::Save)?;
    let path = dir.join(JOURNAL_FILE);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(StateError::Save(e)),
    }
    if reopen {
        private_file()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(StateError::Save)?;
    }
    sync_dir(dir).map_err(StateError::Save)
}

/// The last whole record of `dir`'s journal, if it has one: the run's newest state. A journal
/// that is missing (a run dir of the first release, or a reader racing a compaction) or empty
/// gives `None`; a record that does not parse is skipped for the one before it.
pub fn latest(dir: &Path, run_id: &str) -> Result<Option<StateDoc>, StateError> {
    let path = dir.join(JOURNAL_FILE);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::io("read", &path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| StateError::io("read", &path, e))?
        .len();
    let mut chunk = TAIL_CHUNK;
    loop {
        let start = len.saturating_sub(chunk);
        let mut tail = Vec::new();
        file.seek(SeekFrom::Start(start))
            .and_then(|_| {
                Read::by_ref(&mut file)
                    .take(len - start)
                    .read_to_end(&mut tail)
            })
            .map_err(|e| StateError::io("read", &path, e))?;
        if let Some(doc) = last_record(&tail, start == 0, run_id) {
            return Ok(Some(doc));
        }
        if start == 0 {
            return Ok(None);
        }
        chunk = chunk.saturating_mul(4);
    }
}

/// The last line of `tail` that ends with a newline, starts a line (`whole_start`: `tail`
/// begins at the file's start) and parses as a document.
fn last_record(tail: &[u8], whole_start: bool, run_id: &str) -> Option<StateDoc> {
    let end = tail.iter().rposition(|&b| b == b'\n')?;
    let mut lines: Vec<&[u8]> = tail[..end].split(|&b| b == b'\n').collect();
    // The first piece may be the end of a line that began before the tail.
    let first_whole = usize::from(!whole_start);
    while lines.len() > first_whole {
        let line = lines.pop()?;
        if line.is_empty() {
            continue;
        }
        if let Ok(doc) = decode_state(run_id, line) {
            return Some(doc);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::document::{RunStatus, WorkflowRef};

    fn doc(step: &str) -> StateDoc {
        let mut doc = StateDoc::new("r-1", "/p", WorkflowRef::default());
        doc.position = Some(crate::state::Frame::pending(0, step));
        doc
    }

    #[test]
    fn the_last_whole_record_wins_and_a_torn_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        compact(dir.path(), &doc("a"), true).unwrap();
        assert_eq!(latest(dir.path(), "r-1").unwrap(), None);
        let audit = File::create(dir.path().join("audit")).unwrap();
        let mut journal = Journal::open(dir.path(), audit).unwrap();
        journal.append(&doc("b")).unwrap();
        journal.append(&doc("c")).unwrap();
        journal.sync().unwrap();
        drop(journal);
        let mut file = private_file()
            .append(true)
            .open(dir.path().join(JOURNAL_FILE))
            .unwrap();
        file.write_all(b"{\"format_version\":1,\"run_").unwrap();
        let last = latest(dir.path(), "r-1").unwrap().unwrap();
        assert_eq!(last.position_path().as_deref(), Some("c"));
    }

    #[test]
    fn compaction_writes_the_snapshot_and_empties_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        compact(dir.path(), &doc("a"), true).unwrap();
        let audit = File::create(dir.path().join("audit")).unwrap();
        let mut journal = Journal::open(dir.path(), audit).unwrap();
        let mut done = doc("b");
        done.status = RunStatus::Completed;
        journal.append(&done).unwrap();
        journal.sync().unwrap();
        compact(dir.path(), &done, false).unwrap();
        assert!(!dir.path().join(JOURNAL_FILE).exists());
        assert_eq!(latest(dir.path(), "r-1").unwrap(), None);
        let state = super::super::state_file::read_state(dir.path(), "r-1").unwrap();
        assert_eq!(state, done);
    }

    #[test]
    fn a_record_longer_than_the_first_tail_chunk_is_found() {
        let dir = tempfile::tempdir().unwrap();
        compact(dir.path(), &doc("a"), true).unwrap();
        let audit = File::create(dir.path().join("audit")).unwrap();
        let mut journal = Journal::open(dir.path(), audit).unwrap();
        let mut big = doc("big");
        big.params.insert("x".into(), "y".repeat(200_000));
        journal.append(&doc("b")).unwrap();
        journal.append(&big).unwrap();
        assert_eq!(latest(dir.path(), "r-1").unwrap(), Some(big));
    }
}
