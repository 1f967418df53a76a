use super::normalize::is_uri;
use super::*;

fn site() -> Site {
    Site {
        title: "Example News".into(),
        description: "Posts".into(),
        base_url: "https://example.com".into(),
        host: "example.com".into(),
        author: "Newsroom".into(),
        language: "en".into(),
        timezone: chrono_tz::America::Los_Angeles,
        permalink: crate::routes::DEFAULT_PERMALINK.into(),
        limits: Limits {
            categories: 3,
            authors: 4,
            tags: 4,
        },
        channel: Default::default(),
    }
}

fn source(path: &str, bytes: &[u8]) -> Source {
    Source {
        path: path.into(),
        bytes: bytes.to_vec(),
        modified: DateTime::parse_from_rfc3339("2020-05-06T07:08:09Z")
            .map(|d| d.to_utc())
            .unwrap_or_default(),
    }
}

fn post(path: &str, text: &str) -> Post {
    match parse(&source(path, text.as_bytes()), &site()) {
        Ok(post) => post,
        Err(problem) => panic!("{problem}"),
    }
}

fn error(path: &str, bytes: &[u8]) -> String {
    match parse(&source(path, bytes), &site()) {
        Ok(post) => panic!("parsed: {post:?}"),
        Err(problem) => problem.to_string(),
    }
}

/// A post's tag names, as written.
fn tag_names(p: &Post) -> Vec<String> {
    p.tags.iter().map(|t| t.name.clone()).collect()
}

fn names(named: &[Named]) -> Vec<(&str, &str)> {
    named
        .iter()
        .map(|n| (n.name.as_str(), n.slug.as_str()))
        .collect()
}

const ARTICLE: &str = "Posted by Dana Whitfield on March 3, 2019\n\
Categories: City Hall, Transit\n\
\n\
The council voted 7–2 on Tuesday to extend the night bus pilot, a “stopgap” that\n\
riders have asked to make permanent since it began last spring.\n\
\n\
A second paragraph, also hard-wrapped at\n\
an arbitrary column.\n";

#[test]
fn design_article_text_is_parsed_field_by_field() {
    let p = post("night-bus.txt", ARTICLE);
    assert_eq!(p.path, "night-bus.txt");
    assert_eq!(p.slug, "night-bus");
    assert_eq!(p.url, "https://example.com/posts/night-bus/");
    assert_eq!(p.id, "tag:example.com,2019-03-03:night-bus");
    assert_eq!(p.title, "Night bus");
    assert_eq!(
        p.authors,
        vec![Named {
            name: "Dana Whitfield".into(),
            slug: "dana-whitfield".into()
        }]
    );
    assert_eq!(p.published.to_rfc3339(), "2019-03-03T00:00:00-08:00");
    assert_eq!(p.updated, p.published);
    assert_eq!(
        names(&p.categories),
        vec![("City Hall", "city-hall"), ("Transit", "transit")]
    );
    assert_eq!(tag_names(&p), Vec::<String>::new());
    assert_eq!(
        p.content_html,
        "<p>The council voted 7–2 on Tuesday to extend the night bus pilot, a “stopgap” that \
riders have asked to make permanent since it began last spring.</p>\n\
<p>A second paragraph, also hard-wrapped at an arbitrary column.</p>\n"
    );
    assert_eq!(
        p.summary,
        "The council voted 7–2 on Tuesday to extend the night bus pilot, a “stopgap” that \
riders have asked to make permanent since it began last spring."
    );
    assert!(!p.draft);
    assert_eq!(p.warnings, vec![]);
    assert_eq!(p.file_modified.to_rfc3339(), "2020-05-06T07:08:09+00:00");
}

#[test]
fn article_without_title_uses_the_first_sentence_past_abbreviations() {
    let p = post(
        "0042_9f3ab27c.txt",
        "Posted on 2019-03-03\n\nThe head of the U.S. Forest Service met Dr. Ruiz on Friday. Then they…\n",
    );
    assert_eq!(
        p.title,
        "The head of the U.S. Forest Service met Dr. Ruiz on Friday"
    );
    assert_eq!(p.slug, "0042-9f3ab27c");
    assert_eq!(p.authors[0].name, "Newsroom");
}

#[test]
fn long_first_sentence_is_cut_at_a_word_with_an_ellipsis() {
    let sentence = "word ".repeat(40);
    let p = post(
        "0042.txt",
        &format!("Posted on 2019-03-03\n\n{sentence}.\n"),
    );
    assert_eq!(p.title, format!("{}…", "word ".repeat(20).trim_end()));
    assert_eq!(p.title.chars().count(), 100);
}

#[test]
fn posted_by_nobody_takes_the_site_author() {
    let p = post(
        "a.txt",
        "Posted by on January 18, 2018\nTags: x, y, X\n\nBody.\n",
    );
    assert_eq!(
        p.authors,
        vec![Named {
            name: "Newsroom".into(),
            slug: "newsroom".into()
        }]
    );
    assert_eq!(p.published.to_rfc3339(), "2018-01-18T00:00:00-08:00");
    assert_eq!(tag_names(&p), vec!["x", "y"]);
}

#[test]
fn category_without_ascii_letters_gets_a_stable_hashed_slug() {
    let p = post(
        "a.txt",
        "Posted on 2019-03-03\nCategories: News, 東京, !!!, news, 東京\n\nBody.\n",
    );
    assert_eq!(
        names(&p.categories),
        vec![
            ("News", "news"),
            ("東京", "category-2f3c04f1"),
            ("!!!", "category-bbe43c17")
        ]
    );
    assert_eq!(p.warnings, vec![]);
}

#[test]
fn header_keywords_are_case_insensitive_and_in_any_order() {
    let p = post(
        "a.txt",
        "category: Bay Area\nTITLE: Night owls\nposted BY Lee on 18 January 2018 9:05 pm\n\nBody.\n",
    );
    assert_eq!(p.title, "Night owls");
    assert_eq!(p.authors[0].name, "Lee");
    assert_eq!(p.published.to_rfc3339(), "2018-01-18T21:05:00-08:00");
    assert_eq!(names(&p.categories), vec![("Bay Area", "bay-area")]);
}

#[test]
fn bad_header_date_names_the_line() {
    assert_eq!(
        error("a.txt", b"Categories: x\nPosted on someday\n\nBody.\n"),
        format!("a.txt:2: `someday` is not a date; {}", date::ACCEPTED)
    );
}

#[test]
fn plain_text_first_short_line_is_the_title() {
    let p = post(
        "0042.txt",
        "Night owls\n\nFirst paragraph\nwrapped.\n\nSecond.\n",
    );
    assert_eq!(p.title, "Night owls");
    assert_eq!(
        p.content_html,
        "<p>First paragraph wrapped.</p>\n<p>Second.</p>\n"
    );
    assert_eq!(p.summary, "First paragraph wrapped.");
}

#[test]
fn plain_text_without_date_is_dated_by_modification_time_with_a_warning() {
    // The ledger then replaces the modification time with the first-seen time.
    let p = post(
        "notes/night-bus-pilot.txt",
        "Just one paragraph\nof text.\n",
    );
    assert_eq!(p.title, "Night bus pilot");
    assert_eq!(p.slug, "notes/night-bus-pilot");
    assert_eq!(p.published.to_rfc3339(), "2020-05-06T00:08:09-07:00");
    assert_eq!(p.id, "tag:example.com,2020-05-06:notes/night-bus-pilot");
    assert_eq!(p.content_html, "<p>Just one paragraph of text.</p>\n");
    assert_eq!(
        p.warnings,
        vec![Problem {
            path: "notes/night-bus-pilot.txt".into(),
            line: 1,
            message: "no date in the header, front matter or file name; dated by when the post was first seen: add a date".into()
        }]
    );
}

#[test]
fn markdown_without_front_matter_takes_its_heading_as_title() {
    let p = post("0042.md", "# Night *owls*\n\nSome **bold** text.\n");
    assert_eq!(p.title, "Night owls");
    assert_eq!(p.content_html, "<p>Some <strong>bold</strong> text.</p>\n");
    assert_eq!(p.summary, "Some bold text.");
}

#[test]
fn jekyll_name_gives_date_and_slug() {
    let p = post(
        "en/2013-02-06-ruby-2-0.md",
        "---\ntitle: Ruby 2.0\n---\nOut now.\n",
    );
    assert_eq!(p.slug, "en/ruby-2-0");
    assert_eq!(p.published.to_rfc3339(), "2013-02-06T00:00:00-08:00");
    assert_eq!(p.id, "tag:example.com,2013-02-06:en/ruby-2-0");
    assert_eq!(p.warnings, vec![]);
    let p = post("2019-03-03-night-bus.md", "Text.\n");
    assert_eq!(p.slug, "night-bus");
    assert_eq!(p.title, "Night bus");
}

#[test]
fn page_bundle_index_takes_its_folders_name() {
    let p = post(
        "launch/index.md",
        "---\ndate: 2019-03-03\n---\nWe launched.\n",
    );
    assert_eq!(p.slug, "launch");
    assert_eq!(p.title, "Launch");
    assert_eq!(p.url, "https://example.com/posts/launch/");
}

#[test]
fn yaml_front_matter_with_capitalized_keys() {
    let p = post(
        "x.md",
        "---\nTitle: \"Night owls\"\nDate: 2019-07-04 09:30\nLastmod: 2019-07-05T10:00:00Z\nAuthor: Dana Whitfield\n\
Categories: [São Paulo, Bay Area, bay area, \"!!!\"]\nTags: night, owls\nSummary: A  short\n  summary.\nSlug: owls/night\nlayout: post\n---\n\
First paragraph.\n",
    );
    assert_eq!(p.title, "Night owls");
    assert_eq!(p.published.to_rfc3339(), "2019-07-04T09:30:00-07:00");
    assert_eq!(p.updated.to_rfc3339(), "2019-07-05T10:00:00+00:00");
    assert_eq!(
        names(&p.authors),
        vec![("Dana Whitfield", "dana-whitfield")]
    );
    assert_eq!(
        names(&p.categories),
        vec![
            ("São Paulo", "sao-paulo"),
            ("Bay Area", "bay-area"),
            ("!!!", "category-bbe43c17")
        ]
    );
    assert_eq!(tag_names(&p), vec!["night", "owls"]);
    assert_eq!(p.summary, "A short summary.");
    assert_eq!(p.slug, "owls/night");
    assert_eq!(p.id, "tag:example.com,2019-07-04:owls/night");
    assert_eq!(p.warnings, vec![]);
}

#[test]
fn toml_front_matter_with_zola_taxonomies() {
    let p = post(
        "launch.md",
        "+++\ntitle = \"Launch\"\ndate = 2019-01-15T09:30:00\nauthors = [\"Lee\"]\nid = \"urn:uuid:1\"\n\
[taxonomies]\ncategories = [\"News\"]\ntags = [\"rust\"]\n+++\nBody.\n",
    );
    assert_eq!(p.published.to_rfc3339(), "2019-01-15T09:30:00-08:00");
    assert_eq!(p.authors[0].name, "Lee");
    assert_eq!(names(&p.categories), vec![("News", "news")]);
    assert_eq!(tag_names(&p), vec!["rust"]);
    assert_eq!(p.id, "urn:uuid:1");
}

#[test]
fn front_matter_id_that_is_not_a_uri_falls_back_to_the_tag_uri_with_a_warning() {
    let p = post(
        "night-bus.md",
        "---\ndate: 2019-03-03\nid: my custom id\n---\nx\n",
    );
    assert_eq!(p.id, "tag:example.com,2019-03-03:night-bus");
    assert_eq!(
        p.warnings,
        vec![Problem {
            path: "night-bus.md".into(),
            line: 3,
            message: "key `id`: `my custom id` is not a URI; use a tag: or https: URI, or remove it to use the default".into()
        }]
    );
    for (id, kept) in [
        ("urn:uuid:1", true),
        ("https://example.com/a", true),
        ("tag:example.com,2019:x", true),
        ("x-1.b+c:y", true),
        ("12345", false),
        ("1x:y", false),
        ("tag:", false),
        (":x", false),
        ("tag:a b", false),
        // Regression (hostile corpus): a script URL was kept as every feed's item id.
        ("javascript:alert(1)", false),
        ("JaVaScRiPt:alert(1)", false),
        ("vbscript:msgbox(1)", false),
        ("data:text/html,x", false),
    ] {
        assert_eq!(is_uri(id), kept, "{id}");
    }
}

#[test]
fn front_matter_titles_and_categories_lose_their_entities_and_tags() {
    let p = post(
        "q.md",
        "---\ntitle: \"Q&amp;A with <b>Ann</b> &#8217;24\"\ndate: 2019-03-03\n\
summary: \"<em>Short</em> &amp; sweet\"\ncategories: [\"R&amp;D\", \"<i>Bay</i> Area\"]\ntags: [\"Tom &amp; Jerry\"]\n---\nx\n",
    );
    assert_eq!(p.title, "Q&A with Ann \u{2019}24");
    assert_eq!(p.summary, "Short & sweet");
    assert_eq!(
        names(&p.categories),
        vec![("R&D", "r-d"), ("Bay Area", "bay-area")]
    );
    assert_eq!(tag_names(&p), vec!["Tom & Jerry"]);
}

/// Regression (hostile corpus): authors kept their tags, so `<script>` reached every
/// feed's `dc:creator` and `author` as text a reader takes for HTML.
#[test]
fn authors_lose_their_entities_and_tags() {
    let p = post(
        "q.md",
        "---\ntitle: Q\ndate: 2019-03-03\nauthor: \"<script>alert(1)</script>Ann &amp; Bo\"\n---\nx\n",
    );
    assert_eq!(names(&p.authors), vec![("Ann & Bo", "ann-bo")]);
    let p = post(
        "q.txt",
        "Posted by <img src=x onerror=alert(1)>Eve on March 3, 2019\n\nBody.\n",
    );
    assert_eq!(names(&p.authors), vec![("Eve", "eve")]);
}

#[test]
fn article_title_header_loses_its_entities_and_tags() {
    let p = post(
        "q.txt",
        "Title: Q&amp;A with <b>Ann</b> &#8217;24\nPosted on 2019-03-03\nCategories: R&amp;D\n\nBody &amp; more.\n",
    );
    assert_eq!(p.title, "Q&A with Ann \u{2019}24");
    assert_eq!(names(&p.categories), vec![("R&D", "r-d")]);
    // The body is text as written, not HTML.
    assert_eq!(p.content_html, "<p>Body &amp;amp; more.</p>\n");
}

#[test]
fn every_author_is_kept_in_order_without_repeats() {
    let p = post(
        "a.md",
        "---\ndate: 2019-03-03\nauthor: Ann Lee\nauthors: [Zed, Yan, ann lee, 東京]\n---\nx\n",
    );
    assert_eq!(
        names(&p.authors),
        vec![
            ("Ann Lee", "ann-lee"),
            ("Zed", "zed"),
            ("Yan", "yan"),
            ("東京", "author-2f3c04f1")
        ]
    );
    let p = post("b.md", "---\ndate: 2019-03-03\nauthors: []\n---\nx\n");
    assert_eq!(names(&p.authors), vec![("Newsroom", "newsroom")]);
}

#[test]
fn draft_is_marked() {
    let p = post("d.md", "---\ndraft: true\ndate: 2019-03-03\n---\nx\n");
    assert!(p.draft);
}

#[test]
fn updated_before_published_is_the_publication_date() {
    let p = post(
        "u.md",
        "---\ndate: 2020-05-02T10:00:00Z\nupdated: 2020-05-01T10:00:00Z\n---\nTypo.\n",
    );
    assert_eq!(p.updated.to_rfc3339(), "2020-05-02T10:00:00+00:00");
}

#[test]
fn future_post_keeps_its_date() {
    let p = post("f.md", "---\ndate: 2999-01-01T00:00:00Z\n---\nLater.\n");
    assert_eq!(p.published.to_rfc3339(), "2999-01-01T00:00:00+00:00");
    assert!(!p.draft);
}

#[test]
fn front_matter_slug_cannot_escape_the_posts_folder() {
    let p = post(
        "x.md",
        "---\nslug: ../../etc/passwd\ndate: 2019-03-03\n---\nx\n",
    );
    assert_eq!(p.slug, "etc/passwd");
    assert_eq!(p.url, "https://example.com/posts/etc/passwd/");
    let p = post(
        "night-bus.md",
        "---\nslug: \"/../..//\"\ndate: 2019-03-03\n---\nx\n",
    );
    assert_eq!(p.slug, "night-bus");
    let p = post("../../a/./東京.md", "---\ndate: 2019-03-03\n---\nx\n");
    assert_eq!(p.slug, "a/post-2f3c04f1");
}

#[test]
fn relative_urls_are_made_absolute_and_html_is_sanitized() {
    let p = post(
        "night-bus.md",
        "---\ndate: 2019-03-03\n---\n![pic](pic.png) [x](/x) <img src=\"pic.png\" onclick=\"x()\">\n\n\
<script>alert(1)</script>\n\n[bad](javascript:alert(1))\n",
    );
    assert_eq!(
        p.content_html,
        "<p><img src=\"https://example.com/posts/night-bus/pic.png\" alt=\"pic\"> \
<a href=\"https://example.com/x\" rel=\"noopener noreferrer\">x</a> \
<img src=\"https://example.com/posts/night-bus/pic.png\"></p>\n\n<p><a rel=\"noopener noreferrer\">bad</a></p>\n"
    );
}

#[test]
fn summary_leaves_out_what_the_sanitizer_removes() {
    let p = post(
        "s.md",
        "---\ndate: 2019-03-03\n---\n<style>p{color:red}</style>\n\nRiders <script>track()</script>cheered.\n",
    );
    assert_eq!(p.summary, "Riders cheered.");
    assert_eq!(p.title, "S");
    assert_eq!(p.content_html, "\n<p>Riders cheered.</p>\n");
}

#[test]
fn windows_1252_file_is_read_with_a_warning() {
    let p = parse(
        &source("q.txt", b"Posted on 2019-03-03\n\n\x93Quoted\x94 text.\n"),
        &site(),
    )
    .unwrap();
    assert_eq!(p.content_html, "<p>\u{201C}Quoted\u{201D} text.</p>\n");
    assert_eq!(
        p.warnings,
        vec![Problem {
            path: "q.txt".into(),
            line: 1,
            message: "not UTF-8; read as Windows-1252, save the file as UTF-8".into()
        }]
    );
}

#[test]
fn unreadable_utf16_is_removed_with_a_warning_naming_the_file() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "Posted on 2019-03-03\n\nCaf".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    // An unpaired high surrogate, then `é.`
    bytes.extend_from_slice(&[0x00, 0xD8, 0xE9, 0x00, b'.', 0x00]);
    let p = parse(&source("cafe.txt", &bytes), &site()).unwrap();
    assert_eq!(p.content_html, "<p>Café.</p>\n");
    assert_eq!(
        p.warnings,
        vec![Problem {
            path: "cafe.txt".into(),
            line: 1,
            message: "invalid characters removed; save the file as UTF-8".into()
        }]
    );
}

#[test]
fn utf16_and_bom_crlf_files_parse() {
    let text = "Posted on 2019-03-03\r\n\r\nHello\r\nthere.\r\n";
    let mut le = vec![0xFF, 0xFE];
    let mut be = vec![0xFE, 0xFF];
    for unit in text.encode_utf16() {
        le.extend_from_slice(&unit.to_le_bytes());
        be.extend_from_slice(&unit.to_be_bytes());
    }
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    for bytes in [le, be, bom] {
        let p = parse(&source("h.txt", &bytes), &site()).unwrap();
        assert_eq!(p.content_html, "<p>Hello there.</p>\n");
        assert_eq!(p.published.to_rfc3339(), "2019-03-03T00:00:00-08:00");
        assert_eq!(p.warnings, vec![]);
    }
}

#[test]
fn xml_forbidden_characters_are_removed_from_every_field() {
    let p = post(
        "x.md",
        "---\ntitle: \"A\\x01B\\uFFFE\"\nauthor: \"Da\\x02na\"\ncategories: [\"C\\x03D\"]\ndate: 2019-03-03\n---\nText&#1;\u{7}.\n",
    );
    assert_eq!(p.title, "AB");
    assert_eq!(p.authors[0].name, "Dana");
    assert_eq!(names(&p.categories), vec![("CD", "cd")]);
    assert!(
        p.content_html.chars().all(decode::xml_allowed),
        "{:?}",
        p.content_html
    );
    assert!(
        p.summary.chars().all(decode::xml_allowed),
        "{:?}",
        p.summary
    );
}

#[test]
fn unreadable_files_are_refused_with_the_reason() {
    assert_eq!(
        error("a.txt", b""),
        "a.txt:1: empty file; write the post or delete the file"
    );
    assert_eq!(
        error("a.txt", b"ab\x00cd"),
        "a.txt:1: binary file (NUL bytes), not a post"
    );
    assert_eq!(
        error("a.md", b"---\ntitle: x\n"),
        "a.md:1: front matter opened with `---` on line 1 is never closed; add a closing `---` line"
    );
    assert_eq!(
        error("a.md", b"---\ntitle: x\ndraft: 3\n---\n"),
        "a.md:3: key `draft`: expected true or false"
    );
}

#[test]
fn absurdly_deep_markup_is_refused_instead_of_stalling_the_sanitizer() {
    let text = format!("---\ndate: 2019-03-03\n---\n{}x\n", "> ".repeat(5_000));
    assert_eq!(
        error("deep.md", text.as_bytes()),
        "deep.md:1: markup nested over 1000 levels deep; flatten the lists, quotes or HTML"
    );
    let text = format!("---\ndate: 2019-03-03\n---\n{}x\n", "> ".repeat(50));
    assert!(post("deep.md", &text)
        .content_html
        .starts_with("<blockquote>\n<blockquote>"));
}

/// What `parse` makes of a file, in one line: the title, date and number of warnings of
/// the post, or the line and message of the problem. `2020-05-06` is the file's
/// modification time: the date of a post without one, which also earns a warning.
fn outcome(path: &str, bytes: &[u8]) -> String {
    match parse(&source(path, bytes), &site()) {
        Ok(p) => format!(
            "ok: {:?} on {}, {} warnings",
            p.title,
            p.published.date_naive(),
            p.warnings.len()
        ),
        Err(problem) => format!("error at line {}: {}", problem.line, problem.message),
    }
}

const EMPTY: &str = "error at line 1: empty file; write the post or delete the file";
const UNTITLED: &str = "ok: \"0042\" on 2020-05-06, 1 warnings";
const TOO_DEEP: &str =
    "error at line 1: markup nested over 1000 levels deep; flatten the lists, quotes or HTML";

/// Odd files, with what `0042.txt` and `0042.md` holding them become.
const ODD_FILES: &[(&[u8], &str, &str)] = &[
    (b"", EMPTY, EMPTY),
    (b"---", "ok: \"---\" on 2020-05-06, 1 warnings", UNTITLED),
    (
        b"---\n",
        "error at line 1: front matter opened with `---` on line 1 is never closed; add a closing `---` line",
        "error at line 1: front matter opened with `---` on line 1 is never closed; add a closing `---` line",
    ),
    (b"---\n---", UNTITLED, UNTITLED),
    (b"---\n---\n", UNTITLED, UNTITLED),
    (b"+++\n+++\n", UNTITLED, UNTITLED),
    (b"\xEF\xBB\xBF", EMPTY, EMPTY),
    (b"\xFF\xFE", EMPTY, EMPTY),
    (b"\xFE\xFF\x00", EMPTY, EMPTY),
    (b"\xFF\xFEa", EMPTY, EMPTY),
    (
        b"\x00",
        "error at line 1: binary file (NUL bytes), not a post",
        "error at line 1: binary file (NUL bytes), not a post",
    ),
    (b"\xFF\xFE\x00\xD8", EMPTY, EMPTY),
    // Not UTF-8: read as Windows-1252, with a second warning.
    (
        b"\xC3",
        "ok: \"\u{c3}\" on 2020-05-06, 2 warnings",
        "ok: \"\u{c3}\" on 2020-05-06, 2 warnings",
    ),
    (b"\r", EMPTY, EMPTY),
    (
        b"\r\r\rPosted on\r",
        "ok: \"Posted on\" on 2020-05-06, 1 warnings",
        "ok: \"Posted on\" on 2020-05-06, 1 warnings",
    ),
    (
        b"Posted by on\n\nx",
        "ok: \"Posted by on\" on 2020-05-06, 1 warnings",
        "ok: \"Posted by on\" on 2020-05-06, 1 warnings",
    ),
    (
        b"Posted by  on  \n\nx",
        "ok: \"Posted by on\" on 2020-05-06, 1 warnings",
        "ok: \"Posted by on\" on 2020-05-06, 1 warnings",
    ),
    (b"Title:\n\n", UNTITLED, UNTITLED),
    (
        b"Categories: ,,,\n\nx",
        "ok: \"x\" on 2020-05-06, 1 warnings",
        "ok: \"x\" on 2020-05-06, 1 warnings",
    ),
    (b"#\n", "ok: \"#\" on 2020-05-06, 1 warnings", UNTITLED),
    (
        b"# \xC3\xA9\n",
        "ok: \"# \u{e9}\" on 2020-05-06, 1 warnings",
        "ok: \"\u{e9}\" on 2020-05-06, 1 warnings",
    ),
    (
        b"---\ndate: 2019-03-03\xC3\xA9\n---\n",
        "error at line 2: key `date`: `2019-03-03\u{e9}` is not a date; use 2019-03-03, 2019-03-03 09:05, 2019-03-03T09:05:00-08:00, March 3, 2019 or 3 March 2019",
        "error at line 2: key `date`: `2019-03-03\u{e9}` is not a date; use 2019-03-03, 2019-03-03 09:05, 2019-03-03T09:05:00-08:00, March 3, 2019 or 3 March 2019",
    ),
    (
        b"---\ntitle: \xC3\xA9\ndate: \xC3\xA9\n---\n",
        "error at line 3: key `date`: `\u{e9}` is not a date; use 2019-03-03, 2019-03-03 09:05, 2019-03-03T09:05:00-08:00, March 3, 2019 or 3 March 2019",
        "error at line 3: key `date`: `\u{e9}` is not a date; use 2019-03-03, 2019-03-03 09:05, 2019-03-03T09:05:00-08:00, March 3, 2019 or 3 March 2019",
    ),
    (
        b"---\n: :\n---\n",
        "error at line 2: front matter is not valid YAML: did not find expected key, while parsing a block mapping",
        "error at line 2: front matter is not valid YAML: did not find expected key, while parsing a block mapping",
    ),
    (
        b"---\n*a\n---\n",
        "error at line 2: front matter is not valid YAML: unknown anchor",
        "error at line 2: front matter is not valid YAML: unknown anchor",
    ),
    (
        b"+++\n[taxonomies]\ncategories = 3\n+++\n",
        UNTITLED,
        UNTITLED,
    ),
    (b"\x01\x02\x03", EMPTY, EMPTY),
];

/// Files too long to write out, with what either `0042.txt` or `0042.md` holding them
/// becomes. A title made from a first sentence is cut to 100 characters.
fn long_odd_files() -> Vec<(String, String)> {
    let huge = "x".repeat(1_000_000);
    let titled = |title: String, date: &str, warnings: usize| {
        format!("ok: {title:?} on {date}, {warnings} warnings")
    };
    let cut = |head: String| format!("{}…", head.trim_end());
    vec![
        (huge.clone(), titled(cut("x".repeat(99)), "2020-05-06", 1)),
        (
            format!("Posted on 2019-03-03\n\n{huge}"),
            titled(cut("x".repeat(99)), "2019-03-03", 0),
        ),
        (
            format!("{}\n\nx", "é".repeat(500)),
            titled(cut("é".repeat(99)), "2020-05-06", 1),
        ),
        (
            format!("Posted on 2019-03-03\n\n{}", ".".repeat(200_000)),
            titled(cut(".".repeat(99)), "2019-03-03", 0),
        ),
        (
            format!("Posted on 2019-03-03\n\n{}", "a. ".repeat(100_000)),
            titled(cut("a. ".repeat(33)), "2019-03-03", 0),
        ),
        (
            format!("Posted on 2019-03-03\n\n{}", " ".repeat(200_000)),
            "ok: \"0042\" on 2019-03-03, 0 warnings".into(),
        ),
        (
            format!("---\ndate: 2019-03-03\n---\n{}x\n", "> ".repeat(50_000)),
            TOO_DEEP.into(),
        ),
        (
            format!("---\ndate: 2019-03-03\n---\n{}x\n", "<div>".repeat(50_000)),
            TOO_DEEP.into(),
        ),
        (
            format!("---\ndate: 2019-03-03\n---\n{}x\n", "- ".repeat(50_000)),
            TOO_DEEP.into(),
        ),
        (
            format!("---\nt: {}\n---\n", "[".repeat(50_000)),
            "error at line 2: front matter is nested over 128 levels deep; flatten it".into(),
        ),
        (
            format!("+++\nt = {}\n+++\n", "[".repeat(50_000)),
            "error at line 2: front matter is not valid TOML: recursion limit exceeded".into(),
        ),
    ]
}

/// Every odd file with its outcome as `0042.txt` and as `0042.md`.
fn odd_files() -> Vec<(Vec<u8>, String, String)> {
    let written = ODD_FILES
        .iter()
        .map(|(bytes, txt, md)| (bytes.to_vec(), txt.to_string(), md.to_string()));
    let long = long_odd_files()
        .into_iter()
        .map(|(text, outcome)| (text.into_bytes(), outcome.clone(), outcome));
    written.chain(long).collect()
}

#[test]
fn odd_bytes_give_a_post_or_the_reason() {
    for (bytes, txt, md) in odd_files() {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned();
        assert_eq!(outcome("0042.txt", &bytes), txt, "0042.txt: {shown:?}");
        assert_eq!(outcome("0042.md", &bytes), md, "0042.md: {shown:?}");
    }
}

#[test]
fn odd_paths_change_only_the_title_and_slug() {
    // Each odd path against a plain name of the same format: the outcome is the same but
    // for what the name gives.
    let twins = [
        ("", "0042.txt"),
        ("/", "0042.txt"),
        ("..", "0042.txt"),
        ("index.md", "0042.md"),
        (".md", "0042.md"),
    ];
    let small = odd_files()
        .into_iter()
        .filter(|(b, _, _)| b.len() <= 10_000);
    for (bytes, _, _) in small {
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        for (path, twin) in twins {
            let odd = parse(&source(path, &bytes), &site());
            let plain = parse(&source(twin, &bytes), &site());
            match (odd, plain) {
                (Ok(odd), Ok(plain)) => {
                    let messages = |p: &Post| -> Vec<String> {
                        p.warnings.iter().map(|w| w.message.clone()).collect()
                    };
                    assert_eq!(
                        (
                            odd.published,
                            &odd.summary,
                            &odd.content_html,
                            messages(&odd)
                        ),
                        (
                            plain.published,
                            &plain.summary,
                            &plain.content_html,
                            messages(&plain)
                        ),
                        "{path:?}: {shown:?}"
                    );
                }
                (Err(odd), Err(plain)) => assert_eq!(
                    (odd.line, odd.message),
                    (plain.line, plain.message),
                    "{path:?}: {shown:?}"
                ),
                (odd, plain) => panic!("{path:?}: {shown:?}: {odd:?} but {twin}: {plain:?}"),
            }
        }
    }
    let named = |path: &str| {
        let p = post(path, "Night owls\n\nBody.\n");
        (p.title, p.slug)
    };
    assert_eq!(named(""), ("Night owls".into(), "post-cbf29ce4".into()));
    assert_eq!(named("/"), ("Night owls".into(), "post-cbf29ce4".into()));
    assert_eq!(named(".."), ("Night owls".into(), "post-cbf29ce4".into()));
    assert_eq!(named("index.md"), ("Index".into(), "index".into()));
    assert_eq!(named(".md"), (".md".into(), "md".into()));
}

#[test]
fn a_bad_front_matter_date_falls_back_to_the_file_names_date_with_a_warning() {
    let p = post(
        "2023-01-29-trip.md",
        "---\ntitle: Trip\ndate: 2023-01-29 18:30:22 2023 -0800\n---\n\nWe went.\n",
    );
    assert_eq!(p.published.to_rfc3339(), "2023-01-29T00:00:00-08:00");
    assert_eq!(
        p.warnings,
        vec![Problem {
            path: "2023-01-29-trip.md".into(),
            line: 3,
            message: format!(
                "key `date`: `2023-01-29 18:30:22 2023 -0800` is not a date; {}; dated 2023-01-29 from the file name instead: fix or remove the date",
                date::ACCEPTED
            ),
        }]
    );
    assert_eq!(
        error(
            "trip.md",
            b"---\ntitle: Trip\ndate: someday\n---\n\nWe went.\n"
        ),
        format!(
            "trip.md:3: key `date`: `someday` is not a date; {}",
            date::ACCEPTED
        )
    );
}

#[test]
fn claims_carry_what_the_ledger_needs() {
    let p = post(
        "en/_posts/2017-05-03-survey.md",
        "---\ntitle: Survey\npermalink: /:year/:month/:day/survey.html\naliases: [/old/survey/, https://example.com/s.html]\nredirect_from: /2017/survey/\n---\n\nTake it.\n",
    );
    assert_eq!(p.slug, "en/survey");
    assert_eq!(p.url, "https://example.com/2017/05/03/survey.html");
    assert_eq!(
        p.claims,
        Claims {
            slug_explicit: false,
            slug_variants: vec!["en/2017-05-03-survey".into(), "en/survey-2017-05-03".into()],
            route: Some("/2017/05/03/survey.html".into()),
            aliases: vec![
                "/old/survey/".into(),
                "/s.html".into(),
                "/2017/survey/".into()
            ],
            id: None,
            undated: false,
            updated_given: false,
            fingerprint: p.claims.fingerprint.clone(),
        }
    );
    assert_eq!(p.claims.fingerprint.len(), 16);
    let undated = post("notes/x.txt", "Just text.\n");
    assert!(undated.claims.undated);
    let chosen = post("a.md", "---\nslug: Road Map\ndate: 2020-01-01\n---\n\nx\n");
    assert!(chosen.claims.slug_explicit);
    assert_eq!(chosen.slug, "road-map");
}

#[test]
fn names_beyond_the_limits_are_dropped_with_a_warning_naming_the_setting() {
    let categories: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
    let tags: Vec<String> = (0..40_000).map(|i| format!("t{i}")).collect();
    let text = format!(
        "---\ntitle: {}\ndate: 2020-01-01\nauthors: [A, B, C, D, E]\ncategories: [{}]\ntags: [{}]\n---\n\nBody.\n",
        "x".repeat(400),
        categories.join(", "),
        tags.join(", ")
    );
    let p = post("many.md", &text);
    let names = |named: &[Named]| named.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&p.categories), vec!["c0", "c1", "c2"]);
    assert_eq!(names(&p.authors), vec!["A", "B", "C", "D"]);
    assert_eq!(tag_names(&p), vec!["t0", "t1", "t2", "t3"]);
    assert_eq!(p.title.chars().count(), 300);
    let messages: Vec<&str> = p.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "key `categories`: 10000 names, only the first 3 are kept; list fewer or raise posts.max_categories",
            "key `authors`: 5 names, only the first 4 are kept; list fewer or raise posts.max_authors",
            "key `tags`: 40000 names, only the first 4 are kept; list fewer or raise posts.max_tags",
            "the title is over 300 characters; it is cut there: shorten it",
        ]
    );
}

/// A title, summary, category and tag nested 60,000 tags deep: the HTML tree builder
/// takes time quadratic in that depth (18 s for the title alone), the tokenizer that
/// strips them now reads each tag once.
#[test]
fn deeply_nested_tags_in_plain_text_fields_are_stripped_to_their_text() {
    let deep = |text: &str| format!("{}{text}{}", "<div>".repeat(60_000), "</div>".repeat(10));
    let text = format!(
        "---\ndate: 2020-01-01\ntitle: \"{}\"\nsummary: \"{}\"\ncategories: [\"{}\"]\ntags: [\"{}\"]\n---\n\nBody.\n",
        deep("Night bus"),
        deep("Riders &amp; drivers"),
        deep("<b>Transit</b>"),
        deep("<i>fares</i>"),
    );
    let p = post("deep.md", &text);
    assert_eq!(p.title, "Night bus");
    assert_eq!(p.summary, "Riders & drivers");
    assert_eq!(names(&p.categories), vec![("Transit", "transit")]);
    assert_eq!(tag_names(&p), vec!["fares"]);
    assert_eq!(p.warnings, Vec::new());
}

#[test]
fn long_names_are_cut_at_100_characters_with_a_warning_and_slugs_at_80_bytes() {
    let category = "Transit and roads ".repeat(17); // 306 characters
    let author = "Dana ".repeat(600); // 3,000 characters
    let text = format!(
        "---\ntitle: Long names\ndate: 2020-01-01\nauthor: \"{author}\"\ncategories: [\"{category}\", \"Short\"]\ntags: [\"{}\"]\n---\n\nBody.\n",
        "é".repeat(150)
    );
    let p = post("long.md", &text);
    let cut_category = "Transit and roads Transit and roads Transit and roads Transit and roads Transit and roads Transit…";
    assert_eq!(cut_category.chars().count(), 98);
    assert_eq!(
        names(&p.categories),
        vec![
            (
                cut_category,
                "transit-and-roads-transit-and-roads-transit-and-roads-transit-and-roads-b587fea9"
            ),
            ("Short", "short"),
        ]
    );
    assert_eq!(
        p.authors[0].name,
        format!("{}…", "Dana ".repeat(20).trim_end())
    );
    assert_eq!(
        p.authors[0].slug,
        "dana-dana-dana-dana-dana-dana-dana-dana-dana-dana-dana-dana-dana-dana-77430ee7"
    );
    assert_eq!(tag_names(&p), vec![format!("{}…", "é".repeat(99))]);
    let messages: Vec<&str> = p.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "key `categories`: a name is over 100 characters; it is cut there: shorten it",
            "key `author`: a name is over 100 characters; it is cut there: shorten it",
            "key `tags`: a name is over 100 characters; it is cut there: shorten it",
        ]
    );
}

#[test]
fn a_long_file_name_or_slug_gives_a_slug_cut_with_a_hash_of_the_whole() {
    let name = format!("{}.md", "night-bus-".repeat(25)); // a 253-byte file name
    let p = post(
        &format!("news/{name}"),
        "---\ndate: 2020-01-01\n---\n\nBody.\n",
    );
    assert_eq!(
        p.slug,
        "news/night-bus-night-bus-night-bus-night-bus-night-bus-night-bus-night-bus-e72e85dd"
    );
    assert_eq!(p.route, format!("/posts/{}/", p.slug));
    let text = format!(
        "---\ndate: 2020-01-01\nslug: \"{}\"\n---\n\nBody.\n",
        "a/".repeat(150)
    );
    let p = post("chosen.md", &text);
    assert_eq!(p.slug, format!("{}a-627000e9", "a/".repeat(95)));
    assert_eq!(p.slug.len(), 200);
}

#[test]
fn a_chosen_permalink_too_long_for_a_file_name_keeps_the_default_page() {
    let text = format!(
        "---\ndate: 2020-01-01\npermalink: /{}/\n---\n\nBody.\n",
        "x".repeat(300)
    );
    let p = post("long-link.md", &text);
    assert_eq!(p.route, "/posts/long-link/");
    assert_eq!(
        p.warnings[0].message,
        format!(
            "key `permalink`: `/{}…` is longer than 1000 bytes or has a part over 200; shorten it; the post keeps its default page",
            "x".repeat(78)
        )
    );
}

#[test]
fn a_message_quotes_at_most_80_characters_of_the_input() {
    let date = "7".repeat(1_000_000);
    assert_eq!(
        error("big.md", format!("---\ndate: {date}\n---\n").as_bytes()),
        format!(
            "big.md:2: key `date`: `{}…` is not a date; {}",
            "7".repeat(79),
            date::ACCEPTED
        )
    );
    let author = "a".repeat(1_000_000);
    assert_eq!(
        error(
            "big.txt",
            format!("Posted by {author} on {author}\n\nBody.\n").as_bytes()
        ),
        format!(
            "big.txt:1: `{}…` is not a date; {}",
            "a".repeat(79),
            date::ACCEPTED
        )
    );
}

/// 4 MiB of one-line paragraphs: escaped as they are, without the sanitizer's tree.
#[test]
fn plain_text_paragraphs_are_escaped_without_the_sanitizer() {
    let p = post(
        "lines.txt",
        "Posted on 2020-01-01\n\na < b & c\u{A0}d\n\n<script>x</script>\n",
    );
    assert_eq!(
        p.content_html,
        "<p>a &lt; b &amp; c&nbsp;d</p>\n<p>&lt;script&gt;x&lt;/script&gt;</p>\n"
    );
}

/// Every element costs the sanitizer's tree a few hundred bytes: 4 MiB of `*a` made
/// 2 million of them and 550 MB.
#[test]
fn markup_with_over_100000_elements_is_refused() {
    let text = |words: usize| format!("---\ndate: 2020-01-01\n---\n\n{}\n", "*a* ".repeat(words));
    assert_eq!(
        error("many.md", text(100_000).as_bytes()),
        "many.md:1: markup with over 100000 elements (emphasis, links, list items, table cells, tags); split the post"
    );
    let p = post("fewer.md", &text(99_998));
    assert_eq!(p.content_html.matches("<em>").count(), 99_998);
    // Raw HTML counts too.
    assert_eq!(
        error("tags.md", format!("{}\n", "<b>b</b>".repeat(100_001)).as_bytes()),
        "tags.md:1: markup with over 100000 elements (emphasis, links, list items, table cells, tags); split the post"
    );
}

#[test]
fn aliases_beyond_100_are_dropped_with_a_warning() {
    let aliases: Vec<String> = (0..400_000).map(|i| format!("/old/{i}/")).collect();
    let text = format!(
        "---\ntitle: Moved\ndate: 2020-01-01\naliases: [{}]\n---\n\nBody.\n",
        aliases.join(", ")
    );
    let p = post("moved.md", &text);
    assert_eq!(p.claims.aliases.len(), 100);
    assert_eq!(p.claims.aliases[99], "/old/99/");
    assert_eq!(
        p.warnings[0].message,
        "key `aliases`: 400000 former URLs, only the first 100 are kept; list fewer"
    );
}

/// Found by `tests/properties.rs`: a value quoted in a problem kept its line break, so
/// one problem printed as two lines of `check`, and a file could forge another.
#[test]
fn a_value_with_a_line_break_is_quoted_on_one_line() {
    assert_eq!(
        error("a.md", b"+++\ndate = \"\\n]]>\"\n+++\nbody\n"),
        format!(
            "a.md:2: key `date`: `\\n]]>` is not a date; {}",
            date::ACCEPTED
        )
    );
    let p = post(
        "a.md",
        "---\ndate: 2019-03-03\nid: \"x\\r\\nb.md:1:\\u2028forged\"\n---\nbody\n",
    );
    assert_eq!(
        p.warnings[0].to_string(),
        "a.md:3: key `id`: `x\\r\\nb.md:1:\\u{2028}forged` is not a URI; use a tag: or \
         https: URI, or remove it to use the default"
    );
}

/// Found by `tests/properties.rs`: a character reference the parser must remove (`&#0;`
/// is U+FFFD, `&#x80;` a C1 control) at the start of the first paragraph or a heading
/// left the summary or title starting with a space.
#[test]
fn a_removed_character_leaves_no_space_at_the_edge_of_a_title_or_summary() {
    let p = post("a.md", "---\ntitle: A\n---\n&#0;\nnight &#x80; bus\n");
    assert_eq!(p.summary, "night bus");
    assert_eq!(
        post("a.md", "# &#x80; Night bus\n\nbody\n").title,
        "Night bus"
    );
}

/// Found by `tests/properties.rs`: a title taken from a file name as it is kept its
/// spaces, which the same title written in front matter loses.
#[test]
fn a_title_from_a_file_name_as_it_is_has_its_spaces_collapsed() {
    let p = post(" f(1)  x.md", "---\ndate: 2019-03-03\n---\n");
    assert_eq!(p.title, "f(1) x");
}

#[test]
fn a_file_beside_the_post_follows_its_page_and_a_url_stays_as_written() {
    let p = post(
        "launch/index.md",
        "---\ntitle: Launch\ndate: 2020-05-01\nimage: ./img/photo.JPG\nenclosure: {url: \"https://cdn.example.org/ep1.mp3\", length: 99}\n---\nBody.\n",
    );
    assert_eq!(
        p.image,
        Some(Attachment {
            location: Location::Beside("img/photo.JPG".into()),
            length: 0,
            media_type: "image/jpeg".into(),
        })
    );
    assert_eq!(
        p.image.as_ref().map(|i| i.url(&p.url)).as_deref(),
        Some("https://example.com/posts/launch/img/photo.JPG")
    );
    assert_eq!(
        p.image
            .as_ref()
            .map(|i| i.url("https://example.com/2019/03/launch.html"))
            .as_deref(),
        Some("https://example.com/2019/03/img/photo.JPG")
    );
    assert_eq!(
        p.enclosure,
        Some(Attachment {
            location: Location::Url("https://cdn.example.org/ep1.mp3".into()),
            length: 99,
            media_type: "audio/mpeg".into(),
        })
    );
    assert!(p.enclosure.as_ref().is_some_and(Attachment::is_episode));
    assert_eq!(p.warnings, vec![]);
    // A path on the site is a URL on the site.
    let p = post("a.md", "---\naudio: /media/ep1.mp3\n---\nBody.\n");
    assert_eq!(
        p.enclosure.map(|e| e.location),
        Some(Location::Url("https://example.com/media/ep1.mp3".into()))
    );
}

#[test]
fn an_attachment_that_cannot_be_served_is_left_out_with_a_warning() {
    for (value, why) in [
        ("../secret.jpg", "is not a file that can be served beside the post (a picture, audio, video or PDF in the post's folder, not hidden)"),
        (".hidden.jpg", "is not a file that can be served beside the post (a picture, audio, video or PDF in the post's folder, not hidden)"),
        ("notes.html", "is not a file that can be served beside the post (a picture, audio, video or PDF in the post's folder, not hidden)"),
        ("javascript:alert(1)", "is not an http or https URL"),
        ("https://cdn.example.org/stream", "has no media type dropfeed knows; add one, as in {url: …, type: \"audio/mpeg\"}"),
    ] {
        let p = post("a.md", &format!("---\ndate: 2020-05-01\nimage: \"{value}\"\n---\nBody.\n"));
        assert_eq!(p.image, None, "{value}");
        assert_eq!(
            p.warnings.iter().map(|w| (w.line, w.message.as_str())).collect::<Vec<_>>(),
            vec![(3, format!("key `image`: `{value}` {why}; the post is published without it").as_str())],
            "{value}"
        );
    }
}

/// Review: `C#` and `c++` both make the tag `c`; one was dropped without a word.
#[test]
fn names_that_make_one_address_keep_the_first_with_a_warning_unless_one_name() {
    let p = post(
        "t.md",
        "---\ntitle: T\ndate: 2019-03-03\ncategories: [Bay Area, bay-area]\ntags: [\"C#\", \"c++\", Rust]\n---\nx\n",
    );
    assert_eq!(tag_names(&p), vec!["C#", "Rust"]);
    assert_eq!(names(&p.categories), vec![("Bay Area", "bay-area")]);
    let warnings: Vec<&str> = p.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        warnings,
        vec!["key `tags`: `c++` and `C#` make the same address `c`; only `C#` is kept; rename one"]
    );
}
