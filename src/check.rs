//! `dropfeed check`: parse every post and list what is wrong, as `path:line: problem`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::build::load_catalog;
use crate::config::Config;
use crate::post::Problem;

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

pub fn check(config: &Config, now: DateTime<Utc>) -> Findings {
    let view = load_catalog(config).view(now);
    Findings {
        errors: view.errors,
        warnings: view.warnings,
    }
}
