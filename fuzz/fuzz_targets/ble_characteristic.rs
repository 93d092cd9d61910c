#![no_main]
//! Fuzz target `ble_characteristic`: see `fuzz/targets.rs` for what must hold.

include!("../targets.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| ble_characteristic(data));
