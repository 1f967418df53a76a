//! Files beside posts, served by the real daemon: pictures, audio and PDFs at the URLs
//! their post's content resolves to, byte for byte, with ranges, conditional GET, and
//! nothing from outside the posts folder.

mod common;

use common::site::{folder, Got, Site};
use reqwest::{Method, StatusCode};

const CONFIG: &str = r#"
[site]
base_url = "http://127.0.0.1"

[posts]
rescan_secs = 0
"#;

/// Bytes that are no text: every byte value, over several 64 KiB chunks, with no
/// repeat at a chunk's length, so a misplaced chunk or range shows.
fn binary(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 7) as u8
        })
        .collect()
}

const LAUNCH: &str = "---\ntitle: Launch\ndate: 2024-05-01\n---\nThe launch, in a picture: ![the launch](photo.jpg)\n\n[Episode one](ep1.mp3)\n";

impl Site {
    /// Waits until `post` (its page) is published.
    async fn published(&self, page: &str) {
        self.wait_for(page, "the post published", |got| {
            got.status == StatusCode::OK
        })
        .await;
    }

    async fn ask(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Got {
        self.request(method, path, headers).await
    }
}

/// A page bundle: `posts/launch/index.md` beside its picture and its audio.
async fn bundle(photo: &[u8], audio: &[u8]) -> Site {
    let dir = folder(CONFIG, &[("launch/index.md", LAUNCH)]);
    std::fs::write(dir.path().join("posts/launch/photo.jpg"), photo).unwrap();
    std::fs::write(dir.path().join("posts/launch/ep1.mp3"), audio).unwrap();
    let site = Site::serve(dir).await;
    site.published("/posts/launch/").await;
    site
}

#[tokio::test]
async fn a_served_image_matches_its_file_byte_for_byte() {
    let photo = binary(200_000, 1);
    let site = bundle(&photo, &binary(10, 2)).await;
    // The post's content links to the picture where it is served.
    let feed = site.get("/rss.xml").await;
    assert!(
        feed.text()
            .contains(r#"<img src="http://127.0.0.1/posts/launch/photo.jpg" alt="the launch">"#),
        "{}",
        feed.text()
    );
    let got = site.get("/posts/launch/photo.jpg").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("content-type"), "image/jpeg");
    assert_eq!(got.header("content-length"), "200000");
    assert_eq!(got.header("accept-ranges"), "bytes");
    assert_eq!(got.header("x-content-type-options"), "nosniff");
    assert_eq!(got.header("cache-control"), "public, max-age=300");
    assert!(got.header("etag").starts_with('"'), "{:?}", got.headers);
    assert!(got.body[..] == photo[..], "the body differs from the file");
    // Never compressed, whatever the client accepts.
    let got = site
        .ask(
            Method::GET,
            "/posts/launch/photo.jpg",
            &[("accept-encoding", "gzip, br")],
        )
        .await;
    assert_eq!(got.header("content-encoding"), "");
    assert!(got.body[..] == photo[..]);
}

#[tokio::test]
async fn a_range_request_on_an_audio_file_returns_206_with_the_right_bytes() {
    let audio = binary(300_000, 3);
    let site = bundle(&binary(10, 4), &audio).await;
    let path = "/posts/launch/ep1.mp3";
    let got = site
        .ask(Method::GET, path, &[("range", "bytes=100000-230000")])
        .await;
    assert_eq!(got.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(got.header("content-type"), "audio/mpeg");
    assert_eq!(got.header("content-range"), "bytes 100000-230000/300000");
    assert_eq!(got.header("content-length"), "130001");
    assert!(
        got.body[..] == audio[100_000..=230_000],
        "the range's bytes differ"
    );

    let got = site
        .ask(Method::GET, path, &[("range", "bytes=-100")])
        .await;
    assert_eq!(got.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(got.header("content-range"), "bytes 299900-299999/300000");
    assert!(got.body[..] == audio[299_900..]);

    let got = site
        .ask(Method::GET, path, &[("range", "bytes=299998-")])
        .await;
    assert_eq!(got.status, StatusCode::PARTIAL_CONTENT);
    assert!(got.body[..] == audio[299_998..]);

    let got = site
        .ask(Method::GET, path, &[("range", "bytes=300000-")])
        .await;
    assert_eq!(got.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(got.header("content-range"), "bytes */300000");
    assert!(got.body.is_empty());

    // If-Range: the range while the file is the one the client has, else all of it.
    let etag = site.get(path).await.header("etag").to_string();
    let got = site
        .ask(
            Method::GET,
            path,
            &[("range", "bytes=0-9"), ("if-range", &etag)],
        )
        .await;
    assert_eq!(got.status, StatusCode::PARTIAL_CONTENT);
    assert!(got.body[..] == audio[..10]);
    let got = site
        .ask(
            Method::GET,
            path,
            &[("range", "bytes=0-9"), ("if-range", "\"stale\"")],
        )
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.body[..] == audio[..]);

    // Several ranges: the whole file, as RFC 9110 allows.
    let got = site
        .ask(Method::GET, path, &[("range", "bytes=0-1,5-6")])
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body.len(), 300_000);

    // HEAD: the headers of the whole file, no body.
    let got = site
        .ask(Method::HEAD, path, &[("range", "bytes=0-9")])
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("content-length"), "300000");
    assert_eq!(got.header("accept-ranges"), "bytes");
    assert!(got.body.is_empty());
}

#[tokio::test]
async fn media_answers_conditional_gets_and_a_changed_file_gets_a_new_etag() {
    let site = bundle(&binary(5000, 5), &binary(10, 6)).await;
    let path = "/posts/launch/photo.jpg";
    let first = site.get(path).await;
    let etag = first.header("etag").to_string();
    let modified = first.header("last-modified").to_string();
    let got = site
        .ask(Method::GET, path, &[("if-none-match", &etag)])
        .await;
    assert_eq!(got.status, StatusCode::NOT_MODIFIED);
    assert_eq!(got.header("etag"), etag);
    assert!(got.body.is_empty());
    let got = site
        .ask(Method::GET, path, &[("if-modified-since", &modified)])
        .await;
    assert_eq!(got.status, StatusCode::NOT_MODIFIED);

    let edited = binary(6000, 7);
    std::fs::write(site.posts().join("launch/photo.jpg"), &edited).unwrap();
    let got = site
        .ask(Method::GET, path, &[("if-none-match", &etag)])
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_ne!(got.header("etag"), etag);
    assert!(got.body[..] == edited[..]);
}

#[tokio::test]
async fn a_file_beside_a_post_in_a_shared_folder_is_under_the_posts_page() {
    let dir = folder(
        CONFIG,
        &[
            (
                "2019/bus.md",
                "---\ntitle: Bus\ndate: 2019-03-03\n---\n![map](map.png)\n",
            ),
            (
                "2019/ferry.md",
                "---\ntitle: Ferry\ndate: 2019-03-04\n---\nNo map.\n",
            ),
        ],
    );
    let map = binary(3000, 8);
    std::fs::write(dir.path().join("posts/2019/map.png"), &map).unwrap();
    let site = Site::serve(dir).await;
    site.published("/posts/2019/bus/").await;
    let page = site.get("/posts/2019/bus/").await;
    assert!(
        page.text()
            .contains("http://127.0.0.1/posts/2019/bus/map.png"),
        "{}",
        page.text()
    );
    let got = site.get("/posts/2019/bus/map.png").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("content-type"), "image/png");
    assert!(got.body[..] == map[..]);
    // Where the file itself is, no page's links lead: nothing is served there.
    assert_eq!(
        site.get("/posts/2019/map.png").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn with_html_permalinks_files_are_beside_the_page_in_its_folder() {
    let config = CONFIG.replace(
        "[site]\n",
        "[site]\npermalink = \"/:year/:month/:slug.html\"\n",
    );
    let dir = folder(
        &config,
        &[(
            "2019/bus.md",
            "---\ntitle: Bus\nslug: bus\ndate: 2019-03-03\n---\n![map](map.png)\n",
        )],
    );
    let map = binary(3000, 9);
    std::fs::write(dir.path().join("posts/2019/map.png"), &map).unwrap();
    let site = Site::serve(dir).await;
    site.published("/2019/03/bus.html").await;
    assert!(site
        .get("/2019/03/bus.html")
        .await
        .text()
        .contains("http://127.0.0.1/2019/03/map.png"));
    let got = site.get("/2019/03/map.png").await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.body[..] == map[..]);
}

#[tokio::test]
async fn nothing_but_media_inside_the_posts_folder_is_served() {
    let site = bundle(&binary(100, 10), &binary(100, 11)).await;
    let posts = site.posts();
    let secret = site.outside().join("secret.jpg");
    std::fs::write(&secret, b"secret").unwrap();
    std::os::unix::fs::symlink(&secret, posts.join("launch/leak.jpg")).unwrap();
    std::os::unix::fs::symlink(site.outside(), posts.join("launch/out")).unwrap();
    std::fs::write(posts.join("launch/.hidden.jpg"), b"hidden").unwrap();
    std::fs::write(
        posts.join("launch/notes.html"),
        b"<script>alert(1)</script>",
    )
    .unwrap();
    std::fs::write(posts.join("launch/photo.jpg~"), b"leftover").unwrap();
    std::fs::write(
        posts.join("launch/draft.md"),
        b"---\ndraft: true\n---\nsecret\n",
    )
    .unwrap();
    // A link inside the posts folder is fine.
    std::os::unix::fs::symlink(
        posts.join("launch/photo.jpg"),
        posts.join("launch/same.jpg"),
    )
    .unwrap();
    // Files are looked up when asked for: no publish to wait for.
    assert_eq!(
        site.get("/posts/launch/same.jpg").await.status,
        StatusCode::OK
    );
    for path in [
        "/posts/launch/leak.jpg",
        "/posts/launch/out/secret.jpg",
        "/posts/launch/.hidden.jpg",
        "/posts/launch/notes.html",
        "/posts/launch/photo.jpg~",
        "/posts/launch/draft.md",
        "/posts/launch/index.md",
        "/posts/launch/..%2f..%2fconfig.toml",
    ] {
        let got = site.get(path).await;
        assert_eq!(got.status, StatusCode::NOT_FOUND, "{path}: {}", got.text());
    }
}

#[tokio::test]
async fn a_link_into_a_subfolder_of_a_bundle_is_served_from_it() {
    let site = bundle(&binary(10, 12), &binary(10, 13)).await;
    std::fs::create_dir(site.posts().join("launch/img")).unwrap();
    let pdf = binary(7000, 14);
    std::fs::write(site.posts().join("launch/img/plan.pdf"), &pdf).unwrap();
    // No page at /posts/launch/img/: the longest page folder that matches is the post's.
    let got = site.get("/posts/launch/img/plan.pdf").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("content-type"), "application/pdf");
    assert!(got.body[..] == pdf[..]);
}

#[tokio::test]
async fn an_enclosure_that_is_not_beside_the_post_is_left_out_with_a_warning() {
    let dir = folder(
        CONFIG,
        &[(
            "ep.md",
            "---\ntitle: Ep\ndate: 2024-05-01\naudio: missing.mp3\n---\nSoon.\n",
        )],
    );
    let site = Site::serve(dir).await;
    site.published("/posts/ep/").await;
    let health = site.health().await;
    assert_eq!(
        health["warnings"][0]["reason"],
        "key `enclosure`: `missing.mp3` is not a file beside the post; put it in the post's folder, or give a URL; the post is published without it"
    );
    assert_eq!(health["warnings"][0]["path"], "ep.md");
    let rss = site.get("/rss.xml").await.text();
    assert!(!rss.contains("<enclosure"), "{rss}");
}

/// Regression (review of the media work): a post in the posts folder itself has the
/// whole folder as its own, so under its page any path reached any file in `posts/`:
/// `/posts/night-bus-pilot/embargo/ep.mp3` served a draft bundle's audio that
/// `/posts/embargo/ep.mp3` kept back.
#[tokio::test]
async fn a_bundles_files_are_served_under_its_own_post_only() {
    let dir = folder(
        CONFIG,
        &[
            (
                "night-bus-pilot.md",
                "---\ntitle: Night bus\ndate: 2019-03-03\n---\n![map](map.png)\n",
            ),
            (
                "embargo/index.md",
                "---\ntitle: Embargo\ndate: 2024-05-01\ndraft: true\naudio: ep.mp3\n---\nNot yet.\n",
            ),
            (
                "later/index.md",
                "---\ntitle: Later\ndate: 2999-01-01\n---\n![plan](plan.pdf)\n",
            ),
            ("broken/index.md", "---\ntitle: Broken\n---\nA\u{0}B\n"),
            ("launch/index.md", LAUNCH),
            // A folder of a bundle holding a post of its own, a draft.
            (
                "launch/extra/index.md",
                "---\ntitle: Extra\ndate: 2024-05-02\ndraft: true\n---\nNot yet.\n",
            ),
        ],
    );
    let posts = dir.path().join("posts");
    let (map, ep, plan, broken, photo, extra, shared) = (
        binary(100, 20),
        binary(100, 21),
        binary(100, 22),
        binary(100, 23),
        binary(100, 24),
        binary(100, 25),
        binary(100, 26),
    );
    std::fs::write(posts.join("map.png"), &map).unwrap();
    std::fs::write(posts.join("embargo/ep.mp3"), &ep).unwrap();
    std::fs::write(posts.join("later/plan.pdf"), &plan).unwrap();
    std::fs::write(posts.join("broken/a.jpg"), &broken).unwrap();
    std::fs::write(posts.join("launch/photo.jpg"), &photo).unwrap();
    std::fs::write(posts.join("launch/extra/x.jpg"), &extra).unwrap();
    // A folder with no post file in it is the folder's posts' to link to.
    std::fs::create_dir_all(posts.join("shared/img")).unwrap();
    std::fs::write(posts.join("shared/img/logo.png"), &shared).unwrap();
    let site = Site::serve(dir).await;
    site.published("/posts/night-bus-pilot/").await;
    site.published("/posts/launch/").await;

    for (path, bytes) in [
        ("/posts/night-bus-pilot/map.png", &map),
        ("/posts/night-bus-pilot/shared/img/logo.png", &shared),
        ("/posts/launch/photo.jpg", &photo),
    ] {
        let got = site.get(path).await;
        assert_eq!(got.status, StatusCode::OK, "{path}");
        assert!(got.body[..] == bytes[..], "{path}: the body differs");
    }
    for path in [
        // A draft's, a scheduled post's and a failed file's bundles: not at all.
        "/posts/embargo/ep.mp3",
        "/posts/night-bus-pilot/embargo/ep.mp3",
        "/posts/later/plan.pdf",
        "/posts/night-bus-pilot/later/plan.pdf",
        "/posts/night-bus-pilot/broken/a.jpg",
        // A published bundle's: only under its own page.
        "/posts/night-bus-pilot/launch/photo.jpg",
        // A draft inside a bundle keeps its files from the bundle's post too.
        "/posts/launch/extra/x.jpg",
        "/posts/night-bus-pilot/launch/extra/x.jpg",
    ] {
        let got = site.get(path).await;
        assert_eq!(got.status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// Regression (review of the media work): a file dated ahead of the clock (copied from
/// a machine whose clock runs ahead) was sent with `Last-Modified` capped to each
/// request's time, so a reader polling with `If-Modified-Since` never got a 304.
#[tokio::test]
async fn a_media_file_dated_ahead_of_the_clock_gets_a_304() {
    let site = bundle(&binary(5000, 30), &binary(10, 31)).await;
    let ahead = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(4_102_444_800);
    std::fs::File::options()
        .write(true)
        .open(site.posts().join("launch/photo.jpg"))
        .unwrap()
        .set_modified(ahead)
        .unwrap();
    let path = "/posts/launch/photo.jpg";
    let first = site.get(path).await;
    assert_eq!(first.status, StatusCode::OK);
    let sent = first.header("last-modified").to_string();
    assert!(!sent.contains("2100"), "{sent}");
    let sent_at = chrono::DateTime::parse_from_rfc2822(&sent.replace("GMT", "+0000")).unwrap();
    // A later second, so a date that moves with the clock would be newer by then.
    common::wait_until(common::PATIENCE, "the clock past the date sent", || async {
        (chrono::Utc::now().timestamp() > sent_at.timestamp())
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await;
    let got = site
        .ask(Method::GET, path, &[("if-modified-since", &sent)])
        .await;
    assert_eq!(got.status, StatusCode::NOT_MODIFIED);
    assert_eq!(got.header("last-modified"), sent);
}
