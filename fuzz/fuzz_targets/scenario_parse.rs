//! The scenario loader on arbitrary bytes: it must answer (a scenario or diagnostics),
//! never panic. The body is `kubesim::fuzz::parse_bytes`, which a stable test
//! (`tests/fuzz_properties.rs`) also drives with random and mutated input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kubesim::fuzz::parse_bytes(data);
});
