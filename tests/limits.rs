//! What no client can do to the server, and what signals do to it, over raw TCP: a
//! request head sent by halves, a connection held idle, more connections than
//! `server.max_connections`, more than the process has file descriptors for; SIGTERM and
//! Ctrl-C with connections open, SIGHUP with a config changed. The checks wait for what
//! must happen with [`PATIENCE`] to spare and never assert how fast it happened.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::daemon::Daemon;
use common::site::{folder, Site};
use common::{wait_until, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One post, so every feed has something in it.
const POSTS: &[(&str, &str)] = &[(
    "hello.txt",
    "Posted by Ann on March 3, 2019\nCategories: Transit\n\nHello there.\n",
)];

/// A served site whose `[server]` section is `server`.
async fn site(server: &str) -> Site {
    let config = format!("[posts]\nrescan_secs = 0\n\n[server]\n{server}\n");
    Site::serve(folder(&config, POSTS)).await
}

/// Sends a GET for `path` on `stream` and reads the answer: its status line and body.
async fn get(stream: &mut TcpStream, path: &str) -> (String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_answer(stream).await
}

/// Reads one HTTP/1.1 answer with a Content-Length: its status line and body.
async fn read_answer(stream: &mut TcpStream) -> (String, String) {
    let mut bytes = Vec::new();
    let head_end = loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0; 4096];
        let n = within_patience(stream.read(&mut chunk)).await.unwrap();
        assert!(
            n > 0,
            "closed mid-answer: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no content-length in {head}"));
    while bytes.len() < head_end + length {
        let mut chunk = [0; 4096];
        let n = within_patience(stream.read(&mut chunk)).await.unwrap();
        assert!(n > 0, "closed mid-body");
        bytes.extend_from_slice(&chunk[..n]);
    }
    let status = head.lines().next().unwrap_or("").to_string();
    let body = String::from_utf8_lossy(&bytes[head_end..head_end + length]).into_owned();
    (status, body)
}

/// Reads until the server closes the connection (FIN); what it sent first.
async fn read_to_close(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    read_until_closed(stream, what, false).await
}

/// Reads until the server closes the connection, also by a reset: a socket closed with
/// bytes the server had no reason to read yet (a request it will never answer) resets.
async fn read_to_close_or_reset(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    read_until_closed(stream, what, true).await
}

async fn read_until_closed(stream: &mut TcpStream, what: &str, reset: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    match tokio::time::timeout(PATIENCE, stream.read_to_end(&mut bytes)).await {
        Ok(Ok(_)) => bytes,
        Ok(Err(err)) if reset && err.kind() == std::io::ErrorKind::ConnectionReset => bytes,
        Ok(Err(err)) => panic!("{what}: {err} after {:?}", String::from_utf8_lossy(&bytes)),
        Err(_) => panic!(
            "{what}: still open after {PATIENCE:?}; sent {:?}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

async fn within_patience<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("nothing after {PATIENCE:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_request_head_is_cut_off_after_the_header_timeout() {
    let site = site("header_timeout_secs = 1\nidle_timeout_secs = 3600").await;
    let mut slow = TcpStream::connect(site.addr).await.unwrap();
    slow.write_all(b"GET /rss.xml HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    assert_eq!(read_to_close(&mut slow, "half a head").await, b"");
    // Others are served all along.
    let mut other = TcpStream::connect(site.addr).await.unwrap();
    assert_eq!(get(&mut other, "/rss.xml").await.0, "HTTP/1.1 200 OK");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let site = site("header_timeout_secs = 3600\nidle_timeout_secs = 1").await;
    let mut kept = TcpStream::connect(site.addr).await.unwrap();
    let (status, body) = get(&mut kept, "/rss.xml").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("<rss"), "{body}");
    assert_eq!(read_to_close(&mut kept, "idle after a request").await, b"");
    // One that never sends a request is closed all the same.
    let mut silent = TcpStream::connect(site.addr).await.unwrap();
    assert_eq!(read_to_close(&mut silent, "idle from the start").await, b"");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_connections_a_new_one_waits_until_one_served_closes() {
    let site =
        site("max_connections = 4\nidle_timeout_secs = 3600\nheader_timeout_secs = 3600").await;
    let mut served = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(site.addr).await.unwrap();
        assert_eq!(get(&mut stream, "/healthz").await.0, "HTTP/1.1 200 OK");
        served.push(stream);
    }
    // The kernel completes the fifth connection; the server does not take it yet.
    let mut fifth = TcpStream::connect(site.addr).await.unwrap();
    fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    // The four go on being served, round trip after round trip, while the fifth's
    // request waits: any server that had taken it would have answered meanwhile.
    for _ in 0..5 {
        for stream in &mut served {
            assert_eq!(get(stream, "/rss.xml").await.0, "HTTP/1.1 200 OK");
        }
    }
    let mut waiting = [0; 64];
    match fifth.try_read(&mut waiting) {
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the fifth connection was answered while four were served: {other:?}"),
    }
    drop(served.pop());
    assert_eq!(read_answer(&mut fifth).await.0, "HTTP/1.1 200 OK");
    site.stop().await;
}

/// The settings an HTTP/2 server sends first, as (identifier, value) pairs.
async fn http2_settings(addr: SocketAddr) -> Vec<(u16, u32)> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    stream.write_all(&hello).await.unwrap();
    let mut header = [0; 9];
    within_patience(stream.read_exact(&mut header))
        .await
        .unwrap();
    assert_eq!(header[3], 4, "the first frame is SETTINGS");
    let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let mut payload = vec![0; length];
    within_patience(stream.read_exact(&mut payload))
        .await
        .unwrap();
    payload
        .chunks(6)
        .map(|s| {
            (
                u16::from_be_bytes([s[0], s[1]]),
                u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_clients_are_told_the_max_streams() {
    let site = site("max_streams = 7").await;
    let settings = http2_settings(site.addr).await;
    const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 3;
    assert!(
        settings.contains(&(SETTINGS_MAX_CONCURRENT_STREAMS, 7)),
        "{settings:?}"
    );
    site.stop().await;
}

/// Starts `dropfeed serve` on the site in `dir`, with at most `fds` file descriptors
/// when given, and waits until it listens.
async fn start(dir: &Path, fds: Option<libc::rlim_t>) -> Daemon {
    let mut command = Daemon::command();
    command
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(dir.join("config.toml"));
    if let Some(fds) = fds {
        use std::os::unix::process::CommandExt;
        // SAFETY: only setrlimit, async-signal-safe, runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: fds,
                    rlim_max: fds,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    Daemon::spawn(command).await
}

/// The site feed the daemon serves now.
async fn feed(daemon: &Daemon) -> String {
    daemon.get("/rss.xml").await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_fails_at_once_before_the_start_up_scan() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = folder("", POSTS);
    let output = Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .args(["serve", "--listen", &addr.to_string(), "--config"])
        .arg(dir.path().join("config.toml"))
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("error: cannot listen on {addr}: ")),
        "{stderr}"
    );
    assert!(
        stderr.contains("choose another address with --listen or `server.listen`"),
        "{stderr}"
    );
    // Nothing of the start-up ran: no post read, no state database made.
    assert!(!stderr.contains("published at start"), "{stderr}");
    assert!(!dir.path().join("dropfeed.db").exists());
}

/// The HTTP/2 connection preface, SETTINGS, and a GET of `/` on stream 1
/// (HPACK: `:method GET`, `:scheme http`, `:path /`, each from the static table).
const HTTP2_GET: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\
    \0\0\0\x04\0\0\0\0\0\
    \0\0\x03\x01\x05\0\0\0\x01\x82\x86\x84";

/// Reads HTTP/2 frames until one is DATA with END_STREAM: the answer to stream 1 done.
/// The server's SETTINGS are acknowledged, as a client must; nothing else is answered.
async fn http2_answer(stream: &mut TcpStream) {
    loop {
        let mut header = [0; 9];
        within_patience(stream.read_exact(&mut header))
            .await
            .unwrap();
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0; length];
        within_patience(stream.read_exact(&mut payload))
            .await
            .unwrap();
        let (kind, flags) = (header[3], header[4]);
        if kind == 4 && flags & 1 == 0 {
            stream
                .write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0])
                .await
                .unwrap();
        }
        if kind == 0 && flags & 1 == 1 {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_ctrl_c_close_idle_connections_at_once_and_exit_0() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let dir = folder("[posts]\nrescan_secs = 0\n", POSTS);
        let mut daemon = start(dir.path(), None).await;
        // Keep-alive after one request.
        let mut kept = TcpStream::connect(daemon.addr).await.unwrap();
        assert_eq!(get(&mut kept, "/rss.xml").await.0, "HTTP/1.1 200 OK");
        // Half a request head: nothing in flight yet.
        let mut half = TcpStream::connect(daemon.addr).await.unwrap();
        half.write_all(b"GET /rss.xml HTTP/1.1\r\nHo")
            .await
            .unwrap();
        // HTTP/2 after one request, never answering the PING of a graceful GOAWAY.
        let mut h2 = TcpStream::connect(daemon.addr).await.unwrap();
        h2.write_all(HTTP2_GET).await.unwrap();
        http2_answer(&mut h2).await;

        daemon.signal(signal);
        assert_eq!(read_to_close(&mut kept, "keep-alive").await, b"");
        assert_eq!(read_to_close_or_reset(&mut half, "half a head").await, b"");
        read_to_close_or_reset(&mut h2, "http/2").await;
        assert_eq!(daemon.exited().await.code(), Some(0));
        daemon.logged("the last line", "stopped").await;
        // Nothing waited for the grace period to run out.
        assert_eq!(daemon.lines_with("still in flight"), Vec::<String>::new());
    }
}

/// Raises this process's open-file limit to `wanted` if it can; false if it cannot.
fn allow_open_files(wanted: libc::rlim_t) -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write one struct of ours.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return false;
        }
        if limit.rlim_cur >= wanted {
            return true;
        }
        if limit.rlim_max < wanted {
            return false;
        }
        limit.rlim_cur = wanted;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_under_256_file_descriptors_leave_it_serving() {
    const CONNECTIONS: usize = 1000;
    if !allow_open_files(CONNECTIONS as libc::rlim_t + 200) {
        eprintln!(
            "skipped: this process may not open {} files (hard `ulimit -n`); the test needs it",
            CONNECTIONS + 200
        );
        return;
    }
    let dir = folder(
        "[posts]\nrescan_secs = 0\n\n[server]\nidle_timeout_secs = 3600\nheader_timeout_secs = 3600\n",
        POSTS,
    );
    let mut daemon = start(dir.path(), Some(256)).await;
    // 256 descriptors, 64 kept for files and the rest: 192 connections at once.
    daemon
        .logged(
            "the connection cap",
            "serving at most 192 connections at once, not 1024 (`server.max_connections`): the open-file limit is 256",
        )
        .await;
    let mut held = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let stream = within_patience(TcpStream::connect(daemon.addr)).await;
        held.push(stream.unwrap());
    }
    // The first ones were taken and are served; the rest wait in the backlog.
    assert_eq!(get(&mut held[0], "/healthz").await.0, "HTTP/1.1 200 OK");
    assert_eq!(get(&mut held[191], "/healthz").await.0, "HTTP/1.1 200 OK");
    assert!(daemon.is_running());

    drop(held);
    let got = wait_until(PATIENCE, "served again", || async {
        let mut fresh = TcpStream::connect(daemon.addr)
            .await
            .map_err(|err| err.to_string())?;
        Ok(get(&mut fresh, "/rss.xml").await)
    })
    .await;
    assert_eq!(got.0, "HTTP/1.1 200 OK");
    assert!(got.1.contains("Hello there."), "{}", got.1);
    // Accepting never failed for want of a descriptor.
    assert_eq!(daemon.lines_with("cannot accept"), Vec::<String>::new());
    assert!(daemon.is_running());
}

const TITLED: &str = "[site]\ntitle = \"Before\"\n\n[posts]\nrescan_secs = 0\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_changed_config_without_dropping_connections() {
    let dir = folder(TITLED, POSTS);
    let daemon = start(dir.path(), None).await;
    let mut kept = TcpStream::connect(daemon.addr).await.unwrap();
    let (status, body) = get(&mut kept, "/rss.xml").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("<title>Before</title>"), "{body}");

    std::fs::write(
        dir.path().join("config.toml"),
        "[site]\ntitle = \"After\"\n\n[posts]\nrescan_secs = 0\n\n[server]\nlisten = \"127.0.0.1:1\"\nmax_connections = 9\n",
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    wait_until(PATIENCE, "the new title", || async {
        let feed = feed(&daemon).await;
        if feed.contains("<title>After</title>") {
            Ok(())
        } else {
            Err(feed)
        }
    })
    .await;
    let held = daemon
        .logged("keys held back", "not applied until a restart")
        .await;
    assert!(
        held.ends_with(
            "changed, but not applied until a restart: `server.listen`, `server.max_connections`"
        ),
        "{held}"
    );
    // The connection opened before is served, with the new config.
    let (status, body) = get(&mut kept, "/rss.xml").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("<title>After</title>"), "{body}");
}

/// WebSub discovery after a reload that moves the site: the `Link` header names the hub
/// at the new address, as the feed's body does (section 4: both say the same).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_new_base_url_moves_the_hub_in_the_link_header_as_in_the_body() {
    let before = "[site]\nbase_url = \"https://old.example.com\"\n\n[posts]\nrescan_secs = 0\n";
    let dir = folder(before, POSTS);
    let daemon = start(dir.path(), None).await;
    let link = || async {
        let response = reqwest::get(format!("http://{}/rss.xml", daemon.addr))
            .await
            .unwrap();
        let link = response.headers()["link"].to_str().unwrap().to_string();
        (link, response.text().await.unwrap())
    };
    assert_eq!(
        link().await.0,
        "<https://old.example.com/websub>; rel=\"hub\", <https://old.example.com/rss.xml>; rel=\"self\""
    );
    std::fs::write(
        dir.path().join("config.toml"),
        before.replace("old.example.com", "new.example.com"),
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    let (header, body) = wait_until(PATIENCE, "the feed at the new address", || async {
        let (header, body) = link().await;
        if body.contains("https://new.example.com/rss.xml") {
            Ok((header, body))
        } else {
            Err(body)
        }
    })
    .await;
    assert!(
        body.contains(r#"<atom:link href="https://new.example.com/websub" rel="hub"/>"#),
        "{body}"
    );
    assert_eq!(
        header,
        "<https://new.example.com/websub>; rel=\"hub\", <https://new.example.com/rss.xml>; rel=\"self\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_config_that_does_not_parse_keeps_the_running_one() {
    let dir = folder(TITLED, POSTS);
    let mut daemon = start(dir.path(), None).await;
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[site]\ntitle = \"Broken\"\ntitel = \"x\"\n").unwrap();
    daemon.signal(libc::SIGHUP);
    let error = daemon
        .logged("the reload error", "cannot reload the config")
        .await;
    assert!(
        error.contains(&format!(
            "cannot reload the config: {}: line 3: unknown field `titel`",
            config.display()
        )),
        "{error}"
    );
    assert!(
        error.ends_with("still serving with the config as it was"),
        "{error}"
    );
    assert!(feed(&daemon).await.contains("<title>Before</title>"));
    assert!(daemon.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_the_middle_of_a_slow_publish_stops_without_waiting_for_it() {
    // No budget to speak of: the file is read for as long as it takes.
    let dir = folder(
        "[posts]\nrescan_secs = 0\nparse_budget_ms = 3600000\n",
        POSTS,
    );
    let mut daemon = start(dir.path(), None).await;
    // 4 MB of `&amp;`: html5ever's serializer is quadratic in such a run, seconds in a
    // release build, minutes in this one.
    let body = "&amp;".repeat(800_000);
    std::fs::write(
        dir.path().join("posts/slow.md"),
        format!("---\ntitle: Slow\n---\n\n{body}\n"),
    )
    .unwrap();
    // Past the debounce, so the publish has started on the file. Nothing outside the
    // process shows a publish begun (it logs only when done), so waiting is the only way;
    // 500 ms is ten debounces, and the read it waits for then runs for minutes.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.exited().await.code(), Some(0));
    assert_eq!(
        daemon
            .lines_with("stopping in the middle of a publish")
            .len(),
        1
    );
}
