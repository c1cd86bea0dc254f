//! One `criu swrk` process and the conversation with it.

use std::ffi::{CString, OsStr};
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use prost::Message;
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendFlags, Shutdown,
    SocketFlags, SocketType,
};
use rustix::process::{Pid, WaitId, WaitIdOptions};
use sys::clone::Forked;

use crate::error::{Error, Result};
use crate::rpc::{Features, Req, ReqType, Resp};
use crate::Version;

/// CRIU's descriptor for the socket: `criu swrk 3`.
const SOCKET_FD: RawFd = 3;
/// CRIU's answers are small; a notification is a few dozen bytes.
const MAX_MESSAGE: usize = 64 * 1024;

/// How the CRIU process is started.
pub struct Child<'a> {
    /// `criu`, found in `PATH`, or a path.
    pub binary: &'a Path,
    /// CRIU's descriptors 0, 1, 2 (a restore hands them to the restored
    /// process through `inherit_fd`); `None`: crust's own.
    pub stdio: Option<[BorrowedFd<'a>; 3]>,
    /// Passed on as descriptors 4, 5, … in this order.
    pub extra: Vec<BorrowedFd<'a>>,
    /// A cgroup v2 directory CRIU starts in (`CLONE_INTO_CGROUP`).
    pub cgroup: Option<BorrowedFd<'a>>,
    /// The signal mask CRIU runs with (the caller may have blocked all).
    pub sigmask: Option<&'a sys::signal::SigMask>,
}

impl<'a> Child<'a> {
    pub fn new(binary: &'a Path) -> Child<'a> {
        Child {
            binary,
            stdio: None,
            extra: Vec::new(),
            cgroup: None,
            sigmask: None,
        }
    }
}

/// A notification CRIU sent in the middle of a request.
#[derive(Debug)]
pub struct Notification {
    /// `post-dump`, `setup-namespaces`, `post-restore`,
    /// `orphan-pts-master`, `status-ready`, `network-lock`, …
    pub script: String,
    /// The restored init's pid, where the step has one.
    pub pid: i32,
    /// A descriptor CRIU attached (`orphan-pts-master`: the pty master).
    pub fd: Option<OwnedFd>,
}

/// A running `criu swrk`. Dropped without [`Swrk::finish`], it is killed
/// and reaped.
#[derive(Debug)]
pub struct Swrk {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    socket: OwnedFd,
}

impl Swrk {
    /// Fork and exec `criu swrk 3` in the child, its descriptors set up.
    /// The caller must be single-threaded (see `sys::clone::clone3`). An
    /// error in the child before or in the exec comes back from here.
    pub fn start(child: Child<'_>) -> Result<Swrk> {
        let binary = find(child.binary)?;
        let start_err = |step: &str| {
            let step = step.to_string();
            let binary = child.binary.to_path_buf();
            move |errno| Error::Start {
                binary,
                step,
                errno,
            }
        };
        let (ours, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(start_err("socketpair"))?;
        let (report_read, report_write) =
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(start_err("pipe"))?;
        let args = [c"criu", c"swrk", c"3"].map(CString::from);
        let env: Vec<CString> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        match sys::clone::clone3(0, child.cgroup).map_err(start_err("clone3"))? {
            Forked::Child => {
                drop(ours);
                drop(report_read);
                in_child(&child, theirs, report_write, &binary, &args, &env)
            }
            Forked::Parent { pid, pidfd } => {
                drop(theirs);
                drop(report_write);
                let mut swrk = Swrk {
                    pid,
                    pidfd: Some(pidfd),
                    socket: ours,
                };
                let report = read_all(&report_read);
                if report.is_empty() {
                    return Ok(swrk);
                }
                swrk.reap();
                let text = String::from_utf8_lossy(&report);
                let (errno, step) = text.split_once('\0').unwrap_or(("0", &text));
                let errno = Errno::from_raw_os_error(errno.parse().unwrap_or(0));
                if step == "exec" && errno == Errno::NOENT {
                    return Err(Error::NotFound {
                        binary: child.binary.to_path_buf(),
                    });
                }
                Err(start_err(step)(errno))
            }
        }
    }

    /// CRIU's pid (the restore places it in the container's cgroups
    /// before sending the request).
    pub fn pid(&self) -> i32 {
        self.pid.as_raw_nonzero().get()
    }

    /// Send `req` and wait for its answer, handing each notification to
    /// `on_notify` on the way (CRIU waits for each to be acknowledged).
    pub fn call(
        &mut self,
        req: &Req,
        on_notify: &mut dyn FnMut(Notification) -> Result<(), String>,
    ) -> Result<Resp> {
        self.send(req)?;
        loop {
            let (resp, fd) = self.receive()?;
            if !resp.success {
                return Err(Error::Failed {
                    errno: resp.cr_errno,
                    message: resp.cr_errmsg,
                });
            }
            if resp.r#type == ReqType::Notify as i32 {
                let notify = resp.notify.unwrap_or_default();
                let note = Notification {
                    script: notify.script.unwrap_or_default(),
                    pid: notify.pid.unwrap_or(0),
                    fd,
                };
                log::debug!("criu: notify {}", note.script);
                let handled = on_notify(note);
                self.send(&Req {
                    r#type: ReqType::Notify as i32,
                    notify_success: Some(handled.is_ok()),
                    ..Req::default()
                })?;
                handled.map_err(Error::Notify)?;
                continue;
            }
            if resp.r#type != req.r#type {
                return Err(Error::Unexpected {
                    wanted: type_name(req.r#type),
                    got: type_name(resp.r#type),
                });
            }
            return Ok(resp);
        }
    }

    /// Close the conversation and wait for CRIU to exit; an exit other
    /// than 0 is an error.
    pub fn finish(mut self) -> Result<()> {
        let _ = rustix::net::shutdown(&self.socket, Shutdown::Write);
        match self.wait() {
            Some(status) if status == "exit status 0" => Ok(()),
            Some(status) => Err(Error::Exited { status }),
            None => Ok(()),
        }
    }

    /// Ask CRIU its version (a `criu swrk` of its own, as runc does).
    pub fn version(binary: &Path) -> Result<Version> {
        let mut swrk = Swrk::start(Child::new(binary))?;
        let req = Req {
            r#type: ReqType::Version as i32,
            ..Req::default()
        };
        let resp = swrk.call(&req, &mut |_| Ok(()))?;
        swrk.finish()?;
        let v = resp.version.ok_or(Error::Failed {
            errno: None,
            message: Some("no version in its answer".into()),
        })?;
        let n = |x: i32| u32::try_from(x).unwrap_or(0);
        Ok(Version::new(
            n(v.major_number),
            n(v.minor_number),
            n(v.sublevel.unwrap_or(0)),
        ))
    }

    /// Which of `wanted` this CRIU and kernel have (`FEATURE_CHECK`).
    pub fn features(binary: &Path, wanted: Features) -> Result<Features> {
        let mut swrk = Swrk::start(Child::new(binary))?;
        let req = Req {
            r#type: ReqType::FeatureCheck as i32,
            features: Some(wanted),
            ..Req::default()
        };
        let resp = swrk.call(&req, &mut |_| Ok(()))?;
        swrk.finish()?;
        Ok(resp.features.unwrap_or_default())
    }

    fn send(&self, req: &Req) -> Result<()> {
        rustix::net::send(&self.socket, &req.encode_to_vec(), SendFlags::NOSIGNAL)
            .map(drop)
            .map_err(|errno| Error::Socket {
                op: "send a request",
                errno,
            })
    }

    fn receive(&mut self) -> Result<(Resp, Option<OwnedFd>)> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let n = loop {
            match rustix::net::recvmsg(
                &self.socket,
                &mut [IoSliceMut::new(&mut buf)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            ) {
                Err(Errno::INTR) => continue,
                Err(errno) => {
                    return Err(Error::Socket {
                        op: "receive an answer",
                        errno,
                    })
                }
                Ok(msg) => break msg.bytes,
            }
        };
        if n == 0 {
            let status = self.wait().unwrap_or_else(|| "gone".into());
            return Err(Error::Exited { status });
        }
        let mut fd = None;
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
                fd = fds.next();
            }
        }
        let resp = Resp::decode(&buf[..n]).map_err(Error::Malformed)?;
        Ok((resp, fd))
    }

    /// Reap CRIU: how it ended, once.
    fn wait(&mut self) -> Option<String> {
        let pidfd = self.pidfd.take()?;
        let status = loop {
            match rustix::process::waitid(WaitId::PidFd(pidfd.as_fd()), WaitIdOptions::EXITED) {
                Err(Errno::INTR) => continue,
                other => break other.ok().flatten(),
            }
        }?;
        Some(match (status.exit_status(), status.terminating_signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (_, Some(sig)) => format!("killed by signal {sig}"),
            _ => "ended".into(),
        })
    }

    fn reap(&mut self) {
        if let Some(pidfd) = &self.pidfd {
            let _ = sys::signal::pidfd_send(pidfd, libc_sigkill());
        }
        self.wait();
    }
}

impl Drop for Swrk {
    fn drop(&mut self) {
        self.reap();
    }
}

fn libc_sigkill() -> i32 {
    rustix::process::Signal::KILL.as_raw()
}

fn type_name(t: i32) -> String {
    ReqType::try_from(t).map_or_else(|_| t.to_string(), |t| format!("{t:?}"))
}

/// What runs in the forked child: CRIU, or on failure the errno and the
/// step written to `report` and exit 127.
fn in_child(
    child: &Child<'_>,
    socket: OwnedFd,
    report: OwnedFd,
    binary: &CString,
    args: &[CString],
    env: &[CString],
) -> ! {
    let errno = |step: &'static str| move |e: Errno| (e.raw_os_error(), step.to_string());
    let mut report = report;
    let run = || -> Result<Errno, (i32, String)> {
        if let Some(mask) = child.sigmask {
            sys::signal::reset_dispositions();
            sys::signal::restore(mask).map_err(errno("restore the signal mask"))?;
        }
        if let Some([i, o, e]) = child.stdio {
            rustix::stdio::dup2_stdin(i).map_err(errno("stdin"))?;
            rustix::stdio::dup2_stdout(o).map_err(errno("stdout"))?;
            rustix::stdio::dup2_stderr(e).map_err(errno("stderr"))?;
        }
        let count = i32::try_from(child.extra.len() + 1).unwrap_or(i32::MAX);
        // The report pipe out of the range the descriptors go to.
        report = rustix::io::fcntl_dupfd_cloexec(&report, SOCKET_FD + count)
            .map_err(errno("move the report pipe"))?;
        let mut fds = vec![socket];
        for fd in &child.extra {
            fds.push(
                fd.try_clone_to_owned()
                    .map_err(|e| (e.raw_os_error().unwrap_or(0), "dup".to_string()))?,
            );
        }
        sys::fd::renumber(fds, SOCKET_FD).map_err(errno("number the descriptors"))?;
        let mut keep: Vec<RawFd> = (SOCKET_FD..SOCKET_FD + count).collect();
        keep.push(report.as_raw_fd());
        sys::fd::close_all_except(&keep).map_err(errno("close descriptors"))?;
        Ok(sys::exec::execve(binary, args, env))
    };
    let (errno, step) = match run() {
        Ok(e) => (e.raw_os_error(), "exec".to_string()),
        Err(failed) => failed,
    };
    let mut text = errno.to_string().into_bytes();
    text.push(0);
    text.extend_from_slice(step.as_bytes());
    let _ = rustix::io::write(&report, &text);
    sys::exec::exit_now(127)
}

/// The binary as execve wants it: a path with a slash as it is, a bare
/// name looked up in `PATH`.
fn find(binary: &Path) -> Result<CString> {
    let not_found = || Error::NotFound {
        binary: binary.to_path_buf(),
    };
    let bytes = binary.as_os_str().as_bytes();
    if bytes.contains(&b'/') {
        return CString::new(bytes).map_err(|_| not_found());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(OsStr::from_bytes(bytes)))
        .find(|candidate| {
            rustix::fs::access(candidate, rustix::fs::Access::EXEC_OK).is_ok()
                && candidate.is_file()
        })
        .and_then(|p| CString::new(p.into_os_string().into_vec()).ok())
        .ok_or_else(not_found)
}

fn read_all(fd: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match rustix::io::read(fd, &mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(Errno::INTR) => {}
            Err(_) => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_is_said_so() {
        let err = find(Path::new("crust-no-such-criu")).unwrap_err();
        assert!(err.to_string().contains("not found"), "{err}");
        assert!(find(Path::new("sh")).is_ok());
        assert_eq!(find(Path::new("/x/criu")).unwrap().as_bytes(), b"/x/criu");
    }
}

#[cfg(test)]
mod with_criu {
    use super::*;

    /// Against the installed CRIU, when there is one: the version, asked
    /// over the RPC, is the one `criu --version` prints.
    #[test]
    fn the_version_comes_over_the_rpc() {
        let Ok(out) = std::process::Command::new("criu").arg("--version").output() else {
            eprintln!("no criu installed: skipped");
            return;
        };
        let printed = String::from_utf8_lossy(&out.stdout);
        let asked = Swrk::version(Path::new("criu")).unwrap();
        assert!(
            printed.contains(&format!("Version: {asked}")),
            "{printed} vs {asked}"
        );
    }
}
