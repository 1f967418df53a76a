//! The set of posts, by file path, and what is published of it at a given time.
//!
//! Each file keeps its last good post: a file that stops parsing keeps that version in
//! every feed, with its problem reported beside it, until it is fixed or deleted. Which
//! posts are visible (no drafts, nothing dated in the future, one post per slug) is
//! decided in [`Catalog::view`], not when files change, so a future post appears when its
//! time comes without any file event.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::post::{Post, Problem};
use crate::routes::FeedKey;

/// What a read of one file gave.
// One value per file read, moved straight into the catalog: boxing the post would add an
// allocation per read and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Update {
    Parsed(Post),
    Failed(Problem),
    /// The file is gone (deleted, moved out, or no longer a post file).
    Removed,
}

/// How one update changed the catalog, for the publish log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Added,
    Modified,
    Removed,
    /// The file failed to parse; its last good version (if any) stays.
    Failed,
    /// Nothing changed: the same post as before, or the removal of an unknown file.
    Unchanged,
}

#[derive(Debug, Default)]
struct Entry {
    /// The last version that parsed.
    post: Option<Arc<Post>>,
    /// Why the file's current content is not that version.
    error: Option<Problem>,
}

/// Every post file seen, by `/`-separated path under the posts folder.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: BTreeMap<String, Entry>,
}

/// What is published at one moment: the visible posts, newest first, and every problem.
#[derive(Debug)]
pub struct View {
    /// Newest first; ties broken by slug, so the order never depends on reading order.
    pub posts: Vec<Arc<Post>>,
    /// Files that failed to parse, and slug collisions, by path.
    pub errors: Vec<Problem>,
    /// Problems that did not stop a post (guessed encoding, missing date).
    pub warnings: Vec<Problem>,
    /// Posts in the catalog, drafts and future ones included.
    pub known: usize,
    /// What the identity ledger adds: set by the caller that holds it.
    pub remembered: Remembered,
}

/// What the identity ledger (`state`) adds to a view; empty without one.
#[derive(Debug, Default, Clone)]
pub struct Remembered {
    /// Every feed ever published, with its name: one whose last post went keeps
    /// answering, empty, so readers keep the subscription.
    pub feeds: Arc<BTreeMap<FeedKey, String>>,
    /// Former pages and aliases of present posts, each to the page it answers 301 to.
    pub redirects: Arc<BTreeMap<String, String>>,
    /// Why the ledger is not being saved, when it is not.
    pub problem: Option<String>,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Paths of the files in the catalog under the folder `prefix` (`"a/b/"`; `""` for
    /// all), for telling what a rescan or a removed folder no longer holds. A range of
    /// the ordered map: a change to one file does not walk every path.
    pub fn paths_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .map(|(path, _)| path.as_str())
            .take_while(move |path| path.starts_with(prefix))
    }

    /// Applies what a read of the file at `path` gave.
    pub fn apply(&mut self, path: &str, update: Update) -> Applied {
        match update {
            Update::Removed => match self.entries.remove(path) {
                Some(Entry { post: Some(_), .. }) => Applied::Removed,
                _ => Applied::Unchanged,
            },
            Update::Failed(problem) => {
                let entry = self.entries.entry(path.to_string()).or_default();
                let same = entry.error.as_ref() == Some(&problem);
                entry.error = Some(problem);
                if same {
                    Applied::Unchanged
                } else {
                    Applied::Failed
                }
            }
            Update::Parsed(post) => {
                let entry = self.entries.entry(path.to_string()).or_default();
                let had_error = entry.error.take().is_some();
                match &entry.post {
                    Some(old) if **old == post => {
                        if had_error {
                            Applied::Modified
                        } else {
                            Applied::Unchanged
                        }
                    }
                    Some(_) => {
                        entry.post = Some(Arc::new(post));
                        Applied::Modified
                    }
                    None => {
                        entry.post = Some(Arc::new(post));
                        Applied::Added
                    }
                }
            }
        }
    }

    /// What is published at `now`.
    pub fn view(&self, now: DateTime<Utc>) -> View {
        let mut posts = Vec::new();
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
        let mut known = 0;
        // `entries` is ordered by path, so the first file to claim a slug is the first by
        // path, whatever order the files were read in.
        for (path, entry) in &self.entries {
            if let Some(problem) = &entry.error {
                errors.push(problem.clone());
            }
            let Some(post) = &entry.post else { continue };
            known += 1;
            warnings.extend(post.warnings.iter().cloned());
            if let Some(owner) = owners.get(post.slug.as_str()) {
                errors.push(Problem {
                    path: path.clone(),
                    line: 1,
                    message: format!(
                        "slug `{}` is already taken by {owner}; set a different `slug` in the front matter or rename the file",
                        post.slug
                    ),
                });
                continue;
            }
            owners.insert(&post.slug, path);
            if post.draft || post.published.with_timezone(&Utc) > now {
                continue;
            }
            posts.push(Arc::clone(post));
        }
        posts.sort_by(|a, b| {
            b.published
                .cmp(&a.published)
                .then_with(|| a.slug.cmp(&b.slug))
        });
        View {
            posts,
            errors,
            warnings,
            known,
            remembered: Remembered::default(),
        }
    }

    /// The publication time of the next post that is not yet visible at `now`, so the
    /// publisher can wake up for it.
    pub fn next_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.entries
            .values()
            .filter_map(|entry| entry.post.as_ref())
            .filter(|post| !post.draft)
            .map(|post| post.published.with_timezone(&Utc))
            .filter(|when| *when > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::PostBuilder;
    use chrono::TimeZone;

    fn post(path: &str, slug: &str, day: u32) -> Post {
        PostBuilder::new(slug)
            .path(path)
            .author("Ann")
            .published(&format!("2024-05-{day:02}T12:00:00+00:00"))
            .build()
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, day, 0, 0, 0)
            .single()
            .unwrap()
    }

    fn slugs(view: &View) -> Vec<&str> {
        view.posts.iter().map(|p| p.slug.as_str()).collect()
    }

    #[test]
    fn posts_are_newest_first_with_slug_tie_break() {
        let mut catalog = Catalog::new();
        catalog.apply("b.md", Update::Parsed(post("b.md", "b", 3)));
        catalog.apply("a.md", Update::Parsed(post("a.md", "a", 3)));
        catalog.apply("c.md", Update::Parsed(post("c.md", "c", 4)));
        assert_eq!(slugs(&catalog.view(at(20))), vec!["c", "a", "b"]);
    }

    #[test]
    fn second_file_with_a_slug_is_an_error_and_the_first_by_path_wins() {
        let mut catalog = Catalog::new();
        // Read in the opposite order of their paths.
        catalog.apply(
            "z/launch.md",
            Update::Parsed(post("z/launch.md", "launch", 2)),
        );
        catalog.apply(
            "a/launch.md",
            Update::Parsed(post("a/launch.md", "launch", 3)),
        );
        let view = catalog.view(at(20));
        assert_eq!(view.posts.len(), 1);
        assert_eq!(view.posts[0].path, "a/launch.md");
        assert_eq!(
            view.errors[0].to_string(),
            "z/launch.md:1: slug `launch` is already taken by a/launch.md; set a different `slug` in the front matter or rename the file"
        );
    }

    #[test]
    fn draft_is_never_published() {
        let mut catalog = Catalog::new();
        let draft = PostBuilder::new("d")
            .published("2024-05-01T12:00:00+00:00")
            .draft()
            .build();
        catalog.apply("d.md", Update::Parsed(draft));
        assert_eq!(catalog.view(at(20)).posts.len(), 0);
        assert_eq!(catalog.next_due(at(20)), None);
    }

    #[test]
    fn future_post_appears_when_its_time_comes() {
        let mut catalog = Catalog::new();
        catalog.apply("f.md", Update::Parsed(post("f.md", "f", 10)));
        assert_eq!(catalog.view(at(10)).posts.len(), 0);
        assert_eq!(
            catalog.next_due(at(10)),
            Some(
                Utc.with_ymd_and_hms(2024, 5, 10, 12, 0, 0)
                    .single()
                    .unwrap()
            )
        );
        assert_eq!(slugs(&catalog.view(at(11))), vec!["f"]);
        assert_eq!(catalog.next_due(at(11)), None);
    }

    #[test]
    fn failed_file_keeps_its_last_good_version() {
        let mut catalog = Catalog::new();
        assert_eq!(
            catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1))),
            Applied::Added
        );
        let problem = Problem {
            path: "a.md".into(),
            line: 2,
            message: "bad front matter".into(),
        };
        assert_eq!(
            catalog.apply("a.md", Update::Failed(problem.clone())),
            Applied::Failed
        );
        let view = catalog.view(at(20));
        assert_eq!(slugs(&view), vec!["a"]);
        assert_eq!(view.errors, vec![problem]);
        // Fixed with the same content as before: the error goes, the post stays.
        assert_eq!(
            catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1))),
            Applied::Modified
        );
        assert!(catalog.view(at(20)).errors.is_empty());
    }

    #[test]
    fn removed_file_leaves_the_view() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1)));
        assert_eq!(catalog.apply("a.md", Update::Removed), Applied::Removed);
        assert_eq!(catalog.apply("a.md", Update::Removed), Applied::Unchanged);
        assert!(catalog.view(at(20)).posts.is_empty());
    }

    #[test]
    fn paths_under_a_folder_are_only_that_folders() {
        let mut catalog = Catalog::new();
        for path in ["a/x.md", "ab.md", "a/y.md", "b.md", "a/deep/z.md"] {
            catalog.apply(path, Update::Parsed(post(path, path, 1)));
        }
        let under = |prefix| catalog.paths_under(prefix).collect::<Vec<_>>();
        assert_eq!(under("a/"), vec!["a/deep/z.md", "a/x.md", "a/y.md"]);
        assert_eq!(under("c/"), Vec::<&str>::new());
        assert_eq!(under("").len(), 5);
    }

    #[test]
    fn same_post_again_is_unchanged() {
        let mut catalog = Catalog::new();
        catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1)));
        assert_eq!(
            catalog.apply("a.md", Update::Parsed(post("a.md", "a", 1))),
            Applied::Unchanged
        );
    }
}
