//! The built-in hub (W3C WebSub, sections 5 to 8): subscription requests at `POST
//! /websub`, answered `202 Accepted` at once and verified afterwards with a GET to the
//! callback; the subscriptions, kept in the state database; and the delivery of each
//! changed feed to its subscribers, signed, retried, bounded, coalesced.
//!
//! Nothing here runs on the publish path or holds a response: a request is checked and
//! answered, and the verification goes on in a task of its own; deliveries are tasks
//! fed by [`Hub::deliver`], which only queues.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::Semaphore;

use super::net;
use super::{link_header, Counters, Topic};
use crate::config::{Retry, WebSub as Settings};
use crate::routes;
use crate::snapshot::Snapshot;
use crate::state::{Subscription, SubscriptionStore};

/// The largest subscription request body read: the four fields with a long callback
/// URL fit many times over.
pub const MAX_REQUEST: usize = 16 * 1024;

/// `hub.secret` must be shorter than this (WebSub, section 5.1).
const MAX_SECRET: usize = 200;

/// Callback URLs longer than this are refused: every delivery carries one.
const MAX_CALLBACK: usize = 2048;

/// The most of a verification answer read: it should be the challenge, 64 characters.
const MAX_CHALLENGE_ANSWER: usize = 1024;

/// Deliveries in flight at once, over every subscriber: a thousand subscribers of one
/// feed do not open a thousand connections at once.
const CONCURRENT: usize = 32;

/// Deliveries in flight at once to the callbacks of one host: a host whose callbacks
/// are slow holds these, and the other hosts still have the rest of [`CONCURRENT`].
const PER_HOST: usize = 4;

/// Verifications in flight at once. A pool apart from the deliveries': callbacks that
/// never answer a verification hold these for the timeout, never a delivery's slot.
const VERIFYING: usize = 8;

/// Verifications accepted and not done yet (in flight or waiting for one of the
/// [`VERIFYING`] slots); a request past it is refused with `503` and `Retry-After`,
/// so a burst of requests cannot queue work without end.
const PENDING_VERIFICATIONS: usize = 64;

/// A subscription's key: the feed's route and the callback.
type Key = (String, String);

/// The built-in hub.
pub struct Hub {
    settings: Settings,
    /// The snapshot served: what `hub.topic` must name a feed of.
    snapshots: Arc<ArcSwap<Snapshot>>,
    /// The site's public URL prefix, as links use it: topics are its feeds' URLs.
    base_url: Arc<ArcSwap<String>>,
    client: reqwest::Client,
    subscriptions: Arc<Mutex<BTreeMap<Key, Subscription>>>,
    /// The writer thread's queue, which keeps the database as `subscriptions` is;
    /// `None` when they are in memory only.
    writer: Option<std::sync::mpsc::Sender<(Change, Done)>>,
    /// Why subscriptions are in memory only (for good, or until the writer has
    /// written them again), for `/healthz`.
    problem: Arc<Mutex<Option<String>>>,
    /// The newest change of a feed waiting for each subscriber, and whether a task is
    /// delivering to it: a change that comes before the one waiting was sent replaces it.
    queued: Mutex<HashMap<Key, Slot>>,
    /// Delivery slots, over every subscriber.
    permits: Semaphore,
    /// Delivery slots of each callback host, taken before one of `permits`.
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Verification slots, apart from the deliveries'.
    verifying: Semaphore,
    /// One permit per verification accepted and not done, held by its task.
    pending: Arc<Semaphore>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Slot {
    newest: Option<Arc<Topic>>,
    running: bool,
}

/// A subscription request, read from its form.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Asked {
    subscribe: bool,
    /// The topic's route.
    route: String,
    /// The topic as the subscriber wrote it, for the verification.
    topic: String,
    callback: url::Url,
    lease: Duration,
    secret: Option<String>,
}

/// A change to make to the database, in the order the hub made it in memory.
enum Change {
    Put(Subscription),
    Remove(Key),
    Expire(DateTime<Utc>),
}

/// Told once the writer has tried a change, made or not: a verification waits for it,
/// so that a subscription counted is one written.
type Done = Option<tokio::sync::oneshot::Sender<()>>;

/// How often the writer tries again, while the database refuses its writes.
const WRITE_AGAIN: Duration = Duration::from_secs(2);

/// What became of a delivery.
enum Pushed {
    Done,
    /// `410 Gone`: the subscriber wants no more.
    Gone,
    Failed(String),
}

impl Hub {
    /// The hub, with the subscriptions of the database at `db` whose lease has not
    /// ended; in memory only (and `problem` says why) when `degraded` names why the
    /// ledger is not written or the database cannot be opened.
    pub fn new(
        settings: Settings,
        db: &std::path::Path,
        degraded: Option<String>,
        snapshots: Arc<ArcSwap<Snapshot>>,
        base_url: Arc<ArcSwap<String>>,
        counters: Arc<Counters>,
    ) -> Result<Hub, reqwest::Error> {
        let client =
            net::callback_client(settings.retry.timeout, settings.allow_private_callbacks)?;
        let now = Utc::now();
        let (store, problem, loaded) = match degraded {
            Some(why) => (None, Some(why), Vec::new()),
            None => match SubscriptionStore::open(db).and_then(|store| {
                let loaded = store.load(now)?;
                Ok((store, loaded))
            }) {
                Ok((store, loaded)) => (Some(store), None, loaded),
                Err(err) => {
                    tracing::error!(error = %err, "WebSub subscriptions are kept in memory only");
                    (None, Some(err.to_string()), Vec::new())
                }
            },
        };
        let subscriptions: BTreeMap<Key, Subscription> = loaded
            .into_iter()
            .map(|s| ((s.topic.clone(), s.callback.clone()), s))
            .collect();
        counters.set_subscriptions(subscriptions.len());
        let subscriptions = Arc::new(Mutex::new(subscriptions));
        let problem = Arc::new(Mutex::new(problem));
        let writer = store.map(|store| {
            let (writer, changes) = std::sync::mpsc::channel();
            let (kept, problem) = (Arc::clone(&subscriptions), Arc::clone(&problem));
            // SQLite waits up to its busy timeout for a lock: on a thread of its own,
            // never on the runtime's, and never under a lock a request takes.
            std::thread::Builder::new()
                .name("websub-db".into())
                .spawn(move || write_all(&store, &changes, &kept, &problem))
                .map(|_| writer)
        });
        let writer = match writer {
            Some(Ok(writer)) => Some(writer),
            Some(Err(err)) => {
                tracing::error!(error = %err, "WebSub subscriptions are kept in memory only");
                *lock(&problem) = Some(format!("cannot start the database writer: {err}"));
                None
            }
            None => None,
        };
        Ok(Hub {
            settings,
            snapshots,
            base_url,
            client,
            subscriptions,
            writer,
            problem,
            queued: Mutex::new(HashMap::new()),
            permits: Semaphore::new(CONCURRENT),
            hosts: Mutex::new(HashMap::new()),
            verifying: Semaphore::new(VERIFYING),
            pending: Arc::new(Semaphore::new(PENDING_VERIFICATIONS)),
            counters,
        })
    }

    /// Answers a request to `/websub`: `202` for a subscription request that reads
    /// well (its verification follows in a task), `400` with the reason otherwise.
    pub async fn respond(
        self: &Arc<Self>,
        req: Request<hyper::body::Incoming>,
    ) -> Response<Full<Bytes>> {
        if req.method() != Method::POST {
            let mut response = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "the WebSub hub takes POST requests (hub.mode=subscribe or unsubscribe)",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        let form_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form_type {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the request as application/x-www-form-urlencoded",
            );
        }
        let body = match Limited::new(req.into_body(), MAX_REQUEST).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                return text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("the request body is over {MAX_REQUEST} bytes, or was cut off"),
                )
            }
        };
        let request = match self.read(&body).await {
            Ok(request) => request,
            Err(reason) => return text(StatusCode::BAD_REQUEST, &reason),
        };
        if let Some(reason) = request.subscribe.then(|| self.full(&request)).flatten() {
            return text(StatusCode::TOO_MANY_REQUESTS, &reason);
        }
        let Ok(pending) = Arc::clone(&self.pending).try_acquire_owned() else {
            return self.busy();
        };
        let hub = Arc::clone(self);
        tokio::spawn(async move {
            hub.verify(request).await;
            drop(pending);
        });
        text(
            StatusCode::ACCEPTED,
            "accepted; the callback gets a GET with hub.challenge to confirm",
        )
    }

    /// `503` with `Retry-After`: [`PENDING_VERIFICATIONS`] are waiting already.
    fn busy(&self) -> Response<Full<Bytes>> {
        let wait = self.settings.retry.timeout.as_secs().max(1);
        let mut response = text(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "the hub has {PENDING_VERIFICATIONS} subscription requests waiting for verification; send this one again in {wait} seconds"
            ),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        response
    }

    /// Why a subscription `request` would be one too many (in all, or for its
    /// callback's host), naming the key that raises the cap; `None` for a renewal.
    fn full(&self, request: &Asked) -> Option<String> {
        let subscriptions = lock(&self.subscriptions);
        let key = (request.route.clone(), request.callback.to_string());
        if subscriptions.contains_key(&key) {
            return None;
        }
        let most = self.settings.max_subscriptions;
        if subscriptions.len() >= most {
            return Some(format!(
                "the hub has {most} subscriptions, as many as it keeps; try again later (the site can raise `websub.max_subscriptions`)"
            ));
        }
        let host = host_of(request.callback.as_str());
        let most = self.settings.max_per_host;
        let on_host = subscriptions
            .keys()
            .filter(|(_, callback)| host_of(callback) == host)
            .count();
        (on_host >= most).then(|| {
            format!(
                "the hub has {most} subscriptions with callbacks on {host}, as many as it keeps for one host; unsubscribe one first (the site can raise `websub.max_per_host`)"
            )
        })
    }

    /// Reads and checks a subscription request's form.
    async fn read(&self, body: &[u8]) -> Result<Asked, String> {
        let mut fields: HashMap<String, String> = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            fields
                .entry(name.into_owned())
                .or_insert(value.into_owned());
        }
        let field = |name: &str| fields.get(name).map(String::as_str);
        let subscribe = match field("hub.mode") {
            Some("subscribe") => true,
            Some("unsubscribe") => false,
            Some(other) => {
                return Err(format!(
                    "hub.mode: `{other}` is not a mode of this hub; send subscribe or unsubscribe"
                ))
            }
            None => return Err("hub.mode is missing; send subscribe or unsubscribe".into()),
        };
        let topic = field("hub.topic")
            .ok_or("hub.topic is missing; send the URL of one of this site's feeds")?;
        let subscribed = || {
            let callback = url::Url::parse(field("hub.callback")?).ok()?;
            self.subscribed_route(topic, callback.as_str())
        };
        let route = self.route_of(topic).or_else(subscribed).ok_or_else(|| {
            format!(
                "hub.topic: {topic} is not a feed of this site; send one of its feed URLs, such as {}",
                routes::absolute(&self.base_url.load(), "/rss.xml")
            )
        })?;
        let callback = field("hub.callback")
            .ok_or("hub.callback is missing; send the URL this hub delivers to")?;
        if callback.len() > MAX_CALLBACK {
            return Err(format!(
                "hub.callback is over {MAX_CALLBACK} bytes; give a shorter URL"
            ));
        }
        let callback = url::Url::parse(callback)
            .map_err(|err| format!("hub.callback: {err}; give an absolute http or https URL"))?;
        if let Some(reason) = net::refuse_callback(&callback, self.settings.allow_private_callbacks)
        {
            return Err(reason);
        }
        if let (false, Some(url::Host::Domain(host))) =
            (self.settings.allow_private_callbacks, callback.host())
        {
            let port = callback.port_or_known_default().unwrap_or(443);
            let addrs: Vec<IpAddr> = tokio::net::lookup_host((host, port))
                .await
                .map_err(|err| format!("hub.callback: cannot resolve {host}: {err}"))?
                .map(|addr| addr.ip())
                .collect();
            if let Some(reason) = net::refuse_resolved(host, &addrs, false) {
                return Err(reason);
            }
        }
        let lease =
            match field("hub.lease_seconds") {
                None | Some("") => self.settings.lease,
                Some(text) => Duration::from_secs(text.trim().parse().map_err(|_| {
                    format!("hub.lease_seconds: `{text}` is not a number of seconds")
                })?),
            };
        let lease = lease.clamp(self.settings.min_lease, self.settings.lease);
        let secret = match field("hub.secret") {
            None | Some("") => None,
            Some(secret) if secret.len() >= MAX_SECRET => {
                return Err(format!(
                    "hub.secret is {} bytes; it must be shorter than {MAX_SECRET}",
                    secret.len()
                ))
            }
            Some(secret) => Some(secret.to_string()),
        };
        Ok(Asked {
            subscribe,
            route,
            topic: topic.to_string(),
            callback,
            lease,
            secret,
        })
    }

    /// The route of `topic` when it is the URL of one of the site's feeds, in a format
    /// it publishes, as its feeds link to themselves (no alias, no query).
    fn route_of(&self, topic: &str) -> Option<String> {
        let route = topic.strip_prefix(self.base_url.load().as_str())?;
        super::is_feed_route(&self.snapshots.load(), route).then(|| route.to_string())
    }

    /// The route `callback` is subscribed to under `topic` when `topic` is that feed's
    /// URL under another scheme or host: a `base_url` changed since, and the
    /// subscriber renewing or ending its subscription with the URL it was given. Only
    /// for a subscription there is: a new one takes the feed's URL as it is now.
    fn subscribed_route(&self, topic: &str, callback: &str) -> Option<String> {
        let topic = url::Url::parse(topic).ok()?;
        if topic.query().is_some() || topic.fragment().is_some() {
            return None;
        }
        // The site's own path prefix, when its base_url has one (`/news`).
        let base = url::Url::parse(&self.base_url.load()).ok();
        let prefix = base
            .as_ref()
            .map_or("", |base| base.path().trim_end_matches('/'));
        let path = topic.path();
        let route = path.strip_prefix(prefix).unwrap_or(path);
        let key = (route.to_string(), callback.to_string());
        (lock(&self.subscriptions).contains_key(&key)
            && super::is_feed_route(&self.snapshots.load(), route))
        .then_some(key.0)
    }

    /// Verifies the intent of `request` (section 5.3): a GET to its callback carrying a
    /// random challenge, which must come back as the whole body of a 2xx answer. Only
    /// then is the subscription made, renewed or ended.
    async fn verify(self: Arc<Self>, request: Asked) {
        let challenge = match challenge() {
            Ok(challenge) => challenge,
            Err(err) => {
                tracing::error!("cannot make a WebSub challenge: {err}; the request is dropped");
                return;
            }
        };
        let mode = if request.subscribe {
            "subscribe"
        } else {
            "unsubscribe"
        };
        let mut url = request.callback.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("hub.mode", mode)
                .append_pair("hub.topic", &request.topic)
                .append_pair("hub.challenge", &challenge);
            if request.subscribe {
                query.append_pair("hub.lease_seconds", &request.lease.as_secs().to_string());
            }
        }
        let answered = {
            let _permit = self.verifying.acquire().await;
            self.ask(&url, &challenge).await
        };
        let callback = request.callback.as_str();
        let failed = |what: String| {
            self.counters
                .verifications_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(callback, topic = request.topic, "WebSub {what}");
        };
        if let Err(reason) = answered {
            failed(format!("{mode} not verified: {reason}"));
            return;
        }
        if let Some(reason) = request.subscribe.then(|| self.full(&request)).flatten() {
            // Others were verified while this one waited.
            failed(format!("subscription not kept: {reason}"));
            return;
        }
        if request.subscribe {
            let subscription = Subscription {
                topic: request.route,
                callback: callback.to_string(),
                secret: request.secret,
                expires: Utc::now()
                    + chrono::Duration::from_std(request.lease)
                        .unwrap_or(chrono::Duration::days(10)),
            };
            tracing::info!(
                callback,
                topic = request.topic,
                lease_seconds = request.lease.as_secs(),
                "WebSub subscription verified"
            );
            self.keep(subscription).await;
        } else {
            tracing::info!(callback, topic = request.topic, "WebSub unsubscribed");
            self.forget(&(request.route, callback.to_string())).await;
        }
        // Counted once done: a count seen means the subscription is there (or gone).
        self.counters
            .verifications_ok
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The GET of a verification: `Ok` when the callback answered 2xx with exactly
    /// `challenge`.
    async fn ask(&self, url: &url::Url, challenge: &str) -> Result<(), String> {
        if let Some(reason) = net::refuse_callback(url, self.settings.allow_private_callbacks) {
            return Err(reason);
        }
        let mut response = self
            .client
            .get(url.as_str())
            .send()
            .await
            .map_err(|err| describe(&err, &self.settings.retry))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the callback answered {status}"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| describe(&err, &self.settings.retry))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_CHALLENGE_ANSWER {
                break;
            }
        }
        if body != challenge.as_bytes() {
            return Err("the callback did not answer with the challenge".into());
        }
        Ok(())
    }

    /// Adds or renews `subscription`, in memory and in the database.
    async fn keep(&self, subscription: Subscription) {
        let key = (subscription.topic.clone(), subscription.callback.clone());
        lock(&self.subscriptions).insert(key, subscription.clone());
        self.write(Change::Put(subscription)).await;
    }

    /// Ends the subscription of `key`, in memory and in the database.
    async fn forget(&self, key: &Key) {
        lock(&self.subscriptions).remove(key);
        self.write(Change::Remove(key.clone())).await;
    }

    /// Drops every subscription whose lease has ended by `now`.
    pub fn purge(&self, now: DateTime<Utc>) {
        let mut subscriptions = lock(&self.subscriptions);
        let before = subscriptions.len();
        subscriptions.retain(|_, s| s.expires > now);
        if subscriptions.len() < before {
            tracing::info!(
                "{} WebSub subscriptions ended with their lease",
                before - subscriptions.len()
            );
        }
        self.counters.set_subscriptions(subscriptions.len());
        drop(subscriptions);
        if let Some(writer) = &self.writer {
            let _ = writer.send((Change::Expire(now), None));
        }
        // The slots of hosts no delivery holds or waits for.
        lock(&self.hosts).retain(|_, slots| Arc::strong_count(slots) > 1);
    }

    /// Hands `change` (made in memory already) to the writer and waits until it was
    /// tried; then counts the subscriptions, so a count seen is one written (or one
    /// `/healthz` says is not).
    async fn write(&self, change: Change) {
        if let Some(writer) = &self.writer {
            let (done, tried) = tokio::sync::oneshot::channel();
            if writer.send((change, Some(done))).is_ok() {
                let _ = tried.await;
            }
        }
        self.counters
            .set_subscriptions(lock(&self.subscriptions).len());
    }

    /// Why subscriptions are kept in memory only, if they are.
    pub fn problem(&self) -> Option<String> {
        lock(&self.problem).clone()
    }

    /// True when subscriptions go to the state database (even if a write is being
    /// tried again), false when they are kept in memory for good.
    pub fn has_database(&self) -> bool {
        self.writer.is_some()
    }

    /// Queues `topic`'s new body for each of its subscribers, and starts a delivery
    /// task for each that has none running. A body still waiting is replaced: a
    /// subscriber gets the newest, not every one in between.
    pub fn deliver(self: &Arc<Self>, topic: Arc<Topic>) {
        let now = Utc::now();
        let callbacks: Vec<Key> = lock(&self.subscriptions)
            .range((topic.route.clone(), String::new())..)
            .take_while(|((route, _), _)| *route == topic.route)
            .filter(|(_, s)| s.expires > now)
            .map(|(key, _)| key.clone())
            .collect();
        let mut queued = lock(&self.queued);
        for key in callbacks {
            let slot = queued.entry(key.clone()).or_default();
            slot.newest = Some(Arc::clone(&topic));
            if !slot.running {
                slot.running = true;
                let hub = Arc::clone(self);
                tokio::spawn(async move { hub.deliveries(key).await });
            }
        }
    }

    /// Delivers to one subscriber until nothing is queued for it: each body with its
    /// retries, a newer body taking the place of one still being retried.
    async fn deliveries(self: Arc<Self>, key: Key) {
        let retry = self.settings.retry.clone();
        let mut current: Option<Arc<Topic>> = None;
        let mut tries = 0;
        loop {
            {
                let mut queued = lock(&self.queued);
                let slot = queued.entry(key.clone()).or_default();
                if let Some(newer) = slot.newest.take() {
                    current = Some(newer);
                    tries = 0;
                } else if current.is_none() {
                    queued.remove(&key);
                    return;
                }
            }
            let Some(topic) = current.clone() else {
                continue;
            };
            let subscription = lock(&self.subscriptions).get(&key).cloned();
            let Some(subscription) = subscription.filter(|s| s.expires > Utc::now()) else {
                // Unsubscribed or expired meanwhile: whatever is queued goes nowhere.
                current = None;
                lock(&self.queued).entry(key.clone()).or_default().newest = None;
                continue;
            };
            let pushed = {
                let host = self.host_slots(&key.1);
                let _host = host.acquire().await;
                let _permit = self.permits.acquire().await;
                self.push(&subscription, &topic).await
            };
            tries += 1;
            match pushed {
                Pushed::Done => {
                    self.counters.delivered();
                    current = None;
                }
                Pushed::Gone => {
                    tracing::info!(
                        callback = key.1,
                        topic = topic.url,
                        "the callback answered 410 Gone; its subscription ends"
                    );
                    self.forget(&key).await;
                    current = None;
                }
                Pushed::Failed(reason) => {
                    self.counters
                        .delivery_failures
                        .fetch_add(1, Ordering::Relaxed);
                    match retry.delays.get(tries - 1) {
                        Some(wait) => {
                            tracing::warn!(
                                callback = key.1,
                                topic = topic.url,
                                "WebSub delivery failed ({reason}); trying again in {:?}",
                                wait
                            );
                            tokio::time::sleep(*wait).await;
                        }
                        None => {
                            tracing::warn!(
                                callback = key.1,
                                topic = topic.url,
                                "WebSub delivery failed ({reason}); given up after {tries} tries"
                            );
                            self.counters.delivery_given_up();
                            current = None;
                        }
                    }
                }
            }
        }
    }

    /// The delivery slots of `callback`'s host.
    fn host_slots(&self, callback: &str) -> Arc<Semaphore> {
        let mut hosts = lock(&self.hosts);
        Arc::clone(
            hosts
                .entry(host_of(callback))
                .or_insert_with(|| Arc::new(Semaphore::new(PER_HOST))),
        )
    }

    /// One delivery (section 7): the feed's body as `GET` serves it, its content type,
    /// the hub and self links, and the signature when the subscriber gave a secret.
    async fn push(&self, subscription: &Subscription, topic: &Topic) -> Pushed {
        let Ok(url) = url::Url::parse(&subscription.callback) else {
            return Pushed::Failed("the callback is not a URL".into());
        };
        if let Some(reason) = net::refuse_callback(&url, self.settings.allow_private_callbacks) {
            return Pushed::Failed(reason);
        }
        let hub_url = routes::absolute(&self.base_url.load(), routes::WEBSUB);
        let mut request = self
            .client
            .post(url.as_str())
            .header(header::CONTENT_TYPE, topic.content_type)
            .header(header::LINK, link_header(&[hub_url], &topic.url));
        if let Some(secret) = &subscription.secret {
            request = request.header("X-Hub-Signature", signature(secret, &topic.body));
        }
        match request.body(topic.body.clone()).send().await {
            Ok(response) if response.status().is_success() => Pushed::Done,
            Ok(response) if response.status() == StatusCode::GONE => Pushed::Gone,
            Ok(response) => Pushed::Failed(format!("the callback answered {}", response.status())),
            Err(err) => Pushed::Failed(describe(&err, &self.settings.retry)),
        }
    }

    /// The routes of the feeds someone subscribed to.
    pub fn topics(&self) -> std::collections::BTreeSet<String> {
        lock(&self.subscriptions)
            .keys()
            .map(|(route, _)| route.clone())
            .collect()
    }

    /// The subscriptions, for `/healthz`: how many.
    pub fn count(&self) -> usize {
        lock(&self.subscriptions).len()
    }
}

/// The writer thread: makes each change in the database, in order. When one fails
/// (the database locked past its busy timeout, the disk full), it says so in
/// `problem` and writes the whole set as memory has it, at the next change or every
/// [`WRITE_AGAIN`], until that is written; nothing made meanwhile is lost.
fn write_all(
    store: &SubscriptionStore,
    changes: &std::sync::mpsc::Receiver<(Change, Done)>,
    kept: &Mutex<BTreeMap<Key, Subscription>>,
    problem: &Mutex<Option<String>>,
) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut behind = false;
    loop {
        let mut done = Vec::new();
        let change = if behind {
            match changes.recv_timeout(WRITE_AGAIN) {
                Ok((change, tell)) => {
                    done.push(tell);
                    Some(change)
                }
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match changes.recv() {
                Ok((change, tell)) => {
                    done.push(tell);
                    Some(change)
                }
                Err(_) => return,
            }
        };
        let written = match change {
            Some(change) if !behind => match change {
                Change::Put(subscription) => store.put(&subscription),
                Change::Remove((topic, callback)) => store.remove(&topic, &callback),
                Change::Expire(now) => store.remove_expired(now).map(|_| ()),
            },
            _ => {
                // The changes queued meanwhile are in memory already: one write of
                // the whole set makes them all.
                done.extend(changes.try_iter().map(|(_, tell)| tell));
                let now = Utc::now();
                let all: Vec<Subscription> = lock(kept)
                    .values()
                    .filter(|s| s.expires > now)
                    .cloned()
                    .collect();
                store.replace_all(&all)
            }
        };
        match written {
            Ok(()) if behind => {
                tracing::info!("WebSub subscriptions written to the state database again");
                *lock(problem) = None;
                behind = false;
            }
            Ok(()) => {}
            Err(err) => {
                if !behind {
                    tracing::warn!(
                        error = %err,
                        "WebSub subscriptions not written; trying again every {WRITE_AGAIN:?}"
                    );
                }
                *lock(problem) = Some(format!(
                    "{err}; trying again every {} s",
                    WRITE_AGAIN.as_secs()
                ));
                behind = true;
            }
        }
        for tell in done.into_iter().flatten() {
            let _ = tell.send(());
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` keyed with `secret` (section 8).
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// A fresh random challenge: 32 bytes from the system's generator, in hex.
fn challenge() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// What went wrong with a request, in a few words for the log.
fn describe(err: &reqwest::Error, retry: &Retry) -> String {
    if err.is_timeout() {
        format!("no answer within {:?}", retry.timeout)
    } else if err.is_connect() {
        let cause = std::error::Error::source(err)
            .map(|source| format!(": {source}"))
            .unwrap_or_default();
        format!("cannot connect{cause}")
    } else {
        err.to_string()
    }
}

/// The host of a callback URL, as caps and delivery slots count them (ports apart).
fn host_of(callback: &str) -> String {
    url::Url::parse(callback)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_default()
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these leaves plain maps behind: still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_challenge_is_64_hex_digits_and_new_each_time() {
        let (a, b) = (challenge().unwrap(), challenge().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
