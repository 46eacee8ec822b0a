//! Time limits on a running child (control.md §2): `timeout` (wall clock, from the spawn) and
//! `idle_timeout` (no output for that long). When one is reached the executor is told at once
//! (so the console can say so), the group gets SIGTERM, the output is still read for the grace,
//! then the group gets SIGKILL. A child stopped this way has timed out, whatever its exit status.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

/// What `kill_grace` defaults to: how long a timed-out group has between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(10);

/// The limits of one attempt.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub wall: Option<Duration>,
    pub idle: Option<Duration>,
    pub grace: Duration,
    /// Told the moment a limit is reached, before the group is stopped.
    pub notice: Option<mpsc::UnboundedSender<Expired>>,
    /// Set when a budget may stop the child (control.md §5): it is stopped like a reached limit.
    pub halt: Option<super::super::budget::Halt>,
}

/// Which limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Wall,
    Idle,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Wall => "wall",
            LimitKind::Idle => "idle",
        }
    }
}

/// A limit that was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    pub kind: LimitKind,
    pub limit: Duration,
}

/// When the child last produced output; the output pumps touch it.
#[derive(Debug, Clone)]
pub struct Activity {
    base: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            base: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Activity {
    /// Records output now.
    pub fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

impl Limits {
    /// The next moment a limit may be reached, for a child spawned at `spawned`.
    pub(super) fn next(&self, spawned: Instant, activity: &Activity) -> Option<(Instant, Expired)> {
        let wall = self.wall.map(|limit| {
            (
                spawned + limit,
                Expired {
                    kind: LimitKind::Wall,
                    limit,
                },
            )
        });
        let idle = self.idle.map(|limit| {
            (
                activity.last().max(spawned) + limit,
                Expired {
                    kind: LimitKind::Idle,
                    limit,
                },
            )
        });
        match (wall, idle) {
            (Some(w), Some(i)) => Some(if i.0 < w.0 { i } else { w }),
            (one, other) => one.or(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearer_limit_comes_first_and_output_moves_the_idle_one() {
        let activity = Activity::default();
        let spawned = Instant::now();
        let limits = Limits {
            wall: Some(Duration::from_secs(10)),
            idle: Some(Duration::from_secs(3)),
            ..Limits::default()
        };
        let (at, expired) = limits.next(spawned, &activity).expect("a limit");
        assert_eq!(expired.kind, LimitKind::Idle);
        std::thread::sleep(Duration::from_millis(20));
        activity.touch();
        let (later, _) = limits.next(spawned, &activity).expect("a limit");
        assert!(later > at);
        assert_eq!(Limits::default().next(spawned, &activity), None);
    }
}
