//! The pages people read: a person who opens `/` finds a category, its page says how
//! to subscribe and gives a feed address a reader accepts; a reader discovering feeds is
//! offered one per topic; tags have pages and feeds; every HTML page forbids scripts.
//! The real daemon on 127.0.0.1:0 with real inotify, a real HTTP client, and the real
//! binary for `build`.

mod common;

use std::process::Command;

use common::html::{alternates, attr_after};
use common::site::{folder, write, Site};
use reqwest::StatusCode;

const CONFIG: &str = r#"
[site]
title = "Valley News"
base_url = "http://news.test"
author = "Newsroom"
timezone = "UTC"

[posts]
rescan_secs = 0
"#;

const POLICY: &str = "default-src 'none'; img-src * data:; media-src *; \
style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn night_bus() -> &'static str {
    "---\ntitle: Night bus pilot extended\ndate: 2024-05-01\nauthor: Dana Whitfield\n\
     categories: [Bay Area, Transit]\ntags: [buses, night owls]\n---\n\n\
     The council voted 7–2 to extend the night bus pilot.\n"
}

fn rainfall() -> &'static str {
    "---\ntitle: Rainfall totals\ndate: 2024-04-01\nauthor: Priya Natarajan\n\
     categories: [Weather, Bay Area]\ntags: [rain]\n---\n\nIt rained.\n"
}

/// The route of an absolute URL of the test site.
fn route(url: &str) -> &str {
    url.strip_prefix("http://news.test")
        .unwrap_or_else(|| panic!("{url} is not on the site"))
}

/// Every autodiscovery link of a page: (type, href).
fn discovered(html: &str) -> Vec<(String, String)> {
    alternates(html)
        .into_iter()
        .map(|(_, media_type, href)| (media_type, href))
        .collect()
}

#[tokio::test]
async fn a_person_finds_a_category_from_the_home_page_and_subscribes_to_it() {
    let site = Site::serve(folder(
        CONFIG,
        &[("night-bus.md", night_bus()), ("rain.md", rainfall())],
    ))
    .await;
    let home = site.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(home.header("content-security-policy"), POLICY);
    let html = home.text();
    // The newest posts first, with their authors and dates.
    let newest = html.find("Night bus pilot extended").unwrap();
    assert!(newest < html.find("Rainfall totals").unwrap());
    assert!(html.contains(
        r#"<p class="meta">By <a href="http://news.test/authors/dana-whitfield/">Dana Whitfield</a> · <time datetime="2024-05-01T00:00:00+00:00">May 1, 2024</time></p>"#
    ));
    assert!(html.contains(
        r#"<li><a href="http://news.test/categories/bay-area/">Bay Area</a> <span class="count">2 posts</span></li>"#
    ));
    // One feed per topic: the site, 3 categories, 2 authors; RSS only.
    assert_eq!(
        discovered(&html),
        [
            "/rss.xml",
            "/categories/bay-area/rss.xml",
            "/categories/transit/rss.xml",
            "/categories/weather/rss.xml",
            "/authors/dana-whitfield/rss.xml",
            "/authors/priya-natarajan/rss.xml",
        ]
        .map(|r| (
            "application/rss+xml".to_string(),
            format!("http://news.test{r}")
        ))
    );

    // The category's page, as a person follows its link.
    let link = attr_after(&html, ">Bay Area</a>", "href");
    let page = site.get(route(link)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-security-policy"), POLICY);
    let html = page.text();
    assert!(html.contains("<h1>Bay Area</h1>"));
    assert!(html.contains("<h2>Subscribe</h2>"));
    assert!(html.contains(
        "A feed reader (NetNewsWire, Feedly, Inoreader, Thunderbird, newsboat…) collects new posts"
    ));
    let feed_url = attr_after(&html, r#"id="feed-url""#, "value");
    assert_eq!(feed_url, "http://news.test/categories/bay-area/rss.xml");
    assert_eq!(
        discovered(&html)[0],
        ("application/rss+xml".to_string(), feed_url.to_string())
    );
    // The address to copy is a feed a reader accepts, with both posts.
    let feed = site.get(route(feed_url)).await;
    assert_eq!(feed.status, StatusCode::OK);
    assert_eq!(
        feed.header("content-type"),
        "application/rss+xml; charset=utf-8"
    );
    let parsed = feed_rs::parser::parse(&feed.body[..]).unwrap();
    let titles: Vec<String> = parsed
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert_eq!(titles, ["Night bus pilot extended", "Rainfall totals"]);
    // A feed itself carries no page policy: readers fetch it, browsers do not run it.
    assert_eq!(feed.header("content-security-policy"), "");
    site.stop().await;
}

#[tokio::test]
async fn a_post_page_links_its_topics_to_their_pages_never_to_xml() {
    let site = Site::serve(folder(CONFIG, &[("night-bus.md", night_bus())])).await;
    let page = site.get("/posts/night-bus/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-security-policy"), POLICY);
    let html = page.text();
    for (name, href) in [
        ("Bay Area", "http://news.test/categories/bay-area/"),
        ("Transit", "http://news.test/categories/transit/"),
        ("Dana Whitfield", "http://news.test/authors/dana-whitfield/"),
        ("buses", "http://news.test/tags/buses/"),
        ("night owls", "http://news.test/tags/night-owls/"),
    ] {
        assert_eq!(attr_after(&html, &format!(">{name}</a>"), "href"), href);
        let linked = site.get(route(href)).await;
        assert_eq!(linked.status, StatusCode::OK, "{href}");
        assert!(linked.text().contains("Night bus pilot extended"), "{href}");
    }
    // Discovery: the site's feed and each category's.
    assert_eq!(
        discovered(&html)
            .into_iter()
            .map(|(_, href)| href)
            .collect::<Vec<_>>(),
        [
            "http://news.test/rss.xml",
            "http://news.test/categories/bay-area/rss.xml",
            "http://news.test/categories/transit/rss.xml",
        ]
    );
    site.stop().await;
}

#[tokio::test]
async fn a_dropped_post_reaches_its_tag_page_and_tag_feeds() {
    let site = Site::serve(folder(CONFIG, &[("rain.md", rainfall())])).await;
    assert_eq!(site.get("/tags/buses/").await.status, StatusCode::NOT_FOUND);
    write(&site.posts().join("night-bus.md"), night_bus());
    let page = site
        .wait_for("/tags/night-owls/", "the tag page", |got| {
            got.status == StatusCode::OK
        })
        .await;
    let html = page.text();
    assert!(html.contains("<title>Tagged “night owls” · Valley News</title>"));
    assert!(html
        .contains(r#"<a href="http://news.test/posts/night-bus/">Night bus pilot extended</a>"#));
    let rss = site.get("/tags/night-owls/rss.xml").await;
    assert_eq!(rss.status, StatusCode::OK);
    let text = rss.text();
    assert!(
        text.contains("<title>Valley News — #night owls</title>"),
        "{text}"
    );
    assert!(text.contains(r#"<category domain="http://news.test/tags/">night owls</category>"#));
    let atom = site.get("/tags/night-owls/atom.xml").await.text();
    assert!(atom.contains(
        r#"<category term="night-owls" scheme="http://news.test/tags/" label="night owls"/>"#
    ));
    let json: serde_json::Value =
        serde_json::from_slice(&site.get("/tags/night-owls/feed.json").await.body).unwrap();
    assert_eq!(json["items"][0]["title"], "Night bus pilot extended");
    assert_eq!(json["home_page_url"], "http://news.test/tags/night-owls/");
    site.stop().await;
}

#[tokio::test]
async fn a_long_category_is_paged_twenty_posts_a_page() {
    let posts: Vec<(String, String)> = (1..=45)
        .map(|i| {
            (
                format!("p{i:02}.md"),
                format!(
                    "---\ntitle: Post {i}\ndate: 2024-01-{:02}T{:02}:00:00Z\ncategories: [Long]\n---\n\nBody {i}.\n",
                    1 + i / 24,
                    i % 24
                ),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = posts
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let site = Site::serve(folder(CONFIG, &refs)).await;
    let titles = |html: &str| -> Vec<String> {
        html.split("<h3><a href=\"")
            .skip(1)
            .map(|s| s[s.find('>').unwrap() + 1..s.find("</a>").unwrap()].to_string())
            .collect()
    };
    let first = site.get("/categories/long/").await.text();
    let second = site.get("/categories/long/page/2/").await.text();
    let third = site.get("/categories/long/page/3/").await.text();
    assert_eq!(titles(&first).len(), 20);
    assert_eq!(titles(&first)[0], "Post 45");
    assert_eq!(titles(&second)[0], "Post 25");
    assert_eq!(
        titles(&third),
        ["Post 5", "Post 4", "Post 3", "Post 2", "Post 1"]
    );
    assert!(first.contains(
        r#"<a href="http://news.test/categories/long/page/2/" rel="next">Older posts →</a>"#
    ));
    assert!(third.contains(
        r#"<a href="http://news.test/categories/long/page/2/" rel="prev">← Newer posts</a>"#
    ));
    assert_eq!(
        site.get("/categories/long/page/4/").await.status,
        StatusCode::NOT_FOUND
    );
    // The home page pages through the whole site the same way.
    assert_eq!(titles(&site.get("/page/3/").await.text()).len(), 5);
    site.stop().await;
}

#[test]
fn build_writes_every_topic_page_and_the_opml_offers_one_feed_per_topic() {
    let dir = folder(
        CONFIG,
        &[("night-bus.md", night_bus()), ("rain.md", rainfall())],
    );
    let out = dir.path().join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .args(["build", "--config"])
        .arg(dir.path().join("config.toml"))
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    for file in [
        "index.html",
        "categories/bay-area/index.html",
        "categories/weather/index.html",
        "authors/dana-whitfield/index.html",
        "tags/night-owls/index.html",
        "tags/rain/index.html",
    ] {
        let html = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(html.contains("<h2>Subscribe</h2>"), "{file}");
    }
    let opml = std::fs::read_to_string(out.join("opml.xml")).unwrap();
    let urls: Vec<&str> = opml
        .split("xmlUrl=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(
        urls,
        [
            "http://news.test/rss.xml",
            "http://news.test/categories/bay-area/rss.xml",
            "http://news.test/categories/transit/rss.xml",
            "http://news.test/categories/weather/rss.xml",
            "http://news.test/authors/dana-whitfield/rss.xml",
            "http://news.test/authors/priya-natarajan/rss.xml",
        ]
    );
}
