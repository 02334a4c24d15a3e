//! `Verdict`: what a scenario runner concluded from the model's `Report`, in three outcomes
//! that are never blurred: proved (every interleaving ran), no failure found (a sample, or a
//! search a budget cut short), fails (with the failure's report and replay string); plus the
//! model refusing to run.

use std::fmt;

use crate::{Error, Failure, Report};

/// What running a scenario under the model concluded.
///
/// ```
/// use selvedge::chaos::{DeadlockScenario, Verdict};
///
/// let crossed = DeadlockScenario { threads: vec![vec![0, 1], vec![1, 0]], timeout: None };
/// match crossed.check() {
///     Verdict::Fails(failure) => assert_eq!(failure.kind(), selvedge::FailureKind::Deadlock),
///     other => panic!("expected a deadlock, got {other}"),
/// }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Verdict {
    /// Every interleaving ran and none failed.
    Proved {
        /// Executions run.
        schedules: u64,
    },
    /// The executions that ran found no failure, but they were not every interleaving: a
    /// randomized strategy's sample, or an exhaustive search a budget cut short.
    NoFailureFound {
        /// Executions run.
        schedules: u64,
        /// Why the search is not complete (the report's coverage and budget note).
        note: String,
    },
    /// An interleaving fails: the failure prints the report, and carries the replay string.
    Fails(Box<Failure>),
    /// The model could not run the scenario.
    Refused(Error),
}

impl Verdict {
    /// Reads a report: its error, its failure, and whether its search was complete.
    pub fn from_report(report: &Report) -> Verdict {
        if let Some(error) = report.error() {
            return Verdict::Refused(error.clone());
        }
        if let Some(failure) = report.failure() {
            return Verdict::Fails(Box::new(failure.clone()));
        }
        if report.complete() {
            Verdict::Proved {
                schedules: report.schedules(),
            }
        } else {
            let mut note = report.coverage();
            if let Some(budget) = report.budget_note() {
                note = format!("{note}: {budget}");
            }
            Verdict::NoFailureFound {
                schedules: report.schedules(),
                note,
            }
        }
    }

    /// Every interleaving ran and none failed.
    pub fn is_proved(&self) -> bool {
        matches!(self, Verdict::Proved { .. })
    }

    /// No failure and no error (proved, or none found in what ran).
    pub fn passed(&self) -> bool {
        matches!(
            self,
            Verdict::Proved { .. } | Verdict::NoFailureFound { .. }
        )
    }

    /// The failure, if an interleaving fails.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Verdict::Fails(failure) => Some(failure),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Proved { schedules } => {
                write!(
                    f,
                    "proved: every interleaving ran ({schedules} schedules), none failed"
                )
            }
            Verdict::NoFailureFound { schedules, note } => {
                write!(f, "no failure found in {schedules} schedules ({note})")
            }
            Verdict::Fails(failure) => write!(f, "{failure}"),
            Verdict::Refused(error) => write!(f, "the model refused the scenario: {error}"),
        }
    }
}
