//! End-to-end run of the built-in `flokay` workflow: the real OpenSpec CLI (from `.tools/`, see
//! `make tools`), the fake `claude` and `codex`, a git project with a bare `origin` and the fake
//! `gh`. flokay's interactive steps need a terminal, so the whole run happens inside a
//! pseudo-terminal (expectrl): the test waits for each interactive turn of the fake to say it has
//! written its artifact, then types `/continue` and Enter, as a user would. The run goes from
//! `openspec new change` through the planning conversation, the codex review, two implemented
//! tasks, verify and archive, to the pull request. The openspec engine's contribution to the
//! prompts (output paths, templates, dependencies) is checked by a separate test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::builtin_support::{
    PR_URL, clis, flag, gh_calls, git_repo, project_git, pty_command, remote_git, run_in_pty,
    turns, with_fakes,
};
use crate::test::Test;

/// Where `make tools` installs the OpenSpec CLI.
fn openspec_bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/node_modules/.bin");
    assert!(
        dir.join("openspec").exists(),
        "the OpenSpec CLI is not installed in {}: run `make tools` once",
        dir.display()
    );
    dir
}

const CHANGE: &str = "openspec/changes/add-login";

const PROPOSAL: &str = "## Why\nUsers have to log in before they can see their own data.\n\n## What Changes\n- Add a login file.\n\n## Capabilities\n### New Capabilities\n- `login`: logging in\n\n## Impact\n- login.txt\n";
const SPEC: &str = "## ADDED Requirements\n\n### Requirement: Login\nThe system SHALL let a user log in.\n\n#### Scenario: Valid login\n- **WHEN** the user logs in\n- **THEN** the user is logged in\n";
const DESIGN: &str =
    "## Context\nA file per command.\n\n## Decisions\n- Plain files, not a database.\n";
const TASKS: &str = "## Tasks\n\n- [ ] 1. Add login.txt\n  Done when login.txt exists.\n- [ ] 2. Add logout.txt\n  Done when logout.txt exists.\n";
const FINDINGS: &str = "1. Task 2 has no test. Add one.";
const PR_TEXT: &str =
    "Add login and logout\n\n## Summary\nLogin.\n\n## Changes\n- files\n\n## Testing\nNone.";

/// The agents' turns in run order: three interactive planning turns, tasks, the codex review,
/// the interactive revise, two implementation turns, verify and the PR description. Each
/// interactive turn prints a marker once its file is written; the test types `/continue` after it.
fn script() -> String {
    let write = |path: &str, content: &str| {
        format!("{{write_file: {{path: {path:?}, content: {content:?}}}}}")
    };
    [
        format!(
            "[{}, {{print: \"wrote proposal\"}}]",
            write(&format!("{CHANGE}/proposal.md"), PROPOSAL)
        ),
        format!(
            "[{}, {{print: \"wrote specs\"}}]",
            write(&format!("{CHANGE}/specs/login/spec.md"), SPEC)
        ),
        format!(
            "[{}, {{print: \"wrote design\"}}]",
            write(&format!("{CHANGE}/design.md"), DESIGN)
        ),
        format!(
            "[{}, {{text: Wrote tasks.md.}}]",
            write(&format!("{CHANGE}/tasks.md"), TASKS)
        ),
        format!("[{{text: {FINDINGS:?}}}]"),
        "[{print: \"revised\"}]".to_string(),
        format!(
            "[{}, {{text: Added login.txt.}}]",
            write("login.txt", "login\n")
        ),
        format!(
            "[{}, {{text: Added logout.txt.}}]",
            write("logout.txt", "logout\n")
        ),
        format!(
            "[{}, {{text: All verified.}}]",
            write("$AGENT_RUNNER_RUN_DIR/verify.md", "ok\n")
        ),
        format!("[{{text: {PR_TEXT:?}}}]"),
    ]
    .iter()
    .map(|turn| format!("- {turn}\n"))
    .collect()
}

/// A git project that has run `openspec init`, with the fakes installed.
fn project() -> Test {
    let test = Test::new();
    let status = Command::new(openspec_bin_dir().join("openspec"))
        .args(["init", "--tools", "none", "."])
        .current_dir(test.project())
        .env("HOME", test.path().join("home"))
        .env("OPENSPEC_TELEMETRY", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openspec init");
    assert!(status.status.success(), "openspec init failed: {status:?}");
    with_fakes(git_repo(test), &script())
}

/// Runs `flokay add-login` in a pseudo-terminal, typing `/continue` after each interactive turn;
/// returns the temp dir of the finished, successful run.
fn run_flokay() -> Test {
    let test = project();
    let (status, screen) = run_in_pty(
        pty_command(
            test.path(),
            &["flokay", "add-login", "validate_command=test -f login.txt"],
            &[openspec_bin_dir()],
        ),
        &["wrote proposal", "wrote specs", "wrote design", "revised"],
    );
    assert_eq!(status, 0, "flokay failed:\n{screen}");
    assert!(
        screen.contains(PR_URL),
        "no PR URL on the screen:\n{screen}"
    );
    test
}

#[test]
fn flokay_runs_from_proposal_to_pr() {
    let test = run_flokay();
    check_the_run(test.path());
}

/// The engine's part: the artifact steps' prompts end with openspec's instructions, headed by the
/// artifact's output path (engines.md §3).
#[test]
fn flokay_artifact_steps_get_the_openspec_instructions() {
    let test = run_flokay();
    let turns = turns(test.path());
    let change = test.project().canonicalize().unwrap().join(CHANGE);
    for (turn, artifact) in [
        (0, "proposal.md"),
        (1, "specs"),
        (2, "design.md"),
        (3, "tasks.md"),
    ] {
        turns[turn].assert_prompt_has(&format!("**Output path:** {}/{artifact}", change.display()));
    }
    // Steps that are not artifacts get nothing.
    for turn in [4, 5, 6, 8, 9] {
        assert!(
            !turns[turn].argv.contains("**Output path:**"),
            "turn {turn}"
        );
    }
}

/// What a complete flokay run leaves behind.
fn check_the_run(root: &Path) {
    let turns = turns(root);
    assert_eq!(
        clis(&turns),
        [
            "claude", "claude", "claude", "claude", "codex", "claude", "claude", "claude",
            "claude", "claude"
        ]
    );
    let modes: Vec<&str> = turns.iter().map(|t| t.mode.as_str()).collect();
    assert_eq!(
        modes,
        [
            "interactive",
            "interactive",
            "interactive",
            "headless",
            "headless",
            "interactive",
            "headless",
            "headless",
            "headless",
            "headless"
        ]
    );
    // One planning conversation: proposal, specs, design, tasks and revise.
    for planner in [1, 2, 3, 5] {
        assert_eq!(
            turns[planner].session_id, turns[0].session_id,
            "turn {planner}"
        );
    }
    for fresh in [4, 6, 7, 8, 9] {
        assert_ne!(turns[fresh].session_id, turns[0].session_id, "turn {fresh}");
    }
    turns[0].assert_prompt_has(
        "We are starting the OpenSpec change \"add-login\". Interview me about the problem and the \
         outcome I want.",
    );
    turns[4].assert_prompt_has(
        "Review the OpenSpec change in openspec/changes/add-login/ (proposal.md, specs/, \
         design.md, tasks.md) as a sceptical senior engineer.",
    );
    turns[5].assert_prompt_has(&format!(
        "An independent reviewer looked at this change:\n\n{FINDINGS}\n\nGo through the findings \
         with me one by one."
    ));
    turns[6].assert_prompt_has(&format!(
        "Implement this task from {CHANGE}/tasks.md:\n\n1. Add login.txt\n\nThe change is \
         described in {CHANGE}/ (proposal.md, design.md, specs/). Read what you need.\n\n"
    ));
    turns[7].assert_prompt_has("\n\n2. Add logout.txt\n\n");
    turns[8].assert_prompt_has(&format!(
        "Write a short report to {}/verify.md and reply with its summary.",
        turns[8].run_dir
    ));
    turns[9].assert_prompt_has(
        "The first line is the title, at most 72 characters, based on: add-login. Then",
    );

    // The change is archived with every task checked, and its spec applied.
    let archive = root.join("project/openspec/changes/archive");
    let archived: Vec<_> = std::fs::read_dir(&archive)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with("-add-login"))
        .collect();
    assert_eq!(
        archived.len(),
        1,
        "one archived change in {}",
        archive.display()
    );
    let tasks = std::fs::read_to_string(archived[0].path().join("tasks.md")).unwrap();
    assert_eq!(tasks, TASKS.replace("- [ ]", "- [x]"));
    assert!(root.join("project/openspec/specs/login/spec.md").exists());
    assert!(!root.join("project").join(CHANGE).exists());

    // The planning artifacts in a commit of their own, one commit per task and one for the
    // archive, pushed on the change branch.
    assert_eq!(
        project_git(root, &["branch", "--show-current"]),
        "change/add-login"
    );
    assert_eq!(
        remote_git(root, &["log", "--format=%s", "change/add-login"]),
        "add-login\n2. Add logout.txt\n1. Add login.txt\nPlan the OpenSpec change add-login\ninitial"
    );
    let files_of = |subject: &str| {
        let rev = format!(":/^{subject}");
        project_git(root, &["show", "--format=", "--name-only", &rev])
    };
    assert!(
        files_of("Plan the OpenSpec change")
            .lines()
            .all(|f| f.starts_with(CHANGE)),
        "the plan commit holds only the change's artifacts"
    );
    assert_eq!(
        files_of("1. Add login.txt"),
        format!("login.txt\n{CHANGE}/tasks.md")
    );
    assert_eq!(project_git(root, &["status", "--porcelain"]), "");
    let calls = gh_calls(root);
    let create = calls
        .iter()
        .find(|c| c.get(1).map(String::as_str) == Some("create"))
        .unwrap_or_else(|| panic!("no gh pr create in {calls:?}"));
    assert_eq!(flag(create, "--base"), Some("main"));
    assert_eq!(flag(create, "--title"), Some("Add login and logout"));
    assert!(
        flag(create, "--body").is_some_and(|b| b.starts_with("## Summary")),
        "{create:?}"
    );
}
