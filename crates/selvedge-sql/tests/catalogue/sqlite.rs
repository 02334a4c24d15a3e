//! The catalogue on SQLite (the bundled library, a database file in WAL mode): each task opens
//! its own connection and watches it (recording what ran), the only selvedge-specific line.

use std::path::PathBuf;
use std::sync::Arc;

use selvedge::orchestra::Orchestra;
use selvedge_sql::History;

use super::{Record, Schedule, Tally};

/// A database file of its own, in a directory removed when the last schedule is done.
#[derive(Clone)]
pub(crate) struct Lite {
    dir: Arc<tempfile::TempDir>,
    history: Arc<History>,
}

impl Lite {
    pub(crate) fn new() -> Lite {
        let lite = Lite {
            dir: Arc::new(tempfile::tempdir().unwrap()),
            history: Arc::new(History::default()),
        };
        let db = rusqlite::Connection::open(lite.path()).unwrap();
        db.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE counter (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
        )
        .unwrap();
        lite
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join("catalogue.db")
    }

    pub(crate) fn setup(&self) -> impl Fn() -> Fixture + Send + Sync + 'static {
        let lite = self.clone();
        move || {
            let db = rusqlite::Connection::open(lite.path()).unwrap();
            db.execute_batch("DELETE FROM counter; INSERT INTO counter VALUES (1, 0)")
                .unwrap();
            Fixture {
                lite: lite.clone(),
                record: Record::default(),
            }
        }
    }
}

pub(crate) struct Fixture {
    pub(crate) lite: Lite,
    pub(crate) record: Record,
}

impl Schedule for Fixture {
    fn record(&self) -> &Record {
        &self.record
    }

    fn anomaly(&self) -> Option<String> {
        let db = rusqlite::Connection::open(self.lite.path()).unwrap();
        let v: i64 = db
            .query_row("SELECT v FROM counter WHERE id = 1", [], |row| row.get(0))
            .unwrap();
        let committed = self.record.n_committed() as i64;
        (v != committed).then(|| {
            format!("lost update: the counter is {v} after {committed} committed increments")
        })
    }

    fn order(&self) -> Option<Vec<(usize, usize)>> {
        Some(super::positions(
            self.lite.history.take().iter().map(|ran| ran.task()),
        ))
    }
}

/// How a task adds one to the counter.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Increment {
    /// `SELECT v`, then `UPDATE ... SET v = <read> + 1`, each statement its own transaction.
    Autocommit,
    /// The same inside `BEGIN` (deferred: the write lock is taken at the `UPDATE`).
    Deferred,
    /// The same inside `BEGIN IMMEDIATE`: the write lock is taken at `BEGIN`.
    Immediate,
    /// `UPDATE ... SET v = v + 1`.
    InPlace,
}

pub(crate) fn increment(db: &rusqlite::Connection, how: Increment) -> rusqlite::Result<()> {
    let begin = match how {
        Increment::Deferred => Some("BEGIN"),
        Increment::Immediate => Some("BEGIN IMMEDIATE"),
        Increment::Autocommit | Increment::InPlace => None,
    };
    if let Some(begin) = begin {
        db.execute_batch(begin)?;
    }
    let result = (|| {
        if matches!(how, Increment::InPlace) {
            db.execute("UPDATE counter SET v = v + 1 WHERE id = 1", [])?;
        } else {
            let v: i64 =
                db.query_row("SELECT v FROM counter WHERE id = 1", [], |row| row.get(0))?;
            db.execute("UPDATE counter SET v = ?1 WHERE id = 1", [v + 1])?;
        }
        if begin.is_some() {
            db.execute_batch("COMMIT")?;
        }
        Ok(())
    })();
    if result.is_err() && !db.is_autocommit() {
        // SQLITE_BUSY leaves the transaction open: end it, or it keeps its locks.
        db.execute_batch("ROLLBACK")?;
    }
    result
}

pub(crate) fn task(fixture: &Fixture, how: Increment) {
    let task = selvedge::orchestra::current()
        .expect("runs as an orchestra task")
        .index();
    let db = rusqlite::Connection::open(fixture.lite.path()).unwrap();
    selvedge_sql::sqlite::watch_recording(&db, &fixture.lite.history);
    match increment(&db, how) {
        Ok(()) => fixture.record.commit(task),
        Err(e) => fixture.record.error(task, e),
    }
}

pub(crate) fn lost_update(lite: &Lite, how: Increment) -> Orchestra<Fixture> {
    Orchestra::new()
        .setup(lite.setup())
        .task(move |f| task(f, how))
        .task(move |f| task(f, how))
}

/// The SQLite rows of the catalogue.
pub(crate) fn catalogue() -> Vec<Tally> {
    let lite = Lite::new();
    vec![
        super::tally(
            "lost update",
            "SQLite, read then write, no transaction",
            || lost_update(&lite, Increment::Autocommit),
        ),
        super::tally("lost update", "SQLite, read then write in `BEGIN`", || {
            lost_update(&lite, Increment::Deferred)
        }),
        super::tally(
            "lost update",
            "SQLite, read then write in `BEGIN IMMEDIATE`",
            || lost_update(&lite, Increment::Immediate),
        ),
        super::tally("lost update", "SQLite, `SET v = v + 1`", || {
            lost_update(&lite, Increment::InPlace)
        }),
    ]
}
