//! `crust pause` / `crust resume`: freeze and thaw the container's cgroup.

use std::path::Path;

use crate::error::{Error, Result};
use crate::state::{State, StateDir, Status};

fn open(root: &Path, id: &str) -> Result<(StateDir, State, Status)> {
    let dir = StateDir::open(root, id)?;
    dir.lock_exclusive()?;
    let state = dir.load()?;
    let status = dir.status(&state);
    Ok((dir, state, status))
}

fn cgroup_of<'a>(state: &'a State, id: &str) -> Result<&'a cgroups::Cgroup> {
    state
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::NoCgroup { id: id.into() })
}

pub fn pause(root: &Path, id: &str) -> Result<()> {
    let (_dir, state, status) = open(root, id)?;
    match status {
        Status::Running | Status::Created => Ok(cgroup_of(&state, id)?.freeze()?),
        status => Err(Error::WrongState {
            action: "pause",
            id: id.into(),
            status: status.to_string(),
        }),
    }
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    let (_dir, state, status) = open(root, id)?;
    match status {
        Status::Paused => Ok(cgroup_of(&state, id)?.thaw()?),
        status => Err(Error::WrongState {
            action: "resume",
            id: id.into(),
            status: status.to_string(),
        }),
    }
}
