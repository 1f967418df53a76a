//! What the fuzz targets share: the fixed site and snapshot they run against, and the
//! checks that turn a wrong answer into a crash libFuzzer keeps (a panic is the only
//! failure it sees). The same rules as `tests/properties.rs`, for as long as one likes.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, FixedOffset, Utc};
use dropfeed::catalog::{Catalog, Remembered, Update};
use dropfeed::config::Config;
use dropfeed::feed::{render_feed, FeedInfo};
use dropfeed::post::{Post, Problem, Source};
use dropfeed::routes::{FeedKey, Format};
use dropfeed::snapshot::{Bodies, InPost, Snapshot};
use dropfeed::testing::PostBuilder;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};

/// 2024-05-20T12:00:00Z: the fixed "now" of every target, so nothing reads the clock.
pub fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_716_206_400, 0).expect("a literal timestamp")
}

// ---------------------------------------------------------------------------------------
// Posts

/// Where a post file may live; which one a file gets follows from its bytes, so a
/// committed seed stays a plain post file and a crash replays with the same path.
const PATHS: [&str; 6] = [
    "night-bus.md",
    "night-bus.txt",
    "notes.markdown",
    "2019-03-03-night-bus.md",
    "en/night-bus/index.md",
    "東京.txt",
];

/// A post file of `bytes`, at a path its bytes choose, modified at [`now`].
pub fn source(bytes: &[u8]) -> Source {
    // FNV-1a: any stable spread will do.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    Source {
        path: PATHS[(hash % PATHS.len() as u64) as usize].to_string(),
        bytes: bytes.to_vec(),
        modified: now(),
    }
}

/// The front matter keys of the `fields` target, in the order its input lines fill them.
const KEYS: [&str; 10] = [
    "date",
    "updated",
    "title",
    "author",
    "categories",
    "tags",
    "summary",
    "slug",
    "id",
    "permalink",
];

/// A post file whose front matter always parses: line `i` of `data` is the value of
/// `KEYS[i]`, quoted (a list split at commas for categories and tags), so the fuzzer
/// spends its time on the values (dates, names, ids) rather than on YAML syntax.
pub fn fields_file(data: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(data);
    let mut file = String::from("---\n");
    for (key, value) in KEYS.iter().zip(text.split('\n')) {
        let value = if matches!(*key, "categories" | "tags") {
            let items: Vec<String> = value.split(',').map(yaml_quote).collect();
            format!("[{}]", items.join(", "))
        } else {
            yaml_quote(value)
        };
        file.push_str(&format!("{key}: {value}\n"));
    }
    file.push_str("---\nThe body.\n");
    file.into_bytes()
}

/// A YAML double-quoted scalar holding `text` exactly: what YAML cannot hold raw (and
/// the line separators, which it folds) escaped.
fn yaml_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}'
                if !matches!(c, '\u{FEFF}' | '\u{2028}' | '\u{2029}') =>
            {
                out.push(c)
            }
            c if c > '\u{FFFF}' => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// What the parser leaves in a post's text: XML 1.0 characters, and no C1 control or
/// U+FFFD.
fn clean_char(c: char) -> bool {
    xml_char(c) && !matches!(c, '\u{80}'..='\u{9F}' | '\u{FFFD}')
}

fn xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Panics unless `problem` names the file and says something on one line.
pub fn check_problem(source: &Source, problem: &Problem) {
    assert_eq!(problem.path, source.path);
    assert!(problem.line >= 1, "{problem}");
    assert!(!problem.message.trim().is_empty(), "{problem:?}");
    assert!(
        !problem.message.contains(char::is_control),
        "a control character in {problem:?}"
    );
}

/// Panics unless `post` keeps every promise the renderers rely on.
pub fn check_post(source: &Source, post: &Post) {
    let limits = dropfeed::testing::site().limits;
    assert!(!post.authors.is_empty());
    assert!(post.authors.len() <= limits.authors);
    assert!(post.categories.len() <= limits.categories);
    assert!(post.tags.len() <= limits.tags);
    assert!(post.title.chars().count() <= 300, "title {:?}", post.title);
    assert!(
        post.summary.chars().count() <= 300,
        "summary {:?}",
        post.summary
    );
    assert!(post.updated >= post.published);
    assert!(
        post.slug.split('/').all(slug_shaped),
        "post slug {:?}",
        post.slug
    );
    assert!(post.route.starts_with('/'), "route {:?}", post.route);
    for named in post.authors.iter().chain(&post.categories) {
        assert!(!named.name.trim().is_empty(), "blank name {named:?}");
        assert!(slug_shaped(&named.slug), "name slug {named:?}");
    }
    let texts = [
        &post.title,
        &post.summary,
        &post.content_html,
        &post.id,
        &post.url,
    ]
    .into_iter()
    .chain(post.tags.iter().map(|t| &t.name))
    .chain(post.authors.iter().map(|a| &a.name))
    .chain(post.categories.iter().map(|c| &c.name));
    for text in texts {
        assert!(text.chars().all(clean_char), "unclean text {text:?}");
    }
    for warning in &post.warnings {
        check_problem(source, warning);
    }
}

fn slug_shaped(slug: &str) -> bool {
    !slug.is_empty()
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Renders the site feed, the first category's and the first author's in every
/// format, and panics unless each is well-formed with dates that read back.
pub fn check_feeds(post: &Post) {
    let site = dropfeed::testing::site();
    let posts = [post];
    let mut feeds = vec![FeedInfo::site(&site, &posts)];
    let first = |key: FeedKey, name: &str| FeedInfo {
        key,
        title: format!("{} — {name}", site.title),
        name: name.to_string(),
        updated: FeedInfo::updated_of(posts, post.published),
        archives: Default::default(),
    };
    if let Some(category) = post.categories.first() {
        feeds.push(first(
            FeedKey::Category(category.slug.clone()),
            &category.name,
        ));
    }
    if let Some(author) = post.authors.first() {
        feeds.push(first(FeedKey::Author(author.slug.clone()), &author.name));
    }
    for feed in &feeds {
        for format in [Format::Rss, Format::Atom, Format::Json] {
            let text = render_feed(format, &site, feed, &posts);
            let name = feed.key.route(format);
            match format {
                Format::Json => check_json(&name, &text, post),
                Format::Rss => {
                    check_xml(&name, &text);
                    check_dates(&name, &text, &["pubDate", "lastBuildDate"], |d| {
                        DateTime::parse_from_rfc2822(d)
                    });
                }
                Format::Atom => {
                    check_xml(&name, &text);
                    check_dates(&name, &text, &["updated", "published"], |d| {
                        DateTime::parse_from_rfc3339(d)
                    });
                }
            }
        }
    }
}

fn check_dates(
    name: &str,
    text: &str,
    elements: &[&str],
    read: impl Fn(&str) -> chrono::ParseResult<DateTime<FixedOffset>>,
) {
    for element in elements {
        for piece in text.split(&format!("<{element}>")).skip(1) {
            let date = piece.split('<').next().unwrap_or_default();
            if let Err(err) = read(date) {
                panic!("{name}: <{element}> {date:?} does not read: {err}");
            }
        }
    }
}

fn check_json(name: &str, text: &str, post: &Post) {
    let feed: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|err| panic!("{name} is not JSON: {err}"));
    let item = &feed["items"][0];
    assert_eq!(item["title"].as_str(), Some(post.title.as_str()), "{name}");
    assert_eq!(item["id"].as_str(), Some(post.id.as_str()), "{name}");
    for key in ["date_published", "date_modified"] {
        let date = item[key].as_str().unwrap_or_default();
        if let Err(err) = DateTime::parse_from_rfc3339(date) {
            panic!("{name}: {key} {date:?} is not RFC 3339: {err}");
        }
    }
}

/// Panics unless `text` is well-formed XML 1.0: quick-xml in strict mode, and what it
/// leaves unchecked (characters XML forbids, `]]>` in character data, one root, every
/// element closed).
pub fn check_xml(name: &str, text: &str) {
    use quick_xml::events::Event;
    if let Some(c) = text.chars().find(|&c| !xml_char(c)) {
        panic!("{name} holds {c:?}, which XML forbids");
    }
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let (mut depth, mut roots) = (0usize, 0);
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .unwrap_or_else(|err| panic!("{name} is not well-formed at {at}: {err}"));
        match event {
            Event::Eof => break,
            Event::Start(ref e) | Event::Empty(ref e) => {
                roots += usize::from(depth == 0);
                for attribute in e.attributes() {
                    let attribute = attribute.unwrap_or_else(|err| panic!("{name} at {at}: {err}"));
                    if let Err(err) = attribute.unescape_value() {
                        panic!("{name} at {at}: bad attribute value: {err}");
                    }
                }
                depth += usize::from(matches!(event, Event::Start(_)));
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) => {
                assert!(
                    !t.windows(3).any(|w| w == b"]]>"),
                    "{name} at {at}: `]]>` in character data"
                );
                if let Err(err) = t.unescape() {
                    panic!("{name} at {at}: bad reference: {err}");
                }
            }
            _ => {}
        }
    }
    assert!(
        roots == 1 && depth == 0,
        "{name}: {roots} roots, {depth} open"
    );
}

// ---------------------------------------------------------------------------------------
// Requests

/// A small site as a publish leaves it, compressed: `hello` in "Bay Area" by Ann, a
/// post by Zoë Álvarez in "Transit", and a former page of `hello` that answers 301.
pub static SNAPSHOT: LazyLock<Snapshot> = LazyLock::new(|| {
    let config = Config::parse(
        "[site]\nbase_url = \"https://example.com\"\n",
        std::path::Path::new("config.toml"),
    )
    .expect("a literal config");
    let posts = [
        PostBuilder::new("hello")
            .site(&config.site)
            .title("Hello")
            .author("Ann")
            .category("Bay Area")
            .published("2024-05-01T12:00:00+00:00")
            .summary("Hello there.")
            .content_html("<p>Hello there, a body long enough to be worth compressing.</p>")
            .build(),
        PostBuilder::new("fare-caps")
            .site(&config.site)
            .title("Fare caps & transfers <explained>")
            .author("Zoë Álvarez")
            .category("Transit")
            .tag("local")
            .published("2024-05-02T09:15:00+09:00")
            .content_html("<p>At most $5 a day &amp; $20 a week.</p>")
            .build(),
    ];
    let mut catalog = Catalog::new();
    catalog.advance(now());
    for post in posts {
        let path = post.path.clone();
        catalog.apply(&path, Update::Parsed(post));
    }
    let touched = catalog.take_touched();
    let remembered = Remembered {
        redirects: Arc::new(BTreeMap::from([(
            "/2024/05/hello/".to_string(),
            "/posts/hello/".to_string(),
        )])),
        ..Remembered::default()
    };
    let bodies: Arc<dyn Bodies> = Arc::new(InPost);
    let (snapshot, _) =
        Snapshot::default().next(&catalog, &touched, &remembered, &bodies, &config, now());
    snapshot.compress_pending().unwrap_or(snapshot)
});

/// A request from fuzzed bytes: a first line `METHOD target` (or just a target, for
/// GET), then `Name: value` lines. `None` when hyper would have refused it before any
/// handler saw it (a bad method, target, header name or value).
pub fn request(data: &[u8]) -> Option<Request<()>> {
    let mut lines = data.split(|&b| b == b'\n');
    let first = lines.next()?;
    let (method, target) = match first.iter().position(|&b| b == b' ') {
        Some(at) => (Method::from_bytes(&first[..at]).ok()?, &first[at + 1..]),
        None => (Method::GET, first),
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(hyper::Uri::try_from(target).ok()?);
    for line in lines {
        let at = line.iter().position(|&b| b == b':')?;
        let name = hyper::header::HeaderName::from_bytes(&line[..at]).ok()?;
        let value = line[at + 1..].trim_ascii();
        let value = hyper::header::HeaderValue::from_bytes(value).ok()?;
        builder = builder.header(name, value);
    }
    builder.body(()).ok()
}

/// The whole body of a response: a `Full` body is ready at its first poll.
pub fn body(response: Response<http_body_util::Full<Bytes>>) -> Bytes {
    use http_body_util::BodyExt;
    let mut collect = std::pin::pin!(response.into_body().collect());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match collect.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(collected)) => collected.to_bytes(),
        std::task::Poll::Ready(Err(never)) => match never {},
        std::task::Poll::Pending => panic!("a Full body was not ready"),
    }
}

/// Panics unless `response` is one the server may give: a known status, a length that
/// is the body's, a redirect to a route that answers, and the same answer twice.
pub fn check_response(req: &Request<()>) {
    let snapshot = &*SNAPSHOT;
    let response = dropfeed::server::respond_at(snapshot, req, now());
    let again = dropfeed::server::respond_at(snapshot, req, now());
    assert_eq!(response.status(), again.status(), "{req:?}");
    assert_eq!(response.headers(), again.headers(), "{req:?}");
    let status = response.status();
    assert!(
        [
            StatusCode::OK,
            StatusCode::MOVED_PERMANENTLY,
            StatusCode::NOT_MODIFIED,
            StatusCode::NOT_FOUND,
            StatusCode::METHOD_NOT_ALLOWED,
            StatusCode::URI_TOO_LONG,
        ]
        .contains(&status),
        "{status} for {req:?}"
    );
    let headers = response.headers().clone();
    if status == StatusCode::MOVED_PERMANENTLY {
        let location = headers
            .get(hyper::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or_else(|| panic!("301 without a location for {req:?}"));
        assert!(snapshot.has(location), "301 to {location} for {req:?}");
    }
    if status == StatusCode::OK {
        assert!(headers.contains_key(hyper::header::ETAG), "{req:?}");
        assert!(headers.contains_key(hyper::header::CONTENT_TYPE), "{req:?}");
    }
    let length = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.parse::<usize>().ok());
    let head = req.method() == Method::HEAD;
    let body = body(response);
    if status == StatusCode::NOT_MODIFIED || head {
        assert!(body.is_empty(), "a body with {status} for {req:?}");
    } else {
        assert_eq!(length, Some(body.len()), "Content-Length for {req:?}");
    }
}
