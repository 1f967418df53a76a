//! WebSub end to end, over real sockets on loopback: the daemon in-process with real
//! inotify and its state database, test subscribers and fake hubs that are small
//! hyper servers recording what reaches them, and a real HTTP client.
//!
//! Absence ("no push after unsubscribing") is never waited for with a timer: a second
//! subscriber to the same feed is the witness, and once it has the push, the other
//! would have had it too.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::site::{article, folder, write, Site};
use common::{wait_until, PATIENCE};
use dropfeed::config::{Config, Retry};
use dropfeed::publish::Daemon;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use reqwest::StatusCode;

/// What a test server does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// 2xx: echoes `hub.challenge` to a GET, takes a POST with 204.
    Fine,
    /// Answers every POST with this status (verifications still pass).
    Status(u16),
    /// Never answers a POST (verifications still pass).
    Hang,
    /// Answers a verification with something other than the challenge.
    WrongChallenge,
    /// Never answers a verification (a GET).
    HangVerification,
    /// Holds each POST until the test lets one through ([`Peer::let_through`]).
    Gated,
}

/// One request a test server got.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// The query (GET) or the form (POST to a hub), decoded.
    fields: Vec<(String, String)>,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Seen {
    fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A subscriber's callback (or a fake hub) on 127.0.0.1, recording every request.
struct Peer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    gate: Arc<tokio::sync::Semaphore>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Peer {
    async fn start(behaviour: Behaviour) -> Peer {
        Peer::start_on("127.0.0.1", behaviour).await
    }

    /// A peer on another loopback address (Linux routes all of 127/8 to `lo`): a host
    /// of its own, as the hub counts hosts.
    async fn start_on(ip: &str, behaviour: Behaviour) -> Peer {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let record = Arc::clone(&seen);
        let gates = Arc::clone(&gate);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let record = Arc::clone(&record);
                let gate = Arc::clone(&gates);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<_>| {
                        let record = Arc::clone(&record);
                        let gate = Arc::clone(&gate);
                        async move { Ok::<_, Infallible>(answer(req, behaviour, &record, &gate).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Peer {
            addr,
            seen,
            gate,
            task,
        }
    }

    /// Lets one held POST be answered.
    fn let_through(&self) {
        self.gate.add_permits(1);
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn posts(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "POST")
            .collect()
    }

    /// Waits until `count` requests of `method` have come, and gives them.
    async fn got(&self, method: &str, count: usize, what: &str) -> Vec<Seen> {
        wait_until(PATIENCE, what, || async {
            let seen: Vec<Seen> = self
                .seen()
                .into_iter()
                .filter(|s| s.method == method)
                .collect();
            if seen.len() >= count {
                Ok(seen)
            } else {
                Err(format!("{} {method} requests: {seen:#?}", seen.len()))
            }
        })
        .await
    }

    /// Waits until a push whose body holds `text` has come, and gives it.
    async fn pushed(&self, text: &str, what: &str) -> Seen {
        wait_until(PATIENCE, what, || async {
            let posts = self.posts();
            posts
                .iter()
                .find(|s| s.text().contains(text))
                .cloned()
                .ok_or_else(|| format!("{} pushes, none with {text:?}", posts.len()))
        })
        .await
    }
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    behaviour: Behaviour,
    record: &Mutex<Vec<Seen>>,
    gate: &tokio::sync::Semaphore,
) -> Response<Full<Bytes>> {
    let method = req.method().to_string();
    let headers = req.headers().clone();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let fields: Vec<(String, String)> = if method == "GET" {
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    } else {
        url::form_urlencoded::parse(&body).into_owned().collect()
    };
    let challenge = fields
        .iter()
        .find(|(n, _)| n == "hub.challenge")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    record.lock().unwrap().push(Seen {
        method: method.clone(),
        fields,
        headers,
        body,
    });
    let respond = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    match (method.as_str(), behaviour) {
        ("GET", Behaviour::WrongChallenge) => respond(200, "yes".into()),
        ("GET", Behaviour::HangVerification) => {
            std::future::pending::<()>().await;
            respond(200, challenge)
        }
        ("GET", _) => respond(200, challenge),
        (_, Behaviour::Status(status)) => respond(status, String::new()),
        (_, Behaviour::Gated) => {
            gate.acquire().await.unwrap().forget();
            respond(204, String::new())
        }
        (_, Behaviour::Hang) => {
            std::future::pending::<()>().await;
            respond(204, String::new())
        }
        _ => respond(204, String::new()),
    }
}

/// The config of every test site: callbacks on loopback allowed (the subscribers are
/// there), leases down to a second.
const CONFIG: &str = "[site]\ntitle = \"Example News\"\n\n[websub]\nallow_private_callbacks = true\nmin_lease_seconds = 1\n";

/// Retries in fractions of a second, so a test sees a delivery given up.
fn quick_retry() -> Retry {
    Retry {
        timeout: Duration::from_millis(1500),
        delays: vec![Duration::from_millis(100), Duration::from_millis(200)],
    }
}

/// Serves the site in `dir` with quick retries.
async fn serve(dir: tempfile::TempDir) -> Site {
    serve_with(dir, quick_retry()).await
}

async fn serve_with(dir: tempfile::TempDir, retry: Retry) -> Site {
    let mut config = Config::load(&dir.path().join("config.toml")).unwrap();
    config.websub.retry = retry;
    let daemon = Daemon::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    Site::run(dir, daemon)
}

async fn site_with(config: &str) -> Site {
    serve(folder(config, &[("night-bus.txt", &night_bus())])).await
}

fn night_bus() -> String {
    article(
        "Dana Whitfield",
        "March 3, 2019",
        "Transit",
        "The council voted 7–2 on Tuesday to extend the night bus pilot.",
    )
}

/// A new post in Transit whose body holds `text`, written whole and then moved into
/// `posts/`, so no publish sees it half written.
fn drop_post(site: &Site, name: &str, text: &str) {
    let staged = site.outside().join(name);
    write(
        &staged,
        &article("Bo Chen", "January 18, 2020", "Transit", text),
    );
    std::fs::rename(&staged, site.posts().join(name)).unwrap();
}

impl Site {
    fn url(&self, route: &str) -> String {
        format!("http://{}{route}", self.addr)
    }

    /// POSTs a subscription request with `fields` to `/websub`.
    async fn ask_hub(&self, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let response = self
            .client
            .post(self.url("/websub"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    /// Subscribes `callback` to the feed at `route`, and waits until the hub counts
    /// `expected` subscriptions (the callback has confirmed).
    async fn subscribe(&self, route: &str, callback: &str, extra: &[(&str, &str)]) {
        let topic = self.url(route);
        let mut fields = vec![
            ("hub.mode", "subscribe"),
            ("hub.topic", topic.as_str()),
            ("hub.callback", callback),
        ];
        fields.extend_from_slice(extra);
        let (status, text) = self.ask_hub(&fields).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{text}");
        assert_eq!(
            text,
            "accepted; the callback gets a GET with hub.challenge to confirm\n"
        );
    }

    /// `/metrics` as Prometheus scrapes it.
    async fn metrics(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    async fn websub_health(&self) -> serde_json::Value {
        self.health().await["websub"].clone()
    }

    /// Waits until WebSub's part of `/healthz` has `value` at `key`.
    async fn health_shows(&self, key: &str, value: serde_json::Value, what: &str) {
        wait_until(PATIENCE, what, || async {
            let health = self.websub_health().await;
            if health[key] == value {
                Ok(())
            } else {
                Err(format!("{health:#}"))
            }
        })
        .await;
    }
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_subscriber_gets_each_new_post_signed_then_renews_and_unsubscribes() {
    let site = site_with(CONFIG).await;
    let reader = Peer::start(Behaviour::Fine).await;
    let witness = Peer::start(Behaviour::Fine).await;
    let route = "/categories/transit/rss.xml";
    let topic = site.url(route);

    site.subscribe(
        route,
        &reader.url("/push/1?user=7"),
        &[
            ("hub.secret", "first secret"),
            ("hub.lease_seconds", "3600"),
        ],
    )
    .await;
    let asked = reader.got("GET", 1, "the verification of intent").await;
    assert_eq!(asked[0].field("hub.mode"), "subscribe");
    assert_eq!(asked[0].field("hub.topic"), topic);
    assert_eq!(asked[0].field("hub.lease_seconds"), "3600");
    assert_eq!(asked[0].field("user"), "7");
    assert_eq!(asked[0].field("hub.challenge").len(), 64);
    site.subscribe(route, &witness.url("/push"), &[]).await;
    site.health_shows("subscriptions", 2.into(), "both verified")
        .await;

    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    let push = reader.pushed("Frost warning", "the signed push").await;
    let served = site.get(route).await;
    assert_eq!(
        push.body, served.body,
        "the push is the feed as GET serves it"
    );
    assert_eq!(
        push.header("content-type"),
        "application/rss+xml; charset=utf-8"
    );
    assert_eq!(
        push.header("link"),
        format!(
            "<{}>; rel=\"hub\", <{topic}>; rel=\"self\"",
            site.url("/websub")
        )
    );
    assert_eq!(
        push.header("x-hub-signature"),
        format!("sha256={}", hmac_hex("first secret", &push.body))
    );
    // The title comes from the file name; the text is the post's.
    assert!(
        push.text().contains("<title>Frost</title>"),
        "{}",
        push.text()
    );
    assert!(push
        .text()
        .contains("<p>Frost warning for the valley tonight.</p>"));
    let unsigned = witness.pushed("Frost warning", "the witness's push").await;
    assert_eq!(unsigned.header("x-hub-signature"), "");

    // Subscribing again renews the lease and replaces the secret.
    site.subscribe(
        route,
        &reader.url("/push/1?user=7"),
        &[("hub.secret", "second secret")],
    )
    .await;
    reader.got("GET", 2, "the renewal's verification").await;
    site.health_shows("verifications_ok", 3.into(), "the renewal verified")
        .await;
    assert_eq!(site.websub_health().await["subscriptions"], 2);
    // `/metrics` counts what the hub did: two subscribers, each given the frost post.
    let metrics = site.metrics().await;
    for line in [
        "dropfeed_websub_subscriptions 2\n",
        "dropfeed_websub_deliveries_total 2\n",
        "dropfeed_websub_delivery_failures_total 0\n",
        "dropfeed_http_requests_total{kind=\"websub\",status=\"202\"} 3\n",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    drop_post(&site, "hail.txt", "Hail expected by noon.");
    let push = reader
        .pushed("Hail expected", "the push after renewing")
        .await;
    assert_eq!(
        push.header("x-hub-signature"),
        format!("sha256={}", hmac_hex("second secret", &push.body))
    );

    // Unsubscribing is verified as subscribing is; then the reader gets no more.
    let (status, _) = site
        .ask_hub(&[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", topic.as_str()),
            ("hub.callback", &reader.url("/push/1?user=7")),
        ])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let asked = reader
        .got("GET", 3, "the unsubscription's verification")
        .await;
    assert_eq!(asked[2].field("hub.mode"), "unsubscribe");
    site.health_shows("subscriptions", 1.into(), "the unsubscription verified")
        .await;
    let before = reader.posts().len();
    drop_post(&site, "fog.txt", "Fog closes the bridge.");
    witness
        .pushed("Fog closes", "the witness's push after the unsubscription")
        .await;
    assert_eq!(reader.posts().len(), before, "{:#?}", reader.posts());
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_that_ends_ends_the_deliveries() {
    let site = site_with(CONFIG).await;
    let brief = Peer::start(Behaviour::Fine).await;
    let witness = Peer::start(Behaviour::Fine).await;
    let route = "/rss.xml";
    site.subscribe(route, &brief.url("/push"), &[("hub.lease_seconds", "1")])
        .await;
    site.subscribe(route, &witness.url("/push"), &[]).await;
    let asked = brief.got("GET", 1, "the verification").await;
    assert_eq!(asked[0].field("hub.lease_seconds"), "1");
    site.health_shows("verifications_ok", 2.into(), "both verified")
        .await;
    // Dropped from the hub (and its database) once the lease has run out.
    site.health_shows("subscriptions", 1.into(), "the short lease ended")
        .await;
    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    witness.pushed("Frost warning", "the witness's push").await;
    assert_eq!(brief.posts().len(), 0, "{:#?}", brief.posts());
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_outlives_a_restart() {
    let site = site_with(CONFIG).await;
    let reader = Peer::start(Behaviour::Fine).await;
    site.subscribe(
        "/categories/transit/atom.xml",
        &reader.url("/push"),
        &[("hub.secret", "kept")],
    )
    .await;
    site.health_shows("subscriptions", 1.into(), "verified")
        .await;
    let dir = site.stop().await;

    let site = serve(dir).await;
    assert_eq!(site.websub_health().await["subscriptions"], 1);
    assert_eq!(
        site.websub_health().await["subscriptions_kept"],
        "in the state database"
    );
    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    let push = reader
        .pushed("Frost warning", "the push after a restart")
        .await;
    assert_eq!(
        push.header("content-type"),
        "application/atom+xml; charset=utf-8"
    );
    assert_eq!(
        push.header("x-hub-signature"),
        format!("sha256={}", hmac_hex("kept", &push.body))
    );
    assert_eq!(
        push.body,
        site.get("/categories/transit/atom.xml").await.body
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_subscribers_are_retried_then_given_up_and_a_healthy_one_still_gets_its_push() {
    let site = site_with(CONFIG).await;
    let hanging = Peer::start(Behaviour::Hang).await;
    let failing = Peer::start(Behaviour::Status(500)).await;
    let healthy = Peer::start(Behaviour::Fine).await;
    let gone = Peer::start(Behaviour::Status(410)).await;
    let route = "/feed.json";
    for peer in [&hanging, &failing, &healthy, &gone] {
        site.subscribe(route, &peer.url("/push"), &[]).await;
    }
    site.health_shows("subscriptions", 4.into(), "all verified")
        .await;

    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    let push = healthy
        .pushed("Frost warning", "the healthy subscriber's push")
        .await;
    assert_eq!(
        push.header("content-type"),
        "application/feed+json; charset=utf-8"
    );
    // Three tries each (the first and two retries), then given up.
    site.health_shows("deliveries_given_up", 2.into(), "both given up")
        .await;
    site.health_shows("deliveries_ok", 1.into(), "the healthy push counted")
        .await;
    site.health_shows("subscriptions", 3.into(), "the 410 subscriber dropped")
        .await;
    let health = site.websub_health().await;
    assert_eq!(health["delivery_failures"], 6);
    assert_eq!(hanging.posts().len(), 3);
    assert_eq!(failing.posts().len(), 3);
    // 410 Gone ends the subscription at once.
    assert_eq!(gone.posts().len(), 1);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_the_hub_cannot_take_get_400_with_the_reason() {
    let site = site_with(CONFIG).await;
    let reader = Peer::start(Behaviour::Fine).await;
    let callback = reader.url("/push");
    let feed = site.url("/rss.xml");
    let alias = site.url("/feed/");
    let long_secret = "s".repeat(200);
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", "https://elsewhere.example.org/rss.xml"),
                ("hub.callback", &callback),
            ],
            format!("hub.topic: https://elsewhere.example.org/rss.xml is not a feed of this site; send one of its feed URLs, such as {feed}\n"),
        ),
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", &alias),
                ("hub.callback", &callback),
            ],
            format!("hub.topic: {alias} is not a feed of this site; send one of its feed URLs, such as {feed}\n"),
        ),
        (
            vec![("hub.topic", &feed), ("hub.callback", &callback)],
            "hub.mode is missing; send subscribe or unsubscribe\n".into(),
        ),
        (
            vec![
                ("hub.mode", "publish"),
                ("hub.topic", &feed),
                ("hub.callback", &callback),
            ],
            "hub.mode: `publish` is not a mode of this hub; send subscribe or unsubscribe\n".into(),
        ),
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", &feed),
                ("hub.callback", "not a url"),
            ],
            "hub.callback: relative URL without a base; give an absolute http or https URL\n".into(),
        ),
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", &feed),
                ("hub.callback", &callback),
                ("hub.secret", &long_secret),
            ],
            "hub.secret is 200 bytes; it must be shorter than 200\n".into(),
        ),
    ];
    for (fields, expected) in cases {
        let (status, text) = site.ask_hub(&fields).await;
        assert_eq!((status, text), (StatusCode::BAD_REQUEST, expected));
    }
    let get = site.get("/websub").await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.header("allow"), "POST");
    assert!(reader.seen().is_empty(), "{:#?}", reader.seen());
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_that_does_not_echo_the_challenge_is_not_subscribed() {
    let site = site_with(CONFIG).await;
    let liar = Peer::start(Behaviour::WrongChallenge).await;
    site.subscribe("/rss.xml", &liar.url("/push"), &[]).await;
    site.health_shows("verifications_failed", 1.into(), "the verification failed")
        .await;
    assert_eq!(site.websub_health().await["subscriptions"], 0);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_callbacks_are_refused_unless_allowed() {
    let site = site_with("[websub]\n").await;
    let reader = Peer::start(Behaviour::Fine).await;
    let feed = site.url("/rss.xml");
    for (callback, host) in [
        (reader.url("/push"), "127.0.0.1".to_string()),
        (
            format!("http://localhost:{}/push", reader.addr.port()),
            "localhost".to_string(),
        ),
        ("http://[::1]:9/push".to_string(), "::1".to_string()),
        ("http://10.0.0.8/push".to_string(), "10.0.0.8".to_string()),
    ] {
        let (status, text) = site
            .ask_hub(&[
                ("hub.mode", "subscribe"),
                ("hub.topic", &feed),
                ("hub.callback", &callback),
            ])
            .await;
        assert_eq!(
            (status, text),
            (
                StatusCode::BAD_REQUEST,
                format!("hub.callback: {host} is a loopback or private address, which this hub does not call; give a public URL (or set `websub.allow_private_callbacks` on this server)\n")
            )
        );
    }
    // Refused before any request is sent: the callback never heard of it.
    assert!(reader.seen().is_empty(), "{:#?}", reader.seen());
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_feed_names_the_built_in_hub_in_its_body_and_link_header() {
    let site = site_with(CONFIG).await;
    let hub = site.url("/websub");
    let rss = site.get("/categories/transit/rss.xml").await;
    assert!(
        rss.text()
            .contains(&format!(r#"<atom:link href="{hub}" rel="hub"/>"#)),
        "{}",
        rss.text()
    );
    assert_eq!(
        rss.header("link"),
        format!(
            "<{hub}>; rel=\"hub\", <{}>; rel=\"self\"",
            site.url("/categories/transit/rss.xml")
        )
    );
    let atom = site.get("/atom.xml").await;
    assert!(atom
        .text()
        .contains(&format!(r#"<link href="{hub}" rel="hub"/>"#)));
    let json: serde_json::Value =
        serde_json::from_slice(&site.get("/feed.json").await.body).unwrap();
    assert_eq!(
        json["hubs"],
        serde_json::json!([{"type": "WebSub", "url": hub}])
    );
    // Pages are not topics: no Link header.
    assert_eq!(site.get("/").await.header("link"), "");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_hubs_are_pinged_after_a_drop_and_a_failing_one_shows_in_healthz() {
    let hub = Peer::start(Behaviour::Fine).await;
    let broken = Peer::start(Behaviour::Status(500)).await;
    let config = format!(
        "[websub]\nhubs = [\"{}\", \"{}\"]\n",
        hub.url("/"),
        broken.url("/ping")
    );
    let site = site_with(&config).await;
    let rss = site.get("/categories/transit/rss.xml").await;
    assert!(rss.text().contains(&format!(
        r#"<atom:link href="{}" rel="hub"/>"#,
        hub.url("/")
    )));
    // With hubs named, the built-in one is off unless asked for.
    assert!(!rss.text().contains("/websub"), "{}", rss.text());

    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    let category = site.url("/categories/transit/rss.xml");
    let ping = wait_until(PATIENCE, "the ping for the category feed", || async {
        hub.posts()
            .into_iter()
            .find(|s| s.field("hub.url") == category)
            .ok_or_else(|| format!("{:#?}", hub.posts()))
    })
    .await;
    assert_eq!(ping.field("hub.mode"), "publish");
    assert_eq!(ping.field("hub.topic"), category);
    assert_eq!(
        ping.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    // Each feed whose body the drop changed, in each format: the site's, Transit's and
    // the new author's; not Dana Whitfield's, which did not change.
    let expected: std::collections::BTreeSet<String> = [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/categories/transit/rss.xml",
        "/categories/transit/atom.xml",
        "/categories/transit/feed.json",
        "/authors/bo-chen/rss.xml",
        "/authors/bo-chen/atom.xml",
        "/authors/bo-chen/feed.json",
    ]
    .iter()
    .map(|route| site.url(route))
    .collect();
    let urls = wait_until(PATIENCE, "a ping for each changed feed", || async {
        let urls: std::collections::BTreeSet<String> = hub
            .posts()
            .iter()
            .map(|s| s.field("hub.url").to_string())
            .collect();
        if urls.len() >= expected.len() {
            Ok(urls)
        } else {
            Err(format!("{urls:#?}"))
        }
    })
    .await;
    assert_eq!(urls, expected);
    let pinged = expected.len();
    site.health_shows(
        "pings_given_up",
        pinged.into(),
        "the broken hub given up on",
    )
    .await;
    site.health_shows("pings_ok", pinged.into(), "the good hub's pings counted")
        .await;
    let health = site.websub_health().await;
    assert_eq!(broken.posts().len(), 3 * pinged);
    assert_eq!(health["hubs"][0]["url"], hub.url("/"));
    assert!(health["hubs"][0]["last_success"].is_string(), "{health:#}");
    assert_eq!(health["hubs"][0]["last_failure"], serde_json::Value::Null);
    assert_eq!(health["hubs"][1]["url"], broken.url("/ping"));
    assert_eq!(
        health["hubs"][1]["last_error"],
        "the hub answered 500 Internal Server Error"
    );
    assert!(health["hubs"][1]["last_failure"].is_string(), "{health:#}");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_state_database_subscriptions_are_kept_in_memory_and_healthz_says_so() {
    let config = format!("{CONFIG}\n[state]\ndb = \"no-such-folder/dropfeed.db\"\n");
    let site = site_with(&config).await;
    let reader = Peer::start(Behaviour::Fine).await;
    let health = site.health().await;
    assert_eq!(health["status"], "degraded");
    let kept = health["websub"]["subscriptions_kept"].as_str().unwrap();
    assert!(
        kept.starts_with("in memory only, lost at a restart: "),
        "{kept}"
    );
    site.subscribe("/rss.xml", &reader.url("/push"), &[]).await;
    site.health_shows("subscriptions", 1.into(), "verified")
        .await;
    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    reader.pushed("Frost warning", "the push").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_that_come_while_a_delivery_is_in_flight_are_sent_once_as_the_newest() {
    // A timeout longer than the test's patience: the held delivery is not cut short.
    let retry = Retry {
        timeout: Duration::from_secs(60),
        delays: vec![Duration::from_millis(100)],
    };
    let site = serve_with(folder(CONFIG, &[("night-bus.txt", &night_bus())]), retry).await;
    let slow = Peer::start(Behaviour::Gated).await;
    // The hub queues a change for every subscriber of a feed at once: once the witness
    // has it, it waits for the slow one too.
    let witness = Peer::start(Behaviour::Fine).await;
    let route = "/categories/transit/rss.xml";
    site.subscribe(route, &slow.url("/push"), &[]).await;
    site.subscribe(route, &witness.url("/push"), &[]).await;
    site.health_shows("subscriptions", 2.into(), "verified")
        .await;

    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    slow.got("POST", 1, "the first push, held").await;
    // Two more changes while the first delivery is held: each is published...
    drop_post(&site, "hail.txt", "Hail expected by noon.");
    witness.pushed("Hail expected", "hail published").await;
    drop_post(&site, "fog.txt", "Fog closes the bridge.");
    witness.pushed("Fog closes", "fog published").await;
    slow.let_through();
    // ...and the subscriber gets the newest body once, not one body per change.
    let newest = slow.pushed("Fog closes", "the newest body").await;
    assert!(newest.text().contains("Hail expected"));
    slow.let_through();
    site.health_shows("deliveries_ok", 5.into(), "the slow subscriber's two done")
        .await;
    let posts = slow.posts();
    assert_eq!(posts.len(), 2, "{posts:#?}");
    assert!(posts[0].text().contains("Frost warning"));
    assert!(!posts[0].text().contains("Hail expected"));
    site.stop().await;
}

/// Retries as quick as ever, but a request times out only after a minute: longer than
/// the test's patience, so a callback that hangs holds what it holds for the whole test.
fn patient_retry() -> Retry {
    Retry {
        timeout: Duration::from_secs(60),
        delays: vec![Duration::from_millis(100)],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifications_that_hang_neither_delay_a_push_nor_queue_without_end() {
    let site = serve_with(
        folder(CONFIG, &[("night-bus.txt", &night_bus())]),
        patient_retry(),
    )
    .await;
    let healthy = Peer::start(Behaviour::Fine).await;
    site.subscribe("/rss.xml", &healthy.url("/push"), &[]).await;
    site.health_shows("subscriptions", 1.into(), "the healthy one verified")
        .await;

    // A burst of requests whose callbacks never answer the verification: as many as
    // the hub keeps waiting, each taken...
    let stuck = Peer::start(Behaviour::HangVerification).await;
    for n in 0..64 {
        site.subscribe("/rss.xml", &stuck.url(&format!("/push/{n}")), &[])
            .await;
    }
    stuck.got("GET", 8, "the verifications in flight").await;
    // ...and the one past them refused, saying when to come back.
    let topic = site.url("/rss.xml");
    let response = site
        .client
        .post(site.url("/websub"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("hub.mode", "subscribe"),
                    ("hub.topic", topic.as_str()),
                    ("hub.callback", &stuck.url("/push/64")),
                ])
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "60");
    assert_eq!(
        response.text().await.unwrap(),
        "the hub has 64 subscription requests waiting for verification; send this one again in 60 seconds\n"
    );

    // The verifications hold none of the deliveries' slots.
    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    healthy
        .pushed("Frost warning", "the push while verifications hang")
        .await;
    assert_eq!(site.websub_health().await["subscriptions"], 1);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_whose_callbacks_hang_does_not_hold_up_another_hosts_push() {
    let site = serve_with(
        folder(CONFIG, &[("night-bus.txt", &night_bus())]),
        patient_retry(),
    )
    .await;
    // More subscribers on one host than there are delivery slots in all.
    let slow = Peer::start_on("127.0.0.2", Behaviour::Hang).await;
    for n in 0..40 {
        site.subscribe("/rss.xml", &slow.url(&format!("/push/{n}")), &[])
            .await;
    }
    site.health_shows("subscriptions", 40.into(), "the slow host's verified")
        .await;
    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    slow.got("POST", 4, "the slow host's deliveries, hanging")
        .await;

    let other = Peer::start_on("127.0.0.3", Behaviour::Fine).await;
    site.subscribe("/rss.xml", &other.url("/push"), &[]).await;
    site.health_shows("subscriptions", 41.into(), "the other host verified")
        .await;
    drop_post(&site, "hail.txt", "Hail expected by noon.");
    other.pushed("Hail expected", "the other host's push").await;
    // The slow host has its share of slots, not all of them.
    assert_eq!(slow.posts().len(), 4, "{:#?}", slow.posts().len());
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_past_the_caps_get_429_naming_the_key_to_raise() {
    let config = format!("{CONFIG}max_subscriptions = 5\nmax_per_host = 3\n");
    let site = site_with(&config).await;
    let one = Peer::start_on("127.0.0.1", Behaviour::Fine).await;
    let two = Peer::start_on("127.0.0.2", Behaviour::Fine).await;
    let three = Peer::start_on("127.0.0.3", Behaviour::Fine).await;
    let topic = site.url("/rss.xml");
    let ask = |callback: String| {
        let topic = topic.clone();
        let site = &site;
        async move {
            site.ask_hub(&[
                ("hub.mode", "subscribe"),
                ("hub.topic", topic.as_str()),
                ("hub.callback", callback.as_str()),
            ])
            .await
        }
    };
    for n in 0..3 {
        site.subscribe("/rss.xml", &one.url(&format!("/push/{n}")), &[])
            .await;
    }
    site.health_shows("subscriptions", 3.into(), "three on one host")
        .await;
    assert_eq!(
        ask(one.url("/push/3")).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            "the hub has 3 subscriptions with callbacks on 127.0.0.1, as many as it keeps for one host; unsubscribe one first (the site can raise `websub.max_per_host`)\n".into()
        )
    );
    // A renewal is not one more.
    site.subscribe("/rss.xml", &one.url("/push/0"), &[]).await;
    for n in 0..2 {
        site.subscribe("/rss.xml", &two.url(&format!("/push/{n}")), &[])
            .await;
    }
    site.health_shows("subscriptions", 5.into(), "five in all")
        .await;
    assert_eq!(
        ask(three.url("/push")).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            "the hub has 5 subscriptions, as many as it keeps; try again later (the site can raise `websub.max_subscriptions`)\n".into()
        )
    );
    site.health_shows("verifications_ok", 6.into(), "the renewal verified")
        .await;
    assert_eq!(site.websub_health().await["subscriptions"], 5);
    assert!(three.seen().is_empty(), "{:#?}", three.seen());
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_made_while_the_database_is_locked_is_written_once_it_is_free() {
    let site = site_with(CONFIG).await;
    let reader = Peer::start(Behaviour::Fine).await;
    // Another process holding the write lock past the hub's busy timeout (5 s).
    let other = rusqlite::Connection::open(site.path().join("dropfeed.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    site.subscribe("/rss.xml", &reader.url("/push"), &[]).await;
    let kept = wait_until(
        PATIENCE * 2,
        "the write refused, and /healthz saying so",
        || async {
            let health = site.websub_health().await;
            let kept = health["subscriptions_kept"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if kept.contains("database is locked") {
                Ok(kept)
            } else {
                Err(format!("{health:#}"))
            }
        },
    )
    .await;
    assert_eq!(
        kept,
        format!(
            "in memory until the state database takes them: {}: cannot write the state database (database is locked); check the disk, the file's permissions, and that no other program holds it locked; trying again every 2 s",
            site.path().join("dropfeed.db").display()
        )
    );
    assert_eq!(site.health().await["status"], "degraded");
    // Delivered meanwhile from memory.
    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    reader
        .pushed("Frost warning", "the push while locked")
        .await;

    other.execute_batch("ROLLBACK").unwrap();
    site.health_shows(
        "subscriptions_kept",
        "in the state database".into(),
        "the subscription written once the lock is gone",
    )
    .await;
    assert_ne!(site.health().await["status"], "degraded");
    let dir = site.stop().await;
    let site = serve(dir).await;
    assert_eq!(site.websub_health().await["subscriptions"], 1);
    drop_post(&site, "hail.txt", "Hail expected by noon.");
    reader
        .pushed("Hail expected", "the push after a restart")
        .await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_base_url_change_a_subscriber_renews_and_unsubscribes_with_its_old_topic() {
    let before = CONFIG.replace(
        "[site]\n",
        "[site]\nbase_url = \"http://old.example.org\"\n",
    );
    let dir = folder(&before, &[("night-bus.txt", &night_bus())]);
    let mut config = Config::load(&dir.path().join("config.toml")).unwrap();
    config.websub.retry = quick_retry();
    let (reload, reloads) = tokio::sync::mpsc::channel(1);
    let daemon = Daemon::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .reload_on(reloads);
    let site = Site::run(dir, daemon);
    let reader = Peer::start(Behaviour::Fine).await;
    let old_topic = "http://old.example.org/categories/transit/rss.xml";
    let ask = |mode: &'static str, callback: String| {
        let site = &site;
        async move {
            site.ask_hub(&[
                ("hub.mode", mode),
                ("hub.topic", old_topic),
                ("hub.callback", callback.as_str()),
            ])
            .await
        }
    };
    assert_eq!(
        ask("subscribe", reader.url("/push")).await.0,
        StatusCode::ACCEPTED
    );
    site.health_shows("subscriptions", 1.into(), "verified")
        .await;

    // The site moves to a new address; the config is reloaded (SIGHUP).
    let after = CONFIG.replace(
        "[site]\n",
        "[site]\nbase_url = \"https://news.example.org\"\n",
    );
    write(&site.path().join("config.toml"), &after);
    reload.send(()).await.unwrap();
    site.wait_for("/categories/transit/rss.xml", "the new base_url", |got| {
        got.text()
            .contains("https://news.example.org/categories/transit/rss.xml")
    })
    .await;

    // A new subscription takes the feed's URL as it is now...
    let stranger = Peer::start(Behaviour::Fine).await;
    assert_eq!(
        ask("subscribe", stranger.url("/push")).await,
        (
            StatusCode::BAD_REQUEST,
            format!("hub.topic: {old_topic} is not a feed of this site; send one of its feed URLs, such as https://news.example.org/rss.xml\n")
        )
    );
    // ...but the subscriber renews and ends its own with the URL it was given.
    assert_eq!(
        ask("subscribe", reader.url("/push")).await.0,
        StatusCode::ACCEPTED
    );
    let asked = reader.got("GET", 2, "the renewal's verification").await;
    assert_eq!(asked[1].field("hub.topic"), old_topic);
    site.health_shows("verifications_ok", 2.into(), "the renewal verified")
        .await;
    assert_eq!(site.websub_health().await["subscriptions"], 1);
    assert_eq!(
        ask("unsubscribe", reader.url("/push")).await.0,
        StatusCode::ACCEPTED
    );
    let asked = reader
        .got("GET", 3, "the unsubscription's verification")
        .await;
    assert_eq!(asked[2].field("hub.mode"), "unsubscribe");
    site.health_shows("subscriptions", 0.into(), "unsubscribed")
        .await;
    assert!(stranger.seen().is_empty(), "{:#?}", stranger.seen());
    site.stop().await;
}

/// The subscriber in `contrib/` (README, "WebSub (push)") as a newcomer runs it: it
/// subscribes to a category feed, answers the verification, and prints the push of a
/// post dropped afterwards with its signature checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contrib_subscriber_gets_a_signed_push_of_a_dropped_post() {
    let site = site_with(CONFIG).await;
    // A free port for its callback: bound, read, then let go for the script to take.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = KilledOnDrop(
        std::process::Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/contrib/websub-subscriber"
            ))
            .args(["--port", &port.to_string(), "--secret", "change-me"])
            .args(["--hub", &site.url("/websub")])
            .args(["--topic", &site.url("/categories/transit/rss.xml")])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs contrib/websub-subscriber"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept = Arc::clone(&lines);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            kept.lock().unwrap().push(line);
        }
    });
    let printed = |text: &'static str| {
        let lines = Arc::clone(&lines);
        async move {
            wait_until(PATIENCE, text, || async {
                let lines = lines.lock().unwrap().clone();
                match lines.iter().find(|line| line.contains(text)) {
                    Some(line) => Ok(line.clone()),
                    None => Err(lines.join("\n")),
                }
            })
            .await
        }
    };
    printed("subscribe: 202 Accepted").await;
    printed("verification of intent: subscribe, lease 864000 s").await;
    site.health_shows("subscriptions", 1.into(), "the subscriber verified")
        .await;
    drop_post(&site, "frost.txt", "Frost warning for the valley tonight.");
    let push = printed("push:").await;
    assert!(
        push.ends_with("signature ok; newest: Frost, Night bus"),
        "{push}"
    );
}

/// A child process that is stopped when the test ends, passed or failed.
struct KilledOnDrop(std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
