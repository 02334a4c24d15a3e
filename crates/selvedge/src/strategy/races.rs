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
//!   unlock that would have let it succeed. A `try_lock` hides no acquisition before it (it
//!   may have failed, inside its own task's critical section): later acquisitions race with
//!   both;
//! - spawn orders the child after the parent, exit orders `join` after the child, a notify
//!   orders the woken task after the notifier;
//! - a condvar waiter's `CondvarWoken` and every park are attempts to acquire (a park takes the
//!   token one of possibly several unparks gave, or none: a timeout, a spurious wakeup), which
//!   race with the notify or unpark (a release) that would have woken them;
//! - a wait that may still wake spuriously is `Access::Everything` (`runtime::point_decided`):
//!   it may do so only while another task can run, which every other step can change.
//!
//! A race is a pair of dependent steps of different tasks, the earlier not ordered before the
//! later by any other path; reversing it gives a new Mazurkiewicz trace.
//!
//! Invariant: for the steps of one task, local clock values strictly increase; a step never
//! races with a step it happens after.

use super::wakeup::{Reversal, Reversible};
use super::Candidate;
use crate::trace::{Access, OpKind, TaskId, TraceEvent};

/// Vector clocks of a fixed width (the execution's task count), stored row after row in
/// one buffer that is reused from execution to execution, so analysing an execution
/// allocates nothing once the buffer has grown to fit.
#[derive(Default)]
pub(crate) struct Clocks {
    width: usize,
    cells: Vec<u32>,
}

impl Clocks {
    fn reset(&mut self, width: usize, rows: usize) {
        self.width = width;
        self.cells.clear();
        self.cells.resize(width * rows, 0);
    }

    fn push_row(&mut self) -> usize {
        self.cells.resize(self.cells.len() + self.width, 0);
        self.cells.len() / self.width - 1
    }

    fn row(&self, r: usize) -> &[u32] {
        &self.cells[r * self.width..(r + 1) * self.width]
    }

    fn row_mut(&mut self, r: usize) -> &mut [u32] {
        &mut self.cells[r * self.width..(r + 1) * self.width]
    }

    /// `row(into) = max(row(into), row(from))`, elementwise.
    fn join(&mut self, into: usize, from: usize) {
        if into == from {
            return;
        }
        let w = self.width;
        let (a, b) = if into < from {
            let (lo, hi) = self.cells.split_at_mut(from * w);
            (&mut lo[into * w..(into + 1) * w], &hi[..w])
        } else {
            let (lo, hi) = self.cells.split_at_mut(into * w);
            (&mut hi[..w], &lo[from * w..(from + 1) * w])
        };
        for (x, y) in a.iter_mut().zip(b) {
            *x = (*x).max(*y);
        }
    }

    fn copy(&mut self, into: usize, from: usize) {
        let w = self.width;
        self.cells.copy_within(from * w..(from + 1) * w, into * w);
    }
}

/// One scheduling decision of the execution, as DPOR sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    pub(crate) task: TaskId,
    /// What the step did, as a candidate for the decision it followed.
    op: Candidate,
    /// This step's own count in its task's program order (its clock entry for itself).
    local: u32,
    /// The row of the step's vector clock in `Analysis::clocks`.
    row: usize,
}

impl Step {
    /// Does this step happen before (or at) a point whose clock is `clock`?
    fn happens_before(&self, clock: &[u32]) -> bool {
        clock[self.task.index()] >= self.local
    }
}

/// Last accesses of one variable (an object, or the release side of a lock).
#[derive(Default)]
struct History {
    last_write: Option<usize>,
    reads: Vec<usize>,
    /// Shared unlocks since the last write: they commute with each other (two readers leaving
    /// in either order leave the same lock), not with reads or writes.
    shared: Vec<usize>,
    /// Attempts (`try_lock`) since the last write, with their mode. Each races with every later
    /// access it conflicts with, but hides nothing before it: a failed attempt acquires
    /// nothing, and a task that tries a lock it holds must not hide its own acquisition, whose
    /// race with another task's is the one a reversal can act on (reversing the attempt alone
    /// would put the other task inside the critical section, where it cannot run). A task's
    /// later attempts never replace its earlier ones: the earlier may be that acquisition.
    attempts: Vec<(usize, Mode)>,
}

#[derive(Default)]
struct ObjectHistory {
    /// Acquisitions for locks; every access for other objects.
    main: History,
    /// Unlocks (writes) and try-locks (reads), so a failed `try_lock` races with the unlock.
    release: History,
    /// Row of the join of every unlock's clock: what a write acquisition is ordered after.
    released_all: usize,
    /// Row of the join of exclusive unlocks' clocks: what a read acquisition waits for.
    released_exclusive: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Read,
    Write,
    /// A write that commutes with other `Shared` writes: a read unlock, on the release side.
    Shared,
}

/// How a step touches its object.
struct Effect {
    main: Option<Mode>,
    release: Option<Mode>,
    /// Ordered after earlier unlocks: all of them, or only exclusive ones.
    acquires: Option<bool>,
    /// Publishes this step's clock as an unlock: exclusive or shared.
    releases: Option<bool>,
    /// An acquisition that may fail (`try_lock`): see `History::attempts`.
    attempt: bool,
}

fn effect(access: Access) -> Effect {
    let none = Effect {
        main: None,
        release: None,
        acquires: None,
        releases: None,
        attempt: false,
    };
    match access {
        Access::Local | Access::Everything => none,
        Access::Read => Effect {
            main: Some(Mode::Read),
            ..none
        },
        Access::Write => Effect {
            main: Some(Mode::Write),
            ..none
        },
        Access::Acquire { exclusive, attempt } => Effect {
            main: Some(if exclusive { Mode::Write } else { Mode::Read }),
            release: attempt.then_some(Mode::Read),
            acquires: Some(exclusive),
            attempt,
            ..none
        },
        Access::Release { exclusive } => Effect {
            release: Some(if exclusive { Mode::Write } else { Mode::Shared }),
            releases: Some(exclusive),
            ..none
        },
    }
}

/// Step `j` of `task` (whose clock is row `me`) accesses a variable with `history` in `mode`
/// (as an `attempt` or not): records a race with each earlier conflicting access that does
/// not happen before it, then orders the step after them all.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn touch(
    history: &mut History,
    mode: Mode,
    attempt: bool,
    j: usize,
    task: TaskId,
    me: usize,
    steps: &[Step],
    clocks: &mut Clocks,
    earlier: &mut Vec<usize>,
    races: &mut Vec<(usize, usize)>,
) {
    earlier.clear();
    earlier.extend(history.last_write);
    if mode != Mode::Read {
        earlier.extend(history.reads.iter().copied());
    }
    if mode != Mode::Shared {
        earlier.extend(history.shared.iter().copied());
    }
    earlier.extend(
        history
            .attempts
            .iter()
            .filter(|&&(_, tried)| mode != Mode::Read || tried != Mode::Read)
            .map(|&(i, _)| i),
    );
    // Races are judged before this step learns of the earlier ones' clocks.
    for &i in earlier.iter() {
        assert!(i < j, "a race's first step comes first");
        if steps[i].task != task && !steps[i].happens_before(clocks.row(me)) {
            races.push((i, j));
        }
    }
    for &i in earlier.iter() {
        clocks.join(me, steps[i].row);
    }
    if attempt {
        // The task's own earlier attempts stay: one of them may be the acquisition that
        // succeeded, and a later attempt that failed on the lock the task now holds must not
        // hide it (another task's lock then races only with the failed attempt, whose
        // reversal cannot run while the lock is held).
        history.attempts.push((j, mode));
        return;
    }
    match mode {
        Mode::Write => {
            history.last_write = Some(j);
            history.reads.clear();
            history.shared.clear();
            history.attempts.clear();
        }
        Mode::Read => {
            history.reads.retain(|&r| steps[r].task != task);
            history.reads.push(j);
        }
        Mode::Shared => {
            history.shared.retain(|&r| steps[r].task != task);
            history.shared.push(j);
        }
    }
}

/// The steps of an execution with their clocks, and every race between them as
/// `(earlier step, later step)` indices. One `Analysis` is reused for every execution of an
/// exploration: `analyse` overwrites it, keeping its buffers.
#[derive(Default)]
pub(crate) struct Analysis {
    pub(crate) steps: Vec<Step>,
    pub(crate) races: Vec<(usize, usize)>,
    clocks: Clocks,
    /// Per object, indexed by object id; only the first `live_objects` belong to the
    /// execution analysed last, the rest are kept for their buffers.
    objects: Vec<ObjectHistory>,
    live_objects: usize,
    /// Scratch: the earlier steps a step is ordered after.
    earlier: Vec<usize>,
    /// The history of the world as steps that conflict with everything (`Access::Everything`)
    /// see it: they write it, every other step reads it.
    everything: History,
    /// Progress as yields see it: a yield parks its task until another task's step that does
    /// not only observe, so yields and such steps conflict (yields as `Shared` writes, which
    /// commute with each other; progress as reads, which do too).
    progress: History,
    /// Per trace event: a yield whose task steps again after it (scratch).
    parks: Vec<bool>,
    /// Per task: does it take a step later in the trace (scratch, filled backwards).
    stepped_later: Vec<bool>,
    /// Per task: did a clock move let it run since its last step (scratch).
    released: Vec<bool>,
}

impl Analysis {
    /// Computes happens-before and the races of `trace`, replacing the previous result.
    pub(crate) fn analyse(&mut self, trace: &[TraceEvent]) {
        let n_tasks = trace
            .iter()
            .map(|e| match e.op.kind {
                OpKind::Spawn(t) | OpKind::Unpark(t) | OpKind::Join(t) => {
                    e.task.index().max(t.index())
                }
                _ => e.task.index(),
            })
            .max()
            .map_or(1, |m| m + 1);
        // Rows: each task's current clock and its exit clock; then one row per step and two
        // per object. (Parks and unparks meet on the task's parker object.)
        let (current, exits) = (0, n_tasks);
        // The virtual clock moves only when every task is blocked. A task the move lets run
        // (its deadline reached, or parked by a yield: a `ClockAdvance` event of its own)
        // could not have taken its next step before the move, so that step happens after
        // every step before it: this row is the join of all steps before the last move.
        // Other tasks are ordered after the move only through what unblocks them.
        let epoch = 2 * n_tasks;
        let Analysis {
            steps,
            races,
            clocks,
            objects,
            live_objects,
            earlier,
            everything,
            progress,
            parks,
            stepped_later,
            released,
        } = self;
        clocks.reset(n_tasks, 2 * n_tasks + 1);
        everything.last_write = None;
        everything.reads.clear();
        everything.shared.clear();
        everything.attempts.clear();
        let any_everything = trace
            .iter()
            .any(|e| e.chosen && e.op.access == Access::Everything);
        progress.last_write = None;
        progress.reads.clear();
        progress.shared.clear();
        progress.attempts.clear();
        // A yield parks only a task that takes another step after it (a spin that goes on);
        // one that ends its task parks nothing, and commutes with everything.
        parks.clear();
        parks.resize(trace.len(), false);
        let mut any_parking = false;
        stepped_later.clear();
        stepped_later.resize(n_tasks, false);
        for (i, e) in trace.iter().enumerate().rev() {
            if !e.chosen {
                continue;
            }
            let t = e.task.index();
            if e.op.kind.parks_until_progress() && stepped_later[t] {
                parks[i] = true;
                any_parking = true;
            }
            stepped_later[t] = true;
        }
        released.clear();
        released.resize(n_tasks, false);
        steps.clear();
        races.clear();
        *live_objects = 0;
        for (index, event) in trace.iter().enumerate() {
            let t = event.task.index();
            if !event.chosen {
                match event.op.kind {
                    OpKind::Spawn(child) => clocks.join(current + child.index(), current + t),
                    OpKind::TaskExit => clocks.copy(exits + t, current + t),
                    OpKind::ClockAdvance => {
                        released[t] = true;
                        for task in 0..n_tasks {
                            clocks.join(epoch, current + task);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let j = steps.len();
            let me = current + t;
            clocks.row_mut(me)[t] += 1;
            // A condvar waiter that timed out after the clock moved could have taken a
            // notification before the move (if another waiter had not taken it first): its
            // races are judged without the epoch, which it joins afterwards.
            let after_move = std::mem::take(&mut released[t]);
            let late_epoch = after_move && event.op.kind == OpKind::CondvarWoken;
            if after_move && !late_epoch {
                clocks.join(me, epoch);
            }
            if let OpKind::Join(child) = event.op.kind {
                clocks.join(me, exits + child.index());
            }
            // The step's own object is judged first, on the clock it had before this step:
            // an acquisition must see its race with the last acquisition of its lock even
            // when a yield or a spurious-wakeup wait of the holder comes between. Those
            // would order the holder's acquisition before it and report only their own
            // race, whose reversal puts the acquisition where the lock is still held, so
            // no one would ever try the other acquisition order. The unlock that let the
            // acquisition run is joined next, before the yields and waits are judged, so
            // they report no such race at all.
            let mut releases = None;
            if let Some(object) = event.op.object {
                let o = object.index();
                while *live_objects <= o {
                    if objects.len() == *live_objects {
                        objects.push(ObjectHistory::default());
                    }
                    let fresh = &mut objects[*live_objects];
                    for access in [&mut fresh.main, &mut fresh.release] {
                        access.last_write = None;
                        access.reads.clear();
                        access.shared.clear();
                        access.attempts.clear();
                    }
                    fresh.released_all = clocks.push_row();
                    fresh.released_exclusive = clocks.push_row();
                    *live_objects += 1;
                }
                let e = effect(event.op.access);
                let history = &mut objects[o];
                for (access, mode, attempt) in [
                    (&mut history.main, e.main, e.attempt),
                    (&mut history.release, e.release, false),
                ] {
                    let Some(mode) = mode else { continue };
                    touch(
                        access, mode, attempt, j, event.task, me, steps, clocks, earlier, races,
                    );
                }
                match e.acquires {
                    Some(true) => clocks.join(me, history.released_all),
                    Some(false) => clocks.join(me, history.released_exclusive),
                    None => {}
                }
                releases = e.releases.map(|exclusive| (o, exclusive));
            }
            if any_everything {
                // Every step reads the world; a step that conflicts with everything writes it.
                let mode = if event.op.access == Access::Everything {
                    Mode::Write
                } else {
                    Mode::Read
                };
                touch(
                    everything, mode, false, j, event.task, me, steps, clocks, earlier, races,
                );
            }
            if any_parking {
                let mode = if parks[index] {
                    Some(Mode::Shared)
                } else if event.op.access.observes_only() {
                    None
                } else {
                    Some(Mode::Read)
                };
                if let Some(mode) = mode {
                    touch(
                        progress, mode, false, j, event.task, me, steps, clocks, earlier, races,
                    );
                    if mode == Mode::Read {
                        // The yields of other tasks before it are released here: whether a
                        // later step comes before or after them changes nothing more.
                        progress.shared.retain(|&r| steps[r].task == event.task);
                    }
                }
            }
            if late_epoch {
                clocks.join(me, epoch);
            }
            // An unlock publishes its clock once it knows every edge into the step.
            match releases {
                Some((o, true)) => {
                    clocks.join(objects[o].released_all, me);
                    clocks.join(objects[o].released_exclusive, me);
                }
                Some((o, false)) => clocks.join(objects[o].released_all, me),
                None => {}
            }
            let row = clocks.push_row();
            clocks.copy(row, me);
            steps.push(Step {
                task: event.task,
                op: Candidate {
                    task: event.task,
                    kind: event.op.kind,
                    object: event.op.object,
                    access: event.op.access,
                },
                local: clocks.row(me)[t],
                row,
            });
        }
    }

    /// Writes `notdep(i).j` to `sequence`: the steps after `i` that do not happen after it,
    /// then `j`, as step indices in execution order.
    pub(crate) fn reversal_steps(&self, i: usize, j: usize, sequence: &mut Vec<usize>) {
        let first = &self.steps[i];
        sequence.clear();
        sequence.extend(
            (i + 1..j).filter(|&k| !first.happens_before(self.clocks.row(self.steps[k].row))),
        );
        sequence.push(j);
    }

    /// The sequence `reversal_steps` left in `sequence`, without copying it.
    pub(crate) fn view<'a>(&'a self, sequence: &'a mut Vec<usize>) -> ReversalView<'a> {
        ReversalView {
            analysis: self,
            sequence,
        }
    }

    /// The sequence `reversal_steps` left in `sequence`, copied out.
    pub(crate) fn reversal(&self, sequence: &[usize]) -> Reversal {
        let mut reversal = Reversal::default();
        for &k in sequence {
            let step = &self.steps[k];
            reversal.push(step.op, step.local, self.clocks.row(step.row));
        }
        reversal
    }
}

/// A race reversal read straight from the analysis: step indices in execution order.
pub(crate) struct ReversalView<'a> {
    analysis: &'a Analysis,
    sequence: &'a mut Vec<usize>,
}

impl ReversalView<'_> {
    /// Is this the same sequence as `other`: the same steps, ordered the same way by
    /// happens-before? Then inserting either into a wakeup tree does the same.
    pub(crate) fn same_as(&self, other: &Reversal) -> bool {
        let steps = &self.analysis.steps;
        let theirs = other.steps_slice();
        if theirs.len() != self.sequence.len() {
            return false;
        }
        let same_steps = self
            .sequence
            .iter()
            .zip(theirs)
            .all(|(&k, step)| steps[k].op == *step);
        same_steps
            && (0..theirs.len()).all(|n| {
                let clock = self.analysis.clocks.row(steps[self.sequence[n]].row);
                (0..n).all(|u| {
                    steps[self.sequence[u]].happens_before(clock) == other.happens_before(u, n)
                })
            })
    }
}

impl Reversible for ReversalView<'_> {
    fn can_start_with(&self, next: &Candidate) -> bool {
        let steps = &self.analysis.steps;
        match self
            .sequence
            .iter()
            .position(|&k| steps[k].task == next.task)
        {
            Some(n) => {
                let clock = self.analysis.clocks.row(steps[self.sequence[n]].row);
                !self.sequence[..n]
                    .iter()
                    .any(|&u| steps[u].happens_before(clock))
            }
            None => self
                .sequence
                .iter()
                .all(|&k| next.commutes_with(&steps[k].op)),
        }
    }

    fn without_first_of(&mut self, task: TaskId) {
        let steps = &self.analysis.steps;
        if let Some(n) = self.sequence.iter().position(|&k| steps[k].task == task) {
            self.sequence.remove(n);
        }
    }

    fn steps(&self) -> Vec<Candidate> {
        self.sequence
            .iter()
            .map(|&k| self.analysis.steps[k].op)
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.sequence.is_empty()
    }

    fn first_task(&self) -> Option<TaskId> {
        self.sequence.first().map(|&k| self.analysis.steps[k].task)
    }
}
