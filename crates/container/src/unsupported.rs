//! Settings crust does not apply yet. Each is refused with an error naming
//! the field, so that nothing the config asks for is silently dropped.

use oci_spec::runtime::Spec;

use crate::invalid::Invalid;

fn refuse(field: &str) -> Result<(), Invalid> {
    Err(Invalid {
        field: field.to_string(),
        detail: "is not supported by crust yet".to_string(),
    })
}

/// The first setting of `spec` that crust cannot honour yet.
pub fn check(spec: &Spec) -> Result<(), Invalid> {
    if let Some(l) = spec.linux() {
        if l.intel_rdt().is_some() {
            return intel_rdt();
        }
    }
    Ok(())
}

/// Intel RDT needs resctrl: where it is absent, say so (as runc does);
/// where it is there, crust does not drive it yet.
fn intel_rdt() -> Result<(), Invalid> {
    let mounted = std::fs::File::open("/sys/fs/resctrl")
        .ok()
        .and_then(|f| sys::fs::is_on(&f, sys::fs::FsType::Resctrl).ok())
        .unwrap_or(false);
    if !mounted {
        return Err(Invalid {
            field: "linux.intelRdt".into(),
            detail:
                "Intel RDT is not available on this host: resctrl is not mounted at /sys/fs/resctrl"
                    .into(),
        });
    }
    refuse("linux.intelRdt")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_util::edited;

    #[test]
    fn intel_rdt_is_refused_naming_the_field() {
        let spec: Spec =
            serde_json::from_value(edited(|v| v["linux"]["intelRdt"] = json!({"closID": "c1"})))
                .unwrap();
        assert_eq!(check(&spec).unwrap_err().field, "linux.intelRdt");
        let plain: Spec = serde_json::from_value(edited(|_| {})).unwrap();
        assert!(check(&plain).is_ok());
    }
}
