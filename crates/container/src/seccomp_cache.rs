//! Compiled seccomp programs, kept in the state root. Compiling a real
//! profile (podman's default: ~440 syscall names) with libseccomp takes
//! ~14 ms here, three times the rest of a container's start; engines hand
//! every container the same profile, so the program is compiled once and
//! read back after.
//!
//! An entry is `<root>/#seccomp/<hash>.json` (`#` is no id's first
//! character): the exact `linux.seccomp` it was compiled from and the
//! program. A hit must match that text byte for byte, so a hash collision
//! (the hash is keyed for speed, not against an adversary) can never hand a
//! container another config's filter. The key includes the libseccomp
//! version. Entries are written like states: 0600 under a 0700 directory,
//! a temporary file renamed into place, never following a symlink.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use init::seccomp::Compiled;
use oci_spec::runtime::LinuxSeccomp;
use serde::{Deserialize, Serialize};

use crate::error::Result;

const DIR: &str = "#seccomp";

/// What an entry's format is (part of the key: an entry of another format
/// is never read).
const ENTRY_FORMAT: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Entry {
    config: String,
    /// Its program in hex (`init::seccomp::Compiled`).
    compiled: Compiled,
}

/// The compiled program for `seccomp`, from the cache under `root` when it
/// is there, else compiled (and cached, best effort).
pub(crate) fn compiled(root: &Path, seccomp: &LinuxSeccomp) -> Result<Compiled> {
    let config = serde_json::to_string(seccomp).expect("a parsed config serializes");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (
        config.as_str(),
        init::seccomp::library_version(),
        // How crust makes the program (libseccomp's settings, the -ENOSYS
        // prologue), in the version it is made in.
        init::seccomp::PROGRAM_FORMAT,
        std::env::consts::ARCH,
        ENTRY_FORMAT,
    )
        .hash(&mut hasher);
    let path = root
        .join(DIR)
        .join(format!("{:016x}.json", hasher.finish()));
    if let Some(hit) = read(&path).filter(|e| e.config == config) {
        return Ok(hit.compiled);
    }
    let compiled = init::seccomp::compile(seccomp)?;
    if let Err(e) = write(
        &path,
        &Entry {
            config,
            compiled: compiled.clone(),
        },
    ) {
        log::debug!("caching the seccomp program in {path:?}: {e}");
    }
    Ok(compiled)
}

fn read(path: &Path) -> Option<Entry> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    // Read whole, then parsed: serde_json's reader goes byte by byte.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write(path: &Path, entry: &Entry) -> std::io::Result<()> {
    let dir = path.parent().expect("an entry is in the cache directory");
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    let bytes = serde_json::to_vec(entry).expect("an entry serializes");
    crate::state::write_atomically(&tmp, path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile(blocked: &str) -> LinuxSeccomp {
        serde_json::from_value(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": [blocked], "action": "SCMP_ACT_ERRNO"}]
        }))
        .unwrap()
    }

    #[test]
    fn compiled_once_then_read_back_and_only_for_the_same_config() {
        let root = tempfile::tempdir().unwrap();
        let first = compiled(root.path(), &profile("acct")).unwrap();
        let entries: Vec<_> = std::fs::read_dir(root.path().join(DIR)).unwrap().collect();
        assert_eq!(entries.len(), 1);
        let path = entries[0].as_ref().unwrap().path();
        // A planted program for this key is used only if the config text
        // matches: change the config in the entry, and it is recompiled.
        let mut entry: Entry = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        entry.compiled.program = vec![0; 8];
        std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
        assert_eq!(
            compiled(root.path(), &profile("acct")).unwrap().program,
            vec![0; 8]
        );
        entry.config.push(' ');
        std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
        assert_eq!(compiled(root.path(), &profile("acct")).unwrap(), first);
        assert_ne!(compiled(root.path(), &profile("mount")).unwrap(), first);
    }

    /// A damaged entry is a miss (compiled again and rewritten), never an
    /// error or a different program.
    #[test]
    fn a_damaged_entry_is_compiled_again() {
        let root = tempfile::tempdir().unwrap();
        let first = compiled(root.path(), &profile("acct")).unwrap();
        let path = std::fs::read_dir(root.path().join(DIR))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        for damage in [
            "\"program\":\"0\"",
            "\"program\":\"zz\"",
            "\"program\":\"\u{e9}\u{e9}\"",
        ] {
            let damaged = text.replacen("\"program\":\"", &format!("{damage},\"old\":\""), 1);
            std::fs::write(&path, damaged).unwrap();
            assert_eq!(
                compiled(root.path(), &profile("acct")).unwrap(),
                first,
                "{damage}"
            );
        }
        let hex = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&path).unwrap())
            .unwrap()["compiled"]["program"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(hex.len(), first.program.len() * 2);
    }
}
