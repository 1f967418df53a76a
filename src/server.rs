//! HTTP over the current [`Snapshot`]: route lookup, aliases, conditional GET and
//! content negotiation. Knows nothing of files or watching.
//!
//! [`respond`] is pure: a request and a snapshot in, a response out, so every rule is
//! tested without a socket. [`run`] is the accept loop (HTTP/1.1 and cleartext HTTP/2)
//! with a graceful shutdown capped at [`GRACE`].
//!
//! A URL is never turned into a file path: routes are looked up in the snapshot only.
//! Hostile paths are still refused early, so a lookup never sees `..` or NUL.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;

use crate::feed;
use crate::snapshot::{Rendered, Snapshot};

/// How long responses in flight may take to finish after a shutdown signal.
pub const GRACE: Duration = Duration::from_secs(5);

/// Longer paths are refused with 414; no route comes close.
pub const MAX_PATH: usize = 2048;

/// Accepts connections on `listener` until `shutdown` completes, answering each request
/// from the snapshot current when it arrives; then waits up to [`GRACE`] for responses
/// in flight.
pub async fn run(
    listener: tokio::net::TcpListener,
    snapshots: Arc<ArcSwap<Snapshot>>,
    shutdown: impl Future<Output = ()>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before accept:
                    // back off a little instead of spinning.
                    tracing::warn!("cannot accept a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let snapshots = Arc::clone(&snapshots);
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let snapshot = snapshots.load();
            std::future::ready(Ok::<_, Infallible>(respond(&snapshot, &req)))
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!("connection from {peer}: {err}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(GRACE) => {
            tracing::warn!("responses still in flight after {} s; closing them", GRACE.as_secs());
        }
    }
}

/// The response to `req` from `snapshot`. The request body is never read.
pub fn respond<B>(snapshot: &Snapshot, req: &Request<B>) -> Response<Full<Bytes>> {
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut response = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed\n",
                false,
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
    };
    let raw = req.uri().path();
    if raw.len() > MAX_PATH {
        return text(StatusCode::URI_TOO_LONG, "path too long\n", head);
    }
    let Some(path) = route_of(raw) else {
        return not_found(head);
    };
    if let Some(rendered) = snapshot.get(&path) {
        return found(rendered, req, head);
    }
    match feed::alias_target(&path) {
        Some(target) if snapshot.get(&target).is_some() => {
            let mut response = text(
                StatusCode::MOVED_PERMANENTLY,
                &format!("moved to {target}\n"),
                head,
            );
            if let Ok(location) = HeaderValue::from_str(&target) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        _ => not_found(head),
    }
}

/// The route a request path names: percent-decoded, and refused when it holds what no
/// route does (`..` or `.` segments, NUL, backslashes, bytes that are not UTF-8).
fn route_of(raw: &str) -> Option<String> {
    let path = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    if !path.starts_with('/') || path.contains('\0') || path.contains('\\') {
        return None;
    }
    if path
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return None;
    }
    Some(path.into_owned())
}

fn found<B>(rendered: &Rendered, req: &Request<B>, head: bool) -> Response<Full<Bytes>> {
    let headers = req.headers();
    let not_modified = match headers.get(header::IF_NONE_MATCH) {
        Some(value) => etag_matches(value.to_str().unwrap_or(""), &rendered.etag),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_http_date)
            .is_some_and(|since| rendered.last_modified <= since),
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&rendered.etag) {
        h.insert(header::ETAG, etag);
    }
    if let Ok(date) = HeaderValue::from_str(&http_date(rendered.last_modified)) {
        h.insert(header::LAST_MODIFIED, date);
    }
    if let Ok(cache) = HeaderValue::from_str(&rendered.cache_control) {
        h.insert(header::CACHE_CONTROL, cache);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if not_modified {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let (coding, body) =
        match choose_encoding(accept, rendered.br.is_some(), rendered.gzip.is_some()) {
            Encoding::Br => ("br", rendered.br.clone()),
            Encoding::Gzip => ("gzip", rendered.gzip.clone()),
            Encoding::Identity => ("identity", None),
        };
    let body = body.unwrap_or_else(|| rendered.body.clone());
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(rendered.content_type),
    );
    if coding != "identity" {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if !head {
        *response.body_mut() = Full::new(body);
    }
    response
}

fn text(status: StatusCode, message: &str, head: bool) -> Response<Full<Bytes>> {
    let body = if head {
        Bytes::new()
    } else {
        Bytes::copy_from_slice(message.as_bytes())
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(message.len()));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn not_found(head: bool) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::NOT_FOUND, "not found\n", head);
    // A feed that does not exist yet may exist after the next publish.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `If-None-Match` against our ETag, with the weak comparison RFC 9110 §13.1.2 asks for.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let ours = opaque(etag);
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == ours)
}

/// IMF-fixdate, the only form HTTP/1.1 senders generate.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// IMF-fixdate and the obsolete RFC 850 and asctime forms RFC 9110 asks recipients to
/// accept.
fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc2822(value) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(value, format) {
            return Some(t.and_utc());
        }
    }
    None
}

/// A content coding we can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Br,
    Gzip,
    Identity,
}

/// The coding to send for an `Accept-Encoding` value, given which compressed bodies exist.
/// The highest q-value wins; on a tie br beats gzip beats identity. `q=0` excludes a
/// coding, `*` stands for every coding not named. Identity is always the fallback, even
/// when excluded: a body the client may not want beats a 406 no feed reader handles.
pub fn choose_encoding(accept: &str, br: bool, gzip: bool) -> Encoding {
    // q-values in thousandths, so comparisons are exact.
    let mut named_br = None;
    let mut named_gzip = None;
    let mut named_identity = None;
    let mut star = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if coding.is_empty() {
            continue;
        }
        let mut q = Some(1000);
        for param in parts {
            if let Some((key, value)) = param.split_once('=') {
                if key.trim().eq_ignore_ascii_case("q") {
                    q = parse_q(value.trim());
                }
            }
        }
        let Some(q) = q else { continue };
        let slot = match coding.as_str() {
            "br" => &mut named_br,
            "gzip" | "x-gzip" => &mut named_gzip,
            "identity" => &mut named_identity,
            "*" => &mut star,
            _ => continue,
        };
        *slot = Some(q);
    }
    let br_q = if br {
        named_br.or(star).unwrap_or(0)
    } else {
        0
    };
    let gzip_q = if gzip {
        named_gzip.or(star).unwrap_or(0)
    } else {
        0
    };
    let mut best = (Encoding::Identity, 0);
    for (encoding, q) in [(Encoding::Br, br_q), (Encoding::Gzip, gzip_q)] {
        if q > best.1 {
            best = (encoding, q);
        }
    }
    // Identity competes only when named: left implicit, it is the fallback below any
    // coding the client accepts.
    if named_identity.is_some_and(|q| q > best.1) {
        return Encoding::Identity;
    }
    best.0
}

/// A q-value (`0`, `0.5`, `1.000`) in thousandths; `None` when malformed.
fn parse_q(value: &str) -> Option<u32> {
    let (whole, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = match whole {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut thousandths = 0;
    for (i, digit) in frac.bytes().enumerate() {
        thousandths += u32::from(digit - b'0') * [100, 10, 1][i];
    }
    let q = whole * 1000 + thousandths;
    (q <= 1000).then_some(q)
}
