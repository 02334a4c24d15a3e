//! The proxy under the orchestra, beyond the catalogue: a statement blocked on a row lock is
//! set aside and the run completes; a task that fails on the server's deadlock error is a
//! failure whose report shows the error; any client works (psql); a client that vanishes
//! mid-turn is named in the report and nothing hangs.

mod catalogue;

use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use catalogue::postgres_sync::{self as pg, Fixture, Pg};
use catalogue::{ALL_STALLED, STALL};
use selvedge::orchestra::Orchestra;
use selvedge::FailureKind;

fn orchestra(setup: impl Fn() -> Arc<Fixture> + Send + Sync + 'static) -> Orchestra<Arc<Fixture>> {
    Orchestra::new()
        .setup(setup)
        .turns_start_at_syncpoints()
        .stall_timeout(STALL)
        .deadlock_timeout(ALL_STALLED)
}

fn connect(fixture: &Fixture) -> pg::Session {
    let client = postgres::Client::connect(&fixture.pg.proxy.url(), postgres::NoTls).unwrap();
    pg::Session {
        client,
        task: selvedge::orchestra::current().unwrap().index(),
    }
}

fn counter(fixture: &Fixture) -> i64 {
    fixture
        .pg
        .admin
        .lock()
        .unwrap()
        .query_one("SELECT v FROM counter WHERE id = 1", &[])
        .unwrap()
        .get(0)
}

#[test]
fn a_statement_blocked_on_a_row_lock_is_set_aside_and_the_run_completes() {
    let db = Pg::new(pg::COUNTER);
    let blocked_schedules = Arc::new(AtomicUsize::new(0));
    let seen = blocked_schedules.clone();
    let bump = |f: &Arc<Fixture>| {
        let mut db = connect(f);
        db.run("BEGIN").unwrap();
        db.run("UPDATE counter SET v = v + 1 WHERE id = 1").unwrap();
        db.run("COMMIT").unwrap();
    };
    let report = orchestra(db.setup(pg::COUNTER_RESET, pg::judge_counter))
        .task(bump)
        .task(bump)
        .check(move |f| {
            assert_eq!(counter(f), 2);
            let history = f.pg.proxy.take_history();
            if let Some(waited) = history.iter().find(|ran| ran.blocked()) {
                assert!(
                    waited.statement().starts_with("UPDATE"),
                    "only the UPDATE waits: {history:?}"
                );
                seen.fetch_add(1, Ordering::SeqCst);
            }
        })
        .explore();
    assert!(
        report.failure().is_none() && report.error().is_none(),
        "{:?}",
        report.failure().map(|f| f.to_string())
    );
    assert!(report.complete());
    assert!(
        blocked_schedules.load(Ordering::SeqCst) > 0,
        "some schedule asked for the second UPDATE early"
    );
}

#[test]
fn a_task_failing_on_the_deadlock_error_is_reported_with_its_interleaving() {
    let db = Pg::new(pg::ACCOUNTS);
    let report = orchestra(db.setup(pg::ACCOUNTS_RESET, pg::judge_deadlock))
        .task(|f| pg::update_both(&mut connect(f), 1, 2).unwrap())
        .task(|f| pg::update_both(&mut connect(f), 2, 1).unwrap())
        .explore();
    let failure = report.failure().expect("some order deadlocks");
    assert_eq!(failure.kind(), FailureKind::Panic);
    assert!(failure.message().contains("deadlock detected"), "{failure}");
    let text = failure.to_string();
    assert!(text.contains("ERROR 40P01: deadlock detected"), "{text}");
    assert!(
        text.contains("UPDATE accounts SET balance = balance + 1 WHERE id = 2"),
        "{text}"
    );
}

#[test]
fn psql_works_through_the_proxy_and_each_command_is_a_turn() {
    let db = Pg::new(pg::COUNTER);
    let psql = |f: &Arc<Fixture>| {
        let status = std::process::Command::new("psql")
            .arg(f.pg.proxy.url())
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-c",
                "BEGIN",
                "-c",
                "UPDATE counter SET v = v + 1 WHERE id = 1",
                "-c",
                "COMMIT",
            ])
            .status()
            .expect("`psql` runs (Debian's `postgresql` package brings it; `.ci/run` installs it)");
        assert!(status.success(), "psql failed: {status}");
    };
    let counts = orchestra(db.setup(pg::COUNTER_RESET, pg::judge_counter))
        .task(psql)
        .task(psql)
        .check(|f| assert_eq!(counter(f), 2))
        .run();
    assert_eq!(counts, vec![3, 3]);
}

#[test]
fn a_client_that_vanishes_mid_turn_leaves_the_run_to_complete() {
    let db = Pg::new(pg::COUNTER);
    let database = db.url.rsplit('/').next().unwrap().to_string();
    let report = orchestra(db.setup(pg::COUNTER_RESET, pg::judge_counter))
        .task(move |f| {
            // A hand-written client: starts a session, sends one statement, and is gone before
            // the statement has had its turn.
            let url = f.pg.proxy.url();
            let application_name = url.rsplit("application_name=").next().unwrap();
            let mut socket = std::net::TcpStream::connect(f.pg.proxy.addr()).unwrap();
            let mut body = 196_608i32.to_be_bytes().to_vec();
            for part in [
                "user",
                "postgres",
                "database",
                &database,
                "application_name",
                application_name,
                "",
            ] {
                body.extend_from_slice(part.as_bytes());
                body.push(0);
            }
            let mut packet = (4 + body.len() as i32).to_be_bytes().to_vec();
            packet.extend_from_slice(&body);
            socket.write_all(&packet).unwrap();
            let mut reader = BufReader::new(socket.try_clone().unwrap());
            // Read until ReadyForQuery (`Z`, length 5, idle).
            let mut seen = Vec::new();
            while !seen.ends_with(&[b'Z', 0, 0, 0, 5, b'I']) {
                let chunk = reader.fill_buf().unwrap().to_vec();
                assert!(!chunk.is_empty(), "the proxy closed the session");
                reader.consume(chunk.len());
                seen.extend_from_slice(&chunk);
            }
            let query = b"UPDATE counter SET v = v + 1 WHERE id = 1\0";
            let mut message = vec![b'Q'];
            message.extend_from_slice(&(4 + query.len() as i32).to_be_bytes());
            message.extend_from_slice(query);
            socket.write_all(&message).unwrap();
            socket.shutdown(std::net::Shutdown::Both).unwrap();
        })
        .task(|f| pg::increment(&mut connect(f), "READ COMMITTED", pg::Increment::InPlace).unwrap())
        .check(|f| {
            // The vanished client's statement may or may not have run; the other's did.
            let v = counter(f);
            assert!(v == 1 || v == 2, "the counter is {v}");
        })
        .explore();
    assert!(report.error().is_none(), "{:?}", report.error());
    assert!(report.failure().is_none(), "{}", report.failure().unwrap());
    assert!(report.complete());
}
