//! The publisher's pings (WebSub, section 6 as hubs read it): after a publish, each
//! changed feed's URL is POSTed to each hub `[websub] hubs` names,
//! `hub.mode=publish&hub.url=…` (and `hub.topic`, which some hubs read instead), each
//! retried on failure with growing waits, in tasks of their own.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;

use super::net;
use super::Counters;
use crate::config::Retry;

/// Pings in flight at once, over every hub.
const CONCURRENT: usize = 8;

/// The hubs the operator named, and how each answered last.
pub struct Pinger {
    client: reqwest::Client,
    retry: Retry,
    hubs: Vec<String>,
    /// Per hub, for `/healthz`.
    seen: Mutex<BTreeMap<String, HubHealth>>,
    permits: Semaphore,
    counters: Arc<Counters>,
}

/// How a hub answered: the last success and the last failure, with its reason.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HubHealth {
    pub url: String,
    pub last_success: Option<String>,
    pub last_failure: Option<String>,
    pub last_error: Option<String>,
}

impl Pinger {
    pub fn new(
        hubs: Vec<String>,
        retry: Retry,
        counters: Arc<Counters>,
    ) -> Result<Pinger, reqwest::Error> {
        let seen = hubs
            .iter()
            .map(|hub| {
                let health = HubHealth {
                    url: hub.clone(),
                    ..HubHealth::default()
                };
                (hub.clone(), health)
            })
            .collect();
        Ok(Pinger {
            client: net::hub_client(retry.timeout)?,
            retry,
            hubs,
            seen: Mutex::new(seen),
            permits: Semaphore::new(CONCURRENT),
            counters,
        })
    }

    /// Tells every hub of each URL in `urls`, one task per hub and URL.
    pub fn ping(self: &Arc<Self>, urls: &[String]) {
        for hub in &self.hubs {
            for url in urls {
                let (pinger, hub, url) = (Arc::clone(self), hub.clone(), url.clone());
                tokio::spawn(async move { pinger.tell(&hub, &url).await });
            }
        }
    }

    /// One ping with its retries.
    async fn tell(&self, hub: &str, url: &str) {
        let mut tries = 0;
        loop {
            let sent = {
                let _permit = self.permits.acquire().await;
                self.send(hub, url).await
            };
            tries += 1;
            let reason = match sent {
                Ok(()) => {
                    self.counters.pinged();
                    self.note(hub, Utc::now(), None);
                    return;
                }
                Err(reason) => reason,
            };
            self.counters.ping_failures.fetch_add(1, Ordering::Relaxed);
            self.note(hub, Utc::now(), Some(reason.clone()));
            match self.retry.delays.get(tries - 1) {
                Some(wait) => {
                    tracing::warn!(
                        hub,
                        url,
                        "WebSub ping failed ({reason}); trying again in {wait:?}"
                    );
                    tokio::time::sleep(*wait).await;
                }
                None => {
                    tracing::warn!(
                        hub,
                        url,
                        "WebSub ping failed ({reason}); given up after {tries} tries"
                    );
                    self.counters.ping_given_up();
                    return;
                }
            }
        }
    }

    async fn send(&self, hub: &str, url: &str) -> Result<(), String> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "publish")
            .append_pair("hub.url", url)
            .append_pair("hub.topic", url)
            .finish();
        let response = self
            .client
            .post(hub)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|err| {
                if err.is_timeout() {
                    format!("no answer within {:?}", self.retry.timeout)
                } else {
                    err.to_string()
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the hub answered {status}"))
        }
    }

    fn note(&self, hub: &str, at: DateTime<Utc>, failure: Option<String>) {
        let at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let health = seen.entry(hub.to_string()).or_default();
        match failure {
            None => health.last_success = Some(at),
            Some(reason) => {
                health.last_failure = Some(at);
                health.last_error = Some(reason);
            }
        }
    }

    /// How each hub answered, in the order the config names them.
    pub fn health(&self) -> Vec<HubHealth> {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.hubs
            .iter()
            .filter_map(|hub| seen.get(hub).cloned())
            .collect()
    }
}
