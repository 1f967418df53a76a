//! YAML (`---`) and TOML (`+++`) front matter → typed fields.
//!
//! Both formats are read into one small value tree first, so the key rules (case-
//! insensitive names, aliases, a string where a list is expected) live in one place.
//! Neither parser keeps the position of a value, so a bad value's line is found by
//! looking for its key at the start of a line of the block.

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;

use super::date;
use super::decode::clean;
use super::Episode;

/// A failure at a line of the file (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub line: usize,
    pub message: String,
}

/// What front matter may say. Absent keys are `None` or empty.
#[derive(Debug, Default)]
pub struct Front {
    pub title: Option<String>,
    pub date: Option<DateTime<FixedOffset>>,
    pub updated: Option<DateTime<FixedOffset>>,
    /// `author`, then `authors` (list or comma string), as written.
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub draft: bool,
    pub summary: Option<String>,
    pub slug: Option<String>,
    pub id: Option<String>,
    /// Where `id` is set, for the warning about an id that is not a URI.
    pub id_line: Option<usize>,
    /// `date` as written when it is not a date: the file name's date may stand in.
    pub bad_date: Option<Error>,
    /// The page the writer chose: `permalink` (Jekyll), `url` (Hugo) or `path` (Zola).
    pub route: Option<String>,
    /// Former URLs of the post: `aliases` (Hugo, Zola) and `redirect_from` (Jekyll).
    pub aliases: Vec<String>,
    /// `image`: the item's picture.
    pub image: Option<RawAttachment>,
    /// `enclosure`, else `audio`.
    pub enclosure: Option<RawAttachment>,
    /// `explicit`, `duration`, `episode`, `season`.
    pub episode: Episode,
}

/// An `image`, `enclosure` or `audio` as written: a string (`ep1.mp3`, a URL) or a map
/// `{url, length, type}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttachment {
    pub url: String,
    pub length: Option<u64>,
    pub media_type: Option<String>,
    /// Where the key is, for warnings.
    pub line: usize,
}

impl Front {
    /// The same fields without the characters XML 1.0 forbids.
    pub fn cleaned(self) -> Front {
        let text = |s: Option<String>| s.map(|s| clean(&s));
        let list = |v: Vec<String>| v.iter().map(|s| clean(s)).collect();
        Front {
            title: text(self.title),
            authors: list(self.authors),
            categories: list(self.categories),
            tags: list(self.tags),
            summary: text(self.summary),
            slug: text(self.slug),
            id: text(self.id),
            route: text(self.route),
            aliases: list(self.aliases),
            image: self.image.map(RawAttachment::cleaned),
            enclosure: self.enclosure.map(RawAttachment::cleaned),
            ..self
        }
    }
}

impl RawAttachment {
    fn cleaned(self) -> RawAttachment {
        RawAttachment {
            url: clean(&self.url),
            media_type: self.media_type.map(|t| clean(&t)),
            ..self
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Yaml,
    Toml,
}

/// The two formats' values, as far as front matter needs them.
#[derive(Debug)]
enum Value {
    Null,
    Bool(bool),
    Number(String),
    Text(String),
    /// A TOML date or time, in TOML's own notation.
    Date(String),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
}

/// A front matter block split from the body.
#[derive(Debug)]
pub struct Block<'a> {
    pub syntax: Syntax,
    /// The text between the fences.
    pub text: &'a str,
    /// The file line of the block's first line (the one after the opening fence).
    pub first_line: usize,
    pub body: &'a str,
}

/// Splits `---`/`+++` front matter off the text, if the file opens with a fence.
pub fn split(text: &str) -> Result<Option<Block<'_>>, Error> {
    let (syntax, closers): (Syntax, &[&str]) = if text.starts_with("---\n") {
        (Syntax::Yaml, &["---", "..."])
    } else if text.starts_with("+++\n") {
        (Syntax::Toml, &["+++"])
    } else {
        return Ok(None);
    };
    let fence = if syntax == Syntax::Yaml { "---" } else { "+++" };
    let inner = text.get(4..).unwrap_or_default();
    let mut offset = 0;
    for line in inner.split_inclusive('\n') {
        if closers.contains(&line.trim_end()) {
            return Ok(Some(Block {
                syntax,
                text: inner.get(..offset).unwrap_or_default(),
                first_line: 2,
                body: inner.get(offset + line.len()..).unwrap_or_default(),
            }));
        }
        offset += line.len();
    }
    Err(Error {
        line: 1,
        message: format!(
            "front matter opened with `{fence}` on line 1 is never closed; add a closing `{fence}` line"
        ),
    })
}

/// Parses a front matter block into its fields; dates without an offset are in `tz`.
pub fn parse(block: &Block<'_>, tz: Tz) -> Result<Front, Error> {
    let root = match block.syntax {
        Syntax::Yaml => yaml(block)?,
        Syntax::Toml => toml_value(block)?,
    };
    let entries = match root {
        Value::Map(entries) => entries,
        Value::Null => Vec::new(),
        _ => {
            return Err(Error {
                line: block.first_line,
                message: "front matter is not a set of keys; write `key: value` lines".into(),
            })
        }
    };
    let fields = Fields { block, entries };
    let (date, bad_date) = match fields.date("date", tz) {
        Ok(date) => (date, None),
        Err(err) => (None, Some(err)),
    };
    let mut front = Front {
        title: fields.text("title")?,
        date,
        bad_date,
        updated: match fields.date("updated", tz)? {
            Some(date) => Some(date),
            None => fields.date("lastmod", tz)?,
        },
        draft: fields.boolean("draft")?,
        summary: match fields.text("summary")? {
            Some(summary) => Some(summary),
            None => fields.text("description")?,
        },
        slug: fields.text("slug")?,
        id: fields.text("id")?,
        route: match fields.text("permalink")? {
            Some(route) => Some(route),
            None => fields.text("url")?.or(fields.text("path")?),
        },
        ..Front::default()
    };
    front.image = fields.attachment("image")?;
    front.enclosure = match fields.attachment("enclosure")? {
        Some(enclosure) => Some(enclosure),
        None => fields.attachment("audio")?,
    };
    front.episode = Episode {
        explicit: fields.explicit("explicit")?,
        duration: fields.duration("duration")?,
        number: fields.count("episode")?,
        season: fields.count("season")?,
    };
    front.aliases = fields.list("aliases", Split::Commas)?;
    front
        .aliases
        .extend(fields.list("redirect_from", Split::Commas)?);
    front.authors.extend(fields.text("author")?);
    front.authors.extend(fields.list("authors", Split::Commas)?);
    front.id_line = front.id.is_some().then(|| fields.line("id"));
    front.categories = fields.list("categories", Split::Jekyll)?;
    front.categories.extend(fields.text("category")?);
    front.tags = fields.list("tags", Split::Commas)?;
    if let Some(Value::Map(taxonomies)) = fields.get("taxonomies") {
        let zola = Fields {
            block,
            entries: taxonomies
                .iter()
                .map(|(k, v)| (k.clone(), v.shallow()))
                .collect(),
        };
        front
            .categories
            .extend(zola.list("categories", Split::Jekyll)?);
        front.tags.extend(zola.list("tags", Split::Commas)?);
    }
    Ok(front)
}

/// YAML flow collections (`[`, `{`) nested deeper than this are refused before parsing:
/// libyaml takes time quadratic in that depth, and serde_norway stops at 128 anyway.
const MAX_YAML_DEPTH: usize = 128;

fn yaml(block: &Block<'_>) -> Result<Value, Error> {
    let mut depth = 0usize;
    for (at, line) in block.text.lines().enumerate() {
        for c in line.chars() {
            match c {
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_YAML_DEPTH {
                return Err(Error {
                    line: block.first_line + at,
                    message: format!(
                        "front matter is nested over {MAX_YAML_DEPTH} levels deep; flatten it"
                    ),
                });
            }
        }
    }
    let value: serde_norway::Value = serde_norway::from_str(block.text).map_err(|err| {
        let line = err.location().map_or(0, |l| l.line().saturating_sub(1));
        let message = err.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        Error {
            line: block.first_line + line,
            message: format!("front matter is not valid YAML: {}", one_line(&message)),
        }
    })?;
    Ok(from_yaml(value))
}

/// A parser's message on one line: `check` prints one problem per line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn from_yaml(value: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => Value::Number(n.to_string()),
        Y::String(s) => Value::Text(s),
        Y::Sequence(items) => Value::List(items.into_iter().map(from_yaml).collect()),
        Y::Mapping(map) => Value::Map(
            map.into_iter()
                .filter_map(|(k, v)| match k {
                    Y::String(k) => Some((k, from_yaml(v))),
                    _ => None,
                })
                .collect(),
        ),
        Y::Tagged(tagged) => from_yaml(tagged.value),
    }
}

fn toml_value(block: &Block<'_>) -> Result<Value, Error> {
    let table: toml::Table = block.text.parse().map_err(|err: toml::de::Error| {
        let line = err.span().map_or(0, |span| {
            block
                .text
                .get(..span.start)
                .map_or(0, |before| before.matches('\n').count())
        });
        Error {
            line: block.first_line + line,
            message: format!(
                "front matter is not valid TOML: {}",
                one_line(err.message())
            ),
        }
    })?;
    Ok(from_toml(toml::Value::Table(table)))
}

fn from_toml(value: toml::Value) -> Value {
    use toml::Value as T;
    match value {
        T::String(s) => Value::Text(s),
        T::Integer(i) => Value::Number(i.to_string()),
        T::Float(f) => Value::Number(f.to_string()),
        T::Boolean(b) => Value::Bool(b),
        T::Datetime(d) => Value::Date(d.to_string()),
        T::Array(items) => Value::List(items.into_iter().map(from_toml).collect()),
        T::Table(table) => Value::Map(table.into_iter().map(|(k, v)| (k, from_toml(v))).collect()),
    }
}

impl Value {
    /// A copy of scalars and lists; nested maps are not needed below the first level.
    fn shallow(&self) -> Value {
        match self {
            Value::Null | Value::Map(_) => Value::Null,
            Value::Bool(b) => Value::Bool(*b),
            Value::Number(n) => Value::Number(n.clone()),
            Value::Text(s) => Value::Text(s.clone()),
            Value::Date(d) => Value::Date(d.clone()),
            Value::List(items) => Value::List(items.iter().map(Value::shallow).collect()),
        }
    }

    fn scalar(&self) -> Option<String> {
        match self {
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) | Value::Text(n) | Value::Date(n) => Some(n.clone()),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Split {
    Commas,
    /// Jekyll's rule for categories: commas, or spaces when there is no comma.
    Jekyll,
}

struct Fields<'a> {
    block: &'a Block<'a>,
    entries: Vec<(String, Value)>,
}

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// The file line where `key` is set, for messages; the block's first line if unseen.
    fn line(&self, key: &str) -> usize {
        self.block
            .text
            .lines()
            .position(|line| {
                let line = line.trim_start().trim_start_matches(['"', '\'']);
                line.get(..key.len())
                    .is_some_and(|k| k.eq_ignore_ascii_case(key))
                    && line.get(key.len()..).is_some_and(|rest| {
                        rest.trim_start_matches(['"', '\''])
                            .trim_start()
                            .starts_with([':', '='])
                    })
            })
            .map_or(self.block.first_line, |at| self.block.first_line + at)
    }

    fn error(&self, key: &str, message: String) -> Error {
        Error {
            line: self.line(key),
            message: format!("key `{key}`: {message}"),
        }
    }

    fn text(&self, key: &str) -> Result<Option<String>, Error> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => match value.scalar() {
                Some(text) => Ok(Some(text)),
                None => Err(self.error(key, "expected text, such as \"a value\"".into())),
            },
        }
    }

    fn boolean(&self, key: &str) -> Result<bool, Error> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Text(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::Text(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(self.error(key, "expected true or false".into())),
        }
    }

    fn date(&self, key: &str, tz: Tz) -> Result<Option<DateTime<FixedOffset>>, Error> {
        let value = match self.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Text(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::Text(s) | Value::Date(s) | Value::Number(s)) => s,
            Some(_) => {
                return Err(self.error(key, format!("expected a date; {}", date::ACCEPTED)));
            }
        };
        date::parse(value, tz).map(Some).ok_or_else(|| {
            let value = super::text::quote(value);
            self.error(key, format!("`{value}` is not a date; {}", date::ACCEPTED))
        })
    }

    /// A string, or a map `{url, length, type}`.
    fn attachment(&self, key: &str) -> Result<Option<RawAttachment>, Error> {
        let expected = "expected a URL or a file beside the post, such as \"photo.jpg\", or a map {url, length, type}";
        let line = self.line(key);
        let (url, length, media_type) = match self.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Text(url)) => (url.clone(), None, None),
            Some(Value::Map(entries)) => {
                let field = |name: &str| {
                    entries
                        .iter()
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                };
                let url = match field("url") {
                    Some(Value::Text(url)) => url.clone(),
                    _ => return Err(self.error(key, format!("has no `url`; {expected}"))),
                };
                let length = match field("length") {
                    None | Some(Value::Null) => None,
                    Some(value) => Some(
                        value
                            .scalar()
                            .and_then(|n| n.trim().parse::<u64>().ok())
                            .ok_or_else(|| {
                                self.error(
                                    key,
                                    "`length` must be a size in bytes, such as 5650889".into(),
                                )
                            })?,
                    ),
                };
                let media_type = match field("type") {
                    None | Some(Value::Null) => None,
                    Some(Value::Text(t)) if t.contains('/') && !t.contains(char::is_whitespace) => {
                        Some(t.clone())
                    }
                    Some(_) => {
                        return Err(self.error(
                            key,
                            "`type` must be a media type, such as \"audio/mpeg\"".into(),
                        ))
                    }
                };
                (url, length, media_type)
            }
            Some(_) => return Err(self.error(key, expected.into())),
        };
        if url.trim().is_empty() {
            return Ok(None);
        }
        Ok(Some(RawAttachment {
            url: url.trim().to_string(),
            length,
            media_type,
            line,
        }))
    }

    /// Apple's `explicit`: true or false, also as `yes`/`no` and `explicit`/`clean`.
    fn explicit(&self, key: &str) -> Result<Option<bool>, Error> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Text(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "explicit" => Ok(Some(true)),
                "false" | "no" | "clean" => Ok(Some(false)),
                _ => Err(self.error(key, "expected true or false".into())),
            },
            Some(_) => Err(self.error(key, "expected true or false".into())),
        }
    }

    /// A running time as Apple reads it: seconds (`1830`), `MM:SS` or `HH:MM:SS`.
    fn duration(&self, key: &str) -> Result<Option<String>, Error> {
        let Some(value) = self.get(key).and_then(Value::scalar) else {
            return match self.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(_) => Err(self.error(key, DURATION.into())),
            };
        };
        let value = value.trim();
        let parts: Vec<&str> = value.split(':').collect();
        let digits =
            |p: &&str| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit());
        let minutes_and_seconds_fit = parts.iter().skip(1).all(|p| p.len() == 2 && p < &"60");
        if parts.len() > 3 || !parts.iter().all(digits) || !minutes_and_seconds_fit {
            let value = super::text::quote(value);
            return Err(self.error(key, format!("`{value}` is not a duration; {DURATION}")));
        }
        Ok(Some(value.to_string()))
    }

    /// A whole number from 1: an episode or season number.
    fn count(&self, key: &str) -> Result<Option<u64>, Error> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .scalar()
                .and_then(|n| n.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| {
                    self.error(key, "expected a whole number from 1, such as 12".into())
                }),
        }
    }

    fn list(&self, key: &str, split: Split) -> Result<Vec<String>, Error> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::List(items)) => items
                .iter()
                .filter(|item| !matches!(item, Value::Null))
                .map(|item| {
                    item.scalar().ok_or_else(|| {
                        self.error(
                            key,
                            "expected a list of names, such as [\"a\", \"b\"]".into(),
                        )
                    })
                })
                .collect(),
            Some(Value::Text(s)) => Ok(split_names(s, split)),
            Some(value) => match value.scalar() {
                Some(s) => Ok(vec![s]),
                None => Err(self.error(
                    key,
                    "expected a list of names, such as [\"a\", \"b\"]".into(),
                )),
            },
        }
    }
}

const DURATION: &str = "write seconds (1830), MM:SS (30:30) or HH:MM:SS (00:30:30)";

fn split_names(text: &str, split: Split) -> Vec<String> {
    match split {
        Split::Jekyll if !text.contains(',') => {
            text.split_whitespace().map(str::to_string).collect()
        }
        _ => text.split(',').map(str::to_string).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LA: Tz = chrono_tz::America::Los_Angeles;

    fn front(text: &str) -> Result<Front, Error> {
        let block = split(text)?.ok_or(Error {
            line: 0,
            message: "no front matter".into(),
        })?;
        parse(&block, LA)
    }

    #[test]
    fn yaml_keys_are_case_insensitive() {
        let f = front("---\nTitle: Night bus\nDATE: 2019-03-03 09:05\nAuthor: Dana\n---\nbody\n")
            .unwrap();
        assert_eq!(f.title.as_deref(), Some("Night bus"));
        assert_eq!(
            f.date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2019-03-03T09:05:00-08:00")
        );
        assert_eq!(f.authors, vec!["Dana"]);
    }

    #[test]
    fn yaml_categories_string_splits_on_commas_else_spaces() {
        let f = front("---\ncategories: City Hall, Transit\n---\n").unwrap();
        assert_eq!(f.categories, vec!["City Hall", " Transit"]);
        let f =
            front("---\ncategories: news transit\ncategory: Bay Area\ntags: a, b\n---\n").unwrap();
        assert_eq!(f.categories, vec!["news", "transit", "Bay Area"]);
        assert_eq!(f.tags, vec!["a", " b"]);
    }

    #[test]
    fn authors_list_keeps_every_author_after_author() {
        let f = front("---\nauthors: [Zed, Yan]\n---\n").unwrap();
        assert_eq!(f.authors, vec!["Zed", "Yan"]);
        let f = front("---\nauthor: Ann\nauthors: Zed, Yan\n---\n").unwrap();
        assert_eq!(f.authors, vec!["Ann", "Zed", " Yan"]);
    }

    #[test]
    fn yaml_closes_with_dots_too() {
        let block = split("---\ntitle: x\n...\nbody\n").unwrap().unwrap();
        assert_eq!(block.body, "body\n");
    }

    #[test]
    fn toml_front_matter_with_zola_taxonomies() {
        let f = front(
            "+++\ntitle = \"Launch\"\ndate = 2019-03-03T09:05:00Z\nupdated = 2019-03-04\ndraft = true\n\
             [taxonomies]\ncategories = [\"Bay Area\"]\ntags = [\"rust\"]\n+++\nbody\n",
        )
        .unwrap();
        assert_eq!(f.title.as_deref(), Some("Launch"));
        assert_eq!(
            f.date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2019-03-03T09:05:00+00:00")
        );
        assert_eq!(
            f.updated.map(|d| d.to_rfc3339()).as_deref(),
            Some("2019-03-04T00:00:00-08:00")
        );
        assert!(f.draft);
        assert_eq!(f.categories, vec!["Bay Area"]);
        assert_eq!(f.tags, vec!["rust"]);
    }

    #[test]
    fn toml_local_datetime_is_site_local() {
        let f =
            front("+++\ndate = 2019-07-04T09:30:00\nlastmod = 2019-07-05 10:00:00\n+++\n").unwrap();
        assert_eq!(
            f.date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2019-07-04T09:30:00-07:00")
        );
        assert_eq!(
            f.updated.map(|d| d.to_rfc3339()).as_deref(),
            Some("2019-07-05T10:00:00-07:00")
        );
    }

    #[test]
    fn draft_accepts_strings_and_rejects_other_values() {
        assert!(front("---\ndraft: \"true\"\n---\n").unwrap().draft);
        assert!(!front("---\ndraft: false\n---\n").unwrap().draft);
        assert_eq!(
            front("---\ntitle: x\ndraft: maybe\n---\n").unwrap_err(),
            Error {
                line: 3,
                message: "key `draft`: expected true or false".into()
            }
        );
    }

    #[test]
    fn bad_date_names_key_line_value_and_forms() {
        let parsed = front("---\ntitle: x\n\ndate: next tuesday\n---\n").unwrap();
        assert_eq!(parsed.date, None);
        let err = parsed.bad_date.unwrap();
        assert_eq!(err.line, 4);
        assert_eq!(
            err.message,
            format!(
                "key `date`: `next tuesday` is not a date; {}",
                date::ACCEPTED
            )
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = front("+++\ntitle = \"x\"\ntags = { a = 1 }\n+++\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert_eq!(
            err.message,
            "key `tags`: expected a list of names, such as [\"a\", \"b\"]"
        );
        let err = front("---\ntitle: [a, b]\n---\n").unwrap_err();
        assert_eq!(
            err.message,
            "key `title`: expected text, such as \"a value\""
        );
    }

    #[test]
    fn yaml_syntax_error_line_is_a_file_line() {
        let err = front("---\ntitle: ok\nauthor: Dana\ntags: [a, b\n---\n").unwrap_err();
        assert_eq!(
            err.message,
            "front matter is not valid YAML: did not find expected ',' or ']'"
        );
        // The parser finds the unclosed `[` where the block ends: the closing `---`.
        assert_eq!(err.line, 5);
    }

    #[test]
    fn toml_syntax_error_line_is_a_file_line() {
        let err = front("+++\ntitle = \"ok\"\ndate = = 3\n+++\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(
            err.message.starts_with("front matter is not valid TOML: "),
            "{}",
            err.message
        );
    }

    #[test]
    fn unclosed_front_matter_names_line_one_and_the_fix() {
        assert_eq!(
            split("---\ntitle: x\n\nbody\n").unwrap_err(),
            Error {
                line: 1,
                message: "front matter opened with `---` on line 1 is never closed; add a closing `---` line".into()
            }
        );
        assert_eq!(split("+++\ntitle = 1\n").unwrap_err().line, 1);
    }

    #[test]
    fn empty_front_matter_is_fine_and_unknown_keys_are_ignored() {
        let f = front("---\n---\nbody\n").unwrap();
        assert_eq!(f.title, None);
        let f = front("---\nlayout: post\nextra: {a: 1}\n---\n").unwrap();
        assert_eq!(f.title, None);
    }

    #[test]
    fn deeply_nested_yaml_is_refused_before_parsing() {
        let text = format!("---\ntitle: x\ntags: {}\n---\n", "[".repeat(50_000));
        assert_eq!(
            front(&text).unwrap_err(),
            Error {
                line: 3,
                message: "front matter is nested over 128 levels deep; flatten it".into()
            }
        );
    }

    #[test]
    fn an_attachment_is_a_string_or_a_map_and_audio_stands_for_enclosure() {
        let f = front(
            "---\ntitle: Ep\nimage: photo.jpg\naudio: {url: ep1.mp3, length: 48213, type: audio/mpeg}\n---\n",
        )
        .unwrap();
        assert_eq!(
            f.image,
            Some(RawAttachment {
                url: "photo.jpg".into(),
                length: None,
                media_type: None,
                line: 3,
            })
        );
        assert_eq!(
            f.enclosure,
            Some(RawAttachment {
                url: "ep1.mp3".into(),
                length: Some(48213),
                media_type: Some("audio/mpeg".into()),
                line: 4,
            })
        );
        // `enclosure` wins over `audio`.
        let f = front("+++\nenclosure = \"a.mp3\"\naudio = \"b.mp3\"\n+++\n").unwrap();
        assert_eq!(f.enclosure.map(|e| e.url).as_deref(), Some("a.mp3"));
    }

    #[test]
    fn episode_fields_are_read_as_apple_writes_them() {
        let f =
            front("---\nduration: \"1:02:03\"\nepisode: 3\nseason: \"2\"\nexplicit: clean\n---\n")
                .unwrap();
        assert_eq!(
            f.episode,
            Episode {
                explicit: Some(false),
                duration: Some("1:02:03".into()),
                number: Some(3),
                season: Some(2),
            }
        );
        assert_eq!(
            front("---\nduration: 1830\nexplicit: yes\n---\n")
                .unwrap()
                .episode
                .explicit,
            Some(true)
        );
    }

    #[test]
    fn a_bad_attachment_or_episode_field_names_its_key_and_line() {
        for (text, line, message) in [
            (
                "---\ntitle: x\naudio: {length: 3}\n---\n",
                3,
                "key `audio`: has no `url`; expected a URL or a file beside the post, such as \"photo.jpg\", or a map {url, length, type}",
            ),
            (
                "---\nenclosure: {url: a.mp3, length: big}\n---\n",
                2,
                "key `enclosure`: `length` must be a size in bytes, such as 5650889",
            ),
            (
                "---\nimage: [a.jpg]\n---\n",
                2,
                "key `image`: expected a URL or a file beside the post, such as \"photo.jpg\", or a map {url, length, type}",
            ),
            (
                "---\nduration: 12:75\n---\n",
                2,
                "key `duration`: `12:75` is not a duration; write seconds (1830), MM:SS (30:30) or HH:MM:SS (00:30:30)",
            ),
            ("---\nepisode: 0\n---\n", 2, "key `episode`: expected a whole number from 1, such as 12"),
            ("---\nexplicit: maybe\n---\n", 2, "key `explicit`: expected true or false"),
        ] {
            assert_eq!(
                front(text).unwrap_err(),
                Error {
                    line,
                    message: message.into()
                },
                "{text}"
            );
        }
    }

    #[test]
    fn a_list_is_not_front_matter() {
        assert_eq!(
            front("---\n- a\n- b\n---\n").unwrap_err().message,
            "front matter is not a set of keys; write `key: value` lines"
        );
    }
}
