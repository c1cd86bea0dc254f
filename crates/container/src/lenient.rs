//! What the spec allows but oci-spec's types refuse, mended in the JSON
//! before it is parsed, so that a valid config or process.json is never
//! an error:
//!
//! - `process.user` is optional in the schema (only `cwd` is required);
//!   without it the process runs as root, as in runc.
//! - A capability crust does not know is skipped with a warning, not a
//!   parse failure (config.md: a runtime "MUST NOT fail" on one; runc
//!   warns likewise). One the running kernel does not know is skipped by
//!   the init, with the warning given here.

use serde_json::Value;

const CAP_SETS: [&str; 5] = [
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
];

/// Mend a whole config.
pub(crate) fn config(v: &mut Value) {
    if let Some(p) = v.get_mut("process").filter(|p| p.is_object()) {
        process(p, "process");
    }
}

/// Mend a process object; `field` is its JSON path, for the warnings.
pub(crate) fn process(p: &mut Value, field: &str) {
    let Some(obj) = p.as_object_mut() else {
        return;
    };
    obj.entry("user")
        .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    let last = last_cap();
    for set in CAP_SETS {
        let Some(names) = obj
            .get_mut("capabilities")
            .and_then(|c| c.get_mut(set))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        names.retain(|n| {
            // Not a string: the parser says where.
            let Some(name) = n.as_str() else {
                return true;
            };
            match init::capability_number(name) {
                None => {
                    log::warn!("{field}.capabilities.{set}: unknown capability {name:?}, skipped");
                    false
                }
                Some(num) if last.is_some_and(|l| num > l) => {
                    log::warn!(
                        "{field}.capabilities.{set}: {name} is not known to this kernel, skipped"
                    );
                    true
                }
                Some(_) => true,
            }
        });
    }
}

/// The highest capability number of the running kernel.
fn last_cap() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_missing_user_is_root() {
        let mut p = json!({"cwd": "/", "args": ["true"]});
        process(&mut p, "process");
        assert_eq!(p["user"], json!({"uid": 0, "gid": 0}));
        let mut p = json!({"cwd": "/", "user": {"uid": 5, "gid": 6}});
        process(&mut p, "process");
        assert_eq!(p["user"]["uid"], 5);
    }

    #[test]
    fn unknown_capabilities_are_dropped() {
        let mut v = json!({"process": {"cwd": "/", "capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_NO_SUCH_THING"],
            "ambient": ["CAP_BOGUS"]
        }}});
        config(&mut v);
        assert_eq!(
            v["process"]["capabilities"]["bounding"],
            json!(["CAP_CHOWN"])
        );
        assert_eq!(v["process"]["capabilities"]["ambient"], json!([]));
    }
}
