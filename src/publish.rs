//! `dropfeed serve`: the loop joining watch → catalog → snapshot → server.
//!
//! [`Daemon::start`] binds the listener, scans the posts folder and builds every route;
//! [`Daemon::run`] serves until its shutdown future completes. Between the two, the
//! publish loop waits for four things: a change set from the watcher, the time the next
//! future-dated post comes due, the periodic rescan, and a request to reload the config. Each publish re-reads only the
//! paths that changed, re-renders only the routes whose inputs changed (on a blocking
//! thread, so no request waits on it), and swaps the new snapshot in with one atomic store.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::catalog::{Applied, Catalog, Update};
use crate::check::Tally;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::post;
use crate::post::Problem;
use crate::scan;
use crate::server;
use crate::snapshot::{Bodies, PublishTime, Rerendered, Snapshot};
use crate::state::State;
use crate::systemd::{self, Notice};
use crate::watch::{self, ChangeSet, Watch, WatchError};
use crate::websub::WebSub;

/// Why `serve` could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "cannot listen on {listen}: {err}; choose another address with --listen or `server.listen`"
    )]
    Bind {
        listen: String,
        #[source]
        err: std::io::Error,
    },
    #[error("cannot listen on {listen}: {message}; use an IP address, or a host name this machine resolves (such as localhost)")]
    Resolve { listen: String, message: String },
    #[error("{path}: cannot resolve the posts folder (`posts.dir`): {err}")]
    PostsDir {
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error("a publish failed unexpectedly: {0}; this is a bug, please report it")]
    Publish(#[source] tokio::task::JoinError),
}

/// What one publish changed, counted from [`Applied`], for its log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub added: usize,
    pub modified: usize,
    pub removed: usize,
    pub errors: usize,
}

impl Counts {
    fn add(&mut self, applied: Applied) {
        match applied {
            Applied::Added => self.added += 1,
            Applied::Modified => self.modified += 1,
            Applied::Removed => self.removed += 1,
            Applied::Failed => self.errors += 1,
            Applied::Unchanged => {}
        }
    }

    fn is_empty(&self) -> bool {
        *self == Counts::default()
    }
}

/// Where the publisher reads the time. The system clock, except in tests that move time
/// on by hand: a post dated in the future comes due by the clock, and Last-Modified is
/// dated by it, so such a test needs no waiting.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(Utc::now))
    }

    /// A clock that reads the time from `now`.
    pub fn new(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The catalog and the snapshot it was last published as.
pub struct Publisher {
    config: Arc<Config>,
    catalog: Catalog,
    snapshots: Arc<ArcSwap<Snapshot>>,
    /// The identity ledger: every post's id, slug and page, kept across restarts.
    state: State,
    /// The bodies the catalog does not hold, read again from their files.
    bodies: Arc<dyn Bodies>,
    /// What "now" is for every publish: which posts are due, and the date of what changed.
    clock: Clock,
    /// Reads and parses the files a change names, each within `posts.parse_budget_ms`.
    reader: scan::Reader,
    /// Files refused for their budget, with the modification time and size they had:
    /// a rescan does not read one again (and pay its budget again) until either changes.
    refused: HashMap<String, (DateTime<Utc>, u64)>,
    /// The address `serve` bound: links follow it when `site.base_url` is not set, also
    /// after a reload.
    bound: Option<SocketAddr>,
    /// Told of each publish's changed feeds, when `[websub]` asks for a hub or pings.
    websub: Option<Arc<WebSub>>,
}

/// How long a stop waits for a publish in flight before leaving it unfinished.
pub const PUBLISH_GRACE: Duration = Duration::from_secs(1);

/// What [`Publisher::publish`] did.
#[derive(Debug, Clone)]
pub struct Published {
    pub counts: Counts,
    /// The files that failed, for the log line (their reasons are logged above it).
    pub failed: Vec<String>,
    pub routes: Rerendered,
    pub took: Duration,
}

impl Publisher {
    /// Reads every post and builds the first snapshot, at the time `clock` gives.
    pub fn new(config: Arc<Config>, clock: Clock) -> (Publisher, Published) {
        let reader = scan::Reader::new(Arc::clone(&config));
        Publisher::with_reader(config, clock, reader)
    }

    /// [`Publisher::new`], reading files with `reader`.
    pub fn with_reader(
        config: Arc<Config>,
        clock: Clock,
        reader: scan::Reader,
    ) -> (Publisher, Published) {
        let floor = scan::newest_folder_change(&config.posts_dir);
        let state = State::for_serve(&config);
        let file_bodies = Arc::new(scan::FileBodies::new(Arc::clone(&config)));
        let reader = reader.keeping_bodies_in(Arc::clone(&file_bodies));
        let bodies: Arc<dyn Bodies> = file_bodies;
        let mut publisher = Publisher {
            config,
            catalog: Catalog::new(),
            state,
            bodies,
            snapshots: Arc::new(ArcSwap::from_pointee(Snapshot::starting_after(floor))),
            clock,
            reader,
            refused: HashMap::new(),
            bound: None,
            websub: None,
        };
        let published = publisher.publish(&ChangeSet::everything(), true);
        (publisher, published.unwrap_or_else(Published::nothing))
    }

    /// Takes `config` for every publish from now on and publishes every route again from
    /// a fresh read of every post, as at start (a post's dates, author and links depend on
    /// `[site]`); the ledger is kept. Readers get the snapshot before until the new one is
    /// whole.
    pub fn reconfigure(&mut self, config: Arc<Config>) -> Published {
        // Every route is new to the rebuilt snapshot: dated a second after the newest
        // route served, none can go back before a copy a reader holds. Not the clock's
        // time: replicas reloaded a moment apart must still agree.
        let floor = self
            .snapshots
            .load()
            .newest_last_modified()
            .unwrap_or_else(|| self.clock.now())
            + chrono::Duration::seconds(1);
        let fresh = Arc::new(ArcSwap::from_pointee(Snapshot::starting_after(Some(floor))));
        let serving = std::mem::replace(&mut self.snapshots, fresh);
        self.bodies = Arc::new(scan::FileBodies::new(Arc::clone(&config)));
        self.reader = scan::Reader::new(Arc::clone(&config));
        self.refused.clear();
        self.config = config;
        self.catalog = Catalog::new();
        // Every feed is rendered again: WebSub compares them with what was served.
        let websub = self.websub.take();
        let published = self.publish(&ChangeSet::everything(), true);
        let before = serving.load_full();
        serving.store(self.snapshots.load_full());
        self.snapshots = serving;
        self.websub = websub;
        if let Some(websub) = &self.websub {
            let after = self.snapshots.load_full();
            let feeds = after
                .feed_names
                .iter()
                .map(|(key, _)| key.clone())
                .collect();
            websub.published(before, after, feeds, &self.config.site.base_url);
        }
        published.unwrap_or_else(Published::nothing)
    }

    /// The snapshots the server reads.
    pub fn snapshots(&self) -> Arc<ArcSwap<Snapshot>> {
        Arc::clone(&self.snapshots)
    }

    /// The posts read, split into published, drafts and scheduled.
    pub fn tally(&self) -> Tally {
        Tally::of(&self.catalog)
    }

    /// When the next future-dated post comes due.
    pub fn next_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.catalog.next_due().filter(|when| *when > now)
    }

    /// Re-reads the paths of `changes` and publishes the result at the clock's time.
    /// Without `force`, a change that changed no post publishes nothing and gives `None`.
    pub fn publish(&mut self, changes: &ChangeSet, force: bool) -> Option<Published> {
        let start = Instant::now();
        let now = self.clock.now();
        let mut counts = Counts::default();
        let mut failed = Vec::new();
        let posts_before = self.catalog.known();
        let came_due = self.catalog.latest_due(now);
        self.catalog.advance(now);
        // A catalog path that no longer names a post file (a folder took its place) is
        // removed; the others are read, on every core when there are many.
        let mut affected = self.affected(changes);
        // A rescan reads again only what changed since it was read: a site of 100,000
        // posts is not parsed again every `posts.rescan_secs`. Then the catalog's paths
        // stand for the whole folder, so the ledger is not told of a whole-folder scan.
        let before = affected.len();
        // A file the watcher holds back is being written, or may be gone again in a
        // moment: its last version stays until the watcher sends it.
        affected.retain(|rel| !changes.held.contains(rel));
        if changes.rescan {
            affected.retain(|rel| !self.unchanged_since_read(rel));
        }
        let none_left_out = affected.len() == before;
        let config = Arc::clone(&self.config);
        let (posts, others): (Vec<String>, Vec<String>) = affected.into_iter().partition(|rel| {
            post::is_post_path(std::path::Path::new(rel)) && !is_folder(&config, rel)
        });
        let loaded = self.reader.load_all(posts, 0);
        let mut updates = loaded.updates;
        updates.extend(others.into_iter().map(|rel| (rel, Update::Removed)));
        for (rel, _) in &updates {
            self.refused.remove(rel);
        }
        for (rel, modified, size) in loaded.refused {
            self.refused.insert(rel, (modified, size));
        }
        if !loaded.not_read.is_empty() {
            tracing::warn!(
                files = loaded.not_read.len(),
                "not read now: {} files are still being read past posts.parse_budget_ms; the rest is read at the next change or rescan",
                scan::MAX_OVERRUNNING
            );
        }
        let whole_folder = changes.rescan && none_left_out && loaded.not_read.is_empty();
        // The paths whose post changed: what a rescan's change is dated by.
        let mut updated = Vec::new();
        for (rel, update) in self
            .state
            .settle(updates, whole_folder, &self.config.site, now)
        {
            let problems = problems_of(&update);
            let is_failure = matches!(update, Update::Failed(_));
            let applied = self.catalog.apply(&rel, update);
            // A file that failed is named each time it is read (each time it changed),
            // also when it fails for the same reason as before: its writer just saved it.
            if applied != Applied::Unchanged || is_failure {
                log_problems(&problems, &self.config.posts_dir);
            }
            if applied == Applied::Failed {
                failed.push(rel.clone());
            }
            if applied != Applied::Unchanged {
                updated.push(rel.clone());
            }
            counts.add(applied);
        }
        self.state.verify();
        let folder_exists = self.config.posts_dir.is_dir();
        self.catalog.judge_folder(folder_exists, posts_before);
        // A bad file deleted, or the folder gone or back, changes no feed: /healthz is
        // all that changes, and it must at once.
        let health_changed = self.catalog.take_problems_changed();
        let touched = self.catalog.take_touched();
        if counts.is_empty() && touched.is_empty() && !health_changed && !force {
            let _ = self.state.save();
            return None;
        }
        let remembered = self.state.remembered();
        let changed = self.change_time(changes, &updated, came_due, now);
        let time = PublishTime { now, changed };
        let before = self.snapshots.load_full();
        let (next, routes) = before.next(
            &self.catalog,
            &touched,
            &remembered,
            &self.bodies,
            &self.config,
            time,
        );
        self.state
            .note_feeds(&next.feed_names, &self.catalog, changed);
        // A failed save is logged and shown on /healthz from the next publish on; the
        // ledger in memory goes on.
        let _ = self.state.save();
        let next = Arc::new(next);
        self.snapshots.store(Arc::clone(&next));
        let took = start.elapsed();
        // Subscribers get the new bodies now, as readers do; compressing them is not
        // for them. Sending on a channel is all this costs the publish.
        if let Some(websub) = &self.websub {
            websub.published(
                before,
                Arc::clone(&next),
                touched,
                &self.config.site.base_url,
            );
        }
        // Readers already have the new bodies; the compressed variants follow.
        if let Some(compressed) = next.compress_pending() {
            self.snapshots.store(Arc::new(compressed));
        }
        Some(Published {
            counts,
            failed,
            routes,
            took,
        })
    }

    /// When the change being published happened: the file system's date of the paths it
    /// names (see [`scan::change_time`]); for a rescan, which names none, the newest
    /// folder change and the modification time of each file read again; or the date of
    /// a post that came due. Never after `now`, and `now` when nothing dates it. Changed
    /// routes are dated by it rather than by the clock, so replicas agree.
    fn change_time(
        &self,
        changes: &ChangeSet,
        updated: &[String],
        came_due: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let dir = &self.config.posts_dir;
        let mut newest = scan::change_time(dir, changes.paths.iter().map(String::as_str));
        if changes.rescan {
            let read_again = updated.iter().filter_map(|rel| self.catalog.read_from(rel));
            newest = newest
                .max(scan::newest_folder_change(dir))
                .max(read_again.map(|(modified, _)| modified).max());
        }
        newest.max(came_due).map_or(now, |changed| changed.min(now))
    }

    /// True when the file at `rel` is the one the catalog's post was read from (same
    /// modification time and size, and it parsed), or the one refused for its budget.
    fn unchanged_since_read(&self, rel: &str) -> bool {
        let read = self.catalog.read_from(rel);
        let Some((modified, size)) = read.or_else(|| self.refused.get(rel).copied()) else {
            return false;
        };
        let Ok(meta) = std::fs::metadata(scan::full_path(&self.config, rel)) else {
            return false;
        };
        let now_modified = meta.modified().map(DateTime::<Utc>::from).ok();
        now_modified == Some(modified) && meta.len() == size
    }

    /// Every post path a change set may have changed: for a folder, the catalog's paths
    /// under it and the files now in it.
    fn affected(&mut self, changes: &ChangeSet) -> BTreeSet<String> {
        let config = Arc::clone(&self.config);
        let dir = &config.posts_dir;
        if changes.rescan {
            let mut paths: BTreeSet<String> =
                self.catalog.paths_under("").map(str::to_string).collect();
            let listing = scan::list(dir);
            paths.extend(listing.files);
            self.note_listing("", listing.problems);
            return paths;
        }
        let mut paths = BTreeSet::new();
        let mut names_not_utf8 = false;
        for rel in &changes.paths {
            // A name that is not UTF-8 arrives made lossy: nothing can be opened by it,
            // and only a listing that meets the name itself reports it.
            if rel.contains(char::REPLACEMENT_CHARACTER) {
                names_not_utf8 = true;
                continue;
            }
            if post::is_post_path(std::path::Path::new(rel)) {
                paths.insert(rel.clone());
            }
            let prefix = format!("{rel}/");
            paths.extend(self.catalog.paths_under(&prefix).map(str::to_string));
            if let Some(listing) = scan::list_under(dir, rel) {
                paths.extend(listing.files);
                self.note_listing(rel, listing.problems);
            }
        }
        if names_not_utf8 {
            self.note_listing("", scan::list(dir).problems);
        }
        paths
    }

    /// Notes what a listing found wrong in the catalog, for `/healthz`, and logs what is
    /// new.
    fn note_listing(&mut self, rel: &str, problems: Vec<Problem>) {
        let new = self.catalog.note_listing(rel, problems);
        let new: Vec<(bool, Problem)> = new.into_iter().map(|p| (true, p)).collect();
        log_problems(&new, &self.config.posts_dir);
    }
}

/// True when the post path `rel` is a folder (`x.md/`): its posts are listed, and it is
/// not read as one.
fn is_folder(config: &Config, rel: &str) -> bool {
    std::fs::symlink_metadata(scan::full_path(config, rel)).is_ok_and(|meta| meta.is_dir())
}

/// What a file's read gave that its writer should hear of: why it failed, or the
/// warnings of the post it gave, as `(is_error, problem)`.
fn problems_of(update: &Update) -> Vec<(bool, Problem)> {
    match update {
        Update::Failed(problem) => vec![(true, problem.clone())],
        Update::Parsed(post) => post.warnings.iter().map(|w| (false, w.clone())).collect(),
        Update::Removed => Vec::new(),
    }
}

/// Logs each problem of a file that changed as `check` prints it, `path:line: reason`,
/// with what became of the file.
/// What following the bound address costs, when `site.base_url` is unset: links that
/// other machines cannot follow when the bind is on every interface, and ids minted
/// for good under the local host.
fn unset_base_url(config: &Config, bound: SocketAddr) -> Option<String> {
    if !config.base_url_follows_listen {
        return None;
    }
    let base = &config.site.base_url;
    if bound.ip().is_unspecified() {
        return Some(format!(
            "listening on every interface ({bound}) with `site.base_url` unset: links name {base}, which readers on other machines cannot reach; set `site.base_url` in config.toml to the address they use"
        ));
    }
    Some(format!(
        "`site.base_url` is not set: links follow {base}, and posts seen for the first time get ids under the host `{}` for good; set `site.base_url` in config.toml to the site's public URL before readers subscribe",
        config.site.host
    ))
}

fn log_problems(problems: &[(bool, Problem)], dir: &std::path::Path) {
    for (is_error, problem) in problems {
        let path = dir.join(&problem.path);
        // Not "published": a draft or a post dated ahead is read with warnings too.
        let what = if *is_error {
            "not published"
        } else {
            "warning"
        };
        tracing::warn!(
            "{}:{}: {what}: {}",
            path.display(),
            problem.line,
            problem.message
        );
    }
}

impl Published {
    fn nothing() -> Published {
        Published {
            counts: Counts::default(),
            failed: Vec::new(),
            routes: Rerendered::default(),
            took: Duration::ZERO,
        }
    }

    fn log(&self, why: &str) {
        let Counts {
            added,
            modified,
            removed,
            errors,
        } = self.counts;
        // The names only; the reasons are in the lines just above.
        let failed = match self.failed.as_slice() {
            [] => String::new(),
            names if names.len() <= 3 => format!(" ({})", names.join(", ")),
            names => format!(" ({}, and {} more)", names[..3].join(", "), names.len() - 3),
        };
        tracing::info!(
            "published {why}: +{added} ~{modified} -{removed} !{errors}{failed}; {} routes re-rendered, {} removed; {:.1} ms",
            self.routes.routes,
            self.routes.removed,
            self.took.as_secs_f64() * 1000.0,
        );
    }
}

/// A started `serve`: the listener bound, posts read, every route built, the watcher on.
pub struct Daemon {
    publisher: Publisher,
    listener: TcpListener,
    watch: Watch,
    /// Requests to read the config file again (SIGHUP); `None` when nobody asks.
    reloads: Option<mpsc::Receiver<()>>,
    /// What `/metrics` shows, shared with the server.
    metrics: Arc<Metrics>,
    /// The built-in WebSub hub and the pings, when `[websub]` asks for either.
    websub: Option<Arc<WebSub>>,
}

/// What the publish loop does next, on a blocking thread.
enum Job {
    /// Publish a change set (`force`: even when no post changed), logged as `why`.
    Publish {
        changes: ChangeSet,
        force: bool,
        why: &'static str,
    },
    /// Read the config file again and publish every route with it.
    Reload,
}

impl Daemon {
    /// Binds `listen` (port 0 picks a free port), then watches, scans and builds every
    /// route. Binding comes first, so an address in use fails at once rather than after
    /// the whole start-up render; connections arriving meanwhile wait in the kernel's
    /// backlog until [`Daemon::run`] answers them. The watch starts before the scan, so
    /// nothing written during the scan is missed.
    pub async fn start(config: Config, listen: SocketAddr) -> Result<Daemon, ServeError> {
        Daemon::start_with_clock(config, listen, Clock::system()).await
    }

    /// [`Daemon::start`] on `listen` as `server.listen` and `--listen` write it,
    /// `HOST:PORT`: a host name is resolved, and the first of its addresses that binds
    /// is used (`localhost` may give `::1` before `127.0.0.1`, and IPv6 may be off).
    pub async fn start_on(config: Config, listen: &str) -> Result<Daemon, ServeError> {
        let listener = bind_first(listen)?;
        Daemon::start_bound(config, listener, Clock::system()).await
    }

    /// [`Daemon::start`], with the time read from `clock` instead of the system clock.
    pub async fn start_with_clock(
        config: Config,
        listen: SocketAddr,
        clock: Clock,
    ) -> Result<Daemon, ServeError> {
        let listener = server::bind(listen).map_err(|err| ServeError::Bind {
            listen: listen.to_string(),
            err,
        })?;
        Daemon::start_bound(config, listener, clock).await
    }

    /// The start once the listener is bound: links follow its address when
    /// `site.base_url` is not set.
    async fn start_bound(
        mut config: Config,
        listener: TcpListener,
        clock: Clock,
    ) -> Result<Daemon, ServeError> {
        let bound = listener.local_addr().ok();
        if let Some(bound) = bound {
            config.follow_bound(bound);
            if let Some(warning) = config.loopback_mismatch(bound) {
                tracing::warn!("{warning}");
            }
            if let Some(warning) = unset_base_url(&config, bound) {
                tracing::warn!("{warning}");
            }
        }
        // The feeds are served all the same (empty, or as the folder was), and the
        // watcher publishes the posts once the folder is made.
        if let Err(err) = config.check_posts_dir() {
            tracing::error!("{err}");
        }
        config.posts_dir =
            std::path::absolute(&config.posts_dir).map_err(|err| ServeError::PostsDir {
                path: config.posts_dir.clone(),
                err,
            })?;
        let debounce = Duration::from_millis(config.debounce_ms);
        let watch = watch::start(config.posts_dir.clone(), debounce)?;
        let config = Arc::new(config);
        let (mut publisher, published) =
            tokio::task::spawn_blocking(move || Publisher::new(config, clock))
                .await
                .map_err(ServeError::Publish)?;
        publisher.bound = bound;
        published.log("at start");
        let metrics = Arc::new(Metrics::new());
        measure(&metrics, &publisher, &published);
        let websub = WebSub::new(
            &publisher.config,
            publisher.snapshots(),
            publisher.state.problem.as_ref().map(ToString::to_string),
            metrics.websub(),
        );
        publisher.websub = websub.clone();
        let errors = publisher.catalog.errors().len();
        tracing::info!(
            "{}; {} not published",
            publisher.tally(),
            match errors {
                1 => "1 file".to_string(),
                n => format!("{n} files"),
            }
        );
        if let Some(notice) = crate::check::podcast_notice(&publisher.config, &publisher.catalog) {
            tracing::warn!("{notice}");
        }
        release_freed_memory();
        Ok(Daemon {
            publisher,
            listener,
            watch,
            reloads: None,
            metrics,
            websub,
        })
    }

    /// Reads the config file again on each request from `requests`: a config that does
    /// not parse is logged and the running one kept; one that does is applied, every
    /// route published again with it, except for the keys only a restart can apply
    /// (the address, the folders and files, the server's limits), which are named in a
    /// warning. Connections are served throughout.
    pub fn reload_on(mut self, requests: mpsc::Receiver<()>) -> Daemon {
        self.reloads = Some(requests);
        self
    }

    /// The address the server listens on, with the real port when 0 was asked for.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The snapshots the server reads.
    pub fn snapshots(&self) -> Arc<ArcSwap<Snapshot>> {
        self.publisher.snapshots()
    }

    /// What `/metrics` shows; the WebSub code records into [`Metrics::websub`].
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Serves and publishes until `shutdown` completes; then stops accepting, lets
    /// responses in flight finish (at most [`server::GRACE`]) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Daemon {
            mut publisher,
            listener,
            mut watch,
            mut reloads,
            metrics,
            websub,
        } = self;
        let _websub_tasks = websub.as_ref().map(WebSub::spawn);
        if let Ok(addr) = listener.local_addr() {
            tracing::info!("listening on http://{addr}");
        }
        let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server::run(
            listener,
            publisher.snapshots(),
            publisher.config.server,
            Arc::clone(&metrics),
            websub.clone(),
            async move {
                let _ = server_stopped.await;
            },
        ));

        // Listening, and every route published at start.
        systemd::notify(Notice::Ready);
        let mut rescan_every = publisher.config.rescan_secs;
        let mut rescan = rescan_interval(rescan_every);
        tokio::pin!(shutdown);
        let mut watching = true;
        let mut reloading = reloads.is_some();
        let result = loop {
            // A date from a file may be absurdly far off; such a post never wakes us.
            let now = publisher.clock.now();
            let due = publisher.next_due(now).and_then(|when| {
                let wait = (when - now).to_std().unwrap_or(Duration::ZERO);
                tokio::time::Instant::now().checked_add(wait)
            });
            let job = tokio::select! {
                () = &mut shutdown => break Ok(()),
                changes = watch.changes.recv(), if watching => match changes {
                    Some(changes) => Job::Publish { changes, force: false, why: "changes" },
                    None => {
                        tracing::warn!("the file watcher stopped; changes are seen at the next rescan (posts.rescan_secs)");
                        watching = false;
                        continue;
                    }
                },
                () = sleep_until(due) => Job::Publish {
                    changes: ChangeSet::default(),
                    force: true,
                    why: "a post came due",
                },
                () = tick(&mut rescan) => Job::Publish {
                    changes: watch.rescan(),
                    force: false,
                    why: "rescan",
                },
                request = next_request(&mut reloads), if reloading => match request {
                    Some(()) => Job::Reload,
                    None => {
                        reloading = false;
                        continue;
                    }
                },
            };
            let reloading_now = matches!(job, Job::Reload);
            if reloading_now {
                systemd::notify(Notice::Reloading);
            }
            let job = tokio::task::spawn_blocking(move || {
                // A panic here is a bug; the server keeps the last good snapshot and the
                // loop goes on, rather than the daemon stopping.
                let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match job {
                    Job::Publish {
                        changes,
                        force,
                        why,
                    } => publisher.publish(&changes, force).map(|published| (published, why)),
                    Job::Reload => reload(&mut publisher)
                        .map(|published| (published, "with the config reloaded")),
                }))
                .unwrap_or_else(|panic| {
                    tracing::error!(
                        error = panic_message(&*panic),
                        "a publish failed (a bug: please report it); still serving the last good snapshot"
                    );
                    None
                });
                (publisher, done)
            });
            tokio::pin!(job);
            let finished = tokio::select! {
                finished = &mut job => finished,
                () = &mut shutdown => {
                    // A publish nearly done may finish and save its ledger; one held up
                    // by a slow file is left behind: the ledger keeps the publish before.
                    match tokio::time::timeout(PUBLISH_GRACE, &mut job).await {
                        Ok(Ok((_, Some((published, why))))) => published.log(why),
                        Ok(_) => {}
                        Err(_) => tracing::warn!(
                            "stopping in the middle of a publish, after {} s; it is published again at the next start",
                            PUBLISH_GRACE.as_secs()
                        ),
                    }
                    break Ok(());
                }
            };
            match finished {
                Ok((back, done)) => {
                    publisher = back;
                    if let Some((published, why)) = done {
                        published.log(why);
                        measure(&metrics, &publisher, &published);
                    }
                    if reloading_now {
                        systemd::notify(Notice::Ready);
                    }
                }
                Err(err) => break Err(ServeError::Publish(err)),
            }
            if publisher.config.rescan_secs != rescan_every {
                rescan_every = publisher.config.rescan_secs;
                rescan = rescan_interval(rescan_every);
            }
        };
        systemd::notify(Notice::Stopping);
        let _ = stop_server.send(());
        let _ = server.await;
        tracing::info!("stopped");
        result
    }
}

/// Counts `published` in `metrics`, with what the site holds after it.
fn measure(metrics: &Metrics, publisher: &Publisher, published: &Published) {
    let snapshot = publisher.snapshots.load();
    let failed = publisher.catalog.errors().len();
    metrics.record_publish(published.took, snapshot.posts, snapshot.feeds, failed);
}

/// Reads `publisher`'s config file again and publishes every route with what of it can
/// change while serving; `None` when the file cannot be used.
fn reload(publisher: &mut Publisher) -> Option<Published> {
    let running = Arc::clone(&publisher.config);
    let read = match Config::load(&running.path) {
        Ok(read) => read,
        Err(err) => {
            tracing::error!(
                "cannot reload the config: {err}; still serving with the config as it was"
            );
            return None;
        }
    };
    if !read.file_found {
        tracing::warn!(
            "{}: no config file there any more; every key takes its default",
            running.path.display()
        );
    }
    for notice in &read.notices {
        tracing::warn!("{notice}");
    }
    let (mut applied, held) = live_part(&running, read);
    if let Some(bound) = publisher.bound {
        applied.follow_bound(bound);
        if let Some(warning) = applied.loopback_mismatch(bound) {
            tracing::warn!("{warning}");
        }
    }
    // `[websub]` may have been held back as the running config has it.
    applied.name_hubs();
    if !held.is_empty() {
        tracing::warn!(
            "{}: changed, but not applied until a restart: {}",
            running.path.display(),
            held.iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Some(publisher.reconfigure(Arc::new(applied)))
}

/// `read` with the values only a restart can apply put back as `running` has them
/// (the listener, the watcher, the state database and the server were set up with
/// them), and the keys whose change that holds back.
fn live_part(running: &Config, mut read: Config) -> (Config, Vec<&'static str>) {
    let mut held = Vec::new();
    // The running folder was made absolute at start.
    let posts_dir = std::path::absolute(&read.posts_dir).unwrap_or(read.posts_dir.clone());
    if posts_dir != running.posts_dir {
        held.push("posts.dir");
    }
    read.posts_dir = running.posts_dir.clone();
    if read.debounce_ms != running.debounce_ms {
        held.push("posts.debounce_ms");
        read.debounce_ms = running.debounce_ms;
    }
    if read.state_db != running.state_db {
        held.push("state.db");
        read.state_db = running.state_db.clone();
    }
    if read.remember_removed_days != running.remember_removed_days {
        held.push("state.remember_removed_days");
        read.remember_removed_days = running.remember_removed_days;
    }
    if read.listen != running.listen {
        held.push("server.listen");
        read.listen = running.listen.clone();
    }
    let (new, old) = (&read.server, &running.server);
    for (key, changed) in [
        (
            "server.header_timeout_secs",
            new.header_timeout != old.header_timeout,
        ),
        (
            "server.idle_timeout_secs",
            new.idle_timeout != old.idle_timeout,
        ),
        (
            "server.max_connections",
            new.max_connections != old.max_connections,
        ),
        ("server.max_streams", new.max_streams != old.max_streams),
    ] {
        if changed {
            held.push(key);
        }
    }
    read.server = running.server;
    // The hub and the pinger were made with them.
    if read.websub != running.websub {
        held.push("websub");
        read.websub = running.websub.clone();
    }
    (read, held)
}

async fn next_request(requests: &mut Option<mpsc::Receiver<()>>) -> Option<()> {
    match requests {
        Some(requests) => requests.recv().await,
        None => None,
    }
}

/// The periodic rescan every `secs` seconds, the first a period from now; none for 0.
fn rescan_interval(secs: u64) -> Option<tokio::time::Interval> {
    (secs > 0).then(|| {
        let period = Duration::from_secs(secs);
        tokio::time::interval_at(tokio::time::Instant::now() + period, period)
    })
}

/// What a panic said, for the log: `panic!` carries a `&str` or a `String`.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// Keeps the allocator from hoarding what a long-running `serve` frees: glibc by default
/// raises its mmap threshold each time a large block is freed, so the feeds a publish
/// renders (hundreds of KB each) end up in heaps that can only grow, one per thread.
/// A fixed threshold sends them back to the system when freed, and two arenas are
/// enough for two cores. Measured with `bench/steady` (PERFORMANCE.md).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any thread
    // of ours allocates concurrently, and glibc takes its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hands the memory the first scan freed (every post parsed, its body dropped) back to
/// the system: glibc keeps freed blocks in the middle of its heap otherwise, and the
/// daemon's resident size would stay at the scan's peak.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it touches no memory
    // that is in use and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn sleep_until(when: Option<tokio::time::Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Binds the first address of `listen` (`HOST:PORT`) that binds, in the order the
/// resolver gives them; the error of the last one when none does.
fn bind_first(listen: &str) -> Result<TcpListener, ServeError> {
    use std::net::ToSocketAddrs;
    let resolve_error = |message: String| ServeError::Resolve {
        listen: listen.to_string(),
        message,
    };
    let addrs: Vec<SocketAddr> = listen
        .to_socket_addrs()
        .map_err(|err| resolve_error(err.to_string()))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match server::bind(*addr) {
            Ok(listener) => return Ok(listener),
            Err(err) => {
                tracing::debug!("cannot listen on {addr}: {err}; trying the next address");
                last = Some(err);
            }
        }
    }
    Err(match last {
        Some(err) => ServeError::Bind {
            listen: listen.to_string(),
            err,
        },
        None => resolve_error("the name has no address".into()),
    })
}

/// Runs `serve` until `shutdown` completes, reading the config again on each of
/// `reloads`: what the `serve` command does. `listen` is `HOST:PORT`.
pub async fn serve(
    config: Config,
    listen: &str,
    shutdown: impl Future<Output = ()>,
    reloads: mpsc::Receiver<()>,
) -> Result<(), ServeError> {
    Daemon::start_on(config, listen)
        .await?
        .reload_on(reloads)
        .run(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> (tempfile::TempDir, Publisher) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("posts/batch")).unwrap();
        std::fs::write(dir.path().join("posts/a.txt"), "ant").unwrap();
        std::fs::write(dir.path().join("posts/batch/b.txt"), "bee").unwrap();
        let config = Config::parse("", &dir.path().join("config.toml")).unwrap();
        let (publisher, published) = Publisher::new(Arc::new(config), Clock::system());
        assert_eq!(published.counts.added, 2);
        (dir, publisher)
    }

    fn changes(paths: &[&str]) -> ChangeSet {
        ChangeSet {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            ..ChangeSet::default()
        }
    }

    fn has(publisher: &Publisher, route: &str) -> bool {
        publisher.snapshots().load().get(route).is_some()
    }

    #[test]
    fn a_change_that_changes_no_post_publishes_nothing() {
        let (_dir, mut publisher) = site();
        let before = publisher.snapshots().load_full();
        assert!(publisher
            .publish(&changes(&["a.txt", "4913"]), false)
            .is_none());
        assert!(Arc::ptr_eq(&before, &publisher.snapshots().load_full()));
    }

    #[test]
    fn a_folder_path_reads_every_post_in_it_and_drops_those_gone() {
        let (dir, mut publisher) = site();
        std::fs::write(dir.path().join("posts/batch/c.txt"), "cat").unwrap();
        let published = publisher.publish(&changes(&["batch"]), false).unwrap();
        assert_eq!(
            published.counts,
            Counts {
                added: 1,
                ..Counts::default()
            }
        );
        assert!(has(&publisher, "/posts/batch/c/"));

        std::fs::remove_dir_all(dir.path().join("posts/batch")).unwrap();
        let published = publisher.publish(&changes(&["batch"]), false).unwrap();
        assert_eq!(
            published.counts,
            Counts {
                removed: 2,
                ..Counts::default()
            }
        );
        assert!(!has(&publisher, "/posts/batch/b/"));
        assert!(has(&publisher, "/posts/a/"));
    }

    /// Regression (hostile corpus): a folder named `x.md` was read as a post and listed
    /// on /healthz as "not a regular file", which `check` never said.
    #[test]
    fn a_folder_named_like_a_post_is_listed_not_read() {
        let (dir, mut publisher) = site();
        std::fs::create_dir(dir.path().join("posts/x.md")).unwrap();
        std::fs::write(dir.path().join("posts/x.md/in.txt"), "inn").unwrap();
        let published = publisher.publish(&changes(&["x.md"]), false).unwrap();
        assert_eq!(published.counts.added, 1);
        assert!(has(&publisher, "/posts/x-md/in/"));
        assert_eq!(publisher.catalog.errors(), Vec::new());
    }

    /// Regression (hostile corpus): a file named in bytes that are not UTF-8, made while
    /// serving, reached the publish loop made lossy and was dropped without a word.
    #[test]
    fn a_name_not_utf8_made_while_serving_is_reported() {
        use std::os::unix::ffi::OsStrExt;
        let (dir, mut publisher) = site();
        let name = std::ffi::OsStr::from_bytes(b"caf\xE9.txt");
        std::fs::write(dir.path().join("posts").join(name), "cafe").unwrap();
        let lossy = name.to_string_lossy().into_owned();
        publisher.publish(&changes(&[&lossy]), false);
        let errors = publisher.catalog.errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "caf\u{FFFD}.txt");
        assert_eq!(
            errors[0].message,
            "file name is not UTF-8, so it is not published; rename it to UTF-8"
        );
    }

    #[test]
    fn a_rescan_finds_what_no_event_named() {
        let (dir, mut publisher) = site();
        std::fs::write(dir.path().join("posts/new.txt"), "newt").unwrap();
        std::fs::remove_file(dir.path().join("posts/a.txt")).unwrap();
        let rescan = ChangeSet::everything();
        let published = publisher.publish(&rescan, false).unwrap();
        assert_eq!(
            published.counts,
            Counts {
                added: 1,
                removed: 1,
                ..Counts::default()
            }
        );
        assert!(has(&publisher, "/posts/new/"));
        assert!(!has(&publisher, "/posts/a/"));
    }

    #[test]
    fn a_rescan_reads_again_only_files_changed_since_they_were_read() {
        let (dir, mut publisher) = site();
        let rescan = ChangeSet::everything();
        let a = dir.path().join("posts/a.txt");
        let modified = std::fs::metadata(&a).unwrap().modified().unwrap();
        // Same size and modification time: a rescan takes it for the file it read.
        std::fs::write(&a, "ank").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&a)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        assert!(publisher.publish(&rescan, false).is_none());
        assert!(publisher
            .snapshots()
            .load()
            .get("/rss.xml")
            .is_some_and(|feed| !String::from_utf8_lossy(&feed.body).contains("ank")));
        // Another size: read again.
        std::fs::write(&a, "anteater").unwrap();
        let published = publisher.publish(&rescan, false).unwrap();
        assert_eq!(
            published.counts,
            Counts {
                modified: 1,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn reconfigure_publishes_every_route_with_the_new_config_where_the_server_reads() {
        let (dir, mut publisher) = site();
        let served = publisher.snapshots();
        let feed = |snapshots: &Arc<ArcSwap<Snapshot>>| {
            let rendered = snapshots.load().get("/rss.xml").unwrap();
            String::from_utf8_lossy(&rendered.body).into_owned()
        };
        let before = feed(&served);
        assert!(before.contains("<title>dropfeed</title>"), "{before}");
        let config = Config::parse(
            "[site]\ntitle = \"Renamed\"\n",
            &dir.path().join("config.toml"),
        )
        .unwrap();
        let published = publisher.reconfigure(Arc::new(config));
        assert_eq!(published.counts.added, 2);
        let after = feed(&served);
        assert!(after.contains("<title>Renamed</title>"), "{after}");
        // The ledger is kept: the same ids.
        let guids = |feed: &str| -> Vec<String> {
            feed.split("<guid")
                .skip(1)
                .map(|item| item.split("</guid>").next().unwrap_or("").to_string())
                .collect()
        };
        assert_eq!(guids(&after), guids(&before));
        assert_eq!(guids(&after).len(), 2);
        assert!(Arc::ptr_eq(&served, &publisher.snapshots()));
    }

    #[test]
    fn a_reload_holds_back_what_only_a_restart_can_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let mut running = Config::parse("", &path).unwrap();
        // As `Daemon::start_with_clock` runs it.
        running.posts_dir = std::path::absolute(&running.posts_dir).unwrap();

        let (same, held) = live_part(&running, Config::parse("", &path).unwrap());
        assert_eq!(held, Vec::<&str>::new());
        assert_eq!(same.posts_dir, running.posts_dir);

        let read = Config::parse(
            "[site]\ntitle = \"After\"\n\n\
             [posts]\ndir = \"elsewhere\"\nrescan_secs = 5\ndebounce_ms = 9\nmax_bytes = 10\n\n\
             [state]\ndb = \"other.db\"\nremember_removed_days = 1\n\n\
             [server]\nlisten = \"127.0.0.1:9\"\nheader_timeout_secs = 1\nidle_timeout_secs = 1\n\
             max_connections = 1\nmax_streams = 1\n\n\
             [websub]\nhubs = [\"https://hub.example.org/\"]\nallow_private_callbacks = true\n",
            &path,
        )
        .unwrap();
        let (applied, held) = live_part(&running, read);
        assert_eq!(
            held,
            [
                "posts.dir",
                "posts.debounce_ms",
                "state.db",
                "state.remember_removed_days",
                "server.listen",
                "server.header_timeout_secs",
                "server.idle_timeout_secs",
                "server.max_connections",
                "server.max_streams",
                "websub",
            ]
        );
        assert_eq!(applied.site.title, "After");
        assert_eq!(applied.rescan_secs, 5);
        assert_eq!(applied.max_bytes, 10);
        assert_eq!(applied.posts_dir, running.posts_dir);
        assert_eq!(applied.debounce_ms, 50);
        assert_eq!(applied.state_db, running.state_db);
        assert_eq!(applied.remember_removed_days, 7);
        assert_eq!(applied.listen, running.listen);
        assert_eq!(applied.server, running.server);
        assert_eq!(applied.websub, running.websub);
    }

    /// A reload reads a config that leaves `base_url` unset again: links must keep
    /// following the address bound, not fall back to `server.listen`'s port.
    #[test]
    fn a_reload_keeps_links_on_the_address_bound() {
        let (dir, mut publisher) = site();
        let bound: SocketAddr = "127.0.0.1:19100".parse().unwrap();
        let mut config = (*publisher.config).clone();
        config.follow_bound(bound);
        publisher.reconfigure(Arc::new(config));
        publisher.bound = Some(bound);
        std::fs::write(
            dir.path().join("config.toml"),
            "[site]\ntitle = \"Renamed\"\n",
        )
        .unwrap();
        assert!(reload(&mut publisher).is_some());
        let rendered = publisher.snapshots().load().get("/rss.xml").unwrap();
        let rss = String::from_utf8_lossy(&rendered.body).into_owned();
        assert!(rss.contains("<title>Renamed</title>"), "{rss}");
        assert!(
            rss.contains(r#"<atom:link href="http://127.0.0.1:19100/rss.xml" rel="self""#),
            "{rss}"
        );
    }

    /// A clock that starts at `start` and moves with tokio's clock, so a paused test
    /// runtime moves it on as fast as timers allow.
    fn following_tokio_time(start: DateTime<Utc>) -> Clock {
        let origin = tokio::time::Instant::now();
        Clock::new(move || start + chrono::Duration::from_std(origin.elapsed()).unwrap())
    }

    fn date(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    /// A post dated an hour after the clock's start, a date long after the file's own.
    fn site_with_a_post_due_at_one() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("posts")).unwrap();
        std::fs::write(
            dir.path().join("posts/later.md"),
            "---\ntitle: Later\ndate: 2030-01-01T01:00:00Z\n---\n\nNot yet.\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn a_future_post_is_published_once_the_clock_passes_its_date() {
        let dir = site_with_a_post_due_at_one();
        let config = Config::parse("", &dir.path().join("config.toml")).unwrap();
        let now = Arc::new(std::sync::Mutex::new(date("2030-01-01T00:00:00Z")));
        let clock = {
            let now = Arc::clone(&now);
            Clock::new(move || *now.lock().unwrap())
        };
        let (mut publisher, _) = Publisher::new(Arc::new(config), clock);
        assert!(!has(&publisher, "/posts/later/"));
        assert_eq!(
            publisher.next_due(date("2030-01-01T00:00:00Z")),
            Some(date("2030-01-01T01:00:00Z"))
        );

        *now.lock().unwrap() = date("2030-01-01T01:00:00.250Z");
        let published = publisher.publish(&ChangeSet::default(), true).unwrap();
        assert_eq!(published.counts, Counts::default());
        let snapshot = publisher.snapshots().load_full();
        let page = snapshot.get("/posts/later/").unwrap();
        // Dated by the post, in whole seconds, not by the file written just now.
        assert_eq!(page.last_modified, date("2030-01-01T01:00:00Z"));
        assert_eq!(
            snapshot.published_at,
            Some(date("2030-01-01T01:00:00.250Z"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_serve_loop_publishes_a_future_post_when_its_time_comes() {
        let dir = site_with_a_post_due_at_one();
        let config = Config::parse(
            "[posts]\nrescan_secs = 0\n",
            &dir.path().join("config.toml"),
        )
        .unwrap();
        let clock = following_tokio_time(date("2030-01-01T00:00:00Z"));
        let daemon = Daemon::start_with_clock(config, "127.0.0.1:0".parse().unwrap(), clock)
            .await
            .unwrap();
        let snapshots = daemon.snapshots();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(daemon.run(async move {
            let _ = stopped.await;
        }));
        let start = tokio::time::Instant::now();

        tokio::time::sleep_until(start + Duration::from_secs(3599)).await;
        assert!(snapshots.load().get("/posts/later/").is_none());

        tokio::time::sleep_until(start + Duration::from_secs(3601)).await;
        let snapshot = snapshots.load_full();
        let page = snapshot.get("/posts/later/").unwrap();
        assert_eq!(page.last_modified, date("2030-01-01T01:00:00Z"));

        stop.send(()).unwrap();
        serving.await.unwrap().unwrap();
    }
}
