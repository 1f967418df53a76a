//! The header of article text, as saved from a blog page: `Posted by A on B`,
//! `Categories:`, `Tags:` and `Title:` lines, then a blank line (README, Post formats).

use chrono_tz::Tz;

use super::front::{self, Front};
use super::{date, text};

/// One line of an article's header.
enum HeaderLine<'a> {
    Posted { author: &'a str, date: &'a str },
    Categories(&'a str),
    Tags(&'a str),
    Title(&'a str),
}

/// `line` without a case-insensitive ASCII `prefix`, if it starts with it.
fn strip_keyword<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .and_then(|_| line.get(prefix.len()..))
}

fn header_line(line: &str) -> Option<HeaderLine<'_>> {
    if let Some(rest) = strip_keyword(line, "posted by ") {
        let rest = rest.trim_start();
        if let Some(date) = strip_keyword(rest, "on ") {
            return Some(HeaderLine::Posted { author: "", date });
        }
        // Dates never contain “ on ”; names might, so the last one splits.
        let at = rest.to_ascii_lowercase().rfind(" on ")?;
        return Some(HeaderLine::Posted {
            author: rest.get(..at)?,
            date: rest.get(at + 4..)?,
        });
    }
    if let Some(date) = strip_keyword(line, "posted on ") {
        return Some(HeaderLine::Posted { author: "", date });
    }
    let keyword = |prefix: &str| strip_keyword(line, prefix);
    if let Some(list) = keyword("categories:").or_else(|| keyword("category:")) {
        return Some(HeaderLine::Categories(list));
    }
    if let Some(list) = keyword("tags:").or_else(|| keyword("tag:")) {
        return Some(HeaderLine::Tags(list));
    }
    if let Some(title) = keyword("title:") {
        return Some(HeaderLine::Title(title));
    }
    None
}

/// The header of article text (the lines before the first blank line, when every one is
/// a header line), and the body after it.
pub fn header(text: &str, tz: Tz) -> Result<Option<(Front, &str)>, front::Error> {
    let mut offset = 0;
    let mut line_number = 0;
    let mut header: Vec<(usize, HeaderLine<'_>)> = Vec::new();
    for line in text.split_inclusive('\n') {
        line_number += 1;
        offset += line.len();
        let trimmed = line.trim();
        if trimmed.is_empty() {
            if header.is_empty() {
                continue;
            }
            break;
        }
        match header_line(trimmed) {
            Some(parsed) => header.push((line_number, parsed)),
            None => return Ok(None),
        }
    }
    if header.is_empty() {
        return Ok(None);
    }
    let front = fields(header, tz)?;
    Ok(Some((front, text.get(offset..).unwrap_or_default())))
}

/// The header's lines as front matter fields; a bad date is an error naming its line.
fn fields(header: Vec<(usize, HeaderLine<'_>)>, tz: Tz) -> Result<Front, front::Error> {
    let mut front = Front::default();
    for (line, parsed) in header {
        match parsed {
            HeaderLine::Posted { author, date } => {
                let date = date.trim();
                front.date = Some(date::parse(date, tz).ok_or_else(|| front::Error {
                    line,
                    message: format!("`{}` is not a date; {}", text::quote(date), date::ACCEPTED),
                })?);
                if !author.trim().is_empty() {
                    front.authors = vec![author.trim().to_string()];
                }
            }
            HeaderLine::Categories(list) => {
                front.categories.extend(list.split(',').map(str::to_string));
            }
            HeaderLine::Tags(list) => front.tags.extend(list.split(',').map(str::to_string)),
            HeaderLine::Title(title) => front.title = Some(title.trim().to_string()),
        }
    }
    Ok(front)
}
