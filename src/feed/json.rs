//! JSON Feed 1.1 on `serde_json`, pretty-printed so a diff of two versions reads well.

use serde::Serialize;

use super::archive::{self, Document};
use super::{author_names, description, keywords, modified, page_url, rfc3339, FeedInfo, Format};
use crate::post::{Post, Site};

const VERSION: &str = "https://jsonfeed.org/version/1.1";

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: String,
    feed_url: String,
    description: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    language: &'a str,
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    favicon: Option<&'a str>,
    /// WebSub discovery: where a reader subscribes to be pushed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<JsonItem<'a>>,
    /// RFC 5005's links and archive marker: JSON Feed has none of its own, and keys
    /// beginning with `_` are its extensions, which readers that do not know them skip.
    #[serde(rename = "_rfc5005", skip_serializing_if = "Option::is_none")]
    history: Option<History>,
}

/// The `_rfc5005` extension object: `archive` as `fh:archive`, and a URL for each link
/// relation that the document has (`prev_archive`, `next_archive`, `current`).
#[derive(Serialize)]
struct History {
    /// What this extension is, as JSON Feed asks of every extension object.
    about: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    archive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_archive: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_archive: Option<String>,
}

/// The document's `_rfc5005` object; none for a feed without archives.
fn history(site: &Site, feed: &FeedInfo, document: Document) -> Option<History> {
    let links = archive::links(site, feed, Format::Json, document);
    let find = |rel: &str| {
        links
            .iter()
            .find(|(r, _)| *r == rel)
            .map(|(_, url)| url.clone())
    };
    let history = History {
        about: "https://www.rfc-editor.org/rfc/rfc5005#section-4",
        archive: matches!(document, Document::Archive(_)),
        current: find("current"),
        prev_archive: find("prev-archive"),
        next_archive: find("next-archive"),
    };
    (history.archive || !links.is_empty()).then_some(history)
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    /// Always present, even empty: an item needs `content_html` or `content_text`.
    content_html: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    summary: &'a str,
    date_published: String,
    date_modified: String,
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<JsonAttachment<'a>>,
}

#[derive(Serialize)]
struct JsonAttachment<'a> {
    url: String,
    mime_type: &'a str,
    /// Left out when unknown (a URL whose size the front matter does not give).
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

pub fn render(site: &Site, feed: &FeedInfo, posts: &[&Post], document: Document) -> String {
    let document = JsonFeed {
        version: VERSION,
        title: &feed.title,
        home_page_url: page_url(site, feed),
        feed_url: archive::url(site, feed, Format::Json, document),
        description: description(site, feed),
        language: site.language.trim(),
        authors: vec![Author { name: &site.author }],
        icon: site.channel.icon_url.as_deref(),
        favicon: site.channel.icon_url.as_deref(),
        hubs: archive::hubs(site, document)
            .iter()
            .map(|url| Hub {
                kind: "WebSub",
                url,
            })
            .collect(),
        items: posts.iter().map(|post| item(site, post)).collect(),
        history: history(site, feed, document),
    };
    // Structs of strings always serialize.
    serde_json::to_string_pretty(&document).expect("serializing a JSON feed")
}

fn item<'a>(site: &'a Site, post: &'a Post) -> JsonItem<'a> {
    JsonItem {
        id: &post.id,
        url: &post.url,
        title: &post.title,
        content_html: super::item_content(post),
        summary: &post.summary,
        date_published: rfc3339(post.published),
        date_modified: rfc3339(modified(post)),
        authors: author_names(site, post)
            .into_iter()
            .map(|name| Author { name })
            .collect(),
        tags: keywords(post),
        image: post.image.as_ref().map(|image| image.url(&post.url)),
        attachments: post
            .enclosure
            .iter()
            .map(|enclosure| JsonAttachment {
                url: enclosure.url(&post.url),
                mime_type: &enclosure.media_type,
                size_in_bytes: (enclosure.length > 0).then_some(enclosure.length),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::feed::archive::Document;
    use crate::feed::fixtures::{named, post, site, site_feed, site_with_hubs};
    use crate::feed::FeedInfo;

    fn render(site: &crate::post::Site, feed: &FeedInfo, posts: &[&crate::post::Post]) -> String {
        super::render(site, feed, posts, Document::Subscription)
    }

    #[test]
    fn feed_names_each_websub_hub() {
        let p = post("a", "A", "2020-01-02T03:04:00+00:00").build();
        let with: Value =
            serde_json::from_str(&render(&site_with_hubs(), &site_feed(&[&p]), &[&p])).unwrap();
        assert_eq!(
            with["hubs"],
            json!([
                {"type": "WebSub", "url": "https://hub.example.org/"},
                {"type": "WebSub", "url": "https://news.example.com/websub"},
            ])
        );
        let without: Value =
            serde_json::from_str(&render(&site(), &site_feed(&[&p]), &[&p])).unwrap();
        assert_eq!(without.get("hubs"), None);
    }

    #[test]
    fn item_carries_every_field() {
        let p = post("night-bus", "Night bus", "2019-03-03T00:00:00-08:00")
            .updated("2019-03-04T12:00:00+00:00")
            .build();
        let feed: Value = serde_json::from_str(&render(&site(), &site_feed(&[&p]), &[&p])).unwrap();
        assert_eq!(
            feed["items"][0],
            json!({
                "id": "tag:news.example.com,2019-03-03:night-bus",
                "url": "https://news.example.com/posts/night-bus/",
                "title": "Night bus",
                "content_html": "<p>The council voted 7–2 to extend the <b>pilot</b>.</p>",
                "summary": "The council voted 7–2 to extend the pilot.",
                "date_published": "2019-03-03T00:00:00-08:00",
                "date_modified": "2019-03-04T12:00:00+00:00",
                "authors": [{"name": "Dana Whitfield"}],
                // "transit" the tag repeats "Transit" the category.
                "tags": ["City Hall", "Transit", "buses"],
            })
        );
        assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(feed["home_page_url"], "https://news.example.com/");
        assert_eq!(feed["feed_url"], "https://news.example.com/feed.json");
        assert_eq!(feed["authors"], json!([{"name": "Newsroom"}]));
        assert_eq!(feed["language"], "en");
    }

    #[test]
    fn item_lists_every_author() {
        let mut p = post("a", "A", "2020-01-02T03:04:00+00:00").build();
        p.authors = vec![named("Zed"), named("Yan")];
        let feed: Value = serde_json::from_str(&render(&site(), &site_feed(&[&p]), &[&p])).unwrap();
        assert_eq!(
            feed["items"][0]["authors"],
            json!([{"name": "Zed"}, {"name": "Yan"}])
        );
    }

    #[test]
    fn markup_characters_stay_literal_text() {
        let mut p = post("tj", "Tom & Jerry <3 “best”", "2020-01-02T03:04:00+00:00").build();
        p.categories = vec![named("Tom & Jerry <3")];
        p.tags = vec![];
        let text = render(&site(), &site_feed(&[&p]), &[&p]);
        assert!(
            text.contains(r#""title": "Tom & Jerry <3 “best”","#),
            "{text}"
        );
        let feed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(feed["items"][0]["tags"], json!(["Tom & Jerry <3"]));
    }

    #[test]
    fn empty_feed_has_an_empty_item_list() {
        let feed: Value = serde_json::from_str(&render(&site(), &site_feed(&[]), &[])).unwrap();
        assert_eq!(feed["items"], json!([]));
        assert_eq!(feed["title"], "Example News");
    }

    /// Nothing but the input decides the bytes: no clock, no map order.
    #[test]
    fn a_post_renders_exactly_these_bytes() {
        let a = post("a", "A", "2021-06-07T08:09:00+05:00").build();
        let feed = site_feed(&[&a]);
        insta::assert_snapshot!("json_one_post", render(&site(), &feed, &[&a]));
    }

    /// Archive 2 of 3: marked as an archive, linked to the feed, to archive 1 and to
    /// archive 3, and dated by its own posts.
    #[test]
    fn an_archive_renders_exactly_these_bytes() {
        let a = post("a", "A", "2021-06-06T08:09:00+00:00").build();
        let b = post("b", "B", "2021-06-07T08:09:00+00:00").build();
        let feed = crate::feed::FeedInfo {
            archives: vec![0x0a1b2c3d, 0x1e2f3a4b, 0x5c6d7e8f].into(),
            ..site_feed(&[&a, &b])
        };
        insta::assert_snapshot!(
            "json_archive",
            super::render(&site(), &feed, &[&b, &a], Document::Archive(2))
        );
    }
}
