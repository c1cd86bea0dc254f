//! The one resource model: `linux.resources` (all but devices) as a list
//! of file writes, each in the dialect of the hierarchy that holds its
//! controller (v1 or v2), each remembering the config field it came from
//! so that a value the kernel refuses is reported against that field.

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxNetwork, LinuxResources, LinuxThrottleDevice,
};

use crate::error::{Error, Result};
use crate::layout::Version;

/// One write into a cgroup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The controller whose hierarchy holds the file; `""` is the v2 core
    /// (`cgroup.*` files).
    pub controller: String,
    pub file: String,
    pub value: String,
    /// Written instead when `file` does not exist (bfq weights, say).
    pub fallback: Option<(String, String)>,
    /// Skipped when the file does not exist (reserved hugetlb limits on
    /// older kernels).
    pub optional: bool,
    /// The JSON path of the config field, for errors.
    pub field: String,
}

/// Where each controller lives on this host: `None` when it is not
/// available at all.
pub type VersionOf<'a> = &'a dyn Fn(&str) -> Option<Version>;

struct Out<'a> {
    version_of: VersionOf<'a>,
    list: Vec<Setting>,
}

const R: &str = "linux.resources";

impl Out<'_> {
    fn need(&self, controller: &str, field: &str) -> Result<Version> {
        (self.version_of)(controller).ok_or_else(|| {
            Error::invalid(
                field,
                format!("the {controller} cgroup controller is not available on this host"),
            )
        })
    }

    fn push(
        &mut self,
        controller: &str,
        file: impl Into<String>,
        value: impl ToString,
        field: &str,
    ) {
        self.list.push(Setting {
            controller: controller.to_string(),
            file: file.into(),
            value: value.to_string(),
            fallback: None,
            optional: false,
            field: field.to_string(),
        });
    }

    fn last(&mut self) -> &mut Setting {
        self.list.last_mut().expect("pushed just before")
    }
}

/// Translate `r` for a host whose controllers live where `version_of` says.
pub fn settings(r: &LinuxResources, version_of: VersionOf<'_>) -> Result<Vec<Setting>> {
    let mut out = Out {
        version_of,
        list: Vec::new(),
    };
    if let Some(m) = r.memory() {
        memory(&mut out, m)?;
    }
    if let Some(c) = r.cpu() {
        cpu(&mut out, c)?;
    }
    if let Some(p) = r.pids() {
        let field = format!("{R}.pids.limit");
        out.need("pids", &field)?;
        // 0 is a limit (config-linux.md); a negative one is none.
        let value = if p.limit() >= 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        out.push("pids", "pids.max", value, &field);
    }
    if let Some(b) = r.block_io() {
        block_io(&mut out, b)?;
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("{R}.hugepageLimits[{i}]");
        let size = h.page_size();
        if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid(
                field,
                format!("page size {size:?} is not like \"2MB\""),
            ));
        }
        let (limit, rsvd) = match out.need("hugetlb", &field)? {
            Version::V1 => ("limit_in_bytes", "rsvd.limit_in_bytes"),
            Version::V2 => ("max", "rsvd.max"),
        };
        out.push(
            "hugetlb",
            format!("hugetlb.{size}.{limit}"),
            h.limit(),
            &field,
        );
        out.push(
            "hugetlb",
            format!("hugetlb.{size}.{rsvd}"),
            h.limit(),
            &field,
        );
        out.last().optional = true;
    }
    if let Some(n) = r.network() {
        network(&mut out, n)?;
    }
    for (device, limit) in sorted(r.rdma().iter().flatten()) {
        let field = format!("{R}.rdma.{device}");
        out.need("rdma", &field)?;
        let n = |v: Option<u32>| v.map_or("max".to_string(), |v| v.to_string());
        let value = format!(
            "{device} hca_handle={} hca_object={}",
            n(limit.hca_handles()),
            n(limit.hca_objects())
        );
        out.push("rdma", "rdma.max", value, &field);
    }
    for (key, value) in sorted(r.unified().iter().flatten()) {
        unified(&mut out, key, value)?;
    }
    Ok(out.list)
}

fn sorted<'a, V>(map: impl Iterator<Item = (&'a String, &'a V)>) -> Vec<(&'a String, &'a V)> {
    let mut v: Vec<_> = map.collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

fn memory(out: &mut Out<'_>, m: &LinuxMemory) -> Result<()> {
    let f = |name: &str| format!("{R}.memory.{name}");
    let any = m.limit().is_some()
        || m.reservation().is_some()
        || m.swap().is_some()
        || m.kernel().is_some()
        || m.kernel_tcp().is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer().is_some()
        || m.use_hierarchy().is_some();
    if !any {
        return Ok(());
    }
    if let Some(s) = m.swappiness().filter(|s| *s > 100) {
        return Err(Error::invalid(f("swappiness"), format!("{s} is above 100")));
    }
    match out.need("memory", &f("limit"))? {
        Version::V1 => {
            let pairs = [
                ("limit", "memory.limit_in_bytes", m.limit()),
                ("swap", "memory.memsw.limit_in_bytes", m.swap()),
                ("reservation", "memory.soft_limit_in_bytes", m.reservation()),
                ("kernel", "memory.kmem.limit_in_bytes", m.kernel()),
                (
                    "kernelTCP",
                    "memory.kmem.tcp.limit_in_bytes",
                    m.kernel_tcp(),
                ),
            ];
            for (name, file, value) in pairs {
                if let Some(v) = value {
                    out.push("memory", file, v, &f(name));
                }
            }
            // Lifting the limit lifts memory+swap too, as runc does (else
            // the old memsw limit would still bind); where swap accounting
            // is off there is no such file.
            if m.limit() == Some(-1) && m.swap().is_none() {
                out.push("memory", "memory.memsw.limit_in_bytes", -1, &f("limit"));
                out.last().optional = true;
            }
            if let Some(s) = m.swappiness() {
                out.push("memory", "memory.swappiness", s, &f("swappiness"));
            }
            if m.disable_oom_killer() == Some(true) {
                out.push("memory", "memory.oom_control", 1, &f("disableOOMKiller"));
            }
            if let Some(h) = m.use_hierarchy() {
                out.push(
                    "memory",
                    "memory.use_hierarchy",
                    u8::from(h),
                    &f("useHierarchy"),
                );
            }
        }
        Version::V2 => {
            if let Some(l) = m.limit() {
                out.push("memory", "memory.max", max_or(l), &f("limit"));
            }
            if let Some(r) = m.reservation() {
                out.push("memory", "memory.low", max_or(r), &f("reservation"));
            }
            if let Some(swap) = m.swap() {
                if let Some(v) =
                    swap_v2(swap, m.limit()).map_err(|d| Error::invalid(f("swap"), d))?
                {
                    out.push("memory", "memory.swap.max", v, &f("swap"));
                }
            }
            for (name, set) in [
                ("kernel", m.kernel().is_some()),
                ("kernelTCP", m.kernel_tcp().is_some()),
                ("swappiness", m.swappiness().is_some()),
                ("disableOOMKiller", m.disable_oom_killer() == Some(true)),
            ] {
                if set {
                    log::warn!("{}: cgroup v2 has no such setting; ignored", f(name));
                }
            }
        }
    }
    Ok(())
}

/// A byte count or `max` for -1, as v2 files take them.
fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// v1's swap limit is memory+swap; v2's `memory.swap.max` is swap alone.
/// The conversion runc uses; `None` when nothing is to be written.
pub fn swap_v2(swap: i64, limit: Option<i64>) -> std::result::Result<Option<String>, String> {
    match (swap, limit.unwrap_or(0)) {
        (-1, _) => Ok(Some("max".into())),
        (0, _) => Ok(None),
        (_, 0 | -1) => Err("a swap limit needs a memory limit".into()),
        (s, l) if s < l => Err(format!("{s} (memory+swap) is below the memory limit {l}")),
        (s, l) => Ok(Some((s - l).to_string())),
    }
}

/// `cpu.shares` (2..262144) to `cpu.weight` (1..10000), as runc converts.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

fn cpu(out: &mut Out<'_>, c: &LinuxCpu) -> Result<()> {
    let f = |name: &str| format!("{R}.cpu.{name}");
    if c.cpus().is_some() || c.mems().is_some() {
        out.need("cpuset", &f("cpus"))?;
        if let Some(cpus) = c.cpus() {
            out.push("cpuset", "cpuset.cpus", cpus, &f("cpus"));
        }
        if let Some(mems) = c.mems() {
            out.push("cpuset", "cpuset.mems", mems, &f("mems"));
        }
    }
    let any = c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.realtime_period().is_some()
        || c.realtime_runtime().is_some()
        || c.idle().is_some();
    if !any {
        return Ok(());
    }
    match out.need("cpu", &f("shares"))? {
        Version::V1 => {
            if let Some(s) = c.shares() {
                out.push("cpu", "cpu.shares", s, &f("shares"));
            }
            if let Some(p) = c.period() {
                out.push("cpu", "cpu.cfs_period_us", p, &f("period"));
            }
            if let Some(q) = c.quota() {
                out.push("cpu", "cpu.cfs_quota_us", q, &f("quota"));
            }
            if let Some(b) = c.burst() {
                out.push("cpu", "cpu.cfs_burst_us", b, &f("burst"));
            }
            if let Some(p) = c.realtime_period() {
                out.push("cpu", "cpu.rt_period_us", p, &f("realtimePeriod"));
            }
            if let Some(r) = c.realtime_runtime() {
                out.push("cpu", "cpu.rt_runtime_us", r, &f("realtimeRuntime"));
            }
        }
        Version::V2 => {
            if let Some(s) = c.shares().filter(|s| *s != 0) {
                out.push("cpu", "cpu.weight", shares_to_weight(s), &f("shares"));
            }
            let (quota, period) = (c.quota().unwrap_or(0), c.period().unwrap_or(0));
            if quota != 0 || period != 0 {
                let q = if quota > 0 {
                    quota.to_string()
                } else {
                    "max".into()
                };
                let value = if period != 0 {
                    format!("{q} {period}")
                } else {
                    q
                };
                out.push("cpu", "cpu.max", value, &f("quota"));
            }
            if let Some(b) = c.burst() {
                out.push("cpu", "cpu.max.burst", b, &f("burst"));
            }
            if c.realtime_period().unwrap_or(0) != 0 || c.realtime_runtime().unwrap_or(0) != 0 {
                return Err(Error::invalid(
                    f("realtimeRuntime"),
                    "cgroup v2 has no real-time CPU budget",
                ));
            }
        }
    }
    if let Some(i) = c.idle() {
        out.push("cpu", "cpu.idle", i, &f("idle"));
    }
    Ok(())
}

/// blkio weights (10..1000) to `io.weight` (1..10000), as runc converts.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight).saturating_sub(10) * 9999) / 990
}

fn block_io(out: &mut Out<'_>, b: &LinuxBlockIo) -> Result<()> {
    let f = |name: &str| format!("{R}.blockIO.{name}");
    let throttles: [(&str, &Option<Vec<LinuxThrottleDevice>>, &str, &str); 4] = [
        (
            "throttleReadBpsDevice",
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
            "rbps",
        ),
        (
            "throttleWriteBpsDevice",
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
            "wbps",
        ),
        (
            "throttleReadIOPSDevice",
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
            "riops",
        ),
        (
            "throttleWriteIOPSDevice",
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
            "wiops",
        ),
    ];
    let any = b.weight().is_some()
        || b.leaf_weight().is_some()
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || throttles
            .iter()
            .any(|t| t.1.as_ref().is_some_and(|v| !v.is_empty()));
    if !any {
        return Ok(());
    }
    let (controller, version) = match (out.version_of)("blkio") {
        Some(v) => ("blkio", v),
        None => ("io", out.need("io", &f("weight"))?),
    };
    match version {
        Version::V1 => {
            if let Some(w) = b.weight() {
                out.push(controller, "blkio.weight", w, &f("weight"));
                out.last().fallback = Some(("blkio.bfq.weight".into(), w.to_string()));
            }
            if let Some(w) = b.leaf_weight() {
                out.push(controller, "blkio.leaf_weight", w, &f("leafWeight"));
            }
            for (i, d) in b.weight_device().iter().flatten().enumerate() {
                let field = f(&format!("weightDevice[{i}]"));
                if let Some(w) = d.weight() {
                    let line = format!("{}:{} {w}", d.major(), d.minor());
                    out.push(controller, "blkio.weight_device", &line, &field);
                    out.last().fallback = Some(("blkio.bfq.weight_device".into(), line));
                }
                if let Some(w) = d.leaf_weight() {
                    let line = format!("{}:{} {w}", d.major(), d.minor());
                    out.push(controller, "blkio.leaf_weight_device", line, &field);
                }
            }
            for (name, devices, file, _) in throttles {
                for (i, d) in devices.iter().flatten().enumerate() {
                    let line = format!("{}:{} {}", d.major(), d.minor(), d.rate());
                    out.push(controller, file, line, &f(&format!("{name}[{i}]")));
                }
            }
        }
        Version::V2 => {
            if b.leaf_weight().is_some() {
                log::warn!("{}: cgroup v2 has no leaf weight; ignored", f("leafWeight"));
            }
            if let Some(w) = b.weight() {
                out.push(controller, "io.bfq.weight", w, &f("weight"));
                out.last().fallback = Some((
                    "io.weight".into(),
                    format!("default {}", blkio_to_io_weight(w)),
                ));
            }
            for (i, d) in b.weight_device().iter().flatten().enumerate() {
                if let Some(w) = d.weight() {
                    let line = format!("{}:{} {w}", d.major(), d.minor());
                    out.push(
                        controller,
                        "io.bfq.weight",
                        line,
                        &f(&format!("weightDevice[{i}]")),
                    );
                }
            }
            for (name, devices, _, key) in throttles {
                for (i, d) in devices.iter().flatten().enumerate() {
                    let line = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
                    out.push(controller, "io.max", line, &f(&format!("{name}[{i}]")));
                }
            }
        }
    }
    Ok(())
}

fn network(out: &mut Out<'_>, n: &LinuxNetwork) -> Result<()> {
    if let Some(id) = n.class_id() {
        let field = format!("{R}.network.classID");
        v1_only(out, "net_cls", &field)?;
        out.push("net_cls", "net_cls.classid", id, &field);
    }
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        let field = format!("{R}.network.priorities[{i}]");
        v1_only(out, "net_prio", &field)?;
        out.push(
            "net_prio",
            "net_prio.ifpriomap",
            format!("{} {}", p.name(), p.priority()),
            &field,
        );
    }
    Ok(())
}

fn v1_only(out: &Out<'_>, controller: &str, field: &str) -> Result<()> {
    match out.need(controller, field)? {
        Version::V1 => Ok(()),
        Version::V2 => Err(Error::invalid(
            field,
            format!("cgroup v2 has no {controller} controller"),
        )),
    }
}

/// `unified` keys are file names in the container's v2 directory: a key
/// may not name anything outside it.
fn unified(out: &mut Out<'_>, key: &str, value: &str) -> Result<()> {
    let field = format!("{R}.unified.{key}");
    let Some((prefix, _)) = key.split_once('.') else {
        return Err(Error::invalid(
            field,
            "is not a cgroup file name (controller.file)",
        ));
    };
    if key.contains('/') || key.contains('\0') || prefix.is_empty() {
        return Err(Error::invalid(
            field,
            "is not a file name in the container's cgroup",
        ));
    }
    let controller = if prefix == "cgroup" { "" } else { prefix };
    if (out.version_of)(controller) != Some(Version::V2) {
        return Err(Error::invalid(
            field,
            format!("needs the {prefix} controller on cgroup v2, which this host does not offer"),
        ));
    }
    out.push(controller, key, value, &field);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    fn v1(c: &str) -> Option<Version> {
        (!c.is_empty() && c != "io").then_some(Version::V1)
    }

    fn v2(c: &str) -> Option<Version> {
        (!["blkio", "net_cls", "net_prio"].contains(&c)).then_some(Version::V2)
    }

    fn files(list: &[Setting]) -> Vec<(String, String)> {
        list.iter()
            .map(|s| (s.file.clone(), s.value.clone()))
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn memory_in_both_dialects() {
        let r = res(json!({"memory": {"limit": 1048576, "swap": 3145728, "reservation": 4096}}));
        assert_eq!(
            files(&settings(&r, &v1).unwrap()),
            pairs(&[
                ("memory.limit_in_bytes", "1048576"),
                ("memory.memsw.limit_in_bytes", "3145728"),
                ("memory.soft_limit_in_bytes", "4096")
            ])
        );
        assert_eq!(
            files(&settings(&r, &v2).unwrap()),
            pairs(&[
                ("memory.max", "1048576"),
                ("memory.low", "4096"),
                ("memory.swap.max", "2097152")
            ])
        );
    }

    #[test]
    fn lifting_the_v1_memory_limit_lifts_swap_too() {
        let r = res(json!({"memory": {"limit": -1}}));
        let list = settings(&r, &v1).unwrap();
        assert_eq!(
            files(&list),
            pairs(&[
                ("memory.limit_in_bytes", "-1"),
                ("memory.memsw.limit_in_bytes", "-1")
            ])
        );
        assert!(list[1].optional);
    }

    #[test]
    fn swap_conversion_follows_runc() {
        assert_eq!(swap_v2(-1, Some(10)), Ok(Some("max".into())));
        assert_eq!(swap_v2(0, Some(10)), Ok(None));
        assert_eq!(swap_v2(30, Some(10)), Ok(Some("20".into())));
        assert!(swap_v2(5, Some(10)).is_err());
        assert!(swap_v2(5, None).is_err());
    }

    #[test]
    fn cpu_in_both_dialects() {
        let r =
            res(json!({"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0"}}));
        assert_eq!(
            files(&settings(&r, &v1).unwrap()),
            pairs(&[
                ("cpuset.cpus", "0"),
                ("cpu.shares", "1024"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000")
            ])
        );
        assert_eq!(
            files(&settings(&r, &v2).unwrap()),
            pairs(&[
                ("cpuset.cpus", "0"),
                ("cpu.weight", "39"),
                ("cpu.max", "50000 100000")
            ])
        );
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10000);
        let rt = res(json!({"cpu": {"realtimeRuntime": 1000}}));
        assert_eq!(
            settings(&rt, &v2).unwrap_err().to_string(),
            "linux.resources.cpu.realtimeRuntime: cgroup v2 has no real-time CPU budget"
        );
    }

    #[test]
    fn pids_blkio_hugetlb_rdma() {
        let r = res(json!({
            "pids": {"limit": -1},
            "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 100}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "rdma": {"mlx5_1": {"hcaHandles": 3}}
        }));
        let list = settings(&r, &v2).unwrap();
        assert_eq!(
            files(&list),
            pairs(&[
                ("pids.max", "max"),
                ("io.bfq.weight", "500"),
                ("io.max", "8:0 rbps=100"),
                ("hugetlb.2MB.max", "4194304"),
                ("hugetlb.2MB.rsvd.max", "4194304"),
                ("rdma.max", "mlx5_1 hca_handle=3 hca_object=max")
            ])
        );
        assert_eq!(
            list[1].fallback,
            Some(("io.weight".into(), "default 4950".into()))
        );
        assert!(list[4].optional);
        let v1list = settings(&r, &v1).unwrap();
        assert_eq!(v1list[2].value, "8:0 100");
        assert_eq!(v1list[3].file, "hugetlb.2MB.limit_in_bytes");
        let bad = res(json!({"hugepageLimits": [{"pageSize": "../x", "limit": 1}]}));
        assert!(settings(&bad, &v2).is_err());
    }

    #[test]
    fn fields_are_named_when_a_controller_is_missing() {
        let r = res(json!({"network": {"classID": 1}}));
        let e = settings(&r, &v2).unwrap_err().to_string();
        assert!(e.starts_with("linux.resources.network.classID: "), "{e}");
        let none = |_: &str| None;
        let e = settings(&res(json!({"pids": {"limit": 5}})), &none)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "linux.resources.pids.limit: the pids cgroup controller is not available on this host"
        );
    }

    #[test]
    fn unified_keys_stay_inside_the_cgroup() {
        let ok = res(json!({"unified": {"memory.high": "100000", "cgroup.max.depth": "3"}}));
        assert_eq!(
            files(&settings(&ok, &v2).unwrap()),
            pairs(&[("cgroup.max.depth", "3"), ("memory.high", "100000")])
        );
        for key in ["../memory.max", "memory.high/x", "nodot", ".hidden"] {
            let bad = res(json!({"unified": {key: "1"}}));
            assert!(settings(&bad, &v2).is_err(), "{key}");
        }
        assert!(settings(&ok, &v1).is_err());
    }
}
