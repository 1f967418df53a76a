//! `dropfeed serve` end to end: the real server on 127.0.0.1:0 over a temp `posts/`,
//! real inotify, a real HTTP client. Every change must be visible within [`VISIBLE`];
//! the checks poll, they never sleep and hope.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use dropfeed::config::Config;
use dropfeed::publish::{Daemon, ServeError};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tempfile::TempDir;

/// How soon a file change must show over HTTP.
const VISIBLE: Duration = Duration::from_secs(2);

const CONFIG: &str = r#"
[site]
base_url = "http://127.0.0.1"
author = "Newsroom"

[posts]
# Off, so every change below is seen by the watcher alone.
rescan_secs = 0
max_bytes = 4096
"#;

struct Site {
    dir: TempDir,
    addr: SocketAddr,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServeError>>>,
}

struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

impl Site {
    /// A new site with the given posts, served.
    async fn new(posts: &[(&str, &str)]) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), CONFIG).unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        for (path, text) in posts {
            write(&dir.path().join("posts").join(path), text);
        }
        Site::serve(dir).await
    }

    /// Serves the site in `dir`.
    async fn serve(dir: TempDir) -> Site {
        let config = Config::load(&dir.path().join("config.toml")).unwrap();
        let daemon = Daemon::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = daemon.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(daemon.run(async move {
            let _ = stopped.await;
        }));
        Site {
            dir,
            addr,
            client: client(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and hands back its folder.
    async fn stop(mut self) -> TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    fn posts(&self) -> PathBuf {
        self.dir.path().join("posts")
    }

    fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    async fn request(&self, method: reqwest::Method, path: &str, headers: &[(&str, &str)]) -> Got {
        let mut request = self
            .client
            .request(method, format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap();
        Got {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Got {
        self.request(reqwest::Method::GET, path, &[]).await
    }

    /// Polls `path` until `ok` holds, for at most [`VISIBLE`].
    async fn wait_for(&self, path: &str, what: &str, ok: impl Fn(&Got) -> bool) -> Got {
        let deadline = Instant::now() + VISIBLE;
        loop {
            let got = self.get(path).await;
            if ok(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {path} still answers {} {:?} after {VISIBLE:?}",
                got.status,
                got.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the page of `slug` holds `text`.
    async fn shows(&self, slug: &str, text: &str, what: &str) -> Got {
        self.wait_for(&format!("/posts/{slug}/"), what, |got| {
            got.status == StatusCode::OK && got.text().contains(text)
        })
        .await
    }

    /// Waits until `slug` has no page.
    async fn gone(&self, slug: &str, what: &str) {
        self.wait_for(&format!("/posts/{slug}/"), what, |got| {
            got.status == StatusCode::NOT_FOUND
        })
        .await;
    }

    async fn health(&self) -> serde_json::Value {
        serde_json::from_slice(&self.get("/healthz").await.body).unwrap()
    }
}

/// The `<guid>` of the item for `slug` in an RSS feed.
fn guid_of(rss: &str, slug: &str) -> String {
    let end = format!(":{slug}</guid>");
    let item = rss
        .split("<item>")
        .find(|item| item.contains(&end))
        .unwrap_or_else(|| panic!("no item {slug} in {rss}"));
    let start = item.find("<guid").unwrap();
    let open = start + item[start..].find('>').unwrap() + 1;
    let close = item.find("</guid>").unwrap();
    item[open..close].to_string()
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_every_way_a_file_is_written() {
    let site = Site::new(&[]).await;
    let post = site.posts().join("hello.txt");

    write(&post, "alpha one");
    let created = site.shows("hello", "alpha one", "create").await;

    // In place: the same file, no truncation.
    let mut file = std::fs::OpenOptions::new().write(true).open(&post).unwrap();
    file.write_all(b"alpha two").unwrap();
    drop(file);
    let modified = site.shows("hello", "alpha two", "modify in place").await;
    assert_ne!(created.header("etag"), modified.header("etag"));

    // Truncated, then written a moment later (a publish may see the empty file between).
    let mut file = std::fs::File::create(&post).unwrap();
    file.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    file.write_all(b"alpha three").unwrap();
    drop(file);
    site.shows("hello", "alpha three", "truncate then write")
        .await;

    // vim: probe file `4913`, then write a temp file and rename it over the post.
    write(&site.posts().join("4913"), "");
    std::fs::remove_file(site.posts().join("4913")).unwrap();
    let temp = site.posts().join(".hello.txt.swp");
    write(&temp, "alpha four");
    std::fs::rename(&temp, &post).unwrap();
    site.shows("hello", "alpha four", "temp file renamed over")
        .await;

    // cp to a folder beside, then mv over the post.
    let outside = site.outside().join("hello.txt");
    write(&outside, "alpha five");
    std::fs::rename(&outside, &post).unwrap();
    site.shows("hello", "alpha five", "moved over from outside")
        .await;

    for feed in ["/rss.xml", "/atom.xml", "/feed.json"] {
        assert!(
            site.get(feed).await.text().contains("/posts/hello/"),
            "{feed}"
        );
    }
    std::fs::remove_file(&post).unwrap();
    site.gone("hello", "delete").await;
    assert_eq!(site.health().await["posts"], 0);
    // A deleted post leaves every feed.
    for feed in ["/rss.xml", "/atom.xml", "/feed.json"] {
        let got = site.get(feed).await;
        assert_eq!(got.status, StatusCode::OK, "{feed}");
        assert!(
            !got.text().contains("/posts/hello/"),
            "{feed}: {}",
            got.text()
        );
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_renames_and_moves_of_files_and_folders() {
    let site = Site::new(&[("a.txt", "ant")]).await;
    site.shows("a", "ant", "at start").await;

    std::fs::rename(site.posts().join("a.txt"), site.posts().join("b.txt")).unwrap();
    site.shows("b", "ant", "renamed within posts/").await;
    site.gone("a", "renamed within posts/").await;

    write(&site.outside().join("c.txt"), "cat");
    std::fs::rename(site.outside().join("c.txt"), site.posts().join("c.txt")).unwrap();
    site.shows("c", "cat", "moved in from outside").await;

    std::fs::rename(site.posts().join("c.txt"), site.outside().join("c.txt")).unwrap();
    site.gone("c", "moved out").await;

    // A folder full of posts, nested, moved in as a whole.
    let batch = site.outside().join("batch");
    write(&batch.join("x.txt"), "xerus");
    write(&batch.join("y.md"), "yak");
    write(&batch.join("deep/z.txt"), "zebu");
    std::fs::rename(&batch, site.posts().join("batch")).unwrap();
    site.shows("batch/x", "xerus", "folder moved in").await;
    site.shows("batch/y", "yak", "folder moved in").await;
    site.shows("batch/deep/z", "zebu", "folder moved in").await;

    // The moved-in folders are watched too.
    write(&site.posts().join("batch/deep/w.txt"), "wombat");
    site.shows("batch/deep/w", "wombat", "created in a moved-in folder")
        .await;

    std::fs::rename(site.posts().join("batch"), site.outside().join("batch2")).unwrap();
    for slug in ["batch/x", "batch/y", "batch/deep/z", "batch/deep/w"] {
        site.gone(slug, "folder moved out").await;
    }
    assert_eq!(site.health().await["posts"], 1);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_survives_the_posts_folder_being_removed_and_created_again() {
    let site = Site::new(&[("a.txt", "ant"), ("sub/b.txt", "bee")]).await;
    site.shows("sub/b", "bee", "at start").await;

    std::fs::remove_dir_all(site.posts()).unwrap();
    site.gone("a", "posts/ removed").await;
    site.gone("sub/b", "posts/ removed").await;

    std::fs::create_dir(site.posts()).unwrap();
    write(&site.posts().join("c.txt"), "cat");
    site.shows("c", "cat", "posts/ created again").await;

    // The watch was armed again: later changes are seen, deep ones too.
    write(&site.posts().join("d/e.txt"), "eel");
    site.shows("d/e", "eel", "after posts/ came back").await;
    std::fs::remove_file(site.posts().join("c.txt")).unwrap();
    site.gone("c", "after posts/ came back").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_keeps_its_last_good_version_and_shows_in_healthz() {
    let site = Site::new(&[("good.txt", "good words")]).await;
    let before = site.shows("good", "good words", "at start").await;

    // Binary, and over posts.max_bytes: rejected by any parser.
    std::fs::write(site.posts().join("good.txt"), vec![0u8; 8192]).unwrap();
    site.wait_for("/healthz", "bad file reported", |got| {
        got.text().contains("\"path\": \"good.txt\"")
    })
    .await;
    let health = site.health().await;
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["posts"], 1);
    let during = site.get("/posts/good/").await;
    assert_eq!(during.status, StatusCode::OK);
    assert_eq!(during.header("etag"), before.header("etag"));
    assert_eq!(during.body, before.body);

    write(&site.posts().join("good.txt"), "good again");
    site.shows("good", "good again", "fixed").await;
    let health = site.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["errors"], serde_json::json!([]));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_post_appears_when_its_time_comes() {
    let site = Site::new(&[]).await;
    // Dated by its file time (a plain text post names no date); moved in whole, so it is
    // never seen with another date.
    let due = SystemTime::now() + Duration::from_millis(1500);
    let outside = site.outside().join("soon.txt");
    write(&outside, "coming soon");
    std::fs::File::options()
        .write(true)
        .open(&outside)
        .unwrap()
        .set_modified(due)
        .unwrap();
    std::fs::rename(&outside, site.posts().join("soon.txt")).unwrap();

    let deadline = Instant::now() + Duration::from_millis(1500) + VISIBLE;
    loop {
        let got = site.get("/posts/soon/").await;
        if got.status == StatusCode::OK {
            assert!(SystemTime::now() >= due, "published before its time");
            break;
        }
        assert!(Instant::now() < deadline, "the post never came due");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(site.health().await["posts"], 1);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_get_encodings_head_and_aliases() {
    let site = Site::new(&[("a.txt", "ant words"), ("b.txt", "bee words")]).await;
    let feed = site.get("/rss.xml").await;
    assert_eq!(feed.status, StatusCode::OK);
    assert_eq!(
        feed.header("content-type"),
        "application/rss+xml; charset=utf-8"
    );
    assert_eq!(feed.header("vary"), "Accept-Encoding");
    assert_eq!(feed.header("x-content-type-options"), "nosniff");
    assert_eq!(feed.header("cache-control"), "public, max-age=300");
    let etag = feed.header("etag").to_string();
    let last_modified = feed.header("last-modified").to_string();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");

    let get = reqwest::Method::GET;
    let same = site
        .request(get.clone(), "/rss.xml", &[("if-none-match", &etag)])
        .await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert_eq!(same.header("etag"), etag);
    assert_eq!(same.header("last-modified"), last_modified);
    assert_eq!(same.header("cache-control"), "public, max-age=300");
    assert_eq!(same.header("vary"), "Accept-Encoding");
    assert!(same.body.is_empty());
    let since = site
        .request(
            get.clone(),
            "/rss.xml",
            &[("if-modified-since", &last_modified)],
        )
        .await;
    assert_eq!(since.status, StatusCode::NOT_MODIFIED);
    let stale = site
        .request(
            get.clone(),
            "/rss.xml",
            &[
                ("if-none-match", "\"stale\""),
                ("if-modified-since", &last_modified),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::OK);

    for path in ["/rss.xml", "/posts/a/", "/"] {
        let identity = site.get(path).await;
        let gzip = site
            .request(get.clone(), path, &[("accept-encoding", "gzip")])
            .await;
        assert_eq!(gzip.header("content-encoding"), "gzip");
        assert_eq!(gzip.header("content-length"), gzip.body.len().to_string());
        let mut decoded = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&gzip.body[..]),
            &mut decoded,
        )
        .unwrap();
        assert_eq!(decoded, identity.body, "{path} gzip");
        let br = site
            .request(get.clone(), path, &[("accept-encoding", "gzip;q=0.8, br")])
            .await;
        assert_eq!(br.header("content-encoding"), "br");
        let mut decoded = Vec::new();
        std::io::Read::read_to_end(
            &mut brotli::Decompressor::new(&br.body[..], 4096),
            &mut decoded,
        )
        .unwrap();
        assert_eq!(decoded, identity.body, "{path} br");
        assert_eq!(gzip.header("etag"), identity.header("etag"));
    }

    let head = site.request(reqwest::Method::HEAD, "/rss.xml", &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-length"), feed.body.len().to_string());
    assert_eq!(head.header("etag"), etag);
    assert!(head.body.is_empty());

    let author = dropfeed::post::slugify("Newsroom");
    for (alias, target) in [
        ("/feed/", "/rss.xml".to_string()),
        ("/feed/atom/", "/atom.xml".to_string()),
        ("/index.xml", "/rss.xml".to_string()),
        (
            &format!("/author/{author}/feed/"),
            format!("/authors/{author}/rss.xml"),
        ),
    ] {
        let moved = site.get(alias).await;
        assert_eq!(moved.status, StatusCode::MOVED_PERMANENTLY, "{alias}");
        assert_eq!(moved.header("location"), target, "{alias}");
    }
    assert_eq!(
        site.get("/category/none/feed/").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(site.get("/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(site.get("/rss.xml?ref=x").await.header("etag"), etag);
    let brew = site
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            "/rss.xml",
            &[],
        )
        .await;
    assert_eq!(brew.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(brew.header("allow"), "GET, HEAD");

    // Cleartext HTTP/2 on the same port.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .no_proxy()
        .build()
        .unwrap();
    let response = h2
        .get(format!("http://{}/rss.xml", site.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.headers()["etag"], etag.as_str());
    assert_eq!(response.bytes().await.unwrap(), feed.body);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untouched_routes_keep_their_etag_across_a_publish_and_a_restart() {
    let site = Site::new(&[("a.txt", "ant words"), ("b.txt", "bee words")]).await;
    let routes = [
        "/posts/a/",
        "/posts/b/",
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
    ];
    let mut before = Vec::new();
    for route in routes {
        let got = site.get(route).await;
        assert_eq!(got.status, StatusCode::OK, "{route}");
        before.push((
            got.header("etag").to_string(),
            got.header("last-modified").to_string(),
        ));
    }

    let guid_before = guid_of(&site.get("/rss.xml").await.text(), "a");

    // An edit: a's page and the site feed change, b's page does not, and a keeps its id.
    write(&site.posts().join("a.txt"), "ant words, edited");
    let edited = site.shows("a", "edited", "edit").await;
    assert_ne!(edited.header("etag"), before[0].0);
    let feed = site
        .wait_for("/rss.xml", "edit in the feed", |got| {
            got.text().contains("edited")
        })
        .await;
    assert_ne!(feed.header("etag"), before[2].0);
    assert_eq!(guid_of(&feed.text(), "a"), guid_before);
    assert!(guid_before.starts_with("tag:127.0.0.1,"), "{guid_before}");
    let b = site.get("/posts/b/").await;
    assert_eq!(
        (b.header("etag"), b.header("last-modified")),
        (before[1].0.as_str(), before[1].1.as_str())
    );

    // A restart over the same files gives the same bytes, so the same ETags.
    let mut after = Vec::new();
    for route in routes {
        after.push(site.get(route).await.header("etag").to_string());
    }
    let dir = site.stop().await;
    let site = Site::serve(dir).await;
    for (route, etag) in routes.iter().zip(&after) {
        assert_eq!(
            site.get(route).await.header("etag"),
            etag,
            "{route} after a restart"
        );
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_until_sigterm_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), CONFIG).unwrap();
    write(&dir.path().join("posts/hello.txt"), "hello");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.path().join("config.toml"))
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no `listening on` line; stderr: {seen:#?}"));
        if let Some((_, rest)) = line.split_once("listening on http://") {
            break rest.trim().to_string();
        }
        seen.push(line);
    };
    assert!(
        seen.iter()
            .any(|l| l.contains("published at start: +1 ~0 -0 !0")),
        "{seen:#?}"
    );

    let body = client()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let health: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(health["posts"], 1);

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
}
