//! Unit properties: what systemd itself knows of `linux.resources`, in its
//! units and value ranges, and the `org.systemd.property.*` annotations
//! (values in GVariant text form, as runc takes them).

use std::collections::HashMap;

use dbus::Value;
use oci_spec::runtime::LinuxResources;

use crate::devices::Rule;
use crate::error::{Error, Result};
use crate::layout::Version;

pub type Property = (String, Value);

fn prop(name: &str, v: Value) -> Property {
    (name.to_string(), v)
}

const INFINITY: u64 = u64::MAX;

/// `-1` (or any negative) is systemd's infinity.
fn limit(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(INFINITY)
}

/// The resource properties for a unit on a host whose memory, cpu, pids
/// and io controllers are in `version` (systemd names some differently on
/// v1).
pub fn of_resources(r: &LinuxResources, version: Version) -> Result<Vec<Property>> {
    let v2 = version == Version::V2;
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit() {
            let name = if v2 { "MemoryMax" } else { "MemoryLimit" };
            out.push(prop(name, Value::U64(limit(l))));
        }
        if v2 {
            if let Some(low) = m.reservation() {
                out.push(prop("MemoryLow", Value::U64(limit(low))));
            }
            if let Some(swap) = m.swap() {
                match crate::settings::swap_v2(swap, m.limit()) {
                    Ok(Some(v)) => out.push(prop(
                        "MemorySwapMax",
                        Value::U64(v.parse().unwrap_or(INFINITY)),
                    )),
                    Ok(None) => {}
                    Err(detail) => {
                        return Err(Error::invalid("linux.resources.memory.swap", detail))
                    }
                }
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            if v2 {
                out.push(prop(
                    "CPUWeight",
                    Value::U64(crate::settings::shares_to_weight(s)),
                ));
            } else {
                out.push(prop("CPUShares", Value::U64(s)));
            }
        }
        let period = c.period().filter(|p| *p != 0);
        if let Some(p) = period {
            out.push(prop("CPUQuotaPeriodUSec", Value::U64(p)));
        }
        match c.quota() {
            Some(q) if q > 0 => {
                let per_sec = cpu_quota_per_sec(q, period.unwrap_or(100_000));
                out.push(prop("CPUQuotaPerSecUSec", Value::U64(per_sec)));
            }
            Some(_) => out.push(prop("CPUQuotaPerSecUSec", Value::U64(INFINITY))),
            None => {}
        }
        if v2 {
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                out.push(prop(
                    "AllowedCPUs",
                    bitmask(cpus, "linux.resources.cpu.cpus")?,
                ));
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                out.push(prop(
                    "AllowedMemoryNodes",
                    bitmask(mems, "linux.resources.cpu.mems")?,
                ));
            }
        }
    }
    if let Some(p) = r.pids() {
        match p.limit() {
            n if n > 0 => out.push(prop("TasksMax", Value::U64(limit(n)))),
            n if n < 0 => out.push(prop("TasksMax", Value::U64(INFINITY))),
            _ => {}
        }
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        if v2 {
            out.push(prop(
                "IOWeight",
                Value::U64(crate::settings::blkio_to_io_weight(w)),
            ));
        } else {
            out.push(prop("BlockIOWeight", Value::U64(u64::from(w))));
        }
    }
    Ok(out)
}

/// systemd keeps the quota as a percentage of a CPU and rounds it down:
/// round up to the next whole percent, so the limit is never below what
/// was asked (runc does the same).
fn cpu_quota_per_sec(quota: i64, period: u64) -> u64 {
    let per_sec = limit(quota).saturating_mul(1_000_000) / period;
    per_sec.div_ceil(10_000) * 10_000
}

/// A cpu list (`0-3,7`) as systemd's byte mask (bit N of byte N/8).
fn bitmask(list: &str, field: &str) -> Result<Value> {
    let bad = || Error::invalid(field, format!("{list:?} is not a list like 0-3,7"));
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>(), b.parse::<usize>()),
            None => (part.parse(), part.parse()),
        };
        let (lo, hi) = (lo.map_err(|_| bad())?, hi.map_err(|_| bad())?);
        if lo > hi || hi >= 8192 {
            return Err(bad());
        }
        for bit in lo..=hi {
            if bytes.len() <= bit / 8 {
                bytes.resize(bit / 8 + 1, 0);
            }
            bytes[bit / 8] |= 1 << (bit % 8);
        }
    }
    Ok(Value::Array(
        "y".into(),
        bytes.into_iter().map(Value::Byte).collect(),
    ))
}

/// `DevicePolicy` and `DeviceAllow` for the container's device rules, so
/// that systemd re-applying the unit (a `daemon-reload`) keeps them. An
/// allow-list maps exactly; a deny rule inside "allow everything" cannot
/// be said to systemd: it gets the open policy and crust's own rules
/// (written after) do the denying, as with runc.
pub fn of_devices(rules: &[Rule]) -> Vec<Property> {
    let mut open = true;
    let mut allowed: Vec<(String, String)> = Vec::new();
    for r in rules {
        if r.kind == 'a' {
            open = r.allow;
            allowed.clear();
            continue;
        }
        let entry = (device_pattern(r), access(r.access));
        if r.allow {
            if !open {
                allowed.retain(|(p, _)| *p != entry.0);
                allowed.push(entry);
            }
        } else {
            allowed.retain(|(p, _)| *p != entry.0);
        }
    }
    if open {
        return vec![
            prop("DevicePolicy", Value::Str("auto".into())),
            prop("DeviceAllow", Value::Array("(ss)".into(), vec![])),
        ];
    }
    let list = allowed
        .into_iter()
        .filter(|(p, _)| !p.is_empty())
        .map(|(p, a)| Value::Struct(vec![Value::Str(p), Value::Str(a)]))
        .collect();
    vec![
        prop("DevicePolicy", Value::Str("strict".into())),
        prop("DeviceAllow", Value::Array("(ss)".into(), list)),
    ]
}

/// How systemd names a device or a class: `/dev/char/1:3`, `char-pts`
/// (by the major's name in /proc/devices), `char-*`. Empty when a major
/// has no name there (the rule is then crust's alone).
fn device_pattern(r: &Rule) -> String {
    let class = if r.kind == 'b' { "block" } else { "char" };
    match (r.major, r.minor) {
        (None, _) => format!("{class}-*"),
        (Some(major), Some(minor)) => format!("/dev/{class}/{major}:{minor}"),
        (Some(major), None) => std::fs::read_to_string("/proc/devices")
            .ok()
            .and_then(|t| major_name(&t, class, major))
            .map(|n| format!("{class}-{n}"))
            .unwrap_or_default(),
    }
}

fn major_name(proc_devices: &str, class: &str, major: u32) -> Option<String> {
    let header = if class == "block" {
        "Block devices:"
    } else {
        "Character devices:"
    };
    proc_devices
        .split("\n\n")
        .find(|s| s.trim_start().starts_with(header))?
        .lines()
        .skip(1)
        .find_map(|l| {
            let (n, name) = l.trim().split_once(' ')?;
            (n.parse::<u32>().ok()? == major).then(|| name.trim().to_string())
        })
}

fn access(bits: u8) -> String {
    [(2, 'r'), (4, 'w'), (1, 'm')]
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// The `org.systemd.property.NAME` annotations as properties. A name
/// ending in `Sec` (not `USec`) takes seconds, as systemd's unit files do,
/// and is sent as `NAMEUSec` in microseconds (runc's rule).
pub fn of_annotations(annotations: &HashMap<String, String>) -> Result<Vec<Property>> {
    let mut names: Vec<&String> = annotations.keys().collect();
    names.sort();
    let mut out = Vec::new();
    for key in names {
        let Some(name) = key.strip_prefix("org.systemd.property.") else {
            continue;
        };
        let field = format!("annotations.{key:?}");
        let text = &annotations[key];
        let value = parse_gvariant(text).ok_or_else(|| {
            Error::invalid(
                &field,
                format!("{text:?} is not a GVariant value (e.g. true, 'text', uint64 5)"),
            )
        })?;
        if name.ends_with("Sec") && !name.ends_with("USec") {
            let secs = match value {
                Value::Byte(n) => f64::from(n),
                Value::I32(n) => f64::from(n),
                Value::U32(n) => f64::from(n),
                Value::I64(n) if n >= 0 => n as f64,
                Value::U64(n) => n as f64,
                Value::Double(d) if d >= 0.0 => d,
                _ => {
                    return Err(Error::invalid(
                        &field,
                        format!("{text:?}: seconds must be a number"),
                    ))
                }
            };
            let name = format!("{}USec", name.trim_end_matches("Sec"));
            // Rounded to whole microseconds; far below u64::MAX.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            out.push((name, Value::U64((secs * 1e6).round() as u64)));
        } else {
            out.push((name.to_string(), value));
        }
    }
    Ok(out)
}

/// The GVariant text forms annotations use: `true`, `'text'` or
/// `"text"`, a number (int32, or a double with a point), a typed number
/// (`uint64 5`, `int64 -1`, `uint32 7`, `int32 7`, `byte 3`, `double 1.5`,
/// `@t 5`), and arrays of strings `['a', 'b']`.
pub fn parse_gvariant(text: &str) -> Option<Value> {
    let t = text.trim();
    match t {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Some(s) = quoted(t) {
        return Some(Value::Str(s));
    }
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let items = inner
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| quoted(s).map(Value::Str))
            .collect::<Option<Vec<_>>>()?;
        return Some(Value::Array("s".into(), items));
    }
    if let Some((kind, n)) = t.split_once(char::is_whitespace) {
        let n = n.trim();
        return match kind {
            "uint64" | "@t" => n.parse().ok().map(Value::U64),
            "int64" | "@x" => n.parse().ok().map(Value::I64),
            "uint32" | "@u" => n.parse().ok().map(Value::U32),
            "int32" | "@i" => n.parse().ok().map(Value::I32),
            "byte" | "@y" => n.parse().ok().map(Value::Byte),
            "double" | "@d" => n.parse().ok().map(Value::Double),
            "boolean" | "@b" => parse_gvariant(n).filter(|v| matches!(v, Value::Bool(_))),
            _ => None,
        };
    }
    if t.contains('.') || t.contains('e') {
        return t.parse().ok().map(Value::Double);
    }
    t.parse().ok().map(Value::I32)
}

fn quoted(t: &str) -> Option<String> {
    let q = t.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = t.strip_prefix(q)?.strip_suffix(q)?;
    Some(inner.replace(&format!("\\{q}"), &q.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    fn get<'a>(props: &'a [Property], name: &str) -> Option<&'a Value> {
        props.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    #[test]
    fn resources_in_systemd_units() {
        let r = res(serde_json::json!({
            "memory": {"limit": 67108864, "reservation": 1048576, "swap": 134217728},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1,3", "mems": "0"},
            "pids": {"limit": 50},
            "blockIO": {"weight": 500}
        }));
        let p = of_resources(&r, Version::V2).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(64 << 20)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Value::U64(1 << 20)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(64 << 20)));
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(39)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        assert_eq!(
            get(&p, "AllowedCPUs"),
            Some(&Value::Array("y".into(), vec![Value::Byte(0b1011)]))
        );
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(50)));
        // The same conversion as the io.weight cgroupfs gets.
        assert_eq!(get(&p, "IOWeight"), Some(&Value::U64(4950)));
        // v1 names, and no v2-only properties.
        let p = of_resources(&r, Version::V1).unwrap();
        assert_eq!(get(&p, "MemoryLimit"), Some(&Value::U64(64 << 20)));
        assert_eq!(get(&p, "CPUShares"), Some(&Value::U64(1024)));
        assert_eq!(get(&p, "BlockIOWeight"), Some(&Value::U64(500)));
        assert!(get(&p, "MemoryMax").is_none() && get(&p, "AllowedCPUs").is_none());
        // Unlimited is infinity; a quota of 33.333% rounds up to 34%.
        let p = of_resources(
            &res(serde_json::json!({"memory": {"limit": -1}, "pids": {"limit": -1}, "cpu": {"quota": 33333, "period": 100000}})),
            Version::V2,
        )
        .unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(340_000)));
    }

    #[test]
    fn device_rules_as_an_allow_list() {
        let rule = |allow, kind, major, minor| Rule {
            allow,
            kind,
            major,
            minor,
            access: 7,
        };
        let p = of_devices(&[
            rule(false, 'a', None, None),
            rule(true, 'c', Some(1), Some(3)),
            rule(true, 'c', None, None),
            rule(true, 'b', Some(8), Some(0)),
            rule(false, 'b', Some(8), Some(0)),
        ]);
        assert_eq!(get(&p, "DevicePolicy"), Some(&Value::Str("strict".into())));
        let Some(Value::Array(_, list)) = get(&p, "DeviceAllow") else {
            panic!("{p:?}")
        };
        let names: Vec<&str> = list
            .iter()
            .map(|v| match v {
                Value::Struct(f) => f[0].as_str().unwrap(),
                _ => "",
            })
            .collect();
        assert_eq!(names, ["/dev/char/1:3", "char-*"]);
        // Allow everything but one: systemd gets the open policy.
        let p = of_devices(&[
            rule(true, 'a', None, None),
            rule(false, 'c', Some(5), Some(1)),
        ]);
        assert_eq!(get(&p, "DevicePolicy"), Some(&Value::Str("auto".into())));
    }

    #[test]
    fn majors_are_named_from_proc_devices() {
        let t = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
        assert_eq!(major_name(t, "char", 136).as_deref(), Some("pts"));
        assert_eq!(major_name(t, "block", 8).as_deref(), Some("sd"));
        assert_eq!(major_name(t, "block", 136), None);
    }

    #[test]
    fn gvariant_text() {
        assert_eq!(parse_gvariant("true"), Some(Value::Bool(true)));
        assert_eq!(
            parse_gvariant("'inactive-or-failed'"),
            Some(Value::Str("inactive-or-failed".into()))
        );
        assert_eq!(
            parse_gvariant("uint64 123456789"),
            Some(Value::U64(123_456_789))
        );
        assert_eq!(parse_gvariant("42"), Some(Value::I32(42)));
        assert_eq!(parse_gvariant("1.5"), Some(Value::Double(1.5)));
        assert_eq!(
            parse_gvariant("['a', \"b\"]"),
            Some(Value::Array(
                "s".into(),
                vec![Value::Str("a".into()), Value::Str("b".into())]
            ))
        );
        assert_eq!(parse_gvariant("uint64 x"), None);
        assert_eq!(parse_gvariant("bare words"), None);
    }

    #[test]
    fn annotations_with_seconds_become_microseconds() {
        let a: HashMap<String, String> = [
            ("org.systemd.property.TimeoutStopSec", "2"),
            ("org.systemd.property.RuntimeMaxSec", "0.5"),
            ("org.systemd.property.CollectMode", "'inactive-or-failed'"),
            ("org.systemd.property.TimeoutStartUSec", "uint64 7"),
            ("other", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let p = of_annotations(&a).unwrap();
        assert_eq!(get(&p, "TimeoutStopUSec"), Some(&Value::U64(2_000_000)));
        assert_eq!(get(&p, "RuntimeMaxUSec"), Some(&Value::U64(500_000)));
        assert_eq!(get(&p, "TimeoutStartUSec"), Some(&Value::U64(7)));
        assert_eq!(
            get(&p, "CollectMode"),
            Some(&Value::Str("inactive-or-failed".into()))
        );
        assert_eq!(p.len(), 4);
        let bad: HashMap<String, String> = [(
            "org.systemd.property.X".to_string(),
            "nope nope".to_string(),
        )]
        .into();
        let e = of_annotations(&bad).unwrap_err().to_string();
        assert!(
            e.starts_with("annotations.\"org.systemd.property.X\""),
            "{e}"
        );
    }
}
