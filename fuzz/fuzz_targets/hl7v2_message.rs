#![no_main]
//! Fuzz target `hl7v2_message`: see `fuzz/targets.rs` for what must hold.

include!("../targets.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| hl7v2_message(data));
