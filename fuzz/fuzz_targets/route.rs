//! Request → response: a fuzzed method, path and headers (conditional GET, encodings,
//! ranges, anything) answered from a small fixed snapshot, as the server does for every
//! request. A panic, an unknown status, a wrong length or a redirect to nowhere is a
//! crash.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(request) = dropfeed_fuzz::request(data) {
        dropfeed_fuzz::check_response(&request);
    }
});
