//! The W3C feed validator (`validate-feed` in the shared tools), as the tests run it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `validate-feed` is: `$DROPFEED_FEED_TOOLS`, else `../shared/tools` beside the
/// crate, else `/work/shared/tools`.
pub fn feed_tools() -> PathBuf {
    if let Some(dir) = std::env::var_os("DROPFEED_FEED_TOOLS") {
        return PathBuf::from(dir);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools");
    if beside.join("validate-feed").exists() {
        return beside;
    }
    PathBuf::from("/work/shared/tools")
}

/// The validator's warnings about a feed, each its first line; `None` when the
/// validator cannot run here (then the test says so and skips, unless
/// `DROPFEED_REQUIRE_VALIDATOR=1`). Errors fail the test.
pub fn validator_warnings(url: &str) -> Option<Vec<String>> {
    let tool = feed_tools().join("validate-feed");
    let required = std::env::var("DROPFEED_REQUIRE_VALIDATOR").is_ok_and(|v| v == "1");
    let output = Command::new(&tool).arg(url).output();
    let (code, text) = match &output {
        Ok(output) => (
            output.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ),
        Err(err) => (None, format!("cannot run {}: {err}", tool.display())),
    };
    if code.is_none() || code == Some(2) || text.contains("ModuleNotFoundError") {
        assert!(
            !required,
            "DROPFEED_REQUIRE_VALIDATOR=1 but the validator cannot run: {text}"
        );
        println!("skipping the W3C validator: it cannot run here: {text}");
        return None;
    }
    assert_eq!(code, Some(0), "validate-feed {url}:\n{text}");
    Some(
        text.lines()
            .filter(|line| line.trim_start().starts_with("WARNING") || line.contains("warning:"))
            .map(str::to_string)
            .collect(),
    )
}
