//! Writes into the container's procfs, made safe against a procfs that is
//! not one (an image's fake `/proc`: CVE-2019-16884, CVE-2023-27561) and
//! against mounts stacked on its files (CVE-2025-52881): the root is
//! checked to be the root of a procfs, every file is opened beneath it with
//! `openat2(RESOLVE_BENEATH|RESOLVE_NO_XDEV|RESOLVE_NO_SYMLINKS)`, so no
//! symlink and no mount point may be crossed, and the file is checked again.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::InitError;

const PROC_ROOT_INO: u64 = 1;

/// The root of a procfs mount, verified.
pub(crate) struct Proc {
    root: OwnedFd,
    /// Where it is, for error messages.
    path: PathBuf,
}

fn check(fd: &OwnedFd, path: &Path, is_root: bool) -> Result<(), InitError> {
    let not_proc = |why: String| InitError::NotProcfs {
        path: path.to_path_buf(),
        why,
    };
    if !sys::fs::is_on(fd, sys::fs::FsType::Proc).map_err(|e| not_proc(format!("fstatfs: {e}")))? {
        return Err(not_proc("another filesystem".into()));
    }
    if is_root
        && rustix::fs::fstat(fd)
            .map_err(|e| not_proc(format!("fstat: {e}")))?
            .st_ino
            != PROC_ROOT_INO
    {
        return Err(not_proc("not the root of a procfs mount".into()));
    }
    Ok(())
}

impl Proc {
    /// `fd`, which should be the root of a procfs mounted at `path`.
    pub(crate) fn at(fd: OwnedFd, path: &Path) -> Result<Proc, InitError> {
        check(&fd, path, true)?;
        Ok(Proc {
            root: fd,
            path: path.to_path_buf(),
        })
    }

    /// The `/proc` of this process's root.
    pub(crate) fn current() -> Result<Proc, InitError> {
        let path = Path::new("/proc");
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| InitError::NotProcfs {
            path: path.into(),
            why: format!("open: {e}"),
        })?;
        Proc::at(fd, path)
    }

    /// The file `rel` (below the root), opened with `access`.
    fn open(&self, rel: &Path, access: OFlags) -> Result<OwnedFd, rustix::io::Errno> {
        rustix::fs::openat2(
            &self.root,
            rel,
            access | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
            ResolveFlags::BENEATH
                | ResolveFlags::NO_SYMLINKS
                | ResolveFlags::NO_XDEV
                | ResolveFlags::NO_MAGICLINKS,
        )
    }

    /// Write `value` to `rel`; the errno on failure, a refusal if the file
    /// is not on this procfs.
    pub(crate) fn write(
        &self,
        rel: &Path,
        value: &str,
    ) -> Result<Result<(), rustix::io::Errno>, InitError> {
        let fd = match self.open(rel, OFlags::WRONLY) {
            Ok(fd) => fd,
            Err(e) => return Ok(Err(e)),
        };
        check(&fd, &self.path.join(rel), false)?;
        Ok(rustix::io::write(&fd, value.as_bytes()).map(|_| ()))
    }

    /// The text of `rel`, a file of at most a page (a sysctl), if it is
    /// on this procfs.
    pub(crate) fn read(&self, rel: &Path) -> Result<String, InitError> {
        let path = self.path.join(rel);
        let failed = |e: rustix::io::Errno| InitError::Process {
            op: format!("read {}", path.display()),
            errno: e.into(),
        };
        let fd = self.open(rel, OFlags::RDONLY).map_err(failed)?;
        check(&fd, &path, false)?;
        let mut buf = vec![0; 4096];
        let n = rustix::io::read(&fd, &mut buf).map_err(failed)?;
        buf.truncate(n);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// This process's directory (`<pid>`, the pid as this procfs sees it:
    /// `self` is a symlink, which the resolution refuses).
    pub(crate) fn own(rel: &str) -> PathBuf {
        PathBuf::from(rustix::process::getpid().as_raw_nonzero().to_string()).join(rel)
    }
}
