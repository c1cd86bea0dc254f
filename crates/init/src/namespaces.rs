//! Joining namespaces given by `linux.namespaces[].path`, in the child.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::thread::LinkNameSpaceType;

use crate::error::InitError;
use crate::protocol::{Channel, Message};

/// A namespace to join: opened and type-checked by the parent.
#[derive(Debug)]
pub struct Join {
    pub kind: LinkNameSpaceType,
    pub name: &'static str,
    pub path: PathBuf,
    pub fd: OwnedFd,
}

impl Join {
    pub fn is_user(&self) -> bool {
        self.kind == LinkNameSpaceType::User
    }
}

/// Join every namespace, the user namespace first: joining it grants the
/// capabilities needed to join the others it owns.
pub(crate) fn join_all(joins: &[Join]) -> Result<(), InitError> {
    let user_first = joins
        .iter()
        .filter(|j| j.is_user())
        .chain(joins.iter().filter(|j| !j.is_user()));
    for j in user_first {
        rustix::thread::move_into_link_name_space(j.fd.as_fd(), Some(j.kind)).map_err(|e| {
            InitError::JoinNamespace {
                kind: j.name.to_string(),
                path: j.path.clone(),
                errno: e.into(),
            }
        })?;
    }
    Ok(())
}

/// In a new user namespace whose maps the parent has written: become its
/// root, so that the rest of the setup runs with full capabilities there.
pub(crate) fn become_root() -> Result<(), InitError> {
    let err = |e: rustix::io::Errno| InitError::UserNamespaceRoot { errno: e.into() };
    let root_gid = rustix::process::Gid::ROOT;
    let root_uid = rustix::process::Uid::ROOT;
    rustix::thread::set_thread_res_gid(root_gid, root_gid, root_gid).map_err(err)?;
    rustix::thread::set_thread_res_uid(root_uid, root_uid, root_uid).map_err(err)
}

/// Make the namespaces that had to wait until others were joined by path
/// (`flags`, `CLONE_NEW*`). A new user namespace comes first, and the
/// parent maps its ids; a new pid namespace needs one more fork, whose
/// child (a child of the runtime, through `CLONE_PARENT`) becomes the init.
pub(crate) fn unshare_all(channel: &Channel, flags: u64) -> Result<(), InitError> {
    let user = libc::CLONE_NEWUSER as u64;
    let pid = libc::CLONE_NEWPID as u64;
    let err = |what: &str| {
        let what = what.to_string();
        move |e: rustix::io::Errno| InitError::Process {
            op: format!("unshare {what}"),
            errno: e.into(),
        }
    };
    if flags & user != 0 {
        sys::ns::unshare_namespaces(user).map_err(err("a user namespace"))?;
        channel
            .send(&Message::MapIds)
            .map_err(|e| InitError::Channel {
                detail: e.to_string(),
            })?;
        expect_proceed(channel)?;
    }
    let rest = flags & !(user | pid);
    if rest != 0 {
        sys::ns::unshare_namespaces(rest).map_err(err("namespaces"))?;
    }
    if flags & pid != 0 {
        sys::ns::unshare_namespaces(pid).map_err(err("a pid namespace"))?;
        let forked = sys::clone::clone3(libc::CLONE_PARENT as u64, None).map_err(|e| {
            InitError::Process {
                op: "fork into the new pid namespace".into(),
                errno: e.into(),
            }
        })?;
        if let sys::clone::Forked::Parent { pid, .. } = forked {
            let _ = channel.send(&Message::Forked {
                pid: pid.as_raw_nonzero().get(),
            });
            sys::exec::exit_now(0);
        }
    }
    Ok(())
}

/// Wait for the parent's `Proceed`.
pub(crate) fn expect_proceed(channel: &Channel) -> Result<(), InitError> {
    match channel.recv() {
        Ok(Message::Proceed) => Ok(()),
        Ok(other) => Err(InitError::Channel {
            detail: format!("expected Proceed, got {other:?}"),
        }),
        Err(e) => Err(InitError::Channel {
            detail: e.to_string(),
        }),
    }
}
