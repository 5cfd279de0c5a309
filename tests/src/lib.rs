//! Helpers for lienthong's end-to-end tests: locating (and building) the `lienthong` binary and
//! the local stack's endpoints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The local stack's endpoints, overridable for a stack elsewhere.
pub mod stack {
    pub fn broker() -> String {
        std::env::var("LIENTHONG_TEST_BROKER").unwrap_or_else(|_| "127.0.0.1:19092".into())
    }

    pub fn postgres_url() -> String {
        std::env::var("LIENTHONG_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://lienthong:lienthong@127.0.0.1:55432/lienthong".into())
    }

    pub fn mariadb_url() -> String {
        std::env::var("LIENTHONG_TEST_MARIADB_URL")
            .unwrap_or_else(|_| "mysql://lienthong:lienthong@127.0.0.1:53306/lienthong".into())
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on, for a service a test starts.
///
/// Ports come from below the kernel's ephemeral range: a port the kernel hands out for binding
/// `:0` may be given moments later to an outgoing connection (a client of the broker, say), and
/// the service started on it then fails with "address already in use". Within one test process
/// no port is handed out twice; the starting point depends on the process id, so test processes
/// running side by side rarely try the same ports.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(2_654_435_761) % SPAN;
    for _ in 0..SPAN {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN;
        let port = u16::try_from(FIRST + offset).expect("ports below 32,000 fit in u16");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {}", FIRST + SPAN)
}

/// Path of the `lienthong` binary, built (debug profile) on first use so the tests always run
/// the current code.
pub fn lienthong_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--quiet", "-p", "lienthong", "--bin", "lienthong"])
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building lienthong failed");
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        target.join("debug/lienthong")
    })
    .clone()
}

/// Runs `lienthong` with `args` and extra environment, with no inherited LIENTHONG__ overrides.
pub fn lienthong(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(lienthong_bin());
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("LIENTHONG__") || k == "LIENTHONG_CONFIG" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("running lienthong")
}

/// `lienthong datagen seed`: the civil-servant database in PostgreSQL at `postgres_url` with
/// `civil_servants` files, and a register of `people` under `out` (`register.csv`).
pub fn seed_civil_servants(postgres_url: &str, out: &Path, people: u64, civil_servants: u64) {
    let seeded = lienthong(
        &[
            "datagen",
            "seed",
            "--postgres",
            postgres_url,
            "--out",
            &out.display().to_string(),
            "--people",
            &people.to_string(),
            "--civil-servants",
            &civil_servants.to_string(),
        ],
        &[],
    );
    let (stdout, stderr) = text(&seeded);
    assert!(seeded.status.success(), "datagen seed:\n{stdout}\n{stderr}");
}

/// stdout and stderr of an output, as text, for assertions and failure messages.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A test database of its own in the local stack's PostgreSQL, and the slot a connector makes
/// in it.
pub mod postgres {
    use sqlx::{Connection, Executor, PgConnection};

    /// A fresh database named `<prefix>_<random>`.
    #[derive(Debug)]
    pub struct TestDatabase {
        pub name: String,
        pub url: String,
    }

    impl TestDatabase {
        pub async fn create(prefix: &str) -> Self {
            let admin_url = super::stack::postgres_url();
            let mut admin = PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| panic!("{e}: is the local stack up? (`make up`)"));
            // Once per test process, before any test of this process creates a slot: tests run
            // concurrently, so a later sweep could drop a slot another test just made.
            static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
            SWEPT
                .get_or_init(|| drop_stale_test_slots(&admin_url))
                .await;
            let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create database");
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            Self {
                url: format!("{base}/{name}"),
                name,
            }
        }

        pub async fn connect(&self) -> PgConnection {
            PgConnection::connect(&self.url)
                .await
                .expect("connect to test database")
        }

        /// Runs statements separated by `;` (simple query protocol).
        pub async fn exec(&self, sql: &str) {
            let mut conn = self.connect().await;
            conn.execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        }

        /// Drops the slot (if any) and the database, so that no slot holds WAL after the test.
        pub async fn drop_with_slot(self, slot: &str) {
            let mut admin = PgConnection::connect(&super::stack::postgres_url())
                .await
                .expect("connect");
            for _ in 0..50 {
                let r = sqlx::query(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
                )
                .bind(slot)
                .execute(&mut admin)
                .await;
                let left: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1",
                )
                .bind(slot)
                .fetch_one(&mut admin)
                .await
                .unwrap_or(0);
                if r.is_ok() && left == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
                .await;
        }
    }

    /// Slots of earlier test runs that died before cleaning up hold WAL: drop inactive ones.
    async fn drop_stale_test_slots(admin_url: &str) {
        let Ok(mut admin) = PgConnection::connect(admin_url).await else {
            return;
        };
        let _ = sqlx::query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
             WHERE slot_name LIKE 'lt\\_test\\_%' AND NOT active",
        )
        .execute(&mut admin)
        .await;
    }
}

/// A `lienthong` service process, for kill -9 and restart.
pub mod process {
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};

    #[derive(Debug)]
    pub struct Service {
        child: Option<Child>,
        args: Vec<String>,
        log: PathBuf,
    }

    impl Service {
        /// Starts `lienthong <args>`, appending its output to `log`.
        pub fn start(args: &[&str], log: &Path) -> Self {
            let mut service = Self {
                child: None,
                args: args.iter().map(|s| s.to_string()).collect(),
                log: log.to_path_buf(),
            };
            service.restart();
            service
        }

        /// Starts it again with the same arguments (after a kill).
        pub fn restart(&mut self) {
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .expect("log file");
            let err = out.try_clone().expect("log file");
            let child = Command::new(super::lienthong_bin())
                .args(&self.args)
                .env("RUST_LOG", "info,rdkafka=warn")
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err))
                .spawn()
                .expect("start lienthong");
            self.child = Some(child);
        }

        /// SIGKILL: no chance to flush or confirm anything.
        pub fn kill9(&mut self) {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }

        /// SIGTERM, then wait for a graceful exit.
        pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
            let mut child = self.child.take()?;
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            for _ in 0..300 {
                if let Ok(Some(status)) = child.try_wait() {
                    return Some(status);
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            let _ = child.kill();
            child.wait().ok()
        }

        /// Exit status if the process has ended on its own.
        pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
            self.child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
        }

        pub fn log(&self) -> String {
            std::fs::read_to_string(&self.log).unwrap_or_default()
        }

        /// Waits until `needle` appears in the log; panics with the log after `timeout`.
        pub fn wait_for_log(&self, needle: &str, timeout: std::time::Duration) {
            let deadline = std::time::Instant::now() + timeout;
            while !self.log().contains(needle) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "`{needle}` not logged within {timeout:?}:\n{}",
                    self.log()
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }

    impl Drop for Service {
        fn drop(&mut self) {
            self.kill9();
            if std::thread::panicking() {
                // The service's own account is usually what explains a failed test.
                let log = self.log();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("--- last lines of {}:", self.log.display());
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

/// Reading what the services published.
pub mod topics {
    use std::time::Duration;

    use lienthong_proto::v1::ChangeEvent;
    use lienthong_runtime::config::Secret;
    use lienthong_runtime::kafka::{
        EventConsumer, InboundRecord, KafkaConfig, TopicPolicy, TopicSettings,
    };
    use lienthong_runtime::metrics::KafkaMetrics;
    use prost::Message;

    pub fn kafka_config() -> KafkaConfig {
        kafka_config_for(&super::stack::broker())
    }

    pub fn kafka_config_for(bootstrap_servers: &str) -> KafkaConfig {
        KafkaConfig {
            bootstrap_servers: bootstrap_servers.to_string(),
            client_id: "lienthong-e2e".into(),
            message_timeout_ms: 30_000,
            request_timeout_ms: 10_000,
            session_timeout_ms: 10_000,
            fetch_wait_max_ms: 100,
            properties: Default::default(),
            secret_properties: std::collections::BTreeMap::<String, Secret<String>>::new(),
            topics: TopicPolicy {
                create: true,
                default: TopicSettings {
                    partitions: 1,
                    replication_factor: 1,
                    config: Default::default(),
                },
                overrides: Default::default(),
            },
        }
    }

    /// Reads `topic` from the beginning with a group of its own.
    #[derive(Debug)]
    pub struct TopicReader {
        consumer: EventConsumer,
        pub records: Vec<InboundRecord>,
    }

    impl TopicReader {
        /// Waits (up to a minute) for the topic to exist, then subscribes: a subscription to a
        /// topic that does not exist yet would only notice it at the next metadata refresh.
        pub async fn new(topic: &str) -> Self {
            Self::on(&super::stack::broker(), topic).await
        }

        /// A reader of `topic` on the broker at `bootstrap_servers`.
        pub async fn on(bootstrap_servers: &str, topic: &str) -> Self {
            let config = kafka_config_for(bootstrap_servers);
            let admin = lienthong_runtime::kafka::TopicAdmin::new(&config).expect("admin");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let info = admin.cluster_info().await.expect("cluster metadata");
                if info.partitions_of(topic).is_some() {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "topic {topic} never appeared"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let consumer = EventConsumer::new(
                &config,
                &format!("e2e-{}", uuid::Uuid::new_v4().simple()),
                KafkaMetrics::default(),
            )
            .expect("consumer");
            consumer.subscribe(&[topic]).expect("subscribe");
            Self {
                consumer,
                records: Vec::new(),
            }
        }

        /// Reads until `done(records so far)` holds, or panics after `timeout`.
        pub async fn read_until(
            &mut self,
            timeout: Duration,
            mut done: impl FnMut(&[InboundRecord]) -> bool,
        ) -> &[InboundRecord] {
            let deadline = tokio::time::Instant::now() + timeout;
            while !done(&self.records) {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                match tokio::time::timeout(left.min(Duration::from_secs(1)), self.consumer.recv())
                    .await
                {
                    Ok(Ok(r)) => self.records.push(r),
                    // Broker-level errors (a broker restarting) are reported through the stream;
                    // the client reconnects by itself.
                    Ok(Err(e)) => {
                        eprintln!("consumer: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(_) if left.is_zero() => panic!(
                        "condition not met within {timeout:?}; {} records read",
                        self.records.len()
                    ),
                    Err(_) => {}
                }
            }
            &self.records
        }

        /// Reads whatever arrives within `window` (no condition, never fails on silence).
        pub async fn read_for(&mut self, window: Duration) {
            let deadline = tokio::time::Instant::now() + window;
            while let Ok(received) = tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                match received {
                    Ok(r) => self.records.push(r),
                    Err(e) => {
                        eprintln!("consumer: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }

        /// The change events read so far (tombstones skipped).
        pub fn events(&self) -> Vec<ChangeEvent> {
            self.records
                .iter()
                .filter_map(|r| r.payload.as_ref())
                .map(|p| ChangeEvent::decode(p.as_slice()).expect("ChangeEvent"))
                .collect()
        }
    }

    /// Counts the change events (not tombstones) among records.
    pub fn event_count(records: &[InboundRecord]) -> usize {
        records.iter().filter(|r| r.payload.is_some()).count()
    }
}

/// A broker of a test's own, for tests that take the broker away without disturbing the shared
/// one. In-memory storage: an outage is simulated by freezing the process (SIGSTOP/SIGCONT), as
/// a hung or partitioned broker looks to clients. (tansu 0.6.0's SQLite engine panics on the
/// first produce of an idempotent producer after a restart, so a kill-and-restart outage is
/// not testable against it.)
pub mod broker {
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};

    #[derive(Debug)]
    pub struct PrivateBroker {
        pub port: u16,
        /// The port the broker tells clients to connect to: its own, or a proxy's in front of it.
        advertised_port: u16,
        dir: PathBuf,
        child: Option<Child>,
    }

    fn tansu() -> PathBuf {
        let home = std::env::var("HOME").unwrap_or_default();
        let cached = Path::new(&home).join(".cargo/bin/tansu");
        if cached.exists() {
            cached
        } else {
            PathBuf::from("tansu")
        }
    }

    impl PrivateBroker {
        pub fn start(dir: &Path) -> Self {
            let port = super::free_port();
            Self::start_advertising(dir, port, port)
        }

        /// Starts a broker on `port` that sends clients to `advertised_port` (a proxy in front of
        /// it, which forwards to `port`): every client connection then goes through the proxy.
        pub fn start_advertising(dir: &Path, port: u16, advertised_port: u16) -> Self {
            let mut broker = Self {
                port,
                advertised_port,
                dir: dir.to_path_buf(),
                child: None,
            };
            broker.resume();
            broker
        }

        pub fn address(&self) -> String {
            format!("127.0.0.1:{}", self.port)
        }

        /// Starts the broker again on the same port and data.
        pub fn resume(&mut self) {
            std::fs::create_dir_all(&self.dir).expect("broker dir");
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join("tansu.log"))
                .expect("broker log");
            let url = format!("tcp://127.0.0.1:{}", self.port);
            let advertised = format!("tcp://127.0.0.1:{}", self.advertised_port);
            let child = Command::new(tansu())
                .current_dir(&self.dir)
                .args([
                    "broker",
                    "--cluster-id",
                    "lienthong-test",
                    "--listener-url",
                    &url,
                ])
                .args([
                    "--advertised-listener-url",
                    &advertised,
                    "--storage-engine",
                    "memory://tansu/",
                ])
                .stdout(Stdio::from(log.try_clone().expect("log")))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("start tansu (installed by `make up`)");
            self.child = Some(child);
            for _ in 0..300 {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            panic!("private broker did not start on port {}", self.port);
        }

        /// Freezes the broker: connections stay open, nothing is answered.
        pub fn pause(&self) {
            self.signal("-STOP");
        }

        /// Lets a frozen broker run again.
        pub fn unpause(&self) {
            self.signal("-CONT");
        }

        fn signal(&self, which: &str) {
            if let Some(child) = &self.child {
                let _ = Command::new("kill")
                    .args([which, &child.id().to_string()])
                    .status();
            }
        }

        /// Kills the broker (SIGKILL).
        pub fn stop(&mut self) {
            self.unpause();
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    impl Drop for PrivateBroker {
        fn drop(&mut self) {
            self.stop();
            if std::thread::panicking() {
                let log = std::fs::read_to_string(self.dir.join("tansu.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                eprintln!("--- last lines of the private broker's log:");
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

/// A TCP proxy that a test can cut: while cut, every connection through it is closed and new
/// ones are refused, as clients see a server that stopped; restored, it accepts again on the
/// same port. For taking a server away from its clients without touching the server.
pub mod proxy {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    #[derive(Debug, Default)]
    struct Tasks {
        listener: Option<JoinHandle<()>>,
        connections: Vec<JoinHandle<()>>,
    }

    #[derive(Debug)]
    pub struct TcpProxy {
        pub port: u16,
        target: SocketAddr,
        tasks: Arc<Mutex<Tasks>>,
    }

    impl TcpProxy {
        /// A proxy on a free port of 127.0.0.1 forwarding to `target`, accepting at once.
        pub async fn start(target: SocketAddr) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
            let port = listener.local_addr().expect("proxy address").port();
            let proxy = Self {
                port,
                target,
                tasks: Arc::new(Mutex::new(Tasks::default())),
            };
            proxy.accept_on(listener);
            proxy
        }

        pub fn address(&self) -> String {
            format!("127.0.0.1:{}", self.port)
        }

        fn accept_on(&self, listener: TcpListener) {
            let (target, tasks) = (self.target, self.tasks.clone());
            let accepting = tokio::spawn(async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    let forward = tokio::spawn(async move {
                        let mut inbound = inbound;
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    let mut tasks = tasks.lock().expect("proxy tasks");
                    tasks.connections.retain(|t| !t.is_finished());
                    tasks.connections.push(forward);
                }
            });
            self.tasks.lock().expect("proxy tasks").listener = Some(accepting);
        }

        /// Closes every connection and stops accepting: connecting is refused until
        /// [`TcpProxy::restore`].
        pub fn cut(&self) {
            let mut tasks = self.tasks.lock().expect("proxy tasks");
            if let Some(listener) = tasks.listener.take() {
                listener.abort();
            }
            for connection in tasks.connections.drain(..) {
                connection.abort();
            }
        }

        /// Accepts connections again on the same port.
        pub async fn restore(&self) {
            let address = format!("127.0.0.1:{}", self.port);
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
            let listener = loop {
                match TcpListener::bind(&address).await {
                    Ok(listener) => break listener,
                    Err(e) => {
                        assert!(
                            tokio::time::Instant::now() < deadline,
                            "the proxy cannot listen on {address} again: {e}"
                        );
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            };
            self.accept_on(listener);
        }
    }

    impl Drop for TcpProxy {
        fn drop(&mut self) {
            self.cut();
        }
    }
}

/// A PostgreSQL cluster of a test's own, for settings the shared stack must not have (a
/// `wal_level` below logical, one replication slot, WAL that slots may lose). Started from the
/// machine's PostgreSQL binaries on a free port in a temporary directory; stopped and removed
/// on drop. Local and host connections are trusted (users without passwords).
pub mod cluster {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    #[derive(Debug)]
    pub struct TemporaryCluster {
        dir: PathBuf,
        bin: PathBuf,
        data: PathBuf,
        pub port: u16,
    }

    fn postgres_bin() -> PathBuf {
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if dir.join("initdb").exists() {
                return dir;
            }
        }
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|d| d.join("initdb").exists())
            .collect();
        dirs.sort_by_key(|d| {
            d.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        });
        dirs.pop().expect("no PostgreSQL server binaries found")
    }

    fn running_as_root() -> bool {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    }

    /// PostgreSQL refuses to run as root: as root, run the server's tools as `postgres`.
    fn server_command(program: &Path) -> Command {
        if running_as_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    use super::free_port;

    impl TemporaryCluster {
        /// Initialises and starts a cluster with `settings` (postgresql.conf lines such as
        /// `("wal_level", "replica")`).
        pub fn start(settings: &[(&str, &str)]) -> Self {
            let bin = postgres_bin();
            // Under /var/tmp: the server's user must reach it whatever the clone's location.
            let base = Some(PathBuf::from("/var/tmp"))
                .filter(|p| p.is_dir())
                .unwrap_or_else(std::env::temp_dir);
            let dir = base.join(format!(
                "lienthong-pg-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..10]
            ));
            std::fs::create_dir_all(&dir).expect("cluster directory");
            if running_as_root() {
                let status = Command::new("chown")
                    .args(["-R", "postgres:"])
                    .arg(&dir)
                    .status()
                    .expect("chown");
                assert!(status.success());
            }
            let data = dir.join("data");
            let out = server_command(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ])
                .output()
                .expect("running initdb");
            assert!(out.status.success(), "initdb failed: {out:?}");
            let port = free_port();
            let mut conf = format!(
                "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nmax_connections = 20\nshared_buffers = 16MB\n",
                dir.display()
            );
            for (k, v) in settings {
                conf.push_str(&format!("{k} = {v}\n"));
            }
            let conf_path = data.join("postgresql.auto.conf");
            let mut existing = std::fs::read_to_string(&conf_path).unwrap_or_default();
            existing.push_str(&conf);
            std::fs::write(&conf_path, existing).expect("writing settings");
            let log = dir.join("postgres.log");
            let out = server_command(&bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "start"])
                .output()
                .expect("running pg_ctl start");
            assert!(
                out.status.success(),
                "the temporary cluster did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            Self {
                dir,
                bin,
                data,
                port,
            }
        }

        /// URL of database `postgres` as `user`.
        pub fn url(&self, user: &str) -> String {
            format!("postgres://{user}@127.0.0.1:{}/postgres", self.port)
        }

        /// Runs SQL as the superuser through psql; panics with psql's message on failure.
        pub fn psql(&self, sql: &str) -> String {
            let out = Command::new(self.bin.join("psql"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args([
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                ])
                .args(["-c", sql])
                .output()
                .expect("running psql");
            assert!(
                out.status.success(),
                "{sql}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }

        /// Restarts the server as an operator does (`pg_ctl restart -m fast`): every session and
        /// replication connection is cut; committed data and replication slots survive.
        pub fn restart(&self) {
            let log = self.dir.join("postgres.log");
            let out = server_command(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&log)
                .args(["-m", "fast", "-w", "-t", "60", "restart"])
                .output()
                .expect("running pg_ctl restart");
            assert!(
                out.status.success(),
                "the temporary cluster did not restart: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    }

    impl Drop for TemporaryCluster {
        fn drop(&mut self) {
            let _ = server_command(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .output();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A MariaDB server of a test's own, for settings the shared stack must not have (statement
/// binlogs, minimal row images, no binlog at all). Started from the machine's MariaDB binaries on
/// a free port in a temporary directory; stopped and removed on drop. `root` has no password.
pub mod mariadb_server {
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    #[derive(Debug)]
    pub struct TemporaryMariadb {
        dir: PathBuf,
        child: Child,
        pub port: u16,
        /// The server program and its arguments, for [`TemporaryMariadb::restart`].
        program: String,
        args: Vec<String>,
    }

    fn spawn_server(program: &str, args: &[String]) -> Child {
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mariadbd")
    }

    fn running_as_root() -> bool {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    }

    impl TemporaryMariadb {
        /// Initialises and starts a server with extra `mariadbd` options (`--binlog-format=MIXED`).
        pub fn start(options: &[&str]) -> Self {
            // Under /var/tmp: the server's user must reach it whatever the clone's location.
            let base = Some(PathBuf::from("/var/tmp"))
                .filter(|p| p.is_dir())
                .unwrap_or_else(std::env::temp_dir);
            let dir = base.join(format!(
                "lienthong-mariadb-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..10]
            ));
            let data = dir.join("data");
            std::fs::create_dir_all(&data).expect("server directory");
            // A temporary directory of its own: servers bootstrapping at the same time would
            // otherwise collide on temporary table names in /tmp.
            let tmp = dir.join("tmp");
            std::fs::create_dir_all(&tmp).expect("server temporary directory");
            let tmpdir = format!("--tmpdir={}", tmp.display());
            let as_user: Vec<String> = if running_as_root() {
                let status = Command::new("chown")
                    .args(["-R", "mysql:"])
                    .arg(&dir)
                    .status()
                    .expect("chown");
                assert!(status.success());
                vec!["--user=mysql".into()]
            } else {
                Vec::new()
            };
            let out = Command::new("mariadb-install-db")
                .arg("--no-defaults")
                .args(&as_user)
                .arg(format!("--datadir={}", data.display()))
                .arg(&tmpdir)
                .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
                .output()
                .expect("running mariadb-install-db");
            assert!(out.status.success(), "mariadb-install-db failed: {out:?}");
            let port = crate::free_port();
            let mariadbd = ["/usr/sbin/mariadbd", "/usr/bin/mariadbd"]
                .into_iter()
                .find(|p| std::path::Path::new(p).exists())
                .unwrap_or("mariadbd");
            let mut args = vec!["--no-defaults".to_string()];
            args.extend(as_user);
            args.extend([
                format!("--datadir={}", data.display()),
                tmpdir,
                format!("--port={port}"),
                "--bind-address=127.0.0.1".to_string(),
                format!("--socket={}", dir.join("mariadb.sock").display()),
                format!("--log-error={}", dir.join("mariadb.err").display()),
                "--innodb-buffer-pool-size=32M".to_string(),
                "--max-connections=20".to_string(),
            ]);
            args.extend(options.iter().map(|o| o.to_string()));
            let child = spawn_server(mariadbd, &args);
            let server = Self {
                dir,
                child,
                port,
                program: mariadbd.to_string(),
                args,
            };
            server.wait_until_listening();
            server
        }

        fn wait_until_listening(&self) {
            let deadline = Instant::now() + Duration::from_secs(60);
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "the temporary MariaDB did not start: {}",
                    std::fs::read_to_string(self.dir.join("mariadb.err")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }

        /// Stops the server as a service manager does (SIGTERM, then waiting for a clean
        /// shutdown) and starts it again with the same options, port and data: every session and
        /// binlog dump is cut; committed data and the binlog survive.
        pub fn restart(&mut self) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !matches!(self.child.try_wait(), Ok(Some(_))) {
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            self.child = spawn_server(&self.program, &self.args);
            self.wait_until_listening();
        }

        /// URL of database `db` as `user` with `password`.
        pub fn url(&self, user: &str, password: &str, db: &str) -> String {
            format!("mysql://{user}:{password}@127.0.0.1:{}/{db}", self.port)
        }

        /// Runs SQL as root; panics with the client's message on failure.
        pub fn sql(&self, sql: &str) -> String {
            let out = Command::new("mariadb")
                .arg("--no-defaults")
                .arg(format!(
                    "--socket={}",
                    self.dir.join("mariadb.sock").display()
                ))
                .args(["-u", "root", "-N", "-B", "-e", sql])
                .output()
                .expect("running mariadb");
            assert!(
                out.status.success(),
                "{sql}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    }

    impl Drop for TemporaryMariadb {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Reading change events the connectors published: columns, integer keys, id coverage.
pub mod events {
    use std::collections::BTreeSet;

    use lienthong_proto::v1::{ChangeEvent, Row, value::Kind};
    use lienthong_runtime::kafka::InboundRecord;
    use prost::Message as _;

    /// A column's value; panics when the row lacks the column.
    pub fn column<'a>(row: &'a Row, name: &str) -> &'a Kind {
        row.columns
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.value.as_ref())
            .and_then(|v| v.kind.as_ref())
            .unwrap_or_else(|| panic!("no column {name} in {row:?}"))
    }

    /// The event's first key column as an integer (signed or unsigned).
    pub fn int_key(event: &ChangeEvent) -> i64 {
        match event.key[0].value.as_ref().and_then(|v| v.kind.as_ref()) {
            Some(Kind::IntValue(i)) => *i,
            Some(Kind::UintValue(u)) => i64::try_from(*u).expect("key within i64"),
            other => panic!("key is not an integer: {other:?}"),
        }
    }

    /// A read condition for `TopicReader::read_until`: every id in `want` has been seen
    /// (each record decoded once).
    pub fn ids_cover(mut want: BTreeSet<i64>) -> impl FnMut(&[InboundRecord]) -> bool {
        let mut scanned = 0;
        move |records| {
            for r in &records[scanned..] {
                if let Some(p) = &r.payload {
                    want.remove(&int_key(
                        &ChangeEvent::decode(p.as_slice()).expect("ChangeEvent"),
                    ));
                }
            }
            scanned = records.len();
            want.is_empty()
        }
    }
}
