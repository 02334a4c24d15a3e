//! The seam between the SQL layers and whoever hands out turns: a connection's statements
//! wait here for their task's turn, and what the server said is noted on the task's step.
//!
//! Invariant: the SQLite hook and the PostgreSQL proxy reach the orchestra only through this
//! file, so the proxy can be tested with a scripted gate and the orchestra can change shape
//! without touching protocol code.

use std::sync::Arc;

/// One task's turns, as the proxy's connection threads see them.
pub(crate) trait Turns: Send + Sync {
    /// Blocks until the task has the turn, then returns; `statement` is what the task is about
    /// to run, shown in the report. The report's location for the step is the caller's (the
    /// proxy's relay), since the code under test runs elsewhere.
    #[track_caller]
    fn statement(&self, statement: &str);
    /// A line on the task's current step in the report (a server error, a rollback).
    fn note(&self, text: &str);
}

impl Turns for selvedge::orchestra::TaskToken {
    #[track_caller]
    fn statement(&self, statement: &str) {
        self.syncpoint(None, statement);
    }

    fn note(&self, text: &str) {
        selvedge::orchestra::TaskToken::note(self, text);
    }
}

/// The turns of the orchestra task the calling thread (or tokio task) runs, if any.
pub(crate) fn current_task() -> Option<(usize, Arc<dyn Turns>)> {
    selvedge::orchestra::current().map(|token| (token.index(), Arc::new(token) as Arc<dyn Turns>))
}

/// A syncpoint for the calling thread's own task, with the statement as its detail; a no-op
/// outside any orchestra. The step's location is the caller's (the SQLite hook).
#[track_caller]
pub(crate) fn statement_here(statement: &str) {
    selvedge::orchestra::syncpoint_with(None, statement);
}

/// Whether the calling thread (or tokio task) runs an orchestra task.
pub(crate) fn in_task() -> bool {
    selvedge::orchestra::current().is_some()
}
