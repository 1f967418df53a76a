//! The `# Layout` list in `src/lib.rs` says imports point down it, never up. This test
//! reads that list from `lib.rs` itself, so the doc and the rule cannot drift apart, and
//! fails on any `crate::NAME` outside `#[cfg(test)]` items that names a module listed at
//! or after the file's own (modules on one bullet may not use each other) or a module the
//! list does not mention.

use std::path::Path;

/// The modules of the `# Layout` list, one entry per bullet, top first: the names linked
/// before the bullet's first `: ` (`- [`build`] and [`check`]: ...` gives both).
fn layout(lib_rs: &str) -> Vec<Vec<String>> {
    let mut bullets = Vec::new();
    let mut inside = false;
    for line in lib_rs.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            if inside {
                break;
            }
            continue;
        };
        let doc = doc.trim();
        if doc.starts_with('#') {
            inside = doc == "# Layout";
            continue;
        }
        let Some(bullet) = doc.strip_prefix("- ").filter(|_| inside) else {
            continue;
        };
        let head = bullet.split(": ").next().unwrap_or("");
        let names = head
            .split("[`")
            .skip(1)
            .filter_map(|rest| rest.split_once("`]").map(|(name, _)| name.to_string()))
            .collect();
        bullets.push(names);
    }
    bullets
}

/// The bullet `module` is on, counted from the top.
fn rank(layout: &[Vec<String>], module: &str) -> Option<usize> {
    layout
        .iter()
        .position(|names| names.iter().any(|n| n == module))
}

/// Every `crate::NAME` in `source` (the file `file` of module `module`) that breaks the
/// layout, as `file:line: message`. Comments and `#[cfg(test)]` items are left out: tests
/// may use anything.
fn violations(file: &str, module: &str, source: &str, layout: &[Vec<String>]) -> Vec<String> {
    let Some(own) = rank(layout, module) else {
        return vec![format!(
            "{file}:1: module `{module}` is not in the `# Layout` list of src/lib.rs; add it there"
        )];
    };
    let code = without_tests_and_comments(source);
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (at, name) in crate_references(&code) {
        if name == module {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let text = lines.get(line - 1).map_or("", |l| l.trim());
        let problem = match rank(layout, &name) {
            None => format!("`{name}` is not in the `# Layout` list of src/lib.rs"),
            Some(r) if r == own => format!(
                "`{module}` uses `{name}`, which is on the same `# Layout` bullet; move what \
                 both need down the list"
            ),
            Some(r) if r > own => format!(
                "`{module}` uses `{name}`, which the `# Layout` list of src/lib.rs puts after \
                 it; imports point down the list"
            ),
            Some(_) => continue,
        };
        found.push(format!("{file}:{line}: {problem}: `{text}`"));
    }
    found
}

/// `source` with comments, literals and `#[cfg(test)]` items blanked out, newlines
/// kept so offsets still give line numbers.
fn without_tests_and_comments(source: &str) -> String {
    let code = blank_comments_and_literals(source);
    let mut out = Vec::new();
    let mut skip_until: Option<String> = None;
    let mut after_cfg_test = false;
    for line in code.lines() {
        let trimmed = line.trim();
        if let Some(end) = &skip_until {
            if line.starts_with(end.as_str()) {
                skip_until = None;
            }
            out.push("");
            continue;
        }
        if trimmed == "#[cfg(test)]" {
            after_cfg_test = true;
            out.push("");
            continue;
        }
        if after_cfg_test && !trimmed.starts_with("#[") && !trimmed.is_empty() {
            after_cfg_test = false;
            // rustfmt closes an item's block at the indentation it opened at.
            if !trimmed.ends_with(';') {
                let indent = &line[..line.len() - line.trim_start().len()];
                skip_until = Some(format!("{indent}}}"));
            }
            out.push("");
            continue;
        }
        out.push(line);
    }
    out.join("\n")
}

/// `source` with every comment, string and char literal turned into spaces (newlines
/// kept), so a `crate::` inside one is not taken for code.
fn blank_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let after_identifier = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        // Where the literal or comment starting here ends (exclusive), if one does.
        let end = match c {
            '/' if next == Some('/') => Some(find(&chars, i, "\n").unwrap_or(chars.len())),
            '/' if next == Some('*') => {
                Some(find(&chars, i + 2, "*/").map_or(chars.len(), |e| e + 2))
            }
            '"' => Some(string_end(&chars, i + 1)),
            'r' if !after_identifier && matches!(next, Some('"' | '#')) => {
                let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                if chars.get(i + 1 + hashes) == Some(&'"') {
                    let close = format!("\"{}", "#".repeat(hashes));
                    Some(
                        find(&chars, i + 2 + hashes, &close)
                            .map_or(chars.len(), |e| e + close.len()),
                    )
                } else {
                    None
                }
            }
            // A char literal (`'"'`, `'\''`), not a lifetime (`'a`).
            '\'' if next == Some('\\') => find(&chars, i + 3, "'").map(|e| e + 1),
            '\'' if chars.get(i + 2) == Some(&'\'') => Some(i + 3),
            _ => None,
        };
        match end {
            Some(end) => {
                for &c in &chars[i..end] {
                    blank(&mut out, c);
                }
                i = end;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Where the string whose content starts at `from` ends, past its closing quote.
fn string_end(chars: &[char], from: usize) -> usize {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// The first index at or after `from` where `needle` starts.
fn find(chars: &[char], from: usize, needle: &str) -> Option<usize> {
    let needle: Vec<char> = needle.chars().collect();
    (from..chars.len()).find(|&i| chars[i..].starts_with(&needle))
}

/// Each `crate::NAME` in `code` with its byte offset; a group `crate::{a, b::c}` gives
/// `a` and `b`. `$crate` (a macro's own crate) is not a reference.
fn crate_references(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => item_start = true,
                    _ if item_start && depth == 1 && !c.is_whitespace() => {
                        item_start = false;
                        let name = identifier(&group[i..]);
                        if !name.is_empty() && name != "self" {
                            found.push((at + "crate::{".len() + i, name));
                        }
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
        } else {
            let name = identifier(rest);
            if !name.is_empty() {
                found.push((at, name));
            }
        }
    }
    found
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Every `.rs` file under `dir`, with its path.
fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    for entry in entries {
        let path = entry.expect("read a folder entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn imports_point_down_the_layout_list() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let lib_rs = std::fs::read_to_string(src.join("lib.rs")).expect("read src/lib.rs");
    let layout = layout(&lib_rs);
    assert!(
        layout.len() > 5,
        "src/lib.rs has no `# Layout` list this test can read: {layout:?}"
    );
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for path in files {
        let rel = path.strip_prefix(root).expect("under the crate");
        let inside = path.strip_prefix(&src).expect("under src");
        // lib.rs is the root that declares the modules; main.rs is the binary, which
        // reaches the library as `dropfeed::`, not `crate::`.
        if inside == Path::new("lib.rs") || inside == Path::new("main.rs") {
            continue;
        }
        let first = inside.components().next().expect("a file under src");
        let first = first.as_os_str().to_string_lossy();
        let module = first.strip_suffix(".rs").unwrap_or(&first);
        let source = std::fs::read_to_string(&path).expect("read a source file");
        let file = rel.display().to_string();
        problems.extend(violations(&file, module, &source, &layout));
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

const MADE_UP_LIB: &str = "\
//! A crate.
//!
//! # Layout
//!
//! Imports point down this list, never up:
//!
//! - [`post`]: one post, see [`post::Post`].
//! - [`build`] and [`check`]: the commands.
//!   More about them: [`serve`] is not here.
//! - [`serve`]: the daemon.
//!
//! # Other
//!
//! - [`nothing`]: not a layout bullet.

pub mod post;
";

#[test]
fn the_layout_is_read_from_the_bullets_heads() {
    assert_eq!(
        layout(MADE_UP_LIB),
        vec![vec!["post"], vec!["build", "check"], vec!["serve"]]
    );
}

#[test]
fn an_upward_import_is_caught_with_file_line_and_import() {
    let layout = layout(MADE_UP_LIB);
    let source = "\
//! Posts. Unlike crate::serve, this comment is not code.

use crate::post::Post;
use crate::{build, serve::Daemon};

fn f() {
    crate::check::run();
    let url = \"https://crate::serve/\"; // crate::serve again
    let quote = '\"'; /* crate::serve */ let raw = r#\"crate::serve\"#;
}

#[cfg(test)]
mod tests {
    use crate::serve;
}
";
    assert_eq!(
        violations("src/post.rs", "post", source, &layout),
        vec![
            "src/post.rs:4: `post` uses `build`, which the `# Layout` list of src/lib.rs puts after it; imports point down the list: `use crate::{build, serve::Daemon};`",
            "src/post.rs:4: `post` uses `serve`, which the `# Layout` list of src/lib.rs puts after it; imports point down the list: `use crate::{build, serve::Daemon};`",
            "src/post.rs:7: `post` uses `check`, which the `# Layout` list of src/lib.rs puts after it; imports point down the list: `crate::check::run();`",
        ]
    );
}

#[test]
fn modules_on_one_bullet_may_not_use_each_other() {
    let layout = layout(MADE_UP_LIB);
    let source = "use crate::post;\nuse crate::build::load;\n";
    assert_eq!(
        violations("src/check.rs", "check", source, &layout),
        vec!["src/check.rs:2: `check` uses `build`, which is on the same `# Layout` bullet; move what both need down the list: `use crate::build::load;`"]
    );
}

#[test]
fn a_module_missing_from_the_layout_is_caught() {
    let layout = layout(MADE_UP_LIB);
    assert_eq!(
        violations("src/serve.rs", "serve", "use crate::stray;\n", &layout),
        vec!["src/serve.rs:1: `stray` is not in the `# Layout` list of src/lib.rs: `use crate::stray;`"]
    );
    assert_eq!(
        violations("src/stray.rs", "stray", "", &layout),
        vec!["src/stray.rs:1: module `stray` is not in the `# Layout` list of src/lib.rs; add it there"]
    );
}
