//! `dropfeed serve` run as a child process, as an operator runs it: its log (stderr)
//! collected line by line, its address read from its `listening on` line, signals sent
//! to it, and its exit awaited. Killed when dropped.

#![allow(dead_code)]

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;

use super::site::client;
use super::{wait_until, PATIENCE};

/// A running `dropfeed serve`.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// `dropfeed serve` with `RUST_LOG=info` and its stderr piped, for the caller to add
    /// arguments to (and a working folder, or limits).
    pub fn command() -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dropfeed"));
        command
            .arg("serve")
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped());
        command
    }

    /// `dropfeed serve` on a free loopback port with the `config.toml` in `folder` (a
    /// replica), once it listens.
    pub async fn serve_folder(folder: &std::path::Path) -> Daemon {
        let mut command = Daemon::command();
        command
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(folder.join("config.toml"));
        Daemon::spawn(command).await
    }

    /// Spawns `command` (see [`Daemon::command`]) and waits until it listens.
    pub async fn spawn(mut command: Command) -> Daemon {
        let mut child = command.spawn().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
        let mut daemon = Daemon {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            log,
        };
        let line = daemon.logged("it listens", "listening on http://").await;
        let addr = line.split("listening on http://").nth(1).unwrap().trim();
        daemon.addr = addr.parse().unwrap();
        daemon
    }

    /// Waits until a log line holds `text`, and returns it.
    pub async fn logged(&self, what: &str, text: &str) -> String {
        wait_until(PATIENCE, what, || async {
            let log = self.log.lock().unwrap();
            log.iter()
                .find(|line| line.contains(text))
                .cloned()
                .ok_or_else(|| format!("{log:#?}"))
        })
        .await
    }

    /// Every log line so far that holds `text`.
    pub fn lines_with(&self, text: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(text)).cloned().collect()
    }

    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill only sends a signal, to our own child.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    pub async fn exited(&mut self) -> ExitStatus {
        let child = &mut self.child;
        wait_until(PATIENCE, "the daemon exits", || {
            let exited = child.try_wait().unwrap();
            async move { exited.ok_or_else(|| "still running".to_string()) }
        })
        .await
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// GET `path`: its status and body.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = client()
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
