//! What the run-view tests share: `agent-runner ui --port 0` as a real process (its URL read
//! from its first line), a headless Chromium driven through chromedriver (WebDriver, with the
//! `fantoccini` client), and a bare HTTP/1.1 GET for the requests a browser would not make.
//!
//! The browser is Debian's `chromium` and `chromium-driver` packages (`.ci/run` installs them).
//! Without them the browser tests fail under CI and are skipped with a message elsewhere.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::test::Test;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long the browser waits for something to show.
pub const WAIT: Duration = Duration::from_secs(20);

/// A running `agent-runner ui`. Dropping it stops the server.
pub struct UiServer {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub token: String,
}

impl UiServer {
    /// Starts `agent-runner ui --port 0 <extra>` in `test`'s project and waits for its URL.
    pub fn start(test: &Test, extra: &[&str]) -> Self {
        let mut command = test.command();
        command.args(["ui", "--port", "0"]).args(extra);
        let mut child = command.spawn().expect("spawn agent-runner ui");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the URL line");
        let url = line
            .trim()
            .strip_prefix("agent-runner: run view at ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let (base, token) = url.split_once("/?token=").expect("a URL with a token");
        UiServer {
            child,
            base: base.to_owned(),
            token: token.to_owned(),
        }
    }

    /// The URL the server printed.
    pub fn url(&self) -> String {
        format!("{}/?token={}", self.base, self.token)
    }

    /// The name of the cookie that carries the token (it names the port).
    pub fn cookie_name(&self) -> String {
        format!(
            "agent_runner_token_{}",
            self.base.rsplit(':').next().expect("port")
        )
    }

    /// A `Cookie:` header with the right token.
    pub fn cookie_header(&self) -> String {
        format!("Cookie: {}={}", self.cookie_name(), self.token)
    }

    /// The server's pid.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    /// Waits for the server's exit status (panics after `timeout`).
    pub fn wait(mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "agent-runner ui did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare HTTP/1.1 request: (status, headers and body as text).
pub fn http(method: &str, base: &str, path: &str, headers: &[&str]) -> (u16, String) {
    let host = base.strip_prefix("http://").expect("http URL");
    let mut stream = TcpStream::connect(host).expect("connect to the run view");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("Content-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    (status, response)
}

/// Whether the browser tests can run here; `false` (with a message) when chromedriver is
/// missing outside CI. Under CI a missing browser fails the test.
pub fn browser_available() -> bool {
    let present = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMEDRIVER} or {CHROMIUM} is missing; CI must install chromium and chromium-driver"
        );
        eprintln!(
            "SKIPPED: the run-view browser test needs {CHROMIUM} and {CHROMEDRIVER} \
             (apt-get install chromium chromium-driver)"
        );
    }
    present
}

/// A headless Chromium behind its own chromedriver. Dropping it ends both.
pub struct Browser {
    driver: Child,
    pub client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A new browser showing `url`.
    pub async fn open(url: &str) -> Self {
        let browser = Browser::start().await;
        browser.client.goto(url).await.expect("open the page");
        browser
    }

    async fn start() -> Self {
        let port = free_port();
        // Its own process group, so that ending it also ends the Chromium it started (even
        // when a failed assertion skips `close`).
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,800",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        Browser {
            driver,
            client,
            _profile: profile,
        }
    }

    /// The text of the first element matching `css`, once it exists.
    pub async fn text(&self, css: &str) -> String {
        let element = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"));
        element.text().await.expect("element text")
    }

    /// Waits until the text of `css` satisfies `check`; returns it.
    pub async fn wait_text(&self, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && check(&text)
            {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} in {css}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the element at `css`, finding it again when the page re-rendered it between the
    /// find and the click (a live run page redraws on every audit event).
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let clicked = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.click().await.map_err(|e| e.to_string()),
                Err(err) => Err(err.to_string()),
            };
            match clicked {
                Ok(()) => return,
                Err(err) => assert!(Instant::now() < deadline, "cannot click {css}: {err}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A PNG of the window; written to `docs/images/<name>` when `UPDATE_SCREENSHOTS` is set.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("docs/images")
                .join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("docs/images");
            std::fs::write(&path, png).expect("write screenshot");
        }
    }

    /// Ends the session (and Chromium) and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.driver.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
