//! `crust state` and `crust list`: the OCI state of containers, in the
//! shape runc prints.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Result;
use crate::state::{self, StateDir, Status};

/// runtime.md's state, plus runc's `created` and `owner`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    pub oci_version: String,
    pub id: String,
    /// 0 once stopped, as runc reports it.
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    pub owner: String,
}

/// What `crust state` prints: runc's fields, from the state and the live
/// process.
pub fn state(root: &Path, id: &str) -> Result<ContainerState> {
    let dir = StateDir::open(root, id)?;
    describe(&dir, &Users::read())
}

/// Every container under `root`; one whose state cannot be read is left
/// out with a warning rather than hiding all the others.
pub fn list(root: &Path) -> Result<Vec<ContainerState>> {
    let mut out = Vec::new();
    let users = Users::read();
    for id in state::list_ids(root)? {
        match StateDir::open(root, &id).and_then(|d| describe(&d, &users)) {
            Ok(s) => out.push(s),
            Err(e) => log::warn!("skipping {id}: {e}"),
        }
    }
    Ok(out)
}

fn describe(dir: &StateDir, users: &Users) -> Result<ContainerState> {
    let st = dir.load()?;
    let status = dir.status(&st);
    let owner = std::fs::metadata(&dir.path)
        .map(|m| users.name(m.uid()))
        .unwrap_or_default();
    Ok(ContainerState {
        oci_version: st.oci_version,
        id: st.id,
        pid: if matches!(status, Status::Stopped) {
            0
        } else {
            st.pid.unwrap_or(0)
        },
        status: status.to_string(),
        bundle: st.bundle,
        rootfs: st.rootfs,
        created: st.created,
        annotations: st.annotations,
        owner,
    })
}

/// The host's user names, read once for a whole listing.
struct Users(String);

impl Users {
    fn read() -> Users {
        Users(std::fs::read_to_string("/etc/passwd").unwrap_or_default())
    }

    /// The name of `uid`, or `#uid` as runc prints it.
    fn name(&self, uid: u32) -> String {
        self.0
            .lines()
            .filter_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let id = f.nth(1)?.parse::<u32>().ok()?;
                (id == uid).then(|| name.to_string())
            })
            .next()
            .unwrap_or_else(|| format!("#{uid}"))
    }
}
