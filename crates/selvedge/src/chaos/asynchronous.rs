//! Async event and cancellation patterns played on selvedge's async executor: each event or
//! task plan becomes a spawned task running the code under test (an `AsyncSubject`), started
//! late, aborted, or put under a timeout as the pattern says, on virtual time; then the
//! subject's own check runs. Every interleaving of wake-ups, deadlines and aborts is explored.
//!
//! Invariant: the runner uses only selvedge's public API (`explore`, `future`, `time`); a task
//! that nothing cancels and that ends cancelled, or panics, fails the execution.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::concurrency::{AsyncEvent, TaskFate, TaskPlan};
use super::verdict::Verdict;
use crate::{explore, future, time, Config, Report, Strategy as ModelStrategy};

/// Executions the async runners' `check_*` forms allow themselves (DPOR).
pub const ASYNC_MAX_SCHEDULES: usize = 20_000;

type Work<S> = dyn Fn(Arc<S>, usize, Duration) -> Pin<Box<dyn Future<Output = ()>>> + Send + Sync;

/// The async code under test, as three closures: `setup` makes fresh state for an execution,
/// `work(state, task, runs_for)` is one task's future (it should take about `runs_for` of
/// virtual time, e.g. with `selvedge::time::sleep`), and `check(state)` runs once every task
/// has completed, been cancelled or timed out, and panics if the state is wrong.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use selvedge::chaos::{AsyncSubject, TaskFate, TaskPlan};
/// use selvedge::sync::atomic::{AtomicUsize, Ordering};
///
/// // Code under test: takes a permit, works, gives it back -- but only if not cancelled.
/// let leaky = AsyncSubject::new(
///     || AtomicUsize::new(0),
///     |permits: Arc<AtomicUsize>, _task, runs_for| async move {
///         permits.fetch_add(1, Ordering::SeqCst);
///         selvedge::time::sleep(runs_for).await;
///         permits.fetch_sub(1, Ordering::SeqCst); // skipped when the task is dropped here
///     },
///     |permits| assert_eq!(permits.load(Ordering::SeqCst), 0, "a permit leaked"),
/// );
/// let plans = [TaskPlan { task: 0, fate: TaskFate::Cancelled { after: Duration::from_millis(5) } }];
/// let verdict = leaky.check_cancellations(&plans);
/// assert!(verdict.failure().unwrap().message().contains("a permit leaked"));
/// ```
pub struct AsyncSubject<S> {
    setup: Arc<dyn Fn() -> S + Send + Sync>,
    work: Arc<Work<S>>,
    check: Arc<dyn Fn(&S) + Send + Sync>,
}

/// How the runner plays one task.
#[derive(Clone, Copy, Debug)]
struct Play {
    start_after: Duration,
    runs_for: Duration,
    abort_after: Option<Duration>,
    timeout: Option<Duration>,
}

/// Long enough that a cancellation or timeout `after` in lands while the work still runs.
fn outlasting(after: Duration) -> Duration {
    after * 2 + Duration::from_millis(1)
}

impl<S: Send + Sync + 'static> AsyncSubject<S> {
    /// The subject from its three closures (see the type's documentation).
    pub fn new<Setup, W, Fut, Check>(setup: Setup, work: W, check: Check) -> AsyncSubject<S>
    where
        Setup: Fn() -> S + Send + Sync + 'static,
        W: Fn(Arc<S>, usize, Duration) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
        Check: Fn(&S) + Send + Sync + 'static,
    {
        AsyncSubject {
            setup: Arc::new(setup),
            work: Arc::new(move |state, task, runs_for| Box::pin(work(state, task, runs_for))),
            check: Arc::new(check),
        }
    }

    /// Plays an async event pattern, one task per event, all spawned at once:
    /// `Delay(d)` starts its work after `d`; `Immediate` starts at once with no work time;
    /// `Cancel { after }` starts at once and is aborted `after` in, while its work still runs;
    /// `Timeout(t)` runs work that outlasts `t` under a timeout of `t`, so the work is dropped
    /// where it waits when the timeout fires.
    pub fn run_events(&self, events: &[AsyncEvent], config: Config) -> Report {
        let plays = events
            .iter()
            .map(|event| match *event {
                AsyncEvent::Delay(d) => Play {
                    start_after: d,
                    runs_for: Duration::ZERO,
                    abort_after: None,
                    timeout: None,
                },
                AsyncEvent::Immediate => Play {
                    start_after: Duration::ZERO,
                    runs_for: Duration::ZERO,
                    abort_after: None,
                    timeout: None,
                },
                AsyncEvent::Cancel { after } => Play {
                    start_after: Duration::ZERO,
                    runs_for: outlasting(after),
                    abort_after: Some(after),
                    timeout: None,
                },
                AsyncEvent::Timeout(t) => Play {
                    start_after: Duration::ZERO,
                    runs_for: outlasting(t),
                    abort_after: None,
                    timeout: Some(t),
                },
            })
            .collect();
        self.play(plays, config)
    }

    /// Plays a cancellation pattern, one task per plan, all spawned at once: a task that
    /// `Completes { after }` works for `after` and must complete; one `Cancelled { after }` is
    /// aborted `after` in, while its work still runs.
    pub fn run_cancellations(&self, plans: &[TaskPlan], config: Config) -> Report {
        let plays = plans
            .iter()
            .map(|plan| match plan.fate {
                TaskFate::Completes { after } => Play {
                    start_after: Duration::ZERO,
                    runs_for: after,
                    abort_after: None,
                    timeout: None,
                },
                TaskFate::Cancelled { after } => Play {
                    start_after: Duration::ZERO,
                    runs_for: outlasting(after),
                    abort_after: Some(after),
                    timeout: None,
                },
            })
            .collect();
        self.play(plays, config)
    }

    /// `run_events` exhaustively (DPOR, one worker, at most `ASYNC_MAX_SCHEDULES` executions,
    /// no minimising: made for property loops), concluded.
    pub fn check_events(&self, events: &[AsyncEvent]) -> Verdict {
        Verdict::from_report(&self.run_events(events, Self::loop_config()))
    }

    /// `run_cancellations` exhaustively, as `check_events` runs, concluded.
    pub fn check_cancellations(&self, plans: &[TaskPlan]) -> Verdict {
        Verdict::from_report(&self.run_cancellations(plans, Self::loop_config()))
    }

    fn loop_config() -> Config {
        Config {
            strategy: ModelStrategy::Dpor,
            max_schedules: Some(ASYNC_MAX_SCHEDULES),
            workers: Some(1),
            minimise: false,
            ..Default::default()
        }
    }

    fn play(&self, plays: Vec<Play>, config: Config) -> Report {
        let (setup, work, check) = (
            Arc::clone(&self.setup),
            Arc::clone(&self.work),
            Arc::clone(&self.check),
        );
        let plays: Arc<Vec<Play>> = Arc::new(plays);
        explore(config, move || {
            let state = Arc::new(setup());
            let plays = Arc::clone(&plays);
            let work = Arc::clone(&work);
            let shared = Arc::clone(&state);
            future::block_on(async move {
                let mut tasks = Vec::with_capacity(plays.len());
                let mut cancellers = Vec::new();
                for (task, play) in plays.iter().copied().enumerate() {
                    let job = work(Arc::clone(&shared), task, play.runs_for);
                    let handle = future::spawn(async move {
                        if !play.start_after.is_zero() {
                            time::sleep(play.start_after).await;
                        }
                        match play.timeout {
                            // Timing out drops the work where it waits: also a cancellation.
                            Some(limit) => {
                                let _ = time::timeout(limit, job).await;
                            }
                            None => job.await,
                        }
                    });
                    if let Some(after) = play.abort_after {
                        let abort = handle.abort_handle();
                        cancellers.push(future::spawn(async move {
                            time::sleep(after).await;
                            abort.abort();
                        }));
                    }
                    tasks.push((task, play, handle));
                }
                for (task, play, handle) in tasks {
                    if let Err(error) = handle.await {
                        assert!(
                            error.is_cancelled() && play.abort_after.is_some(),
                            "task {task} ended with `{error}`, though nothing cancels it"
                        );
                    }
                }
                for canceller in cancellers {
                    canceller.await.expect("a canceller finishes");
                }
            });
            check(&state);
        })
    }
}
