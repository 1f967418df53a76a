//! One connection, served until its client is done with it, or holds it without using it,
//! or the server stops.
//!
//! hyper times nothing out here by itself. Its HTTP/1 `header_read_timeout` starts as soon
//! as a keep-alive connection goes idle, so one number would bound both a slow header and
//! the wait between requests, and HTTP/2 has neither. So each connection keeps an
//! [`Activity`] that its socket ([`Watched`]) and its requests ([`Answer`]) update, and the
//! task serving it closes it:
//!
//! - when an HTTP/1 request head has not arrived whole `header_timeout` after its first
//!   byte (a slowloris client sending half a header);
//! - when nothing moved for its client for `idle_timeout`: no request began or ended, and
//!   no byte of an unfinished response was written (an idle keep-alive connection, an
//!   HTTP/2 connection that only pings, a client that stopped reading its response);
//! - at shutdown, as soon as no response is in flight, rather than waiting for the client
//!   to finish a request head or to answer the PING of HTTP/2's graceful GOAWAY.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::ServerLimits;
use crate::snapshot::MediaContent;
use std::future::Future;

/// What an HTTP/2 client sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What one connection has been doing, written by its socket and its requests (HTTP/2
/// answers on tasks of their own, hence the lock) and read by the task serving it.
#[derive(Debug)]
pub struct Activity(Mutex<Progress>);

#[derive(Debug)]
struct Progress {
    /// Requests whose response body hyper has not yet taken whole.
    in_flight: usize,
    /// Requests finished so far. At shutdown, a connection closes only after a poll that
    /// began after the last one finished: that poll handed its response to the socket.
    finished: u64,
    /// The last time the connection moved for its client: it opened, a request began or
    /// ended, or bytes of an unfinished response were written.
    moved: Instant,
    /// When the first byte of an HTTP/1 request head came, with no request in flight.
    head_since: Option<Instant>,
    /// The last write found the socket full: response bytes wait for the client to read.
    write_blocked: bool,
    /// What the first bytes said: `None` before any, `Some(true)` for the HTTP/2 preface,
    /// whose frames (a PING, a WINDOW_UPDATE) are no request head.
    http2: Option<bool>,
}

/// Why a connection was closed by its watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// An HTTP/1 request head did not arrive whole in time.
    Header,
    /// Nothing moved for the client in time.
    Idle,
}

impl Activity {
    pub fn new(now: Instant) -> Activity {
        Activity(Mutex::new(Progress {
            in_flight: 0,
            finished: 0,
            moved: now,
            head_since: None,
            write_blocked: false,
            http2: None,
        }))
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The socket gave `bytes`.
    pub fn read(&self, bytes: &[u8], now: Instant) {
        let mut p = self.progress();
        if p.http2.is_none() && !bytes.is_empty() {
            let n = bytes.len().min(H2_PREFACE.len());
            p.http2 = Some(bytes[..n] == H2_PREFACE[..n]);
        }
        if p.http2 == Some(false) && p.in_flight == 0 && p.head_since.is_none() {
            p.head_since = Some(now);
        }
    }

    /// The socket took `written` bytes, or was full (`None`).
    pub fn wrote(&self, written: Option<usize>, now: Instant) {
        let mut p = self.progress();
        match written {
            None => p.write_blocked = true,
            Some(0) => {}
            Some(_) => {
                // A PING answered on an idle HTTP/2 connection is no progress; the bytes
                // of a response are, also once its body has been taken whole.
                if p.in_flight > 0 || p.write_blocked {
                    p.moved = now;
                }
                p.write_blocked = false;
            }
        }
    }

    /// A request's head arrived whole; the request is in flight until the returned guard,
    /// which goes with its response body, is dropped.
    pub fn start(self: &Arc<Self>, now: Instant) -> InFlight {
        let mut p = self.progress();
        p.in_flight += 1;
        p.head_since = None;
        p.moved = now;
        InFlight(Arc::clone(self))
    }

    fn finish(&self, now: Instant) {
        let mut p = self.progress();
        p.in_flight = p.in_flight.saturating_sub(1);
        p.finished += 1;
        p.moved = now;
    }

    /// Requests finished so far.
    pub fn finished(&self) -> u64 {
        self.progress().finished
    }

    /// True when the connection may close at shutdown without cutting a response: none
    /// in flight, none waiting for the socket, and none finished since `finished` was
    /// read before the last poll (that poll wrote what was finished before it).
    pub fn quiet(&self, finished: u64) -> bool {
        let p = self.progress();
        p.in_flight == 0 && !p.write_blocked && p.finished == finished
    }

    /// Why the connection must be closed at `now`, if it must.
    pub fn expired(&self, now: Instant, limits: &ServerLimits) -> Option<Expired> {
        let (deadline, why) = self.deadline(limits);
        (now >= deadline).then_some(why)
    }

    /// When to look again, `now`: the connection's deadline, or sooner when a request head
    /// may begin meanwhile and bring a nearer one.
    pub fn next_check(&self, now: Instant, limits: &ServerLimits) -> Instant {
        let (deadline, _) = self.deadline(limits);
        let p = self.progress();
        if p.head_since.is_none() && p.http2 != Some(true) {
            deadline.min(later(now, limits.header_timeout))
        } else {
            deadline
        }
    }

    /// The time the connection is closed at if nothing happens before, and why.
    fn deadline(&self, limits: &ServerLimits) -> (Instant, Expired) {
        let p = self.progress();
        let idle = later(p.moved, limits.idle_timeout);
        match p.head_since {
            Some(since) if p.in_flight == 0 => {
                let head = later(since, limits.header_timeout);
                if head <= idle {
                    (head, Expired::Header)
                } else {
                    (idle, Expired::Idle)
                }
            }
            _ => (idle, Expired::Idle),
        }
    }
}

/// `at` plus `wait`; a wait too long to add (a timeout of u64::MAX seconds) is a year.
fn later(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait)
        .or_else(|| at.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(at)
}

/// A request in flight on a connection; dropping it finishes the request.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finish(Instant::now());
    }
}

/// A response body that holds its request in flight until hyper has taken it whole and
/// dropped it.
#[derive(Debug)]
pub struct Answer {
    body: Payload,
    _in_flight: InFlight,
}

impl Answer {
    pub fn new(body: Payload, in_flight: InFlight) -> Answer {
        Answer {
            body,
            _in_flight: in_flight,
        }
    }
}

impl Body for Answer {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A response's body: bytes at hand (every route of the snapshot), or a range of a
/// media file, read a chunk at a time off the runtime's threads, so a video is never
/// held whole in memory and a slow disk never stalls other connections.
pub enum Payload {
    Full(Full<Bytes>),
    Media(MediaBody),
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Payload::Full(full) => f.debug_tuple("Full").field(full).finish(),
            Payload::Media(media) => f
                .debug_struct("Media")
                .field("remaining", &media.remaining)
                .finish_non_exhaustive(),
        }
    }
}

/// How much of a media file one frame carries.
const CHUNK: u64 = 64 * 1024;

/// The bytes `start..start + len` of a media file.
pub struct MediaBody {
    /// `None` while a chunk is being read.
    content: Option<Box<dyn MediaContent>>,
    /// Where the next read starts, until the first one seeks there.
    seek_to: Option<u64>,
    remaining: u64,
    reading: Option<tokio::task::JoinHandle<Chunk>>,
}

/// A chunk read, with the content handed back for the next one.
type Chunk = (Box<dyn MediaContent>, io::Result<Bytes>);

impl MediaBody {
    pub fn new(content: Box<dyn MediaContent>, start: u64, len: u64) -> MediaBody {
        MediaBody {
            content: Some(content),
            seek_to: Some(start),
            remaining: len,
            reading: None,
        }
    }
}

impl Body for Payload {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let media = match self.get_mut() {
            Payload::Full(full) => {
                return Pin::new(full)
                    .poll_frame(cx)
                    .map(|frame| frame.map(|f| f.map_err(|never: Infallible| match never {})));
            }
            Payload::Media(media) => media,
        };
        if media.reading.is_none() {
            if media.remaining == 0 {
                return Poll::Ready(None);
            }
            let Some(mut content) = media.content.take() else {
                return Poll::Ready(None);
            };
            let seek_to = media.seek_to.take();
            let want = media.remaining.min(CHUNK);
            media.reading = Some(tokio::task::spawn_blocking(move || {
                let read = read_chunk(&mut content, seek_to, want);
                (content, read)
            }));
        }
        let Some(reading) = media.reading.as_mut() else {
            return Poll::Ready(None);
        };
        let done = std::task::ready!(Pin::new(reading).poll(cx));
        media.reading = None;
        let (content, read) = match done {
            Ok(done) => done,
            Err(err) => return Poll::Ready(Some(Err(io::Error::other(err)))),
        };
        media.content = Some(content);
        match read {
            Ok(bytes) => {
                media.remaining -= bytes.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Err(err) => {
                // The length is promised in the head: a connection cut short tells the
                // client, where an early end would not.
                media.remaining = 0;
                Poll::Ready(Some(Err(err)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Payload::Full(full) => full.is_end_stream(),
            Payload::Media(media) => media.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Payload::Full(full) => full.size_hint(),
            Payload::Media(media) => SizeHint::with_exact(media.remaining),
        }
    }
}

/// Reads up to `want` bytes (at least one), after seeking to `seek_to` if given. A file
/// that ends early (truncated while served) is an error: the length was promised.
fn read_chunk(
    content: &mut Box<dyn MediaContent>,
    seek_to: Option<u64>,
    want: u64,
) -> io::Result<Bytes> {
    use std::io::{Read, Seek, SeekFrom};
    if let Some(at) = seek_to {
        content.seek(SeekFrom::Start(at))?;
    }
    let mut buffer = Vec::with_capacity(want as usize);
    content.take(want).read_to_end(&mut buffer)?;
    if buffer.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file got shorter while it was served",
        ));
    }
    Ok(Bytes::from(buffer))
}

/// A socket that reports what moves through it to its connection's [`Activity`].
#[derive(Debug)]
pub struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(io: T, activity: Arc<Activity>) -> Watched<T> {
        Watched { io, activity }
    }

    fn wrote(&self, polled: &Poll<io::Result<usize>>) {
        match polled {
            Poll::Pending => self.activity.wrote(None, Instant::now()),
            Poll::Ready(Ok(n)) => self.activity.wrote(Some(*n), Instant::now()),
            Poll::Ready(Err(_)) => {}
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.activity.read(&buf.filled()[before..], Instant::now());
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Serves `connection` until it ends, its watchdog closes it, or `stopping` turns true;
/// then lets its responses in flight finish and closes it. Dropping the connection closes
/// its socket.
pub async fn serve<C>(
    connection: C,
    activity: Arc<Activity>,
    limits: ServerLimits,
    mut stopping: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    let mut connection = std::pin::pin!(connection);
    loop {
        let check = activity.next_check(Instant::now(), &limits);
        tokio::select! {
            done = connection.as_mut() => {
                if let Err(err) = done {
                    tracing::debug!("connection from {peer}: {err}");
                }
                return;
            }
            () = tokio::time::sleep_until(check) => {
                match activity.expired(Instant::now(), &limits) {
                    Some(Expired::Header) => {
                        tracing::debug!(
                            "closing the connection from {peer}: no whole request head within {} s (`server.header_timeout_secs`)",
                            limits.header_timeout.as_secs()
                        );
                        return;
                    }
                    Some(Expired::Idle) => {
                        tracing::debug!(
                            "closing the connection from {peer}: idle for {} s (`server.idle_timeout_secs`)",
                            limits.idle_timeout.as_secs()
                        );
                        return;
                    }
                    None => {}
                }
            }
            // An error means the server is gone: stop all the same.
            _ = stopping.wait_for(|stop| *stop) => break,
        }
    }
    connection.as_mut().graceful_shutdown();
    std::future::poll_fn(|cx| {
        let finished = activity.finished();
        if connection.as_mut().poll(cx).is_ready() || activity.quiet(finished) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ServerLimits {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..ServerLimits::default()
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_connection_with_nothing_in_flight_expires_after_the_idle_timeout() {
        let t0 = Instant::now();
        let activity = Activity::new(t0);
        assert_eq!(activity.expired(t0 + secs(59), &limits()), None);
        assert_eq!(
            activity.expired(t0 + secs(60), &limits()),
            Some(Expired::Idle)
        );
        // Looked at again no later than a head starting now could expire.
        assert_eq!(activity.next_check(t0, &limits()), t0 + secs(10));
        assert_eq!(activity.next_check(t0 + secs(55), &limits()), t0 + secs(60));
    }

    #[test]
    fn half_a_request_head_expires_after_the_header_timeout_from_its_first_byte() {
        let t0 = Instant::now();
        let activity = Arc::new(Activity::new(t0));
        activity.read(b"GET / HT", t0 + secs(30));
        assert_eq!(activity.next_check(t0 + secs(30), &limits()), t0 + secs(40));
        activity.read(b"TP/1.1\r\n", t0 + secs(35));
        assert_eq!(activity.expired(t0 + secs(39), &limits()), None);
        assert_eq!(
            activity.expired(t0 + secs(40), &limits()),
            Some(Expired::Header)
        );
        // The head came whole in time: the request is in flight, no head clock runs.
        let request = activity.start(t0 + secs(39));
        assert_eq!(activity.expired(t0 + secs(98), &limits()), None);
        drop(request);
        assert!(activity.quiet(1));
    }

    #[test]
    fn a_finished_request_restarts_the_idle_clock() {
        let t0 = Instant::now();
        let activity = Arc::new(Activity::new(t0));
        activity.read(b"GET / HTTP/1.1\r\n\r\n", t0);
        let request = activity.start(t0);
        activity.wrote(Some(100), t0);
        // Finished at the clock's own time, somewhere between these two.
        let before = Instant::now();
        drop(request);
        let after = Instant::now();
        assert!(activity.quiet(1));
        assert_eq!(activity.expired(before + secs(59), &limits()), None);
        assert_eq!(
            activity.expired(after + secs(60), &limits()),
            Some(Expired::Idle)
        );
    }

    #[test]
    fn a_response_the_client_stopped_reading_expires_after_the_idle_timeout() {
        let t0 = Instant::now();
        let activity = Arc::new(Activity::new(t0));
        activity.read(b"GET / HTTP/1.1\r\n\r\n", t0);
        let request = activity.start(t0);
        activity.wrote(Some(65536), t0);
        activity.wrote(None, t0);
        assert!(!activity.quiet(activity.finished()));
        // Bytes still moving keep the connection; none for the idle timeout end it.
        activity.wrote(Some(65536), t0 + secs(50));
        assert_eq!(activity.expired(t0 + secs(109), &limits()), None);
        assert_eq!(
            activity.expired(t0 + secs(110), &limits()),
            Some(Expired::Idle)
        );
        drop(request);
    }

    #[test]
    fn http2_frames_start_no_head_clock_and_pings_answered_move_nothing() {
        let t0 = Instant::now();
        let activity = Activity::new(t0);
        activity.read(H2_PREFACE, t0);
        activity.read(b"\0\0\0\x04\0\0\0\0\0", t0 + secs(1));
        activity.wrote(Some(17), t0 + secs(30));
        assert_eq!(activity.next_check(t0 + secs(30), &limits()), t0 + secs(60));
        assert_eq!(
            activity.expired(t0 + secs(60), &limits()),
            Some(Expired::Idle)
        );
    }

    #[test]
    fn a_client_sending_its_first_bytes_one_by_one_is_still_told_apart() {
        let t0 = Instant::now();
        let h1 = Activity::new(t0);
        h1.read(b"G", t0);
        assert_eq!(h1.expired(t0 + secs(10), &limits()), Some(Expired::Header));
        let h2 = Activity::new(t0);
        h2.read(b"P", t0);
        assert_eq!(h2.expired(t0 + secs(10), &limits()), None);
    }

    #[test]
    fn a_huge_timeout_never_overflows_the_clock() {
        let t0 = Instant::now();
        let activity = Activity::new(t0);
        let forever = ServerLimits {
            header_timeout: Duration::from_secs(u64::MAX),
            idle_timeout: Duration::from_secs(u64::MAX),
            ..ServerLimits::default()
        };
        assert_eq!(activity.expired(t0 + secs(86_400), &forever), None);
        assert!(activity.next_check(t0, &forever) > t0 + secs(86_400));
    }
}
