//! The site feed of three hand-built posts, in every format, byte for byte against the
//! insta snapshots in `tests/snapshots/`. After an intended change, run with
//! `INSTA_UPDATE=always` (or `cargo insta review`) and read the diff before committing.

mod common;

use dropfeed::feed::render_feed;
use dropfeed::routes::Format;
use dropfeed::testing::site;

fn rendered(format: Format) -> String {
    let posts = common::posts();
    let refs: Vec<_> = posts.iter().collect();
    render_feed(format, &site(), &common::site_feed(&refs), &refs)
}

#[test]
fn site_rss_matches_golden() {
    insta::assert_snapshot!("site.rss.xml", rendered(Format::Rss));
}

#[test]
fn site_atom_matches_golden() {
    insta::assert_snapshot!("site.atom.xml", rendered(Format::Atom));
}

#[test]
fn site_json_feed_matches_golden() {
    insta::assert_snapshot!("site.feed.json", rendered(Format::Json));
}
