//! Shared by the unit tests: edits of the default config.

/// One change to a config, for table-driven tests.
pub type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;

/// The default config with `edit` applied, as JSON.
pub fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(crate::DEFAULT_CONFIG).unwrap();
    edit(&mut v);
    v
}
