//! The anomaly catalogue: classic concurrency anomalies of SQL transactions, each run on a real
//! database under selvedge's orchestra with every statement a turn, and tallied per anomaly
//! and isolation level (schedules explored, distinct orders the server let run, how many
//! showed the anomaly, the first one's report).
//!
//! Shared by the tests (`tests/anomalies_*.rs`) and the runnable example
//! (`examples/anomalies.rs`), so what the example prints is what the tests check.
//!
//! Invariants:
//! - The code under test is plain client code: it only takes its URL from the proxy (or
//!   watches its SQLite connection); errors are recorded, not hidden, and the check judges
//!   the committed state the database holds, never what a client believed.
//! - Each schedule starts from the same database state: setup ends any session a previous
//!   schedule left behind and resets the rows.
#![allow(dead_code)]

pub(crate) mod postgres_async;
pub(crate) mod postgres_sync;
pub(crate) mod sqlite;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use selvedge::orchestra::Orchestra;

/// How long a task holding the turn may go without reaching its next statement before it is
/// taken as blocked in the database. A statement here takes a few milliseconds; this is far
/// above that, and low enough that the schedules where a row lock blocks stay quick.
pub(crate) const STALL: Duration = Duration::from_millis(150);

/// How long every task may stay blocked before the schedule is a deadlock of selvedge's own;
/// PostgreSQL's own check (`deadlock_timeout`, 50 ms on the throwaway cluster) comes first.
pub(crate) const ALL_STALLED: Duration = Duration::from_secs(2);

/// What one schedule saw, filled in by the tasks and read by the check.
#[derive(Default)]
pub(crate) struct Record {
    /// Database errors the tasks met, as `task N: <error>`.
    pub(crate) errors: Mutex<Vec<String>>,
    /// Tasks that committed.
    pub(crate) committed: Mutex<Vec<usize>>,
}

impl Record {
    pub(crate) fn error(&self, task: usize, error: impl fmt::Display) {
        self.errors
            .lock()
            .unwrap()
            .push(format!("task {task}: {error}"));
    }

    pub(crate) fn commit(&self, task: usize) {
        self.committed.lock().unwrap().push(task);
    }

    pub(crate) fn n_committed(&self) -> usize {
        self.committed.lock().unwrap().len()
    }

    pub(crate) fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }
}

/// What a schedule's fixture gives the catalogue's runner.
pub(crate) trait Schedule: Send + Sync + 'static {
    fn record(&self) -> &Record;
    /// The anomaly this schedule's committed state shows, if any.
    fn anomaly(&self) -> Option<String>;
    /// The order the statements took effect in, as (task, n-th statement of the task), when
    /// the database layer can tell; `None` otherwise.
    fn order(&self) -> Option<Vec<(usize, usize)>>;
}

impl<T: Schedule> Schedule for Arc<T> {
    fn record(&self) -> &Record {
        (**self).record()
    }

    fn anomaly(&self) -> Option<String> {
        (**self).anomaly()
    }

    fn order(&self) -> Option<Vec<(usize, usize)>> {
        (**self).order()
    }
}

/// One row of the catalogue.
#[derive(Clone, Debug)]
pub(crate) struct Tally {
    pub(crate) anomaly: &'static str,
    pub(crate) setting: String,
    /// Schedules explored.
    pub(crate) schedules: u64,
    /// Whether every turn order was covered.
    pub(crate) complete: bool,
    /// Distinct orders the statements took effect in, where the database layer can tell.
    pub(crate) orders: Option<usize>,
    /// Schedules whose committed state showed the anomaly.
    pub(crate) anomalies: u64,
    /// Schedules in which some task met a database error (and rolled back).
    pub(crate) with_errors: u64,
    /// The first error met, for the table.
    pub(crate) first_error: Option<String>,
    /// The report of the first schedule that showed the anomaly.
    pub(crate) first_report: Option<String>,
    /// Wall time of the counting exploration (stalls wait `STALL` each).
    pub(crate) elapsed: Duration,
}

impl Tally {
    pub(crate) fn row(&self) -> String {
        format!(
            "| {} | {} | {}{} | {} | {} | {} | {:.1} s |",
            self.anomaly,
            self.setting,
            self.schedules,
            if self.complete { "" } else { " (incomplete)" },
            self.orders.map_or("—".to_string(), |n| n.to_string()),
            self.anomalies,
            match &self.first_error {
                Some(e) => format!("{} ({e})", self.with_errors),
                None => self.with_errors.to_string(),
            },
            self.elapsed.as_secs_f64(),
        )
    }

    pub(crate) const HEADER: &'static str = "| anomaly | database and isolation | schedules | orders that ran | \
                                      with the anomaly | with an error | time |\n|---|---|---|---|---|---|---|";
}

/// Explores `build`'s orchestra twice: once to the end, counting, and, when some schedule
/// showed the anomaly, once more to the first such schedule, for its report.
pub(crate) fn tally<S: Schedule>(
    anomaly: &'static str,
    setting: &str,
    build: impl Fn() -> Orchestra<S>,
) -> Tally {
    let started = std::time::Instant::now();
    #[derive(Default)]
    struct Seen {
        orders: BTreeSet<Vec<(usize, usize)>>,
        orders_known: bool,
        anomalies: u64,
        with_errors: u64,
        first_error: Option<String>,
    }
    let seen = Arc::new(Mutex::new(Seen {
        orders_known: true,
        ..Default::default()
    }));
    let counting = seen.clone();
    let report = build()
        .turns_start_at_syncpoints()
        .stall_timeout(STALL)
        .deadlock_timeout(ALL_STALLED)
        .check(move |schedule: &S| {
            let mut seen = counting.lock().unwrap();
            match schedule.order() {
                Some(order) => {
                    seen.orders.insert(order);
                }
                None => seen.orders_known = false,
            }
            let errors = schedule.record().errors();
            if let Some(first) = errors.first() {
                seen.with_errors += 1;
                seen.first_error.get_or_insert_with(|| first.clone());
            }
            if schedule.anomaly().is_some() {
                seen.anomalies += 1;
            }
        })
        .explore();
    if let Some(error) = report.error() {
        panic!("{anomaly}, {setting}: the exploration could not run: {error}");
    }
    if let Some(failure) = report.failure() {
        panic!("{anomaly}, {setting}: a schedule failed while counting:\n{failure}");
    }
    let elapsed = started.elapsed();
    let seen = seen.lock().unwrap();
    let first_report = (seen.anomalies > 0).then(|| {
        // The same exploration, in the same order, stopping at the first anomaly.
        let report = build()
            .turns_start_at_syncpoints()
            .stall_timeout(STALL)
            .deadlock_timeout(ALL_STALLED)
            .check(|schedule: &S| {
                if let Some(anomaly) = schedule.anomaly() {
                    panic!("{anomaly}");
                }
            })
            .explore();
        match report.failure() {
            Some(failure) => failure.to_string(),
            // Real servers' timing can move a blocked statement to another turn.
            None => "(the anomaly did not show again on the second exploration)".to_string(),
        }
    });
    Tally {
        anomaly,
        setting: setting.to_string(),
        schedules: report.schedules(),
        complete: report.complete(),
        orders: seen.orders_known.then_some(seen.orders.len()),
        anomalies: seen.anomalies,
        with_errors: seen.with_errors,
        first_error: seen.first_error.clone(),
        first_report,
        elapsed,
    }
}

/// Positions each task's statements: (task, n-th statement of that task), in history order.
pub(crate) fn positions(tasks: impl IntoIterator<Item = usize>) -> Vec<(usize, usize)> {
    let mut seen_per_task: Vec<usize> = Vec::new();
    tasks
        .into_iter()
        .map(|task| {
            if seen_per_task.len() <= task {
                seen_per_task.resize(task + 1, 0);
            }
            seen_per_task[task] += 1;
            (task, seen_per_task[task] - 1)
        })
        .collect()
}
