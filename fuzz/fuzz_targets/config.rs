//! `config.json` loading and validation: any bytes give a spec or an error
//! naming a field, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = container::config::parse(data) {
        // What create does next with a valid spec must not panic either.
        let _ = container::config::namespace_types(&spec);
        let _ = container::config::rootfs_path(&spec, std::path::Path::new("/bundle"));
    }
});
