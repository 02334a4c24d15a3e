//! The proxy against a real server, with scripted turns in place of the orchestra: what is a
//! turn, what is held until the turn, what is noted, and how connections end.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::postgres::TempCluster;

/// Turns that record everything and, when `permits` is set, hold each statement until the
/// test sends a permit.
#[derive(Default)]
struct Scripted {
    log: Mutex<Vec<String>>,
    arrived: Mutex<Option<Sender<String>>>,
    permits: Mutex<Option<Receiver<()>>>,
}

impl Turns for Scripted {
    fn statement(&self, statement: &str) {
        self.log.lock().unwrap().push(format!("turn: {statement}"));
        if let Some(arrived) = &*self.arrived.lock().unwrap() {
            arrived.send(statement.to_owned()).unwrap();
        }
        if let Some(permits) = &*self.permits.lock().unwrap() {
            permits.recv().unwrap();
        }
    }

    fn note(&self, text: &str) {
        self.log.lock().unwrap().push(format!("note: {text}"));
    }
}

impl Scripted {
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn database() -> String {
    TempCluster::shared().unwrap().create_database().unwrap()
}

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

#[test]
fn a_connection_outside_any_task_passes_through() {
    let proxy = Proxy::start(&database()).unwrap();
    let url = proxy.url();
    assert!(!url.contains("application_name"), "{url}");
    let mut client = connect(&url);
    let v: i32 = client
        .query_one("SELECT $1::int + 1", &[&41])
        .unwrap()
        .get(0);
    assert_eq!(v, 42);
}

#[test]
fn every_statement_is_a_turn_and_errors_are_noted() {
    let proxy = Proxy::start(&database()).unwrap();
    let turns = Arc::new(Scripted::default());
    let url = proxy
        .shared
        .template
        .render(proxy.addr, Some(&proxy.register(0, turns.clone())));
    let mut client = connect(&url);
    client.batch_execute("CREATE TABLE t (v int)").unwrap();
    let mut tx = client.transaction().unwrap();
    tx.execute("INSERT INTO t VALUES ($1)", &[&7]).unwrap();
    let err = tx.query_one("SELECT 1 / (v - 7) FROM t", &[]).unwrap_err();
    assert_eq!(
        err.code(),
        Some(&postgres::error::SqlState::DIVISION_BY_ZERO)
    );
    // The server answers the COMMIT of a failed transaction with ROLLBACK, not an error, and
    // the client takes that as success: only the note tells.
    tx.commit().unwrap();
    drop(client);
    assert_eq!(
        turns.log(),
        [
            "turn: CREATE TABLE t (v int)",
            "turn: START TRANSACTION",
            "turn: INSERT INTO t VALUES ($1)",
            "turn: SELECT 1 / (v - 7) FROM t",
            "note: ERROR 22012: division by zero",
            "turn: COMMIT",
            "note: COMMIT answered ROLLBACK: the transaction had failed, nothing was committed",
        ]
    );
}

#[test]
fn a_statement_reaches_the_server_only_on_its_turn() {
    let db = database();
    let proxy = Proxy::start(&db).unwrap();
    let (arrived_tx, arrived) = mpsc::channel();
    let (permit, permits) = mpsc::channel();
    let turns = Arc::new(Scripted {
        arrived: Mutex::new(Some(arrived_tx)),
        permits: Mutex::new(Some(permits)),
        ..Default::default()
    });
    let url = proxy
        .shared
        .template
        .render(proxy.addr, Some(&proxy.register(0, turns.clone())));
    let mut direct = connect(&db);
    direct.batch_execute("CREATE TABLE t (v int)").unwrap();
    let client = std::thread::spawn(move || {
        let mut client = connect(&url);
        client.execute("INSERT INTO t VALUES ($1)", &[&1]).unwrap();
    });
    assert_eq!(arrived.recv().unwrap(), "INSERT INTO t VALUES ($1)");
    // Held: give it every chance to arrive, then look.
    std::thread::sleep(Duration::from_millis(100));
    let rows: i64 = direct
        .query_one("SELECT count(*) FROM t", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "the insert waits for its turn");
    permit.send(()).unwrap();
    client.join().unwrap();
    let rows: i64 = direct
        .query_one("SELECT count(*) FROM t", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

#[test]
fn a_url_from_no_known_task_is_refused_with_advice() {
    let db = database();
    let proxy = Proxy::start(&db).unwrap();
    let url = proxy
        .shared
        .template
        .render(proxy.addr, Some("selvedge-task-3-999999"));
    let err = postgres::Client::connect(&url, postgres::NoTls)
        .err()
        .expect("the proxy refuses the connection");
    let db_error = err.as_db_error().expect("a server-style error");
    assert_eq!(
        db_error.message(),
        "selvedge proxy: `application_name` `selvedge-task-3-999999` names no task this proxy knows; take the \
         URL from `Proxy::url` inside the orchestra task that connects, in the same schedule"
    );
}

#[test]
fn a_client_that_disconnects_mid_turn_is_noted_and_nothing_hangs() {
    let db = database();
    let proxy = Proxy::start(&db).unwrap();
    let (arrived_tx, arrived) = mpsc::channel();
    let (permit, permits) = mpsc::channel();
    let turns = Arc::new(Scripted {
        arrived: Mutex::new(Some(arrived_tx)),
        permits: Mutex::new(Some(permits)),
        ..Default::default()
    });
    let name = proxy.register(0, turns.clone());
    let mut direct = connect(&db);
    direct.batch_execute("CREATE TABLE t (v int)").unwrap();
    // A raw client: start a session, send one statement, and vanish without waiting.
    let mut socket = TcpStream::connect(proxy.addr()).unwrap();
    let mut body = Vec::new();
    body.extend_from_slice(&protocol::PROTOCOL_3.to_be_bytes());
    for part in [
        "user",
        "postgres",
        "database",
        db.rsplit('/').next().unwrap(),
        "application_name",
        &name,
        "",
    ] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    let mut startup = (4 + body.len() as i32).to_be_bytes().to_vec();
    startup.extend_from_slice(&body);
    socket.write_all(&startup).unwrap();
    let mut reader = BufReader::new(socket.try_clone().unwrap());
    let mut message = Vec::new();
    while protocol::read_message(&mut reader, &mut message).unwrap() != Some(b'Z') {}
    socket
        .write_all(&protocol::tagged(b'Q', b"INSERT INTO t VALUES (1)\0"))
        .unwrap();
    assert_eq!(arrived.recv().unwrap(), "INSERT INTO t VALUES (1)");
    socket.shutdown(Shutdown::Both).unwrap();
    drop((socket, reader));
    permit.send(()).unwrap();
    // The proxy forwards the held statement, finds the client gone, and ends the session.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !turns
        .log()
        .iter()
        .any(|l| l.contains("closed its connection"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the disconnect was never noted: {:?}",
            turns.log()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        turns.log(),
        [
            "turn: INSERT INTO t VALUES (1)",
            "note: selvedge proxy: the client closed its connection without ending the session",
        ]
    );
    while !lock(&proxy.shared.live).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the connection's threads never ended"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn dropping_the_proxy_ends_its_connections() {
    let proxy = Proxy::start(&database()).unwrap();
    let mut client = connect(&proxy.url());
    client.batch_execute("SELECT 1").unwrap();
    drop(proxy);
    assert!(client.batch_execute("SELECT 1").is_err());
}
