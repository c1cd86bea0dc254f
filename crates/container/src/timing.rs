//! `--debug` timing of the create path, phase by phase, so that a user (and
//! a profiler) can see where the time of a `create` goes.

use std::time::Instant;

/// Logs how long each phase took since the previous mark.
pub(crate) struct Phases {
    what: &'static str,
    last: Instant,
}

impl Phases {
    pub(crate) fn start(what: &'static str) -> Phases {
        Phases {
            what,
            last: Instant::now(),
        }
    }

    pub(crate) fn mark(&mut self, phase: &str) {
        if log::log_enabled!(log::Level::Debug) {
            let now = Instant::now();
            log::debug!(
                "{} phase {phase}: {}µs",
                self.what,
                now.duration_since(self.last).as_micros()
            );
            self.last = now;
        }
    }
}
