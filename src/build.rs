//! `dropfeed build`: scan the posts once and write every route as a file, with `.gz` and
//! `.br` beside it, for any web server or CDN to serve.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::post::Problem;
use crate::routes;
use crate::scan;
use crate::snapshot::{Bodies, Rendered, Snapshot};
use crate::state::{State, StateError};

/// Why a build stopped.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A write that failed, with the file it was for. The error is in the message, not
    /// a source: the CLI prints the chain, and would print it twice.
    #[error("{path}: cannot write: {err}")]
    Write { path: PathBuf, err: std::io::Error },
    #[error("{0} is a file, not a folder; choose a folder for --out")]
    OutIsFile(PathBuf),
    /// `--out` holds files of its own: a build replaces the folder whole, so it would
    /// delete them.
    #[error(
        "{0} is not empty and is not the output of an earlier build; --out is replaced whole, so choose an empty or new folder"
    )]
    OutNotBuilt(PathBuf),
    #[error(transparent)]
    State(#[from] StateError),
}

/// What a build did.
#[derive(Debug)]
pub struct Report {
    /// Posts published.
    pub posts: usize,
    /// Files that failed to parse, and what the listing found wrong (a folder it cannot
    /// read, a link out of the posts folder): not published.
    pub errors: Vec<Problem>,
    pub files: usize,
}

/// A build's stages, in order, as [`Progress`] hears of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Listing and parsing every post file.
    Reading,
    /// Rendering and compressing the feeds, the home page and OPML.
    Rendering,
    /// Writing every route (post pages and list pages rendered on the way); the count of
    /// routes is known.
    Writing,
}

/// What a build reports as it goes: a progress bar on a terminal (`main.rs`), nothing
/// elsewhere. Called from the threads that write pages, hence `Sync`.
pub trait Progress: Sync {
    /// A stage begins; `steps` is how many [`Progress::advance`] calls it will make,
    /// when known.
    fn stage(&self, stage: Stage, steps: Option<u64>);
    /// `steps` more done in the current stage.
    fn advance(&self, steps: u64);
}

/// No progress shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn stage(&self, _: Stage, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
}

/// Builds every route of the posts as published at `now`, placed by the ledger of
/// `state` (which is saved), and puts them in `out` in place of what it held.
///
/// Every file is written into a fresh folder beside `out`, which takes its place only
/// once all of them are: a build that fails (a full disk) or is killed leaves the
/// previous output whole, and a rebuild leaves no page of a deleted post behind.
pub fn build(
    config: &Config,
    state: &mut State,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<Report, BuildError> {
    build_showing(config, state, out, now, &Quiet)
}

/// [`build`], telling `progress` how far it is.
pub fn build_showing(
    config: &Config,
    state: &mut State,
    out: &Path,
    now: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<Report, BuildError> {
    let staging = Staging::for_out(out)?;
    progress.stage(Stage::Reading, None);
    let mut catalog = scan::load_catalog(config, state, now, scan::BUILD_KEEPS_BYTES);
    let touched = catalog.take_touched();
    let remembered = state.remembered();
    let bodies: Arc<dyn Bodies> = Arc::new(scan::FileBodies::new(Arc::new(config.clone())));
    progress.stage(Stage::Rendering, None);
    let (snapshot, _) =
        Snapshot::default().next(&catalog, &touched, &remembered, &bodies, config, now);
    state.note_feeds(&snapshot.feed_names, &catalog, now);
    state.save()?;
    let snapshot = snapshot.compress_pending().unwrap_or(snapshot);
    let dir = staging.dir();
    let mut files = 0;
    // Every route that answers 200 but the health report, which is not written.
    let routes = snapshot.route_count().saturating_sub(1);
    progress.stage(Stage::Writing, u64::try_from(routes).ok());
    for (route, rendered) in snapshot.files() {
        files += write_route(dir, route, rendered)?;
        progress.advance(1);
    }
    let pages = std::sync::atomic::AtomicUsize::new(0);
    let linked = std::sync::Mutex::new(std::collections::BTreeSet::new());
    snapshot.each_page(|route, rendered| {
        let written = write_route(dir, route, &rendered)?;
        pages.fetch_add(written, std::sync::atomic::Ordering::Relaxed);
        progress.advance(1);
        let found = links_beside(&config.site.base_url, route, &rendered.body);
        if let Ok(mut linked) = linked.lock() {
            linked.extend(found);
        }
        Ok::<(), BuildError>(())
    })?;
    files += pages.into_inner();
    let mut linked = linked.into_inner().unwrap_or_default();
    linked.extend(snapshot.attachment_routes(&config.site.base_url));
    for route in linked.iter().filter(|route| !snapshot.has(route)) {
        if let Some(file) = snapshot.media(route) {
            copy_media(dir, route, file)?;
            files += 1;
        }
    }
    // A static host cannot answer the WordPress and Hugo aliases itself; this file, in
    // the format Netlify and Cloudflare Pages read, tells it how.
    let mut redirects = String::new();
    let feeds_on_request = snapshot.lazy_feed_routes();
    let prerendered = snapshot.files().into_iter().map(|(route, _)| route);
    for route in prerendered.chain(feeds_on_request.iter().map(String::as_str)) {
        for alias in routes::aliases_of(route) {
            redirects.push_str(&format!("{alias} {route} 301\n"));
        }
    }
    // Only to pages that are published, as the server redirects: a former page of a
    // draft or of a post dated in the future leads nowhere yet.
    for (from, to) in snapshot.redirects().filter(|(_, to)| snapshot.has(to)) {
        redirects.push_str(&format!("{from} {to} 301\n"));
    }
    // An archive's plain route, as the server answers it.
    for (from, to) in snapshot.archive_redirects() {
        redirects.push_str(&format!("{from} {to} 301\n"));
    }
    write(&dir.join("_redirects"), redirects.as_bytes())?;
    files += 1;
    staging.commit()?;
    Ok(Report {
        posts: catalog.visible(),
        errors: catalog.errors(),
        files,
    })
}

/// The file every build leaves in its output, so the next one knows the folder is its
/// own to replace.
const MARKER: &str = ".dropfeed-build";

/// A build's output while it is written: a folder of its own, beside `--out` (or inside
/// it, when `--out` is a mount point and nothing can be renamed over it), removed if the
/// build stops before [`Staging::commit`].
struct Staging {
    /// `--out`, resolved (a symlink to a folder is replaced at its target).
    out: PathBuf,
    /// Where the files are written.
    temp: PathBuf,
    /// `temp` is inside `out`: the files are moved in one by one, not swapped whole.
    inside: bool,
    /// `temp` is in place; nothing is left to remove.
    done: bool,
}

impl Staging {
    /// Checks that `out` may be replaced, and makes the folder to write in.
    fn for_out(out: &Path) -> Result<Staging, BuildError> {
        let fail = |path: &Path| {
            let path = path.to_path_buf();
            move |err| BuildError::Write { path, err }
        };
        let resolved = match std::fs::symlink_metadata(out) {
            Ok(_) => {
                let resolved = std::fs::canonicalize(out).map_err(fail(out))?;
                if !resolved.is_dir() {
                    return Err(BuildError::OutIsFile(out.to_path_buf()));
                }
                if !replaceable(&resolved).map_err(fail(out))? {
                    return Err(BuildError::OutNotBuilt(out.to_path_buf()));
                }
                resolved
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let parent = match out.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                std::fs::create_dir_all(parent).map_err(fail(parent))?;
                let name = out
                    .file_name()
                    .ok_or_else(|| BuildError::OutNotBuilt(out.to_path_buf()))?;
                std::fs::canonicalize(parent)
                    .map_err(fail(parent))?
                    .join(name)
            }
            Err(err) => return Err(fail(out)(err)),
        };
        // `/` has no parent to stage beside, and is not empty either.
        let parent = resolved
            .parent()
            .ok_or_else(|| BuildError::OutNotBuilt(out.to_path_buf()))?;
        let name = resolved.file_name().unwrap_or_default().to_string_lossy();
        let stage = |(folder, prefix): &(PathBuf, String)| -> std::io::Result<PathBuf> {
            remove_abandoned(folder, prefix);
            let temp = folder.join(format!("{prefix}{}", std::process::id()));
            // Left by an earlier build that had this process id and was killed.
            let _ = std::fs::remove_dir_all(&temp);
            std::fs::create_dir(&temp)?;
            Ok(temp)
        };
        let beside = (parent.to_path_buf(), format!(".{name}.dropfeed-tmp-"));
        let within = (resolved.clone(), format!("{MARKER}-tmp-"));
        let mut inside = is_mount_point(&resolved, parent);
        let mut staged = stage(if inside { &within } else { &beside });
        // A web root the builder owns in a folder it may not write (`/var/www/html`):
        // inside is the only place left.
        if !inside && resolved.is_dir() && staged.as_ref().is_err_and(cannot_write_there) {
            inside = true;
            staged = stage(&within);
        }
        let (folder, _) = if inside { &within } else { &beside };
        let temp = staged.map_err(fail(folder))?;
        // The new output keeps the permissions the old one was given (a web server's
        // group, say).
        if !inside {
            if let Ok(meta) = std::fs::metadata(&resolved) {
                let _ = std::fs::set_permissions(&temp, meta.permissions());
            }
        }
        Ok(Staging {
            out: resolved,
            temp,
            inside,
            done: false,
        })
    }

    fn dir(&self) -> &Path {
        &self.temp
    }

    /// Puts the files written in place of what `out` held.
    fn commit(mut self) -> Result<(), BuildError> {
        let fail = |path: &Path| {
            let path = path.to_path_buf();
            move |err| BuildError::Write { path, err }
        };
        write(
            &self.temp.join(MARKER),
            b"Written by dropfeed build. The next build replaces this folder whole.\n",
        )?;
        if self.inside {
            for entry in std::fs::read_dir(&self.out).map_err(fail(&self.out))? {
                let path = entry.map_err(fail(&self.out))?.path();
                if path != self.temp {
                    remove(&path).map_err(fail(&path))?;
                }
            }
            for entry in std::fs::read_dir(&self.temp).map_err(fail(&self.temp))? {
                let entry = entry.map_err(fail(&self.temp))?;
                let to = self.out.join(entry.file_name());
                std::fs::rename(entry.path(), &to).map_err(fail(&to))?;
            }
            std::fs::remove_dir(&self.temp).map_err(fail(&self.temp))?;
        } else if self.out.exists() {
            exchange(&self.temp, &self.out).map_err(fail(&self.out))?;
            // `temp` now holds the previous output. The new one is in place whatever
            // happens to it.
            if let Err(err) = std::fs::remove_dir_all(&self.temp) {
                tracing::warn!(
                    "{}: cannot remove the previous build: {err}; delete it by hand",
                    self.temp.display()
                );
            }
        } else {
            std::fs::rename(&self.temp, &self.out).map_err(fail(&self.out))?;
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.temp);
        }
    }
}

/// True when `out` may be replaced: it is empty, or an earlier build wrote it (it has
/// the marker, or, from builds before the marker, the index, OPML list and redirects
/// every build writes, which no folder of a user's own holds all together).
fn replaceable(out: &Path) -> std::io::Result<bool> {
    // A staging folder left inside by a killed build does not count.
    let mut entries = std::fs::read_dir(out)?.flatten();
    if entries.all(|e| e.file_name().to_string_lossy().starts_with(MARKER)) {
        return Ok(true);
    }
    let has = |name: &str| out.join(name).is_file();
    Ok(has(MARKER) || (has("index.html") && has("opml.xml") && has("_redirects")))
}

/// True when `dir` is on another file system than its `parent`: nothing can be renamed
/// over it, so a build must stage inside it.
fn is_mount_point(dir: &Path, parent: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(dir), std::fs::metadata(parent)) {
            (Ok(dir), Ok(parent)) => dir.dev() != parent.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (dir, parent);
        false
    }
}

/// True for the errors of a folder the builder may not write in.
fn cannot_write_there(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

/// Removes the staging folders in `folder` named `prefix` + a process id that is no
/// longer running: builds that were killed before they could clean up.
fn remove_abandoned(folder: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        // Only where running processes can be told; elsewhere the folder stays.
        let proc = Path::new("/proc");
        if pid.parse::<u32>().is_ok() && proc.is_dir() && !proc.join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes a file or a folder with everything in it.
fn remove(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// Swaps the folders `a` and `b`: at once where the system can (Linux), else by moving
/// `b` aside and `a` in its place, and `b` back if that fails.
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
        let (ca, cb) = (c(a)?, c(b)?);
        // SAFETY: two valid NUL-terminated paths, relative to nothing (both absolute).
        let done = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if done == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        // Not every file system can swap (EINVAL); the two moves below can.
        if err.raw_os_error() != Some(libc::EINVAL) && err.raw_os_error() != Some(libc::ENOSYS) {
            return Err(err);
        }
    }
    let name = b.file_name().unwrap_or_default().to_string_lossy();
    let aside = b.with_file_name(format!(".{name}.dropfeed-old"));
    std::fs::rename(b, &aside)?;
    if let Err(err) = std::fs::rename(a, b) {
        let _ = std::fs::rename(&aside, b);
        return Err(err);
    }
    // The caller removes `a`: it now holds what `b` held.
    std::fs::rename(&aside, a)
}

/// Writes a route's body, and its `.gz` and `.br` beside it; gives how many files.
fn write_route(out: &Path, route: &str, rendered: &Rendered) -> Result<usize, BuildError> {
    let path = out.join(routes::file_for(route));
    write(&path, &rendered.body)?;
    let mut files = 1;
    for (ext, bytes) in [("gz", &rendered.gzip), ("br", &rendered.br)] {
        if let Some(bytes) = bytes {
            let mut name = path.clone().into_os_string();
            name.push(".");
            name.push(ext);
            write(Path::new(&name), bytes)?;
            files += 1;
        }
    }
    Ok(files)
}

/// The routes a post's page links to in its own folder (`src="…/posts/launch/a.jpg"`):
/// where the server would serve the files beside the post, so `build` copies them
/// there. Only links, not every file of the folder: posts sharing a folder (`2019/`)
/// would otherwise each get a copy of all of its files.
fn links_beside(base_url: &str, route: &str, html: &[u8]) -> Vec<String> {
    let html = String::from_utf8_lossy(html);
    let prefix = format!("=\"{base_url}{}", routes::page_folder(route));
    let mut found = Vec::new();
    for (at, _) in html.match_indices(&prefix) {
        let start = at + 2 + base_url.len();
        let Some(value) = html.get(start..) else {
            continue;
        };
        let end = value.find(['"', '?', '#']).unwrap_or(value.len());
        let link = value[..end].replace("&amp;", "&");
        if let Ok(decoded) = percent_encoding::percent_decode_str(&link).decode_utf8() {
            if !decoded.ends_with('/') && !decoded.split('/').any(|s| s == ".." || s == ".") {
                found.push(decoded.into_owned());
            }
        }
    }
    found
}

/// Copies a media file to where its route is served from, a chunk at a time.
fn copy_media(
    out: &Path,
    route: &str,
    mut file: crate::snapshot::MediaFile,
) -> Result<(), BuildError> {
    let path = out.join(routes::file_for(route));
    let fail = |err| BuildError::Write {
        path: path.clone(),
        err,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut target = std::fs::File::create(&path).map_err(fail)?;
    std::io::copy(&mut file.content, &mut target).map_err(fail)?;
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let fail = |err| BuildError::Write {
        path: path.to_path_buf(),
        err,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, bytes).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    /// Every stage heard of, with its steps, and the steps done in each.
    #[derive(Default)]
    struct Recorded {
        stages: Mutex<Vec<(Stage, Option<u64>)>>,
        done: AtomicU64,
    }

    impl Progress for Recorded {
        fn stage(&self, stage: Stage, steps: Option<u64>) {
            self.stages.lock().unwrap().push((stage, steps));
        }
        fn advance(&self, steps: u64) {
            self.done.fetch_add(steps, Ordering::Relaxed);
        }
    }

    #[test]
    fn progress_hears_each_stage_and_every_route_written() {
        let dir = tempfile::tempdir().unwrap();
        let posts = dir.path().join("posts");
        std::fs::create_dir(&posts).unwrap();
        for (name, category) in [("a", "Transit"), ("b", "Transit"), ("c", "City Hall")] {
            let text =
                format!("Posted by Ann on May 1, 2020\nCategories: {category}\n\nText {name}.\n");
            std::fs::write(posts.join(format!("{name}.txt")), text).unwrap();
        }
        let config = Config::parse("", &dir.path().join("config.toml")).unwrap();
        let mut state = State::for_build(&config, false).unwrap();
        let recorded = Recorded::default();
        let out = dir.path().join("out");
        build_showing(&config, &mut state, &out, Utc::now(), &recorded).unwrap();
        let stages = recorded.stages.into_inner().unwrap();
        let writing = stages[2].1.unwrap();
        assert_eq!(
            stages,
            vec![
                (Stage::Reading, None),
                (Stage::Rendering, None),
                (Stage::Writing, Some(writing)),
            ]
        );
        // The bar ends full: as many routes written as announced. 4 feeds (the site, 2
        // categories, 1 author) in 3 formats, the home page, OPML, 3 post pages, and
        // the pages of the 2 categories and the author.
        assert_eq!(recorded.done.into_inner(), writing);
        assert_eq!(writing, 12 + 1 + 1 + 3 + 3);
    }
}
