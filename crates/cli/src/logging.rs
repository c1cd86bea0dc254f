//! runc-compatible logging: `--log FILE` (default stderr), `--log-format
//! text|json`, `--debug`. JSON lines are `{"level","msg","time"}`, the shape
//! containerd parses, and the error that ends a command adds `"code"`, its
//! stable name (docs/reliability.md); text lines are logrus's `time=…
//! level=… msg=…`, the message (root cause last) at the end.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

enum Sink {
    Stderr,
    File(Mutex<File>),
}

struct Logger {
    sink: Sink,
    format: Format,
    level: log::LevelFilter,
}

/// Install the logger. Returns whether errors go to stderr already (so the
/// caller does not print them twice).
pub fn init(path: Option<&Path>, format: Format, debug: bool) -> anyhow::Result<bool> {
    let sink = match path {
        None => Sink::Stderr,
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| anyhow::anyhow!("open log file {p:?}: {e}"))?;
            Sink::File(Mutex::new(f))
        }
    };
    let to_stderr = matches!(sink, Sink::Stderr);
    let level = if debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Warn
    };
    log::set_max_level(level);
    let _ = log::set_boxed_logger(Box::new(Logger {
        sink,
        format,
        level,
    }));
    Ok(to_stderr)
}

fn level_name(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug => "debug",
        log::Level::Trace => "trace",
    }
}

/// One log line, without the trailing newline.
fn render(format: Format, level: log::Level, msg: &str, time: &str, code: Option<&str>) -> String {
    match format {
        Format::Json => {
            let mut line =
                serde_json::json!({ "level": level_name(level), "msg": msg, "time": time });
            if let Some(code) = code {
                line["code"] = code.into();
            }
            line.to_string()
        }
        Format::Text => format!("time={time:?} level={} msg={msg:?}", level_name(level)),
    }
}

/// The `code` an error record carries (`log::error!(code = …; …)`).
fn code_of(record: &log::Record<'_>) -> Option<String> {
    record
        .key_values()
        .get(log::kv::Key::from_str("code"))
        .map(|v| v.to_string())
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let time = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
        let line = render(
            self.format,
            record.level(),
            &record.args().to_string(),
            &time,
            code_of(record).as_deref(),
        ) + "\n";
        // A log that cannot be written must not turn into a second failure.
        let _ = match &self.sink {
            Sink::Stderr => std::io::stderr().write_all(line.as_bytes()),
            Sink::File(f) => f
                .lock()
                .map(|mut f| f.write_all(line.as_bytes()))
                .unwrap_or(Ok(())),
        };
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_have_containerds_shape() {
        let line = render(
            Format::Json,
            log::Level::Error,
            "boom \"x\"",
            "2026-01-01T00:00:00Z",
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert_eq!(v["time"], "2026-01-01T00:00:00Z");
        assert_eq!(v.as_object().unwrap().len(), 3);
    }

    #[test]
    fn an_error_line_carries_its_code_in_json_only() {
        let line = render(
            Format::Json,
            log::Level::Error,
            "m",
            "T",
            Some("rootfs.mount"),
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["code"], "rootfs.mount");
        let text = render(
            Format::Text,
            log::Level::Error,
            "m",
            "T",
            Some("rootfs.mount"),
        );
        assert_eq!(text, r#"time="T" level=error msg="m""#);
    }

    #[test]
    fn text_lines_look_like_logrus() {
        let line = render(Format::Text, log::Level::Warn, "careful", "T", None);
        assert_eq!(line, r#"time="T" level=warning msg="careful""#);
    }
}
