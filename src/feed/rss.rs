//! RSS 2.0 on the `rss` crate: `content:encoded` for the full HTML, Dublin Core for
//! the authors' names, one `dc:creator` each (RSS's own `author` wants an e-mail
//! address), and `atom:link
//! rel="self"`, which the W3C validator asks of every RSS feed.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::{self, DublinCoreExtension};
use rss::extension::itunes::{
    ITunesCategory, ITunesChannelExtension, ITunesItemExtension, ITunesOwner,
};
use rss::{Category, Channel, Enclosure, Guid, Image, Item};

use super::archive::{self, Document};
use super::{description, page_url, rfc2822, FeedInfo, Format, GENERATOR};
use crate::post::{Attachment, Post, Site};

const CONTENT_NAMESPACE: &str = "http://purl.org/rss/1.0/modules/content/";

pub fn render(site: &Site, feed: &FeedInfo, posts: &[&Post], document: Document) -> String {
    // Declared even when no item uses them, so every feed of a site has the same root.
    let namespaces = BTreeMap::from([
        (
            "atom".to_string(),
            rss::extension::atom::NAMESPACE.to_string(),
        ),
        ("content".to_string(), CONTENT_NAMESPACE.to_string()),
        ("dc".to_string(), dublincore::NAMESPACE.to_string()),
    ]);
    let mut channel = Channel {
        title: feed.title.clone(),
        link: page_url(site, feed),
        description: description(site, feed),
        language: non_empty(&site.language),
        last_build_date: Some(rfc2822(feed.updated)),
        generator: Some(GENERATOR.to_string()),
        atom_ext: Some(AtomExtension {
            links: std::iter::once(Link {
                href: archive::url(site, feed, Format::Rss, document),
                rel: "self".to_string(),
                mime_type: Some("application/rss+xml".to_string()),
                ..Link::default()
            })
            // WebSub discovery (section 4): where a reader subscribes to be pushed.
            .chain(archive::hubs(site, document).iter().map(|hub| Link {
                href: hub.clone(),
                rel: "hub".to_string(),
                ..Link::default()
            }))
            .chain(history_links(site, feed, document))
            .collect(),
        }),
        image: site.channel.icon_url.as_ref().map(|url| Image {
            url: url.clone(),
            title: feed.title.clone(),
            link: page_url(site, feed),
            ..Image::default()
        }),
        itunes_ext: is_podcast(site, posts).then(|| podcast(site)),
        items: posts
            .iter()
            .map(|post| item(site, post, is_podcast(site, posts)))
            .collect(),
        namespaces,
        ..Channel::default()
    };
    if matches!(document, Document::Archive(_)) {
        mark_archive(&mut channel);
    }
    // Writing to a Vec cannot fail, and quick-xml writes only UTF-8.
    let bytes = channel
        .pretty_write_to(Vec::new(), b' ', 2)
        .expect("writing RSS to memory");
    String::from_utf8(bytes).expect("RSS is written as UTF-8")
}

/// The document's RFC 5005 links (`prev-archive`, `next-archive`, `current`), as
/// `atom:link`s beside `rel="self"`: RSS has none of its own.
fn history_links(site: &Site, feed: &FeedInfo, document: Document) -> Vec<Link> {
    archive::links(site, feed, Format::Rss, document)
        .into_iter()
        .map(|(rel, href)| Link {
            href,
            rel: rel.to_string(),
            mime_type: Some("application/rss+xml".to_string()),
            ..Link::default()
        })
        .collect()
}

/// `<fh:archive/>` in the channel: this document is an archive, whose items stay.
fn mark_archive(channel: &mut Channel) {
    channel
        .namespaces
        .insert("fh".to_string(), archive::NAMESPACE.to_string());
    let marker = rss::extension::Extension {
        name: "fh:archive".to_string(),
        ..Default::default()
    };
    channel.extensions.insert(
        "fh".to_string(),
        BTreeMap::from([("archive".to_string(), vec![marker])]),
    );
}

/// A feed whose posts carry audio or video, of a site set up as a podcast, is a
/// podcast: it gets the `itunes:` fields Apple Podcasts and Podcast Index read. A podcast
/// is opted into: without the keys of [`missing_podcast_keys`] the validator warns about
/// every such feed, so it stays plain RSS, its audio still in each item's `enclosure`.
/// A feed of text and pictures stays a plain feed.
fn is_podcast(site: &Site, posts: &[&Post]) -> bool {
    missing_podcast_keys(site).is_empty()
        && posts
            .iter()
            .any(|post| post.enclosure.as_ref().is_some_and(Attachment::is_episode))
}

/// The `[site]` keys a podcast needs that `site` leaves unset: without an
/// `itunes:category` and an `itunes:email` the W3C validator warns about the feed
/// ("Missing recommended iTunes channel element", "The recommended <itunes:email>
/// element is missing"), and Apple Podcasts refuses it. Artwork (the icon) it does not
/// ask for.
pub fn missing_podcast_keys(site: &Site) -> Vec<&'static str> {
    let channel = &site.channel;
    let mut missing = Vec::new();
    if channel.itunes_category.is_none() {
        missing.push("site.itunes_category");
    }
    if channel.itunes_email.is_none() {
        missing.push("site.itunes_email");
    }
    missing
}

/// The channel's `itunes:` fields, from `[site]`: the icon as the show's artwork.
fn podcast(site: &Site) -> ITunesChannelExtension {
    let channel = &site.channel;
    ITunesChannelExtension {
        author: Some(site.author.clone()),
        categories: channel
            .itunes_category
            .iter()
            .map(|(top, sub)| ITunesCategory {
                text: top.clone(),
                subcategory: sub.as_ref().map(|sub| {
                    Box::new(ITunesCategory {
                        text: sub.clone(),
                        subcategory: None,
                    })
                }),
            })
            .collect(),
        // Apple takes JPEG or PNG artwork only.
        image: channel
            .icon_url
            .clone()
            .filter(|_| matches!(channel.icon_type, Some("image/png" | "image/jpeg"))),
        explicit: Some(channel.itunes_explicit.to_string()),
        // Always there in a podcast (see `missing_podcast_keys`), but an owner without
        // an e-mail address would be invalid.
        owner: channel.itunes_email.as_ref().map(|email| ITunesOwner {
            name: Some(
                channel
                    .itunes_owner
                    .clone()
                    .unwrap_or_else(|| site.author.clone()),
            ),
            email: Some(email.clone()),
        }),
        ..ITunesChannelExtension::default()
    }
}

/// The item's `itunes:` fields, for an episode in a podcast feed: those its front
/// matter gives, and its picture as the episode's artwork.
fn episode(post: &Post) -> ITunesItemExtension {
    let episode = &post.episode;
    ITunesItemExtension {
        duration: episode.duration.clone(),
        explicit: episode.explicit.map(|e| e.to_string()),
        episode: episode.number.map(|n| n.to_string()),
        season: episode.season.map(|n| n.to_string()),
        image: post.image.as_ref().map(|image| image.url(&post.url)),
        ..ITunesItemExtension::default()
    }
}

/// RSS allows one enclosure an item: the audio or video (`enclosure`/`audio`) when
/// there is one, as podcast apps download it and a picture would make the item an
/// episode of a picture; else the picture (`image`).
fn enclosure(post: &Post) -> Option<Enclosure> {
    let attachment = post.enclosure.as_ref().or(post.image.as_ref())?;
    Some(Enclosure {
        url: attachment.url(&post.url),
        length: attachment.length.to_string(),
        mime_type: attachment.media_type.clone(),
    })
}

fn item(site: &Site, post: &Post, podcast: bool) -> Item {
    let mut summary = String::new();
    // `description` is HTML to every reader; the summary is plain text, so a literal
    // `<` or `&` in it must reach the reader escaped.
    super::escape_markup(&post.summary, &mut summary);
    Item {
        title: Some(post.title.clone()),
        link: Some(post.url.clone()),
        description: non_empty(&summary),
        categories: post
            .categories
            .iter()
            .map(|c| Category {
                name: c.name.clone(),
                domain: None,
            })
            // Tags after categories, told apart by their taxonomy: the folder of the
            // site's tag pages.
            .chain(post.tags.iter().map(|t| Category {
                name: t.name.clone(),
                domain: Some(super::tag_scheme(site)),
            }))
            .collect(),
        guid: Some(Guid {
            value: post.id.clone(),
            permalink: false,
        }),
        pub_date: Some(rfc2822(post.published)),
        enclosure: enclosure(post),
        itunes_ext: (podcast && post.enclosure.as_ref().is_some_and(Attachment::is_episode))
            .then(|| episode(post)),
        content: non_empty(&super::item_content(post)),
        dublin_core_ext: Some(DublinCoreExtension {
            creators: super::author_names(site, post)
                .into_iter()
                .map(str::to_string)
                .collect(),
            ..DublinCoreExtension::default()
        }),
        ..Item::default()
    }
}

/// RSS has no use for an empty element: it is left out.
fn non_empty(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use crate::feed::archive::Document;
    use crate::feed::fixtures::{named, post, site, site_feed, site_with_hubs};
    use crate::feed::FeedInfo;
    use crate::post::{Attachment, Location};
    use crate::routes::FeedKey;

    fn render(site: &crate::post::Site, feed: &FeedInfo, posts: &[&crate::post::Post]) -> String {
        super::render(site, feed, posts, Document::Subscription)
    }

    #[test]
    fn channel_names_each_websub_hub_beside_its_self_link() {
        let p = post("a", "A", "2020-01-02T03:04:00+00:00").build();
        let rss = render(&site_with_hubs(), &site_feed(&[&p]), &[&p]);
        assert!(
            rss.contains(concat!(
                r#"<atom:link href="https://news.example.com/rss.xml" rel="self" type="application/rss+xml"/>"#,
                "\n    ",
                r#"<atom:link href="https://hub.example.org/" rel="hub"/>"#,
                "\n    ",
                r#"<atom:link href="https://news.example.com/websub" rel="hub"/>"#
            )),
            "{rss}"
        );
        let without = render(&site(), &site_feed(&[&p]), &[&p]);
        assert!(!without.contains(r#"rel="hub""#), "{without}");
    }

    #[test]
    fn item_carries_guid_not_permalink_creator_content_and_categories() {
        let p = post("night-bus", "Night bus", "2019-03-03T00:00:00-08:00").build();
        let rss = render(&site(), &site_feed(&[&p]), &[&p]);
        for line in [
            r#"<guid isPermaLink="false">tag:news.example.com,2019-03-03:night-bus</guid>"#,
            "<dc:creator>Dana Whitfield</dc:creator>",
            "<content:encoded><![CDATA[<p>The council voted 7–2 to extend the <b>pilot</b>.</p>]]></content:encoded>",
            "<category>City Hall</category>",
            "<category>Transit</category>",
            "<pubDate>Sun, 3 Mar 2019 00:00:00 -0800</pubDate>",
            "<link>https://news.example.com/posts/night-bus/</link>",
            "<description><![CDATA[The council voted 7–2 to extend the pilot.]]></description>",
        ] {
            assert!(rss.contains(line), "missing {line} in\n{rss}");
        }
    }

    #[test]
    fn item_has_a_creator_for_each_author() {
        let mut p = post("a", "A", "2020-01-02T03:04:00+00:00").build();
        p.authors = vec![named("Zed"), named("Yan")];
        let rss = render(&site(), &site_feed(&[&p]), &[&p]);
        assert!(
            rss.contains("<dc:creator>Zed</dc:creator>\n      <dc:creator>Yan</dc:creator>"),
            "{rss}"
        );
    }

    #[test]
    fn channel_declares_namespaces_and_links_to_itself() {
        let p = post("a", "A", "2020-01-02T03:04:00+00:00").build();
        let rss = render(&site(), &site_feed(&[&p]), &[&p]);
        for line in [
            r#"<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">"#,
            r#"<atom:link href="https://news.example.com/rss.xml" rel="self" type="application/rss+xml"/>"#,
            "<link>https://news.example.com/</link>",
            "<description>Posts from the newsroom</description>",
            "<language>en</language>",
            "<lastBuildDate>Thu, 2 Jan 2020 03:04:00 +0000</lastBuildDate>",
            "<generator>dropfeed 0.1.0</generator>",
        ] {
            assert!(rss.contains(line), "missing {line} in\n{rss}");
        }
    }

    #[test]
    fn category_feed_says_what_it_holds() {
        let p = post("a", "A", "2020-01-02T03:04:00+00:00").build();
        let feed = FeedInfo {
            key: FeedKey::Category("city-hall".into()),
            title: "Example News — City Hall".into(),
            name: "City Hall".into(),
            updated: p.published,
            archives: Default::default(),
        };
        let rss = render(&site(), &feed, &[&p]);
        assert!(rss.contains("<title>Example News — City Hall</title>"));
        assert!(rss.contains("<description>Posts in City Hall from Example News</description>"));
        assert!(rss.contains(
            r#"<atom:link href="https://news.example.com/categories/city-hall/rss.xml" rel="self""#
        ));
    }

    #[test]
    fn markup_characters_in_titles_summaries_and_categories_are_escaped_once() {
        let mut p = post("tj", "Tom & Jerry <3 “best”", "2020-01-02T03:04:00+00:00").build();
        p.categories = vec![named("Tom & Jerry <3")];
        p.summary = "Tom & Jerry <3".into();
        let rss = render(&site(), &site_feed(&[&p]), &[&p]);
        assert!(
            rss.contains("<title>Tom &amp; Jerry &lt;3 “best”</title>"),
            "{rss}"
        );
        assert!(
            rss.contains("<category>Tom &amp; Jerry &lt;3</category>"),
            "{rss}"
        );
        // `description` is HTML: the plain-text summary is escaped for it, inside CDATA.
        assert!(
            rss.contains("<description><![CDATA[Tom &amp; Jerry &lt;3]]></description>"),
            "{rss}"
        );
    }

    #[test]
    fn empty_feed_is_dated_at_the_epoch_and_has_no_items() {
        let rss = render(&site(), &site_feed(&[]), &[]);
        assert!(rss.contains("<lastBuildDate>Thu, 1 Jan 1970 00:00:00 +0000</lastBuildDate>"));
        assert!(!rss.contains("<item>"));
        assert!(rss.contains(r#"xmlns:dc="http://purl.org/dc/elements/1.1/""#));
    }

    fn attachment(location: Location, length: u64, media_type: &str) -> Option<Attachment> {
        Some(Attachment {
            location,
            length,
            media_type: media_type.into(),
        })
    }

    /// A site set up as a podcast: Apple's category and the owner's e-mail.
    fn podcast_site() -> crate::post::Site {
        let mut s = site();
        s.channel.itunes_category = Some(("News".into(), None));
        s.channel.itunes_email = Some("podcast@example.org".into());
        s
    }

    fn episode() -> crate::post::Post {
        let mut p = post("ep1", "Episode 1", "2020-01-02T03:04:00+00:00").build();
        p.image = attachment(Location::Beside("cover.png".into()), 2048, "image/png");
        p.enclosure = attachment(Location::Beside("ep1.mp3".into()), 48213, "audio/mpeg");
        p.episode.duration = Some("12:34".into());
        p
    }

    #[test]
    fn the_audio_wins_the_one_enclosure_and_makes_a_podcast_sites_feed_a_podcast() {
        let p = episode();
        let rss = render(&podcast_site(), &site_feed(&[&p]), &[&p]);
        assert_eq!(rss.matches("<enclosure ").count(), 1, "{rss}");
        for line in [
            r#"<enclosure url="https://news.example.com/posts/ep1/ep1.mp3" length="48213" type="audio/mpeg"/>"#,
            r#"xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd""#,
            "<itunes:category text=\"News\">\n    </itunes:category>",
            "<itunes:explicit>false</itunes:explicit>",
            "<itunes:email>podcast@example.org</itunes:email>",
            "<itunes:duration>12:34</itunes:duration>",
            r#"<itunes:image href="https://news.example.com/posts/ep1/cover.png">"#,
        ] {
            assert!(rss.contains(line), "missing {line} in\n{rss}");
        }
    }

    /// Regression (review of the media work): one audio post made every feed of a site
    /// not set up as a podcast carry `itunes:` fields the validator warned about.
    #[test]
    fn audio_on_a_site_without_the_podcast_keys_is_a_plain_enclosure() {
        let p = episode();
        for (category, email, missing) in [
            (
                None,
                None,
                &["site.itunes_category", "site.itunes_email"][..],
            ),
            (
                Some(("News".to_string(), None)),
                None,
                &["site.itunes_email"][..],
            ),
            (
                None,
                Some("podcast@example.org".to_string()),
                &["site.itunes_category"][..],
            ),
        ] {
            let mut s = site();
            s.channel.itunes_category = category;
            s.channel.itunes_email = email;
            assert_eq!(super::missing_podcast_keys(&s), missing);
            let rss = render(&s, &site_feed(&[&p]), &[&p]);
            assert!(
                rss.contains(r#"<enclosure url="https://news.example.com/posts/ep1/ep1.mp3" length="48213" type="audio/mpeg"/>"#),
                "{rss}"
            );
            assert!(!rss.contains("itunes"), "{missing:?}: {rss}");
        }
        assert_eq!(
            super::missing_podcast_keys(&podcast_site()),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn a_picture_alone_is_the_enclosure_of_a_feed_that_is_no_podcast() {
        let mut p = post("dawn", "Dawn", "2020-01-02T03:04:00+00:00").build();
        p.image = attachment(
            Location::Url("https://cdn.example.org/dawn.jpg".into()),
            0,
            "image/jpeg",
        );
        let mut s = site();
        s.channel.icon_url = Some("https://news.example.com/icon.png".into());
        let rss = render(&s, &site_feed(&[&p]), &[&p]);
        for line in [
            r#"<enclosure url="https://cdn.example.org/dawn.jpg" length="0" type="image/jpeg"/>"#,
            "<image>\n      <url>https://news.example.com/icon.png</url>\n      <title>Example News</title>\n      <link>https://news.example.com/</link>\n    </image>",
        ] {
            assert!(rss.contains(line), "missing {line} in\n{rss}");
        }
        assert!(!rss.contains("itunes"), "{rss}");
    }

    /// Nothing but the input decides the bytes: no clock, no map order.
    #[test]
    fn two_posts_in_two_offsets_render_exactly_these_bytes() {
        let a = post("a", "A", "2021-06-07T08:09:00+05:00").build();
        let b = post("b", "B", "2021-06-06T08:09:00-03:00").build();
        let feed = site_feed(&[&a, &b]);
        insta::assert_snapshot!("rss_two_posts", render(&site(), &feed, &[&a, &b]));
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
            "rss_archive",
            super::render(&site(), &feed, &[&b, &a], Document::Archive(2))
        );
    }
}
