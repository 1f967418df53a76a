//! A 50-item feed rendered in each format, and one post's HTML page: what a publish
//! re-renders for each feed and page a change touched.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use dropfeed::feed::{self, FeedInfo};
use dropfeed::post::Post;
use dropfeed::routes::Format;
use dropfeed::testing::PostBuilder;

use common::{Words, AUTHORS, CATEGORIES};

/// `feeds.items` by default.
const ITEMS: usize = 50;
const CONTENT_BYTES: usize = 4096;

/// `ITEMS` posts, newest first, as a feed is handed them.
fn posts() -> Vec<Post> {
    let mut words = Words::new(2);
    (0..ITEMS)
        .map(|i| {
            let day = 28 - (i % 28);
            let hour = 23 - (i / 28);
            let title = words.title();
            PostBuilder::new(&format!("post-{i:02}"))
                .title(&title)
                .published(&format!("2019-02-{day:02}T{hour:02}:00:00-08:00"))
                .author(AUTHORS[i % AUTHORS.len()])
                .category(CATEGORIES[i % CATEGORIES.len()])
                .category(CATEGORIES[(i + 7) % CATEGORIES.len()])
                .tag(words.word())
                .summary(&words.sentence())
                .content_html(&common::html(&mut words, CONTENT_BYTES))
                .build()
        })
        .collect()
}

fn render(c: &mut Criterion) {
    let site = dropfeed::testing::site();
    let posts = posts();
    let posts: Vec<&Post> = posts.iter().collect();
    let info = FeedInfo::site(&site, &posts);
    let mut group = c.benchmark_group("render");
    for (name, format) in [
        ("rss_50", Format::Rss),
        ("atom_50", Format::Atom),
        ("json_50", Format::Json),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                feed::render_feed(
                    format,
                    black_box(&site),
                    black_box(&info),
                    black_box(&posts),
                )
            })
        });
    }
    let formats = [Format::Rss, Format::Atom, Format::Json];
    group.bench_function("post_page", |b| {
        b.iter(|| feed::render_post_page(black_box(&site), black_box(posts[0]), &formats))
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
