//! One post file → a normalized `Post`, for each post format (README, "Post formats"):
//! article text, Markdown under YAML and under TOML front matter, and plain text, each
//! about 4 KB; and the hostile title of issue 9.

mod common;

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dropfeed::post::{self, Source};

use common::Words;

const BODY_BYTES: usize = 4096;

/// Each fixture with its name and the categories its header gives, which tell that the
/// parser read it as the format it stands for.
fn sources() -> Vec<(&'static str, Source, &'static [&'static str])> {
    let modified = DateTime::<Utc>::from_timestamp(1_600_000_000, 0).unwrap_or_default();
    let source = |path: &str, text: String| Source {
        path: path.into(),
        bytes: text.into_bytes(),
        modified,
    };
    let mut words = Words::new(1);
    let article = common::article(
        &mut words,
        "Dana Whitfield",
        "March 3, 2019",
        &["City Hall", "Transit"],
        BODY_BYTES,
    );
    let yaml = format!(
        "---\ntitle: Fare caps arrive on every bus line\ndate: 2020-01-06 07:15\nauthor: Dana Whitfield\ncategories: [Transit, City Hall]\ntags: [fares, buses]\nsummary: Riders who pay by card stop paying once they reach the daily cap.\n---\n\n{}",
        common::markdown(&mut words, BODY_BYTES)
    );
    let toml = format!(
        "+++\ntitle = \"New lunch menu at district schools\"\ndate = 2020-02-14T11:00:00-08:00\nauthors = [\"Priya Natarajan\", \"Tom Becker\"]\n\n[taxonomies]\ncategories = [\"Schools\", \"Health\"]\ntags = [\"lunch\"]\n+++\n\n{}",
        common::markdown(&mut words, BODY_BYTES)
    );
    let plain = format!(
        "Ferry schedule changes\n\n{}",
        common::prose(&mut words, BODY_BYTES)
    );
    vec![
        (
            "article_text",
            source("transit/night-bus-pilot.txt", article),
            &["City Hall", "Transit"],
        ),
        (
            "markdown_yaml",
            source("transit/2020-01-06-fare-caps.md", yaml),
            &["Transit", "City Hall"],
        ),
        (
            "markdown_toml",
            source("schools/lunch-menu.md", toml),
            &["Schools", "Health"],
        ),
        (
            "plain_text",
            source("ferry-schedule-changes.txt", plain),
            &[],
        ),
    ]
}

fn parse(c: &mut Criterion) {
    let site = dropfeed::testing::site();
    let mut group = c.benchmark_group("parse");
    for (name, source, categories) in sources() {
        // A fixture read as another format, or not at all, would measure the wrong path.
        let parsed = post::parse(&source, &site)
            .unwrap_or_else(|problem| panic!("the {name} fixture does not parse: {problem}"));
        let names: Vec<&str> = parsed.categories.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, categories, "the categories of the {name} fixture");
        group.throughput(Throughput::Bytes(source.bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| post::parse(black_box(&source), black_box(&site)))
        });
    }
    group.finish();
}

/// The worst file: a title nested 60,000 `<div>` deep (300 KB), which took 18 s
/// when plain-text fields went through the HTML tree builder. `bench/hostile` has the
/// others, at 4 MiB, end to end.
fn hostile(c: &mut Criterion) {
    let site = dropfeed::testing::site();
    let modified = DateTime::<Utc>::from_timestamp(1_600_000_000, 0).unwrap_or_default();
    let text = format!(
        "---\ntitle: \"{}x\"\ndate: 2020-01-01\n---\n\nbody\n",
        "<div>".repeat(60_000)
    );
    let source = Source {
        path: "stall.md".into(),
        bytes: text.into_bytes(),
        modified,
    };
    let parsed = post::parse(&source, &site)
        .unwrap_or_else(|problem| panic!("the nested title does not parse: {problem}"));
    assert_eq!(parsed.title, "x");
    let mut group = c.benchmark_group("parse_hostile");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(source.bytes.len() as u64));
    group.bench_function("title_nested_60000", |b| {
        b.iter(|| post::parse(black_box(&source), black_box(&site)))
    });
    group.finish();
}

criterion_group!(benches, parse, hostile);
criterion_main!(benches);
