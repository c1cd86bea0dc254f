//! Test-only fault injection: with `CRUST_FAULT=<point>` in its
//! environment, a debug build of crust kills itself with SIGKILL at that
//! point, as a crash, the OOM killer or an impatient engine would. The
//! reliability tests use it to show that `state` tells the truth and
//! `delete --force` removes every trace after a kill at any phase.
//! Release builds compile it out.

pub(crate) fn point(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os("CRUST_FAULT").is_some_and(|v| v == name) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}
