//! The audit log (runs-and-state.md §7): `audit.jsonl`, one JSON object per line with the fields
//! `ts, seq, run_id, event, path, data` in that order, appended by the run's writer only.
//!
//! `seq` keeps counting across resumes: opening the log reads the last complete line's `seq`
//! (a line cut by a crash is skipped and closed with a newline, so it stays a line of its own).
//! Each event is one `write` of a whole line, except while the writer *holds*: the writer
//! holds the events that follow a state change whose journal record is not on disk yet (see
//! `Writer::save_later`) and releases them once it is, so the log never records what the
//! durable state does not reflect (a recorded success is never run again after a crash). The
//! journal's syncer thread `sync_data`s the log with every journal flush, so an event is durable
//! by the next step boundary at the latest; [`AuditWriter::sync`] and drop sync what is left. `data` is redacted,
//! then strings longer than 64 KiB are cut. The reader half serves `log` and `log -f`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::StateError;
use super::fs_util::private_file;
use super::records::AuditData;
use super::redact::Redactor;
use super::time::now_rfc3339;

/// Strings in `data` longer than this many bytes are cut.
pub const MAX_STRING_BYTES: usize = 64 * 1024;
/// How much of the end of the log is read first to find the last `seq`: a few lines' worth. A
/// window with no whole line in it grows eightfold, up to [`TAIL_BYTES`], before the whole log is
/// scanned.
const FIRST_TAIL_BYTES: u64 = 16 * 1024;
/// The largest tail window read before scanning the whole log.
const TAIL_BYTES: u64 = 1024 * 1024;

/// The audit events of runs-and-state.md §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditEvent {
    RunStart,
    RunEnd,
    StepStart,
    StepEnd,
    StepRetry,
    Skip,
    IterationStart,
    IterationEnd,
    SubWorkflowStart,
    SubWorkflowEnd,
    Session,
    Control,
    Engine,
    Warning,
    Error,
    Interrupt,
    LockTakeover,
    Worktree,
    /// The repair turn of a step whose answer did not match its output schema (control.md §7).
    OutputRepair,
}

impl AuditEvent {
    /// The `event` field's value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::RunStart => "run_start",
            AuditEvent::RunEnd => "run_end",
            AuditEvent::StepStart => "step_start",
            AuditEvent::StepEnd => "step_end",
            AuditEvent::StepRetry => "step_retry",
            AuditEvent::Skip => "skip",
            AuditEvent::IterationStart => "iteration_start",
            AuditEvent::IterationEnd => "iteration_end",
            AuditEvent::SubWorkflowStart => "sub_workflow_start",
            AuditEvent::SubWorkflowEnd => "sub_workflow_end",
            AuditEvent::Session => "session",
            AuditEvent::Control => "control",
            AuditEvent::Engine => "engine",
            AuditEvent::Warning => "warning",
            AuditEvent::Error => "error",
            AuditEvent::Interrupt => "interrupt",
            AuditEvent::LockTakeover => "lock_takeover",
            AuditEvent::Worktree => "worktree",
            AuditEvent::OutputRepair => "output_repair",
        }
    }

    /// Whether the log is `sync_data`ed after this event (before the next state write).
    pub fn is_durable(self) -> bool {
        matches!(
            self,
            AuditEvent::StepEnd
                | AuditEvent::IterationEnd
                | AuditEvent::Interrupt
                | AuditEvent::RunEnd
        )
    }
}

/// One line as written, fields in the spec's order.
#[derive(Serialize)]
struct LineOut<'a> {
    ts: String,
    seq: u64,
    run_id: &'a str,
    event: &'a str,
    path: &'a str,
    data: &'a serde_json::Value,
}

/// Appends events to a run's audit.jsonl.
#[derive(Debug)]
pub struct AuditWriter {
    file: File,
    path: PathBuf,
    run_id: String,
    next_seq: u64,
    redactor: Redactor,
    /// A durable event was appended and not yet synced.
    unsynced: bool,
    /// Lines appended while holding, not yet written.
    held: Vec<u8>,
    holding: bool,
}

impl AuditWriter {
    /// Opens (or creates, 0600) the log at `path` for appending. The next `seq` is one after the
    /// last one in the file, 1 for a new log.
    pub fn open(path: &Path, run_id: &str, redactor: Redactor) -> Result<Self, StateError> {
        let (last_seq, ends_cleanly) = last_seq(path).map_err(StateError::Audit)?;
        let mut file = private_file()
            .append(true)
            .create(true)
            .open(path)
            .map_err(StateError::Audit)?;
        if !ends_cleanly {
            // Close the line a crash cut short, so the next event starts on a line of its own.
            file.write_all(b"\n").map_err(StateError::Audit)?;
        }
        Ok(AuditWriter {
            file,
            path: path.to_path_buf(),
            run_id: run_id.to_string(),
            next_seq: last_seq + 1,
            redactor,
            unsynced: false,
            held: Vec::new(),
            holding: false,
        })
    }

    /// The `seq` the next event will get (output files of a step are named after its
    /// `step_start` seq).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the redactor (for example once secret params are bound).
    pub fn set_redactor(&mut self, redactor: Redactor) {
        self.redactor = redactor;
    }

    /// Appends one event and returns its `seq`. `path` is the step path (`""` for run events);
    /// `data` is redacted and its long strings cut before writing.
    pub fn append(
        &mut self,
        event: AuditEvent,
        path: &str,
        mut data: serde_json::Value,
    ) -> Result<u64, StateError> {
        self.redactor.redact_json(&mut data);
        truncate_strings(&mut data, MAX_STRING_BYTES);
        let seq = self.next_seq;
        let line = LineOut {
            ts: now_rfc3339(),
            seq,
            run_id: &self.run_id,
            event: event.as_str(),
            path,
            data: &data,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|e| StateError::Audit(e.into()))?;
        bytes.push(b'\n');
        if self.holding {
            self.held.extend_from_slice(&bytes);
        } else {
            self.file.write_all(&bytes).map_err(StateError::Audit)?;
        }
        self.unsynced |= event.is_durable();
        self.next_seq += 1;
        Ok(seq)
    }

    /// Appends one typed event (see [`AuditWriter::append`]).
    pub fn record(&mut self, path: &str, data: &AuditData) -> Result<u64, StateError> {
        match data.event() {
            Some(event) => self.append(event, path, data.to_value()),
            None => Err(StateError::Audit(io::Error::other(
                "an audit event without a name",
            ))),
        }
    }

    /// From now on, appended events are kept back (with their `ts` and `seq`) until
    /// [`AuditWriter::release`].
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// Writes the held events, in order and in one `write`, and stops holding.
    pub fn release(&mut self) -> Result<(), StateError> {
        self.holding = false;
        if !self.held.is_empty() {
            self.file.write_all(&self.held).map_err(StateError::Audit)?;
            self.held.clear();
        }
        Ok(())
    }

    /// Writes what is held, then `sync_data`s the log if a durable event is waiting for it.
    pub fn sync(&mut self) -> Result<(), StateError> {
        self.release()?;
        if self.unsynced {
            self.file.sync_data().map_err(StateError::Audit)?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Whether a durable event is written and waiting for its `sync_data`.
    #[cfg(test)]
    fn has_unsynced(&self) -> bool {
        self.unsynced && !self.holding
    }

    /// A second handle on the log file, for the journal's syncer to flush it.
    pub(crate) fn file_clone(&self) -> Result<File, StateError> {
        self.file.try_clone().map_err(StateError::Audit)
    }
}

impl Drop for AuditWriter {
    /// Held events are dropped: they follow a state change that was never written (the run is
    /// ending on an error), and a resume will redo what they describe. Written durable events
    /// are synced even if no state write followed them.
    fn drop(&mut self) {
        self.held.clear();
        self.holding = false;
        let _ = self.sync();
    }
}

/// Cuts every string in `value` longer than `max` bytes (at a char boundary) and appends
/// `…[truncated <n> bytes]`, `n` being the bytes removed.
pub fn truncate_strings(value: &mut serde_json::Value, max: usize) {
    match value {
        serde_json::Value::String(s) if s.len() > max => {
            // The largest char boundary at or below `max` (str::floor_char_boundary is newer than
            // our MSRV).
            let keep = (0..=max)
                .rev()
                .find(|&i| s.is_char_boundary(i))
                .unwrap_or(0);
            let removed = s.len() - keep;
            s.truncate(keep);
            s.push_str(&format!("…[truncated {removed} bytes]"));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| truncate_strings(v, max)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| truncate_strings(v, max)),
        _ => {}
    }
}

#[derive(Deserialize)]
struct SeqOnly {
    seq: u64,
}

fn parse_seq(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<SeqOnly>(line).ok().map(|l| l.seq)
}

/// The last `seq` in the log (0 if none) and whether the file is empty or ends with a newline.
/// Reads only the tail unless no line there parses.
fn last_seq(path: &Path) -> io::Result<(u64, bool)> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, true)),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let mut window = FIRST_TAIL_BYTES;
    let mut tail = Vec::new();
    let ends_cleanly = loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        tail.clear();
        file.read_to_end(&mut tail)?;
        let ends_cleanly = tail.last().is_none_or(|&b| b == b'\n');
        // The first piece may be the end of a line cut by the window: it is not parsed.
        let whole = match tail.iter().position(|&b| b == b'\n') {
            Some(cut) if start > 0 => &tail[cut + 1..],
            _ => &tail[..],
        };
        if let Some(seq) = whole.rsplit(|&b| b == b'\n').find_map(parse_seq) {
            return Ok((seq, ends_cleanly));
        }
        if start == 0 {
            return Ok((0, ends_cleanly));
        }
        if window >= TAIL_BYTES {
            break ends_cleanly;
        }
        window *= 8;
    };
    // A huge last line or a damaged tail: scan the whole log.
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut max_seq = 0;
    while reader.read_until(b'\n', &mut line)? > 0 {
        if let Some(seq) = parse_seq(line.trim_ascii_end()) {
            max_seq = max_seq.max(seq);
        }
        line.clear();
    }
    Ok((max_seq, ends_cleanly))
}

/// One event as read back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuditRecord {
    pub ts: String,
    pub seq: u64,
    pub run_id: String,
    pub event: String,
    pub path: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// One line of the log: the raw text (`log --json` prints it unchanged) and the parsed event,
/// `None` for a line that is not a valid event (a crash-cut line, garbage).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditLine {
    pub raw: String,
    pub record: Option<AuditRecord>,
}

impl AuditRecord {
    /// The typed `data` of this event.
    pub fn typed(&self) -> AuditData {
        AuditData::parse(&self.event, &self.data)
    }
}

impl AuditLine {
    fn parse(bytes: &[u8]) -> Self {
        AuditLine {
            raw: String::from_utf8_lossy(bytes).into_owned(),
            record: serde_json::from_slice(bytes).ok(),
        }
    }
}

/// Reads audit.jsonl incrementally, for `log` and `log -f`.
#[derive(Debug)]
pub struct AuditReader {
    file: File,
    path: PathBuf,
    partial: Vec<u8>,
}

impl AuditReader {
    /// Opens the log at `path` for reading from the start.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let file = File::open(path).map_err(|e| StateError::io("read", path, e))?;
        Ok(AuditReader {
            file,
            path: path.to_path_buf(),
            partial: Vec::new(),
        })
    }

    /// The complete lines written since the last call. A line still being written is kept
    /// back until its newline arrives; empty lines are skipped.
    pub fn read_new_lines(&mut self) -> Result<Vec<AuditLine>, StateError> {
        let mut buf = [0u8; 64 * 1024];
        let mut lines = Vec::new();
        loop {
            let n = self
                .file
                .read(&mut buf)
                .map_err(|e| StateError::io("read", &self.path, e))?;
            if n == 0 {
                break;
            }
            self.partial.extend_from_slice(&buf[..n]);
            // The complete lines are taken off the front at once: removing them one by one
            // moved the rest of the buffer for each line.
            let mut start = 0;
            while let Some(length) = self.partial[start..].iter().position(|&b| b == b'\n') {
                let line = self.partial[start..start + length].trim_ascii();
                if !line.is_empty() {
                    lines.push(AuditLine::parse(line));
                }
                start += length + 1;
            }
            self.partial.drain(..start);
        }
        Ok(lines)
    }

    /// The unterminated rest of the log, if any (a line a crash cut short), once the caller is
    /// done following.
    pub fn finish(self) -> Option<AuditLine> {
        let rest = self.partial.trim_ascii();
        (!rest.is_empty()).then(|| AuditLine::parse(rest))
    }
}

/// Every line of the log at `path`, the unterminated last one included.
pub fn read_audit(path: &Path) -> Result<Vec<AuditLine>, StateError> {
    let mut reader = AuditReader::open(path)?;
    let mut lines = reader.read_new_lines()?;
    lines.extend(reader.finish());
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fs;

    fn redactor() -> Redactor {
        Redactor::token_shapes_only().unwrap()
    }

    fn open(path: &Path) -> AuditWriter {
        AuditWriter::open(path, "r-1", redactor()).unwrap()
    }

    #[test]
    fn lines_have_the_spec_field_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut w = open(&path);
        assert_eq!(
            w.append(AuditEvent::RunStart, "", json!({"resumed": false}))
                .unwrap(),
            1
        );
        let text = fs::read_to_string(&path).unwrap();
        let prefix = r#"{"ts":""#;
        assert!(text.starts_with(prefix), "{text}");
        let after_ts = &text[prefix.len() + "2026-11-21T08:33:12.511Z".len()..];
        assert_eq!(
            after_ts,
            "\",\"seq\":1,\"run_id\":\"r-1\",\"event\":\"run_start\",\"path\":\"\",\"data\":{\"resumed\":false}}\n"
        );
    }

    #[test]
    fn seq_continues_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut w = open(&path);
        w.append(AuditEvent::RunStart, "", json!({})).unwrap();
        w.append(AuditEvent::StepStart, "a", json!({})).unwrap();
        w.append(AuditEvent::StepEnd, "a", json!({})).unwrap();
        drop(w);
        let mut w = open(&path);
        assert_eq!(w.next_seq(), 4);
        assert_eq!(
            w.append(AuditEvent::RunStart, "", json!({"resumed": true}))
                .unwrap(),
            4
        );
        let seqs: Vec<u64> = read_audit(&path)
            .unwrap()
            .into_iter()
            .map(|l| l.record.unwrap().seq)
            .collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
    }

    #[test]
    fn seq_continues_after_a_truncated_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut w = open(&path);
        for _ in 0..5 {
            w.append(AuditEvent::Warning, "", json!({"message": "m"}))
                .unwrap();
        }
        drop(w);
        // A crash in the middle of writing event 6.
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"ts":"2026-11-21T08:33:12.511Z","seq":6,"run_id":"r-1","ev"#)
            .unwrap();
        drop(f);

        let mut w = open(&path);
        assert_eq!(w.next_seq(), 6);
        w.append(AuditEvent::RunStart, "", json!({})).unwrap();
        let lines = read_audit(&path).unwrap();
        assert_eq!(lines.len(), 7);
        assert!(lines[5].record.is_none());
        assert_eq!(lines[6].record.as_ref().unwrap().seq, 6);
        assert_eq!(lines[6].record.as_ref().unwrap().event, "run_start");
    }

    #[test]
    fn garbage_and_huge_logs_do_not_break_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        fs::write(&path, b"\x00\xff garbage\nnot json\n").unwrap();
        assert_eq!(open(&path).next_seq(), 1);

        // A valid line followed by more than the tail window of garbage.
        let mut bytes =
            br#"{"ts":"t","seq":41,"run_id":"r","event":"warning","path":"","data":{}}"#.to_vec();
        bytes.push(b'\n');
        bytes.extend(std::iter::repeat_n(b'x', TAIL_BYTES as usize + 10));
        fs::write(&path, &bytes).unwrap();
        assert_eq!(open(&path).next_seq(), 42);
    }

    #[test]
    fn a_last_line_longer_than_the_first_window_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let line = |seq: u64, note: &str| {
            format!(
                r#"{{"ts":"t","seq":{seq},"run_id":"r","event":"warning","path":"","data":{{"n":"{note}"}}}}"#
            )
        };
        // The window first ends inside the long last line; its cut-off end is not a line.
        let long = "y".repeat(3 * FIRST_TAIL_BYTES as usize);
        let text = format!("{}\n{}\n", line(6, "short"), line(7, &long));
        fs::write(&path, text).unwrap();
        assert_eq!(open(&path).next_seq(), 8);
    }

    #[test]
    fn long_strings_are_cut() {
        let mut v = json!({"a": "x".repeat(MAX_STRING_BYTES + 5), "b": ["é".repeat(MAX_STRING_BYTES)], "c": "short"});
        truncate_strings(&mut v, MAX_STRING_BYTES);
        assert_eq!(
            v["a"].as_str().unwrap(),
            format!("{}…[truncated 5 bytes]", "x".repeat(MAX_STRING_BYTES))
        );
        // "é" is 2 bytes: 32768 fit exactly, the other 32768 (65536 bytes) are cut.
        assert_eq!(
            v["b"][0].as_str().unwrap(),
            format!(
                "{}…[truncated 65536 bytes]",
                "é".repeat(MAX_STRING_BYTES / 2)
            )
        );
        assert_eq!(v["c"], "short");

        let mut odd = json!("é".repeat(40));
        truncate_strings(&mut odd, 5);
        assert_eq!(odd, format!("éé…[truncated 76 bytes]"));
    }

    #[test]
    fn data_is_redacted_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut w = open(&path);
        w.append(
            AuditEvent::StepStart,
            "deploy",
            json!({"command": "curl -H 'Authorization: Bearer abcdefghijklmnopqrstu'"}),
        )
        .unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("Authorization: [REDACTED]'"), "{text}");
    }

    #[test]
    fn reader_reads_every_line_of_a_log_longer_than_its_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        // Lines of uneven length, so that lines straddle the reads' boundaries; blank lines are
        // skipped; the last line has no newline yet.
        let mut text = String::new();
        for seq in 1..=3000 {
            let pad = "x".repeat(seq % 97);
            text.push_str(&format!(
                r#"{{"ts":"t","seq":{seq},"run_id":"r-1","event":"step_end","path":"{pad}","data":{{}}}}"#
            ));
            text.push_str(if seq % 500 == 0 { "\n\n" } else { "\n" });
        }
        text.push_str(r#"{"ts":"t","seq":3001,"#);
        fs::write(&path, &text).unwrap();
        assert!(text.len() > 3 * 64 * 1024);
        let mut reader = AuditReader::open(&path).unwrap();
        let lines = reader.read_new_lines().unwrap();
        let seqs: Vec<u64> = lines
            .iter()
            .map(|line| line.record.as_ref().unwrap().seq)
            .collect();
        assert_eq!(seqs, (1..=3000).collect::<Vec<u64>>());
        assert!(reader.finish().is_some());
    }

    #[test]
    fn reader_follows_a_growing_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut w = open(&path);
        w.append(AuditEvent::RunStart, "", json!({})).unwrap();
        let mut reader = AuditReader::open(&path).unwrap();
        assert_eq!(reader.read_new_lines().unwrap().len(), 1);
        assert!(reader.read_new_lines().unwrap().is_empty());
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"ts":"t","seq":2,"#).unwrap();
        assert!(reader.read_new_lines().unwrap().is_empty());
        f.write_all(br#""run_id":"r-1","event":"run_end","path":"","data":{}}"#)
            .unwrap();
        f.write_all(b"\n").unwrap();
        let lines = reader.read_new_lines().unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].record.as_ref().unwrap().event, "run_end");
        assert!(reader.finish().is_none());
    }

    #[test]
    fn held_events_keep_their_seq_and_order_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut w = open(&path);
        w.append(AuditEvent::RunStart, "", json!({})).unwrap();
        w.hold();
        assert_eq!(w.append(AuditEvent::StepEnd, "a", json!({})).unwrap(), 2);
        assert_eq!(w.append(AuditEvent::StepStart, "b", json!({})).unwrap(), 3);
        assert_eq!(read_audit(&path).unwrap().len(), 1);
        assert!(!w.has_unsynced(), "held events are synced after release");
        w.release().unwrap();
        assert!(w.has_unsynced());
        w.append(AuditEvent::StepEnd, "b", json!({})).unwrap();
        let events: Vec<(u64, String)> = read_audit(&path)
            .unwrap()
            .into_iter()
            .map(|l| l.record.unwrap())
            .map(|r| (r.seq, r.event))
            .collect();
        assert_eq!(
            events,
            [
                (1, "run_start".to_owned()),
                (2, "step_end".to_owned()),
                (3, "step_start".to_owned()),
                (4, "step_end".to_owned())
            ]
        );
        w.sync().unwrap();
        assert!(!w.has_unsynced());
    }

    #[test]
    fn held_events_are_dropped_with_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut w = open(&path);
        w.append(AuditEvent::RunStart, "", json!({})).unwrap();
        w.hold();
        w.append(AuditEvent::StepEnd, "a", json!({})).unwrap();
        drop(w);
        assert_eq!(read_audit(&path).unwrap().len(), 1);
        assert_eq!(open(&path).next_seq(), 2);
    }

    #[test]
    fn durable_events() {
        let durable: Vec<_> = [
            AuditEvent::RunStart,
            AuditEvent::StepEnd,
            AuditEvent::IterationEnd,
            AuditEvent::Interrupt,
            AuditEvent::RunEnd,
            AuditEvent::Session,
        ]
        .into_iter()
        .filter(|e| e.is_durable())
        .map(AuditEvent::as_str)
        .collect();
        assert_eq!(
            durable,
            ["step_end", "iteration_end", "interrupt", "run_end"]
        );
    }
}
