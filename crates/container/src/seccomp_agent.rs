//! Handing a seccomp user-notification descriptor to the agent listening
//! at `linux.seccomp.listenerPath`, in the shape runc sends: one message,
//! the descriptor attached (SCM_RIGHTS), and as payload the
//! `ContainerProcessState` JSON of runtime-spec's seccomp notification.

use std::os::fd::{AsFd, OwnedFd};

use init::hooks::HookState;
use oci_spec::runtime::Spec;
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

/// Send `fd`, the filter of process `pid`, to the agent at the config's
/// `linux.seccomp.listenerPath`.
pub(crate) fn forward(spec: &Spec, fd: OwnedFd, pid: i32, state: &HookState<'_>) -> Result<()> {
    let s = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let listener = s.and_then(|s| s.listener_path().as_deref());
    let listener = listener
        .ok_or_else(|| Error::InitDied("it sent a seccomp fd no listenerPath asked for".into()))?;
    let metadata = s
        .and_then(|s| s.listener_metadata().as_deref())
        .unwrap_or("");
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
