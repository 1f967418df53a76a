//! Enclosures, item pictures, podcast fields and the icon, end to end: the real daemon
//! serves a site whose posts carry a picture and an episode, and the W3C validator
//! (`validate-feed`) reads every feed of it; `build` writes the same files.

mod common;

use std::path::Path;
use std::process::Command;

use common::site::{folder, Site};
use common::validator::validator_warnings;
use reqwest::StatusCode;

/// A 1 × 1 PNG: the site's icon.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

const CONFIG: &str = r#"
[site]
title = "Bay Radio"
base_url = "http://127.0.0.1"
author = "Bay Radio newsroom"
icon = "logo.png"
itunes_category = "News > Daily News"
itunes_owner = "Dana Whitfield"
itunes_email = "podcast@example.org"

[posts]
rescan_secs = 0
"#;

/// An episode in a page bundle, with its audio and its cover beside it.
const EPISODE: &str = "---
title: The night bus, episode 1
date: 2024-05-01T09:00:00Z
author: Dana Whitfield
categories: [Radio]
tags: [transit, night bus]
audio: ep1.mp3
image: cover.jpg
duration: \"12:34\"
episode: 1
season: 2
explicit: false
---
Riders tell us about the night bus. ![The driver](cover.jpg)
";

/// A second episode, its audio on another host, as a map.
const REMOTE: &str = "---
title: The night bus, episode 2
date: 2024-05-08T09:00:00Z
categories: [Radio]
enclosure: {url: \"https://cdn.example.org/ep2.mp3\", length: 5650889, type: audio/mpeg}
duration: 1830
---
More riders.
";

/// A picture post: its picture is the item's image, no podcast.
const PHOTO: &str = "---
title: The ferry at dawn
date: 2024-05-02T06:00:00Z
categories: [Photos]
tags: [ferry]
image: dawn.jpg
---
The first ferry.
";

fn site_folder() -> tempfile::TempDir {
    let dir = folder(
        CONFIG,
        &[
            ("radio/ep1/index.md", EPISODE),
            ("radio/ep2.md", REMOTE),
            ("photos/dawn/index.md", PHOTO),
        ],
    );
    let posts = dir.path().join("posts");
    std::fs::write(dir.path().join("logo.png"), PNG).unwrap();
    std::fs::write(posts.join("radio/ep1/ep1.mp3"), vec![0xff_u8; 48_213]).unwrap();
    std::fs::write(posts.join("radio/ep1/cover.jpg"), vec![0xd8_u8; 2_048]).unwrap();
    std::fs::write(posts.join("photos/dawn/dawn.jpg"), vec![0xd9_u8; 4_096]).unwrap();
    dir
}

async fn served() -> Site {
    let site = Site::serve(site_folder()).await;
    site.wait_for("/healthz", "the three posts published", |got| {
        got.text().contains("\"posts\": 3")
    })
    .await;
    site
}

#[tokio::test]
async fn an_audio_category_is_a_podcast_feed() {
    let site = served().await;
    let rss = site.get("/categories/radio/rss.xml").await.text();
    for line in [
        r#"xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd""#,
        "<url>http://127.0.0.1/icon.png</url>",
        "<title>Bay Radio — Radio</title>",
        "<itunes:author>Bay Radio newsroom</itunes:author>",
        r#"<itunes:category text="News">
      <itunes:category text="Daily News">"#,
        r#"<itunes:image href="http://127.0.0.1/icon.png"/>"#,
        "<itunes:explicit>false</itunes:explicit>",
        "<itunes:name>Dana Whitfield</itunes:name>",
        "<itunes:email>podcast@example.org</itunes:email>",
        // The audio wins the one enclosure, with the file's size.
        r#"<enclosure url="http://127.0.0.1/posts/radio/ep1/ep1.mp3" length="48213" type="audio/mpeg"/>"#,
        "<itunes:duration>12:34</itunes:duration>",
        "<itunes:episode>1</itunes:episode>",
        "<itunes:season>2</itunes:season>",
        r#"<itunes:image href="http://127.0.0.1/posts/radio/ep1/cover.jpg">"#,
        r#"<enclosure url="https://cdn.example.org/ep2.mp3" length="5650889" type="audio/mpeg"/>"#,
        "<itunes:duration>1830</itunes:duration>",
    ] {
        assert!(rss.contains(line), "missing {line} in\n{rss}");
    }
    // The enclosure answers, with its length and type.
    let audio = site.get("/posts/radio/ep1/ep1.mp3").await;
    assert_eq!(audio.status, StatusCode::OK);
    assert_eq!(audio.header("content-type"), "audio/mpeg");
    assert_eq!(audio.body.len(), 48_213);

    let atom = site.get("/categories/radio/atom.xml").await.text();
    for line in [
        "<icon>http://127.0.0.1/icon.png</icon>",
        "<logo>http://127.0.0.1/icon.png</logo>",
        r#"<link href="http://127.0.0.1/posts/radio/ep1/cover.jpg" rel="enclosure" type="image/jpeg" length="2048"/>"#,
        r#"<link href="http://127.0.0.1/posts/radio/ep1/ep1.mp3" rel="enclosure" type="audio/mpeg" length="48213"/>"#,
    ] {
        assert!(atom.contains(line), "missing {line} in\n{atom}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&site.get("/categories/radio/feed.json").await.body).unwrap();
    assert_eq!(json["icon"], "http://127.0.0.1/icon.png");
    assert_eq!(json["favicon"], "http://127.0.0.1/icon.png");
    let first = &json["items"][1];
    assert_eq!(first["image"], "http://127.0.0.1/posts/radio/ep1/cover.jpg");
    assert_eq!(
        first["attachments"],
        serde_json::json!([{
            "url": "http://127.0.0.1/posts/radio/ep1/ep1.mp3",
            "mime_type": "audio/mpeg",
            "size_in_bytes": 48213
        }])
    );
}

#[tokio::test]
async fn a_picture_post_carries_its_picture_and_its_feed_is_no_podcast() {
    let site = served().await;
    let rss = site.get("/categories/photos/rss.xml").await.text();
    assert!(
        rss.contains(r#"<enclosure url="http://127.0.0.1/posts/photos/dawn/dawn.jpg" length="4096" type="image/jpeg"/>"#),
        "{rss}"
    );
    assert!(!rss.contains("itunes"), "{rss}");
    let json: serde_json::Value =
        serde_json::from_slice(&site.get("/categories/photos/feed.json").await.body).unwrap();
    assert_eq!(
        json["items"][0]["image"],
        "http://127.0.0.1/posts/photos/dawn/dawn.jpg"
    );
    assert_eq!(json["items"][0].get("attachments"), None);
}

#[tokio::test]
async fn the_icon_is_served_at_favicon_ico_and_in_its_own_name() {
    let site = served().await;
    for path in ["/favicon.ico", "/icon.png"] {
        let got = site.get(path).await;
        assert_eq!(got.status, StatusCode::OK, "{path}");
        assert_eq!(got.header("content-type"), "image/png", "{path}");
        assert_eq!(&got.body[..], PNG, "{path}");
    }
}

#[tokio::test]
async fn without_an_icon_favicon_ico_is_404() {
    let dir = folder(
        "[site]\nbase_url = \"http://127.0.0.1\"\n[posts]\nrescan_secs = 0\n",
        &[("a.md", "---\ntitle: A\n---\nA.\n")],
    );
    let site = Site::serve(dir).await;
    site.wait_for("/posts/a/", "the post published", |got| {
        got.status == StatusCode::OK
    })
    .await;
    assert_eq!(site.get("/favicon.ico").await.status, StatusCode::NOT_FOUND);
    let rss = site.get("/rss.xml").await.text();
    assert!(!rss.contains("<image>"), "{rss}");
}

#[tokio::test]
async fn feeds_with_pictures_and_audio_pass_the_w3c_validator() {
    let site = served().await;
    let mut checked = 0;
    for dir in [
        "/",
        "/categories/radio/",
        "/categories/photos/",
        "/authors/dana-whitfield/",
        "/tags/night-bus/",
    ] {
        for file in ["rss.xml", "atom.xml", "feed.json"] {
            let url = format!("http://{}{dir}{file}", site.addr);
            let Some(warnings) = tokio::task::spawn_blocking(move || validator_warnings(&url))
                .await
                .unwrap()
            else {
                return;
            };
            // The feeds name their public address; the validator fetched them from
            // the port the test bound.
            let other: Vec<&String> = warnings
                .iter()
                .filter(|w| !w.contains("Self reference doesn't match document location"))
                .collect();
            assert!(other.is_empty(), "{dir}{file}: {warnings:#?}");
            checked += 1;
        }
    }
    println!("W3C validator: {checked} feeds pass");
}

#[test]
fn build_writes_the_media_and_the_icon_where_they_are_served() {
    let dir = site_folder();
    let config = dropfeed::config::Config::load(&dir.path().join("config.toml")).unwrap();
    let mut state = dropfeed::state::State::for_build(&config, true).unwrap();
    let out = dir.path().join("out");
    let report = dropfeed::build::build(&config, &mut state, &out, chrono::Utc::now()).unwrap();
    assert_eq!(report.posts, 3);
    for (file, len) in [
        ("posts/radio/ep1/ep1.mp3", 48_213),
        ("posts/radio/ep1/cover.jpg", 2_048),
        ("posts/photos/dawn/dawn.jpg", 4_096),
        ("favicon.ico", PNG.len()),
        ("icon.png", PNG.len()),
    ] {
        let bytes = std::fs::read(out.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        assert_eq!(bytes.len(), len, "{file}");
    }
    assert_eq!(
        std::fs::read(out.join("posts/radio/ep1/ep1.mp3")).unwrap(),
        std::fs::read(dir.path().join("posts/radio/ep1/ep1.mp3")).unwrap()
    );
}

/// Regression (review of the media work): the bundled config.toml names `logo.png`, and
/// a config copied without the picture stopped check, build and serve with exit 2. The
/// icon is cosmetic: each says so, naming the key, the full path and the fix, and works.
#[tokio::test]
async fn a_missing_icon_is_a_warning_and_every_command_goes_on() {
    let dir = folder(
        "[site]\nicon = \"logo.png\"\n[posts]\nrescan_secs = 0\n",
        &[("a.md", "---\ntitle: A\ndate: 2024-05-01\n---\nA.\n")],
    );
    let warning = format!(
        " WARN config.toml: key `site.icon`: cannot read {}: No such file or directory (os error 2); put the picture there (the path is relative to this file's folder), or remove the key; the feeds go without an icon until then",
        dir.path().canonicalize().unwrap().join("logo.png").display()
    );
    for args in [&["check"][..], &["build", "--out", "out"][..]] {
        let output = Command::new(env!("CARGO_BIN_EXE_dropfeed"))
            .args(args)
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(
            stderr.lines().filter(|l| l.ends_with(&warning)).count(),
            1,
            "{args:?}: {stderr}"
        );
    }
    let rss = std::fs::read_to_string(dir.path().join("out/rss.xml")).unwrap();
    assert!(
        rss.contains("<title>A</title>") && !rss.contains("<image>"),
        "{rss}"
    );
    assert!(!dir.path().join("out/favicon.ico").exists());

    let served = Served::start(dir.path()).await;
    assert_eq!(served.get("/rss.xml").await.0, StatusCode::OK);
    assert_eq!(served.get("/favicon.ico").await.0, StatusCode::NOT_FOUND);
    assert_eq!(served.lines_ending(&warning), 1, "{:#?}", served.log());
}

/// `dropfeed serve --listen 127.0.0.1:0` run as a process in a site folder, its log
/// (stderr) read line by line.
struct Served {
    child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    addr: String,
}

impl Served {
    /// Starts it and waits until it listens.
    async fn start(dir: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dropfeed"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let stderr = child.stderr.take().unwrap();
        let lines = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
        let mut served = Served {
            child,
            log,
            addr: String::new(),
        };
        served.addr = common::wait_until(common::PATIENCE, "serve listens", || async {
            let log = served.log();
            log.iter()
                .find_map(|line| {
                    Some(
                        line.split_once("listening on http://")?
                            .1
                            .trim()
                            .to_string(),
                    )
                })
                .ok_or_else(|| format!("{log:#?}"))
        })
        .await;
        served
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn lines_ending(&self, text: &str) -> usize {
        self.log().iter().filter(|l| l.ends_with(text)).count()
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = common::site::client()
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Regression (review of the media work): with the bundled config, one post with
/// `audio: ep1.mp3` made the site's, its category's and its author's RSS podcasts the
/// validator warned about (no `itunes:category`, no `itunes:email`). A podcast is opted
/// into: without those keys the audio is a plain enclosure, every feed passes, and
/// `check` and `serve` say once which keys would make a podcast.
#[tokio::test]
async fn audio_on_the_bundled_site_stays_plain_rss_until_the_podcast_keys_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["config.toml", "logo.png"] {
        std::fs::copy(repo.join(file), dir.path().join(file)).unwrap();
    }
    let posts = dir.path().join("posts");
    copy_folder(&repo.join("posts"), &posts);
    common::site::write(
        &posts.join("episode-one/index.md"),
        "---\ntitle: Episode one\ndate: 2024-05-01\nauthor: Dana Whitfield\ncategories: Radio\ntags: [night bus]\naudio: ep1.mp3\n---\nRiders tell us about the night bus.\n",
    );
    std::fs::write(posts.join("episode-one/ep1.mp3"), vec![0xff_u8; 48_213]).unwrap();
    // `serve` names the post by its full path: it holds the posts folder as one.
    let warning = |posts: &Path| {
        format!(
            " WARN config.toml: posts carry audio or video (such as {}), but feeds are plain RSS until `site.itunes_category` and `site.itunes_email` are set (Apple Podcasts needs them)",
            posts.join("episode-one/index.md").display()
        )
    };
    let output = Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .arg("check")
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.ends_with(&warning(Path::new("posts"))))
            .count(),
        1,
        "{stderr}"
    );

    let served = Served::start(dir.path()).await;
    common::wait_until(common::PATIENCE, "the episode published", || async {
        let (status, _) = served.get("/posts/episode-one/").await;
        (status == StatusCode::OK)
            .then_some(())
            .ok_or_else(|| status.to_string())
    })
    .await;
    let full = warning(&dir.path().canonicalize().unwrap().join("posts"));
    assert_eq!(served.lines_ending(&full), 1, "{:#?}", served.log());
    let (_, rss) = served.get("/rss.xml").await;
    let enclosure = format!(
        r#"<enclosure url="http://{}/posts/episode-one/ep1.mp3" length="48213" type="audio/mpeg"/>"#,
        served.addr
    );
    assert!(rss.contains(&enclosure), "{rss}");
    assert!(!rss.contains("itunes"), "{rss}");

    // Every feed the OPML offers (RSS), the episode's topics' RSS, and the site's in
    // every format.
    let (_, opml) = served.get("/opml.xml").await;
    let mut urls: Vec<String> = opml
        .split("xmlUrl=\"")
        .skip(1)
        .filter_map(|rest| Some(rest.split_once('"')?.0.to_string()))
        .collect();
    for path in [
        "/atom.xml",
        "/feed.json",
        "/categories/radio/rss.xml",
        "/authors/dana-whitfield/rss.xml",
        "/tags/night-bus/rss.xml",
    ] {
        let url = format!("http://{}{path}", served.addr);
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    let mut checked = 0;
    for url in urls {
        let shown = url.clone();
        let Some(warnings) = tokio::task::spawn_blocking(move || validator_warnings(&url))
            .await
            .unwrap()
        else {
            return;
        };
        let other: Vec<&String> = warnings
            .iter()
            .filter(|w| !w.contains("Self reference doesn't match document location"))
            .collect();
        assert!(other.is_empty(), "{shown}: {warnings:#?}");
        checked += 1;
    }
    println!("W3C validator: {checked} feeds of the bundled site with an episode pass");
}

/// Copies the folder `from` to `to`, files and subfolders.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
