#![no_main]
//! Fuzz target `hub_envelope`: see `fuzz/targets.rs` for what must hold.

include!("../targets.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| hub_envelope(data));
