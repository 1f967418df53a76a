//! Every URL rule of the site: where a post's page, each feed and the site's pages live,
//! the WordPress and Hugo aliases that old subscriptions use, and the file each route
//! becomes in `build`'s output. Renderers, the snapshot, the server and `build` ask here
//! and never spell a path themselves, so one change of a rule moves every link with it.
//!
//! Routes are paths beginning with `/`; [`absolute`] joins one to the site's `base_url`.
//! Pure strings: this module knows no post, no config and no HTTP.

use std::path::PathBuf;

use serde::Deserialize;

/// The HTML index of every feed.
pub const INDEX: &str = "/";
/// The OPML list of every feed.
pub const OPML: &str = "/opml.xml";
/// The JSON health report.
pub const HEALTH: &str = "/healthz";

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

    /// The media type of autodiscovery links, without parameters.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
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

/// The route of a post's page: `/posts/{slug}/`.
pub fn post_page(slug: &str) -> String {
    format!("/posts/{slug}/")
}

/// `route` as a full URL under the site's `base_url` (which has no trailing slash).
pub fn absolute(base_url: &str, route: &str) -> String {
    format!("{base_url}{route}")
}

/// WordPress and Hugo paths that old subscriptions use, each with the canonical route it
/// is redirected to; `{slug}` stands for a category's or an author's slug. The one
/// table both directions are read from, so the server and `build`'s `_redirects` agree.
const ALIASES: &[(&str, &str)] = &[
    ("/feed/", "/rss.xml"),
    ("/feed", "/rss.xml"),
    ("/feed/rss2/", "/rss.xml"),
    ("/feed/rss/", "/rss.xml"),
    ("/index.xml", "/rss.xml"),
    ("/feed/atom/", "/atom.xml"),
    ("/category/{slug}/feed/", "/categories/{slug}/rss.xml"),
    ("/categories/{slug}/index.xml", "/categories/{slug}/rss.xml"),
    ("/category/{slug}/feed/atom/", "/categories/{slug}/atom.xml"),
    ("/author/{slug}/feed/", "/authors/{slug}/rss.xml"),
];

/// The slug `path` gives `template`'s `{slug}` (`Some("")` for a template without one),
/// or `None` when the path does not match the template.
fn match_template<'a>(template: &str, path: &'a str) -> Option<&'a str> {
    match template.split_once("{slug}") {
        None => (template == path).then_some(""),
        Some((before, after)) => {
            let slug = path.strip_prefix(before)?.strip_suffix(after)?;
            (!slug.is_empty() && !slug.contains('/')).then_some(slug)
        }
    }
}

/// The canonical route an alias path is redirected to.
pub fn alias_target(path: &str) -> Option<String> {
    ALIASES.iter().find_map(|(alias, target)| {
        match_template(alias, path).map(|slug| target.replace("{slug}", slug))
    })
}

/// The aliases that [`alias_target`] sends to `route`.
pub fn aliases_of(route: &str) -> Vec<String> {
    ALIASES
        .iter()
        .filter_map(|(alias, target)| {
            match_template(target, route).map(|slug| alias.replace("{slug}", slug))
        })
        .collect()
}

/// The file a route is written to by `build`: `/` → `index.html`, `/posts/a/` →
/// `posts/a/index.html`, `/rss.xml` → `rss.xml`.
pub fn file_for(route: &str) -> PathBuf {
    let rel = route.trim_start_matches('/');
    if rel.is_empty() || rel.ends_with('/') {
        PathBuf::from(format!("{rel}index.html"))
    } else {
        PathBuf::from(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_leads_back_to_its_route() {
        assert_eq!(
            alias_target("/category/bay-area/feed/").as_deref(),
            Some("/categories/bay-area/rss.xml")
        );
        assert_eq!(alias_target("/feed").as_deref(), Some("/rss.xml"));
        assert_eq!(alias_target("/category//feed/"), None);
        assert_eq!(alias_target("/category/a/b/feed/"), None);
        assert_eq!(alias_target("/categories/x/rss.xml"), None);
        assert_eq!(
            aliases_of("/categories/bay-area/rss.xml"),
            vec!["/category/bay-area/feed/", "/categories/bay-area/index.xml"]
        );
        assert_eq!(aliases_of("/posts/a/"), Vec::<String>::new());
        for route in [
            "/rss.xml",
            "/atom.xml",
            "/categories/x/atom.xml",
            "/authors/y/rss.xml",
        ] {
            let aliases = aliases_of(route);
            assert!(!aliases.is_empty(), "{route}");
            for alias in aliases {
                assert_eq!(alias_target(&alias).as_deref(), Some(route), "{alias}");
            }
        }
    }

    #[test]
    fn feed_routes_and_files() {
        assert_eq!(FeedKey::Site.route(Format::Json), "/feed.json");
        assert_eq!(
            FeedKey::Category("bay-area".into()).route(Format::Atom),
            "/categories/bay-area/atom.xml"
        );
        assert_eq!(
            FeedKey::Author("dana".into()).route(Format::Rss),
            "/authors/dana/rss.xml"
        );
        assert_eq!(post_page("transit/fare-caps"), "/posts/transit/fare-caps/");
        assert_eq!(
            absolute("https://example.com", &post_page("a")),
            "https://example.com/posts/a/"
        );
        assert_eq!(file_for(INDEX), PathBuf::from("index.html"));
        assert_eq!(file_for("/posts/a/"), PathBuf::from("posts/a/index.html"));
        assert_eq!(
            file_for("/categories/x/rss.xml"),
            PathBuf::from("categories/x/rss.xml")
        );
    }
}
