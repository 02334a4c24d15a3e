//! The model state of every synchronisation object in one execution: who holds a lock, who
//! waits on a condvar, how many messages a channel holds.
//!
//! Primitives keep their user data (the value inside a `Mutex`, a channel's messages) in the
//! public type and reach this state by `ObjectId` only.
//!
//! Invariant: a free lock has no holder recorded and a held lock exactly one writer (or any
//! number of readers); these are asserted on every transition.

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;

use crate::trace::TaskId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Mutex,
    RwLock,
    Condvar,
    Barrier,
    Once,
    Atomic(&'static str),
    Channel,
    Cell,
    Parker,
    Waker,
    // tokio-shaped primitives (`tokio/`).
    Semaphore,
    Notify,
    Oneshot,
    Mpsc,
    Watch,
    Broadcast,
    JoinSet,
    OnceCell,
    /// A modelled `sync::Arc` allocation: its drops publish what the dropping task did to the
    /// task that frees it (race detection), as std's `Release` decrement and `Acquire` fence.
    Arc,
}

impl ObjectKind {
    fn slot(self) -> usize {
        match self {
            ObjectKind::Mutex => 0,
            ObjectKind::RwLock => 1,
            ObjectKind::Condvar => 2,
            ObjectKind::Barrier => 3,
            ObjectKind::Once => 4,
            ObjectKind::Atomic(_) => 5,
            ObjectKind::Channel => 6,
            ObjectKind::Cell => 7,
            ObjectKind::Parker => 8,
            ObjectKind::Waker => 9,
            ObjectKind::Semaphore => 10,
            ObjectKind::Notify => 11,
            ObjectKind::Oneshot => 12,
            ObjectKind::Mpsc => 13,
            ObjectKind::Watch => 14,
            ObjectKind::Broadcast => 15,
            ObjectKind::JoinSet => 16,
            ObjectKind::OnceCell => 17,
            ObjectKind::Arc => 18,
        }
    }
    pub(crate) const COUNT: usize = 19;
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectKind::Mutex => f.write_str("Mutex"),
            ObjectKind::RwLock => f.write_str("RwLock"),
            ObjectKind::Condvar => f.write_str("Condvar"),
            ObjectKind::Barrier => f.write_str("Barrier"),
            ObjectKind::Once => f.write_str("Once"),
            ObjectKind::Atomic(name) => f.write_str(name),
            ObjectKind::Channel => f.write_str("channel"),
            ObjectKind::Cell => f.write_str("UnsafeCell"),
            ObjectKind::Parker => f.write_str("park token"),
            ObjectKind::Waker => f.write_str("Waker"),
            ObjectKind::Semaphore => f.write_str("Semaphore"),
            ObjectKind::Notify => f.write_str("Notify"),
            ObjectKind::Oneshot => f.write_str("oneshot"),
            ObjectKind::Mpsc => f.write_str("mpsc"),
            ObjectKind::Watch => f.write_str("watch"),
            ObjectKind::Broadcast => f.write_str("broadcast"),
            ObjectKind::JoinSet => f.write_str("JoinSet"),
            ObjectKind::OnceCell => f.write_str("OnceCell"),
            ObjectKind::Arc => f.write_str("Arc"),
        }
    }
}

pub(crate) type Holder = (TaskId, &'static Location<'static>);

/// An acquisition waiting in a semaphore's queue: `assigned` of the `need` permits it asked
/// for were handed to it so far (only the oldest unsatisfied waiter gets any, as in tokio).
/// A satisfied waiter stays queued until its task takes the permits (or drops the request).
#[derive(Clone, Debug)]
pub(crate) struct SemaphoreWaiter {
    pub(crate) ticket: u64,
    /// The task that asked, and where (for reports).
    pub(crate) task: TaskId,
    pub(crate) at: &'static Location<'static>,
    pub(crate) need: usize,
    pub(crate) assigned: usize,
}

impl SemaphoreWaiter {
    pub(crate) fn satisfied(&self) -> bool {
        self.assigned == self.need
    }
}

#[derive(Debug)]
pub(crate) enum ObjectState {
    Mutex {
        holder: Option<Holder>,
        /// A holder panicked: the next lock returns a `PoisonError`.
        poisoned: bool,
    },
    RwLock {
        writer: Option<Holder>,
        readers: Vec<Holder>,
        poisoned: bool,
    },
    Condvar {
        /// Waiting tasks, each with its arrival number, in arrival order.
        waiters: VecDeque<(TaskId, u64)>,
        /// The arrival number the next waiter gets.
        next_arrival: u64,
        /// Notifications not yet taken: each may be taken by any waiter that arrived before it
        /// (an arrival number below the bound kept here).
        notifications: Vec<u64>,
    },
    Barrier {
        n_tasks: usize,
        arrived: usize,
        generation: u32,
    },
    Once {
        running: Option<Holder>,
        done: bool,
        /// A `Once::call_once` closure panicked: the next `call_once` panics, as std's does,
        /// until a `call_once_force` completes.
        poisoned: bool,
        /// The value of a shared `OnceLock` (a `static`) in this execution; an owned one keeps
        /// its value inside itself, as std's does.
        value: Option<ErasedValue>,
    },
    /// An atomic. `bits` is its value in this execution when the atomic is shared (a
    /// `static`); an owned atomic keeps its value inside itself.
    Atomic {
        bits: u64,
    },
    /// A task's park token: set by `unpark`, consumed by `park`.
    Parker {
        token: bool,
    },
    /// An async task's waker: `woken` is set by `wake` and consumed when the task runs;
    /// `clones` counts the live clones (a task with none, waiting for nothing else, can never
    /// be woken).
    Waker {
        woken: bool,
        clones: u32,
    },
    Channel {
        /// `None` for `channel()`, `Some(0)` for a rendezvous `sync_channel(0)`.
        capacity: Option<usize>,
        len: usize,
        senders: usize,
        receiver_alive: bool,
        /// The receiver is blocked in (or about to run) `recv`.
        receiver_waiting: bool,
        sent: u64,
        received: u64,
    },
    /// An async semaphore: free permits, whether it was closed, and its queue of waiting
    /// acquisitions in arrival order (tokio's is fair: permits go to the oldest first). While
    /// an unsatisfied waiter is queued, no permit is free.
    Semaphore {
        permits: usize,
        closed: bool,
        queue: VecDeque<SemaphoreWaiter>,
        /// The ticket the next queued acquisition gets.
        next_ticket: u64,
    },
    /// tokio's `Notify`: a stored permit, the waiters (by waiter number) in the order they
    /// registered, the waiters notified but not yet woken, and how many `notify_waiters`
    /// calls there were (a `Notified` made before one completes at once).
    Notify {
        permit: bool,
        /// Waiters by number, each with the task that enabled it (named in reports).
        queue: VecDeque<(u64, TaskId)>,
        notified: Vec<u64>,
        epoch: u64,
        next_waiter: u64,
    },
    /// A oneshot channel.
    Oneshot {
        sent: bool,
        sender_alive: bool,
        receiver_open: bool,
    },
    /// An async mpsc channel: messages queued, slots reserved (`reserve`, a waiting `send`
    /// granted its room), live senders, and whether the receiver still takes messages.
    Mpsc {
        /// `None`: unbounded.
        capacity: Option<usize>,
        queued: usize,
        reserved: usize,
        senders: usize,
        receiver_open: bool,
    },
    /// A watch channel: the value's version, live receivers, and `watch::Ref`s held across a
    /// scheduling point (a send waits for them, as tokio's waits for its read lock).
    Watch {
        version: u64,
        sender_alive: bool,
        receivers: usize,
        borrows: usize,
    },
    /// A broadcast channel: messages sent so far (`tail`), live handles.
    Broadcast {
        tail: u64,
        senders: usize,
        receivers: usize,
    },
    /// A `JoinSet`: tasks completed whose output `join_next` has not taken yet.
    JoinSet {
        completed: usize,
    },
    Plain,
}

/// A boxed value of any type that is never dropped: the per-execution value of a `static`
/// `OnceLock` or `LazyLock`, to which safe code may keep a `&'static` reference past its
/// execution (as a real program's statics are never dropped either). `into_inner` still moves
/// it out. (Not `Box<dyn Any>`, which would demand `T: 'static` of those types.)
pub(crate) struct ErasedValue {
    pointer: *mut (),
}

impl ErasedValue {
    pub(crate) fn leaked<T>(value: T) -> ErasedValue {
        ErasedValue {
            pointer: Box::into_raw(Box::new(value)) as *mut (),
        }
    }

    /// The value, which is never freed unless moved out with `into_inner`.
    ///
    /// # Safety
    /// `T` is the type this value was made with.
    pub(crate) unsafe fn get<T>(&self) -> *mut T {
        self.pointer as *mut T
    }

    /// Moves the value out.
    ///
    /// # Safety
    /// `T` is the type this value was made with, and no reference to it is alive (the caller
    /// has the cell mutably).
    pub(crate) unsafe fn into_inner<T>(self) -> T {
        // SAFETY: made by `Box::into_raw` in `leaked`, and moved out once.
        *unsafe { Box::from_raw(self.pointer as *mut T) }
    }
}

impl fmt::Debug for ErasedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErasedValue")
    }
}

#[derive(Debug)]
pub(crate) struct Object {
    pub(crate) kind: ObjectKind,
    /// 1-based number among objects of the same kind, for names like `Mutex#2`.
    pub(crate) ordinal: u32,
    pub(crate) created_at: &'static Location<'static>,
    /// Registered lazily by a primitive whose user value is not this execution's (see
    /// `LazyObject`).
    pub(crate) shared: bool,
    /// The address of the primitive that registered it lazily (0 for others).
    pub(crate) key: usize,
    pub(crate) state: ObjectState,
}

impl Object {
    pub(crate) fn name(&self) -> String {
        format!("{}#{}", self.kind, self.ordinal)
    }
}

/// Per-kind counters for object ordinals.
#[derive(Debug, Default)]
pub(crate) struct Ordinals([u32; ObjectKind::COUNT]);

impl Ordinals {
    pub(crate) fn next(&mut self, kind: ObjectKind) -> u32 {
        let slot = &mut self.0[kind.slot()];
        *slot += 1;
        *slot
    }
}
