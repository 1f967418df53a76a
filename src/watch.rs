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
            "{}: the posts folder does not exist yet; it is watched for from its parent",
            posts_dir.display()
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

async fn debounce_loop(
    mut watcher: notify::RecommendedWatcher,
    posts_dir: PathBuf,
    debounce: Duration,
    mut raw: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    tx: mpsc::Sender<ChangeSet>,
) {
    let mut pending = ChangeSet::default();
    // Post files written to and not yet closed.
    let mut open: BTreeSet<String> = BTreeSet::new();
    // When the pending set is due: `debounce` after its last event, capped by MAX_WAIT
    // after its first; and when it is due however many files are still open.
    let mut due: Option<(Instant, Instant, Instant)> = None;
    loop {
        let event = match due {
            None => raw.recv().await,
            Some((quiet, cap, open_cap)) => {
                let at = if open.is_empty() {
                    quiet.min(cap)
                } else {
                    open_cap
                };
                match tokio::time::timeout_at(at, raw.recv()).await {
                    Ok(event) => event,
                    Err(_) => {
                        due = None;
                        if !open.is_empty() {
                            tracing::debug!(
                                "publishing files still open for writing after {} s: {:?}",
                                WRITE_WAIT.as_secs(),
                                open
                            );
                            open.clear();
                        }
                        if tx.send(std::mem::take(&mut pending)).await.is_err() {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        let Some(event) = event else { return };
        if let Ok(event) = &event {
            match writing(event, &posts_dir) {
                Some((Writing::Open, paths)) => open.extend(paths),
                Some((Writing::Done, paths)) => {
                    for path in paths {
                        open.remove(&path);
                    }
                }
                None => {}
            }
        }
        match classify(&event, &posts_dir) {
            Change::Ignore => {}
            Change::Paths(paths) => pending.paths.extend(paths),
            Change::Rescan => {
                tracing::warn!("the file watcher lost events; scanning the posts folder again");
                pending.rescan = true;
            }
            Change::Rearm => {
                // Before the scan lists the folder, so nothing written after the listing
                // goes unseen.
                let _ = watcher.unwatch(&posts_dir);
                if posts_dir.is_dir() {
                    if let Err(err) = watcher.watch(&posts_dir, RecursiveMode::Recursive) {
                        tracing::warn!(
                            "{}: cannot watch the posts folder again: {err}; the periodic rescan (posts.rescan_secs) still sees changes",
                            posts_dir.display()
                        );
                    }
                }
                pending.rescan = true;
            }
        }
        if pending.is_empty() {
            continue;
        }
        let now = Instant::now();
        let (cap, open_cap) = due
            .map(|(_, cap, open_cap)| (cap, open_cap))
            .unwrap_or((now + MAX_WAIT, now + WRITE_WAIT));
        due = Some((now + debounce, cap, open_cap));
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
}
