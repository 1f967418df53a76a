//! Fixtures for tests only: the example [`site`] and a [`PostBuilder`], shared by the unit
//! tests in `src/` and the integration tests in `tests/`, so a field added to [`Post`] is
//! added here and nowhere else.
//!
//! It is public (integration tests cannot see `cfg(test)` items) but hidden from the docs
//! and no part of the API. Dates are literal RFC 3339 strings in the tests, so parsing
//! them may panic with a message; nothing here reads a file, a request or the clock.

#![doc(hidden)]

use chrono::{DateTime, FixedOffset, Utc};

use crate::post::{self, Named, Post, Site};
use crate::routes;

/// Example News at `https://news.example.com`, written by the Newsroom, local time in Los
/// Angeles.
pub fn site() -> Site {
    Site {
        title: "Example News".into(),
        description: "Posts from the newsroom".into(),
        base_url: "https://news.example.com".into(),
        host: "news.example.com".into(),
        author: "Newsroom".into(),
        language: "en".into(),
        timezone: chrono_tz::America::Los_Angeles,
        permalink: routes::DEFAULT_PERMALINK.into(),
        limits: Default::default(),
        channel: Default::default(),
    }
}

/// A literal RFC 3339 date, e.g. `2019-03-03T09:30:00-08:00`.
pub fn date(rfc3339: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(rfc3339).expect("a literal RFC 3339 date")
}

/// A category or author named `name`, with the slug the parser would give it.
pub fn named(name: &str) -> Named {
    Named {
        name: name.into(),
        slug: post::slugify(name),
    }
}

/// A [`Post`] as the parser would hand it over, from only the fields a test cares about.
///
/// Without further calls, `PostBuilder::new("night-bus").build()` is the post
/// `night-bus.md` on [`site`], titled `night-bus`, published 2019-03-03T00:00:00-08:00 and
/// never updated, by the site's author, with no categories, tags, summary or content.
/// Its `id`, `url`, `path`, `updated` and `file_modified` follow from the other fields
/// unless set.
#[derive(Debug, Clone)]
pub struct PostBuilder {
    site: Site,
    slug: String,
    path: Option<String>,
    title: String,
    authors: Vec<Named>,
    categories: Vec<Named>,
    tags: Vec<Named>,
    published: DateTime<FixedOffset>,
    updated: Option<DateTime<FixedOffset>>,
    summary: String,
    content_html: String,
    draft: bool,
}

impl PostBuilder {
    pub fn new(slug: &str) -> PostBuilder {
        PostBuilder {
            site: site(),
            slug: slug.into(),
            path: None,
            title: slug.into(),
            authors: vec![],
            categories: vec![],
            tags: vec![],
            published: date("2019-03-03T00:00:00-08:00"),
            updated: None,
            summary: String::new(),
            content_html: String::new(),
            draft: false,
        }
    }

    /// The site whose host and base URL make the post's `id` and `url`.
    pub fn site(mut self, site: &Site) -> PostBuilder {
        self.site = site.clone();
        self
    }

    /// The file under the posts folder; `{slug}.md` unless set.
    pub fn path(mut self, path: &str) -> PostBuilder {
        self.path = Some(path.into());
        self
    }

    pub fn title(mut self, title: &str) -> PostBuilder {
        self.title = title.into();
        self
    }

    /// A literal RFC 3339 date; also the `updated` date unless that is set.
    pub fn published(mut self, rfc3339: &str) -> PostBuilder {
        self.published = date(rfc3339);
        self
    }

    /// A literal RFC 3339 date.
    pub fn updated(mut self, rfc3339: &str) -> PostBuilder {
        self.updated = Some(date(rfc3339));
        self
    }

    /// One more author, after those already given.
    pub fn author(mut self, name: &str) -> PostBuilder {
        self.authors.push(named(name));
        self
    }

    /// One more category, after those already given.
    pub fn category(mut self, name: &str) -> PostBuilder {
        self.categories.push(named(name));
        self
    }

    /// One more tag, after those already given.
    pub fn tag(mut self, tag: &str) -> PostBuilder {
        self.tags.push(named(tag));
        self
    }

    pub fn summary(mut self, summary: &str) -> PostBuilder {
        self.summary = summary.into();
        self
    }

    pub fn content_html(mut self, html: &str) -> PostBuilder {
        self.content_html = html.into();
        self
    }

    pub fn draft(mut self) -> PostBuilder {
        self.draft = true;
        self
    }

    pub fn build(self) -> Post {
        let PostBuilder {
            site,
            slug,
            path,
            title,
            mut authors,
            categories,
            tags,
            published,
            updated,
            summary,
            content_html,
            draft,
        } = self;
        // As the parser does: a post that names no author has the site's.
        if authors.is_empty() {
            authors.push(named(&site.author));
        }
        Post {
            path: path.unwrap_or_else(|| format!("{slug}.md")),
            id: format!("tag:{},{}:{slug}", site.host, published.format("%Y-%m-%d")),
            route: routes::post_page(&slug),
            url: routes::absolute(&site.base_url, &routes::post_page(&slug)),
            slug,
            title,
            authors,
            categories,
            tags,
            published,
            updated: updated.unwrap_or(published),
            file_modified: published.with_timezone(&Utc),
            file_size: 0,
            summary,
            content_html,
            draft,
            image: None,
            enclosure: None,
            episode: Default::default(),
            warnings: vec![],
            claims: Default::default(),
            content_elsewhere: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_post_is_by_the_site_author_and_dated_by_its_publication() {
        let post = PostBuilder::new("night-bus").build();
        assert_eq!(post.path, "night-bus.md");
        assert_eq!(post.id, "tag:news.example.com,2019-03-03:night-bus");
        assert_eq!(post.url, "https://news.example.com/posts/night-bus/");
        assert_eq!(post.title, "night-bus");
        assert_eq!(post.authors, vec![named("Newsroom")]);
        assert_eq!(post.authors[0].slug, "newsroom");
        assert_eq!(post.updated, date("2019-03-03T00:00:00-08:00"));
        assert_eq!(post.file_modified.to_rfc3339(), "2019-03-03T08:00:00+00:00");
    }

    #[test]
    fn names_get_the_parsers_slugs() {
        let post = PostBuilder::new("a")
            .author("Zoë Álvarez")
            .category("Tom & Jerry <3")
            .build();
        assert_eq!(post.authors[0].slug, "zoe-alvarez");
        assert_eq!(post.categories[0].slug, "tom-jerry-3");
    }
}
