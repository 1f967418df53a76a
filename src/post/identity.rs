//! What a post asks of the identity ledger and of the site's limits: the parts of a
//! [`Post`](super::Post) that the ledger (`state`) settles or the config bounds.

/// How many categories, authors and tags one post may carry (`posts.max_categories`,
/// `max_authors`, `max_tags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub categories: usize,
    pub authors: usize,
    pub tags: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            categories: 100,
            authors: 100,
            tags: 100,
        }
    }
}

/// What a post file asks for its identity; the ledger (`state`) decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// The writer chose the slug (`slug` in the front matter): a taken one is an error.
    pub slug_explicit: bool,
    /// Readable slugs to use, in order, when another post holds `slug`.
    pub slug_variants: Vec<String>,
    /// The page route the writer chose (`permalink`, `url`, `path`).
    pub route: Option<String>,
    /// Former routes the writer lists (`aliases`, `redirect_from`).
    pub aliases: Vec<String>,
    /// The front matter's `id`, when it is a URI.
    pub id: Option<String>,
    /// No date anywhere: the post is dated by when it was first seen.
    pub undated: bool,
    /// The front matter gives `updated` (or `lastmod`): it dates the post's last change,
    /// not the ledger.
    pub updated_given: bool,
    /// A hash of the file's bytes, for recognizing a renamed or moved file.
    pub fingerprint: String,
}

/// `html` with the links the parser made absolute against `from` (the page it expected)
/// moved to `to` (the page the ledger placed the post at).
pub fn rebase_links(html: &str, from: &str, to: &str) -> String {
    html.replace(&format!("=\"{from}"), &format!("=\"{to}"))
}
