//! A stress harness for real code on real OS threads (feature `stress`): many threads, many
//! iterations of a weighted mix of named operations, invariants counted as violations, faults
//! injected on a schedule with the time to recover measured, a watchdog that turns a hang into
//! a report, latency percentiles, and results as a Markdown table, versioned JSON and an SVG
//! plot.
//!
//! Stress finds out *that* something is wrong; the model ([`explore`](crate::explore),
//! [`model`](crate::model())) shows exactly *why*, as an interleaving with a replay string. Put
//! `selvedge::syncpoint!()` where another thread's turn matters: here, each one becomes a
//! random yield or short sleep ([`Shake`]) that widens race windows, and is remembered as the
//! thread's last syncpoint for the watchdog's report; in a model, it is a scheduling point.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use selvedge::stress::Stress;
//!
//! // A queue of jobs whose `take` checks and then pops in two steps: a race.
//! let jobs = Arc::new(Mutex::new(Vec::<u64>::new()));
//! let taken_from_empty = Arc::new(AtomicU64::new(0));
//! let (push, take) = (jobs.clone(), jobs.clone());
//! let empty = taken_from_empty.clone();
//! let outcome = Stress::new("racy queue")
//!     .threads(8)
//!     .iterations(200)
//!     .op("push", 1, move |ctx| push.lock().unwrap().push(ctx.iteration()))
//!     .op("take", 1, move |_| {
//!         let nonempty = !take.lock().unwrap().is_empty();
//!         selvedge::syncpoint!("checked, not yet popped");
//!         if nonempty && take.lock().unwrap().pop().is_none() {
//!             empty.fetch_add(1, Relaxed);
//!         }
//!     })
//!     .invariant("took_from_empty", move || taken_from_empty.load(Relaxed))
//!     .watchdog(Duration::from_secs(10))
//!     .run();
//! println!("{}", outcome.to_markdown());
//! assert_eq!(outcome.deadlocks(), 0);
//! assert_eq!(outcome.errors(), 0);
//! ```
//!
//! # What a run does
//!
//! Every thread waits at a start barrier, then runs its iterations (or runs until the
//! `duration` is over): before each operation it injects the faults that are due
//! (`fault_every` counts operations over all threads), draws an operation by weight from its
//! own seeded random stream, runs it (an `Err` or a panic is an error with its message, never a
//! crash), records its latency in a thread-local HDR histogram, and checks the invariants asked
//! for after each operation. When every thread is done, each invariant is checked once more.
//!
//! A fault's recovery time runs from the end of its injection to the end of the first
//! operation, on any thread, that started after it and succeeded.
//!
//! # The watchdog
//!
//! Threads not done at the deadline (`watchdog`, after the start, or after the planned end of
//! a run of a `duration`) are told to stop and given a short grace period; those still not done
//! are reported as deadlocked, each with its name, iteration, what it was doing and the last
//! syncpoint it passed. The run then returns: the stuck threads are left parked (never joined),
//! and the report says so. End checks run on a thread of their own under the same deadline,
//! since one might wait for a lock a stuck thread holds.
//!
//! # Results
//!
//! [`Outcome`] has the figures; [`Outcome::to_markdown`] and [`markdown_summary`] make the
//! table (`Test | Threads | Duration | Iterations | Deadlocks | Errors |` one column per
//! invariant), [`Outcome::to_json`] writes the format [`JSON_SCHEMA`] documents (version
//! [`FORMAT_VERSION`]), and [`Outcome::to_svg`] plots the latency percentiles. `Display` is the
//! human report: the tables, the error messages and the watchdog's findings.
//!
//! # What it costs
//!
//! An empty operation costs the harness about a hundred nanoseconds with latency histograms,
//! less without (`BENCHMARKS.md` has the figures and the command that measures them), so an
//! operation's percentiles are meaningful well above that.

mod builder;
mod error;
mod json;
mod outcome;
mod panics;
mod plot;
mod render;
mod run;
mod shake;

pub use builder::{OpResult, Progress, Shake, Stress, Violations};
pub use error::{Error, ErrorKind};
pub use json::{FORMAT_VERSION, JSON_SCHEMA};
pub use outcome::{
    Activity, ErrorSample, FaultStats, InvariantResult, OperationStats, Outcome, Percentiles,
    Planned, StuckThread, WatchdogReport,
};
pub use render::markdown_summary;
pub use run::Ctx;
