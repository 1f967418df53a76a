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
    /// A write that failed, with the file it was for.
    #[error("{path}: cannot write: {err}")]
    Write {
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

/// What a build did.
#[derive(Debug)]
pub struct Report {
    /// Posts published.
    pub posts: usize,
    /// Files that failed to parse: not published.
    pub errors: Vec<Problem>,
    /// Folders that could not be read (see [`scan::Listing::problems`]): their posts are
    /// missing from the files written.
    pub unreadable: Vec<Problem>,
    pub files: usize,
}

/// Builds every route of the posts as published at `now`, placed by the ledger of
/// `state` (which is saved), and writes them under `out`.
pub fn build(
    config: &Config,
    state: &mut State,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<Report, BuildError> {
    let mut scanned = scan::load_catalog(config, state, now, scan::BUILD_KEEPS_BYTES);
    let touched = scanned.catalog.take_touched();
    let remembered = state.remembered();
    let bodies: Arc<dyn Bodies> = Arc::new(scan::FileBodies::new(Arc::new(config.clone())));
    let (snapshot, _) = Snapshot::default().next(
        &scanned.catalog,
        &touched,
        &remembered,
        &bodies,
        config,
        now,
    );
    state.note_feeds(&snapshot.feed_names);
    state.save()?;
    let snapshot = snapshot.compress_pending().unwrap_or(snapshot);
    let mut files = 0;
    for (route, rendered) in snapshot.files() {
        files += write_route(out, route, rendered)?;
    }
    let pages = std::sync::atomic::AtomicUsize::new(0);
    snapshot.each_page(|route, rendered| {
        let written = write_route(out, route, &rendered)?;
        pages.fetch_add(written, std::sync::atomic::Ordering::Relaxed);
        Ok::<(), BuildError>(())
    })?;
    files += pages.into_inner();
    // A static host cannot answer the WordPress and Hugo aliases itself; this file, in
    // the format Netlify and Cloudflare Pages read, tells it how.
    let mut redirects = String::new();
    for (route, _) in snapshot.files() {
        for alias in routes::aliases_of(route) {
            redirects.push_str(&format!("{alias} {route} 301\n"));
        }
    }
    // Only to pages that are published, as the server redirects: a former page of a
    // draft or of a post dated in the future leads nowhere yet.
    for (from, to) in snapshot.redirects().filter(|(_, to)| snapshot.has(to)) {
        redirects.push_str(&format!("{from} {to} 301\n"));
    }
    write(&out.join("_redirects"), redirects.as_bytes())?;
    files += 1;
    Ok(Report {
        posts: scanned.catalog.visible(),
        errors: scanned.catalog.errors(),
        unreadable: scanned.unreadable,
        files,
    })
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
