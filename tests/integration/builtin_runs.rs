//! End-to-end runs of the built-in workflows (except flokay, which has its own file) with the fake
//! agent CLIs: each test scripts the agents' turns, runs the real binary in a temp project (a git
//! repository with a bare `origin` where the workflow pushes), and checks the exit status, the
//! files, the commits, the pushed branches, the prompts and sessions the agents got, and the fake
//! `gh` calls.

use crate::builtin_support::{
    PR_URL, clis, flag, gh_calls, git_repo, project_git, remote_git, turns, with_fakes,
};
use crate::test::Test;

// ---- core/run-validator ----

#[test]
fn run_validator_fixes_and_passes_on_the_second_attempt() {
    let out = with_fakes(
        Test::new(),
        "- [{write_file: {path: fixed.txt, content: ok}}, {json: {status: fixed, summary: Created fixed.txt.}}]\n",
    )
    .args([
        "core/run-validator",
        "validate_command=test -f fixed.txt || { echo 'fixed.txt is missing'; exit 1; }",
        "goal=Add fixed.txt",
    ])
    .run();
    let turns = turns(&out);
    assert_eq!(clis(&turns), ["claude"], "one fix turn");
    turns[0].assert_prompt_has(
        "The project's checks failed (attempt 0 of 3). The work being checked: Add fixed.txt. \
         Output:\n\nfixed.txt is missing\n\nFind and fix the cause in the code. Do not delete or \
         weaken tests unless they are clearly wrong, and say so if you change one. Do not commit. \
         Answer with the status fixed when you changed the code to fix the failure, or blocked \
         when it cannot be fixed in the code (say why in the summary).",
    );
    // The answer is asked for through claude's native structured output.
    turns[0].assert_prompt_has("--json-schema");
    assert_eq!(out.read("fixed.txt"), "ok");
}

/// A fix turn that answers `blocked` ends the attempts at once, with the agent's reason.
#[test]
fn run_validator_stops_when_the_agent_says_the_failure_cannot_be_fixed() {
    let out = with_fakes(
        Test::new(),
        "- [{json: {status: blocked, summary: \"The database server is not running; that is not a code problem.\"}}]\n",
    )
    .args([
        "core/run-validator",
        "validate_command=echo cannot connect; exit 1",
        "max_attempts=3",
    ])
    .status(1)
    .stderr_contains(
        "the agent cannot fix the failing checks: The database server is not running; that is not a code problem.",
    )
    .run();
    assert_eq!(clis(&turns(&out)), ["claude"], "no second attempt");
}

#[test]
fn run_validator_fails_when_every_attempt_fails() {
    let fixed = "- [{json: {status: fixed, summary: Tried.}}]\n";
    let out = with_fakes(Test::new(), &fixed.repeat(2))
        .args([
            "core/run-validator",
            "validate_command=echo still broken; exit 1",
            "max_attempts=2",
        ])
        .status(1)
        .stderr_contains(
            "loop \"attempts\" ran all 2 iterations without meeting its break_if condition",
        )
        .run();
    let turns = turns(&out);
    assert_eq!(clis(&turns), ["claude", "claude"]);
    turns[1].assert_prompt_has("(attempt 1 of 2). Output:\n\nstill broken\n\n");
    // The second attempt continues the first attempt's conversation.
    assert_eq!(turns[0].session_id, turns[1].session_id);
}

#[test]
fn run_validator_finds_the_project_validator() {
    let out = with_fakes(Test::new(), "")
        .write(
            ".agent-runner/validate",
            "#!/bin/sh\necho project checks ran > ran.txt\n",
        )
        .args(["core/run-validator"]);
    let path = out.project().join(".agent-runner/validate");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = out.run();
    assert_eq!(out.read("ran.txt"), "project checks ran\n");
    assert!(turns(&out).is_empty(), "no fix was needed");
}

#[test]
fn run_validator_without_a_validator_fails_unless_the_user_allows_unchecked_work() {
    let out = with_fakes(Test::new(), "")
        .args(["core/run-validator"])
        .status(1)
        .stderr_contains("no validator found: pass validate_command, add an executable .agent-runner/validate, or set allow_unchecked=yes to accept the work without a check")
        .run();
    assert!(
        turns(&out).is_empty(),
        "no agent tries to fix a missing validator"
    );
    let out = with_fakes(Test::new(), "")
        .args(["core/run-validator", "allow_unchecked=yes"])
        .stderr_contains("no validator found; the work is accepted without a check because allow_unchecked is set")
        .run();
    assert!(turns(&out).is_empty());
}

#[test]
fn implement_task_never_ticks_a_task_off_when_no_validator_ran() {
    let test = git_repo(Test::new().write("tasks.md", TASKS));
    let out = with_fakes(
        test,
        "- [{write_file: {path: hello.txt, content: hello}}, {text: Added hello.txt.}]\n",
    )
    .args(["core/implement-task", "tasks.md"])
    .status(1)
    .stderr_contains("no validator found")
    .run();
    assert_eq!(out.read("tasks.md"), TASKS, "nothing is checked off");
    assert_eq!(project_git(&out, &["log", "--format=%s"]), "initial");
}

// ---- core/implement-task ----

const TASKS: &str = "# Tasks\n\n- [x] 1. Set up\n- [ ] 2. Add hello.txt\n  Done when hello.txt exists.\n- [ ] 3. Add bye.txt\n";

#[test]
fn implement_task_implements_checks_off_and_commits_the_next_task() {
    let test = git_repo(Test::new().write("tasks.md", TASKS));
    let out = with_fakes(
        test,
        "- [{write_file: {path: hello.txt, content: hello}}, {text: Added hello.txt.}]\n",
    )
    .args([
        "core/implement-task",
        "tasks.md",
        "context=Keep it short.",
        "validate_command=test -f hello.txt",
    ])
    .run();
    let turns = turns(&out);
    assert_eq!(
        clis(&turns),
        ["claude"],
        "the checks passed at once: no fix turn"
    );
    turns[0].assert_prompt_has(
        "Implement this task from tasks.md:\n\n2. Add hello.txt\n\nKeep it short.\n\nRead the \
         task's definition of done in tasks.md. Implement only this task, including its tests. \
         Do not edit tasks.md and do not commit; the workflow does both after the checks pass.",
    );
    assert_eq!(
        out.read("tasks.md"),
        "# Tasks\n\n- [x] 1. Set up\n- [x] 2. Add hello.txt\n  Done when hello.txt exists.\n- [ ] 3. Add bye.txt\n"
    );
    assert_eq!(
        project_git(&out, &["log", "-1", "--format=%s"]),
        "2. Add hello.txt"
    );
    assert_eq!(
        project_git(&out, &["show", "--name-only", "--format=", "HEAD"]),
        "hello.txt\ntasks.md"
    );
    assert_eq!(project_git(&out, &["status", "--porcelain"]), "");
}

#[test]
fn implement_task_stops_before_check_off_when_the_checks_keep_failing() {
    let test = git_repo(Test::new().write("tasks.md", TASKS));
    let script = format!(
        "- [{{text: Done.}}]\n{}",
        "- [{json: {status: fixed, summary: Tried.}}]\n".repeat(3)
    );
    let out = with_fakes(test, &script)
        .args(["core/implement-task", "tasks.md", "validate_command=false"])
        .status(1)
        .run();
    // code, then three fix attempts.
    assert_eq!(turns(&out).len(), 4);
    assert_eq!(out.read("tasks.md"), TASKS, "nothing is checked off");
    assert_eq!(project_git(&out, &["log", "--format=%s"]), "initial");
}

// ---- core/finalize-pr ----

const PR_TEXT: &str = "Add a greeting\n\n## Summary\nSays hello.\n\n## Changes\n- hello.txt\n\n## Testing\nNone needed.";

#[test]
fn finalize_pr_commits_pushes_and_opens_the_pr() {
    let test = git_repo(Test::new());
    let project = test.project();
    crate::builtin_support::git(&project, &["switch", "-q", "-c", "feature"]);
    std::fs::write(project.join("hello.txt"), "hello\n").unwrap();
    let out = with_fakes(test, &format!("- [{{text: {PR_TEXT:?}}}]\n"))
        .args([
            "core:finalize-pr",
            "title=Add greeting",
            "notes=Closes #7.",
            "draft=yes",
        ])
        .stdout_contains(&format!("{PR_URL}\n"))
        .run();
    // The leftover change is committed with the title, and the branch is on the remote.
    assert_eq!(
        project_git(&out, &["log", "-1", "--format=%s"]),
        "Add greeting"
    );
    assert_eq!(
        remote_git(&out, &["rev-parse", "feature"]),
        project_git(&out, &["rev-parse", "HEAD"])
    );
    assert_eq!(
        project_git(&out, &["rev-parse", "--abbrev-ref", "feature@{upstream}"]),
        "origin/feature"
    );
    let turns = turns(&out);
    assert_eq!(clis(&turns), ["claude"]);
    turns[0].assert_prompt_has(
        "Write a pull request for the changes between main and HEAD. Use git log and git diff to \
         see what really changed. The first line is the title, at most 72 characters, based on: \
         Add greeting. Then an empty line, then the body in Markdown with the sections Summary, \
         Changes and Testing. Also mention: Closes #7. Reply with the pull request text only.",
    );
    let calls = gh_calls(&out);
    let create = calls
        .iter()
        .find(|c| c.starts_with(&["pr".into(), "create".into()]))
        .unwrap_or_else(|| panic!("no gh pr create in {calls:?}"));
    assert_eq!(flag(create, "--base"), Some("main"));
    assert_eq!(flag(create, "--title"), Some("Add a greeting"));
    assert_eq!(
        flag(create, "--body"),
        Some("## Summary\nSays hello.\n\n## Changes\n- hello.txt\n\n## Testing\nNone needed.")
    );
    assert_eq!(create.last().map(String::as_str), Some("--draft"));
    assert_eq!(
        calls.last().unwrap(),
        &["pr", "view", "--json", "url", "--jq", ".url"]
    );
}

#[test]
fn finalize_pr_with_a_clean_tree_and_an_open_pr_only_pushes_and_prints_the_url() {
    let test = git_repo(Test::new());
    let project = test.project();
    crate::builtin_support::git(&project, &["switch", "-q", "-c", "feature"]);
    crate::builtin_support::git(&project, &["commit", "-q", "--allow-empty", "-m", "work"]);
    std::fs::create_dir_all(test.path().join("gh")).unwrap();
    std::fs::write(test.path().join("gh/pr"), "feature\n").unwrap();
    let out = with_fakes(test, &format!("- [{{text: {PR_TEXT:?}}}]\n"))
        .args(["core/finalize-pr"])
        .stdout_contains(&format!("{PR_URL}\n"))
        .run();
    assert_eq!(
        project_git(&out, &["log", "-1", "--format=%s"]),
        "work",
        "no new commit"
    );
    assert_eq!(
        remote_git(&out, &["log", "-1", "--format=%s", "feature"]),
        "work"
    );
    let calls = gh_calls(&out);
    assert!(
        calls
            .iter()
            .all(|c| c.get(1).map(String::as_str) != Some("create")),
        "no second PR: {calls:?}"
    );
}

// ---- until-done ----

const CHECKLIST: &str = "- [ ] 1. Write the intro\n- [ ] 2. Write the outro\n";

#[test]
fn until_done_ends_when_every_item_is_checked() {
    let script = format!(
        "- [{{write_file: {{path: \"$AGENT_RUNNER_RUN_DIR/checklist.md\", content: {CHECKLIST:?}}}}}, {{text: Planned.}}]\n\
         - [{{check_off: \"$AGENT_RUNNER_RUN_DIR/checklist.md\"}}, {{text: Intro done.}}]\n\
         - [{{check_off: \"$AGENT_RUNNER_RUN_DIR/checklist.md\"}}, {{text: Outro done.}}]\n\
         - [{{text: \"an extra round must not run\"}}, {{exit: 9}}]\n"
    );
    let out = with_fakes(Test::new(), &script)
        .args(["until-done", "Write the docs"])
        .stdout_contains("all items done")
        .run();
    let turns = turns(&out);
    assert_eq!(clis(&turns), ["claude"; 3], "plan and two rounds");
    let checklist = format!("{}/checklist.md", turns[0].run_dir);
    turns[0].assert_prompt_has(&format!(
        "Goal: Write the docs\n\nBreak this goal into a checklist in {checklist}, one line per \
         task, formatted exactly `- [ ] <n>. <task>`. Make each task small and checkable. Do not \
         start the work yet."
    ));
    turns[1].assert_prompt_has(&format!(
        "Round 0. Work through {checklist} towards the goal: Write the docs.\nWhen you finish a \
         task, verify it, then change its `- [ ]` to `- [x]`. If a task cannot be done, change it \
         to `- [!]` and add an indented line that says why. Never mark a task done without \
         checking it."
    ));
    turns[2].assert_prompt_has(&format!(
        "Round 1. Work through {checklist} towards the goal: Write the docs. These items are \
         still unchecked:\n- [ ] 2. Write the outro\nWhen you finish"
    ));
    // The rounds continue the plan conversation, headless.
    assert!(turns.iter().all(|t| t.session_id == turns[0].session_id));
    assert!(turns.iter().all(|t| t.mode == "headless"));
    assert_eq!(
        std::fs::read_to_string(&checklist).unwrap(),
        "- [x] 1. Write the intro\n- [x] 2. Write the outro\n"
    );
}

#[test]
fn until_done_reports_blocked_items_and_fails() {
    let script = format!(
        "- [{{write_file: {{path: \"$AGENT_RUNNER_RUN_DIR/checklist.md\", content: {CHECKLIST:?}}}}}, {{text: Planned.}}]\n\
         - [{{sh: \"printf '%s\\\\n' '- [x] 1. Write the intro' '- [!] 2. Write the outro' '  no outro exists' > $AGENT_RUNNER_RUN_DIR/checklist.md\"}}, {{text: Blocked.}}]\n"
    );
    let out = with_fakes(Test::new(), &script)
        .args(["until-done", "Write the docs"])
        .status(1)
        .stdout_contains("- [!] 2. Write the outro")
        .run();
    assert_eq!(turns(&out).len(), 2, "the blocked list ends the rounds");
    assert!(!out.stdout.contains("all items done"), "{}", out.stdout);
}

#[test]
fn until_done_fails_when_the_rounds_run_out() {
    let script = format!(
        "- [{{write_file: {{path: \"$AGENT_RUNNER_RUN_DIR/checklist.md\", content: {CHECKLIST:?}}}}}, {{text: Planned.}}]\n"
    );
    let out = with_fakes(Test::new(), &script)
        .args(["until-done", "Write the docs", "max_rounds=2"])
        .status(1)
        .stderr_contains(
            "loop \"rounds\" ran all 2 iterations without meeting its break_if condition",
        )
        .run();
    assert_eq!(turns(&out).len(), 3);
}

// ---- autonomous ----

const PLAN: &str = "# Plan\n\n## Milestones\n- [ ] M1: greeting\n- [ ] M2: farewell\n\n## Rules\n- keep it small\n";

/// The autonomous turns: assess, then (review, implement) for M1 and M2, then the review that
/// says done. The reviews answer structured JSON (codex's `--output-schema`).
fn autonomous_script() -> String {
    let implement = |file: &str, msg: &str| {
        format!(
            "- [{{sh: \"echo {file} > {file}.txt && git add {file}.txt && git commit -qm '{msg}' && echo '{msg}' >> $AGENT_RUNNER_RUN_DIR/worklog.md\"}}, {{check_off: \"$AGENT_RUNNER_RUN_DIR/plan.md\"}}, {{text: \"{msg} done.\"}}]\n"
        )
    };
    format!(
        "- [{{write_file: {{path: \"$AGENT_RUNNER_RUN_DIR/plan.md\", content: {PLAN:?}}}}}, {{text: Planned.}}]\n\
         - [{{json: {{verdict: continue, required_fixes: [], suggestions: []}}}}]\n{}\
         - [{{json: {{verdict: continue, required_fixes: [Add a test for M1.], suggestions: [Keep it short.]}}}}]\n{}\
         - [{{json: {{verdict: done, required_fixes: [], suggestions: []}}}}]\n",
        implement("hello", "M1: greeting"),
        implement("bye", "M2: farewell"),
    )
}

#[test]
fn autonomous_cycles_until_the_reviewer_says_done() {
    let test = git_repo(Test::new());
    let out = with_fakes(test, &autonomous_script())
        .args(["autonomous", "Greet and say goodbye"])
        .run();
    let turns = turns(&out);
    assert_eq!(
        clis(&turns),
        ["claude", "codex", "claude", "codex", "claude", "codex"],
        "the third review's verdict ends the cycles before a third implementation"
    );
    let dir = &turns[0].run_dir;
    turns[0].assert_prompt_has(&format!(
        "Task: Greet and say goodbye\n\nStudy the codebase and write a plan to {dir}/plan.md. It \
         has a 'Milestones' checklist, one per line as `- [ ] M<n>: <milestone>`, each small \
         enough for one implementation cycle and verifiable by tests, and a 'Rules' section \
         (conventions to follow, areas not to touch). Do not change any code yet."
    ));
    turns[3].assert_prompt_has(&format!(
        "You are the reviewer, cycle 1, for the task: Greet and say goodbye. Read {dir}/plan.md \
         and, if it exists, {dir}/worklog.md. In cycle 0, critique the plan: missing or badly \
         ordered milestones, and milestones that cannot be verified. In later cycles, review the \
         latest commits (git log -p -3) against the plan and run the tests. Do not edit files. \
         Answer with the required fixes (an empty list if there are none), your suggestions, and \
         a verdict: done only when every milestone of the plan is checked off, the work is \
         committed and the tests pass, with no required fix; otherwise continue."
    ));
    // The review is asked for through codex's native structured output.
    turns[3].assert_prompt_has("--output-schema");
    turns[4].assert_prompt_has(&format!(
        "Cycle 1 for the task: Greet and say goodbye. Read {dir}/plan.md. The reviewer's required \
         fixes (a JSON list): [\"Add a test for M1.\"]\nSuggestions: [\"Keep it short.\"]\n\n\
         First make the required fixes. Then implement the first unchecked milestone, with tests, \
         and run the tests. Commit with the message 'M<n>: <milestone>'. Check the milestone off \
         in the plan, and add an entry to {dir}/worklog.md (cycle, what changed, test result, \
         open issues)."
    ));
    // Every agent step starts a fresh session.
    let mut ids: Vec<&str> = turns.iter().map(|t| t.session_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "six fresh sessions");
    // The work is on the run's branch; no PR was asked for.
    let run_id = dir.rsplit('/').next().unwrap();
    assert_eq!(
        project_git(&out, &["branch", "--show-current"]),
        format!("agent/{run_id}")
    );
    assert_eq!(
        project_git(&out, &["log", "--format=%s"]),
        "M2: farewell\nM1: greeting\ninitial"
    );
    assert!(gh_calls(&out).is_empty(), "open_pr is empty: no PR");
    assert_eq!(
        remote_git(&out, &["branch", "--format=%(refname:short)"]),
        "main"
    );
}

#[test]
fn autonomous_fails_when_the_reviewer_never_says_done() {
    let test = git_repo(Test::new());
    let script = format!(
        "- [{{write_file: {{path: \"$AGENT_RUNNER_RUN_DIR/plan.md\", content: {PLAN:?}}}}}, {{text: Planned.}}]\n\
         - [{{json: {{verdict: continue, required_fixes: [], suggestions: []}}}}]\n\
         - [{{text: Nothing to do.}}]\n\
         - [{{json: {{verdict: done, required_fixes: [Fix the typo.], suggestions: []}}}}]\n\
         - [{{text: Fixed.}}]\n"
    );
    let out = with_fakes(test, &script)
        .args(["autonomous", "Greet", "max_cycles=2"])
        .status(1)
        .stderr_contains(
            "loop \"cycles\" ran all 2 iterations without meeting its break_if condition",
        )
        .run();
    assert_eq!(
        clis(&turns(&out)),
        ["claude", "codex", "claude", "codex", "claude"],
        "done with a required fix left is not done"
    );
}

#[test]
fn autonomous_opens_a_pr_when_asked() {
    let test = git_repo(Test::new());
    let script = format!("{}- [{{text: {PR_TEXT:?}}}]\n", autonomous_script());
    let out = with_fakes(test, &script)
        .args([
            "autonomous",
            "Greet and say goodbye",
            "branch=agent/greet",
            "open_pr=yes",
        ])
        .stdout_contains(PR_URL)
        .run();
    let turns = turns(&out);
    assert_eq!(turns.len(), 7);
    turns[6].assert_prompt_has(&format!(
        "Also mention: Plan and worklog: {}",
        turns[0].run_dir
    ));
    assert_eq!(
        remote_git(&out, &["log", "--format=%s", "agent/greet"]),
        "M2: farewell\nM1: greeting\ninitial"
    );
    let calls = gh_calls(&out);
    assert!(
        calls
            .iter()
            .any(|c| flag(c, "--title") == Some("Add a greeting")),
        "{calls:?}"
    );
}

// ---- pr-job ----

#[test]
fn pr_job_branches_works_validates_and_opens_a_pr() {
    let test = git_repo(Test::new());
    let script = format!(
        "- [{{write_file: {{path: src/feature.txt, content: done}}}}, {{text: Implemented.}}]\n\
         - [{{write_file: {{path: src/test.txt, content: tested}}}}, {{json: {{status: fixed, summary: Fixed the test.}}}}]\n\
         - [{{text: {PR_TEXT:?}}}]\n"
    );
    let out = with_fakes(test, &script)
        .args([
            "pr-job",
            "Add the feature",
            "validate_command=test -f src/test.txt || { echo no test; exit 1; }",
        ])
        .stdout_contains(PR_URL)
        .run();
    let turns = turns(&out);
    assert_eq!(clis(&turns), ["claude"; 3], "work, one fix, describe");
    let run_id = turns[0].run_dir.rsplit('/').next().unwrap().to_string();
    let branch = format!("agent/{run_id}");
    turns[0].assert_prompt_has(&format!(
        "Task: Add the feature\n\nYou are on the branch {branch}. Make the change completely, \
         with tests, following the conventions of this repository. Do not commit or push; the \
         workflow does that after the checks pass."
    ));
    turns[1].assert_prompt_has("The work being checked: Add the feature. Output:\n\nno test\n\n");
    turns[2].assert_prompt_has("Also mention: Task: Add the feature Reply with");
    // One commit with everything, on the pushed branch.
    assert_eq!(
        remote_git(&out, &["log", "--format=%s", &branch]),
        format!("Changes from agent-runner run {run_id}\ninitial")
    );
    assert_eq!(
        remote_git(&out, &["show", "--name-only", "--format=", &branch]),
        "src/feature.txt\nsrc/test.txt"
    );
    let calls = gh_calls(&out);
    let create = calls
        .iter()
        .find(|c| c.get(1).map(String::as_str) == Some("create"))
        .unwrap_or_else(|| panic!("no gh pr create in {calls:?}"));
    assert_eq!(flag(create, "--title"), Some("Add a greeting"));
    assert!(!create.iter().any(|a| a == "--draft"));
}
