//! One connection: SASL `EXTERNAL` authentication (the kernel vouches for
//! our uid), `AUTH` and `BEGIN` in one write at open, the server's `OK`
//! awaited before the first call is written (as sd-bus's client does: an
//! idle user manager left a call that came in the same read as `BEGIN`
//! unanswered).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::wire::{Kind, Message};

/// What is at the other end of the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    /// A peer speaking to us directly (systemd's private socket): no bus
    /// daemon, no `Hello`, and systemd sends its signals to every such
    /// peer unasked.
    Direct,
    /// A message bus (dbus-daemon, dbus-broker): the first call must be
    /// `Hello`, and signals come only to those who asked for them.
    MessageBus,
}

#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
    path: PathBuf,
    bus: Bus,
    serial: u32,
    authenticated: bool,
    needs_hello: bool,
    buf: Vec<u8>,
    /// Messages read while waiting for something else (signals that
    /// arrived before a reply).
    queued: VecDeque<Message>,
    timeout: Duration,
    /// Method calls written and messages read, for the cost report.
    pub calls: u32,
    pub received: u32,
    pub round_trips: u32,
}

/// The path of the first `unix:` transport of a D-Bus address
/// (`unix:path=/run/user/0/bus,guid=…;…`); `abstract=` names come back
/// with a leading `@`.
pub fn socket_of_address(address: &str) -> Option<String> {
    address.split(';').find_map(|transport| {
        let rest = transport.strip_prefix("unix:")?;
        rest.split(',').find_map(|kv| match kv.split_once('=')? {
            ("path", p) => Some(unescape(p)),
            ("abstract", a) => Some(format!("@{}", unescape(a))),
            _ => None,
        })
    })
}

/// D-Bus addresses escape bytes as `%xx`.
fn unescape(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(byte) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Connection {
    /// Connect to the socket at `path` (`@name`: an abstract one) and
    /// send our credentials; nothing is read until the first call.
    pub fn open(path: &str, bus: Bus, timeout: Duration) -> Result<Connection> {
        let connect_error = |source| Error::Connect {
            path: PathBuf::from(path),
            source,
        };
        let stream = match path.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)
                    .map_err(connect_error)?;
                UnixStream::connect_addr(&addr)
            }
            None => UnixStream::connect(path),
        }
        .map_err(connect_error)?;
        let uid = rustix::process::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        let mut conn = Connection {
            stream,
            path: PathBuf::from(path),
            bus,
            serial: 0,
            authenticated: false,
            needs_hello: bus == Bus::MessageBus,
            buf: Vec::new(),
            queued: VecDeque::new(),
            timeout,
            calls: 0,
            received: 0,
            round_trips: 0,
        };
        conn.write(format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n").as_bytes())?;
        Ok(conn)
    }

    pub fn bus(&self) -> Bus {
        self.bus
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).map_err(Error::Io)
    }

    /// Send `calls` in one write and read their replies, in order: a
    /// method return, or the error reply as [`Error::Reply`]. On a message
    /// bus, `Hello` goes first on the first use.
    pub fn call_all(&mut self, mut calls: Vec<Message>) -> Result<Vec<Result<Message>>> {
        let hello = std::mem::take(&mut self.needs_hello);
        if hello {
            calls.insert(
                0,
                Message::method_call(
                    "org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus",
                    "Hello",
                ),
            );
        }
        let mut bytes = Vec::new();
        let mut serials = Vec::new();
        for call in &calls {
            self.serial += 1;
            serials.push(self.serial);
            bytes.extend_from_slice(&call.encode(self.serial));
            log::debug!(
                "dbus: call {}.{} on {}",
                call.interface.as_deref().unwrap_or(""),
                call.member.as_deref().unwrap_or(""),
                self.path.display()
            );
        }
        let deadline = Instant::now() + self.timeout;
        self.authenticate(deadline)?;
        self.calls += u32::try_from(calls.len()).unwrap_or(u32::MAX);
        self.round_trips += 1;
        self.write(&bytes)?;
        let mut replies: Vec<Option<Result<Message>>> = calls.iter().map(|_| None).collect();
        while replies.iter().any(Option::is_none) {
            let m = self.read_message(deadline, "the D-Bus peer")?;
            let slot = m
                .reply_serial
                .and_then(|r| serials.iter().position(|s| *s == r))
                .filter(|_| matches!(m.kind, Kind::MethodReturn | Kind::Error));
            match slot {
                Some(i) => replies[i] = Some(into_result(m)),
                None => self.queued.push_back(m),
            }
        }
        let mut replies: Vec<Result<Message>> = replies.into_iter().flatten().collect();
        if hello {
            replies.remove(0)?;
        }
        Ok(replies)
    }

    /// One call, one reply.
    pub fn call(&mut self, call: Message) -> Result<Message> {
        self.call_all(vec![call])?
            .pop()
            .expect("one reply per call")
    }

    /// Wait for a signal `wanted` accepts (those read earlier first).
    pub fn wait_signal(
        &mut self,
        what: &str,
        mut wanted: impl FnMut(&Message) -> bool,
    ) -> Result<Message> {
        if let Some(i) = self
            .queued
            .iter()
            .position(|m| m.kind == Kind::Signal && wanted(m))
        {
            return Ok(self.queued.remove(i).expect("found above"));
        }
        self.queued.clear();
        let deadline = Instant::now() + self.timeout;
        loop {
            let m = self.read_message(deadline, what)?;
            if m.kind == Kind::Signal && wanted(&m) {
                return Ok(m);
            }
        }
    }

    /// Wait for the server's `OK` to the `AUTH … BEGIN` written at open.
    /// The first method call is written only after it: a server that reads
    /// `BEGIN` and the first message in one read may leave the message
    /// unprocessed until more bytes arrive (a user's systemd manager,
    /// idle, never answered such a call), so crust does as sd-bus's own
    /// client does.
    fn authenticate(&mut self, deadline: Instant) -> Result<()> {
        while !self.authenticated {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                if !line.starts_with("OK ") {
                    return Err(Error::Auth {
                        path: self.path.clone(),
                        reply: line,
                    });
                }
                self.authenticated = true;
                return Ok(());
            }
            self.fill(deadline, "the D-Bus peer's authentication")?;
        }
        Ok(())
    }

    fn read_message(&mut self, deadline: Instant, what: &str) -> Result<Message> {
        self.authenticate(deadline)?;
        loop {
            if let Some(len) = Message::total_len(&self.buf)? {
                if self.buf.len() >= len {
                    let m = Message::decode(&self.buf[..len])?;
                    self.buf.drain(..len);
                    self.received += 1;
                    return Ok(m);
                }
            }
            self.fill(deadline, what)?;
        }
    }

    /// Read what the peer has sent, waiting until `deadline` at most.
    fn fill(&mut self, deadline: Instant, what: &str) -> Result<()> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.timed_out(what));
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(Error::Protocol(format!(
                        "{} closed the connection",
                        self.path.display()
                    )))
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.timed_out(what))
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }

    fn timed_out(&self, what: &str) -> Error {
        Error::Timeout {
            what: what.to_string(),
            secs: self.timeout.as_secs(),
        }
    }
}

fn into_result(m: Message) -> Result<Message> {
    if m.kind == Kind::Error {
        return Err(Error::Reply {
            name: m.error_name.clone().unwrap_or_default(),
            message: m
                .body
                .first()
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
        });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Value;

    #[test]
    fn addresses() {
        assert_eq!(
            socket_of_address("unix:path=/run/user/1000/bus").as_deref(),
            Some("/run/user/1000/bus")
        );
        assert_eq!(
            socket_of_address("tcp:host=x;unix:abstract=/tmp/dbus-x%2cy,guid=1").as_deref(),
            Some("@/tmp/dbus-x,y")
        );
        assert_eq!(socket_of_address("tcp:host=x,port=1"), None);
    }

    /// A peer on a socket of its own: authenticates us, answers each call
    /// with what `answer` says, and may send a signal first.
    fn fake_peer(answer: fn(&Message) -> Vec<Message>) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bus");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // The credentials byte, AUTH and BEGIN.
            while !buf.windows(7).any(|w| w == b"BEGIN\r\n") {
                let n = s.read(&mut chunk).unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            assert!(buf.starts_with(b"\0AUTH EXTERNAL "));
            let at = buf.windows(7).position(|w| w == b"BEGIN\r\n").unwrap() + 7;
            buf.drain(..at);
            s.write_all(b"OK 0123456789abcdef0123456789abcdef\r\n")
                .unwrap();
            let mut serial = 100;
            loop {
                while let Some(len) = Message::total_len(&buf)
                    .unwrap()
                    .filter(|l| buf.len() >= *l)
                {
                    let m = Message::decode(&buf[..len]).unwrap();
                    buf.drain(..len);
                    for mut out in answer(&m) {
                        serial += 1;
                        if out.kind != Kind::Signal {
                            out.reply_serial = Some(m.serial);
                        }
                        s.write_all(&out.encode(serial)).unwrap();
                    }
                }
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
        let p = path.to_string_lossy().into_owned();
        (dir, p)
    }

    fn reply(body: Vec<Value>) -> Message {
        Message {
            kind: Kind::MethodReturn,
            ..Message::method_call("", "/", "", "").with_body(body)
        }
    }

    #[test]
    fn pipelined_calls_cost_one_round_trip_and_signals_are_kept() {
        let (_dir, path) = fake_peer(|m| match m.member.as_deref() {
            Some("Hello") => vec![reply(vec![Value::Str(":1.5".into())])],
            Some("Fails") => vec![Message {
                kind: Kind::Error,
                error_name: Some("org.example.Nope".into()),
                ..reply(vec![Value::Str("it cannot".into())])
            }],
            _ => vec![
                // The signal arrives before the reply it belongs to.
                Message {
                    kind: Kind::Signal,
                    member: Some("Done".into()),
                    ..reply(vec![Value::U32(9)])
                },
                reply(vec![Value::Path("/job/9".into())]),
            ],
        });
        let mut c = Connection::open(&path, Bus::MessageBus, Duration::from_secs(5)).unwrap();
        let replies = c
            .call_all(vec![
                Message::method_call("d", "/", "i", "Start"),
                Message::method_call("d", "/", "i", "Fails"),
            ])
            .unwrap();
        assert_eq!(
            replies[0].as_ref().unwrap().body[0].as_str(),
            Some("/job/9")
        );
        let e = replies[1].as_ref().unwrap_err();
        assert_eq!(e.reply_name(), Some("org.example.Nope"));
        assert_eq!(e.to_string(), "it cannot (org.example.Nope)");
        let signal = c
            .wait_signal("the signal", |m| m.member.as_deref() == Some("Done"))
            .unwrap();
        assert_eq!(signal.body[0].as_u32(), Some(9));
        // Hello, Start and Fails in one write.
        assert_eq!((c.calls, c.round_trips), (3, 1));
    }

    #[test]
    fn a_silent_peer_is_a_timeout_naming_what_was_awaited() {
        let (_dir, path) = fake_peer(|_| vec![]);
        let mut c = Connection::open(&path, Bus::Direct, Duration::from_millis(200)).unwrap();
        let e = c
            .call(Message::method_call("d", "/", "i", "M"))
            .unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
    }

    #[test]
    fn a_missing_socket_names_its_path() {
        let e =
            Connection::open("/nonexistent/bus", Bus::Direct, Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/bus"), "{e}");
    }
}
