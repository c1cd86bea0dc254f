//! `mounts[].options` as the spec and runc accept them, translated for the
//! new mount API: per-mount attributes (`fsmount`/`mount_setattr`),
//! recursive attributes (`r*`, applied with `AT_RECURSIVE`), propagation,
//! superblock flags and filesystem data (`fsconfig`).

use rustix::mount::MountAttrFlags as A;

const MOUNT_ATTR_RDONLY: A = A::MOUNT_ATTR_RDONLY;
const MOUNT_ATTR_NOSUID: A = A::MOUNT_ATTR_NOSUID;
const MOUNT_ATTR_NODEV: A = A::MOUNT_ATTR_NODEV;
const MOUNT_ATTR_NOEXEC: A = A::MOUNT_ATTR_NOEXEC;
const MOUNT_ATTR_NODIRATIME: A = A::MOUNT_ATTR_NODIRATIME;
const MOUNT_ATTR_NOSYMFOLLOW: A = A::MOUNT_ATTR_NOSYMFOLLOW;
const MOUNT_ATTR__ATIME: A = A::MOUNT_ATTR__ATIME;
const MOUNT_ATTR_NOATIME: A = A::MOUNT_ATTR_NOATIME;
const MOUNT_ATTR_STRICTATIME: A = A::MOUNT_ATTR_STRICTATIME;
const MOUNT_ATTR_RELATIME: A = A::MOUNT_ATTR_RELATIME;
const NONE: A = A::empty();

/// Attributes to set and clear on a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    pub set: A,
    pub clear: A,
}

impl Default for Attrs {
    fn default() -> Self {
        Attrs {
            set: NONE,
            clear: NONE,
        }
    }
}

impl Attrs {
    fn apply(&mut self, set: A, clear: A) {
        self.set = (self.set & !clear) | set;
        self.clear = (self.clear & !set) | clear;
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.clear.is_empty()
    }
}

/// How a bind mount copies its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    /// `bind`: the source mount only.
    Single,
    /// `rbind`: the source and every mount below it.
    Recursive,
}

/// Mount propagation, as `MS_*` flags for `mount_setattr`'s `propagation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Propagation {
    pub flag: u64,
    pub recursive: bool,
}

/// One `mounts[]` entry's options, parsed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Attributes of the mount itself.
    pub attrs: Attrs,
    /// Attributes applied to the mount and every mount below it.
    pub recursive_attrs: Attrs,
    pub bind: Option<Bind>,
    pub propagation: Option<Propagation>,
    /// `remount`: change the attributes of the mount already there.
    pub remount: bool,
    /// `idmap` (false) or `ridmap` (true): an idmapped bind mount.
    pub idmap: Option<bool>,
    /// `tmpcopyup` (runc's extension, podman sends it): a tmpfs starts
    /// with a copy of what the image has at its destination.
    pub tmpcopyup: bool,
    /// Generic superblock flags (`sync`, `dirsync`, `lazytime`, `mand`),
    /// passed to `fsconfig` as flags.
    pub sb_flags: Vec<&'static str>,
    /// Filesystem-specific data: `key=value` or bare `key`.
    pub data: Vec<(String, Option<String>)>,
}

const fn atime(mode: A) -> (A, A) {
    (mode, MOUNT_ATTR__ATIME)
}

/// Per-mount attributes: (option, (set, clear)). With an `r` prefix each
/// applies recursively.
const ATTR_OPTIONS: [(&str, (A, A)); 17] = [
    ("ro", (MOUNT_ATTR_RDONLY, NONE)),
    ("rw", (NONE, MOUNT_ATTR_RDONLY)),
    ("nosuid", (MOUNT_ATTR_NOSUID, NONE)),
    ("suid", (NONE, MOUNT_ATTR_NOSUID)),
    ("nodev", (MOUNT_ATTR_NODEV, NONE)),
    ("dev", (NONE, MOUNT_ATTR_NODEV)),
    ("noexec", (MOUNT_ATTR_NOEXEC, NONE)),
    ("exec", (NONE, MOUNT_ATTR_NOEXEC)),
    ("nodiratime", (MOUNT_ATTR_NODIRATIME, NONE)),
    ("diratime", (NONE, MOUNT_ATTR_NODIRATIME)),
    ("nosymfollow", (MOUNT_ATTR_NOSYMFOLLOW, NONE)),
    ("symfollow", (NONE, MOUNT_ATTR_NOSYMFOLLOW)),
    ("noatime", atime(MOUNT_ATTR_NOATIME)),
    ("strictatime", atime(MOUNT_ATTR_STRICTATIME)),
    // Clears MS_RELATIME without choosing another mode: with mount(2), and
    // so in runc, the mount stays relatime (the kernel's default).
    ("norelatime", (NONE, NONE)),
    ("relatime", atime(MOUNT_ATTR_RELATIME)),
    ("nostrictatime", atime(MOUNT_ATTR_RELATIME)),
];

/// `atime` clears `noatime`: the default, relatime.
const ATIME: (&str, (A, A)) = ("atime", atime(MOUNT_ATTR_RELATIME));

const PROPAGATION_OPTIONS: [(&str, u64, bool); 8] = [
    ("private", libc::MS_PRIVATE, false),
    ("rprivate", libc::MS_PRIVATE, true),
    ("shared", libc::MS_SHARED, false),
    ("rshared", libc::MS_SHARED, true),
    ("slave", libc::MS_SLAVE, false),
    ("rslave", libc::MS_SLAVE, true),
    ("unbindable", libc::MS_UNBINDABLE, false),
    ("runbindable", libc::MS_UNBINDABLE, true),
];

/// Generic superblock flags, passed to `fsconfig` as flags: the kernel
/// knows these for every filesystem. (`acl` and `iversion` are data of the
/// filesystems that have them.)
const SB_FLAGS: [&str; 4] = ["sync", "dirsync", "lazytime", "mand"];

/// Options that undo a superblock flag: the new mount API starts without
/// any, so they only cancel an earlier option in the same list.
const SB_FLAG_NEGATIONS: [(&str, &str); 3] = [
    ("async", "sync"),
    ("nolazytime", "lazytime"),
    ("nomand", "mand"),
];

/// Options about how, not what, to mount. `silent` and `loud` govern
/// mount(2)'s kernel log messages; with the new mount API errors go to the
/// filesystem context (and into crust's error), so both are accepted and
/// change nothing.
const MOUNT_KINDS: [&str; 9] = [
    "bind",
    "rbind",
    "remount",
    "defaults",
    "silent",
    "loud",
    "idmap",
    "ridmap",
    "tmpcopyup",
];

/// The per-mount attribute an option sets or clears, if it is one.
fn attr_option(name: &str) -> Option<(A, A)> {
    ATTR_OPTIONS
        .iter()
        .chain([&ATIME])
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
}

fn propagation_option(name: &str) -> Option<Propagation> {
    PROPAGATION_OPTIONS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|&(_, flag, recursive)| Propagation { flag, recursive })
}

fn sb_flag(name: &str) -> Option<&'static str> {
    SB_FLAGS.into_iter().find(|f| *f == name)
}

fn sb_flag_negation(name: &str) -> Option<&'static str> {
    SB_FLAG_NEGATIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
}

/// Every option `parse` recognizes (for `features`), sorted. Filesystem
/// data is not listed, as features.md asks.
pub fn recognized() -> Vec<String> {
    let attrs = ATTR_OPTIONS.iter().chain([&ATIME]).map(|(n, _)| *n);
    let mut all: Vec<String> = attrs
        .clone()
        .map(String::from)
        .chain(attrs.map(|n| format!("r{n}")))
        .chain(PROPAGATION_OPTIONS.iter().map(|(n, ..)| n.to_string()))
        .chain(SB_FLAGS.iter().map(|n| n.to_string()))
        .chain(SB_FLAG_NEGATIONS.iter().map(|(n, _)| n.to_string()))
        .chain(MOUNT_KINDS.iter().map(|n| n.to_string()))
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Parse a mount's option list. Anything that is not a generic option is
/// filesystem data, as with mount(8).
pub fn parse<S: AsRef<str>>(options: &[S]) -> MountOptions {
    let mut out = MountOptions::default();
    for opt in options {
        let opt = opt.as_ref();
        if let Some((set, clear)) = attr_option(opt) {
            out.attrs.apply(set, clear);
        } else if let Some((set, clear)) = opt.strip_prefix('r').and_then(attr_option) {
            out.recursive_attrs.apply(set, clear);
        } else if let Some(p) = propagation_option(opt) {
            out.propagation = Some(p);
        } else if let Some(f) = sb_flag(opt) {
            if !out.sb_flags.contains(&f) {
                out.sb_flags.push(f);
            }
        } else if let Some(f) = sb_flag_negation(opt) {
            out.sb_flags.retain(|x| *x != f);
        } else {
            match opt {
                "bind" => out.bind = Some(out.bind.unwrap_or(Bind::Single)),
                "rbind" => out.bind = Some(Bind::Recursive),
                "remount" => out.remount = true,
                "idmap" => out.idmap = Some(out.idmap.unwrap_or(false)),
                "ridmap" => out.idmap = Some(true),
                "tmpcopyup" => out.tmpcopyup = true,
                "defaults" | "silent" | "loud" | "" => {}
                data => {
                    let (k, v) = match data.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (data.to_string(), None),
                    };
                    out.data.push((k, v));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_default_dev_mount() {
        let o = parse(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.attrs.set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME);
        assert_eq!(o.attrs.clear, MOUNT_ATTR__ATIME);
        assert_eq!(
            o.data,
            vec![
                ("mode".into(), Some("755".into())),
                ("size".into(), Some("65536k".into()))
            ]
        );
        assert_eq!(o.bind, None);
    }

    #[test]
    fn later_options_win() {
        let o = parse(&["ro", "rw", "noexec", "exec", "nosuid"]);
        assert_eq!(o.attrs.set, MOUNT_ATTR_NOSUID);
        assert_eq!(o.attrs.clear, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC);
    }

    #[test]
    fn recursive_attributes_are_separate() {
        let o = parse(&["rbind", "rro", "rnosymfollow", "nodev"]);
        assert_eq!(o.bind, Some(Bind::Recursive));
        assert_eq!(
            o.recursive_attrs.set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSYMFOLLOW
        );
        assert_eq!(o.attrs.set, MOUNT_ATTR_NODEV);
    }

    #[test]
    fn rbind_is_not_downgraded_by_bind() {
        assert_eq!(parse(&["rbind", "bind"]).bind, Some(Bind::Recursive));
        assert_eq!(parse(&["bind"]).bind, Some(Bind::Single));
    }

    #[test]
    fn propagation_and_flags() {
        let o = parse(&[
            "rslave",
            "sync",
            "lazytime",
            "nolazytime",
            "newinstance",
            "gid=5",
        ]);
        assert_eq!(
            o.propagation,
            Some(Propagation {
                flag: libc::MS_SLAVE,
                recursive: true
            })
        );
        assert_eq!(o.sb_flags, vec!["sync"]);
        assert_eq!(
            o.data,
            vec![
                ("newinstance".into(), None),
                ("gid".into(), Some("5".into()))
            ]
        );
    }

    #[test]
    fn every_recognized_option_is_parsed_as_an_option_not_data() {
        let all = recognized();
        for opt in &all {
            assert!(
                parse(&[opt.as_str()]).data.is_empty(),
                "{opt} taken as data"
            );
        }
        for expected in [
            "rro",
            "rnosymfollow",
            "ratime",
            "rprivate",
            "nosymfollow",
            "lazytime",
            "rbind",
            "tmpcopyup",
        ] {
            assert!(all.contains(&expected.to_string()), "{expected}");
        }
    }

    #[test]
    fn remount_and_defaults() {
        let o = parse(&["remount", "defaults", "ro"]);
        assert!(o.remount);
        assert!(o.data.is_empty());
        assert_eq!(o.attrs.set, MOUNT_ATTR_RDONLY);
    }
}
