//! Concurrency scenarios as typed values: thread counts, race triggers, async event patterns,
//! task cancellations, worker-pool patterns and PID recycling. (Deadlock and contention
//! scenarios, which come with runners, have files of their own.)
//!
//! Invariant: every strategy shrinks towards the simplest case — fewer threads, tasks and
//! events, zero delays — so a failing property reports the smallest scenario proptest found.

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;

fn micros(max: u64) -> impl Strategy<Value = Duration> {
    (0..=max).prop_map(Duration::from_micros)
}

/// Thread counts from 1 to `max`, with the extremes 1 and `max` each drawn a quarter of the
/// time, so every property meets the single-threaded and the fullest case early.
///
/// Panics if `max == 0`.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
///
/// let mut runner = TestRunner::new(ProptestConfig { cases: 16, failure_persistence: None, ..Default::default() });
/// runner.run(&selvedge::chaos::thread_counts(8), |threads| {
///     let counter = Arc::new(AtomicUsize::new(0));
///     std::thread::scope(|s| {
///         for _ in 0..threads {
///             s.spawn(|| counter.fetch_add(1, Ordering::SeqCst));
///         }
///     });
///     prop_assert_eq!(counter.load(Ordering::SeqCst), threads);
///     Ok(())
/// }).unwrap();
/// ```
pub fn thread_counts(max: usize) -> impl Strategy<Value = usize> {
    assert!(max >= 1, "`max` is `0`: a thread count is at least 1");
    prop_oneof![
        1 => Just(1),
        1 => Just(max),
        2 => 1..=max,
    ]
}

/// A delay before each of a set of concurrent operations, chosen to line them up (or not) so
/// that a race shows: `delays[i]` is how long operation `i` waits before it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaceTriggers {
    /// One delay per operation.
    pub delays: Vec<Duration>,
}

/// Delays for `operations` operations, each 0 to `max_delay` (microsecond steps); all-equal
/// delays (the tightest race) are drawn a quarter of the time.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use std::sync::Mutex;
/// use std::time::Duration;
///
/// let mut runner = TestRunner::new(ProptestConfig { cases: 4, failure_persistence: None, ..Default::default() });
/// runner.run(&selvedge::chaos::race_triggers(4, Duration::from_micros(500)), |triggers| {
///     let log = Mutex::new(Vec::new());
///     std::thread::scope(|s| {
///         for (op, delay) in triggers.delays.iter().enumerate() {
///             let log = &log;
///             s.spawn(move || {
///                 std::thread::sleep(*delay);
///                 log.lock().unwrap().push(op);
///             });
///         }
///     });
///     prop_assert_eq!(log.into_inner().unwrap().len(), 4);
///     Ok(())
/// }).unwrap();
/// ```
pub fn race_triggers(
    operations: usize,
    max_delay: Duration,
) -> impl Strategy<Value = RaceTriggers> {
    let max = max_delay.as_micros().min(u64::MAX as u128) as u64;
    prop_oneof![
        3 => vec(micros(max), operations..=operations),
        1 => micros(max).prop_map(move |d| vec![d; operations]),
    ]
    .prop_map(|delays| RaceTriggers { delays })
}

/// One event of an async pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsyncEvent {
    /// Sleep this long, then go on.
    Delay(Duration),
    /// Complete at once, without suspending.
    Immediate,
    /// Cancel the running task after this long.
    Cancel {
        /// How long after it started.
        after: Duration,
    },
    /// Wait with this timeout for something that may not come.
    Timeout(Duration),
}

/// Sequences of 1 to `max_events` async events: delays up to 1 s, immediate completions,
/// cancellations up to 500 ms in, and timeouts of 10 ms to 2 s.
///
/// [`AsyncSubject::run_events`](super::AsyncSubject::run_events) plays a pattern on selvedge's
/// async executor, on virtual time, with every interleaving of wake-ups explored.
///
/// ```
/// use std::sync::Arc;
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use selvedge::chaos::{async_event_patterns, AsyncSubject};
/// use selvedge::sync::atomic::{AtomicUsize, Ordering};
///
/// // Code under test: a connection count that a guard gives back, even when the task is
/// // cancelled or times out.
/// struct Open(Arc<AtomicUsize>);
/// impl Drop for Open {
///     fn drop(&mut self) { self.0.fetch_sub(1, Ordering::SeqCst); }
/// }
/// let subject = AsyncSubject::new(
///     || AtomicUsize::new(0),
///     |open: Arc<AtomicUsize>, _task, runs_for| async move {
///         open.fetch_add(1, Ordering::SeqCst);
///         let _open = Open(open);
///         selvedge::time::sleep(runs_for).await;
///     },
///     |open| assert_eq!(open.load(Ordering::SeqCst), 0, "a connection stayed open"),
/// );
/// let mut runner = TestRunner::new(ProptestConfig { cases: 8, failure_persistence: None, ..Default::default() });
/// runner.run(&async_event_patterns(3), |events| {
///     let verdict = subject.check_events(&events);
///     prop_assert!(verdict.is_proved(), "{verdict}");
///     Ok(())
/// }).unwrap();
/// ```
pub fn async_event_patterns(max_events: usize) -> impl Strategy<Value = Vec<AsyncEvent>> {
    assert!(
        max_events >= 1,
        "`max_events` is `0`: a pattern has at least one event"
    );
    let event = prop_oneof![
        micros(1_000_000).prop_map(AsyncEvent::Delay),
        Just(AsyncEvent::Immediate),
        micros(500_000).prop_map(|after| AsyncEvent::Cancel { after }),
        (10_000u64..=2_000_000).prop_map(|us| AsyncEvent::Timeout(Duration::from_micros(us))),
    ];
    vec(event, 1..=max_events)
}

/// What happens to one task of a cancellation pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskFate {
    /// It runs to completion, taking this long.
    Completes {
        /// How long it runs.
        after: Duration,
    },
    /// It is cancelled this long after it started.
    Cancelled {
        /// When the cancellation comes.
        after: Duration,
    },
}

/// One task of a cancellation pattern: its number and its fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskPlan {
    /// The task's number, `0..tasks`.
    pub task: usize,
    /// Whether it completes or is cancelled, and when.
    pub fate: TaskFate,
}

/// 1 to `max_tasks` tasks, each completing after 100 ms to 2 s or cancelled after 0 to 1 s.
///
/// [`AsyncSubject::run_cancellations`](super::AsyncSubject::run_cancellations) plays a pattern
/// on selvedge's async executor, where an abort can land at any await point.
///
/// ```
/// use std::sync::Arc;
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use selvedge::chaos::{task_cancellations, AsyncSubject};
/// use selvedge::sync::atomic::{AtomicUsize, Ordering};
///
/// // Code under test: work that counts itself in and out with a guard, so a cancelled task
/// // is counted out too.
/// struct Counted(Arc<AtomicUsize>);
/// impl Drop for Counted {
///     fn drop(&mut self) { self.0.fetch_sub(1, Ordering::SeqCst); }
/// }
/// let subject = AsyncSubject::new(
///     || AtomicUsize::new(0),
///     |running: Arc<AtomicUsize>, _task, runs_for| async move {
///         running.fetch_add(1, Ordering::SeqCst);
///         let _counted = Counted(running);
///         selvedge::time::sleep(runs_for).await;
///     },
///     |running| assert_eq!(running.load(Ordering::SeqCst), 0, "a task was never counted out"),
/// );
/// let mut runner = TestRunner::new(ProptestConfig { cases: 8, failure_persistence: None, ..Default::default() });
/// runner.run(&task_cancellations(3), |plans| {
///     let verdict = subject.check_cancellations(&plans);
///     prop_assert!(verdict.is_proved(), "{verdict}");
///     Ok(())
/// }).unwrap();
/// ```
pub fn task_cancellations(max_tasks: usize) -> impl Strategy<Value = Vec<TaskPlan>> {
    assert!(
        max_tasks >= 1,
        "`max_tasks` is `0`: a pattern has at least one task"
    );
    let fate = prop_oneof![
        (100_000u64..=2_000_000).prop_map(|us| TaskFate::Completes {
            after: Duration::from_micros(us)
        }),
        micros(1_000_000).prop_map(|after| TaskFate::Cancelled { after }),
    ];
    vec(fate, 1..=max_tasks).prop_map(|fates| {
        fates
            .into_iter()
            .enumerate()
            .map(|(task, fate)| TaskPlan { task, fate })
            .collect()
    })
}

/// How the durations of a pool's tasks are spread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationShape {
    /// All tasks take about the same time.
    Uniform,
    /// Fast and slow tasks mixed.
    Mixed,
    /// Mostly fast tasks, a few far slower.
    Bursty,
}

/// A worker pool's workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolPattern {
    /// Worker threads.
    pub workers: usize,
    /// How the task durations are spread.
    pub shape: DurationShape,
    /// Each task's duration, in submission order.
    pub tasks: Vec<Duration>,
    /// Tasks a worker runs before it is replaced, if the pool recycles workers.
    pub max_tasks_per_worker: Option<usize>,
    /// How long the caller waits for all results, if it gives up at some point.
    pub timeout: Option<Duration>,
}

/// Pools of 1 to `max_workers` workers and 1 to `max_tasks` tasks whose durations follow a
/// `DurationShape`: uniform (1 ms ± 10%), mixed (10 µs to 10 ms), bursty (10 µs, with one task
/// in ten taking 50 ms).
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use selvedge::chaos::pool_patterns;
///
/// let mut runner = TestRunner::new(ProptestConfig { cases: 8, failure_persistence: None, ..Default::default() });
/// runner.run(&pool_patterns(4, 20), |pool| {
///     // Each worker takes the next task; every task runs exactly once.
///     let next = std::sync::atomic::AtomicUsize::new(0);
///     let ran = std::sync::atomic::AtomicUsize::new(0);
///     std::thread::scope(|s| {
///         for _ in 0..pool.workers {
///             s.spawn(|| while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < pool.tasks.len() {
///                 ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
///             });
///         }
///     });
///     prop_assert_eq!(ran.into_inner(), pool.tasks.len());
///     Ok(())
/// }).unwrap();
/// ```
pub fn pool_patterns(max_workers: usize, max_tasks: usize) -> impl Strategy<Value = PoolPattern> {
    assert!(
        max_workers >= 1,
        "`max_workers` is `0`: a pool has a worker at least"
    );
    assert!(
        max_tasks >= 1,
        "`max_tasks` is `0`: a pool gets a task at least"
    );
    let shape = prop_oneof![
        Just(DurationShape::Uniform),
        Just(DurationShape::Mixed),
        Just(DurationShape::Bursty),
    ];
    (
        1..=max_workers,
        shape,
        1..=max_tasks,
        proptest::option::of(1..=50usize),
        proptest::option::of((1_000u64..=30_000).prop_map(Duration::from_millis)),
    )
        .prop_flat_map(|(workers, shape, n_tasks, max_tasks_per_worker, timeout)| {
            let duration = match shape {
                DurationShape::Uniform => (900u64..=1_100).prop_map(Duration::from_micros).boxed(),
                DurationShape::Mixed => (10u64..=10_000).prop_map(Duration::from_micros).boxed(),
                DurationShape::Bursty => prop_oneof![
                    9 => Just(Duration::from_micros(10)),
                    1 => Just(Duration::from_millis(50)),
                ]
                .boxed(),
            };
            vec(duration, n_tasks..=n_tasks).prop_map(move |tasks| PoolPattern {
                workers,
                shape,
                tasks,
                max_tasks_per_worker,
                timeout,
            })
        })
}

/// A process id seen twice: was it the same process, or a new one that got a recycled id?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PidRecycling {
    /// The process id both observations share.
    pub pid: u32,
    /// When the first process started, since the Unix epoch.
    pub first_start: Duration,
    /// When the process seen the second time started, since the Unix epoch (never earlier).
    pub second_start: Duration,
    /// How far apart two start times may be and still mean the same process (clock
    /// granularity, rounding).
    pub tolerance: Duration,
}

impl PidRecycling {
    /// Whether the second process is a different one: its start time is further from the
    /// first's than the tolerance allows.
    pub fn is_recycled(&self) -> bool {
        self.second_start - self.first_start > self.tolerance
    }
}

/// Pairs of observations of one pid: start times in 2001–2033, the second 0 to one hour after
/// the first (0 and exactly the tolerance are drawn often: the boundary cases), and a
/// tolerance of 0 to 2 s.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
///
/// // Code under test: a process handle that must not signal a recycled pid.
/// fn still_same_process(pid: u32, start: std::time::Duration, seen_pid: u32, seen_start: std::time::Duration, tolerance: std::time::Duration) -> bool {
///     pid == seen_pid && seen_start.abs_diff(start) <= tolerance
/// }
///
/// let mut runner = TestRunner::new(ProptestConfig { cases: 64, failure_persistence: None, ..Default::default() });
/// runner.run(&selvedge::chaos::pid_recycling(), |seen| {
///     let same = still_same_process(seen.pid, seen.first_start, seen.pid, seen.second_start, seen.tolerance);
///     prop_assert_eq!(same, !seen.is_recycled());
///     Ok(())
/// }).unwrap();
/// ```
pub fn pid_recycling() -> impl Strategy<Value = PidRecycling> {
    let gap = prop_oneof![
        1 => Just(None),        // the same start time
        1 => Just(Some(0u64)),  // exactly the tolerance apart
        3 => (0u64..=3_600_000_000).prop_map(Some),
    ];
    (
        1u32..=4_194_304,
        1_000_000_000u64..=2_000_000_000,
        0u64..=2_000_000,
        gap,
    )
        .prop_map(|(pid, first_secs, tolerance_us, gap_us)| {
            let first_start = Duration::from_secs(first_secs);
            let tolerance = Duration::from_micros(tolerance_us);
            let gap = match gap_us {
                None => Duration::ZERO,
                Some(0) => tolerance,
                Some(us) => Duration::from_micros(us),
            };
            PidRecycling {
                pid,
                first_start,
                second_start: first_start + gap,
                tolerance,
            }
        })
}
