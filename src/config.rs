//! `config.toml`: the raw serde schema with its defaults, and the validated [`Config`]
//! the rest of the program reads. Parsing (`Config::parse`) is kept apart from reading the
//! file (`Config::load`) so tests can feed it strings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::post::{Limits, Site};
use crate::routes::{self, Format};

/// A config that cannot be used. The message names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the config file: {err}; name a readable file with --config")]
    Read {
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A posts folder that is not there: nothing could be published from it.
#[derive(Debug, thiserror::Error)]
pub enum PostsDirError {
    #[error("{dir}: the posts folder does not exist; create it (mkdir -p {dir}), or set `posts.dir` in {config} to the folder of your posts")]
    Missing { dir: PathBuf, config: PathBuf },
    #[error("{dir}: the posts folder is not a folder; set `posts.dir` in {config} to the folder of your posts")]
    NotAFolder { dir: PathBuf, config: PathBuf },
    #[error("{dir}: cannot read the posts folder: {message}; check its permissions")]
    Unreadable { dir: PathBuf, message: String },
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    site: RawSite,
    posts: RawPosts,
    feeds: RawFeeds,
    server: RawServer,
    state: RawState,
    websub: RawWebSub,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawState {
    db: PathBuf,
    remember_removed_days: u64,
}

impl Default for RawState {
    fn default() -> Self {
        RawState {
            db: PathBuf::from("dropfeed.db"),
            remember_removed_days: 7,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSite {
    title: String,
    description: String,
    base_url: Option<String>,
    author: String,
    language: String,
    timezone: String,
    permalink: String,
    icon: Option<PathBuf>,
    itunes_category: Option<String>,
    itunes_explicit: bool,
    itunes_owner: Option<String>,
    itunes_email: Option<String>,
}

impl Default for RawSite {
    fn default() -> Self {
        RawSite {
            title: "dropfeed".into(),
            description: "Posts published by dropfeed".into(),
            base_url: None,
            author: "Anonymous".into(),
            language: "en".into(),
            timezone: "UTC".into(),
            permalink: routes::DEFAULT_PERMALINK.into(),
            icon: None,
            itunes_category: None,
            itunes_explicit: false,
            itunes_owner: None,
            itunes_email: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPosts {
    dir: PathBuf,
    max_bytes: u64,
    debounce_ms: u64,
    rescan_secs: u64,
    max_categories: usize,
    max_authors: usize,
    max_tags: usize,
    parse_budget_ms: u64,
}

impl Default for RawPosts {
    fn default() -> Self {
        RawPosts {
            dir: PathBuf::from("posts"),
            max_bytes: 4 * 1024 * 1024,
            debounce_ms: 50,
            rescan_secs: 60,
            max_categories: 100,
            max_authors: 100,
            max_tags: 100,
            parse_budget_ms: 1000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFeeds {
    items: usize,
    formats: Vec<Format>,
    cache_max_age: u64,
    archive_max_age: u64,
}

impl Default for RawFeeds {
    fn default() -> Self {
        RawFeeds {
            items: 50,
            formats: vec![Format::Rss, Format::Atom, Format::Json],
            cache_max_age: 300,
            archive_max_age: 86_400,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: String,
    header_timeout_secs: u64,
    idle_timeout_secs: u64,
    max_connections: usize,
    max_streams: u32,
}

impl Default for RawServer {
    fn default() -> Self {
        let limits = ServerLimits::default();
        RawServer {
            listen: "127.0.0.1:8080".into(),
            header_timeout_secs: limits.header_timeout.as_secs(),
            idle_timeout_secs: limits.idle_timeout.as_secs(),
            max_connections: limits.max_connections,
            max_streams: limits.max_streams,
        }
    }
}

/// What one client may hold of the server: `[server]` less the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long an HTTP/1 request head may take to arrive once its first byte has: a
    /// client sending half a header (slowloris) is cut off after it.
    pub header_timeout: Duration,
    /// How long a connection is kept with no request in flight, or with a response
    /// the client stopped reading.
    pub idle_timeout: Duration,
    /// Connections served at once; the next ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// HTTP/2 requests in flight on one connection.
    pub max_streams: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_streams: 100,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWebSub {
    hubs: Vec<String>,
    /// Unset: on when `hubs` is empty.
    builtin: Option<bool>,
    lease_seconds: u64,
    min_lease_seconds: u64,
    allow_private_callbacks: bool,
    max_subscriptions: usize,
    max_per_host: usize,
}

impl Default for RawWebSub {
    fn default() -> Self {
        RawWebSub {
            hubs: Vec::new(),
            builtin: None,
            lease_seconds: 10 * 24 * 3600,
            min_lease_seconds: 3600,
            allow_private_callbacks: false,
            max_subscriptions: 10_000,
            max_per_host: 100,
        }
    }
}

/// `[websub]`: the external hubs told of each change, and the built-in hub's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSub {
    /// External hubs, absolute http(s) URLs as written, each pinged after a publish.
    pub hubs: Vec<String>,
    /// `serve` runs a hub at `/websub` and names it in every feed.
    pub builtin: bool,
    /// The lease a subscriber gets when it asks none, and the longest it can get.
    pub lease: Duration,
    /// The shortest lease: a subscriber asking less gets this, so a hub is not asked
    /// to verify a callback again every few seconds.
    pub min_lease: Duration,
    /// Callbacks on loopback and private networks: refused unless this is set (tests,
    /// a reader on the same LAN), so the hub cannot be made to probe them.
    pub allow_private_callbacks: bool,
    /// The most subscriptions the built-in hub keeps, over every feed and callback.
    pub max_subscriptions: usize,
    /// The most subscriptions whose callbacks are on one host: one reader (or one
    /// abuser) cannot take the whole of `max_subscriptions`.
    pub max_per_host: usize,
    /// How long one request to a callback or a hub may take, and the waits between
    /// tries. Not a config key: the production schedule is fixed, tests shorten it.
    pub retry: Retry,
}

/// One request's timeout and the waits before each retry of it: tries are
/// `delays.len() + 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub timeout: Duration,
    pub delays: Vec<Duration>,
}

impl Default for Retry {
    /// Four tries over about five minutes, each wait four times the one before: a
    /// callback restarting or a hub briefly down still gets the change.
    fn default() -> Self {
        Retry {
            timeout: Duration::from_secs(10),
            delays: [15, 60, 240].map(Duration::from_secs).to_vec(),
        }
    }
}

impl Config {
    /// Sets the hubs every feed names: the external ones, then the built-in one at
    /// `{base_url}/websub` when it is on. `build` names it too, so that `serve` and
    /// `build` give the same bytes (a site built to files for another server sets
    /// `websub.builtin = false`).
    pub fn name_hubs(&mut self) {
        let mut hubs = self.websub.hubs.clone();
        if self.websub.builtin {
            hubs.push(routes::absolute(&self.site.base_url, routes::WEBSUB));
        }
        self.site.channel.hubs = hubs;
    }
}

/// `[websub]` validated: each hub an absolute http(s) URL, the lease bounds in order.
fn websub(raw: RawWebSub) -> Result<WebSub, String> {
    for hub in &raw.hubs {
        let fine = url::Url::parse(hub)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some());
        if !fine {
            return Err(format!(
                "key `websub.hubs`: `{hub}` is not an absolute http(s) URL; write each hub as \"https://hub.example.com/\""
            ));
        }
    }
    if raw.min_lease_seconds == 0 {
        return Err(
            "key `websub.min_lease_seconds`: must be at least 1 (the shortest lease, in seconds)"
                .into(),
        );
    }
    if raw.lease_seconds < raw.min_lease_seconds {
        return Err(format!(
            "key `websub.lease_seconds`: {} is less than `websub.min_lease_seconds` ({}); raise it, or lower the minimum",
            raw.lease_seconds, raw.min_lease_seconds
        ));
    }
    Ok(WebSub {
        builtin: raw.builtin.unwrap_or(raw.hubs.is_empty()),
        hubs: raw.hubs,
        lease: Duration::from_secs(raw.lease_seconds),
        min_lease: Duration::from_secs(raw.min_lease_seconds),
        allow_private_callbacks: raw.allow_private_callbacks,
        max_subscriptions: raw.max_subscriptions,
        max_per_host: raw.max_per_host,
        retry: Retry::default(),
    })
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file it came from, for messages.
    pub path: PathBuf,
    pub site: Site,
    /// Absolute (or config-relative resolved) folder of the post files.
    pub posts_dir: PathBuf,
    /// Files larger than this are rejected without being read whole.
    pub max_bytes: u64,
    pub debounce_ms: u64,
    /// Zero turns the periodic rescan off.
    pub rescan_secs: u64,
    /// The longest one file may take to read and parse before it is refused
    /// (`posts.parse_budget_ms`): one hostile file must not hold a publish.
    pub parse_budget: std::time::Duration,
    pub items: usize,
    /// In the order the config lists them, without duplicates.
    pub formats: Vec<Format>,
    pub cache_max_age: u64,
    /// `Cache-Control: max-age` of a closed RFC 5005 archive (`feeds.archive_max_age`):
    /// no new post changes one, but an edit, a deletion or a backdated post may, and a
    /// cache holds its copy this long.
    pub archive_max_age: u64,
    /// `server.listen` as written: `HOST:PORT`, the host a name (`localhost`) or an IP
    /// (IPv6 in brackets); resolved when `serve` binds.
    pub listen: String,
    /// True when `site.base_url` is not set: `serve` then links to the address it bound
    /// ([`Config::follow_bound`]), `build` and `check` to `server.listen`.
    pub base_url_follows_listen: bool,
    /// False when the config file was not there and every key took its default: the
    /// command says so, so a mistyped `--config` does not go unnoticed.
    pub file_found: bool,
    pub server: ServerLimits,
    /// The state database (the identity ledger), resolved against the config's folder.
    pub state_db: PathBuf,
    /// How long a removed post waits for its content to come back under another name
    /// and keep its id.
    pub remember_removed_days: u64,
    /// `[site] icon`, read: served at `/favicon.ico` and [`Icon::route`]. `None` too
    /// when the file cannot be used (see [`Config::notices`]).
    pub icon: Option<Icon>,
    /// What is wrong in the file but costs only a detail (an icon that cannot be read),
    /// each a line naming the file, the key and the fix: the commands print them (`check`
    /// and `build` on stderr, `serve` as warnings in its log) and carry on.
    pub notices: Vec<String>,
    /// `[websub]`: the hubs to ping and the built-in hub's rules.
    pub websub: WebSub,
}

/// The site's icon (`[site] icon`), read once when the config is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icon {
    /// Where it is served besides `/favicon.ico`, with its own extension
    /// (`/icon.png`): Apple Podcasts wants artwork URLs ending in `.png` or `.jpg`.
    pub route: String,
    pub media_type: &'static str,
    pub bytes: bytes::Bytes,
    /// The file's modification time, in whole seconds: the routes' Last-Modified.
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// The largest icon read: Apple's largest artwork (3000 × 3000) fits well under it.
const MAX_ICON_BYTES: u64 = 8 << 20;

impl Config {
    /// Reads and parses the config file. A missing file gives the defaults (every key
    /// has one) with [`Config::file_found`] false, for the caller to say so.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut config = Config::parse("", path)?;
                config.file_found = false;
                Ok(config)
            }
            Err(err) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                err,
            }),
        }
    }

    /// Parses config text; `path` names the file in messages and anchors `posts.dir` and
    /// `state.db`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|err| {
            let mut message = readable(err.message().trim_end());
            if let Some(span) = err.span() {
                if let Some(key) = key_at(text, span.start) {
                    message = format!("key `{key}`: {message}");
                }
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                message = format!("line {line}: {message}");
            }
            invalid(message)
        })?;
        // Relative paths are relative to the config file's folder, not the working one.
        let folder = path.parent().unwrap_or(Path::new(""));
        let mut notices = Vec::new();
        // The icon is cosmetic: one that cannot be used is said, and the site goes
        // without, rather than stopping every command.
        let icon = raw.site.icon.as_ref().and_then(|file| {
            let file = folder.join(file);
            let file = std::path::absolute(&file).unwrap_or(file);
            icon(&file)
                .map_err(|message| {
                    notices.push(format!(
                        "{}: {message}; the feeds go without an icon until then",
                        path.display()
                    ))
                })
                .ok()
        });
        let listen = check_listen(&raw.server.listen).map_err(invalid)?;
        let base_url_follows_listen = raw.site.base_url.is_none();
        let mut site = site(raw.site, &listen).map_err(invalid)?;
        if let Some(icon) = &icon {
            site.channel.icon_url = Some(routes::absolute(&site.base_url, &icon.route));
            site.channel.icon_type = Some(icon.media_type);
        }
        check_limits(&raw.posts, &raw.feeds).map_err(invalid)?;
        site.limits = Limits {
            categories: raw.posts.max_categories,
            authors: raw.posts.max_authors,
            tags: raw.posts.max_tags,
        };
        let formats = formats(raw.feeds.formats).map_err(invalid)?;
        let server = server_limits(&raw.server).map_err(invalid)?;
        let websub = websub(raw.websub).map_err(invalid)?;
        if raw.state.db.as_os_str().is_empty() {
            return Err(invalid(
                "key `state.db`: must name a file, such as \"dropfeed.db\"".into(),
            ));
        }
        let mut config = Config {
            path: path.to_path_buf(),
            site,
            posts_dir: folder.join(raw.posts.dir),
            max_bytes: raw.posts.max_bytes,
            debounce_ms: raw.posts.debounce_ms,
            rescan_secs: raw.posts.rescan_secs,
            parse_budget: std::time::Duration::from_millis(raw.posts.parse_budget_ms),
            items: raw.feeds.items,
            formats,
            cache_max_age: raw.feeds.cache_max_age,
            archive_max_age: raw.feeds.archive_max_age,
            listen,
            base_url_follows_listen,
            file_found: true,
            server,
            state_db: folder.join(raw.state.db),
            remember_removed_days: raw.state.remember_removed_days,
            icon,
            notices,
            websub,
        };
        config.name_hubs();
        Ok(config)
    }
}

impl Config {
    /// Links to `bound`, the address `serve` listens on, when `site.base_url` is not set
    /// (with port 0 asked for, the port it got). Ids are minted once and kept in the
    /// ledger, and their host has no port, so a port that changes between runs changes
    /// no id.
    pub fn follow_bound(&mut self, bound: SocketAddr) {
        if !self.base_url_follows_listen {
            return;
        }
        let (base_url, host) = base_url_of(&link_host(&bound.ip().to_string()), bound.port());
        self.site.base_url = base_url;
        self.site.host = host;
        // The icon's URL is a link like any other, and so is the built-in hub's.
        if let Some(icon) = &self.icon {
            self.site.channel.icon_url = Some(routes::absolute(&self.site.base_url, &icon.route));
        }
        self.name_hubs();
    }

    /// Why links would lead nowhere: `site.base_url` set to a loopback address
    /// (127.0.0.0/8, ::1, localhost) that `bound` is not. A public name may be a proxy
    /// in front, so only loopback is judged.
    pub fn loopback_mismatch(&self, bound: SocketAddr) -> Option<String> {
        if self.base_url_follows_listen {
            return None;
        }
        let url = url::Url::parse(&self.site.base_url).ok()?;
        let port = url.port_or_known_default()?;
        let loopback = match url.host()? {
            url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        if !loopback {
            return None;
        }
        let same_host = match url.host()? {
            url::Host::Domain(_) => bound.ip().is_loopback() || bound.ip().is_unspecified(),
            url::Host::Ipv4(ip) => {
                bound.ip() == std::net::IpAddr::V4(ip) || bound.ip().is_unspecified()
            }
            url::Host::Ipv6(ip) => {
                bound.ip() == std::net::IpAddr::V6(ip) || bound.ip().is_unspecified()
            }
        };
        if same_host && port == bound.port() {
            return None;
        }
        Some(format!(
            "{}: `site.base_url` is {}, but this server listens on {bound}: every link, self link and OPML entry leads where it does not answer; remove `base_url` to follow the address bound, or set it to \"http://{bound}\"",
            self.path.display(),
            self.site.base_url,
        ))
    }
}

impl Config {
    /// Whether the posts folder is there to read. A missing one is told apart from an
    /// empty one: `build` would write empty feeds over good ones, `check` would pass.
    pub fn check_posts_dir(&self) -> Result<(), PostsDirError> {
        let (dir, config) = (self.posts_dir.clone(), self.path.clone());
        match std::fs::metadata(&self.posts_dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(PostsDirError::NotAFolder { dir, config }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Err(PostsDirError::Missing { dir, config })
            }
            Err(err) => Err(PostsDirError::Unreadable {
                dir,
                message: err.to_string(),
            }),
        }
    }
}

/// `server.listen` checked for its form, `HOST:PORT`; the host is resolved at bind.
fn check_listen(listen: &str) -> Result<String, String> {
    let bad = |why: &str| {
        format!(
            "key `server.listen`: `{listen}` {why}; expected HOST:PORT such as \"127.0.0.1:8080\", \"localhost:8080\" or \"[::1]:8080\""
        )
    };
    let (host, port) = listen
        .trim()
        .rsplit_once(':')
        .ok_or_else(|| bad("has no port"))?;
    port.parse::<u16>()
        .map_err(|_| bad(&format!("has no port number (`{port}`)")))?;
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(bad("is an IPv6 address without brackets"));
    }
    Ok(listen.trim().to_string())
}

/// The host to link to for a listening host: any-address binds (`0.0.0.0`, `::`) are
/// reached on this machine through loopback.
fn link_host(host: &str) -> String {
    match host.trim_start_matches('[').trim_end_matches(']') {
        "0.0.0.0" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        ip if ip.contains(':') => format!("[{ip}]"),
        other => other.to_string(),
    }
}

/// `http://HOST:PORT` as `base_url` is kept (normalized by `url`), with its host.
fn base_url_of(host: &str, port: u16) -> (String, String) {
    let text = format!("http://{host}:{port}");
    match url::Url::parse(&text) {
        Ok(url) => (
            url.as_str().trim_end_matches('/').to_string(),
            url.host_str().unwrap_or(host).to_string(),
        ),
        Err(_) => (text, host.to_string()),
    }
}

/// toml's words for Rust types, in the words of the file.
fn readable(message: &str) -> String {
    let mut message = message.to_string();
    for (rust, words) in [
        ("expected usize", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
    ] {
        message = message.replace(rust, words);
    }
    message
}

/// The dotted key (`feeds.items`) whose value holds byte `at` of `text`: where toml's
/// error spans point for a value of the wrong type.
fn key_at(text: &str, at: usize) -> Option<String> {
    let document = toml_edit::ImDocument::parse(text).ok()?;
    key_in_table(document.as_table(), at, "")
}

fn key_in_table(table: &toml_edit::Table, at: usize, prefix: &str) -> Option<String> {
    table.iter().find_map(|(key, item)| {
        let path = format!("{prefix}{key}");
        match item {
            toml_edit::Item::Table(inner) => key_in_table(inner, at, &format!("{path}.")),
            toml_edit::Item::Value(value) => key_in_value(value, at, &path),
            _ => None,
        }
    })
}

fn key_in_value(value: &toml_edit::Value, at: usize, path: &str) -> Option<String> {
    if let toml_edit::Value::InlineTable(inline) = value {
        if let Some(key) = inline
            .iter()
            .find_map(|(key, inner)| key_in_value(inner, at, &format!("{path}.{key}")))
        {
            return Some(key);
        }
    }
    value
        .span()
        .filter(|span| span.contains(&at))
        .map(|_| path.to_string())
}

/// `[site]` validated: `base_url` normalized (or, unset, the listen address's), the time
/// zone known, an author named.
fn site(raw: RawSite, listen: &str) -> Result<Site, String> {
    let base_url = raw.base_url.clone().unwrap_or_else(|| {
        let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "80"));
        base_url_of(&link_host(host), port.parse().unwrap_or(80)).0
    });
    let parsed = url::Url::parse(base_url.trim()).map_err(|err| {
        format!(
            "key `site.base_url`: {err}; expected an absolute URL such as \"https://example.com\""
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "key `site.base_url`: scheme `{}` is not served by feed readers; use http or https",
            parsed.scheme()
        ));
    }
    let host = parsed
        .host_str()
        .ok_or("key `site.base_url`: the URL has no host")?
        .to_string();
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(
            "key `site.base_url`: a query (`?`) or fragment (`#`) cannot prefix links; remove it"
                .into(),
        );
    }
    // Normalized once, as `url` writes it (scheme and host lowercased, default port
    // dropped), so links and tag ids agree however the config spells the host.
    let base_url = parsed.as_str().trim_end_matches('/').to_string();
    let timezone: chrono_tz::Tz = raw.timezone.parse().map_err(|_| {
        format!(
            "key `site.timezone`: `{}` is not an IANA time zone; use a name such as \"America/Los_Angeles\" or \"UTC\"",
            raw.timezone
        )
    })?;
    if raw.author.trim().is_empty() {
        return Err(
            "key `site.author`: must not be empty; it names the author of posts that name none"
                .into(),
        );
    }
    routes::check_permalink(&raw.permalink, true)
        .map_err(|message| format!("key `site.permalink`: {message}"))?;
    // Posts are cleaned of these by the parser; the site's own text is in every feed,
    // and one would make them all unreadable to a strict XML parser.
    for (key, text) in [
        ("title", &raw.title),
        ("description", &raw.description),
        ("author", &raw.author),
        ("language", &raw.language),
    ] {
        let forbidden = |c: char| {
            (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
                || matches!(c, '\u{FFFE}' | '\u{FFFF}')
        };
        if let Some(c) = text.chars().find(|&c| forbidden(c)) {
            return Err(format!(
                "key `site.{key}`: holds the control character U+{:04X}, which feeds cannot carry; remove it",
                u32::from(c)
            ));
        }
    }
    let channel = channel(&raw)?;
    Ok(Site {
        channel,
        title: raw.title,
        description: raw.description,
        base_url,
        host,
        author: raw.author.trim().to_string(),
        language: raw.language,
        timezone,
        permalink: raw.permalink,
        limits: Limits::default(),
    })
}

/// `[site] icon`, read. Only pictures that feed readers and browsers show are taken.
fn icon(file: &Path) -> Result<Icon, String> {
    let shown = file.display();
    let cannot = |err: std::io::Error| {
        format!("key `site.icon`: cannot read {shown}: {err}; put the picture there (the path is relative to this file's folder), or remove the key")
    };
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let media_type = crate::post::media_type(name)
        .filter(|t| t.starts_with("image/"))
        .ok_or_else(|| {
            format!("key `site.icon`: {shown} is not a picture dropfeed serves; use a .png, .jpg, .gif, .webp, .svg or .ico file")
        })?;
    let meta = std::fs::metadata(file).map_err(cannot)?;
    let size = meta.len();
    if size > MAX_ICON_BYTES {
        return Err(format!(
            "key `site.icon`: {shown} is {size} bytes, over {MAX_ICON_BYTES}; use a smaller picture (Apple Podcasts asks for 1400 to 3000 pixels square)"
        ));
    }
    let bytes = std::fs::read(file).map_err(cannot)?;
    if !looks_like(media_type, &bytes) {
        return Err(format!(
            "key `site.icon`: {shown} does not hold a picture of its type ({media_type}); save the picture again in that format, or name the file after its format"
        ));
    }
    let extension = name
        .rsplit_once('.')
        .map_or("", |(_, e)| e)
        .to_ascii_lowercase();
    Ok(Icon {
        route: format!("/icon.{extension}"),
        media_type,
        bytes: bytes.into(),
        modified: meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| chrono::DateTime::from_timestamp(d.as_secs() as i64, 0))
            .unwrap_or_default(),
    })
}

/// True when `bytes` begin as a file of `media_type` does: a page saved as `logo.png`
/// would be served to every reader as a broken picture.
fn looks_like(media_type: &str, bytes: &[u8]) -> bool {
    let head = |at: usize, magic: &[u8]| bytes.get(at..at + magic.len()) == Some(magic);
    match media_type {
        "image/png" => head(0, b"\x89PNG"),
        "image/jpeg" => head(0, b"\xff\xd8\xff"),
        "image/gif" => head(0, b"GIF8"),
        "image/webp" => head(0, b"RIFF") && head(8, b"WEBP"),
        "image/avif" => head(4, b"ftyp"),
        "image/x-icon" => head(0, b"\0\0\x01\0"),
        "image/svg+xml" => {
            String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).contains("<svg")
        }
        _ => false,
    }
}

/// Apple's podcast categories and their subcategories (Apple Podcasts' list, as the
/// W3C validator checks it).
const ITUNES_CATEGORIES: &[(&str, &[&str])] = &[
    (
        "Arts",
        &[
            "Books",
            "Design",
            "Fashion & Beauty",
            "Food",
            "Performing Arts",
            "Visual Arts",
        ],
    ),
    (
        "Business",
        &[
            "Careers",
            "Entrepreneurship",
            "Investing",
            "Management",
            "Marketing",
            "Non-Profit",
        ],
    ),
    ("Comedy", &["Comedy Interviews", "Improv", "Stand-Up"]),
    (
        "Education",
        &["Courses", "How To", "Language Learning", "Self-Improvement"],
    ),
    ("Fiction", &["Comedy Fiction", "Drama", "Science Fiction"]),
    ("Government", &[]),
    ("History", &[]),
    (
        "Health & Fitness",
        &[
            "Alternative Health",
            "Fitness",
            "Medicine",
            "Mental Health",
            "Nutrition",
            "Sexuality",
        ],
    ),
    (
        "Kids & Family",
        &[
            "Education for Kids",
            "Parenting",
            "Pets & Animals",
            "Stories for Kids",
        ],
    ),
    (
        "Leisure",
        &[
            "Animation & Manga",
            "Automotive",
            "Aviation",
            "Crafts",
            "Games",
            "Hobbies",
            "Home & Garden",
            "Video Games",
        ],
    ),
    (
        "Music",
        &["Music Commentary", "Music History", "Music Interviews"],
    ),
    (
        "News",
        &[
            "Business News",
            "Daily News",
            "Entertainment News",
            "News Commentary",
            "Politics",
            "Sports News",
            "Tech News",
        ],
    ),
    (
        "Religion & Spirituality",
        &[
            "Buddhism",
            "Christianity",
            "Hinduism",
            "Islam",
            "Judaism",
            "Religion",
            "Spirituality",
        ],
    ),
    (
        "Science",
        &[
            "Astronomy",
            "Chemistry",
            "Earth Sciences",
            "Life Sciences",
            "Mathematics",
            "Natural Sciences",
            "Nature",
            "Physics",
            "Social Sciences",
        ],
    ),
    (
        "Society & Culture",
        &[
            "Documentary",
            "Personal Journals",
            "Philosophy",
            "Places & Travel",
            "Relationships",
        ],
    ),
    (
        "Sports",
        &[
            "Baseball",
            "Basketball",
            "Cricket",
            "Fantasy Sports",
            "Football",
            "Golf",
            "Hockey",
            "Rugby",
            "Running",
            "Soccer",
            "Swimming",
            "Tennis",
            "Volleyball",
            "Wilderness",
            "Wrestling",
        ],
    ),
    ("Technology", &[]),
    ("True Crime", &[]),
    (
        "TV & Film",
        &[
            "After Shows",
            "Film History",
            "Film Interviews",
            "Film Reviews",
            "TV Reviews",
        ],
    ),
];

/// The podcast keys of `[site]`, checked: a category from Apple's list (`"News"` or
/// `"News > Daily News"`), an e-mail address that looks like one.
fn channel(raw: &RawSite) -> Result<crate::post::Channel, String> {
    let itunes_category = match raw.itunes_category.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(value) => {
            let (top, sub) = match value.split_once('>') {
                Some((top, sub)) => (top.trim(), Some(sub.trim())),
                None => (value, None),
            };
            let known = ITUNES_CATEGORIES
                .iter()
                .find(|(name, subs)| *name == top && sub.is_none_or(|sub| subs.contains(&sub)));
            if known.is_none() {
                return Err(format!(
                    "key `site.itunes_category`: `{value}` is not one of Apple's podcast categories; write one such as \"News\" or \"News > Daily News\" (see Apple's list)"
                ));
            }
            Some((top.to_string(), sub.map(str::to_string)))
        }
    };
    let text = |key: &str, value: &Option<String>| -> Result<Option<String>, String> {
        let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty());
        if value.is_some_and(|v| v.chars().any(char::is_control)) {
            return Err(format!(
                "key `site.{key}`: holds a control character, which feeds cannot carry; remove it"
            ));
        }
        Ok(value.map(str::to_string))
    };
    let itunes_email = text("itunes_email", &raw.itunes_email)?;
    if let Some(email) = &itunes_email {
        let looks_like_one = email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !email.contains(char::is_whitespace)
        });
        if !looks_like_one {
            return Err(format!(
                "key `site.itunes_email`: `{email}` is not an e-mail address; write one such as \"podcast@example.org\""
            ));
        }
    }
    Ok(crate::post::Channel {
        icon_url: None,
        icon_type: None,
        itunes_category,
        itunes_explicit: raw.itunes_explicit,
        itunes_owner: text("itunes_owner", &raw.itunes_owner)?,
        itunes_email,
        hubs: Vec::new(),
    })
}

fn check_limits(posts: &RawPosts, feeds: &RawFeeds) -> Result<(), String> {
    if feeds.items == 0 {
        return Err(
            "key `feeds.items`: must be at least 1 (the number of posts in each feed)".into(),
        );
    }
    for (key, max) in [
        ("max_categories", posts.max_categories),
        ("max_authors", posts.max_authors),
        ("max_tags", posts.max_tags),
    ] {
        if max == 0 {
            return Err(format!(
                "key `posts.{key}`: must be at least 1 (the most names one post may carry)"
            ));
        }
    }
    if posts.parse_budget_ms == 0 {
        return Err(
            "key `posts.parse_budget_ms`: must be at least 1 (the most milliseconds one file may take to read)"
                .into(),
        );
    }
    if posts.max_bytes == 0 {
        return Err(
            "key `posts.max_bytes`: must be at least 1 (the largest post file, in bytes)".into(),
        );
    }
    Ok(())
}

/// `[server]`'s limits; none may be zero, which would refuse every client.
fn server_limits(raw: &RawServer) -> Result<ServerLimits, String> {
    for (key, value, what) in [
        (
            "header_timeout_secs",
            raw.header_timeout_secs,
            "the seconds a request head may take to arrive",
        ),
        (
            "idle_timeout_secs",
            raw.idle_timeout_secs,
            "the seconds a connection is kept with no request in flight",
        ),
        (
            "max_connections",
            raw.max_connections as u64,
            "the connections served at once",
        ),
        (
            "max_streams",
            u64::from(raw.max_streams),
            "the HTTP/2 requests in flight on one connection",
        ),
    ] {
        if value == 0 {
            return Err(format!("key `server.{key}`: must be at least 1 ({what})"));
        }
    }
    Ok(ServerLimits {
        header_timeout: Duration::from_secs(raw.header_timeout_secs),
        idle_timeout: Duration::from_secs(raw.idle_timeout_secs),
        max_connections: raw.max_connections,
        max_streams: raw.max_streams,
    })
}

/// The formats in the order listed, without duplicates; at least one.
fn formats(listed: Vec<Format>) -> Result<Vec<Format>, String> {
    let mut formats = Vec::new();
    for format in listed {
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    if formats.is_empty() {
        return Err("key `feeds.formats`: list at least one of \"rss\", \"atom\", \"json\"".into());
    }
    Ok(formats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("site/config.toml"))
    }

    #[test]
    fn empty_file_takes_every_default() {
        let config = parse("").unwrap();
        assert_eq!(config.site.base_url, "http://127.0.0.1:8080");
        assert_eq!(config.site.host, "127.0.0.1");
        assert_eq!(config.posts_dir, PathBuf::from("site/posts"));
        assert_eq!(config.max_bytes, 4_194_304);
        assert_eq!(config.debounce_ms, 50);
        assert_eq!(config.rescan_secs, 60);
        assert_eq!(config.parse_budget, std::time::Duration::from_millis(1000));
        assert_eq!(config.items, 50);
        assert_eq!(
            config.formats,
            vec![Format::Rss, Format::Atom, Format::Json]
        );
        assert_eq!(config.cache_max_age, 300);
        assert_eq!(config.archive_max_age, 86_400);
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert!(config.base_url_follows_listen);
        assert!(config.file_found);
        assert_eq!(
            config.server,
            ServerLimits {
                header_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
                max_connections: 1024,
                max_streams: 100,
            }
        );
        assert_eq!(config.state_db, PathBuf::from("site/dropfeed.db"));
        assert_eq!(config.remember_removed_days, 7);
    }

    #[test]
    fn parse_budget_is_at_least_one_millisecond() {
        let config = parse("[posts]\nparse_budget_ms = 50\n").unwrap();
        assert_eq!(config.parse_budget, std::time::Duration::from_millis(50));
        let err = parse("[posts]\nparse_budget_ms = 0\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "site/config.toml: key `posts.parse_budget_ms`: must be at least 1 (the most milliseconds one file may take to read)"
        );
    }

    #[test]
    fn websub_defaults_to_the_built_in_hub_named_in_every_feed() {
        let config = parse("[site]\nbase_url = \"https://news.example.org\"\n").unwrap();
        assert!(config.websub.builtin);
        assert_eq!(config.websub.lease, Duration::from_secs(864_000));
        assert_eq!(config.websub.min_lease, Duration::from_secs(3600));
        assert!(!config.websub.allow_private_callbacks);
        assert_eq!(config.websub.max_subscriptions, 10_000);
        assert_eq!(config.websub.max_per_host, 100);
        assert_eq!(
            config.site.channel.hubs,
            vec!["https://news.example.org/websub".to_string()]
        );
    }

    #[test]
    fn websub_hubs_turn_the_built_in_hub_off_unless_asked_for() {
        let config = parse("[websub]\nhubs = [\"https://hub.example.org/\"]\n").unwrap();
        assert!(!config.websub.builtin);
        assert_eq!(config.site.channel.hubs, vec!["https://hub.example.org/"]);
        let both = parse(
            "[site]\nbase_url = \"https://news.example.org\"\n[websub]\nhubs = [\"https://hub.example.org/\"]\nbuiltin = true\n",
        )
        .unwrap();
        assert_eq!(
            both.site.channel.hubs,
            vec![
                "https://hub.example.org/",
                "https://news.example.org/websub"
            ]
        );
        let none = parse("[websub]\nbuiltin = false\n").unwrap();
        assert!(none.site.channel.hubs.is_empty());
    }

    #[test]
    fn websub_keys_are_checked_and_named() {
        for (text, message) in [
            (
                "[websub]\nhubs = [\"hub.example.org\"]\n",
                "site/config.toml: key `websub.hubs`: `hub.example.org` is not an absolute http(s) URL; write each hub as \"https://hub.example.com/\"",
            ),
            (
                "[websub]\nhubs = [\"ftp://hub.example.org/\"]\n",
                "site/config.toml: key `websub.hubs`: `ftp://hub.example.org/` is not an absolute http(s) URL; write each hub as \"https://hub.example.com/\"",
            ),
            (
                "[websub]\nmin_lease_seconds = 0\n",
                "site/config.toml: key `websub.min_lease_seconds`: must be at least 1 (the shortest lease, in seconds)",
            ),
            (
                "[websub]\nlease_seconds = 60\n",
                "site/config.toml: key `websub.lease_seconds`: 60 is less than `websub.min_lease_seconds` (3600); raise it, or lower the minimum",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err().to_string(), message, "{text}");
        }
    }

    #[test]
    fn permalink_pattern_is_checked() {
        let config = parse("[site]\npermalink = \"/:year/:month/:day/:slug.html\"\n").unwrap();
        assert_eq!(config.site.permalink, "/:year/:month/:day/:slug.html");
        let err = parse("[site]\npermalink = \"/:year/\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "site/config.toml: key `site.permalink`: `/:year/` must contain `:slug`, or every post would share one page"
        );
    }

    #[test]
    fn state_db_is_relative_to_the_config_file() {
        let config =
            parse("[state]\ndb = \"var/ledger.db\"\nremember_removed_days = 30\n").unwrap();
        assert_eq!(config.state_db, PathBuf::from("site/var/ledger.db"));
        assert_eq!(config.remember_removed_days, 30);
        let config = parse("[state]\ndb = \"/var/lib/dropfeed/state.db\"\n").unwrap();
        assert_eq!(config.state_db, PathBuf::from("/var/lib/dropfeed/state.db"));
    }

    #[test]
    fn trailing_slash_of_base_url_is_dropped() {
        let config = parse("[site]\nbase_url = \"https://news.example.com:8443/\"\n").unwrap();
        assert_eq!(config.site.base_url, "https://news.example.com:8443");
        assert_eq!(config.site.host, "news.example.com");
    }

    #[test]
    fn base_url_scheme_and_host_are_lowercased_and_the_path_kept() {
        let config = parse("[site]\nbase_url = \"HTTP://Example.COM:8080/blog/\"\n").unwrap();
        assert_eq!(config.site.base_url, "http://example.com:8080/blog");
        assert_eq!(config.site.host, "example.com");
        let config = parse("[site]\nbase_url = \"https://Example.com:443/News//\"\n").unwrap();
        assert_eq!(config.site.base_url, "https://example.com/News");
        assert_eq!(config.site.host, "example.com");
    }

    #[test]
    fn base_url_with_a_query_is_rejected() {
        let err = parse("[site]\nbase_url = \"https://example.com/?p=1\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "site/config.toml: key `site.base_url`: a query (`?`) or fragment (`#`) cannot prefix links; remove it"
        );
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = parse("[site]\ntitle = \"x\"\ntitel = \"y\"\n").unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("site/config.toml: line 3: unknown field `titel`"),
            "{message}"
        );
    }

    #[test]
    fn bad_timezone_names_the_key_and_the_fix() {
        let err = parse("[site]\ntimezone = \"Pacific Time\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "site/config.toml: key `site.timezone`: `Pacific Time` is not an IANA time zone; use a name such as \"America/Los_Angeles\" or \"UTC\""
        );
    }

    #[test]
    fn bad_format_is_rejected() {
        let err = parse("[feeds]\nformats = [\"rss\", \"rdf\"]\n").unwrap_err();
        assert!(err.to_string().contains("unknown variant `rdf`"), "{err}");
    }

    #[test]
    fn bad_listen_address_is_rejected() {
        let err = parse("[server]\nlisten = \"localhost\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "site/config.toml: key `server.listen`: `localhost` has no port; expected HOST:PORT such as \"127.0.0.1:8080\", \"localhost:8080\" or \"[::1]:8080\""
        );
        let err = parse("[server]\nlisten = \"::1:8080\"\n").unwrap_err();
        assert!(err.to_string().contains("without brackets"), "{err}");
        let err = parse("[server]\nlisten = \"localhost:http\"\n").unwrap_err();
        assert!(err.to_string().contains("no port number (`http`)"), "{err}");
    }

    #[test]
    fn a_host_name_is_a_listen_address_and_an_unset_base_url_follows_it() {
        let config = parse("[server]\nlisten = \"localhost:9000\"\n").unwrap();
        assert_eq!(config.listen, "localhost:9000");
        assert_eq!(config.site.base_url, "http://localhost:9000");
        assert_eq!(config.site.host, "localhost");
        let config = parse("[server]\nlisten = \"0.0.0.0:80\"\n").unwrap();
        assert_eq!(config.site.base_url, "http://127.0.0.1");
        let config = parse("[server]\nlisten = \"[::]:8080\"\n").unwrap();
        assert_eq!(config.site.base_url, "http://[::1]:8080");
        assert_eq!(config.site.host, "[::1]");
    }

    #[test]
    fn an_unset_base_url_follows_the_address_bound() {
        let mut config = parse("").unwrap();
        config.follow_bound("127.0.0.1:19100".parse().unwrap());
        assert_eq!(config.site.base_url, "http://127.0.0.1:19100");
        assert_eq!(config.site.host, "127.0.0.1");
        let mut config = parse("[site]\nbase_url = \"https://news.example.org\"\n").unwrap();
        config.follow_bound("127.0.0.1:19100".parse().unwrap());
        assert_eq!(config.site.base_url, "https://news.example.org");
    }

    #[test]
    fn a_loopback_base_url_that_is_not_the_address_bound_is_named() {
        let config = parse("[site]\nbase_url = \"http://127.0.0.1:8080\"\n").unwrap();
        assert_eq!(
            config.loopback_mismatch("127.0.0.1:19100".parse().unwrap()),
            Some(
                "site/config.toml: `site.base_url` is http://127.0.0.1:8080, but this server listens on 127.0.0.1:19100: every link, self link and OPML entry leads where it does not answer; remove `base_url` to follow the address bound, or set it to \"http://127.0.0.1:19100\"".into()
            )
        );
        assert_eq!(
            config.loopback_mismatch("127.0.0.1:8080".parse().unwrap()),
            None
        );
        assert_eq!(
            config.loopback_mismatch("0.0.0.0:8080".parse().unwrap()),
            None
        );
        let config = parse("[site]\nbase_url = \"http://localhost\"\n").unwrap();
        assert!(config
            .loopback_mismatch("[::1]:8080".parse().unwrap())
            .is_some());
        assert_eq!(config.loopback_mismatch("[::1]:80".parse().unwrap()), None);
        // A public name may sit behind a proxy: not judged.
        let config = parse("[site]\nbase_url = \"https://news.example.org\"\n").unwrap();
        assert_eq!(
            config.loopback_mismatch("127.0.0.1:19100".parse().unwrap()),
            None
        );
        // Unset: it follows, so it never mismatches.
        assert_eq!(
            parse("")
                .unwrap()
                .loopback_mismatch("127.0.0.1:1".parse().unwrap()),
            None
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key_and_what_is_expected() {
        let err = parse("[site]\ntitle = \"x\"\n\n[feeds]\nitems = \"five\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "site/config.toml: line 5: key `feeds.items`: invalid type: string \"five\", expected a whole number"
        );
        let err = parse("site = { title = 5 }\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "site/config.toml: line 1: key `site.title`: invalid type: integer `5`, expected a string"
        );
        let err = parse("[posts]\ndir = \"p\"\n[server]\nmax_streams = true\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "site/config.toml: line 4: key `server.max_streams`: invalid type: boolean `true`, expected a whole number"
        );
    }

    #[test]
    fn a_missing_file_gives_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&dir.path().join("nowhere.toml")).unwrap();
        assert!(!config.file_found);
        assert_eq!(config.posts_dir, dir.path().join("posts"));
        assert_eq!(config.site.base_url, "http://127.0.0.1:8080");
        // A folder is not a missing file: its error says why, once.
        let err = Config::load(dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: cannot read the config file: Is a directory (os error 21); name a readable file with --config",
                dir.path().display()
            )
        );
    }

    /// Found by `tests/properties.rs`: a site title with `\u0001` was written into
    /// every feed, which no strict XML parser then reads.
    #[test]
    fn a_control_character_in_the_sites_text_is_refused() {
        let err = parse("[site]\ntitle = \"News\\u0001\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "site/config.toml: key `site.title`: holds the control character U+0001, which feeds cannot carry; remove it"
        );
        let err = parse("[site]\nauthor = \"Ann\\u007F\"\n").unwrap_err();
        assert!(err.to_string().contains("key `site.author`"), "{err}");
        let config = parse("[site]\ndescription = \"Two\\tlines\\nof news\"\n").unwrap();
        assert_eq!(config.site.description, "Two\tlines\nof news");
    }

    #[test]
    fn server_limits_are_read() {
        let config = parse(
            "[server]\nheader_timeout_secs = 1\nidle_timeout_secs = 2\nmax_connections = 3\nmax_streams = 4\n",
        )
        .unwrap();
        assert_eq!(
            config.server,
            ServerLimits {
                header_timeout: Duration::from_secs(1),
                idle_timeout: Duration::from_secs(2),
                max_connections: 3,
                max_streams: 4,
            }
        );
    }

    #[test]
    fn a_zero_server_limit_names_the_key_and_the_fix() {
        for (key, expected) in [
            (
                "header_timeout_secs",
                "key `server.header_timeout_secs`: must be at least 1 (the seconds a request head may take to arrive)",
            ),
            (
                "idle_timeout_secs",
                "key `server.idle_timeout_secs`: must be at least 1 (the seconds a connection is kept with no request in flight)",
            ),
            (
                "max_connections",
                "key `server.max_connections`: must be at least 1 (the connections served at once)",
            ),
            (
                "max_streams",
                "key `server.max_streams`: must be at least 1 (the HTTP/2 requests in flight on one connection)",
            ),
        ] {
            let err = parse(&format!("[server]\n{key} = 0\n")).unwrap_err();
            assert_eq!(err.to_string(), format!("site/config.toml: {expected}"));
        }
        let err = parse("[server]\nmax_streams = -1\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("site/config.toml: line 2: key `server.max_streams`: invalid value"),
            "{err}"
        );
    }

    /// The icon is cosmetic: one that cannot be used is a notice, and the config is
    /// used without it (a copied config.toml without its logo.png stopped every command).
    #[test]
    fn the_icon_is_read_relative_to_the_config_file_and_a_missing_one_is_a_notice() {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("config.toml");
        let config = Config::parse("[site]\nicon = \"logo.png\"\n", &config_file).unwrap();
        assert_eq!(config.icon, None);
        assert_eq!(config.site.channel.icon_url, None);
        assert_eq!(
            config.notices,
            [format!(
                "{0}: key `site.icon`: cannot read {1}: No such file or directory (os error 2); put the picture there (the path is relative to this file's folder), or remove the key; the feeds go without an icon until then",
                config_file.display(),
                dir.path().join("logo.png").display()
            )]
        );
        std::fs::write(dir.path().join("logo.png"), b"\x89PNG").unwrap();
        let config = Config::parse(
            "[site]\nbase_url = \"https://radio.example.org\"\nicon = \"logo.png\"\n",
            &config_file,
        )
        .unwrap();
        let icon = config.icon.unwrap();
        assert_eq!(icon.route, "/icon.png");
        assert_eq!(icon.media_type, "image/png");
        assert_eq!(&icon.bytes[..], b"\x89PNG");
        assert_eq!(
            config.site.channel.icon_url.as_deref(),
            Some("https://radio.example.org/icon.png")
        );
        assert_eq!(config.notices, Vec::<String>::new());
        std::fs::write(dir.path().join("logo.txt"), b"x").unwrap();
        let config = Config::parse("[site]\nicon = \"logo.txt\"\n", &config_file).unwrap();
        assert_eq!(config.icon, None);
        assert_eq!(
            config.notices,
            [format!(
                "{0}: key `site.icon`: {1} is not a picture dropfeed serves; use a .png, .jpg, .gif, .webp, .svg or .ico file; the feeds go without an icon until then",
                config_file.display(),
                dir.path().join("logo.txt").display()
            )]
        );
        std::fs::write(dir.path().join("page.png"), b"<!doctype html>").unwrap();
        let config = Config::parse("[site]\nicon = \"page.png\"\n", &config_file).unwrap();
        assert_eq!(config.icon, None);
        assert_eq!(
            config.notices,
            [format!(
                "{0}: key `site.icon`: {1} does not hold a picture of its type (image/png); save the picture again in that format, or name the file after its format; the feeds go without an icon until then",
                config_file.display(),
                dir.path().join("page.png").display()
            )]
        );
    }

    #[test]
    fn an_icon_is_taken_when_its_bytes_are_of_its_type() {
        for (media_type, bytes, expected) in [
            ("image/png", &b"\x89PNG\r\n"[..], true),
            ("image/png", b"GIF89a", false),
            ("image/jpeg", b"\xff\xd8\xff\xe0", true),
            ("image/gif", b"GIF89a", true),
            ("image/webp", b"RIFF\0\0\0\0WEBPVP8 ", true),
            ("image/webp", b"RIFF\0\0\0\0WAVE", false),
            ("image/avif", b"\0\0\0\x1cftypavif", true),
            ("image/x-icon", b"\0\0\x01\0\x01\0", true),
            (
                "image/svg+xml",
                b"<?xml version=\"1.0\"?>\n<svg xmlns=\"x\"/>",
                true,
            ),
            ("image/svg+xml", b"<html>", false),
            ("image/png", b"", false),
        ] {
            assert_eq!(
                looks_like(media_type, bytes),
                expected,
                "{media_type} {bytes:?}"
            );
        }
    }

    #[test]
    fn podcast_keys_are_checked_and_name_the_key() {
        let config = parse(
            "[site]\nitunes_category = \"News > Daily News\"\nitunes_explicit = true\nitunes_owner = \"Dana\"\nitunes_email = \"podcast@example.org\"\n",
        )
        .unwrap();
        assert_eq!(
            config.site.channel,
            crate::post::Channel {
                icon_url: None,
                icon_type: None,
                itunes_category: Some(("News".into(), Some("Daily News".into()))),
                itunes_explicit: true,
                itunes_owner: Some("Dana".into()),
                itunes_email: Some("podcast@example.org".into()),
                hubs: vec!["http://127.0.0.1:8080/websub".into()],
            }
        );
        assert_eq!(
            parse("[site]\nitunes_category = \"Technology\"\n")
                .unwrap()
                .site
                .channel
                .itunes_category,
            Some(("Technology".into(), None))
        );
        for (text, message) in [
            (
                "[site]\nitunes_category = \"Podcasting\"\n",
                "key `site.itunes_category`: `Podcasting` is not one of Apple's podcast categories; write one such as \"News\" or \"News > Daily News\" (see Apple's list)",
            ),
            (
                "[site]\nitunes_category = \"News > Comedy\"\n",
                "key `site.itunes_category`: `News > Comedy` is not one of Apple's podcast categories; write one such as \"News\" or \"News > Daily News\" (see Apple's list)",
            ),
            (
                "[site]\nitunes_email = \"podcast at example\"\n",
                "key `site.itunes_email`: `podcast at example` is not an e-mail address; write one such as \"podcast@example.org\"",
            ),
        ] {
            assert_eq!(
                parse(text).unwrap_err().to_string(),
                format!("site/config.toml: {message}")
            );
        }
        let err = parse("[site]\nitunes_explicit = \"no\"\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn ftp_base_url_is_rejected() {
        let err = parse("[site]\nbase_url = \"ftp://example.com\"\n").unwrap_err();
        assert!(err.to_string().contains("scheme `ftp`"), "{err}");
    }
}
