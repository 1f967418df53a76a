//! Finding post files under the posts folder and turning one into a catalog update.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::catalog::Update;
use crate::config::Config;
use crate::post;

/// Every post file under `dir`, as `/`-separated paths relative to it, sorted. Hidden
/// folders are not entered; a missing folder has no posts. Symlinks are listed, not
/// followed into folders, so a dangling one is reported when it is read.
pub fn list(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    walk(dir, Path::new(""), &mut |rel, entry| {
        if !is_folder(entry) && post::is_post_path(rel) {
            found.push(to_slash(rel));
        }
    });
    found.sort();
    found
}

/// The newest modification time of `dir` and the folders under it (hidden ones left
/// out): when a file in them was last created, renamed or deleted.
pub fn newest_folder_change(dir: &Path) -> Option<DateTime<Utc>> {
    let mut newest = std::fs::metadata(dir).and_then(|m| m.modified()).ok()?;
    walk(dir, Path::new(""), &mut |_, entry| {
        if !is_folder(entry) {
            return;
        }
        if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
            newest = newest.max(modified);
        }
    });
    Some(DateTime::<Utc>::from(newest))
}

/// Calls `visit` with the relative path of every entry under `root.join(rel)` that is
/// not hidden, entering folders (not symlinks to them). The one place the walking rules
/// live.
fn walk(root: &Path, rel: &Path, visit: &mut impl FnMut(&Path, &std::fs::DirEntry)) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let child = rel.join(&name);
        visit(&child, &entry);
        if is_folder(&entry) {
            walk(root, &child, visit);
        }
    }
}

fn is_folder(entry: &std::fs::DirEntry) -> bool {
    entry.file_type().map(|t| t.is_dir()).unwrap_or(false)
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
    let path = full_path(config, rel);
    if std::fs::symlink_metadata(&path).is_err() {
        return Update::Removed;
    }
    match read(&path, rel, config.max_bytes).and_then(|source| parse(&source, config)) {
        Ok(post) => Update::Parsed(post),
        Err(problem) => Update::Failed(problem),
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

/// Reads one post file, refusing anything over `max_bytes` before reading it whole.
/// `path` is the full path; `rel` the `/`-separated path under the posts folder.
pub fn read(path: &Path, rel: &str, max_bytes: u64) -> Result<post::Source, post::Problem> {
    let problem = |message: String| post::Problem {
        path: rel.to_string(),
        line: 1,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|err| {
        let link = std::fs::symlink_metadata(path).map(|m| m.file_type().is_symlink());
        if matches!(link, Ok(true)) && err.kind() == std::io::ErrorKind::NotFound {
            problem("dangling symlink: its target does not exist; fix or delete the link".into())
        } else {
            problem(format!("cannot read the file: {err}"))
        }
    })?;
    if !meta.is_file() {
        return Err(problem(
            "not a regular file; post files must be plain files ending in .txt, .md or .markdown"
                .into(),
        ));
    }
    if meta.len() > max_bytes {
        return Err(problem(format!(
            "file is {} bytes, over posts.max_bytes ({max_bytes}); split it or raise posts.max_bytes",
            meta.len()
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|err| problem(format!("cannot read the file: {err}")))?;
    // Checked again: the file may have grown between the stat and the read.
    if bytes.len() as u64 > max_bytes {
        return Err(problem(format!(
            "file is {} bytes, over posts.max_bytes ({max_bytes}); split it or raise posts.max_bytes",
            bytes.len()
        )));
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
