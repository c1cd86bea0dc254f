//! The calls to systemd's manager, each in as few round trips as the
//! protocol allows.
//!
//! As root, crust talks to systemd on its private socket
//! (`/run/systemd/private`, what `systemctl` uses): no bus daemon in
//! between, no `Hello`, and the `JobRemoved` signal comes unasked. Only
//! when that socket cannot be reached does it use the system bus (or, for
//! a user's manager, `$XDG_RUNTIME_DIR/systemd/private`, then the session
//! bus), where `Hello`, `AddMatch` and `Subscribe` are sent in the same
//! write as the first call.

use std::path::PathBuf;
use std::time::Duration;

use dbus::{Bus, Connection, Message, Value};

use super::properties::Property;
use super::Unit;
use crate::error::{Error, Result};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long a job may take (systemd's own default job timeout is far
/// longer; a scope starts in milliseconds).
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Manager {
    conn: Connection,
    subscribed: bool,
}

fn call(member: &str, body: Vec<Value>) -> Message {
    Message::method_call(DEST, PATH, MANAGER, member).with_body(body)
}

fn properties(props: Vec<Property>) -> Value {
    Value::Array(
        "(sv)".into(),
        props
            .into_iter()
            .map(|(n, v)| Value::Struct(vec![Value::Str(n), Value::Variant(Box::new(v))]))
            .collect(),
    )
}

impl Manager {
    /// Connect to the system's manager, or to the calling user's.
    pub fn connect(user: bool) -> Result<Manager> {
        let candidates = sockets(user)?;
        let mut last = None;
        for (path, bus) in candidates {
            match Connection::open(&path, bus, TIMEOUT) {
                Ok(conn) => {
                    log::debug!("systemd: connected to {path}");
                    return Ok(Manager {
                        conn,
                        subscribed: bus == Bus::Direct,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(Error::Systemd {
            call: "connect".into(),
            detail: format!(
                "{} (is systemd running{}?)",
                last.map(|e| e.to_string()).unwrap_or_default(),
                if user {
                    " as your user manager, with XDG_RUNTIME_DIR set"
                } else {
                    ""
                }
            ),
        })
    }

    /// What the connection has cost so far: method calls, round trips.
    pub fn cost(&self) -> (u32, u32) {
        (self.conn.calls, self.conn.round_trips)
    }

    /// The manager's own cgroup, which its units' paths are relative to
    /// (`/` for the system's; `/user.slice/user-1000.slice/user@1000.service`
    /// for a user's).
    pub fn root_cgroup(&mut self) -> Result<PathBuf> {
        let get = Message::method_call(DEST, PATH, "org.freedesktop.DBus.Properties", "Get")
            .with_body(vec![
                Value::Str(MANAGER.into()),
                Value::Str("ControlGroup".into()),
            ]);
        let reply = self.conn.call(get).map_err(failed("get ControlGroup"))?;
        let cg = first_str(&reply);
        Ok(PathBuf::from(if cg.is_empty() { "/".into() } else { cg }))
    }

    /// Before the first job on a message bus: ask for its signals, in the
    /// same write as the job's call.
    fn with_subscription(&mut self, calls: Vec<Message>) -> (Vec<Message>, usize) {
        if self.subscribed {
            return (calls, 0);
        }
        self.subscribed = true;
        let rule = format!(
            "type='signal',sender='{DEST}',path='{PATH}',interface='{MANAGER}',member='JobRemoved'"
        );
        let mut all = vec![
            Message::method_call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
            )
            .with_body(vec![Value::Str(rule)]),
            call("Subscribe", vec![]),
        ];
        all.extend(calls);
        (all, 2)
    }

    /// Send `calls` (after a subscription, when one is needed) and return
    /// their replies.
    fn send(&mut self, calls: Vec<Message>, what: &str) -> Result<Vec<dbus::Result<Message>>> {
        let (calls, skip) = self.with_subscription(calls);
        let mut replies = self.conn.call_all(calls).map_err(failed(what))?;
        for r in replies.drain(..skip) {
            // Already subscribed by an earlier connection of ours: fine.
            if let Err(e) = r {
                if e.reply_name() != Some("org.freedesktop.systemd1.AlreadySubscribed") {
                    return Err(failed("subscribe to JobRemoved")(e));
                }
            }
        }
        Ok(replies)
    }

    /// Wait for the job to finish; its result must be "done".
    fn wait_job(&mut self, job: &str, what: &str) -> Result<()> {
        let signal = self
            .conn
            .wait_signal("systemd's JobRemoved signal", |m| {
                m.member.as_deref() == Some("JobRemoved")
                    && m.body.get(1).and_then(Value::as_str) == Some(job)
            })
            .map_err(failed(what))?;
        match signal.body.get(3).and_then(Value::as_str) {
            Some("done") => Ok(()),
            other => Err(Error::Systemd {
                call: what.into(),
                detail: format!(
                    "the job finished with result {:?} (see journalctl -u {})",
                    other.unwrap_or(""),
                    signal.body.get(2).and_then(Value::as_str).unwrap_or("")
                ),
            }),
        }
    }

    /// Start the transient unit with `pid` in it, and wait until systemd
    /// has made it. A unit of that name left failed by an earlier
    /// container is reset and the start tried once more.
    pub fn start(&mut self, unit: &Unit, pid: Option<u32>, mut props: Vec<Property>) -> Result<()> {
        let what = format!("StartTransientUnit {}", unit.name);
        if unit.is_slice() {
            props.insert(
                0,
                (
                    "Description".into(),
                    Value::Str(format!("crust slice {}", unit.name)),
                ),
            );
        } else {
            let mut base = vec![
                (
                    "Description".into(),
                    Value::Str(format!("crust container {}", unit.name)),
                ),
                ("Slice".into(), Value::Str(unit.slice.clone())),
                ("Delegate".into(), Value::Bool(true)),
            ];
            if let Some(pid) = pid {
                base.push((
                    "PIDs".into(),
                    Value::Array("u".into(), vec![Value::U32(pid)]),
                ));
            }
            props.splice(0..0, base);
        }
        props.push(("DefaultDependencies".into(), Value::Bool(false)));
        // A later property of the same name wins in systemd: annotations,
        // appended by the caller, override these.
        let body = vec![
            Value::Str(unit.name.clone()),
            Value::Str("replace".into()),
            properties(props),
            Value::Array("(sa(sv))".into(), vec![]),
        ];
        let start = call("StartTransientUnit", body);
        let mut reply = self.send(vec![start.clone()], &what)?.remove(0);
        if let Err(e) = &reply {
            if e.reply_name() == Some("org.freedesktop.systemd1.UnitExists") {
                log::debug!(
                    "systemd: {} exists; resetting it and trying again",
                    unit.name
                );
                let mut again = self
                    .send(
                        vec![
                            call("ResetFailedUnit", vec![Value::Str(unit.name.clone())]),
                            start,
                        ],
                        &what,
                    )?
                    .into_iter();
                let _ = again.next();
                reply = again.next().expect("two replies");
            }
        }
        let job = first_str(&reply.map_err(failed(&what))?);
        self.wait_job(&job, &what)
    }

    /// Change a running unit's properties (`update`).
    pub fn set(&mut self, unit: &Unit, props: Vec<Property>) -> Result<()> {
        if props.is_empty() {
            return Ok(());
        }
        let what = format!("SetUnitProperties {}", unit.name);
        let body = vec![
            Value::Str(unit.name.clone()),
            Value::Bool(true),
            properties(props),
        ];
        self.send(vec![call("SetUnitProperties", body)], &what)?
            .remove(0)
            .map_err(failed(&what))
            .map(drop)
    }

    /// Stop the unit and make sure nothing of it stays loaded: a failed
    /// unit is reset (first, in the same write: stopping a failed unit
    /// leaves it failed), then a running one stopped and waited for. A
    /// unit systemd already collected is fine.
    pub fn stop(&mut self, unit: &Unit) -> Result<()> {
        let what = format!("StopUnit {}", unit.name);
        let name = || Value::Str(unit.name.clone());
        let replies = self.send(
            vec![
                call("ResetFailedUnit", vec![name()]),
                call("StopUnit", vec![name(), Value::Str("replace".into())]),
            ],
            &what,
        )?;
        let stop = replies.into_iter().nth(1).expect("two replies");
        match stop {
            Ok(reply) => {
                let job = first_str(&reply);
                let result = self.wait_job(&job, &what);
                if result.is_err() {
                    // Stopped, but failed on the way (a stop timeout): do
                    // not leave it listed.
                    let reset = call("ResetFailedUnit", vec![name()]);
                    let _ = self.send(vec![reset], "ResetFailedUnit");
                }
                result
            }
            Err(e) if e.reply_name() == Some("org.freedesktop.systemd1.NoSuchUnit") => Ok(()),
            Err(e) => Err(failed(&what)(e)),
        }
    }
}

/// A reply's first value as text (a job's path, a property's value).
fn first_str(reply: &Message) -> String {
    reply
        .body
        .first()
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn failed(what: &str) -> impl FnOnce(dbus::Error) -> Error + '_ {
    move |e| Error::Systemd {
        call: what.to_string(),
        detail: e.to_string(),
    }
}

/// The sockets to try, best first.
fn sockets(user: bool) -> Result<Vec<(String, Bus)>> {
    if !user {
        let bus = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
            .ok()
            .and_then(|a| dbus::socket_of_address(&a))
            .unwrap_or_else(|| "/run/dbus/system_bus_socket".into());
        return Ok(vec![
            ("/run/systemd/private".into(), Bus::Direct),
            (bus, Bus::MessageBus),
        ]);
    }
    let runtime = std::env::var("XDG_RUNTIME_DIR")
        .ok()
        .filter(|d| !d.is_empty());
    let mut out = Vec::new();
    if let Some(dir) = &runtime {
        out.push((format!("{dir}/systemd/private"), Bus::Direct));
    }
    let session = std::env::var("DBUS_SESSION_BUS_ADDRESS")
        .ok()
        .and_then(|a| dbus::socket_of_address(&a))
        .or_else(|| runtime.as_ref().map(|d| format!("{d}/bus")));
    match session {
        Some(s) => out.push((s, Bus::MessageBus)),
        None if out.is_empty() => {
            return Err(Error::Systemd {
                call: "connect".into(),
                detail: "neither XDG_RUNTIME_DIR nor DBUS_SESSION_BUS_ADDRESS is set: \
                         the user's systemd manager cannot be found"
                    .into(),
            })
        }
        None => {}
    }
    Ok(out)
}
