//! The tier catalogue (YAML overrides of the built-in tiers): any text is applied or refused
//! with an error naming its origin, never a panic, and whatever loads is a catalogue whose every
//! tier validates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtp_core::Tier;
use mtp_core::tier::TierCatalogue;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match TierCatalogue::from_yaml_str(text, "fuzz.yaml") {
        Ok(catalogue) => {
            for tier in Tier::ALL {
                if let Err(e) = catalogue.get(tier).validate(tier) {
                    panic!("a loaded catalogue has an invalid tier {tier}: {e}");
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("fuzz.yaml"), "the error does not name the file: {message}");
        }
    }
});
