//! RFC 5005 section 4, archived feeds: where a feed's older posts go once they leave
//! its newest page, and the links that chain the documents together.
//!
//! A feed of `count` posts shows its newest `items` (the subscription document); the
//! others are split into archive documents of `items` posts each, counted from the
//! oldest: archive 1 holds the oldest `items` posts, archive 2 the next, and the newest
//! archive what is left between them and the newest page. The numbers depend on the
//! posts alone (any replica gives the same ones), and a new post, which joins at the
//! newest end, never changes which posts an archive holds: only the newest archive
//! takes the post that leaves the newest page.
//!
//! An archive is *closed* once a newer one exists. A closed archive is full, and a new
//! post never changes it; the newest archive may be full too, but it still gains its
//! `next-archive` link when the next one opens.

use super::{FeedInfo, Format};
use crate::post::Site;
use crate::routes;

/// The namespace of `fh:archive` (RFC 5005 section 6).
pub const NAMESPACE: &str = "http://purl.org/syndication/history/1.0";

/// Which document of a feed's history is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// The feed as readers subscribe to it: its newest posts.
    Subscription,
    /// Archive `n`, from 1 (the oldest posts).
    Archive(usize),
}

/// The WebSub hubs a document names: the subscription document's only. An archive never
/// changes for a new post, so it is no topic to subscribe to (the built-in hub refuses it).
pub fn hubs(site: &Site, document: Document) -> &[String] {
    match document {
        Document::Subscription => &site.channel.hubs,
        Document::Archive(_) => &[],
    }
}

/// How many archive documents a feed of `count` posts has, with `items` on its newest
/// page and in each archive.
pub fn archive_count(count: usize, items: usize) -> usize {
    count.saturating_sub(items).div_ceil(items.max(1))
}

/// Which posts archive `n` holds, counted from the oldest (0): `items` of them, or
/// fewer in the newest archive. Empty for a number past the newest.
pub fn archive_span(n: usize, count: usize, items: usize) -> std::ops::Range<usize> {
    let archived = count.saturating_sub(items);
    let start = n.saturating_sub(1).saturating_mul(items).min(archived);
    let end = n.saturating_mul(items).min(archived);
    start..end
}

/// The URL of a document: the feed's own route, or the archive's.
pub fn url(site: &Site, feed: &FeedInfo, format: Format, document: Document) -> String {
    let route = match document {
        Document::Subscription => feed.key.route(format),
        Document::Archive(n) => feed.key.archive(n, format),
    };
    routes::absolute(&site.base_url, &route)
}

/// The RFC 5005 links of a document, as (relation, URL): the subscription document's
/// `prev-archive` to the newest archive; an archive's `current` to the subscription
/// document, `prev-archive` to the one before and `next-archive` to the one after, when
/// there is one.
pub fn links(
    site: &Site,
    feed: &FeedInfo,
    format: Format,
    document: Document,
) -> Vec<(&'static str, String)> {
    let archive = |n| url(site, feed, format, Document::Archive(n));
    match document {
        Document::Subscription if feed.archives > 0 => {
            vec![("prev-archive", archive(feed.archives))]
        }
        Document::Subscription => Vec::new(),
        Document::Archive(n) => {
            let mut links = vec![("current", url(site, feed, format, Document::Subscription))];
            if n > 1 {
                links.push(("prev-archive", archive(n - 1)));
            }
            if n < feed.archives {
                links.push(("next-archive", archive(n + 1)));
            }
            links
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::fixtures::{post, site, site_feed};
    use crate::feed::{render_archive, render_feed};

    #[test]
    fn the_newest_page_links_the_newest_archive_and_names_the_hubs_archives_do_not() {
        let a = post("a", "A", "2021-06-06T08:09:00+00:00").build();
        let feed = FeedInfo {
            archives: 3,
            ..site_feed(&[&a])
        };
        let mut site = site();
        site.channel.hubs = vec!["https://news.example.com/websub".into()];
        for format in [Format::Rss, Format::Atom, Format::Json] {
            let current = render_feed(format, &site, &feed, &[&a]);
            let newest = render_archive(format, &site, &feed, &[&a], 3);
            let first = render_archive(format, &site, &feed, &[&a], 1);
            let ext = format.archive_extension();
            let url = |n: usize| format!("https://news.example.com/archive/{n}.{ext}");
            assert!(current.contains(&url(3)), "{current}");
            assert!(!current.contains("fh:archive"), "{current}");
            assert!(!current.contains("\"archive\": true"), "{current}");
            assert!(
                current.contains("https://news.example.com/websub"),
                "{current}"
            );
            assert!(!newest.contains(&url(4)), "{newest}");
            assert!(newest.contains(&url(2)), "{newest}");
            assert!(
                !newest.contains("websub"),
                "an archive is no topic: {newest}"
            );
            assert!(!first.contains(&url(0)), "{first}");
            assert!(first.contains(&url(2)), "{first}");
        }
    }

    #[test]
    fn archives_count_from_the_oldest_post_and_leave_the_newest_page_out() {
        // 10 posts, 3 a page: the newest page holds posts 7..10; archives 1 and 2 are
        // full, 3 holds the one left.
        assert_eq!(archive_count(10, 3), 3);
        assert_eq!(archive_span(1, 10, 3), 0..3);
        assert_eq!(archive_span(2, 10, 3), 3..6);
        assert_eq!(archive_span(3, 10, 3), 6..7);
        assert_eq!(archive_span(4, 10, 3), 7..7);
        // A new post: archives 1 and 2 hold the same posts; 3 takes the one that left
        // the newest page.
        assert_eq!(archive_count(11, 3), 3);
        assert_eq!(archive_span(2, 11, 3), 3..6);
        assert_eq!(archive_span(3, 11, 3), 6..8);
        assert_eq!(archive_count(12, 3), 3);
        assert_eq!(archive_count(13, 3), 4);
        assert_eq!(archive_count(3, 3), 0);
        assert_eq!(archive_count(0, 3), 0);
        assert_eq!(archive_count(4, 3), 1);
    }
}
