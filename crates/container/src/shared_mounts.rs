//! The mounts of a container that shares the runtime's mount namespace:
//! made there, under its rootfs, by the init; removed by `delete`, which
//! finds each `mounts[]` destination inside the rootfs the way the init
//! did (`openat2` with `RESOLVE_IN_ROOT`: a symlink in the image cannot
//! point `delete` at a host mount) and detaches it only if a mount is
//! rooted there.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::Spec;
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags, StatxAttributes, StatxFlags};

/// Whether the container has no mount namespace of its own.
pub(crate) fn applies(spec: &Spec) -> bool {
    !crate::config::namespace_types(spec).contains(&oci_spec::runtime::LinuxNamespaceType::Mount)
}

/// Detach every mount the config put under `rootfs`, the last first (a
/// detach takes the mounts below it along). Best effort: what cannot be
/// found or is no mount is left alone.
pub(crate) fn unmount_all(spec: &Spec, rootfs: &Path) {
    let Ok(root) = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    for m in spec.mounts().iter().flatten().rev() {
        let destination = init::mount_destination_inside(rootfs, m.destination());
        let Some(point) = mount_root_at(&root, &destination) else {
            continue;
        };
        let path = format!("/proc/self/fd/{}", point.as_raw_fd());
        if let Err(e) = rustix::mount::unmount(path.as_str(), rustix::mount::UnmountFlags::DETACH) {
            log::warn!("unmount {:?} of the container: {e}", m.destination());
        }
    }
}

/// An `O_PATH` descriptor of `destination` inside `root`, if a mount is
/// rooted there.
fn mount_root_at(root: &OwnedFd, destination: &Path) -> Option<OwnedFd> {
    let fd = rustix::fs::openat2(
        root,
        destination,
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .ok()?;
    let st = rustix::fs::statx(&fd, "", AtFlags::EMPTY_PATH, StatxFlags::BASIC_STATS).ok()?;
    let root_attr = StatxAttributes::MOUNT_ROOT;
    (st.stx_attributes_mask.contains(root_attr) && st.stx_attributes.contains(root_attr))
        .then_some(fd)
}
