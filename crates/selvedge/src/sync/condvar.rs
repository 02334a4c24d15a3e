//! `Condvar`: waiting releases the mutex and blocks until a notify; a notify with no waiter
//! is lost, exactly as with std, which is how lost-wakeup bugs show up as deadlocks.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::LockResult;
use std::time::Duration;

use super::mutex::{acquire, release};
use super::{object_id, MutexGuard};
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{
    block_current, point, point_at, unblock_current, with_state, LazyObject, ObjectId, OpKind,
};

/// A condition variable, as `std::sync::Condvar`.
///
/// As std warns, a wait may return without a notification (a spurious wakeup): the model
/// explores that once per task per execution (`Config::spurious_wakeups`), so a wait under
/// `if` instead of a loop that re-checks its condition is a bug it finds. `wait_while` is
/// that loop.
///
/// ```
/// use selvedge::sync::{Arc, Condvar, Mutex};
///
/// selvedge::check_random(|| {
///     let pair = Arc::new((Mutex::new(false), Condvar::new()));
///     let pair2 = pair.clone();
///     selvedge::thread::spawn(move || {
///         *pair2.0.lock().unwrap() = true;
///         pair2.1.notify_one();
///     });
///     let guard = pair.0.lock().unwrap();
///     let ready = pair.1.wait_while(guard, |ready| !*ready).unwrap();
///     assert!(*ready);
/// }, 100);
/// ```
#[derive(Debug)]
pub struct Condvar {
    object: LazyObject,
    created_at: &'static Location<'static>,
}

/// Whether a timed wait returned because its timeout elapsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    #[track_caller]
    pub const fn new() -> Condvar {
        Condvar {
            object: LazyObject::new(),
            created_at: Location::caller(),
        }
    }

    #[track_caller]
    fn id(&self) -> ObjectId {
        object_id(
            &self.object,
            ObjectKind::Condvar,
            self.created_at,
            "selvedge::sync::Condvar",
            || ObjectState::Condvar {
                waiters: VecDeque::new(),
                next_arrival: 0,
                notifications: Vec::new(),
            },
        )
        .id
    }

    /// Releases the guard's mutex, waits for a notify, then re-acquires the mutex.
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let at = Location::caller();
        let id = self.id();
        let (mutex, mutex_id) = MutexGuard::parts(guard);
        point(OpKind::CondvarWait, Some(id));
        enqueue(id, mutex_id);
        point_at(OpKind::CondvarWoken, Some(id), at);
        with_state("Condvar::wait", |s| {
            if !leave_queue(s, id) {
                s.spend_spurious_wakeup(Some(id), at);
            }
            unblock_current(s);
            s.hb_acquire(id);
        });
        point_at(OpKind::Lock, Some(mutex_id), at);
        acquire(mutex_id, at);
        MutexGuard::from_parts(mutex, mutex_id, at)
    }

    /// Waits while `condition` holds.
    #[track_caller]
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Like `wait`, but also returns once `timeout` has passed on the virtual clock (which
    /// moves only when every task is blocked) without a notify.
    #[track_caller]
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let at = Location::caller();
        let id = self.id();
        let (mutex, mutex_id) = MutexGuard::parts(guard);
        point(OpKind::CondvarWaitTimeout, Some(id));
        let deadline = with_state("Condvar::wait_timeout", |s| {
            crate::runtime::deadline_after(s, timeout)
        });
        enqueue(id, mutex_id);
        crate::runtime::point_until(OpKind::CondvarWoken, Some(id), deadline, at);
        let timed_out = with_state("Condvar::wait_timeout", |s| {
            let notified = leave_queue(s, id);
            let timed_out = !notified && s.clock_ns >= deadline;
            if !notified && !timed_out {
                s.spend_spurious_wakeup(Some(id), at);
            }
            unblock_current(s);
            s.hb_acquire(id);
            timed_out
        });
        point_at(OpKind::Lock, Some(mutex_id), at);
        acquire(mutex_id, at);
        match MutexGuard::from_parts(mutex, mutex_id, at) {
            Ok(g) => Ok((g, WaitTimeoutResult(timed_out))),
            Err(e) => Err(std::sync::PoisonError::new((
                e.into_inner(),
                WaitTimeoutResult(timed_out),
            ))),
        }
    }

    /// Waits while `condition` holds, or until a timed wait times out.
    #[track_caller]
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let (g, result) = self.wait_timeout(guard, timeout)?;
            guard = g;
            if result.timed_out() {
                let still = condition(&mut *guard);
                return Ok((guard, WaitTimeoutResult(still)));
            }
        }
    }

    /// Wakes one waiting task, if any waits that no earlier notification wakes already. Which
    /// one is not promised (std's futex condvar and pthreads wake any), so every waiter that was
    /// waiting at this call may take it: they race for it, and the model explores each.
    #[track_caller]
    pub fn notify_one(&self) {
        let id = self.id();
        point(OpKind::CondvarNotifyOne, Some(id));
        with_state("Condvar::notify_one", |s| {
            s.hb_release(id);
            let (waiters, next_arrival, notifications) = queue(s, id);
            // Waiters an earlier notification will wake do not take this one.
            if waiters.len() <= notifications.len() {
                return;
            }
            notifications.push(*next_arrival);
            let eligible: Vec<crate::runtime::TaskId> = waiters.iter().map(|&(t, _)| t).collect();
            // Not wakes (which would order each waiter's next step after this notify, and hide
            // the race between the waiters for it): marks for the report. The order comes from
            // the condvar's release and the waiter's acquire (see `OpKind::access`).
            let at = s.tasks[s.current.index()].pending.location;
            for task in eligible {
                crate::runtime::record_event(s, OpKind::MayWake(task), Some(id), at);
            }
        });
    }

    /// Wakes every waiting task.
    #[track_caller]
    pub fn notify_all(&self) {
        let id = self.id();
        point(OpKind::CondvarNotifyAll, Some(id));
        with_state("Condvar::notify_all", |s| {
            s.hb_release(id);
            let (waiters, _, notifications) = queue(s, id);
            notifications.clear();
            let woken: Vec<_> = waiters.drain(..).map(|(t, _)| t).collect();
            // Marks for the report, not wakes: a wake's ordering edge would order each
            // waiter's next step after this notify before DPOR judges its races, and hide
            // that a waiter could have taken an earlier `notify_one` before it.
            let at = s.tasks[s.current.index()].pending.location;
            for task in woken {
                crate::runtime::record_event(s, OpKind::CondvarWakes(task), Some(id), at);
            }
        });
    }
}

impl Default for Condvar {
    #[track_caller]
    fn default() -> Condvar {
        Condvar::new()
    }
}

/// Releases the mutex and joins the condvar's wait queue, blocked until a notify (or, for a
/// timed wait, its deadline).
fn enqueue(id: ObjectId, mutex_id: ObjectId) {
    release(mutex_id);
    with_state("Condvar::wait", |s| {
        let current = s.current;
        let (waiters, next_arrival, _) = queue(s, id);
        waiters.push_back((current, *next_arrival));
        *next_arrival += 1;
        block_current(s, id);
    });
}

/// The running task stops waiting on condvar `id`: takes the notification that wakes it, if one
/// may, and returns whether it was notified (`false`: a timed wait's deadline passed first).
/// Of the notifications it may take, it takes the one fewest waiters may take, so the others
/// stay takeable by the waiters left: each notification's takers are the waiters that arrived
/// before it, a prefix of the queue, and the tightest prefix first keeps every one matched.
fn leave_queue(s: &mut crate::runtime::ExecState, id: ObjectId) -> bool {
    let current = s.current;
    let (waiters, _, notifications) = queue(s, id);
    let Some(i) = waiters.iter().position(|&(t, _)| t == current) else {
        // `notify_all` took it out of the queue.
        return true;
    };
    let (_, arrival) = waiters.remove(i).expect("the position is in the queue");
    let tightest = notifications
        .iter()
        .enumerate()
        .filter(|&(_, &bound)| arrival < bound)
        .min_by_key(|&(_, &bound)| bound)
        .map(|(n, _)| n);
    match tightest {
        Some(n) => {
            notifications.swap_remove(n);
            assert!(
                notifications.len() <= waiters.len(),
                "more notifications pending than tasks waiting"
            );
            true
        }
        None => false,
    }
}

/// Condvar `id`'s wait queue: its waiters with their arrival numbers, the next arrival number,
/// and the pending notifications' bounds.
fn queue(
    s: &mut crate::runtime::ExecState,
    id: ObjectId,
) -> (
    &mut VecDeque<(crate::runtime::TaskId, u64)>,
    &mut u64,
    &mut Vec<u64>,
) {
    let ObjectState::Condvar {
        waiters,
        next_arrival,
        notifications,
    } = s.object(id)
    else {
        unreachable!("object is not a condvar")
    };
    (waiters, next_arrival, notifications)
}
