//! Budgets (control.md §5 and §11 "Budgets, precisely") through the real binary with the fake
//! claude and codex reporting usage as they go: a running step is stopped when a limit is
//! crossed, nothing starts at a limit, the warning comes once, the values in force are stored
//! and `--resume --max-cost` raises them; and the claude totals come from `modelUsage`.

use serde_json::json;

use crate::process_lifetime::nothing_left;
use crate::run_parallel::{intervals, most_at_once};
use crate::test::{Output, Test, agent_workflow};

fn headless(id: &str, extra: &str) -> String {
    format!("  - id: {id}\n    mode: headless\n    prompt: do {id}\n{extra}")
}

fn workflow(top: &str, steps: &str) -> Test {
    agent_workflow(&format!("name: w\n{top}steps:\n{steps}")).project_config("kill_grace: 1s\n")
}

fn classes(out: &Output) -> Vec<(String, String)> {
    out.events("step_end")
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap_or("").to_owned(),
                e["data"]["outcome"].as_str().unwrap_or("").to_owned()
                    + e["data"]["error"]["class"]
                        .as_str()
                        .map(|c| format!(" {c}"))
                        .unwrap_or_default()
                        .as_str(),
            )
        })
        .collect()
}

#[test]
fn crossing_the_run_budget_stops_the_run_and_resume_with_a_higher_max_cost_finishes_it() {
    let out = workflow(
        "budget: { max_cost_usd: 1.00 }\n",
        &(headless("one", "") + &headless("two", "") + &headless("three", "")),
    )
    .fake_script(
        "- [{spend: {cost_usd: 0.85, tokens: 1000}}]\n\
         - [{spend: {cost_usd: 0.40, tokens: 1000}}]\n\
         - [{spend: {cost_usd: 0.10, tokens: 1000}}]\n",
    )
    .status(1)
    .stderr_contains("  warning: this run has spent $0.85 of $1.00 (85 %)\n")
    .stderr_contains("budget exceeded: $1.25 of $1.00 (run)")
    .run();
    assert_eq!(
        classes(&out),
        [
            ("one".to_owned(), "success".to_owned()),
            ("two".to_owned(), "failed budget".to_owned())
        ]
    );
    assert_eq!(out.state()["format_version"], 2);
    assert_eq!(out.state()["budget"], json!({"max_cost_usd": 1.0}));
    assert_eq!(out.state()["last_failure"]["class"], "budget");
    let warnings: Vec<_> = out
        .events("warning")
        .into_iter()
        .filter(|w| w["data"]["code"] == "budget")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");

    // At the limit nothing starts again.
    let out = out
        .again()
        .args(["--resume"])
        .status(1)
        .stderr_contains("budget exceeded: $1.25 of $1.00 (run)")
        .run();
    assert_eq!(out.turns().len(), 2, "no agent ran");

    // Raised on resume: the failed step runs again and the run ends; the new limit is stored.
    let out = out.again().args(["--resume", "--max-cost", "5"]).run();
    assert_eq!(out.turns().len(), 4, "two and three ran: {}", out.stderr);
    // The run total counts every invocation: 0.85 + 0.40 before, 0.10 now.
    assert!(out.stderr.contains("ok ("), "{}", out.stderr);
    assert_eq!(out.state()["budget"]["max_cost_usd"], 5.0);
    assert_eq!(out.state()["status"], "completed");
}

#[test]
fn a_step_token_budget_stops_the_agent_while_it_runs() {
    let out = workflow(
        "",
        &(headless("big", "    budget: { max_tokens: 2500 }\n") + &headless("after", "")),
    )
    .fake_script("- [{spend: {cost_usd: 0.5, tokens: 10000, messages: 10, sleep_ms: 300}}]\n")
    .status(1)
    .stderr_contains("budget exceeded: 3,000 of 2,500 tokens (step)")
    .run();
    assert_eq!(
        classes(&out),
        [("big".to_owned(), "failed budget".to_owned())]
    );
    // Stopped after the third message, long before the tenth; what it reported still counts.
    let stream = out.output_file(".stream.jsonl");
    assert!(!stream.contains("working 9"), "{stream}");
    assert_eq!(
        out.events("step_end")[0]["data"]["usage"]["total_tokens"],
        3000
    );
    // A step budget is not a run budget: nothing in force is stored.
    assert!(out.state().get("budget").is_none());
    assert_eq!(out.state()["format_version"], 1);
}

#[test]
fn a_container_budget_counts_its_steps_and_the_command_line_wins_over_the_workflow() {
    let steps = "  - id: batch\n    budget: { max_tokens: 1500 }\n    steps:\n".to_owned()
        + &headless("a", "")
            .replace("  - ", "      - ")
            .replace("\n    ", "\n        ")
        + &headless("b", "")
            .replace("  - ", "      - ")
            .replace("\n    ", "\n        ")
        + &headless("c", "")
            .replace("  - ", "      - ")
            .replace("\n    ", "\n        ");
    let out = workflow("budget: { max_tokens: 1000000 }\n", &steps)
        .fake_script("- [{spend: {tokens: 1000}}]\n- [{spend: {tokens: 1000}}]\n")
        .status(1)
        .stderr_contains("budget exceeded: 2,000 of 1,500 tokens (group \"batch\")")
        .args(["--max-tokens", "50000"])
        .run();
    assert_eq!(out.turns().len(), 2);
    assert_eq!(out.state()["budget"], json!({"max_tokens": 50000}));
}

#[test]
fn claude_totals_come_from_model_usage_with_a_split_by_model_and_claude_gets_the_amount_left() {
    let out = workflow("budget: { max_cost_usd: 2 }\n", &headless("one", ""))
        .fake_script("- [{spend: {cost_usd: 0.4, tokens: 4000}}]\n")
        .run();
    let end = &out.events("step_end")[0]["data"];
    // result.usage (main loop only) says 3000; modelUsage, with the sub-agent, 4000.
    assert_eq!(end["usage"]["total_tokens"], 4000);
    assert_eq!(end["usage"]["reasoning_tokens"], 4);
    assert_eq!(
        end["usage"]["models"]["claude-haiku-5"]["input_tokens"],
        1000
    );
    assert_eq!(
        end["usage"]["models"]["claude-sonnet-5"]["cost_usd"],
        0.30000000000000004
    );
    assert_eq!(end["cost_usd"], 0.4);
    assert_eq!(budget_flag(&out.turn_argvs()[0]), "2.0000");
    // `show` splits the usage by model.
    let shown = out.again().args(["show"]).run();
    assert!(
        shown
            .stdout
            .contains("  claude-haiku-5: 1k input / 0 output tokens, $0.10\n"),
        "{}",
        shown.stdout
    );
    let json = shown.again().args(["show", "--json"]).run();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        json["usage"]["models"]["claude-sonnet-5"]["input_tokens"],
        2990
    );
}

#[test]
fn a_cost_budget_warns_at_the_start_about_steps_whose_cli_reports_no_cost() {
    workflow(
        "budget: { max_cost_usd: 2 }\n",
        &(headless("one", "") + &headless("two", "    cli: codex\n")),
    )
    .stderr_contains(
        "agent-runner: warning: the cost budget cannot see the cost of step \"two\" (codex reports tokens only); they count toward max_tokens only\n",
    )
    .run();
}

#[test]
fn bad_budgets_are_reported_with_their_place_and_fix() {
    Test::new()
        .workflow(
            "w",
            "name: w\nbudget: { max_cost_usd: -1, warn_at: 2 }\nsteps:\n  - id: s\n    command: echo\n    budget: { max_tokens: 5 }\n",
        )
        .args(["--validate", "w"])
        .status(3)
        .stderr_contains("budget-value")
        .stderr_contains("invalid budget.max_cost_usd: found number -1")
        .stderr_contains("invalid budget.warn_at: found number 2")
        .stderr_contains("\"budget\" is not allowed on shell steps; budgets limit headless agent steps and containers")
        .run();
    Test::new()
        .args(["--max-cost", "free", "w"])
        .status(2)
        .stderr_contains("is not an amount of US dollars greater than 0")
        .run();
    Test::new()
        .args(["list", "--max-tokens", "5"])
        .status(2)
        .stderr_contains("--max-tokens cannot be used with \"list\"")
        .run();
}

/// Two codex steps on one thread, each turn using 1000 tokens, with the fake reporting `mode`.
fn codex_thread(mode: &str) -> Output {
    workflow(
        "defaults: { cli: codex }\n",
        &(headless("first", "") + &headless("second", "    session: resume\n")),
    )
    .env("FAKE_CODEX_USAGE", mode)
    .fake_script("- [{spend: {tokens: 1000}}]\n- [{spend: {tokens: 1000}}]\n")
    .run()
}

#[test]
fn codex_usage_on_a_resumed_thread_is_the_turns_own_whether_reported_cumulative_or_per_turn() {
    for mode in ["cumulative", "per_turn"] {
        let out = codex_thread(mode);
        let ends = out.events("step_end");
        let tokens: Vec<_> = ends
            .iter()
            .map(|e| e["data"]["usage"]["input_tokens"].clone())
            .collect();
        assert_eq!(tokens, [json!(1000), json!(1000)], "{mode}");
        let reported = out.output_file("second.stream.jsonl");
        let expected = if mode == "cumulative" { 2000 } else { 1000 };
        assert!(
            reported.contains(&format!("\"input_tokens\":{expected}")),
            "{mode}: {reported}"
        );
    }
}

/// The value `argv` gives `--max-budget-usd`.
fn budget_flag(argv: &[String]) -> &str {
    let at = argv
        .iter()
        .position(|a| a == "--max-budget-usd")
        .expect("--max-budget-usd");
    &argv[at + 1]
}

#[test]
fn a_step_budget_covers_every_try_of_a_retried_step_and_a_try_at_its_limit_does_not_start() {
    let out = workflow(
        "",
        &headless(
            "flaky",
            "    budget: { max_cost_usd: 0.50 }\n    retry: { attempts: 3, backoff: 10ms, on: [exit_status] }\n",
        ),
    )
    .fake_script(
        "- [{spend: {cost_usd: 0.30}}, {exit: 1}]\n\
         - [{spend: {cost_usd: 0.20}}, {exit: 1}]\n\
         - [{spend: {cost_usd: 0.10}}]\n",
    )
    .status(1)
    .stderr_contains("  retry 2/3 in ")
    .stderr_contains("budget exceeded: $0.50 of $0.50 (step)")
    .run();
    let argvs = out.turn_argvs();
    assert_eq!(argvs.len(), 2, "the third try did not start");
    // The second try gets what the first left of the step's budget.
    assert_eq!(budget_flag(&argvs[0]), "0.5000");
    assert_eq!(budget_flag(&argvs[1]), "0.2000");
    let flaky = |outcome: &str| ("flaky".to_owned(), outcome.to_owned());
    assert_eq!(
        classes(&out),
        [
            flaky("failed exit_status"),
            flaky("failed exit_status"),
            flaky("failed budget")
        ]
    );
    assert_eq!(out.state()["last_failure"]["class"], "budget");
}

#[test]
fn a_run_budget_crossed_by_parallel_branches_together_stops_every_running_branch() {
    let branch = |id: &str| format!("      - {{ id: {id}, mode: headless, prompt: do {id} }}\n");
    let steps = "  - id: fan\n    parallel: true\n    steps:\n".to_owned()
        + &branch("a")
        + &branch("b")
        + &branch("c")
        + "  - id: after\n    command: touch after-ran\n";
    // Each branch alone would report 1,000 tokens every 300 ms for 6 s, far under the limit
    // for its first seconds; together they cross it.
    let turn = "- [{spend: {tokens: 20000, messages: 20, sleep_ms: 300}}]\n";
    let out = workflow("budget: { max_tokens: 5000 }\n", &steps)
        .fake_script(&turn.repeat(3))
        .status(1)
        .stderr_contains(" of 5,000 tokens (run)")
        .run();
    nothing_left(&out);
    assert!(!out.project().join("after-ran").exists());
    let ends: Vec<_> = out
        .events("step_end")
        .into_iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with("fan/")))
        .collect();
    let classes: Vec<_> = ends.iter().map(|e| &e["data"]["error"]["class"]).collect();
    assert_eq!(classes, ["budget", "budget", "budget"], "{}", out.stderr);
    // The branches ran at once and were stopped together, long before their ends (60,000
    // tokens): the overspend is one report (1,000 tokens) per running branch, and a loaded
    // machine may let each report once more before its SIGTERM lands.
    let spans = intervals(&out.audit(), "fan/");
    assert!(spans.len() >= 2, "{spans:?}");
    assert_eq!(most_at_once(&spans), spans.len(), "{spans:?}");
    let total: u64 = ends
        .iter()
        .map(|e| e["data"]["usage"]["total_tokens"].as_u64().unwrap_or(0))
        .sum();
    assert!((5001..=11_000).contains(&total), "{total}: {}", out.stderr);
    for name in out.output_files() {
        let stream =
            std::fs::read_to_string(out.run_dir().join("output").join(&name)).unwrap_or_default();
        assert!(!stream.contains("working 19"), "{name}: {stream}");
    }
    assert_eq!(out.state()["last_failure"]["class"], "budget");
}

/// The `cost_usd` (in millionths of a dollar) and total tokens of every `step_end` of an agent
/// step.
fn step_costs(out: &Output) -> Vec<(u64, u64)> {
    out.events("step_end")
        .iter()
        .filter_map(|e| {
            let cost = e["data"]["cost_usd"].as_f64()?;
            let tokens = e["data"]["usage"]["total_tokens"].as_u64()?;
            Some(((cost * 1e6).round() as u64, tokens))
        })
        .collect()
}

#[test]
fn a_resumed_claude_session_counts_only_each_steps_own_usage_also_after_a_resume_of_the_run() {
    let steps = headless("draft", "")
        + &headless("polish", "    session: resume\n")
        + "  - id: gate\n    command: test -f go\n"
        + &headless("finish", "    session: resume\n");
    let turn = "- [{spend: {cost_usd: 0.4, tokens: 4000}}]\n";
    for mode in ["cumulative", "per_invocation"] {
        // Counted whole, the third invocation ($1.20 reported) would cross the $1.50.
        let out = workflow("budget: { max_cost_usd: 1.50 }\n", &steps)
            .env("FAKE_CLAUDE_USAGE", mode)
            .fake_script(&turn.repeat(3))
            .status(1)
            .stderr_contains("failed: exit status 1")
            .run();
        assert_eq!(step_costs(&out), [(400_000, 4000); 2], "{mode}");
        let reported = out.output_file("polish.stream.jsonl");
        let expected = if mode == "cumulative" { 0.8 } else { 0.4 };
        assert!(
            reported.contains(&format!("\"total_cost_usd\":{expected}")),
            "{mode}: {reported}"
        );
        std::fs::write(out.project().join("go"), "").unwrap();
        // The resumed run knows what the session reported from the audit log.
        let out = out.again().args(["--resume"]).run();
        let costs = step_costs(&out);
        assert_eq!(costs.last(), Some(&(400_000, 4000)), "{mode}: {costs:?}");
        let ends = out.events("step_end");
        let models = &ends.last().unwrap()["data"]["usage"]["models"];
        assert_eq!(models["claude-haiku-5"]["input_tokens"], 1000, "{mode}");
    }
}
