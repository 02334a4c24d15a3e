//! The wire-protocol proxy: a loopback listener that forwards each client connection to the
//! real server and holds every statement until its task has the turn.
//!
//! Each accepted connection gets two threads: one reads the client's messages, waits for the
//! turn before each simple `Query` and each extended-protocol `Bind` (where the server takes a
//! statement's snapshot; a portal executed again waits at its `Execute`), and forwards them; the other forwards
//! the server's answers and notes errors (SQLSTATE and message) and failed commits on the
//! task's current step. A connection belongs to the task whose `application_name` it carries
//! (`selvedge-task-<index>-<serial>`, handed out by [`Proxy::url`] inside the task); one
//! without it passes through untouched, which is what setup and check code use.
//!
//! Invariants:
//! - Bytes are forwarded exactly as read, in order, in both directions.
//! - When either side closes or fails, both sockets are shut down, so neither thread is left
//!   blocked on a peer that is gone; dropping the `Proxy` shuts every connection down.
//! - `Parse`, `Describe`, `Sync` and the rest pass at once: only the messages that start a
//!   statement's work in the server are turns.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::protocol::{self, Backend, Frontend, Startup};
use super::url::{self, UrlTemplate};
use crate::error::{Error, ErrorKind};
use crate::history::{History, Ran};
use crate::limits::{MAX_REGISTERED_URLS, UPSTREAM_CONNECT_TIMEOUT};
use crate::turns::{self, Turns};

/// Prefix of the `application_name` that ties a connection to a task.
const TASK_PREFIX: &str = "selvedge-task-";

/// A PostgreSQL proxy on loopback that makes every statement of an orchestrated connection a
/// syncpoint of its task, for any client (tokio-postgres, sqlx, diesel, psql, ...).
///
/// The code under test only changes its URL: call [`url`](Self::url) inside the orchestra
/// task that will connect. Each statement of that connection (a simple `Query`, or the `Bind`
/// that starts an extended-protocol one) then waits for the task's turn, its text is the
/// syncpoint's detail in the report, and server errors (`ERROR 40001: could not serialize access ...`,
/// `ERROR 40P01: deadlock detected`) and a `COMMIT` the server answered with `ROLLBACK`
/// are noted on the step that caused them.
///
/// A task's connection that outlives its schedule (the task was abandoned while a statement
/// was blocked in the server, or its client vanished with a statement held) is no longer
/// gated: a statement it still sends runs at once. A fixture that keeps one database across
/// schedules should end such sessions in its setup (`pg_terminate_backend` on the other
/// sessions of the database) before resetting its rows.
///
/// ```no_run
/// use selvedge::orchestra::Orchestra;
/// use selvedge_sql::postgres::{Proxy, TempCluster};
///
/// let db = TempCluster::shared()?.create_database()?;
/// let proxy = std::sync::Arc::new(Proxy::start(&db)?);
/// let p = proxy.clone();
/// Orchestra::new()
///     .task(move |_| {
///         let mut client = postgres::Client::connect(&p.url(), postgres::NoTls).unwrap();
///         client.batch_execute("SELECT 1").unwrap(); // a syncpoint of this task
///     })
///     .run();
/// # Ok::<(), selvedge_sql::Error>(())
/// ```
pub struct Proxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    template: UrlTemplate,
    /// Turns by `application_name`, for connections still to come.
    registered: Mutex<BTreeMap<String, Registered>>,
    next_serial: AtomicU64,
    /// Both sockets of every live connection, so a dropped proxy can shut them down.
    live: Mutex<BTreeMap<u64, [TcpStream; 2]>>,
    next_connection: AtomicU64,
    stopping: AtomicBool,
    /// What task connections ran, in the order it reached the server.
    history: History,
}

struct Registered {
    serial: u64,
    task: usize,
    turns: Arc<dyn Turns>,
}

impl Proxy {
    /// Starts a proxy for the server `upstream_url` points at (a `postgres://` URL; only its
    /// host and port are used, the rest is kept in the URLs [`url`](Self::url) hands out).
    pub fn start(upstream_url: &str) -> Result<Proxy, Error> {
        let (upstream, template) = url::parse(upstream_url)?;
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot listen on a loopback port for the proxy: {e}"),
            )
        })?;
        let addr = listener.local_addr().map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot read the proxy's address: {e}"),
            )
        })?;
        let shared = Arc::new(Shared {
            upstream,
            template,
            registered: Mutex::new(BTreeMap::new()),
            next_serial: AtomicU64::new(0),
            live: Mutex::new(BTreeMap::new()),
            next_connection: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            history: History::default(),
        });
        let accepting = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("selvedge-proxy".into())
            .spawn(move || accept_loop(listener, accepting))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot start the proxy's thread: {e}"),
                )
            })?;
        Ok(Proxy {
            shared,
            addr,
            acceptor: Some(acceptor),
        })
    }

    /// The URL to connect with: the upstream URL pointed at this proxy. Called inside an
    /// orchestra task, it carries that task's `application_name`, so every statement of a
    /// connection made with it is a syncpoint of the task; called anywhere else, the
    /// connection passes through without turns (for setup and checks).
    pub fn url(&self) -> String {
        match turns::current_task() {
            Some((index, turns)) => {
                let name = self.register(index, turns);
                self.shared.template.render(self.addr, Some(&name))
            }
            None => self.shared.template.render(self.addr, None),
        }
    }

    /// The loopback address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the server the proxy forwards to.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// Takes the statements task connections ran since the last call, in the order they were
    /// sent to the server, each in its task's turn. That is the order that really ran, not the
    /// one the strategy asked for: a statement that blocks in the server (on a row lock) keeps
    /// its task from taking turns until it returns, so orders in which that task goes on
    /// earlier never happen; [`Ran::blocked`] marks such a statement. Call it in the setup (to
    /// start afresh) and in the check of each schedule.
    ///
    /// ```no_run
    /// # let proxy = selvedge_sql::postgres::Proxy::start("postgres://localhost/db")?;
    /// for ran in proxy.take_history() {
    ///     println!("task {}: {}", ran.task(), ran.statement());
    /// }
    /// # Ok::<(), selvedge_sql::Error>(())
    /// ```
    pub fn take_history(&self) -> Vec<Ran> {
        self.shared.history.take()
    }

    pub(crate) fn register(&self, task_index: usize, turns: Arc<dyn Turns>) -> String {
        let serial = self.shared.next_serial.fetch_add(1, Ordering::Relaxed);
        let name = format!("{TASK_PREFIX}{task_index}-{serial}");
        let mut registered = lock(&self.shared.registered);
        if registered.len() >= MAX_REGISTERED_URLS {
            // The oldest URLs belong to schedules long finished.
            let oldest = registered
                .iter()
                .min_by_key(|(_, r)| r.serial)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                registered.remove(&oldest);
            }
        }
        registered.insert(
            name.clone(),
            Registered {
                serial,
                task: task_index,
                turns,
            },
        );
        name
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the acceptor, which then sees `stopping`. If it cannot be reached, it is left
        // to end with the process rather than joined forever.
        let woken = TcpStream::connect_timeout(&self.addr, UPSTREAM_CONNECT_TIMEOUT).is_ok();
        if let Some(acceptor) = self.acceptor.take() {
            if woken {
                let _ = acceptor.join();
            }
        }
        for sockets in lock(&self.shared.live).values() {
            for socket in sockets {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .finish()
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let shared = shared.clone();
        let _ = std::thread::Builder::new()
            .name("selvedge-proxy-client".into())
            .spawn(move || {
                let _ = serve(&shared, client);
            });
    }
}

/// What both threads of one connection know about it.
struct Connection {
    shared: Arc<Shared>,
    /// The task the connection belongs to, and its turns; `None` for a pass-through one.
    task: Option<usize>,
    turns: Option<Arc<dyn Turns>>,
    /// Grant numbers of the statements sent and not yet answered.
    unanswered: Mutex<Vec<u64>>,
    /// The statement the client last sent, to recognise a `COMMIT` answered by `ROLLBACK`.
    last_statement: Mutex<String>,
    /// Set once the client said goodbye (`Terminate`), so a close is not an abrupt disconnect.
    terminated: AtomicBool,
}

impl Connection {
    fn note(&self, text: &str) {
        if let Some(turns) = &self.turns {
            turns.note(text);
        }
    }
}

fn serve(shared: &Arc<Shared>, client: TcpStream) -> std::io::Result<()> {
    let _ = client.set_nodelay(true);
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client.try_clone()?;
    let mut packet = Vec::new();
    let params = loop {
        if !protocol::read_startup(&mut from_client, &mut packet)? {
            return Ok(());
        }
        match protocol::parse_startup(&packet) {
            // TLS cannot be proxied without terminating it; `N` makes the client go on in clear
            // (libpq's and most drivers' default `sslmode=prefer` does).
            Startup::Ssl | Startup::GssEnc => to_client.write_all(b"N")?,
            Startup::Cancel => {
                let mut upstream =
                    TcpStream::connect_timeout(&shared.upstream, UPSTREAM_CONNECT_TIMEOUT)?;
                return upstream.write_all(&packet);
            }
            Startup::Unsupported(version) => {
                let message = format!(
                    "selvedge proxy: protocol version `{version}` is not supported; use 3.0"
                );
                return protocol::send(
                    &mut to_client,
                    &protocol::error_response("08P01", &message),
                );
            }
            Startup::Start(params) => break params,
        }
    };
    let application_name = params
        .iter()
        .find(|(k, _)| k == "application_name")
        .map(|(_, v)| v.as_str());
    let (task, turns) = match application_name.filter(|name| name.starts_with(TASK_PREFIX)) {
        None => (None, None),
        Some(name) => match lock(&shared.registered).get(name) {
            Some(registered) => (Some(registered.task), Some(registered.turns.clone())),
            None => {
                let message = format!(
                    "selvedge proxy: `application_name` `{name}` names no task this proxy knows; take the URL \
                     from `Proxy::url` inside the orchestra task that connects, in the same schedule"
                );
                return protocol::send(
                    &mut to_client,
                    &protocol::error_response("08004", &message),
                );
            }
        },
    };
    let upstream = match TcpStream::connect_timeout(&shared.upstream, UPSTREAM_CONNECT_TIMEOUT) {
        Ok(upstream) => upstream,
        Err(e) => {
            let message = format!(
                "selvedge proxy cannot reach the server at `{}`: {e}",
                shared.upstream
            );
            if let Some(turns) = &turns {
                turns.note(&message);
            }
            return protocol::send(&mut to_client, &protocol::error_response("08001", &message));
        }
    };
    let _ = upstream.set_nodelay(true);
    let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
    lock(&shared.live).insert(id, [client.try_clone()?, upstream.try_clone()?]);
    let connection = Arc::new(Connection {
        shared: shared.clone(),
        task,
        turns,
        unanswered: Mutex::new(Vec::new()),
        last_statement: Mutex::new(String::new()),
        terminated: AtomicBool::new(false),
    });
    let mut to_server = BufWriter::new(upstream.try_clone()?);
    to_server.write_all(&packet)?;
    to_server.flush()?;

    let answers = {
        let connection = connection.clone();
        let from_server = BufReader::new(upstream.try_clone()?);
        let to_client = BufWriter::new(client.try_clone()?);
        std::thread::Builder::new()
            .name("selvedge-proxy-server".into())
            .spawn(move || relay_answers(from_server, to_client, &connection))?
    };
    let outcome = relay_statements(&mut from_client, &mut to_server, &connection);
    if let Err(e) = &outcome {
        if !connection.terminated.load(Ordering::SeqCst) {
            connection.note(&format!(
                "selvedge proxy: the connection to the client failed: {e}"
            ));
        }
    }
    let _ = to_server.flush();
    for socket in [&client, &upstream] {
        let _ = socket.shutdown(Shutdown::Both);
    }
    let _ = answers.join();
    lock(&shared.live).remove(&id);
    outcome
}

/// Client to server: waits for the turn before each statement, then forwards it.
fn relay_statements(
    from_client: &mut BufReader<TcpStream>,
    to_server: &mut BufWriter<TcpStream>,
    connection: &Connection,
) -> std::io::Result<()> {
    // What the extended protocol has prepared and bound, to name the statement a turn runs.
    // The unnamed statement and portal are the empty name, replaced at each use. A portal's
    // flag says its turn was already taken at its Bind.
    let mut prepared: BTreeMap<String, String> = BTreeMap::new();
    let mut portals: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let mut message = Vec::new();
    loop {
        if from_client.buffer().is_empty() {
            to_server.flush()?;
        }
        if protocol::read_message(from_client, &mut message)?.is_none() {
            if !connection.terminated.load(Ordering::SeqCst) {
                connection.note(
                    "selvedge proxy: the client closed its connection without ending the session",
                );
            }
            return Ok(());
        }
        let statement = match protocol::parse_frontend(&message) {
            Frontend::Query(text) => Some(text.to_owned()),
            Frontend::Parse { statement, query } => {
                prepared.insert(statement.to_owned(), query.to_owned());
                None
            }
            // The server takes a READ COMMITTED statement's snapshot at Bind, so the turn is
            // taken there, not at the Execute that follows.
            Frontend::Bind { portal, statement } => {
                let text = prepared.get(statement).cloned().unwrap_or_default();
                portals.insert(portal.to_owned(), (text.clone(), true));
                Some(text)
            }
            // A portal executed again (fetching more rows) takes a turn of its own.
            Frontend::Execute { portal } => match portals.get_mut(portal) {
                Some((_, turn_taken @ true)) => {
                    *turn_taken = false;
                    None
                }
                Some((text, false)) => Some(text.clone()),
                None => Some(String::new()),
            },
            Frontend::Close { kind: b'S', name } => {
                prepared.remove(name);
                None
            }
            Frontend::Close { kind: _, name } => {
                portals.remove(name);
                None
            }
            Frontend::Terminate => {
                connection.terminated.store(true, Ordering::SeqCst);
                None
            }
            Frontend::Other => None,
        };
        if let Some(statement) = statement {
            // Everything before the statement reaches the server first, so the turn is spent on
            // the statement alone.
            to_server.flush()?;
            *lock(&connection.last_statement) = statement.clone();
            if let (Some(task), Some(turns)) = (connection.task, &connection.turns) {
                turns.statement(statement.trim());
                let granted = connection.shared.history.sent(task, statement.trim());
                lock(&connection.unanswered).push(granted);
            }
        }
        to_server.write_all(&message)?;
    }
}

/// Server to client: forwards every answer and notes what the report should show.
fn relay_answers(
    mut from_server: BufReader<TcpStream>,
    mut to_client: BufWriter<TcpStream>,
    connection: &Connection,
) {
    let mut message = Vec::new();
    loop {
        if from_server.buffer().is_empty() && to_client.flush().is_err() {
            break;
        }
        match protocol::read_message(&mut from_server, &mut message) {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
        match protocol::parse_backend(&message) {
            Backend::Error(error) => {
                connection.note(&format!(
                    "{} {}: {}",
                    error.severity, error.code, error.message
                ));
            }
            Backend::CommandComplete("ROLLBACK") => {
                let last = lock(&connection.last_statement).trim().to_ascii_uppercase();
                if last.starts_with("COMMIT") || last.starts_with("END") {
                    connection.note("COMMIT answered ROLLBACK: the transaction had failed, nothing was committed");
                }
            }
            Backend::ReadyForQuery(_) => {
                let unanswered = std::mem::take(&mut *lock(&connection.unanswered));
                connection.shared.history.answered(&unanswered);
            }
            Backend::CommandComplete(_) | Backend::Other => {}
        }
        if to_client.write_all(&message).is_err() {
            break;
        }
    }
    let _ = to_client.flush();
    if let Ok(client) = to_client.into_inner() {
        let _ = client.shutdown(Shutdown::Both);
    }
    let _ = from_server.get_ref().shutdown(Shutdown::Both);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
