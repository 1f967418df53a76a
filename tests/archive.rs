//! RFC 5005 archived feeds, end to end: the real daemon serves a site of 1,000 posts,
//! and a reader that starts at a feed's newest page and follows `prev-archive` sees
//! every post exactly once, in every format; closed archives stay byte for byte as they
//! were when a post is published, an edit changes its own archive only, and the W3C
//! validator passes every document.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Duration, TimeZone, Utc};
use common::site::{folder, write, Got, Site};
use quick_xml::events::Event;
use reqwest::StatusCode;

/// 30 posts a page and an archive: 1,000 posts give the site 33 archives (32 closed,
/// the newest holding 10).
const CONFIG: &str = r#"
[site]
title = "Archive News"
author = "Newsroom"
timezone = "UTC"

[posts]
rescan_secs = 0

[feeds]
items = 30
"#;

const POSTS: usize = 1000;

/// Post `i` (from 0, the oldest): an hour after the one before, in Alpha when `i` is a
/// multiple of 3 (334 posts) and in Beta otherwise.
fn post(i: usize, body: &str) -> String {
    let date = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + Duration::hours(i as i64);
    let category = if i % 3 == 0 { "Alpha" } else { "Beta" };
    format!(
        "---\ntitle: Post {i}\ndate: {}\ncategories: [{category}]\n---\n{body}\n",
        date.to_rfc3339()
    )
}

fn name(i: usize) -> String {
    format!("p{i:04}.md")
}

/// The site, its files and folder dated 2021, long before the test runs: a change the
/// test makes is then later than anything served before it, whatever second it falls in.
async fn site_of_1000_posts() -> Site {
    let texts: Vec<(String, String)> = (0..POSTS)
        .map(|i| (name(i), post(i, &format!("Body of post {i}."))))
        .collect();
    let posts: Vec<(&str, &str)> = texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let dir = folder(CONFIG, &posts);
    let long_ago = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_609_459_200);
    let folder = dir.path().join("posts");
    for (name, _) in &texts {
        let file = std::fs::File::options()
            .write(true)
            .open(folder.join(name))
            .unwrap();
        file.set_modified(long_ago).unwrap();
    }
    std::fs::File::open(&folder)
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    Site::serve(dir).await
}

/// A response's Last-Modified.
fn last_modified(got: &Got) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc2822(got.header("last-modified")).unwrap()
}

/// One document of a feed's history, as a reader reads it.
#[derive(Debug)]
struct Doc {
    /// The items' ids (Atom `id`, RSS `guid`, JSON Feed `id`), in document order.
    ids: Vec<String>,
    /// The feed-level links by relation (`self`, `prev-archive`, `current`, …).
    links: BTreeMap<String, String>,
    /// Marked `fh:archive` (JSON Feed: `_rfc5005.archive`).
    archive: bool,
}

/// Reads an Atom or RSS document with quick-xml: feed-level `link`/`atom:link`
/// elements, each entry's `id` or item's `guid`, and `fh:archive`.
fn read_xml(text: &str) -> Doc {
    common::strict_xml("archive document", text);
    let mut reader = quick_xml::Reader::from_str(text);
    let mut doc = Doc {
        ids: Vec::new(),
        links: BTreeMap::new(),
        archive: false,
    };
    let mut in_item = false;
    let mut in_id = false;
    loop {
        match reader.read_event().unwrap() {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                match name.as_str() {
                    "entry" | "item" => in_item = true,
                    "id" | "guid" if in_item => in_id = true,
                    "fh:archive" => doc.archive = true,
                    "link" | "atom:link" if !in_item => {
                        let attr = |key: &str| {
                            e.attributes()
                                .flatten()
                                .find(|a| a.key.as_ref() == key.as_bytes())
                                .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                        };
                        if let (Some(rel), Some(href)) = (attr("rel"), attr("href")) {
                            assert!(
                                doc.links.insert(rel.clone(), href).is_none(),
                                "two {rel} links"
                            );
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_id => doc.ids.push(t.unescape().unwrap().into_owned()),
            Event::End(e) => match e.name().as_ref() {
                b"entry" | b"item" => in_item = false,
                b"id" | b"guid" => in_id = false,
                _ => {}
            },
            _ => {}
        }
    }
    doc
}

fn read_json(text: &str) -> Doc {
    let feed: serde_json::Value = serde_json::from_str(text).unwrap();
    let ids = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect();
    let mut links = BTreeMap::from([(
        "self".to_string(),
        feed["feed_url"].as_str().unwrap().to_string(),
    )]);
    let history = &feed["_rfc5005"];
    for (key, rel) in [
        ("prev_archive", "prev-archive"),
        ("next_archive", "next-archive"),
        ("current", "current"),
    ] {
        if let Some(url) = history[key].as_str() {
            links.insert(rel.to_string(), url.to_string());
        }
    }
    Doc {
        ids,
        links,
        archive: history["archive"] == serde_json::json!(true),
    }
}

fn read(route: &str, got: &Got) -> Doc {
    assert_eq!(got.status, StatusCode::OK, "{route}: {}", got.text());
    if route.ends_with(".json") {
        read_json(&got.text())
    } else {
        read_xml(&got.text())
    }
}

impl Site {
    /// The route of one of this site's URLs.
    fn route_of(&self, url: &str) -> String {
        url.strip_prefix(&format!("http://{}", self.addr))
            .unwrap_or_else(|| panic!("{url} is not on this site"))
            .to_string()
    }

    /// Starts at a feed's newest page and follows `prev-archive` to the end, checking
    /// each archive's marker and links on the way: every post id seen, in order, with
    /// the archives' routes (newest first).
    async fn walk(&self, feed: &str) -> (Vec<String>, Vec<String>) {
        let current = read(feed, &self.get(feed).await);
        assert!(!current.archive, "{feed} is marked as an archive");
        let mut ids = current.ids;
        let mut archives: Vec<String> = Vec::new();
        let mut next = current.links.get("prev-archive").cloned();
        while let Some(url) = next {
            let route = self.route_of(&url);
            let doc = read(&route, &self.get(&route).await);
            assert!(doc.archive, "{route} is not marked as an archive");
            assert_eq!(doc.links["self"], url, "{route}");
            assert_eq!(self.route_of(&doc.links["current"]), feed, "{route}");
            let newer = archives.last().map(|r| format!("http://{}{r}", self.addr));
            assert_eq!(doc.links.get("next-archive"), newer.as_ref(), "{route}");
            ids.extend(doc.ids);
            archives.push(route);
            next = doc.links.get("prev-archive").cloned();
        }
        (ids, archives)
    }
}

/// Every id once: the count of distinct ids, after checking there is no repeat.
fn once(ids: &[String], what: &str) -> usize {
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "{what}: a post seen twice");
    distinct.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_prev_archive_gives_every_post_exactly_once_in_every_format() {
    let site = site_of_1000_posts().await;
    for (feed, posts, archives) in [
        ("/atom.xml", 1000, 33),
        ("/rss.xml", 1000, 33),
        ("/feed.json", 1000, 33),
        // 334 posts: 30 on the newest page, 304 in 11 archives.
        ("/categories/alpha/atom.xml", 334, 11),
        ("/categories/alpha/rss.xml", 334, 11),
        ("/categories/alpha/feed.json", 334, 11),
    ] {
        let (ids, walked) = site.walk(feed).await;
        assert_eq!(once(&ids, feed), posts, "{feed}");
        assert_eq!(walked.len(), archives, "{feed}: {walked:?}");
        let folder = feed.rsplit_once('/').unwrap().0;
        let extension = match feed.rsplit_once('.').unwrap().1 {
            "xml" if feed.ends_with("rss.xml") => "rss",
            "xml" => "atom",
            other => other,
        };
        assert_eq!(
            walked[0],
            format!("{folder}/archive/{archives}.{extension}")
        );
        assert_eq!(
            walked[archives - 1],
            format!("{folder}/archive/1.{extension}")
        );
    }
    // The oldest archive holds the oldest posts, newest first.
    let first = read("/archive/1.atom", &site.get("/archive/1.atom").await);
    let expected: Vec<String> = (0..30).rev().map(|i| format!("p{i:04}")).collect();
    let slugs: Vec<String> = first
        .ids
        .iter()
        .map(|id| id.rsplit(':').next().unwrap().to_string())
        .collect();
    assert_eq!(slugs, expected);
    // Past the newest archive, and in a format or feed that does not exist: 404.
    for route in [
        "/archive/34.atom",
        "/archive/0.atom",
        "/categories/alpha/archive/12.rss",
        "/categories/gamma/archive/1.rss",
        "/archive/1.xml",
    ] {
        assert_eq!(
            site.get(route).await.status,
            StatusCode::NOT_FOUND,
            "{route}"
        );
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_post_leaves_closed_archives_as_they_were_and_fills_the_newest() {
    let site = site_of_1000_posts().await;
    let closed = site.get("/archive/32.atom").await;
    let newest = site.get("/archive/33.atom").await;
    assert_eq!(closed.header("cache-control"), "public, max-age=86400");
    assert_eq!(newest.header("cache-control"), "public, max-age=300");
    assert_eq!(read("/archive/33.atom", &newest).ids.len(), 10);

    write(
        &site.posts().join(name(POSTS)),
        &post(POSTS, "The newest post."),
    );
    site.wait_for("/atom.xml", "the new post in the site's feed", |got| {
        got.text().contains(":p1000</id>")
    })
    .await;

    // Archive 32 is closed: the same bytes, ETag and Last-Modified, and a cache's copy
    // is still fresh.
    let after = site.get("/archive/32.atom").await;
    assert_eq!(after.body, closed.body);
    assert_eq!(after.header("etag"), closed.header("etag"));
    assert_eq!(
        after.header("last-modified"),
        closed.header("last-modified")
    );
    let revalidated = site
        .request(
            reqwest::Method::GET,
            "/archive/32.atom",
            &[("if-none-match", closed.header("etag"))],
        )
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    // The newest archive took the post that left the newest page (post 969), and is
    // still the newest.
    let grown = site.get("/archive/33.atom").await;
    assert_ne!(grown.header("etag"), newest.header("etag"));
    let ids = read("/archive/33.atom", &grown).ids;
    assert_eq!(ids.len(), 11);
    assert!(ids[0].ends_with(":p0970"), "{ids:?}");
    assert_eq!(
        site.get("/archive/34.atom").await.status,
        StatusCode::NOT_FOUND
    );
    let (ids, _) = site.walk("/atom.xml").await;
    assert_eq!(once(&ids, "after a new post"), 1001);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_an_archived_post_changes_its_archive_only() {
    let site = site_of_1000_posts().await;
    let routes = ["/archive/1.rss", "/archive/2.rss", "/archive/3.rss"];
    let mut before = Vec::new();
    for route in routes {
        before.push(site.get(route).await);
    }
    // Post 45 is in archive 2 (posts 30 to 59).
    write(
        &site.posts().join(name(45)),
        &post(45, "Corrected: the body of post 45."),
    );
    let edited = site
        .wait_for("/archive/2.rss", "the edit in archive 2", |got| {
            got.text().contains("Corrected: the body of post 45.")
        })
        .await;
    assert_ne!(edited.header("etag"), before[1].header("etag"));
    assert!(last_modified(&edited) > last_modified(&before[1]));
    // The post kept its place: archive 2 holds the same posts.
    assert_eq!(
        read(routes[1], &edited).ids,
        read(routes[1], &before[1]).ids
    );
    for (route, old) in [(routes[0], &before[0]), (routes[2], &before[2])] {
        let now = site.get(route).await;
        assert_eq!(now.body, old.body, "{route}");
        assert_eq!(now.header("etag"), old.header("etag"), "{route}");
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_archived_post_moves_the_later_archives_and_the_walk_stays_whole() {
    let site = site_of_1000_posts().await;
    let first = site.get("/feed.json").await;
    let third = site.get("/archive/3.json").await;
    std::fs::remove_file(site.posts().join(name(45))).unwrap();
    let moved = site
        .wait_for("/archive/2.json", "post 45 gone from archive 2", |got| {
            !got.text().contains("/posts/p0045/")
        })
        .await;
    // Archive 2 took the oldest post of archive 3, which took one from archive 4.
    let ids = read("/archive/2.json", &moved).ids;
    assert_eq!(ids.len(), 30);
    assert!(ids[0].ends_with(":p0060"), "{ids:?}");
    let shifted = site.get("/archive/3.json").await;
    assert_ne!(shifted.header("etag"), third.header("etag"));
    // Moved forward, or a cache holding the copy before would be told it is current.
    assert!(last_modified(&shifted) > last_modified(&third));
    let (ids, _) = site.walk("/feed.json").await;
    assert_eq!(once(&ids, "after a deletion"), 999);
    assert_eq!(site.get("/feed.json").await.body, first.body);
    site.stop().await;
}

/// Where `validate-feed` is: `$DROPFEED_FEED_TOOLS`, else `../shared/tools` beside the
/// crate, else `/work/shared/tools`.
fn feed_tools() -> PathBuf {
    if let Some(dir) = std::env::var_os("DROPFEED_FEED_TOOLS") {
        return PathBuf::from(dir);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools");
    if beside.join("validate-feed").exists() {
        return beside;
    }
    PathBuf::from("/work/shared/tools")
}

/// The validator's warnings about a document, each its first line, without the line
/// numbers that differ between documents; `None` when the validator cannot run here
/// (then the test says so and skips, unless `DROPFEED_REQUIRE_VALIDATOR=1`). Errors
/// fail the test.
async fn validator_warnings(url: String) -> Option<BTreeSet<String>> {
    let tool = feed_tools().join("validate-feed");
    let required = std::env::var("DROPFEED_REQUIRE_VALIDATOR").is_ok_and(|v| v == "1");
    let run = url.clone();
    let output = tokio::task::spawn_blocking(move || Command::new(&tool).arg(&run).output())
        .await
        .unwrap();
    let (code, text) = match &output {
        Ok(output) => (
            output.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ),
        Err(err) => (None, format!("cannot run the validator: {err}")),
    };
    if code.is_none() || code == Some(2) || text.contains("ModuleNotFoundError") {
        assert!(
            !required,
            "DROPFEED_REQUIRE_VALIDATOR=1 but the validator cannot run: {text}"
        );
        println!("skipping the W3C validator: it cannot run here: {text}");
        return None;
    }
    assert_eq!(code, Some(0), "validate-feed {url}:\n{text}");
    Some(
        text.lines()
            .filter(|line| line.trim_start().starts_with("WARNING") || line.contains("warning:"))
            .filter(|line| !line.contains("warnings:"))
            .map(|line| {
                line.split_once("line")
                    .map_or(line, |(before, _)| before)
                    .trim()
                    .to_string()
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_pass_the_w3c_validator_with_no_warning_their_feed_has_not() {
    let site = site_of_1000_posts().await;
    for (feed, archives) in [
        ("/atom.xml", ["/archive/1.atom", "/archive/33.atom"]),
        ("/rss.xml", ["/archive/1.rss", "/archive/33.rss"]),
        ("/feed.json", ["/archive/1.json", "/archive/33.json"]),
        (
            "/categories/alpha/atom.xml",
            [
                "/categories/alpha/archive/5.atom",
                "/categories/alpha/archive/11.atom",
            ],
        ),
    ] {
        let url = |route: &str| format!("http://{}{route}", site.addr);
        let Some(known) = validator_warnings(url(feed)).await else {
            site.stop().await;
            return;
        };
        for archive in archives {
            let warnings = validator_warnings(url(archive)).await.unwrap_or_default();
            let new: Vec<&String> = warnings.difference(&known).collect();
            assert!(new.is_empty(), "{archive}: new warnings {new:?}");
        }
    }
    site.stop().await;
}

/// A reader that states its subscribers fetches the feed it is subscribed to and, once,
/// its archives: the count is the feed's, and no archive becomes a feed of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_stated_while_walking_archives_count_for_the_feed_only() {
    let site = site_of_1000_posts().await;
    let feedly = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 7 subscribers)";
    for route in ["/atom.xml", "/archive/33.atom", "/archive/1.atom"] {
        let got = site
            .request(reqwest::Method::GET, route, &[("user-agent", feedly)])
            .await;
        assert_eq!(got.status, StatusCode::OK, "{route}");
    }
    let health = site.health().await;
    assert_eq!(health["subscribers"]["total"], 7, "{health}");
    let feeds: Vec<&String> = health["subscribers"]["feeds"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(feeds, ["/atom.xml"], "{health}");
    site.stop().await;
}
