//! Reports: what an exploration covered and, if it found a bug, the `Failure` explained:
//! what went wrong, the wait-for cycle of a deadlock, the interleaving as a table, and the
//! replay string with the command that replays it.
//!
//! Invariant: a report is built from a finished execution's plain data (trace, object table,
//! task names); nothing here touches the runtime or user values.

use std::fmt;

use crate::runtime::execution::Outcome;
use crate::runtime::{ObjectId, OpKind};
use crate::schedule::{fingerprint, Schedule};
use crate::strategy::Coverage;

/// The kind of bug a failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// A task panicked (a failed assertion, an `unwrap` on `None`, ...).
    Panic,
    /// Every unfinished task is blocked and none can wake another.
    Deadlock,
    /// An execution ran past `Config::max_steps` without finishing.
    Livelock,
    /// Two accesses to an `UnsafeCell`, at least one a write, overlapped.
    DataRace,
    /// An object the model tracks was still alive when the execution ended.
    Leak,
    /// The code did not do what the schedule being replayed recorded: the code changed, or
    /// it is not deterministic given its schedule.
    Nondeterminism,
    /// A task ran past the end of its stack. Unlike a panic, nothing unwound: the task's
    /// destructors did not run and no `catch_unwind` saw it. `Config::stack_size` and
    /// `thread::Builder::stack_size` give tasks more stack.
    StackOverflow,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::Panic => "panic",
            FailureKind::Deadlock => "deadlock",
            FailureKind::Livelock => "livelock",
            FailureKind::DataRace => "data race",
            FailureKind::Leak => "leak",
            FailureKind::Nondeterminism => "nondeterminism",
            FailureKind::StackOverflow => "stack overflow",
        })
    }
}

/// A failure as the runtime records it, before it is rendered.
#[derive(Clone, Debug)]
pub(crate) struct RawFailure {
    pub(crate) kind: FailureKind,
    pub(crate) message: String,
    pub(crate) task: Option<(u32, String)>,
    pub(crate) blocked: Vec<BlockedTask>,
}

/// A task that could not make progress when a deadlock was found.
#[derive(Clone, Debug)]
pub(crate) struct BlockedTask {
    pub(crate) task: u32,
    pub(crate) name: String,
    pub(crate) operation: String,
    pub(crate) location: String,
    pub(crate) waits_for: Option<String>,
    /// The short name of what it waits for (`Mutex#2`, a task), for the interleaving table.
    pub(crate) object: Option<String>,
    pub(crate) reason: String,
    /// (task id, name, where it acquired the object) of each task holding what this waits for.
    pub(crate) holders: Vec<(u32, String, String)>,
}

#[derive(Clone, Debug)]
struct TraceRow {
    task_name: String,
    operation: String,
    object: Option<String>,
    location: String,
    switch: bool,
    /// An operation that never completed: a task stuck in it when the execution ended.
    stuck: bool,
}

/// How the failing execution was found, so the report can say how to get it again.
#[derive(Clone, Debug, Default)]
pub(crate) struct Provenance {
    pub(crate) strategy: String,
    pub(crate) seed: u64,
    pub(crate) schedule_number: u64,
    pub(crate) test_name: Option<String>,
}

/// A bug found in the code under test.
///
/// `Display` prints the full human report; [`Failure::schedule`] is the replay string.
///
/// ```
/// use selvedge::sync::{Arc, atomic::{AtomicUsize, Ordering}};
///
/// let report = selvedge::explore(selvedge::Config::default(), || {
///     let n = Arc::new(AtomicUsize::new(0));
///     let n2 = n.clone();
///     let t = selvedge::thread::spawn(move || {
///         let v = n2.load(Ordering::SeqCst);
///         n2.store(v + 1, Ordering::SeqCst);
///     });
///     let v = n.load(Ordering::SeqCst);
///     n.store(v + 1, Ordering::SeqCst);
///     t.join().unwrap();
///     assert_eq!(n.load(Ordering::SeqCst), 2, "lost update");
/// });
/// let failure = report.failure().expect("the lost update is found");
/// assert_eq!(failure.kind(), selvedge::FailureKind::Panic);
/// assert!(failure.to_string().contains("lost update"));
/// assert!(failure.schedule().starts_with("v1:"));
/// ```
#[derive(Clone)]
pub struct Failure {
    kind: FailureKind,
    preemptions: usize,
    /// The preemptions of the schedule first found, when minimisation found one with fewer.
    minimised_from: Option<usize>,
    message: String,
    task: Option<String>,
    blocked: Vec<BlockedTask>,
    rows: Vec<TraceRow>,
    schedule: String,
    provenance: Provenance,
}

impl Failure {
    pub(crate) fn from_outcome(
        raw: RawFailure,
        outcome: &Outcome,
        provenance: Provenance,
    ) -> Failure {
        let state = &outcome.state;
        let object_name = |id: Option<ObjectId>| id.map(|o| state.objects[o.index()].name());
        let mut rows = Vec::with_capacity(state.trace.len());
        let mut last_task = None;
        for (i, event) in state.trace.iter().enumerate() {
            let switch = last_task.is_some_and(|t| t != event.task);
            last_task = Some(event.task);
            let object = match event.op.kind {
                OpKind::Join(t) | OpKind::Unpark(t) | OpKind::Spawn(t) | OpKind::Wake(t) => {
                    Some(state.task_name(t))
                }
                _ => object_name(event.op.object),
            };
            let mut operation = event.op.kind.to_string();
            if matches!(event.op.kind, OpKind::NotifyOne | OpKind::NotifyAll) {
                // A notify wakes its waiters right away; with none, it is lost.
                let woke = state.trace.get(i + 1).is_some_and(|next| {
                    next.task == event.task && matches!(next.op.kind, OpKind::Wake(_))
                });
                if !woke {
                    operation.push_str(" (nobody waiting: lost)");
                }
            }
            rows.push(TraceRow {
                task_name: state.task_name(event.task),
                operation,
                object,
                location: event.op.location.to_string(),
                switch,
                stuck: false,
            });
        }
        if raw.kind == FailureKind::Deadlock {
            for b in &raw.blocked {
                rows.push(TraceRow {
                    task_name: b.name.clone(),
                    operation: format!("{} (never returns)", b.operation),
                    object: b.object.clone(),
                    location: b.location.clone(),
                    switch: last_task.is_some_and(|t| t.0 != b.task),
                    stuck: true,
                });
                last_task = Some(crate::runtime::TaskId(b.task));
            }
        }
        let schedule = Schedule {
            fingerprint: fingerprint(&state.trace),
            choices: outcome.choices.clone(),
        }
        .encode();
        Failure {
            kind: raw.kind,
            preemptions: outcome.preemptions,
            minimised_from: None,
            message: raw.message,
            task: raw.task.map(|(_, name)| name),
            blocked: raw.blocked,
            rows,
            schedule,
            provenance,
        }
    }

    /// What kind of bug this is.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// What went wrong, in one paragraph (the panic message, the blocked tasks, ...).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The task that failed, when one task did (`main (task 0)`, `thread-2 (task 2)`).
    pub fn task(&self) -> Option<&str> {
        self.task.as_deref()
    }

    /// The replay string: pass it to [`replay`](crate::replay), to
    /// `Strategy::Replay`, or set `SELVEDGE_REPLAY` to it to run exactly this execution.
    pub fn schedule(&self) -> &str {
        &self.schedule
    }

    /// Preemptions in the failing schedule: switches away from a task that could have gone on.
    /// Fewer preemptions make an interleaving easier to follow; failures are minimised.
    pub fn preemptions(&self) -> usize {
        self.preemptions
    }

    /// Does `other` look like the same bug: same kind and same first line of the message?
    pub(crate) fn same_bug(&self, other: &Failure) -> bool {
        self.kind == other.kind && self.message.lines().next() == other.message.lines().next()
    }

    /// Takes `smaller`'s interleaving (fewer preemptions) while keeping how the failure was
    /// first found.
    pub(crate) fn minimise_to(&mut self, smaller: Failure) {
        let from = self.minimised_from.unwrap_or(self.preemptions);
        let provenance = self.provenance.clone();
        *self = smaller;
        self.provenance = provenance;
        self.minimised_from = Some(from);
    }

    /// Which schedule of the exploration failed (1-based).
    pub fn schedule_number(&self) -> u64 {
        self.provenance.schedule_number
    }

    pub(crate) fn set_schedule_number(&mut self, number: u64) {
        self.provenance.schedule_number = number;
    }

    pub(crate) fn set_test_name(&mut self, name: Option<String>) {
        self.provenance.test_name = name;
    }

    fn write_blocked(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.blocked.is_empty() {
            return Ok(());
        }
        writeln!(f, "\nblocked tasks (who waits for what, and who holds it):")?;
        for b in &self.blocked {
            let target = b.waits_for.as_deref().unwrap_or("a wakeup");
            write!(
                f,
                "  {} is stuck in `{}` at {}",
                b.name, b.operation, b.location
            )?;
            if b.reason.is_empty() {
                writeln!(f, ", waiting for {target}")?;
            } else {
                writeln!(f, ", {} on {target}", b.reason)?;
            }
            for (_, holder, at) in &b.holders {
                if holder == &b.name {
                    writeln!(f, "      held by {holder} itself, acquired at {at}")?;
                } else {
                    writeln!(f, "      held by {holder}, acquired at {at}")?;
                }
            }
            if b.holders.is_empty() && b.reason.starts_with("waiting to be notified") {
                writeln!(
                    f,
                    "      no task that is still running will notify it (a lost wakeup)"
                )?;
            }
        }
        if let Some(cycle) = self.cycle() {
            writeln!(f, "  wait-for cycle: {}", cycle.join(" -> "))?;
        }
        Ok(())
    }

    /// Follows "waits for a holder" edges to find a cycle, for the one-line summary.
    fn cycle(&self) -> Option<Vec<String>> {
        let next = |task: u32| {
            self.blocked
                .iter()
                .find(|b| b.task == task)
                .and_then(|b| b.holders.first())
                .map(|h| h.0)
        };
        for start in &self.blocked {
            let mut path = vec![start.task];
            let mut at = start.task;
            while let Some(holder) = next(at) {
                if let Some(i) = path.iter().position(|&t| t == holder) {
                    let names = path[i..]
                        .iter()
                        .chain(std::iter::once(&holder))
                        .map(|t| {
                            self.blocked
                                .iter()
                                .find(|b| b.task == *t)
                                .map(|b| b.name.clone())
                                .unwrap_or_default()
                        })
                        .collect();
                    return Some(names);
                }
                path.push(holder);
                at = holder;
            }
        }
        None
    }

    fn write_rows(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let performed = self.rows.iter().filter(|r| !r.stuck);
        let switches = performed.clone().filter(|r| r.switch).count();
        let n_performed = performed.count();
        let minimised = match self.minimised_from {
            Some(from) => format!(", minimised from {from}"),
            None => String::new(),
        };
        writeln!(
            f,
            "\ninterleaving ({}, {}, {}{minimised}; `>` marks a switch{}):",
            plural(n_performed, "operation"),
            plural(switches, "context switch"),
            plural(self.preemptions, "preemption"),
            if self.rows.iter().any(|r| r.stuck) {
                ", `!` an operation that never returns"
            } else {
                ""
            },
        )?;
        let task_width = self
            .rows
            .iter()
            .map(|r| r.task_name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let op_width = self
            .rows
            .iter()
            .map(|r| r.operation.len())
            .max()
            .unwrap_or(9)
            .max(9);
        let obj_width = self
            .rows
            .iter()
            .map(|r| r.object.as_ref().map_or(1, |o| o.len()))
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(
            f,
            "     step  {:task_width$}  {:op_width$}  {:obj_width$}  location",
            "task", "operation", "object"
        )?;
        let max = crate::limits::REPORT_MAX_ROWS;
        let skip = if self.rows.len() > max {
            self.rows.len() - max
        } else {
            0
        };
        let head = if skip > 0 { max / 4 } else { self.rows.len() };
        for (i, row) in self.rows.iter().enumerate() {
            if skip > 0 && i == head {
                writeln!(f, "     ...  ({skip} operations not shown)")?;
            }
            if skip > 0 && i >= head && i < head + skip {
                continue;
            }
            writeln!(
                f,
                "  {} {:5}  {:task_width$}  {:op_width$}  {:obj_width$}  {}",
                match (row.stuck, row.switch) {
                    (true, _) => '!',
                    (false, true) => '>',
                    (false, false) => ' ',
                },
                i + 1,
                row.task_name,
                row.operation,
                row.object.as_deref().unwrap_or("-"),
                row.location
            )?;
        }
        Ok(())
    }
}

fn plural(n: usize, noun: &str) -> String {
    match (n, noun.ends_with("ch")) {
        (1, _) => format!("1 {noun}"),
        (_, true) => format!("{n} {noun}es"),
        _ => format!("{n} {noun}s"),
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "selvedge found a {}: {}", self.kind, self.message)?;
        self.write_blocked(f)?;
        self.write_rows(f)?;
        let p = &self.provenance;
        writeln!(
            f,
            "\nfound in schedule {} with strategy {} (seed {})",
            p.schedule_number, p.strategy, p.seed
        )?;
        if self.kind == FailureKind::Nondeterminism {
            return write!(
                f,
                "(no replay string: the failure is that the code no longer follows a schedule)"
            );
        }
        writeln!(f, "replay string: {}", self.schedule)?;
        match &p.test_name {
            Some(name) => writeln!(
                f,
                "replay it:     SELVEDGE_REPLAY='{}' cargo test {} -- --exact",
                self.schedule, name
            )?,
            None => writeln!(
                f,
                "replay it:     SELVEDGE_REPLAY='{}' <the command that ran this test>",
                self.schedule
            )?,
        }
        write!(
            f,
            "          or:  selvedge::replay(test, \"{}\")",
            self.schedule
        )
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What an exploration did: how many schedules ran, whether the space was covered, and the
/// failure found, if any. Returned by [`explore`](crate::explore), which never panics on a
/// failure.
///
/// ```
/// use selvedge::sync::{Arc, Mutex};
///
/// let report = selvedge::explore(
///     selvedge::Config { strategy: selvedge::Strategy::Dfs, ..Default::default() },
///     || {
///         let m = Arc::new(Mutex::new(0));
///         let m2 = m.clone();
///         let t = selvedge::thread::spawn(move || *m2.lock().unwrap() += 1);
///         *m.lock().unwrap() += 1;
///         t.join().unwrap();
///         assert_eq!(*m.lock().unwrap(), 2);
///     },
/// );
/// assert!(report.failure().is_none());
/// assert!(report.complete());
/// assert!(report.schedules() > 1);
/// ```
#[derive(Clone, Debug)]
pub struct Report {
    pub(crate) schedules: u64,
    pub(crate) coverage: Coverage,
    pub(crate) failure: Option<Failure>,
    pub(crate) error: Option<crate::Error>,
    pub(crate) budget_note: Option<String>,
    pub(crate) digest: u64,
    pub(crate) explored: Vec<String>,
    pub(crate) redundant: u64,
}

impl Report {
    /// Executions run.
    pub fn schedules(&self) -> u64 {
        self.schedules
    }

    /// Whether every interleaving was run (exhaustive strategies, no failure, no budget hit).
    pub fn complete(&self) -> bool {
        self.coverage == Coverage::Complete && self.failure.is_none()
    }

    /// `"complete"`, `"complete up to k preemptions"` or `"sampled N schedules"`.
    pub fn coverage(&self) -> String {
        match self.coverage {
            Coverage::Complete => "complete".to_string(),
            Coverage::CompleteUpTo(k) => format!("complete up to {k} preemptions"),
            Coverage::Sampled => format!("sampled {} schedules", self.schedules),
        }
    }

    /// The bug found, if any.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// Why the exploration could not run as asked (a malformed replay string, a bad config).
    pub fn error(&self) -> Option<&crate::Error> {
        self.error.as_ref()
    }

    /// Why exploration stopped before the strategy was done, if a budget stopped it.
    pub fn budget_note(&self) -> Option<&str> {
        self.budget_note.as_deref()
    }

    /// A hash of every schedule run, in order: equal digests mean the same executions.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// Executions that DPOR ended early because every continuation was already covered
    /// (they are included in `schedules`).
    pub fn redundant_schedules(&self) -> u64 {
        self.redundant
    }

    /// Every schedule run, as replay strings, when `Config::keep_schedules` was set.
    pub fn explored(&self) -> &[String] {
        &self.explored
    }
}
