//! Long names and long file names against the real binary: `build` writes every file
//! (no "File name too long") and `check` says what was cut, so the two agree. Issue 9,
//! item 7: a 300-character category made `build` exit 2 with partial output while
//! `check` passed; a 3,000-character author gave a feed URL that answered 414.

use std::path::Path;
use std::process::{Command, Output};

fn dropfeed(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dropfeed"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run dropfeed")
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write post");
}

#[test]
fn long_names_and_file_names_build_and_check_agree() {
    let site = tempfile::tempdir().expect("temp dir");
    let dir = site.path();
    write(dir, "config.toml", "");
    let category = "Transit and roads ".repeat(17); // 306 characters
    let author = "Dana ".repeat(600); // 3,000 characters
    write(
        dir,
        "posts/long-names.md",
        &format!(
            "---\ntitle: Long names\ndate: 2020-01-01\nauthor: \"{author}\"\ncategories: [\"{category}\"]\n---\n\nBody.\n"
        ),
    );
    // A 253-byte file name: legal, but its slug would not be a file name `build` can write
    // with `.gz` after it, nor a URL anyone reads.
    let name = format!("{}.md", "night-bus-".repeat(25));
    write(
        dir,
        &format!("posts/{name}"),
        "---\ndate: 2020-01-02\n---\n\nBody.\n",
    );

    let check = dropfeed(dir, &["check"]);
    let said = String::from_utf8_lossy(&check.stderr).into_owned()
        + &String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{said}");
    for warning in [
        "posts/long-names.md:1: warning: key `categories`: a name is over 100 characters; it is cut there: shorten it",
        "posts/long-names.md:1: warning: key `author`: a name is over 100 characters; it is cut there: shorten it",
    ] {
        assert!(said.contains(warning), "{warning}\nnot in:\n{said}");
    }

    let build = dropfeed(dir, &["build", "--out", "public"]);
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let public = dir.join("public");
    for file in [
        "categories/transit-and-roads-transit-and-roads-transit-and-roads-transit-and-roads-b587fea9/rss.xml",
        "authors/dana-dana-dana-dana-dana-dana-dana-dana-dana-dana-dana-dana-dana-dana-77430ee7/atom.xml.gz",
        "posts/night-bus-night-bus-night-bus-night-bus-night-bus-night-bus-night-bus-e72e85dd/index.html.br",
    ] {
        assert!(public.join(file).is_file(), "{file} was not written");
    }
}
