//! A throwaway PostgreSQL cluster for tests: a data directory from `initdb` (run once per
//! process into a template, then copied) in a fresh temporary directory, the server started on
//! a free loopback port with its socket in that directory, and everything stopped and removed
//! afterwards.
//!
//! Invariants:
//! - The directory and the server go away when the `TempCluster` is dropped, also while a
//!   panic unwinds; the process-wide [`TempCluster::shared`] one goes away at process exit.
//!   A cluster left behind by a process that was killed outright is swept by the next start
//!   in any process (its owner's pid is recorded in the directory).
//! - A start that fails part way removes what it made before returning the error.
//! - PostgreSQL refuses to run as root; when we are root, `initdb` and the server run as the
//!   `postgres` user (or `nobody`), which owns the directory.
//! - Settings are for speed, not durability (`fsync=off`): the data is thrown away anyway.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::limits::{
    INITDB_TIMEOUT, LOG_TAIL_LINES, POLL_INTERVAL, PORT_ATTEMPTS, START_TIMEOUT, STOP_TIMEOUT,
};

/// Where Debian's `postgresql` package puts the server binaries, one directory per version.
const DEBIAN_BIN_GLOB_PARENT: &str = "/usr/lib/postgresql";
/// Overrides where the server binaries are looked for.
const BIN_ENV: &str = "SELVEDGE_PG_BIN";
/// Prefix of every cluster directory, which the sweep looks for.
const DIR_PREFIX: &str = "selvedge-pg-";
/// The superuser `initdb` creates; connections use it with `trust` authentication.
pub(crate) const SUPERUSER: &str = "postgres";

/// Settings every throwaway cluster starts with; [`ClusterBuilder::setting`] overrides them.
const DEFAULT_SETTINGS: &[(&str, &str)] = &[
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    // A deadlock between two orchestrated connections is found by the server this long after
    // the second one starts waiting; the default (1 s) would make every such schedule slow.
    ("deadlock_timeout", "50ms"),
    ("max_connections", "60"),
    ("shared_buffers", "16MB"),
];

/// A PostgreSQL server of its own, in a temporary directory, for one test or one test binary.
///
/// Needs the server binaries of Debian's `postgresql` package (`/usr/lib/postgresql/*/bin`),
/// or any other install named by `SELVEDGE_PG_BIN` or [`ClusterBuilder::bin_dir`]. Each
/// database made by [`create_database`](Self::create_database) is empty and new, so tests
/// sharing one cluster do not see each other's tables.
///
/// ```no_run
/// use selvedge_sql::postgres::TempCluster;
///
/// let cluster = TempCluster::start()?;
/// let url = cluster.create_database()?;      // postgresql://postgres@127.0.0.1:PORT/selvedge_1
/// let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
/// client.batch_execute("CREATE TABLE t (v int)").unwrap();
/// drop(cluster);                              // server stopped, directory removed
/// # Ok::<(), selvedge_sql::Error>(())
/// ```
pub struct TempCluster {
    port: u16,
    /// The server process; `None` once stopped.
    server: Mutex<Option<Child>>,
    /// The directory; dropping it removes it. `None` once removed.
    dir: Mutex<Option<tempfile::TempDir>>,
    path: PathBuf,
    databases_made: AtomicU64,
}

/// How to start a [`TempCluster`]: which port, which binaries, which server settings.
#[derive(Clone, Debug, Default)]
pub struct ClusterBuilder {
    port: Option<u16>,
    bin_dir: Option<PathBuf>,
    parent_dir: Option<PathBuf>,
    settings: Vec<(String, String)>,
}

impl ClusterBuilder {
    /// Listen on this loopback port instead of a free one picked for you.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Take `initdb` and `postgres` from this directory (default: `SELVEDGE_PG_BIN`, else the
    /// newest `/usr/lib/postgresql/*/bin`).
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// Make the cluster's temporary directory in `dir` (default: the system's, `TMPDIR` or
    /// `/tmp`). When we are root, the server's user must be able to enter it.
    pub fn parent_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.parent_dir = Some(dir.into());
        self
    }

    /// A server setting (`postgres -c name=value`), applied after the defaults
    /// (`fsync=off`, `synchronous_commit=off`, `deadlock_timeout=50ms`, ...).
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Creates the cluster and starts its server; see [`TempCluster`].
    pub fn start(self) -> Result<TempCluster, Error> {
        let parent = self.parent_dir.clone().unwrap_or_else(std::env::temp_dir);
        sweep_stale_clusters(&parent);
        let bin_dir = match &self.bin_dir {
            Some(dir) => check_bin_dir(dir, "ClusterBuilder::bin_dir")?,
            None => find_bin_dir()?,
        };
        if let Some(port) = self.port {
            // Fail before spending a second on the data directory; the server's own bind
            // failure is still recognised for a port taken in between.
            if let Err(e) = TcpListener::bind(("127.0.0.1", port)) {
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    return Err(port_in_use(port));
                }
            }
        }
        let owner = server_user()?;
        let template = template_for(&bin_dir, owner.as_ref())?;
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir_in(&parent)
            .map_err(|e| io_error("create a temporary directory for the cluster", &e))?;
        let path = dir.path().to_owned();
        // From here on, dropping `cluster` removes the directory and stops any server.
        let mut cluster = TempCluster {
            port: 0,
            server: Mutex::new(None),
            dir: Mutex::new(Some(dir)),
            path,
            databases_made: AtomicU64::new(0),
        };
        fs::write(
            cluster.path.join("owner.pid"),
            std::process::id().to_string(),
        )
        .map_err(|e| io_error("write the cluster's owner file", &e))?;
        fs::create_dir(cluster.path.join("socket"))
            .map_err(|e| io_error("create the cluster's socket directory", &e))?;
        if let Some(owner) = &owner {
            for sub in ["", "socket"] {
                std::os::unix::fs::chown(cluster.path.join(sub), Some(owner.uid), Some(owner.gid))
                    .map_err(|e| {
                        io_error(
                            &format!("hand the cluster directory to `{}`", owner.name),
                            &e,
                        )
                    })?;
            }
        }
        copy_data(&template, &cluster.path)?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = match self.port {
                Some(port) => port,
                None => free_port()?,
            };
            match cluster.start_server(&bin_dir, owner.as_ref(), port, &self.settings) {
                Ok(()) => {
                    cluster.port = port;
                    return Ok(cluster);
                }
                Err(e)
                    if e.kind() == ErrorKind::PortInUse
                        && self.port.is_none()
                        && attempts < PORT_ATTEMPTS => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl TempCluster {
    /// Starts a cluster with the defaults; see [`ClusterBuilder`] for the knobs.
    pub fn start() -> Result<TempCluster, Error> {
        ClusterBuilder::default().start()
    }

    /// A builder, for a chosen port, binaries or settings.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// One cluster for the whole process, started by the first call and stopped and removed
    /// when the process exits. Tests in one binary share it and each takes a fresh database.
    ///
    /// ```no_run
    /// let url = selvedge_sql::postgres::TempCluster::shared()?.create_database()?;
    /// # Ok::<(), selvedge_sql::Error>(())
    /// ```
    pub fn shared() -> Result<&'static TempCluster, Error> {
        static SHARED: OnceLock<Result<TempCluster, Error>> = OnceLock::new();
        extern "C" fn stop_shared_at_exit() {
            if let Some(Ok(cluster)) = SHARED.get() {
                cluster.stop();
            }
        }
        SHARED
            .get_or_init(|| {
                let cluster = TempCluster::start()?;
                // SAFETY: registering a plain function with no captured state.
                unsafe { libc::atexit(stop_shared_at_exit) };
                Ok(cluster)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The directory holding the cluster (data, socket, log); gone after the drop.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The URL of `database` as the superuser `postgres` (authentication is `trust`).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Creates a new empty database and returns its URL.
    pub fn create_database(&self) -> Result<String, Error> {
        let n = self.databases_made.fetch_add(1, Ordering::Relaxed) + 1;
        let name = format!("selvedge_{n}");
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Database,
                    format!("cannot connect to the throwaway server: {e}"),
                )
            })?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Database,
                    format!("cannot create database `{name}`: {e}"),
                )
            })?;
        Ok(self.url(&name))
    }

    /// Stops the server and removes the directory. Idempotent; `Drop` calls it.
    fn stop(&self) {
        if let Some(server) = self.server.lock().unwrap_or_else(|p| p.into_inner()).take() {
            stop_server(server);
        }
        if let Some(dir) = self.dir.lock().unwrap_or_else(|p| p.into_inner()).take() {
            // The server ran as another user, but root removes anything; a failure here would
            // leave the directory for the next sweep, which is all that can be done.
            let _ = dir.close();
        }
    }

    fn start_server(
        &self,
        bin_dir: &Path,
        owner: Option<&ServerUser>,
        port: u16,
        extra_settings: &[(String, String)],
    ) -> Result<(), Error> {
        let log = self.path.join("server.log");
        let log_file = File::create(&log).map_err(|e| io_error("create the server's log", &e))?;
        let mut command = Command::new(bin_dir.join("postgres"));
        command
            .args(["-D", "data", "-p", &port.to_string(), "-k"])
            .arg(self.path.join("socket"))
            .args(["-c", "listen_addresses=127.0.0.1"]);
        let defaults = DEFAULT_SETTINGS.iter().map(|(k, v)| (*k, *v));
        for (name, value) in
            defaults.chain(extra_settings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        command
            .current_dir(&self.path)
            .stdin(Stdio::null())
            .stdout(
                log_file
                    .try_clone()
                    .map_err(|e| io_error("open the server's log", &e))?,
            )
            .stderr(log_file);
        as_user(&mut command, owner);
        let child = command
            .spawn()
            .map_err(|e| io_error(&format!("run `{}`", bin_dir.join("postgres").display()), &e))?;
        *self.server.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
        let pid_file = self.path.join("data").join("postmaster.pid");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let exited = {
                let mut server = self.server.lock().unwrap_or_else(|p| p.into_inner());
                let child = server.as_mut().expect("the server was just started");
                child
                    .try_wait()
                    .map_err(|e| io_error("wait for the server", &e))?
            };
            if let Some(status) = exited {
                self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
                let tail = log_tail(&log);
                if tail.contains("Address already in use") {
                    return Err(port_in_use(port));
                }
                return Err(Error::new(
                    ErrorKind::ServerStart,
                    format!("the PostgreSQL server exited while starting ({status}); its log ends:\n{tail}"),
                ));
            }
            if server_is_ready(&pid_file) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::new(
                    ErrorKind::ServerStart,
                    format!(
                        "the PostgreSQL server was not ready within {START_TIMEOUT:?}; its log ends:\n{}",
                        log_tail(&log)
                    ),
                ));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for TempCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempCluster")
            .field("port", &self.port)
            .field("path", &self.path)
            .finish()
    }
}

fn initdb(dir: &Path, bin_dir: &Path, owner: Option<&ServerUser>) -> Result<(), Error> {
    let log = dir.join("initdb.log");
    let log_file = File::create(&log).map_err(|e| io_error("create initdb's log", &e))?;
    let mut command = Command::new(bin_dir.join("initdb"));
    command
        .args([
            "-D",
            "data",
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(
            log_file
                .try_clone()
                .map_err(|e| io_error("open initdb's log", &e))?,
        )
        .stderr(log_file);
    as_user(&mut command, owner);
    let mut child = command
        .spawn()
        .map_err(|e| io_error(&format!("run `{}`", bin_dir.join("initdb").display()), &e))?;
    let deadline = Instant::now() + INITDB_TIMEOUT;
    loop {
        match child
            .try_wait()
            .map_err(|e| io_error("wait for initdb", &e))?
        {
            Some(status) if status.success() => return Ok(()),
            Some(status) => {
                return Err(Error::new(
                    ErrorKind::ServerStart,
                    format!(
                        "`initdb` failed ({status}); its log ends:\n{}",
                        log_tail(&log)
                    ),
                ))
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::new(
                    ErrorKind::ServerStart,
                    format!(
                        "`initdb` did not finish within {INITDB_TIMEOUT:?}; its log ends:\n{}",
                        log_tail(&log)
                    ),
                ));
            }
            None => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

fn port_in_use(port: u16) -> Error {
    Error::new(
        ErrorKind::PortInUse,
        format!(
            "port `{port}` on 127.0.0.1 is in use by another program; choose another with \
             `ClusterBuilder::port`, or leave it unset for a free one"
        ),
    )
}

/// Data directories made by `initdb` once per process and binaries directory; every cluster
/// starts from a copy, which takes a tenth of the time. Removed at process exit (and swept,
/// like clusters, if the process was killed).
static TEMPLATES: Mutex<BTreeMap<PathBuf, PathBuf>> = Mutex::new(BTreeMap::new());

/// The template made with the binaries in `bin_dir`, made now if need be.
fn template_for(bin_dir: &Path, owner: Option<&ServerUser>) -> Result<PathBuf, Error> {
    extern "C" fn remove_templates_at_exit() {
        let templates = TEMPLATES.lock().unwrap_or_else(|p| p.into_inner());
        for dir in templates.values() {
            let _ = fs::remove_dir_all(dir);
        }
    }
    let mut templates = TEMPLATES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = templates.get(bin_dir) {
        return Ok(dir.clone());
    }
    let dir = tempfile::Builder::new()
        .prefix(&format!("{DIR_PREFIX}template-"))
        .tempdir()
        .map_err(|e| io_error("create a temporary directory for the cluster template", &e))?;
    fs::write(dir.path().join("owner.pid"), std::process::id().to_string())
        .map_err(|e| io_error("write the template's owner file", &e))?;
    if let Some(owner) = owner {
        std::os::unix::fs::chown(dir.path(), Some(owner.uid), Some(owner.gid)).map_err(|e| {
            io_error(
                &format!("hand the template directory to `{}`", owner.name),
                &e,
            )
        })?;
    }
    // On failure `dir` is dropped here, which removes it.
    initdb(dir.path(), bin_dir, owner)?;
    if templates.is_empty() {
        // SAFETY: registering a plain function with no captured state.
        unsafe { libc::atexit(remove_templates_at_exit) };
    }
    let path = dir.keep();
    templates.insert(bin_dir.to_owned(), path.clone());
    Ok(path)
}

/// Copies the template's data directory into a cluster's, keeping owner and modes (the server
/// insists on a data directory only its user can read).
fn copy_data(template: &Path, cluster: &Path) -> Result<(), Error> {
    let status = Command::new("cp")
        .arg("-a")
        .arg(template.join("data"))
        .arg(cluster.join("data"))
        .stdin(Stdio::null())
        .status()
        .map_err(|e| io_error("run `cp` to copy the cluster template", &e))?;
    if !status.success() {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "cannot copy the cluster template `{}` ({status})",
                template.display()
            ),
        ));
    }
    Ok(())
}

/// The server writes `ready` as the status line (the 8th) of `postmaster.pid` once it accepts
/// connections.
fn server_is_ready(pid_file: &Path) -> bool {
    fs::read_to_string(pid_file)
        .is_ok_and(|text| text.lines().nth(7).is_some_and(|l| l.trim() == "ready"))
}

/// Immediate shutdown (`SIGQUIT`): the data is thrown away, so there is nothing to flush.
fn stop_server(mut server: Child) {
    // SAFETY: signalling our own child, whose pid we hold and have not reaped.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGQUIT) };
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// The user the server runs as when we are root, which PostgreSQL refuses to run as.
struct ServerUser {
    name: &'static str,
    uid: u32,
    gid: u32,
}

fn server_user() -> Result<Option<ServerUser>, Error> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Some((uid, gid)) = lookup_user(name) {
            return Ok(Some(ServerUser { name, uid, gid }));
        }
    }
    Err(Error::new(
        ErrorKind::ServerStart,
        "PostgreSQL will not run as root and neither a `postgres` nor a `nobody` user exists; \
         create one (`useradd postgres`) or run the tests as another user",
    ))
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let c_name = std::ffi::CString::new(name).ok()?;
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to live storage of the stated size; `result` is read only
    // when getpwnam_r says it found the user.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut entry,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some((entry.pw_uid, entry.pw_gid))
}

fn as_user(command: &mut Command, owner: Option<&ServerUser>) {
    if let Some(owner) = owner {
        command.uid(owner.uid).gid(owner.gid);
    }
}

fn find_bin_dir() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os(BIN_ENV) {
        return check_bin_dir(Path::new(&dir), BIN_ENV);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(DEBIAN_BIN_GLOB_PARENT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("postgres").is_file() && bin.join("initdb").is_file())
                .then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        Error::new(
            ErrorKind::ServerNotInstalled,
            format!(
                "no PostgreSQL server binaries in `{DEBIAN_BIN_GLOB_PARENT}/*/bin`; install Debian's \
                 `postgresql` package (`apt-get install postgresql`) or set `{BIN_ENV}` to a directory \
                 holding `initdb` and `postgres`"
            ),
        )
    })
}

fn check_bin_dir(dir: &Path, knob: &str) -> Result<PathBuf, Error> {
    for binary in ["initdb", "postgres"] {
        if !dir.join(binary).is_file() {
            return Err(Error::new(
                ErrorKind::ServerNotInstalled,
                format!(
                    "`{}` has no `{binary}`; point `{knob}` at a PostgreSQL `bin` directory \
                     (Debian's is `/usr/lib/postgresql/<version>/bin`)",
                    dir.display()
                ),
            ));
        }
    }
    Ok(dir.to_owned())
}

fn free_port() -> Result<u16, Error> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| io_error("find a free loopback port", &e))?;
    let port = listener
        .local_addr()
        .map_err(|e| io_error("find a free loopback port", &e))?
        .port();
    Ok(port)
}

fn log_tail(path: &Path) -> String {
    let Ok(file) = File::open(path) else {
        return "(no log)".into();
    };
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines[start..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn io_error(what: &str, e: &std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("cannot {what}: {e}"))
}

/// Removes clusters whose owning process is gone (killed before it could clean up): their
/// server is stopped and their directory deleted. Best effort; a cluster still owned by a
/// live process is never touched.
fn sweep_stale_clusters(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let is_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(DIR_PREFIX));
        if !is_ours {
            continue;
        }
        let dir = entry.path();
        let Some(owner) = read_pid(&dir.join("owner.pid")) else {
            continue;
        };
        if process_alive(owner) {
            continue;
        }
        if let Some(server) = read_pid(&dir.join("data").join("postmaster.pid")) {
            let cmdline = fs::read(format!("/proc/{server}/cmdline")).unwrap_or_default();
            if process_alive(server) && String::from_utf8_lossy(&cmdline).contains("postgres") {
                // SAFETY: a signal to a process we checked is that cluster's server.
                unsafe { libc::kill(server, libc::SIGQUIT) };
                let deadline = Instant::now() + STOP_TIMEOUT;
                while process_alive(server) && Instant::now() < deadline {
                    std::thread::sleep(POLL_INTERVAL);
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

fn read_pid(path: &Path) -> Option<libc::pid_t> {
    fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Whether `pid` is a live process: one that exists and is not a zombie waiting to be reaped
/// (an exited server whose parent has not collected it yet holds nothing).
fn process_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() != libc::ESRCH };
    let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit(')')
                .next()
                .map(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false);
    exists && !zombie
}
