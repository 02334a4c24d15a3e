//! Happens-before and races of one finished execution, for DPOR.
//!
//! Happens-before is program order plus an edge between every two dependent steps, in the
//! order they ran, computed with vector clocks. Dependency is kept precise because every
//! spurious dependency costs executions:
//! - steps on different objects are independent (yield, sleep and spin steps touch none);
//! - atomic loads commute with loads; every other access to an atomic, channel, condvar,
//!   barrier or once is a write;
//! - lock acquisitions conflict only with acquisitions of the same lock (read locks of an
//!   `RwLock` not with each other); an unlock orders the next acquisition after it (an edge,
//!   never a race: the acquisition could not have run first), and a `try_lock` races with the
//!   unlock that would have let it succeed;
//! - spawn orders the child after the parent, exit orders `join` after the child, a notify
//!   orders the woken task after the notifier, `unpark` orders the target's `park` after it.
//!
//! A race is a pair of dependent steps of different tasks, the earlier not ordered before the
//! later by any other path; reversing it gives a new Mazurkiewicz trace.
//!
//! Invariant: for the steps of one task, local clock values strictly increase; a step never
//! races with a step it happens after.

use crate::runtime::{OpKind, TaskId, TraceEvent};

/// A vector clock: for each task, how many of its steps are known to have happened.
pub(crate) type Clock = Vec<u32>;

fn join(into: &mut Clock, other: &Clock) {
    if into.len() < other.len() {
        into.resize(other.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(other) {
        *a = (*a).max(*b);
    }
}

/// One scheduling decision of the execution, as DPOR sees it.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub(crate) task: TaskId,
    /// The step's vector clock (including itself).
    pub(crate) clock: Clock,
}

impl Step {
    /// Does this step happen before (or at) a point whose clock is `clock`?
    pub(crate) fn happens_before(&self, clock: &Clock) -> bool {
        let t = self.task.index();
        clock.get(t).copied().unwrap_or(0) >= self.clock[t]
    }
}

/// Last accesses of one variable (an object, or the release side of a lock).
#[derive(Default)]
struct Access {
    last_write: Option<usize>,
    reads: Vec<usize>,
}

#[derive(Default)]
struct ObjectHistory {
    /// Acquisitions for locks; every access for other objects.
    main: Access,
    /// Unlocks (writes) and try-locks (reads), so a failed `try_lock` races with the unlock.
    release: Access,
    /// Join of every unlock's clock: what a write acquisition is ordered after.
    released_all: Clock,
    /// Join of exclusive unlocks' clocks: what a read acquisition is ordered after.
    released_exclusive: Clock,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Read,
    Write,
}

/// How a step touches its object.
struct Effect {
    main: Option<Mode>,
    release: Option<Mode>,
    /// Ordered after earlier unlocks: all of them, or only exclusive ones.
    acquires: Option<bool>,
    /// Publishes this step's clock as an unlock: exclusive or shared.
    releases: Option<bool>,
}

fn effect(kind: OpKind) -> Effect {
    let none = Effect {
        main: None,
        release: None,
        acquires: None,
        releases: None,
    };
    match kind {
        OpKind::Lock | OpKind::WriteLock => Effect {
            main: Some(Mode::Write),
            acquires: Some(true),
            ..none
        },
        OpKind::TryLock | OpKind::TryWriteLock => Effect {
            main: Some(Mode::Write),
            release: Some(Mode::Read),
            acquires: Some(true),
            ..none
        },
        OpKind::ReadLock => Effect {
            main: Some(Mode::Read),
            acquires: Some(false),
            ..none
        },
        OpKind::TryReadLock => Effect {
            main: Some(Mode::Read),
            release: Some(Mode::Read),
            acquires: Some(false),
            ..none
        },
        OpKind::Unlock | OpKind::WriteUnlock => Effect {
            release: Some(Mode::Write),
            releases: Some(true),
            ..none
        },
        OpKind::ReadUnlock => Effect {
            release: Some(Mode::Write),
            releases: Some(false),
            ..none
        },
        OpKind::AtomicLoad => Effect {
            main: Some(Mode::Read),
            ..none
        },
        OpKind::Yield | OpKind::SpinLoop | OpKind::Sleep | OpKind::Fence => none,
        _ => Effect {
            main: Some(Mode::Write),
            ..none
        },
    }
}

/// The steps of an execution with their clocks, and every race between them as
/// `(earlier step, later step)` indices.
pub(crate) struct Analysis {
    pub(crate) steps: Vec<Step>,
    pub(crate) races: Vec<(usize, usize)>,
}

pub(crate) fn analyse(trace: &[TraceEvent]) -> Analysis {
    let mut clocks: Vec<Clock> = Vec::new();
    let mut exits: Vec<Clock> = Vec::new();
    // Edges waiting to be applied at a task's next step (wakeups, unparks).
    let mut pending: Vec<Clock> = Vec::new();
    let mut unparks: Vec<Clock> = Vec::new();
    let mut objects: Vec<ObjectHistory> = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut races = Vec::new();
    let grow = |v: &mut Vec<Clock>, i: usize| {
        if v.len() <= i {
            v.resize_with(i + 1, Clock::new);
        }
    };
    for event in trace {
        let t = event.task.index();
        grow(&mut clocks, t);
        grow(&mut exits, t);
        grow(&mut pending, t);
        grow(&mut unparks, t);
        if !event.chosen {
            match event.op.kind {
                OpKind::Spawn(child) => {
                    let parent = clocks[t].clone();
                    grow(&mut clocks, child.index());
                    join(&mut clocks[child.index()], &parent);
                }
                OpKind::TaskExit => exits[t] = clocks[t].clone(),
                OpKind::Wake(woken) => {
                    let notifier = clocks[t].clone();
                    grow(&mut pending, woken.index());
                    join(&mut pending[woken.index()], &notifier);
                }
                _ => {}
            }
            continue;
        }
        let j = steps.len();
        let mut clock = std::mem::take(&mut clocks[t]);
        if clock.len() <= t {
            clock.resize(t + 1, 0);
        }
        clock[t] += 1;
        join(&mut clock, &std::mem::take(&mut pending[t]));
        match event.op.kind {
            OpKind::Join(child) => {
                grow(&mut exits, child.index());
                join(&mut clock, &exits[child.index()]);
            }
            OpKind::Park | OpKind::ParkTimeout => join(&mut clock, &unparks[t]),
            _ => {}
        }
        if let Some(object) = event.op.object {
            let o = object.index();
            if objects.len() <= o {
                objects.resize_with(o + 1, ObjectHistory::default);
            }
            let e = effect(event.op.kind);
            let history = &mut objects[o];
            for (access, mode) in [
                (&mut history.main, e.main),
                (&mut history.release, e.release),
            ] {
                let Some(mode) = mode else { continue };
                let mut earlier: Vec<usize> = access.last_write.into_iter().collect();
                if mode == Mode::Write {
                    earlier.extend(access.reads.iter().copied());
                }
                // Races are judged before this step learns of the earlier ones' clocks.
                for &i in &earlier {
                    if steps[i].task != event.task && !steps[i].happens_before(&clock) {
                        races.push((i, j));
                    }
                }
                for &i in &earlier {
                    let before = steps[i].clock.clone();
                    join(&mut clock, &before);
                }
                match mode {
                    Mode::Write => {
                        access.last_write = Some(j);
                        access.reads.clear();
                    }
                    Mode::Read => {
                        access.reads.retain(|&r| steps[r].task != event.task);
                        access.reads.push(j);
                    }
                }
            }
            match e.acquires {
                Some(true) => join(&mut clock, &history.released_all),
                Some(false) => join(&mut clock, &history.released_exclusive),
                None => {}
            }
            match e.releases {
                Some(true) => {
                    join(&mut history.released_all, &clock);
                    join(&mut history.released_exclusive, &clock);
                }
                Some(false) => join(&mut history.released_all, &clock),
                None => {}
            }
        }
        if let OpKind::Unpark(target) = event.op.kind {
            grow(&mut unparks, target.index());
            let now = clock.clone();
            join(&mut unparks[target.index()], &now);
        }
        clocks[t] = clock.clone();
        steps.push(Step {
            task: event.task,
            clock,
        });
    }
    Analysis { steps, races }
}

impl Analysis {
    /// The tasks that could take the first step of `notdep(i).j`: the steps after `i` that do
    /// not happen after it, followed by `j`. A task is an initial if its first such step has
    /// no earlier such step happening before it.
    pub(crate) fn initials(&self, i: usize, j: usize) -> Vec<TaskId> {
        let first = &self.steps[i];
        let mut sequence: Vec<usize> = (i + 1..j)
            .filter(|&k| !first.happens_before(&self.steps[k].clock))
            .collect();
        sequence.push(j);
        let mut initials: Vec<TaskId> = Vec::new();
        for (n, &k) in sequence.iter().enumerate() {
            let step = &self.steps[k];
            if initials.contains(&step.task) {
                continue;
            }
            let preceded = sequence[..n]
                .iter()
                .any(|&u| self.steps[u].happens_before(&step.clock));
            if !preceded {
                initials.push(step.task);
            }
        }
        initials
    }
}
