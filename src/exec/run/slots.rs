//! Agent concurrency caps (control.md §8): `clis.<cli>.max_concurrent` and
//! `max_concurrent_agents` from the configuration limit how many agent processes run at once
//! in the whole run. An agent step takes a slot before it starts and gives it back when it
//! ends; branches wait for one. Slots are always taken in the same order (the CLI's, then the
//! run's), so two waiting branches never hold what the other needs.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;

/// The caps of one run.
#[derive(Debug, Default)]
pub struct Slots {
    all: Option<Arc<Semaphore>>,
    per_cli: BTreeMap<String, Arc<Semaphore>>,
}

/// A taken slot; dropping it gives it back.
#[derive(Debug)]
pub struct Slot {
    _permits: Vec<OwnedSemaphorePermit>,
}

impl Slots {
    pub fn from_config(config: &Config) -> Self {
        let cap = |n: u32| Arc::new(Semaphore::new(usize::try_from(n).unwrap_or(usize::MAX)));
        Slots {
            all: config.max_concurrent_agents.map(cap),
            per_cli: config
                .clis
                .iter()
                .filter_map(|(cli, c)| c.max_concurrent.map(|n| (cli.clone(), cap(n))))
                .collect(),
        }
    }

    fn semaphores(&self, cli: &str) -> impl Iterator<Item = &Arc<Semaphore>> {
        self.per_cli.get(cli).into_iter().chain(self.all.as_ref())
    }

    /// A slot for `cli` if one is free now.
    pub fn try_take(&self, cli: &str) -> Option<Slot> {
        let mut permits = Vec::new();
        for semaphore in self.semaphores(cli) {
            permits.push(semaphore.clone().try_acquire_owned().ok()?);
        }
        Some(Slot { _permits: permits })
    }

    /// Waits for a slot for `cli`.
    pub async fn take(&self, cli: &str) -> Slot {
        let mut permits = Vec::new();
        for semaphore in self.semaphores(cli) {
            // The semaphores are never closed.
            if let Ok(permit) = semaphore.clone().acquire_owned().await {
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
        let first = slots.try_take("claude").unwrap();
        assert!(slots.try_take("claude").is_none(), "one claude at a time");
        let codex = slots.try_take("codex").unwrap();
        assert!(slots.try_take("codex").is_none(), "two agents in the run");
        drop(codex);
        assert!(slots.try_take("claude").is_none(), "still one claude");
        drop(first);
        let _again = slots.take("claude").await;
    }
}
