//! What a post's path says: whether it holds a post at all, its format, the name that
//! titles it, its Jekyll date, and the slug that becomes its URL.

use std::path::Path;

use chrono::NaiveDate;

use super::text;

/// True for a path that may hold a post: a `.txt`, `.md` or `.markdown` file that is not
/// hidden and not an editor's leftover. The one place these rules live.
pub fn is_post_path(path: &Path) -> bool {
    if path.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s.starts_with('.') && s != "." && s != ".."
    }) {
        return false;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with('#') || name.ends_with('~') || name == "4913" {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".swp") || lower.ends_with(".swx") || lower.ends_with(".tmp") {
        return false;
    }
    lower.ends_with(".txt") || lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// The media type of a file served beside the posts, by its extension; `None` for
/// every other file, which is never served (an `.html` or `.js` file beside a post would
/// run on the site's origin). The one table of them: what a podcast, a photo post or a
/// PDF carries.
pub fn media_type(name: &str) -> Option<&'static str> {
    let (_, extension) = name.rsplit_once('.')?;
    let media_type = match extension.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "mp4" => "video/mp4",
        "m4v" => "video/x-m4v",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "ogv" => "video/ogg",
        "pdf" => "application/pdf",
        "epub" => "application/epub+zip",
        "vtt" => "text/vtt",
        _ => return None,
    };
    Some(media_type)
}

/// True for a path under the posts folder that may be served as a file beside a post:
/// not hidden, not a post file, not an editor's leftover, and of a type in
/// [`media_type`].
pub fn is_media_path(path: &str) -> bool {
    let Some(name) = path.rsplit('/').next() else {
        return false;
    };
    let segments_fine = path
        .split('/')
        .all(|s| !s.is_empty() && !s.starts_with('.') && s != "..");
    let leftover = name.starts_with('#') || name.ends_with('~') || name.starts_with(".#");
    segments_fine && !leftover && !is_post_path(Path::new(path)) && media_type(name).is_some()
}

/// True for a `.md` or `.markdown` path: Markdown without front matter is still Markdown.
pub fn is_markdown(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// Turns a display name into a URL slug: lowercase ASCII letters and digits joined by
/// `-`, accents folded (“São Paulo” → `sao-paulo`).
pub fn slugify(name: &str) -> String {
    text::slugify(name)
}

/// What the file's path says: the name that titles it, the folders that prefix its slug,
/// and a Jekyll date.
pub struct FileName {
    folders: Vec<String>,
    /// The file's stem without a Jekyll date, or the folder's name for `index.md`.
    pub name: String,
    pub date: Option<NaiveDate>,
    /// The file's stem as written, Jekyll date included.
    stem: String,
}

impl FileName {
    pub fn of(path: &str) -> FileName {
        let mut parts: Vec<&str> = path
            .split('/')
            .filter(|part| !part.is_empty() && *part != "." && *part != "..")
            .collect();
        let file = parts.pop().unwrap_or_default();
        let mut stem = match file.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => file,
        };
        if stem.eq_ignore_ascii_case("index") {
            if let Some(folder) = parts.pop() {
                stem = folder;
            }
        }
        let (date, name) = match text::jekyll(stem) {
            Some((date, rest)) => (Some(date), rest),
            None => (None, stem),
        };
        FileName {
            // Jekyll keeps posts in `_posts` folders: the folder is not part of the URL.
            folders: parts
                .into_iter()
                .filter(|part| *part != "_posts")
                .map(str::to_string)
                .collect(),
            name: name.to_string(),
            date,
            stem: stem.to_string(),
        }
    }

    /// Readable slugs for when another post holds [`FileName::slug`]: the Jekyll date
    /// kept (`en/2017-05-03-survey`), else the post's day appended (`survey-2017-05-03`).
    pub fn slug_variants(&self, slug: &str, day: NaiveDate) -> Vec<String> {
        let mut variants = Vec::new();
        if self.date.is_some() {
            let mut segments = self.folder_segments();
            segments.push(slug_or_hash(&self.stem, "post"));
            variants.push(segments.join("/"));
        }
        variants.push(format!("{slug}-{}", day.format("%Y-%m-%d")));
        variants.retain(|v| v != slug);
        variants
    }

    fn folder_segments(&self) -> Vec<String> {
        self.folders
            .iter()
            .map(|folder| text::bounded_slug(slugify(folder), text::MAX_SEGMENT_BYTES))
            .filter(|segment| !segment.is_empty())
            .collect()
    }

    /// `en/2013-02-06-ruby-2-0.md` → `en/ruby-2-0`: every segment slugified, and the
    /// whole kept to [`text::MAX_SLUG_BYTES`].
    pub fn slug(&self) -> String {
        let mut segments = self.folder_segments();
        segments.push(slug_or_hash(&self.name, "post"));
        text::bounded_slug(segments.join("/"), text::MAX_SLUG_BYTES)
    }
}

/// A front matter slug made safe as a URL path and a file path: `../../etc/passwd` →
/// `etc/passwd`. Empty when nothing is left.
pub fn slug_from_front(slug: &str) -> String {
    let slug = slug
        .split('/')
        .map(|segment| text::bounded_slug(slugify(segment), text::MAX_SEGMENT_BYTES))
        .filter(|segment| !segment.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    text::bounded_slug(slug, text::MAX_SLUG_BYTES)
}

/// The slug of `name`, or `{prefix}-{hash}` when it has no ASCII letter or digit
/// (`東京`): stable across runs, so ids and URLs do not move. At most
/// [`text::MAX_SEGMENT_BYTES`] long.
pub fn slug_or_hash(name: &str, prefix: &str) -> String {
    let slug = slugify(name);
    if !slug.is_empty() {
        return text::bounded_slug(slug, text::MAX_SEGMENT_BYTES);
    }
    let hash = fnv1a(name.as_bytes());
    format!("{prefix}-{:08x}", hash >> 32)
}

/// FNV-1a, 64 bits: tiny, and fixed forever, unlike std's hasher, so hashed slugs and
/// the fingerprints kept in the state database never move.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
