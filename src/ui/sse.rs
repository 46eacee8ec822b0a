//! Server-Sent Events (run-view.md §3). `GET /api/runs/<id>/events` sends the run's audit lines
//! as they are written, redacted as `log --json` prints them, each with `id:` = its `seq`, so
//! a reconnect with `Last-Event-ID` resumes after the last line it got; an `end` event follows
//! the last line once the run no longer runs. `GET /api/changes` sends `change` whenever
//! something under the runs shown changed, so the board re-reads the listing (an event needs
//! data, or the browser drops it).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast;

use super::{App, watch};
use crate::state::{AuditReader, Redactor, RunDir};

/// Where a run's event stream is.
struct Follow {
    run: RunDir,
    redactor: Redactor,
    reader: Option<AuditReader>,
    /// Lines up to this `seq` were sent (or skipped for `Last-Event-ID`).
    after: u64,
    queue: VecDeque<Event>,
    wake: broadcast::Receiver<()>,
    ended: bool,
}

impl Follow {
    /// Queues the lines written since the last read; `false` when the log cannot be read.
    fn read(&mut self) -> bool {
        if self.reader.is_none() {
            self.reader = AuditReader::open(&self.run.audit_path()).ok();
        }
        let Some(reader) = self.reader.as_mut() else {
            return true;
        };
        let Ok(lines) = reader.read_new_lines() else {
            return false;
        };
        for line in lines {
            let Some(seq) = line.record.as_ref().map(|r| r.seq) else {
                continue;
            };
            if seq <= self.after {
                continue;
            }
            self.after = seq;
            let data = self.redactor.redact(&line.raw).into_owned();
            self.queue.push_back(
                Event::default()
                    .id(seq.to_string())
                    .event("audit")
                    .data(data),
            );
        }
        true
    }
}

/// The audit stream of `run`, after `last_event_id`.
pub fn audit(
    app: &Arc<App>,
    run: RunDir,
    redactor: Redactor,
    last_event_id: u64,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let follow = Follow {
        run,
        redactor,
        reader: None,
        after: last_event_id,
        queue: VecDeque::new(),
        wake: app.changes.subscribe(),
        ended: false,
    };
    let stream = futures_util::stream::unfold(follow, |mut follow| async move {
        loop {
            if let Some(event) = follow.queue.pop_front() {
                return Some((Ok(event), follow));
            }
            if follow.ended {
                return None;
            }
            // Look at the lock before reading: once it is free, the log is complete.
            let live = follow.run.probe_lock().is_some();
            if !follow.read() || !live {
                follow.read();
                follow.ended = true;
                follow
                    .queue
                    .push_back(Event::default().event("end").data("end"));
                continue;
            }
            if follow.queue.is_empty() {
                watch::next(&mut follow.wake).await;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The change stream for the board.
pub fn changes(app: &Arc<App>) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let wake = app.changes.subscribe();
    let stream = futures_util::stream::unfold(wake, |mut wake| async move {
        use broadcast::error::{RecvError, TryRecvError};
        if let Err(RecvError::Closed) = wake.recv().await {
            return None;
        }
        // One event for a burst of changes.
        while !matches!(
            wake.try_recv(),
            Err(TryRecvError::Empty | TryRecvError::Closed)
        ) {}
        Some((Ok(Event::default().event("change").data("change")), wake))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
