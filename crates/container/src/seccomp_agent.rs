//! Handing a seccomp user-notification descriptor to the agent listening
//! at `linux.seccomp.listenerPath`, in the shape runc sends: one message,
//! the descriptor attached (SCM_RIGHTS), and as payload the
//! `ContainerProcessState` JSON of runtime-spec's seccomp notification.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use init::hooks::HookState;
use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerProcessState<'a> {
    oci_version: &'a str,
    /// What each attached descriptor is, in order.
    fds: [&'static str; 1],
    /// The process the filter belongs to.
    pid: i32,
    metadata: &'a str,
    state: &'a HookState<'a>,
}

/// Send `fd`, the filter of process `pid`, to the agent at `listener`.
pub(crate) fn forward(
    listener: &Path,
    metadata: &str,
    fd: OwnedFd,
    pid: i32,
    state: &HookState<'_>,
) -> Result<()> {
    let message = ContainerProcessState {
        oci_version: state.oci_version,
        fds: ["seccompFd"],
        pid,
        metadata,
        state,
    };
    let payload = serde_json::to_vec(&message).expect("the process state serializes");
    let socket = std::os::unix::net::UnixStream::connect(listener).map_err(Error::io(
        "connect to the seccomp agent at linux.seccomp.listenerPath",
        listener,
    ))?;
    init::protocol::send_fd(&socket, &payload, Some(fd.as_fd())).map_err(Error::sys(format!(
        "send the seccomp notification fd to {listener:?}"
    )))
}

/// The agent's socket and metadata from the config.
pub(crate) fn listener(spec: &oci_spec::runtime::Spec) -> Option<(&Path, &str)> {
    let s = spec.linux().as_ref()?.seccomp().as_ref()?;
    let path = s.listener_path().as_deref()?;
    Some((path, s.listener_metadata().as_deref().unwrap_or("")))
}
