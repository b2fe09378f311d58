//! Everything `podproof render FILE` does before rendering, on any bytes:
//! UTF-8 and control-character checks, documents, kinds, and the App,
//! manifest and KubeDirector readers. Errors must be located diagnostics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let loaded = podproof::app::load::load_bytes("fuzz.yaml", data.to_vec());
    for d in &loaded.diagnostics {
        assert!(!d.message.is_empty(), "a diagnostic without a message: {d:?}");
    }
    if !loaded.has_errors() {
        assert!(!loaded.apps.is_empty(), "no error and no app");
    }
});
