//! The writer's guarantees: subscribers see every event, and held audit events wait for the
//! state they describe.

use std::sync::{Arc, Mutex};

use super::*;
use crate::exec::run::event::StepRef;
use crate::report::testutil::{Fixture, write_run};
use crate::state::{Redactor, read_audit};

struct Seen(Arc<Mutex<Vec<String>>>);

impl Subscriber for Seen {
    fn event(&mut self, event: &Event) {
        let name = format!("{event:?}");
        let name = name.split([' ', '(', '{']).next().unwrap_or("").to_owned();
        self.0.lock().unwrap().push(name);
    }
}

fn writer(fixture: &Fixture) -> Writer {
    let run = write_run(&fixture.project, "w", |_| {});
    let doc = run.read_state().unwrap();
    let redactor = Redactor::token_shapes_only().unwrap();
    let audit = AuditWriter::open(&run.audit_path(), run.id(), redactor.clone()).unwrap();
    Writer::new(
        doc,
        run,
        audit,
        Console::for_stderr(true),
        Arc::new(redactor),
        false,
    )
    .unwrap()
}

fn started(path: &str) -> Event {
    start_event(path, false)
}

fn start_event(path: &str, spawns: bool) -> Event {
    Event::StepStarted {
        step: StepRef {
            depth: 0,
            display: format!("1/2 {path}"),
            path: path.to_owned(),
        },
        label: "shell".to_owned(),
        start: Box::default(),
        spawns,
    }
}

/// `a` ran and ended; the move past it is appended and its flush started.
fn end_first_step(w: &mut Writer) {
    w.emit(started("a")).unwrap();
    w.emit(Event::Advanced {
        depth: 0,
        index: 1,
        step_id: "b".into(),
        previous: Some(crate::state::Outcome::Success),
    })
    .unwrap();
    w.emit(Event::StepEnded {
        path: "a".into(),
        end: Box::default(),
    })
    .unwrap();
}

fn logged(w: &Writer) -> Vec<String> {
    read_audit(&w.run_dir().audit_path())
        .unwrap()
        .into_iter()
        .map(|l| l.record.unwrap().event)
        .collect()
}

#[test]
fn subscribers_see_every_event_in_order() {
    let fixture = Fixture::new();
    let mut w = writer(&fixture);
    let seen = Arc::new(Mutex::new(Vec::new()));
    w.subscribe(Box::new(Seen(seen.clone())));
    w.emit(started("a")).unwrap();
    w.emit(Event::Detail("command: true".into())).unwrap();
    w.emit(Event::Flush).unwrap();
    assert_eq!(*seen.lock().unwrap(), ["StepStarted", "Detail", "Flush"]);
}

#[test]
fn the_end_of_a_step_is_held_until_the_move_past_it_is_flushed() {
    let fixture = Fixture::new();
    let mut w = writer(&fixture);
    end_first_step(&mut w);
    // The move is in the journal before anything says `a` ended; the log holds `step_end`
    // until the syncer confirms the flush, which the next start waits for.
    assert_eq!(logged(&w), ["step_start"]);
    let journaled = w.run_dir().read_state().unwrap().position.unwrap();
    assert_eq!((journaled.index, journaled.state), (1, FrameState::Pending));
    w.emit(started("b")).unwrap();
    assert_eq!(logged(&w), ["step_start", "step_end", "step_start"]);
    assert!(!w.console().holding());
    let saved = w.run_dir().read_state().unwrap();
    assert_eq!(
        saved.position.map(|f| (f.index, f.step_id)),
        Some((1, "b".to_owned()))
    );
}

#[test]
fn a_step_that_spawns_is_logged_at_once_and_its_lines_wait_for_the_flush() {
    let fixture = Fixture::new();
    let mut w = writer(&fixture);
    end_first_step(&mut w);
    w.emit(start_event("b", true)).unwrap();
    // Its `step_start` is in the log before its process can exist; the console keeps every
    // line (the end of `a` first) until the flush its spawn overlaps is done.
    assert_eq!(logged(&w), ["step_start", "step_end", "step_start"]);
    assert!(w.console().holding());
    w.emit(Event::Detail("command: true".into())).unwrap();
    assert!(w.console().holding(), "details wait with the heading");
    w.emit(Event::Flush).unwrap();
    assert!(!w.console().holding());
    // With nothing pending, a spawning start holds nothing.
    w.emit(start_event("c", true)).unwrap();
    assert!(!w.console().holding());
}
