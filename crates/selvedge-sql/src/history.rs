//! The order statements really ran in: each statement a task sent, numbered by the turn it was
//! sent in, and the turn during which the database answered it. Both SQL layers record here
//! (the proxy for its task connections, the SQLite hook for connections watched with a
//! history); tests and checks read it to count the orders the database allowed.
//!
//! Invariant: turn numbers only grow, and a statement is numbered after its task got the turn,
//! so sorting by that number gives the order statements reached the database; a statement
//! answered during a later turn than its own waited in the database (`Ran::blocked`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// One statement a task ran, from [`History::take`] or
/// [`Proxy::take_history`](crate::postgres::Proxy::take_history).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ran {
    task: usize,
    statement: String,
    /// The turn (by the history's count) the statement was sent in.
    granted: u64,
    /// The turn during which the database answered it; `None` if it never did.
    answered_in: Option<u64>,
}

impl Ran {
    /// The orchestra task that ran it (its index, from 0).
    pub fn task(&self) -> usize {
        self.task
    }

    /// The statement's text, as the client sent it (for SQLite, with parameters filled in).
    pub fn statement(&self) -> &str {
        &self.statement
    }

    /// Whether it waited in the database past its own turn (a lock another transaction held),
    /// or never got an answer.
    pub fn blocked(&self) -> bool {
        self.answered_in != Some(self.granted)
    }
}

/// The statements tasks ran, in the order they reached the database: the order that really ran,
/// which the database's blocking limits, rather than the one the strategy asked for. Share one
/// between the connections of a schedule (see
/// [`sqlite::watch_recording`](crate::sqlite::watch_recording)); the PostgreSQL proxy keeps its
/// own.
///
/// ```
/// let history = std::sync::Arc::new(selvedge_sql::History::default());
/// let db = rusqlite::Connection::open_in_memory().unwrap();
/// selvedge_sql::sqlite::watch_recording(&db, &history);
/// db.execute_batch("SELECT 1").unwrap();
/// assert!(history.take().is_empty(), "only statements of orchestra tasks are recorded");
/// ```
#[derive(Debug, Default)]
pub struct History {
    turns: AtomicU64,
    ran: Mutex<Vec<Ran>>,
}

impl History {
    /// Takes what was recorded since the last call, in the order the statements reached the
    /// database. Call it in a schedule's setup (to start afresh) and in its check.
    pub fn take(&self) -> Vec<Ran> {
        let mut ran = std::mem::take(&mut *self.lock());
        ran.sort_by_key(|ran| ran.granted);
        ran
    }

    /// Records that `task` was given the turn for `statement` and sent it; returns the turn's
    /// number, for [`answered`](Self::answered).
    pub(crate) fn sent(&self, task: usize, statement: &str) -> u64 {
        let granted = self.turns.fetch_add(1, Ordering::SeqCst) + 1;
        self.lock().push(Ran {
            task,
            statement: statement.to_owned(),
            granted,
            answered_in: None,
        });
        granted
    }

    /// Records that the statements sent in turns `granted` were answered now.
    pub(crate) fn answered(&self, granted: &[u64]) {
        if granted.is_empty() {
            return;
        }
        let now = self.turns.load(Ordering::SeqCst);
        // Recent statements are at the end; one taken away with its schedule's history is
        // simply not found.
        for ran in self
            .lock()
            .iter_mut()
            .rev()
            .filter(|ran| granted.contains(&ran.granted))
        {
            ran.answered_in = Some(now);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Ran>> {
        self.ran
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
