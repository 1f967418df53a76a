//! `dropfeed check`: parse every post and list what is wrong, as `path:line: problem`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::feed;
use crate::post::{Attachment, Problem};
use crate::scan;
use crate::state::State;

/// Every problem of the posts as published at `now`: errors (a post not published, or
/// not as written) and warnings (published, but with a guess the writer should confirm).
#[derive(Debug)]
pub struct Findings {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
    pub tally: Tally,
    /// What is wrong with the site as a whole rather than with a post (see
    /// [`podcast_notice`]), each a line for stderr.
    pub notices: Vec<String>,
}

/// The posts that parsed, split by what became of them: `check`'s summary and `serve`'s
/// start-up line, so a draft or a post dated tomorrow is never counted as published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Every post that parsed.
    pub posts: usize,
    /// In the feeds now.
    pub published: usize,
    /// `draft: true`: never published.
    pub drafts: usize,
    /// Dated in the future: published when that time comes.
    pub scheduled: usize,
}

impl Tally {
    pub fn of(catalog: &Catalog) -> Tally {
        let posts = catalog.known();
        let published = catalog.visible();
        let scheduled = catalog.scheduled();
        Tally {
            posts,
            published,
            scheduled,
            drafts: posts.saturating_sub(published + scheduled),
        }
    }
}

impl std::fmt::Display for Tally {
    /// `13 posts (10 published, 1 draft, 2 scheduled)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} published, {}, {} scheduled)",
            counted(self.posts, "post"),
            self.published,
            counted(self.drafts, "draft"),
            self.scheduled
        )
    }
}

/// `1 post`, `2 posts`.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl Findings {
    /// The lines `check` prints, paths as seen from where the command was run.
    pub fn lines(&self, config: &Config) -> Vec<String> {
        let shown = |p: &Problem| -> PathBuf { config.posts_dir.join(&p.path) };
        let mut lines = Vec::new();
        for p in &self.errors {
            lines.push(format!("{}:{}: {}", shown(p).display(), p.line, p.message));
        }
        for p in &self.warnings {
            lines.push(format!(
                "{}:{}: warning: {}",
                shown(p).display(),
                p.line,
                p.message
            ));
        }
        lines
    }

    /// The line `check` ends with, on stderr (stdout holds only `path:line: problem`
    /// lines, for scripts and editors): `13 posts (10 published, 1 draft, 2 scheduled),
    /// 0 errors, 2 warnings`. Errors are files that gave no post; warnings are posts
    /// published with a guess.
    pub fn summary(&self) -> String {
        format!(
            "{}, {}, {}",
            self.tally,
            counted(self.errors.len(), "error"),
            counted(self.warnings.len(), "warning")
        )
    }
}

/// Every problem of the posts under the posts folder as published at `now`. A folder
/// that cannot be read, a link out of the posts folder and a name that is not UTF-8 are
/// errors: the posts there would be missing from every feed.
pub fn check(config: &Config, now: DateTime<Utc>) -> Findings {
    let mut state = State::for_check(config);
    let catalog = scan::load_catalog(config, &mut state, now, 0);
    Findings {
        errors: catalog.errors(),
        warnings: catalog.warnings(),
        tally: Tally::of(&catalog),
        notices: podcast_notice(config, &catalog).into_iter().collect(),
    }
}

/// The warning for a site whose published posts carry audio or video but that is not
/// set up as a podcast (see [`feed::missing_podcast_keys`]): its feeds stay plain RSS,
/// and a writer who meant a podcast should hear which keys make one. `check` prints it;
/// `serve` logs it once at start.
pub fn podcast_notice(config: &Config, catalog: &Catalog) -> Option<String> {
    let missing = feed::missing_podcast_keys(&config.site);
    if missing.is_empty() {
        return None;
    }
    let pages = catalog.pages();
    // The first by path, so the line is the same at every run.
    let example = pages
        .iter()
        .map(|(_, post)| post)
        .filter(|post| post.enclosure.as_ref().is_some_and(Attachment::is_episode))
        .map(|post| post.path.as_str())
        .min()?;
    let keys: Vec<String> = missing.iter().map(|key| format!("`{key}`")).collect();
    let (keys, verb, them) = match keys.as_slice() {
        [one] => (one.clone(), "is", "it"),
        _ => (keys.join(" and "), "are", "them"),
    };
    Some(format!(
        "{}: posts carry audio or video (such as {}), but feeds are plain RSS until {keys} {verb} set (Apple Podcasts needs {them})",
        config.path.display(),
        config.posts_dir.join(example).display(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Update;
    use crate::post::{Attachment, Location};
    use crate::testing::PostBuilder;

    /// A catalog of one published post, carrying `media_type` as its enclosure.
    fn catalog_with(config: &Config, media_type: &str) -> Catalog {
        let mut post = PostBuilder::new("ep1")
            .site(&config.site)
            .path("radio/ep1/index.md")
            .published("2024-05-01T09:00:00+00:00")
            .build();
        post.enclosure = Some(Attachment {
            location: Location::Beside("ep1.mp3".into()),
            length: 10,
            media_type: media_type.into(),
        });
        let mut catalog = Catalog::new();
        catalog.advance(crate::testing::date("2024-06-01T00:00:00+00:00").to_utc());
        catalog.apply("radio/ep1/index.md", Update::Parsed(post));
        catalog
    }

    #[test]
    fn audio_without_the_podcast_keys_names_the_keys_left_to_set() {
        let path = std::path::Path::new("site/config.toml");
        let config = |text: &str| Config::parse(text, path).unwrap();
        let plain = config("");
        assert_eq!(
            podcast_notice(&plain, &catalog_with(&plain, "audio/mpeg")).as_deref(),
            Some("site/config.toml: posts carry audio or video (such as site/posts/radio/ep1/index.md), but feeds are plain RSS until `site.itunes_category` and `site.itunes_email` are set (Apple Podcasts needs them)")
        );
        let half = config("[site]\nitunes_category = \"News\"\n");
        assert_eq!(
            podcast_notice(&half, &catalog_with(&half, "video/mp4")).as_deref(),
            Some("site/config.toml: posts carry audio or video (such as site/posts/radio/ep1/index.md), but feeds are plain RSS until `site.itunes_email` is set (Apple Podcasts needs it)")
        );
        let podcast =
            config("[site]\nitunes_category = \"News\"\nitunes_email = \"a@example.org\"\n");
        assert_eq!(
            podcast_notice(&podcast, &catalog_with(&podcast, "audio/mpeg")),
            None
        );
        // Pictures and PDFs make no podcast.
        assert_eq!(
            podcast_notice(&plain, &catalog_with(&plain, "application/pdf")),
            None
        );
    }
}
