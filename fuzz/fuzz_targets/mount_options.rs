//! Mount options as `config.json` gives them: any list of strings parses to
//! flags, data and attributes without panicking.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let options: Vec<&str> = text.split(',').collect();
    let _ = init::parse_mount_options(&options);
});
