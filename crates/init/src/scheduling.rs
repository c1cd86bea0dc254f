//! `process.ioPriority`, `process.scheduler`, `process.execCPUAffinity` and
//! `linux.personality`.

use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType,
    Scheduler,
};
use rustix::thread::CpuSet;

use crate::error::InitError;

fn failed(op: &str) -> impl FnOnce(rustix::io::Errno) -> InitError + '_ {
    move |e| InitError::Process {
        op: op.to_string(),
        errno: e.into(),
    }
}

pub(crate) fn set_io_priority(p: &LinuxIOPriority) -> Result<(), InitError> {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = i32::try_from(p.priority())
        .ok()
        .filter(|l| (0..8).contains(l))
        .ok_or_else(|| InitError::Config {
            field: "process.ioPriority.priority".into(),
            detail: format!("{} is not a level from 0 to 7", p.priority()),
        })?;
    sys::sched::ioprio_set((class << 13) | level).map_err(failed("process.ioPriority: ioprio_set"))
}

pub(crate) fn set_scheduler(s: &Scheduler) -> Result<(), InitError> {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
        acc | match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    let attr = sys::sched::SchedAttr {
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: u32::try_from(s.priority().unwrap_or(0)).unwrap_or(0),
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    };
    sys::sched::sched_setattr(&attr).map_err(failed("process.scheduler: sched_setattr"))
}

pub(crate) fn set_personality(p: &LinuxPersonality) -> Result<(), InitError> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(InitError::Config {
            field: "linux.personality.flags".into(),
            detail: "no flags are defined yet".into(),
        });
    }
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    sys::sched::personality(persona).map_err(failed("linux.personality: personality"))
}

/// `linux.memoryPolicy`: set_mempolicy(2) on the init, which its program
/// inherits.
pub(crate) fn set_memory_policy(p: &LinuxMemoryPolicy) -> Result<(), InitError> {
    let mode = match p.mode() {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    };
    let flags = p.flags().iter().flatten().fold(0i32, |acc, f| {
        acc | match f {
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
        }
    });
    let mut mask = Vec::new();
    if let Some(nodes) = p.nodes().as_deref().filter(|n| !n.is_empty()) {
        let list = parse_cpu_list(nodes).map_err(|detail| InitError::Config {
            field: "linux.memoryPolicy.nodes".into(),
            detail,
        })?;
        for node in list {
            if mask.len() <= node / 64 {
                mask.resize(node / 64 + 1, 0u64);
            }
            mask[node / 64] |= 1 << (node % 64);
        }
    }
    sys::sched::set_mempolicy(mode | flags, &mask)
        .map_err(failed("linux.memoryPolicy: set_mempolicy"))
}

/// A CPU (or NUMA node) list as in cpuset files: `0-3,7`.
pub fn parse_cpu_list(list: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let bad = || format!("{part:?} is not a CPU number or range");
        let (a, b): (usize, usize) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b || b >= CpuSet::MAX_CPU {
            return Err(bad());
        }
        cpus.extend(a..=b);
    }
    if cpus.is_empty() {
        return Err(format!("{list:?} names no CPU"));
    }
    Ok(cpus)
}

/// Pin the process to `list` (`execCPUAffinity.initial` or `.final`).
pub(crate) fn set_affinity(list: &str, field: &str) -> Result<(), InitError> {
    let cpus = parse_cpu_list(list).map_err(|detail| InitError::Config {
        field: field.into(),
        detail,
    })?;
    let mut set = CpuSet::new();
    for cpu in cpus {
        set.set(cpu);
    }
    rustix::thread::sched_setaffinity(None, &set).map_err(|e| InitError::Process {
        op: format!("{field}: sched_setaffinity {list}"),
        errno: e.into(),
    })
}

/// Every CPU the process's cpuset allows, not the caller's own affinity
/// (kubelet pins its CPU-managed containers by cpuset alone, and a runtime
/// started from a pinned process would pass the pin on): the kernel
/// narrows a mask of every CPU to the cpuset's, as runc relies on.
pub(crate) fn reset_affinity() -> Result<(), InitError> {
    let mut set = CpuSet::new();
    for cpu in 0..CpuSet::MAX_CPU {
        set.set(cpu);
    }
    rustix::thread::sched_setaffinity(None, &set).map_err(|e| InitError::Process {
        op: "reset the CPU affinity to the cgroup's CPUs".into(),
        errno: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-2,5").unwrap(), [0, 1, 2, 5]);
        assert_eq!(parse_cpu_list("3").unwrap(), [3]);
        for bad in ["", "a", "3-1", "1-x", "99999"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad}");
        }
    }
}
