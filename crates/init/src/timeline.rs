//! `--debug` timing inside the container's init: how long each setup
//! phase took (namespaces, mounts, devices, hooks, masks, pivot, process),
//! sent to the runtime with `Ready` and logged there with its own phases.
//! Free when not asked for: one check per mark.

use std::cell::RefCell;
use std::time::Instant;

/// When the last phase ended, and each phase's name and length in µs.
struct Marks {
    last: Instant,
    phases: Vec<(String, u64)>,
}

thread_local! {
    static MARKS: RefCell<Option<Marks>> = const { RefCell::new(None) };
}

/// Start timing (the runtime runs with `--debug`).
pub(crate) fn enable() {
    MARKS.with(|m| {
        *m.borrow_mut() = Some(Marks {
            last: Instant::now(),
            phases: Vec::new(),
        })
    });
}

/// The phase that ends now.
pub(crate) fn mark(phase: &str) {
    MARKS.with(|m| {
        if let Some(marks) = m.borrow_mut().as_mut() {
            let now = Instant::now();
            let us = u64::try_from(now.duration_since(marks.last).as_micros()).unwrap_or(u64::MAX);
            marks.phases.push((phase.to_string(), us));
            marks.last = now;
        }
    });
}

/// The phases so far, in µs.
pub(crate) fn take() -> Vec<(String, u64)> {
    MARKS.with(|m| m.borrow_mut().take().map(|m| m.phases).unwrap_or_default())
}
