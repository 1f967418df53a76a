//! Hand-built site and posts shared by the renderer integration tests: fixed dates in
//! three offsets, two categories, an accented author, and content with `&`, `<b>` and
//! a link, so every escaping path is exercised.

#![allow(dead_code)]

use chrono::{DateTime, FixedOffset, Utc};
use dropfeed::feed::FeedInfo;
use dropfeed::post::{Named, Post, Site};
use dropfeed::routes::FeedKey;

pub fn site() -> Site {
    Site {
        title: "Example News".into(),
        description: "Posts from the newsroom".into(),
        base_url: "https://news.example.com".into(),
        host: "news.example.com".into(),
        author: "Newsroom".into(),
        language: "en".into(),
        timezone: chrono_tz::America::Los_Angeles,
    }
}

fn date(rfc3339: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(rfc3339).expect("a literal RFC 3339 date")
}

fn named(name: &str, slug: &str) -> Named {
    Named {
        name: name.into(),
        slug: slug.into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn post(
    slug: &str,
    title: &str,
    authors: Vec<Named>,
    categories: Vec<Named>,
    published: &str,
    updated: &str,
    summary: &str,
    content_html: &str,
) -> Post {
    let published = date(published);
    Post {
        path: format!("{slug}.md"),
        slug: slug.into(),
        id: format!(
            "tag:news.example.com,{}:{slug}",
            published.format("%Y-%m-%d")
        ),
        url: format!("https://news.example.com/posts/{slug}/"),
        title: title.into(),
        authors,
        categories,
        tags: vec!["local".into()],
        published,
        updated: date(updated),
        file_modified: published.with_timezone(&Utc),
        summary: summary.into(),
        content_html: content_html.into(),
        draft: false,
        warnings: vec![],
    }
}

/// Three posts, newest first, as the catalog hands them to a feed.
pub fn posts() -> Vec<Post> {
    let city_hall = named("City Hall", "city-hall");
    let transit = named("Transit", "transit");
    vec![
        post(
            "fare-caps",
            "Fare caps & transfers <explained>",
            vec![named("Zoë Álvarez", "zoe-alvarez")],
            vec![transit.clone()],
            "2020-01-06T09:15:00+09:00",
            "2020-01-07T10:00:00+09:00",
            "Riders will pay at most $5 a day & $20 a week.",
            "<p>Riders will pay at most $5 a day &amp; $20 a week, <b>starting Monday</b>. \
             See <a href=\"https://news.example.com/posts/night-bus-pilot/\">the night bus pilot</a>.</p>",
        ),
        post(
            "night-bus-pilot",
            "Council extends the “night bus” pilot",
            vec![named("Dana Whitfield", "dana-whitfield")],
            vec![city_hall.clone(), transit],
            "2019-03-03T00:00:00-08:00",
            "2019-03-03T00:00:00-08:00",
            "The council voted 7–2 on Tuesday to extend the night bus pilot.",
            "<p>The council voted 7–2 on Tuesday to extend the night bus pilot, a “stopgap” \
             that riders have asked to make permanent.</p>",
        ),
        post(
            "budget-hearing",
            "Budget hearing moved",
            vec![named("Newsroom", "newsroom")],
            vec![city_hall],
            "2019-02-14T18:30:00+00:00",
            "2019-02-14T18:30:00+00:00",
            "The hearing moves to March 1.",
            "<p>The hearing moves to March 1.</p>",
        ),
    ]
}

/// The site feed of `posts`, dated by its newest change.
pub fn site_feed(posts: &[&Post]) -> FeedInfo {
    FeedInfo {
        key: FeedKey::Site,
        title: "Example News".into(),
        name: "Example News".into(),
        updated: FeedInfo::updated_of(posts.iter().copied()),
    }
}

/// Reads every event of `text` with quick-xml in strict mode; panics at the first
/// error, naming the document and the byte offset.
pub fn strict_xml(name: &str, text: &str) {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(err) => panic!(
                "{name} is not well-formed XML at {}: {err}",
                reader.buffer_position()
            ),
        }
    }
}
