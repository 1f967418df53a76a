//! What dropfeed reads and writes on disk: nothing outside the posts folder is published
//! through a symlink (`serve`, `build`, `check`), what the listing cannot publish is
//! reported instead of skipped in silence, the bytes of a file are decoded region by
//! region, and `build` replaces its output whole or not at all. Real files, real
//! symlinks, the real binary and the real server on 127.0.0.1:0.

mod common;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};

use common::site::{article, folder, write, Site};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CONFIG: &str = r#"
[site]
base_url = "http://127.0.0.1"
author = "Newsroom"

[posts]
# Off, so every change below is seen by the watcher alone.
rescan_secs = 0
"#;

/// What the linked files hold: none of it may appear anywhere.
const SECRET: &str = "OUTSIDE-SECRET-7f3a";

fn good() -> String {
    article("Ann Lee", "May 1, 2024", "News", "A good post.")
}

/// Runs the binary in `dir`.
fn dropfeed(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run dropfeed")
}

/// Runs `script` with bash in `dir`, the binary as `$DROPFEED`.
fn bash(dir: &Path, script: &str) -> Output {
    Command::new("bash")
        .args(["-c", script])
        .env("DROPFEED", env!("CARGO_BIN_EXE_dropfeed"))
        .current_dir(dir)
        .output()
        .expect("run bash")
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every file under `dir`, by `/`-separated relative path, hidden ones too.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).expect("under dir");
            let bytes = std::fs::read(entry.path()).expect("read");
            found.insert(rel.to_string_lossy().into_owned(), bytes);
        }
    }
    found
}

/// The names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A site folder with `good.txt`, and outside `posts/` a folder holding a post full of
/// [`SECRET`], and links to it and to other files outside: every way out.
fn site_with_links_out() -> tempfile::TempDir {
    let site = folder(CONFIG, &[("good.txt", &good())]);
    let dir = site.path();
    let secret = article("Eve", "May 2, 2024", "News", SECRET);
    write(&dir.join("outside/secret.txt"), &secret);
    write(&dir.join("outside/deeper/more.md"), &secret);
    let posts = dir.join("posts");
    symlink("/etc/passwd", posts.join("leak.txt")).unwrap();
    symlink("../config.toml", posts.join("cfg.txt")).unwrap();
    symlink("../outside/secret.txt", posts.join("secret.txt")).unwrap();
    symlink("../outside", posts.join("ext")).unwrap();
    // Refused before it is opened: opening a device can do things of its own.
    symlink("/dev/null", posts.join("null.md")).unwrap();
    // Inside the posts folder: followed.
    symlink("good.txt", posts.join("alias.txt")).unwrap();
    site
}

/// The reason a link out is refused, with where it leads.
fn link_out(target: &Path) -> String {
    format!(
        "links to {}: links outside the posts folder are not published; copy the file in instead",
        target.display()
    )
}

fn real(path: &Path) -> std::path::PathBuf {
    std::fs::canonicalize(path).unwrap()
}

/// Regression (issue 9): `ln -s /etc/passwd posts/leak.txt` put `root:x:0:0` in every
/// feed and at `/posts/leak/`; a linked folder outside `posts/` was entered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_publishes_nothing_through_links_out_and_lists_them_on_healthz() {
    let site = Site::serve(site_with_links_out()).await;
    let dir = real(site.path());
    let feed = site.get("/rss.xml").await;
    assert_eq!(feed.status, StatusCode::OK);
    let feed = feed.text();
    assert!(feed.contains("/posts/good/"), "{feed}");
    assert!(
        feed.contains("/posts/alias/"),
        "a link inside is followed: {feed}"
    );
    for route in [
        "/posts/leak/",
        "/posts/cfg/",
        "/posts/secret/",
        "/posts/ext/deeper/more/",
    ] {
        assert_eq!(
            site.get(route).await.status,
            StatusCode::NOT_FOUND,
            "{route}"
        );
    }
    for route in [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/",
        "/authors/eve/rss.xml",
    ] {
        let text = site.get(route).await.text();
        for leaked in ["root:x:0:0", "base_url", SECRET] {
            assert!(!text.contains(leaked), "{route} carries {leaked}");
        }
    }
    let health = site.health().await;
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["posts"], 2);
    assert_eq!(
        health["errors"],
        json!([
            {"path": "cfg.txt", "line": 1, "reason": link_out(&dir.join("config.toml"))},
            {"path": "ext", "line": 1, "reason": link_out(&dir.join("outside"))},
            {"path": "leak.txt", "line": 1, "reason": link_out(Path::new("/etc/passwd"))},
            {"path": "null.md", "line": 1, "reason": link_out(Path::new("/dev/null"))},
            {"path": "secret.txt", "line": 1, "reason": link_out(&dir.join("outside/secret.txt"))},
        ])
    );

    // Made while serving: the watcher's change sets refuse them the same way.
    symlink("/etc/passwd", site.posts().join("leak2.txt")).unwrap();
    symlink("../outside/deeper", site.posts().join("ext2")).unwrap();
    let listed = |health: &Value, path: &str| {
        health["errors"]
            .as_array()
            .is_some_and(|errors| errors.iter().any(|e| e["path"] == path))
    };
    site.wait_for("/healthz", "new links out reported", |got| {
        let health: Value = serde_json::from_slice(&got.body).unwrap();
        listed(&health, "leak2.txt") && listed(&health, "ext2")
    })
    .await;
    let health = site.health().await;
    let errors = health["errors"].as_array().unwrap();
    assert!(errors.contains(&json!({
        "path": "ext2", "line": 1, "reason": link_out(&dir.join("outside/deeper"))
    })));
    assert_eq!(
        site.get("/posts/leak2/").await.status,
        StatusCode::NOT_FOUND
    );

    // A post written into the linked folder is not read, whatever the watcher reports.
    write(
        &site.outside().join("deeper/new.md"),
        &article("Eve", "May 3, 2024", "News", SECRET),
    );
    // Then one inside: once it is published, the change before it was seen too.
    write(&site.posts().join("later.txt"), &good());
    site.wait_for("/rss.xml", "later post published", |got| {
        got.text().contains("/posts/later/")
    })
    .await;
    assert!(!site.get("/rss.xml").await.text().contains(SECRET));
    // The watcher does not enter linked folders either: a file written behind a link
    // is not even a refusal on /healthz, only the link itself is.
    let health = site.health().await;
    let behind_links: Vec<&Value> = health["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.contains('/')))
        .collect();
    assert_eq!(behind_links, Vec::<&Value>::new());
    assert_eq!(
        site.get("/posts/ext2/new/").await.status,
        StatusCode::NOT_FOUND
    );

    // Removing a link takes it off /healthz at once.
    std::fs::remove_file(site.posts().join("ext2")).unwrap();
    site.wait_for("/healthz", "removed link no longer listed", |got| {
        let health: Value = serde_json::from_slice(&got.body).unwrap();
        !listed(&health, "ext2")
    })
    .await;
    site.stop().await;
}

#[test]
fn check_and_build_refuse_links_out_and_follow_links_inside() {
    let site = site_with_links_out();
    let dir = real(site.path());
    let output = dropfeed(site.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&output),
        vec![
            format!("posts/cfg.txt:1: {}", link_out(&dir.join("config.toml"))),
            format!("posts/ext:1: {}", link_out(&dir.join("outside"))),
            format!("posts/leak.txt:1: {}", link_out(Path::new("/etc/passwd"))),
            format!("posts/null.md:1: {}", link_out(Path::new("/dev/null"))),
            format!(
                "posts/secret.txt:1: {}",
                link_out(&dir.join("outside/secret.txt"))
            ),
        ]
    );

    let output = dropfeed(site.path(), &["build", "--out", "out", "--no-state"]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "skipped posts/leak.txt:1: {}",
            link_out(Path::new("/etc/passwd"))
        )),
        "{stderr}"
    );
    let built = files(&site.path().join("out"));
    assert!(built.contains_key("posts/alias/index.html"));
    assert!(built.contains_key("posts/good/index.html"));
    for (name, bytes) in &built {
        for refused in ["posts/leak", "posts/cfg", "posts/secret", "posts/ext"] {
            assert!(!name.starts_with(refused), "{name} was written");
        }
        let text = String::from_utf8_lossy(bytes);
        for leaked in [
            "root:x:0:0",
            "base_url",
            SECRET,
            "posts/secret",
            "posts/leak",
            "posts/cfg",
            "posts/ext",
        ] {
            assert!(!text.contains(leaked), "{name} carries {leaked}");
        }
    }
}

/// A change set's listing of one folder (what the watcher reports) walks nothing
/// outside either: not a link, nor a folder reached through one.
#[test]
fn a_listing_of_one_folder_never_walks_through_a_link() {
    let site = site_with_links_out();
    let posts = site.path().join("posts");
    let dir = real(site.path());
    for rel in ["ext", "ext/deeper"] {
        let listing = dropfeed::scan::list_under(&posts, rel).unwrap();
        assert_eq!(listing.files, Vec::<String>::new(), "{rel}");
        let problems: Vec<String> = listing.problems.iter().map(|p| p.to_string()).collect();
        let expected = match rel {
            "ext" => vec![format!("ext:1: {}", link_out(&dir.join("outside")))],
            _ => vec![],
        };
        assert_eq!(problems, expected, "{rel}");
    }
    let whole = dropfeed::scan::list(&posts);
    assert_eq!(
        whole.files,
        vec![
            "alias.txt",
            "cfg.txt",
            "good.txt",
            "leak.txt",
            "null.md",
            "secret.txt"
        ]
    );
}

/// The check of the file actually opened: a folder on the way to a post, swapped for a
/// link out between the check of the path and the open, as fast as it can be, never
/// lets a read return the file outside. (Without that check, some reads do.)
#[test]
fn a_folder_swapped_for_a_link_while_a_post_is_read_never_reads_outside() {
    let site = folder(CONFIG, &[("real/x.txt", "inside\n")]);
    let posts = site.path().join("posts");
    write(&site.path().join("outside/x.txt"), SECRET);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (posts, stop) = (posts.clone(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            let (real, stash) = (posts.join("real"), posts.join("stash"));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::fs::rename(&real, &stash).unwrap();
                symlink("../outside", &real).unwrap();
                std::fs::remove_file(&real).unwrap();
                std::fs::rename(&stash, &real).unwrap();
            }
        })
    };
    let path = posts.join("real/x.txt");
    let (mut inside, mut refused) = (0, 0);
    // Until both outcomes were seen many times; the cap only stops a machine that
    // never runs the other thread.
    for _ in 0..2_000_000 {
        if inside >= 2000 && refused >= 2000 {
            break;
        }
        match dropfeed::scan::read(&path, "real/x.txt", 4096) {
            Ok(source) => {
                assert_eq!(String::from_utf8_lossy(&source.bytes), "inside\n");
                inside += 1;
            }
            // Refused, or caught while the folder was moved aside.
            Err(_) => refused += 1,
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    assert!(
        inside >= 2000 && refused >= 2000,
        "{inside} read, {refused} refused"
    );
}

/// Makes a folder under `posts` whose path is longer than PATH_MAX: it cannot be read
/// even by root, so it stands in for any unreadable folder. Made one level at a time
/// with relative paths, so no path given to mkdir is too long.
fn make_unreadable_folder(posts: &Path) {
    let name = "d".repeat(250);
    let script = format!(
        "mkdir -p deep && cd deep && for i in $(seq 20); do mkdir {name} && cd {name}; done && echo hi > lost.txt"
    );
    assert!(bash(posts, &script).status.success());
}

/// Regression (issue 9): a file name that is not UTF-8 was skipped without a word; an
/// unreadable folder was only logged by `serve`, and `/healthz` said `ok`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_folders_and_names_not_utf8_show_on_healthz() {
    let dir = folder(CONFIG, &[("good.txt", &good())]);
    let posts = dir.path().join("posts");
    let name = std::ffi::OsStr::from_bytes(b"caf\xE9.txt");
    std::fs::write(posts.join(name), good()).unwrap();
    std::fs::create_dir(posts.join(std::ffi::OsStr::from_bytes(b"d\xE9j\xE0"))).unwrap();
    // Not a post file: its name is nobody's business.
    std::fs::write(
        posts.join(std::ffi::OsStr::from_bytes(b"x\xFF.png")),
        b"png",
    )
    .unwrap();
    make_unreadable_folder(&posts);
    let site = Site::serve(dir).await;
    let health = site.health().await;
    assert_eq!(health["status"], "degraded");
    let errors = health["errors"].as_array().unwrap();
    let paths: Vec<&str> = errors.iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths.len(), 3, "{errors:?}");
    assert_eq!(paths[0], "caf\u{FFFD}.txt");
    assert!(paths[1].starts_with("deep/dddd"), "{}", paths[1]);
    assert_eq!(paths[2], "d\u{FFFD}j\u{FFFD}");
    assert_eq!(
        errors[0]["reason"],
        "file name is not UTF-8, so it is not published; rename it to UTF-8"
    );
    assert_eq!(
        errors[1]["reason"],
        "cannot read this folder, so its posts are left out: File name too long (os error 36); check its permissions"
    );
    assert_eq!(
        errors[2]["reason"],
        "folder name is not UTF-8, so its posts are left out; rename it to UTF-8"
    );
    site.stop().await;
}

#[test]
fn check_reports_names_not_utf8_and_posts_dated_far_ahead() {
    let site = folder(CONFIG, &[("good.txt", &good())]);
    let posts = site.path().join("posts");
    std::fs::write(
        posts.join(std::ffi::OsStr::from_bytes(b"caf\xE9.md")),
        good(),
    )
    .unwrap();
    write(
        &posts.join("far.md"),
        "---\ntitle: Far\ndate: 9999-01-01\n---\nLater.\n",
    );
    // Scheduled for next week: a plan, not a typo.
    let soon = chrono::Utc::now() + chrono::TimeDelta::days(7);
    write(
        &posts.join("soon.md"),
        &format!(
            "---\ntitle: Soon\ndate: {}\n---\nSoon.\n",
            soon.format("%Y-%m-%d")
        ),
    );
    let output = dropfeed(site.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&output),
        vec![
            "posts/caf\u{FFFD}.md:1: file name is not UTF-8, so it is not published; rename it to UTF-8",
            "posts/far.md:1: warning: dated 9999-01-01, more than a year ahead; it will not appear until then",
        ]
    );
    let output = dropfeed(site.path(), &["build", "--out", "out", "--no-state"]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("skipped posts/caf\u{FFFD}.md:1: file name is not UTF-8"),
        "{stderr}"
    );
}

/// Regression (issue 9): one `\xff` in a UTF-8 file made it all Windows-1252: author
/// "JosÃ© NÃºÃ±ez", category slug `sa-o-paulo`.
#[test]
fn a_stray_byte_costs_that_byte_and_utf16_without_bom_is_read() {
    let site = folder(CONFIG, &[]);
    let posts = site.path().join("posts");
    std::fs::write(
        posts.join("stray.txt"),
        b"Posted by Jos\xC3\xA9 N\xC3\xBA\xC3\xB1ez on May 1, 2024\nCategories: S\xC3\xA3o Paulo\n\nA stray \xFF byte.\n",
    )
    .unwrap();
    let mut utf16 = Vec::new();
    for unit in article("Ann Lee", "May 2, 2024", "News", "Saved as UTF-16.").encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    std::fs::write(posts.join("utf16.txt"), utf16).unwrap();
    let output = dropfeed(site.path(), &["check"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout_lines(&output),
        vec![
            "posts/stray.txt:1: warning: 1 byte that is not UTF-8 removed, the first at line 4, column 9; save the file as UTF-8",
            "posts/utf16.txt:1: warning: UTF-16 without a byte-order mark; read as UTF-16, save the file as UTF-8",
        ]
    );
    let output = dropfeed(site.path(), &["build", "--out", "out", "--no-state"]);
    assert!(output.status.success());
    let out = site.path().join("out");
    let feed = std::fs::read_to_string(out.join("categories/sao-paulo/rss.xml")).unwrap();
    assert!(
        feed.contains("<dc:creator>José Núñez</dc:creator>"),
        "{feed}"
    );
    assert!(feed.contains("A stray  byte."), "{feed}");
    let news = std::fs::read_to_string(out.join("categories/news/rss.xml")).unwrap();
    assert!(news.contains("Saved as UTF-16."), "{news}");
}

/// A site for the build tests: two posts and the empty config.
fn build_site() -> tempfile::TempDir {
    let site = folder("", &[("good.txt", &good())]);
    write(
        &site.path().join("posts/second.txt"),
        &article("Bo Chen", "May 3, 2024", "Weather", "Rain."),
    );
    site
}

fn build(site: &Path, out: &str) -> Output {
    dropfeed(site, &["build", "--out", out, "--no-state"])
}

#[test]
fn build_into_a_file_says_to_choose_a_folder() {
    let site = build_site();
    write(&site.path().join("notes.txt"), "mine");
    let output = build(site.path(), "notes.txt");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).lines().last(),
        Some("error: notes.txt is a file, not a folder; choose a folder for --out")
    );
    assert_eq!(
        std::fs::read(site.path().join("notes.txt")).unwrap(),
        b"mine"
    );
}

/// Regression (issue 9): a build into the folder of an earlier one left the pages of
/// posts deleted since.
#[test]
fn a_rebuild_leaves_no_page_of_a_deleted_post() {
    let site = build_site();
    assert!(build(site.path(), "out").status.success());
    let out = site.path().join("out");
    assert!(out.join("posts/second/index.html").is_file());
    assert!(out.join("categories/weather/rss.xml").is_file());
    std::fs::remove_file(site.path().join("posts/second.txt")).unwrap();
    assert!(build(site.path(), "out").status.success());
    let built = files(&out);
    let stale: Vec<&String> = built
        .keys()
        .filter(|name| {
            name.contains("second") || name.contains("weather") || name.contains("bo-chen")
        })
        .collect();
    assert_eq!(stale, Vec::<&String>::new());
    assert!(built.contains_key("posts/good/index.html"));
    assert!(built.contains_key(".dropfeed-build"));
    // Nothing left beside it.
    assert_eq!(
        names(site.path()),
        vec!["config.toml", "out", "outside", "posts"]
    );
}

/// A post big enough that some file of its build is over the 128 KiB the failing builds
/// below may write.
/// A post of 129 KB: just under the content a feed item carries whole
/// (`feed::MAX_ITEM_CONTENT`), so each of its nine feeds is over 128 KiB.
fn add_big_post(site: &Path) {
    let body = "Word ".repeat(25_800);
    write(
        &site.join("posts/big.txt"),
        &article("Ann Lee", "May 4, 2024", "News", &body),
    );
}

/// A write that fails half-way, as on a full disk: `ulimit -f` makes every write past
/// 128 KiB fail (EFBIG, with SIGXFSZ ignored), the same error path as ENOSPC.
#[test]
fn a_build_that_fails_writing_leaves_the_previous_output_byte_identical() {
    let site = build_site();
    assert!(build(site.path(), "out").status.success());
    let before = files(&site.path().join("out"));
    add_big_post(site.path());
    let output = bash(
        site.path(),
        "trap '' XFSZ; ulimit -f 128; exec \"$DROPFEED\" build --out out --no-state",
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot write: File too large"), "{stderr}");
    assert!(
        files(&site.path().join("out")) == before,
        "the previous output changed"
    );
    assert_eq!(
        names(site.path()),
        vec!["config.toml", "out", "outside", "posts"]
    );
}

/// Killed in the middle (SIGXFSZ's default action, at the first write past the
/// limit): the previous output stays, and the next build clears what was left.
#[test]
fn a_build_killed_midway_leaves_the_previous_output_and_the_next_clears_up() {
    let site = build_site();
    assert!(build(site.path(), "out").status.success());
    let before = files(&site.path().join("out"));
    add_big_post(site.path());
    let output = bash(
        site.path(),
        "ulimit -f 128; \"$DROPFEED\" build --out out --no-state; echo \"status $?\"",
    );
    // 128 + SIGXFSZ (25).
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "status 153\n",
        "{output:?}"
    );
    assert!(
        files(&site.path().join("out")) == before,
        "the previous output changed"
    );
    let left: Vec<String> = names(site.path())
        .into_iter()
        .filter(|n| n.starts_with(".out.dropfeed-tmp-"))
        .collect();
    assert_eq!(left.len(), 1, "the killed build's folder: {left:?}");

    assert!(build(site.path(), "out").status.success());
    assert!(site.path().join("out/posts/big/index.html").is_file());
    assert_eq!(
        names(site.path()),
        vec!["config.toml", "out", "outside", "posts"]
    );
}

/// `--out` is replaced whole, so a folder that holds anything else is refused; an
/// empty one and an earlier build (with the marker, or from before it) are not.
#[test]
fn build_replaces_only_an_empty_folder_or_an_earlier_build() {
    let site = build_site();
    write(&site.path().join("mine/CNAME"), "news.example.org");
    let output = build(site.path(), "mine");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).lines().last(),
        Some("error: mine is not empty and is not the output of an earlier build; --out is replaced whole, so choose an empty or new folder")
    );
    assert_eq!(names(&site.path().join("mine")), vec!["CNAME"]);
    // The site folder itself, most of all.
    assert_eq!(build(site.path(), ".").status.code(), Some(2));
    assert!(site.path().join("posts/good.txt").is_file());

    std::fs::create_dir(site.path().join("empty")).unwrap();
    assert!(build(site.path(), "empty").status.success());
    // Written by a build before the marker.
    for name in ["index.html", "opml.xml", "_redirects", "old.html"] {
        write(&site.path().join("legacy").join(name), "old");
    }
    assert!(build(site.path(), "legacy").status.success());
    assert!(!site.path().join("legacy/old.html").exists());
}

/// Runs `script` with bash in a private mount namespace in `site` (the binary as
/// `$DROPFEED`), so a tmpfs mounted there goes with it. `None` where no namespace can
/// be had (not root): the `ulimit -f` tests above cover the same error path there.
fn in_mount_namespace(site: &Path, script: &str) -> Option<Output> {
    let output = Command::new("unshare")
        .args(["-m", "bash", "-c", script])
        .env("DROPFEED", env!("CARGO_BIN_EXE_dropfeed"))
        .current_dir(site)
        .output()
        .expect("run unshare");
    // 1: unshare refused; 99: the script's mount was.
    if output.status.code() == Some(1) || output.status.code() == Some(99) {
        eprintln!(
            "skipped: no mount namespace here ({})",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    Some(output)
}

/// Regression (issue 9): on a full disk `build` left 7 partial files. For real: a 1 MiB
/// tmpfs that holds the first build and not the second.
#[test]
fn a_full_disk_leaves_the_previous_output_and_no_partial_file() {
    let site = build_site();
    std::fs::create_dir(site.path().join("disk")).unwrap();
    std::fs::create_dir(site.path().join("saved")).unwrap();
    add_big_post(site.path());
    std::fs::rename(
        site.path().join("posts/big.txt"),
        site.path().join("big.txt"),
    )
    .unwrap();
    let script = r#"
        mount -t tmpfs -o size=1m tmpfs disk || exit 99
        "$DROPFEED" build --out disk/out --no-state || exit 98
        cp -a disk/out saved/first
        mv big.txt posts/big.txt
        "$DROPFEED" build --out disk/out --no-state
        echo "status $?"
        cp -a disk/out saved/after
        ls -A disk > saved/disk-names
    "#;
    let Some(output) = in_mount_namespace(site.path(), script) else {
        return;
    };
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "status 2\n",
        "{output:?}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let saved = site.path().join("saved");
    assert!(saved.join("first/posts/good/index.html").is_file());
    assert!(files(&saved.join("after")) == files(&saved.join("first")));
    assert_eq!(
        std::fs::read_to_string(saved.join("disk-names")).unwrap(),
        "out\n"
    );
}

/// `--out` a mount point (a container's volume), which nothing can be renamed over: the
/// files are staged inside it, a rebuild still leaves no stale page, and a full disk
/// still leaves the previous output.
#[test]
fn a_build_into_a_mount_point_is_replaced_in_place() {
    let site = build_site();
    std::fs::create_dir(site.path().join("out")).unwrap();
    std::fs::create_dir(site.path().join("saved")).unwrap();
    add_big_post(site.path());
    std::fs::rename(
        site.path().join("posts/big.txt"),
        site.path().join("big.txt"),
    )
    .unwrap();
    let script = r#"
        mount -t tmpfs -o size=1m tmpfs out || exit 99
        "$DROPFEED" build --out out --no-state || exit 98
        rm posts/second.txt
        "$DROPFEED" build --out out --no-state || exit 97
        cp -a out saved/first
        mv big.txt posts/big.txt
        "$DROPFEED" build --out out --no-state
        echo "status $?"
        cp -a out saved/after
    "#;
    let Some(output) = in_mount_namespace(site.path(), script) else {
        return;
    };
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "status 2\n",
        "{output:?}"
    );
    let saved = site.path().join("saved");
    let first = files(&saved.join("first"));
    assert!(first.contains_key("posts/good/index.html"));
    let stale: Vec<&String> = first.keys().filter(|n| n.contains("second")).collect();
    assert_eq!(stale, Vec::<&String>::new());
    assert!(files(&saved.join("after")) == first);
}
