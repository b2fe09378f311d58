//! The App reader (`app::podproof::read`) on every document of the input,
//! whatever its kind, so typed deserialization and the semantic checks see
//! more than what passes the header check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podproof::{app, source};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir();
    let Ok(src) = source::from_bytes("app.yaml", None, dir.clone(), dir, data.to_vec()) else { return };
    let Ok(docs) = app::docs::documents(&src) else { return };
    for doc in &docs {
        let mut diags = Vec::new();
        let app = app::podproof::read(&src, doc, &mut diags);
        assert_eq!(
            app.is_none(),
            diags.iter().any(|d| d.is_error()),
            "an app must come without errors, and errors without an app: {diags:?}"
        );
    }
});
