//! The parse budget (`posts.parse_budget_ms`): a file still being read when its budget
//! is spent is refused with that reason and the rest of the change publishes; a rescan
//! does not read it again until it changes; reads left running past their budget are
//! bounded. Real files in a temp folder and real reader threads; the slow file is slow
//! by construction (its parse waits until the test lets it go), so nothing depends on
//! how fast the machine is.

mod common;

use std::sync::{Arc, Condvar, Mutex};

use common::site::{folder, write};
use common::{wait_until, PATIENCE};
use dropfeed::config::Config;
use dropfeed::post;
use dropfeed::publish::{Clock, Publisher};
use dropfeed::scan::{Reader, MAX_OVERRUNNING};
use dropfeed::watch::ChangeSet;

/// A gate the slow parses wait at until the test opens it, and the paths parsed so far.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    parsed: Mutex<Vec<String>>,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    fn times_parsed(&self, path: &str) -> usize {
        self.parsed
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

/// A reader whose parse of a file named `slow…` waits until `gate` opens, then parses
/// it as usual; every other file is parsed as usual at once.
fn reader(config: &Arc<Config>, gate: &Arc<Gate>) -> Reader {
    let gate = Arc::clone(gate);
    Reader::with_parse(Arc::clone(config), move |source, config| {
        gate.parsed.lock().unwrap().push(source.path.clone());
        if source.path.starts_with("slow") {
            let mut open = gate.open.lock().unwrap();
            while !*open {
                open = gate.opened.wait(open).unwrap();
            }
        }
        post::parse(source, &config.site)
    })
}

fn config(dir: &std::path::Path, budget_ms: u64) -> Arc<Config> {
    let text = format!("[posts]\nparse_budget_ms = {budget_ms}\nrescan_secs = 0\n");
    Arc::new(Config::parse(&text, &dir.join("config.toml")).unwrap())
}

const POST: &str = "---\ntitle: A post\ndate: 2020-01-01\n---\n\nBody.\n";

fn rescan() -> ChangeSet {
    ChangeSet::everything()
}

#[tokio::test]
async fn a_file_over_its_budget_is_refused_the_rest_publishes_and_a_rescan_leaves_it_until_it_changes(
) {
    let dir = folder("", &[("a.md", POST), ("slow.md", POST), ("b.md", POST)]);
    // Generous: the other files must never run out of it on a busy machine.
    let config = config(dir.path(), 1500);
    let gate = Arc::new(Gate::default());
    let reader = reader(&config, &gate);
    let (mut publisher, published) =
        Publisher::with_reader(Arc::clone(&config), Clock::system(), reader.clone());
    assert_eq!((published.counts.added, published.counts.errors), (2, 1));
    let snapshot = publisher.snapshots().load_full();
    assert!(snapshot.get("/posts/a/").is_some());
    assert!(snapshot.get("/posts/b/").is_some());
    assert!(snapshot.get("/posts/slow/").is_none());
    let health: serde_json::Value =
        serde_json::from_slice(&snapshot.get("/healthz").unwrap().body).unwrap();
    assert_eq!(health["errors"][0]["path"], "slow.md");
    assert_eq!(
        health["errors"][0]["reason"],
        "took more than 1500 ms to read; refused: split it or simplify it, or raise posts.parse_budget_ms"
    );
    assert_eq!(reader.overrunning(), 1);

    // The abandoned parse ends once let go, and what it gave is dropped.
    gate.open();
    wait_until(PATIENCE, "the refused parse ends", || async {
        match reader.overrunning() {
            0 => Ok(()),
            n => Err(format!("{n} still running")),
        }
    })
    .await;
    assert!(publisher.publish(&rescan(), false).is_none());
    assert_eq!(gate.times_parsed("slow.md"), 1);

    // Changed: read again, and published now that it is quick.
    write(
        &dir.path().join("posts/slow.md"),
        &POST.replace("Body.", "Body, edited."),
    );
    let published = publisher.publish(&rescan(), false).unwrap();
    assert_eq!(gate.times_parsed("slow.md"), 2);
    assert_eq!(published.counts.added, 1);
    assert!(publisher.snapshots().load().get("/posts/slow/").is_some());
}

#[tokio::test]
async fn reads_running_past_their_budget_are_bounded_and_the_files_left_are_not_read() {
    let dir = folder("", &[]);
    let paths: Vec<String> = (0..8).map(|i| format!("slow{i}.md")).collect();
    for path in &paths {
        write(&dir.path().join("posts").join(path), POST);
    }
    let config = config(dir.path(), 100);
    let gate = Arc::new(Gate::default());
    let reader = reader(&config, &gate);
    let loaded = reader.load_all(paths.clone(), 0);

    // One reader per core starts; each refused one is replaced while fewer than
    // MAX_OVERRUNNING overrun, so MAX_OVERRUNNING - 1 replacements in all.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let refused = (cores + MAX_OVERRUNNING - 1).min(paths.len());
    assert_eq!(reader.overrunning(), refused);
    assert_eq!(loaded.updates.len(), refused);
    assert_eq!(loaded.refused.len(), refused);
    assert_eq!(loaded.not_read.len(), paths.len() - refused);
    for (path, _) in &loaded.updates {
        assert!(path.starts_with("slow"), "{path}");
    }
    // While they overrun, a load starts no reader at all.
    let again = reader.load_all(paths.clone(), 0);
    assert_eq!(again.not_read, paths);
    assert_eq!(reader.overrunning(), refused);

    gate.open();
    wait_until(PATIENCE, "the refused parses end", || async {
        match reader.overrunning() {
            0 => Ok(()),
            n => Err(format!("{n} still running")),
        }
    })
    .await;
    // Reading goes on.
    assert!(reader.load_all(paths, 0).not_read.is_empty());
}
