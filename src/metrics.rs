//! The operator's view of a running `serve`: what `/metrics` says in the Prometheus text
//! format, and the subscriber counts that feed readers state in their User-Agent.
//!
//! Recording a request is two atomic adds: the counters of the statuses most answered,
//! the byte counters and the gauges are held directly (a rarer status is looked up in
//! its labelled family: a read lock and a hash). Only a request whose User-Agent states
//! a subscriber count takes a lock of ours. Every label value comes from a small fixed set ([`RouteKind`], status
//! codes, codings) or, for subscriber counts, from the feed routes the site answers,
//! bounded by [`MAX_READERS`]: no client can make the exposition grow by sending odd
//! paths or User-Agents.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The route that answers with [`Metrics::encode`].
pub const ROUTE: &str = "/metrics";

/// The `Content-Type` of `/metrics`: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Readers kept per feed: the few that state a count (Feedly, Inoreader, NewsBlur, The
/// Old Reader, …) fit many times over, and a client inventing names stops here.
pub const MAX_READERS_PER_FEED: usize = 64;

/// (feed, reader) pairs kept in all: a few hundred kilobytes at most, whatever clients
/// send.
pub const MAX_READERS: usize = 4096;

/// Counts above this are not believed (Feedly's largest feeds state a few million).
pub const MAX_STATED: u64 = 100_000_000;

/// Reader names longer than this are cut.
const MAX_NAME: usize = 32;

/// What kind of route answered a request: the `kind` label of
/// `dropfeed_http_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// An RSS, Atom or JSON feed (archives included).
    Feed,
    /// An HTML page that is not a post's: the home page, a topic's list.
    Page,
    /// A post's own page.
    Post,
    /// A file beside a post (an image, an episode).
    Media,
    /// A 301 to where a route moved: old feed addresses, a post's former URLs.
    Alias,
    Health,
    Metrics,
    WebSub,
    NotFound,
    /// Anything else: OPML, the favicon, a refused method or path.
    Other,
}

/// The statuses whose counters [`Metrics::record_request`] holds at hand.
const FREQUENT_STATUSES: [u16; 4] = [200, 304, 301, 404];

impl RouteKind {
    const ALL: [RouteKind; 10] = [
        RouteKind::Feed,
        RouteKind::Page,
        RouteKind::Post,
        RouteKind::Media,
        RouteKind::Alias,
        RouteKind::Health,
        RouteKind::Metrics,
        RouteKind::WebSub,
        RouteKind::NotFound,
        RouteKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Feed => "feed",
            RouteKind::Page => "page",
            RouteKind::Post => "post",
            RouteKind::Media => "media",
            RouteKind::Alias => "alias",
            RouteKind::Health => "health",
            RouteKind::Metrics => "metrics",
            RouteKind::WebSub => "websub",
            RouteKind::NotFound => "not_found",
            RouteKind::Other => "other",
        }
    }
}

impl EncodeLabelValue for RouteKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// A response body's content coding: the `encoding` label of
/// `dropfeed_http_response_bytes_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Br,
}

impl Coding {
    /// The coding a `Content-Encoding` value names; identity for none or another.
    pub fn of(content_encoding: Option<&[u8]>) -> Coding {
        match content_encoding {
            Some(b"gzip") => Coding::Gzip,
            Some(b"br") => Coding::Br,
            _ => Coding::Identity,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    kind: RouteKind,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CodingLabels {
    encoding: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FeedLabels {
    feed: String,
}

/// Every metric of one `serve`, shared by the server (requests), the publish loop
/// (publishes and what they left) and the WebSub code ([`WebSubMetrics`]).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    /// The counters of `requests` for the statuses most answered, by kind, taken from
    /// the family on first use: a request then costs one atomic add, not a read lock
    /// and a hash.
    frequent: [[OnceLock<Counter>; FREQUENT_STATUSES.len()]; RouteKind::ALL.len()],
    /// Identity, gzip, br: held rather than looked up, one per coding.
    bytes: [Counter; 3],
    publishes: Counter,
    publish_seconds: Histogram,
    posts: Gauge,
    feeds: Gauge,
    failed_files: Gauge,
    websub: WebSubMetrics,
    subscribers: Subscribers,
}

/// The WebSub counters, for the hub and the publisher's pings to record into. Cloning is
/// cheap and every clone records into the same metrics.
#[derive(Debug, Clone, Default)]
pub struct WebSubMetrics {
    subscriptions: Gauge,
    deliveries: Counter,
    delivery_failures: Counter,
    pings: Counter,
    ping_failures: Counter,
}

impl WebSubMetrics {
    /// The verified subscriptions held now (after a subscribe, an unsubscribe, an expiry,
    /// a load at start).
    pub fn set_subscriptions(&self, count: usize) {
        self.subscriptions
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// A feed body a subscriber accepted (2xx).
    pub fn delivered(&self) {
        self.deliveries.inc();
    }

    /// A delivery given up on after its retries.
    pub fn delivery_failed(&self) {
        self.delivery_failures.inc();
    }

    /// A `hub.mode=publish` ping an external hub accepted.
    pub fn pinged(&self) {
        self.pings.inc();
    }

    /// A ping given up on after its retries.
    pub fn ping_failed(&self) {
        self.ping_failures.inc();
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("dropfeed");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by route kind and status; the share of 304s is the status=\"304\" rate over all",
            requests.clone(),
        );
        let bytes: Family<CodingLabels, Counter> = Family::default();
        registry.register(
            "http_response_bytes",
            "Response body bytes handed to connections, by content coding",
            bytes.clone(),
        );
        let bytes = ["identity", "gzip", "br"]
            .map(|encoding| bytes.get_or_create_owned(&CodingLabels { encoding }));
        let publishes = Counter::default();
        registry.register(
            "publishes",
            "Publishes: the start, each change set, each post coming due, each reload",
            publishes.clone(),
        );
        // 1 ms to about 33 s: a publish of one post takes tens of milliseconds, a start
        // or a reload of 100,000 posts tens of seconds.
        let publish_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 16),
        );
        registry.register(
            "publish_duration_seconds",
            "How long each publish took, from reading the changed files to the snapshot swap",
            publish_seconds.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let posts = gauge(&mut registry, "posts", "Posts published");
        let feeds = gauge(&mut registry, "feeds", "Feeds served");
        let failed_files = gauge(
            &mut registry,
            "failed_files",
            "Post files not published for an error (listed on /healthz)",
        );
        let websub = WebSubMetrics::default();
        registry.register(
            "websub_subscriptions",
            "Verified WebSub subscriptions held by the built-in hub",
            websub.subscriptions.clone(),
        );
        registry.register(
            "websub_deliveries",
            "Feed bodies delivered to WebSub subscribers",
            websub.deliveries.clone(),
        );
        registry.register(
            "websub_delivery_failures",
            "WebSub deliveries given up after their retries",
            websub.delivery_failures.clone(),
        );
        registry.register(
            "websub_hub_pings",
            "Publish pings accepted by the configured WebSub hubs",
            websub.pings.clone(),
        );
        registry.register(
            "websub_hub_ping_failures",
            "Publish pings given up after their retries",
            websub.ping_failures.clone(),
        );
        let subscribers = Subscribers::default();
        registry.register(
            "feed_subscribers",
            "Subscribers that feed readers state in their User-Agent, summed per feed (the latest count of each reader)",
            subscribers.gauges.clone(),
        );
        Metrics {
            registry,
            requests,
            frequent: Default::default(),
            bytes,
            publishes,
            publish_seconds,
            posts,
            feeds,
            failed_files,
            websub,
            subscribers,
        }
    }

    /// Counts one response: its route kind and status, and its body's bytes.
    pub fn record_request(&self, kind: RouteKind, status: u16, coding: Coding, body_bytes: u64) {
        let labels = || RequestLabels { kind, status };
        match FREQUENT_STATUSES.iter().position(|&s| s == status) {
            Some(at) => {
                self.frequent[kind as usize][at]
                    .get_or_init(|| self.requests.get_or_create_owned(&labels()))
                    .inc();
            }
            None => {
                self.requests.get_or_create(&labels()).inc();
            }
        }
        if body_bytes > 0 {
            self.bytes[coding as usize].inc_by(body_bytes);
        }
    }

    /// Counts one publish that took `took`, and sets what the site holds after it.
    pub fn record_publish(&self, took: Duration, posts: usize, feeds: usize, failed: usize) {
        self.publishes.inc();
        self.publish_seconds.observe(took.as_secs_f64());
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.posts.set(count(posts));
        self.feeds.set(count(feeds));
        self.failed_files.set(count(failed));
    }

    /// The WebSub counters, to hand to the hub and the pinger.
    pub fn websub(&self) -> WebSubMetrics {
        self.websub.clone()
    }

    pub fn subscribers(&self) -> &Subscribers {
        &self.subscribers
    }

    /// Every metric, in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(4096);
        // Writing into a String cannot fail; an error could only come from a label value
        // that refuses to encode, and none of ours does.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// The subscriber counts readers state, per feed route and reader: the latest count of
/// each reader, since a reader restates its whole count at each poll.
#[derive(Debug, Default)]
pub struct Subscribers {
    /// Feed route → (reader, count), in the order readers were first seen.
    stated: Mutex<HashMap<String, Vec<(String, u64)>>>,
    /// The sum per feed, as exposed.
    gauges: Family<FeedLabels, Gauge>,
    /// When a count last changed, in whole seconds since 1970 (0: never): `/healthz`
    /// dates its report no earlier, so `If-Modified-Since` never hides a new count.
    changed: AtomicI64,
}

/// What `/healthz` shows of the subscriber counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubscriberReport {
    pub total: u64,
    pub feeds: BTreeMap<String, FeedSubscribers>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeedSubscribers {
    pub total: u64,
    pub readers: BTreeMap<String, u64>,
}

impl Subscribers {
    /// Notes the count a request for the feed at `route` states in `user_agent`, if it
    /// states one; the caller passes only requests a feed answered (200 or 304).
    pub fn note(&self, route: &str, user_agent: &[u8]) {
        self.note_at(route, user_agent, Utc::now());
    }

    /// [`Subscribers::note`] at `now`.
    pub fn note_at(&self, route: &str, user_agent: &[u8], now: DateTime<Utc>) {
        let Some((reader, count)) = stated_subscribers(user_agent) else {
            return;
        };
        // The map is whole after any panic elsewhere: nothing in here unwinds midway.
        let mut stated = self.stated.lock().unwrap_or_else(PoisonError::into_inner);
        let held: usize = stated.values().map(Vec::len).sum();
        // A reader of the known few is always let in: they are at most one entry each
        // per feed, and made-up names filling the bounds must not hide Feedly's count.
        let known = is_known_reader(&reader);
        let sum = match stated.get_mut(route) {
            Some(readers) => {
                let room = known || (readers.len() < MAX_READERS_PER_FEED && held < MAX_READERS);
                match readers.iter_mut().find(|(name, _)| *name == reader) {
                    Some((_, old)) if *old == count => return,
                    Some((_, old)) => *old = count,
                    None if room => readers.push((reader, count)),
                    None => return,
                }
                readers.iter().map(|(_, n)| n).sum::<u64>()
            }
            None if known || held < MAX_READERS => {
                stated.insert(route.to_string(), vec![(reader, count)]);
                count
            }
            None => return,
        };
        self.changed.fetch_max(now.timestamp(), Ordering::Relaxed);
        let label = FeedLabels {
            feed: route.to_string(),
        };
        self.gauges
            .get_or_create(&label)
            .set(i64::try_from(sum).unwrap_or(i64::MAX));
    }

    /// When a count last changed, to the second; `None` before the first.
    pub fn changed(&self) -> Option<DateTime<Utc>> {
        match self.changed.load(Ordering::Relaxed) {
            0 => None,
            secs => DateTime::from_timestamp(secs, 0),
        }
    }

    /// Every feed's readers and their counts, with the sums.
    pub fn report(&self) -> SubscriberReport {
        let mut report = SubscriberReport {
            total: 0,
            feeds: BTreeMap::new(),
        };
        let stated = self.stated.lock().unwrap_or_else(PoisonError::into_inner);
        for (route, readers) in stated.iter() {
            let readers: BTreeMap<String, u64> = readers.iter().cloned().collect();
            let total = readers.values().sum();
            report.total += total;
            report
                .feeds
                .insert(route.clone(), FeedSubscribers { total, readers });
        }
        report
    }

    /// The health report `body` (a JSON object) with a `subscribers` member added last;
    /// `None` when the body is not an object.
    pub fn add_to_health(&self, body: &[u8]) -> Option<Vec<u8>> {
        let end = body.iter().rposition(|&b| b == b'}')?;
        let inner = body[..end].trim_ascii_end();
        if !inner.starts_with(b"{") {
            return None;
        }
        let report = serde_json::to_string_pretty(&self.report()).ok()?;
        let mut out = Vec::with_capacity(body.len() + report.len() + 32);
        out.extend_from_slice(inner);
        if inner != b"{" {
            out.push(b',');
        }
        out.extend_from_slice(b"\n  \"subscribers\": ");
        out.extend_from_slice(report.replace('\n', "\n  ").as_bytes());
        out.extend_from_slice(b"\n}");
        Some(out)
    }
}

/// Readers known to state a subscriber count, by a lowercase mark their User-Agent
/// holds, and the name they are shown under. Their product token is often `Mozilla`.
const KNOWN_READERS: &[(&str, &str)] = &[
    ("feedly", "Feedly"),
    ("inoreader", "Inoreader"),
    ("newsblur", "NewsBlur"),
    ("theoldreader", "The Old Reader"),
    ("feedbin", "Feedbin"),
    ("bazqux", "BazQux"),
    ("netvibes", "Netvibes"),
    ("feedspot", "Feedspot"),
];

/// True for a name [`stated_subscribers`] gives a known reader.
fn is_known_reader(reader: &str) -> bool {
    KNOWN_READERS.iter().any(|(_, name)| *name == reader)
}

/// The reader and the subscriber count a User-Agent states (`… 123 subscribers …`):
/// any number followed by `subscriber` or `subscribers` as a word. The reader is a
/// known name found in it, else its first product token (`name/version`) that is not
/// `Mozilla`, else its first word.
pub fn stated_subscribers(user_agent: &[u8]) -> Option<(String, u64)> {
    let count = stated_count(user_agent)?;
    let lower = user_agent.to_ascii_lowercase();
    let known = KNOWN_READERS
        .iter()
        .find(|(mark, _)| contains(&lower, mark.as_bytes()))
        .map(|(_, name)| (*name).to_string());
    let reader = known
        .or_else(|| product_token(user_agent))
        .unwrap_or_else(|| "unknown".into());
    Some((reader, count))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The number before the first `subscriber(s)` word that has one.
fn stated_count(ua: &[u8]) -> Option<u64> {
    const WORD: &[u8] = b"subscriber";
    let mut from = 0;
    while let Some(at) = ua
        .get(from..)?
        .windows(WORD.len())
        .position(|w| w.eq_ignore_ascii_case(WORD))
    {
        let start = from + at;
        from = start + WORD.len();
        // The word ends there, or after a plural `s`: `subscribersfoo` is no count.
        let mut end = from;
        if ua.get(end).is_some_and(|b| b.eq_ignore_ascii_case(&b's')) {
            end += 1;
        }
        if ua.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        let before = ua[..start].trim_ascii_end();
        if before.len() == start {
            continue;
        }
        let digits = before
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let number = &before[before.len() - digits..];
        let first = before.len() - digits;
        // `v2 subscribers` or `1.5 subscribers` state nothing.
        let delimited = first == 0
            || !matches!(before[first - 1], b'.' | b',' | b'_' | b'-' | b'/' | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9');
        if digits == 0 || digits > 9 || !delimited {
            continue;
        }
        let count: u64 = std::str::from_utf8(number).ok()?.parse().ok()?;
        if count <= MAX_STATED {
            return Some(count);
        }
    }
    None
}

/// The first `name/version` token that is not `Mozilla`, else the first word (when it
/// has a letter): letters,
/// digits, `.`, `_` and `-`, at most [`MAX_NAME`] of them.
fn product_token(ua: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(ua);
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let tokens = text.split(|c: char| c.is_whitespace() || matches!(c, ';' | '(' | ')' | ','));
    let mut first_word = None;
    for (at, token) in tokens.filter(|t| !t.is_empty()).enumerate() {
        if let Some((name, _version)) = token.split_once('/') {
            if !name.is_empty()
                && name.chars().all(is_name)
                && !name.eq_ignore_ascii_case("mozilla")
                && name.chars().any(|c| c.is_ascii_alphabetic())
            {
                return Some(name.chars().take(MAX_NAME).collect());
            }
        }
        if at == 0 {
            let word: String = token
                .chars()
                .take_while(|&c| is_name(c))
                .take(MAX_NAME)
                .collect();
            if word.chars().any(|c| c.is_ascii_alphabetic()) {
                first_word = Some(word);
            }
        }
    }
    first_word
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stated(ua: &str) -> Option<(String, u64)> {
        stated_subscribers(ua.as_bytes())
    }

    fn named(reader: &str, count: u64) -> Option<(String, u64)> {
        Some((reader.to_string(), count))
    }

    #[test]
    fn the_big_readers_state_their_counts() {
        for (ua, expected) in [
            (
                "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123 subscribers; like FeedFetcher-Google)",
                named("Feedly", 123),
            ),
            (
                "Mozilla/5.0 (compatible; Inoreader/1.0; https://www.inoreader.com; 42 subscribers)",
                named("Inoreader", 42),
            ),
            (
                "NewsBlur Feed Fetcher - 17 subscribers - http://www.newsblur.com/site/6112931/example (Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/71.0.3578.98 Safari/537.36)",
                named("NewsBlur", 17),
            ),
            (
                "Mozilla/5.0 (compatible; theoldreader.com; 5 subscribers; feed-id=0e1a2b3c4d5e6f)",
                named("The Old Reader", 5),
            ),
            (
                "Feedbin feed-id:1373711 - 8 subscribers",
                named("Feedbin", 8),
            ),
        ] {
            assert_eq!(stated(ua), expected, "{ua}");
        }
    }

    #[test]
    fn any_reader_stating_a_count_is_named_by_its_product_token() {
        assert_eq!(
            stated("Mozilla/5.0 (compatible; Ukulele/2.1; +https://u.example; 1 subscriber)"),
            named("Ukulele", 1)
        );
        assert_eq!(
            stated("FeedFetch/0.3 (3 SUBSCRIBERS)"),
            named("FeedFetch", 3)
        );
        assert_eq!(stated("rssbot - 12 subscribers"), named("rssbot", 12));
        assert_eq!(stated("9 subscribers"), named("unknown", 9));
    }

    #[test]
    fn what_is_not_a_count_is_not_taken_for_one() {
        for ua in [
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            "Reader subscribers",
            "Reader 12subscribers",
            "Reader 12 subscriberx",
            "Reader 12 subscribership",
            "Reader v2 subscribers",
            "Reader 1.5 subscribers",
            "Reader 1234567890 subscribers",
            "Reader 200000000 subscribers",
            "",
        ] {
            assert_eq!(stated(ua), None, "{ua}");
        }
        // The first word that has a count in front of it counts.
        assert_eq!(
            stated("R/1 (subscribers: many; 4 subscribers)"),
            named("R", 4)
        );
    }

    #[test]
    fn the_latest_count_of_each_reader_is_summed_per_feed() {
        let subscribers = Subscribers::default();
        let feedly = b"Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123 subscribers)";
        let inoreader = b"Mozilla/5.0 (compatible; Inoreader/1.0; 42 subscribers)";
        subscribers.note("/rss.xml", feedly);
        subscribers.note("/rss.xml", inoreader);
        subscribers.note("/rss.xml", b"Feedly/1.0 (130 subscribers)");
        subscribers.note("/atom.xml", inoreader);
        subscribers.note("/atom.xml", b"curl/8.0");
        let report = subscribers.report();
        assert_eq!(report.total, 172 + 42);
        assert_eq!(report.feeds["/rss.xml"].total, 172);
        assert_eq!(report.feeds["/rss.xml"].readers["Feedly"], 130);
        assert_eq!(report.feeds["/rss.xml"].readers["Inoreader"], 42);
        assert_eq!(report.feeds["/atom.xml"].total, 42);
    }

    #[test]
    fn a_changed_count_dates_the_subscribers_and_a_restated_one_does_not() {
        let subscribers = Subscribers::default();
        assert_eq!(subscribers.changed(), None);
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        subscribers.note_at(
            "/rss.xml",
            b"Feedly/1.0 (3 subscribers)",
            at("2026-01-01T10:00:00.7Z"),
        );
        subscribers.note_at(
            "/rss.xml",
            b"Feedly/1.0 (3 subscribers)",
            at("2026-01-01T11:00:00Z"),
        );
        assert_eq!(subscribers.changed(), Some(at("2026-01-01T10:00:00Z")));
        subscribers.note_at(
            "/rss.xml",
            b"Feedly/1.0 (4 subscribers)",
            at("2026-01-01T12:00:00Z"),
        );
        assert_eq!(subscribers.changed(), Some(at("2026-01-01T12:00:00Z")));
        subscribers.note_at(
            "/atom.xml",
            b"Feedly/1.0 (4 subscribers)",
            at("2026-01-01T13:00:00Z"),
        );
        assert_eq!(subscribers.changed(), Some(at("2026-01-01T13:00:00Z")));
    }

    #[test]
    fn readers_are_bounded_per_feed_and_in_all() {
        let metrics = Metrics::new();
        let subscribers = metrics.subscribers();
        for n in 0..MAX_READERS_PER_FEED + 10 {
            subscribers.note("/rss.xml", format!("Bot{n}/1.0 (1 subscribers)").as_bytes());
        }
        let report = subscribers.report();
        assert_eq!(report.feeds["/rss.xml"].readers.len(), MAX_READERS_PER_FEED);
        assert_eq!(report.total, MAX_READERS_PER_FEED as u64);
        // A reader already kept still updates its count on a full feed.
        subscribers.note("/rss.xml", b"Bot0/1.0 (5 subscribers)");
        assert_eq!(subscribers.report().total, MAX_READERS_PER_FEED as u64 + 4);

        for feed in 0..MAX_READERS {
            subscribers.note(&format!("/f{feed}.xml"), b"Bot/1.0 (1 subscribers)");
        }
        let report = subscribers.report();
        let held: usize = report.feeds.values().map(|f| f.readers.len()).sum();
        assert_eq!(held, MAX_READERS);
        let exposed = metrics.encode();
        let feeds = exposed
            .lines()
            .filter(|l| l.starts_with("dropfeed_feed_subscribers{"))
            .count();
        assert_eq!(feeds, MAX_READERS - MAX_READERS_PER_FEED + 1);

        // Made-up names filling every bound never keep a known reader's count out.
        subscribers.note(
            "/rss.xml",
            b"Feedly/1.0 (+http://www.feedly.com/fetcher.html; 500 subscribers)",
        );
        subscribers.note(
            "/new.xml",
            b"Mozilla/5.0 (compatible; Inoreader/1.0; 7 subscribers)",
        );
        let report = subscribers.report();
        assert_eq!(report.feeds["/rss.xml"].readers["Feedly"], 500);
        assert_eq!(report.feeds["/new.xml"].readers["Inoreader"], 7);
        subscribers.note("/rss.xml", b"Bot999/1.0 (1 subscribers)");
        assert!(!subscribers.report().feeds["/rss.xml"]
            .readers
            .contains_key("Bot999"));
    }

    #[test]
    fn the_health_report_gets_the_subscribers_last() {
        let subscribers = Subscribers::default();
        subscribers.note("/rss.xml", b"Feedly/1.0 (3 subscribers)");
        let body = b"{\n  \"status\": \"ok\",\n  \"posts\": 2\n}";
        let with = subscribers.add_to_health(body).unwrap();
        let text = String::from_utf8(with).unwrap();
        assert_eq!(
            text,
            "{\n  \"status\": \"ok\",\n  \"posts\": 2,\n  \"subscribers\": {\n    \"total\": 3,\n    \"feeds\": {\n      \"/rss.xml\": {\n        \"total\": 3,\n        \"readers\": {\n          \"Feedly\": 3\n        }\n      }\n    }\n  }\n}"
        );
        assert_eq!(subscribers.add_to_health(b"[1]"), None);
        let empty = Subscribers::default().add_to_health(b"{}").unwrap();
        let value: serde_json::Value = serde_json::from_slice(&empty).unwrap();
        assert_eq!(value["subscribers"]["total"], 0);
    }

    #[test]
    fn the_exposition_names_every_family() {
        let metrics = Metrics::new();
        metrics.record_request(RouteKind::Feed, 304, Coding::Identity, 0);
        metrics.record_request(RouteKind::Feed, 200, Coding::Gzip, 1000);
        metrics.record_publish(Duration::from_millis(3), 10, 4, 1);
        metrics.websub().delivered();
        let text = metrics.encode();
        for line in [
            "dropfeed_http_requests_total{kind=\"feed\",status=\"304\"} 1",
            "dropfeed_http_requests_total{kind=\"feed\",status=\"200\"} 1",
            "dropfeed_http_response_bytes_total{encoding=\"gzip\"} 1000",
            "dropfeed_http_response_bytes_total{encoding=\"identity\"} 0",
            "dropfeed_publishes_total 1",
            "dropfeed_publish_duration_seconds_count 1",
            "dropfeed_posts 10",
            "dropfeed_feeds 4",
            "dropfeed_failed_files 1",
            "dropfeed_websub_deliveries_total 1",
            "dropfeed_websub_subscriptions 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}
