//! Access to the run view (run-view.md §1, §2): a random token per start (or the user's, from
//! `--token-file`), given once as `?token=` and then carried by a `SameSite=Strict` cookie.
//! A request without the right token gets 401 and no run data; a request that changes
//! something (stop) must also come from the page itself (its `Origin` names this server).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use crate::exit;

/// The token for this start: the file's content for `--token-file`, else a random one. A
/// non-loopback address without `--token-file` is refused (exit 2).
pub fn token_for(ip: IpAddr, token_file: Option<&Path>) -> Result<String, (String, i32)> {
    match token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                (
                    format!("cannot read the token file \"{}\": {e}", path.display()),
                    exit::USAGE,
                )
            })?;
            let token = text.trim();
            if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err((
                    format!(
                        "the token in \"{}\" must be at least 16 printable characters without spaces",
                        path.display()
                    ),
                    exit::USAGE,
                ));
            }
            Ok(token.to_owned())
        }
        None if !ip.is_loopback() => Err((
            format!(
                "--bind {ip} makes the run view reachable from other machines; give a token of \
                 your choice with --token-file <FILE>"
            ),
            exit::USAGE,
        )),
        None => random_token().map_err(|e| {
            (
                format!("cannot read random bytes for the access token: {e}"),
                exit::RUNTIME,
            )
        }),
    }
}

/// 128 random bits from the kernel, as hex.
fn random_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a request carries: `?token=` first, then the cookie.
fn presented<'a>(app: &App, query: Option<&'a str>, headers: &'a HeaderMap) -> Option<&'a str> {
    let from_query = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("token="));
    from_query.or_else(|| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| {
                let (name, value) = c.trim().split_once('=')?;
                (name == app.cookie_name).then_some(value)
            })
    })
}

/// Whether a state-changing request comes from a page of this server: its `Origin` must be
/// `http://<Host>`.
fn same_origin(headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST))
    else {
        return false;
    };
    match (origin.to_str(), host.to_str()) {
        (Ok(origin), Ok(host)) => origin == format!("http://{host}"),
        _ => false,
    }
}

fn refuse(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], text).into_response()
}

/// The middleware in front of every route.
pub async fn check(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let query = request.uri().query().map(str::to_owned);
    let from_query = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("token=")));
    let ok = presented(&app, query.as_deref(), request.headers())
        .is_some_and(|token| same(token, &app.token));
    if !ok {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "401 unauthorized: open the URL that agent-runner ui printed\n",
        );
    }
    if request.method() != Method::GET && !same_origin(request.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "403 forbidden: cross-origin request\n",
        );
    }
    let mut response = next.run(request).await;
    if from_query {
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            app.cookie_name, app.token
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_a_token_file() {
        let err = token_for("0.0.0.0".parse().unwrap(), None).unwrap_err();
        assert_eq!(err.1, exit::USAGE);
        assert!(err.0.contains("--token-file"), "{}", err.0);
        let token = token_for("127.0.0.1".parse().unwrap(), None).unwrap();
        assert_eq!(token.len(), 32);
        assert_ne!(token, token_for("::1".parse().unwrap(), None).unwrap());
    }

    #[test]
    fn comparison_needs_the_whole_token() {
        assert!(same("abcdef", "abcdef"));
        assert!(!same("abcdef", "abcdeg"));
        assert!(!same("abc", "abcdef"));
    }

    #[test]
    fn origin_must_name_this_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4780"));
        assert!(!same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:4780"),
        );
        assert!(same_origin(&headers));
    }
}
