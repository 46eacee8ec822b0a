//! Case 8 (issue #10): a timeout or budget watch on every step adds no measurable cost. The
//! 500-step shell run with `timeout: 10m` on every step and a run budget (`budget:` on the
//! workflow plus `--max-cost`) against the same 500 steps without them, interleaved (target
//! ≤ 1.05×).

use std::time::Duration;

use super::{Bench, Row, median, shell_steps_workflow, time, timed_row};

impl Bench {
    pub(super) fn limits_500(&self, runs: usize) -> Row {
        let plain = self.project("plain", &shell_steps_workflow("plain", 500));
        let watched = shell_steps_workflow("watched", 500)
            .replace(
                "steps:\n",
                "budget: { max_cost_usd: 100, max_tokens: 100000000 }\nsteps:\n",
            )
            .replace(
                "    command: \"true\"\n",
                "    command: \"true\"\n    timeout: 10m\n",
            );
        let watched = self.project("watched", &watched);
        let mut without: Vec<Duration> = Vec::new();
        let mut with: Vec<Duration> = Vec::new();
        for _ in 0..runs {
            without.push(time(&mut self.runner(&plain, &["plain"])));
            with.push(time(
                &mut self.runner(&watched, &["--max-cost", "50", "watched"]),
            ));
        }
        timed_row(
            "500 steps, timeout+budget vs none",
            median(with),
            median(without),
            1.05,
            "<= 1.05x",
        )
    }
}
