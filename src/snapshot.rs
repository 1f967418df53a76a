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
use crate::feed::{self, FeedInfo, FeedKey};
use crate::post::{Named, Post};

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
struct Same(Arc<Post>);

impl PartialEq for Same {
    fn eq(&self, other: &Same) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What a route was rendered from.
#[derive(Debug, Clone, PartialEq)]
enum Input {
    Feed(FeedInfo, Vec<Same>),
    /// The index and OPML list: every feed.
    Listing(Vec<FeedInfo>),
    Page(Same),
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
    pub published_at: Option<DateTime<Utc>>,
    pub feeds: usize,
    pub posts: usize,
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
    /// The response for a route, if there is one.
    pub fn get(&self, route: &str) -> Option<&Arc<Rendered>> {
        self.routes.get(route).map(|r| &r.rendered)
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
                published_at: Some(now),
                feeds: 0,
                posts: view.posts.len(),
            },
            stats: Rerendered::default(),
            now,
            cache_control: format!("public, max-age={}", config.cache_max_age),
        };

        let feeds = group(&view.posts, config);
        pass.next.feeds = feeds.len();
        let mut listing = Vec::with_capacity(feeds.len());
        for (info, posts) in feeds {
            let modified = newest_change(&posts);
            let refs: Vec<&Post> = posts.iter().map(|p| p.as_ref()).collect();
            let input = Input::Feed(info.clone(), posts.iter().cloned().map(Same).collect());
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
        pass.place("/".into(), input.clone(), everything, || {
            (
                HTML,
                feed::render_index(&config.site, &listing, &config.formats),
            )
        });
        pass.place("/opml.xml".into(), input, everything, || {
            (
                OPML,
                feed::render_opml(&config.site, &listing, &config.formats),
            )
        });

        for post in &view.posts {
            let modified = newest_change(std::slice::from_ref(post));
            let input = Input::Page(Same(Arc::clone(post)));
            pass.place(format!("/posts/{}/", post.slug), input, modified, || {
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
        next.routes.insert("/healthz".into(), health);
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
                self.next.routes.insert(route, old.clone());
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
            // a stale copy.
            (_, Some(before)) => modified.max(self.now).max(before),
            _ => modified,
        };
        let rendered = compressed(
            content_type,
            body,
            etag,
            whole_seconds(last_modified),
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
/// `feeds.items` posts. `posts` is newest first, so each group is too.
fn group(posts: &[Arc<Post>], config: &Config) -> Vec<(FeedInfo, Vec<Arc<Post>>)> {
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
        add(
            FeedKey::Author(post.author.slug.clone()),
            &post.author.name,
            post,
        );
    }
    by_key
        .into_iter()
        .map(|(key, (name, posts))| {
            let title = match key {
                FeedKey::Site => config.site.title.clone(),
                _ => format!("{} — {}", config.site.title, name),
            };
            let updated = posts
                .iter()
                .map(|p| p.updated.max(p.published))
                .max()
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH.fixed_offset());
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
        .flat_map(|p| {
            [
                p.published.with_timezone(&Utc),
                p.updated.with_timezone(&Utc),
                p.file_modified,
            ]
        })
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
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
        // Quality 9 of 11: within a few percent of 11's size at many times its speed,
        // which matters because a publish compresses before it swaps.
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
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
        status: if errors.is_empty() { "ok" } else { "degraded" },
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
            last_modified: whole_seconds(now),
            cache_control: "no-store".into(),
        }),
        input: Input::Health,
    }
}
