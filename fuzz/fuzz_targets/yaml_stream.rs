//! The span-aware YAML/JSON loader on any text: it must return documents or
//! a located error, never panic or overflow the stack, and every position it
//! reports must lie inside the text. Lint's reading (CRD schemas left out)
//! accepts exactly what the full one accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.split(['\n', '\r']).count() + 1;
    // Lint's reading leaves CRD schemas out; it must refuse what the full one does.
    let full = podproof::yaml::parse_stream(text);
    assert_eq!(full.is_ok(), podproof::yaml::parse_stream_lint(text).is_ok(), "lint's reading disagrees");
    match full {
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
