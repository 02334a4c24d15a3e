//! The explorer: runs executions until the strategy is done or a budget is reached, and
//! turns the first failure into a `Failure`.
//!
//! Every exploration runs on a fresh worker OS thread. That keeps the caller's thread clean
//! and lets a task that had to be abandoned mid-panic (which leaves the OS thread's panic
//! bookkeeping unusable) take only a throwaway thread with it.
//!
//! Invariant: `explore` follows its `Config` alone: no environment, no files.

mod parallel;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::driver::{DriverKind, Drivers};
use crate::report::{plural, Failure, Provenance, Report};
use crate::schedule::{fingerprint, Schedule};
use crate::strategy::{self, Coverage};
use crate::trace::{Evidence, Execution, FailureKind, RawFailure};
use crate::{Config, Error, Strategy};

/// How a failure's replay string is handed back to selvedge: through `SELVEDGE_REPLAY` (the
/// test-facing entry points read it) or through `Config::strategy` (`explore` reads nothing
/// else). The entry point says which; the report shows the matching command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplayBy {
    Environment,
    Config,
}

/// Explores as `config` says, on a fresh OS thread, running executions through `drivers`.
pub(crate) fn explore_with(
    config: Config,
    drivers: Box<dyn Drivers>,
    test_name: Option<String>,
    replay_by: ReplayBy,
) -> Report {
    let describe = config.strategy.describe();
    // Syncpoints look past their first relaxed load only while some exploration runs.
    let _active = crate::syncpoint::Active::enter();
    let worker = std::thread::Builder::new()
        .name(
            test_name
                .clone()
                .unwrap_or_else(|| "selvedge-explorer".to_string()),
        )
        .spawn(move || run(config, drivers.as_ref(), test_name, replay_by))
        .expect("selvedge could not start its explorer thread");
    match worker.join() {
        Ok(report) => report,
        // An engine bug outside any execution (the explorer, parallel merging): report it
        // instead of unwinding into the caller.
        Err(payload) => {
            let mut report = Report::empty();
            report.error = Some(Error::internal(format!(
                "selvedge hit an internal error (a bug in selvedge, not in the code under test) \
                 while exploring with strategy {describe}: {}; please report it with this message",
                crate::trace::panic_message(payload.as_ref())
            )));
            report
        }
    }
}

/// Why an exploration, or one run of executions within it, stopped. Exactly one reason holds
/// for a whole exploration, and no reason is ever reported as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The strategy ran everything it meant to.
    Done,
    /// A failure was found.
    Failure,
    /// `Config::max_schedules` executions ran before the strategy was done.
    ScheduleBudget,
    /// `Config::time_budget` was spent before the strategy was done.
    TimeBudget,
    /// A task was abandoned mid-panic, which ruins its OS thread's panic state; that task's
    /// failure is the report's, and no worker starts another execution.
    ThreadRuined,
    /// The engine failed (a bug in selvedge); the report's error says how.
    Internal,
}

impl Stop {
    const ALL: [Stop; 6] = [
        Stop::Done,
        Stop::Failure,
        Stop::ScheduleBudget,
        Stop::TimeBudget,
        Stop::ThreadRuined,
        Stop::Internal,
    ];

    fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(code: u8) -> Option<Stop> {
        Stop::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }
}

/// Everything the explorer needs while running executions, shared by parallel subtrees.
pub(crate) struct Context<'a> {
    pub(crate) config: &'a Config,
    /// Whatever runs the executions: the explorer reaches an execution through it alone.
    pub(crate) drivers: &'a dyn Drivers,
    pub(crate) test_name: Option<String>,
    replay_by: ReplayBy,
    pub(crate) started: Instant,
    pub(crate) replayed: Option<Schedule>,
    /// `Config::schedules()`: executions that may start, in all.
    cap: u64,
    /// Within this many executions of the cap, rights are reserved one at a time. Computed
    /// once: `Config::workers` may ask the OS for the number of cores, far too slow per block.
    slack: u64,
    /// Executions started or reserved by every run of executions; never above `cap`, and
    /// exactly the executions started once every run has returned its unused reservations.
    executions: AtomicU64,
    /// Rights reserved and not used yet, over every run (while a run takes a block, a little
    /// more: never less than the truth).
    held: AtomicU64,
    /// Set when a run was refused while rights were held elsewhere: holders give theirs back
    /// at their next reservation, and everyone takes one at a time from then on.
    draining: AtomicBool,
    /// The reason every run must stop now (`Stop::code`), or 0: the time budget is spent, a
    /// thread is ruined, or the engine failed.
    halt: AtomicU8,
    /// The first failure any run found, so a failure found in a part of a parallel
    /// exploration that a halt cut off from the merged result is still reported.
    failure_found: Mutex<Option<Failure>>,
    /// An engine failure inside an execution, with the schedule that reproduces it.
    internal: Mutex<Option<Error>>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(
        config: &'a Config,
        drivers: &'a dyn Drivers,
        test_name: Option<String>,
        replay_by: ReplayBy,
        replayed: Option<Schedule>,
    ) -> Context<'a> {
        Context {
            config,
            drivers,
            test_name,
            replay_by,
            started: Instant::now(),
            replayed,
            cap: config.schedules() as u64,
            slack: (config.workers() as u64).saturating_mul(crate::limits::EXECUTION_BATCH),
            executions: AtomicU64::new(0),
            held: AtomicU64::new(0),
            draining: AtomicBool::new(false),
            halt: AtomicU8::new(0),
            failure_found: Mutex::new(None),
            internal: Mutex::new(None),
        }
    }

    /// Tells every run to stop for `reason`; the first reason given wins.
    pub(crate) fn halt(&self, reason: Stop) {
        let _ = self
            .halt
            .compare_exchange(0, reason.code(), Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The engine error an execution hit, if any (taken: asked once).
    pub(crate) fn internal_error(&self) -> Option<Error> {
        lock(&self.internal).take()
    }

    pub(crate) fn halted(&self) -> Option<Stop> {
        Stop::from_code(self.halt.load(Ordering::Relaxed))
    }

    /// May this OS thread (and this exploration) still run executions? Not once a thread was
    /// ruined, nor after an engine failure.
    pub(crate) fn threads_usable(&self) -> bool {
        !matches!(self.halted(), Some(Stop::ThreadRuined | Stop::Internal))
    }

    /// Executions started in all, once every run has returned.
    pub(crate) fn executions_started(&self) -> u64 {
        self.executions.load(Ordering::Relaxed)
    }

    /// Takes the right to start one more execution within `max_schedules`. Far from the cap
    /// the right is taken in blocks (`held` keeps the rest), so parallel workers do not contend
    /// for the counter's cache line every execution; within `slack` of the cap, one at a time.
    /// Either way the count never passes the cap. A run refused while rights are still held
    /// elsewhere does not stop: it asks the holders to give them back (`draining`) and tries
    /// again, so a budget is reached only when that many executions really started.
    fn reserve(&self, held: &mut u64) -> bool {
        if *held > 0 {
            if !self.draining.load(Ordering::Relaxed) {
                *held -= 1;
                self.held.fetch_sub(1, Ordering::Relaxed);
                return true;
            }
            self.give_back(std::mem::take(held));
        }
        let (cap, slack) = (self.cap, self.slack);
        loop {
            let draining = self.draining.load(Ordering::Relaxed);
            let block = |count: u64| {
                if draining || cap - count <= slack {
                    1
                } else {
                    crate::limits::EXECUTION_BATCH
                }
            };
            // Counted as held before it is taken, so a refused run never concludes that no
            // rights are out while this one is taking some.
            let most = block(0).max(1) - 1;
            self.held.fetch_add(most, Ordering::Relaxed);
            let taken =
                self.executions
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |count| {
                        (count < cap).then(|| count + block(count))
                    });
            match taken {
                Ok(before) => {
                    let extra = block(before) - 1;
                    self.held.fetch_sub(most - extra, Ordering::Relaxed);
                    *held = extra;
                    return true;
                }
                Err(_) => {
                    self.held.fetch_sub(most, Ordering::SeqCst);
                    if self.budget_spent() {
                        return false;
                    }
                    self.draining.store(true, Ordering::Relaxed);
                    std::thread::yield_now();
                }
            }
        }
    }

    /// After a refusal: is every right really used? Not while a run holds some, nor once a run
    /// has given some back since the refusal. A give-back lowers `executions` before `held`
    /// (both `SeqCst`), so a run that sees no holder left also sees the rights given back.
    /// (Reading `held` alone stopped a run a few executions short of a budget as big as the
    /// search, when another run gave its block back between the refusal and the look.)
    fn budget_spent(&self) -> bool {
        self.held.load(Ordering::SeqCst) == 0 && self.executions.load(Ordering::SeqCst) >= self.cap
    }

    /// Returns rights taken but not used.
    fn give_back(&self, unused: u64) {
        self.executions.fetch_sub(unused, Ordering::SeqCst);
        self.held.fetch_sub(unused, Ordering::SeqCst);
    }
}

/// What a run of executions produced, in exploration order; subtrees explored in parallel
/// are appended in the order a single worker would have run them.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) schedules: u64,
    pub(crate) redundant: u64,
    /// Executions in which a wait returned spuriously.
    pub(crate) woke_spuriously: u64,
    /// A hash of each execution's choices, in order (the report's digest folds them).
    pub(crate) hashes: Vec<u64>,
    pub(crate) explored: Vec<String>,
    /// The first failure; its schedule number counts from this tally's first execution.
    pub(crate) failure: Option<Failure>,
    /// Why the run stopped before its strategy was done, if it did.
    pub(crate) stop: Option<Stop>,
}

impl Tally {
    /// Appends `later`, which ran after everything in `self`. Nothing after a stop counts.
    pub(crate) fn append(&mut self, later: Tally) {
        if self.stop.is_some() {
            return;
        }
        let offset = self.schedules;
        self.schedules += later.schedules;
        self.redundant += later.redundant;
        self.woke_spuriously += later.woke_spuriously;
        self.hashes.extend(later.hashes);
        self.explored.extend(later.explored);
        self.stop = later.stop;
        self.failure = later.failure.map(|mut f| {
            f.set_schedule_number(f.schedule_number() + offset);
            f
        });
        assert_eq!(
            self.failure.is_some(),
            self.stop == Some(Stop::Failure),
            "a tally has a failure exactly when it stopped for one"
        );
    }

    pub(crate) fn finished(&self) -> bool {
        self.stop.is_some()
    }
}

fn run(
    config: Config,
    drivers: &dyn Drivers,
    test_name: Option<String>,
    replay_by: ReplayBy,
) -> Report {
    let mut report = Report::empty();
    if let Err(e) = config.validate() {
        report.error = Some(e);
        return report;
    }
    let mut replayed: Option<Schedule> = None;
    let n = config.schedules();
    let real = drivers.kind() == DriverKind::Orchestra;
    let parallel = config.strategy == Strategy::Dpor
        && config.max_preemptions.is_none()
        && config.workers() > 1
        && !real;
    // Exhaustive strategies run until they are done; the explorer alone enforces
    // `max_schedules`, so a cut is always a `Stop::ScheduleBudget`.
    let mut strategy: Box<dyn strategy::Strategy> = match &config.strategy {
        // Real code does not always repeat a prefix: a walk that takes what it gets.
        Strategy::Dpor | Strategy::Dfs if real => Box::new(strategy::TurnDfs::new()),
        Strategy::Dpor | Strategy::Dfs => match config.max_preemptions {
            Some(bound) if config.strategy == Strategy::Dpor => {
                Box::new(strategy::BoundedDpor::new(bound))
            }
            Some(bound) => Box::new(strategy::Deepening::new(usize::MAX, bound)),
            None if config.strategy == Strategy::Dpor => Box::new(strategy::Dpor::new(usize::MAX)),
            None => Box::new(strategy::Dfs::new(usize::MAX, None)),
        },
        Strategy::Random => Box::new(strategy::Random::new(config.seed, n)),
        Strategy::Pct { depth } => Box::new(strategy::Pct::new(config.seed, n, *depth)),
        Strategy::Pos => Box::new(strategy::Pos::new(config.seed, n)),
        Strategy::Replay(text) => match Schedule::parse(text) {
            Ok(schedule) => {
                let s = strategy::Replay::new(schedule.choices.clone(), schedule.data_seed);
                replayed = Some(schedule);
                Box::new(s)
            }
            Err(e) => {
                report.error = Some(e);
                return report;
            }
        },
    };
    let context = Context::new(&config, drivers, test_name, replay_by, replayed);
    let (mut tally, coverage) = if parallel {
        parallel::explore(&context, config.workers())
    } else {
        let tally = run_strategy(strategy.as_mut(), &context);
        let coverage = strategy.coverage();
        (tally, coverage)
    };
    // Did the merged result run to its own end (done, or its first failure in exploration
    // order)? Then it counts exactly what one worker would.
    let merged_whole = matches!(tally.stop, None | Some(Stop::Failure));
    if tally.failure.is_none() {
        // A failure found where a halt cut the parallel merge short is a failure all the same.
        if let Some(found) = lock(&context.failure_found).take() {
            tally.failure = Some(found);
            tally.stop = Some(Stop::Failure);
        }
    }
    if let Some(error) = context.internal_error() {
        tally.stop = Some(Stop::Internal);
        tally.failure = None;
        report.error = Some(error);
    }
    let stop = tally.stop.unwrap_or(Stop::Done);
    report.executions = context.executions_started();
    // With one worker every execution started is in the tally. With several, a run cut short
    // by a budget or a halt also ran executions the merge discarded: those ran all the same.
    report.schedules = if merged_whole || !parallel {
        tally.schedules
    } else {
        report.executions
    };
    report.redundant = tally.redundant;
    report.digest = tally.hashes.iter().fold(0xcbf2_9ce4_8422_2325u64, |d, h| {
        (d ^ h).wrapping_mul(0x0100_0000_01b3)
    });
    report.explored = std::mem::take(&mut tally.explored);
    report.coverage = match stop {
        Stop::Done | Stop::ScheduleBudget | Stop::TimeBudget => coverage,
        Stop::Failure | Stop::ThreadRuined | Stop::Internal => Coverage::Sampled,
    };
    report.budget_note = match stop {
        Stop::ScheduleBudget => Some(format!(
            "stopped after {}: `Config::max_schedules` ({n}) was reached before the search was \
             done{}",
            plural(report.schedules, "schedule"),
            spurious_note(tally.woke_spuriously, report.schedules)
        )),
        Stop::TimeBudget => Some(format!(
            "stopped after {}: `Config::time_budget` ({:?}) was reached before the search was \
             done{}",
            plural(report.schedules, "schedule"),
            config.time_budget.unwrap_or_default(),
            spurious_note(tally.woke_spuriously, report.schedules)
        )),
        _ => None,
    };
    report.failure = tally.failure;
    if config.minimise
        && !real
        && context.threads_usable()
        && !matches!(config.strategy, Strategy::Replay(_))
    {
        if let Some(failure) = report.failure.as_mut() {
            minimise(failure, &context);
        }
    }
    report
}

/// What a cut-short search spent on spurious wakeups, when it spent anything: they multiply
/// the schedules of every condvar wait and park, and a search that finishes without them may
/// not finish with them.
fn spurious_note(woke_spuriously: u64, schedules: u64) -> String {
    if woke_spuriously == 0 {
        return String::new();
    }
    format!(
        " ({woke_spuriously} of the {schedules} took a spurious wakeup, explored because \
         `Config::spurious_wakeups` is on: they multiply the schedules of every condvar wait and \
         park; once every wait re-checks its condition in a loop, `spurious_wakeups: false` \
         makes the search much smaller)"
    )
}

/// Locks `mutex`, ignoring poisoning: the explorer's critical sections leave their data whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
    let search = Context::new(
        &config,
        context.drivers,
        context.test_name.clone(),
        context.replay_by,
        None,
    );
    // The numbers `selvedge::rand` gave the failing execution (a sampling strategy gives each
    // execution its own seed): a failure that needs them is found again only with them.
    let drawn = Schedule::parse(failure.schedule())
        .ok()
        .and_then(|s| s.data_seed);
    let mut strategy =
        strategy::Deepening::new(usize::MAX, failure.preemptions() - 1).with_data_seed(drawn);
    // Another bug may turn up first; the search goes on past it.
    while let Some(found) = run_strategy(&mut strategy, &search).failure {
        if found.same_bug(failure) && found.preemptions() < failure.preemptions() {
            failure.minimise_to(found);
            return;
        }
        if !search.threads_usable() {
            return;
        }
    }
}

/// Runs executions until `strategy` is done, a failure is found, a budget is spent or the
/// exploration halts.
pub(crate) fn run_strategy(strategy: &mut dyn strategy::Strategy, context: &Context<'_>) -> Tally {
    let config = context.config;
    let mut held = 0u64;
    let mut driver = context.drivers.driver(context.test_name.as_deref());
    let mut tally = Tally::default();
    loop {
        // A strategy with nothing left is done, whatever budget ran out meanwhile.
        if !strategy.next_execution() {
            break;
        }
        if let Some(halt) = context.halted() {
            tally.stop = Some(halt);
            break;
        }
        if let Some(budget) = config.time_budget {
            if context.started.elapsed() >= budget {
                context.halt(Stop::TimeBudget);
                tally.stop = Some(Stop::TimeBudget);
                break;
            }
        }
        if !context.reserve(&mut held) {
            tally.stop = Some(Stop::ScheduleBudget);
            break;
        }
        tally.schedules += 1;
        let mut outcome = driver.run(strategy);
        tally.redundant += u64::from(outcome.redundant);
        tally.woke_spuriously += u64::from(outcome.woke_spuriously);
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
                    fingerprint: fingerprint(&outcome.trace),
                    choices: outcome.choices.clone(),
                    data_seed: outcome.data_seed,
                }
                .encode(),
            );
        }
        // How a failure was found, for its report; built only when there is one.
        let provenance = || Provenance {
            strategy: config.strategy.describe(),
            seed: config.seed,
            schedule_number: tally.schedules,
            test_name: context.test_name.clone(),
            replay_by_env: context.replay_by == ReplayBy::Environment,
            orchestra: context.drivers.kind() == DriverKind::Orchestra,
        };
        if let Some(message) = outcome.internal.take() {
            let provenance = provenance();
            let schedule = Schedule {
                fingerprint: fingerprint(&outcome.trace),
                choices: outcome.choices.clone(),
                data_seed: outcome.data_seed,
            }
            .encode();
            *lock(&context.internal) = Some(Error::internal(format!(
                "selvedge hit an internal error (a bug in selvedge, not in the code under test) \
                 in schedule {} with strategy {} (seed {}): {message}; replay string `{schedule}` \
                 reproduces it; please report it with this message",
                provenance.schedule_number, provenance.strategy, provenance.seed
            )));
            context.halt(Stop::Internal);
            tally.stop = Some(Stop::Internal);
            break;
        }
        if outcome.thread_ruined {
            // This OS thread must run nothing more (see the module docs).
            context.halt(Stop::ThreadRuined);
        }
        let mut raw = outcome.failure.take();
        if let Some(expected) = &context.replayed {
            // A replay that failed is the recorded failure only if it did what was recorded:
            // code changed under a saved schedule can fail in another way at the same steps.
            let judged = raw
                .as_ref()
                .is_some_and(|f| f.kind == FailureKind::Nondeterminism);
            if !judged {
                if let Some(diverged) = replay_divergence(expected, &outcome, raw.is_some()) {
                    raw = Some(diverged);
                }
            }
        }
        if let Some(raw) = raw {
            let failure = Failure::from_execution(raw, &outcome, provenance());
            lock(&context.failure_found).get_or_insert_with(|| {
                // Only used when a halt cut this run off from the merge: its number here is
                // relative to the run, so count every execution started so far instead.
                let mut found = failure.clone();
                found.set_schedule_number(context.executions_started());
                found
            });
            tally.failure = Some(failure);
            tally.stop = Some(Stop::Failure);
            break;
        }
        driver.recycle(outcome);
    }
    context.give_back(held);
    tally
}

/// A replay diverged if it took a different number of steps than recorded, or performed
/// different operations (the fingerprint). `failed`: it ended in a failure, which is only the
/// recorded one if the execution matches.
fn replay_divergence(expected: &Schedule, outcome: &Execution, failed: bool) -> Option<RawFailure> {
    let what = if !failed && outcome.choices.len() != expected.choices.len() {
        format!(
            "the schedule has {} steps but the execution finished after {}",
            expected.choices.len(),
            outcome.choices.len()
        )
    } else if fingerprint(&outcome.trace) != expected.fingerprint {
        if failed {
            "the same tasks ran in the same order but performed different operations, and failed \
             (the failure is not the one recorded)"
                .to_string()
        } else {
            "the same tasks ran in the same order but performed different operations".to_string()
        }
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
        evidence: Evidence::None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Driver;

    /// Budgets are the context's alone: no execution runs here, so no driver is asked for.
    struct NoExecutions;

    impl Drivers for NoExecutions {
        fn driver(&self, _: Option<&str>) -> Box<dyn Driver + '_> {
            unreachable!("this test runs no execution")
        }
    }

    #[test]
    fn rights_given_back_after_a_refusal_are_not_a_spent_budget() {
        // The state a refused run may find when it looks: every right was taken when it
        // asked, and another run has since given its unused block back.
        let config = Config {
            max_schedules: Some(100),
            ..Default::default()
        };
        let context = Context::new(&config, &NoExecutions, None, ReplayBy::Config, None);
        context.executions.store(100, Ordering::SeqCst);
        context.held.store(5, Ordering::SeqCst);
        assert!(!context.budget_spent(), "a run still holds rights");
        context.give_back(5);
        assert!(
            !context.budget_spent(),
            "no run holds rights, but 5 were given back: the budget is not spent"
        );
        let mut held = 0;
        for _ in 0..5 {
            assert!(context.reserve(&mut held));
        }
        assert!(context.budget_spent());
        assert!(!context.reserve(&mut held));
    }
}
