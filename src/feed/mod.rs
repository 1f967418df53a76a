//! Renderers: a feed's posts → RSS 2.0, Atom 1.0 or JSON Feed 1.1 text, and the HTML
//! index, post pages and OPML list, all from the same model. Pure: no I/O, no clock.
//!
//! # Layout
//!
//! - `rss`: RSS 2.0 on the `rss` crate, with content, Dublin Core and atom extensions.
//! - `atom`: Atom 1.0 on the `atom_syndication` crate.
//! - `json`: JSON Feed 1.1 on `serde_json`.
//! - `pages`: index, post page and OPML from minijinja templates in `templates/`.
//! - `archive`: RFC 5005 archives: which posts each holds, and the links between them.

mod archive;
mod atom;
mod json;
mod pages;
mod rss;

pub use archive::{
    archive_count, archive_span, names as archive_names, names_after as archive_names_after,
    Document,
};
pub use rss::missing_podcast_keys;

use crate::post::{Post, Site};
use crate::routes;
use crate::routes::{FeedKey, Format};
use chrono::{DateTime, Datelike, FixedOffset, SecondsFormat, Timelike};

/// Written into every feed's `generator`.
pub const GENERATOR: &str = concat!("dropfeed ", env!("CARGO_PKG_VERSION"));

/// A feed as every renderer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedInfo {
    pub key: FeedKey,
    /// The feed's title: the site title, or "Site — Category" / "Site — Author".
    pub title: String,
    /// The category's or author's display name; the site title for the site feed.
    pub name: String,
    /// See [`FeedInfo::updated_of`]; an archive's, its own posts'.
    pub updated: DateTime<FixedOffset>,
    /// The name of each RFC 5005 archive document that holds the posts older than its
    /// newest page, oldest first ([`archive_names`]; as many as [`archive_count`]): the
    /// newest page links the last of them.
    pub archives: std::sync::Arc<[u32]>,
}

impl FeedInfo {
    /// The site feed of `posts`, titled by the site and dated by its newest change: for
    /// renderer tests and benchmarks, which have no ledger, so an empty one is dated at
    /// the Unix epoch. `serve` and `build` date an empty feed by when it was emptied.
    pub fn site(site: &Site, posts: &[&Post]) -> FeedInfo {
        FeedInfo {
            key: FeedKey::Site,
            title: site.title.clone(),
            name: site.title.clone(),
            updated: FeedInfo::updated_of(
                posts.iter().copied(),
                DateTime::<chrono::Utc>::UNIX_EPOCH.fixed_offset(),
            ),
            archives: Default::default(),
        }
    }

    /// A feed's date: the newest `updated` of its posts, or for an empty feed
    /// `when_empty`, the time it was emptied (or, for a site that never had a post,
    /// first published), so the output never depends on the clock of the publish.
    pub fn updated_of<'a>(
        posts: impl IntoIterator<Item = &'a Post>,
        when_empty: DateTime<FixedOffset>,
    ) -> DateTime<FixedOffset> {
        posts
            .into_iter()
            .map(|post| post.updated)
            .max()
            .unwrap_or(when_empty)
    }
}

/// Renders one feed of `posts` (already the newest `feeds.items`, newest first).
pub fn render_feed(format: Format, site: &Site, feed: &FeedInfo, posts: &[&Post]) -> String {
    render_document(format, site, feed, posts, Document::Subscription)
}

/// Renders archive `n` of a feed (RFC 5005): its `posts`, newest first, marked
/// `fh:archive` and linked to the subscription document and its neighbours. `feed`
/// is dated by these posts ([`FeedInfo::updated_of`]), so a new post elsewhere in the
/// feed does not change it.
pub fn render_archive(
    format: Format,
    site: &Site,
    feed: &FeedInfo,
    posts: &[&Post],
    n: usize,
) -> String {
    render_document(format, site, feed, posts, Document::Archive(n))
}

fn render_document(
    format: Format,
    site: &Site,
    feed: &FeedInfo,
    posts: &[&Post],
    document: Document,
) -> String {
    match format {
        Format::Rss => rss::render(site, feed, posts, document),
        Format::Atom => atom::render(site, feed, posts, document),
        Format::Json => json::render(site, feed, posts, document),
    }
}

pub use pages::{all_tags as render_all_tags, page_count, Listed, ALL_TAGS, POSTS_PER_PAGE};

/// The home page: the newest posts, the site's Subscribe box, and every topic with its
/// post count.
pub fn render_index(
    site: &Site,
    listing: &[Listed],
    newest: &[&Post],
    formats: &[Format],
) -> String {
    pages::index(site, listing, newest, formats)
}

/// Page `page` (from 1) of a feed's HTML list: its `posts` there, of `count` in all.
pub fn render_topic_page(
    site: &Site,
    feed: &FeedInfo,
    count: usize,
    posts: &[&Post],
    page: usize,
    formats: &[Format],
) -> String {
    pages::topic(site, feed, count, posts, page, formats)
}

/// A feed's title: the site's, or "Site — Category", "Site — Author", "Site — #tag"
/// (a tag and a category may share a name).
pub fn feed_title(site: &Site, key: &FeedKey, name: &str) -> String {
    match key {
        FeedKey::Site => site.title.clone(),
        FeedKey::Tag(_) => format!("{} — #{name}", site.title),
        _ => format!("{} — {name}", site.title),
    }
}

/// A post as a small HTML page: where the item's link leads.
pub fn render_post_page(site: &Site, post: &Post, formats: &[Format]) -> String {
    pages::post(site, post, formats)
}

/// The OPML 2.0 list of every feed.
pub fn render_opml(site: &Site, feeds: &[FeedInfo], formats: &[Format]) -> String {
    pages::opml(site, feeds, formats)
}

/// The taxonomy of tags in RSS (`category domain`) and Atom (`category scheme`): the
/// URL of the site's tag pages, `{base_url}/tags/`, so a reader can tell a tag from a
/// category of the same name.
fn tag_scheme(site: &Site) -> String {
    routes::absolute(&site.base_url, "/tags/")
}

/// A feed's HTML page, its alternate link: the home page for the site's feed, the
/// category's, author's or tag's page for theirs.
fn page_url(site: &Site, feed: &FeedInfo) -> String {
    routes::absolute(&site.base_url, &feed.key.dir())
}

/// The site's home page.
fn home_url(site: &Site) -> String {
    routes::absolute(&site.base_url, routes::INDEX)
}

/// What a feed holds, in a sentence: RSS requires a non-empty channel description.
fn description(site: &Site, feed: &FeedInfo) -> String {
    match &feed.key {
        FeedKey::Site if site.description.trim().is_empty() => {
            format!("Posts from {}", site.title)
        }
        FeedKey::Site => site.description.clone(),
        FeedKey::Category(_) => format!("Posts in {} from {}", feed.name, site.title),
        FeedKey::Author(_) => format!("Posts by {} on {}", feed.name, site.title),
        FeedKey::Tag(_) => format!("Posts tagged {} on {}", feed.name, site.title),
    }
}

/// The authors named on a post, the site's when every name is blank: Atom and JSON Feed
/// require a non-empty name.
fn author_names<'a>(site: &'a Site, post: &'a Post) -> Vec<&'a str> {
    let names: Vec<&str> = post
        .authors
        .iter()
        .map(|author| author.name.as_str())
        .filter(|name| !name.trim().is_empty())
        .collect();
    if names.is_empty() {
        vec![&site.author]
    } else {
        names
    }
}

/// When a post last changed, in whole seconds.
fn modified(post: &Post) -> DateTime<FixedOffset> {
    truncate_to_second(post.updated)
}

/// Feeds carry whole seconds: a file's modification time may have nanoseconds, and
/// every format should show the same instant the same way.
fn truncate_to_second(date: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    date.with_nanosecond(0).unwrap_or(date)
}

fn rfc3339(date: DateTime<FixedOffset>) -> String {
    date.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// An RFC 2822 date, in UTC when its offset has minutes other than 00 or 30 (Nepal's
/// +05:45): the W3C validator warns about those offsets. Not in UTC when that would
/// cross into a year of five digits or below zero (`9999-12-31T23:30:00-05:45`), which
/// RFC 2822 cannot write and chrono panics on.
fn rfc2822(date: DateTime<FixedOffset>) -> String {
    let writable = |date: &DateTime<FixedOffset>| (0..=9999).contains(&date.year());
    let date = truncate_to_second(date);
    let minutes = date.offset().local_minus_utc() / 60 % 60;
    let utc = date.with_timezone(&chrono::Utc).fixed_offset();
    let date = if minutes % 30 == 0 || !writable(&utc) {
        date
    } else {
        utc
    };
    if writable(&date) {
        date.to_rfc2822()
    } else {
        // No parsed date gets here (their years have four digits); a date made another
        // way still must not stop a publish.
        date.format("%a, %-d %b %Y %H:%M:%S %z").to_string()
    }
}

/// A post's category names, then its tags, without case-insensitive repeats: the
/// keywords of formats that have one list for both.
fn keywords(post: &Post) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    post.categories
        .iter()
        .map(|c| c.name.as_str())
        .chain(post.tags.iter().map(|t| t.name.as_str()))
        .filter(|k| !k.trim().is_empty() && seen.insert(k.to_lowercase()))
        .collect()
}

/// The most content one feed item carries, in bytes of HTML. A post is in the site feed,
/// its author's and each of its categories' (up to `posts.max_categories`), in every
/// format, each with a gzip and a brotli copy: a 4 MiB post in 100 categories made 1.5 GB
/// of feeds and took seconds to publish. Beyond this the item carries its summary and a
/// link to the whole post, as publishers that send excerpts do; the post's page always
/// has it all. Long-form articles are well under it (10,000 words is about 70 KB).
pub const MAX_ITEM_CONTENT: usize = 128 * 1024;

/// What a feed item carries as content: the post's HTML, or past [`MAX_ITEM_CONTENT`]
/// its summary and a link to its page.
fn item_content(post: &Post) -> std::borrow::Cow<'_, str> {
    if post.content_html.len() <= MAX_ITEM_CONTENT {
        return std::borrow::Cow::Borrowed(&post.content_html);
    }
    let mut html = String::new();
    if !post.summary.trim().is_empty() {
        html.push_str("<p>");
        escape_markup(&post.summary, &mut html);
        html.push_str("</p>\n");
    }
    html.push_str("<p><a href=\"");
    escape_markup(&post.url, &mut html);
    html.push_str(&format!(
        "\">Read the whole post</a> ({} KB).</p>",
        post.content_html.len().div_ceil(1024)
    ));
    std::borrow::Cow::Owned(html)
}

/// Escapes text for HTML or XML: the five characters that could open markup or close an
/// attribute. Unlike minijinja's HTML escaping it leaves `/` alone, so URLs stay readable.
fn escape_markup(text: &str, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = pulldown_cmark_escape::escape_html(out, text);
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::{item_content, rfc2822, MAX_ITEM_CONTENT};
    use crate::testing::PostBuilder;

    #[test]
    fn content_past_the_item_cap_becomes_the_summary_and_a_link() {
        let paragraph = "<p>Words & more words.</p>";
        let at_cap = paragraph.repeat(MAX_ITEM_CONTENT / paragraph.len());
        let post = PostBuilder::new("long")
            .summary("A long read about <tags> & more.")
            .content_html(&at_cap)
            .build();
        assert_eq!(item_content(&post), at_cap.as_str());

        let past_cap = format!("{at_cap}{paragraph}{paragraph}");
        assert_eq!(past_cap.len(), 131_118);
        let post = PostBuilder::new("long")
            .summary("A long read about <tags> & more.")
            .content_html(&past_cap)
            .build();
        assert_eq!(
            item_content(&post),
            "<p>A long read about &lt;tags&gt; &amp; more.</p>\n\
             <p><a href=\"https://news.example.com/posts/long/\">Read the whole post</a> (129 KB).</p>"
        );
    }

    #[test]
    fn rfc2822_writes_odd_offsets_in_utc() {
        let date = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        assert_eq!(
            rfc2822(date("2019-03-03T09:30:15.5+05:45")),
            "Sun, 3 Mar 2019 03:45:15 +0000"
        );
        assert_eq!(
            rfc2822(date("2019-03-03T09:30:00+05:30")),
            "Sun, 3 Mar 2019 09:30:00 +0530"
        );
        assert_eq!(
            rfc2822(date("2019-03-03T09:30:00-03:30")),
            "Sun, 3 Mar 2019 09:30:00 -0330"
        );
        assert_eq!(
            rfc2822(date("2019-03-03T09:30:00-08:00")),
            "Sun, 3 Mar 2019 09:30:00 -0800"
        );
    }

    /// Found by fuzzing: in UTC these are in the years 10000 and -1, and chrono panicked
    /// writing them, which stopped `build` and every publish.
    #[test]
    fn rfc2822_keeps_the_offset_when_utc_would_leave_four_digit_years() {
        let date = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        assert_eq!(
            rfc2822(date("9999-12-31T23:30:00-05:45")),
            "Fri, 31 Dec 9999 23:30:00 -0545"
        );
        assert_eq!(
            rfc2822(date("0000-01-01T00:10:00+05:45")),
            "Sat, 1 Jan 0000 00:10:00 +0545"
        );
    }
}

/// Hand-built inputs for the renderers' tests.
#[cfg(test)]
mod fixtures {
    use super::FeedInfo;
    use crate::post::Post;
    use crate::testing::PostBuilder;

    pub use crate::testing::{named, site};

    /// A City Hall and Transit post by Dana Whitfield, with markup in its content.
    pub fn post(slug: &str, title: &str, published: &str) -> PostBuilder {
        PostBuilder::new(slug)
            .title(title)
            .published(published)
            .author("Dana Whitfield")
            .category("City Hall")
            .category("Transit")
            .tag("buses")
            .tag("transit")
            .summary("The council voted 7–2 to extend the pilot.")
            .content_html("<p>The council voted 7–2 to extend the <b>pilot</b>.</p>")
    }

    pub fn site_feed(posts: &[&Post]) -> FeedInfo {
        FeedInfo::site(&site(), posts)
    }

    /// The site with an external WebSub hub and the built-in one.
    pub fn site_with_hubs() -> crate::post::Site {
        let mut site = site();
        site.channel.hubs = vec![
            "https://hub.example.org/".into(),
            "https://news.example.com/websub".into(),
        ];
        site
    }
}
