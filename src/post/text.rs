//! Words: slugs, titles made from file names or first sentences, summaries, and the
//! cleanup of category and tag names.

use chrono::NaiveDate;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Lowercase ASCII letters and digits, runs of anything else as one `-`, accents folded.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    let mut dash = false;
    for c in name.nfkd().filter(|&c| !is_combining_mark(c)) {
        if c.is_ascii_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    slug
}

/// The most bytes one slug segment takes: a category, an author, a folder or a file's
/// part of a post's URL. Well under the 255 bytes a file name may have, since `build`
/// writes a folder per segment, and short enough for a URL to be read.
pub const MAX_SEGMENT_BYTES: usize = 80;

/// The most bytes a whole post slug (its segments and the `/` between them) takes.
pub const MAX_SLUG_BYTES: usize = 200;

/// `slug` when it fits in `max` bytes; else cut at the last `-` or `/` that keeps at
/// least half of it (else at `max`), with `-` and the first 8 hex digits of the FNV-1a
/// hash of the whole slug appended, so two long slugs that share a beginning stay
/// apart, and the same slug is cut the same way on every replica.
pub fn bounded_slug(slug: String, max: usize) -> String {
    if slug.len() <= max {
        return slug;
    }
    let hash = super::file_info::fnv1a(slug.as_bytes()) >> 32;
    let keep = max.saturating_sub(9);
    // Slugs are ASCII, but a char boundary costs nothing to respect.
    let mut end = keep;
    while !slug.is_char_boundary(end) {
        end -= 1;
    }
    let head = slug.get(..end).unwrap_or_default();
    let at_separator = slug
        .get(end..)
        .is_some_and(|rest| rest.starts_with(['-', '/']));
    let head = match head.rfind(['-', '/']) {
        Some(at) if !at_separator && at >= keep / 2 => head.get(..at).unwrap_or(head),
        _ => head,
    };
    format!("{}-{hash:08x}", head.trim_end_matches(['-', '/']))
}

/// The most characters of a file's text that a message quotes.
pub const MAX_QUOTE_CHARS: usize = 80;

/// `text` as a message quotes it: whole up to [`MAX_QUOTE_CHARS`] characters, else its
/// beginning with “…”, so a megabyte of bad input does not make a megabyte of log line.
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTE_CHARS) {
        None => text.to_string(),
        Some(_) => {
            let head: String = text.chars().take(MAX_QUOTE_CHARS - 1).collect();
            format!("{head}…")
        }
    }
}

/// Trims and collapses every run of whitespace to one space.
pub fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `text` to at most `max` characters at a word boundary, ending with “…” when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let limit = max.saturating_sub(1);
    let head: String = text.chars().take(limit).collect();
    // Cut at the last space when the limit fell inside a word; a single word longer than
    // the limit is cut where it is.
    let next_is_space = text.chars().nth(limit).is_some_and(char::is_whitespace);
    let cut = if next_is_space {
        head.as_str()
    } else {
        head.rfind(char::is_whitespace)
            .and_then(|at| head.get(..at))
            .unwrap_or(&head)
    };
    let cut = cut.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':'));
    format!("{cut}…")
}

/// Splits a Jekyll name, `2019-03-03-night-bus`, into its date and the rest.
pub fn jekyll(name: &str) -> Option<(NaiveDate, &str)> {
    let date = NaiveDate::parse_from_str(name.get(..10)?, "%Y-%m-%d").ok()?;
    let rest = name.get(10..)?.strip_prefix('-')?;
    (!rest.is_empty()).then_some((date, rest))
}

/// “Night bus pilot” from `night-bus-pilot`: separators become spaces and the first letter
/// is capitalized. `None` when the name is an id rather than words (`0042_9f3ab27c`).
pub fn title_from_name(name: &str) -> Option<String> {
    let parts: Vec<&str> = name
        .split(|c: char| c == '-' || c == '_' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    // Numbers are words in a title (`top-10-tips`), but a name of numbers alone is an id.
    let number = |part: &&str| part.chars().all(|c| c.is_ascii_digit());
    if !parts.iter().any(|part| is_word(part))
        || !parts.iter().all(|part| is_word(part) || number(part))
    {
        return None;
    }
    let joined = parts.join(" ");
    let mut chars = joined.chars();
    let first = chars.next()?;
    Some(first.to_uppercase().chain(chars).collect())
}

/// A word has letters, no digits (but for an ordinal: `3rd`), and does not look like a
/// hex hash (`deadbeef`).
fn is_word(part: &str) -> bool {
    let letters = part.chars().any(char::is_alphabetic);
    let digits = part.chars().any(|c| c.is_ascii_digit());
    let hex_like = part.len() >= 8 && part.chars().all(|c| c.is_ascii_hexdigit());
    let lower = part.to_ascii_lowercase();
    let ordinal = ["st", "nd", "rd", "th"].iter().any(|suffix| {
        lower
            .strip_suffix(suffix)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    });
    ordinal || (letters && !digits && !hex_like)
}

/// Words that end with a period without ending the sentence, lowercase, without it.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "prof", "gen", "gov", "sen", "rep",
    "rev", "lt", "col", "capt", "sgt", "mt", "ft", "no", "inc", "ltd", "co", "corp", "approx",
    "dept", "est", "fig", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec",
];

/// The first sentence of a paragraph, without a final period (kept: `?` and `!`).
///
/// A period does not end the sentence after an abbreviation (“Dr.”, “etc.”), after a
/// word with periods inside (“U.S.”, “e.g.”), after a single-letter initial (“J. R.”),
/// inside a number (“3.5”), or before a lowercase word.
pub fn first_sentence(paragraph: &str) -> String {
    let chars: Vec<char> = paragraph.chars().collect();
    let mut end = chars.len();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        if !matches!(c, '.' | '!' | '?' | '…') {
            continue;
        }
        let at = i - 1;
        // The mark must be followed (after closing quotes or brackets) by a space or the end.
        let mut j = i;
        while chars
            .get(j)
            .is_some_and(|c| matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '.' | '!' | '?'))
        {
            j += 1;
        }
        // Marks and quotes just skipped are never looked at again: “......” stays linear.
        i = j;
        match chars.get(j) {
            None => {}
            Some(c) if c.is_whitespace() => {}
            Some(_) => continue,
        }
        if let Some(next) = chars
            .get(j..)
            .and_then(|rest| rest.iter().find(|c| !c.is_whitespace()))
        {
            if next.is_lowercase() {
                continue;
            }
        }
        if c == '.' && j == at + 1 {
            let start = chars
                .get(..at)
                .and_then(|before| before.iter().rposition(|c| c.is_whitespace() || *c == '('))
                .map_or(0, |p| p + 1);
            let word: String = chars.get(start..at).unwrap_or_default().iter().collect();
            let lower = word.to_lowercase();
            let letters = word.chars().filter(|c| c.is_alphabetic()).count();
            if ABBREVIATIONS.contains(&lower.as_str())
                || word.contains('.')
                || (letters == 1 && word.chars().count() == 1)
            {
                continue;
            }
        }
        end = if c == '.' && j == at + 1 { at } else { j };
        break;
    }
    let sentence: String = chars.get(..end).unwrap_or_default().iter().collect();
    sentence.trim().to_string()
}

/// Cleans category or tag names: whitespace collapsed, empty ones dropped, duplicates
/// dropped case-insensitively with the first spelling kept.
pub fn dedup_names(names: impl IntoIterator<Item = String>) -> Vec<String> {
    // A hash set, so a post listing 400,000 tags costs a moment, not minutes.
    let mut seen = std::collections::HashSet::new();
    let mut kept = Vec::new();
    for name in names {
        let name = collapse(&name);
        if name.is_empty() || !seen.insert(name.to_lowercase()) {
            continue;
        }
        kept.push(name);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_folds_accents_and_joins_words_with_dashes() {
        assert_eq!(slugify("São Paulo"), "sao-paulo");
        assert_eq!(slugify("Bay Area"), "bay-area");
        assert_eq!(slugify("  C++ & Rust!! "), "c-rust");
        assert_eq!(slugify("Ünïcödé_ﬁle"), "unicode-file");
        assert_eq!(slugify("!!!"), "");
        assert_eq!(slugify("東京"), "");
        assert_eq!(slugify(".."), "");
    }

    #[test]
    fn words_file_name_becomes_a_title() {
        assert_eq!(
            title_from_name("night-bus-pilot").as_deref(),
            Some("Night bus pilot")
        );
        assert_eq!(
            title_from_name("night_bus_NYC").as_deref(),
            Some("Night bus NYC")
        );
        assert_eq!(
            title_from_name("été-à-paris").as_deref(),
            Some("Été à paris")
        );
    }

    #[test]
    fn id_like_file_name_is_not_a_title() {
        assert_eq!(title_from_name("0042_9f3ab27c"), None);
        assert_eq!(title_from_name("20190303"), None);
        assert_eq!(title_from_name("2019_0303"), None);
        assert_eq!(
            title_from_name("top-10-tips").as_deref(),
            Some("Top 10 tips")
        );
        assert_eq!(
            title_from_name("the-3rd-street-fair").as_deref(),
            Some("The 3rd street fair")
        );
        assert_eq!(title_from_name("post-v2"), None);
        assert_eq!(title_from_name("deadbeefcafe"), None);
        assert_eq!(title_from_name("--"), None);
    }

    #[test]
    fn first_sentence_skips_abbreviations() {
        assert_eq!(
            first_sentence(
                "The head of the U.S. Forest Service met Dr. Ruiz on Friday. Then they…"
            ),
            "The head of the U.S. Forest Service met Dr. Ruiz on Friday"
        );
        assert_eq!(
            first_sentence("J. R. Smith paid 3.5 million, e.g. for St. Mary’s. Then more."),
            "J. R. Smith paid 3.5 million, e.g. for St. Mary’s"
        );
        assert_eq!(
            first_sentence("Mrs. Lee vs. Mr. Park. Next."),
            "Mrs. Lee vs. Mr. Park"
        );
        assert_eq!(
            first_sentence("Apples, pears etc. are fruit. Yes."),
            "Apples, pears etc. are fruit"
        );
    }

    #[test]
    fn first_sentence_keeps_question_and_exclamation_marks() {
        assert_eq!(first_sentence("Who pays? Riders do."), "Who pays?");
        assert_eq!(
            first_sentence("“It works!” she said. Then."),
            "“It works!” she said"
        );
        assert_eq!(first_sentence("No end mark at all"), "No end mark at all");
    }

    #[test]
    fn a_long_slug_is_cut_at_a_dash_with_a_hash_of_the_whole() {
        let slug = slugify(&"word ".repeat(60));
        assert_eq!(slug.len(), 299);
        let cut = bounded_slug(slug, MAX_SEGMENT_BYTES);
        assert_eq!(
            cut,
            "word-word-word-word-word-word-word-word-word-word-word-word-word-word-bb3725aa"
        );
        assert_eq!(cut.len(), 78);
        // No dash in reach: cut at the limit.
        assert_eq!(
            bounded_slug("x".repeat(300), 20),
            "xxxxxxxxxxx-e78ddf9f".to_string()
        );
        // Short enough: as it is.
        assert_eq!(bounded_slug("a-b".into(), 3), "a-b");
        // A shared beginning does not make one slug of two.
        assert_ne!(
            bounded_slug(format!("{}-a", "x".repeat(100)), 20),
            bounded_slug(format!("{}-b", "x".repeat(100)), 20)
        );
    }

    #[test]
    fn a_quote_is_at_most_80_characters() {
        assert_eq!(quote("next tuesday"), "next tuesday");
        let long = "é".repeat(1_000_000);
        let quoted = quote(&long);
        assert_eq!(quoted.chars().count(), 80);
        assert_eq!(quoted, format!("{}…", "é".repeat(79)));
        assert_eq!(quote(&"a".repeat(80)), "a".repeat(80));
    }

    #[test]
    fn truncate_cuts_at_a_word_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("one two three four", 10), "one two…");
        assert_eq!(truncate("one two, three", 9), "one two…");
        assert_eq!(truncate("abcdefghijkl", 5), "abcd…");
        assert_eq!(truncate("one two three", 8), "one two…");
    }

    #[test]
    fn jekyll_name_splits_into_date_and_rest() {
        assert_eq!(
            jekyll("2019-03-03-night-bus"),
            Some((NaiveDate::from_ymd_opt(2019, 3, 3).unwrap(), "night-bus"))
        );
        assert_eq!(jekyll("2019-03-03"), None);
        assert_eq!(jekyll("2019-13-03-x"), None);
        assert_eq!(jekyll("night-bus"), None);
    }

    #[test]
    fn names_are_collapsed_and_deduplicated_case_insensitively() {
        let names = ["  Bay   Area ", "bay area", "", "Transit", "BAY AREA", " "].map(String::from);
        assert_eq!(dedup_names(names), vec!["Bay Area", "Transit"]);
    }
}
