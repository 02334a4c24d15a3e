//! Reports: what an exploration covered and, if it found a bug, the `Failure` explained:
//! what went wrong, the wait-for cycle of a deadlock, the interleaving as a table, and the
//! replay string with the command that replays it.
//!
//! Invariant: a report is built from a finished execution's plain data (trace, object table,
//! task names); nothing here touches the runtime or user values.

use std::fmt;
use std::panic::Location;

use crate::schedule::{fingerprint, Schedule};
use crate::strategy::Coverage;
use crate::trace::{
    BlockedTask, CellAccess, DataRace, Evidence, Execution, FailureKind, ObjectId, OpKind,
    RawFailure,
};

mod blocked;

impl fmt::Display for DataRace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = |a: &CellAccess| if a.write { "written" } else { "read" };
        write!(
            f,
            "{} is {} by {} at {} and {} by {} at {}, and nothing orders the two accesses: no \
             lock, join, channel, or Release/Acquire atomic pair between them (a `Relaxed` \
             atomic orders nothing)",
            self.cell,
            verb(&self.access),
            self.access.task_name,
            self.access.at,
            verb(&self.earlier),
            self.earlier.task_name,
            self.earlier.at,
        )
    }
}

#[derive(Clone, Debug)]
struct TraceRow {
    task: u32,
    task_name: String,
    operation: String,
    object: Option<String>,
    location: String,
    /// The virtual clock when the step ran, when the execution's clock moved at all.
    time_ns: Option<u64>,
    switch: bool,
    mark: RowMark,
}

/// What a row of the interleaving is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowMark {
    /// An operation performed.
    Performed,
    /// An operation that never completed: a task stuck in it when the execution ended.
    Stuck,
    /// Where the failing task panicked (not an operation).
    Panicked,
    /// Where the failing task ran off the end of its stack (not an operation).
    Overflowed,
}

/// How the failing execution was found, so the report can say how to get it again.
#[derive(Clone, Debug, Default)]
pub(crate) struct Provenance {
    pub(crate) strategy: String,
    pub(crate) seed: u64,
    pub(crate) schedule_number: u64,
    pub(crate) test_name: Option<String>,
    /// The entry point reads `SELVEDGE_REPLAY` (a test-facing one); `explore` does not.
    pub(crate) replay_by_env: bool,
    /// Found by the orchestra, whose replay goes through `Orchestra::config`.
    pub(crate) orchestra: bool,
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
    /// The execution's virtual clock at the end (sleeps and timeouts), in nanoseconds.
    virtual_ns: u64,
    /// A condvar wait or a park in it returned on its own (`Config::spurious_wakeups`).
    spurious_wakeup: bool,
    provenance: Provenance,
}

impl Failure {
    /// Renders `raw`, found in `execution`, from the execution's plain data alone.
    pub(crate) fn from_execution(
        raw: RawFailure,
        execution: &Execution,
        provenance: Provenance,
    ) -> Failure {
        let names = &execution.names;
        let trace = &execution.trace;
        let object_name = |id: Option<ObjectId>| id.map(|o| names.object(o).to_string());
        let mut rows = Vec::with_capacity(trace.len() + raw.blocked.len() + 1);
        let timed = !execution.clock_marks.is_empty();
        let mut marks = execution.clock_marks.iter().peekable();
        let mut now_ns = 0u64;
        // Rows before each trace event (clock moves are events but not rows).
        let mut rows_before = Vec::with_capacity(trace.len() + 1);
        for (i, event) in trace.iter().enumerate() {
            rows_before.push(rows.len());
            while let Some(&&(at, ns)) = marks.peek() {
                if at as usize > i {
                    break;
                }
                now_ns = ns;
                marks.next();
            }
            if event.op.kind == OpKind::ClockAdvance {
                // Shown as the time column moving on, not as a step.
                continue;
            }
            let object = match event.op.kind {
                OpKind::Join(t)
                | OpKind::Unpark(t)
                | OpKind::Spawn(t)
                | OpKind::MayWake(t)
                | OpKind::CondvarWakes(t) => Some(names.task(t).to_string()),
                _ => object_name(event.op.object),
            };
            let mut notes = Vec::new();
            if event.unwinding {
                // Run by a drop while the task unwound from its panic, not by its own code.
                notes.push("while unwinding");
            }
            if matches!(
                event.op.kind,
                OpKind::BarrierBlocked(_) | OpKind::SendWait(_)
            ) {
                // The second step of a call that had to wait: the one at which it returns.
                notes.push("returns");
            }
            if matches!(
                event.op.kind,
                OpKind::NotifyOne | OpKind::CondvarNotifyOne | OpKind::CondvarNotifyAll
            ) {
                // A notify wakes its waiters right away. Having none is not a bug by itself:
                // a waiter that comes later and misses it is, and the blocked-task list
                // says so.
                let woke = trace.get(i + 1).is_some_and(|next| {
                    next.task == event.task
                        && matches!(next.op.kind, OpKind::MayWake(_) | OpKind::CondvarWakes(_))
                });
                if !woke {
                    notes.push("no waiter");
                }
            }
            if matches!(event.op.kind, OpKind::Sleep(_)) {
                notes.insert(0, "virtual");
            }
            rows.push(TraceRow {
                task: event.task.0,
                task_name: names.task(event.task).to_string(),
                operation: operation_cell(event.op, &notes),
                time_ns: timed.then_some(now_ns),
                object,
                location: location_cell(event.op.kind, event.op.location),
                switch: false,
                mark: RowMark::Performed,
            });
        }
        if let (Evidence::Panics(panics), Some((task, name))) = (&raw.evidence, &raw.task) {
            // A panic came after the first `trace_len` events; any later ones of this task
            // ran while it unwound. Latest first, so earlier positions stay valid.
            rows_before.push(rows.len());
            for panic in panics.iter().rev() {
                rows.insert(
                    rows_before[panic.trace_len.min(trace.len())],
                    TraceRow {
                        task: *task,
                        time_ns: None,
                        task_name: name.clone(),
                        operation: "panicked".to_string(),
                        object: None,
                        location: panic.location.clone(),
                        switch: false,
                        mark: RowMark::Panicked,
                    },
                );
            }
        }
        if let (Evidence::StackOverflow { after }, Some((task, name))) = (&raw.evidence, &raw.task)
        {
            rows.push(TraceRow {
                task: *task,
                time_ns: None,
                task_name: name.clone(),
                operation: "overflowed its stack".to_string(),
                object: None,
                location: format!("after {after}, its last scheduling point"),
                switch: false,
                mark: RowMark::Overflowed,
            });
        }
        if raw.kind == FailureKind::Deadlock {
            for b in &raw.blocked {
                rows.push(TraceRow {
                    task: b.task,
                    time_ns: timed.then_some(now_ns),
                    task_name: b.name.clone(),
                    operation: b.call(),
                    object: b.object_label(),
                    location: b.location.to_string(),
                    switch: false,
                    mark: RowMark::Stuck,
                });
            }
        }
        for i in 1..rows.len() {
            rows[i].switch = rows[i].task != rows[i - 1].task;
        }
        let schedule = Schedule {
            fingerprint: fingerprint(trace),
            choices: execution.choices.clone(),
            data_seed: execution.data_seed,
        }
        .encode();
        Failure {
            kind: raw.kind,
            preemptions: execution.preemptions,
            virtual_ns: execution.virtual_ns,
            // The hint is for a failure a spurious wakeup may explain: the failing task's own
            // (a deadlock's cause is never one; it only lets a waiter go on).
            spurious_wakeup: raw.kind != FailureKind::Deadlock
                && trace.iter().any(|e| {
                    e.op.kind == OpKind::WokeSpuriously
                        && raw.task.as_ref().is_none_or(|(t, _)| e.task.0 == *t)
                }),
            minimised_from: None,
            message: match &raw.evidence {
                Evidence::DataRace(race) => race.to_string(),
                _ => raw.message,
            },
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
        // A livelock lists spinning tasks too, which are not blocked.
        let which = match self.kind {
            FailureKind::Livelock => "unfinished",
            _ => "blocked",
        };
        writeln!(f, "\n{which} tasks (who waits for what, and who holds it):")?;
        for b in &self.blocked {
            b.write_entry(f)?;
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
                .and_then(BlockedTask::waits_on_task)
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
        let performed = self.rows.iter().filter(|r| r.mark == RowMark::Performed);
        let switches = performed.clone().filter(|r| r.switch).count();
        let n_performed = performed.count();
        let minimised = match self.minimised_from {
            Some(from) => format!(", minimised from {from}"),
            None => String::new(),
        };
        writeln!(
            f,
            "\ninterleaving ({}, {}, {}{minimised}; `>` marks a switch{}):",
            plural(n_performed as u64, "operation"),
            plural(switches as u64, "context switch"),
            plural(self.preemptions as u64, "preemption"),
            legend(&self.rows),
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
        // A time column only when the virtual clock moved: most tests never sleep.
        let timed = self.rows.iter().any(|r| r.time_ns.is_some());
        let times: Vec<String> = self
            .rows
            .iter()
            .map(|r| r.time_ns.map(virtual_time).unwrap_or_default())
            .collect();
        let time_width = times
            .iter()
            .map(|t| t.chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        let time_cell = |text: &str| {
            if timed {
                format!("{text:>time_width$}  ")
            } else {
                String::new()
            }
        };
        writeln!(
            f,
            "     step  {}{:task_width$}  {:op_width$}  {:obj_width$}  location",
            time_cell("time"),
            "task",
            "operation",
            "object"
        )?;
        let lines = collapse_repeats(&self.rows, &times);
        let max = crate::limits::REPORT_MAX_ROWS;
        let skip = lines.len().saturating_sub(max);
        let head = if skip > 0 { max / 4 } else { lines.len() };
        for (n, line) in lines.iter().enumerate() {
            if skip > 0 && n == head {
                let hidden: usize = lines[head..head + skip].iter().map(Line::steps).sum();
                writeln!(
                    f,
                    "     ...  ({} not shown)",
                    plural(hidden as u64, "operation")
                )?;
            }
            if skip > 0 && n >= head && n < head + skip {
                continue;
            }
            let i = match *line {
                Line::Row(i) => i,
                Line::Repeat { first, last } => {
                    writeln!(
                        f,
                        "     ...  (steps {}-{}: the same operation {} more times)",
                        first + 1,
                        last + 1,
                        last - first + 1
                    )?;
                    continue;
                }
            };
            let row = &self.rows[i];
            writeln!(
                f,
                "  {} {:5}  {}{:task_width$}  {:op_width$}  {:obj_width$}  {}",
                match (row.mark, row.switch) {
                    (RowMark::Stuck, _) => '!',
                    (RowMark::Panicked | RowMark::Overflowed, _) => 'x',
                    (RowMark::Performed, true) => '>',
                    (RowMark::Performed, false) => ' ',
                },
                i + 1,
                time_cell(&times[i]),
                row.task_name,
                row.operation,
                row.object.as_deref().unwrap_or("-"),
                row.location
            )?;
        }
        Ok(())
    }
}

/// A line of the interleaving table: a step, or a run of steps that repeat the one before.
enum Line {
    Row(usize),
    Repeat { first: usize, last: usize },
}

impl Line {
    fn steps(&self) -> usize {
        match *self {
            Line::Row(_) => 1,
            Line::Repeat { first, last } => last - first + 1,
        }
    }
}

/// The table's lines: a run of at least `MIN_RUN` steps that each repeat the step before
/// exactly (same task, operation, object, place and time: a spin loop, a livelock) shows its
/// first and last step, and one line for the rest.
fn collapse_repeats(rows: &[TraceRow], times: &[String]) -> Vec<Line> {
    const MIN_RUN: usize = 5;
    let repeats = |a: usize, b: usize| {
        let (x, y) = (&rows[a], &rows[b]);
        x.mark == RowMark::Performed
            && y.mark == RowMark::Performed
            && !y.switch
            && x.task_name == y.task_name
            && x.operation == y.operation
            && x.object == y.object
            && x.location == y.location
            && times[a] == times[b]
    };
    let mut lines = Vec::with_capacity(rows.len());
    let mut i = 0;
    while i < rows.len() {
        let mut end = i + 1;
        while end < rows.len() && repeats(i, end) {
            end += 1;
        }
        if end - i >= MIN_RUN {
            lines.push(Line::Row(i));
            lines.push(Line::Repeat {
                first: i + 1,
                last: end - 2,
            });
            lines.push(Line::Row(end - 1));
        } else {
            lines.extend((i..end).map(Line::Row));
        }
        i = end;
    }
    lines
}

/// The marks after `>` that the table uses, for its heading.
fn legend(rows: &[TraceRow]) -> String {
    let mut legend = String::new();
    if rows.iter().any(|r| r.mark == RowMark::Stuck) {
        legend.push_str(", `!` an operation that never returns");
    }
    if rows.iter().any(|r| r.mark == RowMark::Panicked) {
        legend.push_str(", `x` where a task panicked");
    }
    if rows.iter().any(|r| r.mark == RowMark::Overflowed) {
        legend.push_str(", `x` where a task overflowed its stack");
    }
    legend
}

/// A row's operation: `await` when an async task waited for it, its name (with a sleep's
/// duration), then any notes on this step in one pair of parentheses.
fn operation_cell(op: crate::trace::Op, notes: &[&str]) -> String {
    let mut cell = String::new();
    if op.awaited {
        cell.push_str("await ");
    }
    cell.push_str(op.kind.name());
    if let OpKind::Sleep(ns) = op.kind {
        cell.push(' ');
        cell.push_str(&virtual_time(ns));
    }
    if !notes.is_empty() {
        cell.push_str(&format!(" ({})", notes.join(", ")));
    }
    cell
}

/// A virtual duration as people write it: `5s`, `1.5s`, `250ms`, `1h`, `90m`.
pub(crate) fn virtual_time(ns: u64) -> String {
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000 * MS;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;
    match ns {
        0 => "0s".to_string(),
        n if n % H == 0 => format!("{}h", n / H),
        n if n % M == 0 => format!("{}m", n / M),
        n if n >= S => format!("{}s", trim(n as f64 / S as f64)),
        n if n >= MS => format!("{}ms", trim(n as f64 / MS as f64)),
        n if n >= 1_000 => format!("{}µs", trim(n as f64 / 1_000.0)),
        n => format!("{n}ns"),
    }
}

/// `1.500` as `1.5`, `2.000` as `2`.
fn trim(x: f64) -> String {
    let text = format!("{x:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A row's location. Guard drops and task exits run in code with no useful caller, so they
/// are recorded at the site they stand for, and the cell says which.
fn location_cell(kind: OpKind, at: &Location<'_>) -> String {
    match kind {
        OpKind::Unlock | OpKind::ReadUnlock | OpKind::WriteUnlock => format!("{at} (locked here)"),
        OpKind::TaskExit => format!("{at} (spawned here)"),
        _ => at.to_string(),
    }
}

/// "1 schedule", "2 schedules", "3 context switches".
pub(crate) fn plural(n: u64, noun: &str) -> String {
    match (n, noun.ends_with("ch")) {
        (1, _) => format!("1 {noun}"),
        (_, true) => format!("{n} {noun}es"),
        _ => format!("{n} {noun}s"),
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "a panic", "a data race", but "nondeterminism", which is not counted.
        let article = match self.kind {
            FailureKind::Nondeterminism => "",
            _ => "a ",
        };
        writeln!(f, "selvedge found {article}{}: {}", self.kind, self.message)?;
        self.write_blocked(f)?;
        self.write_rows(f)?;
        let p = &self.provenance;
        writeln!(
            f,
            "\nfound in schedule {} with strategy {} (seed {})",
            p.schedule_number, p.strategy, p.seed
        )?;
        if self.virtual_ns > 0 {
            // Model time: sleeps and timeouts advance it at once, so it is not wall time.
            writeln!(
                f,
                "virtual time at the end: {:?} (sleeps and timeouts; none of it waited for)",
                std::time::Duration::from_nanos(self.virtual_ns)
            )?;
        }
        if self.spurious_wakeup {
            writeln!(
                f,
                "a wait woke spuriously here (the `woke spuriously` step: it returned without a \
                 notify, unpark or wake, as std's `Condvar::wait` and `thread::park` may, and a \
                 future may be polled)\n  re-check \
                 the condition in a loop around the wait (`Condvar::wait_while`), or set \
                 `Config::spurious_wakeups: false` for loom's behaviour"
            )?;
        }
        if self.kind == FailureKind::Nondeterminism {
            return write!(
                f,
                "(no replay string: the failure is that the code no longer follows a schedule)"
            );
        }
        writeln!(f, "replay string: {}", self.schedule)?;
        // The entry point said how a replay string comes back to it: `explore` reads no
        // environment, so it gets the string through its config.
        match (&p.test_name, p.replay_by_env) {
            (Some(name), true) => writeln!(
                f,
                "replay it:     SELVEDGE_REPLAY='{}' cargo test {} -- --exact",
                self.schedule, name
            )?,
            (None, true) => writeln!(
                f,
                "replay it:     SELVEDGE_REPLAY='{}' <the command that ran this test>",
                self.schedule
            )?,
            (_, false) if p.orchestra => {
                return write!(
                    f,
                    "replay it:     orchestra.config(Config {{ strategy: Strategy::Replay(\"{}\".into()), .. }}).explore()",
                    self.schedule
                )
            }
            (_, false) => writeln!(
                f,
                "replay it:     selvedge::explore(Config {{ strategy: Strategy::Replay(\"{}\".into()), .. }}, test)",
                self.schedule
            )?,
        }
        if p.orchestra {
            // The orchestra has no `replay(test, ..)` shorthand: `SELVEDGE_REPLAY` it is.
            return Ok(());
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
    pub(crate) executions: u64,
    pub(crate) coverage: Coverage,
    pub(crate) failure: Option<Failure>,
    pub(crate) error: Option<crate::Error>,
    pub(crate) budget_note: Option<String>,
    pub(crate) digest: u64,
    pub(crate) explored: Vec<String>,
    pub(crate) redundant: u64,
    /// The orchestra's turns per task in its first schedule.
    pub(crate) turns: Vec<usize>,
}

impl Report {
    /// A report of nothing run yet.
    pub(crate) fn empty() -> Report {
        Report {
            schedules: 0,
            executions: 0,
            coverage: Coverage::Sampled,
            failure: None,
            error: None,
            budget_note: None,
            digest: 0,
            explored: Vec::new(),
            redundant: 0,
            turns: Vec::new(),
        }
    }

    /// Executions run, in exploration order. With one worker, every execution started. With
    /// several (`Config::workers`), a search that finished, or found a failure, counts exactly
    /// what one worker runs, whatever work the workers did in parallel and threw away; a search
    /// stopped by a budget counts every execution started, never more than `max_schedules`.
    pub fn schedules(&self) -> u64 {
        self.schedules
    }

    /// Every execution started, including work parallel workers threw away (a branch run again
    /// because races found meanwhile extended it, a subtree past a failure). Equal to
    /// [`schedules`](Report::schedules) with one worker, and never more than `max_schedules`.
    pub fn executions_run(&self) -> u64 {
        self.executions
    }

    /// Whether every interleaving was run (exhaustive strategies, no failure, no budget hit).
    pub fn complete(&self) -> bool {
        self.coverage == Coverage::Complete && self.failure.is_none()
    }

    /// `"complete"`, `"complete up to k preemptions"`, `"sampled N schedules"` (a randomized
    /// strategy, or a search that ended at a failure) or `"incomplete after N schedules"` (a
    /// budget stopped the search first).
    pub fn coverage(&self) -> String {
        match self.coverage {
            Coverage::Complete => "complete".to_string(),
            Coverage::CompleteUpTo(k) => {
                format!("complete up to {}", plural(k as u64, "preemption"))
            }
            // A budget note is there exactly when a budget stopped the search.
            Coverage::Sampled if self.budget_note.is_some() => {
                format!("incomplete after {}", plural(self.schedules, "schedule"))
            }
            Coverage::Sampled => format!("sampled {}", plural(self.schedules, "schedule")),
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

    /// The orchestra's turn count of each task, in declaration order, in the first schedule it
    /// ran (with exhaustive search, the one where each task runs to its end in turn): one more
    /// than the counted syncpoints the task reached, as google's `orchestrate` counts (one
    /// per counted syncpoint with `Orchestra::turns_start_at_syncpoints`). Empty for the model.
    pub fn turn_counts(&self) -> &[usize] {
        &self.turns
    }

    /// Every schedule run, as replay strings, when `Config::keep_schedules` was set.
    pub fn explored(&self) -> &[String] {
        &self.explored
    }
}
