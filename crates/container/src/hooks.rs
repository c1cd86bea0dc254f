//! Hooks the runtime runs after `create`: poststart and poststop. A
//! failing poststart hook is an error and stops the container; a failing
//! poststop hook is a warning, and the ones after it still run
//! (runtime.md, lifecycle steps 9 and 13).

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

/// Run every poststop hook of the container, each failure a warning.
pub(crate) fn poststop(state: &State) {
    for e in init::hooks::run_each(&state.config, Kind::Poststop, &state_of(state, "stopped")) {
        log::warn!("{e}");
    }
}

/// Whether the config has poststart hooks, which must wait for the
/// container's program to be executed.
pub(crate) fn has_poststart(state: &State) -> bool {
    !init::hooks::of_kind(&state.config, Kind::Poststart).is_empty()
}

/// Run the poststart hooks; the first failure stops them.
pub(crate) fn poststart(state: &State) -> Result<(), init::InitError> {
    init::hooks::run_all(&state.config, Kind::Poststart, &state_of(state, "running"))
}
