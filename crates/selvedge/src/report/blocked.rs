//! What each unfinished task waits for when an execution can go no further: plain data that
//! the runtime fills in (`ExecState::blocked_tasks`), put into words here and nowhere else.

use std::fmt;

use crate::trace::{BlockedTask, ObjectRef, TaskRef, WaitsFor};

impl BlockedTask {
    /// This task's entry in the blocked-task list: what it is stuck in and what it waits
    /// for, then who holds that.
    pub(crate) fn write_entry(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let WaitsFor::Progress = self.waits_for {
            return writeln!(
                f,
                "  {} keeps spinning (next: `{}` at {}), waiting for progress no other task can make",
                self.name,
                self.call(),
                self.location
            );
        }
        if let WaitsFor::Outside { point, stalled_ms } = &self.waits_for {
            let point = point.as_ref().map_or(String::new(), |p| format!(" ({p})"));
            return writeln!(
                f,
                "  {} has reached no syncpoint for {} ms since its turn began at {}{point}: \
                 blocked outside selvedge's control, or still running",
                self.name, stalled_ms, self.location
            );
        }
        write!(
            f,
            "  {} is stuck in `{}` at {}, ",
            self.name,
            self.call(),
            self.location
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
            WaitsFor::Waker { waker, clones: 0 } => writeln!(
                f,
                "waiting for a wake of its waker ({waker}): its future returned `Pending` \
                 without handing the waker to anyone, so nothing can ever wake it (a lost \
                 wakeup: register the waker before checking the condition)"
            )?,
            WaitsFor::Waker { waker, clones } => writeln!(
                f,
                "waiting for a wake of its waker ({waker}): {clones} {} alive, but no task \
                 that is still running wakes {} (a lost wakeup)",
                if *clones == 1 {
                    "clone is"
                } else {
                    "clones are"
                },
                if *clones == 1 { "it" } else { "them" }
            )?,
            WaitsFor::Any { branches } => {
                writeln!(
                    f,
                    "waiting for the first of several futures (a `select!` or a `timeout`), none \
                     of which can complete:"
                )?;
                for branch in branches {
                    writeln!(f, "      {branch}")?;
                }
            }
            WaitsFor::Permits {
                semaphore,
                available,
                has,
                asked,
                ahead,
            } => {
                write!(
                    f,
                    "waiting for permits of {semaphore}: it asked for {asked} and was handed {has}"
                )?;
                // A queued request waits only while no permit is free (the semaphore hands
                // free ones out, oldest request first), so `available` is 0 here.
                if *available == 0 {
                    write!(
                        f,
                        "; none are free (every permit is held, or was forgotten)"
                    )?;
                } else {
                    write!(f, "; {available} are free")?;
                }
                if ahead.is_empty() {
                    writeln!(f)?;
                } else {
                    let earlier: Vec<String> = ahead
                        .iter()
                        .map(|t| format!("{} (at {})", t.name, t.at))
                        .collect();
                    writeln!(
                        f,
                        "; the earlier requests of {} are served first: tokio's semaphore \
                         hands permits out in the order they were asked for",
                        earlier.join(", ")
                    )?;
                }
            }
            WaitsFor::Closing { channel } => {
                writeln!(f, "waiting for every receiver of {channel} to go away")?
            }
            WaitsFor::Completion { set } => writeln!(f, "waiting for a task of {set} to complete")?,
            WaitsFor::Progress | WaitsFor::Other(None) | WaitsFor::Outside { .. } => {
                writeln!(f, "waiting for a wakeup")?
            }
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
