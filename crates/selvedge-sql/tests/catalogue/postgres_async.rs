//! The catalogue on PostgreSQL through the proxy, with the asynchronous `tokio-postgres` client:
//! each task is a future on a real multi-thread tokio runtime; the proxy's connection threads
//! take the turns, so no runtime thread ever waits for one.

use std::future::Future;
use std::sync::Arc;

use selvedge::orchestra::Orchestra;

use super::postgres_sync::{
    describe, judge_counter, judge_deadlock, judge_doctors, judge_users, Fixture, Increment, Pg,
    ACCOUNTS, ACCOUNTS_RESET, COUNTER, COUNTER_RESET, DOCTORS, DOCTORS_RESET, USERS, USERS_RESET,
    USERS_UNIQUE,
};
use super::Tally;

/// Worker threads of each schedule's runtime.
const WORKERS: usize = 2;

/// Runs `body` as async task code on a connection through the proxy; as the synchronous
/// catalogue does, an error is recorded and success counts as a commit.
async fn task<F, Fut>(fixture: &Fixture, body: F)
where
    F: FnOnce(tokio_postgres::Client) -> Fut,
    Fut: Future<Output = Result<(), tokio_postgres::Error>>,
{
    let task = selvedge::orchestra::current()
        .expect("runs as an orchestra task")
        .index();
    let (client, connection) =
        tokio_postgres::connect(&fixture.pg.proxy.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    match body(client).await {
        Ok(()) => fixture.record.commit(task),
        Err(e) => fixture.record.error(task, describe(&e)),
    }
    // The client was dropped with `body`: the connection ends its session and finishes.
    let _ = connection.await;
}

async fn value(db: &tokio_postgres::Client, sql: &str) -> Result<i64, tokio_postgres::Error> {
    Ok(db.query_one(sql, &[]).await?.get(0))
}

async fn increment(
    db: tokio_postgres::Client,
    level: &str,
    how: Increment,
) -> Result<(), tokio_postgres::Error> {
    db.batch_execute(&format!("BEGIN ISOLATION LEVEL {level}"))
        .await?;
    match how {
        Increment::ReadThenWrite | Increment::ForUpdate => {
            let lock = if matches!(how, Increment::ForUpdate) {
                " FOR UPDATE"
            } else {
                ""
            };
            let v = value(&db, &format!("SELECT v FROM counter WHERE id = 1{lock}")).await?;
            db.batch_execute(&format!("UPDATE counter SET v = {} WHERE id = 1", v + 1))
                .await?;
        }
        Increment::InPlace => {
            db.batch_execute("UPDATE counter SET v = v + 1 WHERE id = 1")
                .await?
        }
    }
    db.batch_execute("COMMIT").await
}

async fn go_off_call(
    db: tokio_postgres::Client,
    level: &str,
    me: &str,
) -> Result<(), tokio_postgres::Error> {
    db.batch_execute(&format!("BEGIN ISOLATION LEVEL {level}"))
        .await?;
    if value(&db, "SELECT count(*) FROM doctors WHERE on_call").await? >= 2 {
        db.batch_execute(&format!(
            "UPDATE doctors SET on_call = false WHERE name = '{me}'"
        ))
        .await?;
    }
    db.batch_execute("COMMIT").await
}

async fn sign_up(db: tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    db.batch_execute("BEGIN").await?;
    if value(
        &db,
        "SELECT count(*) FROM users WHERE email = 'ann@example.com'",
    )
    .await?
        == 0
    {
        db.batch_execute("INSERT INTO users VALUES ('ann@example.com')")
            .await?;
    }
    db.batch_execute("COMMIT").await
}

async fn update_both(
    db: tokio_postgres::Client,
    first: i32,
    second: i32,
) -> Result<(), tokio_postgres::Error> {
    db.batch_execute("BEGIN").await?;
    db.batch_execute(&format!(
        "UPDATE accounts SET balance = balance + 1 WHERE id = {first}"
    ))
    .await?;
    db.batch_execute(&format!(
        "UPDATE accounts SET balance = balance + 1 WHERE id = {second}"
    ))
    .await?;
    db.batch_execute("COMMIT").await
}

pub(crate) fn lost_update(pg: &Pg, level: &'static str, how: Increment) -> Orchestra<Arc<Fixture>> {
    Orchestra::new()
        .setup(pg.setup(COUNTER_RESET, judge_counter))
        .multi_thread(WORKERS)
        .task_async(move |f| {
            let f = f.clone();
            async move { task(&f, |db| increment(db, level, how)).await }
        })
        .task_async(move |f| {
            let f = f.clone();
            async move { task(&f, |db| increment(db, level, how)).await }
        })
}

pub(crate) fn write_skew(pg: &Pg, level: &'static str) -> Orchestra<Arc<Fixture>> {
    Orchestra::new()
        .setup(pg.setup(DOCTORS_RESET, judge_doctors))
        .multi_thread(WORKERS)
        .task_async(move |f| {
            let f = f.clone();
            async move { task(&f, |db| go_off_call(db, level, "alice")).await }
        })
        .task_async(move |f| {
            let f = f.clone();
            async move { task(&f, |db| go_off_call(db, level, "bob")).await }
        })
}

pub(crate) fn duplicates(pg: &Pg) -> Orchestra<Arc<Fixture>> {
    Orchestra::new()
        .setup(pg.setup(USERS_RESET, judge_users))
        .multi_thread(WORKERS)
        .task_async(|f| {
            let f = f.clone();
            async move { task(&f, sign_up).await }
        })
        .task_async(|f| {
            let f = f.clone();
            async move { task(&f, sign_up).await }
        })
}

pub(crate) fn deadlock(pg: &Pg, ordered: bool) -> Orchestra<Arc<Fixture>> {
    let (first, second) = if ordered { (1, 2) } else { (2, 1) };
    Orchestra::new()
        .setup(pg.setup(ACCOUNTS_RESET, judge_deadlock))
        .multi_thread(WORKERS)
        .task_async(|f| {
            let f = f.clone();
            async move { task(&f, |db| update_both(db, 1, 2)).await }
        })
        .task_async(move |f| {
            let f = f.clone();
            async move { task(&f, move |db| update_both(db, first, second)).await }
        })
}

/// The PostgreSQL rows of the catalogue, through the asynchronous client.
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
            "PostgreSQL READ COMMITTED, read then write (async)",
            || lost_update(&counter, rc, Increment::ReadThenWrite),
        ),
        super::tally(
            "lost update",
            "PostgreSQL READ COMMITTED, `SELECT … FOR UPDATE` (async)",
            || lost_update(&counter, rc, Increment::ForUpdate),
        ),
        super::tally("write skew", "PostgreSQL REPEATABLE READ (async)", || {
            write_skew(&doctors, "REPEATABLE READ")
        }),
        super::tally("write skew", "PostgreSQL SERIALIZABLE (async)", || {
            write_skew(&doctors, "SERIALIZABLE")
        }),
        super::tally(
            "check-then-insert",
            "PostgreSQL, no constraint (async)",
            || duplicates(&users),
        ),
        super::tally("check-then-insert", "PostgreSQL, UNIQUE (async)", || {
            duplicates(&unique_users)
        }),
        super::tally(
            "deadlock",
            "PostgreSQL, update_both(1, 2) vs (2, 1) (async)",
            || deadlock(&accounts, false),
        ),
        super::tally("deadlock", "PostgreSQL, both in id order (async)", || {
            deadlock(&accounts, true)
        }),
    ]
}
