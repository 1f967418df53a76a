//! `dropfeed check`: parse every post and list what is wrong, as `path:line: problem`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

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
    }
}
