//! Checkpoint/restore support: what `checkpoint` and `restore` share: runc's CRIU flags, the CRIU
//! versions each feature needs, and CRIU's failures told with the first
//! error line of its log.

pub(crate) mod mounts;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use criu::rpc::{self, CgMode};
use criu::{Swrk, Version};

use crate::error::{Error, Result};

/// runc's checkpoint and restore flags (each command takes its share).
#[derive(Debug, Clone, Default)]
pub struct CriuOptions {
    /// `--criu`: the binary.
    pub binary: PathBuf,
    /// `--image-path` (the CLI defaults it to `./checkpoint`).
    pub image_path: PathBuf,
    /// `--work-path`: logs and work files; the image path without it.
    pub work_path: Option<PathBuf>,
    /// `--parent-path`, relative to the image path.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub pre_dump: bool,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
    /// `--status-fd`: gets a `\0` once the lazy-pages server is ready.
    pub status_fd: Option<i32>,
    /// `--page-server ADDRESS:PORT`.
    pub page_server: Option<(String, i32)>,
    /// `--manage-cgroups-mode`.
    pub cgroups_mode: Option<CgMode>,
    /// `--empty-ns`: `CLONE_NEW*` bits of namespaces whose contents CRIU
    /// leaves alone (the network's, always, as in runc).
    pub empty_ns: u32,
}

/// runc's names for `--manage-cgroups-mode`.
pub fn parse_cgroups_mode(mode: &str) -> Result<Option<CgMode>> {
    Ok(Some(match mode {
        "" => return Ok(None),
        "soft" => CgMode::Soft,
        "full" => CgMode::Full,
        "strict" => CgMode::Strict,
        "ignore" => CgMode::Ignore,
        other => {
            return Err(Error::Flag {
                flag: "--manage-cgroups-mode".into(),
                detail: format!("invalid value {other:?} (soft, full, strict or ignore)"),
            })
        }
    }))
}

/// `--empty-ns`: runc takes `network` only.
pub fn parse_empty_ns(names: &[String]) -> Result<u32> {
    let mut mask = libc::CLONE_NEWNET as u32;
    for name in names {
        match name.as_str() {
            "network" => mask |= libc::CLONE_NEWNET as u32,
            other => {
                return Err(Error::Flag {
                    flag: "--empty-ns".into(),
                    detail: format!("namespace {other:?} is not supported (only \"network\")"),
                })
            }
        }
    }
    Ok(mask)
}

/// The oldest CRIU crust talks to: the first with the `VERSION` call.
const OLDEST: Version = Version::new(3, 0, 0);

/// The CRIU at hand, once asked.
pub(crate) struct Criu<'a> {
    pub opts: &'a CriuOptions,
    pub version: Version,
}

impl<'a> Criu<'a> {
    /// Ask CRIU its version: missing or older than 3.0 is an error here.
    pub fn probe(opts: &'a CriuOptions) -> Result<Criu<'a>> {
        let version = Swrk::version(&opts.binary).map_err(|e| match e {
            criu::Error::NotFound { .. } => Error::Criu {
                what: e.to_string(),
                log: None,
                last: None,
            },
            criu::Error::Failed { .. } | criu::Error::Unexpected { .. } => Error::Criu {
                what: format!(
                    "{:?} does not answer CRIU's VERSION call: crust needs CRIU {OLDEST} or newer",
                    opts.binary
                ),
                log: None,
                last: None,
            },
            other => Error::Criu {
                what: format!("ask {:?} its version: {other}", opts.binary),
                log: None,
                last: None,
            },
        })?;
        log::debug!("CRIU {version}");
        let criu = Criu { opts, version };
        criu.require(OLDEST, "checkpoint and restore")?;
        Ok(criu)
    }

    /// An error unless this CRIU is at least `min`, naming what needs it.
    pub fn require(&self, min: Version, what: &str) -> Result<()> {
        if self.version >= min {
            return Ok(());
        }
        Err(Error::Criu {
            what: format!(
                "{what} needs CRIU {min} or newer; {:?} is {}",
                self.opts.binary, self.version
            ),
            log: None,
            last: None,
        })
    }

    /// An error unless CRIU and the kernel have the features asked for.
    pub fn require_features(&self, wanted: rpc::Features, what: &str) -> Result<()> {
        let have = Swrk::features(&self.opts.binary, wanted.clone()).map_err(|e| Error::Criu {
            what: format!("{what}: CRIU's feature check: {e}"),
            log: None,
            last: None,
        })?;
        let mut missing = Vec::new();
        if wanted.mem_track == Some(true) && have.mem_track != Some(true) {
            missing.push("memory change tracking (mem_track: the kernel's soft-dirty bits, CONFIG_MEM_SOFT_DIRTY)");
        }
        if wanted.lazy_pages == Some(true) && have.lazy_pages != Some(true) {
            missing.push("lazy pages (lazy_pages: userfaultfd with non-cooperative events)");
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::Criu {
            what: format!(
                "{what}: CRIU or this kernel lacks {}",
                missing.join(" and ")
            ),
            log: None,
            last: None,
        })
    }

    /// The options dump and restore both send.
    pub fn common_opts(
        &self,
        images: &OwnedFd,
        work: Option<&OwnedFd>,
        log_file: &str,
    ) -> rpc::Opts {
        use std::os::fd::AsRawFd;
        let o = self.opts;
        rpc::Opts {
            images_dir_fd: images.as_raw_fd(),
            work_dir_fd: work.map(|w| w.as_raw_fd()),
            log_level: Some(4),
            log_file: Some(log_file.into()),
            // Superseded by the mode, still read by old CRIUs.
            manage_cgroups: Some(true),
            manage_cgroups_mode: Some(o.cgroups_mode.unwrap_or(CgMode::Default) as i32),
            notify_scripts: Some(true),
            shell_job: Some(o.shell_job),
            tcp_established: Some(o.tcp_established),
            ext_unix_sk: Some(o.ext_unix_sk),
            file_locks: Some(o.file_locks),
            empty_ns: Some(o.empty_ns),
            orphan_pts_master: Some(true),
            auto_dedup: Some(o.auto_dedup),
            lazy_pages: Some(o.lazy_pages),
            ..rpc::Opts::default()
        }
    }

    /// Where CRIU writes its log: the work path, else the image path.
    pub fn log_dir(&self) -> &Path {
        self.opts
            .work_path
            .as_deref()
            .unwrap_or(&self.opts.image_path)
    }

    /// A CRIU failure of `what`, with the log's first error line.
    pub fn failed(&self, what: &str, log_file: &str, e: criu::Error) -> Error {
        if let criu::Error::Notify(cause) = e {
            // crust's own step failed (a hook, the console socket): that is
            // the cause, not what CRIU logged after it.
            return Error::Criu {
                what: format!("{what}: {cause}"),
                log: None,
                last: None,
            };
        }
        let log = self.log_dir().join(log_file);
        let last = first_error_line(&log);
        Error::Criu {
            what: format!("{what}: {e}"),
            log: Some(log),
            last,
        }
    }
}

/// CRIU reads a configuration file of its own: the one the annotation
/// `org.criu.config` names (none when it is empty), else crust's,
/// `/etc/criu/crust.conf` (as runc reads `/etc/criu/runc.conf`).
pub(crate) fn config_file(spec: &oci_spec::runtime::Spec) -> Option<String> {
    let annotations = spec.annotations().as_ref();
    match annotations.and_then(|a| a.get("org.criu.config")) {
        Some(file) if file.is_empty() => None,
        Some(file) => Some(file.clone()),
        None => Some("/etc/criu/crust.conf".into()),
    }
}

/// Make a directory for CRIU (0700, as runc) when asked to, and open it.
/// CRIU opens it again through `/proc/<crust>/fd/N`, as its RPC does
/// with every descriptor number it is given.
pub(crate) fn open_dir(path: &Path, flag: &str, create: bool) -> Result<OwnedFd> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let failed = |op: &str, e: std::io::Error| Error::Flag {
        flag: flag.to_string(),
        detail: format!("{op} {path:?}: {e}"),
    };
    if create {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| failed("create", e))?;
    }
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| failed("open", e))?;
    Ok(dir.into())
}

/// The line of CRIU's log that says why it failed: the first that
/// reports an error (`Error (criu/mount.c:1234): mnt: ...`); the ones after
/// it are consequences (`Dumping FAILED.`).
pub(crate) fn first_error_line(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .find(|l| l.contains("Error ("))
        .map(|l| l.trim().to_string())
}

/// The paths the standard descriptors of a process point to
/// (`pipe:[1234]`, `/dev/pts/0`): written next to the images as
/// `descriptors.json`, so that a restore can hand the caller's pipes to
/// the restored process in their place.
pub(crate) fn descriptors(pid: i32) -> Vec<String> {
    (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect()
}

pub(crate) const DESCRIPTORS_FILE: &str = "descriptors.json";

/// A namespace joined by path that CRIU leaves out of the images (network
/// and pid, as runc has it): CRIU's name for it and the first CRIU that
/// can, on dump and on restore alike.
pub(crate) fn external_namespace(
    typ: oci_spec::runtime::LinuxNamespaceType,
) -> Option<(&'static str, Version)> {
    use oci_spec::runtime::LinuxNamespaceType as T;
    match typ {
        T::Network => Some(("net", Version::new(3, 11, 0))),
        T::Pid => Some(("pid", Version::new(3, 15, 0))),
        _ => None,
    }
}

/// The key under which a joined namespace is left out of the images and
/// handed back on restore: runc's `extRootNetNS`, `extRootPidNS`.
pub(crate) fn namespace_key(name: &str) -> String {
    let mut chars = name.chars();
    let title: String = chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect();
    format!("extRoot{title}NS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_criu_too_old_for_a_feature_is_named_with_both_versions() {
        let opts = CriuOptions {
            binary: "criu".into(),
            ..CriuOptions::default()
        };
        let criu = Criu {
            opts: &opts,
            version: Version::new(3, 15, 0),
        };
        assert!(criu.require(Version::new(3, 15, 0), "x").is_ok());
        let err = criu
            .require(Version::new(3, 16, 0), "--lsm-profile")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--lsm-profile needs CRIU 3.16 or newer; \"criu\" is 3.15"
        );
    }

    #[test]
    fn joined_namespaces_are_keyed_as_runc_keys_them() {
        assert_eq!(namespace_key("net"), "extRootNetNS");
        assert_eq!(namespace_key("pid"), "extRootPidNS");
    }

    #[test]
    fn runc_names_for_the_cgroup_modes() {
        assert_eq!(parse_cgroups_mode("").unwrap(), None);
        assert_eq!(parse_cgroups_mode("soft").unwrap(), Some(CgMode::Soft));
        assert_eq!(parse_cgroups_mode("ignore").unwrap(), Some(CgMode::Ignore));
        let err = parse_cgroups_mode("props").unwrap_err().to_string();
        assert!(err.contains("--manage-cgroups-mode"), "{err}");
    }

    #[test]
    fn the_network_is_always_left_empty() {
        let net = libc::CLONE_NEWNET as u32;
        assert_eq!(parse_empty_ns(&[]).unwrap(), net);
        assert_eq!(parse_empty_ns(&["network".into()]).unwrap(), net);
        assert!(parse_empty_ns(&["pid".into()]).is_err());
    }

    #[test]
    fn the_log_is_quoted_at_its_first_error() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("dump.log");
        std::fs::write(
            &log,
            "(00.001) Version: 3.17\n(00.002) Error (criu/a.c:1): first\n(00.003) Error (criu/cr-dump.c:9): Dumping FAILED.\n(00.004) Unlock network\n",
        )
        .unwrap();
        assert_eq!(
            first_error_line(&log).as_deref(),
            Some("(00.002) Error (criu/a.c:1): first")
        );
        assert_eq!(first_error_line(&dir.path().join("none")), None);
    }
}
