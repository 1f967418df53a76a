//! Post text for the benchmarks: deterministic prose of about the size of a real news
//! post, in each post format (README, "Post formats"), so every run measures the same
//! bytes and no data set is downloaded.

// Each bench target compiles this module on its own and uses only part of it.
#![allow(dead_code)]

/// The categories of generated posts: each has a feed, as on a real site.
pub const CATEGORIES: [&str; 20] = [
    "City Hall",
    "Transit",
    "Schools",
    "Parks",
    "Housing",
    "Public Safety",
    "Weather",
    "Health",
    "Business",
    "Arts",
    "Sports",
    "Environment",
    "Courts",
    "Elections",
    "Libraries",
    "Roads",
    "Harbor",
    "Budget",
    "Neighborhoods",
    "Letters",
];

/// The authors of generated posts: each has a feed.
pub const AUTHORS: [&str; 5] = [
    "Dana Whitfield",
    "Priya Natarajan",
    "Marcus Oyelaran",
    "Zoë Álvarez",
    "Tom Becker",
];

const WORDS: [&str; 64] = [
    "council",
    "riders",
    "harbor",
    "street",
    "budget",
    "library",
    "permit",
    "office",
    "vote",
    "night",
    "bus",
    "pilot",
    "school",
    "lunch",
    "menu",
    "ferry",
    "schedule",
    "crews",
    "potholes",
    "rainfall",
    "totals",
    "parking",
    "meter",
    "rate",
    "review",
    "audit",
    "district",
    "residents",
    "public",
    "comment",
    "proposal",
    "agenda",
    "mayor",
    "funding",
    "season",
    "repairs",
    "bridge",
    "tenants",
    "rent",
    "survey",
    "teachers",
    "students",
    "weekend",
    "closure",
    "detour",
    "station",
    "platform",
    "service",
    "fares",
    "cap",
    "card",
    "morning",
    "evening",
    "report",
    "controller",
    "numbers",
    "meeting",
    "hearing",
    "delay",
    "plan",
    "park",
    "trail",
    "garden",
    "volunteers",
];

/// A small xorshift generator: the same seed gives the same text on every machine.
pub struct Words(u64);

impl Words {
    pub fn new(seed: u64) -> Words {
        // Zero is xorshift's fixed point; any other constant mixes the seed in.
        Words(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len())]
    }

    /// A sentence of 8 to 20 words, capitalized, ending in a full stop.
    pub fn sentence(&mut self) -> String {
        let count = 8 + self.below(13);
        let mut sentence = String::new();
        for i in 0..count {
            let word = self.word();
            if i == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    sentence.extend(first.to_uppercase());
                    sentence.push_str(chars.as_str());
                }
            } else {
                sentence.push(' ');
                sentence.push_str(word);
            }
        }
        sentence.push('.');
        sentence
    }

    /// A paragraph of 3 to 6 sentences.
    pub fn paragraph(&mut self) -> String {
        let count = 3 + self.below(4);
        (0..count)
            .map(|_| self.sentence())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A title of 4 to 8 words.
    pub fn title(&mut self) -> String {
        let sentence = self.sentence();
        let words: Vec<&str> = sentence.trim_end_matches('.').split(' ').collect();
        let count = (4 + self.below(5)).min(words.len());
        words[..count].join(" ")
    }
}

/// Plain paragraphs, wrapped at about 88 columns as a saved page would be, until the text
/// is at least `bytes` long.
pub fn prose(words: &mut Words, bytes: usize) -> String {
    let mut text = String::new();
    while text.len() < bytes {
        let paragraph = words.paragraph();
        let mut column = 0;
        for word in paragraph.split(' ') {
            if column > 0 && column + word.len() >= 88 {
                text.push('\n');
                column = 0;
            } else if column > 0 {
                text.push(' ');
                column += 1;
            }
            text.push_str(word);
            column += word.len();
        }
        text.push_str("\n\n");
    }
    text
}

/// CommonMark with what writers use: emphasis, links, inline code, lists and a quote.
pub fn markdown(words: &mut Words, bytes: usize) -> String {
    let mut text = String::new();
    let mut block = 0;
    while text.len() < bytes {
        match block % 4 {
            0 => {
                let a = words.word();
                let b = words.word();
                text.push_str(&format!(
                    "{} **{a} {b}** and *{}* — see [the {a} report](https://news.example.com/{a}/{b}/) and `{b}`.\n\n",
                    words.paragraph(),
                    words.word(),
                ));
            }
            1 => {
                for _ in 0..4 {
                    text.push_str(&format!(
                        "- {} [{}](/posts/{}/)\n",
                        words.sentence(),
                        words.word(),
                        words.word()
                    ));
                }
                text.push('\n');
            }
            2 => {
                for n in 1..=3 {
                    text.push_str(&format!("{n}. _{}_ {}\n", words.word(), words.sentence()));
                }
                text.push('\n');
            }
            _ => text.push_str(&format!("> {}\n\n", words.paragraph())),
        }
        block += 1;
    }
    text
}

/// Sanitized HTML as the parser hands it to the renderers: paragraphs with a link and
/// emphasis, and a list.
pub fn html(words: &mut Words, bytes: usize) -> String {
    let mut html = String::new();
    let mut block = 0;
    while html.len() < bytes {
        if block % 3 == 2 {
            html.push_str("<ul>\n");
            for _ in 0..3 {
                html.push_str(&format!("<li>{}</li>\n", words.sentence()));
            }
            html.push_str("</ul>\n");
        } else {
            let a = words.word();
            html.push_str(&format!(
                "<p>{} <em>{a}</em> <a href=\"https://news.example.com/posts/{a}/\">{}</a> &amp; “{}”.</p>\n",
                words.paragraph(),
                words.word(),
                words.word(),
            ));
        }
        block += 1;
    }
    html
}

/// Article text (format 1): `Title:`, `Posted by … on …` and `Categories:` header lines,
/// a blank line, then about `bytes` of prose. `date` is as the header writes it, e.g.
/// `2019-03-03 09:30`.
pub fn article(
    words: &mut Words,
    author: &str,
    date: &str,
    categories: &[&str],
    bytes: usize,
) -> String {
    format!(
        "Title: {}\nPosted by {author} on {date}\nCategories: {}\nTags: {}, {}\n\n{}",
        words.title(),
        categories.join(", "),
        words.word(),
        words.word(),
        prose(words, bytes),
    )
}
