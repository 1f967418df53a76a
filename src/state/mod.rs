//! What must outlive a restart: the identity ledger (each post's id, first-seen time,
//! slug, page route and former routes) and the feeds ever published, in one SQLite
//! database (README, "Moving a blog to dropfeed").
//!
//! # Layout
//!
//! - `ledger`: the decisions, in memory and pure: which post a file is, the id minted
//!   for it, the slug and route it holds.
//! - `store`: the SQLite database the ledger is loaded from and saved to.
//! - `subscriptions`: the built-in WebSub hub's subscriptions, in the same database.
//! - this file: [`State`], the ledger with its database or, when there is none or it
//!   failed, without one (ids then come from the rules, and `/healthz` says why).

mod ledger;
mod store;
mod subscriptions;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};

use crate::catalog::{Catalog, Remembered, Update};
use crate::config::Config;
use crate::post::{Post, Problem, Site};
use crate::routes::{self, FeedKey};

pub use ledger::{Claim, Entry, Ledger, Placement, Rules, REMEMBER_DAYS};
use store::Store;
pub use subscriptions::{Subscription, SubscriptionStore};

/// Why the state database cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("{path}: cannot open the state database ({message}); restore it from a backup, or move it away to start a new ledger (ids of posts already published may then change)")]
    Open { path: PathBuf, message: String },
    #[error("{path}: the state database was made by a newer dropfeed (schema version {version}); run that version, or restore a backup made by this one")]
    Newer { path: PathBuf, version: i64 },
    #[error("{path}: cannot write the state database ({message}); check the disk, the file's permissions, and that no other program holds it locked")]
    Write { path: PathBuf, message: String },
    #[error("{path}: the state database was deleted or replaced while running; restart dropfeed to open it again (ids are kept in memory until then)")]
    Gone { path: PathBuf },
}

impl StateError {
    fn open(path: &Path, err: &rusqlite::Error) -> StateError {
        StateError::Open {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }
}

/// The ledger, and the database it is kept in when there is one.
pub struct State {
    pub ledger: Ledger,
    store: Option<Store>,
    /// Why the ledger is not being saved, when it should be: `/healthz` says `degraded`.
    pub problem: Option<StateError>,
}

impl State {
    /// Opens the database at `path`: what `build` does, failing when it cannot.
    pub fn open(path: &Path, remember: Duration) -> Result<State, StateError> {
        let (store, ledger) = Store::open(path, remember)?;
        Ok(State {
            ledger,
            store: Some(store),
            problem: None,
        })
    }

    /// Opens the database at `path`, or goes on without one when it cannot: what `serve`
    /// does, so a broken database never stops the feeds.
    pub fn open_or_degraded(path: &Path, remember: Duration) -> State {
        State::open(path, remember).unwrap_or_else(|err| {
            tracing::error!(error = %err, "serving with ids from the rules");
            State {
                ledger: Ledger::new(remember),
                store: None,
                problem: Some(err),
            }
        })
    }

    /// A ledger that is never saved: `build --no-state` and `check`.
    pub fn in_memory(remember: Duration) -> State {
        State {
            ledger: Ledger::new(remember),
            store: None,
            problem: None,
        }
    }

    /// Checks that the database is still the file opened; when it is not, the ledger
    /// goes on in memory and [`State::problem`] says why.
    pub fn verify(&mut self) {
        if let Some(Err(err)) = self.store.as_ref().map(Store::verify) {
            tracing::error!(error = %err, "the ledger is kept in memory only");
            self.store = None;
            self.problem = Some(err);
        }
    }

    /// Opens the database `config` names, as `serve` does: without one when it cannot.
    pub fn for_serve(config: &Config) -> State {
        State::open_or_degraded(
            &config.state_db,
            remember_days(config.remember_removed_days),
        )
    }

    /// Opens the database `config` names, as `build` does: failing when it cannot, and
    /// without one at all when `use_db` is false (`--no-state`).
    pub fn for_build(config: &Config, use_db: bool) -> Result<State, StateError> {
        let remember = remember_days(config.remember_removed_days);
        if use_db {
            State::open(&config.state_db, remember)
        } else {
            Ok(State::in_memory(remember))
        }
    }

    /// The ledger `config` names, as `check` reads it: never written, and none when
    /// there is no database yet (a first run gives the ids the rules give).
    pub fn for_check(config: &Config) -> State {
        let remember = remember_days(config.remember_removed_days);
        if !config.state_db.exists() {
            return State::in_memory(remember);
        }
        let mut state = State::for_serve(config);
        state.store = None;
        state
    }

    /// Writes what changed since the last save. A failure is logged and kept in
    /// [`State::problem`]; the ledger in memory goes on.
    pub fn save(&mut self) -> Result<(), StateError> {
        let Some(store) = &mut self.store else {
            return Ok(());
        };
        match store.save(&mut self.ledger) {
            Ok(()) => Ok(()),
            Err(err) => {
                tracing::error!(error = %err, "the ledger is kept in memory only");
                self.store = None;
                self.problem = Some(err.clone());
                Err(err)
            }
        }
    }

    /// What the ledger adds to a view: feeds ever published, redirects, its health.
    pub fn remembered(&self) -> Remembered {
        Remembered {
            feeds: self.ledger.feeds(),
            emptied: self.ledger.emptied(),
            redirects: self.ledger.redirect_map(),
            problem: self.problem.as_ref().map(ToString::to_string),
        }
    }

    /// Remembers every feed a snapshot of `catalog` published at `now`, so each keeps
    /// answering, and since when each that has no post has been empty.
    pub fn note_feeds<'a>(
        &mut self,
        feeds: impl IntoIterator<Item = &'a (FeedKey, String)>,
        catalog: &Catalog,
        now: DateTime<Utc>,
    ) {
        for (key, name) in feeds {
            let empty = catalog.top(key, 1).is_empty();
            self.ledger.note_feed(key, name, empty, now);
        }
    }

    /// True when the ledger is neither saved nor meant to be.
    pub fn is_degraded(&self) -> bool {
        self.problem.is_some()
    }
}

impl State {
    /// Settles the identity of every post one change set read: `updates` are what
    /// reading each affected path gave. Each parsed post comes back with the id, slug,
    /// page and (when undated) date the ledger holds for it; one whose chosen slug or
    /// page another post holds comes back failed. Nothing is saved until [`State::save`].
    ///
    /// With `whole_folder` (a scan of every file, as at start), a post the ledger has at a
    /// path the scan did not read is gone: a file renamed or deleted while dropfeed was
    /// not running, which keeps its id if it comes back under another name.
    pub fn settle(
        &mut self,
        updates: Vec<(String, Update)>,
        whole_folder: bool,
        site: &Site,
        now: DateTime<Utc>,
    ) -> Vec<(String, Update)> {
        let mut removed = Vec::new();
        if whole_folder {
            let read: std::collections::HashSet<&str> =
                updates.iter().map(|(path, _)| path.as_str()).collect();
            removed.extend(
                self.ledger
                    .present_paths()
                    .into_iter()
                    .filter(|path| !read.contains(path.as_str())),
            );
        }
        let mut claims = Vec::new();
        let mut at = Vec::new();
        for (index, (path, update)) in updates.iter().enumerate() {
            match update {
                Update::Removed => removed.push(path.clone()),
                Update::Parsed(post) => {
                    claims.push(claim(post));
                    at.push(index);
                }
                Update::Failed(_) => {}
            }
        }
        let placements = self.ledger.settle(&removed, &claims, &SiteRules(site), now);
        let mut placed: Vec<Option<Result<Placement, String>>> = vec![None; updates.len()];
        for (index, placement) in at.into_iter().zip(placements) {
            placed[index] = Some(placement);
        }
        updates
            .into_iter()
            .zip(placed)
            .map(|((path, update), placement)| match (update, placement) {
                (Update::Parsed(mut post), Some(Ok(placement))) => {
                    place(&mut post, placement, site);
                    (path, Update::Parsed(post))
                }
                (Update::Parsed(_), Some(Err(message))) => {
                    let problem = Problem {
                        path: path.clone(),
                        line: 1,
                        message,
                    };
                    (path, Update::Failed(problem))
                }
                (update, _) => (path, update),
            })
            .collect()
    }
}

/// The site's rules for ids and pages, as the ledger asks for them.
struct SiteRules<'a>(&'a Site);

impl Rules for SiteRules<'_> {
    fn mint(&self, claim: &Claim, slug: &str) -> String {
        let day = claim
            .date
            .with_timezone(&self.0.timezone)
            .format("%Y-%m-%d");
        format!("tag:{},{}:{}", self.0.host, day, slug)
    }

    fn route(&self, claim: &Claim, slug: &str) -> String {
        let local = claim.date.with_timezone(&self.0.timezone);
        let parts = routes::PermalinkParts::on(local, slug, &claim.category);
        routes::permalink(&self.0.permalink, &parts)
    }
}

/// What a parsed post asks of the ledger.
fn claim(post: &Post) -> Claim {
    Claim {
        path: post.path.clone(),
        fingerprint: post.claims.fingerprint.clone(),
        slug: post.slug.clone(),
        slug_explicit: post.claims.slug_explicit,
        variants: post.claims.slug_variants.clone(),
        route: post.claims.route.clone(),
        aliases: post.claims.aliases.clone(),
        id: post.claims.id.clone(),
        date: post.published.to_utc(),
        modified: post.file_modified,
        undated: post.claims.undated,
        category: post
            .categories
            .first()
            .map(|c| c.slug.clone())
            .unwrap_or_default(),
    }
}

/// Gives `post` the identity the ledger settled. Links the parser made absolute against
/// the page it expected follow the post to its settled page.
fn place(post: &mut Post, placement: Placement, site: &Site) {
    let url = routes::absolute(&site.base_url, &placement.route);
    // `placement.route` moves into the post below.
    if url != post.url {
        post.content_html = crate::post::rebase_links(&post.content_html, &post.url, &url);
        post.url = url;
    }
    post.route = placement.route;
    if post.claims.undated {
        let first_seen = placement
            .first_seen
            .with_timezone(&site.timezone)
            .fixed_offset();
        if post.updated == post.published {
            post.updated = first_seen;
        }
        post.published = first_seen;
        post.updated = post.updated.max(first_seen);
    }
    // Without `updated` in the front matter, the post was updated when its content last
    // changed; never before it was published.
    if let Some(changed) = placement.content_changed {
        if !post.claims.updated_given {
            let changed = changed.with_timezone(&site.timezone).fixed_offset();
            post.updated = post.updated.max(changed).max(post.published);
        }
    }
    post.id = placement.id;
    post.slug = placement.slug;
    // Asked of the ledger and answered: not kept for every post in memory. The
    // fingerprint stays, to tell a changed file.
    post.claims.slug_variants = Vec::new();
    post.claims.aliases = Vec::new();
    for note in placement.notes {
        post.warnings.push(Problem {
            path: post.path.clone(),
            line: 1,
            message: note,
        });
    }
}

/// How many days a removed post waits for its content to come back under another name,
/// as a duration.
pub fn remember_days(days: u64) -> Duration {
    // A thousand years is "for ever", and keeps the duration far from overflow.
    Duration::days(days.min(365_000) as i64)
}

#[cfg(test)]
mod tests;
