//! Happens-before for data-race detection on `cell::UnsafeCell`: vector clocks updated at
//! every synchronising operation, checked at every cell access.
//!
//! Synchronisation is what the code *promises*, not just the order selvedge happened to run
//! it in: unlock→lock, spawn, exit→join, send→receive, notify→wake, barrier, once,
//! unpark→park, atomics with `Release`/`Acquire` (or stronger) orderings, and fences by the
//! C++20 rules: a release fence followed by a `Relaxed` store publishes what came before the
//! fence, and a `Relaxed` load followed by an acquire fence learns it. A `Relaxed` atomic alone
//! orders nothing, so a flag published with `Relaxed` does not protect the data behind it — the
//! bug this catches, as loom does.
//!
//! Tracking starts when the first `UnsafeCell` of the execution is used. That is sound: an
//! ordering path between two accesses made after that moment only goes through edges made
//! after it, so clocks that start at zero lose nothing.
//!
//! Invariants: a task's own clock entry only grows; a race is reported once, the first.

use std::panic::Location;

use crate::trace::{ObjectId, TaskId};

type Clock = Vec<u32>;

fn join(into: &mut Clock, other: &[u32]) {
    if into.len() < other.len() {
        into.resize(other.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(other) {
        *a = (*a).max(*b);
    }
}

/// One access to a cell: who, at which of its own clock ticks, where.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Access {
    pub(crate) task: TaskId,
    epoch: u32,
    pub(crate) write: bool,
    pub(crate) at: &'static Location<'static>,
}

#[derive(Default)]
struct CellHistory {
    last_write: Option<Access>,
    reads: Vec<Access>,
}

#[derive(Default)]
pub(crate) struct HappensBefore {
    tasks: Vec<Clock>,
    /// Per task: its clock when it exited, for `join`.
    exits: Vec<Clock>,
    /// Per task: clocks of `unpark`s aimed at it, for its next `park`.
    unparks: Vec<Clock>,
    /// Per object: what a release published, for the next acquire.
    objects: Vec<Clock>,
    /// Per task: its clock at its last release fence, which its later `Relaxed` stores
    /// publish (C++20 [atomics.fences]: a release fence before a store acts as a release).
    fence_released: Vec<Clock>,
    /// Per task: what its `Relaxed` loads read, which its next acquire fence learns (an
    /// acquire fence after a load acts as an acquire).
    relaxed_reads: Vec<Clock>,
    cells: Vec<CellHistory>,
}

impl HappensBefore {
    fn task(&mut self, t: TaskId) -> &mut Clock {
        let i = t.index();
        if self.tasks.len() <= i {
            self.tasks.resize_with(i + 1, Clock::new);
        }
        let clock = &mut self.tasks[i];
        if clock.len() <= i {
            clock.resize(i + 1, 0);
        }
        if clock[i] == 0 {
            clock[i] = 1;
        }
        clock
    }

    fn slot(v: &mut Vec<Clock>, i: usize) -> &mut Clock {
        if v.len() <= i {
            v.resize_with(i + 1, Clock::new);
        }
        &mut v[i]
    }

    /// `task` publishes everything it did so far on `object` (an unlock, a release store...).
    pub(crate) fn release(&mut self, task: TaskId, object: ObjectId) {
        let clock = self.task(task).clone();
        join(Self::slot(&mut self.objects, object.index()), &clock);
        self.task(task)[task.index()] += 1;
    }

    /// `task` publishes everything it did so far as a value handed over (a message): the
    /// clock to give its receiver, who alone learns it (`acquire_clock`).
    pub(crate) fn release_clock(&mut self, task: TaskId) -> Vec<u32> {
        let clock = self.task(task).clone();
        self.task(task)[task.index()] += 1;
        clock
    }

    /// `task` learns what a handed-over value published (`release_clock`).
    pub(crate) fn acquire_clock(&mut self, task: TaskId, published: &[u32]) {
        join(self.task(task), published);
        self.count_acquire(task);
    }

    /// `task` learns everything published on `object` (a lock, an acquire load...).
    pub(crate) fn acquire(&mut self, task: TaskId, object: ObjectId) {
        let published = Self::slot(&mut self.objects, object.index()).clone();
        join(self.task(task), &published);
        self.count_acquire(task);
    }

    /// With `vector-clocks`, an acquisition is an event of the task's own, as shuttle counts
    /// them (`current::clock`). Harmless for race detection: later accesses get a later epoch,
    /// which no task knew of before.
    fn count_acquire(&mut self, task: TaskId) {
        if cfg!(feature = "vector-clocks") {
            self.task(task)[task.index()] += 1;
        }
    }

    /// `task` loaded from atomic `object` without `Acquire`: what the load read is learnt only
    /// at the task's next acquire fence.
    pub(crate) fn relaxed_load(&mut self, task: TaskId, object: ObjectId) {
        let published = Self::slot(&mut self.objects, object.index()).clone();
        join(
            Self::slot(&mut self.relaxed_reads, task.index()),
            &published,
        );
    }

    /// `task` stored to atomic `object` without `Release`: it publishes what the task's last
    /// release fence covered, if any.
    pub(crate) fn relaxed_store(&mut self, task: TaskId, object: ObjectId) {
        if let Some(fenced) = self.fence_released.get(task.index()) {
            if !fenced.is_empty() {
                let fenced = fenced.clone();
                join(Self::slot(&mut self.objects, object.index()), &fenced);
            }
        }
    }

    /// A fence of `task`: an acquire fence learns what the task's earlier `Relaxed` loads
    /// read; a release fence lets its later `Relaxed` stores publish everything before it.
    pub(crate) fn fence(&mut self, task: TaskId, acquire: bool, release: bool) {
        if acquire {
            let read = Self::slot(&mut self.relaxed_reads, task.index()).clone();
            join(self.task(task), &read);
        }
        if release {
            let clock = self.task(task).clone();
            *Self::slot(&mut self.fence_released, task.index()) = clock;
            self.task(task)[task.index()] += 1;
        }
    }

    pub(crate) fn spawn(&mut self, parent: TaskId, child: TaskId) {
        let clock = self.task(parent).clone();
        join(self.task(child), &clock);
        self.task(parent)[parent.index()] += 1;
    }

    pub(crate) fn exit(&mut self, task: TaskId) {
        let clock = self.task(task).clone();
        *Self::slot(&mut self.exits, task.index()) = clock;
    }

    pub(crate) fn join(&mut self, joiner: TaskId, child: TaskId) {
        let exited = Self::slot(&mut self.exits, child.index()).clone();
        join(self.task(joiner), &exited);
        self.count_acquire(joiner);
    }

    pub(crate) fn unpark(&mut self, task: TaskId, target: TaskId) {
        let clock = self.task(task).clone();
        join(Self::slot(&mut self.unparks, target.index()), &clock);
        self.task(task)[task.index()] += 1;
    }

    pub(crate) fn park(&mut self, task: TaskId) {
        let unparked = Self::slot(&mut self.unparks, task.index()).clone();
        join(self.task(task), &unparked);
        self.count_acquire(task);
    }

    /// Records an access to `cell`; returns the earlier access it races with, if any.
    pub(crate) fn access(
        &mut self,
        task: TaskId,
        cell: ObjectId,
        write: bool,
        at: &'static Location<'static>,
    ) -> Option<Access> {
        let clock = self.task(task).clone();
        let epoch = clock[task.index()];
        let i = cell.index();
        if self.cells.len() <= i {
            self.cells.resize_with(i + 1, CellHistory::default);
        }
        let history = &mut self.cells[i];
        let unordered = |a: &Access| {
            a.task != task && clock.get(a.task.index()).copied().unwrap_or(0) < a.epoch
        };
        let race = history.last_write.filter(unordered).or_else(|| {
            if write {
                history.reads.iter().copied().find(unordered)
            } else {
                None
            }
        });
        let access = Access {
            task,
            epoch,
            write,
            at,
        };
        if write {
            history.last_write = Some(access);
            history.reads.clear();
        } else {
            history.reads.retain(|r| r.task != task);
            history.reads.push(access);
        }
        race
    }
}

impl HappensBefore {
    /// `task`'s vector clock as shuttle shows it (`current::clock`): its own entry counts its synchronising
    /// events (here it starts at 1, the epoch of its first accesses).
    pub(crate) fn clock_of(&mut self, task: TaskId) -> Vec<u32> {
        let mut clock = self.task(task).clone();
        clock[task.index()] -= 1;
        clock
    }

    /// Records an atomic write to `object` (a store, a read-modify-write, a successful
    /// compare-and-swap) for the plain reads loom's `unsync_load` makes of an atomic: checked
    /// against earlier plain reads only, since atomic writes never race with each other.
    /// Returns the plain read it races with, if any.
    pub(crate) fn atomic_write(
        &mut self,
        task: TaskId,
        object: ObjectId,
        at: &'static Location<'static>,
    ) -> Option<Access> {
        let clock = self.task(task).clone();
        let epoch = clock[task.index()];
        let i = object.index();
        if self.cells.len() <= i {
            self.cells.resize_with(i + 1, CellHistory::default);
        }
        let history = &mut self.cells[i];
        let race =
            history.reads.iter().copied().find(|a| {
                a.task != task && clock.get(a.task.index()).copied().unwrap_or(0) < a.epoch
            });
        history.last_write = Some(Access {
            task,
            epoch,
            write: true,
            at,
        });
        history.reads.clear();
        race
    }
}

/// The acquire and release halves of an atomic ordering.
pub(crate) fn ordering_halves(order: std::sync::atomic::Ordering) -> (bool, bool) {
    use std::sync::atomic::Ordering::*;
    match order {
        Relaxed => (false, false),
        Acquire => (true, false),
        Release => (false, true),
        _ => (true, true),
    }
}
