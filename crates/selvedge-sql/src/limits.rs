//! Every time limit and count the crate uses, in one place, each with why it is what it is.

use std::time::Duration;

/// How long `initdb` may take. It takes about a second; a minute means something is wrong.
pub(crate) const INITDB_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a started server may take to say it is ready (`postmaster.pid` reads `ready`).
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to stop after `SIGQUIT` before it is killed.
pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the support polls a starting or stopping server.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// Free ports picked when none is asked for; another program can take one between our probe
/// and the server's bind, so a few tries make that race harmless.
pub(crate) const PORT_ATTEMPTS: usize = 5;
/// Lines of a failed server's log quoted in the error.
pub(crate) const LOG_TAIL_LINES: usize = 6;
/// How long the proxy waits to reach the server for a new client connection.
pub(crate) const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// URLs from [`Proxy::url`](crate::postgres::Proxy::url) remembered for connections still to
/// come; past this the oldest, from schedules long finished, are forgotten.
pub(crate) const MAX_REGISTERED_URLS: usize = 65_536;
