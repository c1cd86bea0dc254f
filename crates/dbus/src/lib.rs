//! A small, blocking D-Bus client without threads: enough of the protocol
//! for crust to drive systemd's manager (method calls, their replies, and
//! the signals that say a job finished), over a Unix socket.
//!
//! Calls can be pipelined: [`Connection::call_all`] writes several calls
//! in one `write` and then reads their replies, so a sequence costs one
//! round trip. Every message sent and received is counted, so tests and
//! `--debug` can show what a command cost.
#![forbid(unsafe_code)]

mod connection;
mod error;
pub mod wire;

pub use connection::{socket_of_address, Bus, Connection};
pub use error::{Error, Result};
pub use wire::{Message, Value};
