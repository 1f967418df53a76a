//! `dropfeed check` and `dropfeed build` on a folder of bad posts, run as the real binary:
//! each bad file is reported as `path:line: problem`, `check` exits 1, and `build` still
//! publishes every good post.

use std::path::Path;
use std::process::{Command, Output};

fn dropfeed(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run dropfeed")
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write post");
}

/// A site whose posts folder holds two good posts and one of each kind of bad file.
fn bad_site() -> tempfile::TempDir {
    let site = tempfile::tempdir().expect("temp dir");
    let dir = site.path();
    write(
        dir,
        "config.toml",
        b"[site]\ntimezone = \"America/Los_Angeles\"\n[posts]\nmax_bytes = 2000\n",
    );
    write(
        dir,
        "posts/good.md",
        b"---\ntitle: Good\ndate: 2024-01-02\ncategories: [News]\n---\nFine.\n",
    );
    write(
        dir,
        "posts/also-good.txt",
        b"Posted by Ann Lee on May 1, 2024\nCategories: News\n\nAlso fine.\n",
    );
    write(dir, "posts/binary.txt", b"GIF89a\x00\x01\x02\x00");
    write(dir, "posts/empty.txt", b"");
    write(dir, "posts/huge.txt", &vec![b'a'; 2001]);
    write(
        dir,
        "posts/unclosed.md",
        b"---\ntitle: Never closed\n\nBody.\n",
    );
    write(
        dir,
        "posts/bad-date.md",
        b"---\ntitle: When?\ndate: someday soon\n---\nBody.\n",
    );
    write(
        dir,
        "posts/bad-yaml.md",
        b"---\ntitle: Fine\ncategories: [unclosed\n---\nBody.\n",
    );
    write(
        dir,
        "posts/a-first.md",
        b"---\ntitle: First\ndate: 2024-01-03\nslug: same\n---\nOne.\n",
    );
    write(
        dir,
        "posts/b-second.md",
        b"---\ntitle: Second\ndate: 2024-01-04\nslug: same\n---\nTwo.\n",
    );
    std::os::unix::fs::symlink("nowhere.md", dir.join("posts/dangling.md")).expect("symlink");
    // A named pipe would block a reader forever: it must be refused without being opened.
    let made = Command::new("mkfifo")
        .arg(dir.join("posts/pipe.md"))
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    // Not posts at all: never read, never reported.
    write(dir, "posts/.hidden.md", b"\x00");
    write(dir, "posts/notes.md~", b"\x00");
    write(dir, "posts/picture.png", b"\x89PNG\x00");
    site
}

#[test]
fn check_lists_each_bad_post_and_exits_1() {
    let site = bad_site();
    let output = dropfeed(site.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, EXPECTED_CHECK_LINES, "stdout:\n{stdout}");
}

const EXPECTED_CHECK_LINES: &[&str] = &[
    "posts/b-second.md:1: slug `same` is already taken by a-first.md; set a different `slug` in the front matter",
    "posts/bad-date.md:3: key `date`: `someday soon` is not a date; use 2019-03-03, 2019-03-03 09:05, 2019-03-03T09:05:00-08:00, March 3, 2019 or 3 March 2019",
    // The YAML parser notices the unclosed list at the closing `---`.
    "posts/bad-yaml.md:4: front matter is not valid YAML: did not find expected ',' or ']'",
    "posts/binary.txt:1: binary file (NUL bytes), not a post",
    "posts/dangling.md:1: dangling symlink: its target does not exist; fix or delete the link",
    "posts/empty.txt:1: empty file; write the post or delete the file",
    "posts/huge.txt:1: file is 2001 bytes, over posts.max_bytes (2000); split it or raise posts.max_bytes",
    "posts/pipe.md:1: not a regular file; post files must be plain files ending in .txt, .md or .markdown",
    "posts/unclosed.md:1: front matter opened with `---` on line 1 is never closed; add a closing `---` line",
];

/// A site with the empty config and one good post.
fn good_site() -> tempfile::TempDir {
    let site = tempfile::tempdir().expect("temp dir");
    write(site.path(), "config.toml", b"");
    write(
        site.path(),
        "posts/good.md",
        b"---\ntitle: Good\ndate: 2024-01-02\n---\nFine.\n",
    );
    site
}

#[test]
fn check_on_good_posts_exits_0() {
    let site = good_site();
    let output = dropfeed(site.path(), &["check"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
}

#[test]
fn build_publishes_every_good_post_despite_bad_ones() {
    let site = bad_site();
    let output = dropfeed(site.path(), &["build", "--out", "out"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let feed = std::fs::read(site.path().join("out/categories/news/rss.xml")).expect("news feed");
    let feed = feed_rs::parser::parse(feed.as_slice()).expect("parse");
    let titles: Vec<String> = feed
        .entries
        .iter()
        .map(|e| {
            e.title
                .as_ref()
                .map(|t| t.content.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(titles, vec!["Also good", "Good"]);
    let site_feed = std::fs::read(site.path().join("out/rss.xml")).expect("site feed");
    let site_feed = feed_rs::parser::parse(site_feed.as_slice()).expect("parse");
    // good, also-good, and the winner of the slug collision.
    assert_eq!(site_feed.entries.len(), 3);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("posts/binary.txt:1: binary file"),
        "{stderr}"
    );
}

#[test]
fn bad_config_key_stops_with_exit_2_and_names_the_key() {
    let site = tempfile::tempdir().expect("temp dir");
    write(site.path(), "config.toml", b"[feeds]\nitems = \"many\"\n");
    let output = dropfeed(site.path(), &["check"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "config.toml: line 2: key `feeds.items`: invalid type: string \"many\", expected a whole number"
        ),
        "{stderr}"
    );
}

/// Regression: `dropfeed check | head -1` panicked ("failed printing to stdout: Broken
/// pipe") once the reader closed the pipe. Enough problems to overflow the pipe's buffer
/// make sure the command is still writing when the pipe closes.
#[test]
fn check_into_a_reader_that_stops_early_exits_quietly() {
    use std::io::BufRead;
    let site = tempfile::tempdir().expect("temp dir");
    write(site.path(), "config.toml", b"");
    for i in 0..3000 {
        write(site.path(), &format!("posts/empty-{i:04}.txt"), b"");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .arg("check")
        .current_dir(site.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run dropfeed");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut first = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut first)
        .expect("read a line");
    assert_eq!(
        first,
        "posts/empty-0000.txt:1: empty file; write the post or delete the file\n"
    );
    // The reader is dropped here: the pipe is closed with most of the report unwritten.
    let output = child.wait_with_output().expect("wait for dropfeed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr, "", "a closed pipe must end the output quietly");
    assert_eq!(output.status.code(), Some(1));
}

/// A folder whose path is longer than the system allows (PATH_MAX) cannot be read even by
/// root, unlike one without read permission, so it stands in for any unreadable folder:
/// the failure reaches `check` and `build` as a problem instead of the folder's posts
/// vanishing without a word.
#[test]
fn an_unreadable_folder_is_reported_and_check_exits_1() {
    let site = good_site();
    let name = "d".repeat(250);
    // Made one level at a time with relative paths, so no path given to mkdir is too long;
    // bash, not sh: dash's `cd` fails once the whole path is.
    let script = format!(
        "mkdir -p posts/deep && cd posts/deep && for i in $(seq 20); do mkdir {name} && cd {name}; done && echo hi > lost.txt"
    );
    let made = Command::new("bash")
        .args(["-c", &script])
        .current_dir(site.path())
        .status()
        .expect("run bash");
    assert!(made.success());

    let output = dropfeed(site.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout:\n{stdout}");
    let (folder, problem) = lines[0].split_once(":1: ").expect("path:line: problem");
    assert!(folder.starts_with("posts/deep/dddd"), "{folder}");
    assert_eq!(
        problem,
        "cannot read this folder, so its posts are left out: File name too long (os error 36); check its permissions"
    );

    let output = dropfeed(site.path(), &["build", "--out", "out"]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{folder}:1: cannot read this folder")),
        "{stderr}"
    );
}
