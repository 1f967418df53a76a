//! The HTML index of every feed, a post's HTML page and the OPML list, from the
//! minijinja templates in `templates/`, compiled into the binary.
//!
//! The templates see only plain serializable views built here, never a `Post`, so
//! every URL and label a page shows is decided in Rust, and the templates only lay out.

use std::sync::LazyLock;

use minijinja::{context, AutoEscape, Environment, Error, Output, State, Value};
use serde::Serialize;

use super::{home_url, rfc2822, rfc3339, truncate_to_second, FeedInfo, FeedKey, Format};
use crate::post::{Post, Site};
use crate::routes;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` and `.xml` names are escaped (minijinja's default callback); the formatter
    // only changes how.
    env.set_formatter(escape_markup_formatter);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    for (name, source) in [
        ("index.html", include_str!("templates/index.html")),
        ("post.html", include_str!("templates/post.html")),
        ("head.html", include_str!("templates/head.html")),
        ("opml.xml", include_str!("templates/opml.xml")),
    ] {
        env.add_template(name, source)
            .expect("built-in templates are valid minijinja");
    }
    env
});

/// Escapes as minijinja's HTML escaping does, but leaves `/` alone so URLs stay
/// readable in the page source and the OPML.
fn escape_markup_formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    if state.auto_escape() == AutoEscape::None || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let mut escaped = String::new();
    if !value.is_none() && !value.is_undefined() {
        super::escape_markup(&value.to_string(), &mut escaped);
    }
    out.write_str(&escaped)?;
    Ok(())
}

fn render(name: &str, ctx: Value) -> String {
    // The templates are fixed at compile time and fed only strings and lists, so a
    // failure here is a bug in this module, caught by its tests.
    TEMPLATES
        .get_template(name)
        .and_then(|template| template.render(ctx))
        .unwrap_or_else(|err| panic!("rendering the built-in template {name}: {err:#}"))
}

/// One link to a feed in one format.
#[derive(Serialize)]
struct FeedLink {
    label: &'static str,
    media_type: &'static str,
    url: String,
}

/// A feed with a link per format.
#[derive(Serialize)]
struct FeedView<'a> {
    title: &'a str,
    name: &'a str,
    links: Vec<FeedLink>,
}

/// The feeds of one kind, under a heading.
#[derive(Serialize)]
struct Section<'a> {
    heading: &'static str,
    feeds: Vec<FeedView<'a>>,
}

fn links(site: &Site, key: &FeedKey, formats: &[Format]) -> Vec<FeedLink> {
    formats
        .iter()
        .map(|&format| FeedLink {
            label: format.label(),
            media_type: format.media_type(),
            url: routes::absolute(&site.base_url, &key.route(format)),
        })
        .collect()
}

fn feed_view<'a>(site: &Site, feed: &'a FeedInfo, formats: &[Format]) -> FeedView<'a> {
    FeedView {
        title: &feed.title,
        name: &feed.name,
        links: links(site, &feed.key, formats),
    }
}

fn site_ctx(site: &Site) -> Value {
    context! {
        title => &site.title,
        description => &site.description,
        language => &site.language,
        home => home_url(site),
        opml => routes::absolute(&site.base_url, routes::OPML),
    }
}

pub fn index(site: &Site, feeds: &[FeedInfo], formats: &[Format]) -> String {
    let mut sections = [
        Section {
            heading: "Everything",
            feeds: Vec::new(),
        },
        Section {
            heading: "Categories",
            feeds: Vec::new(),
        },
        Section {
            heading: "Authors",
            feeds: Vec::new(),
        },
    ];
    for feed in feeds {
        let at = match feed.key {
            FeedKey::Site => 0,
            FeedKey::Category(_) => 1,
            FeedKey::Author(_) => 2,
        };
        sections[at].feeds.push(feed_view(site, feed, formats));
    }
    let discovery: Vec<&FeedView> = sections.iter().flat_map(|s| &s.feeds).collect();
    render(
        "index.html",
        context! {
            site => site_ctx(site),
            discovery => discovery,
            sections => sections.iter().filter(|s| !s.feeds.is_empty()).collect::<Vec<_>>(),
        },
    )
}

/// A category or an author of a post, linked to its feed.
#[derive(Serialize)]
struct NamedLink<'a> {
    name: &'a str,
    /// The feed in the site's first format; absent when the site publishes none.
    url: Option<String>,
}

pub fn post(site: &Site, post: &Post, formats: &[Format]) -> String {
    let first = formats.first().copied();
    let feed_url = |key: FeedKey| first.map(|f| routes::absolute(&site.base_url, &key.route(f)));
    let site_feed = FeedView {
        title: &site.title,
        name: &site.title,
        links: links(site, &FeedKey::Site, formats),
    };
    let published = truncate_to_second(post.published);
    render(
        "post.html",
        context! {
            site => site_ctx(site),
            discovery => vec![site_feed],
            post => context! {
                title => &post.title,
                url => &post.url,
                authors => post.authors.iter().map(|a| NamedLink {
                    name: if a.name.trim().is_empty() { &site.author } else { &a.name },
                    url: feed_url(FeedKey::Author(a.slug.clone())),
                }).collect::<Vec<_>>(),
                categories => post.categories.iter().map(|c| NamedLink {
                    name: &c.name,
                    url: feed_url(FeedKey::Category(c.slug.clone())),
                }).collect::<Vec<_>>(),
                datetime => rfc3339(published),
                date => published.format("%B %-d, %Y").to_string(),
                // Sanitized with absolute URLs by the post parser: inserted as is.
                content => Value::from_safe_string(post.content_html.clone()),
            },
        },
    )
}

/// One `<outline>`: a feed in one format.
#[derive(Serialize)]
struct Outline {
    text: String,
    xml_url: String,
}

pub fn opml(site: &Site, feeds: &[FeedInfo], formats: &[Format]) -> String {
    let outlines: Vec<Outline> = feeds
        .iter()
        .flat_map(|feed| {
            formats.iter().map(move |&format| Outline {
                text: format!("{} ({})", feed.title, format.label()),
                xml_url: routes::absolute(&site.base_url, &feed.key.route(format)),
            })
        })
        .collect();
    // From the feeds, never the clock: the same feeds give the same bytes. An empty
    // site (every feed at the epoch) has no date to give.
    let newest = feeds
        .iter()
        .map(|f| f.updated)
        .max()
        .filter(|d| d.timestamp() > 0)
        .map(rfc2822);
    render(
        "opml.xml",
        context! {
            site => site_ctx(site),
            date_modified => newest,
            outlines => outlines,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::{index, opml, post as post_page};
    use crate::feed::fixtures::{named, post, site, site_feed};
    use crate::feed::FeedInfo;
    use crate::routes::{FeedKey, Format};

    const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    fn feeds() -> Vec<FeedInfo> {
        let p = post("a", "A", "2019-03-03T00:00:00-08:00").build();
        vec![
            site_feed(&[&p]),
            FeedInfo {
                key: FeedKey::Category("tom-jerry-3".into()),
                title: "Example News — Tom & Jerry <3".into(),
                name: "Tom & Jerry <3".into(),
                updated: p.published,
            },
            FeedInfo {
                key: FeedKey::Author("dana-whitfield".into()),
                title: "Example News — Dana Whitfield".into(),
                name: "Dana Whitfield".into(),
                updated: p.published,
            },
        ]
    }

    #[test]
    fn index_lists_every_feed_with_autodiscovery_links() {
        let html = index(&site(), &feeds(), &ALL);
        assert!(html.starts_with(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />"
        ));
        for line in [
            r#"<link rel="alternate" type="application/rss+xml" title="Example News (RSS)" href="https://news.example.com/rss.xml" />"#,
            r#"<link rel="alternate" type="application/atom+xml" title="Example News (Atom)" href="https://news.example.com/atom.xml" />"#,
            r#"<link rel="alternate" type="application/feed+json" title="Example News (JSON Feed)" href="https://news.example.com/feed.json" />"#,
            r#"<link rel="alternate" type="application/atom+xml" title="Example News — Tom &amp; Jerry &lt;3 (Atom)" href="https://news.example.com/categories/tom-jerry-3/atom.xml" />"#,
            "<title>Example News</title>",
            r#"<a href="https://news.example.com/opml.xml">every feed as OPML</a>"#,
            r#"<li><span class="name">Tom &amp; Jerry &lt;3</span> <a href="https://news.example.com/categories/tom-jerry-3/rss.xml" type="application/rss+xml">RSS</a>"#,
            r#"<a href="https://news.example.com/authors/dana-whitfield/feed.json" type="application/feed+json">JSON Feed</a></li>"#,
            "<h2>Categories</h2>",
            "<h2>Authors</h2>",
        ] {
            assert!(html.contains(line), "missing {line} in\n{html}");
        }
    }

    #[test]
    fn post_page_shows_the_post_with_its_content_unescaped() {
        let p = post(
            "night-bus",
            "Tom & Jerry <3 “best”",
            "2019-03-03T00:00:00-08:00",
        )
        .category("Tom & Jerry <3")
        .build();
        let html = post_page(&site(), &p, &ALL);
        for line in [
            "<title>Tom &amp; Jerry &lt;3 “best” · Example News</title>",
            r#"<link rel="canonical" href="https://news.example.com/posts/night-bus/" />"#,
            r#"<link rel="alternate" type="application/rss+xml" title="Example News (RSS)" href="https://news.example.com/rss.xml" />"#,
            "<h1>Tom &amp; Jerry &lt;3 “best”</h1>",
            r#"By <a href="https://news.example.com/authors/dana-whitfield/rss.xml">Dana Whitfield</a> · <time datetime="2019-03-03T00:00:00-08:00">March 3, 2019</time>"#,
            r#"<li><a href="https://news.example.com/categories/city-hall/rss.xml">City Hall</a></li>"#,
            r#"<li><a href="https://news.example.com/categories/tom-jerry-3/rss.xml">Tom &amp; Jerry &lt;3</a></li>"#,
            "<p>The council voted 7–2 to extend the <b>pilot</b>.</p>",
        ] {
            assert!(html.contains(line), "missing {line} in\n{html}");
        }
        // Only the site feeds are discovered from a post.
        assert!(!html.contains(r#"type="application/rss+xml" title="Example News — "#));
    }

    #[test]
    fn post_page_names_every_author_with_a_link_to_their_feed() {
        let mut p = post("a", "A", "2019-03-03T00:00:00-08:00").build();
        p.authors = vec![named("Zed"), named("Yan")];
        let html = post_page(&site(), &p, &ALL);
        let line = r#"By <a href="https://news.example.com/authors/zed/rss.xml">Zed</a>, <a href="https://news.example.com/authors/yan/rss.xml">Yan</a> · "#;
        assert!(html.contains(line), "missing {line} in\n{html}");
    }

    #[test]
    fn opml_has_an_outline_per_feed_and_format() {
        let xml = opml(&site(), &feeds(), &[Format::Rss, Format::Atom]);
        assert_eq!(xml.matches("<outline ").count(), 6);
        for line in [
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<opml version="2.0">"#,
            "<title>Example News</title>",
            "<dateModified>Sun, 3 Mar 2019 00:00:00 -0800</dateModified>",
            r#"<outline type="rss" text="Example News (RSS)" title="Example News (RSS)" xmlUrl="https://news.example.com/rss.xml" htmlUrl="https://news.example.com/"/>"#,
            r#"<outline type="rss" text="Example News — Tom &amp; Jerry &lt;3 (Atom)" title="Example News — Tom &amp; Jerry &lt;3 (Atom)" xmlUrl="https://news.example.com/categories/tom-jerry-3/atom.xml" htmlUrl="https://news.example.com/"/>"#,
        ] {
            assert!(xml.contains(line), "missing {line} in\n{xml}");
        }
    }

    #[test]
    fn opml_head_has_no_docs_element_the_validator_rejects() {
        let xml = opml(&site(), &feeds(), &[Format::Rss]);
        let head = xml
            .split_once("<head>")
            .and_then(|(_, rest)| rest.split_once("</head>"))
            .map(|(head, _)| head.split_whitespace().collect::<Vec<_>>().join(" "));
        assert_eq!(
            head.as_deref(),
            Some("<title>Example News</title> <dateModified>Sun, 3 Mar 2019 00:00:00 -0800</dateModified>")
        );
    }

    #[test]
    fn opml_of_an_empty_site_has_no_date() {
        let xml = opml(&site(), &[site_feed(&[])], &ALL);
        assert!(!xml.contains("dateModified"), "{xml}");
        assert_eq!(xml.matches("<outline ").count(), 3);
    }

    /// Nothing but the input decides the bytes: no clock, no map order.
    #[test]
    fn pages_render_exactly_these_bytes() {
        let p = post("a", "A", "2019-03-03T00:00:00-08:00").build();
        insta::assert_snapshot!("index", index(&site(), &feeds(), &ALL));
        insta::assert_snapshot!("post_page", post_page(&site(), &p, &ALL));
        insta::assert_snapshot!("opml", opml(&site(), &feeds(), &ALL));
    }
}
