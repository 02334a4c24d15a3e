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

use super::op::TaskId;

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
        }
    }
    pub(crate) const COUNT: usize = 8;
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
        }
    }
}

pub(crate) type Holder = (TaskId, &'static Location<'static>);

#[derive(Debug)]
pub(crate) enum ObjectState {
    Mutex {
        holder: Option<Holder>,
    },
    RwLock {
        writer: Option<Holder>,
        readers: Vec<Holder>,
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
    },
    Channel {
        /// `None` for `channel()`, `Some(0)` for a rendezvous `sync_channel(0)`.
        capacity: Option<usize>,
        len: usize,
        senders: usize,
        receiver_alive: bool,
        sent: u64,
        received: u64,
    },
    Plain,
}

#[derive(Debug)]
pub(crate) struct Object {
    pub(crate) kind: ObjectKind,
    /// 1-based number among objects of the same kind, for names like `Mutex#2`.
    pub(crate) ordinal: u32,
    pub(crate) created_at: &'static Location<'static>,
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
