use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::routes::FeedKey;

/// The site's rules in miniature: tag ids from the date and slug, `/posts/{slug}/`.
struct TagRules;

impl Rules for TagRules {
    fn mint(&self, claim: &Claim, slug: &str) -> String {
        format!("tag:example.com,{}:{slug}", claim.date.format("%Y-%m-%d"))
    }
    fn route(&self, _claim: &Claim, slug: &str) -> String {
        format!("/posts/{slug}/")
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .unwrap_or_else(|err| panic!("{text}: {err}"))
}

fn claim(path: &str, slug: &str, date: &str, content: &str) -> Claim {
    Claim {
        path: path.into(),
        fingerprint: content.into(),
        slug: slug.into(),
        slug_explicit: false,
        variants: Vec::new(),
        route: None,
        aliases: Vec::new(),
        id: None,
        date: at(date),
        modified: at("2026-01-01T00:00:00Z"),
        undated: false,
        category: String::new(),
    }
}

fn settle(ledger: &mut Ledger, removed: &[&str], claims: &[Claim], now: &str) -> Vec<Placement> {
    let removed: Vec<String> = removed.iter().map(|p| p.to_string()).collect();
    ledger
        .settle(&removed, claims, &TagRules, at(now))
        .into_iter()
        .map(|placed| placed.unwrap_or_else(|err| panic!("{err}")))
        .collect()
}

const NOW: &str = "2026-11-28T08:00:00Z";

#[test]
fn a_shared_slug_goes_to_the_older_post_and_the_other_gets_its_variant() {
    let mut ledger = Ledger::new(Duration::days(7));
    let mut newer = claim(
        "en/2017-05-03-survey.md",
        "en/survey",
        "2017-05-03T00:00:00Z",
        "b",
    );
    newer.variants = vec!["en/2017-05-03-survey".into()];
    let mut older = claim(
        "en/2016-05-09-survey.md",
        "en/survey",
        "2016-05-09T00:00:00Z",
        "a",
    );
    older.variants = vec!["en/2016-05-09-survey".into()];
    // Read newest first: the older post still keeps the plain slug.
    let placed = settle(&mut ledger, &[], &[newer.clone(), older], NOW);
    assert_eq!(placed[0].slug, "en/2017-05-03-survey");
    assert_eq!(
        placed[0].id,
        "tag:example.com,2017-05-03:en/2017-05-03-survey"
    );
    assert_eq!(placed[0].route, "/posts/en/2017-05-03-survey/");
    assert_eq!(
        placed[0].notes,
        vec!["slug `en/survey` is already taken by en/2016-05-09-survey.md; published as `en/2017-05-03-survey` (set a `slug` in the front matter to choose another)"]
    );
    assert_eq!(placed[1].slug, "en/survey");
    assert_eq!(placed[1].id, "tag:example.com,2016-05-09:en/survey");
    assert!(placed[1].notes.is_empty());

    // A third post with neither a variant of its own gets a numbered one.
    let third = claim("en/survey.md", "en/survey", "2018-08-08T00:00:00Z", "c");
    let placed = settle(&mut ledger, &[], &[third], NOW);
    assert_eq!(placed[0].slug, "en/survey-2");

    // The next change set changes none of them, and still says why.
    let placed = settle(&mut ledger, &[], &[newer], NOW);
    assert_eq!(placed[0].slug, "en/2017-05-03-survey");
    assert_eq!(placed[0].notes.len(), 1);
}

#[test]
fn a_renamed_file_keeps_its_id_and_first_seen_and_its_old_route_redirects() {
    let mut ledger = Ledger::new(Duration::days(7));
    let first = settle(
        &mut ledger,
        &[],
        &[claim("pothole.txt", "pothole", "2026-11-27T00:00:00Z", "x")],
        NOW,
    );
    let renamed = claim(
        "harbor-potholes.txt",
        "harbor-potholes",
        "2026-11-27T00:00:00Z",
        "x",
    );
    let placed = settle(&mut ledger, &["pothole.txt"], &[renamed], NOW);
    assert_eq!(placed[0].id, "tag:example.com,2026-11-27:pothole");
    assert_eq!(placed[0].id, first[0].id);
    assert_eq!(placed[0].first_seen, first[0].first_seen);
    assert_eq!(placed[0].route, "/posts/harbor-potholes/");
    assert_eq!(
        ledger.redirect("/posts/pothole/"),
        Some("/posts/harbor-potholes/")
    );
    assert_eq!(
        ledger.redirects(),
        vec![(
            "/posts/pothole/".to_string(),
            "/posts/harbor-potholes/".to_string()
        )]
    );
}

#[test]
fn a_removal_is_remembered_for_the_configured_time_only() {
    let mut ledger = Ledger::new(Duration::days(7));
    settle(
        &mut ledger,
        &[],
        &[claim("a.txt", "a", "2026-11-01T00:00:00Z", "same")],
        NOW,
    );
    settle(&mut ledger, &["a.txt"], &[], NOW);
    // Six days later the same content under another name is the same post.
    let placed = settle(
        &mut ledger,
        &[],
        &[claim("b.txt", "b", "2026-11-01T00:00:00Z", "same")],
        "2026-12-04T08:00:00Z",
    );
    assert_eq!(placed[0].id, "tag:example.com,2026-11-01:a");
    settle(&mut ledger, &["b.txt"], &[], "2026-12-04T08:00:00Z");
    // Eight days after that it is a new post.
    let placed = settle(
        &mut ledger,
        &[],
        &[claim("c.txt", "c", "2026-11-01T00:00:00Z", "same")],
        "2026-12-12T08:00:00Z",
    );
    assert_eq!(placed[0].id, "tag:example.com,2026-11-01:c");
}

#[test]
fn edits_redates_and_restores_keep_the_id() {
    let mut ledger = Ledger::new(Duration::days(7));
    let first = settle(
        &mut ledger,
        &[],
        &[claim("a.txt", "a", "2026-11-27T00:00:00Z", "v1")],
        NOW,
    );
    let id = first[0].id.clone();
    let edited = claim("a.txt", "a", "2026-11-26T00:00:00Z", "v2");
    assert_eq!(settle(&mut ledger, &[], &[edited], NOW)[0].id, id);
    settle(&mut ledger, &["a.txt"], &[], NOW);
    // Restored, edited again, at the same path.
    let restored = claim("a.txt", "a", "2026-11-26T00:00:00Z", "v3");
    assert_eq!(settle(&mut ledger, &[], &[restored], NOW)[0].id, id);
    // Restored a year later with the same content: the rules give the same id back.
    settle(&mut ledger, &["a.txt"], &[], NOW);
    let late = claim("a.txt", "a", "2026-11-27T00:00:00Z", "v4");
    let placed = settle(&mut ledger, &[], &[late], "2027-12-01T00:00:00Z");
    assert_eq!(placed[0].id, id);
}

#[test]
fn a_chosen_slug_or_route_that_another_post_holds_is_an_error() {
    let mut ledger = Ledger::new(Duration::days(7));
    settle(
        &mut ledger,
        &[],
        &[claim("a.md", "roadmap", "2020-01-01T00:00:00Z", "a")],
        NOW,
    );
    let mut chosen = claim("b.md", "roadmap", "2021-01-01T00:00:00Z", "b");
    chosen.slug_explicit = true;
    let placed = ledger.settle(&[], &[chosen], &TagRules, at(NOW));
    assert_eq!(
        placed,
        vec![Err(
            "slug `roadmap` is already taken by a.md; set a different `slug` in the front matter"
                .to_string()
        )]
    );
    let mut routed = claim("c.md", "c", "2021-01-01T00:00:00Z", "c");
    routed.route = Some("/posts/roadmap/".into());
    let placed = ledger.settle(&[], &[routed], &TagRules, at(NOW));
    assert_eq!(
        placed,
        vec![Err(
            "the page route `/posts/roadmap/` is already taken by a.md; choose another `permalink`"
                .to_string()
        )]
    );
}

#[test]
fn aliases_redirect_unless_they_are_another_posts_page() {
    let mut ledger = Ledger::new(Duration::days(7));
    settle(
        &mut ledger,
        &[],
        &[claim("a.md", "a", "2020-01-01T00:00:00Z", "a")],
        NOW,
    );
    let mut moved = claim("b.md", "b", "2021-01-01T00:00:00Z", "b");
    moved.aliases = vec!["/2021/01/b.html".into(), "/posts/a/".into()];
    let placed = settle(&mut ledger, &[], &[moved], NOW);
    assert_eq!(
        placed[0].notes,
        vec!["alias `/posts/a/` is the page of another post; it is not redirected"]
    );
    assert_eq!(ledger.redirect("/2021/01/b.html"), Some("/posts/b/"));
    assert_eq!(ledger.redirect("/posts/a/"), None);
}

#[test]
fn the_database_keeps_the_ledger_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropfeed.db");
    let mut state = State::open(&path, Duration::days(7)).unwrap();
    let placed = settle(
        &mut state.ledger,
        &[],
        &[claim("pothole.txt", "pothole", "2026-11-27T00:00:00Z", "x")],
        NOW,
    );
    state.ledger.note_feed(
        &FeedKey::Category("transit".into()),
        "Transit",
        false,
        at(NOW),
    );
    state.save().unwrap();
    let renamed = claim("harbor.txt", "harbor", "2026-11-27T00:00:00Z", "x");
    settle(&mut state.ledger, &["pothole.txt"], &[renamed], NOW);
    state.save().unwrap();
    drop(state);

    let mut state = State::open(&path, Duration::days(7)).unwrap();
    assert_eq!(state.ledger.len(), 1);
    assert_eq!(
        state.ledger.at_path("harbor.txt").map(|e| &*e.id),
        Some(placed[0].id.as_str())
    );
    assert_eq!(
        state.ledger.redirect("/posts/pothole/"),
        Some("/posts/harbor/")
    );
    assert_eq!(
        state
            .ledger
            .feeds()
            .get(&FeedKey::Category("transit".into()))
            .map(String::as_str),
        Some("Transit")
    );
    // Moved back: the route it holds again is no longer a redirect, in the file too.
    let back = claim("pothole.txt", "pothole", "2026-11-27T00:00:00Z", "x");
    settle(&mut state.ledger, &["harbor.txt"], &[back], NOW);
    state.save().unwrap();
    drop(state);
    let state = State::open(&path, Duration::days(7)).unwrap();
    assert_eq!(state.ledger.redirect("/posts/pothole/"), None);
    assert_eq!(
        state.ledger.redirect("/posts/harbor/"),
        Some("/posts/pothole/")
    );
}

#[test]
fn a_corrupt_or_newer_database_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropfeed.db");
    std::fs::write(
        &path,
        b"this is not a database, it is a text file\n".repeat(100),
    )
    .unwrap();
    let err = State::open(&path, Duration::days(7)).err().unwrap();
    assert_eq!(
        err.to_string(),
        format!("{}: cannot open the state database (file is not a database); restore it from a backup, or move it away to start a new ledger (ids of posts already published may then change)", path.display())
    );
    let degraded = State::open_or_degraded(&path, Duration::days(7));
    assert!(degraded.is_degraded());

    let newer = dir.path().join("newer.db");
    let conn = rusqlite::Connection::open(&newer).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = State::open(&newer, Duration::days(7)).err().unwrap();
    assert_eq!(
        err,
        StateError::Newer {
            path: newer.clone(),
            version: 99
        }
    );
}

#[test]
fn a_database_deleted_while_running_is_reported_and_the_ledger_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropfeed.db");
    let mut state = State::open(&path, Duration::days(7)).unwrap();
    settle(
        &mut state.ledger,
        &[],
        &[claim("a.txt", "a", "2026-11-27T00:00:00Z", "x")],
        NOW,
    );
    state.save().unwrap();
    std::fs::remove_file(&path).unwrap();
    settle(
        &mut state.ledger,
        &[],
        &[claim("b.txt", "b", "2026-11-27T00:00:00Z", "y")],
        NOW,
    );
    assert_eq!(state.save(), Err(StateError::Gone { path: path.clone() }));
    assert!(state.is_degraded());
    assert_eq!(state.ledger.len(), 2);
    // Later saves are no-ops, not repeated errors.
    assert_eq!(state.save(), Ok(()));
}

fn modified_at(mut claim: Claim, modified: &str) -> Claim {
    claim.modified = at(modified);
    claim
}

#[test]
fn a_content_change_is_dated_by_the_files_time_and_a_first_sighting_is_not_one() {
    let mut ledger = Ledger::new(Duration::days(7));
    let first = modified_at(
        claim("a.txt", "a", "2026-11-01T00:00:00Z", "v1"),
        "2026-11-02T00:00:00Z",
    );
    let placed = settle(&mut ledger, &[], std::slice::from_ref(&first), NOW);
    assert_eq!(placed[0].content_changed, None);
    // Touched, the same bytes: no change.
    let touched = modified_at(first.clone(), "2026-11-05T00:00:00Z");
    let placed = settle(&mut ledger, &[], &[touched], NOW);
    assert_eq!(placed[0].content_changed, None);
    // Edited: the file's time, not the clock's.
    let edited = modified_at(
        claim("a.txt", "a", "2026-11-01T00:00:00Z", "v2"),
        "2026-11-10T09:30:00Z",
    );
    let placed = settle(&mut ledger, &[], &[edited], "2026-11-20T00:00:00Z");
    assert_eq!(placed[0].content_changed, Some(at("2026-11-10T09:30:00Z")));
    // Renamed with the same bytes: the same post, unchanged.
    let renamed = modified_at(
        claim("b.txt", "b", "2026-11-01T00:00:00Z", "v2"),
        "2026-11-12T00:00:00Z",
    );
    let placed = settle(&mut ledger, &["a.txt"], &[renamed], NOW);
    assert_eq!(placed[0].content_changed, Some(at("2026-11-10T09:30:00Z")));
    // Edited again by a file dated earlier (restored from a backup): never goes back.
    let restored = modified_at(
        claim("b.txt", "b", "2026-11-01T00:00:00Z", "v3"),
        "2026-11-03T00:00:00Z",
    );
    let placed = settle(&mut ledger, &[], &[restored], NOW);
    assert_eq!(placed[0].content_changed, Some(at("2026-11-10T09:30:00Z")));
}

#[test]
fn content_changes_and_emptied_feeds_outlive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropfeed.db");
    let mut state = State::open(&path, Duration::days(7)).unwrap();
    settle(
        &mut state.ledger,
        &[],
        &[claim("a.txt", "a", "2026-11-01T00:00:00Z", "v1")],
        NOW,
    );
    let edited = modified_at(
        claim("a.txt", "a", "2026-11-01T00:00:00Z", "v2"),
        "2026-11-10T09:30:00.123456789Z",
    );
    settle(&mut state.ledger, &[], &[edited], NOW);
    let transit = FeedKey::Category("transit".into());
    state
        .ledger
        .note_feed(&FeedKey::Site, "News", true, at("2026-11-27T10:00:00.5Z"));
    state.ledger.note_feed(&transit, "Transit", false, at(NOW));
    state.save().unwrap();
    drop(state);

    let mut state = State::open(&path, Duration::days(7)).unwrap();
    assert_eq!(
        state
            .ledger
            .at_path("a.txt")
            .and_then(|e| e.content_changed),
        Some(at("2026-11-10T09:30:00.123456789Z"))
    );
    let emptied = state.ledger.emptied();
    assert_eq!(
        emptied.get(&FeedKey::Site),
        Some(&at("2026-11-27T10:00:00.5Z"))
    );
    assert_eq!(emptied.get(&transit), None);
    // Still empty later: the time it was emptied stays. Posts again: no time.
    state
        .ledger
        .note_feed(&FeedKey::Site, "News", true, at("2026-11-28T00:00:00Z"));
    assert_eq!(
        state.ledger.emptied().get(&FeedKey::Site),
        Some(&at("2026-11-27T10:00:00.5Z"))
    );
    state
        .ledger
        .note_feed(&FeedKey::Site, "News", false, at(NOW));
    state.save().unwrap();
    drop(state);
    let state = State::open(&path, Duration::days(7)).unwrap();
    assert_eq!(state.ledger.emptied().get(&FeedKey::Site), None);
}

/// A database made before content changes and emptied feeds were kept (schema 1) is
/// brought up to date in place, its ledger whole.
#[test]
fn a_version_1_database_is_migrated_and_keeps_its_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropfeed.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE posts (
            key INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            path TEXT NOT NULL,
            natural_slug TEXT NOT NULL,
            slug TEXT NOT NULL,
            route TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            removed_at TEXT
        );
        CREATE TABLE redirects (
            route TEXT PRIMARY KEY,
            post INTEGER NOT NULL REFERENCES posts(key)
        );
        CREATE TABLE feeds (
            kind TEXT NOT NULL,
            slug TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (kind, slug)
        );
        INSERT INTO posts VALUES (1, 'tag:example.com,2019-03-03:night-bus', 'night-bus.txt',
            'night-bus', 'night-bus', '/posts/night-bus/', '2019-03-03T08:00:00+00:00',
            '00000000000000aa', NULL);
        INSERT INTO feeds VALUES ('category', 'transit', 'Transit');
        PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);

    let mut state = State::open(&path, Duration::days(7)).unwrap();
    let entry = state.ledger.at_path("night-bus.txt").cloned().unwrap();
    assert_eq!(&*entry.id, "tag:example.com,2019-03-03:night-bus");
    assert_eq!(entry.content_changed, None);
    assert_eq!(
        state
            .ledger
            .feeds()
            .get(&FeedKey::Category("transit".into()))
            .map(String::as_str),
        Some("Transit")
    );
    let edited = modified_at(
        claim("night-bus.txt", "night-bus", "2019-03-03T00:00:00Z", "bb"),
        "2026-11-20T00:00:00Z",
    );
    let placed = settle(&mut state.ledger, &[], &[edited], NOW);
    assert_eq!(placed[0].id, "tag:example.com,2019-03-03:night-bus");
    assert_eq!(placed[0].content_changed, Some(at("2026-11-20T00:00:00Z")));
    state.save().unwrap();
    drop(state);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 3);
    let changed: String = conn
        .query_row(
            "SELECT content_changed FROM posts WHERE key = 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(changed, "2026-11-20T00:00:00+00:00");
}

/// A database of schema 2 (before the WebSub hub) gains the subscriptions table in
/// place, its ledger whole; subscriptions written then outlive a reopening, a renewal
/// replaces the lease and secret, and a lease that ended is dropped when loaded.
#[test]
fn a_version_2_database_gains_subscriptions_and_keeps_its_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropfeed.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE posts (
            key INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            path TEXT NOT NULL,
            natural_slug TEXT NOT NULL,
            slug TEXT NOT NULL,
            route TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            removed_at TEXT,
            content_changed TEXT
        );
        CREATE TABLE redirects (
            route TEXT PRIMARY KEY,
            post INTEGER NOT NULL REFERENCES posts(key)
        );
        CREATE TABLE feeds (
            kind TEXT NOT NULL,
            slug TEXT NOT NULL,
            name TEXT NOT NULL,
            emptied_at TEXT,
            PRIMARY KEY (kind, slug)
        );
        INSERT INTO posts VALUES (1, 'tag:example.com,2019-03-03:night-bus', 'night-bus.txt',
            'night-bus', 'night-bus', '/posts/night-bus/', '2019-03-03T08:00:00+00:00',
            '00000000000000aa', NULL, NULL);
        PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);

    let state = State::open(&path, Duration::days(7)).unwrap();
    let entry = state.ledger.at_path("night-bus.txt").cloned().unwrap();
    assert_eq!(&*entry.id, "tag:example.com,2019-03-03:night-bus");
    let store = SubscriptionStore::open(&path).unwrap();
    let kept = Subscription {
        topic: "/categories/transit/rss.xml".into(),
        callback: "https://reader.example.org/push/1".into(),
        secret: Some("first".into()),
        expires: at("2026-12-01T00:00:00Z"),
    };
    let ending = Subscription {
        topic: "/rss.xml".into(),
        callback: "https://reader.example.org/push/2".into(),
        secret: None,
        expires: at("2026-11-21T00:00:00Z"),
    };
    store.put(&kept).unwrap();
    store.put(&ending).unwrap();
    let renewed = Subscription {
        secret: Some("second".into()),
        expires: at("2026-12-10T00:00:00Z"),
        ..kept.clone()
    };
    store.put(&renewed).unwrap();
    drop(store);
    drop(state);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 3);
    drop(conn);
    let store = SubscriptionStore::open(&path).unwrap();
    assert_eq!(
        store.load(at("2026-11-20T00:00:00Z")).unwrap(),
        vec![renewed.clone(), ending.clone()]
    );
    assert_eq!(
        store.load(at("2026-11-22T00:00:00Z")).unwrap(),
        vec![renewed.clone()]
    );
    store.remove(&renewed.topic, &renewed.callback).unwrap();
    assert_eq!(store.load(at("2026-11-22T00:00:00Z")).unwrap(), vec![]);
}
