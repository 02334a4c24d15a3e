//! The catalogue on PostgreSQL through the proxy, with the synchronous `postgres` client on
//! the orchestra's task threads. Each anomaly is a small piece of ordinary client code; the
//! only selvedge-specific line is taking the URL from the proxy.

use std::sync::{Arc, Mutex};

use selvedge::orchestra::Orchestra;
use selvedge_sql::postgres::{Proxy, TempCluster};

use super::{positions, Record, Schedule, Tally};

/// A database of its own on the shared throwaway cluster, its proxy, and a direct connection
/// for setup and checks.
#[derive(Clone)]
pub(crate) struct Pg {
    pub(crate) proxy: Arc<Proxy>,
    pub(crate) admin: Arc<Mutex<postgres::Client>>,
    pub(crate) url: String,
}

impl Pg {
    /// A fresh database holding `schema`.
    pub(crate) fn new(schema: &str) -> Pg {
        let url = TempCluster::shared().unwrap().create_database().unwrap();
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        admin.batch_execute(schema).unwrap();
        let proxy = Arc::new(Proxy::start(&url).unwrap());
        Pg {
            proxy,
            admin: Arc::new(Mutex::new(admin)),
            url,
        }
    }

    /// A setup closure: ends sessions an earlier schedule left (a task abandoned while blocked
    /// in the server), resets the rows with `reset`, and starts a fresh history.
    pub(crate) fn setup(
        &self,
        reset: &'static str,
        judge: fn(&mut postgres::Client, &Record) -> Option<String>,
    ) -> impl Fn() -> Arc<Fixture> + Send + Sync + 'static {
        let pg = self.clone();
        move || {
            {
                let mut admin = pg.admin.lock().unwrap();
                end_other_sessions(&mut admin);
                admin.batch_execute(reset).unwrap();
            }
            pg.proxy.take_history();
            Arc::new(Fixture {
                pg: pg.clone(),
                record: Record::default(),
                judge,
            })
        }
    }
}

/// Ends every other client session on the admin connection's database and waits for them to go.
pub(crate) fn end_other_sessions(admin: &mut postgres::Client) {
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        )
        .unwrap();
}

/// One schedule's fixture.
pub(crate) struct Fixture {
    pub(crate) pg: Pg,
    pub(crate) record: Record,
    judge: fn(&mut postgres::Client, &Record) -> Option<String>,
}

impl Schedule for Fixture {
    fn record(&self) -> &Record {
        &self.record
    }

    fn anomaly(&self) -> Option<String> {
        (self.judge)(&mut self.pg.admin.lock().unwrap(), &self.record)
    }

    fn order(&self) -> Option<Vec<(usize, usize)>> {
        Some(positions(
            self.pg.proxy.take_history().iter().map(|ran| ran.task()),
        ))
    }
}

/// A task's connection through the proxy.
pub(crate) struct Session {
    pub(crate) client: postgres::Client,
    pub(crate) task: usize,
}

impl Session {
    pub(crate) fn run(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.client.batch_execute(sql)
    }

    pub(crate) fn value(&mut self, sql: &str) -> Result<i64, postgres::Error> {
        Ok(self.client.query_one(sql, &[])?.get(0))
    }
}

/// Runs `body` as task code on a connection through the proxy; an error is recorded (the
/// connection closes, so the server rolls the transaction back), success counts as a commit.
pub(crate) fn task(
    fixture: &Fixture,
    body: impl FnOnce(&mut Session) -> Result<(), postgres::Error>,
) {
    let task = selvedge::orchestra::current()
        .expect("runs as an orchestra task")
        .index();
    let client = postgres::Client::connect(&fixture.pg.proxy.url(), postgres::NoTls).unwrap();
    let mut session = Session { client, task };
    match body(&mut session) {
        Ok(()) => fixture.record.commit(task),
        Err(e) => fixture.record.error(task, describe(&e)),
    }
}

/// `ERROR 40001: could not serialize access ...`, as the proxy notes it in the report.
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

// ---- lost update -------------------------------------------------------------------------

pub(crate) const COUNTER: &str = "CREATE TABLE counter (id int PRIMARY KEY, v bigint NOT NULL); INSERT INTO counter VALUES (1, 0)";
pub(crate) const COUNTER_RESET: &str = "UPDATE counter SET v = 0";

/// How a task adds one to the counter.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Increment {
    /// `SELECT v`, then `UPDATE ... SET v = <what was read> + 1`.
    ReadThenWrite,
    /// `UPDATE ... SET v = v + 1`: the database reads and writes under one row lock.
    InPlace,
    /// `SELECT v ... FOR UPDATE` (locks the row), then write what was read plus one.
    ForUpdate,
}

pub(crate) fn increment(
    db: &mut Session,
    level: &str,
    how: Increment,
) -> Result<(), postgres::Error> {
    db.run(&format!("BEGIN ISOLATION LEVEL {level}"))?;
    match how {
        Increment::ReadThenWrite | Increment::ForUpdate => {
            let lock = if matches!(how, Increment::ForUpdate) {
                " FOR UPDATE"
            } else {
                ""
            };
            let v = db.value(&format!("SELECT v FROM counter WHERE id = 1{lock}"))?;
            db.run(&format!("UPDATE counter SET v = {} WHERE id = 1", v + 1))?;
        }
        Increment::InPlace => db.run("UPDATE counter SET v = v + 1 WHERE id = 1")?,
    }
    db.run("COMMIT")
}

/// The counter must have gone up once per task that committed.
pub(crate) fn judge_counter(admin: &mut postgres::Client, record: &Record) -> Option<String> {
    let v: i64 = admin
        .query_one("SELECT v FROM counter WHERE id = 1", &[])
        .unwrap()
        .get(0);
    let committed = record.n_committed() as i64;
    (v != committed)
        .then(|| format!("lost update: the counter is {v} after {committed} committed increments"))
}

pub(crate) fn lost_update(pg: &Pg, level: &'static str, how: Increment) -> Orchestra<Arc<Fixture>> {
    Orchestra::new()
        .setup(pg.setup(COUNTER_RESET, judge_counter))
        .task(move |f| task(f, |db| increment(db, level, how)))
        .task(move |f| task(f, |db| increment(db, level, how)))
}

// ---- write skew --------------------------------------------------------------------------

pub(crate) const DOCTORS: &str =
    "CREATE TABLE doctors (name text PRIMARY KEY, on_call boolean NOT NULL); \
     INSERT INTO doctors VALUES ('alice', true), ('bob', true)";
pub(crate) const DOCTORS_RESET: &str = "UPDATE doctors SET on_call = true";

/// A doctor goes off call if someone else is still on call.
pub(crate) fn go_off_call(db: &mut Session, level: &str, me: &str) -> Result<(), postgres::Error> {
    db.run(&format!("BEGIN ISOLATION LEVEL {level}"))?;
    let on_call = db.value("SELECT count(*) FROM doctors WHERE on_call")?;
    if on_call >= 2 {
        db.run(&format!(
            "UPDATE doctors SET on_call = false WHERE name = '{me}'"
        ))?;
    }
    db.run("COMMIT")
}

pub(crate) fn judge_doctors(admin: &mut postgres::Client, _: &Record) -> Option<String> {
    let on_call: i64 = admin
        .query_one("SELECT count(*) FROM doctors WHERE on_call", &[])
        .unwrap()
        .get(0);
    (on_call == 0).then(|| "write skew: both doctors went off call, nobody is on call".to_string())
}

pub(crate) fn write_skew(pg: &Pg, level: &'static str) -> Orchestra<Arc<Fixture>> {
    Orchestra::new()
        .setup(pg.setup(DOCTORS_RESET, judge_doctors))
        .task(move |f| task(f, |db| go_off_call(db, level, "alice")))
        .task(move |f| task(f, |db| go_off_call(db, level, "bob")))
}

// ---- check-then-insert duplicates --------------------------------------------------------

pub(crate) const USERS: &str = "CREATE TABLE users (email text NOT NULL)";
pub(crate) const USERS_UNIQUE: &str = "CREATE TABLE users (email text NOT NULL UNIQUE)";
pub(crate) const USERS_RESET: &str = "DELETE FROM users";

/// Signs a user up unless the address is taken.
pub(crate) fn sign_up(db: &mut Session) -> Result<(), postgres::Error> {
    db.run("BEGIN")?;
    let taken = db.value("SELECT count(*) FROM users WHERE email = 'ann@example.com'")?;
    if taken == 0 {
        db.run("INSERT INTO users VALUES ('ann@example.com')")?;
    }
    db.run("COMMIT")
}

pub(crate) fn judge_users(admin: &mut postgres::Client, _: &Record) -> Option<String> {
    let rows: i64 = admin
        .query_one(
            "SELECT count(*) FROM users WHERE email = 'ann@example.com'",
            &[],
        )
        .unwrap()
        .get(0);
    (rows > 1).then(|| format!("duplicate: {rows} users signed up as ann@example.com"))
}

pub(crate) fn duplicates(pg: &Pg) -> Orchestra<Arc<Fixture>> {
    Orchestra::new()
        .setup(pg.setup(USERS_RESET, judge_users))
        .task(|f| task(f, sign_up))
        .task(|f| task(f, sign_up))
}

// ---- deadlock ----------------------------------------------------------------------------

pub(crate) const ACCOUNTS: &str =
    "CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL); \
     INSERT INTO accounts VALUES (1, 100), (2, 100)";
pub(crate) const ACCOUNTS_RESET: &str = "UPDATE accounts SET balance = 100";

/// Touches two accounts in one transaction, in the order given.
pub(crate) fn update_both(
    db: &mut Session,
    first: i32,
    second: i32,
) -> Result<(), postgres::Error> {
    db.run("BEGIN")?;
    db.run(&format!(
        "UPDATE accounts SET balance = balance + 1 WHERE id = {first}"
    ))?;
    db.run(&format!(
        "UPDATE accounts SET balance = balance + 1 WHERE id = {second}"
    ))?;
    db.run("COMMIT")
}

pub(crate) fn judge_deadlock(_: &mut postgres::Client, record: &Record) -> Option<String> {
    record
        .errors()
        .into_iter()
        .find(|e| e.contains("40P01"))
        .map(|e| format!("deadlock: {e}"))
}

/// `update_both(1, 2)` against `update_both(2, 1)`, or both in id order when `ordered`.
pub(crate) fn deadlock(pg: &Pg, ordered: bool) -> Orchestra<Arc<Fixture>> {
    let (first, second) = if ordered { (1, 2) } else { (2, 1) };
    Orchestra::new()
        .setup(pg.setup(ACCOUNTS_RESET, judge_deadlock))
        .task(|f| task(f, |db| update_both(db, 1, 2)))
        .task(move |f| task(f, |db| update_both(db, first, second)))
}

/// The PostgreSQL rows of the catalogue, through the synchronous client.
pub(crate) fn catalogue() -> Vec<Tally> {
    let counter = Pg::new(COUNTER);
    let doctors = Pg::new(DOCTORS);
    let users = Pg::new(USERS);
    let unique_users = Pg::new(USERS_UNIQUE);
    let accounts = Pg::new(ACCOUNTS);
    let rc = "READ COMMITTED";
    vec![
        super::tally(
            "lost update",
            "PostgreSQL READ COMMITTED, read then write",
            || lost_update(&counter, rc, Increment::ReadThenWrite),
        ),
        super::tally(
            "lost update",
            "PostgreSQL REPEATABLE READ, read then write",
            || lost_update(&counter, "REPEATABLE READ", Increment::ReadThenWrite),
        ),
        super::tally(
            "lost update",
            "PostgreSQL READ COMMITTED, `SET v = v + 1`",
            || lost_update(&counter, rc, Increment::InPlace),
        ),
        super::tally(
            "lost update",
            "PostgreSQL READ COMMITTED, `SELECT … FOR UPDATE`",
            || lost_update(&counter, rc, Increment::ForUpdate),
        ),
        super::tally("write skew", "PostgreSQL REPEATABLE READ", || {
            write_skew(&doctors, "REPEATABLE READ")
        }),
        super::tally("write skew", "PostgreSQL SERIALIZABLE", || {
            write_skew(&doctors, "SERIALIZABLE")
        }),
        super::tally(
            "check-then-insert",
            "PostgreSQL READ COMMITTED, no constraint",
            || duplicates(&users),
        ),
        super::tally(
            "check-then-insert",
            "PostgreSQL READ COMMITTED, UNIQUE",
            || duplicates(&unique_users),
        ),
        super::tally(
            "deadlock",
            "PostgreSQL, update_both(1, 2) vs (2, 1)",
            || deadlock(&accounts, false),
        ),
        super::tally("deadlock", "PostgreSQL, both in id order", || {
            deadlock(&accounts, true)
        }),
    ]
}
