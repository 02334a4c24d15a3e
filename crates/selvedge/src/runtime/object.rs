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
        }
    }
    pub(crate) const COUNT: usize = 10;
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
        }
    }
}

pub(crate) type Holder = (TaskId, &'static Location<'static>);

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
        waiters: VecDeque<TaskId>,
    },
    Barrier {
        n_tasks: usize,
        arrived: usize,
        generation: u32,
    },
    Once {
        running: Option<Holder>,
        done: bool,
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
