//! The conductor: the orchestra's driver behind the engine's `Driver` seam. One execution makes
//! a fresh fixture, starts every task (threads, and a fresh tokio runtime for async tasks),
//! then, until every task finished, asks the strategy which waiting task gets the turn, grants
//! it, and waits for the turn to end: the task arrives at its next counted syncpoint, finishes,
//! or stalls. Then it ends the stage, waits (boundedly) for the tasks to leave, and runs the
//! check.
//!
//! Invariants:
//! - Every turn is a `Strategy::choose` over the waiting tasks; the conductor only decides
//!   which tasks are waiting (and, for identical tasks, that a task's first turn comes after
//!   those of the tasks declared before it).
//! - The clock decides stalls and deadlocks only, never which task runs: the stall timeout
//!   takes a task out of the candidates, the strategy still picks among the rest.
//! - Every wait has a deadline: a turn the stall timeout, a world of stalled tasks the
//!   deadlock timeout, a stalled task's rejoining `rejoin_settle`, tasks leaving an ended
//!   execution the stall timeout again.

use std::any::Any;
use std::panic::{AssertUnwindSafe, Location};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::stage::{Outcome, Phase, Stage, TurnEnd};
use super::{Plan, TaskBody};
use crate::driver::{Driver, DriverKind, Drivers};
use crate::explorer::{explore_with, ReplayBy};
use crate::limits::{MAX_DETAIL_CHARS, REJOIN_SETTLE_MAX};
use crate::strategy::{Candidate, Decision, Refusal, Strategy};
use crate::trace::{
    panic_message, Access, BlockedTask, Evidence, Execution, FailureKind, Names, ObjectId, Op,
    OpKind, PanicSite, RawFailure, TaskId, TraceEvent, WaitsFor,
};
use crate::{Config, Error, Report};

/// How long the conductor waits after a turn for stalled tasks to come back before the next
/// decision. A task blocked by another (a row lock) is usually let go by the turn that just
/// ended and arrives within a millisecond; waiting for it makes the tasks ready at the next
/// decision the same from one run to the next, which the exhaustive walk relies on.
fn rejoin_settle(stall_timeout: Duration) -> Duration {
    (stall_timeout / 4).min(REJOIN_SETTLE_MAX)
}

/// What the drivers of one orchestra share, and what the exploration hands back beyond the
/// report.
pub(crate) struct OrchestraDrivers<S> {
    shared: Arc<Shared<S>>,
}

struct Shared<S> {
    plan: Arc<Plan<S>>,
    stack_bytes: usize,
    max_steps: usize,
    /// Turns per task in the first execution.
    first_turns: Mutex<Option<Vec<usize>>>,
    /// Every syncpoint name any task reached, counted or not.
    names_seen: Mutex<Vec<&'static str>>,
}

impl<S: Send + Sync + 'static> OrchestraDrivers<S> {
    pub(crate) fn new(plan: Arc<Plan<S>>, config: &Config) -> OrchestraDrivers<S> {
        OrchestraDrivers {
            shared: Arc::new(Shared {
                plan,
                stack_bytes: config.stack_size,
                max_steps: config.max_steps,
                first_turns: Mutex::new(None),
                names_seen: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Explores the orchestra as `config` says.
    pub(crate) fn explore(
        self,
        config: Config,
        test_name: Option<String>,
        replay_by: ReplayBy,
    ) -> Report {
        let shared = self.shared.clone();
        let plan = &shared.plan;
        if let Some(message) = refusal(plan, &config) {
            let mut report = Report::empty();
            report.error = Some(Error::bad_config(message));
            return report;
        }
        let config = Config {
            workers: Some(1),
            minimise: false,
            ..config
        };
        let mut report = explore_with(config, Box::new(self), test_name, replay_by);
        report.turns = lock(&shared.first_turns).clone().unwrap_or_default();
        if let Some(only) = plan.only {
            let seen = lock(&shared.names_seen);
            let ran = report.schedules() > 0 && report.error.is_none();
            if ran && report.failure().is_none() && !seen.contains(&only) {
                let others = if seen.is_empty() {
                    "no task reached a named syncpoint at all".to_string()
                } else {
                    let names: Vec<String> = seen.iter().map(|n| format!("`{n}`")).collect();
                    format!("the names reached were {}", names.join(", "))
                };
                report.error = Some(Error::bad_config(format!(
                    "`Orchestra::only(\"{only}\")`: no task reached a syncpoint named `{only}` in \
                     {} ({others}); check the name against the `syncpoint!` calls the tasks \
                     run",
                    crate::report::plural(report.schedules(), "schedule")
                )));
            }
        }
        report
    }
}

/// Why the orchestra cannot run as declared, if it cannot.
fn refusal<S>(plan: &Plan<S>, config: &Config) -> Option<String> {
    if plan.tasks.is_empty() {
        return Some(
            "the orchestra has no tasks, so there is nothing to interleave; add some with \
             `Orchestra::task` or `Orchestra::task_async`"
                .to_string(),
        );
    }
    if config.max_preemptions.is_some() {
        return Some(
            "`Config::max_preemptions` is not supported by the orchestra; leave it `None` (every \
             turn order is run), or use `Strategy::Random` or `Strategy::Pct` with \
             `max_schedules` for big orchestras"
                .to_string(),
        );
    }
    None
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: Send + Sync + 'static> Drivers for OrchestraDrivers<S> {
    fn driver(&self, _test_name: Option<&str>) -> Box<dyn Driver + '_> {
        Box::new(Conductor {
            shared: &self.shared,
        })
    }

    fn kind(&self) -> DriverKind {
        DriverKind::Orchestra
    }
}

struct Conductor<'a, S> {
    shared: &'a Shared<S>,
}

/// The trace of one execution as it is written.
struct Recorder {
    execution: Execution,
    /// Object names: one per step with something to show (a syncpoint's name, a detail,
    /// notes, a stall).
    labels: Vec<String>,
    previous: Option<TaskId>,
}

impl Recorder {
    fn label(&mut self, text: String) -> ObjectId {
        self.labels.push(text);
        ObjectId(self.labels.len() as u32 - 1)
    }

    fn push(&mut self, task: usize, kind: OpKind, label: Option<String>, at: Site, chosen: bool) {
        let object = label.map(|l| self.label(l));
        self.execution.trace.push(TraceEvent {
            task: TaskId(task as u32),
            op: Op {
                kind,
                object,
                access: if chosen {
                    Access::Everything
                } else {
                    Access::Local
                },
                location: at,
                awaited: false,
            },
            chosen,
            unwinding: false,
        });
    }

    /// Adds the notes the task made during the turn that started at trace event `event`.
    fn annotate(&mut self, event: usize, notes: Vec<String>) {
        if notes.is_empty() {
            return;
        }
        let text = notes.join("; ");
        match self.execution.trace[event].op.object {
            Some(object) => {
                let label = &mut self.labels[object.index()];
                label.push_str(" => ");
                label.push_str(&text);
            }
            None => {
                let object = self.label(format!("=> {text}"));
                self.execution.trace[event].op.object = Some(object);
            }
        }
    }
}

type Site = &'static Location<'static>;

/// What a step shows in the report's object column: the syncpoint's name, the detail.
fn step_label(name: Option<&'static str>, detail: Option<&str>) -> Option<String> {
    match (name, detail) {
        (None, None) => None,
        (Some(name), None) => Some(format!("\"{name}\"")),
        (None, Some(detail)) => Some(clip(detail)),
        (Some(name), Some(detail)) => Some(format!("\"{name}\" {}", clip(detail))),
    }
}

/// A detail on one line, at most `MAX_DETAIL_CHARS` characters.
fn clip(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_DETAIL_CHARS {
        return one_line;
    }
    let mut clipped: String = one_line.chars().take(MAX_DETAIL_CHARS - 3).collect();
    clipped.push_str("...");
    clipped
}

fn task_name(index: usize) -> String {
    format!("task {index}")
}

/// The tasks an execution started, to be waited for when it ends.
struct Started {
    threads: Vec<(usize, JoinHandle<()>)>,
    #[cfg(feature = "tokio")]
    runtime: Option<super::tokio_tasks::Launched>,
}

impl<S: Send + Sync + 'static> Driver for Conductor<'_, S> {
    fn run(&mut self, strategy: &mut dyn Strategy) -> Execution {
        let plan = &*self.shared.plan;
        let n = plan.tasks.len();
        let mut rec = Recorder {
            execution: Execution::default(),
            labels: Vec::new(),
            previous: None,
        };
        let fixture = match catch_panic(|| (plan.setup)()) {
            Ok(fixture) => Arc::new(fixture),
            Err((message, location)) => {
                let at = location.map_or(String::new(), |l| format!(" at {l}"));
                rec.execution.failure = Some(RawFailure {
                    kind: FailureKind::Panic,
                    message: format!(
                        "`Orchestra::setup` panicked{at}, before any task ran: {message}"
                    ),
                    task: None,
                    blocked: Vec::new(),
                    evidence: Evidence::None,
                });
                strategy.finish_execution(&rec.execution.trace, &rec.execution.choices);
                return self.finish(rec, n);
            }
        };
        let stage = Arc::new(Stage::new(
            plan.tasks.iter().map(|t| t.declared_at).collect(),
            plan.only,
        ));
        let started = match self.start(&stage, &fixture) {
            Ok(started) => started,
            Err(message) => {
                stage.end();
                rec.execution.internal = Some(message);
                return self.finish(rec, n);
            }
        };
        let mut turns = vec![0usize; n];
        let mut had_turn = vec![false; n];
        if plan.free_start {
            for task in 0..n {
                self.prime(&stage, task, &mut rec);
            }
        }
        let mut candidates: Vec<Candidate> = Vec::new();
        let settle = rejoin_settle(plan.stall_timeout);
        loop {
            stage.await_rejoin(settle);
            if let Some(failure) = panicked(&stage, &rec) {
                rec.execution.failure = Some(failure);
                break;
            }
            let all_finished = {
                let state = stage.lock();
                candidates.clear();
                for (i, slot) in state.tasks.iter().enumerate() {
                    if slot.phase != Phase::Waiting {
                        continue;
                    }
                    // Identical tasks take their first turns in declaration order: the other
                    // orders are mirror images of these.
                    let mirrored = plan.identical
                        && !had_turn[i]
                        && (0..i).any(|j| !had_turn[j] && state.tasks[j].phase != Phase::Finished);
                    if mirrored {
                        continue;
                    }
                    candidates.push(Candidate {
                        task: TaskId(i as u32),
                        kind: if slot.point.start {
                            OpKind::Start
                        } else {
                            OpKind::Syncpoint
                        },
                        object: None,
                        access: Access::Everything,
                    });
                }
                state.tasks.iter().all(|t| t.phase == Phase::Finished)
            };
            if all_finished {
                break;
            }
            if candidates.is_empty() {
                // Every unfinished task is stalled: wait for one to come back.
                let seen = stage.lock().changes;
                if !stage.await_change(seen, plan.deadlock_timeout) {
                    rec.execution.failure = Some(self.deadlock(&stage));
                    break;
                }
                continue;
            }
            if rec.execution.choices.len() >= self.shared.max_steps {
                rec.execution.failure = Some(self.livelock(&candidates));
                break;
            }
            let decision = Decision {
                step: rec.execution.choices.len(),
                candidates: &candidates,
                previous: rec.previous,
                spurious: &[],
            };
            let chosen = match strategy.choose(&decision) {
                Ok(task) => task,
                Err(Refusal::Redundant) => {
                    rec.execution.redundant = true;
                    break;
                }
                Err(Refusal::Diverged(message)) => {
                    rec.execution.failure = Some(RawFailure {
                        kind: FailureKind::Nondeterminism,
                        message,
                        task: None,
                        blocked: Vec::new(),
                        evidence: Evidence::None,
                    });
                    break;
                }
            };
            assert!(
                candidates.iter().any(|c| c.task == chosen),
                "strategy chose task {} which is not waiting for the turn",
                chosen.0
            );
            if rec
                .previous
                .is_some_and(|p| p != chosen && candidates.iter().any(|c| c.task == p))
            {
                rec.execution.preemptions += 1;
            }
            rec.previous = Some(chosen);
            rec.execution.choices.push(chosen);
            let task = chosen.index();
            turns[task] += 1;
            had_turn[task] = true;
            let (point, kind) = {
                let state = stage.lock();
                let point = state.tasks[task].point.clone();
                let kind = if point.start {
                    OpKind::Start
                } else {
                    OpKind::Syncpoint
                };
                (point, kind)
            };
            let event = rec.execution.trace.len();
            rec.push(
                task,
                kind,
                step_label(point.name, point.detail.as_deref()),
                point.location,
                true,
            );
            let end = if stage.grant(task) {
                stage.await_turn_end(task, plan.stall_timeout)
            } else {
                TurnEnd::Finished
            };
            let notes = std::mem::take(&mut stage.lock().tasks[task].notes);
            rec.annotate(event, notes);
            if end == TurnEnd::Stalled {
                rec.push(
                    task,
                    OpKind::Stall,
                    Some(format!(
                        "no syncpoint within {:?} (`Orchestra::stall_timeout`)",
                        plan.stall_timeout
                    )),
                    point.location,
                    false,
                );
            }
        }
        stage.end();
        let left = self.wait_for_tasks(&stage, started);
        if rec.execution.failure.is_none()
            && rec.execution.internal.is_none()
            && !rec.execution.redundant
        {
            if let Some(failure) = panicked(&stage, &rec) {
                rec.execution.failure = Some(failure);
            } else if left {
                if let Some(check) = &plan.check {
                    if let Err((message, location)) = catch_panic(|| check(&fixture)) {
                        rec.execution.failure = Some(RawFailure {
                            kind: FailureKind::Panic,
                            message: format!(
                                "the check failed after every task finished: {message}"
                            ),
                            task: Some((n as u32, "check".to_string())),
                            blocked: Vec::new(),
                            evidence: Evidence::Panics(vec![PanicSite {
                                location: location.unwrap_or_else(|| "the check".to_string()),
                                trace_len: rec.execution.trace.len(),
                            }]),
                        });
                    }
                }
            }
        }
        drop(fixture);
        {
            let mut first = lock(&self.shared.first_turns);
            if first.is_none() {
                *first = Some(turns);
            }
            let state = stage.lock();
            let mut seen = lock(&self.shared.names_seen);
            for name in &state.names_seen {
                if !seen.contains(name) {
                    seen.push(name);
                }
            }
        }
        if rec.execution.internal.is_none() {
            strategy.finish_execution(&rec.execution.trace, &rec.execution.choices);
        }
        self.finish(rec, n)
    }
}

impl<S: Send + Sync + 'static> Conductor<'_, S> {
    /// Starts every task; each waits for its first turn before running any of its code.
    fn start(&self, stage: &Arc<Stage>, fixture: &Arc<S>) -> Result<Started, String> {
        let plan = &*self.shared.plan;
        let mut started = Started {
            threads: Vec::new(),
            #[cfg(feature = "tokio")]
            runtime: None,
        };
        #[cfg(feature = "tokio")]
        let mut futures = Vec::new();
        for (index, spec) in plan.tasks.iter().enumerate() {
            match &spec.body {
                TaskBody::Thread(body) => {
                    let handle = super::threads::spawn(
                        stage.clone(),
                        index,
                        body.clone(),
                        fixture.clone(),
                        self.shared.stack_bytes,
                    )
                    .map_err(|e| {
                        format!("the orchestra could not start a thread for task {index}: {e}")
                    })?;
                    started.threads.push((index, handle));
                }
                #[cfg(feature = "tokio")]
                TaskBody::Async(body) => futures.push((index, body.clone())),
            }
        }
        #[cfg(feature = "tokio")]
        if !futures.is_empty() {
            started.runtime = Some(super::tokio_tasks::launch(
                stage.clone(),
                futures,
                fixture.clone(),
                plan.flavor,
            )?);
        }
        Ok(started)
    }

    /// Runs task `task` to its first syncpoint without a decision (`turns_start_at_syncpoints`).
    fn prime(&self, stage: &Stage, task: usize, rec: &mut Recorder) {
        let plan = &*self.shared.plan;
        let at = plan.tasks[task].declared_at;
        if stage.grant(task) && stage.await_turn_end(task, plan.stall_timeout) == TurnEnd::Stalled {
            rec.push(
                task,
                OpKind::Stall,
                Some(format!(
                    "no syncpoint within {:?} (`Orchestra::stall_timeout`)",
                    plan.stall_timeout
                )),
                at,
                false,
            );
        }
    }

    /// Ends the execution's tasks: threads at a syncpoint unwind, futures are dropped; waits
    /// for them for at most the stall timeout (then a thread stuck outside our control is left
    /// behind). `true` if every task had finished on its own.
    fn wait_for_tasks(&self, stage: &Stage, started: Started) -> bool {
        let finished_before = stage
            .lock()
            .tasks
            .iter()
            .all(|t| matches!(t.outcome, Some(Outcome::Returned)));
        let grace = self.shared.plan.stall_timeout;
        #[cfg(feature = "tokio")]
        if let Some(runtime) = started.runtime {
            runtime.shut_down(grace);
        }
        stage.await_all_finished(grace);
        let state = stage.lock();
        let done: Vec<bool> = state
            .tasks
            .iter()
            .map(|t| t.phase == Phase::Finished)
            .collect();
        drop(state);
        for (index, handle) in started.threads {
            if done[index] {
                let _ = handle.join();
            }
            // Otherwise it is stuck outside our control: its thread is left behind.
        }
        finished_before
    }

    fn deadlock(&self, stage: &Stage) -> RawFailure {
        let plan = &*self.shared.plan;
        let state = stage.lock();
        let now = Instant::now();
        let blocked: Vec<BlockedTask> = state
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.phase == Phase::Stalled)
            .map(|(i, t)| BlockedTask {
                task: i as u32,
                name: task_name(i),
                operation: OpKind::Stall,
                awaited: false,
                location: t.point.location,
                waits_for: WaitsFor::Outside {
                    point: step_label(t.point.name, t.point.detail.as_deref()),
                    stalled_ms: now.duration_since(t.since).as_millis() as u64,
                },
            })
            .collect();
        let names: Vec<String> = blocked.iter().map(|b| b.name.clone()).collect();
        RawFailure {
            kind: FailureKind::Deadlock,
            message: format!(
                "every unfinished task is stalled: {}; none reached a syncpoint within {:?} \
                 (`Orchestra::deadlock_timeout`), so each is blocked outside selvedge's control \
                 (a lock, a socket, a database row lock), most likely by another",
                names.join(", "),
                plan.deadlock_timeout
            ),
            task: None,
            blocked,
            evidence: Evidence::None,
        }
    }

    fn livelock(&self, candidates: &[Candidate]) -> RawFailure {
        let waiting: Vec<String> = candidates
            .iter()
            .map(|c| task_name(c.task.index()))
            .collect();
        RawFailure {
            kind: FailureKind::Livelock,
            message: format!(
                "the schedule did not finish within {} turns (`Config::max_steps`); still taking \
                 turns: {}. A task that loops over a syncpoint until another task acts never \
                 ends if the strategy keeps choosing it; raise `max_steps` if the test is just \
                 long",
                self.shared.max_steps,
                waiting.join(", ")
            ),
            task: None,
            blocked: Vec::new(),
            evidence: Evidence::None,
        }
    }

    fn finish(&self, rec: Recorder, n: usize) -> Execution {
        let Recorder {
            mut execution,
            labels,
            ..
        } = rec;
        let mut tasks: Vec<String> = (0..n).map(task_name).collect();
        tasks.push("check".to_string());
        execution.names = Names {
            tasks,
            objects: labels,
        };
        execution
    }
}

/// The first task that panicked, as a failure.
fn panicked(stage: &Stage, rec: &Recorder) -> Option<RawFailure> {
    let state = stage.lock();
    state
        .tasks
        .iter()
        .enumerate()
        .find_map(|(i, t)| match &t.outcome {
            Some(Outcome::Panicked { message, location }) => Some(RawFailure {
                kind: FailureKind::Panic,
                message: message.clone(),
                task: Some((i as u32, task_name(i))),
                blocked: Vec::new(),
                evidence: Evidence::Panics(vec![PanicSite {
                    location: location
                        .clone()
                        .unwrap_or_else(|| "an unknown location".to_string()),
                    trace_len: rec.execution.trace.len(),
                }]),
            }),
            _ => None,
        })
}

/// Runs `f`, turning a panic into its message and location.
fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, (String, Option<String>)> {
    super::threads::recording_panics(|| std::panic::catch_unwind(AssertUnwindSafe(f))).map_err(
        |(payload, location): (Box<dyn Any + Send>, Option<String>)| {
            (panic_message(payload.as_ref()), location)
        },
    )
}
