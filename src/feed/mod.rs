//! Renderers: a feed's posts → RSS 2.0, Atom 1.0 or JSON Feed 1.1 text, and the HTML
//! index, post pages and OPML list, all from the same model. Pure: no I/O, no clock.
//!
//! # Layout
//!
//! - `rss`: RSS 2.0 on the `rss` crate, with content, Dublin Core and atom extensions.
//! - `atom`: Atom 1.0 on the `atom_syndication` crate.
//! - `json`: JSON Feed 1.1 on `serde_json`.
//! - `pages`: index, post page and OPML from minijinja templates.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use crate::post::{Post, Site};

/// Written into every feed's `generator`.
pub const GENERATOR: &str = concat!("dropfeed ", env!("CARGO_PKG_VERSION"));

/// Which posts a feed holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeedKey {
    Site,
    /// A category, by slug.
    Category(String),
    /// An author, by slug.
    Author(String),
}

impl FeedKey {
    /// The folder of this feed's files: `/`, `/categories/{slug}/`, `/authors/{slug}/`.
    pub fn dir(&self) -> String {
        match self {
            FeedKey::Site => "/".to_string(),
            FeedKey::Category(slug) => format!("/categories/{slug}/"),
            FeedKey::Author(slug) => format!("/authors/{slug}/"),
        }
    }

    /// The route of this feed in one format, e.g. `/categories/bay-area/atom.xml`.
    pub fn route(&self, format: Format) -> String {
        format!("{}{}", self.dir(), format.file_name())
    }
}

/// A feed as every renderer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedInfo {
    pub key: FeedKey,
    /// The feed's title: the site title, or "Site — Category" / "Site — Author".
    pub title: String,
    /// The category's or author's display name; the site title for the site feed.
    pub name: String,
    /// The newest `updated` of its posts; the Unix epoch for an empty feed, so the output
    /// never depends on the clock.
    pub updated: DateTime<FixedOffset>,
}

/// The feed formats a site can publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    /// The file name of this format's feed under a feed's folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Rss => "rss.xml",
            Format::Atom => "atom.xml",
            Format::Json => "feed.json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Format::Rss => "RSS",
            Format::Atom => "Atom",
            Format::Json => "JSON Feed",
        }
    }
}

/// Renders one feed of `posts` (already the newest `feeds.items`, newest first).
pub fn render_feed(format: Format, site: &Site, feed: &FeedInfo, posts: &[&Post]) -> String {
    // Interim until the renderers land.
    let _ = (site, posts);
    format!("{} {}", format.label(), feed.title)
}

/// The HTML index of every feed, with autodiscovery links.
pub fn render_index(site: &Site, feeds: &[FeedInfo], formats: &[Format]) -> String {
    let _ = (feeds, formats);
    format!("<!doctype html><title>{}</title>", site.title)
}

/// A post as a small HTML page: where the item's link leads.
pub fn render_post_page(site: &Site, post: &Post, formats: &[Format]) -> String {
    let _ = (site, formats);
    post.content_html.clone()
}

/// The OPML 2.0 list of every feed.
pub fn render_opml(site: &Site, feeds: &[FeedInfo], formats: &[Format]) -> String {
    let _ = (feeds, formats);
    format!(
        "<opml version=\"2.0\"><head><title>{}</title></head></opml>",
        site.title
    )
}

/// WordPress and Hugo paths that old subscriptions use, and the canonical route each one
/// is redirected to. The one place these aliases live.
pub fn alias_target(path: &str) -> Option<String> {
    match path {
        "/feed/" | "/feed" | "/feed/rss2/" | "/feed/rss/" | "/index.xml" => {
            return Some("/rss.xml".into())
        }
        "/feed/atom/" => return Some("/atom.xml".into()),
        _ => {}
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["category", slug, "feed", ""] | ["categories", slug, "index.xml"] => {
            Some(format!("/categories/{slug}/rss.xml"))
        }
        ["category", slug, "feed", "atom", ""] => Some(format!("/categories/{slug}/atom.xml")),
        ["author", slug, "feed", ""] => Some(format!("/authors/{slug}/rss.xml")),
        _ => None,
    }
}

/// The aliases that [`alias_target`] sends to `route`.
pub fn aliases_of(route: &str) -> Vec<String> {
    let parts: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["rss.xml"] => vec!["/feed/".into(), "/feed/rss2/".into(), "/index.xml".into()],
        ["atom.xml"] => vec!["/feed/atom/".into()],
        ["categories", slug, "rss.xml"] => vec![
            format!("/category/{slug}/feed/"),
            format!("/categories/{slug}/index.xml"),
        ],
        ["categories", slug, "atom.xml"] => vec![format!("/category/{slug}/feed/atom/")],
        ["authors", slug, "rss.xml"] => vec![format!("/author/{slug}/feed/")],
        _ => Vec::new(),
    }
}
