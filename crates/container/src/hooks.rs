//! Hooks the runtime runs after `create`: poststart and poststop. Their
//! failures are logged and do not stop the lifecycle (runtime.md).

use init::hooks::{HookState, Kind};

use crate::state::State;

/// The OCI state of a container, as hooks and seccomp agents get it.
pub(crate) fn state_of<'a>(state: &'a State, status: &'a str) -> HookState<'a> {
    HookState {
        oci_version: state.config.version(),
        id: &state.id,
        status,
        pid: state.pid.unwrap_or(0),
        bundle: &state.bundle,
        annotations: state.config.annotations().as_ref(),
    }
}

/// Run the `kind` hooks of the container, logging a failure as a warning.
pub(crate) fn run_logged(state: &State, kind: Kind, status: &str) {
    if let Err(e) = init::hooks::run_all(&state.config, kind, &state_of(state, status)) {
        log::warn!("{e}");
    }
}
