//! Format detection: a post's text → its fields as written and its body, whichever of
//! the three formats (README, Post formats) it is in. The content decides, not only the
//! extension: front matter first, then an article header, then Markdown or plain text.

use chrono_tz::Tz;

use super::front::{self, Front};
use super::{article, html};

/// A post's fields as written, and its body, before normalization.
pub struct Document {
    pub front: Front,
    pub body: Body,
}

pub enum Body {
    Markdown(String),
    /// Article and plain text: paragraphs with their hard wraps joined, one per line
    /// (one string, not one per paragraph: 4 MiB of one-line paragraphs were 1.4 million
    /// allocations and 116 MB).
    Paragraphs(String),
}

impl Body {
    /// The first paragraph as plain text: the summary and title of last resort.
    pub fn first_paragraph(&self) -> String {
        match self {
            Body::Paragraphs(paragraphs) => paragraphs.lines().next().unwrap_or_default().into(),
            Body::Markdown(markdown) => html::first_paragraph(markdown),
        }
    }

    /// The body as HTML that is safe to show: Markdown rendered and sanitized with its
    /// links made absolute against `url`; paragraphs escaped, which leaves nothing to
    /// sanitize (and spares the sanitizer's tree, hundreds of bytes per paragraph). Markup
    /// nested too deep (sanitizing it would take quadratic time) or with too many elements
    /// (the sanitizer's tree would take hundreds of megabytes) is refused.
    pub fn safe_html(&self, url: &str) -> Result<String, String> {
        let markdown = match self {
            Body::Paragraphs(paragraphs) => return Ok(html::paragraphs(paragraphs)),
            Body::Markdown(markdown) => markdown,
        };
        Ok(html::sanitize(&html::markdown(markdown)?, url))
    }
}

/// Detects the format from the content and splits fields from the body.
pub fn split(text: &str, is_markdown: bool, tz: Tz) -> Result<Document, front::Error> {
    if let Some(block) = front::split(text)? {
        let front = plain_fields(front::parse(&block, tz)?);
        return Ok(Document {
            front,
            body: Body::Markdown(block.body.to_string()),
        });
    }
    if let Some((front, body)) = article::header(text, tz)? {
        return Ok(Document {
            front: plain_fields(front),
            body: Body::Paragraphs(paragraphs(body)),
        });
    }
    if is_markdown {
        return Ok(markdown(text));
    }
    Ok(plain_text(text))
}

/// Markdown without front matter: a leading `# Heading` is the title and leaves the body.
fn markdown(text: &str) -> Document {
    let mut front = Front::default();
    let body = match html::leading_heading(text) {
        Some((title, rest)) => {
            front.title = Some(title);
            rest
        }
        None => text,
    };
    Document {
        front,
        body: Body::Markdown(body.to_string()),
    }
}

/// Plain text: a short first line followed by a blank line is the title.
fn plain_text(text: &str) -> Document {
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
    Document {
        front,
        body: Body::Paragraphs(paragraphs(body)),
    }
}

/// The fields meant as plain text, with the entities and tags that blog exports leave in
/// them decoded and stripped once: a feed would show `Q&amp;A` or `<b>` as written.
fn plain_fields(front: Front) -> Front {
    let plain = |text: Option<String>| text.map(|t| html::plain_text(&t));
    let list = |names: Vec<String>| names.iter().map(|n| html::plain_text(n)).collect();
    Front {
        title: plain(front.title),
        summary: plain(front.summary),
        authors: list(front.authors),
        categories: list(front.categories),
        tags: list(front.tags),
        ..front
    }
}

/// Paragraphs separated by blank lines, each with its hard wraps joined by one space,
/// one per line.
fn paragraphs(text: &str) -> String {
    let mut paragraphs = String::with_capacity(text.len());
    let mut open = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if open {
                paragraphs.push('\n');
                open = false;
            }
        } else {
            if open {
                paragraphs.push(' ');
            }
            paragraphs.push_str(line);
            open = true;
        }
    }
    if open {
        paragraphs.push('\n');
    }
    paragraphs
}
