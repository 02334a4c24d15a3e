//! The explorer: runs executions until the strategy is done or a budget is reached, and
//! turns the first failure into a `Failure`.
//!
//! Every exploration runs on a fresh worker OS thread. That keeps the caller's thread clean
//! and lets a task that had to be abandoned mid-panic (which leaves the OS thread's panic
//! bookkeeping unusable) take only a throwaway thread with it.
//!
//! Invariant: `explore` follows its `Config` alone: no environment, no files.

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

fn run(config: Config, body: TestBody, test_name: Option<String>) -> Report {
    let mut report = Report {
        schedules: 0,
        coverage: Coverage::Sampled,
        failure: None,
        error: None,
        budget_note: None,
        digest: 0xcbf2_9ce4_8422_2325,
        explored: Vec::new(),
        redundant: 0,
    };
    if let Err(e) = config.validate() {
        report.error = Some(e);
        return report;
    }
    let mut replayed: Option<Schedule> = None;
    let n = config.schedules();
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
    let limits = ExecutionLimits {
        max_steps: config.max_steps,
        tasks: TaskSettings {
            stack_bytes: config.stack_size,
            max_tasks: config.max_tasks,
        },
    };
    let started = Instant::now();
    let mut stopped_early = false;
    while strategy.next_execution() {
        if let Some(budget) = config.time_budget {
            if started.elapsed() >= budget {
                report.budget_note = Some(format!(
                    "stopped after {} schedules: `Config::time_budget` of {budget:?} reached",
                    report.schedules
                ));
                stopped_early = true;
                break;
            }
        }
        report.schedules += 1;
        let mut outcome = execution::run(strategy.as_mut(), limits, &body);
        report.redundant += u64::from(outcome.redundant);
        for task in &outcome.choices {
            report.digest = (report.digest ^ task.0 as u64).wrapping_mul(0x0100_0000_01b3);
        }
        report.digest = (report.digest ^ 0xff).wrapping_mul(0x0100_0000_01b3);
        if config.keep_schedules {
            report.explored.push(
                Schedule {
                    fingerprint: fingerprint(&outcome.state.trace),
                    choices: outcome.choices.clone(),
                }
                .encode(),
            );
        }
        let mut raw = outcome.state.failure.take();
        if raw.is_none() {
            if let Some(expected) = &replayed {
                raw = replay_divergence(expected, &outcome);
            }
        }
        if let Some(raw) = raw {
            let provenance = Provenance {
                strategy: config.strategy.describe(),
                seed: config.seed,
                schedule_number: report.schedules,
                test_name: test_name.clone(),
            };
            report.failure = Some(Failure::from_outcome(raw, &outcome, provenance));
            stopped_early = true;
            break;
        }
    }
    report.coverage = if report.failure.is_some() {
        Coverage::Sampled
    } else {
        strategy.coverage()
    };
    if !stopped_early
        && config.strategy.is_exhaustive()
        && report.coverage != Coverage::Complete
        && report.schedules >= n as u64
    {
        report.budget_note = Some(format!(
            "stopped after {} schedules: `Config::max_schedules` reached before the space was exhausted",
            report.schedules
        ));
    }
    report
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
    })
}

/// The test body as the explorer stores it.
pub(crate) fn body<F: Fn() + Send + Sync + 'static>(f: F) -> TestBody {
    Arc::new(f)
}
