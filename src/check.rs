//! `dropfeed check`: parse every post and list what is wrong, as `path:line: problem`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::post::Problem;
use crate::scan;
use crate::state::State;

/// Every problem of the posts as published at `now`: errors (a post not published, or
/// not as written) and warnings (published, but with a guess the writer should confirm).
#[derive(Debug)]
pub struct Findings {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
    pub tally: Tally,
}

/// The posts that parsed, split by what became of them: `check`'s summary and `serve`'s
/// start-up line, so a draft or a post dated tomorrow is never counted as published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Every post that parsed.
    pub posts: usize,
    /// In the feeds now.
    pub published: usize,
    /// `draft: true`: never published.
    pub drafts: usize,
    /// Dated in the future: published when that time comes.
    pub scheduled: usize,
}

impl Tally {
    pub fn of(catalog: &Catalog) -> Tally {
        let posts = catalog.known();
        let published = catalog.visible();
        let scheduled = catalog.scheduled();
        Tally {
            posts,
            published,
            scheduled,
            drafts: posts.saturating_sub(published + scheduled),
        }
    }
}

impl std::fmt::Display for Tally {
    /// `13 posts (10 published, 1 draft, 2 scheduled)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} published, {}, {} scheduled)",
            counted(self.posts, "post"),
            self.published,
            counted(self.drafts, "draft"),
            self.scheduled
        )
    }
}

/// `1 post`, `2 posts`.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl Findings {
    /// The lines `check` prints, paths as seen from where the command was run.
    pub fn lines(&self, config: &Config) -> Vec<String> {
        let shown = |p: &Problem| -> PathBuf { config.posts_dir.join(&p.path) };
        let mut lines = Vec::new();
        for p in &self.errors {
            lines.push(format!("{}:{}: {}", shown(p).display(), p.line, p.message));
        }
        for p in &self.warnings {
            lines.push(format!(
                "{}:{}: warning: {}",
                shown(p).display(),
                p.line,
                p.message
            ));
        }
        lines
    }

    /// The line `check` ends with, on stderr (stdout holds only `path:line: problem`
    /// lines, for scripts and editors): `13 posts (10 published, 1 draft, 2 scheduled),
    /// 0 errors, 2 warnings`. Errors are files that gave no post; warnings are posts
    /// published with a guess.
    pub fn summary(&self) -> String {
        format!(
            "{}, {}, {}",
            self.tally,
            counted(self.errors.len(), "error"),
            counted(self.warnings.len(), "warning")
        )
    }
}

/// Every problem of the posts under the posts folder as published at `now`. A folder
/// that cannot be read, a link out of the posts folder and a name that is not UTF-8 are
/// errors: the posts there would be missing from every feed.
pub fn check(config: &Config, now: DateTime<Utc>) -> Findings {
    let mut state = State::for_check(config);
    let catalog = scan::load_catalog(config, &mut state, now, 0);
    Findings {
        errors: catalog.errors(),
        warnings: catalog.warnings(),
        tally: Tally::of(&catalog),
    }
}
