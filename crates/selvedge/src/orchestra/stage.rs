//! The stage: what one execution's tasks and its conductor share. Each task is in one
//! `Phase`; a task reaching a counted syncpoint moves to `Waiting` and waits for a grant; the
//! conductor grants the turn to one waiting task at a time and waits for it to come back.
//!
//! Invariants:
//! - At most one task is `Running` (holds the turn). A task the conductor gave up on is
//!   `Stalled`: it still runs, outside our control, and becomes `Waiting` when it arrives.
//! - A waiter goes on only when its task's `grants` moved past the value it arrived with, or
//!   when the execution has `ended` (then it leaves: a thread unwinds with `Abandoned`, a
//!   future is never woken and its task is aborted), so no task waits on a finished execution.
//! - The stage holds no user values: points, names, notes and panic messages are plain data.

use std::panic::Location;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Where a task waits for the turn, or last did.
#[derive(Clone, Debug)]
pub(crate) struct Point {
    pub(crate) location: &'static Location<'static>,
    pub(crate) name: Option<&'static str>,
    /// What the code under test says it is about to do (a statement's text).
    pub(crate) detail: Option<String>,
    /// The task's start, not a syncpoint: its first turn runs the code before its first one.
    pub(crate) start: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// At a counted syncpoint (or its start), ready for the turn.
    Waiting,
    /// Holds the turn.
    Running,
    /// Had the turn and did not come back within the stall timeout: still running (or blocked)
    /// outside our control.
    Stalled,
    Finished,
}

/// How a task ended.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    Returned,
    /// It panicked: the message, and where if the hook saw it.
    Panicked {
        message: String,
        location: Option<String>,
    },
    /// Left when the execution ended before it finished.
    Abandoned,
}

pub(crate) struct Slot {
    pub(crate) phase: Phase,
    pub(crate) point: Point,
    /// Turns granted so far.
    pub(crate) grants: u64,
    waker: Option<Waker>,
    /// Lines the code under test added to its current step (`TaskToken::note`).
    pub(crate) notes: Vec<String>,
    pub(crate) outcome: Option<Outcome>,
    /// When the phase last changed.
    pub(crate) since: Instant,
}

pub(crate) struct StageState {
    pub(crate) tasks: Vec<Slot>,
    /// The execution is over: no task waits any more.
    pub(crate) ended: bool,
    /// Every syncpoint name reached, counted or not, in first-reached order.
    pub(crate) names_seen: Vec<&'static str>,
    /// Bumped at every arrival and finish, so the conductor can wait for any change.
    pub(crate) changes: u64,
}

pub(crate) struct Stage {
    state: Mutex<StageState>,
    /// The conductor waits here for arrivals and finishes.
    conductor: Condvar,
    /// Task `i`'s threads wait here for the turn.
    turns: Vec<Condvar>,
    only: Option<&'static str>,
}

/// What a task reaching a syncpoint must do.
pub(crate) enum Arrival {
    /// The point does not count (another name, or none when one was asked for): go on.
    Free,
    /// The execution is over: leave.
    Ended,
    /// Wait until `grants` moves past this.
    Wait(u64),
}

/// How the turn the conductor granted ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TurnEnd {
    Arrived,
    Finished,
    Stalled,
}

impl Stage {
    pub(crate) fn new(
        starts: Vec<&'static Location<'static>>,
        only: Option<&'static str>,
    ) -> Stage {
        let now = Instant::now();
        let turns = starts.iter().map(|_| Condvar::new()).collect();
        let tasks = starts
            .into_iter()
            .map(|location| Slot {
                phase: Phase::Waiting,
                point: Point {
                    location,
                    name: None,
                    detail: None,
                    start: true,
                },
                grants: 0,
                waker: None,
                notes: Vec::new(),
                outcome: None,
                since: now,
            })
            .collect();
        Stage {
            state: Mutex::new(StageState {
                tasks,
                ended: false,
                names_seen: Vec::new(),
                changes: 0,
            }),
            conductor: Condvar::new(),
            turns,
            only,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, StageState> {
        // Nothing panics while holding it, but a poisoned stage must not hang anyone.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Does a syncpoint with this name count as a turn boundary? With `only(name)`, exactly
    /// the points of that name; without, the unnamed ones.
    fn counts(&self, name: Option<&'static str>) -> bool {
        name == self.only
    }

    // ---- the tasks' side ----

    /// Task `index` reached a syncpoint.
    pub(crate) fn arrive(
        &self,
        index: usize,
        name: Option<&'static str>,
        detail: Option<&str>,
        location: &'static Location<'static>,
    ) -> Arrival {
        let mut state = self.lock();
        if state.ended {
            return Arrival::Ended;
        }
        if let Some(name) = name {
            if !state.names_seen.contains(&name) {
                state.names_seen.push(name);
            }
        }
        if !self.counts(name) {
            return Arrival::Free;
        }
        let slot = &mut state.tasks[index];
        if slot.phase == Phase::Finished {
            // Another thread acting for a task that already ended (a proxy's late message).
            return Arrival::Free;
        }
        slot.phase = Phase::Waiting;
        slot.point = Point {
            location,
            name,
            detail: detail.map(str::to_string),
            start: false,
        };
        slot.since = Instant::now();
        let grants = slot.grants;
        state.changes += 1;
        // Woken after the lock is released, so the conductor does not wake into a held lock.
        drop(state);
        self.conductor.notify_one();
        Arrival::Wait(grants)
    }

    /// Blocks until task `index` is granted a turn past `grants`; `false` if the execution
    /// ended first.
    pub(crate) fn wait_turn(&self, index: usize, grants: u64) -> bool {
        let mut state = self.lock();
        loop {
            if state.ended {
                return false;
            }
            if state.tasks[index].grants != grants {
                return true;
            }
            state = self.turns[index]
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The async form of `wait_turn`: `Ready(true)` once granted, `Ready(false)` once ended.
    pub(crate) fn poll_turn(&self, index: usize, grants: u64, cx: &mut Context<'_>) -> Poll<bool> {
        let mut state = self.lock();
        if state.ended {
            return Poll::Ready(false);
        }
        let slot = &mut state.tasks[index];
        if slot.grants != grants {
            return Poll::Ready(true);
        }
        match &mut slot.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Task `index` ended.
    pub(crate) fn finish(&self, index: usize, outcome: Outcome) {
        let mut state = self.lock();
        let slot = &mut state.tasks[index];
        slot.phase = Phase::Finished;
        slot.outcome = Some(outcome);
        slot.since = Instant::now();
        state.changes += 1;
        drop(state);
        self.conductor.notify_one();
    }

    /// Adds a line to task `index`'s current step.
    pub(crate) fn note(&self, index: usize, text: &str) {
        self.lock().tasks[index].notes.push(text.to_string());
    }

    // ---- the conductor's side ----

    /// Gives task `index` the turn. It was `Waiting` when the candidates were collected; if it
    /// finished since (its own thread ended while another thread acting for it waited at a
    /// syncpoint), there is no turn to give: `false`.
    pub(crate) fn grant(&self, index: usize) -> bool {
        let waker = {
            let mut state = self.lock();
            let slot = &mut state.tasks[index];
            if slot.phase == Phase::Finished {
                return false;
            }
            assert_eq!(
                slot.phase,
                Phase::Waiting,
                "the turn went to a task not waiting for it"
            );
            slot.phase = Phase::Running;
            slot.grants += 1;
            slot.notes.clear();
            slot.since = Instant::now();
            slot.waker.take()
        };
        self.turns[index].notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// Waits for task `index`'s turn to end: it arrives at its next counted syncpoint,
    /// finishes, or is set aside as stalled after `stall`.
    pub(crate) fn await_turn_end(&self, index: usize, stall: Duration) -> TurnEnd {
        let deadline = Instant::now() + stall;
        let mut state = self.lock();
        loop {
            match state.tasks[index].phase {
                Phase::Waiting => return TurnEnd::Arrived,
                Phase::Finished => return TurnEnd::Finished,
                Phase::Stalled => unreachable!("only the conductor sets a task aside"),
                Phase::Running => {}
            }
            let now = Instant::now();
            if now >= deadline {
                let slot = &mut state.tasks[index];
                slot.phase = Phase::Stalled;
                slot.since = now;
                return TurnEnd::Stalled;
            }
            state = self
                .conductor
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until something changes (an arrival or a finish) after `seen` changes, for at
    /// most `timeout`; `false` if nothing did.
    pub(crate) fn await_change(&self, seen: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if state.changes != seen {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .conductor
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until no task is stalled (each arrived or finished), for at most `timeout`.
    pub(crate) fn await_rejoin(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.tasks.iter().any(|t| t.phase == Phase::Stalled) {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            state = self
                .conductor
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until every task finished, for at most `timeout`; `false` if some did not.
    pub(crate) fn await_all_finished(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if state.tasks.iter().all(|t| t.phase == Phase::Finished) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .conductor
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Ends the execution: every waiting task leaves, and every later syncpoint makes its task
    /// leave.
    pub(crate) fn end(&self) {
        let wakers: Vec<Waker> = {
            let mut state = self.lock();
            state.ended = true;
            state
                .tasks
                .iter_mut()
                .filter_map(|t| t.waker.take())
                .collect()
        };
        for turn in &self.turns {
            turn.notify_all();
        }
        // Woken futures see the end and stay pending; their tasks are aborted.
        for waker in wakers {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_that_finished_after_it_was_collected_is_not_granted() {
        // Goal: a helper thread waits at its task's syncpoint (the task is `Waiting`), then the
        // task's own thread ends before the conductor grants the turn it chose: no turn, no
        // engine assertion.
        let stage = Stage::new(vec![Location::caller()], None);
        assert!(stage.grant(0), "the start turn");
        assert!(matches!(
            stage.arrive(0, None, Some("late"), Location::caller()),
            Arrival::Wait(1)
        ));
        stage.finish(0, Outcome::Returned);
        assert!(!stage.grant(0));
        assert_eq!(stage.lock().tasks[0].phase, Phase::Finished);
        stage.end();
        assert!(
            !stage.wait_turn(0, 1),
            "the helper leaves when the execution ends"
        );
    }

    #[test]
    fn uncounted_points_are_free_and_an_ended_stage_sends_everyone_away() {
        let stage = Stage::new(vec![Location::caller()], Some("x"));
        assert!(stage.grant(0));
        assert!(matches!(
            stage.arrive(0, None, None, Location::caller()),
            Arrival::Free
        ));
        assert!(matches!(
            stage.arrive(0, Some("y"), None, Location::caller()),
            Arrival::Free
        ));
        assert!(matches!(
            stage.arrive(0, Some("x"), None, Location::caller()),
            Arrival::Wait(1)
        ));
        assert_eq!(stage.lock().names_seen, vec!["y", "x"]);
        stage.end();
        assert!(matches!(
            stage.arrive(0, Some("x"), None, Location::caller()),
            Arrival::Ended
        ));
    }
}
