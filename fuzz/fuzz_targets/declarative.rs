#![no_main]
//! Fuzz target `declarative`: see `fuzz/targets.rs` for what must hold.

include!("../targets.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| declarative(data));
