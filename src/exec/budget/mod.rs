//! Budgets while a run goes (control.md §5, §11 "Budgets, precisely"): the run's limits, the
//! limits of the containers that are running, and the live usage of every running agent step.
//!
//! One [`Tracker`] per run, shared by every step (and every parallel branch). A headless step
//! reports its running usage as the stream reports it ([`Tracker::update`]); when that crosses
//! a limit, every step the limit covers is told to stop through its [`Halt`] (the step itself,
//! every step inside a container, or every running step for the run's limit), and each of them
//! fails with class `budget`. What a step finally used is committed at its end
//! ([`Tracker::end_step`]). A step's own budget covers all it spends in the run: every try of a
//! retried step and its output-repair turn. A step (or a try) is not started while the run, one
//! of its containers or its own budget is at or over a limit ([`Tracker::refusal`]).

mod halt;
pub mod in_force;
pub mod scope;
mod sessions;
mod spent;

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

pub use halt::Halt;
pub use sessions::SessionSpends;
pub use spent::{Spent, spent_in_audit};

use crate::agents::event::{ModelUsage, SessionSpend};
use crate::workflow::budget::Budget;

/// What a limit belongs to, for messages: `run`, `step`, `group "impl"`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    /// Steps whose audit path starts with this belong to it (`""`: the whole run).
    prefix: String,
    label: String,
}

/// One budget in force and what has been committed against it.
#[derive(Debug, Clone)]
struct Limited {
    owner: Owner,
    budget: Budget,
    committed: Spent,
    /// The warnings already given: cost, tokens.
    warned: [bool; 2],
}

impl Limited {
    fn new(owner: Owner, budget: Budget, committed: Spent) -> Self {
        let mut limited = Limited {
            owner,
            budget,
            committed,
            warned: [false; 2],
        };
        // A limit already past its warning mark (a resumed run) was warned about before.
        limited.warnings(committed);
        limited
    }

    /// `budget exceeded: $5.02 of $5.00 (run)` when `total` is over a limit.
    fn exceeded(&self, total: Spent) -> Option<String> {
        self.over(total, |used, max| used > max)
    }

    /// The same when `total` is at or over a limit (nothing more may start).
    fn reached(&self, total: Spent) -> Option<String> {
        self.over(total, |used, max| used >= max)
    }

    fn over(&self, total: Spent, past: impl Fn(f64, f64) -> bool) -> Option<String> {
        let label = &self.owner.label;
        if let Some(max) = self.budget.max_cost_usd
            && past(total.cost_usd, max)
        {
            return Some(format!(
                "budget exceeded: {} of {} ({label})",
                spent::usd(total.cost_usd),
                spent::usd(max)
            ));
        }
        if let Some(max) = self.budget.max_tokens
            && past(total.tokens as f64, max as f64)
        {
            return Some(format!(
                "budget exceeded: {} of {} tokens ({label})",
                spent::count(total.tokens),
                spent::count(max)
            ));
        }
        None
    }

    /// The warnings `total` newly earns: `this run has spent $4.01 of $5.00 (80 %)`.
    fn warnings(&mut self, total: Spent) -> Vec<String> {
        let at = self.budget.warn_fraction();
        let mut out = Vec::new();
        let whose = if self.owner.prefix.is_empty() {
            "this run has".to_owned()
        } else {
            format!("{} has", self.owner.label)
        };
        if let Some(max) = self.budget.max_cost_usd
            && !self.warned[0]
            && total.cost_usd >= max * at
        {
            self.warned[0] = true;
            out.push(format!(
                "{whose} spent {} of {} ({} %)",
                spent::usd(total.cost_usd),
                spent::usd(max),
                percent(total.cost_usd, max)
            ));
        }
        if let Some(max) = self.budget.max_tokens
            && !self.warned[1]
            && total.tokens as f64 >= max as f64 * at
        {
            self.warned[1] = true;
            out.push(format!(
                "{whose} used {} of {} tokens ({} %)",
                spent::count(total.tokens),
                spent::count(max),
                percent(total.tokens as f64, max as f64)
            ));
        }
        out
    }

    /// What is left of the cost limit after `total`.
    fn cost_left(&self, total: Spent) -> Option<f64> {
        self.budget
            .max_cost_usd
            .map(|max| (max - total.cost_usd).max(0.0))
    }
}

fn percent(used: f64, max: f64) -> u64 {
    if max <= 0.0 {
        return 100;
    }
    (used / max * 100.0).floor().max(0.0) as u64
}

/// A running step.
struct Running {
    path: String,
    live: Spent,
    halt: Halt,
    /// Its own budget (`step` in messages).
    own: Option<Limited>,
}

#[derive(Default)]
struct Inner {
    run: Option<Limited>,
    /// What the run has committed (also when it has no budget, so that one given on resume
    /// counts everything).
    run_committed: Spent,
    scopes: Vec<Limited>,
    /// What each step with a budget of its own has committed: its earlier tries and turns.
    steps: BTreeMap<String, Spent>,
    running: BTreeMap<u64, Running>,
    next_id: u64,
    /// What each agent session reported in the run (claude's totals continue from it).
    sessions: SessionSpends,
}

impl Inner {
    fn in_scope(prefix: &str, path: &str) -> bool {
        prefix.is_empty() || path.starts_with(prefix)
    }

    /// Committed plus the live usage of the running steps under `prefix`.
    fn total(&self, committed: Spent, prefix: &str) -> Spent {
        self.running
            .values()
            .filter(|r| Self::in_scope(prefix, &r.path))
            .fold(committed, |acc, r| acc + r.live)
    }

    /// Every limit that covers `path` (run first, then containers outermost first).
    fn covering<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Limited> + 'a {
        self.run
            .iter()
            .chain(self.scopes.iter())
            .filter(move |l| Self::in_scope(&l.owner.prefix, path))
    }

    /// The step at `path`'s own `budget`, with what the step has committed before.
    fn own(&self, path: &str, budget: Option<Budget>) -> Option<Limited> {
        budget.filter(Budget::limits_anything).map(|b| {
            Limited::new(
                Owner {
                    prefix: path.to_owned(),
                    label: "step".to_owned(),
                },
                b,
                self.steps.get(path).copied().unwrap_or_default(),
            )
        })
    }
}

/// The run's budgets. Cheap when no budget is in force: one uncontended lock per call.
#[derive(Default)]
pub struct Tracker {
    inner: Mutex<Inner>,
}

/// What a running step's new usage led to.
#[derive(Debug, Default)]
pub struct Update {
    /// Warnings to print once (`this run has spent $4.01 of $5.00 (80 %)`).
    pub warnings: Vec<String>,
}

/// A step registered with the tracker.
#[derive(Debug, Clone)]
pub struct StepMeter {
    id: u64,
    pub halt: Halt,
}

impl Tracker {
    /// The tracker of a run with `budget` in force, which has already committed `spent`.
    pub fn new(budget: Budget, spent: Spent) -> Self {
        let run = budget.limits_anything().then(|| {
            Limited::new(
                Owner {
                    prefix: String::new(),
                    label: "run".to_owned(),
                },
                budget,
                spent,
            )
        });
        Tracker {
            inner: Mutex::new(Inner {
                run,
                run_committed: spent,
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a run budget is in force.
    pub fn has_run_budget(&self) -> bool {
        self.lock().run.is_some()
    }

    /// What the run has committed so far.
    pub fn run_spent(&self) -> Spent {
        self.lock().run_committed
    }

    /// Why a step at `path` (with its own `budget`) may not start: the run, a container around
    /// it or its own budget (spent by its earlier tries) is at or over a limit.
    pub fn refusal(&self, path: &str, budget: Option<Budget>) -> Option<String> {
        let inner = self.lock();
        inner
            .covering(path)
            .find_map(|l| l.reached(inner.total(l.committed, &l.owner.prefix)))
            .or_else(|| inner.own(path, budget).and_then(|l| l.reached(l.committed)))
    }

    /// A container with a budget starts (or is re-entered by a resume, `spent` being what its
    /// steps had committed before). `prefix` is its audit path followed by `/`.
    pub fn enter_scope(&self, prefix: String, label: String, budget: Budget, spent: Spent) {
        let mut inner = self.lock();
        inner.scopes.retain(|s| s.owner.prefix != prefix);
        inner
            .scopes
            .push(Limited::new(Owner { prefix, label }, budget, spent));
    }

    /// The container at `prefix` has ended.
    pub fn leave_scope(&self, prefix: &str) {
        self.lock().scopes.retain(|s| s.owner.prefix != prefix);
    }

    /// A headless agent step at `path` starts, with its own `budget` if it has one.
    pub fn begin_step(&self, path: &str, budget: Option<Budget>) -> StepMeter {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        let halt = Halt::default();
        let own = inner.own(path, budget);
        inner.running.insert(
            id,
            Running {
                path: path.to_owned(),
                live: Spent::default(),
                halt: halt.clone(),
                own,
            },
        );
        StepMeter { id, halt }
    }

    /// The most the step may still spend in US dollars: the least of what is left of its own,
    /// its containers' and the run's cost limits. `None` when no cost limit covers it.
    pub fn cost_left(&self, meter: &StepMeter) -> Option<f64> {
        let inner = self.lock();
        let running = inner.running.get(&meter.id)?;
        let own = running
            .own
            .as_ref()
            .and_then(|l| l.cost_left(l.committed + running.live));
        inner
            .covering(&running.path)
            .filter_map(|l| l.cost_left(inner.total(l.committed, &l.owner.prefix)))
            .chain(own)
            .reduce(f64::min)
    }

    /// The same for a step at `path` with its own `budget`, before it is registered.
    pub fn cost_left_at(&self, path: &str, budget: Option<Budget>) -> Option<f64> {
        let inner = self.lock();
        let own = inner
            .own(path, budget)
            .and_then(|l| l.cost_left(l.committed));
        inner
            .covering(path)
            .filter_map(|l| l.cost_left(inner.total(l.committed, &l.owner.prefix)))
            .chain(own)
            .reduce(f64::min)
    }

    /// The step's usage so far (since it started) is `live`. A limit crossed stops the steps it
    /// covers; the warnings this earns are returned.
    pub fn update(&self, meter: &StepMeter, live: Spent) -> Update {
        let mut inner = self.lock();
        let Some(running) = inner.running.get_mut(&meter.id) else {
            return Update::default();
        };
        running.live = live;
        let path = running.path.clone();
        let mut update = Update::default();
        if let Some(own) = running.own.as_mut() {
            let total = own.committed + live;
            update.warnings.extend(own.warnings(total));
            if let Some(why) = own.exceeded(total) {
                running.halt.stop(why);
            }
        }
        let inner = &mut *inner;
        let limits = inner.run.iter_mut().chain(inner.scopes.iter_mut());
        for limited in limits.filter(|l| Inner::in_scope(&l.owner.prefix, &path)) {
            let total = inner
                .running
                .values()
                .filter(|r| Inner::in_scope(&limited.owner.prefix, &r.path))
                .fold(limited.committed, |acc, r| acc + r.live);
            update.warnings.extend(limited.warnings(total));
            if let Some(why) = limited.exceeded(total) {
                for r in inner.running.values() {
                    if Inner::in_scope(&limited.owner.prefix, &r.path) {
                        r.halt.stop(why.clone());
                    }
                }
            }
        }
        update
    }

    /// The step has ended having used `used` in all; it is committed to the run and to every
    /// container around it. Returns the warnings the commit earns.
    pub fn end_step(&self, meter: &StepMeter, used: Spent) -> Vec<String> {
        let mut inner = self.lock();
        let Some(running) = inner.running.remove(&meter.id) else {
            return Vec::new();
        };
        inner.run_committed = inner.run_committed + used;
        if running.own.is_some() {
            let step = inner.steps.entry(running.path.clone()).or_default();
            *step = *step + used;
        }
        let inner = &mut *inner;
        let mut warnings = Vec::new();
        for limited in inner.run.iter_mut().chain(inner.scopes.iter_mut()) {
            if Inner::in_scope(&limited.owner.prefix, &running.path) {
                limited.committed = limited.committed + used;
                warnings.extend(limited.warnings(limited.committed));
            }
        }
        warnings
    }

    /// The run was resumed: what its sessions had reported before.
    pub fn with_sessions(self, sessions: SessionSpends) -> Self {
        self.lock().sessions = sessions;
        self
    }

    /// What session `id` reported earlier in the run.
    pub fn session_before(&self, id: &str) -> Option<SessionSpend> {
        self.lock().sessions.before(id)
    }

    /// Session `id` reported `models` and `cost_usd` for one invocation (its own figures).
    pub fn session_reported(&self, id: &str, models: &[ModelUsage], cost_usd: Option<f64>) {
        self.lock().sessions.add(id, models, cost_usd);
    }

    /// Usage of a step that ran without a meter (a step with no stream usage, an interactive
    /// step): committed like [`Tracker::end_step`].
    pub fn commit(&self, path: &str, used: Spent) -> Vec<String> {
        let meter = self.begin_step(path, None);
        self.end_step(&meter, used)
    }
}

#[cfg(test)]
mod tests;
