//! The words and tables of an `Outcome`: the Markdown summary (one row per run, one column per
//! invariant), the latency and recovery tables, and the human report (`Display`).
//!
//! Invariant: this is the only place that formats an outcome as text; it reads plain data and
//! decides nothing.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::outcome::{Activity, Outcome, Percentiles, Planned};

/// One Markdown table with a row per outcome: `Test | Threads | Duration | Iterations |
/// Deadlocks | Errors` and one column per invariant (every invariant any outcome has, in the
/// order first seen; `–` where an outcome lacks it).
///
/// ```
/// use selvedge::stress::{markdown_summary, Stress};
///
/// let quick = Stress::new("quick").threads(2).iterations(10).op("nop", 1, |_| {}).run();
/// let checked = Stress::new("checked").threads(2).iterations(10).op("nop", 1, |_| {})
///     .invariant("lost", || 0u64).run();
/// let table = markdown_summary(&[&quick, &checked]);
/// assert!(table.starts_with("| Test | Threads | Duration | Iterations | Deadlocks | Errors | lost |"));
/// assert!(table.contains("| quick | 2 |"));
/// ```
pub fn markdown_summary(outcomes: &[&Outcome]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for outcome in outcomes {
        for invariant in &outcome.invariants {
            if !columns.contains(&invariant.name.as_str()) {
                columns.push(&invariant.name);
            }
        }
    }
    let mut out = String::from("| Test | Threads | Duration | Iterations | Deadlocks | Errors |");
    for column in &columns {
        let _ = write!(out, " {} |", escape(column));
    }
    out.push_str("\n|---|---:|---:|---:|---:|---:|");
    for _ in &columns {
        out.push_str("---:|");
    }
    out.push('\n');
    for outcome in outcomes {
        let _ = write!(
            out,
            "| {} | {} | {:.2}s | {} | {} | {} |",
            escape(&outcome.name),
            outcome.threads,
            outcome.elapsed.as_secs_f64(),
            thousands(outcome.iterations),
            outcome.deadlocks(),
            thousands(outcome.errors)
        );
        for column in &columns {
            let cell = match outcome.invariants.iter().find(|i| i.name == *column) {
                None => "–".to_string(),
                Some(i) if !i.checked_at_end => {
                    format!("{} (end check parked)", thousands(i.violations))
                }
                Some(i) => thousands(i.violations),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

impl Outcome {
    /// The summary table (see [`markdown_summary`]), then a latency table per operation
    /// (count, errors, p50, p95, p99, max) and, with faults, a recovery table.
    ///
    /// ```
    /// let outcome = selvedge::stress::Stress::new("md").threads(2).iterations(10)
    ///     .op("nop", 1, |_| {}).run();
    /// let md = outcome.to_markdown();
    /// assert!(md.contains("| Operation | Weight | Count | Errors | p50 | p95 | p99 | max |"));
    /// assert!(md.contains("| nop | 1 | 20 | 0 |"));
    /// ```
    pub fn to_markdown(&self) -> String {
        let mut out = markdown_summary(&[self]);
        out.push_str("\n| Operation | Weight | Count | Errors | p50 | p95 | p99 | max |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for op in &self.operations {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                escape(&op.name),
                op.weight,
                thousands(op.count),
                thousands(op.errors),
                percentile_cells(op.latency.as_ref())
            );
        }
        if !self.faults.is_empty() {
            out.push_str("\n| Fault | Injected | Recovered | Recovery p50 | p95 | p99 | max |\n");
            out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
            for fault in &self.faults {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    escape(&fault.name),
                    thousands(fault.injected),
                    thousands(fault.recovered),
                    percentile_cells(fault.recovery.as_ref())
                );
            }
        }
        out
    }
}

fn percentile_cells(p: Option<&Percentiles>) -> String {
    match p {
        Some(p) => format!(
            "{} | {} | {} | {}",
            human(p.p50),
            human(p.p95),
            human(p.p99),
            human(p.max)
        ),
        None => "– | – | – | –".to_string(),
    }
}

fn escape(cell: &str) -> String {
    cell.replace('|', "\\|").replace('\n', " ")
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A latency a person reads at a glance: `850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s`.
pub(crate) fn human(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else {
        format!("{:.2} s", ns / 1_000_000_000.0)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let planned = match self.planned {
            Planned::Iterations(n) => format!("{} per thread", thousands(n)),
            Planned::Duration(d) => format!("for {}", human(d)),
        };
        writeln!(
            f,
            "stress `{}`: {} threads, {} iterations in {:.2}s (planned: {planned}), seed {}",
            self.name,
            self.threads,
            thousands(self.iterations),
            self.elapsed.as_secs_f64(),
            self.seed
        )?;
        writeln!(f)?;
        f.write_str(&self.to_markdown())?;
        if !self.error_samples.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "errors ({} in all; distinct messages, most frequent first):",
                thousands(self.errors)
            )?;
            for sample in &self.error_samples {
                writeln!(
                    f,
                    "  {}x `{}`: {}",
                    thousands(sample.count),
                    sample.operation,
                    sample.message
                )?;
            }
        }
        for invariant in self.invariants.iter().filter(|i| i.violations > 0) {
            writeln!(
                f,
                "invariant `{}` violated {} times in {} checks",
                invariant.name,
                thousands(invariant.violations),
                thousands(invariant.checks)
            )?;
        }
        let watchdog = &self.watchdog;
        if watchdog.fired {
            writeln!(f)?;
            let after = match self.planned {
                Planned::Iterations(_) => "after the start".to_string(),
                Planned::Duration(_) => "after the planned end".to_string(),
            };
            if watchdog.stuck.is_empty() {
                writeln!(
                    f,
                    "watchdog: {} threads were not done {} {after}, but stopped within the grace \
                     period: slow, not stuck; the run was cut short (raise `watchdog`)",
                    watchdog.stopped_late,
                    human(watchdog.deadline)
                )?;
            } else {
                writeln!(
                    f,
                    "deadlock: {} of {} threads were not done at the watchdog's deadline ({} {after}):",
                    watchdog.stuck.len(),
                    self.threads,
                    human(watchdog.deadline)
                )?;
                for stuck in &watchdog.stuck {
                    let doing = match &stuck.activity {
                        Activity::Starting => "waiting at the start barrier".to_string(),
                        Activity::BetweenOps => "between operations".to_string(),
                        Activity::Operation(op) => format!("in operation `{op}`"),
                        Activity::Fault(fault) => format!("injecting fault `{fault}`"),
                        Activity::Invariant(inv) => format!("checking invariant `{inv}`"),
                    };
                    let syncpoint = match (&stuck.last_syncpoint, stuck.since_syncpoint) {
                        (Some(at), Some(since)) => format!(
                            "last syncpoint {}{at}, passed {} before the deadline",
                            match &stuck.last_syncpoint_name {
                                Some(name) => format!("`{name}` at "),
                                None => String::new(),
                            },
                            human(since)
                        ),
                        _ => "no syncpoint passed".to_string(),
                    };
                    writeln!(
                        f,
                        "  {} (thread {}): iteration {}, {doing}, {syncpoint}",
                        stuck.name,
                        stuck.thread,
                        thousands(stuck.iteration)
                    )?;
                }
                writeln!(
                    f,
                    "{} were left parked, not joined: they keep whatever they hold and the \
                     process can still exit; their latencies are missing from the tables; if \
                     they were only slow, raise `watchdog`",
                    if watchdog.stuck.len() == 1 {
                        "this thread"
                    } else {
                        "these threads"
                    }
                )?;
                if watchdog.stopped_late > 0 {
                    writeln!(
                        f,
                        "{} more threads were late but stopped within the grace period",
                        watchdog.stopped_late
                    )?;
                }
            }
        }
        if watchdog.parked_checks > 0 {
            let unchecked: Vec<&str> = self
                .invariants
                .iter()
                .filter(|i| !i.checked_at_end)
                .map(|i| i.name.as_str())
                .collect();
            writeln!(
                f,
                "end checks of {} did not return within {} and were left parked (a stuck \
                 thread may hold what they need)",
                unchecked
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                human(watchdog.deadline)
            )?;
        }
        Ok(())
    }
}
