//! The site feed of three hand-built posts, in every format, byte for byte against the
//! files in `tests/golden/`. Run with `UPDATE_GOLDEN=1` to rewrite them after an
//! intended change, then read the diff before committing it.

mod common;

use std::path::PathBuf;

use dropfeed::feed::render_feed;
use dropfeed::routes::Format;

fn check(format: Format, file: &str) {
    let posts = common::posts();
    let refs: Vec<_> = posts.iter().collect();
    let rendered = render_feed(format, &common::site(), &common::site_feed(&refs), &refs);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, &rendered).expect("write golden file");
        return;
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("{}: {err}; run with UPDATE_GOLDEN=1", path.display()));
    if rendered != golden {
        let first = rendered
            .lines()
            .zip(golden.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| rendered.lines().count().min(golden.lines().count()));
        panic!(
            "{file} differs from {} at line {}:\n  golden:   {:?}\n  rendered: {:?}\n\
             --- rendered ---\n{rendered}\n--- end ---\n\
             If the change is intended, run with UPDATE_GOLDEN=1 and review the diff.",
            path.display(),
            first + 1,
            golden.lines().nth(first).unwrap_or("<end of file>"),
            rendered.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn site_rss_matches_golden() {
    check(Format::Rss, "site.rss.xml");
}

#[test]
fn site_atom_matches_golden() {
    check(Format::Atom, "site.atom.xml");
}

#[test]
fn site_json_feed_matches_golden() {
    check(Format::Json, "site.feed.json");
}
