//! The explorer: runs executions until the strategy is done or a budget is reached, and
//! turns the first failure into a `Failure`.
//!
//! Every exploration runs on a fresh worker OS thread. That keeps the caller's thread clean
//! and lets a task that had to be abandoned mid-panic (which leaves the OS thread's panic
//! bookkeeping unusable) take only a throwaway thread with it.
//!
//! Invariant: `explore` follows its `Config` alone: no environment, no files.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::report::{Failure, FailureKind, Provenance, RawFailure, Report};
use crate::runtime::execution::{self, ExecutionLimits, Outcome, TestBody};
use crate::runtime::task::TaskSettings;
use crate::schedule::{fingerprint, Schedule};
use crate::strategy::{self, Coverage};
use crate::{Config, Strategy};

pub(crate) fn explore_body(config: Config, body: TestBody, test_name: Option<String>) -> Report {
    let worker = std::thread::Builder::new()
        .name(
            test_name
                .clone()
                .unwrap_or_else(|| "selvedge-explorer".to_string()),
        )
        .spawn(move || run(config, body, test_name))
        .expect("selvedge could not start its explorer thread");
    match worker.join() {
        Ok(report) => report,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Everything the explorer needs while running executions, shared by parallel subtrees.
pub(crate) struct Context<'a> {
    pub(crate) config: &'a Config,
    pub(crate) limits: ExecutionLimits,
    pub(crate) body: &'a TestBody,
    pub(crate) test_name: Option<String>,
    pub(crate) started: Instant,
    pub(crate) replayed: Option<Schedule>,
    /// Executions started so far by every subtree, checked against `max_schedules`.
    pub(crate) executions: AtomicU64,
    /// Set when no further execution may start: an OS thread's panic state is ruined, or the
    /// time budget is spent.
    pub(crate) cancelled: AtomicBool,
}

/// What a run of executions produced, in exploration order; subtrees explored in parallel
/// are appended in the order a single worker would have run them.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) schedules: u64,
    pub(crate) redundant: u64,
    /// A hash of each execution's choices, in order (the report's digest folds them).
    pub(crate) hashes: Vec<u64>,
    pub(crate) explored: Vec<String>,
    /// The first failure; its schedule number counts from this tally's first execution.
    pub(crate) failure: Option<Failure>,
    pub(crate) out_of_time: bool,
    pub(crate) out_of_schedules: bool,
}

impl Tally {
    /// Appends `later`, which ran after everything in `self`. Nothing after a failure counts.
    pub(crate) fn append(&mut self, later: Tally) {
        if self.failure.is_some() {
            return;
        }
        let offset = self.schedules;
        self.schedules += later.schedules;
        self.redundant += later.redundant;
        self.hashes.extend(later.hashes);
        self.explored.extend(later.explored);
        self.out_of_time |= later.out_of_time;
        self.out_of_schedules |= later.out_of_schedules;
        self.failure = later.failure.map(|mut f| {
            f.set_schedule_number(f.schedule_number() + offset);
            f
        });
    }

    pub(crate) fn finished(&self) -> bool {
        self.failure.is_some() || self.out_of_time || self.out_of_schedules
    }
}

fn run(config: Config, body: TestBody, test_name: Option<String>) -> Report {
    let mut report = Report {
        schedules: 0,
        coverage: Coverage::Sampled,
        failure: None,
        error: None,
        budget_note: None,
        digest: 0,
        explored: Vec::new(),
        redundant: 0,
    };
    if let Err(e) = config.validate() {
        report.error = Some(e);
        return report;
    }
    let mut replayed: Option<Schedule> = None;
    let n = config.schedules();
    let parallel = config.strategy == Strategy::Dpor
        && config.max_preemptions.is_none()
        && config.workers() > 1;
    let mut strategy: Box<dyn strategy::Strategy> = match &config.strategy {
        Strategy::Dpor | Strategy::Dfs => match config.max_preemptions {
            Some(bound) => Box::new(strategy::Deepening::new(n, bound)),
            None if config.strategy == Strategy::Dpor => Box::new(strategy::Dpor::new(n)),
            None => Box::new(strategy::Dfs::new(n, None)),
        },
        Strategy::Random => Box::new(strategy::Random::new(config.seed, n)),
        Strategy::Pct { depth } => Box::new(strategy::Pct::new(config.seed, n, *depth)),
        Strategy::Pos => Box::new(strategy::Pos::new(config.seed, n)),
        Strategy::Replay(text) => match Schedule::parse(text) {
            Ok(schedule) => {
                let s = strategy::Replay::new(schedule.choices.clone());
                replayed = Some(schedule);
                Box::new(s)
            }
            Err(e) => {
                report.error = Some(e);
                return report;
            }
        },
    };
    let context = Context {
        config: &config,
        limits: ExecutionLimits {
            max_steps: config.max_steps,
            tasks: TaskSettings {
                stack_bytes: config.stack_size,
                max_tasks: config.max_tasks,
            },
        },
        body: &body,
        test_name,
        started: Instant::now(),
        replayed,
        executions: AtomicU64::new(0),
        cancelled: AtomicBool::new(false),
    };
    let (mut tally, coverage) = if parallel {
        crate::parallel::explore(&context, config.workers())
    } else {
        let tally = run_strategy(strategy.as_mut(), &context);
        let coverage = strategy.coverage();
        (tally, coverage)
    };
    report.schedules = tally.schedules;
    report.redundant = tally.redundant;
    report.digest = tally.hashes.iter().fold(0xcbf2_9ce4_8422_2325u64, |d, h| {
        (d ^ h).wrapping_mul(0x0100_0000_01b3)
    });
    report.explored = std::mem::take(&mut tally.explored);
    report.coverage = if tally.failure.is_some() {
        Coverage::Sampled
    } else {
        coverage
    };
    if tally.out_of_time {
        report.budget_note = Some(format!(
            "stopped after {} schedules: `Config::time_budget` of {:?} reached",
            report.schedules,
            config.time_budget.unwrap_or_default()
        ));
    } else if tally.failure.is_none()
        && config.strategy.is_exhaustive()
        && report.coverage != Coverage::Complete
        && (tally.out_of_schedules || report.schedules >= n as u64)
    {
        report.budget_note = Some(format!(
            "stopped after {} schedules: `Config::max_schedules` reached before the space was exhausted",
            report.schedules
        ));
    }
    report.failure = tally.failure;
    // A thread whose panic bookkeeping is ruined must run nothing more.
    let thread_usable = !context.cancelled.load(Ordering::Relaxed) || tally.out_of_time;
    if config.minimise && thread_usable && !matches!(config.strategy, Strategy::Replay(_)) {
        if let Some(failure) = report.failure.as_mut() {
            minimise(failure, &context);
        }
    }
    report
}

/// Searches for the same failure with fewer preemptions, bound by bound (0 first), within
/// `MINIMISE_MAX_SCHEDULES` executions; keeps the original if none is found.
fn minimise(failure: &mut Failure, context: &Context<'_>) {
    if failure.preemptions() == 0 || failure.kind() == FailureKind::Nondeterminism {
        return;
    }
    let config = Config {
        strategy: Strategy::Dfs,
        max_schedules: Some(crate::limits::MINIMISE_MAX_SCHEDULES),
        max_preemptions: Some(failure.preemptions() - 1),
        keep_schedules: false,
        time_budget: None,
        ..context.config.clone()
    };
    let search = Context {
        config: &config,
        limits: context.limits,
        body: context.body,
        test_name: context.test_name.clone(),
        started: Instant::now(),
        replayed: None,
        executions: AtomicU64::new(0),
        cancelled: AtomicBool::new(false),
    };
    let mut strategy = strategy::Deepening::new(
        crate::limits::MINIMISE_MAX_SCHEDULES,
        failure.preemptions() - 1,
    );
    // Another bug may turn up first; the search goes on past it.
    while let Some(found) = run_strategy(&mut strategy, &search).failure {
        if found.same_bug(failure) && found.preemptions() < failure.preemptions() {
            failure.minimise_to(found);
            return;
        }
        if search.cancelled.load(Ordering::Relaxed) {
            return;
        }
    }
}

/// How many executions `run_strategy` counts locally before adding them to the shared count.
const EXECUTION_BATCH: u64 = 32;

/// Runs executions until `strategy` is done, a failure is found or a budget is spent.
pub(crate) fn run_strategy(strategy: &mut dyn strategy::Strategy, context: &Context<'_>) -> Tally {
    let config = context.config;
    let cap = config.schedules() as u64;
    // Far from the cap, executions are added to the shared count in batches, so parallel
    // workers do not contend for its cache line every execution; within `slack` of the cap
    // they are added one by one, which keeps the cap exact: the other workers together hold
    // back fewer than `slack` executions.
    let slack = (config.workers() as u64).saturating_mul(EXECUTION_BATCH);
    let mut held_back = 0u64;
    // Each execution clones the body's `Arc` for its main task. A wrapper private to this
    // thread keeps that reference count off the cache line shared with other workers.
    let shared_body = context.body.clone();
    let body: execution::TestBody = Arc::new(move || shared_body());
    let mut tally = Tally::default();
    loop {
        if context.cancelled.load(Ordering::Relaxed) {
            tally.out_of_time = true;
            break;
        }
        if let Some(budget) = config.time_budget {
            if context.started.elapsed() >= budget {
                context.cancelled.store(true, Ordering::Relaxed);
                tally.out_of_time = true;
                break;
            }
        }
        let counted = context.executions.load(Ordering::Relaxed) + held_back;
        if counted >= cap {
            tally.out_of_schedules = true;
            break;
        }
        if !strategy.next_execution() {
            break;
        }
        if cap - counted > slack {
            held_back += 1;
            if held_back == EXECUTION_BATCH {
                context.executions.fetch_add(held_back, Ordering::Relaxed);
                held_back = 0;
            }
        } else {
            context.executions.fetch_add(1, Ordering::Relaxed);
        }
        tally.schedules += 1;
        let mut outcome = execution::run(strategy, context.limits, &body);
        tally.redundant += u64::from(outcome.redundant);
        let hash = outcome
            .choices
            .iter()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, t| {
                (h ^ t.0 as u64).wrapping_mul(0x0100_0000_01b3)
            });
        tally.hashes.push(hash);
        if config.keep_schedules {
            tally.explored.push(
                Schedule {
                    fingerprint: fingerprint(&outcome.state.trace),
                    choices: outcome.choices.clone(),
                }
                .encode(),
            );
        }
        if outcome.state.thread_poisoned {
            // This OS thread must run nothing more (see the module docs).
            context.cancelled.store(true, Ordering::Relaxed);
        }
        let mut raw = outcome.state.failure.take();
        if raw.is_none() {
            if let Some(expected) = &context.replayed {
                raw = replay_divergence(expected, &outcome);
            }
        }
        if let Some(raw) = raw {
            let provenance = Provenance {
                strategy: config.strategy.describe(),
                seed: config.seed,
                schedule_number: tally.schedules,
                test_name: context.test_name.clone(),
            };
            tally.failure = Some(Failure::from_outcome(raw, &outcome, provenance));
            break;
        }
        outcome.state.recycle();
    }
    context.executions.fetch_add(held_back, Ordering::Relaxed);
    tally
}

/// A replay that ran to the end without failing still diverged if it took fewer steps than
/// recorded or performed different operations.
fn replay_divergence(expected: &Schedule, outcome: &Outcome) -> Option<RawFailure> {
    let what = if outcome.choices.len() != expected.choices.len() {
        format!(
            "the schedule has {} steps but the execution finished after {}",
            expected.choices.len(),
            outcome.choices.len()
        )
    } else if fingerprint(&outcome.state.trace) != expected.fingerprint {
        "the same tasks ran in the same order but performed different operations".to_string()
    } else {
        return None;
    };
    Some(RawFailure {
        kind: FailureKind::Nondeterminism,
        message: format!(
            "the replayed schedule no longer matches the code: {what}. The code changed since the \
             schedule was recorded (or is not deterministic); run the test without `SELVEDGE_REPLAY` \
             to search for the failure again"
        ),
        task: None,
        blocked: Vec::new(),
        evidence: crate::report::Evidence::None,
    })
}

/// The test body as the explorer stores it.
pub(crate) fn body<F: Fn() + Send + Sync + 'static>(f: F) -> TestBody {
    Arc::new(f)
}
