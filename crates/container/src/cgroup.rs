//! The container's cgroup from the host side: made and limited before the
//! init runs, found again from the state by later commands.

use cgroups::{Cgroup, Layout};
use oci_spec::runtime::Spec;

use crate::error::Result;

/// Where the container's cgroup goes: decided (and recorded in the state)
/// before anything is made, so that a crash at any later point leaves a
/// record `delete --force` can clean up from.
pub(crate) fn plan(spec: &Spec, id: &str) -> Result<Cgroup> {
    let linux = spec.linux().as_ref();
    let layout = Layout::probe()?;
    Ok(Cgroup::for_container(
        &layout,
        linux.and_then(|l| l.cgroups_path().as_deref()),
        id,
    )?)
}

/// Make the planned cgroup and apply `linux.resources` to it; false when
/// the container goes without one.
///
/// An unprivileged runtime without a delegated cgroup runs the container
/// without one, as runc does, unless the config asks for limits: those it
/// refuses rather than drop.
pub(crate) fn set_up(spec: &Spec, cgroup: &Cgroup) -> Result<bool> {
    if let Err(e) = cgroup.create() {
        if is_permission_error(&e) && !rustix::process::geteuid().is_root() {
            if asks_for_limits(spec) {
                return Err(e.into());
            }
            log::debug!("no cgroup for the container: {e}");
            return Ok(false);
        }
        // `create` removed what it made; the rest is not the container's.
        return Err(e.into());
    }
    match apply(spec, cgroup) {
        Ok(()) => Ok(true),
        Err(e) => {
            if let Err(cleanup) = cgroup.destroy() {
                log::warn!("removing the cgroup after a failed create: {cleanup}");
            }
            Err(e)
        }
    }
}

fn apply(spec: &Spec, cgroup: &Cgroup) -> Result<()> {
    let linux = spec.linux().as_ref();
    let Some(resources) = linux.and_then(|l| l.resources().as_ref()) else {
        return Ok(());
    };
    cgroup.apply(resources)?;
    let config = resources.devices().as_deref().unwrap_or_default();
    if let Some(rules) = cgroups::devices::rules(config)? {
        cgroup.apply_devices(&rules)?;
    }
    Ok(())
}

fn is_permission_error(e: &cgroups::Error) -> bool {
    matches!(
        e,
        cgroups::Error::Io {
            errno: rustix::io::Errno::ACCESS | rustix::io::Errno::PERM | rustix::io::Errno::ROFS,
            ..
        }
    )
}

/// Whether `linux.resources` asks for anything beyond the device rules.
fn asks_for_limits(spec: &Spec) -> bool {
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) else {
        return false;
    };
    let mut limits = r.clone();
    limits.set_devices(None);
    limits != oci_spec::runtime::LinuxResources::default()
}
