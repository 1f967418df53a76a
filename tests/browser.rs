//! The bundled site as a person sees it, in a real browser: headless Chromium (Debian's
//! `chromium`) opens the home page, a category page, a tag page and a post page served
//! by the real daemon on 127.0.0.1, and the test reads what it rendered (`--dump-dom`):
//! the titles, the "Subscribe" box with the address to copy, and the autodiscovery
//! links, each fetched to check it is the feed it says. A screenshot of each page is
//! kept in `target/tmp/browser/` for a person to look at.
//!
//! Skipped, saying so, when Chromium is not installed, unless
//! `DROPFEED_REQUIRE_BROWSER=1` (`.ci/run` installs it and sets that).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::html::{alternates, attr_after};
use common::site::{copy_tree, folder, Site};
use reqwest::StatusCode;

/// The bundled config, with the defaults for what the test must own: the state
/// database and the address (the daemon binds 127.0.0.1:0).
const CONFIG: &str = r#"
[site]
title = "Example News"
description = "Posts from the newsroom"
author = "Newsroom"
language = "en"
timezone = "America/Los_Angeles"
icon = "logo.png"

[posts]
rescan_secs = 0
"#;

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("DROPFEED_CHROMIUM").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

/// Runs Chromium headless on `url` with `args`, in a profile of its own.
fn run_chromium(browser: &Path, url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium {args:?} {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One page to open, and what a person must see on it.
struct Page {
    name: &'static str,
    route: &'static str,
    title: &'static str,
    heading: &'static str,
    /// The route of the feed its Subscribe box offers.
    subscribe: &'static str,
    /// The routes of the feeds it lets a reader discover, in order.
    discovered: &'static [&'static str],
}

const PAGES: &[Page] = &[
    Page {
        name: "home",
        route: "/",
        title: "Example News",
        heading: "<h1>Example News</h1>",
        subscribe: "/rss.xml",
        discovered: &[
            "/rss.xml",
            "/categories/announcements/rss.xml",
            "/categories/bay-area/rss.xml",
            "/categories/city-hall/rss.xml",
            "/categories/sao-paulo/rss.xml",
            "/categories/schools/rss.xml",
            "/categories/transit/rss.xml",
            "/categories/weather/rss.xml",
            "/authors/dana-whitfield/rss.xml",
            "/authors/marcus-oyelaran/rss.xml",
            "/authors/newsroom/rss.xml",
            "/authors/priya-natarajan/rss.xml",
        ],
    },
    Page {
        name: "category",
        route: "/categories/bay-area/",
        title: "Bay Area · Example News",
        heading: "<h1>Bay Area</h1>",
        subscribe: "/categories/bay-area/rss.xml",
        discovered: &["/categories/bay-area/rss.xml", "/rss.xml"],
    },
    Page {
        name: "tag",
        route: "/tags/rain/",
        title: "Tagged “rain” · Example News",
        heading: "<h1>Tagged “rain”</h1>",
        subscribe: "/tags/rain/rss.xml",
        discovered: &["/tags/rain/rss.xml", "/rss.xml"],
    },
    Page {
        name: "post",
        route: "/posts/rainfall-totals/",
        title: "Rainfall totals for the first week of March · Example News",
        heading: "<h1>Rainfall totals for the first week of March</h1>",
        subscribe: "/rss.xml",
        discovered: &[
            "/rss.xml",
            "/categories/weather/rss.xml",
            "/categories/bay-area/rss.xml",
        ],
    },
];

#[tokio::test]
async fn chromium_shows_each_page_with_its_subscribe_box_and_discovers_its_feeds() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("DROPFEED_REQUIRE_BROWSER").is_none(),
            "DROPFEED_REQUIRE_BROWSER is set and Chromium is not installed (apt-get install chromium)"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = folder(CONFIG, &[]);
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("posts"),
        &dir.path().join("posts"),
    );
    let logo = Path::new(env!("CARGO_MANIFEST_DIR")).join("logo.png");
    std::fs::copy(&logo, dir.path().join("logo.png")).unwrap();
    let site = Site::serve(dir).await;
    let base = format!("http://{}", site.addr);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).unwrap();

    for page in PAGES {
        let url = format!("{base}{}", page.route);
        // Chromium runs in a thread of its own: the server answers on this runtime.
        let dom = {
            let (browser, url) = (browser.clone(), url.clone());
            tokio::task::spawn_blocking(move || run_chromium(&browser, &url, &["--dump-dom"]))
                .await
                .unwrap()
        };
        let title = format!("<title>{}</title>", page.title.replace('&', "&amp;"));
        assert!(dom.contains(&title), "{}: no {title} in\n{dom}", page.name);
        assert!(
            dom.contains(page.heading),
            "{}: no {}",
            page.name,
            page.heading
        );
        assert!(
            dom.contains("<h2>Subscribe</h2>"),
            "{}: no Subscribe box",
            page.name
        );
        let copy = attr_after(&dom, "id=\"feed-url\"", "value");
        assert_eq!(copy, format!("{base}{}", page.subscribe), "{}", page.name);
        let found = alternates(&dom);
        let hrefs: Vec<String> = found.iter().map(|(_, _, href)| href.clone()).collect();
        let expected: Vec<String> = page
            .discovered
            .iter()
            .map(|r| format!("{base}{r}"))
            .collect();
        assert_eq!(hrefs, expected, "{}: autodiscovery", page.name);
        // Each discovered link is the feed it names: RSS, titled as the link says.
        for (title, media_type, href) in &found {
            assert_eq!(media_type, "application/rss+xml", "{href}");
            let feed = site.client.get(href).send().await.unwrap();
            assert_eq!(feed.status(), StatusCode::OK, "{href}");
            let parsed = feed_rs::parser::parse(&feed.bytes().await.unwrap()[..]).unwrap();
            assert_eq!(
                parsed.title.map(|t| t.content).as_deref(),
                Some(title.as_str()),
                "{href}"
            );
        }

        let shot = shots.join(format!("{}.png", page.name));
        let _ = std::fs::remove_file(&shot);
        {
            let (browser, url) = (browser.clone(), url.clone());
            let arg = format!("--screenshot={}", shot.display());
            tokio::task::spawn_blocking(move || {
                run_chromium(&browser, &url, &[&arg, "--window-size=1024,1400"])
            })
            .await
            .unwrap();
        }
        let png = std::fs::read(&shot).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", shot.display());
        eprintln!("screenshot: {} ({} bytes)", shot.display(), png.len());
    }
    // The tab's icon, which every browser asks for: the site's logo.
    let icon = site.get("/favicon.ico").await;
    assert_eq!(icon.status, StatusCode::OK);
    assert_eq!(icon.header("content-type"), "image/png");
    assert_eq!(icon.body, std::fs::read(&logo).unwrap());
    site.stop().await;
}
