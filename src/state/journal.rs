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
use std::path::{Path, PathBuf};

use super::document::StateDoc;
use super::error::StateError;
use super::fs_util::{Staged, private_file, stage, sync_dir};
use super::state_file::{STATE_FILE, decode_state, encode_state};
use super::syncer::Syncer;

/// The journal's file name inside a run dir.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// Loop list files: `loop-items-<opened ms>-<n>.json`.
const ITEMS_PREFIX: &str = "loop-items-";

/// How much of the journal's tail is read at first when looking for its last record.
const TAIL_CHUNK: u64 = 64 * 1024;

/// The open journal of a locked run.
#[derive(Debug)]
pub struct Journal {
    file: File,
    syncer: Syncer,
    /// Records appended so far (the generation the syncer is asked to reach).
    appended: u64,
    dir: PathBuf,
    /// When the journal was opened and how many loop lists it stored: their file names.
    opened_ms: u128,
    lists: u64,
    /// Debug builds only: SIGKILL the process right after this many appends, before their
    /// flush (`AGENT_RUNNER_DEBUG_KILL_AFTER_APPEND`), for the crash test.
    kill_after: Option<u64>,
}

impl Journal {
    /// Opens the journal of `dir` for appending (creating it when missing); `also_sync` (the
    /// audit log) is flushed with it. With `sync_dir`, the first flush fsyncs `dir` too: the
    /// journal's entry in it is not known to be on disk yet.
    pub fn open(dir: &Path, also_sync: File, sync_dir: bool) -> Result<Journal, StateError> {
        let path = dir.join(JOURNAL_FILE);
        let file = private_file()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(StateError::Save)?;
        let first = if sync_dir {
            Some(File::open(dir).map_err(StateError::Save)?)
        } else {
            None
        };
        let syncer = Syncer::start(
            vec![file.try_clone().map_err(StateError::Save)?, also_sync],
            first,
        )
        .map_err(StateError::Save)?;
        Ok(Journal {
            file,
            syncer,
            appended: 0,
            dir: dir.to_path_buf(),
            opened_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            lists: 0,
            kill_after: debug_kill_after(),
        })
    }

    /// Appends `doc` as one record (one `write`) and returns its generation. Nothing is flushed.
    /// A for-each loop's list goes to a file of its own the first time a record holds it
    /// (durably, before the record can be); later records name the file instead.
    pub fn append(&mut self, doc: &mut StateDoc) -> Result<u64, StateError> {
        let mut lists = Vec::new();
        let mut frame = doc.position.as_mut();
        while let Some(current) = frame {
            if let Some(looped) = current.loop_.as_mut()
                && let Some(items) = looped.items.take()
            {
                if looped.items_file.is_none() {
                    looped.items_file = Some(self.store_items(&items)?);
                }
                lists.push(items);
            }
            frame = current.child.as_deref_mut();
        }
        doc.stamp_format_version();
        let encoded = serde_json::to_vec(doc);
        let mut lists = lists.into_iter();
        let mut frame = doc.position.as_mut();
        while let Some(current) = frame {
            if let Some(looped) = current.loop_.as_mut()
                && looped.items_file.is_some()
                && looped.items.is_none()
            {
                looped.items = lists.next();
            }
            frame = current.child.as_deref_mut();
        }
        let mut line = encoded.map_err(|e| StateError::Save(io::Error::other(e)))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(StateError::Save)?;
        self.appended += 1;
        if self.kill_after == Some(self.appended) {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
        Ok(self.appended)
    }

    /// Writes a loop's list to `loop-items-<id>.json`, durably, and returns the file name.
    fn store_items(&mut self, items: &[String]) -> Result<String, StateError> {
        self.lists += 1;
        let name = format!("{ITEMS_PREFIX}{}-{}.json", self.opened_ms, self.lists);
        let bytes = serde_json::to_vec(items).map_err(|e| StateError::Save(io::Error::other(e)))?;
        let mut file = private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.dir.join(&name))
            .map_err(StateError::Save)?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_data())
            .and_then(|()| sync_dir(&self.dir))
            .map_err(StateError::Save)?;
        Ok(name)
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
pub fn compact(dir: &Path, doc: &mut StateDoc, reopen: bool) -> Result<(), StateError> {
    let staged = stage_snapshot(dir, doc)?;
    if !reopen {
        return close(dir, staged);
    }
    staged.rename().map_err(StateError::Save)?;
    replace_journal(dir, true)?;
    lists_in_snapshot(doc);
    Ok(())
}

/// The first half of a compaction: `doc`, lists included, written to state.json's temp file
/// and flushed, not yet in place. It can go on while the journal's last flush does.
pub(crate) fn stage_snapshot(dir: &Path, doc: &mut StateDoc) -> Result<Staged, StateError> {
    inline_items(doc);
    doc.stamp_format_version();
    let bytes = encode_state(doc)?;
    stage(dir, STATE_FILE, &bytes).map_err(StateError::Save)
}

/// The end of a run's journal: puts the staged state.json in place, deletes the journal (one
/// dir fsync makes both durable) and the loop list files, which nothing names any more. The
/// journal's last record must be on disk first, and say what `staged` says or less.
pub(crate) fn close(dir: &Path, staged: Staged) -> Result<(), StateError> {
    staged.rename().map_err(StateError::Save)?;
    replace_journal(dir, false)?;
    // The lists are in state.json now; nothing names these files any more.
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(ITEMS_PREFIX)
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// Prepares an empty journal next to a state.json that already holds `doc`'s position and
/// lists (a resume after a failure or an interruption), when the journal has no record:
/// nothing is rewritten, and the lists stay where they are. [`Journal::open`] then creates the
/// journal if it is missing, and its first flush (before any record counts) makes the new
/// entry durable with a dir fsync, so the resume itself waits for no flush here. Call only
/// while holding the run lock.
pub fn restart(doc: &mut StateDoc) {
    lists_in_snapshot(doc);
}

/// Deletes the journal and, with `reopen`, creates an empty one; then fsyncs the dir, which
/// makes an earlier rename of state.json durable in the same flush.
fn replace_journal(dir: &Path, reopen: bool) -> Result<(), StateError> {
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

/// Whether `dir` has a journal with at least one record (state.json may be behind it).
pub fn has_records(dir: &Path) -> bool {
    fs::metadata(dir.join(JOURNAL_FILE)).is_ok_and(|m| m.len() > 0)
}

/// Records that state.json holds every list of `doc`: journal records name it instead.
fn lists_in_snapshot(doc: &mut StateDoc) {
    let mut frame = doc.position.as_mut();
    while let Some(current) = frame {
        if let Some(looped) = current.loop_.as_mut()
            && looped.items.is_some()
        {
            looped.items_file = Some(STATE_FILE.to_owned());
        }
        frame = current.child.as_deref_mut();
    }
}

/// Puts back the lists a journal record names by file: a list file, or state.json for the
/// lists it held when the journal began (taken from its frame at the same depth).
fn load_items(dir: &Path, run_id: &str, doc: &mut StateDoc) -> Result<(), StateError> {
    let mut snapshot: Option<StateDoc> = None;
    let mut depth = 0;
    let mut frame = doc.position.as_mut();
    while let Some(current) = frame {
        if let Some(looped) = current.loop_.as_mut()
            && looped.items.is_none()
            && let Some(name) = looped.items_file.as_deref()
        {
            looped.items = if name == STATE_FILE {
                if snapshot.is_none() {
                    snapshot = Some(super::state_file::read_state(dir, run_id)?);
                }
                snapshot.as_mut().and_then(|s| take_list(s, depth))
            } else {
                let path = dir.join(name);
                let bytes = fs::read(&path).map_err(|e| StateError::io("read", &path, e))?;
                Some(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| StateError::io("read", &path, io::Error::other(e)))?,
                )
            };
        }
        depth += 1;
        frame = current.child.as_deref_mut();
    }
    Ok(())
}

/// The list of the loop frame at `depth` of `doc`, taken out.
fn take_list(doc: &mut StateDoc, depth: usize) -> Option<Vec<String>> {
    let mut frame = doc.position.as_mut()?;
    for _ in 0..depth {
        frame = frame.child.as_deref_mut()?;
    }
    frame.loop_.as_mut()?.items.take()
}

/// Forgets the list files a document names (compaction writes the lists into state.json).
fn inline_items(doc: &mut StateDoc) {
    let mut frame = doc.position.as_mut();
    while let Some(current) = frame {
        if let Some(looped) = current.loop_.as_mut() {
            looped.items_file = None;
        }
        frame = current.child.as_deref_mut();
    }
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
        if let Some(mut doc) = last_record(&tail, start == 0, run_id) {
            load_items(dir, run_id, &mut doc)?;
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
        compact(dir.path(), &mut doc("a"), true).unwrap();
        assert_eq!(latest(dir.path(), "r-1").unwrap(), None);
        let audit = File::create(dir.path().join("audit")).unwrap();
        let mut journal = Journal::open(dir.path(), audit, false).unwrap();
        journal.append(&mut doc("b")).unwrap();
        journal.append(&mut doc("c")).unwrap();
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
        compact(dir.path(), &mut doc("a"), true).unwrap();
        let audit = File::create(dir.path().join("audit")).unwrap();
        let mut journal = Journal::open(dir.path(), audit, false).unwrap();
        let mut done = doc("b");
        done.status = RunStatus::Completed;
        journal.append(&mut done).unwrap();
        journal.sync().unwrap();
        compact(dir.path(), &mut done, false).unwrap();
        assert!(!dir.path().join(JOURNAL_FILE).exists());
        assert_eq!(latest(dir.path(), "r-1").unwrap(), None);
        let state = super::super::state_file::read_state(dir.path(), "r-1").unwrap();
        assert_eq!(state, done);
    }

    #[test]
    fn a_record_longer_than_the_first_tail_chunk_is_found() {
        let dir = tempfile::tempdir().unwrap();
        compact(dir.path(), &mut doc("a"), true).unwrap();
        let audit = File::create(dir.path().join("audit")).unwrap();
        let mut journal = Journal::open(dir.path(), audit, false).unwrap();
        let mut big = doc("big");
        big.params.insert("x".into(), "y".repeat(200_000));
        journal.append(&mut doc("b")).unwrap();
        journal.append(&mut big.clone()).unwrap();
        assert_eq!(latest(dir.path(), "r-1").unwrap(), Some(big));
    }

    #[test]
    fn a_plain_resume_rewrites_nothing_and_opening_creates_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = doc("a");
        super::super::state_file::write_state(dir.path(), &state).unwrap();
        let before = fs::metadata(dir.path().join(STATE_FILE)).unwrap();
        restart(&mut state);
        assert!(!dir.path().join(JOURNAL_FILE).exists());
        let audit = File::create(dir.path().join("audit")).unwrap();
        let mut journal = Journal::open(dir.path(), audit, true).unwrap();
        let mut next = doc("b");
        journal.append(&mut next).unwrap();
        journal.sync().unwrap();
        let after = fs::metadata(dir.path().join(STATE_FILE)).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (before.ino(), before.mtime_nsec()),
            (after.ino(), after.mtime_nsec())
        );
        let last = latest(dir.path(), "r-1").unwrap().unwrap();
        assert_eq!(last.position_path().as_deref(), Some("b"));
    }

    #[test]
    fn a_loop_list_is_stored_once_and_read_back_with_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = doc("each");
        compact(dir.path(), &mut state, true).unwrap();
        // The loop starts after the journal began.
        let items: Vec<String> = (0..10_000).map(|i| format!("items/{i:05}")).collect();
        state.position.as_mut().unwrap().loop_ = Some(crate::state::LoopFrame {
            kind: crate::state::LoopKind::ForEach,
            items: Some(items.clone()),
            ..Default::default()
        });
        let audit = File::create(dir.path().join("audit")).unwrap();
        let mut journal = Journal::open(dir.path(), audit, false).unwrap();
        for iteration in 0..100 {
            let frame = state.position.as_mut().unwrap();
            frame.loop_.as_mut().unwrap().iteration = iteration;
            journal.append(&mut state).unwrap();
        }
        // The document in memory keeps its list; the journal holds it once, in its own file.
        let looped = state.position.as_ref().unwrap().loop_.as_ref().unwrap();
        assert_eq!(looped.items.as_ref(), Some(&items));
        let journal_bytes = fs::metadata(dir.path().join(JOURNAL_FILE)).unwrap().len();
        assert!(
            journal_bytes < 100 * 1024,
            "{journal_bytes} bytes for 100 records"
        );
        let lists: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.starts_with(ITEMS_PREFIX).then_some(name)
            })
            .collect();
        assert_eq!(lists.len(), 1, "{lists:?}");
        let last = latest(dir.path(), "r-1").unwrap().unwrap();
        let read = last.position.unwrap().loop_.unwrap();
        assert_eq!((read.iteration, read.items), (99, Some(items.clone())));
        // A resume compacts: the list is then in state.json, which later records name.
        compact(dir.path(), &mut state, true).unwrap();
        let audit = File::create(dir.path().join("audit2")).unwrap();
        let mut journal = Journal::open(dir.path(), audit, false).unwrap();
        state
            .position
            .as_mut()
            .unwrap()
            .loop_
            .as_mut()
            .unwrap()
            .iteration = 100;
        journal.append(&mut state).unwrap();
        assert!(fs::metadata(dir.path().join(JOURNAL_FILE)).unwrap().len() < 1024);
        let read = latest(dir.path(), "r-1").unwrap().unwrap();
        let read = read.position.unwrap().loop_.unwrap();
        assert_eq!((read.iteration, read.items), (100, Some(items)));
        // The end of the run puts the list into state.json and deletes its file.
        compact(dir.path(), &mut state, false).unwrap();
        let text = fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        assert!(text.contains("items/09999") && !text.contains("items_file"));
        assert!(!dir.path().join(&lists[0]).exists());
    }
}
