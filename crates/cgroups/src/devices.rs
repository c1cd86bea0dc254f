//! Device access: `linux.resources.devices`, then the devices every
//! container needs (runc's list), then the config's own `linux.devices`.
//! Later rules win over earlier ones.
//!
//! v1 takes the rules as lines for `devices.allow` / `devices.deny`; v2 has
//! no files for it and takes an eBPF program instead, assembled here: it
//! checks the rules last to first and returns the verdict of the first that
//! matches, which is the same "last rule wins" reading; a request no rule
//! matches is allowed, as v1 inherits its parent's allow-all.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Error, Result};

/// Access bits, as the kernel's `BPF_DEVCG_ACC_*`.
const MKNOD: u8 = 1;
const READ: u8 = 2;
const WRITE: u8 = 4;
const ALL: u8 = MKNOD | READ | WRITE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// `a`, `b` or `c`.
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl Rule {
    const fn allow_char(major: u32, minor: Option<u32>) -> Rule {
        Rule {
            allow: true,
            kind: 'c',
            major: Some(major),
            minor,
            access: ALL,
        }
    }

    /// The v1 file and line for this rule.
    pub fn v1_line(&self) -> (&'static str, String) {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        let mut access = String::new();
        for (bit, c) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
            if self.access & bit != 0 {
                access.push(c);
            }
        }
        let file = if self.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        if self.kind == 'a' {
            return (file, "a".to_string());
        }
        (
            file,
            format!("{} {}:{} {access}", self.kind, n(self.major), n(self.minor)),
        )
    }
}

/// What every container may use whatever its config says (runc's list):
/// mknod of anything, and null, zero, full, random, urandom, tty, ptmx and
/// the pty slaves.
const DEFAULTS: [Rule; 10] = [
    Rule {
        allow: true,
        kind: 'c',
        major: None,
        minor: None,
        access: MKNOD,
    },
    Rule {
        allow: true,
        kind: 'b',
        major: None,
        minor: None,
        access: MKNOD,
    },
    Rule::allow_char(1, Some(3)),
    Rule::allow_char(1, Some(8)),
    Rule::allow_char(1, Some(7)),
    Rule::allow_char(5, Some(0)),
    Rule::allow_char(1, Some(5)),
    Rule::allow_char(1, Some(9)),
    Rule::allow_char(136, None),
    Rule::allow_char(5, Some(2)),
];

fn number(v: Option<i64>, field: &str) -> Result<Option<u32>> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| Error::invalid(field, format!("{n} is not a device number"))),
    }
}

fn parse_access(text: &str, field: &str) -> Result<u8> {
    text.chars().try_fold(0, |acc, c| match c {
        'r' => Ok(acc | READ),
        'w' => Ok(acc | WRITE),
        'm' => Ok(acc | MKNOD),
        _ => Err(Error::invalid(
            field,
            format!("access {text:?} is not made of r, w and m"),
        )),
    })
}

fn config_rule(i: usize, d: &LinuxDeviceCgroup) -> Result<Rule> {
    let field = format!("linux.resources.devices[{i}]");
    let kind = match d.typ().unwrap_or_default() {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            return Err(Error::invalid(
                field,
                "fifos are not governed by the device cgroup",
            ))
        }
    };
    Ok(Rule {
        allow: d.allow(),
        kind,
        major: number(d.major(), &field)?,
        minor: number(d.minor(), &field)?,
        access: d
            .access()
            .as_deref()
            .map_or(Ok(ALL), |a| parse_access(a, &field))?,
    })
}

/// The rules for a container, or `None` when nothing is denied (then there
/// is nothing to set up): the config's, then runc's defaults. The nodes of
/// `linux.devices` get no rule of their own: a config that denies
/// everything and allows only some of them gets exactly that, as in runc
/// (engines list the rules for the devices they add).
pub fn rules(config: &[LinuxDeviceCgroup]) -> Result<Option<Vec<Rule>>> {
    let mut rules = config
        .iter()
        .enumerate()
        .map(|(i, d)| config_rule(i, d))
        .collect::<Result<Vec<_>>>()?;
    if rules.iter().all(|r| r.allow) {
        return Ok(None);
    }
    rules.extend(DEFAULTS);
    Ok(Some(rules))
}

/// eBPF instruction encoding (`struct bpf_insn`).
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> sys::bpf::Insn {
    let mut b = [0u8; 8];
    b[0] = code;
    b[1] = (src << 4) | dst;
    b[2..4].copy_from_slice(&off.to_le_bytes());
    b[4..8].copy_from_slice(&imm.to_le_bytes());
    b
}

const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const AND32_K: u8 = 0x54; // w_dst &= imm
const RSH32_K: u8 = 0x74; // w_dst >>= imm
const MOV32_X: u8 = 0xbc; // w_dst = w_src
const MOV64_K: u8 = 0xb7; // r_dst = imm
const JNE_K: u8 = 0x55; // if r_dst != imm goto +off
const EXIT: u8 = 0x95;

/// The device program for `rules`. The context (`struct
/// bpf_cgroup_dev_ctx`) is `access_type` (device type in the low 16 bits,
/// access in the high 16), `major`, `minor`; they are loaded into r2..r5.
pub fn program(rules: &[Rule]) -> Vec<sys::bpf::Insn> {
    let mut prog = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        // Each check jumps past the rest of the block when it fails; the
        // offsets are filled in once the block's length is known.
        let mut checks: Vec<sys::bpf::Insn> = Vec::new();
        let mut jumps = Vec::new();
        match rule.kind {
            'b' => {
                jumps.push(checks.len());
                checks.push(insn(JNE_K, 2, 0, 0, 1));
            }
            'c' => {
                jumps.push(checks.len());
                checks.push(insn(JNE_K, 2, 0, 0, 2));
            }
            _ => {}
        }
        if rule.access & ALL != ALL {
            checks.push(insn(MOV32_X, 1, 3, 0, 0));
            checks.push(insn(AND32_K, 1, 0, 0, i32::from(!rule.access & ALL)));
            jumps.push(checks.len());
            checks.push(insn(JNE_K, 1, 0, 0, 0));
        }
        if rule.kind != 'a' {
            for (reg, value) in [(4, rule.major), (5, rule.minor)] {
                if let Some(v) = value {
                    jumps.push(checks.len());
                    checks.push(insn(JNE_K, reg, 0, 0, v as i32));
                }
            }
        }
        let matches_everything = checks.is_empty();
        checks.push(insn(MOV64_K, 0, 0, 0, i32::from(rule.allow)));
        checks.push(insn(EXIT, 0, 0, 0, 0));
        let len = checks.len();
        for j in jumps {
            let off = i16::try_from(len - j - 1).expect("a rule block is a few instructions");
            checks[j][2..4].copy_from_slice(&off.to_le_bytes());
        }
        prog.extend(checks);
        // The verifier refuses unreachable instructions: nothing may follow
        // a rule that decides every request.
        if matches_everything {
            return prog;
        }
    }
    prog.push(insn(MOV64_K, 0, 0, 0, 1));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    prog
}

/// Evaluate `program` for one request, as the kernel would: a small
/// interpreter of the instructions `program` emits, for tests.
#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // 32-bit ALU ops truncate by definition
fn run(program: &[sys::bpf::Insn], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
    let ctx = [kind | (access << 16), major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0;
    loop {
        let i = program[pc];
        let (dst, src) = ((i[1] & 0xf) as usize, (i[1] >> 4) as usize);
        let off = i16::from_le_bytes([i[2], i[3]]);
        let imm = i32::from_le_bytes([i[4], i[5], i[6], i[7]]);
        pc += 1;
        match i[0] {
            LDX_W => r[dst] = u64::from(ctx[(off / 4) as usize]),
            AND32_K => r[dst] = (r[dst] as u32 & imm as u32) as u64,
            RSH32_K => r[dst] = ((r[dst] as u32) >> imm) as u64,
            MOV32_X => r[dst] = r[src] as u32 as u64,
            MOV64_K => r[dst] = imm as i64 as u64,
            JNE_K if r[dst] != imm as i64 as u64 => pc += off as usize,
            JNE_K => {}
            EXIT => return r[0],
            other => panic!("unexpected opcode {other:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: serde_json::Value) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_value(v).unwrap()
    }

    const CHAR: u32 = 2;
    const BLOCK: u32 = 1;

    #[test]
    fn nothing_to_do_without_a_deny() {
        assert_eq!(rules(&[]).unwrap(), None);
        assert_eq!(
            rules(&cfg(json!([{"allow": true, "access": "rwm"}]))).unwrap(),
            None
        );
    }

    #[test]
    fn deny_all_then_defaults() {
        let r = rules(&cfg(json!([{"allow": false, "access": "rwm"}])))
            .unwrap()
            .unwrap();
        let lines: Vec<_> = r.iter().map(Rule::v1_line).collect();
        assert_eq!(lines[0], ("devices.deny", "a".to_string()));
        assert_eq!(lines[1], ("devices.allow", "c *:* m".to_string()));
        assert_eq!(lines[3], ("devices.allow", "c 1:3 rwm".to_string()));
        assert_eq!(lines[9], ("devices.allow", "c 136:* rwm".to_string()));
        let p = program(&r);
        // The deny-all decides what no later rule does; nothing follows it.
        assert_eq!(
            &p[p.len() - 2..],
            &[insn(MOV64_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]
        );
        assert_eq!(run(&p, CHAR, READ.into(), 1, 3), 1, "null readable");
        assert_eq!(run(&p, CHAR, WRITE.into(), 136, 7), 1, "pts writable");
        assert_eq!(run(&p, CHAR, READ.into(), 1, 1), 0, "mem denied");
        assert_eq!(run(&p, BLOCK, READ.into(), 8, 0), 0, "disk denied");
        assert_eq!(run(&p, BLOCK, MKNOD.into(), 8, 0), 1, "mknod allowed");
    }

    #[test]
    fn later_rules_win() {
        let r = rules(&cfg(json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "b", "major": 8, "access": "r"},
            {"allow": false, "type": "b", "major": 8, "minor": 1, "access": "rwm"}
        ])))
        .unwrap()
        .unwrap();
        let p = program(&r);
        assert_eq!(run(&p, BLOCK, READ.into(), 8, 0), 1);
        assert_eq!(run(&p, BLOCK, WRITE.into(), 8, 0), 0, "only r was allowed");
        assert_eq!(run(&p, BLOCK, READ.into(), 8, 1), 0, "the later deny wins");
    }

    #[test]
    fn only_the_rules_decide() {
        let r = rules(&cfg(json!([{"allow": false, "access": "rwm"}])))
            .unwrap()
            .unwrap();
        assert_eq!(
            run(&program(&r), CHAR, READ.into(), 10, 229),
            0,
            "fuse denied"
        );
        let r = rules(&cfg(json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}
        ])))
        .unwrap()
        .unwrap();
        assert_eq!(
            run(&program(&r), CHAR, READ.into(), 10, 229),
            1,
            "fuse allowed"
        );
    }

    #[test]
    fn bad_rules_name_their_field() {
        let e = rules(&cfg(json!([{"allow": false, "access": "rwx"}]))).unwrap_err();
        assert!(
            e.to_string().starts_with("linux.resources.devices[0]: "),
            "{e}"
        );
    }
}
