//! `Error`: selvedge could not do what was asked (as opposed to a `Failure`, which is a bug
//! found in the code under test).

use std::fmt;

/// What kind of request could not be carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A replay string that is not one selvedge wrote.
    MalformedSchedule,
    /// An environment variable (`SELVEDGE_*`, `LOOM_*`) with a value that cannot be used.
    BadEnvironment,
    /// A `Config` whose values contradict each other or are out of range.
    BadConfig,
    /// selvedge itself failed (an engine assertion): a bug in selvedge, not in the code under
    /// test. The message has the replay string when an execution was running.
    Internal,
}

/// An error that says what was wrong and what to do about it.
///
/// ```
/// let report = selvedge::explore(
///     selvedge::Config {
///         strategy: selvedge::Strategy::Replay("not a schedule".into()),
///         ..Default::default()
///     },
///     || {},
/// );
/// let error = report.error().unwrap();
/// assert_eq!(error.kind(), selvedge::ErrorKind::MalformedSchedule);
/// assert!(error.to_string().contains("copy the whole string"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn malformed_schedule(message: String) -> Error {
        Error {
            kind: ErrorKind::MalformedSchedule,
            message,
        }
    }

    pub(crate) fn bad_environment(message: String) -> Error {
        Error {
            kind: ErrorKind::BadEnvironment,
            message,
        }
    }

    pub(crate) fn bad_config(message: String) -> Error {
        Error {
            kind: ErrorKind::BadConfig,
            message,
        }
    }

    pub(crate) fn internal(message: String) -> Error {
        Error {
            kind: ErrorKind::Internal,
            message,
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
