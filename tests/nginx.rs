//! A real nginx (Debian's package) in front of two replicas, configured by
//! `contrib/nginx.conf` itself with its addresses and folders replaced: it caches a
//! feed, revalidates it with a 304 once `max-age` has passed, keeps the gzip and the
//! identity bodies apart, and shows a new post once the copy it held goes stale
//! (README, "Scaling out").
//!
//! Skipped, saying so, when nginx is not installed, unless `DROPFEED_REQUIRE_NGINX=1`
//! (`.ci/run` installs it and sets that).

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::daemon::Daemon;
use common::site::{article, client, write};
use common::{wait_until, PATIENCE};
use reqwest::StatusCode;

/// Each replica's config, the same text in each replica's folder. `max-age` is short,
/// so the copy nginx holds goes stale within the test.
const CONFIG: &str = r#"
[site]
title = "Harbor Times"
base_url = "http://news.example.org"

[posts]
dir = "../posts"
rescan_secs = 0

[feeds]
cache_max_age = 3
"#;

const FEED: &str = "/categories/harbor/atom.xml";

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

/// nginx run in the foreground as a child process, killed when dropped.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    access_log: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `contrib/nginx.conf` for `replicas`, listening on `addr`, caching under `dir`:
/// panics when a line it replaces is no longer there, so the contrib file and the
/// test cannot drift apart.
fn site_config(replicas: [SocketAddr; 2], addr: SocketAddr, dir: &Path) -> String {
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/nginx.conf");
    let mut text = std::fs::read_to_string(contrib).unwrap();
    let cache = dir.join("cache");
    for (from, to) in [
        ("127.0.0.1:8081", replicas[0].to_string()),
        ("127.0.0.1:8082", replicas[1].to_string()),
        ("/var/lib/nginx/dropfeed", cache.display().to_string()),
        ("listen 80;", format!("listen {addr};")),
    ] {
        assert!(text.contains(from), "contrib/nginx.conf has no `{from}`");
        text = text.replace(from, &to);
    }
    text
}

/// Starts nginx with the contrib config in `dir` (its pid, logs and temp files there
/// too), and waits until it answers.
async fn nginx(binary: &Path, replicas: [SocketAddr; 2], dir: &Path) -> Nginx {
    // A free port: nginx binds it again at once.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    write(
        &dir.join("dropfeed.conf"),
        &site_config(replicas, addr, dir),
    );
    let d = dir.display();
    let main = format!(
        "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    log_format upstreams '$request_uri $http_accept_encoding upstream=$upstream_addr status=$upstream_status cache=$upstream_cache_status';
    access_log {d}/access.log upstreams;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/dropfeed.conf;
}}
"
    );
    write(&dir.join("nginx.conf"), &main);
    let child = Command::new(binary)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut nginx = Nginx {
        child,
        addr,
        access_log: dir.join("access.log"),
    };
    let client = client();
    let started = wait_until(PATIENCE, "nginx answers", || {
        let exited = nginx.child.try_wait().unwrap();
        let client = &client;
        async move {
            if let Some(status) = exited {
                return Ok(Err(status));
            }
            match client.get(format!("http://{addr}/healthz")).send().await {
                Ok(response) => Ok(Ok(response.status())),
                Err(err) => Err(err.to_string()),
            }
        }
    })
    .await;
    if let Err(status) = started {
        let mut stderr = String::new();
        if let Some(mut pipe) = nginx.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        panic!("nginx exited ({status}): {stderr}\n{log}");
    }
    nginx
}

/// One answer through nginx.
struct Got {
    status: StatusCode,
    cache: String,
    encoding: String,
    vary: String,
    body: Vec<u8>,
}

async fn get(addr: SocketAddr, path: &str, encoding: Option<&str>) -> Got {
    let mut request = client().get(format!("http://{addr}{path}"));
    if let Some(encoding) = encoding {
        request = request.header("accept-encoding", encoding);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    Got {
        status: response.status(),
        cache: header("x-cache-status"),
        encoding: header("content-encoding"),
        vary: header("vary"),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

impl Nginx {
    /// The access log's lines for `path`: `{uri} {accept-encoding} upstream=… status=…
    /// cache=…`.
    fn logged(&self, path: &str) -> Vec<String> {
        let log = std::fs::read_to_string(&self.access_log).unwrap_or_default();
        log.lines()
            .filter(|line| line.split(' ').next() == Some(path))
            .map(str::to_string)
            .collect()
    }

    /// The access log's lines for `path` once there are `count` of them: nginx writes a
    /// line after the response, which the client may have read before.
    async fn logged_at_least(&self, path: &str, count: usize) -> Vec<String> {
        wait_until(PATIENCE, "nginx logs the requests", || async move {
            let lines = self.logged(path);
            if lines.len() >= count {
                Ok(lines)
            } else {
                Err(format!("{lines:#?}"))
            }
        })
        .await
    }

    /// The log lines for `path` that went to a replica.
    fn fetched(&self, path: &str) -> Vec<String> {
        self.logged(path)
            .into_iter()
            .filter(|line| !line.contains("upstream=- "))
            .collect()
    }
}

fn replica_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let posts = dir.path().join("posts");
    write(
        &posts.join("pier-repairs.txt"),
        &article(
            "Ada Moss",
            "May 2, 2024",
            "Harbor",
            "The pier reopens on Friday after repairs.",
        ),
    );
    write(
        &posts.join("ferry.txt"),
        &article("Ada Moss", "May 1, 2024", "Harbor", "The ferry runs late."),
    );
    for replica in ["a", "b"] {
        write(&dir.path().join(replica).join("config.toml"), CONFIG);
    }
    dir
}

#[tokio::test]
async fn nginx_caches_revalidates_keeps_encodings_apart_and_shows_a_new_post_within_max_age() {
    let Some(binary) = nginx_binary() else {
        assert!(
            std::env::var_os("DROPFEED_REQUIRE_NGINX").is_none(),
            "DROPFEED_REQUIRE_NGINX is set and nginx is not installed (apt-get install nginx)"
        );
        eprintln!("skipped: nginx is not installed (apt-get install nginx)");
        return;
    };
    let site = replica_site();
    let a = Daemon::serve_folder(&site.path().join("a")).await;
    let b = Daemon::serve_folder(&site.path().join("b")).await;
    let nginx_dir = tempfile::tempdir().unwrap();
    let proxy = nginx(&binary, [a.addr, b.addr], nginx_dir.path()).await;

    // What nginx needs of dropfeed: a validator, Cache-Control and Vary, also on a 304.
    let direct = client()
        .get(format!("http://{}{FEED}", a.addr))
        .send()
        .await
        .unwrap();
    let etag = direct.headers()["etag"].to_str().unwrap().to_string();
    let identity = direct.bytes().await.unwrap().to_vec();
    let not_modified = client()
        .get(format!("http://{}{FEED}", b.addr))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let headers = not_modified.headers();
    assert_eq!(headers["etag"], etag.as_str());
    assert_eq!(headers["cache-control"], "public, max-age=3");
    assert_eq!(headers["vary"], "Accept-Encoding");
    assert!(headers.contains_key("last-modified"));

    // Cached: fetched once from a replica, then served by nginx alone.
    let first = get(proxy.addr, FEED, None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.cache, "MISS");
    assert_eq!(first.body, identity);
    let second = get(proxy.addr, FEED, None).await;
    assert_eq!(second.cache, "HIT");
    assert_eq!(second.body, identity);
    proxy.logged_at_least(FEED, 2).await;
    assert_eq!(proxy.fetched(FEED).len(), 1, "{:#?}", proxy.logged(FEED));

    // gzip and identity kept apart: each client gets the bytes it can read, from the
    // cache the second time.
    let gzip = get(proxy.addr, FEED, Some("gzip")).await;
    assert_eq!(gzip.encoding, "gzip");
    assert_eq!(gzip.vary, "Accept-Encoding");
    assert_eq!(gunzip(&gzip.body), identity);
    let plain = get(proxy.addr, FEED, None).await;
    assert_eq!(plain.encoding, "");
    assert_eq!(plain.body, identity);
    let gzip_again = get(proxy.addr, FEED, Some("gzip")).await;
    assert_eq!(gzip_again.encoding, "gzip");
    assert_eq!(gzip_again.cache, "HIT");
    assert_eq!(gunzip(&gzip_again.body), identity);

    // Once max-age has passed, nginx asks a replica again with the validators, and the
    // replica answers 304: the cached body is served, revalidated. Every answer before
    // is a HIT.
    let seen = std::sync::Mutex::new(Vec::new());
    let (seen, identity) = (&seen, &identity);
    wait_until(PATIENCE, "nginx revalidates the feed", || {
        let addr = proxy.addr;
        async move {
            let got = get(addr, FEED, None).await;
            assert_eq!(&got.body, identity);
            let mut seen = seen.lock().unwrap();
            seen.push(got.cache.clone());
            match got.cache.as_str() {
                "REVALIDATED" => Ok(()),
                "HIT" => Err(format!("{seen:?}")),
                other => {
                    panic!("a stale copy fetched again, not revalidated: {other} after {seen:?}")
                }
            }
        }
    })
    .await;
    let requests = 5 + seen.lock().unwrap().len();
    let logged = proxy.logged_at_least(FEED, requests).await;
    let revalidation = logged
        .iter()
        .find(|line| line.ends_with("cache=REVALIDATED"))
        .unwrap();
    assert!(revalidation.contains("status=304"), "{revalidation}");

    // A new post: once both replicas have published it, nginx serves the copy it holds
    // only while that copy is fresh (HIT), and the first answer it fetches after has the
    // post. So the post shows no later than max-age after it was published.
    let marker = "Tide tables for June";
    write(
        &site.path().join("posts/tides.txt"),
        &article("Ada Moss", "May 3, 2024", "Harbor", marker),
    );
    for replica in [&a, &b] {
        wait_until(PATIENCE, "both replicas publish the post", || async move {
            let (_, body) = replica.get(FEED).await;
            body.contains(marker).then_some(()).ok_or(body)
        })
        .await;
    }
    let before = std::sync::Mutex::new(Vec::new());
    let shown = wait_until(PATIENCE, "nginx shows the new post", || {
        let (addr, before) = (proxy.addr, &before);
        async move {
            let got = get(addr, FEED, None).await;
            if String::from_utf8_lossy(&got.body).contains(marker) {
                return Ok(got);
            }
            let mut before = before.lock().unwrap();
            before.push(got.cache.clone());
            Err(format!("{before:?}"))
        }
    })
    .await;
    let before = before.into_inner().unwrap();
    assert!(before.iter().all(|cache| cache == "HIT"), "{before:?}");
    assert_eq!(shown.cache, "EXPIRED");

    // Both replicas served nginx.
    let requests = requests + before.len() + 1;
    proxy.logged_at_least(FEED, requests).await;
    let upstreams: std::collections::BTreeSet<String> = proxy
        .fetched(FEED)
        .iter()
        .filter_map(|line| line.split(' ').find(|w| w.starts_with("upstream=")))
        .map(str::to_string)
        .collect();
    assert_eq!(
        upstreams,
        [a.addr, b.addr]
            .iter()
            .map(|addr| format!("upstream={addr}"))
            .collect()
    );
}
