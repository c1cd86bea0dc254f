//! Just enough rtnetlink for `linux.netDevices`: find a link, list its
//! addresses, move it into a network namespace (renaming it), add an
//! address, set it up. Used by the runtime (on the host) and by the init
//! (inside the container's network namespace).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use serde::{Deserialize, Serialize};

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
const IFF_UP: u32 = 0x1;

/// An address of a link, as `RTM_GETADDR` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub family: u8,
    pub prefix_len: u8,
    pub scope: u8,
    pub flags: u32,
    pub local: Vec<u8>,
    pub address: Vec<u8>,
}

/// A route netlink socket.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

fn attr(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// `struct ifinfomsg`.
fn ifinfomsg(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut b = vec![0u8; 4]; // family, pad, type
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&change.to_ne_bytes());
    b
}

/// The attributes following a fixed header of `skip` bytes.
fn attrs(payload: &[u8], skip: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut rest = payload.get(skip..).unwrap_or_default();
    while rest.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let kind = u16::from_ne_bytes([rest[2], rest[3]]);
        if len < 4 || len > rest.len() {
            break;
        }
        out.push((kind, &rest[4..len]));
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

impl Netlink {
    pub fn open() -> Result<Netlink, Errno> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            None, // NETLINK_ROUTE is protocol 0
        )?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0))?;
        Ok(Netlink { fd, seq: 0 })
    }

    /// Send one request and collect the payloads of its answers, until the
    /// acknowledgement (or the end of a dump).
    fn request(&mut self, kind: u16, flags: u16, body: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        self.seq += 1;
        let mut msg = Vec::with_capacity(16 + body.len());
        msg.extend_from_slice(
            &u32::try_from(16 + body.len())
                .unwrap_or(u32::MAX)
                .to_ne_bytes(),
        );
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        rustix::net::send(&self.fd, &msg, SendFlags::empty())?;
        let mut answers = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = rustix::net::recv(&self.fd, &mut buf, RecvFlags::empty())?.0;
            let mut rest = &buf[..n];
            while rest.len() >= 16 {
                let len = usize::try_from(u32_at(rest, 0)).unwrap_or(0);
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                if len < 16 || len > rest.len() {
                    return Err(Errno::PROTO);
                }
                let payload = &rest[16..len];
                match kind {
                    NLMSG_DONE => return Ok(answers),
                    NLMSG_ERROR => {
                        let code = i32::from_ne_bytes(
                            payload
                                .get(..4)
                                .ok_or(Errno::PROTO)?
                                .try_into()
                                .map_err(|_| Errno::PROTO)?,
                        );
                        return if code == 0 {
                            Ok(answers)
                        } else {
                            Err(Errno::from_raw_os_error(-code))
                        };
                    }
                    _ => answers.push(payload.to_vec()),
                }
                rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
            }
        }
    }

    /// The index of the link called `name`.
    pub fn link_index(&mut self, name: &str) -> Result<i32, Errno> {
        let mut body = ifinfomsg(0, 0, 0);
        attr(&mut body, IFLA_IFNAME, &nul_terminated(name));
        let answers = self.request(RTM_GETLINK, 0, &body)?;
        let first = answers.first().ok_or(Errno::NODEV)?;
        Ok(i32::from_ne_bytes(
            first
                .get(4..8)
                .ok_or(Errno::PROTO)?
                .try_into()
                .map_err(|_| Errno::PROTO)?,
        ))
    }

    /// The permanent, global addresses of link `index` (those a move into
    /// another namespace must carry over).
    pub fn permanent_addresses(&mut self, index: i32) -> Result<Vec<Address>, Errno> {
        let answers = self.request(RTM_GETADDR, NLM_F_DUMP, &[0u8; 8])?;
        let mut out = Vec::new();
        for a in answers {
            if a.len() < 8 || u32_at(&a, 4) != index.unsigned_abs() {
                continue;
            }
            let mut addr = Address {
                family: a[0],
                prefix_len: a[1],
                flags: u32::from(a[2]),
                scope: a[3],
                local: vec![],
                address: vec![],
            };
            for (kind, data) in attrs(&a, 8) {
                match kind {
                    IFA_LOCAL => addr.local = data.to_vec(),
                    IFA_ADDRESS => addr.address = data.to_vec(),
                    IFA_FLAGS => addr.flags = u32_at(data, 0),
                    _ => {}
                }
            }
            if addr.flags & IFA_F_PERMANENT != 0 && addr.scope == RT_SCOPE_UNIVERSE {
                out.push(addr);
            }
        }
        Ok(out)
    }

    /// Move link `index` into the network namespace `netns`, named `name`.
    pub fn move_to(&mut self, index: i32, netns: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
        let mut body = ifinfomsg(index, 0, 0);
        attr(
            &mut body,
            IFLA_NET_NS_FD,
            &u32::try_from(netns.as_raw_fd()).unwrap_or(0).to_ne_bytes(),
        );
        attr(&mut body, IFLA_IFNAME, &nul_terminated(name));
        self.request(RTM_NEWLINK, 0, &body).map(|_| ())
    }

    /// Add `addr` to link `index`.
    pub fn add_address(&mut self, index: i32, addr: &Address) -> Result<(), Errno> {
        let flags_byte = u8::try_from(addr.flags & 0xff).unwrap_or(0);
        let mut body = vec![addr.family, addr.prefix_len, flags_byte, addr.scope];
        body.extend_from_slice(&index.to_ne_bytes());
        if !addr.local.is_empty() {
            attr(&mut body, IFA_LOCAL, &addr.local);
        }
        if !addr.address.is_empty() {
            attr(&mut body, IFA_ADDRESS, &addr.address);
        }
        attr(&mut body, IFA_FLAGS, &addr.flags.to_ne_bytes());
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &body)
            .map(|_| ())
    }

    /// Set link `index` up.
    pub fn set_up(&mut self, index: i32) -> Result<(), Errno> {
        self.request(RTM_NEWLINK, 0, &ifinfomsg(index, IFF_UP, IFF_UP))
            .map(|_| ())
    }
}

impl AsFd for Netlink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        let mut b = vec![0u8; 8];
        attr(&mut b, IFA_LOCAL, &[192, 0, 2, 1]);
        attr(&mut b, IFLA_IFNAME, b"eth0\0");
        let parsed = attrs(&b, 8);
        assert_eq!(
            parsed,
            vec![
                (IFA_LOCAL, &[192u8, 0, 2, 1][..]),
                (IFLA_IFNAME, &b"eth0\0"[..])
            ]
        );
    }

    #[test]
    fn the_loopback_link_is_found() {
        let mut nl = Netlink::open().unwrap();
        assert_eq!(nl.link_index("lo").unwrap(), 1);
        assert_eq!(nl.link_index("no-such-link-x"), Err(Errno::NODEV));
    }
}
