//! Durations as flags (`--timeout`, `--grace`) and Test fields take them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(d) = podproof::wait::parse_duration(text) {
        // A deadline this far away must still be representable.
        let _ = std::time::Instant::now() + d;
    }
});
