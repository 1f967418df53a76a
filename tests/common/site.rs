//! A site served by the real daemon for the end-to-end tests: a temp folder with
//! `config.toml` and `posts/`, `dropfeed serve` on 127.0.0.1:0 with real inotify, and a
//! real HTTP client that does not follow redirects. Each test file adds the questions it
//! asks of a site in an `impl Site` of its own.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use dropfeed::config::Config;
use dropfeed::publish::{Daemon, ServeError};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tempfile::TempDir;

use super::{wait_until, PATIENCE};

/// A served site.
pub struct Site {
    pub dir: TempDir,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServeError>>>,
}

/// One answer, read whole.
pub struct Got {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    /// A header's value, or `""` when it is absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An HTTP client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// A site folder: `config.toml`, `posts/` holding `posts`, and an empty `outside/`.
pub fn folder(config: &str, posts: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    std::fs::create_dir(dir.path().join("posts")).unwrap();
    std::fs::create_dir(dir.path().join("outside")).unwrap();
    for (path, text) in posts {
        write(&dir.path().join("posts").join(path), text);
    }
    dir
}

/// Writes `text` at `path`, making its folders.
pub fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// Copies a folder and everything in it into `to` (the bundled posts, say).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// An article-text post, as saved from a blog page.
pub fn article(author: &str, date: &str, categories: &str, body: &str) -> String {
    format!("Posted by {author} on {date}\nCategories: {categories}\n\n{body}\n")
}

impl Site {
    /// Serves the site in `dir`.
    pub async fn serve(dir: TempDir) -> Site {
        let config = Config::load(&dir.path().join("config.toml")).unwrap();
        let daemon = Daemon::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Site::run(dir, daemon)
    }

    /// Runs a daemon already started over `dir`.
    pub fn run(dir: TempDir, daemon: Daemon) -> Site {
        let addr = daemon.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(daemon.run(async move {
            let _ = stopped.await;
        }));
        Site {
            dir,
            addr,
            client: client(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and hands back its folder.
    pub async fn stop(mut self) -> TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn posts(&self) -> PathBuf {
        self.path().join("posts")
    }

    pub fn outside(&self) -> PathBuf {
        self.path().join("outside")
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Got {
        let mut request = self
            .client
            .request(method, format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap();
        Got {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Got {
        self.request(reqwest::Method::GET, path, &[]).await
    }

    /// Polls `path` until `ok` holds, for at most [`PATIENCE`].
    pub async fn wait_for(&self, path: &str, what: &str, ok: impl Fn(&Got) -> bool) -> Got {
        let ok = &ok;
        wait_until(PATIENCE, what, || async move {
            let got = self.get(path).await;
            if ok(&got) {
                Ok(got)
            } else {
                Err(format!("{path} answers {} {:?}", got.status, got.text()))
            }
        })
        .await
    }

    /// Waits until `route` answers 301 to `target`.
    pub async fn redirects(&self, route: &str, target: &str, what: &str) {
        self.wait_for(route, what, |got| {
            got.status == StatusCode::MOVED_PERMANENTLY && got.header("location") == target
        })
        .await;
    }

    pub async fn health(&self) -> serde_json::Value {
        serde_json::from_slice(&self.get("/healthz").await.body).unwrap()
    }
}
