//! The identity ledger end to end: every post of a real blog published, under an id that
//! never changes. Each test runs the real server on 127.0.0.1:0 over a temp folder (real
//! inotify, a real HTTP client that does not follow redirects) with its state database, a
//! real SQLite file beside `config.toml`; `check` and `build` run as the real binary on
//! the same folder. Every wait polls for what must happen, with [`PATIENCE`] to spare.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::DateTime;
use common::site::{article, folder, write, Got, Site};
use common::{wait_until, PATIENCE};
use reqwest::StatusCode;

/// What every link and id of these sites starts with.
const BASE: &str = "http://127.0.0.1";

const CONFIG: &str = r#"
[site]
base_url = "http://127.0.0.1"
author = "Newsroom"

[posts]
# Off, so every change below is seen by the watcher alone.
rescan_secs = 0
"#;

/// What the three site feeds say of one post: its id and its date, in each format.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    /// RSS `<guid>`, Atom `<id>`, JSON Feed `id`.
    ids: [String; 3],
    /// RSS `<pubDate>`, Atom `<published>`, JSON Feed `date_published`.
    dates: [String; 3],
}

impl Item {
    /// A post with `id` in every format, published at `date` (RFC 3339, as Atom and JSON
    /// Feed write it; RSS writes the same instant in RFC 2822).
    fn expected(id: &str, date: &str) -> Item {
        let rfc2822 = DateTime::parse_from_rfc3339(date)
            .unwrap_or_else(|err| panic!("{date}: {err}"))
            .to_rfc2822();
        Item {
            ids: [id.into(), id.into(), id.into()],
            dates: [rfc2822, date.into(), date.into()],
        }
    }
}

impl Site {
    /// A new site with the given config and posts, served.
    async fn new(config: &str, posts: &[(&str, &str)]) -> Site {
        Site::serve(folder(config, posts)).await
    }

    /// Stops the server and starts a new one on the same folder and database.
    async fn restart(self) -> Site {
        Site::serve(self.stop().await).await
    }

    /// The state database: `[state] db` is left at its default, `dropfeed.db` beside
    /// `config.toml`.
    fn db(&self) -> PathBuf {
        self.path().join("dropfeed.db")
    }

    /// Waits until the page at `route` answers 200 with HTML holding `text`.
    async fn shows(&self, route: &str, text: &str, what: &str) -> Got {
        self.wait_for(route, what, |got| {
            got.status == StatusCode::OK && got.text().contains(text)
        })
        .await
    }

    /// What the site feeds say now of the post whose page is `route`.
    async fn item(&self, route: &str) -> Result<Item, String> {
        let page = format!("{BASE}{route}");
        let rss = self.get("/rss.xml").await.text();
        let atom = self.get("/atom.xml").await.text();
        let json = self.get("/feed.json").await.text();
        let (guid, pub_date) = rss_item(&rss, &page).ok_or_else(|| format!("RSS: {rss}"))?;
        let (atom_id, published) =
            atom_entry(&atom, &page).ok_or_else(|| format!("Atom: {atom}"))?;
        let (json_id, date_published) =
            json_item(&json, &page).ok_or_else(|| format!("JSON Feed: {json}"))?;
        Ok(Item {
            ids: [guid, atom_id, json_id],
            dates: [pub_date, published, date_published],
        })
    }

    /// Waits until every site feed carries the post whose page is `route`, and gives
    /// what they say of it.
    async fn carries(&self, route: &str, what: &str) -> Item {
        wait_until(PATIENCE, what, || self.item(route)).await
    }

    /// Asserts that no site feed links to `route` any more.
    async fn lacks(&self, route: &str) {
        let page = format!("{BASE}{route}");
        for feed in ["/rss.xml", "/atom.xml", "/feed.json"] {
            let text = self.get(feed).await.text();
            assert!(!text.contains(&page), "{feed} still links {page}: {text}");
        }
    }

    /// Writes `marker.txt` with `text` and waits for its page: once it is served, every
    /// change made to the posts before it has been published.
    async fn publish_marker(&self, text: &str) {
        write(&self.posts().join("marker.txt"), text);
        self.shows("/posts/marker/", text, "the marker written after")
            .await;
    }
}

/// Sets the file's modification time, as `touch -d` does.
fn touch(path: &Path, rfc3339: &str) {
    let at = DateTime::parse_from_rfc3339(rfc3339).unwrap();
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at.timestamp()).unwrap());
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(at)
        .unwrap();
}

/// Runs the real binary in `dir`.
fn dropfeed(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The text of the first `<name …>…</name>` element in `xml`.
fn element(xml: &str, name: &str) -> Option<String> {
    let start = xml
        .find(&format!("<{name}>"))
        .or_else(|| xml.find(&format!("<{name} ")))?;
    let open = start + xml[start..].find('>')? + 1;
    let close = open + xml[open..].find(&format!("</{name}>"))?;
    Some(xml[open..close].to_string())
}

/// `(guid, pubDate)` of the one RSS item linking to `page`.
fn rss_item(rss: &str, page: &str) -> Option<(String, String)> {
    let link = format!("<link>{page}</link>");
    let item = only(rss.split("<item>").skip(1).filter(|i| i.contains(&link)))?;
    Some((element(item, "guid")?, element(item, "pubDate")?))
}

/// `(id, published)` of the one Atom entry linking to `page`.
fn atom_entry(atom: &str, page: &str) -> Option<(String, String)> {
    let link = format!("<link href=\"{page}\"");
    let entry = only(atom.split("<entry>").skip(1).filter(|e| e.contains(&link)))?;
    Some((element(entry, "id")?, element(entry, "published")?))
}

/// `(id, date_published)` of the one JSON Feed item whose `url` is `page`.
fn json_item(json: &str, page: &str) -> Option<(String, String)> {
    let feed: serde_json::Value = serde_json::from_str(json).ok()?;
    let items = feed["items"].as_array()?;
    let item = only(items.iter().filter(|item| item["url"] == page))?;
    Some((
        item["id"].as_str()?.to_string(),
        item["date_published"].as_str()?.to_string(),
    ))
}

/// The one thing `found` holds: none, or two items for one page, is not what a reader
/// must see.
fn only<T>(mut found: impl Iterator<Item = T>) -> Option<T> {
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

fn night_bus() -> String {
    article(
        "Ann Lee",
        "March 3, 2019",
        "Transit",
        "The council voted 7–2 on Tuesday to extend the night bus pilot.",
    )
}

fn frost() -> String {
    article(
        "Bo Chen",
        "January 18, 2018",
        "Weather",
        "Overnight frost is expected across the valley.",
    )
}

/// A Jekyll post with YAML front matter and no date but its file name's.
fn survey(title: &str) -> String {
    format!("---\nlayout: post\ntitle: \"{title}\"\ncategories: [Surveys]\n---\n\nThe results of the {title}.\n")
}

/// The Jekyll blog of the issue: one name, three years, two languages, one post under
/// `_posts`.
const SURVEYS: &[(&str, &str)] = &[
    ("en/2016-05-09-survey.md", "2016 survey"),
    ("en/2017-05-03-survey.md", "2017 survey"),
    ("en/_posts/2018-08-08-survey.md", "2018 survey"),
    ("fr/2016-05-09-survey.md", "enquête 2016"),
    ("fr/2017-05-03-survey.md", "enquête 2017"),
];

/// Where each survey is published: `(page, id, date)`. The oldest of each language
/// keeps the shared slug; the others keep their Jekyll date in theirs.
const SURVEY_PAGES: &[(&str, &str, &str)] = &[
    (
        "/posts/en/survey/",
        "tag:127.0.0.1,2016-05-09:en/survey",
        "2016-05-09T00:00:00+00:00",
    ),
    (
        "/posts/en/2017-05-03-survey/",
        "tag:127.0.0.1,2017-05-03:en/2017-05-03-survey",
        "2017-05-03T00:00:00+00:00",
    ),
    (
        "/posts/en/2018-08-08-survey/",
        "tag:127.0.0.1,2018-08-08:en/2018-08-08-survey",
        "2018-08-08T00:00:00+00:00",
    ),
    (
        "/posts/fr/survey/",
        "tag:127.0.0.1,2016-05-09:fr/survey",
        "2016-05-09T00:00:00+00:00",
    ),
    (
        "/posts/fr/2017-05-03-survey/",
        "tag:127.0.0.1,2017-05-03:fr/2017-05-03-survey",
        "2017-05-03T00:00:00+00:00",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_sharing_a_name_across_years_and_languages_are_all_published_under_distinct_slugs() {
    let posts: Vec<(&str, String)> = SURVEYS
        .iter()
        .map(|(path, title)| (*path, survey(title)))
        .collect();
    let posts: Vec<(&str, &str)> = posts.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let dir = folder(CONFIG, &posts);

    let checked = dropfeed(dir.path(), &["check", "--config", "config.toml"]);
    assert_eq!(checked.status.code(), Some(0), "{checked:?}");
    assert_eq!(
        String::from_utf8_lossy(&checked.stdout),
        "posts/en/2017-05-03-survey.md:1: warning: slug `en/survey` is already taken by en/2016-05-09-survey.md; published as `en/2017-05-03-survey` (set a `slug` in the front matter to choose another)\n\
         posts/en/_posts/2018-08-08-survey.md:1: warning: slug `en/survey` is already taken by en/2016-05-09-survey.md; published as `en/2018-08-08-survey` (set a `slug` in the front matter to choose another)\n\
         posts/fr/2017-05-03-survey.md:1: warning: slug `fr/survey` is already taken by fr/2016-05-09-survey.md; published as `fr/2017-05-03-survey` (set a `slug` in the front matter to choose another)\n"
    );

    let mut site = Site::serve(dir).await;
    for run in ["first start", "restart"] {
        for ((_, title), (page, id, date)) in SURVEYS.iter().zip(SURVEY_PAGES) {
            let got = site.shows(page, title, run).await;
            assert_eq!(got.header("content-type"), "text/html; charset=utf-8");
            assert_eq!(
                site.carries(page, run).await,
                Item::expected(id, date),
                "{page} on {run}"
            );
        }
        let health = site.health().await;
        assert_eq!(health["posts"], 5, "{run}");
        assert_eq!(health["errors"], serde_json::json!([]), "{run}");
        let rss = site.get("/rss.xml").await.text();
        assert_eq!(rss.matches("<item>").count(), 5, "{run}: {rss}");
        site = site.restart().await;
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_post_keeps_its_id_and_its_old_page_redirects() {
    let site = Site::new(CONFIG, &[("night-bus.txt", &night_bus())]).await;
    let expected = Item::expected(
        "tag:127.0.0.1,2019-03-03:night-bus",
        "2019-03-03T00:00:00+00:00",
    );
    assert_eq!(
        site.carries("/posts/night-bus/", "at start").await,
        expected
    );

    std::fs::rename(
        site.posts().join("night-bus.txt"),
        site.posts().join("night-bus-extended.txt"),
    )
    .unwrap();
    let renamed = "/posts/night-bus-extended/";
    assert_eq!(site.carries(renamed, "renamed").await, expected);
    site.lacks("/posts/night-bus/").await;
    site.redirects("/posts/night-bus/", renamed, "renamed")
        .await;
    site.shows(renamed, "night bus pilot", "renamed").await;

    let site = site.restart().await;
    assert_eq!(site.carries(renamed, "restarted").await, expected);
    site.redirects("/posts/night-bus/", renamed, "restarted")
        .await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_moved_into_a_subfolder_keeps_its_id_and_its_old_page_redirects() {
    let site = Site::new(CONFIG, &[("frost.txt", &frost())]).await;
    std::fs::create_dir(site.posts().join("archive")).unwrap();
    let expected = Item::expected(
        "tag:127.0.0.1,2018-01-18:frost",
        "2018-01-18T00:00:00+00:00",
    );
    assert_eq!(site.carries("/posts/frost/", "at start").await, expected);

    std::fs::rename(
        site.posts().join("frost.txt"),
        site.posts().join("archive/frost.txt"),
    )
    .unwrap();
    let moved = "/posts/archive/frost/";
    assert_eq!(site.carries(moved, "moved").await, expected);
    site.lacks("/posts/frost/").await;
    site.redirects("/posts/frost/", moved, "moved").await;

    let site = site.restart().await;
    assert_eq!(site.carries(moved, "restarted").await, expected);
    site.redirects("/posts/frost/", moved, "restarted").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_deleted_then_written_again_under_another_name_keeps_its_id_and_date() {
    let agenda = article(
        "Cy Diaz",
        "November 12, 2019",
        "City Hall",
        "Three items will draw a crowd.",
    );
    let site = Site::new(CONFIG, &[("agenda.txt", &agenda)]).await;
    let expected = Item::expected(
        "tag:127.0.0.1,2019-11-12:agenda",
        "2019-11-12T00:00:00+00:00",
    );
    assert_eq!(site.carries("/posts/agenda/", "at start").await, expected);

    std::fs::remove_file(site.posts().join("agenda.txt")).unwrap();
    site.wait_for("/posts/agenda/", "deleted", |got| {
        got.status == StatusCode::NOT_FOUND
    })
    .await;
    site.lacks("/posts/agenda/").await;

    // The same bytes, written anew under another name: a copy, not a rename.
    write(&site.posts().join("council-agenda.txt"), &agenda);
    let copied = "/posts/council-agenda/";
    assert_eq!(site.carries(copied, "written again").await, expected);
    site.redirects("/posts/agenda/", copied, "written again")
        .await;

    let site = site.restart().await;
    assert_eq!(site.carries(copied, "restarted").await, expected);
    site.redirects("/posts/agenda/", copied, "restarted").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_date_keeps_the_id_and_the_feeds_show_the_new_date() {
    let fares = |date: &str| article("Ann Lee", date, "Transit", "Fare caps arrive.");
    let site = Site::new(CONFIG, &[("fares.txt", &fares("January 6, 2020"))]).await;
    let id = "tag:127.0.0.1,2020-01-06:fares";
    assert_eq!(
        site.carries("/posts/fares/", "at start").await,
        Item::expected(id, "2020-01-06T00:00:00+00:00")
    );

    write(&site.posts().join("fares.txt"), &fares("January 7, 2020"));
    let fixed = Item::expected(id, "2020-01-07T00:00:00+00:00");
    wait_until(PATIENCE, "date fixed", || async {
        let item = site.item("/posts/fares/").await?;
        if item.dates == fixed.dates {
            Ok(())
        } else {
            Err(format!("{item:?}"))
        }
    })
    .await;
    assert_eq!(site.item("/posts/fares/").await, Ok(fixed.clone()));

    let site = site.restart().await;
    assert_eq!(site.carries("/posts/fares/", "restarted").await, fixed);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touching_an_undated_post_moves_neither_its_date_nor_its_id() {
    let dir = folder(
        CONFIG,
        &[(
            "notes.txt",
            "Council notes\n\nThe council met on a Tuesday and adjourned early.\n",
        )],
    );
    // First seen at start: dated by the file's time then, which is in the past.
    touch(&dir.path().join("posts/notes.txt"), "2021-06-01T12:00:00Z");
    let site = Site::serve(dir).await;
    let expected = Item::expected(
        "tag:127.0.0.1,2021-06-01:notes",
        "2021-06-01T12:00:00+00:00",
    );
    assert_eq!(site.carries("/posts/notes/", "at start").await, expected);

    touch(&site.posts().join("notes.txt"), "2025-02-02T08:00:00Z");
    site.publish_marker("After the touch.").await;
    assert_eq!(site.item("/posts/notes/").await, Ok(expected.clone()));

    let site = site.restart().await;
    assert_eq!(site.carries("/posts/notes/", "restarted").await, expected);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_renamed_while_the_server_is_down_keeps_its_id_and_its_old_page_redirects() {
    let site = Site::new(CONFIG, &[("night-bus.txt", &night_bus())]).await;
    let expected = Item::expected(
        "tag:127.0.0.1,2019-03-03:night-bus",
        "2019-03-03T00:00:00+00:00",
    );
    assert_eq!(
        site.carries("/posts/night-bus/", "at start").await,
        expected
    );
    let dir = site.stop().await;

    std::fs::create_dir(dir.path().join("posts/transit")).unwrap();
    std::fs::rename(
        dir.path().join("posts/night-bus.txt"),
        dir.path().join("posts/transit/night-bus-pilot.txt"),
    )
    .unwrap();
    let site = Site::serve(dir).await;
    let moved = "/posts/transit/night-bus-pilot/";
    assert_eq!(site.carries(moved, "restarted").await, expected);
    site.redirects("/posts/night-bus/", moved, "restarted")
        .await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_from_the_state_serve_left_gives_the_same_ids_and_writes_its_redirects() {
    let dir = folder(
        CONFIG,
        &[
            ("night-bus.txt", &night_bus()),
            (
                "notes.txt",
                "Council notes\n\nThe council adjourned early.\n",
            ),
        ],
    );
    touch(&dir.path().join("posts/notes.txt"), "2021-06-01T12:00:00Z");
    let site = Site::serve(dir).await;
    std::fs::rename(
        site.posts().join("night-bus.txt"),
        site.posts().join("night-bus-extended.txt"),
    )
    .unwrap();
    let night_bus = Item::expected(
        "tag:127.0.0.1,2019-03-03:night-bus",
        "2019-03-03T00:00:00+00:00",
    );
    let notes = Item::expected(
        "tag:127.0.0.1,2021-06-01:notes",
        "2021-06-01T12:00:00+00:00",
    );
    assert_eq!(
        site.carries("/posts/night-bus-extended/", "renamed").await,
        night_bus
    );
    assert_eq!(site.carries("/posts/notes/", "served").await, notes);
    let dir = site.stop().await;

    // The undated post's file changes time after serve stopped: build dates it by the
    // ledger, not by the file.
    touch(&dir.path().join("posts/notes.txt"), "2025-02-02T08:00:00Z");
    let built = dropfeed(
        dir.path(),
        &["build", "--config", "config.toml", "--out", "out"],
    );
    assert_eq!(
        built.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = dir.path().join("out");
    let read = |file: &str| std::fs::read_to_string(out.join(file)).unwrap();
    let (rss, atom, json) = (read("rss.xml"), read("atom.xml"), read("feed.json"));
    for (route, expected) in [
        ("/posts/night-bus-extended/", &night_bus),
        ("/posts/notes/", &notes),
    ] {
        let page = format!("{BASE}{route}");
        let (guid, pub_date) = rss_item(&rss, &page).expect("in rss.xml");
        let (atom_id, published) = atom_entry(&atom, &page).expect("in atom.xml");
        let (json_id, date_published) = json_item(&json, &page).expect("in feed.json");
        let built = Item {
            ids: [guid, atom_id, json_id],
            dates: [pub_date, published, date_published],
        };
        assert_eq!(&built, expected, "{route}");
    }
    assert!(out.join("posts/night-bus-extended/index.html").is_file());
    assert!(!out.join("posts/night-bus/index.html").exists());
    let redirects = read("_redirects");
    assert!(
        redirects
            .lines()
            .any(|line| line == "/posts/night-bus/ /posts/night-bus-extended/ 301"),
        "{redirects}"
    );
}

/// Found by tests/churn.rs: `build` wrote into `_redirects` a 301 to the page of a post
/// that is not published, where serve answers 404.
#[test]
fn build_redirects_only_to_pages_it_writes() {
    let dir = folder(
        CONFIG,
        &[
            (
                "draft.md",
                "---\ntitle: Draft\ndate: 2019-03-03\ndraft: true\naliases: [/old-draft/]\n---\n\nNot yet.\n",
            ),
            (
                "later.md",
                "---\ntitle: Later\ndate: 2099-01-01\naliases: [/old-later/]\n---\n\nNot yet.\n",
            ),
            (
                "now.md",
                "---\ntitle: Now\ndate: 2019-03-03\naliases: [/old-now/]\n---\n\nHere.\n",
            ),
        ],
    );
    let built = dropfeed(
        dir.path(),
        &["build", "--config", "config.toml", "--out", "out"],
    );
    assert_eq!(
        built.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let redirects = std::fs::read_to_string(dir.path().join("out/_redirects")).unwrap();
    let posts: Vec<&str> = redirects
        .lines()
        .filter(|line| line.starts_with("/old-"))
        .collect();
    assert_eq!(posts, ["/old-now/ /posts/now/ 301"], "{redirects}");
    assert!(!dir.path().join("out/posts/draft/index.html").exists());
    assert!(!dir.path().join("out/posts/later/index.html").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_with_a_permalink_is_served_there_and_linked_from_every_feed() {
    let rainfall = "---\ntitle: Rainfall totals\ndate: 2019-03-10\npermalink: /2019/03/10/rainfall.html\n---\n\nIt rained 3 inches.\n";
    let site = Site::new(CONFIG, &[("rainfall.md", rainfall)]).await;
    let route = "/2019/03/10/rainfall.html";
    let page = site.shows(route, "Rainfall totals", "at start").await;
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(
        site.carries(route, "at start").await,
        Item::expected(
            "tag:127.0.0.1,2019-03-10:rainfall",
            "2019-03-10T00:00:00+00:00"
        )
    );
    let rss = site.get("/rss.xml").await.text();
    assert!(
        rss.contains("<link>http://127.0.0.1/2019/03/10/rainfall.html</link>"),
        "{rss}"
    );
    assert_eq!(
        site.get("/posts/rainfall/").await.status,
        StatusCode::NOT_FOUND
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_permalink_pattern_places_every_post() {
    let config = CONFIG.replace(
        "[site]\n",
        "[site]\npermalink = \"/:year/:month/:day/:slug.html\"\n",
    );
    let fare_caps = "---\ntitle: Fare caps arrive\ncategories: [Transit]\n---\n\nRiders pay at most $5 a day.\n";
    let site = Site::new(
        &config,
        &[
            ("2020-01-06-fare-caps.md", fare_caps),
            ("night-bus.txt", &night_bus()),
        ],
    )
    .await;
    for (route, title, id, date) in [
        (
            "/2020/01/06/fare-caps.html",
            "Fare caps arrive",
            "tag:127.0.0.1,2020-01-06:fare-caps",
            "2020-01-06T00:00:00+00:00",
        ),
        (
            "/2019/03/03/night-bus.html",
            "night bus pilot",
            "tag:127.0.0.1,2019-03-03:night-bus",
            "2019-03-03T00:00:00+00:00",
        ),
    ] {
        let page = site.shows(route, title, "at start").await;
        assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(
            site.carries(route, "at start").await,
            Item::expected(id, date)
        );
    }
    let rss = site.get("/rss.xml").await.text();
    assert!(
        rss.contains("<link>http://127.0.0.1/2020/01/06/fare-caps.html</link>"),
        "{rss}"
    );
    assert_eq!(
        site.get("/posts/fare-caps/").await.status,
        StatusCode::NOT_FOUND
    );

    // A date fix moves the page the pattern gives; the id stays, the old page redirects.
    write(
        &site.posts().join("night-bus.txt"),
        &night_bus().replace("March 3, 2019", "March 4, 2019"),
    );
    let moved = "/2019/03/04/night-bus.html";
    assert_eq!(
        site.carries(moved, "date fixed").await,
        Item::expected(
            "tag:127.0.0.1,2019-03-03:night-bus",
            "2019-03-04T00:00:00+00:00"
        )
    );
    site.redirects("/2019/03/03/night-bus.html", moved, "date fixed")
        .await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_and_redirect_from_answer_301_to_the_page() {
    let hugo = "+++\ntitle = \"Rainfall totals\"\ndate = 2019-03-10\naliases = [\"/old/rainfall/\", \"/2019/rain.html\"]\n+++\n\nIt rained.\n";
    let jekyll_one = "---\ntitle: Frost warning\ndate: 2018-01-18\nredirect_from: /blog/frost.html\n---\n\nFrost tonight.\n";
    let jekyll_many = "---\ntitle: Fog advisory\ndate: 2018-02-02\nredirect_from:\n  - /blog/fog/\n  - http://127.0.0.1/fog.html\n---\n\nFog this morning.\n";
    let site = Site::new(
        CONFIG,
        &[
            ("rainfall.md", hugo),
            ("frost.md", jekyll_one),
            ("fog.md", jekyll_many),
        ],
    )
    .await;
    for (from, to) in [
        ("/old/rainfall/", "/posts/rainfall/"),
        ("/2019/rain.html", "/posts/rainfall/"),
        ("/blog/frost.html", "/posts/frost/"),
        ("/blog/fog/", "/posts/fog/"),
        ("/fog.html", "/posts/fog/"),
    ] {
        site.redirects(from, to, from).await;
        assert_eq!(site.get(to).await.status, StatusCode::OK, "{to}");
    }
    assert_eq!(site.health().await["warnings"], serde_json::json!([]));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_emptied_then_refilled_answers_200_throughout_and_after_a_restart() {
    let site = Site::new(
        CONFIG,
        &[("night-bus.txt", &night_bus()), ("frost.txt", &frost())],
    )
    .await;
    let feeds = [
        "/categories/weather/rss.xml",
        "/categories/weather/atom.xml",
        "/categories/weather/feed.json",
    ];
    site.carries("/posts/frost/", "at start").await;

    // Every answer of the category's feeds while its only post goes and another comes.
    let done = Arc::new(AtomicBool::new(false));
    let poller = tokio::spawn({
        let (client, addr, done) = (site.client.clone(), site.addr, Arc::clone(&done));
        async move {
            let mut seen = Vec::new();
            while !done.load(Ordering::SeqCst) {
                for feed in feeds {
                    let answer = client.get(format!("http://{addr}{feed}")).send().await;
                    seen.push((feed, answer.unwrap().status()));
                }
            }
            seen
        }
    });

    std::fs::remove_file(site.posts().join("frost.txt")).unwrap();
    for feed in feeds {
        site.wait_for(feed, "its only post removed", |got| {
            !got.text().contains("/posts/frost/")
        })
        .await;
    }
    write(
        &site.posts().join("fog.txt"),
        &article(
            "Bo Chen",
            "February 2, 2018",
            "Weather",
            "Fog this morning.",
        ),
    );
    for feed in feeds {
        site.wait_for(feed, "another post added", |got| {
            got.text().contains("/posts/fog/")
        })
        .await;
    }
    done.store(true, Ordering::SeqCst);
    let seen = poller.await.unwrap();
    assert!(seen.len() >= feeds.len(), "{seen:?}");
    let not_ok: Vec<_> = seen.iter().filter(|(_, s)| *s != StatusCode::OK).collect();
    assert!(not_ok.is_empty(), "{not_ok:?} of {} answers", seen.len());

    // Emptied again, then served by a new server: still there, valid and empty.
    std::fs::remove_file(site.posts().join("fog.txt")).unwrap();
    site.wait_for(feeds[0], "emptied again", |got| {
        got.status == StatusCode::OK && !got.text().contains("<item>")
    })
    .await;
    let site = site.restart().await;
    for feed in feeds {
        let got = site.get(feed).await;
        assert_eq!(got.status, StatusCode::OK, "{feed} after a restart");
        let text = got.text();
        assert!(
            !text.contains("<item>") && !text.contains("<entry>"),
            "{feed}: {text}"
        );
    }
    let json: serde_json::Value = serde_json::from_slice(&site.get(feeds[2]).await.body).unwrap();
    assert_eq!(json["items"], serde_json::json!([]));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_database_while_serving_degrades_healthz_and_publishing_goes_on() {
    let site = Site::new(CONFIG, &[("night-bus.txt", &night_bus())]).await;
    site.carries("/posts/night-bus/", "at start").await;
    let health = site.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["state"], "ok");

    std::fs::remove_file(site.db()).unwrap();
    write(&site.posts().join("frost.txt"), &frost());
    assert_eq!(
        site.carries("/posts/frost/", "new post after the delete")
            .await,
        Item::expected(
            "tag:127.0.0.1,2018-01-18:frost",
            "2018-01-18T00:00:00+00:00"
        )
    );
    let health = site.health().await;
    assert_eq!(health["status"], "degraded");
    assert_eq!(
        health["state"],
        format!(
            "{}: the state database was deleted or replaced while running; restart dropfeed to open it again (ids are kept in memory until then)",
            site.db().display()
        )
    );
    assert_eq!(health["posts"], 2);

    // The ledger goes on in memory: a rename still keeps the id.
    std::fs::rename(
        site.posts().join("night-bus.txt"),
        site.posts().join("night-bus-extended.txt"),
    )
    .unwrap();
    assert_eq!(
        site.carries("/posts/night-bus-extended/", "renamed").await,
        Item::expected(
            "tag:127.0.0.1,2019-03-03:night-bus",
            "2019-03-03T00:00:00+00:00"
        )
    );
    site.redirects("/posts/night-bus/", "/posts/night-bus-extended/", "renamed")
        .await;
    assert!(!site.db().exists(), "the deleted database was made again");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_database_stops_build_with_exit_2_but_not_serve() {
    let dir = folder(CONFIG, &[("night-bus.txt", &night_bus())]);
    let db = dir.path().join("dropfeed.db");
    let garbage = "not a database. ".repeat(256);
    std::fs::write(&db, &garbage).unwrap();

    let config = dir.path().join("config.toml");
    let config = config.to_str().unwrap();
    let built = dropfeed(dir.path(), &["build", "--config", config, "--out", "out"]);
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert_eq!(built.status.code(), Some(2), "{stderr}");
    let db = db.display().to_string();
    for part in [&db, "cannot open the state database", "--no-state"] {
        assert!(stderr.contains(part), "no {part:?} in {stderr}");
    }
    assert!(!dir.path().join("out").exists(), "wrote files anyway");

    let built = dropfeed(
        dir.path(),
        &[
            "build",
            "--config",
            "config.toml",
            "--out",
            "out",
            "--no-state",
        ],
    );
    assert_eq!(
        built.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let rss = std::fs::read_to_string(dir.path().join("out/rss.xml")).unwrap();
    assert_eq!(
        rss_item(&rss, "http://127.0.0.1/posts/night-bus/"),
        Some((
            "tag:127.0.0.1,2019-03-03:night-bus".into(),
            "Sun, 3 Mar 2019 00:00:00 +0000".into()
        ))
    );

    let site = Site::serve(dir).await;
    site.carries("/posts/night-bus/", "served without a ledger")
        .await;
    let health = site.health().await;
    assert_eq!(health["status"], "degraded");
    assert_eq!(
        health["state"],
        format!(
            "{}: cannot open the state database (file is not a database); restore it from a backup, or move it away to start a new ledger (ids of posts already published may then change)",
            site.db().display()
        )
    );
    let dir = site.stop().await;
    // Neither command wrote over it: it is the writer's to restore or move away.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("dropfeed.db")).unwrap(),
        garbage
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_front_matter_date_falls_back_to_the_file_names_date_with_a_warning() {
    let trip = "---\ntitle: Road trip\ndate: 2023-01-29 18:30:22 2023 -0800\ncategories: [Travel]\n---\n\nWe drove up the coast.\n";
    let dir = folder(CONFIG, &[("2023-01-29-trip.md", trip)]);
    let reason = "key `date`: `2023-01-29 18:30:22 2023 -0800` is not a date; use 2019-03-03, 2019-03-03 09:05, 2019-03-03T09:05:00-08:00, March 3, 2019 or 3 March 2019; dated 2023-01-29 from the file name instead: fix or remove the date";

    let checked = dropfeed(dir.path(), &["check", "--config", "config.toml"]);
    assert_eq!(checked.status.code(), Some(0), "{checked:?}");
    assert_eq!(
        String::from_utf8_lossy(&checked.stdout),
        format!("posts/2023-01-29-trip.md:3: warning: {reason}\n")
    );

    let site = Site::serve(dir).await;
    assert_eq!(
        site.carries("/posts/trip/", "at start").await,
        Item::expected("tag:127.0.0.1,2023-01-29:trip", "2023-01-29T00:00:00+00:00")
    );
    let health = site.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(
        health["warnings"],
        serde_json::json!([{ "path": "2023-01-29-trip.md", "line": 3, "reason": reason }])
    );
    site.stop().await;
}
