//! One step per field of a [`Post`](super::Post): from the fields as written, the path
//! and the site to the field every renderer can rely on, with the fallbacks the README
//! gives under "Post formats" (What every post gets).

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;

use super::document::Body;
use super::file_info::{fnv1a, slug_from_front, slug_or_hash, FileName};
use super::front::{Error, Front, RawAttachment};
use super::{date, decode, text, Attachment, Claims, Location, Named, Site, Source};
use crate::routes;

/// The front matter's `slug` made safe, else the one the path gives.
pub fn slug(front: &Front, file: &FileName) -> String {
    front
        .slug
        .as_deref()
        .map(slug_from_front)
        .filter(|slug| !slug.is_empty())
        .unwrap_or_else(|| file.slug())
}

/// The date written in the post, else the Jekyll date of its file name, else (with a
/// warning) the file's modification time, which the ledger replaces with the time the
/// post was first seen. A front matter date that cannot be read is an error, unless
/// the file name has a date to stand in for it.
pub fn published(
    front: &Front,
    file: &FileName,
    modified: DateTime<Utc>,
    tz: Tz,
    warn: &mut impl FnMut(usize, String),
) -> Result<DateTime<FixedOffset>, Error> {
    if let Some(bad) = &front.bad_date {
        let Some(day) = file.date else {
            return Err(bad.clone());
        };
        warn(
            bad.line,
            format!(
                "{}; dated {} from the file name instead: fix or remove the date",
                bad.message,
                day.format("%Y-%m-%d")
            ),
        );
        return Ok(date::midnight(day, tz));
    }
    let published = match (front.date, file.date) {
        (Some(date), _) => date,
        (None, Some(day)) => date::midnight(day, tz),
        (None, None) => {
            warn(
                1,
                "no date in the header, front matter or file name; dated by when the post was first seen: add a date".into(),
            );
            date::whole_minutes(modified.with_timezone(&tz).fixed_offset())
        }
    };
    // Scheduling a post is a few days or weeks ahead; a year is a typo (9999, 2205),
    // and the post would wait for it without a word. The file's modification time
    // stands for now: the parser reads no clock, and a post is saved when it is written.
    let year_ahead = modified.checked_add_signed(chrono::TimeDelta::days(366));
    if year_ahead.is_some_and(|limit| published > limit) {
        warn(
            1,
            format!(
                "dated {}, more than a year ahead; it will not appear until then",
                published.format("%Y-%m-%d")
            ),
        );
    }
    Ok(published)
}

/// The page route the site's permalink pattern gives a post.
pub fn route(
    site: &Site,
    slug: &str,
    published: DateTime<FixedOffset>,
    categories: &[Named],
) -> String {
    let category = categories.first().map_or("", |c| c.slug.as_str());
    let local = published.with_timezone(&site.timezone);
    routes::permalink(
        &site.permalink,
        &routes::PermalinkParts::on(local, slug, category),
    )
}

/// What the file asks of the identity ledger. A chosen page route that is not a path
/// on this site is warned about and left out.
pub fn claims(
    front: &Front,
    file: &FileName,
    slug: &str,
    published: DateTime<FixedOffset>,
    site: &Site,
    source: &Source,
    warn: &mut impl FnMut(usize, String),
) -> Claims {
    let route = front.route.as_deref().and_then(|link| {
        let route = routes::route_of_link(link, &site.base_url)
            .ok_or_else(|| format!("`{}` is not a path on this site", text::quote(link)))
            .and_then(|route| {
                // The message quotes the route: a megabyte of it must not be logged.
                routes::check_permalink(&route, false)
                    .and_then(|()| routes::check_own_page(&route))
                    .map_err(|message| message.replace(&route, &text::quote(&route)))
                    .and_then(|()| bounded_route(route))
            });
        match route {
            Ok(route) => Some(route),
            Err(message) => {
                warn(
                    1,
                    format!("key `permalink`: {message}; the post keeps its default page"),
                );
                None
            }
        }
    });
    let route = route.map(|pattern| {
        // A chosen permalink may use the pattern's tokens too (Jekyll allows it).
        let local = published.with_timezone(&site.timezone);
        routes::permalink(&pattern, &routes::PermalinkParts::on(local, slug, ""))
    });
    let mut aliases = Vec::new();
    // Why aliases were refused: the first of each reason and how many, one warning each
    // however many a post lists.
    let mut refused: Vec<(&str, String, usize)> = Vec::new();
    for route in front
        .aliases
        .iter()
        .filter_map(|link| routes::route_of_link(link, &site.base_url))
        .filter_map(|route| bounded_route(route).ok())
    {
        let why = if route.split('/').any(|s| s == ".." || s == ".") {
            "is not a plain path"
        } else if routes::is_site_route(&route) {
            "is a route of the site"
        } else {
            aliases.push(route);
            continue;
        };
        match refused.iter_mut().find(|(reason, _, _)| *reason == why) {
            Some((_, _, count)) => *count += 1,
            None => refused.push((why, route, 1)),
        }
    }
    for (why, first, count) in refused {
        let first = text::quote(&first);
        warn(
            1,
            match count {
                1 => format!("alias `{first}` {why}; it is not redirected"),
                _ => format!(
                    "alias `{first}` {why}, as are {} more; none is redirected",
                    count - 1
                ),
            },
        );
    }
    // Each is a redirect kept in the ledger for good: a post must not bring thousands.
    if aliases.len() > MAX_ALIASES {
        warn(
            1,
            format!(
                "key `aliases`: {} former URLs, only the first {MAX_ALIASES} are kept; list fewer",
                aliases.len()
            ),
        );
        aliases.truncate(MAX_ALIASES);
    }
    let day = published.with_timezone(&site.timezone).date_naive();
    Claims {
        slug_explicit: front
            .slug
            .as_deref()
            .is_some_and(|s| !slug_from_front(s).is_empty()),
        slug_variants: file.slug_variants(slug, day),
        route,
        aliases,
        id: front
            .id
            .as_deref()
            .map(str::trim)
            .filter(|id| is_uri(id))
            .map(str::to_string),
        undated: front.date.is_none() && front.bad_date.is_none() && file.date.is_none(),
        updated_given: front.updated.is_some(),
        fingerprint: format!("{:016x}", fnv1a(&source.bytes)),
    }
}

/// A chosen route whose file names `build` could write and whose URL a server would
/// take: each segment at most 200 bytes (a file name may have 255, and `build` adds
/// `.gz`), the whole at most 1,000.
fn bounded_route(route: String) -> Result<String, String> {
    const MAX_SEGMENT: usize = 200;
    const MAX_ROUTE: usize = 1000;
    if route.len() > MAX_ROUTE || route.split('/').any(|segment| segment.len() > MAX_SEGMENT) {
        return Err(format!(
            "`{}` is longer than {MAX_ROUTE} bytes or has a part over {MAX_SEGMENT}; shorten it",
            text::quote(&route)
        ));
    }
    Ok(route)
}

/// The title given, else the file name when it is words, else the first sentence, else
/// the file name as it is.
pub fn title(front: &Front, file: &FileName, first_paragraph: &str) -> String {
    front
        .title
        .as_deref()
        .map(text::collapse)
        .filter(|title| !title.is_empty())
        .or_else(|| text::title_from_name(&file.name))
        .or_else(|| {
            let sentence = text::first_sentence(first_paragraph);
            (!sentence.is_empty()).then(|| text::truncate(&sentence, 100))
        })
        // Collapsed like a written title, or the post read again from its own title
        // would differ (` x.md` was titled " x").
        .unwrap_or_else(|| text::collapse(&file.name))
}

/// The summary given, else the first paragraph; at most 300 characters.
pub fn summary(front: &Front, first_paragraph: String) -> String {
    let summary = front
        .summary
        .as_deref()
        .map(text::collapse)
        .filter(|summary| !summary.is_empty())
        .unwrap_or(first_paragraph);
    text::truncate(&summary, 300)
}

/// The authors named, or the site's author when there are none.
pub fn author_names(written: Vec<String>, site: &Site) -> Vec<String> {
    let names = text::dedup_names(written);
    if names.is_empty() {
        // The site's author comes from the config: it is cleaned here.
        return vec![decode::clean(&site.author)];
    }
    names
}

/// Each name with its slug (`{prefix}-{hash}` when it has nothing sluggable), in order;
/// a name whose slug an earlier one has is dropped (“Bay Area”, “bay-area”).
pub fn named(names: Vec<String>, prefix: &str) -> Vec<Named> {
    named_warned(names, prefix, "", &mut |_, _| {})
}

/// As [`named`], with a warning under `key` when a name is dropped for a slug another
/// name already has and the two are not spellings of one name (`C#` and `c++` both
/// make `c`; `Bay Area` and `bay-area` are one category).
pub fn named_warned(
    names: Vec<String>,
    prefix: &str,
    key: &str,
    warn: &mut impl FnMut(usize, String),
) -> Vec<Named> {
    let spelling = |name: &str| -> String {
        name.chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let mut slugs = std::collections::HashMap::new();
    let mut named: Vec<Named> = Vec::new();
    for name in names {
        let slug = slug_or_hash(&name, prefix);
        match slugs.get(&slug) {
            None => {
                slugs.insert(slug.clone(), named.len());
                named.push(Named { name, slug });
            }
            Some(&at) => {
                let kept: &Named = &named[at];
                if spelling(&kept.name) != spelling(&name) {
                    warn(
                        1,
                        format!(
                            "key `{key}`: `{name}` and `{}` make the same address `{slug}`; only `{}` is kept; rename one",
                            kept.name, kept.name
                        ),
                    );
                }
            }
        }
    }
    named
}

/// The first `max` of `names`, with a warning naming the key and the setting when the
/// rest is dropped: one post must not be able to make thousands of feeds.
pub fn at_most<T>(
    mut names: Vec<T>,
    max: usize,
    key: &str,
    setting: &str,
    warn: &mut impl FnMut(usize, String),
) -> Vec<T> {
    if names.len() > max {
        warn(
            1,
            format!(
                "key `{key}`: {} names, only the first {max} are kept; list fewer or raise posts.{setting}",
                names.len()
            ),
        );
        names.truncate(max);
    }
    names
}

/// The most former routes (`aliases`, `redirect_from`) one post may list.
pub const MAX_ALIASES: usize = 100;

/// A category, tag or author name longer than this many characters is cut, with a
/// warning: it names a feed, and its slug a URL.
pub const MAX_NAME_CHARS: usize = 100;

/// Each name cut to [`MAX_NAME_CHARS`] at a word boundary, with one warning for the key
/// (not one per name: a post may carry thousands).
pub fn capped_names(
    names: Vec<String>,
    key: &str,
    warn: &mut impl FnMut(usize, String),
) -> Vec<String> {
    let mut cut = 0;
    let names = names
        .into_iter()
        .map(|name| {
            if name.chars().nth(MAX_NAME_CHARS).is_none() {
                return name;
            }
            cut += 1;
            text::truncate(&text::collapse(&name), MAX_NAME_CHARS)
        })
        .collect();
    match cut {
        0 => {}
        1 => warn(
            1,
            format!("key `{key}`: a name is over {MAX_NAME_CHARS} characters; it is cut there: shorten it"),
        ),
        _ => warn(
            1,
            format!("key `{key}`: {cut} names are over {MAX_NAME_CHARS} characters; they are cut there: shorten them"),
        ),
    }
    names
}

/// A title longer than this many characters is cut, with a warning: readers show a
/// line, not a page.
pub const MAX_TITLE_CHARS: usize = 300;

/// `title` cut to [`MAX_TITLE_CHARS`] at a character boundary, with a warning.
pub fn capped_title(title: String, warn: &mut impl FnMut(usize, String)) -> String {
    if title.chars().count() <= MAX_TITLE_CHARS {
        return title;
    }
    warn(
        1,
        format!("the title is over {MAX_TITLE_CHARS} characters; it is cut there: shorten it"),
    );
    text::truncate(&title, MAX_TITLE_CHARS)
}

/// The front matter's `id` when it is a URI (another is warned about), else the tag URI
/// `tag:{host},{day}:{slug}`.
pub fn id(
    front: &Front,
    slug: &str,
    published: DateTime<FixedOffset>,
    site: &Site,
    warn: &mut impl FnMut(usize, String),
) -> String {
    let given = front
        .id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty());
    if let Some(id) = given {
        if is_uri(id) {
            return id.to_string();
        }
        let what = if is_script_url(id) {
            "is a script or data URL, not an id"
        } else {
            "is not a URI"
        };
        warn(
            front.id_line.unwrap_or(1),
            format!(
                "key `id`: `{}` {what}; use a tag: or https: URI, or remove it to use the default",
                text::quote(id)
            ),
        );
    }
    let day = published.with_timezone(&site.timezone).format("%Y-%m-%d");
    format!("tag:{},{}:{}", site.host, day, slug)
}

/// True for an absolute URI, as Atom's `<id>` must be: a scheme
/// (`[A-Za-z][A-Za-z0-9+.-]*:`), something after it, and no whitespace; and not a
/// script or data URL, which a reader that follows ids would run.
pub fn is_uri(id: &str) -> bool {
    let Some((scheme, rest)) = id.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        && !rest.is_empty()
        && !id.chars().any(char::is_whitespace)
        && !is_script_url(id)
}

/// True for a `javascript:`, `vbscript:` or `data:` URL, in any case.
fn is_script_url(id: &str) -> bool {
    id.split_once(':').is_some_and(|(scheme, _)| {
        ["javascript", "vbscript", "data"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s))
    })
}

/// The body as sanitized HTML with URLs made absolute against the post's `url`.
pub fn content(body: &Body, url: &str) -> Result<String, String> {
    body.safe_html(url)
}

/// An `image` or `enclosure` as the feeds carry it. A URL must be http(s), or a path
/// on this site; anything else names a file beside the post, which must stay in the
/// post's folder and be of a type that is served ([`super::media_type`]). What breaks
/// these rules is left out with a warning, and the post is published without it.
pub fn attachment(
    raw: Option<&RawAttachment>,
    key: &str,
    site: &Site,
    warn: &mut impl FnMut(usize, String),
) -> Option<Attachment> {
    let raw = raw?;
    let quoted = text::quote(&raw.url);
    let mut refuse = |why: String| {
        warn(
            raw.line,
            format!("key `{key}`: `{quoted}` {why}; the post is published without it"),
        );
        None
    };
    let name = raw.url.split(['?', '#']).next().unwrap_or_default();
    let media_type = |name: &str| {
        raw.media_type
            .clone()
            .or_else(|| super::media_type(name).map(str::to_string))
    };
    let location = if let Ok(url) = url::Url::parse(&raw.url) {
        if !matches!(url.scheme(), "http" | "https") {
            return refuse("is not an http or https URL".into());
        }
        Location::Url(url.to_string())
    } else if raw.url.starts_with('/') {
        Location::Url(routes::absolute(&site.base_url, &raw.url))
    } else {
        let rel = name.trim_start_matches("./");
        if !super::is_media_path(rel) {
            return refuse(
                "is not a file that can be served beside the post (a picture, audio, video or PDF in the post's folder, not hidden)"
                    .into(),
            );
        }
        Location::Beside(rel.to_string())
    };
    let Some(media_type) = media_type(name) else {
        return refuse(
            "has no media type dropfeed knows; add one, as in {url: …, type: \"audio/mpeg\"}"
                .into(),
        );
    };
    Some(Attachment {
        location,
        length: raw.length.unwrap_or(0),
        media_type,
    })
}
