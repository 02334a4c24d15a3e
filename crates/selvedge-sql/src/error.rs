//! The crate's one error type: what could not be done (start a server, reach it, parse a
//! URL) and what to do about it, in one sentence a test failure can show as is.
//!
//! Invariant: a message says what happened, then what to do, lowercase, values in backticks,
//! the knob named; `Debug` prints the same text, so `unwrap()` shows it unchanged.

use std::fmt;

/// Why a throwaway server or the proxy could not do what was asked.
///
/// ```
/// use selvedge_sql::postgres::Proxy;
///
/// let err = Proxy::start("mysql://localhost/app").unwrap_err();
/// assert_eq!(err.kind(), selvedge_sql::ErrorKind::BadUrl);
/// assert!(err.to_string().contains("`postgres://` or `postgresql://`"), "{err}");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// What kind of thing went wrong; see [`Error::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The PostgreSQL server binaries (`initdb`, `postgres`) are not installed where we look.
    ServerNotInstalled,
    /// `initdb` failed or the server exited or never became ready.
    ServerStart,
    /// The port asked for is taken by another program.
    PortInUse,
    /// A connection URL that the proxy cannot use.
    BadUrl,
    /// A query the test support ran itself failed.
    Database,
    /// The operating system refused something (a directory, a socket, a process).
    Io,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
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
