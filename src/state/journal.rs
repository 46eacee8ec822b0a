//! The run journal (`journal.jsonl`): the durable record of a run while it is going on.
//!
//! Every state change appends one line: the whole document, compact ([`StateDoc`] as in
//! state.json), its loop lists named by file ([`loop_lists`]). A [`Syncer`] thread
//! `fdatasync`s the file at step boundaries; the writer waits for that flush before it reports
//! a step complete (runs-and-state.md §4). The last whole line is the run's state; a line a
//! crash cut short is ignored. `state.json` is the readable snapshot, compacted from the
//! journal ([`compact`]) when a run starts, resumes after a crash, and ends, and when the
//! journal has grown past [`compact_at`] bytes: the compaction writes state.json atomically
//! and durably before the journal is replaced, so a journal with a record is always at least
//! as new as state.json. A run that ends without completing keeps its journal and list files,
//! so that its resume reads one record and only the items it runs.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::document::{RunStatus, StateDoc};
use super::error::StateError;
use super::fs_util::{Staged, private_file, stage, sync_dir};
use super::loop_lists::{self, ListNames};
use super::snapshot::SnapshotStamp;
use super::state_file::{STATE_FILE, decode_state, encode_state};
use super::syncer::Syncer;

/// The journal's file name inside a run dir.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// A journal grown past this many bytes is folded into state.json at the next step boundary
/// (see [`compact_at`]).
const COMPACT_AT: u64 = 8 * 1024 * 1024;

/// How much of the journal's tail is read at first when looking for its last record.
const TAIL_CHUNK: u64 = 64 * 1024;

/// The open journal of a locked run.
#[derive(Debug)]
pub struct Journal {
    file: File,
    syncer: Syncer,
    /// Records appended so far.
    appended: u64,
    /// The generation that must be on disk before what is held is reported
    /// ([`Journal::mark_sync`], [`Journal::request_sync`]).
    requested: u64,
    /// Bytes appended so far.
    bytes: u64,
    dir: PathBuf,
    /// The names of the loop lists this journal stores.
    lists: ListNames,
    /// Debug builds only: SIGKILL the process right after this many appends (counted over
    /// every journal the process opened), before their flush
    /// (`AGENT_RUNNER_DEBUG_KILL_AFTER_APPEND`), for the crash test.
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
            requested: 0,
            bytes: 0,
            dir: dir.to_path_buf(),
            lists: ListNames::new(),
            kill_after: debug_kill_after(),
        })
    }

    /// Appends `doc` as one record (one `write`) and returns its generation. Nothing is flushed.
    /// A for-each loop's list goes to a file of its own the first time a record holds it
    /// (durably, before the record can be); later records name the file instead.
    pub fn append(&mut self, doc: &mut StateDoc) -> Result<u64, StateError> {
        let (dir, lists) = (&self.dir, &mut self.lists);
        let line = loop_lists::encode_record(doc, |items| lists.store(dir, items))?;
        self.file.write_all(&line).map_err(StateError::Save)?;
        self.appended += 1;
        self.bytes += line.len() as u64;
        if self.kill_after == Some(APPENDS.fetch_add(1, Ordering::Relaxed) + 1) {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
        Ok(self.appended)
    }

    /// Whether the journal has grown enough to be folded into state.json ([`compact_at`]).
    pub fn is_large(&self) -> bool {
        self.bytes >= compact_at()
    }

    /// Starts flushing everything appended so far, without waiting.
    pub fn request_sync(&mut self) {
        self.requested = self.appended;
        self.syncer.request(self.appended);
    }

    /// Notes that everything appended so far must be flushed before what depends on it is
    /// reported, without starting the flush: the records that follow up to the next
    /// [`Journal::request_sync`] or [`Journal::sync_requested`] share one flush.
    pub fn mark_sync(&mut self) {
        self.requested = self.appended;
    }

    /// Waits until what [`Journal::request_sync`] or [`Journal::mark_sync`] asked for is on disk,
    /// flushing it if no flush is under way (records appended since are not waited for).
    pub fn sync_requested(&self) -> Result<(), StateError> {
        self.syncer.wait(self.requested).map_err(StateError::Save)
    }

    /// Flushes everything appended so far (joining a flush already under way).
    pub fn sync(&self) -> Result<(), StateError> {
        self.syncer.wait(self.appended).map_err(StateError::Save)
    }
}

/// Records appended by this process, over every journal it opened (the crash test's count).
static APPENDS: AtomicU64 = AtomicU64::new(0);

/// The size at which a journal is folded into state.json: [`COMPACT_AT`], or in debug builds
/// `AGENT_RUNNER_DEBUG_COMPACT_AT` (the tests compact after a few records).
pub fn compact_at() -> u64 {
    #[cfg(debug_assertions)]
    if let Some(bytes) = std::env::var("AGENT_RUNNER_DEBUG_COMPACT_AT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return bytes;
    }
    COMPACT_AT
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

/// Appends `doc`, stamped with the state.json now in `dir`, to the journal and flushes it: for
/// the end of a run that did not complete, and for setting a run's state from outside a run
/// ([`super::RunDir::write_state`] of a run whose journal has records, which readers prefer to
/// state.json). Call only after state.json holds `doc`, while no other process writes the run.
pub fn append_stamped(dir: &Path, doc: &StateDoc) -> Result<(), StateError> {
    let mut doc = doc.clone();
    doc.snapshot = Some(stamp_of_state(dir)?);
    let mut lists = ListNames::new();
    let line = loop_lists::encode_record(&mut doc, |items| lists.store(dir, items))?;
    let mut file = private_file()
        .append(true)
        .open(dir.join(JOURNAL_FILE))
        .map_err(StateError::Save)?;
    file.write_all(&line)
        .and_then(|()| file.sync_data())
        .map_err(StateError::Save)
}

/// Writes `doc` as the run's state.json (atomically and durably) and ends the journal; with
/// `reopen`, an empty journal takes its place in the same dir fsync. `doc` must be the journal's
/// last record, or newer: a crash between the two steps then finds a journal that says the same
/// as state.json. Call only while holding the run lock.
pub fn compact(dir: &Path, doc: &mut StateDoc, reopen: bool) -> Result<(), StateError> {
    let staged = stage_snapshot(dir, doc)?;
    if !reopen {
        let finished = finished(doc);
        close(dir, staged, finished)?;
        if !finished {
            append_stamped(dir, doc)?;
        }
        return Ok(());
    }
    staged.rename().map_err(StateError::Save)?;
    replace_journal(dir, true)?;
    loop_lists::lists_in_snapshot(doc);
    Ok(())
}

/// Whether `doc` is the state of a run that completed: nothing can resume it, so its journal
/// and list files go.
pub(crate) fn finished(doc: &StateDoc) -> bool {
    doc.completed || doc.status == RunStatus::Completed
}

/// The first half of a compaction: `doc`, lists included, written to state.json's temp file
/// and flushed, not yet in place. It can go on while the journal's last flush does.
pub(crate) fn stage_snapshot(dir: &Path, doc: &mut StateDoc) -> Result<Staged, StateError> {
    // The list file names and the stamp are the journal's, never state.json's.
    let names = loop_lists::take_names(doc);
    let stamp = doc.snapshot.take();
    doc.stamp_format_version();
    let bytes = encode_state(doc);
    loop_lists::put_names(doc, names);
    doc.snapshot = stamp;
    stage(dir, STATE_FILE, &bytes?).map_err(StateError::Save)
}

/// The end of a run's journal: puts the staged state.json in place, durably. A run that
/// `finished` deletes its journal (in the same dir fsync) and its loop list files, which
/// nothing names any more; any other keeps both, and its caller then appends the final state
/// again, stamped with the new state.json ([`append_stamped`], or the writer's own journal
/// with [`stamp_of_state`]): only that record lets a resume go on from the journal. The
/// journal's last record must be on disk first.
pub(crate) fn close(dir: &Path, staged: Staged, finished: bool) -> Result<(), StateError> {
    if !finished {
        return staged.publish().map_err(StateError::Save);
    }
    staged.rename().map_err(StateError::Save)?;
    replace_journal(dir, false)?;
    loop_lists::remove_all(dir);
    Ok(())
}

/// Prepares an empty journal next to a state.json that already holds `doc`'s position and
/// lists (a resume after a failure or an interruption), when the journal has no record:
/// nothing is rewritten, and the lists stay where they are. [`Journal::open`] then creates the
/// journal if it is missing, and its first flush (before any record counts) makes the new
/// entry durable with a dir fsync, so the resume itself waits for no flush here. Call only
/// while holding the run lock.
pub fn restart(doc: &mut StateDoc) {
    loop_lists::lists_in_snapshot(doc);
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

/// The stamp of `dir`'s state.json as it is now.
pub(crate) fn stamp_of_state(dir: &Path) -> Result<SnapshotStamp, StateError> {
    SnapshotStamp::of(&dir.join(STATE_FILE)).map_err(StateError::Save)
}

/// Whether `dir`'s journal can simply go on: its last record is the clean end of a run that
/// did not complete, stamped with the state.json that is there (written from that record and
/// not changed since), and the journal is not long. A crash leaves no stamp.
pub fn ended_cleanly(dir: &Path, run_id: &str) -> Result<bool, StateError> {
    Ok(latest_record(dir, run_id)?.is_some_and(|(doc, len)| {
        doc.snapshot
            .is_some_and(|stamp| stamp.matches(&dir.join(STATE_FILE)))
            && !finished(&doc)
            && len < compact_at()
    }))
}

/// The last whole record of `dir`'s journal, if it has one: the run's newest state. A journal
/// that is missing (a run dir of the first release, or a reader racing a compaction) or empty
/// gives `None`; a record that does not parse is skipped for the one before it.
/// A last record stamped with a state.json that was changed since (by hand, or by a tool) gives
/// `None` too: state.json is then the run's state.
pub fn latest(dir: &Path, run_id: &str) -> Result<Option<StateDoc>, StateError> {
    let Some((mut doc, _)) = latest_record(dir, run_id)? else {
        return Ok(None);
    };
    if let Some(stamp) = doc.snapshot.take()
        && !stamp.matches(&dir.join(STATE_FILE))
    {
        return Ok(None);
    }
    loop_lists::load(dir, run_id, &mut doc)?;
    Ok(Some(doc))
}

/// The journal's last record as it is written (its lists only named) and the journal's length.
fn latest_record(dir: &Path, run_id: &str) -> Result<Option<(StateDoc, u64)>, StateError> {
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
        // Sized beforehand: a buffer grown from nothing reads in doubling pieces (ten reads for
        // a 9 KB tail).
        let mut tail = Vec::with_capacity(usize::try_from(len - start).map_or(0, |n| n + 1));
        file.seek(SeekFrom::Start(start))
            .and_then(|_| {
                Read::by_ref(&mut file)
                    .take(len - start)
                    .read_to_end(&mut tail)
            })
            .map_err(|e| StateError::io("read", &path, e))?;
        if let Some(doc) = last_record(&tail, start == 0, run_id) {
            return Ok(Some((doc, len)));
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
            items: Some(items.clone().into()),
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
        assert_eq!(looped.items.as_ref(), Some(&items.clone().into()));
        let journal_bytes = fs::metadata(dir.path().join(JOURNAL_FILE)).unwrap().len();
        assert!(
            journal_bytes < 100 * 1024,
            "{journal_bytes} bytes for 100 records"
        );
        let lists: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.starts_with(loop_lists::ITEMS_PREFIX).then_some(name)
            })
            .collect();
        assert_eq!(lists.len(), 1, "{lists:?}");
        let last = latest(dir.path(), "r-1").unwrap().unwrap();
        let read = last.position.unwrap().loop_.unwrap();
        let stored = read.items.clone().unwrap();
        assert!(stored.as_slice().is_none(), "read item by item: {stored:?}");
        assert_eq!(stored.get(9_999).unwrap().as_deref(), Some("items/09999"));
        assert_eq!(
            (read.iteration, read.items),
            (99, Some(items.clone().into()))
        );
        // A compaction puts the list into state.json too; later records still name its file.
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
        assert_eq!((read.iteration, read.items), (100, Some(items.into())));
        let text = fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        assert!(text.contains("items/09999") && !text.contains("items_file"));
        // A run that ends without completing keeps its journal and list file, for its resume.
        state.status = RunStatus::Failed;
        journal.append(&mut state).unwrap();
        journal.sync().unwrap();
        compact(dir.path(), &mut state, false).unwrap();
        assert!(dir.path().join(&lists[0]).exists());
        assert!(ended_cleanly(dir.path(), "r-1").unwrap());
        // The end of a completed run leaves state.json alone.
        state.status = RunStatus::Completed;
        compact(dir.path(), &mut state, false).unwrap();
        assert!(!dir.path().join(&lists[0]).exists());
        assert!(!dir.path().join(JOURNAL_FILE).exists());
    }

    #[test]
    fn a_crash_does_not_end_a_journal_cleanly_and_a_tool_can_set_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = doc("a");
        compact(dir.path(), &mut state, true).unwrap();
        let audit = File::create(dir.path().join("audit")).unwrap();
        let mut journal = Journal::open(dir.path(), audit, false).unwrap();
        journal.append(&mut state).unwrap();
        journal.sync().unwrap();
        drop(journal);
        assert!(!ended_cleanly(dir.path(), "r-1").unwrap());
        let mut moved = doc("b");
        moved.status = RunStatus::Interrupted;
        super::super::state_file::write_state(dir.path(), &moved).unwrap();
        append_stamped(dir.path(), &moved).unwrap();
        assert!(ended_cleanly(dir.path(), "r-1").unwrap());
        assert_eq!(latest(dir.path(), "r-1").unwrap(), Some(moved.clone()));
        // A state.json changed since is the run's state, and the journal cannot go on.
        let mut edited = doc("c");
        edited.status = RunStatus::Failed;
        super::super::state_file::write_state(dir.path(), &edited).unwrap();
        assert!(!ended_cleanly(dir.path(), "r-1").unwrap());
        assert_eq!(latest(dir.path(), "r-1").unwrap(), None);
    }
}
