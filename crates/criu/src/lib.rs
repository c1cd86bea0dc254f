//! CRIU from crust: `criu swrk` started as a child over a `SOCK_SEQPACKET`
//! socketpair, one protobuf request per message, notifications answered
//! as they come (with the descriptor CRIU may attach), and the versions
//! and kernel features crust needs asked of CRIU itself.
//!
//! The process model is crust's: the caller is single-threaded when
//! [`Swrk::start`] forks, and the child sets its descriptors up with
//! ordinary Rust before it execs CRIU.

mod error;
pub mod rpc;
mod swrk;

pub use error::{Error, Result};
pub use swrk::{Child, Notification, Swrk};

/// A CRIU version as `VERSION` answers it, compared as runc does
/// (`major * 10000 + minor * 100 + sublevel`: 3.17.1 is 31701).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32);

impl Version {
    pub const fn new(major: u32, minor: u32, sublevel: u32) -> Version {
        Version(major * 10000 + minor * 100 + sublevel)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (major, minor, sub) = (self.0 / 10000, self.0 / 100 % 100, self.0 % 100);
        if sub == 0 {
            write!(f, "{major}.{minor}")
        } else {
            write!(f, "{major}.{minor}.{sub}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_and_print_as_criu_numbers_them() {
        assert_eq!(Version::new(3, 17, 1), Version(31701));
        assert!(Version::new(3, 17, 1) > Version::new(3, 16, 0));
        assert!(Version::new(2, 99, 0) < Version::new(3, 0, 0));
        assert_eq!(Version(31701).to_string(), "3.17.1");
        assert_eq!(Version(31600).to_string(), "3.16");
    }
}
