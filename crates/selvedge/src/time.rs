//! Virtual time for async code: `sleep`, `sleep_until`, `timeout`, `interval` and `Instant`, in
//! tokio's shapes.
//!
//! The model's clock moves only when every task is blocked, straight to the earliest deadline
//! (`thread::sleep`, `Condvar::wait_timeout` and `recv_timeout` use the same clock). So a
//! timeout is deterministic, a test with an hour of sleeps runs in microseconds, and where two
//! deadlines fall at the same instant, or a deadline and a wake-up do, every order is explored.
//!
//! ```
//! use std::time::Duration;
//! use selvedge::{future, time};
//!
//! selvedge::model(|| {
//!     future::block_on(async {
//!         let start = time::Instant::now();
//!         // A future that never completes times out after exactly one second, every time.
//!         let result = time::timeout(Duration::from_secs(1), std::future::pending::<()>()).await;
//!         assert!(result.is_err());
//!         assert_eq!(start.elapsed(), Duration::from_secs(1));
//!         time::sleep(Duration::from_secs(3600)).await; // no real time passes
//!     });
//! });
//! ```
//!
//! These futures need a model: polled anywhere else they panic with a message saying so.

use std::fmt;
use std::future::Future;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::runtime::awaiting::{self, Claim, Interest};
use crate::runtime::{self, with_state, ExecState, OpKind, TaskId};

/// A point on the model's virtual clock (nanoseconds since the execution began).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    ns: u64,
}

impl Instant {
    /// The model's current time. Panics outside a model.
    #[track_caller]
    pub fn now() -> Instant {
        Instant {
            ns: with_state("selvedge::time::Instant::now", |s| s.clock_ns),
        }
    }

    /// Time passed since `self` on the model's clock.
    #[track_caller]
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.ns.saturating_sub(earlier.ns))
    }

    /// `self - earlier`, or zero if `earlier` is later (as tokio's `Instant`).
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }

    /// `self - earlier`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.ns.checked_sub(earlier.ns).map(Duration::from_nanos)
    }

    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        let nanos = u64::try_from(duration.as_nanos()).ok()?;
        self.ns.checked_add(nanos).map(|ns| Instant { ns })
    }

    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        let nanos = u64::try_from(duration.as_nanos()).ok()?;
        self.ns.checked_sub(nanos).map(|ns| Instant { ns })
    }

    fn plus(self, duration: Duration) -> Instant {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Instant {
            ns: self.ns.saturating_add(nanos),
        }
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?} virtual)", Duration::from_nanos(self.ns))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.plus(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = self.plus(rhs);
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        self.checked_sub(rhs)
            .expect("overflow when subtracting a duration from a selvedge Instant")
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

/// Waits until `duration` has passed on the virtual clock.
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    if !runtime::in_model() {
        runtime::outside_model("selvedge::time::sleep");
    }
    let now = Instant::now();
    Sleep::new(now, now.plus(duration), Location::caller())
}

/// Waits until the virtual clock reaches `deadline`.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    if !runtime::in_model() {
        runtime::outside_model("selvedge::time::sleep_until");
    }
    let now = Instant::now();
    Sleep::new(now, deadline, Location::caller())
}

/// The future of [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    start: Instant,
    deadline: Instant,
    interest: u64,
    generation: u64,
    created_at: &'static Location<'static>,
}

impl Sleep {
    fn new(start: Instant, deadline: Instant, created_at: &'static Location<'static>) -> Sleep {
        Sleep {
            start,
            deadline,
            interest: 0,
            generation: runtime::current_generation()
                .unwrap_or_else(|| runtime::outside_model("selvedge::time::sleep")),
            created_at,
        }
    }

    /// When it completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Has its deadline passed?
    #[track_caller]
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (the sleep waits anew).
    #[track_caller]
    pub fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.forget_interest();
        self.start = Instant::now();
        self.deadline = deadline;
    }

    fn forget_interest(&mut self) {
        if self.interest != 0 {
            awaiting::cancel(self.interest, self.generation);
            self.interest = 0;
        }
    }
}

fn timer_ready(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    interest.deadline.is_some_and(|d| s.clock_ns >= d)
}

fn timer_grant(_: &mut ExecState, _: TaskId, _: &Interest) {}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !runtime::in_model() {
            outside_model_poll("selvedge::time::Sleep");
        }
        if self.interest != 0 {
            return match awaiting::claim(self.interest, self.generation, cx) {
                Claim::Granted => {
                    self.interest = 0;
                    Poll::Ready(())
                }
                Claim::Waiting => Poll::Pending,
            };
        }
        // Its deadline is on the clock of the execution that made it (`claim` checks re-polls).
        awaiting::check_same_execution(self.generation);
        // A deadline already behind its start (`sleep_until` the past, a late tick) is no wait.
        let duration = self.deadline.ns.saturating_sub(self.start.ns);
        let deadline = self.deadline.ns;
        let registered = awaiting::register_if(cx, self.created_at, |s| {
            // The clock moves only when every task is blocked, so reading it here is as
            // deterministic as the step this poll belongs to.
            (s.clock_ns < deadline).then_some(awaiting::Wants {
                kind: OpKind::Sleep(duration),
                object: None,
                arg: 0,
                deadline: Some(deadline),
                ready: timer_ready,
                grant: timer_grant,
            })
        });
        match registered {
            Some((key, _)) => {
                self.interest = key;
                Poll::Pending
            }
            // Already due, so no step: after `COOP_BUDGET` of these in a row the sleep is a
            // step once (as tokio's budget makes the task give way), or a loop of zero sleeps
            // would never let another task run. A plain step, due at once: the task stays
            // runnable, so it may also go on first (a yield would park it until another task
            // moved, hiding the orders where it finishes first).
            None if awaiting::spend_coop_budget() => {
                runtime::point_until(OpKind::Sleep(duration), None, deadline, self.created_at);
                Poll::Ready(())
            }
            None => Poll::Ready(()),
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.forget_interest();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Runs `future` for at most `duration` of virtual time.
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// Runs `future` until the virtual clock reaches `deadline`.
#[track_caller]
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

/// The future of [`timeout`]: the inner future's output, or [`Elapsed`].
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: never moved out while `self` is pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(value) = future.poll(cx) {
            return Poll::Ready(Ok(value));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.sleep.deadline)
            .finish()
    }
}

/// A [`timeout`] ran out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl fmt::Debug for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Elapsed(())")
    }
}

impl std::error::Error for Elapsed {}

/// Ticks every `period` of virtual time, the first tick at once (as tokio's `interval`).
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "`selvedge::time::interval` needs a period above zero"
    );
    Interval {
        next: start,
        period,
        missed: MissedTickBehavior::Burst,
    }
}

/// What an [`Interval`] does after a tick it was late for (the task was busy past it, on the
/// virtual clock), as tokio's: the late tick completes at once either way, and this decides
/// when the next is due.
///
/// A tick at most 5 ms late counts as on time, as in tokio (whose timer is that coarse): the
/// next is then due a period after it.
///
/// ```
/// use std::time::Duration;
/// use selvedge::{future, time};
/// use selvedge::time::MissedTickBehavior;
///
/// selvedge::model(|| {
///     future::block_on(async {
///         let ms = Duration::from_millis;
///         let start = time::Instant::now();
///         let mut ticks = time::interval(ms(10));
///         ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
///         ticks.tick().await; // at 0
///         time::sleep(ms(35)).await; // busy past the ticks due at 10, 20 and 30
///         assert_eq!(ticks.tick().await, start + ms(10)); // late, at once
///         assert_eq!(ticks.tick().await, start + ms(45)); // a period after the late one
///     });
/// });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MissedTickBehavior {
    /// Catch up: the ticks missed complete at once, one per `tick`, each due a period after
    /// the one before (the default).
    #[default]
    Burst,
    /// Start again from now: the next tick is due a period after the late one completed.
    Delay,
    /// Keep the schedule, skip what was missed: the next tick is due at the next multiple of
    /// the period (counted from the first tick) after now.
    Skip,
}

impl MissedTickBehavior {
    /// When the tick after one due at `due` but taken at `now` is due.
    fn next(self, due: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => due.plus(period),
            MissedTickBehavior::Delay => now.plus(period),
            MissedTickBehavior::Skip => {
                let period_ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
                let behind = (now.ns - due.ns) % period_ns;
                Instant {
                    ns: now.ns.saturating_add(period_ns - behind),
                }
            }
        }
    }
}

/// How late a tick may be and still count as on time (tokio's tolerance).
const TICK_TOLERANCE: Duration = Duration::from_millis(5);

/// The ticks of [`interval`]. A tick that is late completes at once; when the next is due
/// then is [`MissedTickBehavior`]'s choice (by default, a period after the one missed).
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns when it was due. Reports place the wait where
    /// `tick` is called. Dropping the future before it completes loses no tick.
    #[track_caller]
    pub fn tick(&mut self) -> impl Future<Output = Instant> + '_ {
        let at = Location::caller();
        async move {
            let due = self.next;
            let start = Instant::now();
            Sleep::new(start, due, at).await;
            let now = Instant::now();
            self.next = if now > due.plus(TICK_TOLERANCE) {
                self.missed.next(due, now, self.period)
            } else {
                due.plus(self.period)
            };
            due
        }
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What the interval does after a late tick.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets what the interval does after a late tick.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// Starts the ticks afresh: the next is due a period from now.
    #[track_caller]
    pub fn reset(&mut self) {
        self.next = Instant::now().plus(self.period);
    }

    /// The next tick is due now.
    #[track_caller]
    pub fn reset_immediately(&mut self) {
        self.next = Instant::now();
    }

    /// The next tick is due `after` from now.
    #[track_caller]
    pub fn reset_after(&mut self, after: Duration) {
        self.next = Instant::now().plus(after);
    }

    /// The next tick is due at `deadline`.
    pub fn reset_at(&mut self, deadline: Instant) {
        self.next = deadline;
    }
}

/// A selvedge future was polled with no model running (on a real runtime, say).
#[track_caller]
#[cold]
pub(crate) fn outside_model_poll(what: &str) -> ! {
    panic!(
        "a `{what}` was polled outside a selvedge model: selvedge's futures run only on the \
         model's executor; run the async code with `selvedge::future::block_on` inside \
         `selvedge::model(|| ...)` (or `#[selvedge::test]`), or use tokio's type when not testing"
    )
}
