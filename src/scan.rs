//! Finding post files under the posts folder and turning one into a catalog update.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, Update};
use crate::config::Config;
use crate::post::{self, Post};
use crate::snapshot::{Bodies, Body, MediaFile};
use crate::state::State;
use lru::LruCache;

/// The post files under a folder, and what under it cannot be published from there.
#[derive(Debug, Default)]
pub struct Listing {
    /// `/`-separated paths relative to the posts folder, sorted.
    pub files: Vec<String>,
    /// One per folder that could not be read, per link that leads out of the posts
    /// folder and per post file or folder whose name is not UTF-8, its path relative to
    /// the posts folder: the posts there are missing from `files`, and the writer should
    /// hear why.
    pub problems: Vec<post::Problem>,
}

/// Every post file under the posts folder `dir`. See [`list_under`].
pub fn list(dir: &Path) -> Listing {
    list_under(dir, "").unwrap_or_default()
}

/// Every post file under `rel`, a folder of the posts folder `dir` (`""`: all of it).
/// Hidden folders are not entered; a missing folder has no posts, and neither has one
/// that vanishes while it is listed. Symlinks are listed, not followed into folders, so
/// nothing outside the posts folder is ever walked: a link to a file is read (and
/// refused there if it leads out, see [`read`]), a link to a folder is not entered (one
/// that leads out is reported), and a `rel` that is or lies behind a link is not listed.
/// `None` when `rel` cannot be looked up: a name that is not UTF-8 arrives from the
/// watcher made lossy, and what the last whole listing found there stands.
pub fn list_under(dir: &Path, rel: &str) -> Option<Listing> {
    let mut listing = Listing::default();
    if rel.contains(char::REPLACEMENT_CHARACTER) {
        return None;
    }
    let root = std::fs::canonicalize(dir).ok();
    let start = dir.join(rel);
    if !rel.is_empty() {
        match std::fs::symlink_metadata(&start) {
            Ok(meta) if meta.file_type().is_symlink() => {
                listing
                    .problems
                    .extend(link_out(dir, root.as_deref(), &start));
                return Some(listing);
            }
            Ok(meta) if meta.is_dir() => {}
            // Gone, or a file: nothing to list. Any other failure hides what is there.
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                listing.problems.push(cannot_list(rel, &err));
                return Some(listing);
            }
            _ => return Some(listing),
        }
        // A folder reached through a link higher up (the watcher may follow one).
        let inside = std::fs::canonicalize(&start)
            .ok()
            .zip(root.as_deref())
            .is_some_and(|(start, root)| start.starts_with(root));
        if !inside {
            return Some(listing);
        }
    }
    let mut entries = walk(&start);
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                listing.problems.extend(unreadable(dir, &err));
                continue;
            }
        };
        let rel = relative(dir, entry.path());
        let is_dir = entry.file_type().is_dir();
        if entry.file_name().to_str().is_none() {
            if is_dir {
                entries.skip_current_dir();
            }
            listing.problems.extend(not_utf8(rel, is_dir));
        } else if entry.file_type().is_symlink() && !post::is_post_path(rel) {
            listing
                .problems
                .extend(link_out(dir, root.as_deref(), entry.path()));
        } else if !is_dir && post::is_post_path(rel) {
            listing.files.push(to_slash(rel));
        }
    }
    listing.files.sort();
    Some(listing)
}

/// The problem to report for a walk error, if any: a folder that is gone is no problem
/// (its posts went with it), any other failure to read one is.
fn unreadable(dir: &Path, err: &walkdir::Error) -> Option<post::Problem> {
    let io = err.io_error()?;
    if io.kind() == std::io::ErrorKind::NotFound {
        return None;
    }
    let path = err.path().map(|p| to_slash(relative(dir, p)));
    Some(cannot_list(&path.unwrap_or_default(), io))
}

/// The problem of the folder `rel` that cannot be read.
fn cannot_list(rel: &str, io: &std::io::Error) -> post::Problem {
    post::Problem {
        path: rel.to_string(),
        line: 1,
        message: format!(
            "cannot read this folder, so its posts are left out: {io}; check its permissions"
        ),
    }
}

/// The problem to report for an entry whose name is not UTF-8, if it is a folder or
/// would be a post file: feeds and URLs are UTF-8, so its posts cannot be published.
fn not_utf8(rel: &Path, is_dir: bool) -> Option<post::Problem> {
    let message = if is_dir {
        "folder name is not UTF-8, so its posts are left out; rename it to UTF-8"
    } else if post::is_post_path(Path::new(&*rel.to_string_lossy())) {
        "file name is not UTF-8, so it is not published; rename it to UTF-8"
    } else {
        return None;
    };
    Some(post::Problem {
        path: to_slash(rel),
        line: 1,
        message: message.into(),
    })
}

/// Why nothing is published from outside the posts folder, with where a link leads.
const LINK_OUT: &str = "links outside the posts folder are not published; copy the file in instead";

/// The problem to report for the symlink at `link`, if it leads to a folder outside the
/// posts folder `dir` (canonical: `root`). A link to a file is no problem here: it is
/// listed, and read or refused by [`read`].
fn link_out(dir: &Path, root: Option<&Path>, link: &Path) -> Option<post::Problem> {
    let target = std::fs::canonicalize(link).ok()?;
    if !target.is_dir() || root.is_some_and(|root| target.starts_with(root)) {
        return None;
    }
    Some(post::Problem {
        path: to_slash(relative(dir, link)),
        line: 1,
        message: format!("links to {}: {LINK_OUT}", target.display()),
    })
}

/// Reads and parses every post file under the posts folder, each placed by the ledger
/// of `state` as seen at `now`, keeping bodies up to `keep_bytes` (see
/// [`Reader::load_all`]). A file refused for its budget, or not read at all because too
/// many slow ones still run, is a failed file here. What the listing found wrong is noted
/// in the catalog with the files that failed.
pub fn load_catalog(
    config: &Config,
    state: &mut State,
    now: DateTime<Utc>,
    keep_bytes: usize,
) -> Catalog {
    let listing = list(&config.posts_dir);
    let mut catalog = Catalog::new();
    catalog.advance(now);
    catalog.note_listing("", listing.problems);
    let loaded = Reader::new(Arc::new(config.clone())).load_all(listing.files, keep_bytes);
    let mut updates = loaded.updates;
    updates.extend(
        loaded
            .not_read
            .into_iter()
            .map(|rel| (rel.clone(), Update::Failed(not_read(rel)))),
    );
    for (rel, update) in state.settle(updates, true, &config.site, now) {
        catalog.apply(&rel, update);
    }
    catalog
}

/// The problem of a file left unread because [`MAX_OVERRUNNING`] slow reads still run.
pub fn not_read(rel: String) -> post::Problem {
    post::Problem {
        path: rel,
        line: 1,
        message: format!(
            "not read: {MAX_OVERRUNNING} other files are still being read past posts.parse_budget_ms; it is read at the next change or rescan"
        ),
    }
}

/// Reads that ran past their budget and still run, at most, before reading stops. A
/// thread cannot be stopped from outside: one whose file is refused is left to end with
/// its parse, and a flood of slow files must not make threads without end. A reader
/// whose file is refused is replaced only while fewer than this many overrun, and a
/// load starts no reader while this many do: the files left wait for the next change
/// or rescan. So at most `MAX_OVERRUNNING` + 2 × cores parse threads are ever alive
/// (a load's readers, one per core, may all overrun together), and reading goes on as
/// soon as the overrunning parses end.
pub const MAX_OVERRUNNING: usize = 2;

/// How a [`Reader`] parses a file it has read.
type ParseFn = Arc<dyn Fn(&post::Source, &Config) -> Result<Post, post::Problem> + Send + Sync>;

/// Reads and parses post files on threads of its own, one per core, each file within
/// `posts.parse_budget_ms`: a file still being read when its budget is spent is refused
/// with that reason, and the others are read on, so one slow file never holds a
/// publish. Clones share the count of reads running past their budget.
#[derive(Clone)]
pub struct Reader {
    config: Arc<Config>,
    parse: ParseFn,
    /// Reader threads abandoned past their budget that have not ended yet.
    overrunning: Arc<AtomicUsize>,
    /// Where the bodies of the posts read go, when not kept in them.
    bodies: Option<Arc<FileBodies>>,
}

/// What reading a list of files gave.
#[derive(Debug, Default)]
pub struct Loaded {
    /// In the order given: what each file read gave (a refused one a failure).
    pub updates: Vec<(String, Update)>,
    /// The files refused for their budget, with the modification time and size they had
    /// when read: not worth reading again until either changes.
    pub refused: Vec<(String, DateTime<Utc>, u64)>,
    /// The files not read at all, because [`MAX_OVERRUNNING`] reads still run past their
    /// budget.
    pub not_read: Vec<String>,
}

/// One load's files, shared with its reader threads.
struct Shared {
    paths: Vec<String>,
    /// The index of the next file to read.
    next: AtomicUsize,
    config: Arc<Config>,
    parse: ParseFn,
}

/// What one reader thread is doing, as the load waiting on it sees it.
#[derive(Default)]
struct Slot {
    /// The file it reads (its index) and since when.
    running: Option<(usize, Instant)>,
    /// The modification time and size of that file, once read.
    read: Option<(DateTime<Utc>, u64)>,
    /// Its file was refused: the thread drops what it gives and ends.
    abandoned: bool,
}

fn lock(slot: &Mutex<Slot>) -> std::sync::MutexGuard<'_, Slot> {
    // Nothing panics while a slot is held; a poisoned one is still consistent.
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Reader {
    pub fn new(config: Arc<Config>) -> Reader {
        Reader::with_parse(config, parse)
    }

    /// A reader that parses with `parse` instead of [`post::parse`]: for tests of the
    /// budget, with a parse that is slow on purpose.
    #[doc(hidden)]
    pub fn with_parse(
        config: Arc<Config>,
        parse: impl Fn(&post::Source, &Config) -> Result<Post, post::Problem> + Send + Sync + 'static,
    ) -> Reader {
        Reader {
            config,
            parse: Arc::new(parse),
            overrunning: Arc::new(AtomicUsize::new(0)),
            bodies: None,
        }
    }

    /// The same reader, handing the bodies it does not keep in the posts to `bodies`.
    pub fn keeping_bodies_in(self, bodies: Arc<FileBodies>) -> Reader {
        Reader {
            bodies: Some(bodies),
            ..self
        }
    }

    /// How many reads run past their budget now.
    pub fn overrunning(&self) -> usize {
        self.overrunning.load(Ordering::SeqCst)
    }

    /// Reads and parses each of `paths`, on every core. Bodies are kept in the posts up
    /// to `keep_bytes` in all, and left in their files beyond (see [`load`]): `build`
    /// keeps what fits so it need not read a post twice, `serve` keeps none, so its
    /// memory does not grow with the archive.
    pub fn load_all(&self, paths: Vec<String>, keep_bytes: usize) -> Loaded {
        let count = paths.len();
        let budget = self.config.parse_budget;
        let shared = Arc::new(Shared {
            paths,
            next: AtomicUsize::new(0),
            config: Arc::clone(&self.config),
            parse: Arc::clone(&self.parse),
        });
        let (done, results) = mpsc::channel::<(usize, Update)>();
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let starting = if self.overrunning() < MAX_OVERRUNNING {
            cores.min(count)
        } else {
            0
        };
        let mut readers: Vec<Arc<Mutex<Slot>>> = (0..starting)
            .filter_map(|_| self.spawn(&shared, &done))
            .collect();
        let mut got: Vec<Option<Update>> = (0..count).map(|_| None).collect();
        let mut refused = Vec::new();
        let mut waiting = count;
        let mut kept = 0;
        while waiting > 0 && !readers.is_empty() {
            let deadline = readers
                .iter()
                .filter_map(|slot| lock(slot).running.map(|(_, started)| started + budget))
                .min();
            let wait = deadline.map_or(budget, |d| d.saturating_duration_since(Instant::now()));
            match results.recv_timeout(wait) {
                Ok((at, mut update)) => {
                    if let Update::Parsed(post) = &mut update {
                        kept += post.content_html.len() + post.summary.len();
                        if kept > keep_bytes {
                            match &self.bodies {
                                Some(bodies) => bodies.keep(post),
                                None => leave_body(post),
                            }
                        }
                    }
                    if let Some(slot) = got.get_mut(at) {
                        *slot = Some(update);
                    }
                    waiting -= 1;
                }
                Err(_) => {
                    let now = Instant::now();
                    let mut replace = 0;
                    readers.retain(|slot| {
                        let mut slot = lock(slot);
                        let Some((at, started)) = slot.running else {
                            return true;
                        };
                        if now.duration_since(started) < budget {
                            return true;
                        }
                        slot.abandoned = true;
                        // Decided here, one refusal at a time, so how many readers a
                        // load ends with does not depend on which time out together.
                        if self.overrunning.fetch_add(1, Ordering::SeqCst) + 1 < MAX_OVERRUNNING {
                            replace += 1;
                        }
                        let rel = shared.paths.get(at).cloned().unwrap_or_default();
                        if let Some((modified, size)) = slot.read {
                            refused.push((rel.clone(), modified, size));
                        }
                        if let Some(result) = got.get_mut(at) {
                            *result = Some(Update::Failed(over_budget(rel, budget)));
                        }
                        waiting -= 1;
                        false
                    });
                    for _ in 0..replace {
                        readers.extend(self.spawn(&shared, &done));
                    }
                }
            }
        }
        let mut loaded = Loaded {
            refused,
            ..Loaded::default()
        };
        for (rel, update) in shared.paths.iter().zip(got) {
            match update {
                Some(update) => loaded.updates.push((rel.clone(), update)),
                None => loaded.not_read.push(rel.clone()),
            }
        }
        loaded
    }

    /// A new reader thread taking files from `shared`, unless the system has no thread
    /// to give.
    fn spawn(
        &self,
        shared: &Arc<Shared>,
        done: &mpsc::Sender<(usize, Update)>,
    ) -> Option<Arc<Mutex<Slot>>> {
        let slot = Arc::new(Mutex::new(Slot::default()));
        let (shared, done, overrunning) = (
            Arc::clone(shared),
            done.clone(),
            Arc::clone(&self.overrunning),
        );
        let mine = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("read-posts".into())
            .spawn(move || read_files(&shared, &mine, &done, &overrunning));
        match spawned {
            Ok(_) => Some(slot),
            Err(err) => {
                tracing::warn!("cannot start a thread to read posts: {err}");
                None
            }
        }
    }
}

/// A reader thread: reads files from `shared` until there are none left, or until the
/// file it reads is refused for its budget.
fn read_files(
    shared: &Shared,
    slot: &Mutex<Slot>,
    done: &mpsc::Sender<(usize, Update)>,
    overrunning: &AtomicUsize,
) {
    loop {
        let at = shared.next.fetch_add(1, Ordering::SeqCst);
        let Some(rel) = shared.paths.get(at) else {
            return;
        };
        *lock(slot) = Slot {
            running: Some((at, Instant::now())),
            ..Slot::default()
        };
        let update = load_with(&shared.config, rel, &*shared.parse, |source| {
            lock(slot).read = Some((source.modified, source.bytes.len() as u64));
        });
        let mut slot = lock(slot);
        if slot.abandoned {
            overrunning.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        slot.running = None;
        if done.send((at, update)).is_err() {
            return;
        }
    }
}

/// The problem of a file refused for taking longer than `budget` to read.
fn over_budget(rel: String, budget: Duration) -> post::Problem {
    let ms = budget.as_millis();
    let took = if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    };
    post::Problem {
        path: rel,
        line: 1,
        message: format!(
            "took more than {took} to read; refused: split it or simplify it, or raise posts.parse_budget_ms"
        ),
    }
}

/// How many bytes of post bodies `build` keeps in memory rather than reading a post
/// twice: a 10,000-post site whole, half of a 100,000-post one.
pub const BUILD_KEEPS_BYTES: usize = 256 << 20;

/// The newest modification time of `dir` and the folders under it (hidden ones left
/// out): when a file in them was last created, renamed or deleted.
pub fn newest_folder_change(dir: &Path) -> Option<DateTime<Utc>> {
    let mut newest = std::fs::metadata(dir).and_then(|m| m.modified()).ok()?;
    for entry in walk(dir).flatten() {
        if !entry.file_type().is_dir() {
            continue;
        }
        if let Some(modified) = entry.metadata().ok().and_then(|m| m.modified().ok()) {
            newest = newest.max(modified);
        }
    }
    Some(DateTime::<Utc>::from(newest))
}

/// When the change to the `/`-separated `paths` under `dir` happened, as the file system
/// dates it: the newest modification time of each path that still exists and of the
/// nearest folder above each that does (a deletion or a rename shows only there).
/// `None` when none could be read. A time from the files, not from the clock, so
/// replicas watching one folder (or copies that keep modification times) date one
/// change alike.
pub fn change_time<'a>(
    dir: &Path,
    paths: impl IntoIterator<Item = &'a str>,
) -> Option<DateTime<Utc>> {
    let modified = |path: &Path| {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .ok()
    };
    let mut newest = None;
    for rel in paths {
        let full = dir.join(rel);
        let folder = full
            .ancestors()
            .skip(1)
            .take_while(|folder| folder.starts_with(dir))
            .find_map(modified);
        newest = newest.max(modified(&full)).max(folder);
    }
    newest.map(DateTime::<Utc>::from)
}

/// Every entry under `dir` that is not hidden, entering folders but not symlinks to them
/// (`dir` itself is followed if it is one). The one place the walking rules live.
fn walk(dir: &Path) -> walkdir::FilterEntry<walkdir::IntoIter, fn(&walkdir::DirEntry) -> bool> {
    fn shown(entry: &walkdir::DirEntry) -> bool {
        entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.')
    }
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .filter_entry(shown as fn(&walkdir::DirEntry) -> bool)
}

/// `path` relative to `dir`, which the walk started from.
fn relative<'a>(dir: &Path, path: &'a Path) -> &'a Path {
    path.strip_prefix(dir).unwrap_or(path)
}

/// `a/b.md` whatever the platform's separator.
pub fn to_slash(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The full path of a `/`-separated post path.
pub fn full_path(config: &Config, rel: &str) -> PathBuf {
    config.posts_dir.join(rel)
}

/// Reads and parses the post file at `rel`: what the catalog should make of it now.
pub fn load(config: &Config, rel: &str) -> Update {
    let mut update = load_whole(config, rel);
    if let Update::Parsed(post) = &mut update {
        leave_body(post);
    }
    update
}

/// The body stays in the file: the catalog holds what every feed and page needs to place
/// the post, and [`FileBodies`] reads the body again for the few posts a feed shows or a
/// reader opens. The summary (at most 300 characters) stays in memory: every list page
/// shows it, and would otherwise read 20 files again.
fn leave_body(post: &mut Post) {
    post.content_html = String::new();
    post.content_elsewhere = true;
}

/// Reads and parses one post file, body and all.
fn load_whole(config: &Config, rel: &str) -> Update {
    load_with(config, rel, &parse, |_| {})
}

/// Reads one post file, tells `on_read` what was read, and parses it with `parse`.
fn load_with(
    config: &Config,
    rel: &str,
    parse: &dyn Fn(&post::Source, &Config) -> Result<Post, post::Problem>,
    on_read: impl FnOnce(&post::Source),
) -> Update {
    let path = full_path(config, rel);
    if std::fs::symlink_metadata(&path).is_err() {
        return Update::Removed;
    }
    let parsed = read(&path, rel, config.max_bytes).and_then(|source| {
        on_read(&source);
        parse(&source, config)
    });
    match parsed {
        Ok(mut post) => {
            measure_attachments(config, &mut post);
            Update::Parsed(post)
        }
        Err(problem) => Update::Failed(problem),
    }
}

/// How many post bodies [`FileBodies`] keeps: every body the feeds show (their newest
/// `feeds.items` posts) with room to spare, not one per post.
const BODY_CACHE: usize = 4096;

/// Post bodies read again from their files when a feed or a page needs one, with the
/// most recently used kept.
#[derive(Debug)]
pub struct FileBodies {
    config: Arc<Config>,
    /// By path.
    cache: Mutex<LruCache<String, Cached>>,
}

/// A body in the cache, with what tells whether it is still the post's.
#[derive(Debug)]
struct Cached {
    /// The fingerprint of the file the body was read from.
    fingerprint: String,
    /// The page its links were made absolute against.
    url: String,
    body: Arc<Body>,
}

impl FileBodies {
    pub fn new(config: Arc<Config>) -> FileBodies {
        let size = NonZeroUsize::new(BODY_CACHE).unwrap_or(NonZeroUsize::MIN);
        FileBodies {
            config,
            cache: Mutex::new(LruCache::new(size)),
        }
    }

    fn cached(&self, post: &Post) -> Option<Arc<Body>> {
        let mut cache = self.cache.lock().ok()?;
        let Cached {
            fingerprint,
            url,
            body,
        } = cache.get(&post.path)?;
        if fingerprint != &post.claims.fingerprint {
            return None;
        }
        if url == &post.url {
            return Some(Arc::clone(body));
        }
        Some(Arc::new(Body {
            content_html: post::rebase_links(&body.content_html, url, &post.url),
            summary: body.summary.clone(),
        }))
    }

    /// Takes the body of a post just parsed into the cache: the publish that parsed it
    /// renders its feeds next, and need not parse the file a second time for it.
    fn keep(&self, post: &mut Post) {
        let body = Arc::new(Body {
            content_html: std::mem::take(&mut post.content_html),
            summary: post.summary.clone(),
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(
                post.path.clone(),
                Cached {
                    fingerprint: post.claims.fingerprint.clone(),
                    url: post.url.clone(),
                    body,
                },
            );
        }
        leave_body(post);
    }

    /// Reads and parses the file again; the links it made absolute against the page
    /// the rules give follow the post to the page the ledger gave it.
    fn read_body(&self, post: &Post) -> Option<Arc<Body>> {
        let path = full_path(&self.config, &post.path);
        let source = read(&path, &post.path, self.config.max_bytes).ok()?;
        let parsed = parse(&source, &self.config).ok()?;
        let body = Arc::new(Body {
            content_html: post::rebase_links(&parsed.content_html, &parsed.url, &post.url),
            summary: parsed.summary,
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(
                post.path.clone(),
                Cached {
                    fingerprint: post.claims.fingerprint.clone(),
                    url: post.url.clone(),
                    body: Arc::clone(&body),
                },
            );
        }
        Some(body)
    }
}

impl Bodies for FileBodies {
    fn body(&self, post: &Post) -> Option<Arc<Body>> {
        self.cached(post).or_else(|| self.read_body(post))
    }

    fn media(&self, folder: &str, name: &str) -> Option<MediaFile> {
        open_media(&self.config, folder, name)
    }

    fn prefetch(&self, posts: &[Arc<Post>]) {
        use rayon::prelude::*;
        let missing: Vec<&Arc<Post>> = posts.iter().filter(|p| self.cached(p).is_none()).collect();
        missing.par_iter().for_each(|post| {
            let _ = self.read_body(post);
        });
    }
}

/// Parses one post. A panic in the parser is a bug, but it must cost only this file:
/// it becomes the file's problem, and every other post is still published.
fn parse(source: &post::Source, config: &Config) -> Result<post::Post, post::Problem> {
    std::panic::catch_unwind(|| post::parse(source, &config.site)).unwrap_or_else(|_| {
        Err(post::Problem {
            path: source.path.clone(),
            line: 1,
            message: "dropfeed failed on this file (a bug: please report it with the file)".into(),
        })
    })
}

/// Reads one post file, refusing anything over `max_bytes` before reading it whole, and
/// anything outside the posts folder. `path` is the full path, the posts folder joined
/// with `rel`, the `/`-separated path under it.
///
/// A symlink (or a folder link on the way) is followed only where it stays inside the
/// posts folder: `ln -s /etc/passwd posts/leak.txt` must publish nothing. What is
/// checked is where the file actually opened is, so a link swapped in after any check
/// of the path cannot lead the read out; only regular files are opened, so no device
/// is opened at all.
pub fn read(path: &Path, rel: &str, max_bytes: u64) -> Result<post::Source, post::Problem> {
    use std::io::Read;
    let problem = |message: String| post::Problem {
        path: rel.to_string(),
        line: 1,
        message,
    };
    let cannot = |err: std::io::Error| problem(format!("cannot read the file: {err}"));
    let (file, meta) = open_inside(path, rel)?;
    let too_big = |len: u64| {
        problem(format!(
            "file is {len} bytes, over posts.max_bytes ({max_bytes}); split it or raise posts.max_bytes"
        ))
    };
    if meta.len() > max_bytes {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // One byte past the limit tells a file that grew since the stat.
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_big(bytes.len() as u64));
    }
    let modified = meta
        .modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Ok(post::Source {
        path: rel.to_string(),
        bytes,
        modified,
    })
}

/// Opens the file at `path` (the posts folder joined with `rel`) for reading, refusing
/// anything but a regular file inside the posts folder: the checks [`read`] explains,
/// shared with the media files served beside the posts.
fn open_inside(
    path: &Path,
    rel: &str,
) -> Result<(std::fs::File, std::fs::Metadata), post::Problem> {
    let problem = |message: String| post::Problem {
        path: rel.to_string(),
        line: 1,
        message,
    };
    let cannot = |err: std::io::Error| problem(format!("cannot read the file: {err}"));
    let root = posts_folder(path, rel)
        .ok_or_else(|| problem("cannot read the file: the posts folder is gone".into()))?;
    let outside = |target: &Path| problem(format!("links to {}: {LINK_OUT}", target.display()));
    let not_regular = || {
        problem(
            "not a regular file; post files must be plain files ending in .txt, .md or .markdown"
                .into(),
        )
    };
    let meta = std::fs::metadata(path).map_err(|err| {
        let link = std::fs::symlink_metadata(path).map(|m| m.file_type().is_symlink());
        if matches!(link, Ok(true)) && err.kind() == std::io::ErrorKind::NotFound {
            problem("dangling symlink: its target does not exist; fix or delete the link".into())
        } else {
            cannot(err)
        }
    })?;
    if !meta.is_file() {
        // A link out is refused as one, whatever it leads to.
        return Err(match std::fs::canonicalize(path) {
            Ok(target) if !target.starts_with(&root) => outside(&target),
            _ => not_regular(),
        });
    }
    let file = open_nonblocking(path).map_err(cannot)?;
    let opened = opened_path(&file)
        .or_else(|| std::fs::canonicalize(path).ok())
        .ok_or_else(|| problem("cannot read the file: it moved while it was opened".into()))?;
    if !opened.starts_with(&root) {
        return Err(outside(&opened));
    }
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    Ok((file, meta))
}

/// The media file `name` under the folder `folder` of the posts folder (the folder of a
/// post file), opened to be served: `None` unless it is a media file
/// ([`post::is_media_path`]), a regular file inside the posts folder ([`open_inside`]),
/// and the post's own ([`in_another_bundle`]).
fn open_media(config: &Config, folder: &str, name: &str) -> Option<MediaFile> {
    let rel = if folder.is_empty() {
        name.to_string()
    } else {
        format!("{folder}/{name}")
    };
    if !post::is_media_path(&rel) || in_another_bundle(config, folder, name) {
        return None;
    }
    let content_type = post::media_type(name)?;
    let (file, meta) = open_inside(&full_path(config, &rel), &rel).ok()?;
    let modified = meta.modified().ok().map(DateTime::<Utc>::from)?;
    let nanos = modified
        .timestamp_nanos_opt()
        .unwrap_or(modified.timestamp());
    Some(MediaFile {
        content_type,
        len: meta.len(),
        etag: crate::snapshot::etag(format!("{rel}\n{}\n{nanos}", meta.len()).as_bytes()),
        last_modified: changed_at(&meta, modified, Utc::now()),
        cache_control: String::new(),
        content: Box::new(file),
    })
}

/// When a media file last changed, in whole seconds, as its `Last-Modified`: its
/// modification time, unless that is ahead of `now` (a file copied from a machine whose
/// clock runs ahead, or `touch -d` of a future date). Then its status change time, which
/// the kernel sets from its own clock at each write or `touch`: sent as it is, the
/// modification time would be capped to each request's `now`, a date that moves on every
/// second, and a reader polling with `If-Modified-Since` would never get a 304.
fn changed_at(
    meta: &std::fs::Metadata,
    modified: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let seconds = |t: DateTime<Utc>| DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t);
    if modified <= now {
        return seconds(modified);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Some(changed) = DateTime::from_timestamp(meta.ctime(), 0) {
            return seconds(changed.min(now));
        }
    }
    let _ = meta;
    seconds(now)
}

/// True when a folder between the post's folder `folder` and the file `name` under it
/// (`img/a.jpg`: `{folder}/img`) holds a post file, draft, scheduled or failed alike:
/// the file belongs to that folder's post, not to this one. A post in the posts folder
/// itself would otherwise reach every file under it, a draft bundle's too
/// (`/posts/root-post/embargo/ep.mp3`). A folder that cannot be listed is taken to hold
/// one: what cannot be checked is not served.
fn in_another_bundle(config: &Config, folder: &str, name: &str) -> bool {
    let mut dir = full_path(config, folder);
    let Some((between, _)) = name.rsplit_once('/') else {
        return false;
    };
    between.split('/').any(|part| {
        dir.push(part);
        holds_post_file(&dir)
    })
}

/// True when the folder `dir` holds a post file ([`post::is_post_path`]) directly, or
/// cannot be listed. Stops at the first one found.
fn holds_post_file(dir: &Path) -> bool {
    let Ok(mut entries) = std::fs::read_dir(dir) else {
        return true;
    };
    entries.any(|entry| {
        let Ok(entry) = entry else {
            return true;
        };
        // Listed as `list_under` lists: a link named like a post is one, a folder not.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        !is_dir && post::is_post_path(Path::new(&*entry.file_name().to_string_lossy()))
    })
}

/// Fills in the size of each attachment of `post` that is a file beside it; one that
/// is not there (or not a file inside the posts folder) is left out with a warning, so
/// no feed carries an enclosure that answers 404.
fn measure_attachments(config: &Config, post: &mut Post) {
    let folder = post
        .path
        .rsplit_once('/')
        .map_or("", |(folder, _)| folder)
        .to_string();
    for (key, attachment) in [
        ("image", &mut post.image),
        ("enclosure", &mut post.enclosure),
    ] {
        let Some(post::Attachment {
            location: post::Location::Beside(name),
            ..
        }) = attachment.as_ref()
        else {
            continue;
        };
        match open_media(config, &folder, name) {
            Some(file) => {
                if let Some(attachment) = attachment.as_mut() {
                    attachment.length = file.len;
                }
            }
            None => {
                post.warnings.push(post::Problem {
                    path: post.path.clone(),
                    line: 1,
                    message: format!(
                        "key `{key}`: `{name}` is not a file beside the post; put it in the post's folder, or give a URL; the post is published without it"
                    ),
                });
                *attachment = None;
            }
        }
    }
}

/// The posts folder, resolved: `path` with the components of `rel` taken off its end.
fn posts_folder(path: &Path, rel: &str) -> Option<PathBuf> {
    let depth = Path::new(rel).components().count();
    std::fs::canonicalize(path.ancestors().nth(depth)?).ok()
}

/// Opens a file for reading without waiting on it: a named pipe swapped in after the
/// check would otherwise block the open until a writer came.
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Where the open file really is, as the kernel resolved it when it was opened; `None`
/// where that cannot be asked (the path is resolved again instead, a moment later).
fn opened_path(file: &std::fs::File) -> Option<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::PostBuilder;

    /// Sets the modification time of the file or folder at `path` to `seconds` after
    /// the epoch, and gives that time.
    fn dated(path: &Path, seconds: i64) -> DateTime<Utc> {
        let at = DateTime::from_timestamp(seconds, 0).unwrap();
        std::fs::File::open(path)
            .unwrap()
            .set_modified(at.into())
            .unwrap();
        at
    }

    /// Replicas date a change alike only if it is dated by the files: an edit by its
    /// file, a deletion by the nearest folder that is left.
    #[test]
    fn a_change_is_dated_by_its_file_or_the_nearest_folder_left() {
        let dir = tempfile::tempdir().unwrap();
        let posts = dir.path().join("posts");
        std::fs::create_dir_all(posts.join("a/b")).unwrap();
        std::fs::write(posts.join("a/b/c.md"), "x").unwrap();
        std::fs::write(posts.join("d.md"), "x").unwrap();
        let file = dated(&posts.join("a/b/c.md"), 1_700_000_300);
        let inner = dated(&posts.join("a/b"), 1_700_000_200);
        dated(&posts.join("d.md"), 1_700_000_100);
        let top = dated(&posts, 1_700_000_000);
        assert_eq!(change_time(&posts, ["a/b/c.md"]), Some(file));
        assert_eq!(change_time(&posts, ["a/b/gone.md"]), Some(inner));
        assert_eq!(change_time(&posts, ["gone.md"]), Some(top));
        assert_eq!(
            change_time(&posts, ["d.md", "gone.md"]),
            Some(top + chrono::Duration::seconds(100))
        );
        std::fs::remove_dir_all(posts.join("a/b")).unwrap();
        let outer = dated(&posts.join("a"), 1_700_000_400);
        assert_eq!(change_time(&posts, ["a/b/c.md"]), Some(outer));
        // Never a folder above the posts folder.
        std::fs::remove_dir_all(&posts).unwrap();
        assert_eq!(change_time(&posts, ["a/b/c.md"]), None);
        assert_eq!(change_time(&posts, []), None);
    }

    /// The publish that parsed a post renders its feeds next: the body it took from the
    /// parse is there without reading the file again (here, there is no file), and
    /// follows the post to the page the ledger gave it.
    #[test]
    fn a_body_kept_from_the_parse_is_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::parse("", &dir.path().join("config.toml")).unwrap();
        let bodies = FileBodies::new(Arc::new(config));
        let mut post = PostBuilder::new("night-bus")
            .summary("Buses at night.")
            .build();
        assert_eq!(post.url, "https://news.example.com/posts/night-bus/");
        post.content_html =
            r#"<a href="https://news.example.com/posts/night-bus/map.png">map</a>"#.into();
        bodies.keep(&mut post);
        assert!(post.content_elsewhere);
        assert_eq!(post.content_html, "");
        let body = bodies.body(&post).unwrap();
        assert_eq!(
            body.content_html,
            r#"<a href="https://news.example.com/posts/night-bus/map.png">map</a>"#
        );
        assert_eq!(body.summary, "Buses at night.");

        post.url = "https://news.example.com/posts/night-bus-2/".into();
        assert_eq!(
            bodies.body(&post).unwrap().content_html,
            r#"<a href="https://news.example.com/posts/night-bus-2/map.png">map</a>"#
        );
    }
}
