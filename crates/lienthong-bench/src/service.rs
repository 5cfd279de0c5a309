//! A `lienthong` service process under measurement: started with its log appended to a file,
//! stopped with SIGTERM, killed if a benchmark fails half-way.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::bail;

pub struct Connector {
    child: Child,
}

impl Connector {
    /// Starts `<binary> <subcommand> --config <config>`.
    pub fn start(
        binary: &Path,
        subcommand: &str,
        config: &Path,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let child = Command::new(binary)
            .args([subcommand, "--config"])
            .arg(config)
            .env("RUST_LOG", "info,rdkafka=warn")
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .spawn()?;
        Ok(Self { child })
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then wait for the exit (positions saved).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        // A benchmark that fails half-way leaves no connector behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to two minutes for `needle` in the log.
pub fn wait_for_log(log: &Path, needle: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains(needle)
    {
        if Instant::now() > deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            bail!("`{needle}` not in {} within 120 s:\n{text}", log.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// `GET path` over plain HTTP/1.1 with `Connection: close`: the whole answer, headers included.
pub async fn http_get(address: &str, path: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text)
}
