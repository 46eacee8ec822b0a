//! The routes of the run view and their glue: every one behind [`auth::check`]; errors become
//! JSON `{"error": ...}` with 404 for an unknown run and 500 for anything else.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::stop::Stopped;
use super::{App, api, assets, auth, output, sse, stop};
use crate::report::{ReportError, redactor_for, show};
use crate::state::StateError;

/// The router with its state and the auth check in front.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| page(assets::INDEX_HTML, "text/html; charset=utf-8")),
        )
        .route(
            "/app.css",
            get(|| page(assets::APP_CSS, "text/css; charset=utf-8")),
        )
        .route(
            "/app.js",
            get(|| page(assets::APP_JS, "text/javascript; charset=utf-8")),
        )
        .route("/api/runs", get(runs))
        .route("/api/changes", get(changes))
        .route("/api/runs/{id}", get(run))
        .route("/api/runs/{id}/events", get(events))
        .route("/api/runs/{id}/files/{*path}", get(file))
        .route("/api/runs/{id}/stop", post(stop_run))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::check,
        ))
        .with_state(app)
}

async fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn report_error(err: &ReportError) -> Response {
    let status = match err {
        ReportError::State(StateError::NoSuchRun(_) | StateError::InvalidRunId(_)) => {
            StatusCode::NOT_FOUND
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, err.to_string())
}

/// Blocking file-system reads run off the async thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn runs(State(app): State<Arc<App>>) -> Response {
    match blocking(move || api::runs(&app)).await {
        Ok(Ok(value)) => axum::Json(value).into_response(),
        Ok(Err(err)) => report_error(&err),
        Err(response) => response,
    }
}

async fn run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match blocking(move || api::run(&app, &id)).await {
        Ok(Ok(report)) => axum::Json(show::render_json(&report)).into_response(),
        Ok(Err(err)) => report_error(&err),
        Err(response) => response,
    }
}

async fn changes(State(app): State<Arc<App>>) -> Response {
    sse::changes(&app).into_response()
}

async fn events(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let found = {
        let app = app.clone();
        blocking(move || {
            let entry = api::find(&app, &id)?;
            let redactor = redactor_for(entry.state.as_ref().ok(), &app.env)?;
            Ok::<_, StateError>((entry.run, redactor))
        })
        .await
    };
    match found {
        Ok(Ok((run, redactor))) => sse::audit(&app, run, redactor, after).into_response(),
        Ok(Err(err)) => report_error(&ReportError::State(err)),
        Err(response) => response,
    }
}

async fn file(State(app): State<Arc<App>>, Path((id, path)): Path<(String, String)>) -> Response {
    let read = blocking(move || {
        let entry = api::find(&app, &id)?;
        let redactor = redactor_for(entry.state.as_ref().ok(), &app.env)?;
        let report = show::gather(entry, &app.env)?;
        Ok::<_, ReportError>(output::read(&report, &path, &redactor))
    })
    .await;
    match read {
        Ok(Ok(Some(text))) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "no such output file".to_owned()),
        Ok(Err(err)) => report_error(&err),
        Err(response) => response,
    }
}

async fn stop_run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let stopped = blocking(move || api::find(&app, &id).map(|entry| stop::stop(&entry))).await;
    match stopped {
        Ok(Ok(Stopped::Signalled(pid))) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "signalled_pid": pid })),
        )
            .into_response(),
        Ok(Ok(Stopped::NotRunning)) => {
            error(StatusCode::CONFLICT, "the run is not running".to_owned())
        }
        Ok(Ok(Stopped::Refused(message))) => error(StatusCode::CONFLICT, message),
        Ok(Err(err)) => report_error(&ReportError::State(err)),
        Err(response) => response,
    }
}
