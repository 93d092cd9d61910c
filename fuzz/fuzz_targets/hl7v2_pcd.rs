#![no_main]
//! Fuzz target `hl7v2_pcd`: see `fuzz/targets.rs` for what must hold.

include!("../targets.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| hl7v2_pcd(data));
