//! The span-aware YAML/JSON loader on any text: it must return documents or
//! a located error, never panic or overflow the stack, and every position it
//! reports must lie inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.split(['\n', '\r']).count() + 1;
    match podproof::yaml::parse_stream(text) {
        Ok(docs) => {
            for d in &docs {
                let p = d.pos("");
                assert!(p.line <= lines, "document start {p:?} past the end ({lines} lines)");
            }
        }
        Err(e) => assert!(
            e.pos.line >= 1 && e.pos.line <= lines,
            "error at {:?} past the end ({lines} lines): {}",
            e.pos,
            e.message
        ),
    }
});
