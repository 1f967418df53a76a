//! `dropfeed serve` end to end: the real server on 127.0.0.1:0 over a temp `posts/`,
//! real inotify, a real HTTP client. The checks poll for what must happen, with
//! [`PATIENCE`] to spare; they never sleep and hope, and they assert what happened and
//! in which order, not how fast: `bench/publish-latency.sh` measures that.

mod common;

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use common::site::{article, client, copy_tree, folder, write, Got, Site};
use common::{wait_until, PATIENCE};
use reqwest::StatusCode;

const CONFIG: &str = r#"
[site]
base_url = "http://127.0.0.1"
author = "Newsroom"

[posts]
# Off, so every change below is seen by the watcher alone.
rescan_secs = 0
max_bytes = 4096
"#;

impl Site {
    /// A new site with the given posts, served.
    async fn new(posts: &[(&str, &str)]) -> Site {
        Site::with_config(CONFIG, posts).await
    }

    /// A new site with the given config and posts, served.
    async fn with_config(config: &str, posts: &[(&str, &str)]) -> Site {
        Site::serve(folder(config, posts)).await
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

    /// Waits until the feed at `feed` answers 200 and lists the post `slug`.
    async fn lists(&self, feed: &str, slug: &str, what: &str) -> Got {
        let link = format!("/posts/{slug}/");
        self.wait_for(feed, what, |got| {
            got.status == StatusCode::OK && got.text().contains(&link)
        })
        .await
    }

    /// Waits until the feed at `feed` answers 200 without the post `slug`.
    async fn unlists(&self, feed: &str, slug: &str, what: &str) -> Got {
        let link = format!("/posts/{slug}/");
        self.wait_for(feed, what, |got| {
            got.status == StatusCode::OK && !got.text().contains(&link)
        })
        .await
    }

    /// Waits until `route` answers 404.
    async fn vanishes(&self, route: &str, what: &str) {
        self.wait_for(route, what, |got| got.status == StatusCode::NOT_FOUND)
            .await;
    }

    /// Waits until the feed at `route` answers 200 with no item: a feed that has been
    /// published keeps answering when its last post goes, so readers keep it.
    async fn empties(&self, route: &str, what: &str) -> Got {
        self.wait_for(route, what, |got| {
            got.status == StatusCode::OK
                && !got.text().contains("<item>")
                && !got.text().contains("<entry>")
                && !got.text().contains("\"id\":")
        })
        .await
    }

    /// The validators of each route, which must answer 200.
    async fn validators(&self, routes: &[&str]) -> Vec<(String, String)> {
        let mut all = Vec::new();
        for route in routes {
            let got = self.get(route).await;
            assert_eq!(got.status, StatusCode::OK, "{route}");
            all.push(validators(&got));
        }
        all
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

/// Ann Lee's post in Transit, dated 2019-03-03.
fn night_bus() -> String {
    article(
        "Ann Lee",
        "March 3, 2019",
        "Transit",
        "The council voted 7–2 on Tuesday to extend the night bus pilot.\n\nRiders asked for it\nsince last spring.",
    )
}

/// Bo Chen's post in Weather, dated 2018-01-18.
fn frost() -> String {
    article(
        "Bo Chen",
        "January 18, 2018",
        "Weather",
        "Overnight frost is expected across the valley.",
    )
}

/// `(ETag, Last-Modified)`: what a feed reader keeps for its next conditional GET.
fn validators(got: &Got) -> (String, String) {
    (
        got.header("etag").to_string(),
        got.header("last-modified").to_string(),
    )
}

fn http_date(value: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc2822(value)
        .unwrap_or_else(|err| panic!("{value:?} is not an HTTP date: {err}"))
        .with_timezone(&Utc)
}

/// Replaces the file at `path` whole, the way `mv` over it does, so no reader ever sees
/// it empty or half written.
fn replace(site: &Site, path: &str, bytes: &[u8]) {
    let temp = site.outside().join("replacement");
    std::fs::write(&temp, bytes).unwrap();
    std::fs::rename(&temp, site.posts().join(path)).unwrap();
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
    // The pause is the writer's, longer than the debounce: no wait for anything.
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
async fn the_periodic_rescan_catches_a_change_the_watcher_cannot_see() {
    let config = CONFIG.replace("rescan_secs = 0", "rescan_secs = 1");
    let site = Site::with_config(&config, &[("linked.txt", &night_bus())]).await;
    site.lists("/categories/transit/rss.xml", "linked", "at start")
        .await;

    // inotify reports a change in a watched folder only when it is made through that
    // folder: a write through a hard link elsewhere goes unseen, as changes on a network
    // file system do.
    let elsewhere = site.outside().join("linked.txt");
    std::fs::hard_link(site.posts().join("linked.txt"), &elsewhere).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&elsewhere)
        .unwrap();
    file.write_all(b"Posted by Ann Lee on March 3, 2019\nCategories: Weather\n\nFog.\n")
        .unwrap();
    drop(file);

    // Only the rescan, every second, can see it.
    site.lists("/categories/weather/rss.xml", "linked", "the rescan")
        .await;
    site.empties("/categories/transit/rss.xml", "after the rescan")
        .await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_that_pauses_half_way_is_never_published_torn() {
    let site = Site::new(&[("slow.txt", &night_bus())]).await;
    let before = site
        .lists("/categories/transit/rss.xml", "slow", "at start")
        .await;

    // A writer truncates the file, writes half of the new version, and keeps it open. A
    // post dropped beside it goes out on its own while the half save is held back: once
    // it is published, the watcher has seen the half save, and held it.
    let mut file = std::fs::File::create(site.posts().join("slow.txt")).unwrap();
    file.write_all(b"Posted by Ann Lee on March 3, 2019\nCategories: Wea")
        .unwrap();
    file.flush().unwrap();
    write(
        &site.posts().join("marker.txt"),
        "Marker\n\nDropped beside the half save.\n",
    );
    site.shows("marker", "beside the half save", "the post beside")
        .await;
    let during = site.get("/categories/transit/rss.xml").await;
    assert_eq!(
        validators(&during),
        validators(&before),
        "the half save was published"
    );
    assert_eq!(
        site.get("/categories/wea/rss.xml").await.status,
        StatusCode::NOT_FOUND
    );

    file.write_all(b"ther\n\nFog all morning.\n").unwrap();
    drop(file);
    site.lists("/categories/weather/rss.xml", "slow", "save finished")
        .await;
    site.empties("/categories/transit/rss.xml", "save finished")
        .await;
    assert_eq!(
        site.get("/categories/wea/rss.xml").await.status,
        StatusCode::NOT_FOUND
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_renames_and_moves_of_files_and_folders() {
    let site = Site::new(&[("a.txt", "ant")]).await;
    site.shows("a", "ant", "at start").await;

    std::fs::rename(site.posts().join("a.txt"), site.posts().join("b.txt")).unwrap();
    site.shows("b", "ant", "renamed within posts/").await;
    // The same post under a new name: its old page points readers to the new one.
    site.redirects("/posts/a/", "/posts/b/", "renamed within posts/")
        .await;

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
    let site = Site::new(&[("good.txt", &night_bus())]).await;
    let page = site.shows("good", "night bus pilot", "at start").await;
    let feed = site
        .lists("/categories/transit/rss.xml", "good", "at start")
        .await;
    let health = site.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["warnings"], serde_json::json!([]));

    // Binary: NUL bytes only, small, under posts.max_bytes.
    replace(&site, "good.txt", &[0u8; 64]);
    let reported = site
        .wait_for("/healthz", "bad file reported", |got| {
            serde_json::from_slice::<serde_json::Value>(&got.body)
                .is_ok_and(|health| health["errors"] != serde_json::json!([]))
        })
        .await;
    let health: serde_json::Value = serde_json::from_slice(&reported.body).unwrap();
    assert_eq!(
        health["errors"],
        serde_json::json!([{
            "path": "good.txt",
            "line": 1,
            "reason": "binary file (NUL bytes), not a post",
        }])
    );
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["posts"], 1);
    for (route, before) in [
        ("/posts/good/", &page),
        ("/categories/transit/rss.xml", &feed),
    ] {
        let during = site.get(route).await;
        assert_eq!(during.status, StatusCode::OK, "{route}");
        assert_eq!(validators(&during), validators(before), "{route}");
        assert_eq!(during.body, before.body, "{route}");
    }

    replace(
        &site,
        "good.txt",
        night_bus().replace("pilot", "program").as_bytes(),
    );
    site.shows("good", "night bus program", "fixed").await;
    let health = site.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["errors"], serde_json::json!([]));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_post_shows_in_its_category_author_and_site_feeds() {
    let site = Site::new(&[("night-bus.txt", &night_bus())]).await;
    assert_eq!(
        site.get("/categories/weather/rss.xml").await.status,
        StatusCode::NOT_FOUND
    );

    write(&site.posts().join("frost.txt"), &frost());
    let feed = site
        .lists("/categories/weather/rss.xml", "frost", "new post")
        .await;
    let rss = feed.text();
    assert_eq!(guid_of(&rss, "frost"), "tag:127.0.0.1,2018-01-18:frost");
    assert!(rss.contains("<dc:creator>Bo Chen</dc:creator>"), "{rss}");
    assert!(
        rss.contains("<pubDate>Thu, 18 Jan 2018 00:00:00 +0000</pubDate>"),
        "{rss}"
    );
    for route in [
        "/categories/weather/atom.xml",
        "/categories/weather/feed.json",
        "/authors/bo-chen/rss.xml",
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
    ] {
        site.lists(route, "frost", "new post").await;
    }
    let transit = site.get("/categories/transit/rss.xml").await;
    assert!(!transit.text().contains("/posts/frost/"));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_keeps_the_guid_and_changes_the_etag() {
    let site = Site::new(&[("night-bus.txt", &night_bus())]).await;
    let feed = "/categories/transit/rss.xml";
    let before = site.lists(feed, "night-bus", "at start").await;
    let guid = "tag:127.0.0.1,2019-03-03:night-bus";
    assert_eq!(guid_of(&before.text(), "night-bus"), guid);

    // Edited in place: another vote count, the paragraph wrapped anew.
    let edited = night_bus()
        .replace("7–2", "8–1")
        .replace("Riders asked for it\nsince", "Riders asked\nfor it since");
    write(&site.posts().join("night-bus.txt"), &edited);
    let after = site
        .wait_for(feed, "edit", |got| got.text().contains("8–1"))
        .await;
    assert_eq!(guid_of(&after.text(), "night-bus"), guid);
    assert_ne!(after.header("etag"), before.header("etag"));
    assert!(
        http_date(after.header("last-modified")) >= http_date(before.header("last-modified")),
        "{} went back from {}",
        after.header("last-modified"),
        before.header("last-modified")
    );
    let atom = site.get("/categories/transit/atom.xml").await.text();
    assert!(atom.contains(&format!("<id>{guid}</id>")), "{atom}");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untouched_feeds_keep_etag_and_last_modified_across_a_publish_and_a_restart() {
    let site = Site::new(&[("night-bus.txt", &night_bus()), ("frost.txt", &frost())]).await;
    let untouched = [
        "/categories/transit/rss.xml",
        "/categories/transit/atom.xml",
        "/categories/transit/feed.json",
        "/authors/ann-lee/rss.xml",
        "/authors/ann-lee/atom.xml",
        "/authors/ann-lee/feed.json",
        "/posts/night-bus/",
    ];
    let before = site.validators(&untouched).await;
    let site_feed = site.get("/rss.xml").await;

    // Unrelated: another category, another author.
    write(
        &site.posts().join("agenda.txt"),
        &article(
            "Cy Diaz",
            "November 12, 2019",
            "City Hall",
            "Three items will draw a crowd.",
        ),
    );
    site.lists("/categories/city-hall/rss.xml", "agenda", "unrelated post")
        .await;
    site.lists("/authors/cy-diaz/rss.xml", "agenda", "unrelated post")
        .await;
    let changed = site.lists("/rss.xml", "agenda", "unrelated post").await;
    assert_ne!(changed.header("etag"), site_feed.header("etag"));
    assert_eq!(
        site.validators(&untouched).await,
        before,
        "after an unrelated publish"
    );

    let every = [
        &untouched[..],
        &[
            "/rss.xml",
            "/atom.xml",
            "/feed.json",
            "/categories/city-hall/rss.xml",
            "/categories/weather/rss.xml",
            "/authors/cy-diaz/rss.xml",
            "/authors/bo-chen/rss.xml",
            "/posts/agenda/",
            "/",
            "/opml.xml",
        ],
    ]
    .concat();
    let running = site.validators(&every).await;

    // A new server over the same folder renders the same bytes: the same ETags. Its
    // Last-Modified never goes back; it may move on to the posts folder's last change,
    // since a deletion while the server was down shows nowhere else.
    let dir = site.stop().await;
    let site = Site::serve(dir).await;
    let restarted = site.validators(&untouched).await;
    for ((route, before), restarted) in untouched.iter().zip(&before).zip(&restarted) {
        assert_eq!(before.0, restarted.0, "{route} after a restart");
        assert!(
            http_date(&restarted.1) >= http_date(&before.1),
            "{route}: Last-Modified went back after a restart"
        );
    }
    // What a publish touched was dated by that publish; after a restart it is dated by
    // its files again, which may be a second earlier: harmless, as the bytes (and so a
    // reader's copy) are the same.
    let restarted = site.validators(&every).await;
    for ((route, running), restarted) in every.iter().zip(&running).zip(&restarted) {
        assert_eq!(running.0, restarted.0, "{route} after a restart");
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_deleted_while_the_server_is_down_never_gets_a_304_over_the_old_copy() {
    let site = Site::new(&[("night-bus.txt", &night_bus())]).await;
    // Dated 2020, the newest post of Transit: the feed's Last-Modified is its file's.
    write(
        &site.posts().join("fares.txt"),
        &article("Ann Lee", "January 6, 2020", "Transit", "Fare caps arrive."),
    );
    let held = site
        .lists("/categories/transit/rss.xml", "fares", "new post")
        .await;
    let dir = site.stop().await;

    // The folder must change in a later second than the reader's copy is dated: HTTP
    // dates are whole seconds. File times come from a clock that may lag this one by a
    // tick, hence the 50 ms.
    let held_at = http_date(held.header("last-modified"));
    let later = held_at + chrono::Duration::milliseconds(1050);
    wait_until(
        PATIENCE,
        "the clock to pass the held copy's second",
        || async {
            let now = Utc::now();
            if now >= later {
                Ok(())
            } else {
                Err(format!("it is {now}"))
            }
        },
    )
    .await;
    std::fs::remove_file(dir.path().join("posts/fares.txt")).unwrap();
    let changed: DateTime<Utc> = std::fs::metadata(dir.path().join("posts"))
        .unwrap()
        .modified()
        .unwrap()
        .into();
    assert!(
        changed.timestamp() > held_at.timestamp(),
        "the posts folder changed at {changed}, in the second of the held copy ({held_at})"
    );
    let site = Site::serve(dir).await;
    let got = site
        .request(
            reqwest::Method::GET,
            "/categories/transit/rss.xml",
            &[("if-modified-since", held.header("last-modified"))],
        )
        .await;
    assert_eq!(got.status, reqwest::StatusCode::OK);
    assert!(!got.text().contains("/posts/fares/"));
    assert!(http_date(got.header("last-modified")) > http_date(held.header("last-modified")));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_post_appears_when_its_time_comes() {
    let site = Site::new(&[("night-bus.txt", &night_bus())]).await;
    let feed = "/categories/transit/rss.xml";
    // The post must be seen held back before it is due. On a machine too busy to read it
    // in time, the same post is moved in again, due further ahead.
    let mut lead = 3;
    let due = loop {
        // Whole seconds, as the front matter carries them.
        let due = DateTime::from_timestamp(Utc::now().timestamp() + lead, 0).unwrap();
        let outside = site.outside().join("soon.md");
        write(
            &outside,
            &format!(
                "---\ntitle: Coming soon\ndate: {}\nauthor: Ann Lee\ncategories: [Transit]\n---\n\nThe new line opens.\n",
                due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        );
        // The file's time is long past, so only the front matter can keep the post back;
        // moved in whole, so no event follows.
        std::fs::File::options()
            .write(true)
            .open(&outside)
            .unwrap()
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000))
            .unwrap();
        std::fs::rename(&outside, site.posts().join("soon.md")).unwrap();
        // A post written after it: once it is served, the future post has been read.
        let marker = format!("Frost, try {lead}.");
        write(
            &site.posts().join("frost.txt"),
            &frost().replace("Overnight frost", &marker),
        );
        site.shows("frost", &marker, "the post written after").await;

        let early = site.get(feed).await;
        let page = site.get("/posts/soon/").await;
        // Both answers came before this clock reading.
        if Utc::now() < due {
            assert!(!early.text().contains("/posts/soon/"), "published early");
            assert_eq!(page.status, StatusCode::NOT_FOUND);
            break due;
        }
        assert!(lead < 12, "reading a post took over {lead} s three times");
        lead *= 2;
    };

    let got = wait_until(
        due.signed_duration_since(Utc::now())
            .to_std()
            .unwrap_or_default()
            + PATIENCE,
        "the post coming due",
        || async {
            let got = site.get(feed).await;
            // The answer came before this clock reading.
            let now = Utc::now();
            if !got.text().contains("/posts/soon/") {
                return Err(got.text());
            }
            assert!(now >= due, "published at or before {now}, due at {due}");
            Ok(got)
        },
    )
    .await;
    assert_eq!(
        guid_of(&got.text(), "soon"),
        format!("tag:127.0.0.1,{}:soon", due.format("%Y-%m-%d"))
    );
    site.lists("/rss.xml", "soon", "came due").await;
    site.shows("soon", "The new line opens.", "came due").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_post_leaves_its_feeds_and_an_emptied_feed_keeps_answering() {
    let fare_caps = article(
        "Dana Whitfield",
        "January 6, 2020",
        "Transit",
        "Riders will pay at most $5 a day.",
    );
    let site = Site::new(&[
        ("night-bus.txt", &night_bus()),
        ("fare-caps.txt", &fare_caps),
        ("frost.txt", &frost()),
    ])
    .await;
    let feed = "/categories/transit/rss.xml";
    let before = site.lists(feed, "fare-caps", "at start").await;

    // The newest post of Transit goes: the feed must not look older than the copy
    // readers hold, or If-Modified-Since would keep that stale copy.
    std::fs::remove_file(site.posts().join("fare-caps.txt")).unwrap();
    let after = site.unlists(feed, "fare-caps", "delete").await;
    assert!(after.text().contains("/posts/night-bus/"));
    assert_ne!(after.header("etag"), before.header("etag"));
    assert!(http_date(after.header("last-modified")) >= http_date(before.header("last-modified")));
    let since = site
        .request(
            reqwest::Method::GET,
            feed,
            &[("if-modified-since", before.header("last-modified"))],
        )
        .await;
    assert_eq!(since.status, StatusCode::OK, "304 over a stale copy");
    site.empties(
        "/authors/dana-whitfield/rss.xml",
        "its author's last post deleted",
    )
    .await;
    site.vanishes("/posts/fare-caps/", "delete").await;

    // The last post of Weather goes: its feeds stay, valid and empty, in every format,
    // so readers keep the subscription for the category's next post.
    std::fs::remove_file(site.posts().join("frost.txt")).unwrap();
    for route in [
        "/categories/weather/rss.xml",
        "/categories/weather/atom.xml",
        "/categories/weather/feed.json",
        "/authors/bo-chen/rss.xml",
    ] {
        site.empties(route, "last post of the category deleted")
            .await;
    }
    assert!(site
        .get("/opml.xml")
        .await
        .text()
        .contains("/categories/weather/"));
    site.lists(feed, "night-bus", "after the deletes").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_within_posts_moves_the_item_and_keeps_its_id() {
    let site = Site::new(&[("night-bus.txt", &night_bus())]).await;
    let feed = "/categories/transit/rss.xml";
    site.lists(feed, "night-bus", "at start").await;

    std::fs::rename(
        site.posts().join("night-bus.txt"),
        site.posts().join("night-bus-extended.txt"),
    )
    .unwrap();
    let moved = site
        .wait_for(feed, "renamed", |got| {
            let text = got.text();
            text.contains("/posts/night-bus-extended/") && !text.contains("/posts/night-bus/")
        })
        .await;
    // The id was minted once: readers see the same item, not a new one.
    assert_eq!(
        guid_of(&moved.text(), "night-bus"),
        "tag:127.0.0.1,2019-03-03:night-bus"
    );
    assert_eq!(moved.text().matches("<item>").count(), 1);
    site.redirects("/posts/night-bus/", "/posts/night-bus-extended/", "renamed")
        .await;
    site.shows("night-bus-extended", "night bus pilot", "renamed")
        .await;
    site.stop().await;
}

/// Sends `request` as raw bytes on a new connection and returns the status line.
async fn raw_status(addr: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before reading all of an oversized request.
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_on_the_wire_reach_no_file_and_the_server_keeps_serving() {
    let site = Site::new(&[("night-bus.txt", &night_bus())]).await;
    let long_header = format!(
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(512 * 1024)
    );
    let long_path = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"GET /../config.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            "HTTP/1.1 404 Not Found",
        ),
        (
            b"GET /%2e%2e/config.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            "HTTP/1.1 404 Not Found",
        ),
        (
            b"GET /posts/..%2f..%2fconfig.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                .to_vec(),
            "HTTP/1.1 404 Not Found",
        ),
        (
            b"GET /night-bus.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            "HTTP/1.1 404 Not Found",
        ),
        (
            b"BREW /rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            "HTTP/1.1 405 Method Not Allowed",
        ),
        (long_path.into_bytes(), "HTTP/1.1 414 URI Too Long"),
        (
            long_header.into_bytes(),
            "HTTP/1.1 431 Request Header Fields Too Large",
        ),
        (
            b"\x16\x03\x01\x02\x00garbage\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request",
        ),
    ];
    for (request, expected) in cases {
        let status = raw_status(site.addr, &request).await;
        assert_eq!(
            status,
            expected,
            "{}",
            String::from_utf8_lossy(&request[..request.len().min(60)])
        );
    }
    let got = site.get("/categories/transit/rss.xml").await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.text().contains("/posts/night-bus/"));
    site.stop().await;
}

/// Two posts, served: `a` (Transit, by the site's Newsroom) and `b` (Weather, by Bo Chen).
async fn two_post_site() -> Site {
    Site::new(&[
        (
            "a.txt",
            "Posted on March 3, 2019\nCategories: Transit\n\nAnt words.\n",
        ),
        ("b.txt", &frost()),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_has_its_type_and_caching_headers() {
    let site = two_post_site().await;
    let feed = site.get("/rss.xml").await;
    assert_eq!(feed.status, StatusCode::OK);
    assert_eq!(
        feed.header("content-type"),
        "application/rss+xml; charset=utf-8"
    );
    assert_eq!(feed.header("vary"), "Accept-Encoding");
    assert_eq!(feed.header("x-content-type-options"), "nosniff");
    assert_eq!(feed.header("cache-control"), "public, max-age=300");
    let etag = feed.header("etag");
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    assert_eq!(site.get("/rss.xml?ref=x").await.header("etag"), etag);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etag_answers_304_with_the_validators_and_no_body() {
    let site = two_post_site().await;
    let feed = site.get("/rss.xml").await;
    let (etag, last_modified) = validators(&feed);
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

    // A stale ETag wins over a matching If-Modified-Since.
    let stale = site
        .request(
            get,
            "/rss.xml",
            &[
                ("if-none-match", "\"stale\""),
                ("if-modified-since", &last_modified),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body, feed.body);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_modified_since_answers_304_to_its_second_and_the_body_to_the_one_before() {
    let site = two_post_site().await;
    let get = reqwest::Method::GET;
    for route in [
        "/rss.xml",
        "/categories/transit/atom.xml",
        "/authors/bo-chen/feed.json",
    ] {
        let got = site.get(route).await;
        let last_modified = got.header("last-modified").to_string();
        let since = site
            .request(get.clone(), route, &[("if-modified-since", &last_modified)])
            .await;
        assert_eq!(since.status, StatusCode::NOT_MODIFIED, "{route}");
        assert_eq!(since.header("last-modified"), last_modified, "{route}");
        let older = (http_date(&last_modified) - chrono::Duration::seconds(1))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let since = site
            .request(get.clone(), route, &[("if-modified-since", &older)])
            .await;
        assert_eq!(since.status, StatusCode::OK, "{route} since {older}");
        assert_eq!(since.body, got.body, "{route}");
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_brotli_by_accept_encoding() {
    let site = two_post_site().await;
    let get = reqwest::Method::GET;
    for path in ["/rss.xml", "/posts/a/", "/"] {
        let identity = site.get(path).await;
        assert_eq!(identity.header("content-encoding"), "", "{path}");
        let gzip = site
            .request(get.clone(), path, &[("accept-encoding", "gzip")])
            .await;
        assert_eq!(gzip.header("content-encoding"), "gzip", "{path}");
        assert_eq!(gzip.header("content-length"), gzip.body.len().to_string());
        assert_eq!(gzip.header("etag"), identity.header("etag"), "{path}");
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
        assert_eq!(br.header("content-encoding"), "br", "{path}");
        let mut decoded = Vec::new();
        std::io::Read::read_to_end(
            &mut brotli::Decompressor::new(&br.body[..], 4096),
            &mut decoded,
        )
        .unwrap();
        assert_eq!(decoded, identity.body, "{path} br");
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_has_no_body() {
    let site = two_post_site().await;
    let feed = site.get("/rss.xml").await;
    let head = site.request(reqwest::Method::HEAD, "/rss.xml", &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-length"), feed.body.len().to_string());
    assert_eq!(head.header("etag"), feed.header("etag"));
    assert!(head.body.is_empty());
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wordpress_and_hugo_aliases_redirect() {
    let site = two_post_site().await;
    for (alias, target) in [
        ("/feed/", "/rss.xml"),
        ("/feed/atom/", "/atom.xml"),
        ("/index.xml", "/rss.xml"),
        ("/author/newsroom/feed/", "/authors/newsroom/rss.xml"),
        ("/category/transit/feed/", "/categories/transit/rss.xml"),
        (
            "/categories/weather/index.xml",
            "/categories/weather/rss.xml",
        ),
    ] {
        let moved = site.get(alias).await;
        assert_eq!(moved.status, StatusCode::MOVED_PERMANENTLY, "{alias}");
        assert_eq!(moved.header("location"), target, "{alias}");
    }
    // No such category: no redirect to a 404.
    assert_eq!(
        site.get("/category/none/feed/").await.status,
        StatusCode::NOT_FOUND
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404_and_unknown_methods_405() {
    let site = two_post_site().await;
    assert_eq!(site.get("/nope").await.status, StatusCode::NOT_FOUND);
    let brew = site
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            "/rss.xml",
            &[],
        )
        .await;
    assert_eq!(brew.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(brew.header("allow"), "GET, HEAD");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleartext_http2_is_served_on_the_same_port() {
    let site = two_post_site().await;
    let feed = site.get("/rss.xml").await;
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
    assert_eq!(response.headers()["etag"], feed.header("etag"));
    assert_eq!(response.bytes().await.unwrap(), feed.body);
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
    let status = wait_until(PATIENCE, "exit after SIGTERM", || {
        let exited = child.try_wait().unwrap();
        async move { exited.ok_or_else(|| "still running".to_string()) }
    })
    .await;
    assert_eq!(status.code(), Some(0));
}

/// The issue's "Done when": the repo's own config and posts, a new article-text post
/// copied in with `cp`, and its category feed carrying it. How soon (the issue asks for
/// 2 s) is `bench/publish-latency.sh`'s to measure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn done_when_a_post_copied_into_the_real_posts_shows_in_its_category_feed() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    // The real config as it is: its `posts.dir = "posts"` is relative to its folder, so
    // it names the copy; the listen address is the test's.
    std::fs::copy(repo.join("config.toml"), dir.path().join("config.toml")).unwrap();
    std::fs::copy(repo.join("logo.png"), dir.path().join("logo.png")).unwrap();
    copy_tree(&repo.join("posts"), &dir.path().join("posts"));
    std::fs::create_dir(dir.path().join("outside")).unwrap();
    let site = Site::serve(dir).await;
    let feed = "/categories/transit/rss.xml";
    site.lists(feed, "night-bus-pilot", "at start").await;

    let draft = site.outside().join("bus-lane-opens.txt");
    write(
        &draft,
        &article(
            "Ann Lee",
            "March 3, 2024",
            "Transit",
            "The bus lane on Harbor Street opened on Monday.",
        ),
    );
    // The bundled config leaves `base_url` unset: links follow the port bound.
    let link = format!("<link>http://{}/posts/bus-lane-opens/</link>", site.addr);
    std::fs::copy(&draft, site.posts().join("bus-lane-opens.txt")).unwrap();
    let rss = site
        .wait_for(feed, "copied in", |got| got.text().contains(&link))
        .await
        .text();
    assert_eq!(
        guid_of(&rss, "bus-lane-opens"),
        "tag:127.0.0.1,2024-03-03:bus-lane-opens"
    );
    site.stop().await;
}
