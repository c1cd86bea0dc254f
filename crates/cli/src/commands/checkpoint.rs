use std::path::PathBuf;

use crate::Global;

// The CRIU flags `checkpoint` and `restore` share (runc's); a plain
// comment, as a doc comment would become both commands' help text.
#[derive(Debug, clap::Args)]
pub struct CriuFlags {
    /// Path for CRIU's image files (default: ./checkpoint)
    #[arg(long = "image-path", value_name = "PATH")]
    pub image_path: Option<PathBuf>,
    /// Path for CRIU's work files and logs (default: the image path)
    #[arg(long = "work-path", value_name = "PATH")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Cgroups mode: soft|full|strict|ignore (default: soft)
    #[arg(long = "manage-cgroups-mode", value_name = "MODE", default_value = "")]
    pub manage_cgroups_mode: String,
    /// Create a namespace, but do not restore its properties (network)
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Use userfaultfd to lazily restore memory pages
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

impl CriuFlags {
    pub fn options(&self, g: &Global) -> anyhow::Result<container::CriuOptions> {
        // Absolute, so that errors name CRIU's log where it is.
        let image_path =
            std::path::absolute(self.image_path.as_deref().unwrap_or("checkpoint".as_ref()))?;
        let work_path = self
            .work_path
            .as_deref()
            .map(std::path::absolute)
            .transpose()?;
        Ok(container::CriuOptions {
            binary: g.criu.clone(),
            image_path,
            work_path,
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            auto_dedup: self.auto_dedup,
            lazy_pages: self.lazy_pages,
            cgroups_mode: container::parse_cgroups_mode(&self.manage_cgroups_mode)?,
            empty_ns: container::parse_empty_ns(&self.empty_ns)?,
            ..container::CriuOptions::default()
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
    #[command(flatten)]
    criu: CriuFlags,
    /// Path of the previous images (a pre-dump), relative to the image path
    #[arg(long = "parent-path", value_name = "PATH")]
    parent_path: Option<PathBuf>,
    /// Leave the process running after checkpointing
    #[arg(long = "leave-running")]
    leave_running: bool,
    /// CRIU writes \0 to this descriptor once the lazy-pages server is ready
    #[arg(long = "status-fd", value_name = "FD", default_value_t = -1, allow_negative_numbers = true)]
    status_fd: i32,
    /// ADDRESS:PORT of the page server
    #[arg(long = "page-server", value_name = "ADDRESS:PORT")]
    page_server: Option<String>,
    /// Dump the container's memory only, and leave it running
    #[arg(long = "pre-dump")]
    pre_dump: bool,
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        if !rustix::process::geteuid().is_root() {
            log::warn!("crust checkpoint is untested with rootless containers");
        }
        let mut opts = self.criu.options(g)?;
        opts.parent_path = self.parent_path;
        opts.leave_running = self.leave_running;
        opts.pre_dump = self.pre_dump;
        opts.status_fd = (self.status_fd >= 0).then_some(self.status_fd);
        opts.page_server = self.page_server.as_deref().map(page_server).transpose()?;
        container::checkpoint(&g.root, &self.id, &opts)?;
        Ok(0)
    }
}

/// runc's `--page-server ADDRESS:PORT` (an IPv6 address in brackets).
fn page_server(value: &str) -> anyhow::Result<(String, i32)> {
    let bad = || {
        super::flag_error(
            "--page-server",
            format!("use --page-server ADDRESS:PORT (got {value:?})"),
        )
    };
    let (address, port) = value.rsplit_once(':').ok_or_else(bad)?;
    let address = address.trim_start_matches('[').trim_end_matches(']');
    if address.is_empty() || port.is_empty() {
        return Err(bad());
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| super::flag_error("--page-server", format!("invalid port number {port:?}")))?;
    Ok((address.to_string(), i32::from(port)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Every flag of runc 1.5's `checkpoint` and `restore`, as engines
    /// pass them.
    #[test]
    fn runcs_flags_parse() {
        let checkpoint = [
            "crust",
            "checkpoint",
            "--image-path",
            "i",
            "--work-path",
            "w",
            "--parent-path",
            "p",
            "--leave-running",
            "--tcp-established",
            "--ext-unix-sk",
            "--shell-job",
            "--lazy-pages",
            "--status-fd",
            "5",
            "--page-server",
            "1.2.3.4:5",
            "--file-locks",
            "--pre-dump",
            "--manage-cgroups-mode",
            "soft",
            "--empty-ns",
            "network",
            "--auto-dedup",
            "id",
        ];
        crate::Cli::try_parse_from(checkpoint).unwrap();
        let restore = [
            "crust",
            "restore",
            "--console-socket",
            "s",
            "--image-path",
            "i",
            "--work-path",
            "w",
            "--tcp-established",
            "--ext-unix-sk",
            "--shell-job",
            "--file-locks",
            "--manage-cgroups-mode",
            "ignore",
            "--bundle",
            "b",
            "-d",
            "--pid-file",
            "f",
            "--no-subreaper",
            "--no-pivot",
            "--empty-ns",
            "network",
            "--auto-dedup",
            "--lazy-pages",
            "--lsm-profile",
            "apparmor:x",
            "--lsm-mount-context",
            "c",
            "id",
        ];
        crate::Cli::try_parse_from(restore).unwrap();
    }

    #[test]
    fn page_servers_are_address_and_port() {
        assert_eq!(
            page_server("0.0.0.0:27277").unwrap(),
            ("0.0.0.0".into(), 27277)
        );
        assert_eq!(page_server("[::1]:80").unwrap(), ("::1".into(), 80));
        assert!(page_server("27277").is_err());
        assert!(page_server(":1").is_err());
        assert!(page_server("h:x").unwrap_err().to_string().contains("port"));
    }
}
