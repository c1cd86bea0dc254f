//! `crust update`: runc's flags, or `-r` with a `linux.resources` JSON.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
    /// A JSON file of resources (linux.resources of config.json), or - for stdin
    #[arg(short = 'r', long)]
    resources: Option<PathBuf>,
    /// Block IO weight (10 to 1000)
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds (-1: no limit)
    #[arg(long = "cpu-quota", allow_negative_numbers = true)]
    cpu_quota: Option<i64>,
    /// CPU CFS burst in microseconds
    #[arg(long = "cpu-burst")]
    cpu_burst: Option<u64>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share")]
    cpu_share: Option<u64>,
    /// CPU realtime period in microseconds
    #[arg(long = "cpu-rt-period")]
    cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds
    #[arg(long = "cpu-rt-runtime", allow_negative_numbers = true)]
    cpu_rt_runtime: Option<i64>,
    /// CPUs to use (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Memory nodes to use (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// SCHED_IDLE for the cgroup (0 or 1)
    #[arg(long = "cpu-idle")]
    cpu_idle: Option<i64>,
    /// Kernel memory limit in bytes (deprecated; cgroup v1 only)
    #[arg(long = "kernel-memory", value_parser = parse_bytes, allow_negative_numbers = true)]
    kernel_memory: Option<i64>,
    /// Kernel TCP memory limit in bytes (cgroup v1 only)
    #[arg(long = "kernel-memory-tcp", value_parser = parse_bytes, allow_negative_numbers = true)]
    kernel_memory_tcp: Option<i64>,
    /// Memory limit in bytes (suffixes k, m, g; -1: no limit)
    #[arg(long, value_parser = parse_bytes, allow_negative_numbers = true)]
    memory: Option<i64>,
    /// Memory reservation (soft limit) in bytes
    #[arg(long = "memory-reservation", value_parser = parse_bytes, allow_negative_numbers = true)]
    memory_reservation: Option<i64>,
    /// Memory plus swap limit in bytes (-1: unlimited swap)
    #[arg(long = "memory-swap", value_parser = parse_bytes, allow_negative_numbers = true)]
    memory_swap: Option<i64>,
    /// Maximum number of pids (-1: no limit)
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema
    #[arg(long = "l3-cache-schema")]
    l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema
    #[arg(long = "mem-bw-schema")]
    mem_bw_schema: Option<String>,
}

/// A byte count with an optional binary suffix (b, k, m, g, t; `kb`,
/// `kib` alike, any case), as runc's `RAMInBytes` reads it; -1 means no
/// limit.
fn parse_bytes(text: &str) -> Result<i64, String> {
    let t = text.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let digits = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let unit = unit.trim_end_matches("ib").trim_end_matches('b');
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("{text:?}: unknown size unit")),
    };
    let value: f64 = num.parse().map_err(|_| format!("{text:?} is not a size"))?;
    let bytes = (value * 2f64.powi(shift)).floor();
    if !(0.0..9.0e18).contains(&bytes) {
        return Err(format!("{text:?} is out of range"));
    }
    // In range and whole, checked just above.
    #[allow(clippy::cast_possible_truncation)]
    Ok(bytes as i64)
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        if self.l3_cache_schema.is_some() || self.mem_bw_schema.is_some() {
            return Err(super::flag_error(
                "--l3-cache-schema/--mem-bw-schema",
                "Intel RDT is not available on this host: resctrl is not mounted at /sys/fs/resctrl",
            ));
        }
        let resources = match &self.resources {
            Some(path) => read_resources(path)?,
            None => self.flag_resources(),
        };
        container::update(&g.root, &self.id, &resources)?;
        Ok(0)
    }

    fn flag_resources(&self) -> LinuxResources {
        let mut r = LinuxResources::default();
        let mut memory = LinuxMemory::default();
        // As runc: lifting the memory limit without naming swap lifts
        // memory+swap too (the old swap limit would still bind on v1).
        let swap = match (self.memory, self.memory_swap) {
            (Some(-1), None) => Some(-1),
            (_, swap) => swap,
        };
        memory
            .set_limit(self.memory)
            .set_reservation(self.memory_reservation)
            .set_swap(swap)
            .set_kernel(self.kernel_memory)
            .set_kernel_tcp(self.kernel_memory_tcp);
        if memory != LinuxMemory::default() {
            r.set_memory(Some(memory));
        }
        let mut cpu = LinuxCpu::default();
        cpu.set_shares(self.cpu_share)
            .set_quota(self.cpu_quota)
            .set_period(self.cpu_period)
            .set_burst(self.cpu_burst)
            .set_realtime_period(self.cpu_rt_period)
            .set_realtime_runtime(self.cpu_rt_runtime)
            .set_cpus(self.cpuset_cpus.clone())
            .set_mems(self.cpuset_mems.clone())
            .set_idle(self.cpu_idle);
        if cpu != LinuxCpu::default() {
            r.set_cpu(Some(cpu));
        }
        if let Some(limit) = self.pids_limit {
            let mut pids = LinuxPids::default();
            pids.set_limit(limit);
            r.set_pids(Some(pids));
        }
        if let Some(w) = self.blkio_weight {
            let mut io = LinuxBlockIo::default();
            io.set_weight(Some(w));
            r.set_block_io(Some(io));
        }
        r
    }
}

fn read_resources(path: &std::path::Path) -> anyhow::Result<LinuxResources> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("read resources from stdin")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("read {path:?}"))?;
    }
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{path:?}: {e}"))?;
    container::lenient::resources(&mut value);
    serde_path_to_error::deserialize(value)
        .map_err(|e| anyhow::anyhow!("{path:?}: linux.resources.{}: {}", e.path(), e.inner()))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_read_like_runc() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("4m"), Ok(4 << 20));
        assert_eq!(parse_bytes("4MiB"), Ok(4 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("1.5k"), Ok(1536));
        assert_eq!(parse_bytes("-1"), Ok(-1));
        assert!(parse_bytes("4x").is_err());
        assert!(parse_bytes("m").is_err());
    }
}
