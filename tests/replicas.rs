//! Replicas: two publishers of one posts folder, each with its own state database (a
//! copy, or a fresh one on a folder both see from the start), answer every route with
//! the same status, body, ETag and Last-Modified, also after an edit, a rename, a
//! deletion, a change found by a rescan and a config reload (README, "Scaling out").
//! Once in process with clocks a minute apart, so a date taken from the clock anywhere
//! shows; once as two `dropfeed serve` processes crawled route by route, identity and
//! gzip.

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::daemon::Daemon;
use common::site::{article, client, copy_tree, write};
use common::{wait_until, PATIENCE};
use dropfeed::config::Config;
use dropfeed::publish::{Clock, Publisher};
use dropfeed::watch::ChangeSet;
use reqwest::StatusCode;

const BASE: &str = "http://replicas.example";

/// One replica's config, the same text in each replica's own folder: the posts folder
/// shared, the state database (`dropfeed.db`, the default) beside each config.
const CONFIG: &str = r#"
[site]
title = "Harbor Times"
base_url = "http://replicas.example"
timezone = "America/Los_Angeles"
icon = "../logo.png"

[posts]
dir = "../posts"
rescan_secs = 0

[feeds]
items = 5
cache_max_age = 2
"#;

/// The shared posts folder (the bundled posts, with a bundle's image, and one more in
/// a category of its own), and a folder with the config for each of two replicas.
fn replicated_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_tree(&root.join("posts"), &dir.path().join("posts"));
    std::fs::copy(root.join("logo.png"), dir.path().join("logo.png")).unwrap();
    write(
        &dir.path().join("posts/pier-repairs.txt"),
        &article(
            "Ada Moss",
            "May 2, 2024",
            "Harbor",
            "The pier reopens on Friday after repairs.",
        ),
    );
    for replica in ["a", "b"] {
        write(&dir.path().join(replica).join("config.toml"), CONFIG);
    }
    dir
}

fn changes(paths: &[&str]) -> ChangeSet {
    ChangeSet {
        paths: paths.iter().map(|p| p.to_string()).collect(),
        ..ChangeSet::default()
    }
}

/// A publisher of the replica in `folder`, whose clock runs `ahead` of the system's.
fn publisher(folder: &Path, ahead: Duration) -> Publisher {
    let config = Config::load(&folder.join("config.toml")).unwrap();
    let clock = Clock::new(move || Utc::now() + ahead);
    Publisher::new(Arc::new(config), clock).0
}

/// Every route a publisher answers but `/healthz` (prerendered, post pages, list pages,
/// tags' feeds), with what a reader is given: body, ETag, Last-Modified.
fn answers(publisher: &Publisher) -> BTreeMap<String, (String, String, DateTime<Utc>)> {
    let snapshot = publisher.snapshots().load_full();
    let answer = |rendered: &dropfeed::snapshot::Rendered| {
        (
            String::from_utf8_lossy(&rendered.body).into_owned(),
            rendered.etag.clone(),
            rendered.last_modified,
        )
    };
    let mut all: BTreeMap<String, _> = snapshot
        .files()
        .into_iter()
        .map(|(route, rendered)| (route.to_string(), answer(rendered)))
        .collect();
    let pages = std::sync::Mutex::new(Vec::new());
    snapshot
        .each_page(|route, rendered| {
            pages
                .lock()
                .unwrap()
                .push((route.to_string(), answer(&rendered)));
            Ok::<(), ()>(())
        })
        .unwrap();
    all.extend(pages.into_inner().unwrap());
    all
}

/// Panics naming the first route the two replicas answer differently.
fn assert_alike<V: PartialEq + std::fmt::Debug>(
    step: &str,
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
) {
    let routes_a: BTreeSet<&String> = a.keys().collect();
    let routes_b: BTreeSet<&String> = b.keys().collect();
    assert_eq!(
        routes_a, routes_b,
        "{step}: the replicas answer other routes"
    );
    for (route, answer) in a {
        let other = b.get(route);
        if Some(answer) != other {
            let (a, b) = (format!("{answer:?}"), format!("{other:?}"));
            let differ = a
                .lines()
                .zip(b.lines())
                .find(|(a, b)| a != b)
                .unwrap_or_default();
            panic!(
                "{step}: the replicas answer {route} differently, first at\n{}\n{}\nin\n{a}\n{b}",
                differ.0, differ.1
            );
        }
    }
}

#[test]
fn publishers_with_clocks_a_minute_apart_answer_every_route_alike_through_edits_renames_and_deletions(
) {
    let site = replicated_site();
    let posts = site.path().join("posts");
    let seconds = |t: DateTime<Utc>| DateTime::from_timestamp(t.timestamp(), 0).unwrap();
    let mut replicas = [
        publisher(&site.path().join("a"), Duration::seconds(5)),
        publisher(&site.path().join("b"), Duration::seconds(65)),
    ];
    assert_alike("at start", &answers(&replicas[0]), &answers(&replicas[1]));

    let mut publish = |step: &str, changes: ChangeSet| {
        for replica in &mut replicas {
            replica.publish(&changes, false).unwrap();
        }
        let (seen_a, seen_b) = (answers(&replicas[0]), answers(&replicas[1]));
        assert_alike(step, &seen_a, &seen_b);
        let redirect = |r: &Publisher| {
            let snapshot = r.snapshots().load_full();
            snapshot.redirect("/posts/tide-tables/").map(str::to_string)
        };
        assert_eq!(redirect(&replicas[0]), redirect(&replicas[1]), "{step}");
        (seen_a, redirect(&replicas[0]))
    };

    write(
        &posts.join("tide-tables.txt"),
        &article("Ada Moss", "May 3, 2024", "Harbor", "New tide tables."),
    );
    let (added, _) = publish("a post added", changes(&["tide-tables.txt"]));
    assert!(added["/categories/harbor/atom.xml"]
        .0
        .contains("New tide tables."));

    write(
        &posts.join("pier-repairs.txt"),
        &article(
            "Ada Moss",
            "May 2, 2024",
            "Harbor",
            "The pier reopens on Saturday after repairs.",
        ),
    );
    let (edited, _) = publish("a post edited", changes(&["pier-repairs.txt"]));
    // The edit is dated by its file, not by either clock.
    let feed = &edited["/categories/harbor/atom.xml"];
    assert!(feed.0.contains("reopens on Saturday"));
    let written: DateTime<Utc> = std::fs::metadata(posts.join("pier-repairs.txt"))
        .unwrap()
        .modified()
        .unwrap()
        .into();
    // Each publish within the second of the copy before moves a second on (the start,
    // the addition and this edit may all fall within one second): three at most, still
    // short of the nearer clock's 5 s lead.
    assert!(
        feed.2 <= seconds(written) + Duration::seconds(3),
        "edited {} written {} added {}",
        feed.2,
        written,
        added["/categories/harbor/atom.xml"].2
    );
    assert!(feed.2 > added["/categories/harbor/atom.xml"].2);

    std::fs::rename(posts.join("tide-tables.txt"), posts.join("tides.txt")).unwrap();
    let (renamed, redirect) = publish("a post renamed", changes(&["tide-tables.txt", "tides.txt"]));
    assert!(renamed.contains_key("/posts/tides/"));
    assert!(!renamed.contains_key("/posts/tide-tables/"));
    assert_eq!(redirect.as_deref(), Some("/posts/tides/"));

    // The category loses its last posts: its feeds stay, empty, dated by the deletion.
    std::fs::remove_file(posts.join("tides.txt")).unwrap();
    std::fs::remove_file(posts.join("pier-repairs.txt")).unwrap();
    let (deleted, _) = publish(
        "the posts of a category deleted",
        changes(&["tides.txt", "pier-repairs.txt"]),
    );
    let emptied = &deleted["/categories/harbor/atom.xml"];
    assert!(!emptied.0.contains("<entry>"));
    let folder_changed: DateTime<Utc> = std::fs::metadata(&posts)
        .unwrap()
        .modified()
        .unwrap()
        .into();
    assert!(emptied.2 >= seconds(folder_changed));
    assert!(emptied.2 > renamed["/categories/harbor/atom.xml"].2);

    // What the watcher missed, found by a rescan, is dated by the files too.
    write(
        &posts.join("dredging.txt"),
        &article("Ada Moss", "May 4, 2024", "Harbor", "Dredging starts."),
    );
    let rescan = ChangeSet::everything();
    let (rescanned, _) = publish("a post found by a rescan", rescan);
    assert!(rescanned["/categories/harbor/atom.xml"]
        .0
        .contains("Dredging starts."));

    // A config reloaded (SIGHUP) a moment apart: every route published again, dated a
    // second after the newest route served, on both.
    let retitled = CONFIG.replace("Harbor Times", "The Harbor Times");
    for (replica, folder) in replicas.iter_mut().zip(["a", "b"]) {
        let path = site.path().join(folder).join("config.toml");
        write(&path, &retitled);
        replica.reconfigure(Arc::new(Config::load(&path).unwrap()));
    }
    let (a, b) = (answers(&replicas[0]), answers(&replicas[1]));
    assert_alike("the config reloaded", &a, &b);
    let newest = rescanned.values().map(|(_, _, at)| *at).max().unwrap();
    assert_eq!(a["/atom.xml"].2, newest + Duration::seconds(1));
    assert!(a["/atom.xml"].0.contains("<title>The Harbor Times</title>"));
}

/// What a replica answers at one route: status, the headers a cache keeps, and the
/// bytes, identity and gzip.
#[derive(PartialEq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    gzip: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    /// The status and headers, and the body as text, so a difference can be read.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(&self.body);
        write!(
            f,
            "{} {:?} gzip {} bytes\n{}",
            self.status,
            self.headers,
            self.gzip.len(),
            text.chars().take(4000).collect::<String>()
        )
    }
}

/// The headers two replicas must agree on.
const COMPARED: &[&str] = &[
    "content-type",
    "etag",
    "last-modified",
    "cache-control",
    "vary",
    "location",
    "content-length",
];

async fn fetch(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
    route: &str,
    encoding: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let response = client
        .get(format!("http://{addr}{route}"))
        .header("accept-encoding", encoding)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = COMPARED
        .iter()
        .filter_map(|name| {
            let value = response.headers().get(*name)?.to_str().ok()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// The routes of this site that `body` links to: its absolute URLs under [`BASE`].
fn links(body: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find(BASE) {
        let after = &rest[at + BASE.len()..];
        let end = after
            .find(|c: char| {
                matches!(c, '"' | '\'' | '<' | '>' | '#' | '?' | '&') || c.is_whitespace()
            })
            .unwrap_or(after.len());
        let route = &after[..end];
        if route.starts_with('/') {
            found.push(route.to_string());
        }
        rest = &after[end..];
    }
    found
}

/// Every route reachable from the home page, the OPML list, the tags' page, a few old
/// feed addresses and `also`, following every link of every page and feed, with what
/// the replica answers there.
async fn crawl(addr: std::net::SocketAddr, also: &[&str]) -> BTreeMap<String, Answer> {
    let client = client();
    // Besides what pages link to: the old feed addresses (301), and a page that is not.
    let seeds = [
        "/",
        "/opml.xml",
        "/tags/",
        "/favicon.ico",
        "/feed/",
        "/index.xml",
        "/category/harbor/feed/",
        "/author/ada-moss/feed/atom/",
        "/no-such-page/",
    ];
    let mut queue: VecDeque<String> = seeds.iter().chain(also).map(|s| s.to_string()).collect();
    let mut seen: BTreeMap<String, Answer> = BTreeMap::new();
    while let Some(route) = queue.pop_front() {
        if seen.contains_key(&route) {
            continue;
        }
        let (status, headers, body) = fetch(&client, addr, &route, "identity").await;
        let (_, _, gzip) = fetch(&client, addr, &route, "gzip").await;
        for link in links(&String::from_utf8_lossy(&body)) {
            if !seen.contains_key(&link) {
                queue.push_back(link);
            }
        }
        seen.insert(
            route,
            Answer {
                status,
                headers,
                body,
                gzip,
            },
        );
    }
    seen
}

/// Waits until both replicas' site feed passes `ok` and is served compressed: both
/// have published the change, and compressed what it changed (a publish swaps in the
/// identity bodies first).
async fn both_published(replicas: &[&Daemon; 2], what: &str, ok: impl Fn(&str) -> bool) {
    let ok = &ok;
    let client = client();
    let client = &client;
    wait_until(PATIENCE, what, || async move {
        for replica in replicas {
            let (_, body) = replica.get("/atom.xml").await;
            if !ok(&body) {
                return Err(format!("{}: {body}", replica.addr));
            }
            let compressed = client
                .get(format!("http://{}/atom.xml", replica.addr))
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap();
            if compressed.headers().get("content-encoding").is_none() {
                return Err(format!("{}: not compressed yet", replica.addr));
            }
        }
        Ok(())
    })
    .await;
}

/// Crawls both replicas and asserts they answer every route alike; gives one's answers.
/// Compared once no Last-Modified is capped by the clock: a change within the second
/// of the one before is dated a second on, and until that second comes the header says
/// the time of each request instead (RFC 9110 §8.8.2.1), which differs by request.
async fn compare(step: &str, replicas: &[&Daemon; 2], also: &[&str]) -> BTreeMap<String, Answer> {
    let (a, b) = wait_until(
        PATIENCE,
        "no Last-Modified is capped by the clock",
        || async {
            let started = Utc::now().timestamp();
            let a = crawl(replicas[0].addr, also).await;
            let b = crawl(replicas[1].addr, also).await;
            let capped = a.values().chain(b.values()).find(|answer| {
                let shown = header(answer, "last-modified");
                DateTime::parse_from_rfc2822(&shown.replace("GMT", "+0000"))
                    .is_ok_and(|at| at.timestamp() >= started)
            });
            match capped {
                Some(answer) => Err(format!("{answer:?}")),
                None => Ok((a, b)),
            }
        },
    )
    .await;
    assert_alike(step, &a, &b);
    a
}

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

#[tokio::test]
async fn two_serve_processes_on_one_folder_answer_every_route_alike() {
    let site = replicated_site();
    let posts: PathBuf = site.path().join("posts");
    let a = Daemon::serve_folder(&site.path().join("a")).await;
    let b = Daemon::serve_folder(&site.path().join("b")).await;
    let replicas = [&a, &b];
    let start = compare("at start", &replicas, &[]).await;
    // The crawl reached every kind of route: feeds of the site, a category, an author
    // and a tag in each format, list pages, post pages, a bundle's image, the icon.
    for route in [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/categories/harbor/rss.xml",
        "/categories/harbor/atom.xml",
        "/categories/harbor/feed.json",
        "/categories/harbor/",
        "/authors/ada-moss/atom.xml",
        "/authors/ada-moss/",
        "/posts/pier-repairs/",
        "/posts/launch/",
        "/posts/launch/newsroom.png",
        "/favicon.ico",
        "/opml.xml",
    ] {
        assert_eq!(start.get(route).map(|a| a.status), Some(200), "{route}");
    }
    assert!(start
        .keys()
        .any(|r| r.starts_with("/tags/") && r.ends_with("/atom.xml")));
    let old_feed = &start["/category/harbor/feed/"];
    assert_eq!(old_feed.status, 301);
    assert_eq!(header(old_feed, "location"), "/categories/harbor/rss.xml");
    assert_eq!(start["/no-such-page/"].status, 404);
    let feed = &start["/categories/harbor/atom.xml"];
    assert_eq!(header(feed, "cache-control"), "public, max-age=2");
    assert_eq!(header(feed, "vary"), "Accept-Encoding");
    assert_eq!(
        header(feed, "content-type"),
        "application/atom+xml; charset=utf-8"
    );

    write(
        &posts.join("tide-tables.txt"),
        &article("Ada Moss", "May 3, 2024", "Harbor", "New tide tables."),
    );
    both_published(&replicas, "both publish the new post", |feed| {
        feed.contains("New tide tables.")
    })
    .await;
    compare("a post added", &replicas, &[]).await;

    write(
        &posts.join("tide-tables.txt"),
        &article(
            "Ada Moss",
            "May 3, 2024",
            "Harbor",
            "Corrected tide tables.",
        ),
    );
    both_published(&replicas, "both publish the edit", |feed| {
        feed.contains("Corrected tide tables.")
    })
    .await;
    compare("a post edited", &replicas, &[]).await;

    std::fs::rename(posts.join("tide-tables.txt"), posts.join("tides.txt")).unwrap();
    both_published(&replicas, "both publish the rename", |feed| {
        feed.contains(&format!("{BASE}/posts/tides/"))
    })
    .await;
    let renamed = compare("a post renamed", &replicas, &["/posts/tide-tables/"]).await;
    let moved = &renamed["/posts/tide-tables/"];
    assert_eq!(moved.status, 301);
    assert_eq!(header(moved, "location"), "/posts/tides/");

    std::fs::remove_file(posts.join("tides.txt")).unwrap();
    std::fs::remove_file(posts.join("pier-repairs.txt")).unwrap();
    both_published(&replicas, "both publish the deletions", |feed| {
        !feed.contains("tide tables") && !feed.contains("The pier reopens")
    })
    .await;
    let deleted = compare("a category's posts deleted", &replicas, &[]).await;
    // The category that lost its posts keeps answering, empty, on both.
    let emptied = &deleted["/categories/harbor/atom.xml"];
    assert_eq!(emptied.status, 200);
    assert!(!String::from_utf8_lossy(&emptied.body).contains("<entry>"));
    assert_ne!(header(emptied, "etag"), header(feed, "etag"));

    for replica in replicas {
        let (status, health) = replica.get("/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert!(health.contains(r#""state": "ok""#), "{health}");
    }
}
