//! The static API keys file (`<key-id>:<sha256-hex>[:<group>,...]` per line): any text loads or
//! is refused with a message naming the line, never a panic; a loaded set answers lookups of any
//! presented credential, and a credential is never found unless its hash is in the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtp_auth::static_keys::{KeySet, hash_key};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match KeySet::parse(text, "fuzz") {
        Ok(set) => {
            for presented in text.lines().chain(["", "mtp_x"]) {
                if set.lookup(presented).is_some() {
                    assert!(
                        text.contains(&hash_key(presented)),
                        "a credential whose hash is not in the file was accepted"
                    );
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("fuzz"), "the error does not name the file: {message}");
        }
    }
});
