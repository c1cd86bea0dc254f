//! Resource usage for `crust events`, in the JSON shape of runc's
//! `types.Stats` (zero values omitted where runc's `omitempty` omits them).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::cgroup::Cgroup;
use crate::layout::Version;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: serde_json::Map<String, serde_json::Value>,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: serde_json::Map<String, serde_json::Value>,
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// A number file; `max` (no limit) reads as `u64::MAX`, as runc reports it.
fn num(dir: &Path, file: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    match text.trim() {
        "max" => u64::MAX,
        t => t.parse().unwrap_or(0),
    }
}

/// A `key value` file (`memory.stat`, `cpu.stat`, `memory.events`).
fn flat_keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn page_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let mut sizes: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!size.contains('.')).then(|| size.to_string())
        })
        .collect();
    sizes.sort();
    sizes
}

impl Cgroup {
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        if let Some((v, dir)) = self.locate("cpu") {
            cpu(&mut s.cpu, v, dir);
        }
        if let Some((Version::V1, dir)) = self.locate("cpuacct") {
            s.cpu.usage.total = num(dir, "cpuacct.usage");
            s.cpu.usage.percpu = std::fs::read_to_string(dir.join("cpuacct.usage_percpu"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            // cpuacct.stat counts USER_HZ ticks (100 a second).
            let stat = flat_keyed(dir, "cpuacct.stat");
            s.cpu.usage.user = stat.get("user").copied().unwrap_or(0) * 10_000_000;
            s.cpu.usage.kernel = stat.get("system").copied().unwrap_or(0) * 10_000_000;
        }
        if let Some((v, dir)) = self.locate("memory") {
            memory(&mut s.memory, v, dir);
        }
        if let Some((_, dir)) = self.locate("pids") {
            s.pids.current = num(dir, "pids.current");
            s.pids.limit = match num(dir, "pids.max") {
                u64::MAX => 0,
                n => n,
            };
        }
        if let Some((v, dir)) = self.locate("blkio").or_else(|| self.locate("io")) {
            blkio(&mut s.blkio, v, dir);
        }
        if let Some((v, dir)) = self.locate("hugetlb") {
            let (limit, usage, max) = match v {
                Version::V1 => (".limit_in_bytes", "usage_in_bytes", "max_usage_in_bytes"),
                Version::V2 => (".max", "current", ""),
            };
            for size in page_sizes(dir, limit) {
                let entry = Hugetlb {
                    usage: num(dir, &format!("hugetlb.{size}.{usage}")),
                    max: if max.is_empty() {
                        0
                    } else {
                        num(dir, &format!("hugetlb.{size}.{max}"))
                    },
                    failcnt: match v {
                        Version::V1 => num(dir, &format!("hugetlb.{size}.failcnt")),
                        Version::V2 => flat_keyed(dir, &format!("hugetlb.{size}.events"))
                            .get("max")
                            .copied()
                            .unwrap_or(0),
                    },
                };
                s.hugetlb.insert(size, entry);
            }
        }
        s
    }

    /// How many times the kernel's OOM killer has killed in the container's
    /// cgroup so far (v1: `memory.oom_control`, v2: `memory.events`).
    pub fn oom_kills(&self) -> Option<u64> {
        let (v, dir) = self.locate("memory")?;
        let file = match v {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        flat_keyed(dir, file).get("oom_kill").copied()
    }
}

fn cpu(c: &mut Cpu, v: Version, dir: &Path) {
    let stat = flat_keyed(dir, "cpu.stat");
    let get = |k: &str| stat.get(k).copied().unwrap_or(0);
    c.throttling.periods = get("nr_periods");
    c.throttling.throttled_periods = get("nr_throttled");
    match v {
        Version::V1 => c.throttling.throttled_time = get("throttled_time"),
        Version::V2 => {
            c.throttling.throttled_time = get("throttled_usec") * 1000;
            c.usage.total = get("usage_usec") * 1000;
            c.usage.user = get("user_usec") * 1000;
            c.usage.kernel = get("system_usec") * 1000;
        }
    }
}

fn memory(m: &mut Memory, v: Version, dir: &Path) {
    m.raw = flat_keyed(dir, "memory.stat");
    match v {
        Version::V1 => {
            m.cache = m.raw.get("cache").copied().unwrap_or(0);
            let entry = |prefix: &str| MemoryEntry {
                limit: num(dir, &format!("{prefix}.limit_in_bytes")),
                usage: num(dir, &format!("{prefix}.usage_in_bytes")),
                max: num(dir, &format!("{prefix}.max_usage_in_bytes")),
                failcnt: num(dir, &format!("{prefix}.failcnt")),
            };
            m.usage = entry("memory");
            m.swap = entry("memory.memsw");
            m.kernel = entry("memory.kmem");
            m.kernel_tcp = entry("memory.kmem.tcp");
        }
        Version::V2 => {
            m.cache = m.raw.get("file").copied().unwrap_or(0);
            let events = flat_keyed(dir, "memory.events");
            m.usage = MemoryEntry {
                limit: num(dir, "memory.max"),
                usage: num(dir, "memory.current"),
                max: num(dir, "memory.peak"),
                failcnt: events.get("max").copied().unwrap_or(0),
            };
            m.swap = MemoryEntry {
                limit: num(dir, "memory.swap.max"),
                usage: num(dir, "memory.swap.current"),
                max: num(dir, "memory.swap.peak"),
                failcnt: 0,
            };
        }
    }
}

fn blkio(b: &mut Blkio, v: Version, dir: &Path) {
    let parse_dev = |d: &str| -> Option<(u64, u64)> {
        let (ma, mi) = d.split_once(':')?;
        Some((ma.parse().ok()?, mi.parse().ok()?))
    };
    match v {
        Version::V1 => {
            let read = |file: &str| -> Vec<BlkioEntry> {
                std::fs::read_to_string(dir.join(file))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| {
                        let mut f = l.split_whitespace();
                        let (major, minor) = parse_dev(f.next()?)?;
                        let op = f.next()?.to_string();
                        let value = f.next()?.parse().ok()?;
                        Some(BlkioEntry {
                            major,
                            minor,
                            op,
                            value,
                        })
                    })
                    .collect()
            };
            b.io_service_bytes_recursive = read("blkio.throttle.io_service_bytes_recursive");
            b.io_serviced_recursive = read("blkio.throttle.io_serviced_recursive");
        }
        Version::V2 => {
            for line in std::fs::read_to_string(dir.join("io.stat"))
                .unwrap_or_default()
                .lines()
            {
                let mut f = line.split_whitespace();
                let Some((major, minor)) = f.next().and_then(parse_dev) else {
                    continue;
                };
                for kv in f {
                    let Some((k, val)) = kv.split_once('=') else {
                        continue;
                    };
                    let value = val.parse().unwrap_or(0);
                    let (list, op) = match k {
                        "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                        "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                        "rios" => (&mut b.io_serviced_recursive, "Read"),
                        "wios" => (&mut b.io_serviced_recursive, "Write"),
                        _ => continue,
                    };
                    list.push(BlkioEntry {
                        major,
                        minor,
                        op: op.into(),
                        value,
                    });
                }
            }
        }
    }
}
