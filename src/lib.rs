//! dropfeed: a feed publisher. Post files in a folder become RSS 2.0, Atom 1.0 and JSON
//! Feed 1.1 feeds for the site, each category and each author, served over HTTP or
//! written to a folder once.
//!
//! # Layout
//!
//! Imports point down this list, never up:
//!
//! - [`routes`]: every URL rule: post pages, feed routes, aliases, the files `build`
//!   writes. Pure strings.
//! - [`post`]: one file's bytes → a normalized [`post::Post`]. Pure: it reads nothing but
//!   the bytes it is handed.
//! - [`testing`]: fixtures for tests only (the example site, a `Post` builder), shared by
//!   unit and integration tests. Imports only `post` and `routes`; hidden from the docs.
//! - [`config`]: `config.toml`, its defaults and validation.
//! - [`metrics`]: what `/metrics` counts (requests, publishes, WebSub) and the subscriber
//!   counts feed readers state in their User-Agent. Imports nothing of the crate.
//! - [`systemd`]: readiness, reload and stop notices to the service manager
//!   (`sd_notify`). Imports nothing of the crate.
//! - [`catalog`]: every post by path, each feed's visible posts kept in order, and the
//!   feeds each change touched.
//! - [`state`]: the identity ledger (each post's id, slug, page route and former
//!   routes; the feeds ever published) and the SQLite database it is kept in.
//! - [`feed`]: renderers for RSS, Atom, JSON Feed and the HTML/OPML pages. Pure.
//! - [`snapshot`]: every route with ETag and Last-Modified: feeds and the home page
//!   prerendered and compressed, post pages and topic pages rendered on request through
//!   a bounded cache.
//! - [`websub`]: the built-in WebSub hub (subscriptions, verification, signed
//!   deliveries) and the pings to external hubs, fed each publish's snapshots on a
//!   channel, off the publish path.
//! - [`scan`]: listing the post files of a folder, reading one into a catalog update and
//!   all of them into a catalog; reading bodies left in their files again, and opening
//!   the media files beside posts (behind `snapshot::Bodies`).
//! - [`build`] and [`check`]: the one-shot commands over a scanned folder.
//! - [`watch`]: file system events → change sets. Knows nothing of HTTP.
//! - [`server`]: HTTP over a snapshot. Knows nothing of files.
//! - [`publish`]: the loop joining watch → catalog → snapshot → server, and `serve`
//!   itself ([`publish::Daemon`]): bind, scan, build, then publish each change set, each
//!   post coming due and each periodic rescan with one atomic snapshot swap.

pub mod build;
pub mod catalog;
pub mod check;
pub mod config;
pub mod feed;
pub mod metrics;
pub mod post;
pub mod publish;
pub mod routes;
pub mod scan;
pub mod server;
pub mod snapshot;
pub mod state;
pub mod systemd;
#[doc(hidden)]
pub mod testing;
pub mod watch;
pub mod websub;
