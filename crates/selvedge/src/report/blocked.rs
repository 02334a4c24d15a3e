//! What each unfinished task waits for when an execution can go no further: plain data that
//! the runtime fills in (`ExecState::blocked_tasks`), put into words here and nowhere else.

use std::fmt;
use std::panic::Location;

use crate::runtime::OpKind;

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
    /// Nothing that blocks it: its next operation, on this object if any, could run (a task
    /// listed in a livelock).
    Other(Option<ObjectRef>),
}

/// A task that could not make progress when the execution ended.
#[derive(Clone, Debug)]
pub(crate) struct BlockedTask {
    pub(crate) task: u32,
    pub(crate) name: String,
    /// The call it is stuck in. A condvar waiter is stuck in `Condvar::wait`, though the step
    /// it will take when notified re-locks the mutex.
    pub(crate) operation: OpKind,
    pub(crate) location: Site,
    pub(crate) waits_for: WaitsFor,
}

impl BlockedTask {
    /// The one task that can let this one go on, if there is one: an edge of the wait-for
    /// graph.
    pub(crate) fn waits_on_task(&self) -> Option<u32> {
        match &self.waits_for {
            WaitsFor::Release { holders, .. } => holders.first().map(|h| h.task),
            WaitsFor::Finish(task) => Some(task.task),
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
            | WaitsFor::Other(Some(object)) => Some(object.name.clone()),
            WaitsFor::Finish(task) => Some(task.name.clone()),
            WaitsFor::Unpark | WaitsFor::Progress | WaitsFor::Other(None) => None,
        }
    }

    /// This task's entry in the blocked-task list: what it is stuck in and what it waits
    /// for, then who holds that.
    pub(crate) fn write_entry(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let WaitsFor::Progress = self.waits_for {
            return writeln!(
                f,
                "  {} keeps spinning (next: `{}` at {}), waiting for progress no other task can make",
                self.name, self.operation, self.location
            );
        }
        write!(
            f,
            "  {} is stuck in `{}` at {}, ",
            self.name, self.operation, self.location
        )?;
        match &self.waits_for {
            WaitsFor::Release { object, .. } | WaitsFor::Other(Some(object)) => {
                writeln!(f, "waiting for {object}")?
            }
            WaitsFor::Notify { condvar } => writeln!(f, "waiting to be notified on {condvar}")?,
            WaitsFor::Finish(task) => writeln!(
                f,
                "waiting for {} to finish (spawned at {})",
                task.name, task.at
            )?,
            WaitsFor::Message { channel } => writeln!(f, "waiting for a message on {channel}")?,
            WaitsFor::Receive { channel } => {
                writeln!(f, "waiting for the receiver of {channel} to take a message")?
            }
            WaitsFor::Barrier {
                barrier,
                arrived,
                n_tasks,
            } => writeln!(
                f,
                "waiting at {barrier}, where {arrived} of its {n_tasks} tasks {} arrived",
                if *arrived == 1 { "has" } else { "have" }
            )?,
            WaitsFor::Unpark => writeln!(f, "waiting for an `unpark`")?,
            WaitsFor::Progress | WaitsFor::Other(None) => writeln!(f, "waiting for a wakeup")?,
        }
        let holders: &[TaskRef] = match &self.waits_for {
            WaitsFor::Release { holders, .. } => holders,
            _ => &[],
        };
        for holder in holders {
            if holder.task == self.task {
                writeln!(
                    f,
                    "      held by {} itself, acquired at {}",
                    holder.name, holder.at
                )?;
            } else {
                writeln!(
                    f,
                    "      held by {}, acquired at {}",
                    holder.name, holder.at
                )?;
            }
        }
        if let WaitsFor::Notify { .. } = self.waits_for {
            writeln!(
                f,
                "      no task that is still running will notify it (a lost wakeup)"
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (created at {})", self.name, self.created_at)
    }
}
