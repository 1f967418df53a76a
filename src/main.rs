//! The `dropfeed` command: parses the CLI, sets up logging and calls into the library.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use dropfeed::build::{Progress, Stage};
use dropfeed::config::Config;

#[derive(Parser)]
#[command(
    name = "dropfeed",
    version,
    about = "Publish post files as RSS, Atom and JSON feeds"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the posts folder and serve every feed over HTTP (the main job).
    Serve {
        /// The config file.
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
        /// Listen here (HOST:PORT, the host a name or an IP) instead of `server.listen`;
        /// port 0 picks a free port.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Write every route once as files (with .gz and .br beside them), then exit.
    Build {
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
        /// The folder to write; created if missing, replaced whole if built before.
        #[arg(long)]
        out: PathBuf,
        /// Build without the state database: ids, slugs and pages from the rules alone,
        /// nothing remembered.
        #[arg(long)]
        no_state: bool,
    },
    /// Parse every post and print `path:line: problem` for each bad one; exit 1 if any.
    Check {
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    dropfeed::publish::tune_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config, listen } => {
            let config = load_config(&config)?;
            // `config.listen` stays the file's, so a reload compares like with like.
            let listen = listen.unwrap_or_else(|| config.listen.clone());
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let served = runtime.block_on(async {
                let reloads = reload_requests();
                dropfeed::publish::serve(config, &listen, shutdown_signal(), reloads).await
            });
            // A publish left behind by the stop may still run on a blocking thread;
            // exiting must not wait for it.
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Build {
            config,
            out,
            no_state,
        } => {
            let config = load_config(&config)?;
            // Before the state database is opened: a refused build writes nothing.
            config.check_posts_dir()?;
            if config.base_url_follows_listen {
                // A build is for another server to serve: links to this machine are
                // rarely what is meant, and ids minted now keep this host for good.
                tracing::warn!(
                    "{}: `site.base_url` is not set, so links and new ids use {} (`server.listen`); set it to the site's public URL",
                    config.path.display(),
                    config.site.base_url
                );
            }
            let mut state =
                dropfeed::state::State::for_build(&config, !no_state).map_err(|err| {
                    anyhow::anyhow!("{err}; or build without it: dropfeed build --no-state")
                })?;
            // A bar on a terminal only: a log or a pipe gets the lines it always got.
            let bar = std::io::stderr().is_terminal().then(Bar::new);
            let progress: &dyn Progress = match &bar {
                Some(bar) => bar,
                None => &dropfeed::build::Quiet,
            };
            let now = chrono::Utc::now();
            let built = dropfeed::build::build_showing(&config, &mut state, &out, now, progress);
            if let Some(bar) = bar {
                bar.0.finish_and_clear();
            }
            // Every error names the path it is about.
            let report = built?;
            for problem in &report.errors {
                tracing::warn!(
                    "skipped {}:{}: {}",
                    config.posts_dir.join(&problem.path).display(),
                    problem.line,
                    problem.message
                );
            }
            tracing::info!(
                "wrote {} files for {} posts to {}",
                report.files,
                report.posts,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => {
            let config = load_config(&config)?;
            config.check_posts_dir()?;
            let findings = dropfeed::check::check(&config, chrono::Utc::now());
            for notice in &findings.notices {
                tracing::warn!("{notice}");
            }
            if print_lines(&findings.lines(&config)).context("writing the report")? {
                eprintln!("{}", findings.summary());
            }
            Ok(if findings.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// `build`'s progress on stderr: a spinner while it reads and renders, then a bar over
/// the routes it writes.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new() -> Bar {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Bar(bar)
    }
}

impl Progress for Bar {
    fn stage(&self, stage: Stage, steps: Option<u64>) {
        let message = match stage {
            Stage::Reading => "reading posts",
            Stage::Rendering => "rendering feeds",
            Stage::Writing => "writing files",
        };
        let template = match steps {
            Some(steps) => {
                self.0.set_length(steps);
                self.0.set_position(0);
                "{msg} [{bar:40}] {pos}/{len} {elapsed} (eta {eta})"
            }
            None => "{spinner} {msg} {elapsed}",
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            self.0.set_style(style.progress_chars("=> "));
        }
        self.0.set_message(message);
    }

    fn advance(&self, steps: u64) {
        self.0.inc(steps);
    }
}

/// Reads the config at `path`; a missing file gives the defaults, with a notice naming
/// the file looked for (a mistyped `--config` must not pass unnoticed). The config's own
/// notices (an icon that cannot be used) are said too, on stderr, and the command goes on.
fn load_config(path: &Path) -> anyhow::Result<Config> {
    let config = Config::load(path)?;
    if !config.file_found {
        tracing::warn!(
            "{}: no config file there; every key takes its default (posts from {}); write one to change them (README: config.toml)",
            path.display(),
            config.posts_dir.display(),
        );
    }
    for notice in &config.notices {
        tracing::warn!("{notice}");
    }
    Ok(config)
}

/// `err` and the causes it wraps, each said once: a message that already quotes its
/// cause (`cannot read x: No such file (os error 2)`) is not followed by it again.
fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let said = cause.to_string();
        if text.contains(&said) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}

/// Writes `lines` to stdout; false when the reader stopped reading. A reader that stops
/// (`dropfeed check | head -1`) closes the pipe: that ends the output quietly, as it does
/// for any Unix tool, instead of failing the command.
fn print_lines(lines: &[String]) -> std::io::Result<bool> {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        match writeln!(stdout, "{line}") {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => return Ok(false),
            Err(err) => return Err(err),
        }
    }
    match stdout.flush() {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(err) => Err(err),
    }
}

/// One request to read the config file again per SIGHUP (what `systemctl reload` and
/// `kill -HUP` send). The handler is installed before the start-up scan: unhandled, a
/// SIGHUP would end the process without a word.
fn reload_requests() -> tokio::sync::mpsc::Receiver<()> {
    let (requests, received) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    tracing::info!("SIGHUP: reading the config again");
                    // One request waiting is enough: it reads the file as it is by then.
                    let _ = requests.try_send(());
                }
            });
        }
        Err(err) => {
            tracing::warn!("cannot listen for SIGHUP: {err}; a SIGHUP will stop the daemon")
        }
    }
    #[cfg(not(unix))]
    drop(requests);
    received
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what service managers and `kill` send).
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!("cannot listen for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: no new connections, finishing responses in flight");
}
