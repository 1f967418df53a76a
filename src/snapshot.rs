//! Every route the server answers: feeds, the home page and OPML rendered and compressed
//! ahead of requests; post pages and the pages of each category's, author's and tag's
//! list rendered on request and cached.
//!
//! A [`Snapshot`] is immutable: a publish builds the next one from the previous one and
//! the feeds the catalog says a change touched, re-rendering only those, and the server
//! swaps it in whole. Each route remembers what it was rendered from, so a touched feed
//! whose newest `feeds.items` posts are the same (a post edited further down) keeps its
//! bytes. Post pages and list pages, which people open one at a time, are not rendered
//! ahead: the snapshot holds the visible posts by route and each feed's posts in order
//! (persistent collections, shared with the catalog in O(1)) and a bounded cache of the
//! pages asked for.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use lru::LruCache;
use rpds::HashTrieMapSync;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, Folder, Remembered, Topic};
use crate::config::Config;
use crate::feed::{self, FeedInfo};
use crate::post::{Post, Problem, Site};
use crate::routes::{self, FeedKey, Format};

/// One route's response, ready to write.
#[derive(Debug)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: Bytes,
    /// Absent where compression is not worth it (`/healthz`), and for a moment after a
    /// publish (see `pending`): a client can always be given the identity body.
    pub gzip: Option<Bytes>,
    pub br: Option<Bytes>,
    /// The compressed variants are still to come: a publish swaps a changed route in as
    /// soon as its body is rendered, and compresses it right after
    /// ([`Snapshot::compress_pending`]).
    pub pending: bool,
    /// Strong ETag, quoted: a hash of the identity body, so any replica and any restart
    /// give the same one for the same bytes.
    pub etag: String,
    /// Whole seconds, as HTTP dates carry no more.
    pub last_modified: DateTime<Utc>,
    pub cache_control: String,
}

impl Rendered {
    /// The bytes it holds: body and compressed copies.
    fn size(&self) -> usize {
        self.body.len()
            + self.gzip.as_ref().map_or(0, Bytes::len)
            + self.br.as_ref().map_or(0, Bytes::len)
    }
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
    /// The OPML list: every feed.
    Listing(Vec<FeedInfo>),
    /// The home page: every feed with its post count, and the newest posts.
    Index(Vec<feed::Listed>, Vec<ByIdentity>),
    /// Rendered at every publish.
    Health,
    /// `[site] icon`: the same bytes as long as the process runs.
    Icon,
}

#[derive(Debug, Clone)]
struct Route {
    rendered: Arc<Rendered>,
    input: Input,
}

/// What a response rendered on request was rendered from: the cache keeps it while
/// this is the same.
#[derive(Debug, Clone, PartialEq)]
enum PageInput {
    Post(ByIdentity),
    /// A list page: its feed, the feed's post count, and the publish that last changed
    /// the feed's list (see [`TopicState::generation`]).
    List(FeedInfo, usize, u64),
    /// A feed rendered on request (a tag's), likewise.
    Feed(FeedInfo, u64),
    /// An RFC 5005 archive: its feed dated by its posts, its posts, whether it is
    /// closed, and its Last-Modified; not the feed's generation, which every new post
    /// moves, while a closed archive stays as it is.
    Archive(FeedInfo, Vec<ByIdentity>, bool, DateTime<Utc>),
}

/// A rendered response, with what it was rendered from.
type CachedPage = (PageInput, Arc<Rendered>);

/// Responses rendered on request, at most `entries` of them and `max_bytes` in all
/// (bodies and compressed copies), least recently used out first.
#[derive(Debug)]
struct Cache {
    entries: LruCache<String, CachedPage>,
    bytes: usize,
    max_bytes: usize,
}

impl Cache {
    fn new(entries: usize, max_bytes: usize) -> Cache {
        let size = NonZeroUsize::new(entries).unwrap_or(NonZeroUsize::MIN);
        Cache {
            entries: LruCache::new(size),
            bytes: 0,
            max_bytes,
        }
    }

    fn get(&mut self, route: &str, input: &PageInput) -> Option<Arc<Rendered>> {
        let (cached, rendered) = self.entries.get(route)?;
        (cached == input).then(|| Arc::clone(rendered))
    }

    fn put(&mut self, route: &str, input: PageInput, rendered: &Arc<Rendered>) {
        let size = rendered.size();
        if size > self.max_bytes {
            return;
        }
        if let Some((_, (_, old))) = self
            .entries
            .push(route.to_string(), (input, Arc::clone(rendered)))
        {
            self.bytes -= old.size().min(self.bytes);
        }
        self.bytes += size;
        while self.bytes > self.max_bytes {
            match self.entries.pop_lru() {
                Some((_, (_, old))) => self.bytes -= old.size().min(self.bytes),
                None => break,
            }
        }
    }
}

/// The caches of what is rendered on request, shared by every snapshot of one process.
/// Apart, so a crawler paging through every list cannot push the post pages readers
/// open out of theirs.
#[derive(Debug)]
struct PageCache {
    /// Post pages: readers open a few often (the newest) and the rest rarely.
    posts: Mutex<Cache>,
    /// Pages of the lists of the site, categories, authors and tags.
    lists: Mutex<Cache>,
    /// Tags' feeds: polled by readers like any feed, but a site may have thousands.
    feeds: Mutex<Cache>,
    /// RFC 5005 archives: a reader walks them once, when it subscribes.
    archives: Mutex<Cache>,
}

impl Default for PageCache {
    fn default() -> PageCache {
        const MIB: usize = 1 << 20;
        PageCache {
            posts: Mutex::new(Cache::new(1024, 64 * MIB)),
            lists: Mutex::new(Cache::new(256, 16 * MIB)),
            feeds: Mutex::new(Cache::new(512, 64 * MIB)),
            archives: Mutex::new(Cache::new(256, 32 * MIB)),
        }
    }
}

/// A feed's visible posts as the snapshot holds them.
#[derive(Debug, Clone)]
struct TopicState {
    topic: Topic,
    /// When its list last changed: its pages' and lazily rendered feeds' Last-Modified.
    changed: DateTime<Utc>,
    /// The publish ([`Snapshot::generation`]) that last changed it: what a cached page
    /// of it is checked against, without walking the list.
    generation: u64,
    /// When a post last entered or left it behind its newest page, which moves every
    /// archive after that post by one ([`Catalog::shifted_beyond`]): a closed archive's
    /// Last-Modified is never earlier. The earliest time on a first publish, where the
    /// floor stands for what changed before.
    shifted: DateTime<Utc>,
    /// Its archives' names ([`feed::archive_names`]), oldest first: kept from one
    /// publish to the next for the archives a change left alone, so a publish hashes
    /// the posts of the archives it changed, not the whole history.
    archive_names: Arc<[u32]>,
}

/// Where the body of a post whose catalog entry holds none (`content_elsewhere`) comes
/// from: its file, read again.
pub trait Bodies: Send + Sync + std::fmt::Debug {
    /// The post's body, or `None` when it cannot be had (the file went).
    fn body(&self, post: &Post) -> Option<Arc<Body>>;

    /// Reads the bodies of `posts` ahead, when that is cheaper together.
    fn prefetch(&self, posts: &[Arc<Post>]) {
        let _ = posts;
    }

    /// The file `name` (`/`-separated, e.g. `photo.jpg` or `img/photo.jpg`) under the
    /// folder `folder` of the posts folder (`""`: the posts folder itself), opened to be
    /// served, when it is a media file there (see [`Snapshot::media`]) and no folder
    /// between `folder` and the file holds a post file: a bundle's files are served
    /// under its own post's page only, and a draft's under none.
    fn media(&self, folder: &str, name: &str) -> Option<MediaFile> {
        let _ = (folder, name);
        None
    }
}

/// A file beside a post, opened to be served as it is: read a range at a time, never
/// whole, however big it is.
pub struct MediaFile {
    pub content_type: &'static str,
    pub len: u64,
    /// Strong, quoted: from the file's size and modification time, which change with
    /// its bytes (hashing the bytes would read a whole video per request).
    pub etag: String,
    /// Whole seconds.
    pub last_modified: DateTime<Utc>,
    /// Filled in by [`Snapshot::media`]: `feeds.cache_max_age`, as for every route.
    pub cache_control: String,
    pub content: Box<dyn MediaContent>,
}

impl std::fmt::Debug for MediaFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaFile")
            .field("content_type", &self.content_type)
            .field("len", &self.len)
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

/// What a media file's bytes are read from: the server seeks and reads, and knows
/// nothing of files.
pub trait MediaContent: std::io::Read + std::io::Seek + Send {}

impl<T: std::io::Read + std::io::Seek + Send> MediaContent for T {}

/// What a post keeps in its file rather than in memory: the fields only a feed or its
/// page shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// Sanitized HTML, links absolute against the post's page.
    pub content_html: String,
    pub summary: String,
}

/// For posts that carry their bodies (tests, fixtures): nothing is elsewhere.
#[derive(Debug, Default)]
pub struct InPost;

impl Bodies for InPost {
    fn body(&self, _post: &Post) -> Option<Arc<Body>> {
        None
    }
}

/// `post` with its body, read from `bodies` when the catalog holds none.
fn with_body<'a>(post: &'a Post, bodies: &dyn Bodies) -> std::borrow::Cow<'a, Post> {
    if !post.content_elsewhere {
        return std::borrow::Cow::Borrowed(post);
    }
    let body = bodies.body(post).unwrap_or_default();
    std::borrow::Cow::Owned(Post {
        content_html: body.content_html.clone(),
        summary: body.summary.clone(),
        content_elsewhere: false,
        ..post.clone()
    })
}

/// What rendering a post page needs to know of the site.
#[derive(Debug, Clone)]
struct PageContext {
    site: Site,
    formats: Vec<Format>,
    cache_control: String,
    /// See [`Snapshot::floor`].
    floor: Option<DateTime<Utc>>,
    bodies: Arc<dyn Bodies>,
    /// `feeds.items`: the posts of a feed rendered on request, and of each archive.
    items: usize,
    /// `Cache-Control` of a closed archive (`feeds.archive_max_age`).
    archive_cache_control: String,
}

impl PageContext {
    /// A Last-Modified of a page rendered on request: `modified`, never before the
    /// floor (see [`Snapshot::floor`]), in whole seconds.
    fn floored(&self, modified: DateTime<Utc>) -> DateTime<Utc> {
        truncate_to_second(self.floor.map_or(modified, |floor| modified.max(floor)))
    }
}

/// Every route at one publish.
#[derive(Debug, Default, Clone)]
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
    /// Every feed, as the index and OPML list them.
    listing: BTreeMap<FeedKey, FeedInfo>,
    /// Feeds this publish rendered, with their names, for the ledger to remember.
    pub feed_names: Vec<(FeedKey, String)>,
    /// Former pages and aliases of posts, each to the page it answers 301 to.
    redirects: Arc<BTreeMap<String, String>>,
    /// The visible posts by page route.
    pages: HashTrieMapSync<String, Arc<Post>>,
    /// Every feed's visible posts, in order, with the time its list last changed: what
    /// the HTML list pages (`/categories/{slug}/`, `…/page/{n}/`) are rendered from on
    /// request. Persistent, like `pages`: a publish replaces the topics it touched.
    topics: HashTrieMapSync<FeedKey, TopicState>,
    /// How many publishes made this snapshot: see [`TopicState::generation`].
    generation: u64,
    page_context: Option<Arc<PageContext>>,
    page_cache: Arc<PageCache>,
    /// See [`Snapshot::media`]; made on the first request for a file.
    media_folders: Arc<std::sync::OnceLock<MediaFolders>>,
}

/// For pages whose route does not end in `/` (`/2019/03/bus.html`): each page folder
/// (`/2019/03/`) with the folders of the post files whose pages are in it. Pages ending
/// in `/` are their own folder and are looked up directly.
type MediaFolders = HashMap<String, Vec<String>>;

/// The times a publish is dated by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishTime {
    /// The clock's: when the health report says the publish happened.
    pub now: DateTime<Utc>,
    /// When the change published happened, as the posts folder dates it
    /// ([`crate::scan::change_time`]): a changed route's Last-Modified, a list's date, an
    /// emptied feed's date. Not the clock's, which differs from one replica to the next:
    /// two replicas watching one folder must answer with the same headers and bodies.
    pub changed: DateTime<Utc>,
}

impl From<DateTime<Utc>> for PublishTime {
    /// A publish dated by the clock alone: `build`, and tests that set the time.
    fn from(now: DateTime<Utc>) -> PublishTime {
        PublishTime { now, changed: now }
    }
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
    /// `ok`, or what is wrong with the posts folder as a whole.
    posts_folder: String,
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

    /// The response for a route: a prerendered one (a feed, the index, OPML, health)
    /// or a post's page.
    pub fn get(&self, route: &str) -> Option<Arc<Rendered>> {
        match self.routes.get(route) {
            Some(r) => Some(Arc::clone(&r.rendered)),
            None => self
                .page(route)
                .or_else(|| self.list_page(route))
                .or_else(|| self.lazy_feed(route))
                .or_else(|| self.archive(route)),
        }
    }

    /// True when `route` answers (a prerendered route, a post's page or a page of a
    /// feed's list), without rendering anything.
    pub fn has(&self, route: &str) -> bool {
        self.routes.contains_key(route)
            || self.pages.contains_key(route)
            || self.list_of(route).is_some()
            || self.lazy_feed_of(route).is_some()
            || self.archive_of(route).is_some()
    }

    /// True when `route` is a post's page (not a list or a feed), without rendering it.
    pub fn is_post_page(&self, route: &str) -> bool {
        self.pages.contains_key(route)
    }

    /// The page of the post at `route`, rendered now or taken from the cache.
    pub fn page(&self, route: &str) -> Option<Arc<Rendered>> {
        let post = self.pages.get(route)?;
        let context = self.page_context.as_ref()?;
        let input = PageInput::Post(ByIdentity(Arc::clone(post)));
        let cache = &self.page_cache.posts;
        Some(cached(cache, route, input, || render_page(post, context)))
    }

    /// The media file a request for `route` names, opened: a file beside a post, at
    /// the URL its content resolves a relative link to. The route's folder is matched
    /// to a page's folder, the longest first (`/posts/launch/img/a.jpg`: a page at
    /// `/posts/launch/img/`, then at `/posts/launch/`), and what follows it is looked
    /// for in the folder of each post file with a page there (several posts may share
    /// one: `/2019/03/a.html` and `/2019/03/b.html`). Post pages and feeds are matched
    /// before this, so a file never hides a page.
    pub fn media(&self, route: &str) -> Option<MediaFile> {
        let context = self.page_context.as_ref()?;
        let mut cut = route.rfind('/')?;
        loop {
            let (folder, name) = (&route[..=cut], &route[cut + 1..]);
            if !name.is_empty() {
                for files in self.post_folders(folder) {
                    if let Some(mut file) = context.bodies.media(&files, name) {
                        file.cache_control = context.cache_control.clone();
                        return Some(file);
                    }
                }
            }
            cut = route[..cut].rfind('/')?;
        }
    }

    /// The routes of the files beside posts that their `image` and `enclosure` name:
    /// what `build` copies besides the files their content links to.
    pub fn attachment_routes(&self, base_url: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (_, post) in self.pages.iter() {
            for attachment in [&post.image, &post.enclosure].into_iter().flatten() {
                if !matches!(attachment.location, crate::post::Location::Beside(_)) {
                    continue;
                }
                if let Some(route) = attachment.url(&post.url).strip_prefix(base_url) {
                    found.push(route.to_string());
                }
            }
        }
        found
    }

    /// The folders (under the posts folder) of the post files whose pages are in the
    /// page folder `folder`.
    fn post_folders(&self, folder: &str) -> Vec<String> {
        let file_folder = |post: &Post| {
            post.path
                .rsplit_once('/')
                .map_or(String::new(), |(folder, _)| folder.to_string())
        };
        let mut folders: Vec<String> = self
            .pages
            .get(folder)
            .map(|p| file_folder(p))
            .into_iter()
            .collect();
        let others = self.media_folders.get_or_init(|| {
            let mut index = MediaFolders::new();
            for (route, post) in self.pages.iter().filter(|(r, _)| !r.ends_with('/')) {
                let files = index
                    .entry(routes::page_folder(route).to_string())
                    .or_default();
                let folder = file_folder(post);
                if !files.contains(&folder) {
                    files.push(folder);
                }
            }
            index
        });
        for other in others.get(folder).into_iter().flatten() {
            if !folders.contains(other) {
                folders.push(other.clone());
            }
        }
        folders
    }

    /// The feed, page number and posts of a list page route that exists: a feed's
    /// folder (`/categories/bay-area/`) or one of its further pages (`…/page/2/`). The
    /// site's first page is the home page, prerendered.
    fn list_of(&self, route: &str) -> Option<ListPage<'_>> {
        let (key, page) = FeedKey::of_page(route)?;
        let (info, state) = self.topic_of(&key)?;
        let count = state.map_or(0, |s| s.topic.len());
        if page > feed::page_count(count) || (key == FeedKey::Site && page == 1) {
            return None;
        }
        Some(ListPage {
            info,
            state,
            page,
            count,
        })
    }

    /// A feed in the listing, with its posts when it has any.
    fn topic_of(&self, key: &FeedKey) -> Option<(&FeedInfo, Option<&TopicState>)> {
        Some((self.listing.get(key)?, self.topics.get(key)))
    }

    /// A page of a feed's list, rendered now or taken from the cache.
    fn list_page(&self, route: &str) -> Option<Arc<Rendered>> {
        let list = self.list_of(route)?;
        let context = self.page_context.as_ref()?;
        let input = PageInput::List(
            list.info.clone(),
            list.count,
            list.state.map_or(0, |s| s.generation),
        );
        let cache = &self.page_cache.lists;
        Some(cached(cache, route, input, || {
            render_list_page(&list, context)
        }))
    }

    /// The feed and format of a route of a feed rendered on request: a tag's. A site
    /// may have thousands of tags, each with few posts and fewer readers: rendering
    /// all of them ahead, in every format and compressed, cost more at start and in
    /// memory than all the other feeds together.
    fn lazy_feed_of(&self, route: &str) -> Option<(FeedKey, Format)> {
        let (dir, file) = route.rsplit_once('/')?;
        let context = self.page_context.as_ref()?;
        let format = *context.formats.iter().find(|f| f.file_name() == file)?;
        let (key, 1) = FeedKey::of_page(&route[..=dir.len()])? else {
            return None;
        };
        (is_lazy(&key) && self.listing.contains_key(&key)).then_some((key, format))
    }

    /// A tag's feed in one format, rendered now or taken from the cache.
    fn lazy_feed(&self, route: &str) -> Option<Arc<Rendered>> {
        let (key, format) = self.lazy_feed_of(route)?;
        let (info, state) = self.topic_of(&key)?;
        let context = self.page_context.as_ref()?;
        let input = PageInput::Feed(info.clone(), state.map_or(0, |s| s.generation));
        let cache = &self.page_cache.feeds;
        Some(cached(cache, route, input, || {
            render_lazy_feed(format, info, state, context)
        }))
    }

    /// Every route of every feed rendered on request (tags'), in order: `build`
    /// writes them with the pages, and their aliases into `_redirects`.
    pub fn lazy_feed_routes(&self) -> Vec<String> {
        let formats = self
            .page_context
            .as_ref()
            .map_or(&[][..], |c| &c.formats[..]);
        self.listing
            .keys()
            .filter(|key| is_lazy(key))
            .flat_map(|key| formats.iter().map(move |&f| key.route(f)))
            .collect()
    }

    /// Every page of every feed's list but the home page: what `build` writes beside
    /// the post pages.
    fn list_routes(&self) -> Vec<String> {
        self.listing
            .keys()
            .flat_map(|key| {
                let count = self.topics.get(key).map_or(0, |s| s.topic.len());
                let first = if *key == FeedKey::Site { 2 } else { 1 };
                (first..=feed::page_count(count)).map(move |n| key.page(n))
            })
            .collect()
    }

    /// Renders every post page, every page of every feed's list and every feed rendered
    /// on request (tags'), and hands each to
    /// `each`, on every core, never holding more than one page a core: what `build`
    /// writes. Stops at the first error.
    pub fn each_page<E: Send>(
        &self,
        each: impl Fn(&str, Rendered) -> Result<(), E> + Sync,
    ) -> Result<usize, E> {
        use rayon::prelude::*;
        let Some(context) = self.page_context.as_deref() else {
            return Ok(0);
        };
        let posts: Vec<(&String, &Arc<Post>)> = self.pages.iter().collect();
        posts
            .par_iter()
            .try_for_each(|(route, post)| each(route, render_page(post, context)))?;
        let lists = self.list_routes();
        lists
            .par_iter()
            .try_for_each(|route| match self.list_of(route) {
                Some(list) => each(route, render_list_page(&list, context)),
                None => Ok(()),
            })?;
        let feeds = self.lazy_feed_routes();
        feeds.par_iter().try_for_each(|route| {
            let Some((key, format)) = self.lazy_feed_of(route) else {
                return Ok(());
            };
            match self.topic_of(&key) {
                Some((info, state)) => each(route, render_lazy_feed(format, info, state, context)),
                None => Ok(()),
            }
        })?;
        let archives = self.each_archive(context, &each)?;
        Ok(posts.len() + lists.len() + feeds.len() + archives)
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

    /// Every prerendered route and its response, sorted by route, health report
    /// excluded: what `build` writes besides the post pages.
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

    /// The newest Last-Modified of a prerendered route, present or gone: a snapshot
    /// rebuilt from scratch (a config reload) dated after it never goes back before a
    /// copy a reader holds, and, unlike the clock, every replica that published the same
    /// changes gives the same one.
    pub fn newest_last_modified(&self) -> Option<DateTime<Utc>> {
        let present = self
            .routes
            .values()
            .filter(|r| r.input != Input::Health)
            .map(|r| r.rendered.last_modified);
        present.chain(self.retired.values().copied()).max()
    }

    /// This snapshot with the compressed variants of every route still pending, made
    /// on every core; `None` when none is pending.
    pub fn compress_pending(&self) -> Option<Snapshot> {
        use rayon::prelude::*;
        let pending: Vec<(&String, &Route)> = self
            .routes
            .iter()
            .filter(|(_, r)| r.rendered.pending)
            .collect();
        if pending.is_empty() {
            return None;
        }
        let done: Vec<(String, Route)> = pending
            .par_iter()
            .map(|(route, r)| {
                let old = &r.rendered;
                let rendered = Rendered {
                    content_type: old.content_type,
                    body: old.body.clone(),
                    gzip: Some(gzip(&old.body)),
                    br: Some(brotli(&old.body)),
                    pending: false,
                    etag: old.etag.clone(),
                    last_modified: old.last_modified,
                    cache_control: old.cache_control.clone(),
                };
                let input = r.input.clone();
                let rendered = Arc::new(rendered);
                ((*route).clone(), Route { rendered, input })
            })
            .collect();
        let mut compressed = self.clone();
        compressed.routes.extend(done);
        Some(compressed)
    }

    /// Every route that answers 200: prerendered, post pages, list pages.
    pub fn route_count(&self) -> usize {
        let lists: usize = self
            .listing
            .keys()
            .map(|key| {
                let count = self.topics.get(key).map_or(0, |s| s.topic.len());
                let pages = feed::page_count(count);
                // The site's first page is the home page, one of `routes`.
                if *key == FeedKey::Site {
                    pages - 1
                } else {
                    pages
                }
            })
            .sum();
        let formats = self.page_context.as_ref().map_or(0, |c| c.formats.len());
        let lazy = self.listing.keys().filter(|key| is_lazy(key)).count() * formats;
        let archives: usize = self.listing.values().map(|info| info.archives.len()).sum();
        self.routes.len() + self.pages.size() + lists + lazy + archives * formats
    }

    /// The newest posts of the site's list, with their bodies: what the home page shows.
    fn newest(&self) -> Vec<Arc<Post>> {
        self.topics
            .get(&FeedKey::Site)
            .map(|s| s.topic.posts(0, feed::POSTS_PER_PAGE))
            .unwrap_or_default()
    }

    /// The next snapshot: the feeds of `catalog` that `touched` names (every feed on a
    /// first publish) rendered at `time`, every other route of `self` kept as it is.
    pub fn next(
        &self,
        catalog: &Catalog,
        touched: &BTreeSet<FeedKey>,
        remembered: &Remembered,
        bodies: &Arc<dyn Bodies>,
        config: &Config,
        time: impl Into<PublishTime>,
    ) -> (Snapshot, Rerendered) {
        let PublishTime { now, changed } = time.into();
        let cache_control = format!("public, max-age={}", config.cache_max_age);
        let mut pass = Pass {
            prev: self,
            next: Snapshot {
                routes: self.routes.clone(),
                retired: self.retired.clone(),
                floor: self.floor,
                published_at: Some(now),
                feeds: 0,
                posts: catalog.visible(),
                listing: self.listing.clone(),
                feed_names: Vec::new(),
                redirects: Arc::clone(&remembered.redirects),
                pages: catalog.pages(),
                topics: self.topics.clone(),
                generation: self.generation + 1,
                page_context: Some(Arc::new(PageContext {
                    site: config.site.clone(),
                    formats: config.formats.clone(),
                    cache_control: cache_control.clone(),
                    floor: self.floor,
                    bodies: Arc::clone(bodies),
                    items: config.items,
                    archive_cache_control: format!("public, max-age={}", config.archive_max_age),
                })),
                page_cache: Arc::clone(&self.page_cache),
                media_folders: Arc::default(),
            },
            stats: Rerendered::default(),
            changed,
            cache_control,
        };
        let keys = feeds_to_render(self, catalog, touched, remembered);
        pass.topics(&keys, catalog, config.items);
        let shown: Vec<Arc<Post>> = keys
            .iter()
            .filter(|key| !is_lazy(key))
            .flat_map(|key| catalog.top(key, config.items))
            .filter(|post| post.content_elsewhere)
            .collect();
        bodies.prefetch(&shown);
        // A feed rendered on request is only listed here, with its name and date.
        let jobs: Vec<FeedJob> = keys
            .into_iter()
            .filter_map(|key| pass.feed(key, catalog, remembered, config))
            .filter(|job| !is_lazy(&job.key))
            .collect();
        // Every changed route of every touched feed, rendered on every core; then placed
        // in order, so the result never depends on which core finished first.
        let rendered = render_feeds(&pass, &jobs, bodies.as_ref(), config);
        for (job, formats) in jobs.iter().zip(rendered) {
            // A format left out kept its input: its route stays as it was.
            for (format, body) in formats {
                let route = job.key.route(format);
                pass.place(route, job.input.clone(), job.modified, || body);
            }
        }
        pass.next.feeds = pass.next.listing.len();
        pass.listing(config);
        let Pass {
            mut next, stats, ..
        } = pass;
        icon_routes(&mut next, config);
        let health = health(self, &next, catalog, remembered, config, now);
        next.routes.insert(routes::HEALTH.into(), health);
        (next, stats)
    }
}

/// Where the site's icon is served: `/favicon.ico`, which browsers ask for, and its
/// route with its own extension (`/icon.png`), which the feeds link to. Neither when
/// `[site] icon` is unset, so both answer 404.
fn icon_routes(next: &mut Snapshot, config: &Config) {
    let Some(icon) = &config.icon else {
        return;
    };
    if next.routes.contains_key(&icon.route) {
        return;
    }
    let rendered = Arc::new(Rendered {
        content_type: icon.media_type,
        body: icon.bytes.clone(),
        gzip: None,
        br: None,
        pending: false,
        etag: etag(&icon.bytes),
        last_modified: icon.modified,
        cache_control: format!("public, max-age={}", config.cache_max_age),
    });
    for route in [routes::FAVICON, icon.route.as_str()] {
        let rendered = Arc::clone(&rendered);
        let input = Input::Icon;
        next.routes
            .insert(route.to_string(), Route { rendered, input });
    }
}

/// The feeds a publish renders: those a change touched, every feed on a first publish,
/// and a remembered feed that has no route yet (its last post went before a restart).
fn feeds_to_render(
    prev: &Snapshot,
    catalog: &Catalog,
    touched: &BTreeSet<FeedKey>,
    remembered: &Remembered,
) -> BTreeSet<FeedKey> {
    let mut keys = touched.clone();
    if prev.listing.is_empty() {
        keys.insert(FeedKey::Site);
        keys.extend(catalog.feed_keys().cloned());
    }
    keys.extend(
        remembered
            .feeds
            .keys()
            .filter(|key| !prev.listing.contains_key(*key))
            .cloned(),
    );
    keys
}

/// One feed to render: its posts (newest `feeds.items`) and what it is rendered from.
struct FeedJob {
    key: FeedKey,
    info: FeedInfo,
    posts: Vec<Arc<Post>>,
    modified: DateTime<Utc>,
    input: Input,
}

/// Each job's formats whose input changed, with their bodies, rendered on every core.
type RenderedFormats = Vec<(Format, (&'static str, String))>;

fn render_feeds(
    pass: &Pass<'_>,
    jobs: &[FeedJob],
    bodies: &dyn Bodies,
    config: &Config,
) -> Vec<RenderedFormats> {
    use rayon::prelude::*;
    jobs.par_iter()
        .map(|job| {
            let changed: Vec<Format> = config
                .formats
                .iter()
                .copied()
                .filter(|format| {
                    pass.prev
                        .routes
                        .get(&job.key.route(*format))
                        .is_none_or(|old| old.input != job.input)
                })
                .collect();
            let full: Vec<std::borrow::Cow<Post>> = if changed.is_empty() {
                Vec::new()
            } else {
                job.posts.iter().map(|p| with_body(p, bodies)).collect()
            };
            let refs: Vec<&Post> = full.iter().map(|p| p.as_ref()).collect();
            changed
                .par_iter()
                .map(|&format| {
                    let body = feed::render_feed(format, &config.site, &job.info, &refs);
                    (format, (format.content_type(), body))
                })
                .collect()
        })
        .collect()
}

/// One publish in progress: the snapshot before it and the one it builds.
struct Pass<'a> {
    prev: &'a Snapshot,
    next: Snapshot,
    stats: Rerendered,
    /// See [`PublishTime::changed`].
    changed: DateTime<Utc>,
    cache_control: String,
}

impl Pass<'_> {
    /// Renders one feed in every format, or takes its routes away when it has no post
    /// and was never remembered (the site's feed always stays).
    /// What rendering one feed needs, or (its routes taken away) nothing when it has no
    /// post and was never remembered; the site's feed always stays.
    fn feed(
        &mut self,
        key: FeedKey,
        catalog: &Catalog,
        remembered: &Remembered,
        config: &Config,
    ) -> Option<FeedJob> {
        let posts = catalog.top(&key, config.items);
        let name = match &key {
            FeedKey::Site => Some(config.site.title.clone()),
            _ => catalog
                .name_of(&key)
                .or_else(|| remembered.feeds.get(&key).cloned()),
        };
        let Some(name) = name.filter(|_| {
            !posts.is_empty() || key == FeedKey::Site || remembered.feeds.contains_key(&key)
        }) else {
            self.retire(&key, config);
            return None;
        };
        let title = feed::feed_title(&config.site, &key, &name);
        let info = FeedInfo {
            archives: self
                .next
                .topics
                .get(&key)
                .map(|state| Arc::clone(&state.archive_names))
                .unwrap_or_default(),
            key: key.clone(),
            title,
            name: name.clone(),
            updated: FeedInfo::updated_of(
                posts.iter().map(|p| p.as_ref()),
                // In the site's time zone, as every other date of its feeds.
                remembered
                    .emptied
                    .get(&key)
                    .copied()
                    .unwrap_or(self.changed)
                    .with_timezone(&config.site.timezone)
                    .fixed_offset(),
            ),
        };
        let modified = newest_change(&posts);
        let input = Input::Feed(
            info.clone(),
            posts.iter().cloned().map(ByIdentity).collect(),
        );
        self.next.feed_names.push((key.clone(), name));
        self.next.listing.insert(key.clone(), info.clone());
        Some(FeedJob {
            key,
            info,
            posts,
            modified,
            input,
        })
    }

    /// Takes a feed's routes away, remembering their Last-Modified.
    fn retire(&mut self, key: &FeedKey, config: &Config) {
        self.next.listing.remove(key);
        for &format in &config.formats {
            let route = key.route(format);
            if let Some(old) = self.next.routes.remove(&route) {
                self.stats.removed += 1;
                self.next.retired.insert(route, old.rendered.last_modified);
            }
        }
    }

    /// Takes the lists of the feeds in `keys` from the catalog, dated by the change (or, on a
    /// first publish, by their newest change): a list page's Last-Modified.
    fn topics(&mut self, keys: &BTreeSet<FeedKey>, catalog: &Catalog, items: usize) {
        let first = self.prev.listing.is_empty();
        for key in keys {
            match catalog.topic(key) {
                Some(topic) => {
                    // On a first publish, the newest change of any of its posts (an
                    // edit on page 3 before a restart must not date page 3 earlier
                    // than a reader's copy); once, at start, for every list.
                    let changed = if first {
                        let newest = newest_change(&topic.posts(0, topic.len()));
                        self.prev.floor.map_or(newest, |floor| newest.max(floor))
                    } else {
                        self.changed
                    };
                    let before = self.prev.topics.get(key);
                    let moved = !first && catalog.shifted_beyond(key, items);
                    let shifted = if moved {
                        truncate_to_second(self.changed)
                    } else {
                        before.map_or(DateTime::<Utc>::MIN_UTC, |s| s.shifted)
                    };
                    let kept = before.filter(|_| !first && !moved);
                    let archive_names = archive_names(&topic, kept, items).into();
                    let state = TopicState {
                        topic,
                        changed: truncate_to_second(changed),
                        generation: self.next.generation,
                        shifted,
                        archive_names,
                    };
                    self.next.topics.insert_mut(key.clone(), state);
                }
                None => {
                    self.next.topics.remove_mut(key);
                }
            }
        }
    }

    /// The home page and the OPML list, when what they show changed.
    fn listing(&mut self, config: &Config) {
        let listing: Vec<FeedInfo> = self.next.listing.values().cloned().collect();
        let everything = listing
            .iter()
            .map(|info| info.updated.with_timezone(&Utc))
            .max()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let listed: Vec<feed::Listed> = listing
            .iter()
            .map(|info| feed::Listed {
                info: info.clone(),
                count: self.next.topics.get(&info.key).map_or(0, |s| s.topic.len()),
            })
            .collect();
        let newest = self.next.newest();
        let input = Input::Index(
            listed.clone(),
            newest.iter().cloned().map(ByIdentity).collect(),
        );
        // Lists show summaries, which posts keep in memory: no body is read for them.
        self.place(routes::INDEX.into(), input, everything, || {
            let refs: Vec<&Post> = newest.iter().map(|p| p.as_ref()).collect();
            (
                HTML,
                feed::render_index(&config.site, &listed, &refs, &config.formats),
            )
        });
        // The page of every tag, when there is one; rendered only when a tag or its
        // count changed.
        let tags: Vec<feed::Listed> = listed
            .iter()
            .filter(|l| matches!(l.info.key, FeedKey::Tag(_)) || l.info.key == FeedKey::Site)
            .cloned()
            .collect();
        if tags.iter().any(|l| matches!(l.info.key, FeedKey::Tag(_))) {
            let input = Input::Index(tags.clone(), Vec::new());
            self.place(feed::ALL_TAGS.into(), input, everything, || {
                let body = feed::render_all_tags(&config.site, &tags, &config.formats);
                (HTML, body.unwrap_or_default())
            });
        } else if let Some(old) = self.next.routes.remove(feed::ALL_TAGS) {
            self.stats.removed += 1;
            let at = old.rendered.last_modified;
            self.next.retired.insert(feed::ALL_TAGS.into(), at);
        }
        let input = Input::Listing(listing.clone());
        self.place(routes::OPML.into(), input, everything, || {
            (
                OPML,
                feed::render_opml(&config.site, &listing, &config.formats),
            )
        });
    }

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
                let at = truncate_to_second(modified.max(self.changed));
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
        let rendered = Rendered {
            content_type,
            body: Bytes::from(body),
            gzip: None,
            br: None,
            pending: true,
            etag,
            last_modified: truncate_to_second(last_modified),
            cache_control: self.cache_control.clone(),
        };
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
        pending: false,
        body,
        etag,
        last_modified,
        cache_control,
    }
}

pub fn gzip(body: &[u8]) -> Bytes {
    // Level 6 with the zlib-rs backend: on a 220 KB feed 7.4 ms and 0.9% larger than
    // level 9's 16 ms.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
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

fn health(
    prev: &Snapshot,
    next: &Snapshot,
    catalog: &Catalog,
    remembered: &Remembered,
    config: &Config,
    now: DateTime<Utc>,
) -> Route {
    let (errors, warnings) = (catalog.errors(), catalog.warnings());
    fn list(problems: &[Problem]) -> Vec<HealthProblem<'_>> {
        problems
            .iter()
            .map(|p| HealthProblem {
                path: &p.path,
                line: p.line,
                reason: &p.message,
            })
            .collect()
    }
    let folder = match catalog.folder() {
        Folder::Fine => None,
        Folder::Missing => Some(format!(
            "the posts folder {} is missing; create it, or point `posts.dir` at it",
            config.posts_dir.display()
        )),
        Folder::Emptied(before) => Some(format!(
            "every post disappeared at once ({before} → 0); restore them, or add a post to clear this"
        )),
    };
    let report = Health {
        status: if errors.is_empty() && remembered.problem.is_none() && folder.is_none() {
            "ok"
        } else {
            "degraded"
        },
        state: remembered.problem.as_deref().unwrap_or("ok"),
        posts_folder: folder.unwrap_or_else(|| "ok".into()),
        posts: next.posts,
        feeds: next.feeds,
        routes: next.route_count(),
        last_publish: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        errors: list(&errors),
        warnings: list(&warnings),
    };
    let body = serde_json::to_string_pretty(&report).unwrap_or_else(|_| "{}".into());
    let etag = etag(body.as_bytes());
    // As for a feed: a changed report is newer than any copy a monitor holds, a second
    // on when it changed within the second of the copy before, or If-Modified-Since
    // would answer 304 over a stale report.
    let at = truncate_to_second(now);
    let last_modified = match prev.routes.get(routes::HEALTH) {
        Some(old) if old.rendered.etag == etag => old.rendered.last_modified,
        Some(old) if old.rendered.last_modified >= at => {
            old.rendered.last_modified + chrono::Duration::seconds(1)
        }
        _ => at,
    };
    Route {
        rendered: Arc::new(Rendered {
            content_type: "application/json; charset=utf-8",
            body: Bytes::from(body),
            gzip: None,
            br: None,
            pending: false,
            etag,
            last_modified,
            cache_control: "no-store".into(),
        }),
        input: Input::Health,
    }
}

/// A page of a feed's list, as [`Snapshot::list_of`] finds it.
struct ListPage<'a> {
    info: &'a FeedInfo,
    /// Absent for a feed that has no post (remembered, kept answering).
    state: Option<&'a TopicState>,
    page: usize,
    count: usize,
}

/// Feeds rendered on request rather than ahead: tags'.
fn is_lazy(key: &FeedKey) -> bool {
    matches!(key, FeedKey::Tag(_))
}

/// `route`'s response from `cache` when it was rendered from `input`, else `render`'s,
/// cached.
fn cached(
    cache: &Mutex<Cache>,
    route: &str,
    input: PageInput,
    render: impl FnOnce() -> Rendered,
) -> Arc<Rendered> {
    if let Ok(mut cache) = cache.lock() {
        if let Some(rendered) = cache.get(route, &input) {
            return rendered;
        }
    }
    let rendered = Arc::new(render());
    if let Ok(mut cache) = cache.lock() {
        cache.put(route, input, &rendered);
    }
    rendered
}

/// When a feed's list last changed, never before the floor; an empty feed's date when
/// it has no post.
fn list_changed(
    info: &FeedInfo,
    state: Option<&TopicState>,
    context: &PageContext,
) -> DateTime<Utc> {
    context.floored(state.map_or(info.updated.with_timezone(&Utc), |s| s.changed))
}

/// A feed rendered on request (a tag's), compressed, dated by when its list changed.
fn render_lazy_feed(
    format: Format,
    info: &FeedInfo,
    state: Option<&TopicState>,
    context: &PageContext,
) -> Rendered {
    let posts = state.map_or_else(Vec::new, |s| s.topic.posts(0, context.items));
    context.bodies.prefetch(&posts);
    let full: Vec<std::borrow::Cow<Post>> = posts
        .iter()
        .map(|p| with_body(p, context.bodies.as_ref()))
        .collect();
    let refs: Vec<&Post> = full.iter().map(|p| p.as_ref()).collect();
    let body = feed::render_feed(format, &context.site, info, &refs);
    let etag = etag(body.as_bytes());
    compressed(
        format.content_type(),
        body,
        etag,
        list_changed(info, state, context),
        context.cache_control.clone(),
    )
}

/// A page of a feed's list, compressed, dated by when the list last changed.
fn render_list_page(list: &ListPage, context: &PageContext) -> Rendered {
    let skip = (list.page - 1) * feed::POSTS_PER_PAGE;
    let posts = list
        .state
        .map_or_else(Vec::new, |s| s.topic.posts(skip, feed::POSTS_PER_PAGE));
    // Lists show summaries, which posts keep in memory: no body is read for them.
    let refs: Vec<&Post> = posts.iter().map(|p| p.as_ref()).collect();
    let body = feed::render_topic_page(
        &context.site,
        list.info,
        list.count,
        &refs,
        list.page,
        &context.formats,
    );
    let etag = etag(body.as_bytes());
    compressed(
        HTML,
        body,
        etag,
        list_changed(list.info, list.state, context),
        context.cache_control.clone(),
    )
}

/// A post's page, compressed, dated by the post's last change (never before the floor).
fn render_page(post: &Post, context: &PageContext) -> Rendered {
    let post = with_body(post, context.bodies.as_ref());
    let body = feed::render_post_page(&context.site, &post, &context.formats);
    let etag = etag(body.as_bytes());
    let modified = post.updated.with_timezone(&Utc).max(post.file_modified);
    compressed(
        HTML,
        body,
        etag,
        context.floored(modified),
        context.cache_control.clone(),
    )
}

/// RFC 5005 archives, rendered on request and cached like list pages: a site of
/// 100,000 posts has thousands of them per format, and most are never asked for.
impl Snapshot {
    /// The feed, number and format of an archive route that exists: an archive's
    /// named route with its current name.
    fn archive_of(&self, route: &str) -> Option<(&FeedInfo, &TopicState, usize, Format)> {
        let (key, n, Some(name), format) = FeedKey::of_archive(route)? else {
            return None;
        };
        let (info, state) = self.existing_archive(&key, n, format)?;
        (info.archives.get(n - 1) == Some(&name)).then_some((info, state, n, format))
    }

    /// The feed and list of archive `n` of `key` in `format`, when it has one.
    fn existing_archive(
        &self,
        key: &FeedKey,
        n: usize,
        format: Format,
    ) -> Option<(&FeedInfo, &TopicState)> {
        let context = self.page_context.as_ref()?;
        if !context.formats.contains(&format) {
            return None;
        }
        let (info, state) = self.topic_of(key)?;
        let state = state?;
        (1..=info.archives.len())
            .contains(&n)
            .then_some((info, state))
    }

    /// The named route an archive's plain route (`archive/3.atom`), or its route under a
    /// former name, answers `301` to: links in readers and caches keep working when
    /// the archive's posts change.
    pub fn archive_redirect(&self, route: &str) -> Option<String> {
        let (key, n, name, format) = FeedKey::of_archive(route)?;
        let (info, _) = self.existing_archive(&key, n, format)?;
        let current = *info.archives.get(n - 1)?;
        (name != Some(current)).then(|| key.archive_named(n, current, format))
    }

    /// Every archive's plain route with the named route it answers `301` to, in the
    /// order of the feeds: what `build` writes into `_redirects`.
    pub fn archive_redirects(&self) -> Vec<(String, String)> {
        let Some(context) = self.page_context.as_ref() else {
            return Vec::new();
        };
        let mut redirects = Vec::new();
        for (key, info) in &self.listing {
            for (i, &name) in info.archives.iter().enumerate() {
                for &format in &context.formats {
                    redirects.push((
                        key.archive(i + 1, format),
                        key.archive_named(i + 1, name, format),
                    ));
                }
            }
        }
        redirects
    }

    /// An archive, rendered now or taken from the cache.
    fn archive(&self, route: &str) -> Option<Arc<Rendered>> {
        let (info, state, n, format) = self.archive_of(route)?;
        let context = self.page_context.as_ref()?;
        let span = feed::archive_span(n, state.topic.len(), context.items);
        let run = state
            .topic
            .oldest(span.start, reach(n, info, context.items));
        let archive = Archive::of(info, state, n, &run, context);
        let cache = &self.page_cache.archives;
        Some(cached(cache, route, archive.input(), || {
            render_archive(format, &archive, context, true)
        }))
    }

    /// Renders every archive of every feed in every format and hands each to `each`:
    /// what `build` writes. Each feed's posts are walked once, not once an archive.
    /// Not compressed: a site of 10,000 posts has some 3,400 archives, 930 MB, and
    /// compressing them made `build` three times as long (32 s → 110–135 s); archives
    /// are read once per subscriber, and a web server may compress them as it sends.
    fn each_archive<E: Send>(
        &self,
        context: &PageContext,
        each: &(impl Fn(&str, Rendered) -> Result<(), E> + Sync),
    ) -> Result<usize, E> {
        use rayon::prelude::*;
        let mut written = 0;
        for (key, info) in self
            .listing
            .iter()
            .filter(|(_, info)| !info.archives.is_empty())
        {
            let Some(state) = self.topics.get(key) else {
                continue;
            };
            let all = state.topic.oldest(0, state.topic.len());
            let jobs: Vec<(usize, Format)> = (1..=info.archives.len())
                .flat_map(|n| context.formats.iter().map(move |&f| (n, f)))
                .collect();
            jobs.par_iter().try_for_each(|&(n, format)| {
                let span = feed::archive_span(n, all.len(), context.items);
                let end = (span.start + reach(n, info, context.items)).min(all.len());
                let archive = Archive::of(info, state, n, &all[span.start..end], context);
                let route = key.archive_named(n, info.archives[n - 1], format);
                each(&route, render_archive(format, &archive, context, false))
            })?;
            written += jobs.len();
        }
        Ok(written)
    }
}

/// The names of the archives of `topic` ([`feed::archive_names`]), from the ids of its
/// posts behind the newest page, oldest first. With `before`, its state at the publish
/// before when no post has since entered or left it behind its newest page
/// ([`Catalog::shifted_beyond`]): the oldest posts are then where they were, and the
/// names of the archives whole among them are kept, the others hashed again.
fn archive_names(topic: &Topic, before: Option<&TopicState>, items: usize) -> Vec<u32> {
    let items = items.max(1);
    let archived = topic.len().saturating_sub(items);
    let (mut names, from) = match before {
        Some(before) => {
            let was = before.topic.len().saturating_sub(items);
            let whole = (was.min(archived) / items).min(before.archive_names.len());
            (before.archive_names[..whole].to_vec(), whole * items)
        }
        None => (Vec::new(), 0),
    };
    let previous = names.last().copied().unwrap_or(0);
    let posts = topic.oldest(from, archived - from);
    names.extend(feed::archive_names_after(
        previous,
        posts.iter().map(|post| post.id.as_str()),
        items,
    ));
    names
}

/// How many posts from an archive's first one its Last-Modified looks at: its own,
/// and for a closed archive the run up to the post whose arrival closed it (the first
/// of the archive after the next, or of the newest page), so that closing it, which
/// adds its `next-archive` link, moves its Last-Modified forward. These posts keep
/// their places when new posts come, so a new post moves no closed archive's date.
fn reach(n: usize, info: &FeedInfo, items: usize) -> usize {
    if n < info.archives.len() {
        2 * items + 1
    } else {
        items
    }
}

/// One archive document, ready to render.
struct Archive {
    /// The feed, dated by this archive's posts: a new post elsewhere changes nothing.
    info: FeedInfo,
    n: usize,
    /// Newest first, as in every feed.
    posts: Vec<Arc<Post>>,
    /// A newer archive exists: nothing but an edit, a deletion or a backdated post
    /// changes this one, and caches may keep it for `feeds.archive_max_age`.
    closed: bool,
    last_modified: DateTime<Utc>,
}

impl Archive {
    /// Archive `n` of a feed, from `run`: the posts from its first one, oldest first,
    /// as far as [`reach`] looks.
    fn of(
        info: &FeedInfo,
        state: &TopicState,
        n: usize,
        run: &[Arc<Post>],
        context: &PageContext,
    ) -> Archive {
        let span = feed::archive_span(n, state.topic.len(), context.items);
        let own = &run[..span.len().min(run.len())];
        let posts: Vec<Arc<Post>> = own.iter().rev().cloned().collect();
        let closed = n < info.archives.len();
        let changed = newest_change(run);
        // The newest archive changes with the list (a post leaving the newest page joins
        // it); a closed one only when its posts or their places do.
        let since = if closed { state.shifted } else { state.changed };
        // The names it links (its own, the one before, and whether a next one is),
        // not those after: a closed archive's input stays while the newest fills.
        let named = (n + 1).min(info.archives.len());
        let info = FeedInfo {
            updated: FeedInfo::updated_of(posts.iter().map(|p| p.as_ref()), info.updated),
            archives: info.archives[..named].into(),
            ..info.clone()
        };
        Archive {
            info,
            n,
            posts,
            closed,
            last_modified: context.floored(changed.max(since)),
        }
    }

    fn input(&self) -> PageInput {
        PageInput::Archive(
            self.info.clone(),
            self.posts.iter().cloned().map(ByIdentity).collect(),
            self.closed,
            self.last_modified,
        )
    }
}

/// An archive in one format, compressed when `compress`: a closed one cached for
/// `feeds.archive_max_age`, the newest for `feeds.cache_max_age` like its feed.
fn render_archive(
    format: Format,
    archive: &Archive,
    context: &PageContext,
    compress: bool,
) -> Rendered {
    context.bodies.prefetch(&archive.posts);
    let full: Vec<std::borrow::Cow<Post>> = archive
        .posts
        .iter()
        .map(|p| with_body(p, context.bodies.as_ref()))
        .collect();
    let refs: Vec<&Post> = full.iter().map(|p| p.as_ref()).collect();
    let body = feed::render_archive(format, &context.site, &archive.info, &refs, archive.n);
    let etag = etag(body.as_bytes());
    let cache_control = if archive.closed {
        &context.archive_cache_control
    } else {
        &context.cache_control
    };
    if compress {
        return compressed(
            format.content_type(),
            body,
            etag,
            archive.last_modified,
            cache_control.clone(),
        );
    }
    Rendered {
        content_type: format.content_type(),
        body: Bytes::from(body),
        gzip: None,
        br: None,
        pending: false,
        etag,
        last_modified: archive.last_modified,
        cache_control: cache_control.clone(),
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

    fn publish(
        prev: &Snapshot,
        catalog: &mut Catalog,
        now: DateTime<Utc>,
    ) -> (Snapshot, Rerendered) {
        catalog.advance(now);
        let touched = catalog.take_touched();
        let bodies: Arc<dyn Bodies> = Arc::new(InPost);
        prev.next(
            catalog,
            &touched,
            &Remembered::default(),
            &bodies,
            &config(),
            now,
        )
    }

    fn body(rendered: &Rendered) -> String {
        String::from_utf8(rendered.body.to_vec()).unwrap()
    }

    #[test]
    fn list_pages_answer_for_every_topic_with_twenty_posts_a_page() {
        let mut catalog = Catalog::new();
        for i in 1..=25 {
            let p = PostBuilder::new(&format!("p{i:02}"))
                .site(&config().site)
                .author("Ann")
                .category("Alpha")
                .tag("Night Owls")
                .published(&format!("2024-05-{i:02}T12:00:00+00:00"))
                .summary(&format!("summary {i}"))
                .build();
            catalog.apply(&format!("p{i:02}.md"), Update::Parsed(p));
        }
        let (snapshot, _) = publish(&Snapshot::default(), &mut catalog, day(28));
        let first = snapshot.get("/categories/alpha/").unwrap();
        assert_eq!(first.content_type, "text/html; charset=utf-8");
        let html = body(&first);
        // Newest first: 25 down to 6 on the first page, 5 to 1 on the second.
        assert!(html.contains(r#"<a href="https://example.com/posts/p25/">"#));
        assert!(html.contains(r#"<a href="https://example.com/posts/p06/">"#));
        assert!(!html.contains(r#"<a href="https://example.com/posts/p05/">"#));
        assert!(html.contains("<p>summary 25</p>"));
        assert!(html.contains(r#"<p class="meta">25 posts</p>"#));
        let second = body(&snapshot.get("/categories/alpha/page/2/").unwrap());
        assert_eq!(second.matches("<h3>").count(), 5);
        assert!(second.contains(r#"<a href="https://example.com/posts/p05/">"#));
        assert!(second.contains("<span>Page 2 of 2</span>"));
        for route in [
            "/tags/night-owls/",
            "/tags/night-owls/page/2/",
            "/authors/ann/",
            "/page/2/",
        ] {
            assert!(snapshot.get(route).is_some(), "{route}");
            assert!(snapshot.has(route), "{route}");
        }
        for route in [
            "/categories/alpha/page/3/",
            "/categories/alpha/page/1/",
            "/page/1/",
            "/page/3/",
            "/categories/beta/",
            "/tags/night-owls/page/3/",
        ] {
            assert!(snapshot.get(route).is_none(), "{route}");
            assert!(!snapshot.has(route), "{route}");
        }
        // The home page shows the newest page of posts, then every topic with its count.
        let home = body(&snapshot.get("/").unwrap());
        assert_eq!(home.matches("<h3>").count(), 20);
        assert!(home.contains(
            r#"<li><a href="https://example.com/tags/night-owls/">Night Owls</a> <span class="count">25 posts</span></li>"#
        ));
        // Lists: /page/2/ and two pages each of Alpha, Ann and Night Owls; 4 feeds × 3
        // formats, the home page, /tags/, OPML and health; 25 posts' pages.
        assert_eq!(snapshot.route_count(), (1 + 3 * 2) + (4 * 3 + 4) + 25);
    }

    #[test]
    fn a_list_page_changes_when_its_topic_does_and_never_goes_back_in_time() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 1, "one")));
        catalog.apply("b.md", Update::Parsed(post("b", "Beta", "Ann", 2, "two")));
        let (first, _) = publish(&Snapshot::default(), &mut catalog, day(20));
        let alpha = first.get("/categories/alpha/").unwrap();
        // A first publish dates a list by its newest post.
        assert_eq!(alpha.last_modified, day(1));
        catalog.apply("a.md", Update::Removed);
        let (second, _) = publish(&first, &mut catalog, day(21));
        // Alpha lost its last post and was never remembered: its page goes with its feed.
        assert!(second.get("/categories/alpha/").is_none());
        let ann = second.get("/authors/ann/").unwrap();
        assert_ne!(ann.etag, first.get("/authors/ann/").unwrap().etag);
        assert_eq!(ann.last_modified, day(21));
        // Beta did not change: the same page, from the cache.
        assert!(Arc::ptr_eq(
            &first.get("/categories/beta/").unwrap(),
            &second.get("/categories/beta/").unwrap()
        ));
    }

    fn tagged(slug: &str, day: u32, tag: &str) -> Post {
        PostBuilder::new(slug)
            .site(&config().site)
            .author("Ann")
            .tag(tag)
            .published(&format!("2024-05-{day:02}T12:00:00+00:00"))
            .summary(&format!("summary of {slug}"))
            .content_html(&format!("<p>{slug}</p>"))
            .build()
    }

    #[test]
    fn tag_feeds_are_rendered_on_request_and_follow_their_posts() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(tagged("a", 1, "Rain")));
        catalog.apply("b.md", Update::Parsed(tagged("b", 2, "Rain")));
        let (first, _) = publish(&Snapshot::default(), &mut catalog, day(20));
        // Not among the routes rendered ahead, which `build` writes as files (but the
        // page listing every tag)...
        assert!(first
            .files()
            .iter()
            .all(|(route, _)| !route.starts_with("/tags/") || *route == "/tags/"));
        // ...yet served, in every format, and counted.
        for format in ["rss.xml", "atom.xml", "feed.json"] {
            assert!(first.has(&format!("/tags/rain/{format}")), "{format}");
        }
        assert!(!first.has("/tags/snow/rss.xml"));
        assert!(!first.has("/tags/rain/index.xml"));
        let rss = first.get("/tags/rain/rss.xml").unwrap();
        assert_eq!(rss.content_type, "application/rss+xml; charset=utf-8");
        let text = body(&rss);
        assert!(text.contains("<title>dropfeed — #Rain</title>"), "{text}");
        assert!(text.find("<p>b</p>").unwrap() < text.find("<p>a</p>").unwrap());
        assert!(rss.gzip.is_some() && rss.br.is_some());
        assert_eq!(rss.last_modified, day(2));
        // The same publish answers from the cache.
        assert!(Arc::ptr_eq(&rss, &first.get("/tags/rain/rss.xml").unwrap()));
        // A new post in the tag: the next snapshot renders it again, dated by then.
        catalog.apply("c.md", Update::Parsed(tagged("c", 3, "Rain")));
        let (second, _) = publish(&first, &mut catalog, day(21));
        let again = second.get("/tags/rain/rss.xml").unwrap();
        assert!(body(&again).contains("<p>c</p>"));
        assert_eq!(again.last_modified, day(21));
        // `build` gets them with the pages: 3 post pages, 2 pages of Ann's list and
        // the tag's, /page/ none, 3 tag feeds.
        let written = Mutex::new(Vec::new());
        let count = second
            .each_page(|route, _| -> Result<(), ()> {
                written.lock().unwrap().push(route.to_string());
                Ok(())
            })
            .unwrap();
        assert_eq!(count, 3 + 2 + 3);
        assert!(written
            .into_inner()
            .unwrap()
            .contains(&"/tags/rain/atom.xml".to_string()));
    }

    #[test]
    fn a_deleted_post_shifts_the_later_pages_of_its_list() {
        let mut catalog = Catalog::new();
        for i in 1..=21 {
            let p = tagged(&format!("p{i:02}"), i, "Rain");
            catalog.apply(&format!("p{i:02}.md"), Update::Parsed(p));
        }
        let (first, _) = publish(&Snapshot::default(), &mut catalog, day(25));
        let page2 = body(&first.get("/tags/rain/page/2/").unwrap());
        assert!(page2.contains(r#"href="https://example.com/posts/p01/""#));
        catalog.apply("p21.md", Update::Removed);
        let (second, _) = publish(&first, &mut catalog, day(26));
        // One page now: the second is gone, the first shows p01 instead.
        assert!(second.get("/tags/rain/page/2/").is_none());
        let page1 = body(&second.get("/tags/rain/").unwrap());
        assert!(page1.contains(r#"href="https://example.com/posts/p01/""#));
        assert!(!page1.contains(r#"href="https://example.com/posts/p21/""#));
    }

    /// Regression (review): a first publish dated a list by its newest post alone, so
    /// after a restart a page whose older post had been edited went back in time.
    #[test]
    fn a_first_publish_dates_a_list_by_its_newest_change_of_any_post() {
        let mut catalog = Catalog::new();
        let mut old = post("old", "Alpha", "Ann", 1, "edited since");
        old.file_modified = day(15);
        catalog.apply("old.md", Update::Parsed(old));
        catalog.apply(
            "new.md",
            Update::Parsed(post("new", "Alpha", "Ann", 10, "new")),
        );
        let (snapshot, _) = publish(&Snapshot::default(), &mut catalog, day(20));
        let page = snapshot.get("/categories/alpha/").unwrap();
        assert_eq!(page.last_modified, day(15));
    }

    #[test]
    fn a_publish_swaps_bodies_in_first_and_their_compressed_variants_after() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 1, "one")));
        let (first, _) = publish(&Snapshot::default(), &mut catalog, day(20));
        let fresh = first.get("/rss.xml").unwrap();
        assert!(fresh.pending);
        assert_eq!(fresh.gzip, None);
        let compressed = first.compress_pending().unwrap();
        let done = compressed.get("/rss.xml").unwrap();
        assert!(!done.pending);
        assert_eq!(done.etag, fresh.etag);
        assert_eq!(done.body, fresh.body);
        let mut unzipped = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&done.gzip.as_ref().unwrap()[..]),
            &mut unzipped,
        )
        .unwrap();
        assert_eq!(unzipped.as_bytes(), &fresh.body[..]);
        assert!(compressed.compress_pending().is_none());
        // A post's page is compressed when it is rendered.
        let page = compressed.get("/posts/a/").unwrap();
        assert!(page.gzip.is_some() && page.br.is_some());
    }

    #[test]
    fn an_edit_rerenders_only_the_feeds_it_touches() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 1, "one")));
        catalog.apply("b.md", Update::Parsed(post("b", "Beta", "Bob", 2, "two")));
        let (first, stats) = publish(&Snapshot::default(), &mut catalog, day(20));
        // 5 feeds (site, 2 categories, 2 authors) × 3 formats, index, OPML; pages are
        // rendered when asked for.
        assert_eq!(
            stats,
            Rerendered {
                routes: 17,
                removed: 0
            }
        );

        catalog.apply(
            "a.md",
            Update::Parsed(post("a", "Alpha", "Ann", 1, "one, edited")),
        );
        let (second, stats) = publish(&first, &mut catalog, day(21));
        // Site, Alpha and Ann feeds × 3 formats, and the home page, which shows the
        // edited post; the feed list (OPML) is the same.
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
            "/opml.xml",
        ] {
            assert!(
                Arc::ptr_eq(&first.get(route).unwrap(), &second.get(route).unwrap()),
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
        let (snapshot, _) = publish(&Snapshot::default(), &mut catalog, day(20));
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
        let (first, _) = publish(&Snapshot::default(), &mut catalog, day(20));
        let (restarted, _) = publish(&Snapshot::default(), &mut catalog, day(25));
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
        let (first, _) = publish(&Snapshot::default(), &mut catalog, day(20));
        assert_eq!(
            first
                .get("/categories/alpha/rss.xml")
                .unwrap()
                .last_modified,
            day(10)
        );

        catalog.apply("new.md", Update::Removed);
        let (second, stats) = publish(&first, &mut catalog, day(21));
        // Pages are not prerendered routes: nothing to remove but the page's post.
        assert_eq!(stats.removed, 0);
        assert!(second.get("/posts/new/").is_none());
        assert!(first.get("/posts/new/").is_some());
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
        let (first, _) = publish(&Snapshot::default(), &mut catalog, noon);
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 20, "one")));
        let in_that_second = noon + chrono::Duration::milliseconds(100);
        let (second, _) = publish(&first, &mut catalog, in_that_second);
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
            &mut catalog,
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
        let (fourth, _) = publish(
            &third,
            &mut catalog,
            noon + chrono::Duration::milliseconds(900),
        );
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
        let (first, _) = publish(&start, &mut catalog, day(20));
        assert_eq!(
            first
                .get("/categories/alpha/rss.xml")
                .unwrap()
                .last_modified,
            day(7)
        );
        // Posts newer than the floor keep their own dates.
        catalog.apply("b.md", Update::Parsed(post("b", "Beta", "Bob", 9, "two")));
        let (second, _) = publish(
            &Snapshot::starting_after(Some(day(7))),
            &mut catalog,
            day(20),
        );
        assert_eq!(
            second
                .get("/categories/beta/rss.xml")
                .unwrap()
                .last_modified,
            day(9)
        );
    }

    /// Found by tests/churn.rs: two publishes within one second gave the health report
    /// one Last-Modified, so a monitor's If-Modified-Since got 304 over its stale copy.
    #[test]
    fn a_health_report_changed_within_the_second_still_moves_last_modified_forward() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 1, "one")));
        let noon = day(20);
        let (first, _) = publish(&Snapshot::default(), &mut catalog, noon);
        catalog.apply("b.md", Update::Parsed(post("b", "Beta", "Bob", 2, "two")));
        let (second, _) = publish(
            &first,
            &mut catalog,
            noon + chrono::Duration::milliseconds(300),
        );
        let (before, after) = (
            first.get("/healthz").unwrap(),
            second.get("/healthz").unwrap(),
        );
        assert_ne!(before.etag, after.etag);
        assert_eq!(before.last_modified, day(20));
        assert_eq!(after.last_modified, day(20) + chrono::Duration::seconds(1));
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
        let (snapshot, _) = publish(&Snapshot::default(), &mut catalog, day(20));
        let health: serde_json::Value =
            serde_json::from_slice(&snapshot.get("/healthz").unwrap().body).unwrap();
        assert_eq!(health["status"], "degraded");
        assert_eq!(health["posts"], 0);
        assert_eq!(health["errors"][0]["path"], "bad.md");
        assert_eq!(health["errors"][0]["line"], 3);
        assert_eq!(health["errors"][0]["reason"], "bad date");
        assert_eq!(health["last_publish"], "2024-05-20T12:00:00.000Z");
        assert_eq!(health["posts_folder"], "ok");
    }

    #[test]
    fn health_says_why_the_posts_folder_is_degraded() {
        let mut catalog = Catalog::new();
        let health = |catalog: &mut Catalog| -> serde_json::Value {
            let (snapshot, _) = publish(&Snapshot::default(), catalog, day(20));
            serde_json::from_slice(&snapshot.get("/healthz").unwrap().body).unwrap()
        };
        catalog.judge_folder(false, 0);
        let missing = health(&mut catalog);
        assert_eq!(missing["status"], "degraded");
        assert_eq!(
            missing["posts_folder"],
            "the posts folder posts is missing; create it, or point `posts.dir` at it"
        );
        assert_eq!(missing["errors"], serde_json::json!([]));
        catalog.judge_folder(true, 2);
        let emptied = health(&mut catalog);
        assert_eq!(emptied["status"], "degraded");
        assert_eq!(
            emptied["posts_folder"],
            "every post disappeared at once (2 → 0); restore them, or add a post to clear this"
        );
        catalog.apply("a.md", Update::Parsed(post("a", "Alpha", "Ann", 1, "one")));
        catalog.judge_folder(true, 0);
        let back = health(&mut catalog);
        assert_eq!(back["status"], "ok");
        assert_eq!(back["posts_folder"], "ok");
        assert_eq!(back["posts"], 1);
    }

    /// Regression (review of the archives): an archive that a new post closes gains its
    /// `next-archive` link; dated by its own posts alone, its Last-Modified went back
    /// from the newest archive's (the list's date) and If-Modified-Since answered 304
    /// over the copy without the link.
    #[test]
    fn closing_an_archive_moves_its_last_modified_forward_and_lengthens_its_max_age() {
        let config = Config::parse(
            "[site]\nbase_url = \"https://example.com\"\n[feeds]\nitems = 2\n",
            Path::new("config.toml"),
        )
        .unwrap();
        let bodies: Arc<dyn Bodies> = Arc::new(InPost);
        let mut catalog = Catalog::new();
        let publish = |prev: &Snapshot, catalog: &mut Catalog, now| {
            catalog.advance(now);
            let touched = catalog.take_touched();
            let remembered = Remembered::default();
            prev.next(catalog, &touched, &remembered, &bodies, &config, now)
                .0
        };
        for d in 1..=4 {
            let p = post(&format!("p{d}"), "Alpha", "Ann", d, "x");
            catalog.apply(&format!("p{d}.md"), Update::Parsed(p));
        }
        // Four posts, two a page: archive 1 holds p1 and p2, full but the newest.
        let first = publish(&Snapshot::default(), &mut catalog, day(20));
        // The plain route answers 301 to the archive's named one.
        let named = |snapshot: &Snapshot, route: &str| {
            let to = snapshot.archive_redirect(route).unwrap();
            assert!(!snapshot.has(route), "{route}");
            assert_eq!(snapshot.archive_redirect(&to), None, "{to}");
            to
        };
        let open_route = named(&first, "/archive/1.atom");
        let open = first.get(&open_route).unwrap();
        assert_eq!(open.cache_control, "public, max-age=300");
        assert_eq!(open.last_modified, day(4));
        assert!(!body(&open).contains("next-archive"));
        assert!(first.archive_redirect("/archive/2.atom").is_none());

        let p5 = post("p5", "Alpha", "Ann", 5, "x");
        catalog.apply("p5.md", Update::Parsed(p5));
        let second = publish(&first, &mut catalog, day(21));
        // Archive 1 holds the same posts: the same name.
        assert_eq!(named(&second, "/archive/1.atom"), open_route);
        let closed = second.get(&open_route).unwrap();
        assert_eq!(closed.cache_control, "public, max-age=86400");
        assert!(body(&closed)
            .contains(r#"<link href="https://example.com/archive/2.atom" rel="next-archive""#));
        assert_eq!(closed.last_modified, day(5));
        let newest = second.get(&named(&second, "/archive/2.atom")).unwrap();
        assert!(body(&newest).contains("<id>tag:example.com,2024-05-03:p3</id>"));
        // The post's page, and archive 2 of the site, Alpha and Ann in 3 formats.
        assert_eq!(second.route_count() - first.route_count(), 1 + 3 * 3);

        // Closed: a new post changes nothing of it.
        let p6 = post("p6", "Alpha", "Ann", 6, "x");
        catalog.apply("p6.md", Update::Parsed(p6));
        let third = publish(&second, &mut catalog, day(22));
        assert_eq!(named(&third, "/archive/1.atom"), open_route);
        let still = third.get(&open_route).unwrap();
        assert_eq!(still.etag, closed.etag);
        assert_eq!(still.last_modified, closed.last_modified);
    }
}
