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

/// The built-in WebSub hub (`[websub] builtin`).
pub const WEBSUB: &str = "/websub";

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

    /// The extension of this format's RFC 5005 archive documents (`archive/3.atom`):
    /// the format's name, as nginx's and every CDN's media types know `.rss` and
    /// `.atom`, and the feeds' own file names (`rss.xml`) would clash in one folder.
    pub fn archive_extension(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    /// The one format autodiscovery and the OPML list offer for each topic, of those the
    /// site publishes: RSS first, as every feed reader and every podcast app reads it
    /// (Apple Podcasts and Podcast Index take nothing else, so an audio category is a
    /// podcast only in RSS); then Atom; JSON Feed last, as newsboat and feedparser
    /// cannot read it.
    pub fn preferred(formats: &[Format]) -> Option<Format> {
        [Format::Rss, Format::Atom, Format::Json]
            .into_iter()
            .find(|f| formats.contains(f))
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
    /// A tag, by slug.
    Tag(String),
}

impl FeedKey {
    /// The folder of this feed's files: `/`, `/categories/{slug}/`, `/authors/{slug}/`.
    pub fn dir(&self) -> String {
        match self {
            FeedKey::Site => "/".to_string(),
            FeedKey::Category(slug) => format!("/categories/{slug}/"),
            FeedKey::Author(slug) => format!("/authors/{slug}/"),
            FeedKey::Tag(slug) => format!("/tags/{slug}/"),
        }
    }

    /// The route of this feed in one format, e.g. `/categories/bay-area/atom.xml`.
    pub fn route(&self, format: Format) -> String {
        format!("{}{}", self.dir(), format.file_name())
    }

    /// The route of page `n` (from 1) of this feed's HTML list of posts: its folder
    /// (`/categories/bay-area/`, `/` for the site) for the first, then
    /// `{folder}page/{n}/` (WordPress's and Hugo's paging).
    pub fn page(&self, n: usize) -> String {
        if n <= 1 {
            self.dir()
        } else {
            format!("{}page/{n}/", self.dir())
        }
    }

    /// The plain route of this feed's RFC 5005 archive document `n` (from 1, the oldest)
    /// in one format: `{folder}archive/{n}.{ext}`, e.g. `/categories/bay-area/archive/3.atom`.
    /// It answers `301` to the archive's named route ([`FeedKey::archive_named`]), as
    /// what archive `n` holds moves when a post is deleted or backdated.
    pub fn archive(&self, n: usize, format: Format) -> String {
        format!("{}archive/{n}.{}", self.dir(), format.archive_extension())
    }

    /// The route an archive is served and linked at: `{folder}archive/{n}-{name}.{ext}`,
    /// `name` in 8 hex digits, e.g. `/archive/3-0a1b2c3d.atom`. The name stands for the
    /// posts the archive holds and all before it, so an archive whose posts change gets
    /// a new URL, and an RFC 5005 reader, which stops at the first archive URL it has
    /// already read, walks on to it.
    pub fn archive_named(&self, n: usize, name: u32, format: Format) -> String {
        format!(
            "{}archive/{n}-{name:08x}.{}",
            self.dir(),
            format.archive_extension()
        )
    }

    /// The feed, number, name (none in the plain route) and format an archive route is
    /// of: the inverse of [`FeedKey::archive`] and [`FeedKey::archive_named`]. Digits
    /// only, no leading zero, the name in 8 lowercase hex digits: one archive, one route.
    pub fn of_archive(route: &str) -> Option<(FeedKey, usize, Option<u32>, Format)> {
        let (folder, file) = route.rsplit_once("/archive/")?;
        let (stem, extension) = file.split_once('.')?;
        let format = [Format::Rss, Format::Atom, Format::Json]
            .into_iter()
            .find(|f| f.archive_extension() == extension)?;
        let (number, name) = match stem.split_once('-') {
            Some((number, name)) => {
                let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
                if name.len() != 8 || !name.bytes().all(hex) {
                    return None;
                }
                (number, Some(u32::from_str_radix(name, 16).ok()?))
            }
            None => (stem, None),
        };
        if number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: usize = number.parse().ok()?;
        let (key, 1) = FeedKey::of_page(&format!("{folder}/"))? else {
            return None;
        };
        Some((key, n, name, format))
    }

    /// The feed and page number an HTML list route is page of: the inverse of
    /// [`FeedKey::page`]. `/` is the site's first page; `…/page/1/` is no route.
    pub fn of_page(route: &str) -> Option<(FeedKey, usize)> {
        let (key, rest) = if let Some(rest) = route.strip_prefix("/categories/") {
            let (slug, rest) = rest.split_once('/')?;
            (FeedKey::Category(slug.to_string()), rest)
        } else if let Some(rest) = route.strip_prefix("/authors/") {
            let (slug, rest) = rest.split_once('/')?;
            (FeedKey::Author(slug.to_string()), rest)
        } else if let Some(rest) = route.strip_prefix("/tags/") {
            let (slug, rest) = rest.split_once('/')?;
            (FeedKey::Tag(slug.to_string()), rest)
        } else {
            (FeedKey::Site, route.strip_prefix('/')?)
        };
        if matches!(&key, FeedKey::Category(s) | FeedKey::Author(s) | FeedKey::Tag(s) if s.is_empty())
        {
            return None;
        }
        if rest.is_empty() {
            return Some((key, 1));
        }
        let number = rest.strip_prefix("page/")?.strip_suffix('/')?;
        // Digits only, no leading zero: one page, one route.
        if number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: usize = number.parse().ok()?;
        (n >= 2).then_some((key, n))
    }
}

/// The route of a post's page: `/posts/{slug}/`.
pub fn post_page(slug: &str) -> String {
    format!("/posts/{slug}/")
}

/// The default `site.permalink`: every post's page under `/posts/`.
pub const DEFAULT_PERMALINK: &str = "/posts/:slug/";

/// What a permalink pattern's tokens stand for, for one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermalinkParts<'a> {
    /// `:year`, `:month`, `:day`: the publication date, zero-padded.
    pub year: i32,
    pub month: u32,
    pub day: u32,
    /// `:slug` (or Jekyll's `:title`).
    pub slug: &'a str,
    /// `:category`: the slug of the post's first category, empty when it has none.
    pub category: &'a str,
}

impl<'a> PermalinkParts<'a> {
    /// The parts of a post published on `day` (in the site's time zone).
    pub fn on(day: impl chrono::Datelike, slug: &'a str, category: &'a str) -> Self {
        PermalinkParts {
            year: day.year(),
            month: day.month(),
            day: day.day(),
            slug,
            category,
        }
    }
}

const TOKENS: &[&str] = &[":year", ":month", ":day", ":slug", ":title", ":category"];

/// Checks a permalink pattern (`site.permalink` or a post's `permalink`): a path from
/// the site's root, ending in `/` or `.html`, holding only known tokens. `needs_slug`
/// for the site-wide pattern: without `:slug` every post would have one page.
pub fn check_permalink(pattern: &str, needs_slug: bool) -> Result<(), String> {
    if !pattern.starts_with('/') {
        return Err(format!(
            "`{pattern}` must start with `/` (a path from the site's root)"
        ));
    }
    if !(pattern.ends_with('/') || pattern.ends_with(".html") || pattern.ends_with(".htm")) {
        return Err(format!("`{pattern}` must end with `/` or `.html`"));
    }
    if pattern.contains(['?', '#', '\\']) || pattern.split('/').any(|s| s == "..") {
        return Err(format!(
            "`{pattern}` must be a plain path, without `?`, `#`, `\\` or `..`"
        ));
    }
    let mut rest = pattern;
    while let Some(at) = rest.find(':') {
        rest = &rest[at..];
        let Some(token) = TOKENS.iter().find(|t| rest.starts_with(**t)) else {
            let end = rest.find(['/', '.', '-']).unwrap_or(rest.len());
            return Err(format!(
                "`{pattern}`: unknown token `{}`; use :year, :month, :day, :slug or :category",
                &rest[..end]
            ));
        };
        rest = &rest[token.len()..];
    }
    if needs_slug && !pattern.contains(":slug") && !pattern.contains(":title") {
        return Err(format!(
            "`{pattern}` must contain `:slug`, or every post would share one page"
        ));
    }
    Ok(())
}

/// True for a route the site serves itself or one under it: the index, the feeds and
/// their folders, OPML, the health report, and the old feed addresses that redirect to
/// the feeds. A post's page there would be shadowed by `serve` and overwrite a file in
/// `build`, or stop it (`/opml.xml/` needs a folder where the file is); an alias there
/// would redirect a feed on hosts that apply `_redirects` before files.
pub fn is_site_route(route: &str) -> bool {
    const TOP: &[&str] = &[
        "index.html",
        "index.htm",
        "opml.xml",
        "healthz",
        "metrics",
        "websub",
        "favicon.ico",
        "_redirects",
        "categories",
        "authors",
        "tags",
        "page",
    ];
    let first = route
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let feeds = [Format::Rss, Format::Atom, Format::Json].map(Format::file_name);
    // `rss.xml.gz` and `rss.xml.br` are `build`'s files too.
    let is_or_beside = |name: &&str| {
        first == *name
            || first
                .strip_prefix(*name)
                .is_some_and(|rest| rest.starts_with('.'))
    };
    // The site's archives are at the root (`/archive/3.atom`), beside posts' pages
    // (`/archive/` may well be a post's); `build`'s `.gz` and `.br` of them too.
    let archive = route
        .trim_end_matches('/')
        .trim_end_matches(".gz")
        .trim_end_matches(".br");
    route == INDEX
        || TOP.iter().chain(feeds.iter()).any(is_or_beside)
        || alias_target(route).is_some()
        || FeedKey::of_archive(archive).is_some()
}

/// Checks the page a post chose for itself (its `permalink`, `url` or `path`) beyond
/// [`check_permalink`]: not a route of the site (see [`is_site_route`]), and a file
/// `build` can write beside every other page: not `…/index.html`, which is the file of
/// the page `…/` another post may hold, and no folder named `….html`, where another
/// page may be that file.
pub fn check_own_page(route: &str) -> Result<(), String> {
    if is_site_route(route) {
        return Err(format!(
            "`{route}` is a route of the site (the index, a feed or a report)"
        ));
    }
    if let Some(folder) = route
        .strip_suffix("/index.html")
        .or_else(|| route.strip_suffix("/index.htm"))
    {
        return Err(format!(
            "`{route}` is the file of the page `{folder}/`; write `{folder}/` instead"
        ));
    }
    // Every segment is a folder but a last one no `/` follows, which is a file.
    let folders = if route.ends_with('/') {
        route
    } else {
        route.rsplit_once('/').map_or("", |(folders, _)| folders)
    };
    if folders
        .split('/')
        .any(|folder| folder.ends_with(".html") || folder.ends_with(".htm"))
    {
        return Err(format!(
            "`{route}` makes a folder of a page file; end it with `.html` or with `/`, not both"
        ));
    }
    Ok(())
}

/// The page route a permalink pattern gives a post: `/:year/:month/:day/:slug.html` →
/// `/2019/03/10/rainfall-totals.html`. Empty segments (no category) are dropped.
pub fn permalink(pattern: &str, parts: &PermalinkParts) -> String {
    let route = pattern
        .replace(":year", &format!("{:04}", parts.year))
        .replace(":month", &format!("{:02}", parts.month))
        .replace(":day", &format!("{:02}", parts.day))
        .replace(":category", parts.category)
        .replace(":slug", parts.slug)
        .replace(":title", parts.slug);
    let mut out = String::with_capacity(route.len());
    for segment in route.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    if route.ends_with('/') || out.is_empty() {
        out.push('/');
    }
    out
}

/// A route a post lists as a former URL (`aliases`, `redirect_from`) or as its own
/// (`permalink`, `url`, `path`): an absolute URL on this site or a path, made a path
/// from the root. `None` for another site's URL or something that is not a path.
pub fn route_of_link(link: &str, base_url: &str) -> Option<String> {
    let link = link.trim();
    let path = match link.strip_prefix(base_url) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ if link.contains("://") => return None,
        _ => link,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if path.is_empty() || path.chars().any(char::is_whitespace) || path.contains("/../") {
        return None;
    }
    Some(if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    })
}

/// The site's icon, as browsers ask for it (`[site] icon`).
pub const FAVICON: &str = "/favicon.ico";

/// The folder a page's relative links resolve against, as a browser resolves them: the
/// route (or URL) up to its last `/`. `/posts/launch/` → `/posts/launch/`;
/// `/2019/03/bus.html` → `/2019/03/`.
pub fn page_folder(route: &str) -> &str {
    route.rfind('/').map_or("", |at| &route[..=at])
}

/// `route` as a full URL under the site's `base_url` (which has no trailing slash).
pub fn absolute(base_url: &str, route: &str) -> String {
    format!("{base_url}{route}")
}

/// WordPress, Hugo, jekyll-feed and Ghost paths that old subscriptions use, each with
/// the canonical route it is redirected to; `{slug}` stands for a category's, an
/// author's or a tag's slug. Each is also answered with its final slash toggled
/// (`/feed` as `/feed/`, `/feed.xml/` as `/feed.xml`): readers and people type both. The
/// one table both directions are read from, so the server and `build`'s `_redirects`
/// agree. Tag targets are plain routes (`FeedKey::Tag` spells the same ones).
const ALIASES: &[(&str, &str)] = &[
    ("/feed/", "/rss.xml"),
    ("/feed/rss2/", "/rss.xml"),
    ("/feed/rss/", "/rss.xml"),
    ("/index.xml", "/rss.xml"),
    // Ghost.
    ("/rss/", "/rss.xml"),
    ("/feed/atom/", "/atom.xml"),
    // jekyll-feed writes Atom there.
    ("/feed.xml", "/atom.xml"),
    ("/category/{slug}/feed/", "/categories/{slug}/rss.xml"),
    ("/categories/{slug}/index.xml", "/categories/{slug}/rss.xml"),
    ("/category/{slug}/feed/atom/", "/categories/{slug}/atom.xml"),
    ("/author/{slug}/feed/", "/authors/{slug}/rss.xml"),
    ("/authors/{slug}/index.xml", "/authors/{slug}/rss.xml"),
    ("/author/{slug}/feed/atom/", "/authors/{slug}/atom.xml"),
    ("/tag/{slug}/feed/", "/tags/{slug}/rss.xml"),
    ("/tags/{slug}/index.xml", "/tags/{slug}/rss.xml"),
    ("/tag/{slug}/feed/atom/", "/tags/{slug}/atom.xml"),
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

/// `path` with its final slash added, or taken away when it has one (not from `/`).
fn slash_toggled(path: &str) -> Option<String> {
    match path.strip_suffix('/') {
        Some("") => None,
        Some(bare) => Some(bare.to_string()),
        None => Some(format!("{path}/")),
    }
}

/// The canonical route an alias path is redirected to.
pub fn alias_target(path: &str) -> Option<String> {
    let toggled = slash_toggled(path);
    ALIASES
        .iter()
        .find_map(|(alias, target)| {
            match_template(alias, path)
                .or_else(|| toggled.as_deref().and_then(|t| match_template(alias, t)))
                .map(|slug| target.replace("{slug}", slug))
        })
        .or_else(|| first_page(path))
}

/// The first page of a list, for its `…/page/1/`: WordPress and Hugo themes link it,
/// but it is the list's own folder (`/categories/bay-area/`, `/`).
fn first_page(path: &str) -> Option<String> {
    let folder = path
        .strip_suffix("page/1/")
        .or_else(|| path.strip_suffix("page/1"))?;
    let (key, 1) = FeedKey::of_page(folder)? else {
        return None;
    };
    Some(key.page(1))
}

/// The aliases that [`alias_target`] sends to `route`, each as the table spells it and
/// with its final slash toggled.
pub fn aliases_of(route: &str) -> Vec<String> {
    ALIASES
        .iter()
        .filter_map(|(alias, target)| {
            match_template(target, route).map(|slug| alias.replace("{slug}", slug))
        })
        .flat_map(|alias| {
            let toggled = slash_toggled(&alias);
            std::iter::once(alias).chain(toggled)
        })
        .collect()
}

/// Where a path that is not a route may be redirected when the same path with a final
/// slash is one (`/posts/night-bus` → `/posts/night-bus/`), as web servers do for
/// folders: the caller checks that the page exists.
pub fn with_final_slash(path: &str) -> Option<String> {
    (!path.ends_with('/')).then(|| format!("{path}/"))
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
    fn list_pages_and_their_routes_are_inverse() {
        let cases = [
            (FeedKey::Site, 1, "/"),
            (FeedKey::Site, 2, "/page/2/"),
            (
                FeedKey::Category("bay-area".into()),
                1,
                "/categories/bay-area/",
            ),
            (
                FeedKey::Category("bay-area".into()),
                12,
                "/categories/bay-area/page/12/",
            ),
            (FeedKey::Author("dana".into()), 3, "/authors/dana/page/3/"),
            (FeedKey::Tag("rust".into()), 1, "/tags/rust/"),
        ];
        for (key, n, route) in cases {
            assert_eq!(key.page(n), route);
            assert_eq!(FeedKey::of_page(route), Some((key, n)), "{route}");
        }
        for route in [
            "/page/1/",
            "/page/02/",
            "/page/2",
            "/page/x/",
            "/categories//",
            "/categories/bay-area",
            "/categories/bay-area/rss.xml",
            "/tags/rust/page/",
            "/posts/a/",
            "/page/99999999999999999999999/",
        ] {
            assert_eq!(FeedKey::of_page(route), None, "{route}");
        }
    }

    #[test]
    fn archives_and_their_routes_are_inverse() {
        let cases = [
            (FeedKey::Site, 1, Format::Atom, "/archive/1.atom"),
            (FeedKey::Site, 12, Format::Rss, "/archive/12.rss"),
            (
                FeedKey::Category("bay-area".into()),
                3,
                Format::Json,
                "/categories/bay-area/archive/3.json",
            ),
            (
                FeedKey::Author("dana".into()),
                2,
                Format::Atom,
                "/authors/dana/archive/2.atom",
            ),
            (
                FeedKey::Tag("rust".into()),
                7,
                Format::Rss,
                "/tags/rust/archive/7.rss",
            ),
        ];
        for (key, n, format, route) in cases {
            assert_eq!(key.archive(n, format), route);
            assert_eq!(
                FeedKey::of_archive(route),
                Some((key.clone(), n, None, format)),
                "{route}"
            );
            let named = key.archive_named(n, 0x0a1b2c3d, format);
            assert_eq!(
                named,
                route.replace(&format!("/{n}."), &format!("/{n}-0a1b2c3d."))
            );
            assert_eq!(
                FeedKey::of_archive(&named),
                Some((key, n, Some(0x0a1b2c3d), format)),
                "{named}"
            );
        }
        for route in [
            "/archive/0.atom",
            "/archive/01.atom",
            "/archive/1.xml",
            "/archive/1",
            "/archive/x.rss",
            "/archive/1.atom/",
            "/posts/a/archive/1.atom",
            "/categories//archive/1.atom",
            "/categories/a/b/archive/1.atom",
            "/archive/99999999999999999999999.atom",
            "/archive/1-.atom",
            "/archive/1-0a1b2c3.atom",
            "/archive/1-0a1b2c3d0.atom",
            "/archive/1-0A1B2C3D.atom",
            "/archive/1-0a1b2c3g.atom",
            "/archive/-0a1b2c3d.atom",
            "/archive/01-0a1b2c3d.atom",
            "/archive/1-0a1b-2c3.atom",
        ] {
            assert_eq!(FeedKey::of_archive(route), None, "{route}");
        }
        // No post may take one, nor the folder `build` would need in its place.
        for route in [
            "/archive/3.atom/",
            "/archive/3.rss.gz/",
            "/archive/3-0a1b2c3d.atom/",
        ] {
            assert!(is_site_route(route), "{route}");
        }
        for route in ["/archive/", "/archive/2019/", "/archive/3.html"] {
            assert!(!is_site_route(route), "{route}");
        }
    }

    #[test]
    fn the_first_page_of_a_list_is_its_folder() {
        for (path, target) in [
            ("/page/1/", "/"),
            ("/page/1", "/"),
            ("/categories/bay-area/page/1/", "/categories/bay-area/"),
            ("/tags/rain/page/1", "/tags/rain/"),
        ] {
            assert_eq!(alias_target(path).as_deref(), Some(target), "{path}");
        }
        assert_eq!(alias_target("/categories/page/1/"), None);
        assert_eq!(alias_target("/posts/a/page/1/"), None);
    }

    #[test]
    fn discovery_prefers_rss_then_atom_then_json() {
        use Format::*;
        assert_eq!(Format::preferred(&[Json, Atom, Rss]), Some(Rss));
        assert_eq!(Format::preferred(&[Json, Atom]), Some(Atom));
        assert_eq!(Format::preferred(&[Json]), Some(Json));
        assert_eq!(Format::preferred(&[]), None);
    }

    /// Regression (hostile corpus): `permalink: /index.html` replaced the index in
    /// `build`, `/opml.xml/` stopped it, and an alias `/rss.xml` went into `_redirects`.
    #[test]
    fn a_post_never_takes_a_route_of_the_site_or_a_file_of_another_page() {
        for route in [
            "/",
            "/index.html",
            "/opml.xml/",
            "/rss.xml",
            "/rss.xml.gz/",
            "/healthz",
            "/categories/transit/rss.xml/",
            "/authors/ann/",
            "/feed/",
            "/category/transit/feed/",
            "/rss/",
            "/feed.xml",
            "/tag/buses/feed",
        ] {
            assert!(is_site_route(route), "{route}");
            assert!(check_own_page(route).is_err(), "{route}");
        }
        for route in [
            "/posts/a/",
            "/2019/03/a.html",
            "/about/",
            "/rss-news/",
            "/feeds.html",
        ] {
            assert!(!is_site_route(route), "{route}");
            assert_eq!(check_own_page(route), Ok(()), "{route}");
        }
        assert_eq!(
            check_own_page("/posts/a/index.html"),
            Err("`/posts/a/index.html` is the file of the page `/posts/a/`; write `/posts/a/` instead".into())
        );
        assert_eq!(
            check_own_page("/a.html/"),
            Err("`/a.html/` makes a folder of a page file; end it with `.html` or with `/`, not both".into())
        );
        assert!(check_own_page("/a.html/b/").is_err());
    }

    #[test]
    fn every_alias_leads_back_to_its_route() {
        for (alias, target) in [
            ("/category/bay-area/feed/", "/categories/bay-area/rss.xml"),
            ("/category/bay-area/feed", "/categories/bay-area/rss.xml"),
            ("/feed", "/rss.xml"),
            ("/feed/", "/rss.xml"),
            ("/feed.xml", "/atom.xml"),
            ("/feed.xml/", "/atom.xml"),
            ("/rss/", "/rss.xml"),
            ("/rss", "/rss.xml"),
            ("/index.xml/", "/rss.xml"),
            ("/tag/buses/feed/", "/tags/buses/rss.xml"),
            ("/tag/buses/feed", "/tags/buses/rss.xml"),
            ("/tags/buses/index.xml", "/tags/buses/rss.xml"),
            ("/author/ann/feed/atom/", "/authors/ann/atom.xml"),
            ("/author/ann/feed/atom", "/authors/ann/atom.xml"),
            ("/authors/ann/index.xml", "/authors/ann/rss.xml"),
        ] {
            assert_eq!(alias_target(alias).as_deref(), Some(target), "{alias}");
        }
        assert_eq!(alias_target("/category//feed/"), None);
        assert_eq!(alias_target("/category/a/b/feed/"), None);
        assert_eq!(alias_target("/categories/x/rss.xml"), None);
        assert_eq!(alias_target("/"), None);
        assert_eq!(
            aliases_of("/categories/bay-area/rss.xml"),
            vec![
                "/category/bay-area/feed/",
                "/category/bay-area/feed",
                "/categories/bay-area/index.xml",
                "/categories/bay-area/index.xml/"
            ]
        );
        assert_eq!(aliases_of("/posts/a/"), Vec::<String>::new());
        for route in [
            "/rss.xml",
            "/atom.xml",
            "/categories/x/atom.xml",
            "/authors/y/rss.xml",
            "/authors/y/atom.xml",
            "/tags/z/rss.xml",
        ] {
            let aliases = aliases_of(route);
            assert!(!aliases.is_empty(), "{route}");
            for alias in aliases {
                assert_eq!(alias_target(&alias).as_deref(), Some(route), "{alias}");
            }
        }
        assert_eq!(
            with_final_slash("/posts/night-bus").as_deref(),
            Some("/posts/night-bus/")
        );
        assert_eq!(with_final_slash("/posts/night-bus/"), None);
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
        assert_eq!(
            file_for("/2019/03/10/rainfall.html"),
            PathBuf::from("2019/03/10/rainfall.html")
        );
        assert_eq!(file_for("/posts/a/"), PathBuf::from("posts/a/index.html"));
        assert_eq!(
            file_for("/categories/x/rss.xml"),
            PathBuf::from("categories/x/rss.xml")
        );
    }

    #[test]
    fn permalink_patterns_fill_their_tokens() {
        let parts = PermalinkParts {
            year: 2019,
            month: 3,
            day: 10,
            slug: "rainfall-totals",
            category: "weather",
        };
        assert_eq!(
            permalink(DEFAULT_PERMALINK, &parts),
            "/posts/rainfall-totals/"
        );
        assert_eq!(
            permalink("/:year/:month/:day/:slug.html", &parts),
            "/2019/03/10/rainfall-totals.html"
        );
        assert_eq!(
            permalink("/:category/:title/", &parts),
            "/weather/rainfall-totals/"
        );
        let none = PermalinkParts {
            category: "",
            ..parts
        };
        assert_eq!(permalink("/:category/:slug/", &none), "/rainfall-totals/");
        assert_eq!(
            check_permalink("/:year/:month/:day/:slug.html", true),
            Ok(())
        );
        assert_eq!(
            check_permalink("/:year/:name/", true),
            Err("`/:year/:name/`: unknown token `:name`; use :year, :month, :day, :slug or :category".into())
        );
        assert_eq!(
            check_permalink("/:year/", true),
            Err("`/:year/` must contain `:slug`, or every post would share one page".into())
        );
        assert_eq!(check_permalink("/2019/03/10/rainfall.html", false), Ok(()));
        assert_eq!(
            check_permalink("posts/:slug", true),
            Err("`posts/:slug` must start with `/` (a path from the site's root)".into())
        );
    }

    #[test]
    fn links_to_this_site_become_routes() {
        let base = "https://example.com";
        assert_eq!(
            route_of_link("/old/a.html", base).as_deref(),
            Some("/old/a.html")
        );
        assert_eq!(route_of_link("old/a/", base).as_deref(), Some("/old/a/"));
        assert_eq!(
            route_of_link("https://example.com/2019/a.html?x=1", base).as_deref(),
            Some("/2019/a.html")
        );
        assert_eq!(route_of_link("https://elsewhere.org/a/", base), None);
        assert_eq!(route_of_link("/a b/", base), None);
    }
}
