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
    )
}

fn started(path: &str) -> Event {
    Event::StepStarted {
        step: StepRef {
            depth: 0,
            display: format!("1/2 {path}"),
            path: path.to_owned(),
        },
        label: "shell".to_owned(),
        start: Box::default(),
    }
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
fn the_move_past_a_step_is_held_until_the_next_start_is_saved() {
    let fixture = Fixture::new();
    let mut w = writer(&fixture);
    w.emit(started("a")).unwrap();
    let log = w.run_dir().audit_path();
    assert_eq!(read_audit(&log).unwrap().len(), 1);
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
    // Not on disk yet: the state still says `a` runs, so the log must not say it ended.
    assert_eq!(read_audit(&log).unwrap().len(), 1);
    let on_disk = w.run_dir().read_state().unwrap().position.unwrap();
    assert_eq!((on_disk.index, on_disk.state), (0, FrameState::Running));
    w.emit(started("b")).unwrap();
    let events: Vec<String> = read_audit(&log)
        .unwrap()
        .into_iter()
        .map(|l| l.record.unwrap().event)
        .collect();
    assert_eq!(events, ["step_start", "step_end", "step_start"]);
    let saved = w.run_dir().read_state().unwrap();
    assert_eq!(
        saved.position.map(|f| (f.index, f.step_id)),
        Some((1, "b".to_owned()))
    );
}
