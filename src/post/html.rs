//! Post bodies → HTML that is safe to show anywhere: Markdown rendered, article
//! paragraphs escaped, then everything sanitized with relative URLs made absolute, since
//! feed readers show content away from the site.

use std::cell::{Cell, RefCell};

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH
}

/// Paragraphs of plain text, one per line → `<p>` elements, text escaped: safe as it is, and byte for
/// byte what the sanitizer would make of it (it writes a no-break space as `&nbsp;`).
pub fn paragraphs(paragraphs: &str) -> String {
    let mut html = String::with_capacity(paragraphs.len() * 2);
    for paragraph in paragraphs.lines() {
        html.push_str("<p>");
        for c in paragraph.chars() {
            match c {
                '&' => html.push_str("&amp;"),
                '<' => html.push_str("&lt;"),
                '>' => html.push_str("&gt;"),
                '\u{A0}' => html.push_str("&nbsp;"),
                c => html.push(c),
            }
        }
        html.push_str("</p>\n");
    }
    html
}

/// CommonMark with tables, footnotes and strikethrough → HTML (not yet sanitized), or
/// why it is refused: nested over [`MAX_DEPTH`] levels or with over [`MAX_ELEMENTS`]
/// elements, raw HTML included. Rendering stops as soon as Markdown goes past either,
/// before the HTML of a hostile file is written out whole.
pub fn markdown(text: &str) -> Result<String, String> {
    let mut html = String::new();
    let (mut depth, mut elements) = (0usize, 0usize);
    let events = Parser::new_ext(text, markdown_options()).take_while(|event| {
        match event {
            Event::Start(_) => {
                depth += 1;
                elements += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth <= MAX_DEPTH && elements <= MAX_ELEMENTS
    });
    pulldown_cmark::html::push_html(&mut html, events);
    let (deepest, all) = shape(&html);
    check_shape(depth.max(deepest), elements.max(all))?;
    Ok(html)
}

/// More elements than this are refused: the sanitizer holds a tree of the whole body,
/// a few hundred bytes an element (4 MiB of `*a` made 2 million of them and 550 MB),
/// and no real post has this many.
pub const MAX_ELEMENTS: usize = 100_000;

fn check_shape(depth: usize, elements: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "markup nested over {MAX_DEPTH} levels deep; flatten the lists, quotes or HTML"
        ));
    }
    if elements > MAX_ELEMENTS {
        return Err(format!(
            "markup with over {MAX_ELEMENTS} elements (emphasis, links, list items, table cells, tags); split the post"
        ));
    }
    Ok(())
}

/// A leading `# Heading` of a Markdown body, and the body without it.
pub fn leading_heading(text: &str) -> Option<(String, &str)> {
    let mut heading = String::new();
    let mut inside = false;
    for (event, range) in Parser::new_ext(text, markdown_options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading {
                level: pulldown_cmark::HeadingLevel::H1,
                ..
            }) => inside = true,
            Event::End(TagEnd::Heading(_)) if inside => {
                let heading = super::text::collapse(&heading);
                let rest = text.get(range.end..).unwrap_or_default();
                return (!heading.is_empty()).then_some((heading, rest));
            }
            Event::Text(t) | Event::Code(t) if inside => heading.push_str(&t),
            Event::SoftBreak | Event::HardBreak if inside => heading.push(' '),
            _ if inside => {}
            _ => return None,
        }
    }
    None
}

/// The first paragraph of a Markdown body as plain text: no tags, entities decoded,
/// whitespace collapsed, and none of the text inside raw `<script>` or `<style>`, which
/// the sanitizer removes from the content. Empty when there is none.
pub fn first_paragraph(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut footnote = 0usize;
    let mut hidden = false;
    for event in Parser::new_ext(text, markdown_options()) {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => hidden = hidden_after(&html, hidden),
            Event::Text(_) | Event::Code(_) if hidden => {}
            Event::Start(Tag::FootnoteDefinition(_)) => footnote += 1,
            Event::End(TagEnd::FootnoteDefinition) => footnote = footnote.saturating_sub(1),
            Event::Start(Tag::Paragraph) if footnote == 0 => depth += 1,
            Event::End(TagEnd::Paragraph) if depth > 0 => {
                let paragraph = super::text::collapse(&out);
                if !paragraph.is_empty() {
                    return paragraph;
                }
                depth = 0;
                out.clear();
            }
            Event::Text(t) | Event::Code(t) if depth > 0 => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak if depth > 0 => out.push(' '),
            _ => {}
        }
    }
    String::new()
}

/// Whether text after this piece of raw HTML is inside a `script` or `style` element,
/// given whether the text before it was.
fn hidden_after(html: &str, mut hidden: bool) -> bool {
    let lower = html.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find('<') {
        rest = rest.get(at + 1..).unwrap_or_default();
        let (closing, name) = match rest.strip_prefix('/') {
            Some(name) => (true, name),
            None => (false, rest),
        };
        let element = ["script", "style"].into_iter().any(|tag| {
            name.strip_prefix(tag)
                .is_some_and(|after| !after.starts_with(|c: char| c.is_ascii_alphanumeric()))
        });
        if element {
            hidden = !closing;
        }
    }
    hidden
}

/// Deeper markup is refused: the HTML parser under the sanitizer takes time quadratic
/// in the depth, and no real post nests a thousand levels.
pub const MAX_DEPTH: usize = 1000;

/// The deepest element nesting of `html`.
#[cfg(test)]
fn depth(html: &str) -> usize {
    shape(html).0
}

/// The deepest element nesting of `html` and its number of elements, counted from its
/// tags without parsing it. Good enough as a guard: void elements do not count, and an
/// unclosed `<p>` counts as open, which only errs high.
fn shape(html: &str) -> (usize, usize) {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];
    let mut depth = 0usize;
    let mut deepest = 0;
    let mut elements = 0;
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = rest.get(at + 1..).unwrap_or_default();
        let closing = rest.starts_with('/');
        let name_start = usize::from(closing);
        let name: String = rest
            .get(name_start..)
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else if !VOID.contains(&name.as_str()) {
            let self_closing = rest
                .find('>')
                .and_then(|end| rest.get(..end))
                .is_some_and(|tag| tag.ends_with('/'));
            elements += 1;
            if !self_closing {
                depth += 1;
                deepest = deepest.max(depth);
            }
        }
    }
    (deepest, elements)
}

thread_local! {
    /// Built once per thread: `Builder` is not `Clone` and its relative-URL base changes
    /// with every post, so it cannot be one shared immutable value.
    static SANITIZER: RefCell<Builder<'static>> = RefCell::new(sanitizer());
}

fn sanitizer() -> Builder<'static> {
    let mut builder = Builder::default();
    // Footnote markup from pulldown-cmark, and code languages for highlighters.
    builder.add_tag_attributes("sup", ["class", "id"]);
    builder.add_tag_attributes("div", ["class", "id"]);
    builder.add_tag_attributes("li", ["id"]);
    builder.add_tag_attributes("code", ["class"]);
    builder.add_tag_attributes("span", ["class"]);
    builder.add_tag_attributes("td", ["style"]);
    builder.add_tag_attributes("th", ["style"]);
    // Table alignment is written as `style="text-align: …"`; no other style may pass.
    builder.attribute_filter(|element, attribute, value| {
        if attribute == "style" && matches!(element, "td" | "th") {
            let alignment = matches!(
                value,
                "text-align: left" | "text-align: center" | "text-align: right"
            );
            return alignment.then(|| value.into());
        }
        Some(value.into())
    });
    builder
}

/// A field meant as plain text that arrived with markup in it (WordPress exports write
/// `Q&amp;A` and `<b>` into titles and category names) → the text a reader should see:
/// entities decoded once, tags stripped, and nothing of what is inside `script` or
/// `style`. Feed readers and validators take such text for HTML, so it must not reach a
/// feed as it is.
///
/// Only html5ever's tokenizer runs, not its tree builder: the text is all that is kept,
/// and the tree builder takes time quadratic in the nesting depth (a title of 60,000
/// `<div>` took 18 s). The tokenizer is linear.
pub fn plain_text(text: &str) -> String {
    use html5ever::tendril::StrTendril;
    use html5ever::tokenizer::{BufferQueue, Tokenizer};
    if !text.contains(['&', '<']) {
        return text.to_string();
    }
    // html5ever drops a leading U+FEFF as a byte order mark: kept, so that a name read
    // again reads the same.
    let body = text.trim_start_matches('\u{FEFF}');
    let sink = TextOnly::default();
    sink.text
        .borrow_mut()
        .push_str(text.get(..text.len() - body.len()).unwrap_or_default());
    let tokenizer = Tokenizer::new(sink, Default::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(body));
    // Ends `Done`: only a sink that asks to run a script stops it early.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.text.into_inner()
}

/// The character data of a token stream, with the elements whose content the HTML tree
/// builder reads as raw text switched to it as the tree builder would, so `<title>`,
/// `<textarea>` and the like keep their text as written.
#[derive(Default)]
struct TextOnly {
    text: RefCell<String>,
    /// Inside `script` or `style`, whose text the sanitizer drops too.
    hidden: Cell<bool>,
    /// How many `template` elements are open: their content is not part of the text.
    templates: Cell<usize>,
    /// Right after `<pre>`, `<listing>` or `<textarea>`, whose first newline is not text.
    after_pre: Cell<bool>,
}

impl html5ever::tokenizer::TokenSink for TextOnly {
    type Handle = ();

    fn process_token(
        &self,
        token: html5ever::tokenizer::Token,
        _line: u64,
    ) -> html5ever::tokenizer::TokenSinkResult<()> {
        use html5ever::tokenizer::states::RawKind;
        use html5ever::tokenizer::{TagKind, Token, TokenSinkResult};
        let after_pre = self.after_pre.replace(false);
        match token {
            Token::CharacterTokens(text) if !self.hidden.get() && self.templates.get() == 0 => {
                let text = if after_pre {
                    text.strip_prefix('\n').unwrap_or(&text)
                } else {
                    &text
                };
                self.text.borrow_mut().push_str(text);
            }
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                if tag.kind == TagKind::EndTag {
                    match name {
                        "script" | "style" => self.hidden.set(false),
                        "template" => self.templates.set(self.templates.get().saturating_sub(1)),
                        _ => {}
                    }
                    return TokenSinkResult::Continue;
                }
                match name {
                    "template" => self.templates.set(self.templates.get() + 1),
                    "pre" | "listing" => self.after_pre.set(true),
                    "script" => {
                        self.hidden.set(true);
                        return TokenSinkResult::RawData(RawKind::ScriptData);
                    }
                    "style" => {
                        self.hidden.set(true);
                        return TokenSinkResult::RawData(RawKind::Rawtext);
                    }
                    "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => {
                        return TokenSinkResult::RawData(RawKind::Rawtext);
                    }
                    "textarea" => {
                        self.after_pre.set(true);
                        return TokenSinkResult::RawData(RawKind::Rcdata);
                    }
                    "title" => return TokenSinkResult::RawData(RawKind::Rcdata),
                    "plaintext" => return TokenSinkResult::Plaintext,
                    _ => {}
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Sanitizes HTML (no scripts, no `on*` attributes, no `javascript:` URLs) and makes
/// relative URLs absolute against `base`, the post's URL.
pub fn sanitize(html: &str, base: &str) -> String {
    SANITIZER.with(|cell| {
        let mut builder = cell.borrow_mut();
        match url::Url::parse(base) {
            Ok(base) => builder.url_relative(UrlRelative::RewriteWithBase(base)),
            // Unreachable with a validated base_url; dropping relative URLs beats leaving
            // them to resolve against a reader's own pages.
            Err(_) => builder.url_relative(UrlRelative::Deny),
        };
        builder.clean(html).to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://example.com/posts/night-bus/";

    #[test]
    fn plain_text_decodes_entities_and_strips_tags() {
        assert_eq!(
            plain_text("Q&amp;A with <b>Ann</b> &#8217;24"),
            "Q&A with Ann \u{2019}24"
        );
        assert_eq!(plain_text("Tom &amp;amp; Jerry"), "Tom &amp; Jerry");
        assert_eq!(
            plain_text("a &lt;b&gt; &quot;c&quot;&nbsp;d"),
            "a <b> \"c\"\u{A0}d"
        );
        assert_eq!(plain_text("1 < 2 & 3 > 2"), "1 < 2 & 3 > 2");
        assert_eq!(plain_text("Hi<script>alert(1)</script>!"), "Hi!");
        assert_eq!(plain_text("Caf\u{e9} 7\u{2013}2"), "Caf\u{e9} 7\u{2013}2");
        // Found by `tests/properties.rs`: html5ever dropped the first U+FEFF, so the
        // name read again lost another and its `category-{hash}` slug moved.
        assert_eq!(plain_text("\u{FEFF}\u{FEFF}&amp;"), "\u{FEFF}\u{FEFF}&");
    }

    #[test]
    fn relative_urls_become_absolute_against_the_post() {
        assert_eq!(
            sanitize(r#"<img src="pic.png"><a href="/x">x</a>"#, BASE),
            r#"<img src="https://example.com/posts/night-bus/pic.png"><a href="https://example.com/x" rel="noopener noreferrer">x</a>"#
        );
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_are_removed() {
        assert_eq!(
            sanitize(
                r#"<p onclick="steal()">Hi<script>alert(1)</script> <a href="javascript:alert(1)">x</a></p>"#,
                BASE
            ),
            r#"<p>Hi <a rel="noopener noreferrer">x</a></p>"#
        );
    }

    #[test]
    fn tables_footnotes_and_strikethrough_survive() {
        let html = sanitize(
            &markdown("| a | b |\n|:-|-:|\n| 1 | 2 |\n\nNote[^1] ~~old~~\n\n[^1]: The note.\n")
                .unwrap(),
            BASE,
        );
        assert!(html.contains("<table>"), "{html}");
        assert!(
            html.contains(r#"<td style="text-align: left">1</td>"#),
            "{html}"
        );
        assert!(html.contains("<del>old</del>"), "{html}");
        assert!(html.contains(r#"<sup class="footnote-reference"><a href="https://example.com/posts/night-bus/#1""#), "{html}");
        assert!(
            html.contains(r#"<div class="footnote-definition" id="1">"#),
            "{html}"
        );
    }

    #[test]
    fn hostile_style_is_dropped() {
        assert_eq!(
            sanitize(
                r#"<table><tr><td style="background:url(x)">1</td></tr></table>"#,
                BASE
            ),
            "<table><tbody><tr><td>1</td></tr></tbody></table>"
        );
    }

    #[test]
    fn depth_counts_open_elements() {
        assert_eq!(
            depth("<p>a<br><img src=x/> <b>b</b></p><div><div></div></div>"),
            2
        );
        assert_eq!(depth("a &lt; b < c"), 0);
        assert_eq!(depth(&"<div>".repeat(3000)), 3000);
    }

    #[test]
    fn paragraphs_are_escaped() {
        assert_eq!(
            paragraphs("a < b & \"c\"\ntwo\n"),
            "<p>a &lt; b &amp; \"c\"</p>\n<p>two</p>\n"
        );
    }

    #[test]
    fn escaped_paragraphs_are_what_the_sanitizer_would_give() {
        let html = paragraphs(
            "a < b && c > d \"q\" 'x' \u{A0}nbsp &amp; é\n<script>alert(1)</script> x\n",
        );
        assert_eq!(sanitize(&html, BASE), html);
    }

    #[test]
    fn first_paragraph_is_plain_text() {
        assert_eq!(
            first_paragraph("# Head\n\nSome *bold* &amp; `code`\nwrapped.\n\nSecond.\n"),
            "Some bold & code wrapped."
        );
        assert_eq!(first_paragraph("# Only a heading\n"), "");
    }

    #[test]
    fn first_paragraph_skips_script_and_style_text() {
        assert_eq!(
            first_paragraph(
                "Hi <script>alert(1)</script>there <STYLE type=\"text/css\">p{}</STYLE>now \
<scripts>kept</scripts>.\n\nSecond.\n"
            ),
            "Hi there now kept."
        );
        assert_eq!(
            first_paragraph("<style>p{}</style>\n\n<script>\nx()\n</script>\n\nReal text.\n"),
            "Real text."
        );
    }

    #[test]
    fn leading_heading_is_split_off() {
        assert_eq!(
            leading_heading("# Night *bus*\n\nBody.\n"),
            Some(("Night bus".to_string(), "\nBody.\n"))
        );
        assert_eq!(leading_heading("Body first\n\n# Later\n"), None);
        assert_eq!(leading_heading("## Second level\n"), None);
    }
}
