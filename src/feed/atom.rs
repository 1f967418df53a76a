//! Atom 1.0 (RFC 4287) on the `atom_syndication` crate.

use atom_syndication::{
    Category, Content, Entry, Feed, Generator, Link, Person, Text, WriteConfig,
};

use super::archive::{self, Document};
use super::{author_names, description, modified, page_url, truncate_to_second, FeedInfo, Format};
use crate::post::{Attachment, Post, Site};

pub fn render(site: &Site, feed: &FeedInfo, posts: &[&Post], document: Document) -> String {
    let self_url = archive::url(site, feed, Format::Atom, document);
    let mut atom = Feed {
        title: Text::plain(feed.title.as_str()),
        subtitle: Some(Text::plain(description(site, feed))),
        // The self URL is as stable as the feed itself, and unique to it.
        id: self_url.clone(),
        updated: truncate_to_second(feed.updated),
        authors: vec![person(&site.author)],
        generator: Some(Generator {
            value: "dropfeed".to_string(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        links: [
            link(self_url, "self", "application/atom+xml"),
            link(page_url(site, feed), "alternate", "text/html"),
        ]
        .into_iter()
        // WebSub discovery (section 4): where a reader subscribes to be pushed.
        .chain(archive::hubs(site, document).iter().map(|hub| Link {
            href: hub.clone(),
            rel: "hub".to_string(),
            ..Link::default()
        }))
        .chain(history_links(site, feed, document))
        .collect(),
        lang: (!site.language.trim().is_empty()).then(|| site.language.clone()),
        icon: site.channel.icon_url.clone(),
        logo: site.channel.icon_url.clone(),
        entries: posts.iter().map(|post| entry(site, post)).collect(),
        ..Feed::default()
    };
    if matches!(document, Document::Archive(_)) {
        mark_archive(&mut atom);
    }
    let config = WriteConfig {
        write_document_declaration: true,
        indent_size: Some(2),
    };
    // Writing to a Vec cannot fail, and quick-xml writes only UTF-8.
    let bytes = atom
        .write_with_config(Vec::new(), config)
        .expect("writing Atom to memory");
    String::from_utf8(bytes).expect("Atom is written as UTF-8")
}

/// The document's RFC 5005 links (`prev-archive`, `next-archive`, `current`).
fn history_links(site: &Site, feed: &FeedInfo, document: Document) -> Vec<Link> {
    archive::links(site, feed, Format::Atom, document)
        .into_iter()
        .map(|(rel, href)| link(href, rel, "application/atom+xml"))
        .collect()
}

/// `<fh:archive/>` on the feed: this document is an archive, whose entries stay.
fn mark_archive(atom: &mut Feed) {
    atom.namespaces
        .insert("fh".to_string(), archive::NAMESPACE.to_string());
    let marker = atom_syndication::extension::Extension {
        name: "fh:archive".to_string(),
        ..Default::default()
    };
    atom.extensions.insert(
        "fh".to_string(),
        std::collections::BTreeMap::from([("archive".to_string(), vec![marker])]),
    );
}

fn entry(site: &Site, post: &Post) -> Entry {
    Entry {
        id: post.id.clone(),
        title: Text::plain(post.title.as_str()),
        published: Some(truncate_to_second(post.published)),
        updated: modified(post),
        authors: author_names(site, post).into_iter().map(person).collect(),
        categories: post
            .categories
            .iter()
            .map(|c| Category {
                term: c.slug.clone(),
                scheme: None,
                label: Some(c.name.clone()),
            })
            .chain(post.tags.iter().map(|t| Category {
                term: t.slug.clone(),
                scheme: Some(super::tag_scheme(site)),
                label: Some(t.name.clone()),
            }))
            .collect(),
        links: std::iter::once(link(post.url.clone(), "alternate", "text/html"))
            .chain(
                [&post.image, &post.enclosure]
                    .into_iter()
                    .flatten()
                    .map(|attachment| enclosure(post, attachment)),
            )
            .collect(),
        summary: (!post.summary.trim().is_empty()).then(|| Text::plain(post.summary.as_str())),
        content: (!post.content_html.trim().is_empty()).then(|| Content {
            value: Some(super::item_content(post).into_owned()),
            content_type: Some("html".to_string()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

/// An `image` or `enclosure` as a `link rel="enclosure"`: Atom takes any number. A
/// length of 0 (a URL whose size the front matter does not give) is left out, as
/// unknown.
fn enclosure(post: &Post, attachment: &Attachment) -> Link {
    Link {
        length: (attachment.length > 0).then(|| attachment.length.to_string()),
        ..link(
            attachment.url(&post.url),
            "enclosure",
            &attachment.media_type,
        )
    }
}

fn person(name: &str) -> Person {
    Person {
        name: name.to_string(),
        ..Person::default()
    }
}

fn link(href: String, rel: &str, media_type: &str) -> Link {
    Link {
        href,
        rel: rel.to_string(),
        mime_type: Some(media_type.to_string()),
        ..Link::default()
    }
}

#[cfg(test)]
mod tests {
    use super::render;
    use crate::feed::archive::Document;
    use crate::feed::fixtures::{named, post, site, site_feed, site_with_hubs};

    #[test]
    fn feed_names_each_websub_hub() {
        let p = post("a", "A", "2020-01-02T03:04:00+00:00").build();
        let atom = render(
            &site_with_hubs(),
            &site_feed(&[&p]),
            &[&p],
            Document::Subscription,
        );
        for line in [
            r#"<link href="https://hub.example.org/" rel="hub"/>"#,
            r#"<link href="https://news.example.com/websub" rel="hub"/>"#,
        ] {
            assert!(atom.contains(line), "missing {line} in\n{atom}");
        }
        let without = render(&site(), &site_feed(&[&p]), &[&p], Document::Subscription);
        assert!(!without.contains(r#"rel="hub""#), "{without}");
    }

    #[test]
    fn entry_carries_category_terms_and_labels() {
        let p = post("night-bus", "Night bus", "2019-03-03T00:00:00-08:00").build();
        let atom = render(&site(), &site_feed(&[&p]), &[&p], Document::Subscription);
        for line in [
            r#"<category term="city-hall" label="City Hall"/>"#,
            r#"<category term="transit" label="Transit"/>"#,
            "<id>tag:news.example.com,2019-03-03:night-bus</id>",
            "<published>2019-03-03T00:00:00-08:00</published>",
            "<updated>2019-03-03T00:00:00-08:00</updated>",
            r#"<link href="https://news.example.com/posts/night-bus/" rel="alternate" type="text/html"/>"#,
            "<summary>The council voted 7–2 to extend the pilot.</summary>",
            r#"<content type="html">&lt;p&gt;The council voted 7–2 to extend the &lt;b&gt;pilot&lt;/b&gt;.&lt;/p&gt;</content>"#,
            "<name>Dana Whitfield</name>",
        ] {
            assert!(atom.contains(line), "missing {line} in\n{atom}");
        }
    }

    #[test]
    fn feed_has_id_links_author_generator_and_language() {
        let p = post("a", "A", "2020-01-02T03:04:00+00:00").build();
        let atom = render(&site(), &site_feed(&[&p]), &[&p], Document::Subscription);
        for line in [
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">"#,
            "<id>https://news.example.com/atom.xml</id>",
            "<updated>2020-01-02T03:04:00+00:00</updated>",
            r#"<link href="https://news.example.com/atom.xml" rel="self" type="application/atom+xml"/>"#,
            r#"<link href="https://news.example.com/" rel="alternate" type="text/html"/>"#,
            "<name>Newsroom</name>",
            r#"<generator version="0.1.0">dropfeed</generator>"#,
        ] {
            assert!(atom.contains(line), "missing {line} in\n{atom}");
        }
    }

    #[test]
    fn entry_has_an_author_for_each_author() {
        let mut p = post("a", "A", "2020-01-02T03:04:00+00:00").build();
        p.authors = vec![named("Zed"), named("Yan")];
        let atom = render(&site(), &site_feed(&[&p]), &[&p], Document::Subscription);
        let entry = atom.split_once("<entry>").map_or("", |(_, entry)| entry);
        assert_eq!(entry.matches("<author>").count(), 2, "{atom}");
        let zed = entry.find("<name>Zed</name>");
        let yan = entry.find("<name>Yan</name>");
        assert!(zed.is_some() && zed < yan, "{atom}");
    }

    #[test]
    fn markup_characters_in_titles_and_categories_are_escaped_once() {
        let mut p = post("tj", "Tom & Jerry <3 “best”", "2020-01-02T03:04:00+00:00").build();
        p.categories = vec![named("Tom & Jerry <3")];
        let atom = render(&site(), &site_feed(&[&p]), &[&p], Document::Subscription);
        assert!(
            atom.contains("<title>Tom &amp; Jerry &lt;3 “best”</title>"),
            "{atom}"
        );
        assert!(
            atom.contains(r#"<category term="tom-jerry-3" label="Tom &amp; Jerry &lt;3"/>"#),
            "{atom}"
        );
    }

    /// The ledger dates an empty feed by when it was emptied; the renderer writes that.
    #[test]
    fn empty_feed_is_updated_when_it_was_emptied() {
        let mut feed = site_feed(&[]);
        feed.updated = chrono::DateTime::parse_from_rfc3339("2026-11-27T10:00:00.5Z").unwrap();
        let atom = render(&site(), &feed, &[], Document::Subscription);
        assert!(
            atom.contains("<updated>2026-11-27T10:00:00+00:00</updated>"),
            "{atom}"
        );
        assert!(!atom.contains("<entry>"));
    }

    /// Nothing but the input decides the bytes: no clock, no map order.
    #[test]
    fn a_post_renders_exactly_these_bytes() {
        let a = post("a", "A", "2021-06-07T08:09:00+05:00").build();
        let feed = site_feed(&[&a]);
        insta::assert_snapshot!(
            "atom_one_post",
            render(&site(), &feed, &[&a], Document::Subscription)
        );
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
            "atom_archive",
            render(&site(), &feed, &[&b, &a], Document::Archive(2))
        );
    }
}
