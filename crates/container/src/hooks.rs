//! Hooks the runtime runs after `create`: poststart and poststop. Their
//! failures are logged and do not stop the lifecycle (runtime.md).

use init::hooks::{HookState, Kind};

use crate::state::State;

/// Run the `kind` hooks of the container, logging a failure as a warning.
pub(crate) fn run_logged(state: &State, kind: Kind, status: &str) {
    let hook_state = HookState {
        oci_version: state.config.version(),
        id: &state.id,
        status,
        pid: state.pid.unwrap_or(0),
        bundle: &state.bundle,
        annotations: state.config.annotations().as_ref(),
    };
    if let Err(e) = init::hooks::run_all(&state.config, kind, &hook_state) {
        log::warn!("{e}");
    }
}
