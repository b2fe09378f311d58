//! The `podproof.dev/reload` annotation contract: whatever parses must print
//! back to a value that parses to the same policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podproof::reload;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(action) = reload::parse(text) {
        assert_eq!(reload::parse(&action.to_string()), Ok(action));
    }
    let _ = reload::parse_signal(text);
});
