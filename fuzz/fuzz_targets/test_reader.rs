//! The Test reader (`scenario::read`) on every document of the input: steps,
//! matchers, regexes, durations and snapshot names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podproof::{app, scenario, source};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir();
    let Ok(src) = source::from_bytes("test.yaml", None, dir.clone(), dir, data.to_vec()) else { return };
    let Ok(docs) = app::docs::documents(&src) else { return };
    for doc in &docs {
        let mut diags = Vec::new();
        if let Some(t) = scenario::read(&src, doc, &mut diags) {
            assert!(!t.steps.is_empty(), "a test without steps was accepted");
        }
    }
});
