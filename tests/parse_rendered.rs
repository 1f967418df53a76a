//! Rendered feeds read back by independent parsers: feed-rs for what a feed reader
//! sees, quick-xml in strict mode for well-formedness of every XML document (feeds,
//! OPML and the index, which is written XHTML-compatible).

mod common;

use common::strict_xml;
use dropfeed::feed::{render_feed, render_index, render_opml, FeedInfo, Listed};
use dropfeed::post::Post;
use dropfeed::routes::{FeedKey, Format};
use dropfeed::testing::site;

const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

fn rendered(format: Format) -> String {
    let posts = common::posts();
    let refs: Vec<&Post> = posts.iter().collect();
    render_feed(format, &site(), &common::site_feed(&refs), &refs)
}

#[test]
fn every_format_parses_with_its_items_ids_titles_dates_and_categories() {
    for format in ALL {
        let body = rendered(format);
        let feed = feed_rs::parser::parse(body.as_bytes())
            .unwrap_or_else(|err| panic!("{format:?} does not parse: {err}"));
        assert_eq!(
            feed.title.as_ref().map(|t| t.content.as_str()),
            Some("Example News"),
            "{format:?}"
        );
        let ids: Vec<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "tag:news.example.com,2020-01-06:fare-caps",
                "tag:news.example.com,2019-03-03:night-bus-pilot",
                "tag:news.example.com,2019-02-14:budget-hearing",
            ],
            "{format:?}"
        );
        let titles: Vec<&str> = feed
            .entries
            .iter()
            .map(|e| e.title.as_ref().map_or("", |t| t.content.as_str()))
            .collect();
        assert_eq!(
            titles,
            vec![
                "Fare caps & transfers <explained>",
                "Council extends the “night bus” pilot",
                "Budget hearing moved",
            ],
            "{format:?}"
        );
        let published: Vec<String> = feed
            .entries
            .iter()
            .map(|e| e.published.map(|d| d.to_rfc3339()).unwrap_or_default())
            .collect();
        assert_eq!(
            published,
            vec![
                "2020-01-06T00:15:00+00:00",
                "2019-03-03T08:00:00+00:00",
                "2019-02-14T18:30:00+00:00",
            ],
            "{format:?}"
        );
        let authors: Vec<&str> = feed
            .entries
            .iter()
            .map(|e| e.authors.first().map_or("", |a| a.name.as_str()))
            .collect();
        assert_eq!(
            authors,
            vec!["Zoë Álvarez", "Dana Whitfield", "Newsroom"],
            "{format:?}"
        );
        // Atom carries the slug as term and the name as label; RSS and JSON Feed carry
        // the name (JSON Feed's tags also hold the post's tags).
        let categories: Vec<Vec<&str>> = feed
            .entries
            .iter()
            .map(|e| e.categories.iter().map(|c| c.term.as_str()).collect())
            .collect();
        let expected: Vec<Vec<&str>> = match format {
            // Categories, then tags (`local`).
            Format::Atom => vec![
                vec!["transit", "local"],
                vec!["city-hall", "transit", "local"],
                vec!["city-hall", "local"],
            ],
            Format::Rss => vec![
                vec!["Transit", "local"],
                vec!["City Hall", "Transit", "local"],
                vec!["City Hall", "local"],
            ],
            Format::Json => vec![
                vec!["Transit", "local"],
                vec!["City Hall", "Transit", "local"],
                vec!["City Hall", "local"],
            ],
        };
        assert_eq!(categories, expected, "{format:?}");
    }
}

#[test]
fn atom_category_labels_are_the_display_names() {
    let feed = feed_rs::parser::parse(rendered(Format::Atom).as_bytes()).unwrap();
    let labels: Vec<Option<&str>> = feed.entries[1]
        .categories
        .iter()
        .map(|c| c.label.as_deref())
        .collect();
    assert_eq!(
        labels,
        vec![Some("City Hall"), Some("Transit"), Some("local")]
    );
}

#[test]
fn html_content_survives_the_round_trip() {
    for format in ALL {
        let feed = feed_rs::parser::parse(rendered(format).as_bytes()).unwrap();
        let body = feed.entries[0]
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .unwrap_or_else(|| panic!("{format:?}: no content"));
        assert!(
            body.contains("$5 a day &amp; $20 a week, <b>starting Monday</b>"),
            "{format:?}: {body}"
        );
        assert!(
            body.contains(r#"<a href="https://news.example.com/posts/night-bus-pilot/">"#),
            "{format:?}: {body}"
        );
    }
}

#[test]
fn empty_feed_parses_with_no_items() {
    for format in ALL {
        let body = render_feed(format, &site(), &common::site_feed(&[]), &[]);
        let feed = feed_rs::parser::parse(body.as_bytes())
            .unwrap_or_else(|err| panic!("{format:?} does not parse: {err}"));
        assert!(feed.entries.is_empty(), "{format:?}");
        if format != Format::Json {
            strict_xml(&format!("empty {format:?}"), &body);
        }
    }
}

fn every_feed() -> Vec<FeedInfo> {
    let posts = common::posts();
    let refs: Vec<&Post> = posts.iter().collect();
    let updated = common::site_feed(&refs).updated;
    vec![
        common::site_feed(&refs),
        FeedInfo {
            key: FeedKey::Category("city-hall".into()),
            title: "Example News — City Hall".into(),
            name: "City Hall".into(),
            updated,
            archives: Default::default(),
        },
        FeedInfo {
            key: FeedKey::Category("tom-jerry-3".into()),
            title: "Example News — Tom & Jerry <3".into(),
            name: "Tom & Jerry <3".into(),
            updated,
            archives: Default::default(),
        },
        FeedInfo {
            key: FeedKey::Author("zoe-alvarez".into()),
            title: "Example News — Zoë Álvarez".into(),
            name: "Zoë Álvarez".into(),
            updated,
            archives: Default::default(),
        },
    ]
}

#[test]
fn xml_documents_are_well_formed_in_strict_mode() {
    strict_xml("rss", &rendered(Format::Rss));
    strict_xml("atom", &rendered(Format::Atom));
    let site = site();
    let feeds = every_feed();
    strict_xml("opml", &render_opml(&site, &feeds, &ALL));
    let posts = common::posts();
    let newest: Vec<&Post> = posts.iter().collect();
    let listed: Vec<Listed> = feeds
        .into_iter()
        .map(|info| Listed { info, count: 3 })
        .collect();
    strict_xml("index", &render_index(&site, &listed, &newest, &ALL));
}

#[test]
fn opml_outlines_read_back_with_their_urls() {
    let site = site();
    let text = render_opml(&site, &every_feed(), &[Format::Rss]);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut outlines = Vec::new();
    loop {
        match reader.read_event().expect("well-formed OPML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Empty(e) if e.name().as_ref() == b"outline" => {
                let attr = |name: &str| {
                    e.try_get_attribute(name)
                        .expect("attribute")
                        .map(|a| a.unescape_value().expect("unescape").into_owned())
                        .unwrap_or_default()
                };
                outlines.push((attr("type"), attr("text"), attr("xmlUrl")));
            }
            _ => {}
        }
    }
    assert_eq!(
        outlines,
        vec![
            (
                "rss".to_string(),
                "Example News".to_string(),
                "https://news.example.com/rss.xml".to_string()
            ),
            (
                "rss".to_string(),
                "Example News — City Hall".to_string(),
                "https://news.example.com/categories/city-hall/rss.xml".to_string()
            ),
            (
                "rss".to_string(),
                "Example News — Tom & Jerry <3".to_string(),
                "https://news.example.com/categories/tom-jerry-3/rss.xml".to_string()
            ),
            (
                "rss".to_string(),
                "Example News — Zoë Álvarez".to_string(),
                "https://news.example.com/authors/zoe-alvarez/rss.xml".to_string()
            ),
        ]
    );
}
