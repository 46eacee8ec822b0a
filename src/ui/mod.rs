//! `agent-runner ui` (run-view.md): a local web view of the runs, served from the binary.
//!
//! The server only reads run directories, through [`crate::state`] and the `list`/`show`
//! reports of [`crate::report`], plus one action: stopping a run. Every request needs the token
//! printed with the URL ([`auth`]); [`watch`] turns file-system changes under the state root
//! into wake-ups for the live parts ([`sse`]). Nothing here runs unless the `ui` command does.

mod api;
mod assets;
mod auth;
mod output;
mod routes;
mod sse;
mod stop;
mod watch;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::cli::UiRequest;
use crate::console;
use crate::exit;
use crate::state::{ProjectDir, StateRoot};

/// Which runs the view shows.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The runs of the current project.
    Project(ProjectDir),
    /// The runs of every project under the state root (`--all`).
    All,
}

/// What every request handler shares.
#[derive(Debug)]
pub struct App {
    pub root: StateRoot,
    pub scope: Scope,
    pub token: String,
    /// The cookie that carries the token (named after the port: cookies ignore ports).
    pub cookie_name: String,
    /// The runner's environment, for the redactors.
    pub env: Vec<(String, String)>,
    pub changes: watch::Changes,
    pub usage: api::UsageCache,
}

/// Runs the server until Ctrl-C; returns the exit code.
pub fn run(request: &UiRequest) -> i32 {
    let ip: IpAddr = match request.bind.parse() {
        Ok(ip) => ip,
        Err(_) => {
            console::error(&format!(
                "--bind needs an IP address such as 127.0.0.1, not \"{}\"",
                request.bind
            ));
            return exit::USAGE;
        }
    };
    let token = match auth::token_for(ip, request.token_file.as_deref()) {
        Ok(token) => token,
        Err((message, code)) => {
            console::error(&message);
            return code;
        }
    };
    let root = match StateRoot::from_env() {
        Ok(root) => root,
        Err(err) => {
            console::error(&err.to_string());
            return err.exit_code();
        }
    };
    let scope = if request.all {
        Scope::All
    } else {
        let project = std::env::current_dir()
            .map_err(|e| format!("cannot determine the current directory: {e}"))
            .and_then(|cwd| root.project(&cwd).map_err(|e| e.to_string()));
        match project {
            Ok(project) => Scope::Project(project),
            Err(message) => {
                console::error(&message);
                return exit::RUNTIME;
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            console::error(&format!("cannot start the async runtime: {err}"));
            return exit::RUNTIME;
        }
    };
    runtime.block_on(serve(
        SocketAddr::new(ip, request.port),
        root,
        scope,
        token,
        request.open,
    ))
}

async fn serve(addr: SocketAddr, root: StateRoot, scope: Scope, token: String, open: bool) -> i32 {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            console::error(&format!("cannot listen on {addr}: {err}"));
            return exit::RUNTIME;
        }
    };
    let port = listener.local_addr().map_or(addr.port(), |a| a.port());
    let watched = match &scope {
        Scope::Project(project) => project.path().to_path_buf(),
        Scope::All => root.path().to_path_buf(),
    };
    let app = Arc::new(App {
        root,
        scope,
        cookie_name: format!("agent_runner_token_{port}"),
        env: crate::report::process_env(),
        changes: watch::Changes::start(&watched),
        usage: api::UsageCache::default(),
        token,
    });
    let url = format!(
        "http://{}/?token={}",
        SocketAddr::new(addr.ip(), port),
        app.token
    );
    console::print_stdout(&format!("agent-runner: run view at {url}\n"));
    if open {
        open_browser(&url);
    }
    let warming = app.clone();
    tokio::task::spawn_blocking(move || api::UsageCache::warm(&warming));
    let router = routes::router(app);
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(stop_signal())
        .await;
    match served {
        Ok(()) => exit::SUCCESS,
        Err(err) => {
            console::error(&format!("the run view stopped: {err}"));
            exit::RUNTIME
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Opens `url` with `xdg-open` (or `open` on macOS); quietly nothing when neither exists.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
