//! What the integration tests share: hand-built posts for the renderer tests (the site is
//! `dropfeed::testing::site`), with fixed dates in three offsets, two categories, an
//! accented author, and content with `&`, `<b>` and a link, so every escaping path is
//! exercised; a strict XML check; and [`wait_until`], the one way a test waits.

#![allow(dead_code)]

use dropfeed::feed::FeedInfo;
use dropfeed::post::Post;
use dropfeed::testing::{self, PostBuilder};

/// Three posts, newest first, as the catalog hands them to a feed.
pub fn posts() -> Vec<Post> {
    vec![
        PostBuilder::new("fare-caps")
            .title("Fare caps & transfers <explained>")
            .author("Zoë Álvarez")
            .category("Transit")
            .tag("local")
            .published("2020-01-06T09:15:00+09:00")
            .updated("2020-01-07T10:00:00+09:00")
            .summary("Riders will pay at most $5 a day & $20 a week.")
            .content_html(
                "<p>Riders will pay at most $5 a day &amp; $20 a week, <b>starting Monday</b>. \
                 See <a href=\"https://news.example.com/posts/night-bus-pilot/\">the night bus pilot</a>.</p>",
            )
            .build(),
        PostBuilder::new("night-bus-pilot")
            .title("Council extends the “night bus” pilot")
            .author("Dana Whitfield")
            .category("City Hall")
            .category("Transit")
            .tag("local")
            .published("2019-03-03T00:00:00-08:00")
            .summary("The council voted 7–2 on Tuesday to extend the night bus pilot.")
            .content_html(
                "<p>The council voted 7–2 on Tuesday to extend the night bus pilot, a “stopgap” \
                 that riders have asked to make permanent.</p>",
            )
            .build(),
        PostBuilder::new("budget-hearing")
            .title("Budget hearing moved")
            .author("Newsroom")
            .category("City Hall")
            .tag("local")
            .published("2019-02-14T18:30:00+00:00")
            .summary("The hearing moves to March 1.")
            .content_html("<p>The hearing moves to March 1.</p>")
            .build(),
    ]
}

/// The site feed of `posts`, dated by its newest change.
pub fn site_feed(posts: &[&Post]) -> FeedInfo {
    FeedInfo::site(&testing::site(), posts)
}

/// Reads every event of `text` with quick-xml in strict mode; panics at the first
/// error, naming the document and the byte offset.
pub fn strict_xml(name: &str, text: &str) {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(err) => panic!(
                "{name} is not well-formed XML at {}: {err}",
                reader.buffer_position()
            ),
        }
    }
}

/// How long a test waits for something that must happen. Generous, so a busy machine
/// is slow rather than failing; how fast things happen is for `bench/` to measure.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `check` every 20 ms until it gives `Ok`, for at most `within`, and returns what
/// it gave. Past `within`, panics with `what` and the last `Err`: what was seen instead.
pub async fn wait_until<T, F, Fut>(within: std::time::Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(done) => return done,
            Err(seen) if tokio::time::Instant::now() >= deadline => {
                panic!("{what}: not so after {within:?}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}
pub mod daemon;
pub mod html;
pub mod site;
pub mod validator;
