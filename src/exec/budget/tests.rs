use super::*;

fn budget(cost: Option<f64>, tokens: Option<u64>) -> Budget {
    Budget {
        max_cost_usd: cost,
        max_tokens: tokens,
        warn_at: None,
    }
}

fn cost(usd: f64) -> Spent {
    Spent {
        tokens: 0,
        cost_usd: usd,
    }
}

#[test]
fn crossing_the_run_budget_stops_every_running_step() {
    let tracker = Tracker::new(budget(Some(5.0), None), cost(1.0));
    let a = tracker.begin_step("a", None);
    let b = tracker.begin_step("each[1]/b", None);
    let update = tracker.update(&a, cost(3.5));
    assert_eq!(
        update.warnings,
        ["this run has spent $4.50 of $5.00 (90 %)".to_owned()]
    );
    assert_eq!(a.halt.reason(), None);
    tracker.update(&b, cost(0.52));
    let why = Some("budget exceeded: $5.02 of $5.00 (run)".to_owned());
    assert_eq!(a.halt.reason(), why);
    assert_eq!(b.halt.reason(), why);
    // The warning is given once.
    assert!(tracker.update(&a, cost(3.6)).warnings.is_empty());
}

#[test]
fn a_step_budget_stops_only_that_step_and_the_left_amount_is_the_least() {
    let tracker = Tracker::new(budget(Some(5.0), None), cost(4.0));
    let a = tracker.begin_step("a", Some(budget(Some(0.5), None)));
    let other = tracker.begin_step("b", None);
    assert_eq!(tracker.cost_left(&a), Some(0.5));
    tracker.update(&other, cost(0.7));
    assert!((tracker.cost_left(&a).unwrap() - 0.3).abs() < 1e-9);
    let a2 = tracker.begin_step("c", Some(budget(None, Some(100))));
    tracker.update(
        &a2,
        Spent {
            tokens: 101,
            cost_usd: 0.0,
        },
    );
    assert_eq!(
        a2.halt.reason().as_deref(),
        Some("budget exceeded: 101 of 100 tokens (step)")
    );
    assert_eq!(other.halt.reason(), None);
}

#[test]
fn containers_count_their_steps_and_nothing_starts_at_a_limit() {
    let tracker = Tracker::new(Budget::default(), Spent::default());
    tracker.enter_scope(
        "impl/".into(),
        "group \"impl\"".into(),
        budget(None, Some(1000)),
        Spent::default(),
    );
    let inside = tracker.begin_step("impl/a", None);
    let outside = tracker.begin_step("b", None);
    tracker.update(
        &outside,
        Spent {
            tokens: 5000,
            cost_usd: 0.0,
        },
    );
    assert_eq!(inside.halt.reason(), None);
    tracker.end_step(
        &inside,
        Spent {
            tokens: 1000,
            cost_usd: 0.0,
        },
    );
    assert_eq!(
        tracker.refusal("impl/next", None).as_deref(),
        Some("budget exceeded: 1,000 of 1,000 tokens (group \"impl\")")
    );
    assert_eq!(tracker.refusal("other", None), None);
    tracker.leave_scope("impl/");
    assert_eq!(tracker.refusal("impl/next", None), None);
    assert_eq!(tracker.run_spent().tokens, 1000);
}

#[test]
fn a_resumed_run_past_its_mark_is_not_warned_again() {
    let tracker = Tracker::new(budget(Some(5.0), None), cost(4.5));
    let a = tracker.begin_step("a", None);
    assert!(tracker.update(&a, cost(0.1)).warnings.is_empty());
    assert_eq!(
        tracker.refusal("a", None).as_deref(),
        None,
        "under the limit a step may start"
    );
    let full = Tracker::new(budget(Some(5.0), None), cost(5.0));
    assert_eq!(
        full.refusal("x", None).as_deref(),
        Some("budget exceeded: $5.00 of $5.00 (run)")
    );
}

#[test]
fn a_step_budget_counts_every_try_of_the_step_and_refuses_a_try_at_its_limit() {
    let tracker = Tracker::new(Budget::default(), Spent::default());
    let own = Some(budget(Some(0.5), None));
    let first = tracker.begin_step("s", own);
    tracker.end_step(&first, cost(0.3));
    assert_eq!(tracker.refusal("s", own), None);
    assert!((tracker.cost_left_at("s", own).unwrap() - 0.2).abs() < 1e-9);
    let second = tracker.begin_step("s", own);
    tracker.update(&second, cost(0.25));
    assert_eq!(
        second.halt.reason().as_deref(),
        Some("budget exceeded: $0.55 of $0.50 (step)")
    );
    tracker.end_step(&second, cost(0.25));
    assert_eq!(
        tracker.refusal("s", own).as_deref(),
        Some("budget exceeded: $0.55 of $0.50 (step)")
    );
    // Another step, and the same step without a budget of its own, are not refused.
    assert_eq!(tracker.refusal("t", own), None);
    assert_eq!(tracker.refusal("s", None), None);
}
