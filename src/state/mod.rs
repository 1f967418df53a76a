//! What must outlive a restart: the identity ledger (each post's id, first-seen time,
//! slug, page route and former routes) and the feeds ever published, in one SQLite
//! database (README, "Moving a blog to dropfeed").
//!
//! # Layout
//!
//! - `ledger`: the decisions, in memory and pure: which post a file is, the id minted
//!   for it, the slug and route it holds.
//! - `store`: the SQLite database the ledger is loaded from and saved to.
//! - this file: [`State`], the ledger with its database or, when there is none or it
//!   failed, without one (ids then come from the rules, and `/healthz` says why).

mod ledger;
mod store;

use std::path::{Path, PathBuf};

use chrono::Duration;

pub use ledger::{Claim, Entry, Ledger, Placement, Rules, REMEMBER_DAYS};
use store::Store;

/// Why the state database cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("{path}: cannot open the state database ({message}); restore it from a backup, or move it away to start a new ledger (ids of posts already published may then change)")]
    Open { path: PathBuf, message: String },
    #[error("{path}: the state database was made by a newer dropfeed (schema version {version}); run that version, or restore a backup made by this one")]
    Newer { path: PathBuf, version: i64 },
    #[error("{path}: cannot write the state database ({message}); check the disk and the file's permissions")]
    Write { path: PathBuf, message: String },
    #[error("{path}: the state database was deleted or replaced while running; restart dropfeed to open it again (ids are kept in memory until then)")]
    Gone { path: PathBuf },
}

impl StateError {
    fn open(path: &Path, err: &rusqlite::Error) -> StateError {
        StateError::Open {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }
}

/// The ledger, and the database it is kept in when there is one.
pub struct State {
    pub ledger: Ledger,
    store: Option<Store>,
    /// Why the ledger is not being saved, when it should be: `/healthz` says `degraded`.
    pub problem: Option<StateError>,
}

impl State {
    /// Opens the database at `path`: what `build` does, failing when it cannot.
    pub fn open(path: &Path, remember: Duration) -> Result<State, StateError> {
        let (store, ledger) = Store::open(path, remember)?;
        Ok(State {
            ledger,
            store: Some(store),
            problem: None,
        })
    }

    /// Opens the database at `path`, or goes on without one when it cannot: what `serve`
    /// does, so a broken database never stops the feeds.
    pub fn open_or_degraded(path: &Path, remember: Duration) -> State {
        State::open(path, remember).unwrap_or_else(|err| {
            tracing::error!(error = %err, "serving with ids from the rules");
            State {
                ledger: Ledger::new(remember),
                store: None,
                problem: Some(err),
            }
        })
    }

    /// A ledger that is never saved: `build --no-state` and `check`.
    pub fn in_memory(remember: Duration) -> State {
        State {
            ledger: Ledger::new(remember),
            store: None,
            problem: None,
        }
    }

    /// Writes what changed since the last save. A failure is logged and kept in
    /// [`State::problem`]; the ledger in memory goes on.
    pub fn save(&mut self) -> Result<(), StateError> {
        let Some(store) = &mut self.store else {
            return Ok(());
        };
        match store.save(&mut self.ledger) {
            Ok(()) => Ok(()),
            Err(err) => {
                tracing::error!(error = %err, "the ledger is kept in memory only");
                self.store = None;
                self.problem = Some(err.clone());
                Err(err)
            }
        }
    }

    /// True when the ledger is neither saved nor meant to be.
    pub fn is_degraded(&self) -> bool {
        self.problem.is_some()
    }
}

/// How many days a removed post waits for its content to come back under another name,
/// as a duration.
pub fn remember_days(days: u64) -> Duration {
    Duration::days(
        i64::try_from(days)
            .unwrap_or(i64::MAX / 86_400_000)
            .min(365_000),
    )
}

#[cfg(test)]
mod tests;
