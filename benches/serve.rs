//! What counting a request costs: [`server::answer`] against
//! [`server::answer_measured`] (the route kind, status and bytes counted, the
//! User-Agent looked at for a subscriber count) for `/rss.xml` of a 200-post site, in
//! the cases a feed server mostly answers: identity, gzip, a 304, and a reader stating
//! its subscribers. Both run in one process, so a busy machine slows them alike.

mod common;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use dropfeed::config::Config;
use dropfeed::metrics::Metrics;
use dropfeed::publish::{Clock, Publisher};
use dropfeed::server;
use hyper::Request;

use common::{Words, CATEGORIES};

const POSTS: usize = 200;

fn serve(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temp folder");
    let posts = dir.path().join("posts");
    std::fs::create_dir(&posts).expect("the posts folder");
    let mut words = Words::new(7);
    for i in 0..POSTS {
        let text = format!(
            "Posted by Ann on March {}, 2019\nCategories: {}\n\n{}\n",
            i % 28 + 1,
            CATEGORIES[i % CATEGORIES.len()],
            common::html(&mut words, 2048),
        );
        std::fs::write(posts.join(format!("p{i}.txt")), text).expect("a post file");
    }
    let config = Config::parse(
        "[site]\nbase_url = \"https://news.example.com\"\n",
        &dir.path().join("config.toml"),
    )
    .expect("the config");
    let (publisher, _) = Publisher::new(Arc::new(config), Clock::system());
    let snapshots = publisher.snapshots();
    let snapshot = snapshots.load_full();
    let etag = snapshot
        .get("/rss.xml")
        .expect("the site feed")
        .etag
        .clone();
    let metrics = Metrics::new();
    let feedly = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123 subscribers; like FeedFetcher-Google)";
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        ("identity", vec![]),
        ("gzip", vec![("accept-encoding", "gzip")]),
        ("304", vec![("if-none-match", etag.as_str())]),
        (
            "feedly_304",
            vec![("if-none-match", etag.as_str()), ("user-agent", feedly)],
        ),
    ];
    let mut group = c.benchmark_group("answer");
    for (name, headers) in &cases {
        let mut builder = Request::builder().uri("/rss.xml");
        for (key, value) in headers {
            builder = builder.header(*key, *value);
        }
        let request = builder.body(()).expect("a request");
        group.bench_function(format!("{name}/plain"), |b| {
            b.iter(|| server::answer(black_box(&snapshot), black_box(&request)))
        });
        group.bench_function(format!("{name}/measured"), |b| {
            b.iter(|| {
                server::answer_measured(black_box(&snapshot), black_box(&request), &metrics, None)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, serve);
criterion_main!(benches);
