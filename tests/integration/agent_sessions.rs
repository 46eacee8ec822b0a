//! Session strategies through the real binary (workflow-format.md §3, §6, §7, §12; cli.md §2
//! `--session`): which conversation each agent step starts or continues, across loop iterations,
//! groups and sub-workflows, as seen in the fake's argv log, the console and `state.json`; and
//! `show` listing the sessions and usage of a run.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::test::{ALL_CLIS, Output, Test, agent_workflow, headless_preamble};

/// How each claude turn handled its session: `new <id>` or `resume <id>`.
fn claude_sessions(out: &Output) -> Vec<String> {
    out.turn_argvs()
        .iter()
        .map(|argv| {
            let at = |flag: &str| {
                argv.iter()
                    .position(|a| a == flag)
                    .map(|i| argv[i + 1].clone())
            };
            match (at("--session-id"), at("--resume")) {
                (Some(id), None) => format!("new {id}"),
                (None, Some(id)) => format!("resume {id}"),
                other => panic!("no session flag in {argv:?}: {other:?}"),
            }
        })
        .collect()
}

#[test]
fn resume_continues_the_scope_session_across_loop_iterations_and_groups() {
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: first, mode: headless, prompt: p1}\n\
         \x20 - id: again\n    loop: {max: 2}\n    steps:\n\
         \x20     - {id: fix, mode: headless, prompt: fix}\n\
         \x20 - id: grp\n    steps:\n\
         \x20     - {id: inner, mode: headless, prompt: inner}\n\
         \x20 - {id: last, mode: headless, prompt: last}\n",
    )
    .run();
    let id = out.turn_session(0);
    assert_eq!(
        claude_sessions(&out),
        [
            format!("new {id}"),
            format!("resume {id}"),
            format!("resume {id}"),
            format!("resume {id}"),
            format!("resume {id}"),
        ]
    );
    assert_eq!(
        out.state()["scope"]["last_session"],
        json!({"step_id": "last", "cli": "claude", "session_id": id, "model": null, "effort": null})
    );
}

#[test]
fn resume_with_nothing_to_resume_starts_a_new_session() {
    let out = agent_workflow(
        "name: w\nsteps:\n  - {id: a, mode: headless, session: resume, prompt: p}\n",
    )
    .run();
    let id = out.turn_session(0);
    assert_eq!(claude_sessions(&out), [format!("new {id}")]);
    assert!(
        out.stderr.contains(&format!(
            "==> 1/1 a [headless claude, session resume]\n  session: {id} (new, nothing to resume)\n"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn first_agent_step_in_a_loop_body_starts_fresh_every_iteration() {
    let out = agent_workflow(
        "name: w\nsteps:\n  - id: lp\n    loop: {max: 2}\n    steps:\n\
         \x20     - {id: work, mode: headless, prompt: w}\n\
         \x20     - {id: more, mode: headless, prompt: m}\n",
    )
    .run();
    let (one, two) = (out.turn_session(0), out.turn_session(2));
    assert_ne!(one, two);
    assert_eq!(
        claude_sessions(&out),
        [
            format!("new {one}"),
            format!("resume {one}"),
            format!("new {two}"),
            format!("resume {two}"),
        ]
    );
}

#[test]
fn sub_workflow_starts_fresh_inherits_on_request_and_leaks_nothing_upward() {
    let out = Test::new()
        .fake_clis(ALL_CLIS)
        .workflow(
            "root",
            "name: Root Flow\nsteps:\n\
             \x20 - {id: a, mode: headless, model: opus, prompt: a}\n\
             \x20 - {id: call, workflow: child}\n\
             \x20 - {id: c, mode: headless, prompt: c}\n",
        )
        .workflow(
            "child",
            "name: child\nsteps:\n\
             \x20 - {id: x, mode: headless, prompt: x}\n\
             \x20 - {id: y, mode: headless, session: inherit, prompt: y}\n\
             \x20 - {id: z, mode: headless, prompt: z}\n",
        )
        .arg("root")
        .run();
    let (a, x) = (out.turn_session(0), out.turn_session(1));
    assert_ne!(a, x, "the child's first agent step starts fresh");
    assert_eq!(
        claude_sessions(&out),
        [
            format!("new {a}"),
            format!("new {x}"),
            format!("resume {a}"),
            format!("resume {a}"),
            format!("resume {a}"),
        ]
    );
    let argvs = out.turn_argvs();
    // The inherited session keeps its model; the framing names the root workflow.
    assert!(
        argvs[2].windows(2).any(|w| w == ["--model", "opus"]),
        "{:?}",
        argvs[2]
    );
    let framing = |n: usize| {
        let argv = &argvs[n];
        let at = argv
            .iter()
            .position(|a| a == "--append-system-prompt")
            .unwrap();
        argv[at + 1].clone()
    };
    assert_eq!(framing(1), headless_preamble("x", "Root Flow"));
    assert_eq!(framing(2), headless_preamble("y", "Root Flow"));
}

#[test]
fn named_sessions_are_shared_by_loops_and_sub_workflows() {
    let decl = "sessions:\n  - {name: planner, model: opus, effort: low}\n";
    let out = Test::new()
        .fake_clis(ALL_CLIS)
        .workflow(
            "root",
            &format!(
                "name: root\n{decl}steps:\n\
                 \x20 - {{id: other, mode: headless, prompt: o}}\n\
                 \x20 - id: lp\n    loop: {{max: 2}}\n    steps:\n\
                 \x20     - {{id: plan, mode: headless, session: planner, prompt: p}}\n\
                 \x20 - {{id: call, workflow: child}}\n"
            ),
        )
        .workflow(
            "child",
            &format!(
                "name: child\n{decl}steps:\n  - {{id: more, mode: headless, session: planner, prompt: m}}\n"
            ),
        )
        .arg("root")
        .run();
    let (other, planner) = (out.turn_session(0), out.turn_session(1));
    assert_ne!(other, planner);
    assert_eq!(
        claude_sessions(&out),
        [
            format!("new {other}"),
            format!("new {planner}"),
            format!("resume {planner}"),
            format!("resume {planner}"),
        ]
    );
    for argv in &out.turn_argvs()[1..] {
        assert!(
            argv.windows(4)
                .any(|w| w == ["--model", "opus", "--effort", "low"]),
            "{argv:?}"
        );
    }
    assert_eq!(
        out.state()["named_sessions"],
        json!({"planner": {"cli": "claude", "session_id": planner, "model": "opus", "effort": "low"}})
    );
    let hows: Vec<String> = out
        .events("session")
        .iter()
        .map(|e| e["data"]["how"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hows, ["preassigned", "preassigned", "named", "named"]);
}

/// Runs `seed` (one new claude session) and returns its output and the session id.
fn seeded() -> (Output, String) {
    let out = Test::new()
        .fake_clis(ALL_CLIS)
        .workflow("seed", "name: seed\nsteps:\n  - {id: s, mode: headless, prompt: s}\n")
        .workflow(
            "w",
            "name: w\nsteps:\n\
             \x20 - {id: a, mode: headless, session: resume, prompt: a}\n\
             \x20 - {id: b, mode: headless, prompt: b}\n",
        )
        .workflow(
            "cx",
            "name: cx\ndefaults: {cli: codex}\nsteps:\n  - {id: a, mode: headless, session: resume, prompt: a}\n",
        )
        .arg("seed")
        .run();
    let id = out.turn_session(0);
    (out, id)
}

#[test]
fn session_option_seeds_the_first_resume_step() {
    let (out, id) = seeded();
    let out = out.again().args(["--session", &id, "w"]).run();
    let argvs = out.turn_argvs();
    assert_eq!(argvs.len(), 3);
    let sessions = claude_sessions(&out);
    assert_eq!(
        sessions[1..],
        [format!("resume {id}"), format!("resume {id}")]
    );
    assert!(
        out.stderr.contains(&format!("  session: {id} (resumed)\n")),
        "{}",
        out.stderr
    );
    let run = out.run_dirs().pop().unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["seed_session"]["id"], id);
}

#[test]
fn session_option_with_a_cli_prefix_seeds_only_that_cli() {
    let (out, id) = seeded();
    let out = out
        .again()
        .args(["--session", &format!("claude:{id}"), "w"])
        .run();
    assert_eq!(claude_sessions(&out)[1], format!("resume {id}"));
    // A codex step does not take a claude seed: it starts its own session.
    let out = out
        .again()
        .args(["--session", &format!("claude:{id}"), "cx"])
        .run();
    let turns = out.turns();
    let last = turns.last().unwrap();
    assert_eq!(last["cli"], "codex");
    let argv: Vec<&str> = last["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(!argv.contains(&"resume"), "{argv:?}");
    assert!(
        out.stderr.contains("(new, nothing to resume)"),
        "{}",
        out.stderr
    );
}

#[test]
fn show_lists_sessions_and_usage_of_agent_steps() {
    let out = agent_workflow(
        "name: w\nsteps:\n\
         \x20 - {id: plan, mode: headless, model: opus, prompt: p}\n\
         \x20 - {id: cx, mode: headless, cli: codex, session: new, prompt: c}\n",
    )
    .run();
    let (claude, codex) = (out.turn_session(0), out.turn_session(1));
    let show = out.again().arg("show").run();
    let row = |id: &str| {
        show.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no row for {id}:\n{}", show.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        row("plan").ends_with(&format!("12 in / 310 out $0.04 {claude}")),
        "{}",
        row("plan")
    );
    assert!(
        row("cx").ends_with(&format!("24.8k in / 422 out - {codex}")),
        "{}",
        row("cx")
    );
    assert!(
        show.stdout
            .contains("usage: 24.8k input / 732 output tokens, $0.04 (cost unknown for 1 steps)\n"),
        "{}",
        show.stdout
    );
}
