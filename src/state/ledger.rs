//! The identity ledger in memory: which post each file is, the id minted for it, the slug
//! and page route it holds, and every route it held before.
//!
//! Decisions depend only on the sequence of change sets the ledger is handed (and the
//! clock only for how long a removed post is remembered), never on reading order or
//! timing within a change set, so replicas that saw the same history agree.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::routes::FeedKey;

/// What one post file that parsed asks of the ledger in a change set.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// Path under the posts folder, `/`-separated.
    pub path: String,
    /// A hash of the file's bytes: a file that appears as another disappears with the
    /// same content is that post, renamed or moved.
    pub fingerprint: String,
    /// The slug the rules give (from the path or the front matter).
    pub slug: String,
    /// True when the writer chose the slug (`slug` in the front matter): a taken one is
    /// then an error, not a reason for a variant.
    pub slug_explicit: bool,
    /// Readable slugs to try, in order, when `slug` belongs to another post
    /// (e.g. the Jekyll date kept: `en/2017-05-03-survey`).
    pub variants: Vec<String>,
    /// The page route the writer chose (`permalink`, `url` or `path`), if any.
    pub route: Option<String>,
    /// Former URLs the writer lists (`aliases`, `redirect_from`), as routes.
    pub aliases: Vec<String>,
    /// The id the front matter gives, if any (already checked to be a URI).
    pub id: Option<String>,
    /// The post's date, or its file's modification time when it has none: which of two
    /// new posts claiming one slug is older.
    pub date: DateTime<Utc>,
    /// The file's modification time: the first-seen time of a post first seen now.
    pub modified: DateTime<Utc>,
    /// The post carries no date: it is dated by its first-seen time.
    pub undated: bool,
    /// The slug of its first category, for `:category` in the permalink pattern.
    pub category: String,
}

/// How the site makes ids and routes from a claim and the slug it was given.
pub trait Rules {
    /// The id of a post first seen with `slug`: `tag:{host},{date}:{slug}`.
    fn mint(&self, claim: &Claim, slug: &str) -> String;
    /// The page route for `slug` when the claim names none (the permalink pattern).
    fn route(&self, claim: &Claim, slug: &str) -> String;
}

/// Where the ledger placed one post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub id: String,
    pub slug: String,
    /// The post's page route, e.g. `/posts/night-bus-pilot/`.
    pub route: String,
    /// When the post was first seen: the date of a post that carries none.
    pub first_seen: DateTime<Utc>,
    /// When its content last changed (see [`Entry::content_changed`]).
    pub content_changed: Option<DateTime<Utc>>,
    /// What the writer should know: a slug variant given, an alias ignored.
    pub notes: Vec<String>,
}

/// One post the ledger knows, present or removed.
#[derive(Debug, Clone, PartialEq)]
///
/// Its strings are shared (`Arc<str>`) with the indexes below: a ledger of 100,000 posts
/// holds each once.
pub struct Entry {
    pub id: Arc<str>,
    /// The file it was last seen at.
    pub path: Arc<str>,
    /// The slug the rules gave last time: when it changes (a rename), the post moves.
    pub natural_slug: Arc<str>,
    /// The slug it holds, which may be a variant of `natural_slug`.
    pub slug: Arc<str>,
    pub route: Arc<str>,
    pub first_seen: DateTime<Utc>,
    pub fingerprint: Arc<str>,
    /// The modification time of its file when the ledger last saw its content change
    /// (the fingerprint differ from the one before), never earlier than a change before;
    /// `None` until it first changes: a first sighting is not a change. A file's time,
    /// not the clock's, so replicas that saw the same folders agree.
    pub content_changed: Option<DateTime<Utc>>,
    /// When its file went away; `None` while it is present.
    pub removed_at: Option<DateTime<Utc>>,
}

/// Every post the ledger knows, with indexes for the questions a change set asks.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// By key: the row number in the database. Never shrinks, so keys stay valid.
    pub(super) entries: BTreeMap<i64, Entry>,
    /// Present posts by path.
    by_path: HashMap<Arc<str>, i64>,
    /// Slugs held by present posts.
    by_slug: HashMap<Arc<str>, i64>,
    /// Page routes held by present posts.
    by_route: HashMap<Arc<str>, i64>,
    /// Every id ever minted: an id is never given to two posts.
    by_id: HashMap<Arc<str>, i64>,
    /// Posts removed within the remembered time: the only ones a new file's content or
    /// path is compared with, so a change set never walks the whole ledger.
    recently_removed: BTreeSet<i64>,
    /// Former routes and aliases, each answering 301 to its post's page.
    pub(super) redirects: BTreeMap<String, i64>,
    /// Every feed ever published, with its display name: a feed never vanishes.
    pub(super) feeds: Arc<BTreeMap<FeedKey, String>>,
    /// When each feed that has no post now was published empty first (it lost its last
    /// post, or the site never had one): its `updated`, the same after a restart.
    pub(super) emptied: Arc<BTreeMap<FeedKey, DateTime<Utc>>>,
    /// How long a removed post waits for its file to come back under another name.
    pub(super) remember: Duration,
    /// What changed since the last save, for writing only that.
    pub(super) dirty: Dirty,
    /// [`Ledger::redirects`] as a map, rebuilt only when a route moved, so a publish
    /// that changed none hands the snapshot the same map.
    redirect_map: Arc<BTreeMap<String, String>>,
    redirects_stale: bool,
}

/// Rows changed since the last save.
#[derive(Debug, Default, Clone)]
pub(super) struct Dirty {
    pub entries: BTreeSet<i64>,
    pub redirects: BTreeSet<String>,
    pub feeds: BTreeSet<FeedKey>,
}

impl Dirty {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.redirects.is_empty() && self.feeds.is_empty()
    }
}

/// How long a removed post is remembered when nothing says otherwise.
pub const REMEMBER_DAYS: i64 = 7;

/// `new` as a shared string: `old` itself when it says the same.
fn shared(old: Option<&Arc<str>>, new: &str) -> Arc<str> {
    match old {
        Some(old) if &**old == new => Arc::clone(old),
        _ => Arc::from(new),
    }
}

impl Ledger {
    /// An empty ledger: a first run, or one without a database.
    pub fn new(remember: Duration) -> Ledger {
        Ledger {
            remember,
            ..Ledger::default()
        }
    }

    /// A ledger holding what a database had.
    pub(super) fn restore(
        remember: Duration,
        entries: BTreeMap<i64, Entry>,
        redirects: BTreeMap<String, i64>,
        feeds: BTreeMap<FeedKey, String>,
        emptied: BTreeMap<FeedKey, DateTime<Utc>>,
    ) -> Ledger {
        let mut ledger = Ledger {
            entries,
            redirects,
            feeds: Arc::new(feeds),
            emptied: Arc::new(emptied),
            remember,
            ..Ledger::default()
        };
        ledger.redirects_stale = true;
        for (&key, entry) in &ledger.entries {
            ledger.by_id.insert(entry.id.clone(), key);
            if entry.removed_at.is_some() {
                ledger.recently_removed.insert(key);
            } else {
                ledger.by_path.insert(entry.path.clone(), key);
                ledger.by_slug.insert(entry.slug.clone(), key);
                ledger.by_route.insert(entry.route.clone(), key);
            }
        }
        ledger.refresh_redirects();
        ledger
    }

    /// Every redirect of a present post, from route to route.
    pub fn redirect_map(&self) -> Arc<BTreeMap<String, String>> {
        Arc::clone(&self.redirect_map)
    }

    fn refresh_redirects(&mut self) {
        if self.redirects_stale {
            self.redirect_map = Arc::new(self.redirects().into_iter().collect());
            self.redirects_stale = false;
        }
    }

    /// How many posts the ledger knows, present and removed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The paths of every present post, sorted.
    pub fn present_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.by_path.keys().map(|k| k.to_string()).collect();
        paths.sort();
        paths
    }

    /// The entry of the present post at `path`.
    pub fn at_path(&self, path: &str) -> Option<&Entry> {
        self.by_path.get(path).and_then(|key| self.entries.get(key))
    }

    /// Where a former route or an alias leads: the page route of a present post.
    pub fn redirect(&self, route: &str) -> Option<&str> {
        let key = self.redirects.get(route)?;
        let entry = self.entries.get(key)?;
        (entry.removed_at.is_none() && &*entry.route != route).then_some(&*entry.route)
    }

    /// Every redirect of a present post: `(from, to)` routes, sorted.
    pub fn redirects(&self) -> Vec<(String, String)> {
        self.redirects
            .keys()
            .filter_map(|from| Some((from.clone(), self.redirect(from)?.to_string())))
            .collect()
    }

    /// Every feed ever published, with its name.
    pub fn feeds(&self) -> Arc<BTreeMap<FeedKey, String>> {
        Arc::clone(&self.feeds)
    }

    /// When each feed without posts was published empty first.
    pub fn emptied(&self) -> Arc<BTreeMap<FeedKey, DateTime<Utc>>> {
        Arc::clone(&self.emptied)
    }

    /// Remembers that `key` was published under `name`, so it keeps answering, and,
    /// when it was published `empty`, since when: the first publish that found it so.
    pub fn note_feed(&mut self, key: &FeedKey, name: &str, empty: bool, now: DateTime<Utc>) {
        if self.feeds.get(key).map(String::as_str) != Some(name) {
            Arc::make_mut(&mut self.feeds).insert(key.clone(), name.to_string());
            self.dirty.feeds.insert(key.clone());
        }
        if empty != self.emptied.contains_key(key) {
            let emptied = Arc::make_mut(&mut self.emptied);
            if empty {
                emptied.insert(key.clone(), now);
            } else {
                emptied.remove(key);
            }
            self.dirty.feeds.insert(key.clone());
        }
    }

    /// Applies one change set: the files gone from `removed` paths, and the `claims` of
    /// the files that parsed. Gives each claim its placement, or the reason it cannot be
    /// published (a slug or route the writer chose that another post holds).
    pub fn settle(
        &mut self,
        removed: &[String],
        claims: &[Claim],
        rules: &dyn Rules,
        now: DateTime<Utc>,
    ) -> Vec<Result<Placement, String>> {
        self.forget_old_removals(now);
        for path in removed {
            self.remove(path, now);
        }
        // A file that moved from a path in this change set to another: release what
        // it held at its old path first, so posts can swap names in one change set.
        let keys: Vec<Option<i64>> = claims
            .iter()
            .map(|c| self.by_path.get(c.path.as_str()).copied())
            .collect();
        let mut order: Vec<usize> = (0..claims.len()).collect();
        // Posts already placed keep what they hold; new ones are placed explicit claims
        // first, then oldest first, ties by path, so the post that came first keeps a
        // shared slug whatever order the files were read in.
        order.sort_by(|&a, &b| {
            let (ca, cb) = (&claims[a], &claims[b]);
            keys[b]
                .is_some()
                .cmp(&keys[a].is_some())
                .then(cb.slug_explicit.cmp(&ca.slug_explicit))
                .then(ca.date.cmp(&cb.date))
                .then(ca.path.cmp(&cb.path))
        });
        let mut placed: Vec<Option<Result<Placement, String>>> = vec![None; claims.len()];
        let mut taken_in_batch: BTreeSet<i64> = BTreeSet::new();
        for at in order {
            let claim = &claims[at];
            let key = keys[at].or_else(|| self.returning(claim, rules, &taken_in_batch, now));
            if let Some(key) = key {
                taken_in_batch.insert(key);
            }
            placed[at] = Some(self.place(claim, key, rules, now));
        }
        self.refresh_redirects();
        placed
            .into_iter()
            .map(|p| p.unwrap_or_else(|| Err("not placed".into())))
            .collect()
    }

    /// Marks the post at `path` removed: its slug and route are free again, and it waits
    /// [`Ledger::remember`] for its content to come back under another name.
    fn remove(&mut self, path: &str, now: DateTime<Utc>) {
        let Some(key) = self.by_path.remove(path) else {
            return;
        };
        let Some(entry) = self.entries.get_mut(&key) else {
            return;
        };
        entry.removed_at = Some(now);
        self.recently_removed.insert(key);
        self.redirects_stale = true;
        if self.by_slug.get(&entry.slug) == Some(&key) {
            self.by_slug.remove(&entry.slug);
        }
        if self.by_route.get(&entry.route) == Some(&key) {
            self.by_route.remove(&entry.route);
        }
        self.dirty.entries.insert(key);
    }

    /// A removed post that `claim` brings back: the same content (a rename or a move),
    /// else the same path (a restore, maybe edited), both within the remembered time;
    /// else the same id by the rules (a post restored long after).
    fn returning(
        &self,
        claim: &Claim,
        rules: &dyn Rules,
        taken: &BTreeSet<i64>,
        now: DateTime<Utc>,
    ) -> Option<i64> {
        let removed = |key: &i64, entry: &Entry| entry.removed_at.is_some() && !taken.contains(key);
        let recent = |entry: &Entry| entry.removed_at.is_some_and(|at| now - at <= self.remember);
        // Newest removal first, then the lowest key: the same answer on every replica.
        let best = |matches: &dyn Fn(&Entry) -> bool| {
            self.recently_removed
                .iter()
                .filter_map(|key| Some((key, self.entries.get(key)?)))
                .filter(|(key, entry)| removed(key, entry) && recent(entry) && matches(entry))
                .max_by(|(ka, a), (kb, b)| a.removed_at.cmp(&b.removed_at).then(kb.cmp(ka)))
                .map(|(key, _)| *key)
        };
        best(&|e| *e.fingerprint == *claim.fingerprint)
            .or_else(|| best(&|e| *e.path == *claim.path))
            .or_else(|| {
                let id = claim
                    .id
                    .clone()
                    .unwrap_or_else(|| rules.mint(claim, &claim.slug));
                let key = *self.by_id.get(id.as_str())?;
                let entry = self.entries.get(&key)?;
                removed(&key, entry).then_some(key)
            })
    }

    /// Stops comparing new files with posts removed longer ago than remembered.
    fn forget_old_removals(&mut self, now: DateTime<Utc>) {
        let entries = &self.entries;
        let remember = self.remember;
        self.recently_removed.retain(|key| {
            entries
                .get(key)
                .and_then(|e| e.removed_at)
                .is_some_and(|at| now - at <= remember)
        });
    }

    /// Places `claim` as the post `key` (or a new post), holding a slug and a route.
    fn place(
        &mut self,
        claim: &Claim,
        key: Option<i64>,
        rules: &dyn Rules,
        now: DateTime<Utc>,
    ) -> Result<Placement, String> {
        let mut notes = Vec::new();
        let existing = key.and_then(|k| self.entries.get(&k).cloned());
        let keeps_slug = existing
            .as_ref()
            .is_some_and(|e| *e.natural_slug == *claim.slug && self.slug_free(&e.slug, key));
        let slug = if let (true, Some(entry)) = (keeps_slug, &existing) {
            if *entry.slug != *claim.slug {
                // Said at every read, not only when chosen: `check` and `/healthz` keep
                // showing why the post is not at the slug its file gives.
                notes.push(self.variant_note(&claim.slug, &entry.slug));
            }
            entry.slug.to_string()
        } else {
            self.free_slug(claim, key, &mut notes)?
        };
        let first_seen = existing
            .as_ref()
            .map_or(claim.modified.min(now), |e| e.first_seen);
        let content_changed = match &existing {
            None => None,
            Some(e) if *e.fingerprint != *claim.fingerprint => Some(
                e.content_changed
                    .map_or(claim.modified, |before| before.max(claim.modified)),
            ),
            Some(e) => e.content_changed,
        };
        let dated;
        let claim = if claim.undated {
            dated = Claim {
                date: first_seen,
                ..claim.clone()
            };
            &dated
        } else {
            claim
        };
        let route = match &claim.route {
            Some(route) => {
                if let Some(holder) = self.route_holder(route, key) {
                    return Err(format!(
                        "the page route `{route}` is already taken by {holder}; choose another `permalink`"
                    ));
                }
                route.clone()
            }
            None => rules.route(claim, &slug),
        };
        let key = key.unwrap_or_else(|| self.entries.keys().next_back().map_or(1, |k| k + 1));
        let id = match &existing {
            Some(entry) => entry.id.to_string(),
            None => self.mint(claim, &slug, rules, key),
        };
        if existing
            .as_ref()
            .is_none_or(|old| *old.route != *route || old.removed_at.is_some())
        {
            self.redirects_stale = true;
        }
        if let Some(old) = &existing {
            if *old.route != *route {
                self.redirects.insert(old.route.to_string(), key);
                self.dirty.redirects.insert(old.route.to_string());
            }
            if self.by_slug.get(&old.slug) == Some(&key) {
                self.by_slug.remove(&old.slug);
            }
            if self.by_route.get(&old.route) == Some(&key) {
                self.by_route.remove(&old.route);
            }
            if self.by_path.get(&old.path) == Some(&key) {
                self.by_path.remove(&old.path);
            }
        }
        // A route a post holds now is never a redirect.
        if self.redirects.remove(&route).is_some() {
            self.dirty.redirects.insert(route.clone());
            self.redirects_stale = true;
        }
        for alias in &claim.aliases {
            if alias == &route {
                continue;
            }
            match self.by_route.get(alias.as_str()) {
                Some(&holder) if holder != key => notes.push(format!(
                    "alias `{alias}` is the page of another post; it is not redirected"
                )),
                _ => {
                    if self.redirects.insert(alias.clone(), key) != Some(key) {
                        self.dirty.redirects.insert(alias.clone());
                        self.redirects_stale = true;
                    }
                }
            }
        }
        // The strings an entry had are kept when unchanged: shared, not copied.
        let old = existing.as_ref();
        let entry = Entry {
            id: shared(old.map(|e| &e.id), &id),
            path: shared(old.map(|e| &e.path), &claim.path),
            natural_slug: shared(old.map(|e| &e.natural_slug), &claim.slug),
            slug: shared(old.map(|e| &e.slug), &slug),
            route: shared(old.map(|e| &e.route), &route),
            first_seen,
            fingerprint: shared(old.map(|e| &e.fingerprint), &claim.fingerprint),
            content_changed,
            removed_at: None,
        };
        let (path_key, slug_key, route_key, id_key) = (
            Arc::clone(&entry.path),
            Arc::clone(&entry.slug),
            Arc::clone(&entry.route),
            Arc::clone(&entry.id),
        );
        self.recently_removed.remove(&key);
        if self.entries.get(&key) != Some(&entry) {
            self.entries.insert(key, entry);
            self.dirty.entries.insert(key);
        }
        self.by_path.insert(path_key, key);
        self.by_slug.insert(slug_key, key);
        self.by_route.insert(route_key, key);
        self.by_id.insert(id_key, key);
        Ok(Placement {
            id,
            slug,
            route,
            first_seen,
            content_changed,
            notes,
        })
    }

    /// True when no present post but `key` holds `slug`.
    fn slug_free(&self, slug: &str, key: Option<i64>) -> bool {
        match self.by_slug.get(slug) {
            None => true,
            Some(holder) => Some(*holder) == key,
        }
    }

    /// The path of the present post other than `key` that holds `route`.
    fn route_holder(&self, route: &str, key: Option<i64>) -> Option<String> {
        let holder = self.by_route.get(route).filter(|h| Some(**h) != key)?;
        self.entries.get(holder).map(|e| e.path.to_string())
    }

    /// The claim's slug when free, else its first free variant; a chosen slug that is
    /// taken is an error.
    fn free_slug(
        &self,
        claim: &Claim,
        key: Option<i64>,
        notes: &mut Vec<String>,
    ) -> Result<String, String> {
        if self.slug_free(&claim.slug, key) {
            return Ok(claim.slug.clone());
        }
        if claim.slug_explicit {
            let holder = self
                .by_slug
                .get(claim.slug.as_str())
                .and_then(|h| self.entries.get(h))
                .map_or_else(String::new, |e| e.path.to_string());
            return Err(format!(
                "slug `{}` is already taken by {holder}; set a different `slug` in the front matter",
                claim.slug
            ));
        }
        let numbered = (2..).map(|n| format!("{}-{n}", claim.slug));
        let slug = claim
            .variants
            .iter()
            .cloned()
            .chain(numbered)
            .find(|slug| self.slug_free(slug, key))
            .unwrap_or_default();
        notes.push(self.variant_note(&claim.slug, &slug));
        Ok(slug)
    }

    /// Why a post is published under a variant of the slug its file gives.
    fn variant_note(&self, natural: &str, variant: &str) -> String {
        let holder = self
            .by_slug
            .get(natural)
            .and_then(|h| self.entries.get(h))
            .map_or("an earlier post", |e| &*e.path);
        format!(
            "slug `{natural}` is already taken by {holder}; published as `{variant}` (set a `slug` in the front matter to choose another)"
        )
    }

    /// A new post's id: the front matter's when no other post has it, else the rules';
    /// never one another post ever had.
    fn mint(&self, claim: &Claim, slug: &str, rules: &dyn Rules, key: i64) -> String {
        let unused = |id: &String| self.by_id.get(id.as_str()).is_none_or(|k| *k == key);
        if let Some(id) = claim.id.as_ref().filter(|id| unused(id)) {
            return id.clone();
        }
        let id = rules.mint(claim, slug);
        if unused(&id) {
            return id;
        }
        (2..)
            .map(|n| format!("{id}-{n}"))
            .find(|id| unused(id))
            .unwrap_or(id)
    }
}
