//! The ledger on disk: one SQLite database, loaded whole at start and written one
//! transaction per publish (only the rows that changed), in WAL mode so a crash loses at
//! most the publish in flight.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::ledger::{Entry, Ledger};
use super::StateError;
use crate::routes::FeedKey;

/// Each step brings a database from the version before it to its own (its index + 1),
/// kept in `PRAGMA user_version`. Steps are never edited once released; a change of
/// schema is a new step.
const MIGRATIONS: &[&str] = &[
    // 1: the identity ledger, its redirects and the feeds ever published.
    "CREATE TABLE posts (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        natural_slug TEXT NOT NULL,
        slug TEXT NOT NULL,
        route TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        removed_at TEXT
    );
    CREATE TABLE redirects (
        route TEXT PRIMARY KEY,
        post INTEGER NOT NULL REFERENCES posts(key)
    );
    CREATE TABLE feeds (
        kind TEXT NOT NULL,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (kind, slug)
    );",
    // 2: when each post's content last changed (its feeds' `updated`), and since when
    // each feed has been empty.
    "ALTER TABLE posts ADD COLUMN content_changed TEXT;
    ALTER TABLE feeds ADD COLUMN emptied_at TEXT;",
    // 3: the built-in WebSub hub's subscriptions: a feed's route (not its URL, so a
    // change of `site.base_url` keeps them), the subscriber's callback, the secret its
    // deliveries are signed with, and when the lease ends (Unix seconds).
    "CREATE TABLE subscriptions (
        topic TEXT NOT NULL,
        callback TEXT NOT NULL,
        secret TEXT,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (topic, callback)
    );",
];

/// An open state database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The file's identity when opened: a database deleted or replaced under a running
    /// `serve` would otherwise take writes into an unlinked file without a word.
    inode: Option<(u64, u64)>,
}

impl Store {
    /// Opens (or creates) the database at `path`, brings its schema up to date and loads
    /// the ledger it holds.
    pub fn open(path: &Path, remember: Duration) -> Result<(Store, Ledger), StateError> {
        let fail = |err: rusqlite::Error| StateError::open(path, &err);
        let conn = connect(path)?;
        let ledger = load(&conn, remember).map_err(fail)?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
            inode: inode(path),
        };
        Ok((store, ledger))
    }

    /// An error when the database file was deleted or replaced since it was opened.
    pub fn verify(&self) -> Result<(), StateError> {
        if inode(&self.path).is_none() || inode(&self.path) != self.inode {
            return Err(StateError::Gone {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Writes what changed in `ledger` since the last save, in one transaction.
    pub fn save(&mut self, ledger: &mut Ledger) -> Result<(), StateError> {
        self.verify()?;
        if ledger.dirty.is_empty() {
            return Ok(());
        }
        let dirty = std::mem::take(&mut ledger.dirty);
        let fail = |err: rusqlite::Error| StateError::Write {
            path: self.path.clone(),
            message: err.to_string(),
        };
        let tx = self.conn.transaction().map_err(fail)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO posts
                     (key, id, path, natural_slug, slug, route, first_seen, fingerprint, removed_at,
                      content_changed)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(fail)?;
            for key in &dirty.entries {
                let Some(e) = ledger.entries.get(key) else {
                    continue;
                };
                put.execute(params![
                    key,
                    e.id,
                    e.path,
                    e.natural_slug,
                    e.slug,
                    e.route,
                    e.first_seen.to_rfc3339(),
                    e.fingerprint,
                    e.removed_at.map(|at| at.to_rfc3339()),
                    e.content_changed.map(|at| at.to_rfc3339()),
                ])
                .map_err(fail)?;
            }
            for route in &dirty.redirects {
                match ledger.redirects.get(route) {
                    Some(post) => tx.execute(
                        "INSERT OR REPLACE INTO redirects (route, post) VALUES (?1, ?2)",
                        params![route, post],
                    ),
                    None => tx.execute("DELETE FROM redirects WHERE route = ?1", params![route]),
                }
                .map_err(fail)?;
            }
            for key in &dirty.feeds {
                let (kind, slug) = feed_columns(key);
                let name = ledger.feeds.get(key).cloned().unwrap_or_default();
                let emptied = ledger.emptied.get(key).map(|at| at.to_rfc3339());
                tx.execute(
                    "INSERT OR REPLACE INTO feeds (kind, slug, name, emptied_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![kind, slug, name, emptied],
                )
                .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }
}

/// A connection to the database at `path` (created when missing), its schema up to
/// date: the ledger's, and the WebSub hub's own.
pub(super) fn connect(path: &Path) -> Result<Connection, StateError> {
    let fail = |err: rusqlite::Error| StateError::open(path, &err);
    let mut conn = Connection::open(path).map_err(fail)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(fail)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(fail)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(fail)?;
    migrate(&mut conn).map_err(|err| match err {
        Migration::Sql(err) => StateError::open(path, &err),
        Migration::Newer(version) => StateError::Newer {
            path: path.to_path_buf(),
            version,
        },
    })?;
    Ok(conn)
}

enum Migration {
    Sql(rusqlite::Error),
    /// The database was made by a newer dropfeed, at this schema version.
    Newer(i64),
}

impl From<rusqlite::Error> for Migration {
    fn from(err: rusqlite::Error) -> Migration {
        Migration::Sql(err)
    }
}

/// Brings the schema up to date in one write transaction, taken before the version is
/// read: two processes opening a new database at once migrate it once.
fn migrate(conn: &mut Connection) -> Result<(), Migration> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Migration::Newer(version));
    }
    for (at, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", at as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

fn load(conn: &Connection, remember: Duration) -> rusqlite::Result<Ledger> {
    let time = |text: String| {
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.to_utc())
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    };
    let mut entries = BTreeMap::new();
    let mut rows = conn.prepare(
        "SELECT key, id, path, natural_slug, slug, route, first_seen, fingerprint, removed_at,
         content_changed
         FROM posts",
    )?;
    let mut query = rows.query([])?;
    while let Some(row) = query.next()? {
        let key: i64 = row.get(0)?;
        let removed_at: Option<String> = row.get(8)?;
        let content_changed: Option<String> = row.get(9)?;
        entries.insert(
            key,
            Entry {
                id: row.get(1)?,
                path: row.get(2)?,
                natural_slug: row.get(3)?,
                slug: row.get(4)?,
                route: row.get(5)?,
                first_seen: time(row.get(6)?),
                fingerprint: row.get(7)?,
                content_changed: content_changed.map(time),
                removed_at: removed_at.map(time),
            },
        );
    }
    let mut redirects = BTreeMap::new();
    let mut rows = conn.prepare("SELECT route, post FROM redirects")?;
    let mut query = rows.query([])?;
    while let Some(row) = query.next()? {
        redirects.insert(row.get::<_, String>(0)?, row.get::<_, i64>(1)?);
    }
    let mut feeds = BTreeMap::new();
    let mut emptied = BTreeMap::new();
    let mut rows = conn.prepare("SELECT kind, slug, name, emptied_at FROM feeds")?;
    let mut query = rows.query([])?;
    while let Some(row) = query.next()? {
        let kind: String = row.get(0)?;
        let slug: String = row.get(1)?;
        if let Some(key) = feed_key(&kind, slug) {
            if let Some(at) = row.get::<_, Option<String>>(3)? {
                emptied.insert(key.clone(), time(at));
            }
            feeds.insert(key, row.get::<_, String>(2)?);
        }
    }
    // The lowest key must be checked for, so a read of `user_version` alone does not
    // pass a database whose tables were dropped by hand.
    let _: Option<i64> = conn
        .query_row("SELECT min(key) FROM posts", [], |row| row.get(0))
        .optional()?
        .flatten();
    Ok(Ledger::restore(
        remember, entries, redirects, feeds, emptied,
    ))
}

fn feed_columns(key: &FeedKey) -> (&'static str, &str) {
    match key {
        FeedKey::Site => ("site", ""),
        FeedKey::Category(slug) => ("category", slug),
        FeedKey::Author(slug) => ("author", slug),
        FeedKey::Tag(slug) => ("tag", slug),
    }
}

fn feed_key(kind: &str, slug: String) -> Option<FeedKey> {
    match kind {
        "site" => Some(FeedKey::Site),
        "category" => Some(FeedKey::Category(slug)),
        "author" => Some(FeedKey::Author(slug)),
        "tag" => Some(FeedKey::Tag(slug)),
        _ => None,
    }
}

/// The device and inode of the file at `path`, if it exists.
fn inode(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}
