//! Failure evidence as typed data: what went wrong in an execution, recorded by a driver and
//! rendered into words by the report alone (`report/`). Nothing here is text meant to be
//! parsed again.

use std::any::Any;
use std::fmt;
use std::panic::Location;

use super::OpKind;

/// The kind of bug a failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// A task panicked (a failed assertion, an `unwrap` on `None`, ...).
    Panic,
    /// Every unfinished task is blocked and none can wake another.
    Deadlock,
    /// An execution ran past `Config::max_steps` without finishing.
    Livelock,
    /// Two accesses to an `UnsafeCell`, at least one a write, overlapped.
    DataRace,
    /// An object the model tracks was still alive when the execution ended.
    Leak,
    /// The code did not do what the schedule being replayed recorded: the code changed, or
    /// it is not deterministic given its schedule.
    Nondeterminism,
    /// A task ran past the end of its stack. Unlike a panic, nothing unwound: the task's
    /// destructors did not run and no `catch_unwind` saw it. `Config::stack_size` and
    /// `thread::Builder::stack_size` give tasks more stack.
    StackOverflow,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::Panic => "panic",
            FailureKind::Deadlock => "deadlock",
            FailureKind::Livelock => "livelock",
            FailureKind::DataRace => "data race",
            FailureKind::Leak => "leak",
            FailureKind::Nondeterminism => "nondeterminism",
            FailureKind::StackOverflow => "stack overflow",
        })
    }
}

/// A failure as the runtime records it, before it is rendered.
#[derive(Clone, Debug)]
pub(crate) struct RawFailure {
    pub(crate) kind: FailureKind,
    /// What happened, in words, unless the evidence says it all (a data race): the report
    /// then writes the message from the evidence.
    pub(crate) message: String,
    pub(crate) task: Option<(u32, String)>,
    pub(crate) blocked: Vec<BlockedTask>,
    pub(crate) evidence: Evidence,
}

/// What a failure shows besides its message and blocked tasks, kept as data for the report
/// to render.
#[derive(Clone, Debug)]
pub(crate) enum Evidence {
    None,
    /// The panics of the failing task that its message names, oldest first.
    Panics(Vec<PanicSite>),
    /// Two unordered accesses to a cell; the report writes the message from it.
    DataRace(DataRace),
    /// The failing task ran off the end of its stack somewhere after this, its last
    /// scheduling point.
    StackOverflow {
        after: Site,
    },
}

/// Two accesses to an `UnsafeCell` by different tasks, at least one a write, that nothing
/// orders.
#[derive(Clone, Debug)]
pub(crate) struct DataRace {
    pub(crate) cell: ObjectRef,
    /// The access that found the race.
    pub(crate) access: CellAccess,
    /// The earlier access it races with.
    pub(crate) earlier: CellAccess,
}

/// One access to a cell: by which task, read or write, where.
#[derive(Clone, Debug)]
pub(crate) struct CellAccess {
    pub(crate) task_name: String,
    pub(crate) write: bool,
    pub(crate) at: &'static Location<'static>,
}

/// Where a task panicked, and how many trace events came before the panic.
#[derive(Clone, Debug)]
pub(crate) struct PanicSite {
    pub(crate) location: String,
    pub(crate) trace_len: usize,
}

/// A place in the user's code.
pub(crate) type Site = &'static Location<'static>;

/// An object as a report names it: `Mutex#2`, and where it was created.
#[derive(Clone, Debug)]
pub(crate) struct ObjectRef {
    pub(crate) name: String,
    pub(crate) created_at: Site,
}

/// A task that a blocked task depends on, with the site that ties them: where it acquired
/// the object (a holder), or where it was spawned (a task being joined).
#[derive(Clone, Debug)]
pub(crate) struct TaskRef {
    pub(crate) task: u32,
    pub(crate) name: String,
    pub(crate) at: Site,
}

/// What a blocked task needs before it can go on.
#[derive(Clone, Debug)]
pub(crate) enum WaitsFor {
    /// A mutex, rwlock or `Once` to be released by its holders (none: a reader queued behind
    /// a waiting writer).
    Release {
        object: ObjectRef,
        holders: Vec<TaskRef>,
    },
    /// `join`: the task to finish.
    Finish(TaskRef),
    /// `Condvar::wait`: a notify.
    Notify { condvar: ObjectRef },
    /// `recv` on an empty channel: a message.
    Message { channel: ObjectRef },
    /// `send` on a full or rendezvous channel: the receiver to take a message.
    Receive { channel: ObjectRef },
    /// `Barrier::wait`: the rest of the barrier's tasks.
    Barrier {
        barrier: ObjectRef,
        arrived: usize,
        n_tasks: usize,
    },
    /// `park`: an `unpark`.
    Unpark,
    /// A task that keeps yielding (`yield_now`, `spin_loop`) until another task makes
    /// progress, and could run its next operation now.
    Progress,
    /// An async task whose future returned `Pending`: a wake of its waker, of which `clones`
    /// are alive (none: nothing can ever wake it).
    Waker { waker: ObjectRef, clones: u32 },
    /// An async task waiting for the first of several things (a `select!`, a `timeout`): each
    /// awaited operation as the report names it (`recv on mpsc#1 at src/lib.rs:9:5`).
    Any { branches: Vec<String> },
    /// An async semaphore's queued `acquire`: permits, of which `available` are free. It was
    /// handed `has` of the `asked` it asked for, and the tasks `ahead` asked earlier (at their
    /// `at`) and are served first.
    Permits {
        semaphore: ObjectRef,
        available: usize,
        has: usize,
        asked: usize,
        ahead: Vec<TaskRef>,
    },
    /// `Sender::closed`: every receiver of the channel to go away.
    Closing { channel: ObjectRef },
    /// `JoinSet::join_next`: a task of the set to complete.
    Completion { set: ObjectRef },
    /// Nothing that blocks it: its next operation, on this object if any, could run (a task
    /// listed in a livelock).
    Other(Option<ObjectRef>),
    /// An orchestra task that had the turn and has not reached a syncpoint since: blocked
    /// outside selvedge's control. `point` is what its turn began at (a name, a statement).
    Outside {
        point: Option<String>,
        stalled_ms: u64,
    },
}

/// A task that could not make progress when the execution ended.
#[derive(Clone, Debug)]
pub(crate) struct BlockedTask {
    pub(crate) task: u32,
    pub(crate) name: String,
    /// The call it is stuck in. A condvar waiter is stuck in `Condvar::wait`, though the step
    /// it will take when notified re-locks the mutex.
    pub(crate) operation: OpKind,
    /// Stuck in an async task's `.await` of the operation rather than a thread's call.
    pub(crate) awaited: bool,
    pub(crate) location: Site,
    pub(crate) waits_for: WaitsFor,
}

impl BlockedTask {
    /// The call as the report names it: `await lock` for an async task's await.
    pub(crate) fn call(&self) -> String {
        if self.awaited {
            format!("await {}", self.operation)
        } else {
            self.operation.to_string()
        }
    }

    /// The one task that can let this one go on, if there is one: an edge of the wait-for
    /// graph.
    pub(crate) fn waits_on_task(&self) -> Option<u32> {
        match &self.waits_for {
            WaitsFor::Release { holders, .. } => holders.first().map(|h| h.task),
            WaitsFor::Finish(task) => Some(task.task),
            WaitsFor::Permits { ahead, .. } => ahead.first().map(|t| t.task),
            _ => None,
        }
    }

    /// What the interleaving's object column shows on this task's last row.
    pub(crate) fn object_label(&self) -> Option<String> {
        match &self.waits_for {
            WaitsFor::Release { object, .. }
            | WaitsFor::Notify { condvar: object }
            | WaitsFor::Message { channel: object }
            | WaitsFor::Receive { channel: object }
            | WaitsFor::Barrier {
                barrier: object, ..
            }
            | WaitsFor::Waker { waker: object, .. }
            | WaitsFor::Permits {
                semaphore: object, ..
            }
            | WaitsFor::Closing { channel: object }
            | WaitsFor::Completion { set: object }
            | WaitsFor::Other(Some(object)) => Some(object.name.clone()),
            WaitsFor::Finish(task) => Some(task.name.clone()),
            WaitsFor::Outside { point, .. } => point.clone(),
            WaitsFor::Unpark
            | WaitsFor::Progress
            | WaitsFor::Any { .. }
            | WaitsFor::Other(None) => None,
        }
    }
}

/// The message of a panic payload (`panic!` with a string, or a formatted one).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic payload that is not a string".to_string()
    }
}
