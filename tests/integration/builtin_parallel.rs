//! End-to-end runs of the built-ins that run agents side by side (control.md §8): `parallel-tasks`
//! (one agent per unchecked task, each in its own worktree) and `debate` (both sides of a round
//! at once). Concurrent agents make the fakes' global turn order nondeterministic, so the scripts
//! pick each turn by a text of its prompt (`by_prompt`).

use crate::builtin_support::{git, git_repo, project_git, turns, with_fakes};
use crate::run_parallel::{intervals, most_at_once};
use crate::test::Test;

const PLAN: &str = "# Plan\n\n\
- [x] 1. Set up the project\n\
- [ ] 2. Add the greeting\n  Done when greeting.txt says hello.\n\n\
- [ ] 3. Add the farewell\n  Done when farewell.txt says bye.\n\
Notes that are not part of a task.\n\
- [ ] 4. Break the build\n";

/// Each task's agent writes its file after a pause (so that the agents overlap); the third
/// task's work fails the checks, and its fix turns change nothing (each answers, structured,
/// that it fixed the failure).
const SCRIPT: &str = "\
by_prompt:
  - contains: \"The project's checks failed\"
    turns: [[{json: {status: fixed, summary: Tried.}}], [{json: {status: fixed, summary: Tried.}}], [{json: {status: fixed, summary: Tried.}}]]
  - contains: \"2. Add the greeting\"
    turns: [[{sleep_ms: 400}, {write_file: {path: greeting.txt, content: hello}}, {text: Greeted.}]]
  - contains: \"3. Add the farewell\"
    turns: [[{sleep_ms: 400}, {write_file: {path: farewell.txt, content: bye}}, {text: Said bye.}]]
  - contains: \"4. Break the build\"
    turns: [[{sleep_ms: 400}, {write_file: {path: broken.txt, content: oops}}, {text: Broke it.}]]
";

#[test]
fn parallel_tasks_implements_each_unchecked_task_in_its_own_worktree_and_lists_the_branches() {
    let test = git_repo(Test::new().write("plan.md", PLAN));
    let out = with_fakes(test, SCRIPT)
        .args([
            "parallel-tasks",
            "plan.md",
            "max_parallel=2",
            "validate_command=test ! -e broken.txt || { echo the build is broken; exit 1; }",
        ])
        .status(1)
        .run();
    let run = out.run_id();
    let branch = |slug: &str| format!("agent-runner/{run}/{slug}");
    assert!(
        out.stdout.contains(&format!(
            "Ready to merge:\n  {} (1 commit): 2. Add the greeting\n  {} (1 commit): 3. Add the \
             farewell\nNot ready:\n  {} (checks failed, 1 commit): 4. Break the build\nMerge a \
             branch with \"git merge <branch>\" and tick its task off in plan.md; \
             \"agent-runner worktrees prune {run}\" then removes the worktrees of the merged \
             branches.\n",
            branch("0-01-add-the-greeting"),
            branch("1-02-add-the-farewell"),
            branch("2-03-break-the-build"),
        )),
        "{}",
        out.stdout
    );
    // Each task's work is one commit on its own branch, with the task's line as the message.
    for (slug, file, content) in [
        ("0-01-add-the-greeting", "greeting.txt", "hello"),
        ("1-02-add-the-farewell", "farewell.txt", "bye"),
        ("2-03-break-the-build", "broken.txt", "oops"),
    ] {
        assert_eq!(
            project_git(&out, &["show", &format!("{}:{file}", branch(slug))]),
            content
        );
        assert_eq!(
            project_git(
                &out,
                &["rev-list", "--count", &format!("main..{}", branch(slug))]
            ),
            "1"
        );
    }
    assert_eq!(
        project_git(
            &out,
            &["log", "-1", "--format=%s", &branch("0-01-add-the-greeting")]
        ),
        "2. Add the greeting"
    );
    // The project's own checkout is untouched: no work, the plan not ticked off.
    let project = out.project();
    assert!(!project.join("greeting.txt").exists());
    assert_eq!(out.read("plan.md"), PLAN);
    assert_eq!(git(&project, &["status", "--porcelain"]), "");
    // One agent per unchecked task, told its task with its definition of done; three fix turns
    // for the broken task; the checked task is never worked on.
    let turns = turns(&out);
    assert_eq!(turns.len(), 6, "three tasks and three fix attempts");
    let greeting = turns
        .iter()
        .find(|t| t.argv.contains("from plan.md:\n\n2. Add the greeting"))
        .expect("the greeting task's turn");
    greeting.assert_prompt_has(
        "Implement this task from plan.md:\n\n2. Add the greeting\n  Done when greeting.txt says \
         hello.\n\nYou are working in a git worktree of your own, on a branch made for this task, \
         while other agents work on the other tasks of the plan in their own worktrees. Implement \
         only this task, including its tests. Do not edit plan.md and do not commit; the \
         workflow commits your work on this branch after the checks pass.",
    );
    assert!(turns.iter().all(|t| !t.argv.contains("Set up the project")));
    assert!(turns.iter().all(|t| !t.argv.contains("Notes that are not")));
    let fixes = turns
        .iter()
        .filter(|t| t.argv.contains("The project's checks failed"))
        .count();
    assert_eq!(fixes, 3, "a fix after each of the three failed checks");
    // The agents worked side by side, never more than max_parallel at once.
    let implement: std::collections::BTreeMap<_, _> = intervals(&out.audit(), "tasks[")
        .into_iter()
        .filter(|(path, _)| path.ends_with("/implement"))
        .collect();
    assert_eq!(implement.len(), 3, "{implement:?}");
    assert_eq!(most_at_once(&implement), 2, "{implement:?}");
}

#[test]
fn parallel_tasks_reads_an_openspec_changes_tasks_and_says_where_the_change_is_described() {
    let test = git_repo(Test::new().write(
        "openspec/changes/add-login/tasks.md",
        "## 1. Login\n- [ ] 1.1 Add the login form\n- [x] 1.2 Style it\n",
    ));
    let out = with_fakes(
        test,
        "[[{write_file: {path: login.txt, content: form}}, {text: Done.}]]",
    )
    .args(["parallel-tasks", "add-login", "allow_unchecked=yes"])
    .run();
    let turns = turns(&out);
    assert_eq!(turns.len(), 1);
    turns[0].assert_prompt_has(
        "Implement this task from openspec/changes/add-login/tasks.md:\n\n1.1 Add the login \
         form\n\nThe change is described in openspec/changes/add-login/ (proposal.md, design.md, \
         specs/). Read what you need.\n\nYou are working",
    );
    let run = out.run_id();
    assert!(
        out.stdout.contains(&format!(
            "Ready to merge:\n  agent-runner/{run}/0-01-add-the-login-form (1 commit): 1.1 \
             Add the login form\n"
        )),
        "{}",
        out.stdout
    );
    // With every task checked, there is nothing to do.
    let project = out.project();
    std::fs::write(
        project.join("openspec/changes/add-login/tasks.md"),
        "- [x] 1.1 Add the login form\n",
    )
    .unwrap();
    let again = out
        .again()
        .args(["parallel-tasks", "add-login"])
        .stdout_contains(
            "No unchecked task in openspec/changes/add-login/tasks.md: nothing to do.\n",
        )
        .run();
    assert_eq!(turns_count(&again), 1, "no agent ran the second time");
}

fn turns_count(out: &crate::test::Output) -> usize {
    turns(out).len()
}

#[test]
fn parallel_tasks_without_a_plan_says_what_to_pass() {
    let test = git_repo(Test::new());
    with_fakes(test, "")
        .args(["parallel-tasks", "nothing-here"])
        .status(1)
        .stderr_contains(
            "no plan \"nothing-here\": pass the name of an OpenSpec change (with \
             openspec/changes/<name>/tasks.md) or the path of a Markdown checklist",
        )
        .run();
}

// ---- debate ----

/// Both sides' turns in each round, by CLI (they run at the same time), then the summary and the
/// action in order.
fn debate_script(claude: &[&str], codex: &[&str], rest: &[&str]) -> String {
    let list = |turns: &[&str]| {
        turns
            .iter()
            .map(|t| format!("      - [{t}]\n"))
            .collect::<String>()
    };
    format!(
        "by_prompt:\n  - contains: \"Debate, round\"\n    cli: claude\n    turns:\n{}  - contains: \"Debate, round\"\n    cli: codex\n    turns:\n{}turns:\n{}",
        list(claude),
        list(codex),
        rest.iter()
            .map(|t| format!("  - [{t}]\n"))
            .collect::<String>()
    )
}

const TAIL: &str = "State your position and your strongest reasons, answer the other side's points \
                    directly, and change your mind where they are right. Investigate the code if \
                    it helps; do not edit files. Answer with your argument and a verdict: \
                    `agree`, `disagree` or `partial`, saying whether you now agree with the other \
                    side's position (use partial in round 0).";

#[test]
fn debate_runs_both_sides_at_once_until_both_verdicts_agree_then_summarises_and_acts() {
    let script = debate_script(
        &[
            "{sleep_ms: 300}, {json: {argument: \"Tabs: they are one byte.\", verdict: partial}}",
            "{json: {argument: \"Fine, spaces.\", verdict: agree}}",
        ],
        &[
            "{sleep_ms: 300}, {json: {argument: \"Spaces: they look the same everywhere.\", verdict: partial}}",
            "{json: {argument: \"Spaces it is.\", verdict: agree}}",
        ],
        &[
            "{text: \"Both sides settled on spaces.\"}",
            "{write_file: {path: .editorconfig, content: \"indent_style = space\\n\"}}, {text: Done.}",
        ],
    );
    let out = with_fakes(Test::new(), &script)
        .args([
            "debate",
            "Tabs or spaces?",
            "action=Write the .editorconfig",
        ])
        .run();
    let turns = turns(&out);
    assert_eq!(
        turns.len(),
        6,
        "two rounds of two turns, the summary, the action"
    );
    let of = |cli: &str, round: u32| {
        turns[..4]
            .iter()
            .find(|t| t.cli == cli && t.argv.contains(&format!("Debate, round {round}.")))
            .unwrap_or_else(|| panic!("no {cli} turn in round {round}"))
    };
    of("claude", 0).assert_prompt_has(&format!(
        "Debate, round 0. Question: Tabs or spaces?\n\n{TAIL}"
    ));
    of("codex", 0).assert_prompt_has(&format!(
        "Debate, round 0. Question: Tabs or spaces?\n\n{TAIL}"
    ));
    // Each side answers the other side's argument of the previous round.
    of("claude", 1).assert_prompt_has(&format!(
        "Debate, round 1. Question: Tabs or spaces?\n\nThe other side's latest argument:\n\
         Spaces: they look the same everywhere.\n\n{TAIL}"
    ));
    of("codex", 1).assert_prompt_has(&format!(
        "Debate, round 1. Question: Tabs or spaces?\n\nThe other side's latest argument:\nTabs: \
         they are one byte.\n\n{TAIL}"
    ));
    // The answers are structured: each CLI got the position schema its native way.
    assert!(of("claude", 0).argv.contains("--json-schema"));
    assert!(of("codex", 0).argv.contains("--output-schema"));
    turns[4].assert_prompt_has(&format!(
        "Summarise the debate on: Tabs or spaces?\n\nLast position A:\nFine, spaces.\n\nLast \
         position B:\nSpaces it is.\n\nList the points of agreement, the remaining \
         disagreements, and your recommendation. Write it to {}/debate-summary.md and reply with \
         the summary.",
        turns[0].run_dir
    ));
    turns[5].assert_prompt_has(
        "Write the .editorconfig\n\nBase your work on the outcome of our debate:\nBoth sides \
         settled on spaces.",
    );
    // Each side keeps its conversation; the summary is fresh; the action continues "pro".
    assert_eq!(of("claude", 1).session_id, of("claude", 0).session_id);
    assert_eq!(of("codex", 1).session_id, of("codex", 0).session_id);
    assert_ne!(of("codex", 0).session_id, of("claude", 0).session_id);
    assert_ne!(turns[4].session_id, of("claude", 0).session_id);
    assert_eq!(turns[5].session_id, of("claude", 0).session_id);
    assert_eq!(out.read(".editorconfig"), "indent_style = space\n");
    // The two sides of round 0 ran at the same time.
    let round0 = intervals(&out.audit(), "rounds[0]/turns/");
    assert_eq!(round0.len(), 2, "{round0:?}");
    assert_eq!(most_at_once(&round0), 2, "{round0:?}");
}

#[test]
fn debate_without_agreement_still_summarises_and_skips_the_action() {
    let script = debate_script(
        &[
            "{json: {argument: Tabs., verdict: partial}}",
            "{json: {argument: Still tabs., verdict: disagree}}",
        ],
        &[
            "{json: {argument: Spaces., verdict: partial}}",
            "{json: {argument: I agree., verdict: agree}}",
        ],
        &[
            "{text: \"No agreement.\"}",
            "{text: \"must not run\"}, {exit: 9}",
        ],
    );
    let out = with_fakes(Test::new(), &script)
        .args(["debate", "Tabs or spaces?", "rounds=2"])
        .run();
    let turns = turns(&out);
    assert_eq!(turns.len(), 5, "two rounds and the summary; no action");
    turns[4].assert_prompt_has("Last position A:\nStill tabs.\n\nLast position B:\nI agree.\n\n");
}
