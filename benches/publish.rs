//! One post added to a catalog of 10,000 and of 100,000 posts, published through
//! `Publisher` as `serve` does for a change set: the figure behind "a new post is in its
//! feeds within N ms" at scale.
//!
//! Each size's posts (article text, ~4 KB each, 20 categories, 5 authors) are generated
//! once under `target/bench-posts/{N}/posts` and reused by later runs; the state database
//! is made anew each run, so every run starts from the same first scan. Each iteration
//! writes a new post file, times its publish, then removes it and publishes the removal
//! (not timed), so the catalog stays at N posts.
//!
//! `DROPFEED_BENCH_SIZES=10000` (comma-separated) restricts the sizes, e.g. for a quick run.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use dropfeed::config::Config;
use dropfeed::publish::{Clock, Publisher};
use dropfeed::watch::ChangeSet;

use common::{Words, AUTHORS, CATEGORIES};

const SIZES: [usize; 2] = [10_000, 100_000];
const BODY_BYTES: usize = 4096;
/// Bump when the generated posts change, so cached folders are made again.
const GENERATION: &str = "article-text v1";
/// Added posts go here, apart from the generated ones, so a run cut short leaves nothing
/// that the next run would count.
const PROBES: &str = "probes";

const CONFIG: &str = r#"# Written by benches/publish.rs.
[site]
title = "Bench News"
base_url = "https://news.example.com"
author = "Newsroom"
timezone = "America/Los_Angeles"

[posts]
dir = "posts"
rescan_secs = 0

[state]
db = "state/dropfeed.db"
"#;

/// The only calls into `dropfeed::publish` (kept together, so an API change is adapted
/// here): reads every post and builds the first snapshot.
fn start(config: Config) -> Publisher {
    let (publisher, _first) = Publisher::new(Arc::new(config), Clock::system());
    publisher
}

/// Publishes what changed at one path under the posts folder, as a change set from the
/// watcher would; how many posts that added, changed or removed.
fn publish_path(publisher: &mut Publisher, rel: &str) -> usize {
    let changes = ChangeSet {
        paths: [rel.to_string()].into(),
        ..ChangeSet::default()
    };
    let published = publisher
        .publish(&changes, false)
        .unwrap_or_else(|| panic!("publishing {rel} changed nothing"));
    let counts = published.counts;
    assert_eq!(counts.errors, 0, "{rel} failed to publish");
    counts.added + counts.modified + counts.removed
}

/// `target/bench-posts/{n}`, with `n` generated posts under `posts/`.
fn prepare(n: usize) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-posts")
        .join(n.to_string());
    let marker = root.join("generated");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(GENERATION) {
        let start = Instant::now();
        if root.exists() {
            std::fs::remove_dir_all(&root).expect("remove a stale bench folder");
        }
        generate(&root.join("posts"), n);
        std::fs::write(&marker, GENERATION).expect("write the bench folder's marker");
        eprintln!(
            "generated {n} posts in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    let probes = root.join("posts").join(PROBES);
    let state = root.join("state");
    for dir in [&probes, &state] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).expect("clear a bench folder");
        }
        std::fs::create_dir_all(dir).expect("create a bench folder");
    }
    std::fs::write(root.join("config.toml"), CONFIG).expect("write the bench config");
    root
}

/// `n` article-text posts, a thousand to a folder, dated an hour apart from 2010 on.
fn generate(posts: &Path, n: usize) {
    let first = NaiveDate::from_ymd_opt(2010, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a literal date");
    for i in 0..n {
        let folder = posts.join(format!("{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&folder).expect("create a posts folder");
        }
        let mut words = Words::new(i as u64);
        let date = (first + Days::hours(i as i64))
            .format("%Y-%m-%d %H:%M")
            .to_string();
        let categories = [
            CATEGORIES[i % CATEGORIES.len()],
            CATEGORIES[(i / CATEGORIES.len() + 3) % CATEGORIES.len()],
        ];
        let text = common::article(
            &mut words,
            AUTHORS[i % AUTHORS.len()],
            &date,
            &categories,
            BODY_BYTES,
        );
        std::fs::write(folder.join(format!("post-{i:06}.txt")), text).expect("write a post");
    }
}

/// The post added in iteration `k`: newer than every generated post (so it leads the
/// site feed and its category's) yet in the past, and with its own text, so the ledger
/// never takes it for an earlier probe moved.
fn probe(k: usize) -> String {
    let mut words = Words::new(1_000_000_000 + k as u64);
    let date = format!("2025-06-01 {:02}:{:02}", (k / 60) % 24, k % 60);
    let categories = [CATEGORIES[k % CATEGORIES.len()]];
    common::article(
        &mut words,
        AUTHORS[k % AUTHORS.len()],
        &date,
        &categories,
        BODY_BYTES,
    )
}

fn sizes() -> Vec<usize> {
    match std::env::var("DROPFEED_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("DROPFEED_BENCH_SIZES: `{n}` is not a number"))
            })
            .collect(),
        Err(_) => SIZES.to_vec(),
    }
}

fn publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_one_added");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(2));
    for n in sizes() {
        let root = prepare(n);
        let config = Config::load(&root.join("config.toml"))
            .unwrap_or_else(|err| panic!("the bench config: {err}"));
        let posts_dir = config.posts_dir.clone();
        let start_time = Instant::now();
        let mut publisher = start(config);
        eprintln!(
            "first scan and build of {n} posts: {:.1} s",
            start_time.elapsed().as_secs_f64()
        );
        // Each iteration publishes twice (the add, timed, and the removal), so the wall
        // time is about twice this.
        group.measurement_time(Duration::from_secs(if n >= 100_000 { 60 } else { 15 }));
        let mut k = 0;
        group.bench_function(n.to_string(), |b| {
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    let rel = format!("{PROBES}/probe-{k:06}.txt");
                    let path = posts_dir.join(&rel);
                    std::fs::write(&path, probe(k)).expect("write a probe post");
                    k += 1;
                    let start = Instant::now();
                    let changed = publish_path(&mut publisher, &rel);
                    took += start.elapsed();
                    assert_eq!(changed, 1, "adding {rel}");
                    std::fs::remove_file(&path).expect("remove a probe post");
                    assert_eq!(publish_path(&mut publisher, &rel), 1, "removing {rel}");
                }
                took
            })
        });
    }
    group.finish();
}

criterion_group!(benches, publish);
criterion_main!(benches);
