//! `crust checkpoint`: CRIU dumps the running container's process tree
//! into `--image-path`; the container is then gone (deleted, poststop
//! hooks run, as runc does) unless `--leave-running` or `--pre-dump`.

use std::path::Path;

use criu::rpc::{self, PageServerInfo, Req, ReqType};
use criu::{Swrk, Version};

use crate::cr::{self, Criu, CriuOptions};
use crate::error::{Error, Result};
use crate::state::{State, StateDir, Status};

const LOG_FILE: &str = "dump.log";

pub fn checkpoint(root: &Path, id: &str, opts: &CriuOptions) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    dir.lock_exclusive()?;
    let state = dir.load()?;
    let status = dir.status(&state);
    if !matches!(status, Status::Running | Status::Paused) {
        return Err(Error::WrongState {
            action: "checkpoint",
            id: id.into(),
            status: status.to_string(),
        });
    }
    let pid = state.pid.expect("a running container has an init");
    let criu = Criu::probe(opts)?;
    // Made first: the parent path is relative to it (`../pre-dump`).
    let images = cr::open_dir(&opts.image_path, "--image-path", true)?;
    let parent = check_parent(opts)?;
    let work = opts
        .work_path
        .as_deref()
        .map(|w| cr::open_dir(w, "--work-path", true))
        .transpose()?;
    let mut rpc_opts = criu.common_opts(&images, work.as_ref(), LOG_FILE);
    rpc_opts.pid = Some(pid);
    rpc_opts.root = Some(state.rootfs.to_string_lossy().into_owned());
    rpc_opts.leave_running = Some(opts.leave_running);
    rpc_opts.config_file = cr::config_file(&state.config);
    rpc_opts.external = external_namespaces(&criu, &state)?;
    if let Some((version, dir)) = state.cgroup.as_ref().and_then(cgroups::Cgroup::freezer_dir) {
        // CRIU freezes the tree through the cgroup (ptrace otherwise);
        // the v2 freezer only from 3.14.
        if version == cgroups::Version::V1 || criu.version >= Version::new(3, 14, 0) {
            rpc_opts.freeze_cgroup = Some(dir.to_string_lossy().into_owned());
        }
    }
    if let Some((address, port)) = &opts.page_server {
        rpc_opts.ps = Some(PageServerInfo {
            address: Some(address.clone()),
            port: Some(*port),
        });
    }
    if let Some(parent) = parent {
        rpc_opts.parent_img = Some(parent);
        rpc_opts.track_mem = Some(true);
    }
    let kind = if opts.pre_dump {
        criu.require_features(
            rpc::Features {
                mem_track: Some(true),
                ..rpc::Features::default()
            },
            "--pre-dump",
        )?;
        ReqType::PreDump
    } else {
        ReqType::Dump
    };
    let mut status_fd = None;
    if opts.lazy_pages {
        criu.require_features(
            rpc::Features {
                lazy_pages: Some(true),
                ..rpc::Features::default()
            },
            "--lazy-pages",
        )?;
        if let Some(fd) = opts.status_fd {
            status_fd = Some(writable_fd(fd)?);
            if criu.version < Version::new(3, 15, 0) {
                // Before 3.15 CRIU writes the byte itself; later ones
                // notify `status-ready` instead.
                rpc_opts.status_fd = Some(fd);
            }
        }
    }
    if !opts.pre_dump {
        rpc_opts.ext_mnt = cr::mounts::for_dump(&state.config, &state.bundle, &state.rootfs, pid);
        let descriptors = serde_json::to_vec(&cr::descriptors(pid)).expect("strings serialize");
        let file = opts.image_path.join(cr::DESCRIPTORS_FILE);
        crate::state::write_atomically(
            &opts
                .image_path
                .join(format!(".{}.tmp", cr::DESCRIPTORS_FILE)),
            &file,
            &descriptors,
        )
        .map_err(Error::io("write", &file))?;
    }
    let req = Req {
        r#type: kind as i32,
        opts: Some(rpc_opts),
        ..Req::default()
    };
    let what = if opts.pre_dump {
        "criu pre-dump"
    } else {
        "criu dump"
    };
    let mut swrk = Swrk::start(::criu::Child::new(&opts.binary))
        .map_err(|e| criu.failed(what, LOG_FILE, e))?;
    let done = swrk.call(&req, &mut |note| {
        if note.script == "status-ready" {
            if let Some(fd) = status_fd.take() {
                // The lazy-pages server is ready: one \0, as runc writes.
                if let Err(e) = rustix::io::write(&fd, &[0]) {
                    log::warn!("--status-fd: write: {e}");
                }
            }
        }
        Ok(())
    });
    done.map_err(|e| criu.failed(what, LOG_FILE, e))?;
    let finished = swrk.finish();
    if !opts.pre_dump {
        // A pre-dump's CRIU waits for a next request that never comes:
        // its exit status says nothing.
        finished.map_err(|e| criu.failed(what, LOG_FILE, e))?;
    }
    log::debug!("checkpointed {id:?} into {:?}", opts.image_path);
    if opts.leave_running || opts.pre_dump {
        return Ok(());
    }
    // CRIU killed the process tree once it was dumped: the container is
    // stopped, and goes as runc's does (cgroup, state, poststop hooks).
    drop(dir);
    crate::delete(root, id, true)
}

/// `--parent-path` is relative to the image path and must be a directory
/// there (runc's checks and words).
fn check_parent(opts: &CriuOptions) -> Result<Option<String>> {
    let Some(parent) = &opts.parent_path else {
        return Ok(None);
    };
    let flag = |detail: String| Error::Flag {
        flag: "--parent-path".into(),
        detail,
    };
    if parent.is_absolute() {
        return Err(flag(format!(
            "{parent:?} must be relative (to --image-path)"
        )));
    }
    let real = opts.image_path.join(parent);
    match std::fs::metadata(&real) {
        Ok(m) if m.is_dir() => Ok(Some(parent.to_string_lossy().into_owned())),
        Ok(_) => Err(flag(format!("{real:?} is not a directory"))),
        Err(e) => Err(flag(format!("{real:?}: {e}"))),
    }
}

/// `--status-fd` must be open for writing (runc checks it too).
fn writable_fd(fd: i32) -> Result<std::os::fd::OwnedFd> {
    let invalid = |detail: String| Error::Flag {
        flag: "--status-fd".into(),
        detail,
    };
    let path = format!("/proc/self/fd/{fd}");
    let flags = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .map_err(|e| invalid(format!("descriptor {fd}: {e}")))?;
    let mode = flags
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .unwrap_or(0);
    if mode & (libc::O_WRONLY | libc::O_RDWR) as u32 == 0 {
        return Err(invalid(format!("descriptor {fd} is not open for writing")));
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| invalid(format!("descriptor {fd}: {e}")))?;
    Ok(file.into())
}

/// A network or pid namespace the container joined by path stays outside
/// the images (`--external net[INODE]:extRootNetNS`, as runc names it);
/// the restore hands the same namespace back.
fn external_namespaces(criu: &Criu<'_>, state: &State) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let namespaces = state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in namespaces {
        let Some(path) = ns.path() else { continue };
        let Some((name, min)) = cr::external_namespace(ns.typ()) else {
            continue;
        };
        criu.require(min, &format!("checkpointing a joined {name} namespace"))?;
        let st = rustix::fs::stat(path)
            .map_err(Error::sys(format!("linux.namespaces: stat {path:?}")))?;
        out.push(format!("{name}[{}]:{}", st.st_ino, cr::namespace_key(name)));
    }
    Ok(out)
}
