//! File system events → debounced [`ChangeSet`]s of paths under the posts folder.
//!
//! notify's events are mapped to our small [`Change`] enum in one pure function,
//! [`classify`], so the rules are tested without a file system. The watcher itself lives
//! in a task that owns it, because re-arming a watch must not happen on notify's own
//! thread (its event loop would wait on itself).
//!
//! Two watches are kept: the posts folder, recursively, and its parent, not recursively.
//! inotify drops a watch when its folder is removed or moved away; the parent's watch sees
//! the folder come back, and the watch on it is armed again. Knows nothing of HTTP.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
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
}

impl ChangeSet {
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

/// Whether an event opens or ends a write of the post files it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writing {
    /// Written to (or created) and not yet closed: reading now could see half a save.
    Open,
    /// Closed after writing, removed or renamed away: nothing more is coming.
    Done,
}

/// The post files an event starts or ends a write of. Pure, like [`classify`].
pub fn writing(event: &notify::Event, posts_dir: &Path) -> Option<(Writing, Vec<String>)> {
    let state = match event.kind {
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_)) => Writing::Open,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
        | EventKind::Remove(_)
        | EventKind::Modify(ModifyKind::Name(_)) => Writing::Done,
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
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `posts_dir` (an absolute path). Events closer than `debounce` to each
/// other are one change set; a change set waits at most `debounce` after its last event,
/// and at most [`MAX_WAIT`] in all under a steady stream of events.
///
/// A missing posts folder is not an error: its parent is watched, and the folder's own
/// watch is armed when it appears.
pub fn start(posts_dir: PathBuf, debounce: Duration) -> Result<Watch, WatchError> {
    let (raw_tx, raw_rx) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        // The receiver is gone only when the watch is shutting down.
        let _ = raw_tx.send(event);
    })
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
    let task = tokio::spawn(debounce_loop(watcher, posts_dir, debounce, raw_rx, tx));
    Ok(Watch { changes, task })
}

/// The longest a change set waits while events keep coming.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// The longest a change set waits for a file that is still open for writing: a writer
/// that pauses mid-save must not get half its post published, but one that keeps a
/// file open for good must not hold every other change back.
pub const WRITE_WAIT: Duration = Duration::from_secs(2);

/// The events gathered since the last change set went out, and when they are due.
/// Every method is told the time, so the rules are tested with literal instants.
#[derive(Debug)]
struct Debounce {
    /// The `posts.debounce_ms` setting: how long the folder must stay quiet before the
    /// pending change set goes out.
    debounce: Duration,
    /// What has changed since the last change set went out.
    pending: ChangeSet,
    /// Post files written to and not yet closed: reading one now could see half a save,
    /// so while any is open the set waits for [`Deadlines::write_wait_until`] instead.
    open: BTreeSet<String>,
    /// `None` while nothing is pending: then only an event can wake the loop.
    due: Option<Deadlines>,
}

/// When a pending change set goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadlines {
    /// `debounce` after the last event: the folder has been quiet long enough.
    quiet_until: Instant,
    /// [`MAX_WAIT`] after the first event: a steady stream of events must not hold the
    /// set back for ever.
    give_up_at: Instant,
    /// [`WRITE_WAIT`] after the first event: the set goes out then even with files still
    /// open for writing.
    write_wait_until: Instant,
}

impl Debounce {
    fn new(debounce: Duration) -> Debounce {
        Debounce {
            debounce,
            pending: ChangeSet::default(),
            open: BTreeSet::new(),
            due: None,
        }
    }

    /// Takes in one event seen at `now`: what it may have changed, and which post files
    /// it opens or ends a write of (see [`classify`] and [`writing`]).
    fn on_event(&mut self, now: Instant, change: Change, writes: Option<(Writing, Vec<String>)>) {
        match writes {
            Some((Writing::Open, paths)) => self.open.extend(paths),
            Some((Writing::Done, paths)) => {
                for path in paths {
                    self.open.remove(&path);
                }
            }
            None => {}
        }
        match change {
            Change::Ignore => {}
            Change::Paths(paths) => self.pending.paths.extend(paths),
            Change::Rescan | Change::Rearm => self.pending.rescan = true,
        }
        if self.pending.is_empty() {
            return;
        }
        // Any event, even an ignored one, moves the quiet deadline while a set is
        // pending; the caps count from the set's first event.
        let (give_up_at, write_wait_until) =
            self.due.map_or((now + MAX_WAIT, now + WRITE_WAIT), |due| {
                (due.give_up_at, due.write_wait_until)
            });
        self.due = Some(Deadlines {
            quiet_until: now + self.debounce,
            give_up_at,
            write_wait_until,
        });
    }

    /// When the pending set goes out if no event comes first; `None` when nothing is
    /// pending.
    fn next_deadline(&self) -> Option<Instant> {
        let due = self.due?;
        Some(if self.open.is_empty() {
            due.quiet_until.min(due.give_up_at)
        } else {
            due.write_wait_until
        })
    }

    /// The pending change set, if it is due at `now`. Files still open for writing are
    /// forgotten: their writers had [`WRITE_WAIT`].
    fn on_deadline(&mut self, now: Instant) -> Option<ChangeSet> {
        if self.next_deadline()? > now {
            return None;
        }
        self.due = None;
        if !self.open.is_empty() {
            tracing::debug!(
                open = ?self.open,
                waited_secs = WRITE_WAIT.as_secs(),
                "publishing files still open for writing"
            );
            self.open.clear();
        }
        Some(std::mem::take(&mut self.pending))
    }
}

/// The watch task: feeds [`Debounce`] the watcher's events and sends each change set it
/// gives, until either channel closes.
async fn debounce_loop(
    mut watcher: notify::RecommendedWatcher,
    posts_dir: PathBuf,
    debounce: Duration,
    mut raw: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    tx: mpsc::Sender<ChangeSet>,
) {
    let mut state = Debounce::new(debounce);
    loop {
        let deadline = state.next_deadline();
        tokio::select! {
            // An event already queued when the deadline passes still belongs to the
            // pending set: it may open a write that must hold the set back.
            biased;
            event = raw.recv() => {
                let Some(event) = event else { return };
                let change = classify(&event, &posts_dir);
                match change {
                    Change::Rescan => {
                        tracing::warn!("the file watcher lost events; scanning the posts folder again");
                    }
                    Change::Rearm => rearm(&mut watcher, &posts_dir),
                    Change::Paths(_) | Change::Ignore => {}
                }
                let writes = event.as_ref().ok().and_then(|event| writing(event, &posts_dir));
                state.on_event(Instant::now(), change, writes);
            }
            // Unconstrained, as `timeout_at`'s timer is: a flood of events that uses up
            // the task's coop budget must not keep a due set from going out.
            () = tokio::task::unconstrained(sleep_until(deadline)) => {
                if let Some(changes) = state.on_deadline(Instant::now()) {
                    if tx.send(changes).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
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
    fn a_write_is_open_until_the_file_is_closed_removed_or_renamed() {
        let writing = |kind, paths: &[&str]| {
            let event = event(kind, paths).unwrap();
            super::writing(&event, Path::new(DIR))
        };
        let post = || vec!["a/b.md".to_string()];
        assert_eq!(
            writing(EventKind::Create(CreateKind::File), &["/site/posts/a/b.md"]),
            Some((Writing::Open, post()))
        );
        assert_eq!(
            writing(
                EventKind::Modify(ModifyKind::Data(DataChange::Any)),
                &["/site/posts/a/b.md"]
            ),
            Some((Writing::Open, post()))
        );
        assert_eq!(
            writing(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                &["/site/posts/a/b.md"]
            ),
            Some((Writing::Done, post()))
        );
        assert_eq!(
            writing(EventKind::Remove(RemoveKind::File), &["/site/posts/a/b.md"]),
            Some((Writing::Done, post()))
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
            rescan: false,
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

        /// A save of `path` that ended (the file was closed after writing) at `ms`.
        fn saved(&mut self, ms: u64, path: &str) {
            let writes = Some((Writing::Done, post(path)));
            let at = self.start + t(ms);
            self.state.on_event(at, Change::Paths(post(path)), writes);
        }

        /// A write to `path` at `ms`, with the file left open.
        fn written(&mut self, ms: u64, path: &str) {
            let writes = Some((Writing::Open, post(path)));
            let at = self.start + t(ms);
            self.state.on_event(at, Change::Paths(post(path)), writes);
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
        assert_eq!(fed.at(1000).map(|set| set.paths.len()), Some(34));
        // The next set counts its caps from its own first event.
        fed.saved(1010, "late.md");
        assert_eq!(fed.deadline(), Some(t(1060)));
    }

    #[test]
    fn an_ignored_event_still_moves_the_quiet_deadline_of_a_pending_set() {
        let mut fed = Fed::new();
        fed.saved(0, "a.md");
        fed.event(40, Change::Ignore);
        assert_eq!(fed.deadline(), Some(t(90)));
    }

    #[test]
    fn a_file_open_for_writing_holds_the_set_until_it_is_closed() {
        let mut fed = Fed::new();
        fed.written(0, "a.md");
        assert_eq!(fed.deadline(), Some(WRITE_WAIT));
        assert_eq!(fed.at(50), None);
        // Closed after the debounce and after MAX_WAIT: the set is due at once.
        fed.saved(1500, "a.md");
        assert_eq!(fed.deadline(), Some(MAX_WAIT));
        assert_eq!(fed.at(1500), Some(set(&["a.md"])));
    }

    #[test]
    fn a_file_left_open_goes_out_at_write_wait_and_is_forgotten() {
        let mut fed = Fed::new();
        fed.written(0, "a.md");
        fed.saved(10, "b.md");
        assert_eq!(fed.at(1999), None);
        assert_eq!(fed.at(2000), Some(set(&["a.md", "b.md"])));
        // The open file no longer holds the next set back.
        fed.saved(2100, "c.md");
        assert_eq!(fed.deadline(), Some(t(2150)));
    }

    #[test]
    fn lost_events_and_a_rearmed_watch_ask_for_a_rescan() {
        for change in [Change::Rescan, Change::Rearm] {
            let mut fed = Fed::new();
            fed.event(0, change);
            assert_eq!(
                fed.at(50),
                Some(ChangeSet {
                    paths: BTreeSet::new(),
                    rescan: true
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
            DEBOUNCE,
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
        assert_eq!(first.paths.len(), 34);
        assert!(first.paths.contains("990.md"));
        let second = changes.recv().await.unwrap();
        assert_eq!(start.elapsed(), t(2020));
        assert_eq!(second.paths.first().map(String::as_str), Some("1020.md"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_left_open_is_published_after_write_wait() {
        let (events, mut changes) = debounced();
        let start = Instant::now();
        let write = event(
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            &[&format!("{DIR}/a.md")],
        );
        events.send(write).unwrap();
        assert_eq!(changes.recv().await, Some(set(&["a.md"])));
        assert_eq!(start.elapsed(), WRITE_WAIT);
    }
}
