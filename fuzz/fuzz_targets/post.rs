//! Bytes → post: the whole parse of one file (decoding, format detection, front
//! matter, dates, Markdown, sanitizing, normalization) on the example site, then its
//! feeds rendered and read back. A panic anywhere, a post breaking a promise the
//! renderers rely on, or a feed that is not well-formed is a crash.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = dropfeed_fuzz::source(data);
    match dropfeed::post::parse(&source, &dropfeed::testing::site()) {
        Ok(post) => {
            dropfeed_fuzz::check_post(&source, &post);
            dropfeed_fuzz::check_feeds(&post);
        }
        Err(problem) => dropfeed_fuzz::check_problem(&source, &problem),
    }
});
