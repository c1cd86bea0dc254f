//! Joining namespaces given by `linux.namespaces[].path`, in the child.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::thread::LinkNameSpaceType;

use crate::error::InitError;

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
