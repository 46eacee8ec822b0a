//! Concurrency caps (control.md §8): `clis.<cli>.max_concurrent` and `max_concurrent_agents`
//! from the configuration limit how many agent processes run at once in the whole run, and a
//! launcher's `max_concurrent` how many steps run through it at once (docs/launchers.md). A step
//! takes a slot before it starts and gives it back when it ends; branches wait for one. Slots are
//! always taken in the same order (the launcher's, the CLI's, then the run's), so two waiting
//! branches never hold what the other needs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;

/// The caps of one run.
#[derive(Debug, Default)]
pub struct Slots {
    all: Option<Arc<Semaphore>>,
    per_cli: BTreeMap<String, Arc<Semaphore>>,
    /// One cap per launcher (its rendered argv), made when a step first uses it.
    per_launcher: Mutex<BTreeMap<String, Arc<Semaphore>>>,
}

/// What a step needs a slot of.
#[derive(Debug, Clone, Copy)]
pub enum SlotKey<'a> {
    /// An agent process of this CLI.
    Agent(&'a str),
    /// A step through this launcher (its rendered argv, joined) with this cap.
    Launcher(&'a str, u32),
}

/// A taken slot; dropping it gives it back.
#[derive(Debug)]
pub struct Slot {
    _permits: Vec<OwnedSemaphorePermit>,
}

fn cap(n: u32) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(usize::try_from(n).unwrap_or(usize::MAX)))
}

impl Slots {
    pub fn from_config(config: &Config) -> Self {
        Slots {
            all: config.max_concurrent_agents.map(cap),
            per_cli: config
                .clis
                .iter()
                .filter_map(|(cli, c)| c.max_concurrent.map(|n| (cli.clone(), cap(n))))
                .collect(),
            per_launcher: Mutex::default(),
        }
    }

    fn semaphores(&self, key: SlotKey<'_>) -> Vec<Arc<Semaphore>> {
        match key {
            SlotKey::Agent(cli) => self
                .per_cli
                .get(cli)
                .into_iter()
                .chain(self.all.as_ref())
                .cloned()
                .collect(),
            SlotKey::Launcher(argv, n) => match self.per_launcher.lock() {
                // The first step through a launcher sets its cap.
                Ok(mut caps) => vec![
                    caps.entry(argv.to_owned())
                        .or_insert_with(|| cap(n))
                        .clone(),
                ],
                Err(_) => Vec::new(),
            },
        }
    }

    /// A slot for `key` if one is free now.
    pub fn try_take(&self, key: SlotKey<'_>) -> Option<Slot> {
        let mut permits = Vec::new();
        for semaphore in self.semaphores(key) {
            permits.push(semaphore.try_acquire_owned().ok()?);
        }
        Some(Slot { _permits: permits })
    }

    /// Waits for a slot for `key`.
    pub async fn take(&self, key: SlotKey<'_>) -> Slot {
        let mut permits = Vec::new();
        for semaphore in self.semaphores(key) {
            // The semaphores are never closed.
            if let Ok(permit) = semaphore.acquire_owned().await {
                permits.push(permit);
            }
        }
        Slot { _permits: permits }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cli_cap_and_the_run_cap_both_hold() {
        let mut config = Config {
            max_concurrent_agents: Some(2),
            ..Config::default()
        };
        config
            .clis
            .entry("claude".into())
            .or_default()
            .max_concurrent = Some(1);
        let slots = Slots::from_config(&config);
        let first = slots.try_take(SlotKey::Agent("claude")).unwrap();
        assert!(
            slots.try_take(SlotKey::Agent("claude")).is_none(),
            "one claude at a time"
        );
        let codex = slots.try_take(SlotKey::Agent("codex")).unwrap();
        assert!(
            slots.try_take(SlotKey::Agent("codex")).is_none(),
            "two agents in the run"
        );
        drop(codex);
        assert!(
            slots.try_take(SlotKey::Agent("claude")).is_none(),
            "still one claude"
        );
        drop(first);
        let _again = slots.take(SlotKey::Agent("claude")).await;
    }

    #[tokio::test]
    async fn a_launcher_cap_holds_per_rendered_argv() {
        let slots = Slots::default();
        let first = slots.try_take(SlotKey::Launcher("ssh a --", 1)).unwrap();
        assert!(slots.try_take(SlotKey::Launcher("ssh a --", 1)).is_none());
        let _other = slots.try_take(SlotKey::Launcher("ssh b --", 1)).unwrap();
        drop(first);
        let _again = slots.take(SlotKey::Launcher("ssh a --", 1)).await;
    }
}
