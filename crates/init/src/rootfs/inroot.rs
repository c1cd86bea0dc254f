//! Paths inside the rootfs, resolved by the kernel against a descriptor of
//! the rootfs with `openat2(RESOLVE_IN_ROOT)`: a symlink, absolute or
//! relative, and `..` all stay inside it, and magic links (`/proc/self/fd`)
//! are refused. Directories are created by walking one component at a time
//! from the root descriptor, never following a symlink in the kernel: a
//! symlink met on the way is read and its target walked in turn, from the
//! root if absolute, with `..` stopping at the root. No step ever names a
//! path the kernel resolves from the host's `/`.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// A descriptor of the rootfs that paths are resolved against.
#[derive(Debug)]
pub(crate) struct Root {
    fd: OwnedFd,
}

const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);
const BELOW: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);
/// One component below a directory, returning a final symlink itself.
const BELOW_NOFOLLOW: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_MAGICLINKS);
/// The kernel's own limit on symlinks followed in one lookup.
const MAX_SYMLINKS: u32 = 40;

/// `path` without `.` and with `..` applied lexically, as runc cleans mount
/// destinations: the components below the root.
fn components(path: &Path) -> Vec<&OsStr> {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn join(components: &[&OsStr]) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(components);
    p
}

fn open_in(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    resolve: ResolveFlags,
) -> Result<OwnedFd, Errno> {
    loop {
        match rustix::fs::openat2(dir, path, flags | OFlags::CLOEXEC, Mode::empty(), resolve) {
            // openat2 asks for a retry when a rename or mount raced it.
            Err(Errno::AGAIN) | Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// `name` in `dir`, made as a directory if it does not exist; a final
/// symlink is returned, not followed.
fn open_or_make_dir(dir: &OwnedFd, name: &OsStr, mode: Mode) -> Result<OwnedFd, Errno> {
    let open = || {
        open_in(
            dir.as_fd(),
            Path::new(name),
            OFlags::PATH | OFlags::NOFOLLOW,
            BELOW_NOFOLLOW,
        )
    };
    match open() {
        Err(Errno::NOENT) => match rustix::fs::mkdirat(dir, name, mode) {
            Ok(()) | Err(Errno::EXIST) => open(),
            Err(e) => Err(e),
        },
        other => other,
    }
}

/// Put a symlink's target in front of what is left to walk.
fn walk_next(todo: &mut VecDeque<OsString>, target: &Path) {
    for c in target.components().rev() {
        match c {
            Component::Normal(n) => todo.push_front(n.to_os_string()),
            Component::ParentDir => todo.push_front("..".into()),
            _ => {}
        }
    }
}

impl Root {
    pub fn new(fd: OwnedFd) -> Root {
        Root { fd }
    }

    /// An `O_PATH` descriptor of `path`, following symlinks inside the root.
    pub fn resolve(&self, path: &Path) -> Result<OwnedFd, Errno> {
        open_in(
            self.fd.as_fd(),
            &join(&components(path)),
            OFlags::PATH,
            IN_ROOT,
        )
    }

    /// Like `resolve`, but a final symlink is returned, not followed.
    pub fn resolve_nofollow(&self, path: &Path) -> Result<OwnedFd, Errno> {
        open_in(
            self.fd.as_fd(),
            &join(&components(path)),
            OFlags::PATH | OFlags::NOFOLLOW,
            IN_ROOT,
        )
    }

    /// `mkdir -p` inside the root; an `O_PATH` descriptor of the directory.
    /// Symlinks on the way are followed inside the root, dangling ones
    /// included (their targets are created, as `mkdir -p` would).
    pub fn mkdir_all(&self, path: &Path, mode: Mode) -> Result<OwnedFd, Errno> {
        let parts = components(path);
        // The common case: everything exists, one syscall.
        match open_in(
            self.fd.as_fd(),
            &join(&parts),
            OFlags::PATH | OFlags::DIRECTORY,
            IN_ROOT,
        ) {
            Err(Errno::NOENT) => {}
            other => return other,
        }
        let mut todo: VecDeque<OsString> = parts.iter().map(|p| p.to_os_string()).collect();
        let mut dir = self.top()?;
        let mut links = 0;
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                dir = self.parent(dir)?;
                continue;
            }
            let entry = open_or_make_dir(&dir, &name, mode)?;
            match rustix::fs::fstat(&entry)?.st_mode & libc::S_IFMT {
                libc::S_IFDIR => dir = entry,
                libc::S_IFLNK => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::LOOP);
                    }
                    let target = rustix::fs::readlinkat(&dir, &name, Vec::new())?;
                    let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
                    if target.is_absolute() {
                        dir = self.top()?;
                    }
                    walk_next(&mut todo, &target);
                }
                _ => return Err(Errno::NOTDIR),
            }
        }
        Ok(dir)
    }

    /// The root itself, as a directory descriptor.
    fn top(&self) -> Result<OwnedFd, Errno> {
        open_in(
            self.fd.as_fd(),
            Path::new("/"),
            OFlags::PATH | OFlags::DIRECTORY,
            IN_ROOT,
        )
    }

    /// `..` of `dir`, which stays `dir` at the root.
    fn parent(&self, dir: OwnedFd) -> Result<OwnedFd, Errno> {
        if self.is_root(&dir)? {
            return Ok(dir);
        }
        rustix::fs::openat(
            &dir,
            "..",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }

    /// Whether `dir` is the root itself, where `..` must stay.
    fn is_root(&self, dir: &OwnedFd) -> Result<bool, Errno> {
        let a = rustix::fs::fstat(dir)?;
        let b = rustix::fs::fstat(&self.fd)?;
        Ok(a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    }

    /// The parent directory of `path` (created if needed) and its last
    /// component. `EINVAL` for the root itself.
    pub fn parent_of<'p>(&self, path: &'p Path) -> Result<(OwnedFd, &'p OsStr), Errno> {
        let parts = components(path);
        let (name, parent) = parts.split_last().ok_or(Errno::INVAL)?;
        Ok((
            self.mkdir_all(&join(parent), Mode::from_bits_truncate(0o755))?,
            name,
        ))
    }

    /// Create an empty file at `path` unless something is there already;
    /// an `O_PATH` descriptor of what is there. A dangling symlink on the
    /// way or at the end is followed inside the root and its target made
    /// (as runc makes a bind mount's destination through one).
    pub fn ensure_file(&self, path: &Path, mode: Mode) -> Result<OwnedFd, Errno> {
        let mut path = path.to_path_buf();
        for _ in 0..MAX_SYMLINKS {
            match self.resolve(&path) {
                Err(Errno::NOENT) => {}
                other => return other,
            }
            let (parent, name) = self.parent_of(&path)?;
            let flags =
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match rustix::fs::openat(&parent, name, flags, mode) {
                Ok(_) => return open_in(parent.as_fd(), Path::new(name), OFlags::PATH, BELOW),
                // Something is there that does not resolve: a dangling
                // symlink. Make what it names instead.
                Err(Errno::EXIST) => {
                    let target = rustix::fs::readlinkat(&parent, name, Vec::new())?;
                    let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
                    path = if target.is_absolute() {
                        target
                    } else {
                        path.parent().unwrap_or(Path::new("/")).join(target)
                    };
                }
                Err(e) => return Err(e),
            }
        }
        Err(Errno::LOOP)
    }
}

impl AsFd for Root {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let fd =
            rustix::fs::open(dir.path(), OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        (dir, Root::new(fd))
    }

    #[test]
    fn cleaning_never_climbs_above_the_root() {
        assert_eq!(
            join(&components(Path::new("/a/../../b/./c/"))),
            PathBuf::from("/b/c")
        );
        assert_eq!(
            join(&components(Path::new("../../etc"))),
            PathBuf::from("/etc")
        );
    }

    #[test]
    fn absolute_symlinks_resolve_inside() {
        let (dir, root) = root();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        root.mkdir_all(Path::new("/link/made"), Mode::from_bits_truncate(0o755))
            .unwrap();
        assert!(dir
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("made")
            .is_dir());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn relative_symlinks_climbing_out_stay_inside() {
        let (dir, root) = root();
        let outside = tempfile::tempdir().unwrap();
        let climb = format!("../../../../../../..{}", outside.path().display());
        std::os::unix::fs::symlink(&climb, dir.path().join("up")).unwrap();
        root.ensure_file(Path::new("/up/sub/file"), Mode::from_bits_truncate(0o644))
            .unwrap();
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn files_and_directories() {
        let (dir, root) = root();
        root.ensure_file(Path::new("/x/y/f"), Mode::from_bits_truncate(0o600))
            .unwrap();
        assert!(dir.path().join("x/y/f").is_file());
        root.ensure_file(Path::new("/x/y/f"), Mode::from_bits_truncate(0o600))
            .unwrap();
        assert_eq!(
            root.mkdir_all(Path::new("/x/y/f"), Mode::empty())
                .unwrap_err(),
            Errno::NOTDIR
        );
        assert_eq!(root.resolve(Path::new("/nope")).unwrap_err(), Errno::NOENT);
    }
}
