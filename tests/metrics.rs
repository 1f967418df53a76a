//! The operator's view end to end: `/metrics` over a real socket, read with a Prometheus
//! text parser; the subscriber counts readers state in their User-Agent, on `/metrics`
//! and `/healthz`; and the readiness, reload and stop notices `serve` sends to the unix
//! datagram socket systemd names in `$NOTIFY_SOCKET`.

mod common;

use std::os::unix::net::UnixDatagram;

use common::daemon::Daemon;
use common::site::{article, folder, Got, Site};
use common::{wait_until, PATIENCE};
use prometheus_parse::{Scrape, Value};
use reqwest::StatusCode;

const CONFIG: &str = r#"
[site]
base_url = "http://127.0.0.1"
author = "Newsroom"

[posts]
# Off, so the only publishes are the start and the drop below.
rescan_secs = 0
"#;

const FEEDLY: &str =
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123 subscribers; like FeedFetcher-Google)";
const FEEDLY_LATER: &str =
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 130 subscribers; like FeedFetcher-Google)";
const INOREADER: &str =
    "Mozilla/5.0 (compatible; Inoreader/1.0; +http://www.inoreader.com; 42 subscribers)";

const TRANSIT: &str = "/categories/transit/rss.xml";

impl Site {
    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Got {
        self.request(reqwest::Method::GET, path, headers).await
    }

    /// `/metrics`, parsed.
    async fn scrape(&self) -> Scrape {
        let got = self.get("/metrics").await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(
            got.header("content-type"),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = got.text();
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape = Scrape::parse(lines).unwrap();
        // The parser skips what it cannot read: every sample line must have given one.
        let sample_lines = text.lines().filter(|l| !l.starts_with('#')).count();
        let parsed: usize = scrape
            .samples
            .iter()
            .map(|s| match &s.value {
                Value::Histogram(buckets) => buckets.len(),
                _ => 1,
            })
            .sum();
        assert_eq!(parsed, sample_lines, "every line parses:\n{text}");
        scrape
    }
}

/// The value of the sample `metric` with exactly `labels`; panics when there is none.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found = scrape.samples.iter().find(|s| {
        s.metric == metric
            && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
            && labels.len() == s.labels.len()
    });
    match found.map(|s| &s.value) {
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        other => panic!("{metric}{labels:?}: {other:?}"),
    }
}

fn requests(scrape: &Scrape, kind: &str, status: &str) -> f64 {
    value(
        scrape,
        "dropfeed_http_requests_total",
        &[("kind", kind), ("status", status)],
    )
}

fn night_bus() -> String {
    article(
        "Dana Whitfield",
        "March 3, 2019",
        "Transit",
        "The council voted 7–2 on Tuesday to extend the night bus pilot.",
    )
}

#[tokio::test]
async fn metrics_count_requests_publishes_and_stated_subscribers() {
    let site = Site::serve(folder(
        CONFIG,
        &[
            ("night-bus.txt", &night_bus()),
            (
                "budget.txt",
                &article("Ann", "May 1, 2020", "City Hall", "Budget."),
            ),
            ("broken.txt", "\0\0binary"),
            (
                "launch/index.md",
                "---\ntitle: Launch\ndate: 2020-06-01\nauthor: Ann\ncategories: [Transit]\n---\n![map](map.png)\n",
            ),
            ("launch/map.png", "not really a png"),
        ],
    ))
    .await;

    // 200, then 304 for the ETag it gave.
    let first = site.get("/rss.xml").await;
    assert_eq!(first.status, StatusCode::OK);
    let etag = first.header("etag").to_string();
    let again = site.get_with("/rss.xml", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    // gzip, counted as sent.
    let gzip = site
        .get_with("/atom.xml", &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(gzip.header("content-encoding"), "gzip");
    let gzip_bytes = gzip.body.len();
    assert_eq!(site.get("/nope.xml").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        site.get("/feed/").await.status,
        StatusCode::MOVED_PERMANENTLY
    );
    assert_eq!(site.get("/posts/night-bus/").await.status, StatusCode::OK);
    assert_eq!(site.get("/").await.status, StatusCode::OK);
    assert_eq!(
        site.get("/posts/launch/map.png").await.status,
        StatusCode::OK
    );
    assert_eq!(site.get("/opml.xml").await.status, StatusCode::OK);

    // Two readers on one feed; Feedly polls again, with a new count and a 304.
    let transit = site.get_with(TRANSIT, &[("user-agent", FEEDLY)]).await;
    assert_eq!(transit.status, StatusCode::OK);
    let transit_etag = transit.header("etag").to_string();
    site.get_with(TRANSIT, &[("user-agent", INOREADER)]).await;
    let later = site
        .get_with(
            TRANSIT,
            &[
                ("user-agent", FEEDLY_LATER),
                ("if-none-match", &transit_etag),
            ],
        )
        .await;
    assert_eq!(later.status, StatusCode::NOT_MODIFIED);
    // A count on a 404 or a redirect is no subscription to a feed of this site.
    site.get_with("/categories/nope/rss.xml", &[("user-agent", FEEDLY)])
        .await;
    site.get_with("/category/transit/feed/", &[("user-agent", INOREADER)])
        .await;

    // A post dropped: one more publish. Renamed into place, so it is one change.
    let posts = site.posts();
    std::fs::write(
        posts.join(".frost.txt.tmp"),
        article("Ann", "June 1, 2021", "Transit", "Frost on the tracks."),
    )
    .unwrap();
    std::fs::rename(posts.join(".frost.txt.tmp"), posts.join("frost.txt")).unwrap();
    let scrape = wait_until(PATIENCE, "the drop is published", || async {
        let scrape = site.scrape().await;
        match value(&scrape, "dropfeed_posts", &[]) {
            4.0 => Ok(scrape),
            n => Err(format!("dropfeed_posts {n}")),
        }
    })
    .await;

    assert_eq!(requests(&scrape, "feed", "200"), 4.0);
    assert_eq!(requests(&scrape, "feed", "304"), 2.0);
    assert_eq!(requests(&scrape, "not_found", "404"), 2.0);
    assert_eq!(requests(&scrape, "alias", "301"), 2.0);
    assert_eq!(requests(&scrape, "post", "200"), 1.0);
    assert_eq!(requests(&scrape, "page", "200"), 1.0);
    assert_eq!(requests(&scrape, "media", "200"), 1.0);
    assert_eq!(requests(&scrape, "other", "200"), 1.0);
    assert_eq!(
        value(
            &scrape,
            "dropfeed_http_response_bytes_total",
            &[("encoding", "gzip")]
        ),
        gzip_bytes as f64
    );
    assert_eq!(value(&scrape, "dropfeed_publishes_total", &[]), 2.0);
    assert_eq!(
        value(&scrape, "dropfeed_publish_duration_seconds_count", &[]),
        2.0
    );
    assert_eq!(value(&scrape, "dropfeed_failed_files", &[]), 1.0);
    // Site, two categories, two authors (Ann, Dana Whitfield): 5 feeds.
    assert_eq!(value(&scrape, "dropfeed_feeds", &[]), 5.0);
    assert_eq!(value(&scrape, "dropfeed_websub_subscriptions", &[]), 0.0);
    assert_eq!(
        value(&scrape, "dropfeed_feed_subscribers", &[("feed", TRANSIT)]),
        172.0
    );
    let subscriber_feeds = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "dropfeed_feed_subscribers")
        .count();
    assert_eq!(subscriber_feeds, 1);

    let health = site.health().await;
    assert_eq!(health["posts"], 4);
    assert_eq!(health["subscribers"]["total"], 172);
    let transit = &health["subscribers"]["feeds"][TRANSIT];
    assert_eq!(transit["total"], 172);
    assert_eq!(transit["readers"]["Feedly"], 130);
    assert_eq!(transit["readers"]["Inoreader"], 42);
    site.stop().await;
}

#[tokio::test]
async fn metrics_and_health_are_never_cached_and_refuse_other_methods() {
    let site = Site::serve(folder(CONFIG, &[("night-bus.txt", &night_bus())])).await;
    let metrics = site.get("/metrics").await;
    assert_eq!(metrics.header("cache-control"), "no-store");
    let head = site.request(reqwest::Method::HEAD, "/metrics", &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    let post = site.request(reqwest::Method::POST, "/metrics", &[]).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    let health = site.get("/healthz").await;
    assert_eq!(health.header("cache-control"), "no-store");
    let body: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(body["subscribers"]["total"], 0);
    // A monitor holding the report gets a 304 while nothing in it changed.
    let etag = health.header("etag").to_string();
    let again = site.get_with("/healthz", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    site.stop().await;
}

/// A datagram socket in a temp folder standing in for systemd's notify socket.
struct NotifySocket {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    socket: UnixDatagram,
}

impl NotifySocket {
    fn new() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        // A bound on the wait, not a timing assertion: a message that never comes fails
        // the test instead of hanging it.
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        NotifySocket {
            _dir: dir,
            path,
            socket,
        }
    }

    fn next(&self) -> String {
        let mut buf = [0u8; 512];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("a notice before PATIENCE");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_tells_systemd_it_is_ready_reloading_and_stopping() {
    let dir = folder(CONFIG, &[("night-bus.txt", &night_bus())]);
    let notify = NotifySocket::new();
    let mut command = Daemon::command();
    command
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env("NOTIFY_SOCKET", &notify.path);
    let mut daemon = Daemon::spawn(command).await;
    let ready = tokio::task::block_in_place(|| notify.next());
    assert_eq!(ready, "READY=1");
    // Ready means serving every route already.
    let (status, body) = daemon.get("/rss.xml").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("night bus"), "{body}");

    daemon.signal(libc::SIGHUP);
    let reloading = tokio::task::block_in_place(|| notify.next());
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading:?}"
    );
    let ready = tokio::task::block_in_place(|| notify.next());
    assert_eq!(ready, "READY=1");

    daemon.signal(libc::SIGTERM);
    let stopping = tokio::task::block_in_place(|| notify.next());
    assert_eq!(stopping, "STOPPING=1");
    assert!(daemon.exited().await.success());
}

/// An archive is fetched by its feed's readers: what they state never makes an archive a
/// feed of its own on `/metrics`, however its path is spelled (`%31` is `1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stated_count_on_an_archive_spelled_with_escapes_counts_for_no_feed() {
    let config = format!("{CONFIG}\n[feeds]\nitems = 1\n");
    let posts = [
        (
            "a.txt",
            article("Ann", "May 1, 2024", "Transit", "First post."),
        ),
        (
            "b.txt",
            article("Ann", "May 2, 2024", "Transit", "Second post."),
        ),
    ];
    let posts: Vec<(&str, &str)> = posts.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let site = Site::serve(folder(&config, &posts)).await;
    let feed = site.get("/rss.xml").await.text();
    // The archive's address as the feed links it, its first digit written `%3N`.
    let link = feed
        .split("rel=\"prev-archive\"")
        .next()
        .and_then(|before| before.rsplit("href=\"").next())
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    let path = link
        .strip_prefix("http://127.0.0.1")
        .unwrap_or_else(|| panic!("no prev-archive link in {feed}"));
    let (head, number) = path.split_at(path.find("/archive/").unwrap() + "/archive/".len());
    let escaped = format!("{head}%3{number}");
    let got = site.get_with(&escaped, &[("user-agent", FEEDLY)]).await;
    assert_eq!(got.status, StatusCode::OK, "{escaped}");
    assert!(got.text().contains("First post."), "{}", got.text());
    let health: serde_json::Value =
        serde_json::from_slice(&site.get("/healthz").await.body).unwrap();
    assert_eq!(health["subscribers"]["total"], 0, "{health:#}");
    let scrape = site.scrape().await;
    assert!(
        !scrape
            .samples
            .iter()
            .any(|s| s.metric == "dropfeed_feed_subscribers"),
        "{:?}",
        scrape.samples
    );
}
