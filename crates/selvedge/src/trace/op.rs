//! What a task is about to do at a scheduling point: the operation, the object it touches
//! and where in the user's code it was called.
//!
//! Invariant: an `Op` is plain data (no user values), so strategies and reports can read it
//! freely and a trace never keeps user data alive.

use std::fmt;
use std::panic::Location;

/// A task's index in its execution, in creation order: `main` is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TaskId(pub(crate) u32);

impl TaskId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// An object's index in its execution's object table, in creation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjectId(pub(crate) u32);

impl ObjectId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// The operations the runtime knows. Whether a pending operation is enabled is decided in
/// `ExecState::is_enabled` from this and the object's state alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// A task's first step: the code before its first visible operation.
    Start,
    Yield,
    SpinLoop,
    /// Waiting on the virtual clock for this many nanoseconds.
    Sleep(u64),
    Spawn(TaskId),
    Join(TaskId),
    Park,
    ParkTimeout,
    Unpark(TaskId),
    Lock,
    TryLock,
    Unlock,
    ReadLock,
    WriteLock,
    TryReadLock,
    TryWriteLock,
    ReadUnlock,
    WriteUnlock,
    CondvarWait,
    CondvarWaitTimeout,
    NotifyOne,
    NotifyAll,
    BarrierWait,
    /// Waiting for a barrier's generation to move past the one the task arrived in.
    BarrierBlocked(u32),
    OnceEnter,
    AtomicLoad,
    AtomicStore,
    AtomicRmw,
    AtomicCas,
    Fence,
    Send,
    /// A rendezvous sender waiting until its message (the ticket-th) is received.
    SendWait(u64),
    Recv,
    TryRecv,
    TrySend,
    CellRead,
    CellWrite,
    RecvTimeout,
    TaskExit,
    /// A notify unblocked this task (recorded for ordering, never a decision).
    Wake(TaskId),
    /// An explicit `syncpoint!`: a scheduling point that does nothing itself. Unlike a yield,
    /// it is progress, so passing many in a row is not a spin.
    Syncpoint,
    /// Every task was blocked and the virtual clock moved to the earliest deadline (recorded,
    /// never a decision: it orders everything before it before everything after it).
    ClockAdvance,
    /// An async task waits for its waker (`Waker::wake`) after its future returned `Pending`.
    AwaitWake,
    /// An async task waits for the first of several things (a `select!`, a `timeout`): it
    /// conflicts with everything, so every order of what might wake it is explored.
    AwaitAny,
    /// `Waker::wake` (or `wake_by_ref`) on a task's waker.
    WakerWake(TaskId),
    /// A task's waker was cloned.
    WakerClone,
    /// A clone of a task's waker was dropped.
    WakerDrop,
    /// `JoinHandle::abort` / `AbortHandle::abort`: cancels the task at its next await.
    Abort(TaskId),
    /// `JoinHandle::is_finished`: observes whether a task has finished.
    IsFinished(TaskId),
    /// The orchestra set a task aside: it had the turn and reached no syncpoint within the
    /// stall timeout (recorded for the report, never a decision).
    Stall,
}

impl OpKind {
    /// A stable small code, folded into the replay string's fingerprint of the execution.
    pub(crate) fn code(self) -> u32 {
        // Only the variant matters for the fingerprint: payloads (task ids, tickets) are
        // determined by the choices already.
        match self {
            OpKind::Start => 1,
            OpKind::Yield => 2,
            OpKind::SpinLoop => 3,
            OpKind::Sleep(_) => 4,
            OpKind::Spawn(_) => 5,
            OpKind::Join(_) => 6,
            OpKind::Park => 7,
            OpKind::ParkTimeout => 8,
            OpKind::Unpark(_) => 9,
            OpKind::Lock => 10,
            OpKind::TryLock => 11,
            OpKind::Unlock => 12,
            OpKind::ReadLock => 13,
            OpKind::WriteLock => 14,
            OpKind::TryReadLock => 15,
            OpKind::TryWriteLock => 16,
            OpKind::ReadUnlock => 17,
            OpKind::WriteUnlock => 18,
            OpKind::CondvarWait => 19,
            OpKind::CondvarWaitTimeout => 20,
            OpKind::NotifyOne => 21,
            OpKind::NotifyAll => 22,
            OpKind::BarrierWait => 23,
            OpKind::BarrierBlocked(_) => 24,
            OpKind::OnceEnter => 25,
            OpKind::AtomicLoad => 26,
            OpKind::AtomicStore => 27,
            OpKind::AtomicRmw => 28,
            OpKind::AtomicCas => 29,
            OpKind::Fence => 30,
            OpKind::Send => 31,
            OpKind::SendWait(_) => 32,
            OpKind::Recv => 33,
            OpKind::TryRecv => 34,
            OpKind::RecvTimeout => 35,
            OpKind::TaskExit => 38,
            OpKind::Wake(_) => 39,
            OpKind::TrySend => 40,
            OpKind::CellRead => 41,
            OpKind::CellWrite => 42,
            OpKind::Syncpoint => 43,
            OpKind::ClockAdvance => 44,
            OpKind::AwaitWake => 45,
            OpKind::AwaitAny => 46,
            OpKind::WakerWake(_) => 47,
            OpKind::WakerClone => 48,
            OpKind::WakerDrop => 49,
            OpKind::Abort(_) => 50,
            OpKind::IsFinished(_) => 56,
            // Far from the model's codes, which grow from 43.
            OpKind::Stall => 100,
        }
    }

    /// How this operation touches its object: the one table dependency is decided from
    /// (`Candidate::conflicts_with`, DPOR's race analysis). A new operation kind gets a row here
    /// and nowhere else in the strategies.
    pub(crate) fn access(self) -> Access {
        match self {
            OpKind::Yield
            | OpKind::SpinLoop
            | OpKind::Sleep(_)
            | OpKind::Fence
            | OpKind::ClockAdvance
            | OpKind::Stall => Access::Local,
            OpKind::AtomicLoad => Access::Read,
            OpKind::Lock | OpKind::WriteLock => Access::Acquire {
                exclusive: true,
                attempt: false,
            },
            OpKind::TryLock | OpKind::TryWriteLock => Access::Acquire {
                exclusive: true,
                attempt: true,
            },
            OpKind::ReadLock => Access::Acquire {
                exclusive: false,
                attempt: false,
            },
            OpKind::TryReadLock => Access::Acquire {
                exclusive: false,
                attempt: true,
            },
            OpKind::Unlock | OpKind::WriteUnlock => Access::Release { exclusive: true },
            OpKind::ReadUnlock => Access::Release { exclusive: false },
            OpKind::Syncpoint | OpKind::AwaitAny | OpKind::Abort(_) | OpKind::IsFinished(_) => {
                Access::Everything
            }
            OpKind::Start
            | OpKind::Spawn(_)
            | OpKind::Join(_)
            | OpKind::Park
            | OpKind::ParkTimeout
            | OpKind::Unpark(_)
            | OpKind::CondvarWait
            | OpKind::CondvarWaitTimeout
            | OpKind::NotifyOne
            | OpKind::NotifyAll
            | OpKind::BarrierWait
            | OpKind::BarrierBlocked(_)
            | OpKind::OnceEnter
            | OpKind::AtomicStore
            | OpKind::AtomicRmw
            | OpKind::AtomicCas
            | OpKind::Send
            | OpKind::SendWait(_)
            | OpKind::Recv
            | OpKind::TryRecv
            | OpKind::TrySend
            | OpKind::CellRead
            | OpKind::CellWrite
            | OpKind::RecvTimeout
            | OpKind::TaskExit
            | OpKind::Wake(_)
            | OpKind::AwaitWake
            | OpKind::WakerWake(_)
            | OpKind::WakerClone
            | OpKind::WakerDrop => Access::Write,
        }
    }

    /// The task this operation orders itself with, beyond its object: a spawn comes before
    /// the child's first step, a join after the target's exit, an unpark before the target's
    /// park.
    pub(crate) fn names_task(self) -> Option<TaskId> {
        match self {
            OpKind::Spawn(t) | OpKind::Join(t) | OpKind::Unpark(t) => Some(t),
            _ => None,
        }
    }
    /// What the operation is called in reports, as a thin pointer (a `&'static str` promoted
    /// to a static), so it can be handed to another thread in one atomic word.
    pub(crate) fn name(self) -> &'static &'static str {
        match self {
            OpKind::Start => &"start",
            OpKind::Yield => &"yield_now",
            OpKind::SpinLoop => &"spin_loop",
            OpKind::Sleep(_) => &"sleep",
            OpKind::Spawn(_) => &"spawn",
            OpKind::Join(_) => &"join",
            OpKind::Park => &"park",
            OpKind::ParkTimeout => &"park_timeout",
            OpKind::Unpark(_) => &"unpark",
            OpKind::Lock => &"lock",
            OpKind::TryLock => &"try_lock",
            OpKind::Unlock => &"unlock",
            OpKind::ReadLock => &"read",
            OpKind::WriteLock => &"write",
            OpKind::TryReadLock => &"try_read",
            OpKind::TryWriteLock => &"try_write",
            OpKind::ReadUnlock => &"read unlock",
            OpKind::WriteUnlock => &"write unlock",
            OpKind::CondvarWait => &"Condvar::wait",
            OpKind::CondvarWaitTimeout => &"Condvar::wait_timeout",
            OpKind::NotifyOne => &"notify_one",
            OpKind::NotifyAll => &"notify_all",
            OpKind::BarrierWait => &"Barrier::wait",
            OpKind::BarrierBlocked(_) => &"Barrier::wait",
            OpKind::OnceEnter => &"call_once",
            OpKind::AtomicLoad => &"load",
            OpKind::AtomicStore => &"store",
            OpKind::AtomicRmw => &"read-modify-write",
            OpKind::AtomicCas => &"compare_exchange",
            OpKind::Fence => &"fence",
            OpKind::Send => &"send",
            OpKind::SendWait(_) => &"send",
            OpKind::Recv => &"recv",
            OpKind::TryRecv => &"try_recv",
            OpKind::TrySend => &"try_send",
            OpKind::CellRead => &"UnsafeCell::with",
            OpKind::CellWrite => &"UnsafeCell::with_mut",
            OpKind::RecvTimeout => &"recv_timeout",
            OpKind::TaskExit => &"exit",
            OpKind::Wake(_) => &"wakes",
            OpKind::Syncpoint => &"syncpoint",
            OpKind::ClockAdvance => &"clock advances",
            OpKind::AwaitWake => &"await",
            OpKind::AwaitAny => &"await any",
            OpKind::WakerWake(_) => &"wake",
            OpKind::WakerClone => &"Waker::clone",
            OpKind::WakerDrop => &"Waker::drop",
            OpKind::Abort(_) => &"abort",
            OpKind::IsFinished(_) => &"is_finished",
            OpKind::Stall => &"stalled",
        }
    }
}

/// How an operation touches its object: what DPOR and POS decide dependency from. Two
/// operations of different tasks are dependent when they touch the same object and are not
/// both reads, or when either is `Everything`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    /// Touches nothing another task can see (a yield, a spin hint, a sleep, a fence under
    /// sequential consistency).
    Local,
    /// Observes its object; commutes with other reads.
    Read,
    /// Changes its object.
    Write,
    /// Takes a lock, exclusively or shared; an `attempt` (`try_lock`) also observes whether it
    /// is free, so it races with the release that would have freed it.
    Acquire { exclusive: bool, attempt: bool },
    /// Releases a lock; orders the next acquisition after it, never races with it.
    Release { exclusive: bool },
    /// Conflicts with every operation of every other task: a point where anything may happen
    /// (a syncpoint in code selvedge does not see into).
    Everything,
}

impl Access {
    /// Does it only observe (so two of them, on one object, commute)?
    pub(crate) fn observes_only(self) -> bool {
        matches!(self, Access::Read | Access::Local)
    }
}

/// The operation's name as the user's code calls it (`lock`, `Barrier::wait`), qualified by its
/// type where the bare name would be ambiguous. Notes about a step (where its location points,
/// whether it returned) are the report's to add.
impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A pending or performed operation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    pub(crate) kind: OpKind,
    pub(crate) object: Option<ObjectId>,
    /// How it touches `object`: what dependency is decided from. The driver sets it (for the
    /// model, `OpKind::access`), once per operation.
    pub(crate) access: Access,
    pub(crate) location: &'static Location<'static>,
    /// Waited for by an async task's `.await` (the report writes `await lock`), rather than
    /// called by a thread.
    pub(crate) awaited: bool,
}

impl Op {
    /// An operation of the model, with the access its kind has.
    pub(crate) fn new(
        kind: OpKind,
        object: Option<ObjectId>,
        location: &'static Location<'static>,
    ) -> Op {
        Op {
            kind,
            object,
            access: kind.access(),
            location,
            awaited: false,
        }
    }

    /// The same operation, waited for by an async task's `.await`.
    pub(crate) fn awaited(self) -> Op {
        Op {
            awaited: true,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_carry_no_notes() {
        // Goal: every operation displays as a name alone; notes on a step (where its location
        // points, that it returns) are the report's to add, once.
        let t = TaskId(1);
        let all = [
            OpKind::Start,
            OpKind::Yield,
            OpKind::SpinLoop,
            OpKind::Sleep(5),
            OpKind::Spawn(t),
            OpKind::Join(t),
            OpKind::Park,
            OpKind::ParkTimeout,
            OpKind::Unpark(t),
            OpKind::Lock,
            OpKind::TryLock,
            OpKind::Unlock,
            OpKind::ReadLock,
            OpKind::WriteLock,
            OpKind::TryReadLock,
            OpKind::TryWriteLock,
            OpKind::ReadUnlock,
            OpKind::WriteUnlock,
            OpKind::CondvarWait,
            OpKind::CondvarWaitTimeout,
            OpKind::NotifyOne,
            OpKind::NotifyAll,
            OpKind::BarrierWait,
            OpKind::BarrierBlocked(0),
            OpKind::OnceEnter,
            OpKind::AtomicLoad,
            OpKind::AtomicStore,
            OpKind::AtomicRmw,
            OpKind::AtomicCas,
            OpKind::Fence,
            OpKind::Send,
            OpKind::SendWait(0),
            OpKind::Recv,
            OpKind::TryRecv,
            OpKind::TrySend,
            OpKind::CellRead,
            OpKind::CellWrite,
            OpKind::RecvTimeout,
            OpKind::TaskExit,
            OpKind::Wake(t),
            OpKind::ClockAdvance,
            OpKind::AwaitWake,
            OpKind::AwaitAny,
            OpKind::WakerWake(t),
            OpKind::WakerClone,
            OpKind::WakerDrop,
            OpKind::Abort(t),
            OpKind::IsFinished(t),
            OpKind::Stall,
        ];
        for kind in all {
            let name = kind.to_string();
            assert!(!name.contains(['(', ')']), "{kind:?} displays as {name:?}");
        }
        // The two halves of a call that waits share its name.
        assert_eq!(OpKind::BarrierBlocked(0).to_string(), "Barrier::wait");
        assert_eq!(OpKind::SendWait(0).to_string(), "send");
        // `wait` alone would not say which primitive's.
        assert_eq!(OpKind::CondvarWait.to_string(), "Condvar::wait");
    }
}
