//! `--debug` timing of the create, exec and run paths, phase by phase, so
//! that a user (and a profiler, bench/profile.sh) can see where the time
//! of a command goes.

use std::time::Instant;

/// Logs how long each phase took since the previous mark.
pub struct Phases {
    what: &'static str,
    last: Instant,
}

impl Phases {
    pub fn start(what: &'static str) -> Phases {
        Phases {
            what,
            last: Instant::now(),
        }
    }

    pub fn mark(&mut self, phase: &str) {
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
