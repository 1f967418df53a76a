//! The built-in WebSub hub's subscriptions on disk: a table of the state database, on a
//! connection of its own (WAL lets it write beside the publish loop's), one row written
//! per verified subscribe or unsubscribe, by the hub's writer thread (the whole table at once
//! when it catches up after a failed write).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::store::connect;
use super::StateError;

/// One verified subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The feed's route (`/categories/transit/rss.xml`): its URL is the site's
    /// `base_url` with it, whatever that is when a change is delivered.
    pub topic: String,
    /// Where each change is POSTed, as the subscriber gave it.
    pub callback: String,
    /// What each delivery is signed with (`X-Hub-Signature`), when the subscriber gave one.
    pub secret: Option<String>,
    /// When the lease ends; past it, nothing more is delivered.
    pub expires: DateTime<Utc>,
}

/// The subscriptions table of the state database.
pub struct SubscriptionStore {
    conn: Connection,
    path: PathBuf,
}

impl SubscriptionStore {
    /// Opens the database at `path` (bringing its schema up to date, as the ledger's
    /// store does).
    pub fn open(path: &Path) -> Result<SubscriptionStore, StateError> {
        Ok(SubscriptionStore {
            conn: connect(path)?,
            path: path.to_path_buf(),
        })
    }

    /// Every subscription whose lease has not ended at `now`; the others are deleted.
    pub fn load(&self, now: DateTime<Utc>) -> Result<Vec<Subscription>, StateError> {
        self.remove_expired(now)?;
        let mut rows = self
            .conn
            .prepare("SELECT topic, callback, secret, expires_at FROM subscriptions ORDER BY topic, callback")
            .map_err(|err| self.read_error(&err))?;
        let found = rows
            .query_map([], |row| {
                Ok(Subscription {
                    topic: row.get(0)?,
                    callback: row.get(1)?,
                    secret: row.get(2)?,
                    expires: DateTime::from_timestamp(row.get(3)?, 0).unwrap_or_default(),
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|err| self.read_error(&err))?;
        Ok(found)
    }

    /// Adds `subscription`, or renews the one of its topic and callback (its lease and
    /// secret replaced).
    pub fn put(&self, subscription: &Subscription) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO subscriptions (topic, callback, secret, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    subscription.topic,
                    subscription.callback,
                    subscription.secret,
                    subscription.expires.timestamp()
                ],
            )
            .map(|_| ())
            .map_err(|err| self.write_error(&err))
    }

    /// Makes the table hold exactly `subscriptions`, in one transaction: how a hub
    /// whose writes failed (the database locked, the disk full) catches up at once,
    /// whatever it was that did not reach the table.
    pub fn replace_all<'a>(
        &self,
        subscriptions: impl IntoIterator<Item = &'a Subscription>,
    ) -> Result<(), StateError> {
        let fail = |err: rusqlite::Error| self.write_error(&err);
        let tx = self.conn.unchecked_transaction().map_err(fail)?;
        tx.execute("DELETE FROM subscriptions", []).map_err(fail)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO subscriptions (topic, callback, secret, expires_at)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(fail)?;
            for s in subscriptions {
                insert
                    .execute(params![
                        s.topic,
                        s.callback,
                        s.secret,
                        s.expires.timestamp()
                    ])
                    .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// Deletes the subscription of `topic` and `callback`, if there is one.
    pub fn remove(&self, topic: &str, callback: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM subscriptions WHERE topic = ?1 AND callback = ?2",
                params![topic, callback],
            )
            .map(|_| ())
            .map_err(|err| self.write_error(&err))
    }

    /// Deletes every subscription whose lease ended by `now`; gives how many.
    pub fn remove_expired(&self, now: DateTime<Utc>) -> Result<usize, StateError> {
        self.conn
            .execute(
                "DELETE FROM subscriptions WHERE expires_at <= ?1",
                params![now.timestamp()],
            )
            .map_err(|err| self.write_error(&err))
    }

    fn read_error(&self, err: &rusqlite::Error) -> StateError {
        StateError::open(&self.path, err)
    }

    fn write_error(&self, err: &rusqlite::Error) -> StateError {
        StateError::Write {
            path: self.path.clone(),
            message: err.to_string(),
        }
    }
}
