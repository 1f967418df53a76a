//! `dropfeed build`'s progress bar: drawn when stderr is a terminal (a real one: a
//! pseudo-terminal from util-linux's `script`), absent from a pipe or a log, whose lines
//! stay as they were.

mod common;

use std::process::Command;

use common::site::{article, folder};

const CONFIG: &str = "[site]\nbase_url = \"https://news.example.org\"\n";

fn site() -> tempfile::TempDir {
    folder(
        CONFIG,
        &[
            ("a.txt", &article("Ann", "May 1, 2020", "Transit", "Ant.")),
            ("b.txt", &article("Ann", "May 2, 2020", "Transit", "Bee.")),
        ],
    )
}

/// `dropfeed build` of `dir` into `dir/out`, as a shell word list for `script -c`.
fn build_line(dir: &std::path::Path) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    format!(
        "{} build --config {} --out {}",
        quote(env!("CARGO_BIN_EXE_dropfeed")),
        quote(&dir.join("config.toml").to_string_lossy()),
        quote(&dir.join("out").to_string_lossy()),
    )
}

/// What a terminal showed, with the cursor movements and colours taken out and each
/// redraw (`\r`) on a line of its own.
fn screen(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).replace('\r', "\n");
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-letter.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
}

#[test]
fn build_draws_a_progress_bar_on_a_terminal() {
    let dir = site();
    let output = Command::new("script")
        .args(["-q", "-e", "-c", &build_line(dir.path()), "/dev/null"])
        .env("RUST_LOG", "info")
        .output()
        .expect("util-linux's `script` (package bsdutils) runs the build on a terminal");
    let shown = screen(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("reading posts"), "{shown}");
    // 3 feeds (site, Transit, Ann) in 3 formats, the home page, OPML, 2 post pages, the
    // pages of Transit and Ann: 15 routes.
    assert!(shown.contains("writing files ["), "{shown}");
    assert!(shown.contains("/15 "), "{shown}");
    assert!(shown.contains("wrote "), "{shown}");
}

#[test]
fn build_without_a_terminal_writes_only_its_log_lines() {
    let dir = site();
    let output = Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .arg("build")
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("writing files"), "{stderr}");
    assert!(!stderr.contains('\r'), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].ends_with(&format!(
            "INFO wrote 46 files for 2 posts to {}",
            dir.path().join("out").display()
        )),
        "{stderr}"
    );
}
