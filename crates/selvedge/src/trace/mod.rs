//! The plain-data vocabulary every part of selvedge shares: task and object ids, operations
//! with the `Access` dependency is decided from, the events of a trace, the names a report
//! shows, typed failure evidence, and an `Execution`: everything a driver hands back about one
//! run of the test.
//!
//! Drivers (the coroutine runtime, and others to come) write it; the explorer, the strategies
//! and the report only read it.
//!
//! Invariant: a leaf. This module imports nothing from the rest of selvedge, and holds no user
//! values: an event is a task, an operation, an object id, an access and a `&'static Location`.

mod evidence;
mod op;

pub use evidence::FailureKind;
pub(crate) use evidence::{
    panic_message, BlockedTask, CellAccess, DataRace, Evidence, ObjectRef, PanicSite, RawFailure,
    TaskRef, WaitsFor,
};
pub(crate) use op::{Access, ObjectId, Op, OpKind, Query, TaskId};

/// One entry of the trace: an operation a task performed. `chosen` marks the ones that
/// followed a scheduling decision (the rest, such as spawn and exit, are shown for context).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TraceEvent {
    pub(crate) task: TaskId,
    pub(crate) op: Op,
    pub(crate) chosen: bool,
    /// Performed while the task was unwinding from a panic (by a drop), never chosen.
    pub(crate) unwinding: bool,
}

/// What the report calls the tasks and objects of an execution, by id. A driver fills it in
/// only for an execution a report is made of.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    /// `main (task 0)`, `worker (task 3)`, by task id.
    pub(crate) tasks: Vec<String>,
    /// `Mutex#2`, by object id.
    pub(crate) objects: Vec<String>,
}

impl Names {
    pub(crate) fn task(&self, task: TaskId) -> &str {
        self.tasks
            .get(task.index())
            .map_or("an unknown task", String::as_str)
    }

    pub(crate) fn object(&self, object: ObjectId) -> &str {
        self.objects
            .get(object.index())
            .map_or("an unknown object", String::as_str)
    }
}

/// Everything about one run of the test that the rest of selvedge may know: plain data.
#[derive(Debug, Default)]
pub(crate) struct Execution {
    /// Every operation performed, in order.
    pub(crate) trace: Vec<TraceEvent>,
    /// The task chosen at each decision.
    pub(crate) choices: Vec<TaskId>,
    /// Decisions that switched away from a task that could have gone on.
    pub(crate) preemptions: usize,
    /// The seed `selvedge::rand` drew this execution's numbers from, when it drew any.
    pub(crate) data_seed: Option<u64>,
    /// The virtual clock when the execution ended, in nanoseconds: how much model time its
    /// sleeps and timeouts took (none passes in real time).
    pub(crate) virtual_ns: u64,
    /// Where the virtual clock moved: `(trace length when it moved, the new time in ns)`.
    pub(crate) clock_marks: Vec<(u32, u64)>,
    /// Ended early because the strategy knew every continuation was already covered.
    pub(crate) redundant: bool,
    /// A wait in it returned spuriously (`Config::spurious_wakeups`).
    pub(crate) woke_spuriously: bool,
    /// The bug found, if any.
    pub(crate) failure: Option<RawFailure>,
    /// Names for the report; filled in when there is a failure.
    pub(crate) names: Names,
    /// The driver failed (an engine assertion: a bug in selvedge): the panic's message.
    pub(crate) internal: Option<String>,
    /// The OS thread that ran the execution must run no other (a task was abandoned in the
    /// middle of a panic); its failure says why.
    pub(crate) thread_ruined: bool,
}
