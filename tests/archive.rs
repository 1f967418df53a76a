//! RFC 5005 archived feeds, end to end: the real daemon serves a site of 1,000 posts,
//! and a reader that starts at a feed's newest page and follows `prev-archive` sees
//! every post exactly once, in every format; closed archives stay byte for byte as they
//! were when a post is published, an edit changes its own archive only, an archive
//! whose posts change gets a new URL (so a reader that stops at the first archive URL
//! it has read still sees every post), and the W3C validator passes every document.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, TimeZone, Utc};
use common::site::{folder, write, Got, Site};
use common::validator;
use common::{wait_until, PATIENCE};
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

/// The plain route of an archive's named route: `/archive/3-0a1b2c3d.atom` →
/// `/archive/3.atom`.
fn plain(route: &str) -> String {
    let (folder, file) = route.rsplit_once("/archive/").unwrap();
    let (stem, extension) = file.split_once('.').unwrap();
    let (n, name) = stem.split_once('-').unwrap();
    assert_eq!(name.len(), 8, "{route}");
    assert!(name.bytes().all(|b| b.is_ascii_hexdigit()), "{route}");
    format!("{folder}/archive/{n}.{extension}")
}

impl Site {
    /// The named route an archive's plain route (`/archive/3.atom`) answers 301 to.
    async fn named(&self, route: &str) -> String {
        let got = self.get(route).await;
        assert_eq!(got.status, StatusCode::MOVED_PERMANENTLY, "{route}");
        let to = got.header("location").to_string();
        assert_eq!(plain(&to), route);
        to
    }

    /// An archive by its plain route, through the 301 to its named one.
    async fn archive(&self, route: &str) -> (String, Got) {
        let named = self.named(route).await;
        let got = self.get(&named).await;
        (named, got)
    }

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
            // The newer archive by its plain route, which redirects to its current name.
            let newer = archives
                .last()
                .map(|r| format!("http://{}{}", self.addr, plain(r)));
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
            plain(&walked[0]),
            format!("{folder}/archive/{archives}.{extension}")
        );
        assert_eq!(
            plain(&walked[archives - 1]),
            format!("{folder}/archive/1.{extension}")
        );
        assert_eq!(
            site.named(&plain(&walked[0])).await,
            walked[0],
            "{feed}: the plain route leads to the archive the feed links"
        );
    }
    // The oldest archive holds the oldest posts, newest first.
    let (named, got) = site.archive("/archive/1.atom").await;
    let first = read(&named, &got);
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
        "/archive/34-0a1b2c3d.atom",
        "/archive/1-0A1B2C3D.atom",
    ] {
        assert_eq!(
            site.get(route).await.status,
            StatusCode::NOT_FOUND,
            "{route}"
        );
    }
    // A name the archive does not have (a link from before its posts changed): 301 to
    // the name it has, as a cache or reader may hold the old link.
    let stale = if named.contains("-00000000.") {
        "/archive/1-00000001.atom"
    } else {
        "/archive/1-00000000.atom"
    };
    let got = site.get(stale).await;
    assert_eq!(got.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(got.header("location"), named);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_post_leaves_closed_archives_as_they_were_and_fills_the_newest() {
    let site = site_of_1000_posts().await;
    let (closed_route, closed) = site.archive("/archive/32.atom").await;
    let (newest_route, newest) = site.archive("/archive/33.atom").await;
    assert_eq!(closed.header("cache-control"), "public, max-age=86400");
    assert_eq!(newest.header("cache-control"), "public, max-age=300");
    assert_eq!(read(&newest_route, &newest).ids.len(), 10);

    write(
        &site.posts().join(name(POSTS)),
        &post(POSTS, "The newest post."),
    );
    site.wait_for("/atom.xml", "the new post in the site's feed", |got| {
        got.text().contains(":p1000</id>")
    })
    .await;

    // Archive 32 is closed: the same URL, bytes, ETag and Last-Modified, and a cache's
    // copy is still fresh.
    let (after_route, after) = site.archive("/archive/32.atom").await;
    assert_eq!(after_route, closed_route);
    assert_eq!(after.body, closed.body);
    assert_eq!(after.header("etag"), closed.header("etag"));
    assert_eq!(
        after.header("last-modified"),
        closed.header("last-modified")
    );
    let revalidated = site
        .request(
            reqwest::Method::GET,
            &closed_route,
            &[("if-none-match", closed.header("etag"))],
        )
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    // The newest archive took the post that left the newest page (post 969), and is
    // still the newest, under a new name; its former name leads to it.
    let (grown_route, grown) = site.archive("/archive/33.atom").await;
    assert_ne!(grown_route, newest_route);
    site.redirects(&newest_route, &grown_route, "the former name of archive 33")
        .await;
    assert!(site
        .get("/atom.xml")
        .await
        .text()
        .contains(&format!("http://{}{grown_route}", site.addr)));
    assert_ne!(grown.header("etag"), newest.header("etag"));
    let ids = read(&grown_route, &grown).ids;
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
    let mut routes = Vec::new();
    let mut before = Vec::new();
    for route in ["/archive/1.rss", "/archive/2.rss", "/archive/3.rss"] {
        let (named, got) = site.archive(route).await;
        routes.push(named);
        before.push(got);
    }
    // Post 45 is in archive 2 (posts 30 to 59).
    write(
        &site.posts().join(name(45)),
        &post(45, "Corrected: the body of post 45."),
    );
    let edited = site
        .wait_for(&routes[1], "the edit in archive 2", |got| {
            got.text().contains("Corrected: the body of post 45.")
        })
        .await;
    assert_ne!(edited.header("etag"), before[1].header("etag"));
    assert!(last_modified(&edited) > last_modified(&before[1]));
    // The post kept its place: archive 2 holds the same posts, under the same names.
    assert_eq!(
        read(&routes[1], &edited).ids,
        read(&routes[1], &before[1]).ids
    );
    for (n, route) in routes.iter().enumerate() {
        assert_eq!(&site.named(&plain(route)).await, route, "archive {}", n + 1);
    }
    for (route, old) in [(&routes[0], &before[0]), (&routes[2], &before[2])] {
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
    let (first_route, _) = site.archive("/archive/1.json").await;
    let (second_route, _) = site.archive("/archive/2.json").await;
    let (third_route, third) = site.archive("/archive/3.json").await;
    std::fs::remove_file(site.posts().join(name(45))).unwrap();
    site.wait_for("/archive/2.json", "archive 2 renamed", |got| {
        got.status == StatusCode::MOVED_PERMANENTLY && got.header("location") != second_route
    })
    .await;
    let (moved_route, moved) = site.archive("/archive/2.json").await;
    // Archive 2 took the oldest post of archive 3, which took one from archive 4: both
    // renamed, their former names lead to the new ones; archive 1 keeps its name.
    let ids = read(&moved_route, &moved).ids;
    assert_eq!(ids.len(), 30);
    assert!(ids[0].ends_with(":p0060"), "{ids:?}");
    assert!(!moved.text().contains("/posts/p0045/"));
    site.redirects(&second_route, &moved_route, "archive 2's former name")
        .await;
    assert_eq!(site.named("/archive/1.json").await, first_route);
    let (shifted_route, shifted) = site.archive("/archive/3.json").await;
    assert_ne!(shifted_route, third_route);
    site.redirects(&third_route, &shifted_route, "archive 3's former name")
        .await;
    assert_ne!(shifted.header("etag"), third.header("etag"));
    // Moved forward, or a cache holding the copy before would be told it is current.
    assert!(last_modified(&shifted) > last_modified(&third));
    let (ids, _) = site.walk("/feed.json").await;
    assert_eq!(once(&ids, "after a deletion"), 999);
    // The feed holds the same posts; it links the newest archive by its new name.
    let before = read_json(&first.text()).links["prev-archive"].clone();
    let (newest, _) = site.archive("/archive/33.json").await;
    let newest = format!("http://{}{newest}", site.addr);
    assert_ne!(newest, before);
    assert_eq!(
        site.get("/feed.json").await.text(),
        first.text().replace(&before, &newest)
    );
    site.stop().await;
}

/// An RFC 5005 section 4.2 reader: it reads a feed's newest page, then follows
/// `prev-archive` until it meets an archive URL it has read before, and stops there.
#[derive(Default)]
struct Reader {
    /// The archive URLs it has read.
    read: BTreeSet<String>,
    /// The slugs of every post it has seen.
    seen: BTreeSet<String>,
}

impl Reader {
    async fn poll(&mut self, site: &Site, feed: &str) {
        let current = read(feed, &site.get(feed).await);
        self.see(current.ids);
        let mut next = current.links.get("prev-archive").cloned();
        while let Some(url) = next {
            if !self.read.insert(url.clone()) {
                break;
            }
            let route = site.route_of(&url);
            let doc = read(&route, &site.get(&route).await);
            self.see(doc.ids);
            next = doc.links.get("prev-archive").cloned();
        }
    }

    /// Ids as slugs: Atom's and JSON Feed's `tag:…:p004`, RSS's alike.
    fn see(&mut self, ids: Vec<String>) {
        for id in ids {
            let slug = id.trim_end_matches('/').rsplit([':', '/']).next().unwrap();
            self.seen.insert(slug.to_string());
        }
    }
}

/// Post `pNNN` dated `hours` after the start of 2020.
fn dated(slug: &str, hours: i64) -> (String, String) {
    let date = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + Duration::hours(hours);
    (
        format!("{slug}.md"),
        format!(
            "---\ntitle: Post {slug}\ndate: {}\n---\nBody of {slug}.\n",
            date.to_rfc3339()
        ),
    )
}

/// Regression (review of the archives): archives were at `archive/{n}.atom`, so a
/// deletion or a backdated post moved a post into an archive URL a reader had already
/// read, and the reader, which stops there, never saw it: with 22 posts, 3 a page,
/// deleting p001–p003 and adding p023–p026 put p023 into the already read
/// `archive/7.atom`. Now an archive whose posts change has a new URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_at_an_archive_it_has_read_sees_every_post_after_deletions_and_backdated_posts(
) {
    const CONFIG: &str = "[site]\ntitle = \"Shifting News\"\nauthor = \"Newsroom\"\n\
        timezone = \"UTC\"\n\n[posts]\nrescan_secs = 0\n\n[feeds]\nitems = 3\n";
    let texts: Vec<(String, String)> = (1..=22).map(|i| dated(&format!("p{i:03}"), i)).collect();
    let posts: Vec<(&str, &str)> = texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let site = Site::serve(folder(CONFIG, &posts)).await;
    let feeds = ["/atom.xml", "/rss.xml", "/feed.json"];
    let mut readers: Vec<Reader> = feeds.iter().map(|_| Reader::default()).collect();
    let expect = |range: std::ops::RangeInclusive<usize>, more: &[&str]| -> BTreeSet<String> {
        range
            .map(|i| format!("p{i:03}"))
            .chain(more.iter().map(|s| s.to_string()))
            .collect()
    };
    for (reader, feed) in readers.iter_mut().zip(feeds) {
        reader.poll(&site, feed).await;
        assert_eq!(reader.seen, expect(1..=22, &[]), "{feed}");
    }

    // The reviewer's case: three deleted, four new.
    for i in 1..=3 {
        std::fs::remove_file(site.posts().join(format!("p{i:03}.md"))).unwrap();
    }
    for i in 23..=26 {
        let (name, text) = dated(&format!("p{i:03}"), i as i64);
        write(&site.posts().join(name), &text);
    }
    site.wait_for("/atom.xml", "p026 in the feed", |got| {
        got.text().contains(":p026</id>")
    })
    .await;
    wait_until(PATIENCE, "p001-p003 gone from archive 1", || async {
        let (route, got) = site.archive("/archive/1.atom").await;
        let ids = read(&route, &got).ids;
        match ids.last() {
            Some(id) if id.ends_with(":p004") => Ok(()),
            _ => Err(format!("{ids:?}")),
        }
    })
    .await;
    for (reader, feed) in readers.iter_mut().zip(feeds) {
        reader.poll(&site, feed).await;
        assert_eq!(reader.seen, expect(1..=26, &[]), "{feed}");
    }

    // A post backdated between p010 and p011, which shifts every archive after its
    // own, then a new one.
    let (name, text) = dated("p100", 10);
    let text = text.replace("T10:00:00", "T10:30:00");
    write(&site.posts().join(name), &text);
    let (name, text) = dated("p027", 27);
    write(&site.posts().join(name), &text);
    site.wait_for("/atom.xml", "p027 in the feed", |got| {
        got.text().contains(":p027</id>")
    })
    .await;
    wait_until(PATIENCE, "p100 in archive 3", || async {
        let (route, got) = site.archive("/archive/3.atom").await;
        let ids = read(&route, &got).ids;
        match ids.iter().any(|id| id.ends_with(":p100")) {
            true => Ok(()),
            false => Err(format!("{ids:?}")),
        }
    })
    .await;
    for (reader, feed) in readers.iter_mut().zip(feeds) {
        reader.poll(&site, feed).await;
        assert_eq!(reader.seen, expect(1..=27, &["p100"]), "{feed}");
    }
    site.stop().await;
}

/// The validator's warnings about a document, each its first line, without the line
/// numbers that differ between documents; `None` when the validator cannot run here
/// (then the test says so and skips, unless `DROPFEED_REQUIRE_VALIDATOR=1`). Errors
/// fail the test.
async fn validator_warnings(url: String) -> Option<BTreeSet<String>> {
    let warnings = tokio::task::spawn_blocking(move || validator::validator_warnings(&url))
        .await
        .unwrap()?;
    Some(
        warnings
            .iter()
            .filter(|line| !line.contains("warnings:"))
            .map(|line| {
                line.split_once("line")
                    .map_or(line.as_str(), |(before, _)| before)
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
            let archive = site.named(archive).await;
            let warnings = validator_warnings(url(&archive)).await.unwrap_or_default();
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
    let newest = site.named("/archive/33.atom").await;
    let oldest = site.named("/archive/1.atom").await;
    for route in ["/atom.xml", newest.as_str(), oldest.as_str()] {
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
