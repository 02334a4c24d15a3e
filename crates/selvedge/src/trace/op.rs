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
    /// Takes the park token: an attempt on the task's parker object, since it takes the one
    /// some unpark gave, or none (a spurious wakeup, `Config::spurious_wakeups`).
    Park,
    ParkTimeout,
    /// Gives the target's park token: a release on its parker object (a shared one: two unparks
    /// of one task commute).
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
    /// `Arc::strong_count` and the calls that decide by the count (`try_unwrap`, `get_mut`,
    /// ...). An `Arc`'s clones and drops are not scheduling points, so DPOR cannot tell which
    /// steps changed the count: reading it conflicts with everything.
    ArcCount,
    /// The last sender, or the receiver, of a channel is dropped: the other end now sees the
    /// channel disconnected.
    Disconnect,
    /// A condvar waiter taking a notification: `notify_one` wakes any one of the tasks waiting
    /// when it was called (std does not promise which), so the waiters race for it here.
    CondvarWoken,
    /// Not a step: a `notify_one` made task a candidate to take it (shown in reports).
    MayWake(TaskId),
    /// Not a step: a `notify_all` woke task (shown in reports). Unlike `Wake`, no ordering
    /// edge: the waiter's step acquires the notify's release, after its races are judged.
    CondvarWakes(TaskId),
    /// Not a step: the `CondvarWoken`, `Park` or `AwaitWake` step before it took no
    /// notification, token or wake: a spurious wakeup (`Config::spurious_wakeups`; shown in
    /// reports).
    WokeSpuriously,
    /// The test body (or a `block_on_then_shutdown`) returned: every async task still running
    /// is cancelled at its next `.await`, as dropping a tokio runtime does.
    Shutdown,
    /// `Condvar::notify_one` and `notify_all` (`NotifyOne` is tokio's `Notify`'s).
    CondvarNotifyOne,
    CondvarNotifyAll,
    /// The orchestra set a task aside: it had the turn and reached no syncpoint within the
    /// stall timeout (recorded for the report, never a decision).
    Stall,
    // --- tokio-shaped primitives (`tokio/`) ---
    /// An acquisition's first poll: takes the permits if enough are free, or else takes what
    /// is free and joins the semaphore's queue (tokio serves it in order).
    SemaphoreAcquire,
    /// An acquisition in the semaphore's queue (awaited: waits until the permits it asked for
    /// were handed to it, or the semaphore is closed).
    SemaphoreQueued,
    /// An acquisition dropped while in the queue: it leaves, and the permits handed to it so
    /// far go to the waiters behind it.
    SemaphoreLeave,
    /// Takes permits of a semaphore if enough are free, without waiting.
    SemaphoreTryAcquire,
    /// A semaphore permit dropped: its permits go back.
    SemaphoreRelease,
    /// `Semaphore::add_permits`.
    AddPermits,
    /// `Semaphore::forget_permits`.
    ForgetPermits,
    /// Closes a semaphore or a channel (`Semaphore::close`, `Receiver::close`).
    Close,
    /// A read-only look at a primitive's state (`available_permits`, `is_closed`, `len`,
    /// `borrow`, ...): commutes with other looks.
    Query(Query),
    /// The first poll of a `Notified` (or `enable`): takes a stored permit or joins the
    /// waiters.
    NotifiedEnable,
    /// A `Notified` waits for its notification (awaited).
    Notified,
    /// A waiting `Notified` dropped: leaves the waiters, handing on a notification it got.
    NotifiedDrop,
    /// `Notify::notify_waiters`.
    NotifyWaiters,
    /// `Notify::notify_last`.
    NotifyLast,
    /// `mpsc::Sender::reserve` (awaited: waits for room).
    Reserve,
    /// `mpsc::Sender::try_reserve`.
    TryReserve,
    /// A reserved `mpsc` slot dropped unused: the room goes back.
    PermitDrop,
    /// The last use of a sending handle: dropping it may close the channel.
    DropSender,
    /// A receiving handle dropped: may close the channel for senders.
    DropReceiver,
    /// `Sender::closed` (awaited: waits until every receiver is gone).
    Closed,
    /// `subscribe` / `resubscribe`: a new receiver.
    Subscribe,
    /// `watch::Receiver::changed` (awaited: waits for a value not seen yet).
    Changed,
    /// A `watch::Ref` held across a scheduling point dropped: senders may go on.
    RefDrop,
    /// `broadcast::Receiver::recv`: reads the shared ring (each receiver has its own place).
    RecvShared,
    /// `broadcast::Receiver::try_recv`.
    TryRecvShared,
    /// `OnceCell::get_or_init`: waits until nobody else initialises the cell, then takes the
    /// right to (awaited); its second step stores the value.
    OnceCellInit,
    /// `OnceCell::set`: stores a value if the cell is empty and nobody initialises it.
    OnceCellSet,
    /// The second step of `OnceCell::get_or_init`: stores the value (or gives the right to
    /// initialise back, when the initialiser failed or was cancelled).
    OnceCellRelease,

    /// `JoinSet::join_next` (awaited: waits for a task of the set to complete).
    JoinNext,
    /// `JoinSet::try_join_next`.
    TryJoinNext,
    /// A task of a `JoinSet` completed (or was cancelled): its output is queued for the set.
    JoinSetDone,
}

/// Read-only looks at a primitive, named as the user's code calls them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Query {
    AvailablePermits,
    IsClosed,
    Capacity,
    Len,
    ReceiverCount,
    Borrow,
    BorrowAndUpdate,
    HasChanged,
    Get,
    Initialized,
    /// `Notify::notified`: the new future remembers how many `notify_waiters` calls it has
    /// seen.
    Notified,
    /// `mpsc::WeakSender::upgrade`: is a sender left (then it makes one more)?
    Upgrade,
}

impl Query {
    fn name(self) -> &'static &'static str {
        match self {
            Query::AvailablePermits => &"available_permits",
            Query::IsClosed => &"is_closed",
            Query::Capacity => &"capacity",
            Query::Len => &"len",
            Query::ReceiverCount => &"receiver_count",
            Query::Borrow => &"borrow",
            Query::BorrowAndUpdate => &"borrow_and_update",
            Query::HasChanged => &"has_changed",
            Query::Get => &"get",
            Query::Initialized => &"initialized",
            Query::Notified => &"notified",
            Query::Upgrade => &"WeakSender::upgrade",
        }
    }
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
            OpKind::ArcCount => 57,
            OpKind::Disconnect => 60,
            OpKind::CondvarWoken => 61,
            OpKind::MayWake(_) => 62,
            OpKind::CondvarWakes(_) => 65,
            OpKind::WokeSpuriously => 66,
            OpKind::Shutdown => 68,
            OpKind::CondvarNotifyOne => 63,
            OpKind::CondvarNotifyAll => 64,
            // Far from the model's codes, which grow from 43.
            OpKind::Stall => 200,
            OpKind::SemaphoreAcquire => 100,
            OpKind::SemaphoreTryAcquire => 101,
            OpKind::SemaphoreRelease => 102,
            OpKind::AddPermits => 103,
            OpKind::ForgetPermits => 104,
            OpKind::SemaphoreQueued => 128,
            OpKind::SemaphoreLeave => 129,
            OpKind::Close => 105,
            OpKind::NotifiedEnable => 106,
            OpKind::Notified => 107,
            OpKind::NotifiedDrop => 108,
            OpKind::NotifyWaiters => 109,
            OpKind::NotifyLast => 110,
            OpKind::Reserve => 111,
            OpKind::TryReserve => 112,
            OpKind::PermitDrop => 113,
            OpKind::DropSender => 114,
            OpKind::DropReceiver => 115,
            OpKind::Closed => 116,
            OpKind::Subscribe => 117,
            OpKind::Changed => 118,
            OpKind::RefDrop => 119,
            OpKind::RecvShared => 120,
            OpKind::TryRecvShared => 121,
            OpKind::OnceCellInit => 122,
            OpKind::OnceCellSet => 123,
            OpKind::OnceCellRelease => 127,

            OpKind::JoinNext => 124,
            OpKind::TryJoinNext => 125,
            OpKind::JoinSetDone => 126,
            OpKind::Query(q) => 150 + q as u32,
        }
    }

    /// A yield or a spin hint: the task is not chosen again until another task makes
    /// progress (`execution::note_progress`).
    #[inline]
    pub(crate) fn parks_until_progress(self) -> bool {
        matches!(self, OpKind::Yield | OpKind::SpinLoop)
    }

    /// How this operation touches its object: the one table dependency is decided from
    /// (`Candidate::conflicts_with`, DPOR's race analysis). A new operation kind gets a row here
    /// and nowhere else in the strategies.
    #[inline]
    pub(crate) fn access(self) -> Access {
        match self {
            OpKind::Yield
            | OpKind::SpinLoop
            | OpKind::Sleep(_)
            | OpKind::Fence
            | OpKind::ClockAdvance
            | OpKind::Stall => Access::Local,
            OpKind::AtomicLoad => Access::Read,
            // Looks that change nothing shared: a `watch` receiver's `changed` and a
            // `broadcast` receiver's `recv` move only that receiver's own place.
            OpKind::Changed | OpKind::RecvShared | OpKind::TryRecvShared => Access::Read,
            // A semaphore's permits are a counter, not a lock: an acquisition's first step
            // (which takes the permits or joins the queue) may not have needed the release
            // before it, so it is an attempt (it races with releases as `try_lock` does)
            // besides racing with other acquisitions.
            // The same shape fits a `OnceCell`'s right to initialise (taken by `get_or_init`,
            // tested by `set`, given back by storing the value).
            // A queued acquisition's step takes permits that releases handed to it, maybe
            // long before the latest release: it races with releases (which could come after
            // it), and with a `close` (a write), the only step that changes what it returns.
            OpKind::SemaphoreQueued => Access::Acquire {
                exclusive: false,
                attempt: true,
            },
            OpKind::SemaphoreAcquire
            | OpKind::SemaphoreTryAcquire
            | OpKind::ForgetPermits
            | OpKind::OnceCellInit
            | OpKind::OnceCellSet => Access::Acquire {
                exclusive: true,
                attempt: true,
            },
            OpKind::SemaphoreRelease
            | OpKind::SemaphoreLeave
            | OpKind::AddPermits
            | OpKind::OnceCellRelease => Access::Release { exclusive: true },
            // Reads state that acquisitions and releases both change.
            OpKind::Query(Query::AvailablePermits | Query::Get | Query::Initialized) => {
                Access::Acquire {
                    exclusive: false,
                    attempt: true,
                }
            }
            OpKind::Query(_) => Access::Read,
            OpKind::Close
            | OpKind::NotifiedEnable
            | OpKind::Notified
            | OpKind::NotifiedDrop
            | OpKind::NotifyWaiters
            | OpKind::NotifyLast
            | OpKind::Reserve
            | OpKind::TryReserve
            | OpKind::PermitDrop
            | OpKind::DropSender
            | OpKind::DropReceiver
            | OpKind::Closed
            | OpKind::Subscribe
            | OpKind::RefDrop
            | OpKind::JoinNext
            | OpKind::TryJoinNext
            | OpKind::JoinSetDone => Access::Write,
            OpKind::Lock | OpKind::WriteLock => Access::Acquire {
                exclusive: true,
                attempt: false,
            },
            // A park takes the token one of possibly several concurrent unparks gave, and
            // may return without one (a timeout, a spurious wakeup): an attempt, which races
            // with the unparks, not a lock acquisition ordered after all of them.
            OpKind::Park | OpKind::ParkTimeout => Access::Acquire {
                exclusive: true,
                attempt: true,
            },
            OpKind::Unpark(_) => Access::Release { exclusive: false },
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
            OpKind::Syncpoint
            | OpKind::AwaitAny
            | OpKind::Abort(_)
            | OpKind::Shutdown
            | OpKind::IsFinished(_)
            | OpKind::ArcCount => Access::Everything,
            OpKind::Start
            | OpKind::Spawn(_)
            | OpKind::Join(_)
            | OpKind::NotifyOne
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
            | OpKind::AwaitWake
            | OpKind::WakerWake(_)
            | OpKind::WakerClone
            | OpKind::WakerDrop
            | OpKind::Disconnect
            | OpKind::MayWake(_)
            | OpKind::CondvarWakes(_)
            | OpKind::WokeSpuriously => Access::Write,
            // A condvar is a lock on its notifications: a notify publishes one (a release);
            // joining the queue and leaving it with a notification (or without, timed out)
            // are attempts to take one, which race with each other and with the notifies
            // before them. So DPOR explores which waiter takes a `notify_one`, which it could
            // not see if leaving the queue were ordered after the notify that enabled it.
            OpKind::CondvarWait | OpKind::CondvarWaitTimeout | OpKind::CondvarWoken => {
                Access::Acquire {
                    exclusive: true,
                    attempt: true,
                }
            }
            OpKind::CondvarNotifyOne | OpKind::CondvarNotifyAll => {
                Access::Release { exclusive: true }
            }
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
            OpKind::Syncpoint => &"syncpoint",
            OpKind::ClockAdvance => &"clock advances",
            OpKind::AwaitWake => &"await",
            OpKind::AwaitAny => &"await any",
            OpKind::WakerWake(_) => &"wake",
            OpKind::WakerClone => &"Waker::clone",
            OpKind::WakerDrop => &"Waker::drop",
            OpKind::Abort(_) => &"abort",
            OpKind::IsFinished(_) => &"is_finished",
            OpKind::ArcCount => &"Arc count",
            OpKind::Disconnect => &"disconnect",
            OpKind::CondvarWoken => &"Condvar woken",
            OpKind::MayWake(_) => &"may wake",
            OpKind::CondvarWakes(_) => &"wakes",
            OpKind::WokeSpuriously => &"woke spuriously",
            OpKind::Shutdown => &"cancel running tasks",
            OpKind::CondvarNotifyOne => &"notify_one",
            OpKind::CondvarNotifyAll => &"notify_all",
            OpKind::Stall => &"stalled",
            OpKind::SemaphoreAcquire => &"acquire",
            OpKind::SemaphoreQueued => &"queued acquire",
            OpKind::SemaphoreLeave => &"Acquire::drop",
            OpKind::SemaphoreTryAcquire => &"try_acquire",
            OpKind::SemaphoreRelease => &"release",
            OpKind::AddPermits => &"add_permits",
            OpKind::ForgetPermits => &"forget_permits",
            OpKind::Close => &"close",
            OpKind::Query(q) => q.name(),
            OpKind::NotifiedEnable => &"Notified::enable",
            OpKind::Notified => &"notified",
            OpKind::NotifiedDrop => &"Notified::drop",
            OpKind::NotifyWaiters => &"notify_waiters",
            OpKind::NotifyLast => &"notify_last",
            OpKind::Reserve => &"reserve",
            OpKind::TryReserve => &"try_reserve",
            OpKind::PermitDrop => &"Permit::drop",
            OpKind::DropSender => &"Sender::drop",
            OpKind::DropReceiver => &"Receiver::drop",
            OpKind::Closed => &"closed",
            OpKind::Subscribe => &"subscribe",
            OpKind::Changed => &"changed",
            OpKind::RefDrop => &"Ref::drop",
            OpKind::RecvShared => &"recv",
            OpKind::TryRecvShared => &"try_recv",
            OpKind::OnceCellInit => &"get_or_init",
            OpKind::OnceCellSet => &"set",
            OpKind::OnceCellRelease => &"get_or_init",

            OpKind::JoinNext => &"join_next",
            OpKind::TryJoinNext => &"try_join_next",
            OpKind::JoinSetDone => &"completes",
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
    /// An operation of the model, with the access its kind has. Inlined: most callers name
    /// a fixed kind, and the access then folds to a constant instead of a jump through a
    /// table that mispredicts from one kind to the next (about 4 % of an async schedule's time).
    #[inline]
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
            OpKind::ClockAdvance,
            OpKind::AwaitWake,
            OpKind::AwaitAny,
            OpKind::WakerWake(t),
            OpKind::WakerClone,
            OpKind::WakerDrop,
            OpKind::Abort(t),
            OpKind::IsFinished(t),
            OpKind::ArcCount,
            OpKind::Disconnect,
            OpKind::CondvarWoken,
            OpKind::MayWake(t),
            OpKind::CondvarWakes(t),
            OpKind::WokeSpuriously,
            OpKind::Shutdown,
            OpKind::CondvarNotifyOne,
            OpKind::CondvarNotifyAll,
            OpKind::Stall,
            OpKind::SemaphoreAcquire,
            OpKind::SemaphoreQueued,
            OpKind::SemaphoreLeave,
            OpKind::SemaphoreTryAcquire,
            OpKind::SemaphoreRelease,
            OpKind::AddPermits,
            OpKind::ForgetPermits,
            OpKind::Close,
            OpKind::Query(Query::AvailablePermits),
            OpKind::Query(Query::Notified),
            OpKind::Query(Query::Upgrade),
            OpKind::NotifiedEnable,
            OpKind::Notified,
            OpKind::NotifiedDrop,
            OpKind::NotifyWaiters,
            OpKind::NotifyLast,
            OpKind::Reserve,
            OpKind::TryReserve,
            OpKind::PermitDrop,
            OpKind::DropSender,
            OpKind::DropReceiver,
            OpKind::Closed,
            OpKind::Subscribe,
            OpKind::Changed,
            OpKind::RefDrop,
            OpKind::RecvShared,
            OpKind::TryRecvShared,
            OpKind::OnceCellInit,
            OpKind::OnceCellSet,
            OpKind::JoinNext,
            OpKind::TryJoinNext,
            OpKind::JoinSetDone,
            OpKind::OnceCellRelease,
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
