//! One post file → one normalized [`Post`].
//!
//! This module owns everything DESIGN.md says under "Post formats" and "Normalization":
//! decoding bytes, detecting the format from the content, parsing it, and normalizing the
//! result. It reads nothing but the one file it is handed, knows nothing of feeds, the
//! catalog or HTTP, and so carries its tests in-module.
//!
//! # Layout
//!
//! - `decode`: bytes → text (BOM, UTF-16, Windows-1252, line ends, XML-forbidden chars).
//! - `date`: every date form real blogs carry → a zoned timestamp.
//! - `text`: slugs, titles from file names or first sentences, summaries.
//! - `front`: YAML/TOML front matter → typed fields, keys case-insensitive.
//! - `html`: Markdown and article paragraphs → sanitized HTML with absolute URLs.
//! - this file: format detection and the normalization that joins the pieces.
//!
//! # Decisions beyond DESIGN.md
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

mod date;
mod decode;
mod front;
mod html;
mod text;

use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use front::Front;

use crate::routes;

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
    /// `{base_url}/posts/{slug}/`
    pub url: String,
    pub title: String,
    /// Never empty: the site's author when the post names none.
    pub authors: Vec<Named>,
    pub categories: Vec<Named>,
    pub tags: Vec<String>,
    pub published: DateTime<FixedOffset>,
    /// `updated`/`lastmod` from front matter, else `published`; never before `published`.
    pub updated: DateTime<FixedOffset>,
    pub file_modified: DateTime<Utc>,
    /// Plain text, at most 300 characters.
    pub summary: String,
    /// Sanitized HTML with absolute URLs.
    pub content_html: String,
    pub draft: bool,
    /// Problems that did not stop the post, e.g. a guessed encoding or a missing date.
    pub warnings: Vec<Problem>,
}

/// True for a path that may hold a post: a `.txt`, `.md` or `.markdown` file that is not
/// hidden and not an editor's leftover. The one place these rules live.
pub fn is_post_path(path: &Path) -> bool {
    if path.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s.starts_with('.') && s != "." && s != ".."
    }) {
        return false;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with('#') || name.ends_with('~') || name == "4913" {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".swp") || lower.ends_with(".swx") || lower.ends_with(".tmp") {
        return false;
    }
    lower.ends_with(".txt") || lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// Turns a display name into a URL slug: lowercase ASCII letters and digits joined by
/// `-`, accents folded (“São Paulo” → `sao-paulo`).
pub fn slugify(name: &str) -> String {
    text::slugify(name)
}

/// Parses and normalizes one post file.
pub fn parse(source: &Source, site: &Site) -> Result<Post, Problem> {
    let problem = |line: usize, message: String| Problem {
        path: source.path.clone(),
        line,
        message,
    };
    let decoded = decode::decode(&source.bytes).map_err(|message| problem(1, message))?;
    let mut warnings = Vec::new();
    for warning in decoded.warnings {
        warnings.push(problem(1, warning));
    }
    let lower = source.path.to_ascii_lowercase();
    let is_markdown = lower.ends_with(".md") || lower.ends_with(".markdown");
    let Document { front, body } = document(&decoded.text, is_markdown, site.timezone)
        .map_err(|err| problem(err.line, err.message))?;
    // Front matter escapes (`"\u0001"`) can bring back what decoding removed.
    let front = front.cleaned();
    let name = FileName::of(&source.path);

    let slug = front
        .slug
        .as_deref()
        .map(slug_from_front)
        .filter(|slug| !slug.is_empty())
        .unwrap_or_else(|| name.slug());

    let published = match (front.date, name.date) {
        (Some(date), _) => date,
        (None, Some(day)) => date::midnight(day, site.timezone),
        (None, None) => {
            warnings.push(problem(
                1,
                "no date in the header, front matter or file name; dated by the file's modification time: add a date".into(),
            ));
            source.modified.with_timezone(&site.timezone).fixed_offset()
        }
    };
    // An `updated` before the publication date is a typo; no renderer should have to
    // guard against it.
    let updated = front.updated.unwrap_or(published).max(published);

    let first_paragraph = match &body {
        Body::Paragraphs(paragraphs) => paragraphs.first().cloned().unwrap_or_default(),
        Body::Markdown(markdown) => html::first_paragraph(markdown),
    };
    let title = front
        .title
        .as_deref()
        .map(text::collapse)
        .filter(|title| !title.is_empty())
        .or_else(|| text::title_from_name(&name.name))
        .or_else(|| {
            let sentence = text::first_sentence(&first_paragraph);
            (!sentence.is_empty()).then(|| text::truncate(&sentence, 100))
        })
        .unwrap_or_else(|| name.name.clone());
    let summary = front
        .summary
        .as_deref()
        .map(text::collapse)
        .filter(|summary| !summary.is_empty())
        .unwrap_or(first_paragraph);
    let summary = text::truncate(&summary, 300);

    let mut author_names = text::dedup_names(front.authors);
    if author_names.is_empty() {
        author_names.push(site.author.clone());
    }
    let mut authors: Vec<Named> = Vec::new();
    for name in author_names {
        // The site's author comes from the config: it is cleaned here.
        let name = decode::clean(&name);
        let slug = slug_or_hash(&name, "author");
        if !authors.iter().any(|a| a.slug == slug) {
            authors.push(Named { name, slug });
        }
    }

    let mut categories: Vec<Named> = Vec::new();
    for name in text::dedup_names(front.categories) {
        let slug = slug_or_hash(&name, "category");
        if !categories.iter().any(|c| c.slug == slug) {
            categories.push(Named { name, slug });
        }
    }
    let tags = text::dedup_names(front.tags);

    let url = routes::absolute(&site.base_url, &routes::post_page(&slug));
    let id = front
        .id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .filter(|id| {
            let uri = is_uri(id);
            if !uri {
                warnings.push(problem(
                    front.id_line.unwrap_or(1),
                    format!("key `id`: `{id}` is not a URI; use a tag: or https: URI, or remove it to use the default"),
                ));
            }
            uri
        })
        .map(str::to_string)
        .unwrap_or_else(|| {
            let day = published.with_timezone(&site.timezone).format("%Y-%m-%d");
            format!("tag:{},{}:{}", site.host, day, slug)
        });
    let content_html = match &body {
        Body::Paragraphs(paragraphs) => html::paragraphs(paragraphs),
        Body::Markdown(markdown) => html::markdown(markdown),
    };
    if html::depth(&content_html) > html::MAX_DEPTH {
        return Err(problem(
            1,
            format!(
                "markup nested over {} levels deep; flatten the lists, quotes or HTML",
                html::MAX_DEPTH
            ),
        ));
    }
    let content_html = html::sanitize(&content_html, &url);

    // Markdown entities (`&#1;`) can bring back what decoding removed, and the site's
    // author comes from the config: what was not cleaned with the front matter is here.
    Ok(Post {
        path: source.path.clone(),
        slug,
        id,
        url,
        title: decode::clean(&title),
        authors,
        categories,
        tags,
        published,
        updated,
        file_modified: source.modified,
        summary: decode::clean(&summary),
        content_html: decode::clean(&content_html),
        draft: front.draft,
        warnings,
    })
}

/// A post's fields as written, and its body, before normalization.
struct Document {
    front: Front,
    body: Body,
}

enum Body {
    Markdown(String),
    /// Article and plain text: paragraphs with their hard wraps joined.
    Paragraphs(Vec<String>),
}

/// Detects the format from the content and splits fields from the body.
fn document(text: &str, is_markdown: bool, tz: chrono_tz::Tz) -> Result<Document, front::Error> {
    if let Some(block) = front::split(text)? {
        let front = plain_fields(front::parse(&block, tz)?);
        return Ok(Document {
            front,
            body: Body::Markdown(block.body.to_string()),
        });
    }
    if let Some((front, body)) = article_header(text, tz)? {
        return Ok(Document {
            front: plain_fields(front),
            body: Body::Paragraphs(paragraphs(body)),
        });
    }
    if is_markdown {
        let mut front = Front::default();
        let body = match html::leading_heading(text) {
            Some((title, rest)) => {
                front.title = Some(title);
                rest
            }
            None => text,
        };
        return Ok(Document {
            front,
            body: Body::Markdown(body.to_string()),
        });
    }
    // Plain text: a short first line followed by a blank line is the title.
    let mut front = Front::default();
    let mut body = text;
    let mut lines = text.lines();
    if let (Some(first), Some(second)) = (lines.next(), lines.next()) {
        let first = first.trim();
        if !first.is_empty() && first.chars().count() <= 100 && second.trim().is_empty() {
            front.title = Some(first.to_string());
            body = text.split_once('\n').map_or("", |(_, rest)| rest);
        }
    }
    Ok(Document {
        front,
        body: Body::Paragraphs(paragraphs(body)),
    })
}

/// The fields meant as plain text, with the entities and tags that blog exports leave in
/// them decoded and stripped once: a feed would show `Q&amp;A` or `<b>` as written.
fn plain_fields(front: Front) -> Front {
    let plain = |text: Option<String>| text.map(|t| html::plain_text(&t));
    let list = |names: Vec<String>| names.iter().map(|n| html::plain_text(n)).collect();
    Front {
        title: plain(front.title),
        summary: plain(front.summary),
        categories: list(front.categories),
        tags: list(front.tags),
        ..front
    }
}

/// Paragraphs separated by blank lines, each with its hard wraps joined by one space.
fn paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join(" "));
    }
    paragraphs
}

/// One line of an article's header.
enum HeaderLine<'a> {
    Posted { author: &'a str, date: &'a str },
    Categories(&'a str),
    Tags(&'a str),
    Title(&'a str),
}

/// `line` without a case-insensitive ASCII `prefix`, if it starts with it.
fn strip_keyword<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .and_then(|_| line.get(prefix.len()..))
}

fn header_line(line: &str) -> Option<HeaderLine<'_>> {
    if let Some(rest) = strip_keyword(line, "posted by ") {
        let rest = rest.trim_start();
        if let Some(date) = strip_keyword(rest, "on ") {
            return Some(HeaderLine::Posted { author: "", date });
        }
        // Dates never contain “ on ”; names might, so the last one splits.
        let at = rest.to_ascii_lowercase().rfind(" on ")?;
        return Some(HeaderLine::Posted {
            author: rest.get(..at)?,
            date: rest.get(at + 4..)?,
        });
    }
    if let Some(date) = strip_keyword(line, "posted on ") {
        return Some(HeaderLine::Posted { author: "", date });
    }
    let keyword = |prefix: &str| strip_keyword(line, prefix);
    if let Some(list) = keyword("categories:").or_else(|| keyword("category:")) {
        return Some(HeaderLine::Categories(list));
    }
    if let Some(list) = keyword("tags:").or_else(|| keyword("tag:")) {
        return Some(HeaderLine::Tags(list));
    }
    if let Some(title) = keyword("title:") {
        return Some(HeaderLine::Title(title));
    }
    None
}

/// The header of article text (the lines before the first blank line, when every one is
/// a header line), and the body after it.
fn article_header(text: &str, tz: chrono_tz::Tz) -> Result<Option<(Front, &str)>, front::Error> {
    let mut offset = 0;
    let mut line_number = 0;
    let mut header: Vec<(usize, HeaderLine<'_>)> = Vec::new();
    for line in text.split_inclusive('\n') {
        line_number += 1;
        offset += line.len();
        let trimmed = line.trim();
        if trimmed.is_empty() {
            if header.is_empty() {
                continue;
            }
            break;
        }
        match header_line(trimmed) {
            Some(parsed) => header.push((line_number, parsed)),
            None => return Ok(None),
        }
    }
    if header.is_empty() {
        return Ok(None);
    }
    let mut front = Front::default();
    for (line, parsed) in header {
        match parsed {
            HeaderLine::Posted { author, date } => {
                let date = date.trim();
                front.date = Some(date::parse(date, tz).ok_or_else(|| front::Error {
                    line,
                    message: format!("`{date}` is not a date; {}", date::ACCEPTED),
                })?);
                if !author.trim().is_empty() {
                    front.authors = vec![author.trim().to_string()];
                }
            }
            HeaderLine::Categories(list) => {
                front.categories.extend(list.split(',').map(str::to_string));
            }
            HeaderLine::Tags(list) => front.tags.extend(list.split(',').map(str::to_string)),
            HeaderLine::Title(title) => front.title = Some(title.trim().to_string()),
        }
    }
    Ok(Some((front, text.get(offset..).unwrap_or_default())))
}

/// What the file's path says: the name that titles it, the folders that prefix its slug,
/// and a Jekyll date.
struct FileName {
    folders: Vec<String>,
    /// The file's stem without a Jekyll date, or the folder's name for `index.md`.
    name: String,
    date: Option<NaiveDate>,
}

impl FileName {
    fn of(path: &str) -> FileName {
        let mut parts: Vec<&str> = path
            .split('/')
            .filter(|part| !part.is_empty() && *part != "." && *part != "..")
            .collect();
        let file = parts.pop().unwrap_or_default();
        let mut stem = match file.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => file,
        };
        if stem.eq_ignore_ascii_case("index") {
            if let Some(folder) = parts.pop() {
                stem = folder;
            }
        }
        let (date, name) = match text::jekyll(stem) {
            Some((date, rest)) => (Some(date), rest),
            None => (None, stem),
        };
        FileName {
            folders: parts.into_iter().map(str::to_string).collect(),
            name: name.to_string(),
            date,
        }
    }

    /// `en/2013-02-06-ruby-2-0.md` → `en/ruby-2-0`: every segment slugified.
    fn slug(&self) -> String {
        let mut segments: Vec<String> = self
            .folders
            .iter()
            .map(|folder| slugify(folder))
            .filter(|segment| !segment.is_empty())
            .collect();
        segments.push(slug_or_hash(&self.name, "post"));
        segments.join("/")
    }
}

/// A front matter slug made safe as a URL path and a file path: `../../etc/passwd` →
/// `etc/passwd`. Empty when nothing is left.
fn slug_from_front(slug: &str) -> String {
    slug.split('/')
        .map(slugify)
        .filter(|segment| !segment.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// True for an absolute URI, as Atom's `<id>` must be: a scheme
/// (`[A-Za-z][A-Za-z0-9+.-]*:`), something after it, and no whitespace.
fn is_uri(id: &str) -> bool {
    let Some((scheme, rest)) = id.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        && !rest.is_empty()
        && !id.chars().any(char::is_whitespace)
}

/// The slug of `name`, or `{prefix}-{hash}` when it has no ASCII letter or digit
/// (`東京`): stable across runs, so ids and URLs do not move.
fn slug_or_hash(name: &str, prefix: &str) -> String {
    let slug = slugify(name);
    if !slug.is_empty() {
        return slug;
    }
    // FNV-1a: tiny, and fixed forever, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{prefix}-{:08x}", hash >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site {
            title: "Example News".into(),
            description: "Posts".into(),
            base_url: "https://example.com".into(),
            host: "example.com".into(),
            author: "Newsroom".into(),
            language: "en".into(),
            timezone: chrono_tz::America::Los_Angeles,
        }
    }

    fn source(path: &str, bytes: &[u8]) -> Source {
        Source {
            path: path.into(),
            bytes: bytes.to_vec(),
            modified: DateTime::parse_from_rfc3339("2020-05-06T07:08:09Z")
                .map(|d| d.to_utc())
                .unwrap_or_default(),
        }
    }

    fn post(path: &str, text: &str) -> Post {
        match parse(&source(path, text.as_bytes()), &site()) {
            Ok(post) => post,
            Err(problem) => panic!("{problem}"),
        }
    }

    fn error(path: &str, bytes: &[u8]) -> String {
        match parse(&source(path, bytes), &site()) {
            Ok(post) => panic!("parsed: {post:?}"),
            Err(problem) => problem.to_string(),
        }
    }

    fn names(named: &[Named]) -> Vec<(&str, &str)> {
        named
            .iter()
            .map(|n| (n.name.as_str(), n.slug.as_str()))
            .collect()
    }

    const ARTICLE: &str = "Posted by Dana Whitfield on March 3, 2019\n\
Categories: City Hall, Transit\n\
\n\
The council voted 7–2 on Tuesday to extend the night bus pilot, a “stopgap” that\n\
riders have asked to make permanent since it began last spring.\n\
\n\
A second paragraph, also hard-wrapped at\n\
an arbitrary column.\n";

    #[test]
    fn design_article_text_is_parsed_field_by_field() {
        let p = post("night-bus.txt", ARTICLE);
        assert_eq!(p.path, "night-bus.txt");
        assert_eq!(p.slug, "night-bus");
        assert_eq!(p.url, "https://example.com/posts/night-bus/");
        assert_eq!(p.id, "tag:example.com,2019-03-03:night-bus");
        assert_eq!(p.title, "Night bus");
        assert_eq!(
            p.authors,
            vec![Named {
                name: "Dana Whitfield".into(),
                slug: "dana-whitfield".into()
            }]
        );
        assert_eq!(p.published.to_rfc3339(), "2019-03-03T00:00:00-08:00");
        assert_eq!(p.updated, p.published);
        assert_eq!(
            names(&p.categories),
            vec![("City Hall", "city-hall"), ("Transit", "transit")]
        );
        assert_eq!(p.tags, Vec::<String>::new());
        assert_eq!(
            p.content_html,
            "<p>The council voted 7–2 on Tuesday to extend the night bus pilot, a “stopgap” that \
riders have asked to make permanent since it began last spring.</p>\n\
<p>A second paragraph, also hard-wrapped at an arbitrary column.</p>\n"
        );
        assert_eq!(
            p.summary,
            "The council voted 7–2 on Tuesday to extend the night bus pilot, a “stopgap” that \
riders have asked to make permanent since it began last spring."
        );
        assert!(!p.draft);
        assert_eq!(p.warnings, vec![]);
        assert_eq!(p.file_modified.to_rfc3339(), "2020-05-06T07:08:09+00:00");
    }

    #[test]
    fn article_without_title_uses_the_first_sentence_past_abbreviations() {
        let p = post(
            "0042_9f3ab27c.txt",
            "Posted on 2019-03-03\n\nThe head of the U.S. Forest Service met Dr. Ruiz on Friday. Then they…\n",
        );
        assert_eq!(
            p.title,
            "The head of the U.S. Forest Service met Dr. Ruiz on Friday"
        );
        assert_eq!(p.slug, "0042-9f3ab27c");
        assert_eq!(p.authors[0].name, "Newsroom");
    }

    #[test]
    fn long_first_sentence_is_cut_at_a_word_with_an_ellipsis() {
        let sentence = "word ".repeat(40);
        let p = post(
            "0042.txt",
            &format!("Posted on 2019-03-03\n\n{sentence}.\n"),
        );
        assert_eq!(p.title, format!("{}…", "word ".repeat(20).trim_end()));
        assert_eq!(p.title.chars().count(), 100);
    }

    #[test]
    fn posted_by_nobody_takes_the_site_author() {
        let p = post(
            "a.txt",
            "Posted by on January 18, 2018\nTags: x, y, X\n\nBody.\n",
        );
        assert_eq!(
            p.authors,
            vec![Named {
                name: "Newsroom".into(),
                slug: "newsroom".into()
            }]
        );
        assert_eq!(p.published.to_rfc3339(), "2018-01-18T00:00:00-08:00");
        assert_eq!(p.tags, vec!["x", "y"]);
    }

    #[test]
    fn category_without_ascii_letters_gets_a_stable_hashed_slug() {
        let p = post(
            "a.txt",
            "Posted on 2019-03-03\nCategories: News, 東京, !!!, news, 東京\n\nBody.\n",
        );
        assert_eq!(
            names(&p.categories),
            vec![
                ("News", "news"),
                ("東京", "category-2f3c04f1"),
                ("!!!", "category-bbe43c17")
            ]
        );
        assert_eq!(p.warnings, vec![]);
    }

    #[test]
    fn header_keywords_are_case_insensitive_and_in_any_order() {
        let p = post(
            "a.txt",
            "category: Bay Area\nTITLE: Night owls\nposted BY Lee on 18 January 2018 9:05 pm\n\nBody.\n",
        );
        assert_eq!(p.title, "Night owls");
        assert_eq!(p.authors[0].name, "Lee");
        assert_eq!(p.published.to_rfc3339(), "2018-01-18T21:05:00-08:00");
        assert_eq!(names(&p.categories), vec![("Bay Area", "bay-area")]);
    }

    #[test]
    fn bad_header_date_names_the_line() {
        assert_eq!(
            error("a.txt", b"Categories: x\nPosted on someday\n\nBody.\n"),
            format!("a.txt:2: `someday` is not a date; {}", date::ACCEPTED)
        );
    }

    #[test]
    fn plain_text_first_short_line_is_the_title() {
        let p = post(
            "0042.txt",
            "Night owls\n\nFirst paragraph\nwrapped.\n\nSecond.\n",
        );
        assert_eq!(p.title, "Night owls");
        assert_eq!(
            p.content_html,
            "<p>First paragraph wrapped.</p>\n<p>Second.</p>\n"
        );
        assert_eq!(p.summary, "First paragraph wrapped.");
    }

    #[test]
    fn plain_text_without_date_is_dated_by_modification_time_with_a_warning() {
        let p = post(
            "notes/night-bus-pilot.txt",
            "Just one paragraph\nof text.\n",
        );
        assert_eq!(p.title, "Night bus pilot");
        assert_eq!(p.slug, "notes/night-bus-pilot");
        assert_eq!(p.published.to_rfc3339(), "2020-05-06T00:08:09-07:00");
        assert_eq!(p.id, "tag:example.com,2020-05-06:notes/night-bus-pilot");
        assert_eq!(p.content_html, "<p>Just one paragraph of text.</p>\n");
        assert_eq!(
            p.warnings,
            vec![Problem {
                path: "notes/night-bus-pilot.txt".into(),
                line: 1,
                message: "no date in the header, front matter or file name; dated by the file's modification time: add a date".into()
            }]
        );
    }

    #[test]
    fn markdown_without_front_matter_takes_its_heading_as_title() {
        let p = post("0042.md", "# Night *owls*\n\nSome **bold** text.\n");
        assert_eq!(p.title, "Night owls");
        assert_eq!(p.content_html, "<p>Some <strong>bold</strong> text.</p>\n");
        assert_eq!(p.summary, "Some bold text.");
    }

    #[test]
    fn jekyll_name_gives_date_and_slug() {
        let p = post(
            "en/2013-02-06-ruby-2-0.md",
            "---\ntitle: Ruby 2.0\n---\nOut now.\n",
        );
        assert_eq!(p.slug, "en/ruby-2-0");
        assert_eq!(p.published.to_rfc3339(), "2013-02-06T00:00:00-08:00");
        assert_eq!(p.id, "tag:example.com,2013-02-06:en/ruby-2-0");
        assert_eq!(p.warnings, vec![]);
        let p = post("2019-03-03-night-bus.md", "Text.\n");
        assert_eq!(p.slug, "night-bus");
        assert_eq!(p.title, "Night bus");
    }

    #[test]
    fn page_bundle_index_takes_its_folders_name() {
        let p = post(
            "launch/index.md",
            "---\ndate: 2019-03-03\n---\nWe launched.\n",
        );
        assert_eq!(p.slug, "launch");
        assert_eq!(p.title, "Launch");
        assert_eq!(p.url, "https://example.com/posts/launch/");
    }

    #[test]
    fn yaml_front_matter_with_capitalized_keys() {
        let p = post(
            "x.md",
            "---\nTitle: \"Night owls\"\nDate: 2019-07-04 09:30\nLastmod: 2019-07-05T10:00:00Z\nAuthor: Dana Whitfield\n\
Categories: [São Paulo, Bay Area, bay area, \"!!!\"]\nTags: night, owls\nSummary: A  short\n  summary.\nSlug: owls/night\nlayout: post\n---\n\
First paragraph.\n",
        );
        assert_eq!(p.title, "Night owls");
        assert_eq!(p.published.to_rfc3339(), "2019-07-04T09:30:00-07:00");
        assert_eq!(p.updated.to_rfc3339(), "2019-07-05T10:00:00+00:00");
        assert_eq!(
            names(&p.authors),
            vec![("Dana Whitfield", "dana-whitfield")]
        );
        assert_eq!(
            names(&p.categories),
            vec![
                ("São Paulo", "sao-paulo"),
                ("Bay Area", "bay-area"),
                ("!!!", "category-bbe43c17")
            ]
        );
        assert_eq!(p.tags, vec!["night", "owls"]);
        assert_eq!(p.summary, "A short summary.");
        assert_eq!(p.slug, "owls/night");
        assert_eq!(p.id, "tag:example.com,2019-07-04:owls/night");
        assert_eq!(p.warnings, vec![]);
    }

    #[test]
    fn toml_front_matter_with_zola_taxonomies() {
        let p = post(
            "launch.md",
            "+++\ntitle = \"Launch\"\ndate = 2019-01-15T09:30:00\nauthors = [\"Lee\"]\nid = \"urn:uuid:1\"\n\
[taxonomies]\ncategories = [\"News\"]\ntags = [\"rust\"]\n+++\nBody.\n",
        );
        assert_eq!(p.published.to_rfc3339(), "2019-01-15T09:30:00-08:00");
        assert_eq!(p.authors[0].name, "Lee");
        assert_eq!(names(&p.categories), vec![("News", "news")]);
        assert_eq!(p.tags, vec!["rust"]);
        assert_eq!(p.id, "urn:uuid:1");
    }

    #[test]
    fn front_matter_id_that_is_not_a_uri_falls_back_to_the_tag_uri_with_a_warning() {
        let p = post(
            "night-bus.md",
            "---\ndate: 2019-03-03\nid: my custom id\n---\nx\n",
        );
        assert_eq!(p.id, "tag:example.com,2019-03-03:night-bus");
        assert_eq!(
            p.warnings,
            vec![Problem {
                path: "night-bus.md".into(),
                line: 3,
                message: "key `id`: `my custom id` is not a URI; use a tag: or https: URI, or remove it to use the default".into()
            }]
        );
        for (id, kept) in [
            ("urn:uuid:1", true),
            ("https://example.com/a", true),
            ("tag:example.com,2019:x", true),
            ("x-1.b+c:y", true),
            ("12345", false),
            ("1x:y", false),
            ("tag:", false),
            (":x", false),
            ("tag:a b", false),
        ] {
            assert_eq!(is_uri(id), kept, "{id}");
        }
    }

    #[test]
    fn front_matter_titles_and_categories_lose_their_entities_and_tags() {
        let p = post(
            "q.md",
            "---\ntitle: \"Q&amp;A with <b>Ann</b> &#8217;24\"\ndate: 2019-03-03\n\
summary: \"<em>Short</em> &amp; sweet\"\ncategories: [\"R&amp;D\", \"<i>Bay</i> Area\"]\ntags: [\"Tom &amp; Jerry\"]\n---\nx\n",
        );
        assert_eq!(p.title, "Q&A with Ann \u{2019}24");
        assert_eq!(p.summary, "Short & sweet");
        assert_eq!(
            names(&p.categories),
            vec![("R&D", "r-d"), ("Bay Area", "bay-area")]
        );
        assert_eq!(p.tags, vec!["Tom & Jerry"]);
    }

    #[test]
    fn article_title_header_loses_its_entities_and_tags() {
        let p = post(
            "q.txt",
            "Title: Q&amp;A with <b>Ann</b> &#8217;24\nPosted on 2019-03-03\nCategories: R&amp;D\n\nBody &amp; more.\n",
        );
        assert_eq!(p.title, "Q&A with Ann \u{2019}24");
        assert_eq!(names(&p.categories), vec![("R&D", "r-d")]);
        // The body is text as written, not HTML.
        assert_eq!(p.content_html, "<p>Body &amp;amp; more.</p>\n");
    }

    #[test]
    fn every_author_is_kept_in_order_without_repeats() {
        let p = post(
            "a.md",
            "---\ndate: 2019-03-03\nauthor: Ann Lee\nauthors: [Zed, Yan, ann lee, 東京]\n---\nx\n",
        );
        assert_eq!(
            names(&p.authors),
            vec![
                ("Ann Lee", "ann-lee"),
                ("Zed", "zed"),
                ("Yan", "yan"),
                ("東京", "author-2f3c04f1")
            ]
        );
        let p = post("b.md", "---\ndate: 2019-03-03\nauthors: []\n---\nx\n");
        assert_eq!(names(&p.authors), vec![("Newsroom", "newsroom")]);
    }

    #[test]
    fn draft_is_marked() {
        let p = post("d.md", "---\ndraft: true\ndate: 2019-03-03\n---\nx\n");
        assert!(p.draft);
    }

    #[test]
    fn updated_before_published_is_the_publication_date() {
        let p = post(
            "u.md",
            "---\ndate: 2020-05-02T10:00:00Z\nupdated: 2020-05-01T10:00:00Z\n---\nTypo.\n",
        );
        assert_eq!(p.updated.to_rfc3339(), "2020-05-02T10:00:00+00:00");
    }

    #[test]
    fn future_post_keeps_its_date() {
        let p = post("f.md", "---\ndate: 2999-01-01T00:00:00Z\n---\nLater.\n");
        assert_eq!(p.published.to_rfc3339(), "2999-01-01T00:00:00+00:00");
        assert!(!p.draft);
    }

    #[test]
    fn front_matter_slug_cannot_escape_the_posts_folder() {
        let p = post(
            "x.md",
            "---\nslug: ../../etc/passwd\ndate: 2019-03-03\n---\nx\n",
        );
        assert_eq!(p.slug, "etc/passwd");
        assert_eq!(p.url, "https://example.com/posts/etc/passwd/");
        let p = post(
            "night-bus.md",
            "---\nslug: \"/../..//\"\ndate: 2019-03-03\n---\nx\n",
        );
        assert_eq!(p.slug, "night-bus");
        let p = post("../../a/./東京.md", "---\ndate: 2019-03-03\n---\nx\n");
        assert_eq!(p.slug, "a/post-2f3c04f1");
    }

    #[test]
    fn relative_urls_are_made_absolute_and_html_is_sanitized() {
        let p = post(
            "night-bus.md",
            "---\ndate: 2019-03-03\n---\n![pic](pic.png) [x](/x) <img src=\"pic.png\" onclick=\"x()\">\n\n\
<script>alert(1)</script>\n\n[bad](javascript:alert(1))\n",
        );
        assert_eq!(
            p.content_html,
            "<p><img src=\"https://example.com/posts/night-bus/pic.png\" alt=\"pic\"> \
<a href=\"https://example.com/x\" rel=\"noopener noreferrer\">x</a> \
<img src=\"https://example.com/posts/night-bus/pic.png\"></p>\n\n<p><a rel=\"noopener noreferrer\">bad</a></p>\n"
        );
    }

    #[test]
    fn summary_leaves_out_what_the_sanitizer_removes() {
        let p = post(
            "s.md",
            "---\ndate: 2019-03-03\n---\n<style>p{color:red}</style>\n\nRiders <script>track()</script>cheered.\n",
        );
        assert_eq!(p.summary, "Riders cheered.");
        assert_eq!(p.title, "S");
        assert_eq!(p.content_html, "\n<p>Riders cheered.</p>\n");
    }

    #[test]
    fn windows_1252_file_is_read_with_a_warning() {
        let p = parse(
            &source("q.txt", b"Posted on 2019-03-03\n\n\x93Quoted\x94 text.\n"),
            &site(),
        )
        .unwrap();
        assert_eq!(p.content_html, "<p>\u{201C}Quoted\u{201D} text.</p>\n");
        assert_eq!(
            p.warnings,
            vec![Problem {
                path: "q.txt".into(),
                line: 1,
                message: "not UTF-8; read as Windows-1252, save the file as UTF-8".into()
            }]
        );
    }

    #[test]
    fn unreadable_utf16_is_removed_with_a_warning_naming_the_file() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "Posted on 2019-03-03\n\nCaf".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        // An unpaired high surrogate, then `é.`
        bytes.extend_from_slice(&[0x00, 0xD8, 0xE9, 0x00, b'.', 0x00]);
        let p = parse(&source("cafe.txt", &bytes), &site()).unwrap();
        assert_eq!(p.content_html, "<p>Café.</p>\n");
        assert_eq!(
            p.warnings,
            vec![Problem {
                path: "cafe.txt".into(),
                line: 1,
                message: "invalid characters removed; save the file as UTF-8".into()
            }]
        );
    }

    #[test]
    fn utf16_and_bom_crlf_files_parse() {
        let text = "Posted on 2019-03-03\r\n\r\nHello\r\nthere.\r\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            le.extend_from_slice(&unit.to_le_bytes());
            be.extend_from_slice(&unit.to_be_bytes());
        }
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        for bytes in [le, be, bom] {
            let p = parse(&source("h.txt", &bytes), &site()).unwrap();
            assert_eq!(p.content_html, "<p>Hello there.</p>\n");
            assert_eq!(p.published.to_rfc3339(), "2019-03-03T00:00:00-08:00");
            assert_eq!(p.warnings, vec![]);
        }
    }

    #[test]
    fn xml_forbidden_characters_are_removed_from_every_field() {
        let p = post(
            "x.md",
            "---\ntitle: \"A\\x01B\\uFFFE\"\nauthor: \"Da\\x02na\"\ncategories: [\"C\\x03D\"]\ndate: 2019-03-03\n---\nText&#1;\u{7}.\n",
        );
        assert_eq!(p.title, "AB");
        assert_eq!(p.authors[0].name, "Dana");
        assert_eq!(names(&p.categories), vec![("CD", "cd")]);
        assert!(
            p.content_html.chars().all(decode::xml_allowed),
            "{:?}",
            p.content_html
        );
        assert!(
            p.summary.chars().all(decode::xml_allowed),
            "{:?}",
            p.summary
        );
    }

    #[test]
    fn unreadable_files_are_refused_with_the_reason() {
        assert_eq!(
            error("a.txt", b""),
            "a.txt:1: empty file; write the post or delete the file"
        );
        assert_eq!(
            error("a.txt", b"ab\x00cd"),
            "a.txt:1: binary file (NUL bytes), not a post"
        );
        assert_eq!(
            error("a.md", b"---\ntitle: x\n"),
            "a.md:1: front matter opened with `---` on line 1 is never closed; add a closing `---` line"
        );
        assert_eq!(
            error("a.md", b"---\ntitle: x\ndraft: 3\n---\n"),
            "a.md:3: key `draft`: expected true or false"
        );
    }

    #[test]
    fn absurdly_deep_markup_is_refused_instead_of_stalling_the_sanitizer() {
        let text = format!("---\ndate: 2019-03-03\n---\n{}x\n", "> ".repeat(5_000));
        assert_eq!(
            error("deep.md", text.as_bytes()),
            "deep.md:1: markup nested over 1000 levels deep; flatten the lists, quotes or HTML"
        );
        let text = format!("---\ndate: 2019-03-03\n---\n{}x\n", "> ".repeat(50));
        assert!(post("deep.md", &text)
            .content_html
            .starts_with("<blockquote>\n<blockquote>"));
    }

    #[test]
    fn odd_bytes_never_panic() {
        let huge = "x".repeat(1_000_000);
        let inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"---".to_vec(),
            b"---\n".to_vec(),
            b"---\n---".to_vec(),
            b"---\n---\n".to_vec(),
            b"+++\n+++\n".to_vec(),
            b"\xEF\xBB\xBF".to_vec(),
            b"\xFF\xFE".to_vec(),
            b"\xFE\xFF\x00".to_vec(),
            b"\xFF\xFEa".to_vec(),
            b"\x00".to_vec(),
            b"\xFF\xFE\x00\xD8".to_vec(),
            b"\xC3".to_vec(),
            b"\r".to_vec(),
            b"\r\r\rPosted on\r".to_vec(),
            b"Posted by on\n\nx".to_vec(),
            b"Posted by  on  \n\nx".to_vec(),
            b"Title:\n\n".to_vec(),
            b"Categories: ,,,\n\nx".to_vec(),
            b"#\n".to_vec(),
            b"# \xC3\xA9\n".to_vec(),
            "---\ndate: 2019-03-03\u{e9}\n---\n".as_bytes().to_vec(),
            "---\ntitle: é\ndate: é\n---\n".as_bytes().to_vec(),
            b"---\n: :\n---\n".to_vec(),
            b"---\n*a\n---\n".to_vec(),
            b"+++\n[taxonomies]\ncategories = 3\n+++\n".to_vec(),
            b"\x01\x02\x03".to_vec(),
            huge.clone().into_bytes(),
            format!("Posted on 2019-03-03\n\n{huge}").into_bytes(),
            format!("{}\n\nx", "é".repeat(500)).into_bytes(),
            format!("Posted on 2019-03-03\n\n{}", ".".repeat(200_000)).into_bytes(),
            format!("Posted on 2019-03-03\n\n{}", "a. ".repeat(100_000)).into_bytes(),
            format!("Posted on 2019-03-03\n\n{}", " ".repeat(200_000)).into_bytes(),
            format!("---\ndate: 2019-03-03\n---\n{}x\n", "> ".repeat(50_000)).into_bytes(),
            format!("---\ndate: 2019-03-03\n---\n{}x\n", "<div>".repeat(50_000)).into_bytes(),
            format!("---\ndate: 2019-03-03\n---\n{}x\n", "- ".repeat(50_000)).into_bytes(),
            format!("---\nt: {}\n---\n", "[".repeat(50_000)).into_bytes(),
            format!("+++\nt = {}\n+++\n", "[".repeat(50_000)).into_bytes(),
        ];
        for bytes in inputs {
            let paths: &[&str] = if bytes.len() > 10_000 {
                &["x.txt", "x.md"]
            } else {
                &["x.txt", "x.md", "", "/", "index.md", "..", ".md"]
            };
            for path in paths {
                let _ = parse(&source(path, &bytes), &site());
            }
        }
    }
}
