//! Which filesystem a descriptor is on (`fstatfs` magic numbers), for the
//! checks that keep writes off anything but the expected filesystem.

use std::os::fd::AsFd;

use rustix::io::Errno;

/// A filesystem type, by its `statfs` magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsType {
    Proc,
    Devpts,
    Cgroup,
    Cgroup2,
    Resctrl,
}

impl FsType {
    fn magic(self) -> i64 {
        match self {
            FsType::Proc => 0x9fa0,
            FsType::Devpts => 0x1cd1,
            FsType::Cgroup => 0x0027_e0eb,
            FsType::Cgroup2 => 0x6367_7270,
            FsType::Resctrl => 0x0765_5821,
        }
    }
}

/// Whether the file at `path` is on a filesystem of type `kind`.
pub fn path_is_on(path: &std::path::Path, kind: FsType) -> Result<bool, Errno> {
    let sfs = rustix::fs::statfs(path)?;
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    Ok(sfs.f_type as i64 == kind.magic())
}

/// Whether `fd` is on a filesystem of type `kind`.
pub fn is_on(fd: impl AsFd, kind: FsType) -> Result<bool, Errno> {
    let sfs = rustix::fs::fstatfs(fd)?;
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    Ok(sfs.f_type as i64 == kind.magic())
}
