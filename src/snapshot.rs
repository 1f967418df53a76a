//! Every route the server answers, rendered and compressed ahead of requests.
//!
//! A [`Snapshot`] is immutable: a publish builds the next one from the previous one and
//! the catalog's view, re-rendering only the routes whose inputs changed, and the server
//! swaps it in whole. Each route remembers what it was rendered from, so "which feeds did
//! this change touch" is answered by comparing inputs, not by guessing from paths: a
//! post edited outside a category's newest `feeds.items` leaves that feed alone, and a
//! slug collision or a future post coming due re-renders exactly what it changes.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::View;
use crate::config::Config;
use crate::feed::{self, FeedInfo};
use crate::post::{Named, Post};
use crate::routes::{self, FeedKey};

/// One route's response, ready to write.
#[derive(Debug)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: Bytes,
    /// Absent where compression is not worth it (`/healthz`).
    pub gzip: Option<Bytes>,
    pub br: Option<Bytes>,
    /// Strong ETag, quoted: a hash of the identity body, so any replica and any restart
    /// give the same one for the same bytes.
    pub etag: String,
    /// Whole seconds, as HTTP dates carry no more.
    pub last_modified: DateTime<Utc>,
    pub cache_control: String,
}

/// An `Arc<Post>` compared by identity: the catalog keeps the same `Arc` for a post
/// until its file changes, so equal pointers mean equal input.
#[derive(Debug, Clone)]
struct ByIdentity(Arc<Post>);

impl PartialEq for ByIdentity {
    fn eq(&self, other: &ByIdentity) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What a route was rendered from.
#[derive(Debug, Clone, PartialEq)]
enum Input {
    Feed(FeedInfo, Vec<ByIdentity>),
    /// The index and OPML list: every feed.
    Listing(Vec<FeedInfo>),
    Page(ByIdentity),
    /// Rendered at every publish.
    Health,
}

#[derive(Debug, Clone)]
struct Route {
    rendered: Arc<Rendered>,
    input: Input,
}

/// Every route at one publish.
#[derive(Debug, Default)]
pub struct Snapshot {
    routes: HashMap<String, Route>,
    /// Last-Modified of routes that have gone, so one that comes back never goes back
    /// in time.
    retired: HashMap<String, DateTime<Utc>>,
    /// The earliest Last-Modified of a route new to this process. A post deleted while
    /// the server was down leaves no trace in the posts, so without this floor a feed
    /// could come back with an older Last-Modified than a reader's copy and answer 304.
    floor: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub feeds: usize,
    pub posts: usize,
    /// Every feed this snapshot publishes, with its name, for the ledger to remember.
    pub feed_names: Vec<(FeedKey, String)>,
    /// Former pages and aliases of posts, each to the page it answers 301 to.
    redirects: Arc<BTreeMap<String, String>>,
}

/// What a publish did, for its log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rerendered {
    pub routes: usize,
    pub removed: usize,
}

/// The health report at `/healthz`.
#[derive(Debug, Serialize)]
struct Health<'a> {
    status: &'static str,
    /// `ok`, or why the state database is not being written.
    state: &'a str,
    posts: usize,
    feeds: usize,
    routes: usize,
    last_publish: String,
    errors: Vec<HealthProblem<'a>>,
    warnings: Vec<HealthProblem<'a>>,
}

#[derive(Debug, Serialize)]
struct HealthProblem<'a> {
    path: &'a str,
    line: usize,
    reason: &'a str,
}

impl Snapshot {
    /// An empty snapshot to publish the first one from, whose routes are dated no earlier
    /// than `floor`: the last change seen in the posts folder (a deletion shows only
    /// there, as the folder's modification time).
    pub fn starting_after(floor: Option<DateTime<Utc>>) -> Snapshot {
        Snapshot {
            floor: floor.map(truncate_to_second),
            ..Snapshot::default()
        }
    }

    /// The response for a route, if there is one.
    pub fn get(&self, route: &str) -> Option<&Arc<Rendered>> {
        self.routes.get(route).map(|r| &r.rendered)
    }

    /// The page a former page or alias of a post redirects to.
    pub fn redirect(&self, route: &str) -> Option<&str> {
        self.redirects.get(route).map(String::as_str)
    }

    /// Every redirect of a post's former page or alias, sorted: what `build` writes
    /// into `_redirects`.
    pub fn redirects(&self) -> impl Iterator<Item = (&str, &str)> {
        self.redirects
            .iter()
            .map(|(from, to)| (from.as_str(), to.as_str()))
    }

    /// Every route and its response, sorted by route, health report excluded: what
    /// `build` writes.
    pub fn files(&self) -> Vec<(&str, &Arc<Rendered>)> {
        let mut files: Vec<_> = self
            .routes
            .iter()
            .filter(|(_, r)| r.input != Input::Health)
            .map(|(route, r)| (route.as_str(), &r.rendered))
            .collect();
        files.sort_by(|a, b| a.0.cmp(b.0));
        files
    }

    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// The next snapshot: `view` rendered at `now`, reusing every route of `self` whose
    /// input did not change.
    pub fn next(&self, view: &View, config: &Config, now: DateTime<Utc>) -> (Snapshot, Rerendered) {
        let mut pass = Pass {
            prev: self,
            next: Snapshot {
                routes: HashMap::with_capacity(self.routes.len()),
                retired: self.retired.clone(),
                floor: self.floor,
                published_at: Some(now),
                feeds: 0,
                posts: view.posts.len(),
                feed_names: Vec::new(),
                redirects: Arc::clone(&view.remembered.redirects),
            },
            stats: Rerendered::default(),
            now,
            cache_control: format!("public, max-age={}", config.cache_max_age),
        };

        let feeds = group(&view.posts, &view.remembered.feeds, config);
        pass.next.feeds = feeds.len();
        pass.next.feed_names = feeds
            .iter()
            .map(|(info, _)| (info.key.clone(), info.name.clone()))
            .collect();
        let mut listing = Vec::with_capacity(feeds.len());
        for (info, posts) in feeds {
            let modified = newest_change(&posts);
            let refs: Vec<&Post> = posts.iter().map(|p| p.as_ref()).collect();
            let input = Input::Feed(
                info.clone(),
                posts.iter().cloned().map(ByIdentity).collect(),
            );
            for &format in &config.formats {
                pass.place(info.key.route(format), input.clone(), modified, || {
                    (
                        format.content_type(),
                        feed::render_feed(format, &config.site, &info, &refs),
                    )
                });
            }
            listing.push(info);
        }

        let everything = newest_change(&view.posts);
        let input = Input::Listing(listing.clone());
        pass.place(routes::INDEX.into(), input.clone(), everything, || {
            (
                HTML,
                feed::render_index(&config.site, &listing, &config.formats),
            )
        });
        pass.place(routes::OPML.into(), input, everything, || {
            (
                OPML,
                feed::render_opml(&config.site, &listing, &config.formats),
            )
        });

        for post in &view.posts {
            let modified = newest_change(std::slice::from_ref(post));
            let input = Input::Page(ByIdentity(Arc::clone(post)));
            // Where the ledger placed the page, which `url` carries: a permalink pattern
            // or the post's own `permalink` puts it off `/posts/{slug}/`.
            let page = routes::route_of_link(&post.url, &config.site.base_url)
                .unwrap_or_else(|| routes::post_page(&post.slug));
            pass.place(page, input, modified, || {
                (
                    HTML,
                    feed::render_post_page(&config.site, post, &config.formats),
                )
            });
        }

        let Pass {
            mut next,
            mut stats,
            ..
        } = pass;
        for (route, old) in &self.routes {
            if !next.routes.contains_key(route) && old.input != Input::Health {
                stats.removed += 1;
                next.retired
                    .insert(route.clone(), old.rendered.last_modified);
            }
        }
        let live: Vec<String> = next.routes.keys().cloned().collect();
        for route in live {
            next.retired.remove(&route);
        }
        let health = health(&next, view, now);
        next.routes.insert(routes::HEALTH.into(), health);
        (next, stats)
    }
}

/// One publish in progress: the snapshot before it and the one it builds.
struct Pass<'a> {
    prev: &'a Snapshot,
    next: Snapshot,
    stats: Rerendered,
    now: DateTime<Utc>,
    cache_control: String,
}

impl Pass<'_> {
    /// Puts `route` into the next snapshot: the old response when its input is
    /// unchanged, else a new one from `render`.
    fn place(
        &mut self,
        route: String,
        input: Input,
        modified: DateTime<Utc>,
        render: impl FnOnce() -> (&'static str, String),
    ) {
        let old = self.prev.routes.get(&route);
        if let Some(old) = old {
            if old.input == input {
                let rendered = Arc::clone(&old.rendered);
                self.next.routes.insert(route, Route { rendered, input });
                return;
            }
        }
        self.stats.routes += 1;
        let (content_type, body) = render();
        let etag = etag(body.as_bytes());
        let before = old
            .map(|o| o.rendered.last_modified)
            .or_else(|| self.prev.retired.get(&route).copied());
        let last_modified = match (old, before) {
            // The same bytes as before: nothing a reader could see changed.
            (Some(old), _) if old.rendered.etag == etag => old.rendered.last_modified,
            // A changed body is newer than any copy a reader holds, even when the change
            // removed the newest post: otherwise If-Modified-Since would answer 304 over
            // a stale copy. HTTP dates carry whole seconds, so a change within the second
            // of the copy before must still move a second on: a reader holding that copy
            // sends back that very second.
            (_, Some(before)) => {
                let at = truncate_to_second(modified.max(self.now));
                if at > before {
                    at
                } else {
                    before + chrono::Duration::seconds(1)
                }
            }
            _ => self
                .prev
                .floor
                .map_or(modified, |floor| modified.max(floor)),
        };
        let rendered = compressed(
            content_type,
            body,
            etag,
            truncate_to_second(last_modified),
            self.cache_control.clone(),
        );
        self.next.routes.insert(
            route,
            Route {
                rendered: Arc::new(rendered),
                input,
            },
        );
    }
}

const HTML: &str = "text/html; charset=utf-8";
const OPML: &str = "text/x-opml; charset=utf-8";

/// The site feed, then each category and author feed, by slug, each with its newest
/// `feeds.items` posts. `posts` is newest first, so each group is too. A feed published
/// before (`remembered`) that has no post now is there, empty.
fn group(
    posts: &[Arc<Post>],
    remembered: &BTreeMap<FeedKey, String>,
    config: &Config,
) -> Vec<(FeedInfo, Vec<Arc<Post>>)> {
    let mut by_key: BTreeMap<FeedKey, (String, Vec<Arc<Post>>)> = BTreeMap::new();
    by_key.insert(FeedKey::Site, (config.site.title.clone(), Vec::new()));
    let mut add = |key: FeedKey, name: &str, post: &Arc<Post>| {
        // The newest post's spelling of a name wins: it is the first one seen.
        let (_, list) = by_key
            .entry(key)
            .or_insert_with(|| (name.to_string(), Vec::new()));
        if list.len() < config.items {
            list.push(Arc::clone(post));
        }
    };
    for post in posts {
        add(FeedKey::Site, &config.site.title, post);
        for Named { name, slug } in &post.categories {
            add(FeedKey::Category(slug.clone()), name, post);
        }
        for Named { name, slug } in &post.authors {
            add(FeedKey::Author(slug.clone()), name, post);
        }
    }
    for (key, name) in remembered {
        by_key
            .entry(key.clone())
            .or_insert_with(|| (name.clone(), Vec::new()));
    }
    by_key
        .into_iter()
        .map(|(key, (name, posts))| {
            let title = match key {
                FeedKey::Site => config.site.title.clone(),
                _ => format!("{} — {}", config.site.title, name),
            };
            let updated = FeedInfo::updated_of(posts.iter().map(|p| p.as_ref()));
            (
                FeedInfo {
                    key,
                    title,
                    name,
                    updated,
                },
                posts,
            )
        })
        .collect()
}

/// The newest of the posts' dates and their files' modification times.
fn newest_change(posts: &[Arc<Post>]) -> DateTime<Utc> {
    posts
        .iter()
        .map(|p| p.updated.with_timezone(&Utc).max(p.file_modified))
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// HTTP dates carry whole seconds: a Last-Modified must compare equal to the date a
/// reader sends back.
fn truncate_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// A strong ETag from the body: the first 128 bits of its SHA-256, quoted.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn compressed(
    content_type: &'static str,
    body: String,
    etag: String,
    last_modified: DateTime<Utc>,
    cache_control: String,
) -> Rendered {
    let body = Bytes::from(body);
    Rendered {
        content_type,
        gzip: Some(gzip(&body)),
        br: Some(brotli(&body)),
        body,
        etag,
        last_modified,
        cache_control,
    }
}

pub fn gzip(body: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

pub fn brotli(body: &[u8]) -> Bytes {
    let mut out = Vec::new();
    {
        // Quality 5, window 2^20: on a 10 KB feed as small as quality 9 (2550 vs 2561
        // bytes) at 0.4 ms instead of 6.5 ms, and a publish compresses every touched route
        // before it swaps. Quality 11 saves 13% more but takes 15 ms a route; windows
        // of 2^16 and below hit a slow path in this encoder (6 ms on a 2 KB page).
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 5, 20);
        let _ = writer.write_all(body);
    }
    Bytes::from(out)
}

fn health<'a>(next: &Snapshot, view: &'a View, now: DateTime<Utc>) -> Route {
    let list = |problems: &'a [crate::post::Problem]| -> Vec<HealthProblem<'a>> {
        problems
            .iter()
            .map(|p| HealthProblem {
                path: &p.path,
                line: p.line,
                reason: &p.message,
            })
            .collect()
    };
    let errors = list(&view.errors);
    let report = Health {
        status: if errors.is_empty() && view.remembered.problem.is_none() {
            "ok"
        } else {
            "degraded"
        },
        state: view.remembered.problem.as_deref().unwrap_or("ok"),
        posts: next.posts,
        feeds: next.feeds,
        routes: next.routes.len(),
        last_publish: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        errors,
        warnings: list(&view.warnings),
    };
    let body = serde_json::to_string_pretty(&report).unwrap_or_else(|_| "{}".into());
    let etag = etag(body.as_bytes());
    Route {
        rendered: Arc::new(Rendered {
            content_type: "application/json; charset=utf-8",
            body: Bytes::from(body),
            gzip: None,
            br: None,
            etag,
            last_modified: truncate_to_second(now),
            cache_control: "no-store".into(),
        }),
        input: Input::Health,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Update};
    use crate::testing::PostBuilder;
    use chrono::TimeZone;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(
            "[site]\nbase_url = \"https://example.com\"\n",
            Path::new("config.toml"),
        )
        .unwrap()
    }

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, d, 12, 0, 0).single().unwrap()
    }

    fn post(slug: &str, category: &str, author: &str, published: u32, content: &str) -> Post {
        PostBuilder::new(slug)
            .site(&config().site)
            .author(author)
            .category(category)
            .published(&format!("2024-05-{published:02}T12:00:00+00:00"))
            .summary(content)
            .content_html(&format!("<p>{content}</p>"))
            .build()
    }

    fn publish(prev: &Snapshot, catalog: &Catalog, now: DateTime<Utc>) -> (Snapshot, Rerendered) {
        prev.next(&catalog.view(now), &config(), now)
    }

    /// Regression: pages were rendered at `/posts/{slug}/` whatever route the ledger
    /// gave them, so the feeds linked a permalink that answered 404.
    #[test]
    fn a_post_page_is_served_at_the_route_its_url_names() {
        let mut catalog = Catalog::new();
        let mut rainfall = post("rainfall", "Weather", "Ann", 1, "rain");
        rainfall.url = "https://example.com/2024/05/01/rainfall.html".into();
        catalog.apply("rainfall.md", Update::Parsed(rainfall));
        let (snapshot, _) = publish(&Snapshot::default(), &catalog, day(20));
        assert!(snapshot.get("/2024/05/01/rainfall.html").is_some());
        assert!(snapshot.get("/posts/rainfall/").is_none());
    }

    #[test]
    fn an_edit_rerenders_only_the_feeds_and_page_it_touches() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 1, "one")));
        catalog.apply("b.md", Update::Parsed(post("b", "Beta", "Bob", 2, "two")));
        let (first, stats) = publish(&Snapshot::default(), &catalog, day(20));
        // 5 feeds (site, 2 categories, 2 authors) × 3 formats, index, OPML, 2 pages.
        assert_eq!(
            stats,
            Rerendered {
                routes: 19,
                removed: 0
            }
        );

        catalog.apply(
            "a.md",
            Update::Parsed(post("a", "Alpha", "Ann", 1, "one, edited")),
        );
        let (second, stats) = publish(&first, &catalog, day(21));
        // Site, Alpha and Ann feeds × 3 formats, and a's page; the feed list is the same.
        assert_eq!(
            stats,
            Rerendered {
                routes: 10,
                removed: 0
            }
        );
        for route in [
            "/categories/beta/rss.xml",
            "/authors/bob/atom.xml",
            "/posts/b/",
            "/",
        ] {
            assert!(
                Arc::ptr_eq(first.get(route).unwrap(), second.get(route).unwrap()),
                "{route} was re-rendered"
            );
        }
        assert_ne!(
            first.get("/categories/alpha/rss.xml").unwrap().etag,
            second.get("/categories/alpha/rss.xml").unwrap().etag
        );
    }

    #[test]
    fn a_post_with_two_authors_is_in_each_authors_feed() {
        let mut p = post("a", "Alpha", "Zed", 1, "one");
        p.authors.push(crate::testing::named("Yan"));
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(p));
        let (snapshot, _) = publish(&Snapshot::default(), &catalog, day(20));
        for route in ["/authors/zed/rss.xml", "/authors/yan/rss.xml"] {
            let body = String::from_utf8_lossy(&snapshot.get(route).unwrap().body).into_owned();
            assert!(
                body.contains("<guid isPermaLink=\"false\">tag:example.com,2024-05-01:a</guid>"),
                "{route}: {body}"
            );
            assert!(
                body.contains("<dc:creator>Zed</dc:creator>\n      <dc:creator>Yan</dc:creator>"),
                "{route}: {body}"
            );
        }
    }

    #[test]
    fn a_fresh_snapshot_of_the_same_posts_has_the_same_etags_and_dates() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 1, "one")));
        let (first, _) = publish(&Snapshot::default(), &catalog, day(20));
        let (restarted, _) = publish(&Snapshot::default(), &catalog, day(25));
        for route in [
            "/rss.xml",
            "/categories/alpha/atom.xml",
            "/posts/a/",
            "/opml.xml",
        ] {
            let (a, b) = (first.get(route).unwrap(), restarted.get(route).unwrap());
            assert_eq!(a.etag, b.etag, "{route}");
            assert_eq!(a.last_modified, b.last_modified, "{route}");
            assert_eq!(a.last_modified, day(1), "{route}");
        }
    }

    #[test]
    fn deleting_the_newest_post_moves_last_modified_forward() {
        let mut catalog = Catalog::new();
        catalog.apply(
            "old.md",
            Update::Parsed(post("old", "Alpha", "Ann", 5, "old")),
        );
        catalog.apply(
            "new.md",
            Update::Parsed(post("new", "Alpha", "Ann", 10, "new")),
        );
        let (first, _) = publish(&Snapshot::default(), &catalog, day(20));
        assert_eq!(
            first
                .get("/categories/alpha/rss.xml")
                .unwrap()
                .last_modified,
            day(10)
        );

        catalog.apply("new.md", Update::Removed);
        let (second, stats) = publish(&first, &catalog, day(21));
        assert_eq!(stats.removed, 1, "the page of the deleted post");
        assert!(second.get("/posts/new/").is_none());
        // The feed's newest post is now from day 5, but a reader holding the day-10 copy
        // must not get a 304: the body changed on day 21.
        assert_eq!(
            second
                .get("/categories/alpha/rss.xml")
                .unwrap()
                .last_modified,
            day(21)
        );
    }

    #[test]
    fn a_change_within_the_second_of_the_copy_before_still_moves_last_modified_forward() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 1, "one")));
        catalog.apply("b.md", Update::Parsed(post("b", "Alpha", "Ann", 2, "two")));
        let noon = day(20);
        let (first, _) = publish(&Snapshot::default(), &catalog, noon);
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 20, "one")));
        let in_that_second = noon + chrono::Duration::milliseconds(100);
        let (second, _) = publish(&first, &catalog, in_that_second);
        let route = "/categories/alpha/rss.xml";
        assert_eq!(second.get(route).unwrap().last_modified, day(20));

        // Edited again in the same second: a reader holding the copy above sends
        // `If-Modified-Since: <noon>`, and must not get a 304 over it.
        catalog.apply(
            "a.md",
            Update::Parsed(post("a", "Alpha", "Ann", 20, "one, edited")),
        );
        let (third, _) = publish(
            &second,
            &catalog,
            noon + chrono::Duration::milliseconds(600),
        );
        assert_ne!(
            second.get(route).unwrap().etag,
            third.get(route).unwrap().etag
        );
        assert_eq!(
            third.get(route).unwrap().last_modified,
            day(20) + chrono::Duration::seconds(1)
        );
        // The deletion of the newest post within that second too.
        catalog.apply("a.md", Update::Removed);
        let (fourth, _) = publish(&third, &catalog, noon + chrono::Duration::milliseconds(900));
        assert_eq!(
            fourth.get(route).unwrap().last_modified,
            day(20) + chrono::Duration::seconds(2)
        );
    }

    #[test]
    fn a_first_snapshot_is_dated_no_earlier_than_the_last_folder_change() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 1, "one")));
        // The newest post of Alpha was deleted on day 7 while the server was down.
        let start = Snapshot::starting_after(Some(day(7)));
        let (first, _) = publish(&start, &catalog, day(20));
        assert_eq!(
            first
                .get("/categories/alpha/rss.xml")
                .unwrap()
                .last_modified,
            day(7)
        );
        // Posts newer than the floor keep their own dates.
        catalog.apply("b.md", Update::Parsed(post("b", "Beta", "Bob", 9, "two")));
        let (second, _) = publish(&Snapshot::starting_after(Some(day(7))), &catalog, day(20));
        assert_eq!(
            second
                .get("/categories/beta/rss.xml")
                .unwrap()
                .last_modified,
            day(9)
        );
    }

    #[test]
    fn health_lists_failed_files() {
        let mut catalog = Catalog::new();
        catalog.apply(
            "bad.md",
            Update::Failed(crate::post::Problem {
                path: "bad.md".into(),
                line: 3,
                message: "bad date".into(),
            }),
        );
        let (snapshot, _) = publish(&Snapshot::default(), &catalog, day(20));
        let health: serde_json::Value =
            serde_json::from_slice(&snapshot.get("/healthz").unwrap().body).unwrap();
        assert_eq!(health["status"], "degraded");
        assert_eq!(health["posts"], 0);
        assert_eq!(health["errors"][0]["path"], "bad.md");
        assert_eq!(health["errors"][0]["line"], 3);
        assert_eq!(health["errors"][0]["reason"], "bad date");
        assert_eq!(health["last_publish"], "2024-05-20T12:00:00.000Z");
    }
}
