//! The D-Bus wire format: values with their signatures, and messages as
//! the specification lays them out (a fixed header, the header fields
//! `a(yv)`, padding to 8, the body). Encoded little-endian; decoded in
//! either byte order, as a peer may send big-endian.

use crate::error::{Error, Result};

/// A D-Bus value. Arrays carry their element signature, so that an empty
/// one still says what it would hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Double(f64),
    Str(String),
    Path(String),
    Signature(String),
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::Variant(_) => "v".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Signature(s) => Some(s),
            Value::Variant(v) => v.as_str(),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(n) => Some(*n),
            Value::Variant(v) => v.as_u32(),
            _ => None,
        }
    }
}

/// Message types (the header's second byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

/// Header flag: the sender wants no reply.
pub const NO_REPLY_EXPECTED: u8 = 1;

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: Kind,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    pub fn method_call(destination: &str, path: &str, interface: &str, member: &str) -> Message {
        Message {
            kind: Kind::MethodCall,
            flags: 0,
            serial: 0,
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            error_name: None,
            reply_serial: None,
            destination: Some(destination.into()),
            sender: None,
            body: Vec::new(),
        }
    }

    pub fn with_body(mut self, body: Vec<Value>) -> Message {
        self.body = body;
        self
    }

    /// The message as bytes, with `serial`.
    pub fn encode(&self, serial: u32) -> Vec<u8> {
        let mut body = Writer::default();
        for v in &self.body {
            body.value(v);
        }
        let signature: String = self.body.iter().map(Value::signature).collect();
        let mut fields = Vec::new();
        let mut field = |code: u8, v: Value| {
            fields.push(Value::Struct(vec![
                Value::Byte(code),
                Value::Variant(Box::new(v)),
            ]))
        };
        if let Some(p) = &self.path {
            field(1, Value::Path(p.clone()));
        }
        if let Some(i) = &self.interface {
            field(2, Value::Str(i.clone()));
        }
        if let Some(m) = &self.member {
            field(3, Value::Str(m.clone()));
        }
        if let Some(e) = &self.error_name {
            field(4, Value::Str(e.clone()));
        }
        if let Some(r) = self.reply_serial {
            field(5, Value::U32(r));
        }
        if let Some(d) = &self.destination {
            field(6, Value::Str(d.clone()));
        }
        if let Some(s) = &self.sender {
            field(7, Value::Str(s.clone()));
        }
        if !signature.is_empty() {
            field(8, Value::Signature(signature));
        }
        let mut w = Writer::default();
        w.buf
            .extend_from_slice(&[b'l', self.kind as u8, self.flags, 1]);
        w.buf
            .extend_from_slice(&len_u32(body.buf.len()).to_le_bytes());
        w.buf.extend_from_slice(&serial.to_le_bytes());
        w.value(&Value::Array("(yv)".into(), fields));
        w.pad(8);
        w.buf.extend_from_slice(&body.buf);
        w.buf
    }

    /// The length of the message that starts `buf`, once its fixed header
    /// and field array length are there (16 bytes).
    pub fn total_len(buf: &[u8]) -> Result<Option<usize>> {
        if buf.len() < 16 {
            return Ok(None);
        }
        let little = match buf[0] {
            b'l' => true,
            b'B' => false,
            other => return Err(Error::Protocol(format!("bad byte-order mark {other:#x}"))),
        };
        let word = |at: usize| {
            let b = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
            if little {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        };
        let body = word(4) as usize;
        let fields = word(12) as usize;
        let header = (16 + fields).div_ceil(8) * 8;
        let total = header + body;
        if total > 128 << 20 {
            return Err(Error::Protocol(format!("a {total}-byte message")));
        }
        Ok(Some(total))
    }

    /// Decode one whole message (`buf` is exactly `total_len` long).
    pub fn decode(buf: &[u8]) -> Result<Message> {
        let mut r = Reader {
            buf,
            pos: 0,
            little: buf.first() == Some(&b'l'),
        };
        r.pos = 1;
        let kind = match r.byte()? {
            1 => Kind::MethodCall,
            2 => Kind::MethodReturn,
            3 => Kind::Error,
            4 => Kind::Signal,
            other => return Err(Error::Protocol(format!("unknown message type {other}"))),
        };
        let flags = r.byte()?;
        let _version = r.byte()?;
        let _body_len = r.u32()?;
        let serial = r.u32()?;
        let Value::Array(_, fields) = r.value("a(yv)")? else {
            unreachable!("an array signature reads an array")
        };
        let mut m = Message {
            kind,
            flags,
            serial,
            path: None,
            interface: None,
            member: None,
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            body: Vec::new(),
        };
        let mut signature = String::new();
        for f in fields {
            let Value::Struct(parts) = f else { continue };
            let (Some(Value::Byte(code)), Some(v)) = (parts.first(), parts.get(1)) else {
                continue;
            };
            let text = v.as_str().map(str::to_string);
            match code {
                1 => m.path = text,
                2 => m.interface = text,
                3 => m.member = text,
                4 => m.error_name = text,
                5 => m.reply_serial = v.as_u32(),
                6 => m.destination = text,
                7 => m.sender = text,
                8 => signature = text.unwrap_or_default(),
                _ => {}
            }
        }
        r.align(8)?;
        let mut sig = signature.as_str();
        while !sig.is_empty() {
            let (one, rest) = split_type(sig)?;
            m.body.push(r.value(one)?);
            sig = rest;
        }
        Ok(m)
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).expect("messages are far below 4 GiB")
}

fn alignment(sig: &str) -> usize {
    match sig.as_bytes().first() {
        Some(b'y' | b'g' | b'v') => 1,
        Some(b'n' | b'q') => 2,
        Some(b'x' | b't' | b'd' | b'(' | b'{') => 8,
        _ => 4,
    }
}

/// The first complete type of a signature, and the rest.
pub(crate) fn split_type(sig: &str) -> Result<(&str, &str)> {
    let bytes = sig.as_bytes();
    let end = match bytes.first() {
        None => return Err(Error::Protocol("empty signature".into())),
        Some(b'a') => {
            let (elem, _) = split_type(&sig[1..])?;
            1 + elem.len()
        }
        Some(open @ (b'(' | b'{')) => {
            let close = if *open == b'(' { b')' } else { b'}' };
            let mut depth = 0usize;
            let mut end = None;
            for (i, b) in bytes.iter().enumerate() {
                if *b == *open {
                    depth += 1;
                } else if *b == close {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i + 1);
                        break;
                    }
                }
            }
            end.ok_or_else(|| Error::Protocol(format!("unbalanced signature {sig:?}")))?
        }
        Some(_) => 1,
    };
    Ok(sig.split_at(end))
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, to: usize) {
        while !self.buf.len().is_multiple_of(to) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, n: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(len_u32(s.len()));
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn signature(&mut self, s: &str) {
        self.buf
            .push(u8::try_from(s.len()).expect("signatures are short"));
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I32(n) => {
                self.pad(4);
                self.buf.extend_from_slice(&n.to_le_bytes())
            }
            Value::U32(n) => self.u32(*n),
            Value::I64(n) => {
                self.pad(8);
                self.buf.extend_from_slice(&n.to_le_bytes())
            }
            Value::U64(n) => {
                self.pad(8);
                self.buf.extend_from_slice(&n.to_le_bytes())
            }
            Value::Double(d) => {
                self.pad(8);
                self.buf.extend_from_slice(&d.to_le_bytes())
            }
            Value::Str(s) | Value::Path(s) => self.string(s),
            Value::Signature(s) => self.signature(s),
            Value::Array(elem, items) => {
                self.pad(4);
                let at = self.buf.len();
                self.buf.extend_from_slice(&[0; 4]);
                self.pad(alignment(elem));
                let start = self.buf.len();
                for item in items {
                    self.value(item);
                }
                let len = len_u32(self.buf.len() - start).to_le_bytes();
                self.buf[at..at + 4].copy_from_slice(&len);
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.value(f);
                }
            }
            Value::Variant(inner) => {
                self.signature(&inner.signature());
                self.value(inner);
            }
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    little: bool,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos + n;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| Error::Protocol("a message shorter than its contents".into()))?;
        self.pos = end;
        Ok(bytes)
    }

    fn align(&mut self, to: usize) -> Result<()> {
        let aligned = self.pos.div_ceil(to) * to;
        self.take(aligned - self.pos).map(|_| ())
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.align(N)?;
        let mut b: [u8; N] = self.take(N)?.try_into().expect("N bytes");
        if !self.little {
            b.reverse();
        }
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32> {
        self.fixed::<4>().map(u32::from_le_bytes)
    }

    fn text(&mut self, len: usize) -> Result<String> {
        let bytes = self.take(len + 1)?;
        String::from_utf8(bytes[..len].to_vec())
            .map_err(|_| Error::Protocol("a string that is not UTF-8".into()))
    }

    fn value(&mut self, sig: &str) -> Result<Value> {
        let bad = || Error::Protocol(format!("unsupported type {sig:?}"));
        Ok(match sig.as_bytes().first().ok_or_else(bad)? {
            b'y' => Value::Byte(self.byte()?),
            b'b' => Value::Bool(self.u32()? != 0),
            b'n' | b'q' => Value::U32(u32::from(u16::from_le_bytes(self.fixed::<2>()?))),
            b'i' => Value::I32(i32::from_le_bytes(self.fixed::<4>()?)),
            b'u' | b'h' => Value::U32(self.u32()?),
            b'x' => Value::I64(i64::from_le_bytes(self.fixed::<8>()?)),
            b't' => Value::U64(u64::from_le_bytes(self.fixed::<8>()?)),
            b'd' => Value::Double(f64::from_le_bytes(self.fixed::<8>()?)),
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let s = self.text(len)?;
                if sig.starts_with('o') {
                    Value::Path(s)
                } else {
                    Value::Str(s)
                }
            }
            b'g' => {
                let len = usize::from(self.byte()?);
                Value::Signature(self.text(len)?)
            }
            b'v' => {
                let len = usize::from(self.byte()?);
                let inner = self.text(len)?;
                let (one, _) = split_type(&inner)?;
                Value::Variant(Box::new(self.value(one)?))
            }
            b'a' => {
                let elem = split_type(&sig[1..])?.0;
                let len = self.u32()? as usize;
                self.align(alignment(elem))?;
                let end = self.pos + len;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem)?);
                }
                Value::Array(elem.to_string(), items)
            }
            b'(' | b'{' => {
                self.align(8)?;
                let mut inner = &sig[1..sig.len() - 1];
                let mut fields = Vec::new();
                while !inner.is_empty() {
                    let (one, rest) = split_type(inner)?;
                    fields.push(self.value(one)?);
                    inner = rest;
                }
                Value::Struct(fields)
            }
            _ => return Err(bad()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(m: &Message) -> Message {
        let bytes = m.encode(7);
        assert_eq!(Message::total_len(&bytes).unwrap(), Some(bytes.len()));
        Message::decode(&bytes).unwrap()
    }

    #[test]
    fn hello_is_laid_out_as_the_specification_says() {
        let hello = Message::method_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
        );
        let bytes = hello.encode(1);
        // Fixed header: little-endian, method call, no flags, version 1,
        // empty body, serial 1; then the field array's length.
        assert_eq!(&bytes[..12], &[b'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(bytes.len() % 8, 0);
        // The first field: code 1 (path), variant of signature "o".
        assert_eq!(&bytes[16..20], &[1, 1, b'o', 0]);
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back.member.as_deref(), Some("Hello"));
        assert_eq!(back.serial, 1);
    }

    #[test]
    fn bodies_of_every_type_systemd_takes_survive_a_round_trip() {
        let props = Value::Array(
            "(sv)".into(),
            vec![
                Value::Struct(vec![
                    Value::Str("PIDs".into()),
                    Value::Variant(Box::new(Value::Array("u".into(), vec![Value::U32(42)]))),
                ]),
                Value::Struct(vec![
                    Value::Str("MemoryMax".into()),
                    Value::Variant(Box::new(Value::U64(1 << 30))),
                ]),
                Value::Struct(vec![
                    Value::Str("Delegate".into()),
                    Value::Variant(Box::new(Value::Bool(true))),
                ]),
                Value::Struct(vec![
                    Value::Str("AllowedCPUs".into()),
                    Value::Variant(Box::new(Value::Array("y".into(), vec![Value::Byte(3)]))),
                ]),
                Value::Struct(vec![
                    Value::Str("DeviceAllow".into()),
                    Value::Variant(Box::new(Value::Array(
                        "(ss)".into(),
                        vec![Value::Struct(vec![
                            Value::Str("char-pts".into()),
                            Value::Str("rwm".into()),
                        ])],
                    ))),
                ]),
            ],
        );
        let m = Message::method_call("d", "/p", "i", "StartTransientUnit").with_body(vec![
            Value::Str("x.scope".into()),
            Value::Str("fail".into()),
            props,
            Value::Array("(sa(sv))".into(), vec![]),
        ]);
        let back = round_trip(&m);
        assert_eq!(back.body, m.body);
        assert_eq!(back.body[2].signature(), "a(sv)");
    }

    #[test]
    fn big_endian_messages_are_read() {
        // A method return of one string, serial 2, reply to 1, built by
        // hand in big-endian order.
        let mut b = vec![b'B', 2, 0, 1];
        b.extend_from_slice(&9u32.to_be_bytes()); // body: len 4 + "abcd" + NUL
        b.extend_from_slice(&2u32.to_be_bytes());
        let mut fields = Vec::new();
        fields.extend_from_slice(&[5, 1, b'u', 0]);
        fields.extend_from_slice(&1u32.to_be_bytes());
        fields.extend_from_slice(&[8, 1, b'g', 0, 1, b's', 0]);
        b.extend_from_slice(&u32::try_from(fields.len()).unwrap().to_be_bytes());
        b.extend_from_slice(&fields);
        while b.len() % 8 != 0 {
            b.push(0);
        }
        b.extend_from_slice(&4u32.to_be_bytes());
        b.extend_from_slice(b"abcd\0");
        assert_eq!(Message::total_len(&b).unwrap(), Some(b.len()));
        let m = Message::decode(&b).unwrap();
        assert_eq!(m.kind, Kind::MethodReturn);
        assert_eq!(m.reply_serial, Some(1));
        assert_eq!(m.body, vec![Value::Str("abcd".into())]);
    }

    #[test]
    fn truncated_and_malformed_input_is_an_error() {
        let m = Message::method_call("d", "/p", "i", "M").with_body(vec![Value::Str("x".into())]);
        let bytes = m.encode(3);
        assert!(Message::decode(&bytes[..bytes.len() - 3]).is_err());
        assert!(Message::total_len(b"X123456789abcdef").is_err());
        assert!(split_type("(su").is_err());
        assert_eq!(split_type("a(sv)s").unwrap(), ("a(sv)", "s"));
    }
}
