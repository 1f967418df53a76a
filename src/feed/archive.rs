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
//! An archive is served at a URL that names what it holds (`archive/{n}-{name}.atom`,
//! see [`names`]): RFC 5005 section 4.2 readers follow `prev-archive` until they meet
//! an archive URL they have read before, and a deletion or a backdated post moves
//! posts between archives that readers have read. A new name sends them on to it.
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

/// The name of each archive of a feed whose posts have the ids `ids`, oldest first,
/// with `items` on its newest page and in each archive: for archive `n` (at `n - 1`),
/// the first 8 hex digits of SHA-256 over the name of archive `n - 1` and the ids of
/// its own posts in order. A pure function of the ids (replicas agree; an edit changes
/// no name), and chained, so any post added, deleted or moved in an archive renames it
/// and every archive after it: a reader walking back from the newest stops only at an
/// archive that holds what it held before, and everything older is unchanged too.
pub fn names<'a>(ids: impl IntoIterator<Item = &'a str>, items: usize) -> Vec<u32> {
    names_after(0, ids, items)
}

/// [`names`] of the archives after one named `previous` (0 before the first): what a
/// publish that only moved posts at the newest end recomputes, the names before kept.
pub fn names_after<'a>(
    previous: u32,
    ids: impl IntoIterator<Item = &'a str>,
    items: usize,
) -> Vec<u32> {
    use sha2::{Digest, Sha256};
    let mut ids = ids.into_iter();
    let mut names = Vec::new();
    let mut previous = previous;
    loop {
        let mut hasher = Sha256::new();
        hasher.update(previous.to_be_bytes());
        let mut held = 0;
        for id in ids.by_ref().take(items.max(1)) {
            // Each id with its length, so no two lists of ids hash alike by their joins.
            hasher.update((id.len() as u64).to_be_bytes());
            hasher.update(id.as_bytes());
            held += 1;
        }
        if held == 0 {
            return names;
        }
        let digest = hasher.finalize();
        previous = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        names.push(previous);
    }
}

/// The URL of a document: the feed's own route, or the archive's named route.
pub fn url(site: &Site, feed: &FeedInfo, format: Format, document: Document) -> String {
    let route = match document {
        Document::Subscription => feed.key.route(format),
        Document::Archive(n) => match n.checked_sub(1).and_then(|i| feed.archives.get(i)) {
            Some(&name) => feed.key.archive_named(n, name, format),
            None => feed.key.archive(n, format),
        },
    };
    routes::absolute(&site.base_url, &route)
}

/// The RFC 5005 links of a document, as (relation, URL): the subscription document's
/// `prev-archive` to the newest archive; an archive's `current` to the subscription
/// document, `prev-archive` to the one before and `next-archive` to the one after, when
/// there is one. `next-archive` is the plain route, which answers `301` to the named
/// one: the next archive's name changes with every post it takes while it is the
/// newest, and a closed archive's bytes must not (caches keep it for
/// `feeds.archive_max_age`); readers walk `prev-archive`, which is named.
pub fn links(
    site: &Site,
    feed: &FeedInfo,
    format: Format,
    document: Document,
) -> Vec<(&'static str, String)> {
    let archive = |n| url(site, feed, format, Document::Archive(n));
    let count = feed.archives.len();
    match document {
        Document::Subscription if count > 0 => {
            vec![("prev-archive", archive(count))]
        }
        Document::Subscription => Vec::new(),
        Document::Archive(n) => {
            let mut links = vec![("current", url(site, feed, format, Document::Subscription))];
            if n > 1 {
                links.push(("prev-archive", archive(n - 1)));
            }
            if n < count {
                let next = feed.key.archive(n + 1, format);
                links.push(("next-archive", routes::absolute(&site.base_url, &next)));
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
            archives: vec![0x0a1b2c3d, 0x1e2f3a4b, 0x5c6d7e8f].into(),
            ..site_feed(&[&a])
        };
        let mut site = site();
        site.channel.hubs = vec!["https://news.example.com/websub".into()];
        for format in [Format::Rss, Format::Atom, Format::Json] {
            let current = render_feed(format, &site, &feed, &[&a]);
            let newest = render_archive(format, &site, &feed, &[&a], 3);
            let first = render_archive(format, &site, &feed, &[&a], 1);
            let ext = format.archive_extension();
            let url = |n: &str| format!("https://news.example.com/archive/{n}.{ext}");
            assert!(current.contains(&url("3-5c6d7e8f")), "{current}");
            assert!(!current.contains(&url("3")), "{current}");
            assert!(!current.contains("fh:archive"), "{current}");
            assert!(!current.contains("\"archive\": true"), "{current}");
            assert!(
                current.contains("https://news.example.com/websub"),
                "{current}"
            );
            assert!(newest.contains(&url("3-5c6d7e8f")), "self: {newest}");
            assert!(!newest.contains("/archive/4"), "{newest}");
            assert!(newest.contains(&url("2-1e2f3a4b")), "{newest}");
            assert!(
                !newest.contains("websub"),
                "an archive is no topic: {newest}"
            );
            assert!(!first.contains("/archive/0"), "{first}");
            // The next archive by its plain route, which redirects: its name changes
            // while it fills, and archive 1's bytes must not.
            assert!(first.contains(&url("2")), "{first}");
            assert!(!first.contains(&url("2-1e2f3a4b")), "{first}");
        }
    }

    #[test]
    fn an_archive_is_renamed_when_it_or_an_older_one_changes_what_it_holds_only() {
        let ids = |range: std::ops::RangeInclusive<u32>| -> Vec<String> {
            range.map(|i| format!("p{i:03}")).collect()
        };
        let names_of = |ids: &[String]| names(ids.iter().map(String::as_str), 3);
        // 19 archived posts, 3 an archive: 7 archives, the newest holding p019 alone.
        let before = names_of(&ids(1..=19));
        assert_eq!(before.len(), 7);
        assert_eq!(
            before,
            names_of(&ids(1..=19)),
            "the same ids, the same names"
        );
        // New posts fill the newest archive and open another: the closed ones keep
        // their names; the newest, which took a post, is renamed.
        let grown = names_of(&ids(1..=23));
        assert_eq!(grown.len(), 8);
        assert_eq!(grown[..6], before[..6]);
        assert_ne!(grown[6], before[6]);
        // p010 deleted: archives 1–3 keep their names, every later one is renamed.
        let mut deleted = ids(1..=19);
        deleted.retain(|id| id != "p010");
        let after = names_of(&deleted);
        assert_eq!(after[..3], before[..3]);
        for n in 3..after.len() {
            assert_ne!(after[n], before[n], "archive {}", n + 1);
        }
        // A deletion and a backdated post in archive 2 leave archive 3 holding what it
        // held: it is renamed anyway, as a reader must walk back to archive 2.
        let mut swapped = ids(1..=19);
        swapped[4] = "p100".into();
        let after = names_of(&swapped);
        assert_eq!(after[0], before[0]);
        for n in 1..7 {
            assert_ne!(after[n], before[n], "archive {}", n + 1);
        }
        assert_eq!(names_of(&[]), Vec::<u32>::new());
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
