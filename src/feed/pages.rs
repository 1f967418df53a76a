//! The HTML pages for people (the home page, a page per category, author and tag, a
//! post's page) and the OPML list, from the minijinja templates in `templates/`,
//! compiled into the binary.
//!
//! Pages link to pages, never to raw XML, except for the format links of a "Subscribe"
//! box, which say what they are. Autodiscovery and the OPML list offer one feed per
//! topic, in [`Format::preferred`]: a reader offered every format of every feed
//! subscribes to each post three times.
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
        ("topic.html", include_str!("templates/topic.html")),
        ("post.html", include_str!("templates/post.html")),
        ("head.html", include_str!("templates/head.html")),
        ("subscribe.html", include_str!("templates/subscribe.html")),
        ("entries.html", include_str!("templates/entries.html")),
        ("topics.html", include_str!("templates/topics.html")),
        ("all.html", include_str!("templates/all.html")),
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

/// How many posts one HTML list page shows.
pub const POSTS_PER_PAGE: usize = 20;

/// How many pages a list of `count` posts takes: at least one, which says it is empty.
pub fn page_count(count: usize) -> usize {
    count.div_ceil(POSTS_PER_PAGE).max(1)
}

/// One link to a feed in one format.
#[derive(Serialize)]
struct FeedLink {
    label: &'static str,
    media_type: &'static str,
    url: String,
}

/// An autodiscovery `<link rel="alternate">`: one per topic, in the preferred format.
#[derive(Serialize)]
struct Discovered {
    title: String,
    media_type: &'static str,
    url: String,
}

/// The "Subscribe" box of a topic: the address to copy, then every format.
#[derive(Serialize)]
struct Subscribe<'a> {
    name: &'a str,
    url: String,
    links: Vec<FeedLink>,
}

/// A category, author or tag, linked to its page.
#[derive(Serialize)]
struct NamedLink<'a> {
    name: &'a str,
    url: String,
}

/// A post in a list.
#[derive(Serialize)]
struct Entry<'a> {
    title: &'a str,
    url: &'a str,
    authors: Vec<NamedLink<'a>>,
    datetime: String,
    date: String,
    summary: &'a str,
}

/// Links between the pages of one list.
#[derive(Serialize)]
struct Pager {
    page: usize,
    pages: usize,
    newer: Option<String>,
    older: Option<String>,
}

/// A topic in the index's lists, with its post count.
#[derive(Serialize)]
struct TopicLink<'a> {
    name: &'a str,
    url: String,
    count: String,
    #[serde(skip)]
    posts: usize,
}

/// The topics of one kind, under a heading.
#[derive(Serialize)]
struct Section<'a> {
    heading: &'static str,
    topics: Vec<TopicLink<'a>>,
    /// Where the rest are, when the home page shows only the most used.
    more: Option<More>,
}

#[derive(Serialize)]
struct More {
    url: String,
    label: String,
}

/// How many tags the home page shows, the most used first; `/tags/` lists them all.
pub const TAGS_ON_HOME: usize = 40;

/// The route of the page listing every tag.
pub const ALL_TAGS: &str = "/tags/";

fn url(site: &Site, route: &str) -> String {
    routes::absolute(&site.base_url, route)
}

fn discovered(site: &Site, feed: &FeedInfo, formats: &[Format]) -> Option<Discovered> {
    let format = Format::preferred(formats)?;
    Some(Discovered {
        title: feed.title.clone(),
        media_type: format.media_type(),
        url: url(site, &feed.key.route(format)),
    })
}

fn subscribe<'a>(site: &Site, feed: &'a FeedInfo, formats: &[Format]) -> Option<Subscribe<'a>> {
    let format = Format::preferred(formats)?;
    // The preferred format first, as the box offers it; the rest in the site's order.
    let ordered = std::iter::once(format).chain(formats.iter().copied().filter(|&f| f != format));
    Some(Subscribe {
        name: &feed.name,
        url: url(site, &feed.key.route(format)),
        links: ordered
            .map(|format| FeedLink {
                label: format.label(),
                media_type: format.media_type(),
                url: url(site, &feed.key.route(format)),
            })
            .collect(),
    })
}

fn posts_label(count: usize) -> String {
    match count {
        1 => "1 post".to_string(),
        n => format!("{n} posts"),
    }
}

/// The authors of a post, the site's when every name is blank, linked to their pages.
fn author_links<'a>(site: &'a Site, post: &'a Post) -> Vec<NamedLink<'a>> {
    post.authors
        .iter()
        .map(|a| NamedLink {
            name: if a.name.trim().is_empty() {
                &site.author
            } else {
                &a.name
            },
            url: url(site, &FeedKey::Author(a.slug.clone()).dir()),
        })
        .collect()
}

/// Categories or tags, each linked to its page.
fn topic_links<'a>(
    site: &Site,
    names: &'a [crate::post::Named],
    key: fn(String) -> FeedKey,
) -> Vec<NamedLink<'a>> {
    names
        .iter()
        .map(|n| NamedLink {
            name: &n.name,
            url: url(site, &key(n.slug.clone()).dir()),
        })
        .collect()
}

fn entry<'a>(site: &'a Site, post: &'a Post) -> Entry<'a> {
    let published = truncate_to_second(post.published);
    Entry {
        title: &post.title,
        url: &post.url,
        authors: author_links(site, post),
        datetime: rfc3339(published),
        date: published.format("%B %-d, %Y").to_string(),
        summary: &post.summary,
    }
}

fn site_ctx(site: &Site) -> Value {
    context! {
        title => &site.title,
        description => &site.description,
        language => &site.language,
        home => home_url(site),
        opml => url(site, routes::OPML),
    }
}

/// A feed in the index's listing, with how many posts it has.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub info: FeedInfo,
    pub count: usize,
}

/// The home page: the newest posts (`newest`, at most a page), the site's Subscribe box,
/// and every category, author and tag with its post count. Autodiscovery offers the
/// site's feed and each category's and author's, one format each; a tag's feed is
/// discovered from its own page (a site may have thousands).
pub fn index(site: &Site, listing: &[Listed], newest: &[&Post], formats: &[Format]) -> String {
    let mut sections = [
        ("Categories", Vec::new()),
        ("Authors", Vec::new()),
        ("Tags", Vec::new()),
    ];
    let mut site_feed = None;
    let mut count = 0;
    for listed in listing {
        let at = match listed.info.key {
            FeedKey::Site => {
                site_feed = Some(&listed.info);
                count = listed.count;
                continue;
            }
            FeedKey::Category(_) => 0,
            FeedKey::Author(_) => 1,
            FeedKey::Tag(_) => 2,
        };
        sections[at].1.push(topic_link(site, listed));
    }
    let discovery: Vec<Discovered> = listing
        .iter()
        .filter(|l| !matches!(l.info.key, FeedKey::Tag(_)))
        .filter_map(|l| discovered(site, &l.info, formats))
        .collect();
    // The most used tags only: a blog may have thousands. Ties by name, as listed.
    let tags = &mut sections[2].1;
    let all_tags = tags.len();
    if all_tags > TAGS_ON_HOME {
        tags.sort_by_key(|t| std::cmp::Reverse(t.posts));
        tags.truncate(TAGS_ON_HOME);
    }
    // Categories first, above the posts: where a person looks for a section of the
    // site; authors and tags, which may be many, after them.
    let mut sections: Vec<Section> = sections
        .into_iter()
        .filter(|(_, topics)| !topics.is_empty())
        .map(|(heading, topics)| Section {
            more: (heading == "Tags" && all_tags > TAGS_ON_HOME).then(|| More {
                url: url(site, ALL_TAGS),
                label: format!("All {all_tags} tags"),
            }),
            heading,
            topics,
        })
        .collect();
    let categories: Vec<Section> = if sections.first().is_some_and(|s| s.heading == "Categories") {
        vec![sections.remove(0)]
    } else {
        Vec::new()
    };
    render(
        "index.html",
        context! {
            site => site_ctx(site),
            discovery => discovery,
            subscribe => site_feed.and_then(|feed| subscribe(site, feed, formats)),
            entries => newest.iter().map(|p| entry(site, p)).collect::<Vec<_>>(),
            pager => (count > POSTS_PER_PAGE).then(|| pager(site, &FeedKey::Site, 1, count)),
            categories => categories,
            sections => sections,
        },
    )
}

fn topic_link<'a>(site: &Site, listed: &'a Listed) -> TopicLink<'a> {
    TopicLink {
        name: &listed.info.name,
        url: url(site, &listed.info.key.dir()),
        count: posts_label(listed.count),
        posts: listed.count,
    }
}

/// `/tags/`: every tag with its post count, by name as listed; `None` when the site
/// has no tag.
pub fn all_tags(site: &Site, listing: &[Listed], formats: &[Format]) -> Option<String> {
    let topics: Vec<TopicLink> = listing
        .iter()
        .filter(|l| matches!(l.info.key, FeedKey::Tag(_)))
        .map(|l| topic_link(site, l))
        .collect();
    if topics.is_empty() {
        return None;
    }
    let count = match topics.len() {
        1 => "1 tag".to_string(),
        n => format!("{n} tags"),
    };
    let site_feed = listing.iter().find(|l| l.info.key == FeedKey::Site);
    let discovery: Vec<Discovered> = site_feed
        .and_then(|l| discovered(site, &l.info, formats))
        .into_iter()
        .collect();
    Some(render(
        "all.html",
        context! {
            site => site_ctx(site),
            discovery => discovery,
            heading => "Tags",
            url => url(site, ALL_TAGS),
            count => count,
            sections => vec![Section { heading: "Tags", topics, more: None }],
        },
    ))
}

/// The site's feed as a page offers it (autodiscovery, Subscribe box); its date is
/// not shown.
fn site_feed(site: &Site, updated: chrono::DateTime<chrono::FixedOffset>) -> FeedInfo {
    FeedInfo {
        key: FeedKey::Site,
        title: site.title.clone(),
        name: site.title.clone(),
        updated,
        archives: Default::default(),
    }
}

fn pager(site: &Site, key: &FeedKey, page: usize, count: usize) -> Pager {
    let pages = page_count(count);
    Pager {
        page,
        pages,
        newer: (page > 1).then(|| url(site, &key.page(page - 1))),
        older: (page < pages).then(|| url(site, &key.page(page + 1))),
    }
}

/// Page `page` of a topic's list of posts (`posts`: that page's, newest first; `count`:
/// the topic's in all), with its Subscribe box. Autodiscovery offers the topic's feed,
/// then the site's.
pub fn topic(
    site: &Site,
    feed: &FeedInfo,
    count: usize,
    posts: &[&Post],
    page: usize,
    formats: &[Format],
) -> String {
    let (kind, heading) = match &feed.key {
        FeedKey::Site => ("", site.title.clone()),
        FeedKey::Category(_) => ("Category", feed.name.clone()),
        FeedKey::Author(_) => ("Author", format!("Posts by {}", feed.name)),
        FeedKey::Tag(_) => ("Tag", format!("Tagged “{}”", feed.name)),
    };
    let pages = page_count(count);
    let title = if page > 1 {
        format!("{heading}, page {page} of {pages}")
    } else {
        heading.clone()
    };
    let site_feed = site_feed(site, feed.updated);
    let mut discovery: Vec<Discovered> = discovered(site, feed, formats).into_iter().collect();
    if feed.key != FeedKey::Site {
        discovery.extend(discovered(site, &site_feed, formats));
    }
    render(
        "topic.html",
        context! {
            site => site_ctx(site),
            discovery => discovery,
            topic => context! {
                kind => kind,
                heading => heading,
                title => title,
                url => url(site, &feed.key.page(page)),
                count => posts_label(count),
            },
            subscribe => subscribe(site, feed, formats),
            entries => posts.iter().map(|p| entry(site, p)).collect::<Vec<_>>(),
            pager => (pages > 1).then(|| pager(site, &feed.key, page, count)),
        },
    )
}

pub fn post(site: &Site, post: &Post, formats: &[Format]) -> String {
    let site_feed = site_feed(site, post.updated);
    // The site's feed, then each category's: what a reader offers from a post page. The
    // titles are those the feeds carry.
    let category_feeds: Vec<FeedInfo> = post
        .categories
        .iter()
        .map(|c| FeedInfo {
            key: FeedKey::Category(c.slug.clone()),
            title: super::feed_title(site, &FeedKey::Category(c.slug.clone()), &c.name),
            name: c.name.clone(),
            updated: post.updated,
            archives: Default::default(),
        })
        .collect();
    let discovery: Vec<Discovered> = std::iter::once(&site_feed)
        .chain(&category_feeds)
        .filter_map(|feed| discovered(site, feed, formats))
        .collect();
    let published = truncate_to_second(post.published);
    let enclosure = post.enclosure.as_ref().map(|e| {
        let kind = e.media_type.split('/').next().unwrap_or_default();
        context! {
            url => e.url(&post.url),
            kind => kind,
            label => attachment_label(&e.media_type, e.length),
        }
    });
    render(
        "post.html",
        context! {
            site => site_ctx(site),
            discovery => discovery,
            subscribe => subscribe(site, &site_feed, formats),
            post => context! {
                title => &post.title,
                url => &post.url,
                authors => author_links(site, post),
                categories => topic_links(site, &post.categories, FeedKey::Category),
                tags => topic_links(site, &post.tags, FeedKey::Tag),
                datetime => rfc3339(published),
                date => published.format("%B %-d, %Y").to_string(),
                image => post.image.as_ref().map(|i| i.url(&post.url)),
                enclosure => enclosure,
                // Sanitized with absolute URLs by the post parser: inserted as is.
                content => Value::from_safe_string(post.content_html.clone()),
            },
        },
    )
}

/// What a download link says of its file: its type and size, `MP3, 2.4 MB`.
fn attachment_label(media_type: &str, length: u64) -> String {
    let subtype = media_type.rsplit('/').next().unwrap_or(media_type);
    let kind = match subtype {
        "mpeg" => "MP3".to_string(),
        "mp4" | "x-m4a" => "MP4".to_string(),
        other => other.trim_start_matches("x-").to_uppercase(),
    };
    match length {
        0 => kind,
        n if n < 1_000_000 => format!("{kind}, {} KB", n.div_ceil(1000)),
        n => format!("{kind}, {:.1} MB", n as f64 / 1_000_000.0),
    }
}

/// One `<outline>`: a topic's feed.
#[derive(Serialize)]
struct Outline {
    text: String,
    xml_url: String,
    html_url: String,
}

/// The OPML list: one outline per topic, in the preferred format, so a reader
/// importing it gets every post once per topic, not once per format. Tags are left
/// out: a blog may have thousands, and a reader importing the list would subscribe to
/// each; their pages offer their feeds.
pub fn opml(site: &Site, feeds: &[FeedInfo], formats: &[Format]) -> String {
    let outlines: Vec<Outline> = Format::preferred(formats)
        .map(|format| {
            feeds
                .iter()
                .filter(|feed| !matches!(feed.key, FeedKey::Tag(_)))
                .map(|feed| Outline {
                    text: feed.title.clone(),
                    xml_url: url(site, &feed.key.route(format)),
                    html_url: url(site, &feed.key.dir()),
                })
                .collect()
        })
        .unwrap_or_default();
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
    use super::{index, opml, post as post_page, topic, Listed};
    use crate::feed::fixtures::{named, post, site, site_feed};
    use crate::feed::FeedInfo;
    use crate::post::Post;
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
                archives: Default::default(),
            },
            FeedInfo {
                key: FeedKey::Author("dana-whitfield".into()),
                title: "Example News — Dana Whitfield".into(),
                name: "Dana Whitfield".into(),
                updated: p.published,
                archives: Default::default(),
            },
            FeedInfo {
                key: FeedKey::Tag("buses".into()),
                title: "Example News — #buses".into(),
                name: "buses".into(),
                updated: p.published,
                archives: Default::default(),
            },
        ]
    }

    fn listed(counts: [usize; 4]) -> Vec<Listed> {
        feeds()
            .into_iter()
            .zip(counts)
            .map(|(info, count)| Listed { info, count })
            .collect()
    }

    fn alternates(html: &str) -> Vec<&str> {
        html.lines()
            .filter(|l| l.starts_with(r#"<link rel="alternate""#))
            .collect()
    }

    #[test]
    fn home_page_shows_the_newest_posts_the_topics_and_one_feed_per_topic() {
        let p = post("night-bus", "Night bus", "2019-03-03T00:00:00-08:00").build();
        let html = index(&site(), &listed([1, 1, 1, 1]), &[&p], &ALL);
        assert!(html.starts_with(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />"
        ));
        // The site's, each category's and author's feed, in RSS only; tags are
        // discovered from their own pages.
        assert_eq!(
            alternates(&html),
            vec![
                r#"<link rel="alternate" type="application/rss+xml" title="Example News" href="https://news.example.com/rss.xml" />"#,
                r#"<link rel="alternate" type="application/rss+xml" title="Example News — Tom &amp; Jerry &lt;3" href="https://news.example.com/categories/tom-jerry-3/rss.xml" />"#,
                r#"<link rel="alternate" type="application/rss+xml" title="Example News — Dana Whitfield" href="https://news.example.com/authors/dana-whitfield/rss.xml" />"#,
            ]
        );
        for line in [
            "<title>Example News</title>",
            "<h2>Latest posts</h2>",
            r#"<h3><a href="https://news.example.com/posts/night-bus/">Night bus</a></h3>"#,
            r#"<p class="meta">By <a href="https://news.example.com/authors/dana-whitfield/">Dana Whitfield</a> · <time datetime="2019-03-03T00:00:00-08:00">March 3, 2019</time></p>"#,
            "<p>The council voted 7–2 to extend the pilot.</p>",
            "<h2>Subscribe</h2>",
            r#"<input id="feed-url" type="url" readonly value="https://news.example.com/rss.xml" />"#,
            r#"<p class="meta">Formats: <a href="https://news.example.com/rss.xml" type="application/rss+xml">RSS</a> · <a href="https://news.example.com/atom.xml" type="application/atom+xml">Atom</a> · <a href="https://news.example.com/feed.json" type="application/feed+json">JSON Feed</a></p>"#,
            "<h2>Categories</h2>",
            r#"<li><a href="https://news.example.com/categories/tom-jerry-3/">Tom &amp; Jerry &lt;3</a> <span class="count">1 post</span></li>"#,
            "<h2>Authors</h2>",
            r#"<li><a href="https://news.example.com/authors/dana-whitfield/">Dana Whitfield</a> <span class="count">1 post</span></li>"#,
            "<h2>Tags</h2>",
            r#"<li><a href="https://news.example.com/tags/buses/">buses</a> <span class="count">1 post</span></li>"#,
            r#"<a href="https://news.example.com/opml.xml">OPML list</a>"#,
        ] {
            assert!(html.contains(line), "missing {line} in\n{html}");
        }
        // A page never links to a feed but from its Subscribe box.
        assert_eq!(html.matches(r#"rss.xml" type="#).count(), 1, "{html}");
        assert!(!html.contains("Older posts"));
    }

    #[test]
    fn home_page_links_to_older_posts_past_one_page() {
        let p = post("a", "A", "2019-03-03T00:00:00-08:00").build();
        let html = index(&site(), &listed([45, 45, 45, 45]), &[&p], &ALL);
        assert!(
            html.contains(r#"<span>Page 1 of 3</span>"#)
                && html.contains(
                    r#"<a href="https://news.example.com/page/2/" rel="next">Older posts →</a>"#
                ),
            "{html}"
        );
        assert!(html.contains(r#"<span class="count">45 posts</span>"#));
    }

    /// Review: the home page of a blog with 1,500 tags listed them all (163 KB).
    #[test]
    fn home_page_shows_the_most_used_tags_and_links_to_all_of_them() {
        let mut listing = listed([50, 1, 1, 1]);
        listing.truncate(1);
        for i in 0..45 {
            listing.push(Listed {
                info: FeedInfo {
                    key: FeedKey::Tag(format!("t{i:02}")),
                    title: format!("Example News — #t{i:02}"),
                    name: format!("t{i:02}"),
                    updated: listing[0].info.updated,
                    archives: Default::default(),
                },
                count: i + 1,
            });
        }
        let html = index(&site(), &listing, &[], &ALL);
        // The 40 most used: t44 (45 posts) down to t05 (6 posts).
        assert_eq!(
            html.matches(r#"href="https://news.example.com/tags/t"#)
                .count(),
            40
        );
        assert!(html.contains(r#">t44</a> <span class="count">45 posts</span>"#));
        assert!(html.contains(r#">t05</a>"#) && !html.contains(r#">t04</a>"#));
        assert!(html.contains(
            r#"<p class="meta"><a href="https://news.example.com/tags/">All 45 tags</a></p>"#
        ));
        let all = super::all_tags(&site(), &listing, &ALL).unwrap();
        assert_eq!(
            all.matches(r#"href="https://news.example.com/tags/t"#)
                .count(),
            45
        );
        for line in [
            "<title>Tags · Example News</title>",
            r#"<p class="meta">45 tags, each with its page and its feed.</p>"#,
            r#"<li><a href="https://news.example.com/tags/t00/">t00</a> <span class="count">1 post</span></li>"#,
        ] {
            assert!(all.contains(line), "missing {line} in\n{all}");
        }
        assert_eq!(super::all_tags(&site(), &listing[..1], &ALL), None);
    }

    #[test]
    fn topic_page_has_a_subscribe_box_its_posts_and_pages() {
        let posts: Vec<Post> = (0..2)
            .map(|i| {
                post(
                    &format!("p{i}"),
                    &format!("Post {i}"),
                    "2019-03-03T00:00:00-08:00",
                )
                .build()
            })
            .collect();
        let refs: Vec<&Post> = posts.iter().collect();
        let feed = &feeds()[1];
        let html = topic(&site(), feed, 42, &refs, 2, &ALL);
        assert_eq!(
            alternates(&html),
            vec![
                r#"<link rel="alternate" type="application/rss+xml" title="Example News — Tom &amp; Jerry &lt;3" href="https://news.example.com/categories/tom-jerry-3/rss.xml" />"#,
                r#"<link rel="alternate" type="application/rss+xml" title="Example News" href="https://news.example.com/rss.xml" />"#,
            ]
        );
        for line in [
            "<title>Tom &amp; Jerry &lt;3, page 2 of 3 · Example News</title>",
            r#"<link rel="canonical" href="https://news.example.com/categories/tom-jerry-3/page/2/" />"#,
            r#"<p class="kicker">Category</p>"#,
            "<h1>Tom &amp; Jerry &lt;3</h1>",
            r#"<p class="meta">42 posts</p>"#,
            "<p>Follow Tom &amp; Jerry &lt;3 in a feed reader: copy this address into your reader, and new posts will show up there as they are published.</p>",
            r#"<input id="feed-url" type="url" readonly value="https://news.example.com/categories/tom-jerry-3/rss.xml" />"#,
            r#"<a href="https://news.example.com/categories/tom-jerry-3/feed.json" type="application/feed+json">JSON Feed</a>"#,
            r#"<h3><a href="https://news.example.com/posts/p1/">Post 1</a></h3>"#,
            r#"<a href="https://news.example.com/categories/tom-jerry-3/" rel="prev">← Newer posts</a>"#,
            r#"<a href="https://news.example.com/categories/tom-jerry-3/page/3/" rel="next">Older posts →</a>"#,
        ] {
            assert!(html.contains(line), "missing {line} in\n{html}");
        }
    }

    #[test]
    fn empty_topic_page_says_so_and_still_offers_the_feed() {
        let feed = &feeds()[3];
        let html = topic(&site(), feed, 0, &[], 1, &[Format::Atom, Format::Json]);
        for line in [
            "<title>Tagged “buses” · Example News</title>",
            r#"<p class="kicker">Tag</p>"#,
            r#"<p class="meta">0 posts</p>"#,
            "<p>No posts here yet. Subscribe, and new ones will reach you as they are published.</p>",
            r#"<input id="feed-url" type="url" readonly value="https://news.example.com/tags/buses/atom.xml" />"#,
        ] {
            assert!(html.contains(line), "missing {line} in\n{html}");
        }
        assert!(!html.contains("class=\"pager\""));
    }

    #[test]
    fn post_page_links_its_topics_to_their_pages_and_discovers_their_feeds() {
        let p = post(
            "night-bus",
            "Tom & Jerry <3 “best”",
            "2019-03-03T00:00:00-08:00",
        )
        .category("Tom & Jerry <3")
        .build();
        let html = post_page(&site(), &p, &ALL);
        assert_eq!(
            alternates(&html),
            vec![
                r#"<link rel="alternate" type="application/rss+xml" title="Example News" href="https://news.example.com/rss.xml" />"#,
                r#"<link rel="alternate" type="application/rss+xml" title="Example News — City Hall" href="https://news.example.com/categories/city-hall/rss.xml" />"#,
                r#"<link rel="alternate" type="application/rss+xml" title="Example News — Transit" href="https://news.example.com/categories/transit/rss.xml" />"#,
                r#"<link rel="alternate" type="application/rss+xml" title="Example News — Tom &amp; Jerry &lt;3" href="https://news.example.com/categories/tom-jerry-3/rss.xml" />"#,
            ]
        );
        for line in [
            "<title>Tom &amp; Jerry &lt;3 “best” · Example News</title>",
            r#"<link rel="canonical" href="https://news.example.com/posts/night-bus/" />"#,
            "<h1>Tom &amp; Jerry &lt;3 “best”</h1>",
            r#"By <a href="https://news.example.com/authors/dana-whitfield/">Dana Whitfield</a> · <time datetime="2019-03-03T00:00:00-08:00">March 3, 2019</time>"#,
            r#"<li><a href="https://news.example.com/categories/city-hall/">City Hall</a></li>"#,
            r#"<li><a href="https://news.example.com/categories/tom-jerry-3/">Tom &amp; Jerry &lt;3</a></li>"#,
            r#"<li><a href="https://news.example.com/tags/buses/" rel="tag">buses</a></li>"#,
            "<p>The council voted 7–2 to extend the <b>pilot</b>.</p>",
        ] {
            assert!(html.contains(line), "missing {line} in\n{html}");
        }
    }

    /// Review: a person on an episode's page could neither play nor find its audio.
    #[test]
    fn post_page_shows_its_picture_and_plays_its_audio() {
        use crate::post::{Attachment, Location};
        let mut p = post("ep1", "Episode one", "2019-03-03T00:00:00-08:00").build();
        p.image = Some(Attachment {
            location: Location::Beside("cover.png".into()),
            length: 2048,
            media_type: "image/png".into(),
        });
        p.enclosure = Some(Attachment {
            location: Location::Beside("ep1.mp3".into()),
            length: 2_412_000,
            media_type: "audio/mpeg".into(),
        });
        let html = post_page(&site(), &p, &ALL);
        for line in [
            r#"<figure class="feature"><img src="https://news.example.com/posts/ep1/cover.png" alt="" /></figure>"#,
            r#"<audio controls preload="none" src="https://news.example.com/posts/ep1/ep1.mp3"></audio>"#,
            r#"<figcaption class="meta"><a href="https://news.example.com/posts/ep1/ep1.mp3" download>Download</a> (MP3, 2.4 MB)</figcaption>"#,
        ] {
            assert!(html.contains(line), "missing {line} in\n{html}");
        }
        p.enclosure = Some(Attachment {
            location: Location::Url("https://cdn.example.org/talk.webm".into()),
            length: 0,
            media_type: "video/webm".into(),
        });
        let html = post_page(&site(), &p, &ALL);
        assert!(html.contains(
            r#"<video controls preload="none" src="https://cdn.example.org/talk.webm"></video>"#
        ));
        assert!(html.contains("download>Download</a> (WEBM)</figcaption>"));
    }

    #[test]
    fn post_page_names_every_author_with_a_link_to_their_page() {
        let mut p = post("a", "A", "2019-03-03T00:00:00-08:00").build();
        p.authors = vec![named("Zed"), named("Yan")];
        let html = post_page(&site(), &p, &ALL);
        let line = r#"By <a href="https://news.example.com/authors/zed/">Zed</a>, <a href="https://news.example.com/authors/yan/">Yan</a> · "#;
        assert!(html.contains(line), "missing {line} in\n{html}");
    }

    #[test]
    fn opml_has_one_outline_per_topic_in_the_preferred_format() {
        let xml = opml(&site(), &feeds(), &[Format::Json, Format::Atom]);
        // The site, the category and the author; not the tag.
        assert_eq!(xml.matches("<outline ").count(), 3);
        assert!(!xml.contains("#buses"));
        for line in [
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<opml version="2.0">"#,
            "<title>Example News</title>",
            "<dateModified>Sun, 3 Mar 2019 00:00:00 -0800</dateModified>",
            r#"<outline type="rss" text="Example News" title="Example News" xmlUrl="https://news.example.com/atom.xml" htmlUrl="https://news.example.com/"/>"#,
            r#"<outline type="rss" text="Example News — Tom &amp; Jerry &lt;3" title="Example News — Tom &amp; Jerry &lt;3" xmlUrl="https://news.example.com/categories/tom-jerry-3/atom.xml" htmlUrl="https://news.example.com/categories/tom-jerry-3/"/>"#,
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
        assert_eq!(xml.matches("<outline ").count(), 1);
    }

    /// Nothing but the input decides the bytes: no clock, no map order.
    #[test]
    fn pages_render_exactly_these_bytes() {
        let p = post("a", "A", "2019-03-03T00:00:00-08:00").build();
        insta::assert_snapshot!("index", index(&site(), &listed([1, 1, 1, 1]), &[&p], &ALL));
        insta::assert_snapshot!("post_page", post_page(&site(), &p, &ALL));
        insta::assert_snapshot!("topic_page", topic(&site(), &feeds()[1], 1, &[&p], 1, &ALL));
        insta::assert_snapshot!("opml", opml(&site(), &feeds(), &ALL));
    }
}
