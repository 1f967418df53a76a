//! A first run, as a new user makes it: the real binary and the real daemon over temp
//! folders, on 127.0.0.1:0, with a real HTTP client. Issue 10, "first run just works",
//! "feed details readers use" and "the missing aliases": links that follow the port
//! bound, a missing config or posts folder, `check`'s summary, log lines that name
//! failing files, each cause said once, host names to listen on, feed dates kept in
//! the state database, and the WordPress, Hugo, jekyll-feed and Ghost aliases.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use common::daemon::Daemon as Served;
use common::site::{article, folder, write, Site};
use common::{wait_until, PATIENCE};
use dropfeed::config::Config;
use dropfeed::publish::{Clock, Daemon};
use reqwest::StatusCode;

fn dropfeed(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .output()
        .unwrap()
}

/// Starts `dropfeed serve ARGS` in `dir` and waits until it listens.
async fn serve_in(dir: &Path, args: &[&str]) -> Served {
    let mut command = Served::command();
    command.args(args).current_dir(dir);
    Served::spawn(command).await
}

/// Every `<guid>` of an RSS feed, in order.
fn guids(rss: &str) -> Vec<String> {
    rss.split("<guid")
        .skip(1)
        .filter_map(|item| Some(item.split_once('>')?.1.split_once("</guid>")?.0.to_string()))
        .collect()
}

fn night_bus() -> String {
    article(
        "Ann Lee",
        "March 3, 2019",
        "Transit",
        "The night bus pilot is extended.",
    )
}

// ---- base_url follows the address bound -------------------------------------------------

/// The issue's `serve --listen 127.0.0.1:19100` (or `:0`) wrote every link with `:8080`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unset_base_url_follows_the_port_bound_and_a_new_port_keeps_every_id() {
    let dir = folder("", &[("night-bus.txt", &night_bus())]);
    let site = Site::serve(dir).await;
    let base = format!("http://{}", site.addr);
    let rss = site.get("/rss.xml").await.text();
    assert!(
        rss.contains(&format!(
            r#"<atom:link href="{base}/rss.xml" rel="self" type="application/rss+xml"/>"#
        )),
        "{rss}"
    );
    assert!(
        rss.contains(&format!("<link>{base}/posts/night-bus/</link>")),
        "{rss}"
    );
    let atom = site.get("/categories/transit/atom.xml").await.text();
    assert!(
        atom.contains(&format!(
            r#"<link href="{base}/categories/transit/atom.xml" rel="self""#
        )),
        "{atom}"
    );
    let opml = site.get("/opml.xml").await.text();
    assert!(
        opml.contains(&format!(r#"xmlUrl="{base}/categories/transit/"#)),
        "{opml}"
    );
    assert!(!opml.contains(":8080"), "{opml}");
    let ids = guids(&rss);
    assert_eq!(ids, ["tag:127.0.0.1,2019-03-03:night-bus"]);

    // Served again on another port: the links move, the ids are the ledger's.
    let dir = site.stop().await;
    let site = Site::serve(dir).await;
    let rss = site.get("/rss.xml").await.text();
    assert!(
        rss.contains(&format!(
            "<link>http://{}/posts/night-bus/</link>",
            site.addr
        )),
        "{rss}"
    );
    assert_eq!(guids(&rss), ids);
}

/// A changed port (and so a changed base_url) must not change ids minted before it, even
/// when the base_url is set and names the port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_minted_under_one_port_are_kept_under_another() {
    let dir = folder(
        "[site]\nbase_url = \"http://127.0.0.1:8080\"\n",
        &[("night-bus.txt", &night_bus())],
    );
    let site = Site::serve(dir).await;
    let before = guids(&site.get("/rss.xml").await.text());
    assert_eq!(before, ["tag:127.0.0.1,2019-03-03:night-bus"]);
    let dir = site.stop().await;
    write(
        &dir.path().join("config.toml"),
        "[site]\nbase_url = \"http://localhost:9999\"\n",
    );
    let site = Site::serve(dir).await;
    let rss = site.get("/rss.xml").await.text();
    assert!(
        rss.contains("<link>http://localhost:9999/posts/night-bus/</link>"),
        "{rss}"
    );
    assert_eq!(guids(&rss), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_base_url_that_is_not_the_address_bound_is_warned_about() {
    let dir = folder(
        "[site]\nbase_url = \"http://127.0.0.1:8080\"\n",
        &[("night-bus.txt", &night_bus())],
    );
    let served = serve_in(dir.path(), &["--listen", "127.0.0.1:0"]).await;
    let warning = served.logged("the warning", "`site.base_url` is").await;
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(
        warning.ends_with(&format!(
            "config.toml: `site.base_url` is http://127.0.0.1:8080, but this server listens on {}: every link, self link and OPML entry leads where it does not answer; remove `base_url` to follow the address bound, or set it to \"http://{}\"",
            served.addr, served.addr
        )),
        "{warning}"
    );
}

/// Review: with `base_url` unset, `serve` said nothing of the loopback links a bind on
/// every interface gives other machines, nor of the ids it mints for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unset_base_url_is_warned_about_with_what_it_costs() {
    let dir = folder("", &[("night-bus.txt", &night_bus())]);
    let served = serve_in(dir.path(), &["--listen", "0.0.0.0:0"]).await;
    let warning = served
        .logged("the warning", "listening on every interface")
        .await;
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(
        warning.ends_with(&format!(
            "listening on every interface (0.0.0.0:{port}) with `site.base_url` unset: links name http://127.0.0.1:{port}, which readers on other machines cannot reach; set `site.base_url` in config.toml to the address they use",
            port = served.addr.port()
        )),
        "{warning}"
    );

    let dir = folder("", &[("night-bus.txt", &night_bus())]);
    let served = serve_in(dir.path(), &["--listen", "127.0.0.1:0"]).await;
    let warning = served
        .logged("the warning", "`site.base_url` is not set")
        .await;
    assert!(
        warning.ends_with(&format!(
            "`site.base_url` is not set: links follow http://{}, and posts seen for the first time get ids under the host `127.0.0.1` for good; set `site.base_url` in config.toml to the site's public URL before readers subscribe",
            served.addr
        )),
        "{warning}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_listens_on_a_host_name() {
    let dir = folder("", &[("night-bus.txt", &night_bus())]);
    let served = serve_in(dir.path(), &["--listen", "localhost:0"]).await;
    assert!(served.addr.ip().is_loopback(), "{}", served.addr);
    let (status, health) = served.get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    // Links follow the address bound, not the name asked for.
    let (_, rss) = served.get("/rss.xml").await;
    assert!(
        rss.contains(&format!(
            "<link>http://{}/posts/night-bus/</link>",
            served.addr
        )),
        "{rss}"
    );
}

#[test]
fn build_without_a_base_url_links_to_the_listen_address_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("config.toml"),
        "[server]\nlisten = \"localhost:9000\"\n",
    );
    write(&dir.path().join("posts/night-bus.txt"), &night_bus());
    let output = dropfeed(dir.path(), &["build", "--out", "out"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(" WARN config.toml: `site.base_url` is not set, so links and new ids use http://localhost:9000 (`server.listen`); set it to the site's public URL"),
        "{stderr}"
    );
    let rss = std::fs::read_to_string(dir.path().join("out/rss.xml")).unwrap();
    assert!(
        rss.contains("<link>http://localhost:9000/posts/night-bus/</link>"),
        "{rss}"
    );

    write(
        &dir.path().join("config.toml"),
        "[site]\nbase_url = \"https://news.example.org\"\n",
    );
    let output = dropfeed(dir.path(), &["build", "--out", "out"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("base_url"), "{stderr}");
}

// ---- missing config, missing posts folder -------------------------------------------------

#[test]
fn a_missing_config_file_gives_the_defaults_with_a_notice_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("posts/night-bus.txt"), &night_bus());
    for (args, named) in [
        (&["check"][..], "config.toml"),
        (&["check", "--config", "site.toml"][..], "site.toml"),
    ] {
        let output = dropfeed(dir.path(), args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains(&format!(
                " WARN {named}: no config file there; every key takes its default (posts from posts); write one to change them (README: config.toml)"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn a_missing_posts_folder_stops_check_and_build_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("config.toml"),
        "[posts]\ndir = \"articles\"\n",
    );
    let said = "error: articles: the posts folder does not exist; create it (mkdir -p articles), or set `posts.dir` in config.toml to the folder of your posts\n";

    let output = dropfeed(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&output.stderr), said);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");

    let output = dropfeed(dir.path(), &["build", "--out", "out"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&output.stderr), said);
    // Refused before anything is written: no output, no state database.
    assert!(!dir.path().join("out").exists());
    assert!(!dir.path().join("dropfeed.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_posts_folder_is_an_error_in_the_log_and_serve_goes_on_degraded() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("config.toml"), "");
    let served = serve_in(dir.path(), &["--listen", "127.0.0.1:0"]).await;
    let error = served
        .logged("the error", "the posts folder does not exist")
        .await;
    assert!(
        error.ends_with(" ERROR posts: the posts folder does not exist; create it (mkdir -p posts), or set `posts.dir` in config.toml to the folder of your posts"),
        "{error}"
    );
    let (status, health) = served.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "degraded");
    // Made later, it is published.
    write(&dir.path().join("posts/night-bus.txt"), &night_bus());
    wait_until(PATIENCE, "the post once the folder is made", || async {
        let (_, rss) = served.get("/rss.xml").await;
        if rss.contains("/posts/night-bus/") {
            Ok(())
        } else {
            Err(rss)
        }
    })
    .await;
}

// ---- check's summary, the log's names ---------------------------------------------------

#[test]
fn check_ends_with_a_summary_that_counts_drafts_and_scheduled_posts_apart() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("config.toml"), "");
    write(&dir.path().join("posts/night-bus.txt"), &night_bus());
    let output = dropfeed(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "1 post (1 published, 0 drafts, 0 scheduled), 0 errors, 0 warnings\n"
    );

    write(
        &dir.path().join("posts/draft.md"),
        "---\ntitle: Draft\ndate: 2024-01-02\ndraft: true\n---\nNot yet.\n",
    );
    write(
        &dir.path().join("posts/later.md"),
        "---\ntitle: Later\ndate: 2099-01-02\n---\nMuch later.\n",
    );
    write(&dir.path().join("posts/broken.md"), "---\ntitle: Broken\n");
    let output = dropfeed(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.lines().last(),
        Some("3 posts (1 published, 1 draft, 1 scheduled), 1 error, 1 warning"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failing_file_is_logged_by_name_and_reason_while_serving() {
    let dir = folder(
        "[posts]\nrescan_secs = 0\n",
        &[
            ("night-bus.txt", &night_bus()),
            (
                "draft.md",
                "---\ntitle: Draft\ndate: 2024-01-02\ndraft: true\n---\nNot yet.\n",
            ),
        ],
    );
    let served = serve_in(dir.path(), &["--listen", "127.0.0.1:0"]).await;
    served
        .logged(
            "the start-up count",
            "INFO 2 posts (1 published, 1 draft, 0 scheduled); 0 files not published",
        )
        .await;

    let bad = dir.path().join("posts/bad.md");
    write(&bad, "---\ntitle: Never closed\n");
    let reason = format!(
        "{}:1: not published: front matter opened with `---` on line 1 is never closed; add a closing `---` line",
        std::path::absolute(&bad).unwrap().display()
    );
    let line = served.logged("the failing file", &reason).await;
    assert!(line.contains(" WARN "), "{line}");
    served
        .logged(
            "the publish line",
            "published changes: +0 ~0 -0 !1 (bad.md);",
        )
        .await;
    // Saved again with the same mistake: named again, for the writer who just saved it.
    write(&bad, "---\ntitle: Never closed either\n");
    wait_until(PATIENCE, "the second report", || async {
        let seen = served.lines_with(&reason).len();
        if seen == 2 {
            Ok(())
        } else {
            Err(format!("{seen} lines"))
        }
    })
    .await;
}

// ---- each cause once ------------------------------------------------------------------------

/// `{:#}` over an error whose message already quotes its source printed the cause twice:
/// `… Is a directory (os error 21): Is a directory (os error 21)`.
#[test]
fn an_error_prints_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config.toml")).unwrap();
    let output = dropfeed(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: config.toml: cannot read the config file: Is a directory (os error 21); name a readable file with --config\n"
    );

    // A port in use: the bind error, also quoted and chained.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    std::fs::remove_dir(dir.path().join("config.toml")).unwrap();
    write(&dir.path().join("config.toml"), "");
    let output = dropfeed(dir.path(), &["serve", "--listen", &addr]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("(os error 98)").count(), 1, "{stderr}");
    assert!(
        stderr.ends_with(&format!("error: cannot listen on {addr}: Address already in use (os error 98); choose another address with --listen or `server.listen`\n")),
        "{stderr}"
    );
}

#[test]
fn a_value_of_the_wrong_type_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("config.toml"),
        "[site]\ntitle = \"News\"\n\n[feeds]\nitems = \"five\"\n",
    );
    let output = dropfeed(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: config.toml: line 5: key `feeds.items`: invalid type: string \"five\", expected a whole number\n"
    );
}

// ---- feed dates ---------------------------------------------------------------------------

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// The daemon over `dir` with the clock stopped at `now`, on 127.0.0.1:0.
async fn serve_at(dir: tempfile::TempDir, now: &str) -> Site {
    let now = at(now);
    let config = Config::load(&dir.path().join("config.toml")).unwrap();
    let daemon = Daemon::start_with_clock(
        config,
        "127.0.0.1:0".parse().unwrap(),
        Clock::new(move || now),
    )
    .await
    .unwrap();
    Site::run(dir, daemon)
}

fn set_modified(path: &Path, when: &str) {
    let when: std::time::SystemTime = at(when).into();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// The text of the first `<tag>` after `after` in `text`.
fn first_after<'a>(text: &'a str, after: &str, tag: &str) -> &'a str {
    let rest = &text[text.find(after).unwrap_or(0)..];
    let open = format!("<{tag}>");
    let start = rest.find(&open).map(|at| at + open.len()).unwrap_or(0);
    let end = rest[start..]
        .find('<')
        .map_or(rest.len(), |end| start + end);
    &rest[start..end]
}

/// A base_url of its own, so a restart on another port gives the same bytes.
const DATED: &str = "[site]\nbase_url = \"https://news.example.org\"\ntimezone = \"UTC\"\n\n[posts]\nrescan_secs = 0\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_dates_atom_updated_and_json_date_modified_by_the_files_time() {
    let dir = folder(
        DATED,
        &[
            (
                "night-bus.md",
                "---\ntitle: Night bus\ndate: 2019-03-03T08:00:00Z\n---\nExtended.\n",
            ),
            (
                "fares.md",
                "---\ntitle: Fares\ndate: 2019-03-04T08:00:00Z\nupdated: 2019-03-05T08:00:00Z\n---\nCapped.\n",
            ),
        ],
    );
    set_modified(
        &dir.path().join("posts/night-bus.md"),
        "2019-03-03T09:00:00Z",
    );
    let site = serve_at(dir, "2026-11-28T12:00:00Z").await;
    // First seen: not a change; `updated` is the publication date.
    let atom = site.get("/atom.xml").await.text();
    assert_eq!(
        first_after(&atom, "night-bus</id>", "updated"),
        "2019-03-03T08:00:00+00:00"
    );

    let path = site.posts().join("night-bus.md");
    write(
        &path,
        "---\ntitle: Night bus\ndate: 2019-03-03T08:00:00Z\n---\nExtended again.\n",
    );
    set_modified(&path, "2026-11-20T10:30:00Z");
    let atom = site
        .wait_for("/atom.xml", "the edit", |got| {
            got.text().contains("Extended again")
        })
        .await
        .text();
    assert_eq!(
        first_after(&atom, "night-bus</id>", "updated"),
        "2026-11-20T10:30:00+00:00"
    );
    let json: serde_json::Value =
        serde_json::from_str(&site.get("/feed.json").await.text()).unwrap();
    let item = |slug: &str| {
        json["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| {
                item["url"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{slug}/"))
            })
            .unwrap()
            .clone()
    };
    assert_eq!(
        item("night-bus")["date_modified"],
        "2026-11-20T10:30:00+00:00"
    );
    assert_eq!(
        item("night-bus")["date_published"],
        "2019-03-03T08:00:00+00:00"
    );

    // The front matter's `updated` wins over an edit.
    let fares = site.posts().join("fares.md");
    write(
        &fares,
        "---\ntitle: Fares\ndate: 2019-03-04T08:00:00Z\nupdated: 2019-03-05T08:00:00Z\n---\nCapped at $5.\n",
    );
    set_modified(&fares, "2026-11-21T10:30:00Z");
    site.wait_for("/feed.json", "the second edit", |got| {
        got.text().contains("Capped at $5")
    })
    .await;
    let json: serde_json::Value =
        serde_json::from_str(&site.get("/feed.json").await.text()).unwrap();
    let fares = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["title"] == "Fares")
        .unwrap()
        .clone();
    assert_eq!(fares["date_modified"], "2019-03-05T08:00:00+00:00");

    // Kept in the state database: a restart, at another time, gives the same bytes.
    let before = site.get("/atom.xml").await;
    let dir = site.stop().await;
    let site = serve_at(dir, "2026-11-29T00:00:00Z").await;
    let after = site.get("/atom.xml").await;
    assert_eq!(after.text(), before.text());
    assert_eq!(after.header("etag"), before.header("etag"));
}

/// An empty site's Atom `updated` was 1970-01-01.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_feed_is_dated_when_it_was_emptied_and_keeps_that_date() {
    let dir = folder(DATED, &[]);
    let site = serve_at(dir, "2026-11-28T12:00:00Z").await;
    let atom = site.get("/atom.xml").await.text();
    assert!(
        atom.contains("<updated>2026-11-28T12:00:00+00:00</updated>"),
        "{atom}"
    );
    let rss = site.get("/rss.xml").await.text();
    assert!(
        rss.contains("<lastBuildDate>Sat, 28 Nov 2026 12:00:00 +0000</lastBuildDate>"),
        "{rss}"
    );
    // A site that never had a post: its first publish, the same after a restart.
    let dir = site.stop().await;
    let site = serve_at(dir, "2026-11-29T08:00:00Z").await;
    let atom = site.get("/atom.xml").await.text();
    assert!(
        atom.contains("<updated>2026-11-28T12:00:00+00:00</updated>"),
        "{atom}"
    );

    // A category that loses its last post: dated when it was emptied, as the posts
    // folder dates the deletion (not by the clock, so replicas agree).
    write(&site.posts().join("night-bus.txt"), &night_bus());
    site.wait_for("/categories/transit/atom.xml", "the post", |got| {
        got.status == StatusCode::OK
    })
    .await;
    std::fs::remove_file(site.posts().join("night-bus.txt")).unwrap();
    let deleted: DateTime<Utc> = std::fs::metadata(site.posts())
        .unwrap()
        .modified()
        .unwrap()
        .into();
    let emptied = format!(
        "<updated>{}</updated>",
        deleted.format("%Y-%m-%dT%H:%M:%S+00:00")
    );
    let atom = site
        .wait_for("/categories/transit/atom.xml", "the emptied feed", |got| {
            !got.text().contains("<entry>")
        })
        .await
        .text();
    assert!(atom.contains(&emptied), "{emptied}: {atom}");
    let dir = site.stop().await;
    let site = serve_at(dir, "2026-11-30T08:00:00Z").await;
    for route in ["/categories/transit/atom.xml", "/atom.xml"] {
        let atom = site.get(route).await.text();
        assert!(atom.contains(&emptied), "{route}: {emptied}: {atom}");
    }
}

// ---- aliases ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alias_answers_301_to_its_feed_with_and_without_the_final_slash() {
    let dir = folder("", &[("night-bus.txt", &night_bus())]);
    let site = Site::serve(dir).await;
    for (alias, target) in [
        ("/feed.xml", "/atom.xml"),
        ("/rss/", "/rss.xml"),
        ("/feed/", "/rss.xml"),
        ("/feed/rss2/", "/rss.xml"),
        ("/feed/atom/", "/atom.xml"),
        ("/index.xml", "/rss.xml"),
        ("/category/transit/feed/", "/categories/transit/rss.xml"),
        (
            "/category/transit/feed/atom/",
            "/categories/transit/atom.xml",
        ),
        (
            "/categories/transit/index.xml",
            "/categories/transit/rss.xml",
        ),
        ("/author/ann-lee/feed/", "/authors/ann-lee/rss.xml"),
        ("/author/ann-lee/feed/atom/", "/authors/ann-lee/atom.xml"),
        ("/authors/ann-lee/index.xml", "/authors/ann-lee/rss.xml"),
    ] {
        let toggled = match alias.strip_suffix('/') {
            Some(bare) => bare.to_string(),
            None => format!("{alias}/"),
        };
        for path in [alias, toggled.as_str()] {
            let got = site.get(path).await;
            assert_eq!(got.status, StatusCode::MOVED_PERMANENTLY, "{path}");
            assert_eq!(got.header("location"), target, "{path}");
            assert_eq!(site.get(target).await.status, StatusCode::OK, "{target}");
        }
    }
    let got = site.get("/posts/night-bus").await;
    assert_eq!(got.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(got.header("location"), "/posts/night-bus/");
    // No such post, category or author: no redirect to a 404.
    for path in [
        "/posts/nothing",
        "/category/nothing/feed",
        "/author/nobody/feed/",
    ] {
        assert_eq!(site.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// Tag feeds (`FeedKey::Tag`, `/tags/{slug}/rss.xml`) come with the lead's branch; the
/// aliases lead there once they answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_aliases_answer_301_to_the_tag_feeds() {
    let post =
        "Posted by Ann Lee on March 3, 2019\nCategories: Transit\nTags: buses\n\nExtended.\n";
    let dir = folder("", &[("night-bus.txt", post)]);
    let site = Site::serve(dir).await;
    for (path, target) in [
        ("/tag/buses/feed/", "/tags/buses/rss.xml"),
        ("/tag/buses/feed", "/tags/buses/rss.xml"),
        ("/tags/buses/index.xml", "/tags/buses/rss.xml"),
        ("/tags/buses/index.xml/", "/tags/buses/rss.xml"),
    ] {
        let got = site.get(path).await;
        assert_eq!(got.status, StatusCode::MOVED_PERMANENTLY, "{path}");
        assert_eq!(got.header("location"), target, "{path}");
    }
}
