//! `stress::Error`: the harness could not do what was asked — a bad setting, an invariant that
//! panicked, a thread that could not be started. Violations, deadlocks and failing operations
//! are not errors: they are what a run measures, and they go in the `Outcome`.

use std::fmt;

/// What kind of request the harness could not carry out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A builder setting out of range, missing, or contradicting another one.
    BadConfig,
    /// An invariant closure panicked: it must return its count of violations instead.
    InvariantPanicked,
    /// The operating system refused to start a thread.
    Spawn,
}

/// Why a stress run could not be carried out: what was wrong, and what to do about it.
///
/// ```
/// let error = selvedge::stress::Stress::new("no threads")
///     .threads(0)
///     .op("noop", 1, |_| {})
///     .try_run()
///     .unwrap_err();
/// assert_eq!(error.kind(), selvedge::stress::ErrorKind::BadConfig);
/// assert_eq!(error.field(), "threads");
/// assert!(error.to_string().contains("`threads` is `0`"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    field: String,
    message: String,
}

impl Error {
    pub(crate) fn bad_config(field: &str, message: String) -> Error {
        Error {
            kind: ErrorKind::BadConfig,
            field: field.to_string(),
            message,
        }
    }

    pub(crate) fn invariant_panicked(name: &str, message: String) -> Error {
        Error {
            kind: ErrorKind::InvariantPanicked,
            field: "invariant".to_string(),
            message: format!(
                "invariant `{name}` panicked: {message}; an invariant returns its count of \
                 violations (or `false`) and must not panic: count the case it panicked on instead"
            ),
        }
    }

    pub(crate) fn spawn(thread: &str, cause: std::io::Error) -> Error {
        Error {
            kind: ErrorKind::Spawn,
            field: "threads".to_string(),
            message: format!(
                "could not start thread `{thread}`: {cause}; lower `threads` or raise the \
                 process's thread limit"
            ),
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The builder setting the error is about: `"threads"`, `"iterations"`, `"duration"`,
    /// `"watchdog"`, `"op"`, `"invariant"`, `"fault"`, `"shake"` or `"name"`.
    pub fn field(&self) -> &str {
        &self.field
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
