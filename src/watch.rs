//! File system events → debounced [`ChangeSet`]s of paths under the posts folder.
//!
//! notify's events are mapped to our small [`Change`] enum in one pure function,
//! [`classify`], so the rules are tested without a file system. The watcher itself lives
//! in a task that owns it, because re-arming a watch must not happen on notify's own
//! thread (its event loop would wait on itself).
//!
//! Two watches are kept: the posts folder, recursively, and its parent, not recursively.
//! inotify drops a watch when its folder is removed or moved away; the parent's watch sees
//! the folder come back, and the watch on it is armed again. The parent's watch also sees
//! every file beside the posts folder (the config, the state database, whatever else
//! lives there); those events are ignored and never delay a change set.
//!
//! A file goes out in a change set only once it is *ready*: closed by its writer and quiet
//! for the debounce. One that is still being written, or keeps changing, is held back
//! (`Debounce`) while the rest of its change set goes out on time, and the previous
//! version stays published; what exists for less than the debounce is never read. Knows
//! nothing of HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::post;
use crate::scan;

/// What changed on disk since the last change set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    /// `/`-separated paths under the posts folder: post files, or folders whose every
    /// post must be read again (a folder moved in or out arrives as one path).
    pub paths: BTreeSet<String>,
    /// The watcher lost events (queue overflow, an error, the folder itself replaced):
    /// only a full scan can tell what the folder holds now.
    pub rescan: bool,
    /// Post files the watcher is holding back (still being written, or not quiet yet): a
    /// scan or a folder read leaves each as it is, its last version still published; it
    /// comes in a change set of its own once it is ready.
    pub held: BTreeSet<String>,
}

impl ChangeSet {
    /// A full scan of the folder, holding nothing back: what the first publish reads.
    pub fn everything() -> ChangeSet {
        ChangeSet {
            rescan: true,
            ..ChangeSet::default()
        }
    }

    /// True when nothing is to be read; the held paths are for later sets.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && !self.rescan
    }
}

/// One notify event, as the publisher needs to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// These paths under the posts folder may have changed.
    Paths(Vec<String>),
    /// Events were lost: scan everything.
    Rescan,
    /// The posts folder itself (or a folder above it) was created, removed or renamed:
    /// its watch must be armed again, and everything scanned.
    Rearm,
    /// Nothing a post depends on: reads, hidden files, files beside the posts folder.
    Ignore,
}

/// Maps one notify result to a [`Change`]. Pure: it looks only at the event.
pub fn classify(result: &notify::Result<notify::Event>, posts_dir: &Path) -> Change {
    let event = match result {
        Ok(event) => event,
        // An error may mean a lost event; what it was is unknown.
        Err(_) => return Change::Rescan,
    };
    if event.need_rescan() {
        return Change::Rescan;
    }
    match event.kind {
        // A close after writing ends an editor's save; other reads change nothing.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
        EventKind::Access(_) => return Change::Ignore,
        _ => {}
    }
    let mut paths = Vec::new();
    for path in &event.paths {
        if posts_dir.starts_with(path) {
            // The folder's own metadata (a chmod, a touch) changes no post.
            if matches!(
                event.kind,
                EventKind::Create(_)
                    | EventKind::Remove(_)
                    | EventKind::Modify(ModifyKind::Name(_))
                    | EventKind::Any
                    | EventKind::Other
            ) {
                return Change::Rearm;
            }
            continue;
        }
        let Ok(rel) = path.strip_prefix(posts_dir) else {
            continue;
        };
        if may_hold_posts(rel) {
            paths.push(scan::to_slash(rel));
        }
    }
    if paths.is_empty() {
        Change::Ignore
    } else {
        Change::Paths(paths)
    }
}

/// What an event tells of the post files it names: whether a writer may still be at work
/// on them, and whether they have only just come or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writing {
    /// Created: a writer is about to fill it, and it has only just come to exist. (A link
    /// made with `ln` is created too, with no writer behind it; the watch tells it apart.)
    Created,
    /// Written to: a read now could see half a save.
    Written,
    /// Closed after writing: that save is over.
    Closed,
    /// Removed or renamed in or out: nothing more is coming, and it has only just come or
    /// gone.
    Moved,
}

/// The post files an event creates, writes, closes or moves. Pure, like [`classify`].
pub fn writing(event: &notify::Event, posts_dir: &Path) -> Option<(Writing, Vec<String>)> {
    let state = match event.kind {
        EventKind::Create(_) => Writing::Created,
        EventKind::Modify(ModifyKind::Data(_)) => Writing::Written,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Writing::Closed,
        EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_)) => Writing::Moved,
        _ => return None,
    };
    let paths: Vec<String> = event
        .paths
        .iter()
        .filter_map(|path| path.strip_prefix(posts_dir).ok())
        .filter(|rel| post::is_post_path(rel))
        .map(scan::to_slash)
        .collect();
    (!paths.is_empty()).then_some((state, paths))
}

/// True when the post file at `rel` was created as a link (`ln`, `ln -s`): nothing writes
/// it and no close will follow, so it must not be held as a file being written.
fn has_no_writer(posts_dir: &Path, rel: &str) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(posts_dir.join(rel)) else {
        // Already gone: there is nothing left to wait for.
        return true;
    };
    #[cfg(unix)]
    let linked = std::os::unix::fs::MetadataExt::nlink(&meta) > 1;
    #[cfg(not(unix))]
    let linked = false;
    meta.file_type().is_symlink() || linked
}

/// True for a post file, or a path that may be a folder of them. The file-name rules
/// themselves live in [`post::is_post_path`]: a folder may hold posts when a post file in
/// it would be one.
fn may_hold_posts(rel: &Path) -> bool {
    post::is_post_path(rel) || post::is_post_path(&rel.join("post.md"))
}

/// The watch could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot start the file watcher: {0}; on Linux, raise fs.inotify.max_user_instances")]
    Start(#[source] notify::Error),
    #[error("{path}: cannot watch the folder: {err}; check that it exists and is readable (on Linux, raise fs.inotify.max_user_watches for large trees)")]
    Folder {
        path: PathBuf,
        #[source]
        err: notify::Error,
    },
}

/// A running watch. Dropping it stops the watcher.
pub struct Watch {
    /// Debounced change sets, in order.
    pub changes: mpsc::Receiver<ChangeSet>,
    /// The paths the watch has seen change and not yet sent: a periodic rescan must not
    /// read them half written.
    held: Arc<Mutex<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    /// A full scan of the folder that leaves alone every file this watch has yet to send:
    /// it may be half written, or gone again in a moment, and comes in its own change
    /// set once it is ready.
    pub fn rescan(&self) -> ChangeSet {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        ChangeSet {
            held: held.clone(),
            ..ChangeSet::everything()
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `posts_dir` (an absolute path). Events closer than `debounce` to each
/// other are one change set; a change set waits at most `debounce` after its last event,
/// and at most [`MAX_WAIT`] in all under a steady stream of events. A file still open for
/// writing or still changing is held back from it, at most [`HOLD_CAP`].
///
/// A missing posts folder is not an error: its parent is watched, and the folder's own
/// watch is armed when it appears.
pub fn start(posts_dir: PathBuf, debounce: Duration) -> Result<Watch, WatchError> {
    let (raw_tx, raw_rx) = mpsc::unbounded_channel();
    // Linked folders are never entered: nothing is published through a link (`scan`
    // refuses links out, and a link in names files published where they are), so their
    // events would only put refusals of files no reader can get on /healthz.
    let mut watcher = notify::RecommendedWatcher::new(
        move |event| {
            // The receiver is gone only when the watch is shutting down.
            let _ = raw_tx.send(event);
        },
        notify::Config::default().with_follow_symlinks(false),
    )
    .map_err(WatchError::Start)?;
    if let Some(parent) = posts_dir.parent() {
        watcher
            .watch(parent, RecursiveMode::NonRecursive)
            .map_err(|err| WatchError::Folder {
                path: parent.to_path_buf(),
                err,
            })?;
    }
    if posts_dir.is_dir() {
        watcher
            .watch(&posts_dir, RecursiveMode::Recursive)
            .map_err(|err| WatchError::Folder {
                path: posts_dir.clone(),
                err,
            })?;
    } else {
        tracing::warn!(
            path = %posts_dir.display(),
            "the posts folder does not exist yet; it is watched for from its parent"
        );
    }
    let (tx, changes) = mpsc::channel(16);
    let state = Debounce::new(debounce);
    let held = Arc::clone(&state.held);
    let task = tokio::spawn(debounce_loop(watcher, posts_dir, state, raw_rx, tx));
    Ok(Watch {
        changes,
        held,
        task,
    })
}

/// The longest a change set waits while events keep coming.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// The longest one file is held back while it stays open for writing or keeps changing.
/// Past it the file is published as it is, with a warning: a log appended to for good, or
/// a writer that never closes its file, must not keep every later version out of the
/// feeds. Long, because a save held too briefly is published torn; and it holds back that
/// one file only, never the rest of its change set.
pub const HOLD_CAP: Duration = Duration::from_secs(60);

/// The events gathered since the last change set went out, and when they are due. Every
/// method is told the time, so the rules are tested with literal instants.
///
/// A change set goes out once the folder has been quiet for the debounce (or at
/// [`MAX_WAIT`]), with every path that is *ready* then: closed by its writer and quiet
/// itself for the debounce. The others are held back and go out one by one as each
/// becomes ready, or at [`HOLD_CAP`]; meanwhile the last version read stays published.
/// Only events that may change a post count: a read, or a file beside the posts folder,
/// never moves a deadline.
#[derive(Debug)]
struct Debounce {
    /// The `posts.debounce_ms` setting: how long the folder, and each file, must stay
    /// quiet before it is read.
    debounce: Duration,
    /// Each path changed since it last went out.
    files: BTreeMap<String, Pending>,
    /// Events were lost, or the folder itself came or went: the next set asks for a scan.
    rescan: bool,
    /// When the events arriving now go out together; `None` once they have.
    batch: Option<Batch>,
    /// The paths of `files` left behind by a set that went out, not ready then: each goes
    /// out once ready, with the next batch if one is gathering.
    behind: BTreeSet<String>,
    /// The paths of `files`, shared with [`Watch::rescan`].
    held: Arc<Mutex<BTreeSet<String>>>,
}

/// When the events arriving now go out together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Batch {
    /// `debounce` after the last event: the folder has been quiet long enough.
    quiet_until: Instant,
    /// [`MAX_WAIT`] after the first event: a steady stream of events must not hold the
    /// set back for ever.
    give_up_at: Instant,
}

/// One path changed since it last went out, and what may hold it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    /// Its first event since it last went out: [`HOLD_CAP`] counts from here.
    first: Instant,
    /// Its last event: it is quiet `debounce` after it.
    last: Instant,
    /// Its last creation, removal or rename: a file that has existed (or been gone) for
    /// less than the debounce is not read, not even at the cap.
    moved: Option<Instant>,
    /// Created or written to, and not closed since: a read now could see half a save.
    open: bool,
}

impl Pending {
    fn new(now: Instant) -> Pending {
        Pending {
            first: now,
            last: now,
            moved: None,
            open: false,
        }
    }

    /// When it may be read, if no event comes first.
    fn ready_at(&self, debounce: Duration) -> Instant {
        let cap = self.first + HOLD_CAP;
        let cap = self.moved.map_or(cap, |moved| cap.max(moved + debounce));
        if self.open {
            cap
        } else {
            (self.last + debounce).min(cap)
        }
    }
}

impl Debounce {
    fn new(debounce: Duration) -> Debounce {
        Debounce {
            debounce,
            files: BTreeMap::new(),
            rescan: false,
            batch: None,
            behind: BTreeSet::new(),
            held: Arc::default(),
        }
    }

    /// Takes in one event seen at `now`: what it may have changed, and what it tells of
    /// the writing of the post files it names (see [`classify`] and [`writing`]).
    fn on_event(&mut self, now: Instant, change: Change, writes: Option<(Writing, Vec<String>)>) {
        let mut relevant = false;
        match change {
            Change::Ignore => {}
            Change::Paths(paths) => {
                for path in paths {
                    self.touch(now, path);
                }
                relevant = true;
            }
            Change::Rescan | Change::Rearm => {
                self.rescan = true;
                relevant = true;
            }
        }
        if let Some((writing, paths)) = writes {
            for path in paths {
                let file = self.touch(now, path);
                match writing {
                    Writing::Created => {
                        file.open = true;
                        file.moved = Some(now);
                    }
                    Writing::Written => file.open = true,
                    Writing::Closed => file.open = false,
                    Writing::Moved => {
                        file.open = false;
                        file.moved = Some(now);
                    }
                }
            }
            relevant = true;
        }
        // A read, or a file beside the posts folder, changes no post: were it to move the
        // quiet deadline, a file read every few milliseconds would hold every change set
        // back to MAX_WAIT.
        if !relevant {
            return;
        }
        let give_up_at = self.batch.map_or(now + MAX_WAIT, |batch| batch.give_up_at);
        self.batch = Some(Batch {
            quiet_until: now + self.debounce,
            give_up_at,
        });
    }

    /// The path's pending entry, its last event now.
    fn touch(&mut self, now: Instant, path: String) -> &mut Pending {
        let file = self.files.entry(path).or_insert_with_key(|path| {
            lock(&self.held).insert(path.clone());
            Pending::new(now)
        });
        file.last = now;
        file
    }

    /// When the next change set may go out if no event comes first; `None` when nothing
    /// is pending. While events arrive, the paths left behind wait for their batch: each
    /// going out alone as it becomes ready would make a publish per file of a long copy.
    fn next_deadline(&self) -> Option<Instant> {
        if let Some(batch) = self.batch {
            return Some(batch.quiet_until.min(batch.give_up_at));
        }
        self.behind
            .iter()
            .filter_map(|path| self.files.get(path))
            .map(|file| file.ready_at(self.debounce))
            .min()
    }

    /// The change set due at `now`, if any: every ready path once the batch is due, or,
    /// with no batch gathering, the paths left behind that have become ready. What is not
    /// ready is held back.
    fn on_deadline(&mut self, now: Instant) -> Option<ChangeSet> {
        if self.next_deadline()? > now {
            return None;
        }
        let batch_due = self
            .batch
            .is_some_and(|batch| batch.quiet_until.min(batch.give_up_at) <= now);
        let mut set = ChangeSet::default();
        let candidates: Vec<String> = if batch_due {
            self.batch = None;
            set.rescan = std::mem::take(&mut self.rescan);
            self.files.keys().cloned().collect()
        } else {
            self.behind.iter().cloned().collect()
        };
        for path in candidates {
            let Some(file) = self.files.get(&path) else {
                continue;
            };
            if file.ready_at(self.debounce) > now {
                self.behind.insert(path);
                continue;
            }
            if file.open || file.last + self.debounce > now {
                tracing::warn!(
                    path = %path,
                    held_secs = HOLD_CAP.as_secs(),
                    still_open = file.open,
                    "publishing a post file that is still being written; a writer should close the file (or write it elsewhere and rename it in) when it is done"
                );
            }
            self.files.remove(&path);
            self.behind.remove(&path);
            lock(&self.held).remove(&path);
            set.paths.insert(path);
        }
        set.held = self.files.keys().cloned().collect();
        (!set.is_empty()).then_some(set)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding it; were it poisoned, the set inside is still whole.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The watch task: feeds [`Debounce`] the watcher's events and sends each change set it
/// gives, until either channel closes.
async fn debounce_loop(
    mut watcher: notify::RecommendedWatcher,
    posts_dir: PathBuf,
    mut state: Debounce,
    mut raw: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    tx: mpsc::Sender<ChangeSet>,
) {
    loop {
        let deadline = state.next_deadline();
        tokio::select! {
            // An event already queued when the deadline passes still belongs to the
            // pending set: it may open a write that must hold its file back.
            biased;
            event = raw.recv() => {
                let Some(event) = event else { break };
                let change = classify(&event, &posts_dir);
                match change {
                    Change::Rescan => {
                        tracing::warn!("the file watcher lost events; scanning the posts folder again");
                    }
                    Change::Rearm => rearm(&mut watcher, &posts_dir),
                    Change::Paths(_) | Change::Ignore => {}
                }
                let writes = event.as_ref().ok().and_then(|event| writes_of(event, &posts_dir));
                state.on_event(Instant::now(), change, writes);
            }
            // Unconstrained, as `timeout_at`'s timer is: a flood of events that uses up
            // the task's coop budget must not keep a due set from going out.
            () = tokio::task::unconstrained(sleep_until(deadline)) => {
                if let Some(changes) = state.on_deadline(Instant::now()) {
                    if tx.send(changes).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    // Nothing will send what is held now: the periodic rescan must read it.
    lock(&state.held).clear();
}

/// [`writing`], with a link (`ln`) taken for what it is: created with no writer behind it.
fn writes_of(event: &notify::Event, posts_dir: &Path) -> Option<(Writing, Vec<String>)> {
    let (writing, paths) = writing(event, posts_dir)?;
    let linked =
        writing == Writing::Created && paths.iter().all(|rel| has_no_writer(posts_dir, rel));
    Some((if linked { Writing::Moved } else { writing }, paths))
}

/// Arms the posts folder's watch again, after the folder itself came or went. Runs before
/// the change set's scan lists the folder, so nothing written after the listing goes
/// unseen.
fn rearm(watcher: &mut notify::RecommendedWatcher, posts_dir: &Path) {
    let _ = watcher.unwatch(posts_dir);
    if posts_dir.is_dir() {
        if let Err(error) = watcher.watch(posts_dir, RecursiveMode::Recursive) {
            tracing::warn!(
                %error,
                path = %posts_dir.display(),
                "cannot watch the posts folder again; the periodic rescan (posts.rescan_secs) still sees changes"
            );
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, Flag, MetadataKind, RemoveKind, RenameMode};

    const DIR: &str = "/site/posts";

    fn event(kind: EventKind, paths: &[&str]) -> notify::Result<notify::Event> {
        let mut event = notify::Event::new(kind);
        for path in paths {
            event = event.add_path(PathBuf::from(path));
        }
        Ok(event)
    }

    fn classify(result: notify::Result<notify::Event>) -> Change {
        super::classify(&result, Path::new(DIR))
    }

    fn paths(list: &[&str]) -> Change {
        Change::Paths(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_write_to_a_post_names_its_path() {
        assert_eq!(
            classify(event(
                EventKind::Modify(ModifyKind::Data(DataChange::Any)),
                &["/site/posts/en/hello.md"]
            )),
            paths(&["en/hello.md"])
        );
        assert_eq!(
            classify(event(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                &["/site/posts/a.txt"]
            )),
            paths(&["a.txt"])
        );
    }

    #[test]
    fn a_rename_names_both_ends() {
        assert_eq!(
            classify(event(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &["/site/posts/a.md", "/site/posts/b.md"]
            )),
            paths(&["a.md", "b.md"])
        );
        // Moved out to a folder that is not watched: only the old path counts.
        assert_eq!(
            classify(event(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &["/site/posts/a.md", "/tmp/a.md"]
            )),
            paths(&["a.md"])
        );
    }

    #[test]
    fn an_editor_save_through_a_temp_file_names_the_post_only() {
        assert_eq!(
            classify(event(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &["/site/posts/.a.md.swp", "/site/posts/a.md"]
            )),
            paths(&["a.md"])
        );
        assert_eq!(
            classify(event(
                EventKind::Create(CreateKind::File),
                &["/site/posts/.hidden/a.md"]
            )),
            Change::Ignore
        );
    }

    #[test]
    fn a_folder_is_named_so_its_posts_are_read() {
        assert_eq!(
            classify(event(
                EventKind::Create(CreateKind::Folder),
                &["/site/posts/2024"]
            )),
            paths(&["2024"])
        );
    }

    #[test]
    fn reads_and_files_beside_the_posts_folder_are_ignored() {
        assert_eq!(
            classify(event(
                EventKind::Access(AccessKind::Open(AccessMode::Read)),
                &["/site/posts/a.md"]
            )),
            Change::Ignore
        );
        assert_eq!(
            classify(event(
                EventKind::Modify(ModifyKind::Any),
                &["/site/config.toml"]
            )),
            Change::Ignore
        );
        // A sibling whose name starts like the folder's is not inside it.
        assert_eq!(
            classify(event(
                EventKind::Create(CreateKind::File),
                &["/site/posts-old/a.md"]
            )),
            Change::Ignore
        );
    }

    #[test]
    fn the_posts_folder_itself_coming_or_going_rearms_the_watch() {
        assert_eq!(
            classify(event(
                EventKind::Remove(RemoveKind::Folder),
                &["/site/posts"]
            )),
            Change::Rearm
        );
        assert_eq!(
            classify(event(
                EventKind::Create(CreateKind::Folder),
                &["/site/posts"]
            )),
            Change::Rearm
        );
        assert_eq!(
            classify(event(
                EventKind::Modify(ModifyKind::Name(RenameMode::From)),
                &["/site"]
            )),
            Change::Rearm
        );
        assert_eq!(
            classify(event(
                EventKind::Modify(ModifyKind::Metadata(MetadataKind::Permissions)),
                &["/site/posts"]
            )),
            Change::Ignore
        );
    }

    #[test]
    fn an_overflow_or_an_error_asks_for_a_rescan() {
        let overflow = notify::Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert_eq!(classify(Ok(overflow)), Change::Rescan);
        assert_eq!(
            classify(Err(notify::Error::generic("inotify queue overflow"))),
            Change::Rescan
        );
    }

    #[test]
    fn a_post_file_is_created_written_closed_or_moved() {
        let writing = |kind, paths: &[&str]| {
            let event = event(kind, paths).unwrap();
            super::writing(&event, Path::new(DIR))
        };
        let post = || vec!["a/b.md".to_string()];
        assert_eq!(
            writing(EventKind::Create(CreateKind::File), &["/site/posts/a/b.md"]),
            Some((Writing::Created, post()))
        );
        assert_eq!(
            writing(
                EventKind::Modify(ModifyKind::Data(DataChange::Any)),
                &["/site/posts/a/b.md"]
            ),
            Some((Writing::Written, post()))
        );
        assert_eq!(
            writing(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                &["/site/posts/a/b.md"]
            ),
            Some((Writing::Closed, post()))
        );
        assert_eq!(
            writing(EventKind::Remove(RemoveKind::File), &["/site/posts/a/b.md"]),
            Some((Writing::Moved, post()))
        );
        assert_eq!(
            writing(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &["/site/posts/.b.md.swp", "/site/posts/a/b.md"]
            ),
            Some((Writing::Moved, post()))
        );
        // Not post files, or nothing a reader could see half of.
        assert_eq!(
            writing(
                EventKind::Modify(ModifyKind::Data(DataChange::Any)),
                &["/site/posts/.b.md.swp"]
            ),
            None
        );
        assert_eq!(
            writing(
                EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
                &["/site/posts/a/b.md"]
            ),
            None
        );
        assert_eq!(
            writing(
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                &["/site/posts/a/b.md"]
            ),
            None
        );
    }

    #[test]
    fn a_link_has_no_writer_and_a_new_file_has() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.md"), "ant").unwrap();
        assert!(!has_no_writer(dir.path(), "a.md"));
        std::fs::hard_link(dir.path().join("a.md"), dir.path().join("b.md")).unwrap();
        assert!(has_no_writer(dir.path(), "b.md"));
        std::os::unix::fs::symlink("a.md", dir.path().join("c.md")).unwrap();
        assert!(has_no_writer(dir.path(), "c.md"));
        assert!(has_no_writer(dir.path(), "gone.md"));
    }

    fn t(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    const DEBOUNCE: Duration = Duration::from_millis(50);

    fn post(path: &str) -> Vec<String> {
        vec![path.to_string()]
    }

    fn set(list: &[&str]) -> ChangeSet {
        ChangeSet {
            paths: list.iter().map(|s| s.to_string()).collect(),
            ..ChangeSet::default()
        }
    }

    fn set_holding(list: &[&str], held: &[&str]) -> ChangeSet {
        ChangeSet {
            held: held.iter().map(|s| s.to_string()).collect(),
            ..set(list)
        }
    }

    /// A debounce fed at literal offsets from `start`.
    struct Fed {
        state: Debounce,
        start: Instant,
    }

    impl Fed {
        fn new() -> Fed {
            Fed {
                state: Debounce::new(DEBOUNCE),
                start: Instant::now(),
            }
        }

        fn feed(&mut self, ms: u64, writing: Writing, path: &str) {
            let at = self.start + t(ms);
            let writes = Some((writing, post(path)));
            self.state.on_event(at, Change::Paths(post(path)), writes);
        }

        /// A save of `path` that ended (the file was closed after writing) at `ms`.
        fn saved(&mut self, ms: u64, path: &str) {
            self.feed(ms, Writing::Closed, path);
        }

        /// `path` created at `ms`, and left open.
        fn created(&mut self, ms: u64, path: &str) {
            self.feed(ms, Writing::Created, path);
        }

        /// A write to `path` at `ms`, with the file left open.
        fn written(&mut self, ms: u64, path: &str) {
            self.feed(ms, Writing::Written, path);
        }

        /// `path` removed at `ms`.
        fn removed(&mut self, ms: u64, path: &str) {
            self.feed(ms, Writing::Moved, path);
        }

        fn event(&mut self, ms: u64, change: Change) {
            self.state.on_event(self.start + t(ms), change, None);
        }

        /// The next deadline, as an offset from `start`.
        fn deadline(&self) -> Option<Duration> {
            self.state.next_deadline().map(|at| at - self.start)
        }

        fn at(&mut self, ms: u64) -> Option<ChangeSet> {
            self.state.on_deadline(self.start + t(ms))
        }

        /// What [`Watch::rescan`] would leave alone now.
        fn held(&self) -> BTreeSet<String> {
            lock(&self.state.held).clone()
        }
    }

    #[test]
    fn nothing_pending_has_no_deadline() {
        let mut fed = Fed::new();
        assert_eq!(fed.deadline(), None);
        fed.event(0, Change::Ignore);
        assert_eq!(fed.deadline(), None);
        assert_eq!(fed.at(10_000), None);
    }

    #[test]
    fn events_closer_than_the_debounce_are_one_set_due_a_debounce_after_the_last() {
        let mut fed = Fed::new();
        fed.saved(0, "a.md");
        assert_eq!(fed.deadline(), Some(t(50)));
        fed.saved(30, "b.md");
        assert_eq!(fed.deadline(), Some(t(80)));
        assert_eq!(fed.at(79), None);
        assert_eq!(fed.at(80), Some(set(&["a.md", "b.md"])));
        assert_eq!(fed.deadline(), None);
        assert_eq!(fed.at(200), None);
    }

    #[test]
    fn a_steady_stream_of_events_is_due_at_max_wait_after_the_first() {
        let mut fed = Fed::new();
        for ms in (0..1000).step_by(30) {
            fed.saved(ms, &format!("{ms}.md"));
        }
        assert_eq!(fed.deadline(), Some(MAX_WAIT));
        // Saved less than the debounce before: not quiet yet, so each waits for its own.
        let first = fed.at(1000).unwrap();
        assert_eq!(first.paths.len(), 32);
        assert_eq!(first.paths.last().map(String::as_str), Some("930.md"));
        assert_eq!(
            first.held,
            BTreeSet::from(["960.md".to_string(), "990.md".to_string()])
        );
        assert_eq!(fed.deadline(), Some(t(1010)));
        assert_eq!(fed.at(1010), Some(set_holding(&["960.md"], &["990.md"])));
        assert_eq!(fed.at(1040), Some(set(&["990.md"])));
        // The next set counts its caps from its own first event.
        fed.saved(1050, "late.md");
        assert_eq!(fed.deadline(), Some(t(1100)));
    }

    #[test]
    fn a_file_left_behind_goes_out_with_the_batch_gathering_when_it_is_ready() {
        let mut fed = Fed::new();
        for ms in (0..1000).step_by(30) {
            fed.saved(ms, &format!("{ms}.md"));
        }
        assert_eq!(fed.at(1000).map(|set| set.paths.len()), Some(32));
        // A copy goes on: what was left behind joins it rather than going out alone, a
        // publish for each file.
        fed.saved(1005, "next.md");
        assert_eq!(fed.deadline(), Some(t(1055)));
        assert_eq!(fed.at(1010), None);
        assert_eq!(fed.at(1055), Some(set(&["960.md", "990.md", "next.md"])));
    }

    #[test]
    fn an_ignored_event_leaves_every_deadline_where_it_was() {
        let mut fed = Fed::new();
        fed.saved(0, "a.md");
        // Reads of the config beside the folder every 10 ms, and of the post itself.
        for ms in (10..1000).step_by(10) {
            fed.event(ms, Change::Ignore);
            assert_eq!(fed.deadline(), Some(t(50)), "at {ms} ms");
        }
        assert_eq!(fed.at(50), Some(set(&["a.md"])));
        fed.event(60, Change::Ignore);
        assert_eq!(fed.deadline(), None);
    }

    #[test]
    fn a_file_open_for_writing_is_held_back_while_the_rest_of_its_set_goes_out() {
        let mut fed = Fed::new();
        fed.created(0, "slow.md");
        fed.saved(10, "quick.md");
        assert_eq!(fed.deadline(), Some(t(60)));
        assert_eq!(fed.at(60), Some(set_holding(&["quick.md"], &["slow.md"])));
        assert_eq!(fed.held(), BTreeSet::from(["slow.md".to_string()]));
        // Written every 500 ms for 5 s: never published half way.
        for ms in (500..=5000).step_by(500) {
            fed.written(ms, "slow.md");
            assert_eq!(fed.deadline(), Some(t(ms + 50)));
            assert_eq!(fed.at(ms + 50), None, "at {ms} ms");
            assert_eq!(fed.deadline(), Some(HOLD_CAP));
        }
        // Another post meanwhile goes out on time, alone.
        fed.saved(5100, "other.md");
        assert_eq!(fed.at(5150), Some(set_holding(&["other.md"], &["slow.md"])));
        // Closed: it goes out once quiet.
        fed.saved(5200, "slow.md");
        assert_eq!(fed.at(5249), None);
        assert_eq!(fed.at(5250), Some(set(&["slow.md"])));
        assert_eq!(fed.deadline(), None);
        assert_eq!(fed.held(), BTreeSet::new());
    }

    #[test]
    fn a_file_that_keeps_changing_is_held_until_it_is_quiet() {
        let mut fed = Fed::new();
        // Saved (closed) every 30 ms: each save ends before the debounce does.
        for ms in (0..3000).step_by(30) {
            fed.saved(ms, "log.md");
            assert!(fed.at(ms + 29).is_none(), "at {ms} ms");
        }
        assert_eq!(fed.at(3019), None);
        assert_eq!(fed.at(3020), Some(set(&["log.md"])));
    }

    #[test]
    fn a_file_held_for_the_cap_is_published_as_it_is_and_held_again_after() {
        let mut fed = Fed::new();
        let cap = HOLD_CAP.as_millis() as u64;
        // Appended to every second by a writer that never closes it.
        fed.created(0, "log.md");
        fed.saved(10, "quick.md");
        assert_eq!(fed.at(60), Some(set_holding(&["quick.md"], &["log.md"])));
        for ms in (1000..cap).step_by(1000) {
            fed.written(ms, "log.md");
            assert_eq!(fed.at(ms + 50), None, "at {ms} ms");
        }
        assert_eq!(fed.deadline(), Some(HOLD_CAP));
        assert_eq!(fed.at(cap - 1), None);
        assert_eq!(fed.at(cap), Some(set(&["log.md"])));
        // Its next write holds it again, for a cap of its own.
        fed.written(cap + 1000, "log.md");
        assert_eq!(fed.at(cap + 1050), None);
        assert_eq!(fed.deadline(), Some(t(2 * cap + 1000)));
    }

    #[test]
    fn a_file_that_exists_for_less_than_the_debounce_is_never_read() {
        let mut fed = Fed::new();
        fed.created(0, "blink.md");
        fed.saved(1, "blink.md");
        fed.removed(30, "blink.md");
        // Read only after it has been gone for the debounce: the read finds nothing.
        assert_eq!(fed.at(79), None);
        assert_eq!(fed.at(80), Some(set(&["blink.md"])));

        // Created and removed every 10 ms for the whole cap and past it.
        let mut fed = Fed::new();
        let cap = HOLD_CAP.as_millis() as u64;
        for ms in (0..cap + 500).step_by(10) {
            fed.created(ms, "blink.md");
            fed.removed(ms + 2, "blink.md");
            assert_eq!(fed.at(ms + 9), None, "at {ms} ms");
        }
        assert_eq!(fed.at(cap + 500 + 50), Some(set(&["blink.md"])));
    }

    #[test]
    fn a_file_left_open_by_a_writer_that_stopped_is_read_at_the_cap() {
        let mut fed = Fed::new();
        fed.written(0, "a.md");
        assert_eq!(fed.at(50), None);
        assert_eq!(fed.deadline(), Some(HOLD_CAP));
        assert_eq!(fed.at(HOLD_CAP.as_millis() as u64), Some(set(&["a.md"])));
        // The open file no longer holds anything back.
        fed.saved(HOLD_CAP.as_millis() as u64 + 100, "c.md");
        assert_eq!(fed.deadline(), Some(HOLD_CAP + t(150)));
    }

    #[test]
    fn lost_events_and_a_rearmed_watch_ask_for_a_rescan_that_leaves_held_files_alone() {
        for change in [Change::Rescan, Change::Rearm] {
            let mut fed = Fed::new();
            fed.written(0, "slow.md");
            fed.event(10, change);
            assert_eq!(
                fed.at(60),
                Some(ChangeSet {
                    rescan: true,
                    ..set_holding(&[], &["slow.md"])
                })
            );
        }
    }

    /// The watch task over a real watcher that watches nothing; the test hands it events.
    fn debounced() -> (
        mpsc::UnboundedSender<notify::Result<notify::Event>>,
        mpsc::Receiver<ChangeSet>,
    ) {
        let watcher = notify::recommended_watcher(|_: notify::Result<notify::Event>| {}).unwrap();
        let (raw_tx, raw_rx) = mpsc::unbounded_channel();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(debounce_loop(
            watcher,
            PathBuf::from(DIR),
            Debounce::new(DEBOUNCE),
            raw_rx,
            tx,
        ));
        (raw_tx, rx)
    }

    fn saved(rel: &str) -> notify::Result<notify::Event> {
        event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            &[&format!("{DIR}/{rel}")],
        )
    }

    #[tokio::test(start_paused = true)]
    async fn events_closer_than_the_debounce_arrive_as_one_change_set() {
        let (events, mut changes) = debounced();
        let start = Instant::now();
        events.send(saved("a.md")).unwrap();
        tokio::time::sleep(t(30)).await;
        events.send(saved("b.md")).unwrap();
        assert_eq!(changes.recv().await, Some(set(&["a.md", "b.md"])));
        assert_eq!(start.elapsed(), t(80));
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_set_goes_out_once_the_folder_is_quiet() {
        let (events, mut changes) = debounced();
        let start = Instant::now();
        events.send(saved("a.md")).unwrap();
        assert_eq!(changes.recv().await, Some(set(&["a.md"])));
        assert_eq!(start.elapsed(), DEBOUNCE);

        tokio::time::sleep(t(500)).await;
        events.send(saved("b.md")).unwrap();
        assert_eq!(changes.recv().await, Some(set(&["b.md"])));
        assert_eq!(start.elapsed(), t(600));
    }

    #[tokio::test(start_paused = true)]
    async fn reads_beside_the_posts_folder_never_delay_a_change_set() {
        let (events, mut changes) = debounced();
        let start = Instant::now();
        tokio::spawn(async move {
            // The config beside the folder opened every 10 ms, and a post read.
            for ms in (0..3000).step_by(10) {
                tokio::time::sleep_until(start + t(ms)).await;
                let read = event(
                    EventKind::Access(AccessKind::Open(AccessMode::Any)),
                    &["/site/config.toml"],
                );
                let post_read = event(
                    EventKind::Access(AccessKind::Open(AccessMode::Any)),
                    &[&format!("{DIR}/old.md")],
                );
                if events.send(read).is_err() || events.send(post_read).is_err() {
                    return;
                }
                if ms == 100 {
                    let _ = events.send(saved("new.md"));
                }
            }
        });
        assert_eq!(changes.recv().await, Some(set(&["new.md"])));
        assert_eq!(start.elapsed(), t(150));
    }

    #[tokio::test(start_paused = true)]
    async fn max_wait_flushes_a_steady_stream_of_events() {
        let (events, mut changes) = debounced();
        let start = Instant::now();
        tokio::spawn(async move {
            // One save every 30 ms, each closer than the debounce to the one before.
            for ms in (0..3000).step_by(30) {
                tokio::time::sleep_until(start + t(ms)).await;
                if events.send(saved(&format!("{ms}.md"))).is_err() {
                    return;
                }
            }
        });
        let first = changes.recv().await.unwrap();
        assert_eq!(start.elapsed(), MAX_WAIT);
        assert_eq!(first.paths.len(), 32);
        assert!(first.paths.contains("930.md"));
        // Saved less than the debounce before the cap: each goes out once ready, alone
        // while no event comes, or with the next batch.
        let behind = changes.recv().await.unwrap();
        assert_eq!(start.elapsed(), t(1010));
        assert_eq!(behind.paths, BTreeSet::from(["960.md".to_string()]));
        let second = changes.recv().await.unwrap();
        assert_eq!(start.elapsed(), t(2020));
        assert_eq!(second.paths.len(), 33);
        assert_eq!(second.paths.first().map(String::as_str), Some("1020.md"));
        assert!(second.paths.contains("990.md"));
        assert!(!second.paths.contains("1980.md"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_left_open_is_published_at_the_hold_cap() {
        let (events, mut changes) = debounced();
        let start = Instant::now();
        let write = event(
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            &[&format!("{DIR}/a.md")],
        );
        events.send(write).unwrap();
        assert_eq!(changes.recv().await, Some(set(&["a.md"])));
        assert_eq!(start.elapsed(), HOLD_CAP);
    }
}
