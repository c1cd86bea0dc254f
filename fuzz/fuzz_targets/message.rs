//! The parent↔child protocol: a datagram from the other side decodes to a
//! message or an error, never a panic (the parent reads what a container
//! process, once its code runs there, could in principle write).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(message) = serde_json::from_slice::<init::Message>(data) {
        // What decodes must encode again.
        serde_json::to_vec(&message).expect("a decoded message encodes");
    }
});
