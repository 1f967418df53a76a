//! WebSub (W3C Recommendation): readers get a changed feed pushed to them instead of
//! polling for it.
//!
//! # Layout
//!
//! - `net`: the HTTP clients, and the rule that keeps callbacks off private networks.
//! - `hub`: the built-in hub at `/websub`: subscriptions, verification, delivery.
//! - `ping`: the pings to the external hubs `[websub] hubs` names.
//! - this file: [`WebSub`], what `serve` holds: told of each publish
//!   ([`WebSub::published`], which only sends on a channel), it finds the feeds whose
//!   body changed in a task of its own and hands them to the hub and the pinger; and
//!   what the server asks of it (the `/websub` route, the `Link` header of feeds, the
//!   `/healthz` part).

mod hub;
mod net;
mod ping;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use chrono::Utc;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Request, Response};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::metrics::WebSubMetrics;
use crate::routes::{self, FeedKey, Format};
use crate::snapshot::Snapshot;

pub use hub::{signature, Hub, MAX_REQUEST};
pub use net::is_public;
pub use ping::{HubHealth, Pinger};

/// What WebSub has done since start, as plain counters: `/healthz` shows them, and
/// `/metrics` can read them.
#[derive(Debug, Default)]
pub struct Counters {
    /// Subscriptions of the built-in hub now (a gauge).
    pub subscriptions: AtomicU64,
    /// Subscribe and unsubscribe requests whose callback confirmed them.
    pub verifications_ok: AtomicU64,
    /// Requests whose callback did not answer the challenge (or could not be reached).
    pub verifications_failed: AtomicU64,
    /// Feed bodies a subscriber took (2xx).
    pub deliveries_ok: AtomicU64,
    /// Delivery tries that failed (each retry counts).
    pub delivery_failures: AtomicU64,
    /// Deliveries given up after their last retry.
    pub deliveries_given_up: AtomicU64,
    /// Pings an external hub took.
    pub pings_ok: AtomicU64,
    /// Ping tries that failed (each retry counts).
    pub ping_failures: AtomicU64,
    /// Pings given up after their last retry.
    pub pings_given_up: AtomicU64,
    /// The same events in `/metrics`.
    pub metrics: WebSubMetrics,
}

impl Counters {
    fn set_subscriptions(&self, count: usize) {
        self.subscriptions.store(count as u64, Ordering::Relaxed);
        self.metrics.set_subscriptions(count);
    }

    fn delivered(&self) {
        self.deliveries_ok.fetch_add(1, Ordering::Relaxed);
        self.metrics.delivered();
    }

    fn delivery_given_up(&self) {
        self.deliveries_given_up.fetch_add(1, Ordering::Relaxed);
        self.metrics.delivery_failed();
    }

    fn pinged(&self) {
        self.pings_ok.fetch_add(1, Ordering::Relaxed);
        self.metrics.pinged();
    }

    fn ping_given_up(&self) {
        self.pings_given_up.fetch_add(1, Ordering::Relaxed);
        self.metrics.ping_failed();
    }
}

/// A feed whose body a publish changed, as readers get it.
#[derive(Debug)]
pub struct Topic {
    /// `/categories/transit/rss.xml`.
    pub route: String,
    /// Its absolute URL: the topic subscribers name.
    pub url: String,
    pub content_type: &'static str,
    /// The same bytes `GET` serves, uncompressed.
    pub body: Bytes,
}

/// One publish, as the publish loop hands it over.
struct Change {
    before: Arc<Snapshot>,
    after: Arc<Snapshot>,
    feeds: BTreeSet<FeedKey>,
}

/// WebSub in `serve`: the built-in hub, the pinger, or both.
pub struct WebSub {
    hub: Option<Arc<Hub>>,
    pinger: Option<Arc<Pinger>>,
    pub counters: Arc<Counters>,
    /// The external hubs the feeds name, for the `Link` header of each feed response.
    external: Vec<String>,
    /// Whether the feeds name the built-in hub too, at `{base_url}/websub`.
    builtin: bool,
    base_url: Arc<ArcSwap<String>>,
    changes: mpsc::UnboundedSender<Change>,
    /// Taken by [`WebSub::spawn`].
    pending: Mutex<Option<mpsc::UnboundedReceiver<Change>>>,
    /// How often expired leases are dropped.
    purge_every: Duration,
}

impl WebSub {
    /// WebSub as `config` asks, or `None` when it asks neither a hub nor pings.
    /// `degraded` says why the state database is not written, if it is not: the hub's
    /// subscriptions are then kept in memory.
    pub fn new(
        config: &Config,
        snapshots: Arc<ArcSwap<Snapshot>>,
        degraded: Option<String>,
        metrics: WebSubMetrics,
    ) -> Option<Arc<WebSub>> {
        let settings = &config.websub;
        if !settings.builtin && settings.hubs.is_empty() {
            return None;
        }
        let counters = Arc::new(Counters {
            metrics,
            ..Counters::default()
        });
        let base_url = Arc::new(ArcSwap::from_pointee(config.site.base_url.clone()));
        let hub = settings
            .builtin
            .then(|| {
                Hub::new(
                    settings.clone(),
                    &config.state_db,
                    degraded,
                    snapshots,
                    Arc::clone(&base_url),
                    Arc::clone(&counters),
                )
            })
            .transpose();
        let pinger = (!settings.hubs.is_empty())
            .then(|| {
                Pinger::new(
                    settings.hubs.clone(),
                    settings.retry.clone(),
                    Arc::clone(&counters),
                )
            })
            .transpose();
        let (hub, pinger) = match (hub, pinger) {
            (Ok(hub), Ok(pinger)) => (hub.map(Arc::new), pinger.map(Arc::new)),
            (Err(err), _) | (_, Err(err)) => {
                tracing::error!("WebSub is off: cannot make its HTTP client: {err}");
                return None;
            }
        };
        let (changes, pending) = mpsc::unbounded_channel();
        Some(Arc::new(WebSub {
            hub,
            pinger,
            counters,
            external: settings.hubs.clone(),
            builtin: settings.builtin,
            base_url,
            changes,
            pending: Mutex::new(Some(pending)),
            purge_every: settings.min_lease.min(Duration::from_secs(60)),
        }))
    }

    /// Starts the tasks that find what each publish changed and drop expired leases;
    /// they stop when the returned guard is dropped.
    pub fn spawn(self: &Arc<Self>) -> Tasks {
        let mut tasks = Vec::new();
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(mut changes) = pending {
            let websub = Arc::clone(self);
            tasks.push(tokio::spawn(async move {
                while let Some(change) = changes.recv().await {
                    websub.dispatch(change).await;
                }
            }));
        }
        if let Some(hub) = &self.hub {
            let hub = Arc::clone(hub);
            let every = self.purge_every;
            tasks.push(tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                loop {
                    ticks.tick().await;
                    hub.purge(Utc::now());
                }
            }));
        }
        Tasks(tasks)
    }

    /// Tells WebSub of a publish: the snapshot before it, the one after, the feeds it
    /// touched. Only sends on a channel: a publish never waits for a hub.
    pub fn published(
        &self,
        before: Arc<Snapshot>,
        after: Arc<Snapshot>,
        feeds: BTreeSet<FeedKey>,
        base_url: &str,
    ) {
        if **self.base_url.load() != base_url {
            self.base_url.store(Arc::new(base_url.to_string()));
        }
        if feeds.is_empty() {
            return;
        }
        let _ = self.changes.send(Change {
            before,
            after,
            feeds,
        });
    }

    /// The feeds of `change` whose body changed, off the async threads (a tag's feed
    /// is rendered on request, here too), then pings and deliveries for them.
    async fn dispatch(&self, change: Change) {
        let base_url = self.base_url.load_full();
        // Without pings, only feeds someone subscribed to are compared: a tag's feed is
        // rendered twice for it.
        let only = match (&self.pinger, &self.hub) {
            (None, Some(hub)) => Some(hub.topics()),
            _ => None,
        };
        if only.as_ref().is_some_and(BTreeSet::is_empty) {
            return;
        }
        let changed =
            tokio::task::spawn_blocking(move || changed_topics(&change, &base_url, only.as_ref()))
                .await;
        let Ok(topics) = changed else {
            return;
        };
        if topics.is_empty() {
            return;
        }
        if let Some(pinger) = &self.pinger {
            let urls: Vec<String> = topics.iter().map(|t| t.url.clone()).collect();
            pinger.ping(&urls);
        }
        if let Some(hub) = &self.hub {
            for topic in topics {
                hub.deliver(Arc::new(topic));
            }
        }
    }

    /// True when the request is for the built-in hub.
    pub fn takes(&self, path: &str) -> bool {
        self.hub.is_some() && path == routes::WEBSUB
    }

    /// Answers a request to `/websub` (see [`WebSub::takes`]).
    pub async fn respond(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        match &self.hub {
            Some(hub) => hub.respond(req).await,
            None => Response::new(Full::new(Bytes::new())),
        }
    }

    /// The `Link` header of a response for `route` (section 4: discovery also by HTTP
    /// header): the hubs and the feed's own URL, when `route` is a feed.
    pub fn link(&self, snapshot: &Snapshot, route: &str) -> Option<HeaderValue> {
        if !is_feed_route(snapshot, route) {
            return None;
        }
        // Named from the base URL of now, as the feed's body names them
        // (`Config::name_hubs`): a reload may have changed it.
        let base_url = self.base_url.load();
        let mut hubs = self.external.clone();
        if self.builtin {
            hubs.push(routes::absolute(&base_url, routes::WEBSUB));
        }
        let own = routes::absolute(&base_url, route);
        HeaderValue::from_str(&link_header(&hubs, &own)).ok()
    }

    /// WebSub's part of `/healthz`.
    pub fn health(&self) -> Health {
        let c = &self.counters;
        let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
        Health {
            builtin_hub: self.hub.is_some(),
            subscriptions: self.hub.as_ref().map(|hub| hub.count()),
            subscriptions_kept: self.hub.as_ref().map(|hub| match hub.problem() {
                None => "in the state database".to_string(),
                Some(why) if hub.has_database() => {
                    format!("in memory until the state database takes them: {why}")
                }
                Some(why) => format!("in memory only, lost at a restart: {why}"),
            }),
            verifications_ok: count(&c.verifications_ok),
            verifications_failed: count(&c.verifications_failed),
            deliveries_ok: count(&c.deliveries_ok),
            delivery_failures: count(&c.delivery_failures),
            deliveries_given_up: count(&c.deliveries_given_up),
            pings_ok: count(&c.pings_ok),
            ping_failures: count(&c.ping_failures),
            pings_given_up: count(&c.pings_given_up),
            hubs: self
                .pinger
                .as_ref()
                .map(|pinger| pinger.health())
                .unwrap_or_default(),
        }
    }

    /// True when the hub's subscriptions would be lost at a restart.
    pub fn is_degraded(&self) -> bool {
        self.hub.as_ref().is_some_and(|hub| hub.problem().is_some())
    }

    /// `report`, the JSON of `/healthz`, with WebSub's part added last (and `degraded`
    /// when subscriptions are kept in memory only); `report` as it was when it is not
    /// the object expected. Spliced in as text, so the report keeps its order of keys.
    pub fn add_health(&self, report: &[u8]) -> Bytes {
        let as_was = || Bytes::copy_from_slice(report);
        let Some(head) = std::str::from_utf8(report)
            .ok()
            .and_then(|text| text.trim_end().strip_suffix('}'))
            .map(str::trim_end)
        else {
            return as_was();
        };
        let Ok(part) = serde_json::to_string_pretty(&self.health()) else {
            return as_was();
        };
        let head = if self.is_degraded() {
            head.replacen("\"status\": \"ok\"", "\"status\": \"degraded\"", 1)
        } else {
            head.to_string()
        };
        let part = part.replace('\n', "\n  ");
        Bytes::from(format!("{head},\n  \"websub\": {part}\n}}"))
    }
}

/// WebSub's part of `/healthz`.
#[derive(Debug, Serialize)]
pub struct Health {
    pub builtin_hub: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions_kept: Option<String>,
    pub verifications_ok: u64,
    pub verifications_failed: u64,
    pub deliveries_ok: u64,
    pub delivery_failures: u64,
    pub deliveries_given_up: u64,
    pub pings_ok: u64,
    pub ping_failures: u64,
    pub pings_given_up: u64,
    /// Each external hub: its last success and last failure.
    pub hubs: Vec<HubHealth>,
}

/// The tasks of [`WebSub::spawn`], stopped when this is dropped.
pub struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// `Link: <hub>; rel="hub", <self>; rel="self"`.
pub fn link_header(hubs: &[String], own: &str) -> String {
    hubs.iter()
        .map(|hub| format!("<{hub}>; rel=\"hub\""))
        .chain(std::iter::once(format!("<{own}>; rel=\"self\"")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// True when `route` is the canonical route of one of `snapshot`'s feeds in a format it
/// publishes (`/categories/transit/rss.xml`; not an alias such as `/feed/`).
pub fn is_feed_route(snapshot: &Snapshot, route: &str) -> bool {
    let Some((dir, file)) = route.rsplit_once('/') else {
        return false;
    };
    let Some(format) = [Format::Rss, Format::Atom, Format::Json]
        .into_iter()
        .find(|f| f.file_name() == file)
    else {
        return false;
    };
    match FeedKey::of_page(&route[..=dir.len()]) {
        Some((key, 1)) => key.route(format) == route && snapshot.has(route),
        _ => false,
    }
}

/// The feeds of `change` whose body is not what it was before, with their new bodies;
/// of the routes in `only`, when given.
fn changed_topics(change: &Change, base_url: &str, only: Option<&BTreeSet<String>>) -> Vec<Topic> {
    let mut topics = Vec::new();
    for key in &change.feeds {
        for format in [Format::Rss, Format::Atom, Format::Json] {
            let route = key.route(format);
            if only.is_some_and(|only| !only.contains(&route)) {
                continue;
            }
            let Some(after) = change.after.get(&route) else {
                continue;
            };
            let before = change.before.get(&route);
            if before.is_some_and(|before| before.etag == after.etag) {
                continue;
            }
            topics.push(Topic {
                url: routes::absolute(base_url, &route),
                route,
                content_type: after.content_type,
                body: after.body.clone(),
            });
        }
    }
    topics
}
