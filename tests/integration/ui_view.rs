//! `agent-runner ui` (run-view.md) through the real binary: a headless Chromium drives the page
//! over WebDriver against a server on a free port, with runs made by the binary itself. The
//! requests a browser would not make (no token, a foreign origin) go through a bare HTTP client.

use std::process::Child;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pretty_assertions::assert_eq;

use crate::test::Test;
use crate::ui_support::{Browser, UiServer, WAIT, browser_available, http};

/// A run that waits at step `first` until `go` exists, then at `second` until `done` exists.
const STEPPER: &str = "name: stepper
steps:
  - id: first
    command: while [ ! -f go ]; do sleep 0.05; done
  - id: second
    command: while [ ! -f done ]; do sleep 0.05; done
";

/// An agent step (the fake claude reports usage and cost), then a test that fails.
const FIX: &str = "name: fix-tests
steps:
  - {id: plan, mode: headless, prompt: 'plan the fix'}
  - id: test
    command: echo 'test auth::login ... FAILED' >&2; exit 3
";

const REVIEW: &str = "name: review
steps:
  - {id: read, mode: headless, prompt: 'review the change'}
  - {id: lint, command: 'echo clean'}
";

/// The project of a browser test, `None` when the browser is missing outside CI.
fn browser_project() -> Option<Test> {
    browser_available().then(project)
}

fn project() -> Test {
    Test::new()
        .fake_clis(&["claude"])
        .workflow("stepper", STEPPER)
        .workflow("fix-tests", FIX)
        .workflow("review", REVIEW)
}

/// Runs `workflow` to its end; checks its exit status.
fn finished_run(test: &Test, workflow: &str, status: i32) {
    let out = test.command().arg(workflow).output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(status),
        "{workflow}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_ids(test: &Test) -> Vec<String> {
    let projects = test.path().join("home/.agent-runner/projects");
    let mut ids = Vec::new();
    for project in std::fs::read_dir(projects).expect("projects").flatten() {
        // A run that is starting has created its project dir but maybe not `runs/` yet.
        let Ok(runs) = std::fs::read_dir(project.path().join("runs")) else {
            continue;
        };
        for run in runs.flatten() {
            ids.push(run.file_name().to_string_lossy().into_owned());
        }
    }
    ids
}

fn run_id(test: &Test, workflow: &str) -> String {
    run_ids(test)
        .into_iter()
        .find(|id| id.starts_with(workflow))
        .unwrap_or_else(|| panic!("no {workflow} run"))
}

/// Waits for the exit status of a background run.
fn exit_status(child: &mut Child, timeout: Duration) -> i32 {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the run did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn board_lists_the_runs_and_a_running_step_advances_without_a_reload() {
    let Some(test) = browser_project() else {
        return;
    };
    finished_run(&test, "review", 0);
    finished_run(&test, "fix-tests", 1);
    let mut running = test.command().arg("stepper").spawn().expect("spawn");
    let ui = UiServer::start(&test, &[]);
    let stepper = run_id_eventually(&test, "stepper");
    runtime().block_on(async {
        let browser = Browser::open(&ui.url()).await;
        let card = format!("#col-running #card-{stepper} .position");
        browser
            .wait_text(&card, "the running run at `first`", |t| t == "first")
            .await;
        let completed = browser.text("#col-completed").await;
        assert!(completed.contains("review"), "{completed}");
        assert!(completed.contains("$0.04"), "the cost shows: {completed}");
        let failed = browser.text("#col-failed").await;
        assert!(failed.contains(&run_id(&test, "fix-tests")), "{failed}");
        browser
            .client
            .execute("window.stillTheSamePage = true", vec![])
            .await
            .expect("mark the page");
        browser.screenshot("ui-board.png").await;

        std::fs::write(test.project().join("go"), "").expect("go");
        browser
            .wait_text(&card, "the step to advance to `second`", |t| t == "second")
            .await;
        let same = browser
            .client
            .execute("return window.stillTheSamePage === true", vec![])
            .await
            .expect("read the mark");
        assert_eq!(same, serde_json::json!(true), "the page was reloaded");

        std::fs::write(test.project().join("done"), "").expect("done");
        assert_eq!(exit_status(&mut running, WAIT), 0);
        browser
            .wait_text("#col-completed", "the run to complete", |t| {
                t.contains(&stepper)
            })
            .await;
        browser.close().await;
    });
}

/// The id of the newest run of `workflow`, once its directory exists.
fn run_id_eventually(test: &Test, workflow: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let projects = test.path().join("home/.agent-runner/projects");
        if projects.exists()
            && let Some(id) = run_ids(test)
                .into_iter()
                .find(|id| id.starts_with(workflow))
        {
            return id;
        }
        assert!(Instant::now() < deadline, "no {workflow} run appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn run_detail_shows_the_failed_steps_class_and_message() {
    let Some(test) = browser_project() else {
        return;
    };
    finished_run(&test, "fix-tests", 1);
    let id = run_id(&test, "fix-tests");
    let ui = UiServer::start(&test, &[]);
    runtime().block_on(async {
        let browser = Browser::open(&ui.url()).await;
        browser
            .client
            .goto(&format!("{}/#/run/{id}", ui.base))
            .await
            .expect("open the run (the cookie carries the token)");
        let class = browser
            .text("tr[data-path='test'] .step-error .class")
            .await;
        let message = browser
            .text("tr[data-path='test'] .step-error .message")
            .await;
        assert_eq!(
            (class.as_str(), message.as_str()),
            ("exit_status", "exit status 3")
        );
        let status = browser.text("#status").await;
        assert_eq!(status, "failed");
        let resume = browser.text("#resume").await;
        assert_eq!(resume, format!("agent-runner --resume {id}"));
        let plan = browser.text("tr[data-path='plan']").await;
        assert!(plan.contains("claude") && plan.contains("$0.04"), "{plan}");
        browser
            .client
            .find(Locator::Css("svg[aria-label='cost and tokens over time']"))
            .await
            .expect("the cost chart");
        // A saved output opens in the page.
        browser
            .client
            .find(Locator::Css(
                "tr[data-path='test'] [data-output$='.stderr']",
            ))
            .await
            .expect("the stderr link")
            .click()
            .await
            .expect("click");
        browser
            .wait_text("#output-view", "the saved stderr", |t| {
                t.contains("auth::login ... FAILED")
            })
            .await;
        browser.screenshot("ui-run.png").await;
        browser.close().await;
    });
}

#[test]
fn the_stop_button_interrupts_the_run_which_exits_130() {
    let Some(test) = browser_project() else {
        return;
    };
    let mut running = test.command().arg("stepper").spawn().expect("spawn");
    let id = run_id_eventually(&test, "stepper");
    let ui = UiServer::start(&test, &[]);
    runtime().block_on(async {
        let browser = Browser::open(&format!("{}#/run/{id}", ui.url())).await;
        browser
            .wait_text("#status", "the run to be running", |t| t == "running")
            .await;
        browser.click("#stop").await;
        let question = browser
            .client
            .get_alert_text()
            .await
            .expect("a confirmation");
        assert!(question.contains(&id), "{question}");
        browser.client.accept_alert().await.expect("confirm");
        assert_eq!(
            exit_status(&mut running, WAIT),
            130,
            "the run's exit status"
        );
        browser
            .wait_text("#status", "the run to show as interrupted", |t| {
                t == "interrupted"
            })
            .await;
        browser.close().await;
    });
}

#[test]
fn requests_without_the_token_get_401_and_no_run_data() {
    let test = project();
    finished_run(&test, "fix-tests", 1);
    let id = run_id(&test, "fix-tests");
    let ui = UiServer::start(&test, &[]);
    let cookie_name = ui.cookie_name();
    for (path, headers) in [
        ("/api/runs".to_owned(), vec![]),
        (format!("/api/runs/{id}"), vec![]),
        (format!("/api/runs/{id}/events"), vec![]),
        ("/".to_owned(), vec![]),
        ("/api/runs?token=wrong".to_owned(), vec![]),
        (
            "/api/runs".to_owned(),
            vec![format!("Cookie: {cookie_name}=wrong")],
        ),
    ] {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let (status, response) = http("GET", &ui.base, &path, &headers);
        assert_eq!(status, 401, "{path}: {response}");
        assert!(
            !response.contains(&id) && !response.contains("fix-tests"),
            "{response}"
        );
    }
    // The token once in the query sets a strict cookie; the cookie alone then suffices.
    let (status, response) = http("GET", &ui.base, &format!("/?token={}", ui.token), &[]);
    assert_eq!(status, 200, "{response}");
    let set_cookie = format!(
        "{cookie_name}={}; Path=/; HttpOnly; SameSite=Strict",
        ui.token
    );
    assert!(
        response
            .to_lowercase()
            .contains(&format!("set-cookie: {}", set_cookie.to_lowercase())),
        "{response}"
    );
    let cookie = ui.cookie_header();
    let (status, response) = http("GET", &ui.base, "/api/runs", &[&cookie]);
    assert_eq!(status, 200, "{response}");
    assert!(response.contains(&id), "{response}");
    // Stopping needs the page's own origin, even with the cookie.
    let stop = format!("/api/runs/{id}/stop");
    let (status, _) = http(
        "POST",
        &ui.base,
        &stop,
        &[&cookie, "Origin: http://evil.example"],
    );
    assert_eq!(status, 403);
    let origin = format!("Origin: {}", ui.base);
    let (status, response) = http("POST", &ui.base, &stop, &[&cookie, &origin]);
    assert_eq!(status, 409, "the run is not running: {response}");
    // Only files a step listed are served.
    let (status, _) = http(
        "GET",
        &ui.base,
        &format!("/api/runs/{id}/files/state.json"),
        &[&cookie],
    );
    assert_eq!(status, 404);
    // Ctrl-C ends the server with 0.
    kill(Pid::from_raw(ui.pid()), Signal::SIGINT).expect("SIGINT");
    assert_eq!(ui.wait(WAIT), 0);
}

#[test]
fn a_port_in_use_is_exit_4() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    Test::new()
        .args(["ui", "--port", &port.to_string()])
        .status(4)
        .stderr_contains(&format!(
            "agent-runner: error: cannot listen on 127.0.0.1:{port}: "
        ))
        .run();
}

#[test]
fn a_non_loopback_address_needs_a_token_file() {
    Test::new()
        .args(["ui", "--bind", "0.0.0.0", "--port", "0"])
        .status(2)
        .stderr_contains("give a token of your choice with --token-file <FILE>")
        .run();
}

#[test]
fn the_event_stream_sends_audit_lines_by_seq_and_resumes_after_last_event_id() {
    let test = project();
    finished_run(&test, "fix-tests", 1);
    let id = run_id(&test, "fix-tests");
    let ui = UiServer::start(&test, &[]);
    let cookie = ui.cookie_header();
    let events = format!("/api/runs/{id}/events");
    let ids = |response: &str| -> Vec<u64> {
        response
            .lines()
            .filter_map(|l| l.strip_prefix("id: ").or(l.strip_prefix("id:")))
            .map(|v| v.trim().parse().unwrap())
            .collect()
    };
    // A finished run: every line, then `end`, then the stream closes.
    let (status, all) = http("GET", &ui.base, &events, &[&cookie]);
    assert_eq!(status, 200, "{all}");
    let all_ids = ids(&all);
    assert!(all_ids.len() >= 5, "{all}");
    assert_eq!(all_ids, (1..=all_ids.len() as u64).collect::<Vec<_>>());
    assert!(all.contains("\"event\":\"run_end\""), "{all}");
    let end = all.find("event: end\ndata: end\n").expect("an end event");
    assert!(end > all.rfind("id: ").unwrap(), "`end` comes last: {all}");
    // A reconnect after seq 3 gets the rest only.
    let (_, rest) = http("GET", &ui.base, &events, &[&cookie, "Last-Event-ID: 3"]);
    assert_eq!(ids(&rest), all_ids[3..].to_vec());
}

#[test]
fn an_unreadable_run_is_listed_as_unreadable_and_the_server_keeps_serving() {
    let test = project();
    finished_run(&test, "fix-tests", 1);
    let id = run_id(&test, "fix-tests");
    let projects = test.path().join("home/.agent-runner/projects");
    let project_dir = std::fs::read_dir(&projects)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let broken = project_dir.join("runs/broken-20261201-101010-abcd");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("state.json"), "{ not json").unwrap();
    std::fs::write(project_dir.join("runs/stray.txt"), "not a run").unwrap();
    std::fs::create_dir_all(projects.join("foreign")).unwrap();
    let ui = UiServer::start(&test, &["--all"]);
    let cookie = ui.cookie_header();
    let (status, response) = http("GET", &ui.base, "/api/runs", &[&cookie]);
    assert_eq!(status, 200, "{response}");
    let body: serde_json::Value =
        serde_json::from_str(&response[response.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    let statuses: Vec<(&str, &str)> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["run_id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert!(
        statuses.contains(&("broken-20261201-101010-abcd", "unreadable")),
        "{statuses:?}"
    );
    assert!(statuses.contains(&(id.as_str(), "failed")), "{statuses:?}");
    let (status, _) = http(
        "GET",
        &ui.base,
        "/api/runs/broken-20261201-101010-abcd",
        &[&cookie],
    );
    assert_eq!(status, 500);
    let (status, _) = http("GET", &ui.base, &format!("/api/runs/{id}"), &[&cookie]);
    assert_eq!(status, 200, "the server still serves");
}
