//! One post file → one normalized [`Post`].
//!
//! This module owns everything the README says under "Post formats": decoding bytes,
//! detecting the format from the content, parsing it, and normalizing the result. It reads nothing but the one file it is handed, knows nothing of feeds, the
//! catalog or HTTP, and so carries its tests in-module.
//!
//! # Layout
//!
//! - `decode`: bytes → text (BOM, UTF-16, Windows-1252, line ends, XML-forbidden chars).
//! - `date`: every date form real blogs carry → a zoned timestamp.
//! - `text`: slugs, titles from file names or first sentences, summaries.
//! - `front`: YAML/TOML front matter → typed fields, keys case-insensitive.
//! - `html`: Markdown and article paragraphs → sanitized HTML with absolute URLs.
//! - `file_info`: what a path says: post or not, format, name, Jekyll date, slug.
//! - `article`: the `Posted by … on …` header of article text.
//! - `document`: format detection: text → fields as written and a body.
//! - `normalize`: one step per field, each with its fallbacks and warnings.
//! - this file: the types, and [`parse`], which runs the steps in order.
//!
//! # Decisions beyond the README
//!
//! - A title taken from the first sentence drops its final period (“… on Friday”) but
//!   keeps `?` and `!`; it is cut to 100 characters including the “…”. Summaries likewise
//!   hold at most 300 characters including the “…”.
//! - Markdown without front matter takes its title from a leading `# Heading` (which then
//!   leaves the body); without one, the title comes from the file name or the first
//!   sentence. The plain-text first-line rule is not applied to Markdown, so a first
//!   paragraph is never swallowed.
//! - In plain text, a first-line title (short, then a blank line) outranks a title made
//!   from the file name: the writer typed it.
//! - Header lines also accept `Tag:`; `Posted by A on B` splits at the last “ on ”.
//! - Markup nested over 1000 levels, or YAML flow collections nested over
//!   128, is refused: the parsers take quadratic time there, and one file must not stall
//!   a publish.
//! - A file name is words when every part is a word or a number and at least one is a
//!   word (`top-10-tips` → “Top 10 tips”); a part mixing letters and digits other than an
//!   ordinal (`9f3ab27c`, `v2`), a long hex run, or numbers alone make it an id.
//! - A header block whose lines all look like header lines is article text even when its
//!   date is bad: the bad date is an error naming the line, not a silent fallback.
//! - A front matter `id` that is not an absolute URI (a scheme, something after it, no
//!   whitespace) is warned about and replaced by the tag URI: Atom requires one.
//! - C1 controls (U+0080–U+009F) and U+FFFD are removed with what XML forbids: the W3C
//!   validator warns about them. A U+FFFD in the decoded file means text was lost, so it
//!   also earns a warning.
//! - Front matter `title`, `summary`/`description`, categories and tags, and the
//!   article `Title:`, `Categories:` and `Tags:` headers, are plain text that blog exports
//!   often fill with entities and tags (`Q&amp;A`, `<b>`): these are decoded and stripped
//!   once at parse time. Plain-text and Markdown headings are left as written.
//! - Every author is kept, in order: `author` first, then `authors` (a list or a comma
//!   string); repeats (same name ignoring case, or same slug) are dropped. A post with
//!   none has the site's author, so `Post::authors` is never empty.
//! - Categories with the same slug (“Bay Area”, “bay-area”) are one category.
//! - A name with nothing sluggable (`東京.md`) gets a stable `post-{hash}` slug segment,
//!   an author with such a name an `author-{hash}` slug, and a category a
//!   `category-{hash}` slug (`東京`, `!!!`), so no route is empty and no category is lost.

mod article;
mod date;
mod decode;
mod document;
mod file_info;
mod front;
mod html;
mod identity;
mod normalize;
mod text;

use chrono::{DateTime, FixedOffset, Utc};

use document::Document;
use file_info::FileName;

use crate::routes;

pub use file_info::{is_media_path, is_post_path, media_type, slugify};
pub use identity::{rebase_links, Claims, Limits};

/// What a post needs to know of the site: read from `config.toml` by the caller.
#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    pub description: String,
    /// Without a trailing slash, e.g. `https://news.example.com`.
    pub base_url: String,
    /// Host of `base_url` without scheme or port: the authority of tag URIs.
    pub host: String,
    /// The author of posts that name none.
    pub author: String,
    pub language: String,
    /// Dates without an offset are local time here.
    pub timezone: chrono_tz::Tz,
    /// The page route pattern of every post (`site.permalink`), e.g. `/posts/:slug/`.
    pub permalink: String,
    /// How many names one post may carry: the rest are dropped with a warning.
    pub limits: Limits,
    /// The icon and the podcast fields of every feed.
    pub channel: Channel,
}

/// What every feed says of the site beyond its text: its icon, and what podcast
/// directories read from a feed whose posts carry audio or video (`[site] itunes_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Channel {
    /// The icon's absolute URL as served (`{base_url}/icon.png`), when `[site] icon`
    /// is set.
    pub icon_url: Option<String>,
    /// The icon's media type, e.g. `image/png`.
    pub icon_type: Option<&'static str>,
    /// Apple's category, and a subcategory of it (`News`, `Daily News`).
    pub itunes_category: Option<(String, Option<String>)>,
    pub itunes_explicit: bool,
    /// The owner's name; the site's author when unset.
    pub itunes_owner: Option<String>,
    /// Where Apple and Podcast Index write to confirm the owner.
    pub itunes_email: Option<String>,
    /// The WebSub hubs every feed names (`rel="hub"`), absolute URLs: `[websub] hubs`,
    /// then the built-in hub's when it is on.
    pub hubs: Vec<String>,
}

/// A post file as read from disk, before parsing.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path under the posts folder, `/`-separated, e.g. `en/2013-02-06-ruby-2-0.md`.
    pub path: String,
    pub bytes: Vec<u8>,
    /// The file's modification time: the date of posts that carry none, and part of
    /// a feed's Last-Modified.
    pub modified: DateTime<Utc>,
}

/// A display name with its URL slug: a category or an author.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Named {
    pub name: String,
    pub slug: String,
}

/// A file a post carries into its feed items: its front matter `image`, or its
/// `enclosure`/`audio`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub location: Location,
    /// In bytes: for a file beside the post its size, filled in when the post is read
    /// (`scan`); for a URL what the front matter says, else 0, RSS's "unknown".
    pub length: u64,
    /// As the front matter gives it, else by the extension ([`media_type`]).
    pub media_type: String,
}

/// Where an [`Attachment`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An absolute http(s) URL.
    Url(String),
    /// A file beside the post: a `/`-separated path under the post file's folder,
    /// without `.` or `..` (`photo.jpg`, `audio/ep1.mp3`). Its URL follows the page
    /// (see [`Attachment::url`]), as the post's relative links do.
    Beside(String),
}

impl Attachment {
    /// The absolute URL of the attachment of the post whose page is `page_url`: a file
    /// beside the post is resolved against the page, as a relative link in its content
    /// is (`photo.jpg` on `/posts/launch/` is `/posts/launch/photo.jpg`; on
    /// `/2019/03/bus.html`, `/2019/03/photo.jpg`).
    pub fn url(&self, page_url: &str) -> String {
        match &self.location {
            Location::Url(url) => url.clone(),
            Location::Beside(rel) => match url::Url::parse(page_url).and_then(|u| u.join(rel)) {
                Ok(url) => url.to_string(),
                Err(_) => format!("{}{rel}", routes::page_folder(page_url)),
            },
        }
    }

    /// Audio or video: what makes a feed a podcast.
    pub fn is_episode(&self) -> bool {
        self.media_type.starts_with("audio/") || self.media_type.starts_with("video/")
    }
}

/// What a podcast episode says of itself in its front matter (`explicit`, `duration`,
/// `episode`, `season`); Apple Podcasts reads these from `itunes:` elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Episode {
    pub explicit: Option<bool>,
    /// `HH:MM:SS`, `MM:SS` or seconds, as Apple accepts them.
    pub duration: Option<String>,
    pub number: Option<u64>,
    pub season: Option<u64>,
}

/// A problem with one post file, at a line (1-based) of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct Problem {
    pub path: String,
    pub line: usize,
    pub message: String,
}

/// A normalized post: every field present and clean, ready for any renderer.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Path under the posts folder, `/`-separated.
    pub path: String,
    pub slug: String,
    /// RFC 4151 tag URI (or the front matter `id`): never changes on edits.
    pub id: String,
    /// The page's route, e.g. `/posts/night-bus/`: `site.permalink` filled in, or the
    /// post's own permalink, as the ledger placed it. The page is served there.
    pub route: String,
    /// `{base_url}{route}`
    pub url: String,
    pub title: String,
    /// Never empty: the site's author when the post names none.
    pub authors: Vec<Named>,
    pub categories: Vec<Named>,
    pub tags: Vec<Named>,
    pub published: DateTime<FixedOffset>,
    /// `updated`/`lastmod` from front matter, else `published`; never before `published`.
    pub updated: DateTime<FixedOffset>,
    pub file_modified: DateTime<Utc>,
    /// The size of the file it was read from: with `file_modified`, what tells a rescan
    /// the file has not changed since.
    pub file_size: u64,
    /// Plain text, at most 300 characters.
    pub summary: String,
    /// Sanitized HTML with absolute URLs; empty when `content_elsewhere`.
    pub content_html: String,
    /// The body was left in the file, not kept in memory: a site of 100,000 posts holds
    /// only the bodies its feeds show, and reads the others again when a page is asked
    /// for (`snapshot::Bodies`).
    pub content_elsewhere: bool,
    pub draft: bool,
    /// Front matter `image`: the item's picture.
    pub image: Option<Attachment>,
    /// Front matter `enclosure` or `audio`: the item's RSS enclosure, a podcast's
    /// episode when it is audio or video.
    pub enclosure: Option<Attachment>,
    pub episode: Episode,
    /// Problems that did not stop the post, e.g. a guessed encoding or a missing date.
    pub warnings: Vec<Problem>,
    /// What the file asks of the identity ledger, which settles `id`, `slug`, `url` and
    /// the date of an undated post for good.
    pub claims: Claims,
}

/// Parses and normalizes one post file.
pub fn parse(source: &Source, site: &Site) -> Result<Post, Problem> {
    let problem = |line: usize, message: String| Problem {
        path: source.path.clone(),
        line,
        message: one_line(message),
    };
    let decoded = decode::decode(&source.bytes).map_err(|message| problem(1, message))?;
    let mut warnings: Vec<Problem> = decoded
        .warnings
        .into_iter()
        .map(|w| problem(1, w))
        .collect();
    let mut warn = |line: usize, message: String| warnings.push(problem(line, message));
    let is_markdown = file_info::is_markdown(&source.path);
    let Document { front, body } = document::split(&decoded.text, is_markdown, site.timezone)
        .map_err(|err| problem(err.line, err.message))?;
    // Front matter escapes (`"\u0001"`) can bring back what decoding removed.
    let front = front.cleaned();
    let file = FileName::of(&source.path);

    let slug = normalize::slug(&front, &file);
    let published = normalize::published(&front, &file, source.modified, site.timezone, &mut warn)
        .map_err(|err| problem(err.line, err.message))?;
    // An `updated` before the publication date is a typo; no renderer should have to
    // guard against it.
    let updated = front.updated.unwrap_or(published).max(published);
    let limits = site.limits;
    let categories = normalize::capped_names(front.categories.clone(), "categories", &mut warn);
    let categories = normalize::named_warned(
        text::dedup_names(categories),
        "category",
        "categories",
        &mut warn,
    );
    let categories = normalize::at_most(
        categories,
        limits.categories,
        "categories",
        "max_categories",
        &mut warn,
    );
    let authors = normalize::capped_names(front.authors.clone(), "author", &mut warn);
    let authors = normalize::named(normalize::author_names(authors, site), "author");
    let authors = normalize::at_most(authors, limits.authors, "authors", "max_authors", &mut warn);
    let tags = normalize::capped_names(front.tags.clone(), "tags", &mut warn);
    let tags = normalize::named_warned(text::dedup_names(tags), "tag", "tags", &mut warn);
    let tags = normalize::at_most(tags, limits.tags, "tags", "max_tags", &mut warn);
    let first_paragraph = body.first_paragraph();
    let title =
        normalize::capped_title(normalize::title(&front, &file, &first_paragraph), &mut warn);
    let summary = normalize::summary(&front, first_paragraph);
    let claims = normalize::claims(&front, &file, &slug, published, site, source, &mut warn);
    let route = claims
        .route
        .clone()
        .unwrap_or_else(|| normalize::route(site, &slug, published, &categories));
    let url = routes::absolute(&site.base_url, &route);
    let id = normalize::id(&front, &slug, published, site, &mut warn);
    let content_html = normalize::content(&body, &url).map_err(|message| problem(1, message))?;
    let image = normalize::attachment(front.image.as_ref(), "image", site, &mut warn);
    let enclosure = normalize::attachment(front.enclosure.as_ref(), "enclosure", site, &mut warn);
    let episode = front.episode.clone();

    // Markdown entities (`&#1;`) can bring back what decoding removed, and the site's
    // author comes from the config: what was not cleaned with the front matter is here.
    Ok(Post {
        path: source.path.clone(),
        slug,
        id,
        route,
        url,
        title: clean_text(&title),
        authors,
        categories,
        tags,
        published,
        updated,
        file_modified: source.modified,
        file_size: source.bytes.len() as u64,
        summary: clean_text(&summary),
        content_html: decode::clean(&content_html),
        draft: front.draft,
        image,
        enclosure,
        episode,
        warnings,
        claims,
        content_elsewhere: false,
    })
}

/// A title or summary without what XML forbids. Whitespace is collapsed again when
/// something was removed: `&#0;` before a line break in the first paragraph would
/// otherwise leave the summary starting with a space.
fn clean_text(text: &str) -> String {
    let cleaned = decode::clean(text);
    if cleaned.len() == text.len() {
        return cleaned;
    }
    text::collapse(&cleaned)
}

/// `message` with its control characters and line separators escaped (`\n`): values
/// quoted from the file may hold them, and one would split a `check` report or a log
/// line, or forge another.
fn one_line(message: String) -> String {
    let breaks = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !message.contains(breaks) {
        return message;
    }
    message
        .chars()
        .map(|c| {
            if breaks(c) {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
