#![no_main]
//! Fuzz target `mllp_framer`: see `fuzz/targets.rs` for what must hold.

include!("../targets.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| mllp_framer(data));
