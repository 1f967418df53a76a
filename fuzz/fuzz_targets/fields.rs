//! Front matter values → post: each input line is the value of one key (`date`,
//! `updated`, `title`, `author`, `categories`, `tags`, `summary`, `slug`, `id`,
//! `permalink`), quoted so the YAML always parses, so the fuzzer works on what the
//! values mean (dates at the ends of the calendar, names, ids) rather than on syntax.
//! The checks are the `post` target's.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = dropfeed_fuzz::source(&dropfeed_fuzz::fields_file(data));
    match dropfeed::post::parse(&source, &dropfeed::testing::site()) {
        Ok(post) => {
            dropfeed_fuzz::check_post(&source, &post);
            dropfeed_fuzz::check_feeds(&post);
        }
        Err(problem) => dropfeed_fuzz::check_problem(&source, &problem),
    }
});
