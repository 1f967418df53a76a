//! `dropfeed build` on the bundled `config.toml` and `posts/`, run as the real binary:
//! every feed it writes parses with independent parsers (feed-rs, quick-xml in strict
//! mode) and carries the expected posts, and two builds are byte-identical.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::strict_xml;

mod common;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn build_into(out: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .arg("build")
        .arg("--config")
        .arg(repo().join("config.toml"))
        .arg("--out")
        .arg(out)
        // The ledger is tested on its own sites; the repository gets no database.
        .arg("--no-state")
        .output()
        .expect("run dropfeed build");
    assert!(
        output.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every file under `dir`, by `/`-separated relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read out dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                let rel = rel.to_string_lossy().replace('\\', "/");
                found.insert(rel, std::fs::read(&path).expect("read file"));
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(dir, dir, &mut found);
    found
}

/// Expected item count of every feed folder of the bundled posts: 11 published posts
/// (a draft and a post dated 2099 are not).
const FEEDS: &[(&str, usize)] = &[
    ("", 11),
    ("categories/city-hall/", 4),
    ("categories/transit/", 3),
    ("categories/weather/", 2),
    ("categories/schools/", 2),
    ("categories/bay-area/", 2),
    ("categories/announcements/", 1),
    ("categories/sao-paulo/", 1),
    ("authors/dana-whitfield/", 2),
    ("authors/marcus-oyelaran/", 2),
    ("authors/priya-natarajan/", 3),
    ("authors/newsroom/", 4),
    ("tags/rain/", 1),
    ("tags/data/", 1),
    ("tags/budget/", 1),
    ("tags/board/", 1),
    ("tags/food/", 1),
];

#[test]
fn every_feed_of_the_bundled_posts_parses_with_the_expected_items() {
    let out = tempfile::tempdir().expect("temp dir");
    build_into(out.path());
    let written = files(out.path());

    let feed_files: Vec<&String> = written
        .keys()
        .filter(|k| k.ends_with("rss.xml") || k.ends_with("atom.xml") || k.ends_with("feed.json"))
        .collect();
    assert_eq!(
        feed_files.len(),
        FEEDS.len() * 3,
        "feeds written: {feed_files:?}"
    );

    for (dir, count) in FEEDS {
        for file in ["rss.xml", "atom.xml", "feed.json"] {
            let name = format!("{dir}{file}");
            let body = written
                .get(&name)
                .unwrap_or_else(|| panic!("{name} not written"));
            let text = std::str::from_utf8(body).expect("utf-8 feed");
            if file.ends_with(".xml") {
                strict_xml(&name, text);
            }
            let feed = feed_rs::parser::parse(body.as_slice())
                .unwrap_or_else(|err| panic!("{name} does not parse: {err}"));
            assert_eq!(feed.entries.len(), *count, "{name}");
            for entry in &feed.entries {
                assert!(
                    entry.published.is_some(),
                    "{name}: {} has no date",
                    entry.id
                );
                assert!(entry.title.is_some(), "{name}: {} has no title", entry.id);
            }

            // Beside each feed, compressed copies of the same bytes.
            let gz = written.get(&format!("{name}.gz")).expect("gzip copy");
            let mut unzipped = Vec::new();
            flate2::read::GzDecoder::new(gz.as_slice())
                .read_to_end(&mut unzipped)
                .expect("gunzip");
            assert_eq!(&unzipped, body, "{name}.gz");
            let br = written.get(&format!("{name}.br")).expect("brotli copy");
            let mut unbrotli = Vec::new();
            brotli::Decompressor::new(br.as_slice(), 4096)
                .read_to_end(&mut unbrotli)
                .expect("unbrotli");
            assert_eq!(&unbrotli, body, "{name}.br");
        }
    }

    strict_xml(
        "opml.xml",
        std::str::from_utf8(&written["opml.xml"]).expect("utf-8"),
    );
    for page in [
        "index.html",
        "posts/night-bus-pilot/index.html",
        "posts/transit/fare-caps/index.html",
        "posts/lunch-menu/index.html",
        "posts/launch/index.html",
        "posts/rainfall-totals/index.html",
    ] {
        assert!(written.contains_key(page), "{page} not written");
    }
    assert!(
        !written.contains_key("posts/budget-draft/index.html"),
        "a draft was published"
    );
    assert!(
        !written.contains_key("posts/time-capsule/index.html"),
        "a future post was published"
    );
    let redirects = std::str::from_utf8(&written["_redirects"]).expect("utf-8");
    let redirects: Vec<&str> = redirects.lines().collect();
    // Each alias with and without its final slash. Site: /feed/, /feed/rss2/,
    // /feed/rss/, /index.xml, /rss/, /feed/atom/, /feed.xml; 7 categories × 3; 4 authors
    // × 3; 5 tags × 3 (/tag/{slug}/feed/, /tag/{slug}/feed/atom/, /tags/{slug}/index.xml).
    assert_eq!(redirects.len(), (7 + 7 * 3 + 4 * 3 + 5 * 3) * 2);
    for line in [
        "/feed/ /rss.xml 301",
        "/feed/atom/ /atom.xml 301",
        "/feed/rss/ /rss.xml 301",
        "/index.xml /rss.xml 301",
        "/category/bay-area/feed/ /categories/bay-area/rss.xml 301",
        "/categories/bay-area/index.xml /categories/bay-area/rss.xml 301",
        "/category/bay-area/feed/atom/ /categories/bay-area/atom.xml 301",
        "/author/newsroom/feed/ /authors/newsroom/rss.xml 301",
        "/tag/rain/feed/ /tags/rain/rss.xml 301",
        "/tags/rain/index.xml /tags/rain/rss.xml 301",
    ] {
        assert!(redirects.contains(&line), "{line} missing from _redirects");
    }
}

#[test]
fn site_feed_carries_ids_dates_and_categories_of_the_bundled_posts() {
    let out = tempfile::tempdir().expect("temp dir");
    build_into(out.path());
    let body = std::fs::read(out.path().join("atom.xml")).expect("atom.xml");
    let feed = feed_rs::parser::parse(body.as_slice()).expect("parse atom.xml");
    let entry = |id: &str| {
        feed.entries
            .iter()
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("no entry {id}"))
    };

    let night_bus = entry("tag:127.0.0.1,2019-03-03:night-bus-pilot");
    // Midnight in Los Angeles, standard time.
    assert_eq!(
        night_bus.published.map(|d| d.to_rfc3339()),
        Some("2019-03-03T08:00:00+00:00".to_string())
    );
    let terms: Vec<&str> = night_bus
        .categories
        .iter()
        .map(|c| c.term.as_str())
        .collect();
    assert_eq!(terms, vec!["city-hall", "transit"]);
    assert_eq!(night_bus.authors[0].name, "Dana Whitfield");

    // 9:30 in Los Angeles on a summer day is 16:30 UTC (daylight time).
    let ferry = entry("tag:127.0.0.1,2019-07-04:ferry-schedule-changes");
    assert_eq!(
        ferry.published.map(|d| d.to_rfc3339()),
        Some("2019-07-04T16:30:00+00:00".to_string())
    );
    assert_eq!(ferry.authors[0].name, "Newsroom");

    // No author and no title: the site's author, and the first sentence as title.
    let frost = entry("tag:127.0.0.1,2018-01-18:0042-9f3ab27c");
    assert_eq!(frost.authors[0].name, "Newsroom");
    assert_eq!(
        frost.title.as_ref().map(|t| t.content.as_str()),
        Some("Overnight frost is expected across the valley, with lows near 28 degrees in the low-lying farm…")
    );

    let lunch = entry("tag:127.0.0.1,2020-02-14:lunch-menu");
    assert_eq!(
        lunch.published.map(|d| d.to_rfc3339()),
        Some("2020-02-14T19:00:00+00:00".to_string())
    );
    let rain = entry("tag:127.0.0.1,2019-03-10:rainfall-totals");
    // Categories, then tags, which name their scheme: the site's tag pages.
    let terms: Vec<(&str, Option<&str>)> = rain
        .categories
        .iter()
        .map(|c| (c.term.as_str(), c.scheme.as_deref()))
        .collect();
    assert_eq!(
        terms,
        vec![
            ("weather", None),
            ("bay-area", None),
            ("rain", Some("http://127.0.0.1:8080/tags/")),
            ("data", Some("http://127.0.0.1:8080/tags/")),
        ]
    );
}

#[test]
fn two_builds_of_the_same_posts_are_byte_identical() {
    let first = tempfile::tempdir().expect("temp dir");
    let second = tempfile::tempdir().expect("temp dir");
    build_into(first.path());
    build_into(second.path());
    let a = files(first.path());
    let b = files(second.path());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs between two builds");
    }
}
