//! `crust update`: change a live container's resources. The new values
//! are merged into the ones it was created with, applied, and kept in its
//! state, so that a later `update` starts from them.

use std::path::Path;

use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use crate::error::{Error, Result};
use crate::state::StateDir;

/// Merge `new` into `old`: every field `new` sets replaces the old one.
/// Device rules are not updated (as with runc).
pub fn merge(old: &LinuxResources, new: &LinuxResources) -> LinuxResources {
    let mut out = old.clone();
    if let Some(m) = new.memory() {
        out.set_memory(Some(merge_memory(old.memory().as_ref(), m)));
    }
    if let Some(c) = new.cpu() {
        out.set_cpu(Some(merge_cpu(old.cpu().as_ref(), c)));
    }
    if new.pids().is_some() {
        out.set_pids(*new.pids());
    }
    if let Some(b) = new.block_io() {
        let mut io = old.block_io().clone().unwrap_or_default();
        if let Some(w) = b.weight() {
            io.set_weight(Some(w));
        }
        if let Some(w) = b.leaf_weight() {
            io.set_leaf_weight(Some(w));
        }
        for (get, set) in [
            (
                oci_spec::runtime::LinuxBlockIo::throttle_read_bps_device as fn(&_) -> &_,
                oci_spec::runtime::LinuxBlockIo::set_throttle_read_bps_device
                    as fn(&mut _, _) -> &mut _,
            ),
            (
                oci_spec::runtime::LinuxBlockIo::throttle_write_bps_device,
                oci_spec::runtime::LinuxBlockIo::set_throttle_write_bps_device,
            ),
            (
                oci_spec::runtime::LinuxBlockIo::throttle_read_iops_device,
                oci_spec::runtime::LinuxBlockIo::set_throttle_read_iops_device,
            ),
            (
                oci_spec::runtime::LinuxBlockIo::throttle_write_iops_device,
                oci_spec::runtime::LinuxBlockIo::set_throttle_write_iops_device,
            ),
        ] {
            if let Some(v) = get(b) {
                set(&mut io, Some(v.clone()));
            }
        }
        if let Some(v) = b.weight_device() {
            io.set_weight_device(Some(v.clone()));
        }
        out.set_block_io(Some(io));
    }
    if new.hugepage_limits().is_some() {
        out.set_hugepage_limits(new.hugepage_limits().clone());
    }
    if new.network().is_some() {
        out.set_network(new.network().clone());
    }
    if new.rdma().is_some() {
        out.set_rdma(new.rdma().clone());
    }
    if let Some(u) = new.unified() {
        let mut all = old.unified().clone().unwrap_or_default();
        all.extend(u.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.set_unified(Some(all));
    }
    out
}

macro_rules! take_set {
    ($out:ident, $new:ident, $($get:ident => $set:ident),* $(,)?) => {
        $( if let Some(v) = $new.$get() { $out.$set(Some(v.clone())); } )*
    };
}

fn merge_memory(old: Option<&LinuxMemory>, new: &LinuxMemory) -> LinuxMemory {
    let mut out = old.cloned().unwrap_or_default();
    take_set!(out, new,
        limit => set_limit, reservation => set_reservation, swap => set_swap,
        kernel => set_kernel, kernel_tcp => set_kernel_tcp, swappiness => set_swappiness,
        disable_oom_killer => set_disable_oom_killer, use_hierarchy => set_use_hierarchy,
        check_before_update => set_check_before_update,
    );
    out
}

fn merge_cpu(old: Option<&LinuxCpu>, new: &LinuxCpu) -> LinuxCpu {
    let mut out = old.cloned().unwrap_or_default();
    take_set!(out, new,
        shares => set_shares, quota => set_quota, burst => set_burst, period => set_period,
        realtime_runtime => set_realtime_runtime, realtime_period => set_realtime_period,
        cpus => set_cpus, mems => set_mems, idle => set_idle,
    );
    out
}

pub fn update(root: &Path, id: &str, new: &LinuxResources) -> Result<()> {
    if new.devices().is_some() {
        log::warn!("linux.resources.devices: device rules are not updated (as with runc)");
    }
    let dir = StateDir::open(root, id)?;
    dir.lock_exclusive()?;
    let mut state = dir.load()?;
    let status = dir.status(&state);
    if !status.has_process() {
        return Err(Error::NotRunning { id: id.into() });
    }
    let cgroup = state
        .cgroup
        .clone()
        .ok_or_else(|| Error::NoCgroup { id: id.into() })?;
    let old = state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let merged = merge(&old, new);
    check_before_update(&cgroup, &merged, new)?;
    cgroup.update_unit(&merged)?;
    cgroup.apply(&merged)?;
    let mut linux = state.config.linux().clone().unwrap_or_default();
    linux.set_resources(Some(merged));
    state.config.set_linux(Some(linux));
    dir.save(&state)
}

/// `memory.checkBeforeUpdate`: refuse a new limit below what the container
/// uses now, rather than have the kernel reclaim or kill to meet it.
fn check_before_update(
    cgroup: &cgroups::Cgroup,
    merged: &LinuxResources,
    new: &LinuxResources,
) -> Result<()> {
    let check = merged
        .memory()
        .as_ref()
        .and_then(|m| m.check_before_update())
        .unwrap_or(false);
    let Some(limit) = new
        .memory()
        .as_ref()
        .and_then(|m| m.limit())
        .filter(|l| *l > 0)
    else {
        return Ok(());
    };
    let usage = cgroup.stats().memory.usage.usage;
    if check && (limit as u64) < usage {
        return Err(Error::Config {
            file: "resources".into(),
            field: "linux.resources.memory.limit".into(),
            detail: format!("{limit} is below the container's current usage of {usage} bytes (checkBeforeUpdate)"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn new_fields_replace_old_ones_and_the_rest_stays() {
        let old = res(json!({
            "memory": {"limit": 100, "swap": 200},
            "cpu": {"shares": 512, "cpus": "0"},
            "pids": {"limit": 10},
            "devices": [{"allow": false, "access": "rwm"}]
        }));
        let new = res(json!({"memory": {"limit": 150}, "cpu": {"quota": 1000}}));
        let m = merge(&old, &new);
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({
                "devices": [{"allow": false, "access": "rwm"}],
                "memory": {"limit": 150, "swap": 200},
                "cpu": {"shares": 512, "quota": 1000, "cpus": "0"},
                "pids": {"limit": 10}
            })
        );
    }
}
