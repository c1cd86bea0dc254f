//! `linux.netDevices`: host network devices moved into the container's
//! network namespace, renamed, with their permanent global addresses
//! carried over (a move drops them) and set up by the init.

use std::os::fd::AsFd;

use init::netlink::Netlink;
use init::NetDevice;
use oci_spec::runtime::Spec;
use rustix::fs::{Mode, OFlags};
use rustix::thread::LinkNameSpaceType;

use crate::error::{Error, Result};
use crate::namespaces::Plan;

/// One device to move: where it is on the host, and what the init gets.
pub(crate) struct Move {
    host_name: String,
    index: i32,
    pub device: NetDevice,
}

fn field(host_name: &str) -> String {
    format!("linux.netDevices[{host_name:?}]")
}

/// Look the devices up on the host, before anything moves.
pub(crate) fn plan(spec: &Spec) -> Result<Vec<Move>> {
    let Some(devices) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<&String> = devices.keys().collect();
    names.sort();
    let mut nl = Netlink::open().map_err(Error::sys("open a route netlink socket"))?;
    names
        .into_iter()
        .map(|host_name| {
            let config = |detail: String| Error::Config {
                file: "config.json".into(),
                field: field(host_name),
                detail,
            };
            let index = nl
                .link_index(host_name)
                .map_err(|e| config(format!("no such device on the host ({e})")))?;
            let addresses = nl
                .permanent_addresses(index)
                .map_err(Error::sys(format!("list the addresses of {host_name}")))?;
            let name = devices[host_name]
                .name()
                .clone()
                .unwrap_or_else(|| host_name.clone());
            Ok(Move {
                host_name: host_name.clone(),
                index,
                device: NetDevice { name, addresses },
            })
        })
        .collect()
}

/// Move every device into the network namespace of the init `pid`: the
/// one it joined by path, or the one `clone3` made for it. (One the init
/// unshares itself, after joining others, does not exist yet: refused.)
pub(crate) fn move_into_container(
    moves: &[Move],
    plan: &Plan,
    pid: rustix::process::Pid,
) -> Result<()> {
    if moves.is_empty() {
        return Ok(());
    }
    let joined = plan
        .joins
        .iter()
        .find(|j| j.kind == LinkNameSpaceType::Network);
    let netns = match joined {
        Some(j) => j.fd.try_clone().map_err(Error::io("dup", &j.path))?,
        None if plan.clone_flags & libc::CLONE_NEWNET as u64 != 0 => {
            let path = format!("/proc/{}/ns/net", pid.as_raw_nonzero());
            rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(Error::sys(format!("open {path}")))?
        }
        None => {
            return Err(Error::Unsupported(
                "linux.netDevices: the network namespace is made after joining a user namespace; moving devices into it is not supported yet".into(),
            ))
        }
    };
    move_all(moves, netns)
}

/// Move every device into the network namespace `netns`.
fn move_all(moves: &[Move], netns: impl AsFd) -> Result<()> {
    let mut nl = Netlink::open().map_err(Error::sys("open a route netlink socket"))?;
    for m in moves {
        nl.move_to(m.index, netns.as_fd(), &m.device.name)
            .map_err(|e| {
                let hint = if e == rustix::io::Errno::EXIST {
                    " (a device of that name exists there; a name ending in %d picks a free one)"
                } else {
                    ""
                };
                Error::Sys {
                    op: format!(
                        "{}: move {} into the container as {}{hint}",
                        field(&m.host_name),
                        m.host_name,
                        m.device.name
                    ),
                    errno: e.into(),
                }
            })?;
    }
    Ok(())
}
