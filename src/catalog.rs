//! The set of posts, by file path, and what is published of it at a given time.
//!
//! Each file keeps its last good post: a file that stops parsing keeps that version in
//! every feed, with its problem reported beside it, until it is fixed or deleted. Drafts
//! are never visible; a post dated in the future waits in a schedule until
//! [`Catalog::advance`] passes its time, so it appears without any file event. Each
//! feed's visible posts are kept in order as files change, and the feeds a change
//! touched are handed to the publisher ([`Catalog::take_touched`]): a publish costs what
//! changed, not the whole catalog. Slugs are unique by then: the ledger (`state`) settles
//! them before a post gets here.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use rpds::{HashTrieMapSync, RedBlackTreeSetSync};

use chrono::{DateTime, Utc};

use crate::post::{Post, Problem};
use crate::routes::FeedKey;

/// What a read of one file gave.
// One value per file read, moved straight into the catalog: boxing the post would add an
// allocation per read and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Update {
    Parsed(Post),
    Failed(Problem),
    /// The file is gone (deleted, moved out, or no longer a post file).
    Removed,
}

/// How one update changed the catalog, for the publish log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Added,
    Modified,
    Removed,
    /// The file failed to parse; its last good version (if any) stays.
    Failed,
    /// Nothing changed: the same post as before, or the removal of an unknown file.
    Unchanged,
}

#[derive(Debug, Default)]
struct Entry {
    /// The last version that parsed.
    post: Option<Arc<Post>>,
    /// Why the file's current content is not that version.
    error: Option<Problem>,
}

/// What the identity ledger (`state`) adds to a catalog's feeds; empty without one.
#[derive(Debug, Default, Clone)]
pub struct Remembered {
    /// Every feed ever published, with its name: one whose last post went keeps
    /// answering, empty, so readers keep the subscription.
    pub feeds: Arc<BTreeMap<FeedKey, String>>,
    /// Since when each feed without posts has been empty: its `updated`, kept in the
    /// state database so a restart gives the same bytes.
    pub emptied: Arc<BTreeMap<FeedKey, DateTime<Utc>>>,
    /// Former pages and aliases of present posts, each to the page it answers 301 to.
    pub redirects: Arc<BTreeMap<String, String>>,
    /// Why the ledger is not being saved, when it is not.
    pub problem: Option<String>,
}

/// A post as it sorts in a feed: newest first, ties by slug, then path, so the order
/// never depends on reading order. It orders by the post's own fields, so a feed of
/// 100,000 posts holds one pointer each, no copy of a key.
#[derive(Debug, Clone)]
pub struct Ranked(Arc<Post>);

/// The visible posts of one feed, newest first. Persistent: a snapshot takes a topic
/// in O(1) and keeps its version, so the HTML pages of a category, author or tag can
/// be paged through on request without the catalog, and without copying the list at
/// every publish.
#[derive(Debug, Clone)]
pub struct Topic(RedBlackTreeSetSync<Ranked>);

impl Topic {
    /// How many posts the feed has.
    pub fn len(&self) -> usize {
        self.0.size()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `n` posts after the newest `skip`, newest first.
    pub fn posts(&self, skip: usize, n: usize) -> Vec<Arc<Post>> {
        self.0
            .iter()
            .skip(skip)
            .take(n)
            .map(|r| Arc::clone(&r.0))
            .collect()
    }

    /// `n` posts after the oldest `skip`, oldest first: a run of an RFC 5005 archive,
    /// whose numbers count from the oldest post. Walked from whichever end is nearer.
    pub fn oldest(&self, skip: usize, n: usize) -> Vec<Arc<Post>> {
        let len = self.len();
        let end = skip.saturating_add(n).min(len);
        if skip >= end {
            return Vec::new();
        }
        if skip <= len - end {
            self.0
                .iter()
                .rev()
                .skip(skip)
                .take(end - skip)
                .map(|r| Arc::clone(&r.0))
                .collect()
        } else {
            let mut posts = self.posts(len - end, end - skip);
            posts.reverse();
            posts
        }
    }

    fn newest(&self) -> Option<&Arc<Post>> {
        self.0.first().map(|r| &r.0)
    }
}

impl Default for Topic {
    fn default() -> Topic {
        Topic(RedBlackTreeSetSync::new_sync())
    }
}

impl Ranked {
    fn key(&self) -> (Reverse<DateTime<Utc>>, &str, &str) {
        let post = &self.0;
        (
            Reverse(post.published.with_timezone(&Utc)),
            &post.slug,
            &post.path,
        )
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Ranked) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Ranked) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Ranked) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// What the posts folder looks like as a whole, beyond its files: `/healthz` says
/// `degraded` unless it is [`Folder::Fine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    Fine,
    /// The posts folder does not exist: removed, moved away, or never made.
    Missing,
    /// One publish took the last posts away, this many of them: a folder emptied by
    /// mistake more likely than a site retiring its posts. Until a post comes back.
    Emptied(usize),
}

/// Every post file seen, by `/`-separated path under the posts folder, with the visible
/// posts of each feed kept in order as files change: a change costs the feeds it
/// touches, never a pass over the whole catalog.
#[derive(Debug)]
pub struct Catalog {
    entries: BTreeMap<String, Entry>,
    /// The visible posts of each feed (the site's, each category's and author's).
    feeds: BTreeMap<FeedKey, Topic>,
    /// Posts not yet visible, by the time they come due (drafts are never here).
    scheduled: BTreeSet<(DateTime<Utc>, String)>,
    /// The visible posts by page route. Persistent: a snapshot takes it in O(1) and
    /// keeps its version however the catalog changes after.
    pages: HashTrieMapSync<String, Arc<Post>>,
    /// Paths whose entry has an error or whose post has warnings: what `/healthz` lists.
    noted: BTreeSet<String>,
    /// What the listing of the posts folder found wrong (a folder it cannot read, a link
    /// out of it, a name that is not UTF-8), by path: the posts there are missing, and
    /// `/healthz` lists these beside the files that failed.
    unlisted: BTreeMap<String, Problem>,
    /// What `/healthz` reports changed since [`Catalog::take_problems_changed`]: a bad
    /// file deleted changes no feed, yet must leave the report at once.
    problems_changed: bool,
    /// Whether the posts folder exists, as the last publish saw it.
    folder_missing: bool,
    /// How many posts one publish took away, leaving none; `None` once there are posts.
    emptied_from: Option<usize>,
    /// Feeds whose visible posts changed since [`Catalog::take_touched`].
    touched: BTreeSet<FeedKey>,
    /// For each feed a post entered or left since [`Catalog::take_touched`], the oldest
    /// such post; an edit that keeps its post's place is not a move. What tells whether
    /// the feed's RFC 5005 archives shifted (see [`Catalog::shifted_beyond`]).
    moving: BTreeMap<FeedKey, Ranked>,
    /// `moving` of the change set [`Catalog::take_touched`] last handed out.
    moved: BTreeMap<FeedKey, Ranked>,
    /// While an edit that keeps its post's place is applied: the feeds the post is in
    /// before and after, where it does not move.
    staying: BTreeSet<FeedKey>,
    /// How many entries hold a post, drafts and future ones included.
    known: usize,
    /// The time posts are visible at: drafts never, future posts once it passes them.
    now: DateTime<Utc>,
}

impl Default for Catalog {
    fn default() -> Catalog {
        Catalog {
            entries: BTreeMap::new(),
            feeds: BTreeMap::new(),
            scheduled: BTreeSet::new(),
            pages: HashTrieMapSync::new_sync(),
            noted: BTreeSet::new(),
            unlisted: BTreeMap::new(),
            problems_changed: false,
            folder_missing: false,
            emptied_from: None,
            touched: BTreeSet::new(),
            moving: BTreeMap::new(),
            moved: BTreeMap::new(),
            staying: BTreeSet::new(),
            known: 0,
            now: DateTime::<Utc>::MIN_UTC,
        }
    }
}

/// The feeds a post belongs to: the site's, then each category's and author's.
fn feeds_of(post: &Post) -> impl Iterator<Item = FeedKey> + '_ {
    std::iter::once(FeedKey::Site)
        .chain(
            post.categories
                .iter()
                .map(|c| FeedKey::Category(c.slug.clone())),
        )
        .chain(post.authors.iter().map(|a| FeedKey::Author(a.slug.clone())))
        .chain(post.tags.iter().map(|t| FeedKey::Tag(t.slug.clone())))
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Paths of the files in the catalog under the folder `prefix` (`"a/b/"`; `""` for
    /// all), for telling what a rescan or a removed folder no longer holds. A range of
    /// the ordered map: a change to one file does not walk every path.
    pub fn paths_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .map(|(path, _)| path.as_str())
            .take_while(move |path| path.starts_with(prefix))
    }

    /// Applies what a read of the file at `path` gave.
    pub fn apply(&mut self, path: &str, update: Update) -> Applied {
        let (applied, old, new) = match update {
            Update::Removed => match self.entries.remove(path) {
                Some(Entry {
                    post: Some(old), ..
                }) => (Applied::Removed, Some(old), None),
                _ => (Applied::Unchanged, None, None),
            },
            Update::Failed(problem) => {
                let entry = self.entries.entry(path.to_string()).or_default();
                let same = entry.error.as_ref() == Some(&problem);
                entry.error = Some(problem);
                let applied = if same {
                    Applied::Unchanged
                } else {
                    Applied::Failed
                };
                (applied, None, None)
            }
            Update::Parsed(post) => {
                let entry = self.entries.entry(path.to_string()).or_default();
                let had_error = entry.error.take().is_some();
                match &entry.post {
                    Some(old) if **old == post => {
                        let applied = if had_error {
                            Applied::Modified
                        } else {
                            Applied::Unchanged
                        };
                        (applied, None, None)
                    }
                    old => {
                        let applied = if old.is_some() {
                            Applied::Modified
                        } else {
                            Applied::Added
                        };
                        let old = old.clone();
                        let new = Arc::new(post);
                        entry.post = Some(Arc::clone(&new));
                        (applied, old, Some(new))
                    }
                }
            }
        };
        match applied {
            Applied::Added => self.known += 1,
            Applied::Removed => self.known -= 1,
            _ => {}
        }
        if let (Some(old), Some(new)) = (&old, &new) {
            if !old.draft && !new.draft && Ranked(Arc::clone(old)) == Ranked(Arc::clone(new)) {
                let before: BTreeSet<FeedKey> = feeds_of(old).collect();
                self.staying = feeds_of(new).filter(|k| before.contains(k)).collect();
            }
        }
        if let Some(old) = old {
            self.hide(&old);
        }
        if let Some(new) = new {
            self.show(new);
        }
        self.staying.clear();
        self.note(path, applied);
        applied
    }

    /// Makes the posts due by `now` visible; later changes are judged at `now` too.
    pub fn advance(&mut self, now: DateTime<Utc>) {
        self.now = self.now.max(now);
        while let Some((when, path)) = self.scheduled.first().cloned() {
            if when > self.now {
                break;
            }
            self.scheduled.pop_first();
            if let Some(post) = self.entries.get(&path).and_then(|e| e.post.clone()) {
                self.make_visible(post);
            }
        }
    }

    /// The latest date of the scheduled posts that are due by `now` (call before
    /// [`Catalog::advance`]): when a publish of them happened, whatever the clock says.
    pub fn latest_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.scheduled
            .iter()
            .take_while(|(when, _)| *when <= now)
            .last()
            .map(|(when, _)| *when)
    }

    /// The modification time and size of the file the post at `path` was read from,
    /// when its current content is that post (it has no error).
    pub fn read_from(&self, path: &str) -> Option<(DateTime<Utc>, u64)> {
        let entry = self.entries.get(path)?;
        let post = entry.post.as_ref().filter(|_| entry.error.is_none())?;
        Some((post.file_modified, post.file_size))
    }

    /// Takes the set of feeds whose visible posts changed since the last call.
    pub fn take_touched(&mut self) -> BTreeSet<FeedKey> {
        self.moved = std::mem::take(&mut self.moving);
        std::mem::take(&mut self.touched)
    }

    /// Whether the change set [`Catalog::take_touched`] last handed out put a post into
    /// a feed, or took one out of it, behind its newest `newest` posts: then the posts
    /// older than that window moved by one, and so did the RFC 5005 archives counted
    /// from the oldest post. A new post at the top, or an edit that keeps its post's
    /// place, moves none.
    pub fn shifted_beyond(&self, key: &FeedKey, newest: usize) -> bool {
        let (Some(moved), Some(topic)) = (self.moved.get(key), self.feeds.get(key)) else {
            return false;
        };
        // The moved post (there or gone) ranks after at least `newest` posts.
        topic.0.iter().take(newest).filter(|r| *r < moved).count() == newest
    }

    /// Notes that `post` entered or left the feed `key`.
    fn note_move(&mut self, key: &FeedKey, post: &Arc<Post>) {
        if self.staying.contains(key) {
            return;
        }
        let ranked = Ranked(Arc::clone(post));
        match self.moving.get(key) {
            Some(oldest) if *oldest >= ranked => {}
            _ => {
                self.moving.insert(key.clone(), ranked);
            }
        }
    }

    /// The newest `n` visible posts of a feed, newest first.
    pub fn top(&self, key: &FeedKey, n: usize) -> Vec<Arc<Post>> {
        self.feeds
            .get(key)
            .map(|topic| topic.posts(0, n))
            .unwrap_or_default()
    }

    /// Every visible post of a feed, in order; `None` when it has none. O(1): the
    /// catalog's own set, shared.
    pub fn topic(&self, key: &FeedKey) -> Option<Topic> {
        self.feeds.get(key).cloned()
    }

    /// The display name of a feed's category or author, as its newest post spells it.
    pub fn name_of(&self, key: &FeedKey) -> Option<String> {
        let newest = self.feeds.get(key)?.newest()?;
        let named = match key {
            FeedKey::Site => return None,
            FeedKey::Category(slug) => newest.categories.iter().find(|c| &c.slug == slug),
            FeedKey::Author(slug) => newest.authors.iter().find(|a| &a.slug == slug),
            FeedKey::Tag(slug) => newest.tags.iter().find(|t| &t.slug == slug),
        };
        named.map(|named| named.name.clone())
    }

    /// Every feed with a visible post, in order.
    pub fn feed_keys(&self) -> impl Iterator<Item = &FeedKey> {
        self.feeds.keys()
    }

    /// The visible posts by page route, as of now.
    pub fn pages(&self) -> HashTrieMapSync<String, Arc<Post>> {
        self.pages.clone()
    }

    /// How many posts are visible.
    pub fn visible(&self) -> usize {
        self.pages.size()
    }

    /// Posts in the catalog, drafts and future ones included.
    pub fn known(&self) -> usize {
        self.known
    }

    /// Posts dated in the future, published when their time comes.
    pub fn scheduled(&self) -> usize {
        self.scheduled.len()
    }

    /// Files that failed to parse and what the listing found wrong, by path.
    pub fn errors(&self) -> Vec<Problem> {
        let mut errors: Vec<Problem> = self
            .noted
            .iter()
            .filter_map(|path| self.entries.get(path)?.error.clone())
            .chain(self.unlisted.values().cloned())
            .collect();
        errors.sort_by(|a, b| a.path.cmp(&b.path));
        errors
    }

    /// Notes what a listing of the folder `rel` (`""`: the whole posts folder) found
    /// wrong, in place of what was noted at or under it before. Gives the problems not
    /// noted before, for the log.
    pub fn note_listing(&mut self, rel: &str, problems: Vec<Problem>) -> Vec<Problem> {
        let under = |path: &str| {
            rel.is_empty()
                || path
                    .strip_prefix(rel)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        let paths: Vec<String> = self.unlisted.keys().filter(|p| under(p)).cloned().collect();
        let before: BTreeMap<String, Problem> = paths
            .iter()
            .filter_map(|path| self.unlisted.remove_entry(path))
            .collect();
        let mut new = Vec::new();
        for problem in problems {
            if before.get(&problem.path) != Some(&problem) {
                new.push(problem.clone());
            }
            self.unlisted.insert(problem.path.clone(), problem);
        }
        let gone = before.keys().any(|path| !self.unlisted.contains_key(path));
        self.problems_changed |= gone || !new.is_empty();
        new
    }

    /// Problems that did not stop a post (guessed encoding, missing date), by path.
    pub fn warnings(&self) -> Vec<Problem> {
        self.noted
            .iter()
            .filter_map(|path| self.entries.get(path)?.post.as_ref())
            .flat_map(|post| post.warnings.iter().cloned())
            .collect()
    }

    /// What the posts folder looks like as a whole (see [`Catalog::judge_folder`]).
    pub fn folder(&self) -> Folder {
        match (self.folder_missing, self.emptied_from) {
            (true, _) => Folder::Missing,
            (false, Some(before)) => Folder::Emptied(before),
            (false, None) => Folder::Fine,
        }
    }

    /// Judges the folder as a whole after a publish: whether it `exists`, and whether the
    /// publish took away every post of the `before` it started with. Losing the only post
    /// is an edit; losing two or more at once, and with them every feed's items, is
    /// reported until a post comes back.
    pub fn judge_folder(&mut self, exists: bool, before: usize) {
        let was = self.folder();
        self.folder_missing = !exists;
        if self.known > 0 {
            self.emptied_from = None;
        } else if before >= 2 {
            self.emptied_from = Some(before);
        }
        self.problems_changed |= self.folder() != was;
    }

    /// Whether what `/healthz` reports (a file's problem, the folder) changed since the
    /// last call.
    pub fn take_problems_changed(&mut self) -> bool {
        std::mem::take(&mut self.problems_changed)
    }

    /// The publication time of the next post that is not yet visible, so the publisher
    /// can wake up for it.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.scheduled.first().map(|(when, _)| *when)
    }

    /// Puts a new version of a post where it belongs: visible, scheduled or (a draft)
    /// nowhere.
    fn show(&mut self, post: Arc<Post>) {
        if post.draft {
            return;
        }
        let when = post.published.with_timezone(&Utc);
        if when > self.now {
            self.scheduled.insert((when, post.path.clone()));
        } else {
            self.make_visible(post);
        }
    }

    fn make_visible(&mut self, post: Arc<Post>) {
        for key in feeds_of(&post) {
            self.touched.insert(key.clone());
            self.note_move(&key, &post);
            self.feeds
                .entry(key)
                .or_default()
                .0
                .insert_mut(Ranked(Arc::clone(&post)));
        }
        self.pages.insert_mut(post.route.clone(), post);
    }

    /// Takes an old version of a post out of wherever it was.
    fn hide(&mut self, post: &Arc<Post>) {
        let when = post.published.with_timezone(&Utc);
        if post.draft || self.scheduled.remove(&(when, post.path.clone())) {
            return;
        }
        let ranked = Ranked(Arc::clone(post));
        for key in feeds_of(post) {
            let Some(posts) = self.feeds.get_mut(&key) else {
                continue;
            };
            let removed = posts.0.remove_mut(&ranked);
            if posts.is_empty() {
                self.feeds.remove(&key);
            }
            if removed {
                self.touched.insert(key.clone());
                self.note_move(&key, post);
            }
        }
        if self
            .pages
            .get(&post.route)
            .is_some_and(|shown| Arc::ptr_eq(shown, post))
        {
            self.pages.remove_mut(&post.route);
        }
    }

    /// Keeps `noted` true to the entry at `path`, after an update that `applied`.
    fn note(&mut self, path: &str, applied: Applied) {
        let noted = self.entries.get(path).is_some_and(|e| {
            e.error.is_some() || e.post.as_ref().is_some_and(|p| !p.warnings.is_empty())
        });
        let was = if noted {
            !self.noted.insert(path.to_string())
        } else {
            self.noted.remove(path)
        };
        // A noted file that changed may report other problems now.
        self.problems_changed |= was != noted || (noted && applied != Applied::Unchanged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::PostBuilder;
    use chrono::TimeZone;

    fn post(path: &str, slug: &str, day: u32) -> Post {
        PostBuilder::new(slug)
            .path(path)
            .author("Ann")
            .published(&format!("2024-05-{day:02}T12:00:00+00:00"))
            .build()
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, day, 0, 0, 0)
            .single()
            .unwrap()
    }

    /// A catalog as published on day 20.
    fn catalog() -> Catalog {
        let mut catalog = Catalog::new();
        catalog.advance(at(20));
        catalog
    }

    fn slugs(catalog: &Catalog, key: &FeedKey) -> Vec<String> {
        catalog
            .top(key, 100)
            .iter()
            .map(|p| p.slug.clone())
            .collect()
    }

    #[test]
    fn posts_are_newest_first_with_slug_tie_break() {
        let mut catalog = catalog();
        catalog.apply("b.md", Update::Parsed(post("b.md", "b", 3)));
        catalog.apply("a.md", Update::Parsed(post("a.md", "a", 3)));
        catalog.apply("c.md", Update::Parsed(post("c.md", "c", 4)));
        assert_eq!(slugs(&catalog, &FeedKey::Site), vec!["c", "a", "b"]);
        assert_eq!(
            slugs(&catalog, &FeedKey::Author("ann".into())),
            vec!["c", "a", "b"]
        );
        assert_eq!(catalog.top(&FeedKey::Site, 2).len(), 2);
        assert_eq!(catalog.visible(), 3);
    }

    #[test]
    fn a_change_touches_only_the_feeds_of_the_post_before_and_after() {
        let mut catalog = catalog();
        let transit = PostBuilder::new("a")
            .path("a.md")
            .author("Ann")
            .category("Transit")
            .published("2024-05-01T12:00:00+00:00");
        catalog.apply("a.md", Update::Parsed(transit.build()));
        catalog.apply("b.md", Update::Parsed(post("b.md", "b", 2)));
        catalog.take_touched();
        // Moved from Transit to Weather: both categories change, and the site and author.
        let weather = PostBuilder::new("a")
            .path("a.md")
            .author("Ann")
            .category("Weather")
            .published("2024-05-01T12:00:00+00:00");
        catalog.apply("a.md", Update::Parsed(weather.build()));
        let touched: Vec<FeedKey> = catalog.take_touched().into_iter().collect();
        assert_eq!(
            touched,
            vec![
                FeedKey::Site,
                FeedKey::Category("transit".into()),
                FeedKey::Category("weather".into()),
                FeedKey::Author("ann".into()),
            ]
        );
        assert_eq!(catalog.feed_keys().count(), 3);
        assert_eq!(
            catalog
                .name_of(&FeedKey::Category("weather".into()))
                .as_deref(),
            Some("Weather")
        );
        assert!(catalog.take_touched().is_empty());
    }

    #[test]
    fn draft_is_never_published() {
        let mut catalog = catalog();
        let draft = PostBuilder::new("d")
            .published("2024-05-01T12:00:00+00:00")
            .draft()
            .build();
        catalog.apply("d.md", Update::Parsed(draft));
        assert_eq!(catalog.visible(), 0);
        assert_eq!(catalog.known(), 1);
        assert_eq!(catalog.next_due(), None);
        assert!(catalog.take_touched().is_empty());
    }

    #[test]
    fn future_post_appears_when_its_time_comes() {
        let mut catalog = Catalog::new();
        catalog.advance(at(10));
        catalog.apply("f.md", Update::Parsed(post("f.md", "f", 10)));
        assert_eq!(catalog.visible(), 0);
        assert_eq!(
            catalog.next_due(),
            Some(
                Utc.with_ymd_and_hms(2024, 5, 10, 12, 0, 0)
                    .single()
                    .unwrap()
            )
        );
        catalog.advance(at(11));
        assert_eq!(slugs(&catalog, &FeedKey::Site), vec!["f"]);
        assert_eq!(catalog.next_due(), None);
        assert!(catalog.pages().contains_key("/posts/f/"));
    }

    #[test]
    fn failed_file_keeps_its_last_good_version() {
        let mut catalog = catalog();
        assert_eq!(
            catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1))),
            Applied::Added
        );
        let problem = Problem {
            path: "a.md".into(),
            line: 2,
            message: "bad front matter".into(),
        };
        assert_eq!(
            catalog.apply("a.md", Update::Failed(problem.clone())),
            Applied::Failed
        );
        assert_eq!(slugs(&catalog, &FeedKey::Site), vec!["a"]);
        assert_eq!(catalog.errors(), vec![problem]);
        // Fixed with the same content as before: the error goes, the post stays.
        assert_eq!(
            catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1))),
            Applied::Modified
        );
        assert!(catalog.errors().is_empty());
    }

    #[test]
    fn removed_file_leaves_every_feed_and_its_page() {
        let mut catalog = catalog();
        catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1)));
        assert_eq!(catalog.apply("a.md", Update::Removed), Applied::Removed);
        assert_eq!(catalog.apply("a.md", Update::Removed), Applied::Unchanged);
        assert_eq!(catalog.visible(), 0);
        assert_eq!(catalog.feed_keys().count(), 0);
        assert!(!catalog.pages().contains_key("/posts/a/"));
        assert_eq!(catalog.known(), 0);
    }

    #[test]
    fn paths_under_a_folder_are_only_that_folders() {
        let mut catalog = catalog();
        for path in ["a/x.md", "ab.md", "a/y.md", "b.md", "a/deep/z.md"] {
            catalog.apply(path, Update::Parsed(post(path, path, 1)));
        }
        let under = |prefix| catalog.paths_under(prefix).collect::<Vec<_>>();
        assert_eq!(under("a/"), vec!["a/deep/z.md", "a/x.md", "a/y.md"]);
        assert_eq!(under("c/"), Vec::<&str>::new());
        assert_eq!(under("").len(), 5);
    }

    #[test]
    fn same_post_again_is_unchanged() {
        let mut catalog = catalog();
        catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1)));
        catalog.take_touched();
        assert_eq!(
            catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1))),
            Applied::Unchanged
        );
        assert!(catalog.take_touched().is_empty());
    }

    #[test]
    fn a_bad_file_deleted_changes_what_healthz_reports_and_no_feed() {
        let mut catalog = catalog();
        let problem = Problem {
            path: "bad.md".into(),
            line: 1,
            message: "binary file".into(),
        };
        catalog.apply("bad.md", Update::Failed(problem.clone()));
        assert!(catalog.take_problems_changed());
        // The same failure again: nothing new to report.
        catalog.apply("bad.md", Update::Failed(problem));
        assert!(!catalog.take_problems_changed());
        assert_eq!(catalog.apply("bad.md", Update::Removed), Applied::Unchanged);
        assert!(catalog.take_problems_changed());
        assert!(catalog.errors().is_empty());
        assert!(catalog.take_touched().is_empty());
        // A good post coming and going has nothing to report.
        catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1)));
        catalog.apply("a.md", Update::Removed);
        assert!(!catalog.take_problems_changed());
    }

    #[test]
    fn every_post_gone_at_once_or_the_folder_gone_is_reported_until_posts_return() {
        let mut catalog = catalog();
        catalog.judge_folder(true, 0);
        assert_eq!(catalog.folder(), Folder::Fine);
        assert!(!catalog.take_problems_changed());
        for path in ["a.md", "b.md", "c.md"] {
            catalog.apply(path, Update::Parsed(post(path, &path[..1], 1)));
        }
        catalog.judge_folder(true, 0);
        assert_eq!(catalog.folder(), Folder::Fine);

        for path in ["a.md", "b.md", "c.md"] {
            catalog.apply(path, Update::Removed);
        }
        catalog.judge_folder(false, 3);
        assert_eq!(catalog.folder(), Folder::Missing);
        assert!(catalog.take_problems_changed());
        // The folder made again, empty: the posts are still gone.
        catalog.judge_folder(true, 0);
        assert_eq!(catalog.folder(), Folder::Emptied(3));
        assert!(catalog.take_problems_changed());
        catalog.judge_folder(true, 0);
        assert!(!catalog.take_problems_changed());
        catalog.apply("d.md", Update::Parsed(post("d.md", "d", 1)));
        catalog.judge_folder(true, 0);
        assert_eq!(catalog.folder(), Folder::Fine);
        assert!(catalog.take_problems_changed());

        // The only post deleted is an edit, not an emptied folder.
        catalog.apply("d.md", Update::Removed);
        catalog.judge_folder(true, 1);
        assert_eq!(catalog.folder(), Folder::Fine);
    }

    /// What tells a publish that a feed's RFC 5005 archives moved.
    #[test]
    fn only_a_post_entering_or_leaving_behind_the_newest_page_shifts_the_archives() {
        let mut catalog = catalog();
        for day in 1..=10 {
            let path = format!("p{day:02}.md");
            catalog.apply(&path, Update::Parsed(post(&path, &path[..3], day)));
        }
        catalog.take_touched();
        let shifted = |catalog: &mut Catalog| {
            catalog.take_touched();
            catalog.shifted_beyond(&FeedKey::Site, 3)
        };
        catalog.apply("p11.md", Update::Parsed(post("p11.md", "p11", 11)));
        assert!(!shifted(&mut catalog), "a new post at the top");
        let mut edited = post("p02.md", "p02", 2);
        edited.title = "Edited".into();
        catalog.apply("p02.md", Update::Parsed(edited));
        assert!(!shifted(&mut catalog), "an edit in place");
        catalog.apply("p00.md", Update::Parsed(post("p00.md", "p00", 1)));
        assert!(shifted(&mut catalog), "a backdated post");
        catalog.apply("p05.md", Update::Removed);
        assert!(shifted(&mut catalog), "an archived post deleted");
        catalog.apply("p10.md", Update::Removed);
        assert!(!shifted(&mut catalog), "a post of the newest page deleted");
        catalog.apply("p03.md", Update::Parsed(post("p03.md", "p03", 19)));
        assert!(
            shifted(&mut catalog),
            "an archived post re-dated to the top"
        );
        assert!(!shifted(&mut catalog), "nothing since");
    }
}
