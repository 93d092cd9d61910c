#![no_main]
//! Fuzz target `medtech`: see `fuzz/targets.rs` for what must hold.

include!("../targets.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| medtech(data));
