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
//! - `linux.resources.pids` without `limit` sets no limit (`-1`): oci-spec
//!   would read it as 0, which the spec says is a real limit of none.
//! - `process.scheduler.flags` as the spec spells them
//!   (`SCHED_FLAG_RESET_ON_FORK`, `SCHED_FLAG_DL_OVERRUN`): oci-spec 0.10
//!   names two of them otherwise.

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
    if let Some(r) = v.get_mut("linux").and_then(|l| l.get_mut("resources")) {
        resources(r);
    }
}

/// Mend a `linux.resources` object (also `update -r`'s).
pub fn resources(r: &mut Value) {
    if let Some(pids) = r.get_mut("pids").and_then(Value::as_object_mut) {
        pids.entry("limit").or_insert(Value::from(-1));
    }
}

/// Mend a process object; `field` is its JSON path, for the warnings.
pub(crate) fn process(p: &mut Value, field: &str) {
    let Some(obj) = p.as_object_mut() else {
        return;
    };
    obj.entry("user")
        .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    if let Some(flags) = obj
        .get_mut("scheduler")
        .and_then(|s| s.get_mut("flags"))
        .and_then(Value::as_array_mut)
    {
        for f in flags.iter_mut() {
            let parsed_as = match f.as_str() {
                Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
                Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
                _ => continue,
            };
            *f = Value::from(parsed_as);
        }
    }
    let last = init::last_cap();
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
                Some(num) if num > last => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pids_without_a_limit_are_unlimited() {
        let mut r = json!({"pids": {}});
        resources(&mut r);
        assert_eq!(r["pids"]["limit"], -1);
        let mut r = json!({"pids": {"limit": 0}});
        resources(&mut r);
        assert_eq!(r["pids"]["limit"], 0);
    }

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
    fn scheduler_flags_as_the_spec_spells_them() {
        let mut p = json!({"cwd": "/", "scheduler": {"policy": "SCHED_OTHER",
            "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"]}});
        process(&mut p, "process");
        let parsed: oci_spec::runtime::Process = serde_json::from_value(p).unwrap();
        use oci_spec::runtime::LinuxSchedulerFlag as F;
        assert_eq!(
            parsed
                .scheduler()
                .as_ref()
                .unwrap()
                .flags()
                .as_deref()
                .unwrap(),
            [
                F::SchedResetOnFork,
                F::SchedFlagDLOverrun,
                F::SchedFlagReclaim
            ]
        );
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
