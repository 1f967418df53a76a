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

use std::path::Path;

use chrono::{DateTime, FixedOffset, Utc};

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
    pub author: Named,
    pub categories: Vec<Named>,
    pub tags: Vec<String>,
    pub published: DateTime<FixedOffset>,
    /// `updated`/`lastmod` from front matter, else `published`.
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

/// Reads one post file, refusing anything over `max_bytes` before reading it whole.
/// `path` is the full path; `rel` the `/`-separated path under the posts folder.
pub fn read(path: &Path, rel: &str, max_bytes: u64) -> Result<Source, Problem> {
    let problem = |message: String| Problem {
        path: rel.to_string(),
        line: 1,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|err| {
        if std::fs::symlink_metadata(path).is_ok() {
            problem(format!("cannot read the file: {err} (a dangling symlink?)"))
        } else {
            problem(format!("cannot read the file: {err}"))
        }
    })?;
    if !meta.is_file() {
        return Err(problem("not a regular file".into()));
    }
    if meta.len() > max_bytes {
        return Err(problem(format!(
            "file is {} bytes, over posts.max_bytes ({max_bytes}); split it or raise posts.max_bytes",
            meta.len()
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|err| problem(format!("cannot read the file: {err}")))?;
    // Checked again: the file may have grown between the stat and the read.
    if bytes.len() as u64 > max_bytes {
        return Err(problem(format!(
            "file is {} bytes, over posts.max_bytes ({max_bytes}); split it or raise posts.max_bytes",
            bytes.len()
        )));
    }
    let modified = meta
        .modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Ok(Source {
        path: rel.to_string(),
        bytes,
        modified,
    })
}

/// Turns a display name into a URL slug: lowercase ASCII letters and digits joined by
/// `-`, accents folded (“São Paulo” → `sao-paulo`).
pub fn slugify(name: &str) -> String {
    text::slugify(name)
}

/// Parses and normalizes one post file.
pub fn parse(source: &Source, site: &Site) -> Result<Post, Problem> {
    parse_impl(source, site)
}

mod text {
    use unicode_normalization::UnicodeNormalization;

    pub fn slugify(name: &str) -> String {
        let mut slug = String::new();
        let mut dash = false;
        for c in name.nfkd() {
            if c.is_ascii_alphanumeric() {
                if dash && !slug.is_empty() {
                    slug.push('-');
                }
                dash = false;
                slug.push(c.to_ascii_lowercase());
            } else if c.is_alphanumeric() || c.is_whitespace() || c.is_ascii_punctuation() {
                dash = true;
            }
        }
        slug
    }
}

// Interim: the whole file as one plain-text paragraph. Replaced by the real parsers.
fn parse_impl(source: &Source, site: &Site) -> Result<Post, Problem> {
    let text = String::from_utf8_lossy(&source.bytes).to_string();
    let stem = source
        .path
        .rsplit_once('.')
        .map(|(s, _)| s)
        .unwrap_or(&source.path)
        .to_string();
    let published = source.modified.fixed_offset();
    Ok(Post {
        path: source.path.clone(),
        slug: stem.clone(),
        id: format!(
            "tag:{},{}:{}",
            site.host,
            published.format("%Y-%m-%d"),
            stem
        ),
        url: format!("{}/posts/{}/", site.base_url, stem),
        title: stem.clone(),
        author: Named {
            name: site.author.clone(),
            slug: slugify(&site.author),
        },
        categories: Vec::new(),
        tags: Vec::new(),
        published,
        updated: published,
        file_modified: source.modified,
        summary: text.chars().take(300).collect(),
        content_html: format!("<p>{}</p>", text.replace('<', "&lt;")),
        draft: false,
        warnings: Vec::new(),
    })
}
