//! HTTP over the current [`Snapshot`]: route lookup, aliases, conditional GET and
//! content negotiation, and the limits that keep one client from holding the server.
//!
//! [`respond`] is pure: a request and a snapshot in, a response out, so every rule is
//! tested without a socket. [`run`] is the accept loop (HTTP/1.1 and cleartext HTTP/2)
//! with a graceful shutdown capped at [`GRACE`]; [`connection`] serves one connection and
//! closes it when its client holds it without using it.
//!
//! A URL is never turned into a file path here: routes are looked up in the snapshot,
//! and a media file beside a post through it ([`Snapshot::media`]), which `scan` opens
//! only inside the posts folder. Hostile paths are still refused early, so a lookup never
//! sees `..` or NUL.

mod connection;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use headers::{ETag, HeaderMapExt, IfModifiedSince, IfNoneMatch};
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::ServerLimits;
use crate::metrics::{self, Coding, Metrics, RouteKind};
use crate::routes;
use crate::snapshot::{MediaFile, Rendered, Snapshot};
use crate::websub::WebSub;
pub use connection::Payload;
use connection::{Activity, Answer, MediaBody, Watched};

/// How long responses in flight may take to finish after a shutdown signal.
pub const GRACE: Duration = Duration::from_secs(5);

/// Longer paths are refused with 414; no route comes close.
pub const MAX_PATH: usize = 2048;

/// Connections the kernel completes and holds for us while every slot is taken (or while
/// `serve` starts up); it caps this at `net.core.somaxconn`. The default of std and
/// tokio, 128, would leave a burst of clients beyond `server.max_connections` hanging in
/// SYN retries instead of waiting their turn.
const BACKLOG: u32 = 1024;

/// File descriptors kept for everything but connections: the listener, the watcher, the
/// state database, post files read for pages, the log.
const RESERVED_FDS: u64 = 64;

/// A listener on `addr`, as tokio binds one (the address reusable at once after a
/// restart) but with a [`BACKLOG`] for connections to wait in.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Accepts connections on `listener` until `shutdown` completes, answering each request
/// from the snapshot current when it arrives, within `limits`: beyond
/// `max_connections`, new connections wait in the kernel's backlog until one of those
/// served ends. Then lets the responses in flight finish, for at most [`GRACE`], and
/// closes every connection.
pub async fn run(
    listener: tokio::net::TcpListener,
    snapshots: Arc<ArcSwap<Snapshot>>,
    limits: ServerLimits,
    metrics: Arc<Metrics>,
    websub: Option<Arc<WebSub>>,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Request heads are timed by each connection's watchdog (see `connection`): hyper's
    // own timeout would also cut idle keep-alive connections at the header timeout.
    builder.http1().header_read_timeout(None);
    builder.http2().max_concurrent_streams(limits.max_streams);
    let slots = Arc::new(Semaphore::new(connection_slots(limits.max_connections)));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut accept_errors = AcceptErrors::default();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    let (pause, report) = accept_errors.failed(&err, Instant::now());
                    if let Some(report) = report {
                        tracing::warn!("{report}");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(pause) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        accept_errors.accepted();
        // A media response is written as its head, then its body a chunk at a time:
        // with Nagle's algorithm on, the body's first segment waited for the ACK of the
        // head, which the client delays (40 ms on Linux), on every keep-alive request.
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new(Instant::now()));
        let service = {
            let snapshots = Arc::clone(&snapshots);
            let activity = Arc::clone(&activity);
            let metrics = Arc::clone(&metrics);
            let websub = websub.clone();
            hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let in_flight = activity.start(Instant::now());
                let snapshots = Arc::clone(&snapshots);
                let metrics = Arc::clone(&metrics);
                let websub = websub.clone();
                async move {
                    let response = match websub {
                        Some(websub) if websub.takes(req.uri().path()) => {
                            hub_measured(req, &websub, &metrics).await
                        }
                        websub => {
                            answer_measured(&snapshots.load(), &req, &metrics, websub.as_deref())
                        }
                    };
                    Ok::<_, Infallible>(response.map(|body| Answer::new(body, in_flight)))
                }
            })
        };
        let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity)));
        let connection = builder.serve_connection(io, service).into_owned();
        let stopping = stopping.clone();
        connections.spawn(async move {
            connection::serve(connection, activity, limits, stopping, peer).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let finished = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(GRACE, finished).await.is_err() {
        tracing::warn!(
            "responses still in flight after {} s; closing them",
            GRACE.as_secs()
        );
    }
}

/// How many connections to serve at once: `max_connections`, with the soft open-file
/// limit raised to make room when the hard one allows, and fewer (with a warning) when
/// it does not, so that accepting never fails for want of a descriptor: past the limit,
/// connections wait in the backlog instead.
fn connection_slots(max_connections: usize) -> usize {
    #[cfg(unix)]
    {
        let wanted = (max_connections as libc::rlim_t).saturating_add(RESERVED_FDS);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` into the struct it is handed.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return max_connections;
        }
        if limit.rlim_cur < wanted {
            let raised = libc::rlimit {
                rlim_cur: wanted.min(limit.rlim_max),
                rlim_max: limit.rlim_max,
            };
            // SAFETY: setrlimit only reads the struct; a soft limit up to the hard one
            // needs no privilege, and a refusal leaves the limit as it was.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit = raised;
            }
        }
        let room = limit.rlim_cur.saturating_sub(RESERVED_FDS).max(1);
        if room < max_connections as libc::rlim_t {
            tracing::warn!(
                "serving at most {room} connections at once, not {max_connections} (`server.max_connections`): the open-file limit is {}; raise it (`ulimit -n`) or lower the key",
                limit.rlim_cur
            );
            return usize::try_from(room).unwrap_or(max_connections);
        }
    }
    max_connections
}

/// Failed accepts, paced. Out of file descriptors (or kernel memory), accept fails at
/// once for as long as the shortage lasts; waiting on doubling pauses, up to a second,
/// instead of spinning lets the connections being served end, and one warning a second
/// says so without flooding the log.
#[derive(Debug, Default)]
struct AcceptErrors {
    /// The pause after the last failure; zero after a success.
    pause: Duration,
    /// Failures not yet in a warning.
    unreported: u64,
    /// When the last warning was given.
    reported: Option<Instant>,
}

impl AcceptErrors {
    const FIRST_PAUSE: Duration = Duration::from_millis(10);
    const LONGEST_PAUSE: Duration = Duration::from_secs(1);
    const REPORT_EVERY: Duration = Duration::from_secs(1);

    /// How long to wait after `err` at `now`, and the warning to give, if one is due.
    fn failed(&mut self, err: &std::io::Error, now: Instant) -> (Duration, Option<String>) {
        self.pause = if self.pause.is_zero() {
            Self::FIRST_PAUSE
        } else {
            (self.pause * 2).min(Self::LONGEST_PAUSE)
        };
        self.unreported += 1;
        let due = self
            .reported
            .is_none_or(|at| now.saturating_duration_since(at) >= Self::REPORT_EVERY);
        if !due {
            return (self.pause, None);
        }
        let times = match self.unreported {
            1 => String::new(),
            n => format!(" ({n} times since the last warning)"),
        };
        let report = format!(
            "cannot accept connections: {err}{times}; waiting {} ms; if it says too many open files, raise `ulimit -n` or lower `server.max_connections`",
            self.pause.as_millis()
        );
        self.unreported = 0;
        self.reported = Some(now);
        (self.pause, Some(report))
    }

    /// A connection was accepted: the next failure waits the shortest pause again.
    fn accepted(&mut self) {
        self.pause = Duration::ZERO;
    }
}

/// [`answer`], with `/metrics` answered from `metrics`, the subscriber counts added to
/// `/healthz`, and the response counted: its route kind, status and body bytes, and the
/// subscriber count a feed reader states in its User-Agent.
pub fn answer_measured<B>(
    snapshot: &Snapshot,
    req: &Request<B>,
    metrics: &Metrics,
    websub: Option<&WebSub>,
) -> Response<Payload> {
    let path = req.uri().path();
    let readable = *req.method() == Method::GET || *req.method() == Method::HEAD;
    let response = match path {
        metrics::ROUTE if readable => metrics_response(metrics, *req.method() == Method::HEAD),
        routes::HEALTH if readable => health_response(snapshot, req, metrics, websub),
        _ => {
            let mut response = answer(snapshot, req);
            // A feed names its hubs in a `Link` header too (WebSub section 4).
            if let Some(link) = websub.and_then(|websub| websub.link(snapshot, path)) {
                response.headers_mut().insert(header::LINK, link);
            }
            response
        }
    };
    let kind = kind_of(snapshot, path, &response);
    let coding = Coding::of(
        response
            .headers()
            .get(header::CONTENT_ENCODING)
            .map(HeaderValue::as_bytes),
    );
    let bytes = hyper::body::Body::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    let status = response.status();
    metrics.record_request(kind, status.as_u16(), coding, bytes);
    // An archive is fetched by the readers of its feed: what they state counts there.
    // The route as answered (percent-decoded), so `/archive/%31.rss` is an archive too.
    let route = route_of(path);
    let archive = route
        .as_deref()
        .is_some_and(|route| routes::FeedKey::of_archive(route).is_some());
    if kind == RouteKind::Feed
        && !archive
        && matches!(status, StatusCode::OK | StatusCode::NOT_MODIFIED)
    {
        if let (Some(ua), Some(route)) = (req.headers().get(header::USER_AGENT), &route) {
            metrics.subscribers().note(route, ua.as_bytes());
        }
    }
    response
}

/// What kind of route gave `response` to a request for `path`: a small fixed set, so
/// the metrics never grow with the paths clients make up.
fn kind_of(snapshot: &Snapshot, path: &str, response: &Response<Payload>) -> RouteKind {
    match path {
        metrics::ROUTE => return RouteKind::Metrics,
        routes::HEALTH => return RouteKind::Health,
        "/websub" => return RouteKind::WebSub,
        _ => {}
    }
    match response.status() {
        StatusCode::MOVED_PERMANENTLY => return RouteKind::Alias,
        StatusCode::NOT_FOUND => return RouteKind::NotFound,
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::URI_TOO_LONG => return RouteKind::Other,
        _ => {}
    }
    // Only media responses offer ranges (a 304 or a HEAD of one has no media body).
    if response.headers().contains_key(header::ACCEPT_RANGES) {
        return RouteKind::Media;
    }
    let Some(route) = route_of(path) else {
        return RouteKind::Other;
    };
    let sent = response.headers().get(header::CONTENT_TYPE);
    // A 304 carries no Content-Type: the route's own says what it is (a feed's is at
    // hand; a page's was cached by the lookup that answered).
    let kept = sent.is_none().then(|| snapshot.get(&route)).flatten();
    let content_type = match (sent, &kept) {
        (Some(sent), _) => sent.as_bytes(),
        (None, Some(rendered)) => rendered.content_type.as_bytes(),
        (None, None) => b"",
    };
    if [
        &b"application/rss+xml"[..],
        b"application/atom+xml",
        b"application/feed+json",
    ]
    .iter()
    .any(|feed| content_type.starts_with(feed))
    {
        RouteKind::Feed
    } else if !content_type.starts_with(b"text/html") {
        RouteKind::Other
    } else if snapshot.is_post_page(&route) {
        RouteKind::Post
    } else {
        RouteKind::Page
    }
}

/// `/metrics`: every metric, now. Never cached: each scrape must see the counts of its
/// moment.
fn metrics_response(metrics: &Metrics, head: bool) -> Response<Payload> {
    let text = metrics.encode();
    let len = text.len();
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(text)
    };
    let mut response = Response::new(Payload::Full(Full::new(body)));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `/healthz` as the snapshot has it, with the subscriber counts of this moment added
/// (and an ETag of its own, since its body differs).
fn health_response<B>(
    snapshot: &Snapshot,
    req: &Request<B>,
    metrics: &Metrics,
    websub: Option<&WebSub>,
) -> Response<Payload> {
    let Some(rendered) = snapshot.get(routes::HEALTH) else {
        return answer(snapshot, req);
    };
    // WebSub's part (subscriptions, hubs' last pings) changes between publishes.
    let report = match websub {
        Some(websub) => websub.add_health(&rendered.body),
        None => rendered.body.clone(),
    };
    let Some(body) = metrics.subscribers().add_to_health(&report) else {
        return answer(snapshot, req);
    };
    let with = Rendered {
        content_type: rendered.content_type,
        etag: crate::snapshot::etag(&body),
        body: Bytes::from(body),
        gzip: None,
        br: None,
        pending: false,
        // WebSub's part has no date of its own: the report is then as new as now.
        last_modified: match websub {
            Some(_) => Utc::now(),
            None => rendered
                .last_modified
                .max(metrics.subscribers().changed().unwrap_or_default()),
        },
        cache_control: rendered.cache_control.clone(),
    };
    let head = *req.method() == Method::HEAD;
    rendered_response(&with, req, head, Utc::now()).map(Payload::Full)
}

/// A request to the built-in hub's `/websub` (the only request whose body is read,
/// bounded), counted as the others are.
async fn hub_measured(
    req: Request<hyper::body::Incoming>,
    websub: &WebSub,
    metrics: &Metrics,
) -> Response<Payload> {
    let response = websub.respond(req).await;
    let bytes = hyper::body::Body::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    metrics.record_request(
        RouteKind::WebSub,
        response.status().as_u16(),
        Coding::Identity,
        bytes,
    );
    response.map(Payload::Full)
}

/// The response to `req` from `snapshot`, now, media files beside the posts included.
/// The request body is never read.
pub fn answer<B>(snapshot: &Snapshot, req: &Request<B>) -> Response<Payload> {
    answer_at(snapshot, req, Utc::now())
}

/// [`answer`] at `now`: a route of the snapshot (see [`respond_at`]), else a media file
/// beside a post, else what [`respond_at`] says (a redirect, a 404).
pub fn answer_at<B>(
    snapshot: &Snapshot,
    req: &Request<B>,
    now: DateTime<Utc>,
) -> Response<Payload> {
    let head = *req.method() == Method::HEAD;
    let media = (head || *req.method() == Method::GET)
        .then(|| req.uri().path())
        .filter(|raw| raw.len() <= MAX_PATH)
        .and_then(route_of)
        .filter(|path| !snapshot.has(path))
        .and_then(|path| snapshot.media(&path));
    match media {
        Some(file) => media_response(file, req, head, now),
        None => respond_at(snapshot, req, now).map(Payload::Full),
    }
}

/// The response to `req` from `snapshot`, now: every route but the media files. The
/// request body is never read.
pub fn respond<B>(snapshot: &Snapshot, req: &Request<B>) -> Response<Full<Bytes>> {
    respond_at(snapshot, req, Utc::now())
}

/// The response to `req` from `snapshot` at `now`, which only caps the Last-Modified
/// header (see [`rendered_response`]).
pub fn respond_at<B>(
    snapshot: &Snapshot,
    req: &Request<B>,
    now: DateTime<Utc>,
) -> Response<Full<Bytes>> {
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
        return rendered_response(&rendered, req, head, now);
    }
    let target = routes::alias_target(&path)
        .filter(|target| snapshot.has(target))
        .or_else(|| {
            snapshot
                .redirect(&path)
                .filter(|target| snapshot.has(target))
                .map(str::to_string)
        })
        // `/posts/night-bus` typed or linked without its final slash.
        .or_else(|| routes::with_final_slash(&path).filter(|target| snapshot.has(target)))
        // An archive by its plain route, or by a name its posts no longer have.
        .or_else(|| snapshot.archive_redirect(&path));
    match target {
        Some(target) => {
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
fn route_of(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
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
    Some(path)
}

/// A route's response: its caching headers, then 304 or the body in the best coding the
/// client accepts. Conditional GET compares against the route's own Last-Modified, which
/// a second change within one second sets a second ahead (HTTP dates carry whole
/// seconds); the header never says more than `now` (RFC 9110 §8.8.2.1), so a reader
/// holding a copy from within that second sends back an earlier date and gets the body.
fn rendered_response<B>(
    rendered: &Rendered,
    req: &Request<B>,
    head: bool,
    now: DateTime<Utc>,
) -> Response<Full<Bytes>> {
    let headers = req.headers();
    let not_modified = not_modified(
        req.method(),
        headers,
        &rendered.etag,
        rendered.last_modified,
    );
    let mut response = Response::new(Full::new(Bytes::new()));
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&rendered.etag) {
        h.insert(header::ETAG, etag);
    }
    let shown = rendered.last_modified.min(now);
    if let Ok(date) = HeaderValue::from_str(&http_date(shown)) {
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
    if rendered.content_type.starts_with("text/html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        );
    }
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

/// The `Content-Security-Policy` of every HTML page: no script at all, from anywhere
/// (a post's sanitized HTML has none, and a script slipped past would not run);
/// images, audio and video from anywhere, as posts embed them; the pages' own inline
/// stylesheet; no plugins, no forms, no framing by other sites.
pub const PAGE_POLICY: &str = "default-src 'none'; img-src * data:; media-src *; \
style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

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

/// Whether a request's preconditions make the answer 304 Not Modified, evaluated as
/// RFC 9110 §13.2.2 orders them (`If-Match` and `If-Unmodified-Since` do not apply to a
/// read-only server):
///
/// 1. `If-None-Match`, when present, decides alone, with the weak comparison of
///    §13.1.2: `*` or any listed tag equal to our ETag, `W/` or not, is a match. A value
///    that does not parse matches nothing, and still silences `If-Modified-Since`.
/// 2. Otherwise `If-Modified-Since`, for GET and HEAD only: not modified when our
///    Last-Modified is not after it. An invalid date is ignored (§13.1.3).
fn not_modified(
    method: &Method,
    headers: &header::HeaderMap,
    etag: &str,
    last_modified: DateTime<Utc>,
) -> bool {
    if headers.contains_key(header::IF_NONE_MATCH) {
        // An entity-tag holds no space or tab (RFC 9110 §8.8.3), but a header value may:
        // the headers crate asserts there is none (a panic in debug builds), so such a
        // list is refused here, as one that does not parse. So is a value with a quote
        // left open, which the crate would close in the next `If-None-Match` line.
        let blank_in_tag = headers.get_all(header::IF_NONE_MATCH).iter().any(|value| {
            let mut quoted = false;
            let blank = value.as_bytes().iter().any(|&b| {
                quoted ^= b == b'"';
                quoted && matches!(b, b' ' | b'\t')
            });
            blank || quoted
        });
        if blank_in_tag {
            return false;
        }
        let Some(if_none_match) = headers.typed_get::<IfNoneMatch>() else {
            return false;
        };
        return etag
            .parse::<ETag>()
            .is_ok_and(|etag| !if_none_match.precondition_passes(&etag));
    }
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    // Compared as dates rather than with `IfModifiedSince::is_modified`, which would
    // panic on a Last-Modified before 1970.
    headers
        .typed_get::<IfModifiedSince>()
        .map(|since| DateTime::<Utc>::from(std::time::SystemTime::from(since)))
        .is_some_and(|since| last_modified <= since)
}

/// What the server does with a `Range` header (RFC 9110 §14), for a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranged {
    /// No usable range: the whole file, 200. Also for a header that does not parse,
    /// several ranges (a multipart answer is not worth its code for media players,
    /// which ask for one), and an `If-Range` that no longer matches.
    Whole,
    /// `start..=end`, 206.
    Part { start: u64, end: u64 },
    /// 416: the range lies past the end.
    Unsatisfiable,
}

/// The range `req` asks of a file of `len` bytes with `etag` and `last_modified`.
fn ranged(
    headers: &header::HeaderMap,
    len: u64,
    etag: &str,
    last_modified: DateTime<Utc>,
) -> Ranged {
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ranged::Whole;
    };
    if let Some(if_range) = headers.get(header::IF_RANGE) {
        // A strong ETag compared strongly, or the exact Last-Modified (§13.1.5).
        let matches = if_range.to_str().is_ok_and(|value| {
            let value = value.trim();
            if value.starts_with('"') {
                value == etag
            } else {
                httpdate_of(value).is_some_and(|date| date == last_modified)
            }
        });
        if !matches {
            return Ranged::Whole;
        }
    }
    let Some(spec) = range.trim().strip_prefix("bytes=") else {
        return Ranged::Whole;
    };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Whole;
    };
    let number = |text: &str| {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u64>().ok())
            .flatten()
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // `bytes=-500`: the last 500 bytes.
        return match number(last) {
            None => Ranged::Whole,
            Some(0) => Ranged::Unsatisfiable,
            Some(_) if len == 0 => Ranged::Unsatisfiable,
            Some(suffix) => Ranged::Part {
                start: len.saturating_sub(suffix),
                end: len - 1,
            },
        };
    }
    let Some(start) = number(first) else {
        return Ranged::Whole;
    };
    // `bytes=500-`: open to the end.
    let end = match (last.is_empty(), number(last)) {
        (true, _) => None,
        (false, Some(end)) if end >= start => Some(end),
        (false, _) => return Ranged::Whole,
    };
    if start >= len {
        return Ranged::Unsatisfiable;
    }
    Ranged::Part {
        start,
        end: end.map_or(len - 1, |end| end.min(len - 1)),
    }
}

/// An HTTP date, in any of the three forms RFC 9110 accepts.
fn httpdate_of(value: &str) -> Option<DateTime<Utc>> {
    let value = HeaderValue::from_str(value).ok()?;
    let mut map = header::HeaderMap::new();
    map.insert(header::IF_MODIFIED_SINCE, value);
    map.typed_get::<IfModifiedSince>()
        .map(|since| DateTime::<Utc>::from(std::time::SystemTime::from(since)))
}

/// What media responses may do in a browser: nothing. An SVG beside a post may hold a
/// script, and it is served from the site's own origin.
const MEDIA_CSP: &str = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; sandbox";

/// A media file's response: its caching headers, then 304, 416, the range asked for
/// (206), or the whole file. Never compressed: pictures, audio and video are already.
fn media_response<B>(
    file: MediaFile,
    req: &Request<B>,
    head: bool,
    now: DateTime<Utc>,
) -> Response<Payload> {
    let headers = req.headers();
    // A file dated ahead of the clock is sent as changed now (RFC 9110 §8.8.2.1), and
    // the conditions compare what was sent: a client only ever has that date to send
    // back, and the file's own would stay newer than it, never a 304.
    let last_modified = file.last_modified.min(now);
    let mut response = Response::new(Payload::Full(Full::new(Bytes::new())));
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&file.etag) {
        h.insert(header::ETAG, etag);
    }
    if let Ok(date) = HeaderValue::from_str(&http_date(last_modified)) {
        h.insert(header::LAST_MODIFIED, date);
    }
    if let Ok(cache) = HeaderValue::from_str(&file.cache_control) {
        h.insert(header::CACHE_CONTROL, cache);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(MEDIA_CSP),
    );
    if not_modified(req.method(), headers, &file.etag, last_modified) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }
    // Ranges are defined for GET only (RFC 9110 §14.2): HEAD shows the whole file.
    let range = if head {
        Ranged::Whole
    } else {
        ranged(headers, file.len, &file.etag, last_modified)
    };
    let (start, len) = match range {
        Ranged::Whole => (0, file.len),
        Ranged::Part { start, end } => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let value = format!("bytes {start}-{end}/{}", file.len);
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            (start, end - start + 1)
        }
        Ranged::Unsatisfiable => {
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            let h = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{}", file.len)) {
                h.insert(header::CONTENT_RANGE, value);
            }
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
            return response;
        }
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if !head && len > 0 {
        *response.body_mut() = Payload::Media(MediaBody::new(file.content, start, len));
    }
    response
}

/// IMF-fixdate, the only form HTTP/1.1 senders generate.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Remembered, Update};
    use crate::config::Config;
    use crate::snapshot::{Bodies, InPost};
    use crate::testing::PostBuilder;
    use chrono::TimeZone;
    use std::path::Path;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, d, 12, 0, 0).single().unwrap()
    }

    /// One post `hello` in category "Bay Area" by Ann, published on May 1 2024.
    fn snapshot() -> Snapshot {
        let config = Config::parse(
            "[site]\nbase_url = \"https://example.com\"\n",
            Path::new("config.toml"),
        )
        .unwrap();
        let post = PostBuilder::new("hello")
            .site(&config.site)
            .title("Hello")
            .author("Ann")
            .category("Bay Area")
            .published("2024-05-01T12:00:00+00:00")
            .summary("Hello there.")
            .content_html("<p>Hello there, a body long enough to be worth compressing.</p>")
            .build();
        let mut catalog = Catalog::new();
        catalog.advance(day(20));
        catalog.apply("hello.md", Update::Parsed(post));
        let touched = catalog.take_touched();
        let (snapshot, _) = Snapshot::default().next(
            &catalog,
            &touched,
            &Remembered::default(),
            &(Arc::new(InPost) as Arc<dyn Bodies>),
            &config,
            day(20),
        );
        // As a publish leaves it: compressed right after the swap.
        snapshot.compress_pending().unwrap_or(snapshot)
    }

    fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    fn get(uri: &str, headers: &[(&str, &str)]) -> Response<Full<Bytes>> {
        respond(&snapshot(), &request("GET", uri, headers))
    }

    fn header<'a>(response: &'a Response<Full<Bytes>>, name: &str) -> &'a str {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn body(response: Response<Full<Bytes>>) -> Bytes {
        use http_body_util::BodyExt;
        let collected = ready_now(response.into_body().collect());
        collected.unwrap().to_bytes()
    }

    /// A `Full` body is ready at once: one poll finishes it.
    fn ready_now<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("a Full body was not ready"),
        }
    }

    #[test]
    fn accept_failures_back_off_to_a_second_and_warn_at_most_once_a_second() {
        let err = std::io::Error::from_raw_os_error(libc::EMFILE);
        let mut errors = AcceptErrors::default();
        let start = Instant::now();
        let mut now = start;
        let mut last = start;
        let mut pauses = Vec::new();
        let mut warnings = Vec::new();
        // Out of descriptors for 25 s, as in the probe that logged 605 warnings.
        while now < start + Duration::from_secs(25) {
            let (pause, warning) = errors.failed(&err, now);
            pauses.push(pause.as_millis());
            warnings.extend(warning);
            last = now;
            now += pause;
        }
        assert_eq!(pauses[..9], [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(pauses.len(), 31);
        assert_eq!(warnings.len(), 25);
        assert_eq!(
            warnings[0],
            "cannot accept connections: Too many open files (os error 24); waiting 10 ms; \
             if it says too many open files, raise `ulimit -n` or lower `server.max_connections`"
        );
        assert_eq!(
            warnings[1],
            "cannot accept connections: Too many open files (os error 24) (7 times since the \
             last warning); waiting 1000 ms; if it says too many open files, raise `ulimit -n` \
             or lower `server.max_connections`"
        );
        // One accepted: the next failure waits the shortest pause again, but the warning
        // still waits its second.
        errors.accepted();
        let soon = last + Duration::from_millis(500);
        assert_eq!(errors.failed(&err, soon), (Duration::from_millis(10), None));
    }

    #[test]
    fn a_feed_has_every_caching_header() {
        let snapshot = snapshot();
        let rendered = snapshot.get("/categories/bay-area/rss.xml").unwrap();
        let response = respond(
            &snapshot,
            &request("GET", "/categories/bay-area/rss.xml", &[]),
        );
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "content-type"),
            "application/rss+xml; charset=utf-8"
        );
        assert_eq!(header(&response, "etag"), rendered.etag);
        assert_eq!(
            header(&response, "last-modified"),
            "Wed, 01 May 2024 12:00:00 GMT"
        );
        assert_eq!(header(&response, "cache-control"), "public, max-age=300");
        assert_eq!(header(&response, "vary"), "Accept-Encoding");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "content-encoding"), "");
        assert_eq!(
            header(&response, "content-length"),
            rendered.body.len().to_string()
        );
        assert_eq!(body(response), rendered.body);
    }

    #[test]
    fn the_query_string_is_ignored_and_percent_encoding_decoded() {
        assert_eq!(get("/rss.xml?utm_source=x", &[]).status(), StatusCode::OK);
        assert_eq!(get("/%72ss.xml", &[]).status(), StatusCode::OK);
        assert_eq!(
            get("/categories/bay%2Darea/atom.xml", &[]).status(),
            StatusCode::OK
        );
    }

    #[test]
    fn head_has_the_headers_of_get_and_no_body() {
        let got = get("/rss.xml", &[("accept-encoding", "gzip")]);
        let head = respond(
            &snapshot(),
            &request("HEAD", "/rss.xml", &[("accept-encoding", "gzip")]),
        );
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers(), got.headers());
        assert_eq!(header(&head, "content-encoding"), "gzip");
        assert!(body(head).is_empty());
    }

    #[test]
    fn other_methods_are_not_allowed() {
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "BREW"] {
            let response = respond(&snapshot(), &request(method, "/rss.xml", &[]));
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method}"
            );
            assert_eq!(header(&response, "allow"), "GET, HEAD");
        }
    }

    #[test]
    fn unknown_paths_are_404_with_a_small_text_body() {
        let response = get("/nope.xml", &[]);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            header(&response, "content-type"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(body(response), "not found\n");
    }

    #[test]
    fn hostile_paths_never_reach_a_route() {
        for path in [
            "/../config.toml",
            "/%2e%2e/config.toml",
            "/posts/%2e%2e%2fx/",
            "/posts/hello/%2e%2e/%2e%2e/rss.xml",
            "/posts/hello/./",
            "/rss.xml%00",
            "/posts%5chello/",
            "/%ff%fe",
        ] {
            assert_eq!(get(path, &[]).status(), StatusCode::NOT_FOUND, "{path}");
        }
        let long = format!("/{}", "a".repeat(10 * 1024));
        assert_eq!(get(&long, &[]).status(), StatusCode::URI_TOO_LONG);
        let brew = respond(&snapshot(), &request("BREW", "/../config.toml", &[]));
        assert_eq!(brew.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn aliases_redirect_to_routes_that_exist() {
        for (alias, target) in [
            ("/feed/", "/rss.xml"),
            ("/feed/rss2/", "/rss.xml"),
            ("/index.xml", "/rss.xml"),
            ("/feed/atom/", "/atom.xml"),
            ("/category/bay-area/feed/", "/categories/bay-area/rss.xml"),
            (
                "/category/bay-area/feed/atom/",
                "/categories/bay-area/atom.xml",
            ),
            (
                "/categories/bay-area/index.xml",
                "/categories/bay-area/rss.xml",
            ),
            ("/author/ann/feed/", "/authors/ann/rss.xml"),
        ] {
            let response = get(alias, &[]);
            assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY, "{alias}");
            assert_eq!(header(&response, "location"), target, "{alias}");
        }
        // No such category: no redirect to a 404.
        assert_eq!(
            get("/category/nope/feed/", &[]).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_matching_etag_gives_304_with_the_caching_headers_and_no_body() {
        let snapshot = snapshot();
        let etag = snapshot.get("/rss.xml").unwrap().etag.clone();
        let weak = format!("W/{etag}");
        for value in [etag.as_str(), "*", &format!("\"other\", {weak}")] {
            let response = respond(
                &snapshot,
                &request("GET", "/rss.xml", &[("if-none-match", value)]),
            );
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{value}");
            assert_eq!(header(&response, "etag"), etag);
            assert_eq!(
                header(&response, "last-modified"),
                "Wed, 01 May 2024 12:00:00 GMT"
            );
            assert_eq!(header(&response, "cache-control"), "public, max-age=300");
            assert_eq!(header(&response, "vary"), "Accept-Encoding");
            assert_eq!(header(&response, "content-length"), "");
            assert!(body(response).is_empty());
        }
    }

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        let response = get(
            "/rss.xml",
            &[
                ("if-none-match", "\"stale\""),
                ("if-modified-since", "Thu, 01 May 2025 00:00:00 GMT"),
            ],
        );
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn an_unparsable_if_none_match_matches_nothing_and_still_overrides_if_modified_since() {
        let response = get(
            "/rss.xml",
            &[
                ("if-none-match", "not-quoted"),
                ("if-modified-since", "Thu, 01 May 2025 00:00:00 GMT"),
            ],
        );
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// Found by fuzzing (`fuzz/`, target `route`): the headers crate asserts that an
    /// entity-tag holds no space, so this request panicked a debug build.
    #[test]
    fn an_if_none_match_with_a_space_in_a_tag_matches_nothing() {
        let snapshot = snapshot();
        let etag = snapshot.get("/rss.xml").unwrap().etag.clone();
        for value in ["W/\"/a/D /feed\"", "\"a\tb\"", &format!("{etag}, \"x y\"")] {
            let response = respond(
                &snapshot,
                &request("HEAD", "/rss.xml", &[("if-none-match", value)]),
            );
            assert_eq!(response.status(), StatusCode::OK, "{value}");
        }
        // Two lines are read as one list, `W/", W/"`: a space inside a tag again.
        let twice = [("if-none-match", "W/\""), ("if-none-match", "W/\"")];
        let response = respond(&snapshot, &request("HEAD", "/rss.xml", &twice));
        assert_eq!(response.status(), StatusCode::OK);
        let listed = format!("\"x\", {etag}");
        let response = respond(
            &snapshot,
            &request("GET", "/rss.xml", &[("if-none-match", &listed)]),
        );
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        for (since, status) in [
            ("Wed, 01 May 2024 12:00:00 GMT", StatusCode::NOT_MODIFIED),
            (
                "Wednesday, 01-May-24 12:00:01 GMT",
                StatusCode::NOT_MODIFIED,
            ),
            ("Wed May  1 12:00:00 2024", StatusCode::NOT_MODIFIED),
            ("Wed, 01 May 2024 11:59:59 GMT", StatusCode::OK),
            ("yesterday", StatusCode::OK),
        ] {
            let response = get("/rss.xml", &[("if-modified-since", since)]);
            assert_eq!(response.status(), status, "{since}");
        }
    }

    #[test]
    fn last_modified_ahead_of_the_clock_is_shown_as_now_and_never_gives_a_stale_304() {
        // The feed's Last-Modified is May 1, 12:00; the clock says 11:59:30 (as after two
        // changes within one second).
        let snapshot = snapshot();
        let now = day(1) - chrono::Duration::seconds(30);
        let response = respond_at(&snapshot, &request("GET", "/rss.xml", &[]), now);
        assert_eq!(
            header(&response, "last-modified"),
            "Wed, 01 May 2024 11:59:30 GMT"
        );
        // A reader sending back what it was shown still gets the body...
        let since = [("if-modified-since", "Wed, 01 May 2024 11:59:30 GMT")];
        let response = respond_at(&snapshot, &request("GET", "/rss.xml", &since), now);
        assert_eq!(response.status(), StatusCode::OK);
        // ...until it holds the copy of 12:00.
        let since = [("if-modified-since", "Wed, 01 May 2024 12:00:00 GMT")];
        let response = respond_at(&snapshot, &request("GET", "/rss.xml", &since), day(2));
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn compressed_bodies_are_the_prepared_ones() {
        let snapshot = snapshot();
        let rendered = snapshot.get("/atom.xml").unwrap();
        let br = respond(
            &snapshot,
            &request("GET", "/atom.xml", &[("accept-encoding", "gzip, br")]),
        );
        assert_eq!(header(&br, "content-encoding"), "br");
        assert_eq!(
            header(&br, "content-length"),
            rendered.br.as_ref().unwrap().len().to_string()
        );
        assert_eq!(&body(br), rendered.br.as_ref().unwrap());
        let gzip = respond(
            &snapshot,
            &request("GET", "/atom.xml", &[("accept-encoding", "gzip")]),
        );
        assert_eq!(header(&gzip, "content-encoding"), "gzip");
        assert_eq!(&body(gzip), rendered.gzip.as_ref().unwrap());
    }

    #[test]
    fn health_is_never_compressed() {
        let response = get("/healthz", &[("accept-encoding", "br, gzip")]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-encoding"), "");
        assert_eq!(header(&response, "cache-control"), "no-store");
    }

    #[test]
    fn a_range_is_one_span_inside_the_file_else_the_whole_file_or_416() {
        let etag = "\"abc\"";
        let modified = day(1);
        let ranged_of = |range: &str, if_range: Option<&str>| {
            let mut headers = header::HeaderMap::new();
            headers.insert(header::RANGE, HeaderValue::from_str(range).unwrap());
            if let Some(value) = if_range {
                headers.insert(header::IF_RANGE, HeaderValue::from_str(value).unwrap());
            }
            ranged(&headers, 1000, etag, modified)
        };
        let part = |start, end| Ranged::Part { start, end };
        for (range, expected) in [
            ("bytes=0-499", part(0, 499)),
            ("bytes=500-", part(500, 999)),
            ("bytes=900-5000", part(900, 999)),
            ("bytes=-100", part(900, 999)),
            ("bytes=-5000", part(0, 999)),
            ("bytes= 10 - 19 ", part(10, 19)),
            ("bytes=999-999", part(999, 999)),
            ("bytes=1000-", Ranged::Unsatisfiable),
            ("bytes=1000-1001", Ranged::Unsatisfiable),
            ("bytes=-0", Ranged::Unsatisfiable),
            ("bytes=5-1", Ranged::Whole),
            ("bytes=0-1,5-6", Ranged::Whole),
            ("bytes=a-b", Ranged::Whole),
            ("bytes=-", Ranged::Whole),
            ("items=0-1", Ranged::Whole),
            ("bytes=+1-2", Ranged::Whole),
        ] {
            assert_eq!(ranged_of(range, None), expected, "{range}");
        }
        assert_eq!(ranged_of("bytes=0-9", Some(etag)), part(0, 9));
        assert_eq!(ranged_of("bytes=0-9", Some("W/\"abc\"")), Ranged::Whole);
        assert_eq!(ranged_of("bytes=0-9", Some("\"old\"")), Ranged::Whole);
        assert_eq!(
            ranged_of("bytes=0-9", Some("Wed, 01 May 2024 12:00:00 GMT")),
            part(0, 9)
        );
        assert_eq!(
            ranged_of("bytes=0-9", Some("Wed, 01 May 2024 11:00:00 GMT")),
            Ranged::Whole
        );
        assert_eq!(
            ranged(&header::HeaderMap::new(), 1000, etag, modified),
            Ranged::Whole
        );
    }

    /// Regression (review of the media work): a file dated ahead of the clock was sent
    /// as changed now, but compared with its own date, so `If-Modified-Since` with the
    /// date sent never gave a 304.
    #[test]
    fn a_media_file_dated_ahead_of_the_clock_gets_a_304_for_the_date_sent() {
        let now = day(10);
        let file = || MediaFile {
            content_type: "audio/mpeg",
            len: 3,
            etag: "\"abc\"".into(),
            last_modified: day(20),
            cache_control: String::new(),
            content: Box::new(std::io::Cursor::new(b"abc".to_vec())),
        };
        let first = media_response(file(), &request("GET", "/ep.mp3", &[]), false, now);
        assert_eq!(first.status(), StatusCode::OK);
        let last_modified = |r: &Response<Payload>| {
            r.headers()
                .get(header::LAST_MODIFIED)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let sent = last_modified(&first);
        assert_eq!(sent, "Fri, 10 May 2024 12:00:00 GMT");
        let again = request("GET", "/ep.mp3", &[("if-modified-since", &sent)]);
        let got = media_response(file(), &again, false, now);
        assert_eq!(got.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(last_modified(&got), sent);
        // If-Range with the date sent: the range.
        let ranged = request(
            "GET",
            "/ep.mp3",
            &[("range", "bytes=0-0"), ("if-range", &sent)],
        );
        let got = media_response(file(), &ranged, false, now);
        assert_eq!(got.status(), StatusCode::PARTIAL_CONTENT);
    }

    #[test]
    fn accept_encoding_follows_q_values() {
        use Encoding::*;
        for (accept, expected) in [
            ("", Identity),
            ("gzip", Gzip),
            ("br", Br),
            ("gzip, br", Br),
            ("br, gzip", Br),
            ("gzip;q=1.0, br;q=0.8", Gzip),
            ("gzip;q=0.5, br;q=0.5", Br),
            ("br;q=0, gzip", Gzip),
            ("br;q=0, gzip;q=0", Identity),
            ("*", Br),
            ("*;q=0.5, gzip", Gzip),
            ("*, br;q=0", Gzip),
            ("*;q=0", Identity),
            ("identity", Identity),
            ("identity, gzip;q=0.5", Identity),
            ("identity;q=0.1, gzip;q=0.5", Gzip),
            ("GZIP", Gzip),
            ("x-gzip", Gzip),
            ("gzip;q=2", Identity),
            ("gzip;q=abc, br", Br),
            ("deflate, compress", Identity),
            (" gzip ; q=0.9 , br ; q=0.8 ", Gzip),
        ] {
            assert_eq!(choose_encoding(accept, true, true), expected, "{accept:?}");
        }
        assert_eq!(choose_encoding("br", false, true), Identity);
        assert_eq!(choose_encoding("br, gzip;q=0.1", false, true), Gzip);
    }
}
