//! Reading the HTML pages the tests fetch: an attribute of a tag, the autodiscovery
//! links. Plain string search, enough for the pages dropfeed writes and for the DOM
//! Chromium dumps (no HTML parser among the dependencies).

#![allow(dead_code)]

/// The value of `attr` in the first tag that holds `marker`.
pub fn attr_after<'a>(html: &'a str, marker: &str, attr: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in\n{html}"));
    // The tag around the marker: from the `<` before it (or at it) to the `>` after.
    let tag_start = html[..=at].rfind('<').unwrap();
    let tag = &html[tag_start..];
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    let key = format!("{attr}=\"");
    let from = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {attr} in {tag}"))
        + key.len();
    &tag[from..from + tag[from..].find('"').unwrap()]
}

/// Every `<link rel="alternate">` of a rendered DOM: (title, type, href).
pub fn alternates(dom: &str) -> Vec<(String, String, String)> {
    dom.split("<link rel=\"alternate\"")
        .skip(1)
        .map(|rest| {
            let tag = format!(
                "<link rel=\"alternate\"{}",
                &rest[..rest.find('>').unwrap()]
            );
            let get = |a| attr_after(&tag, "<link", a).replace("&amp;", "&");
            (get("title"), get("type"), get("href"))
        })
        .collect()
}
