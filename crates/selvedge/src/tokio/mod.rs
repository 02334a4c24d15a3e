//! A tokio-shaped facade over selvedge's async model: write `use selvedge::tokio as tokio;`
//! (or rename the dependency in Cargo.toml under `cfg(test)`) and a tokio test body runs under
//! the model, its tasks scheduled and its time virtual.
//!
//! Covered: `spawn`, `task::{spawn, yield_now, JoinHandle, JoinError, AbortHandle}`,
//! `time::{sleep, sleep_until, timeout, timeout_at, interval, Instant, Duration}`,
//! `sync::Mutex` (with owned guards). I/O, networking, the file system, signals and processes
//! are not modelled: code that needs them belongs in selvedge's orchestra (real code on a real
//! runtime, interleaved at syncpoints), or behind a trait the test replaces with channels.
//!
//! ```
//! use selvedge::tokio;
//! use std::sync::Arc;
//!
//! selvedge::model(|| {
//!     selvedge::future::block_on(async {
//!         let total = Arc::new(tokio::sync::Mutex::new(0));
//!         let t = total.clone();
//!         let task = tokio::spawn(async move { *t.lock().await += 1 });
//!         *total.lock().await += 1;
//!         task.await.unwrap();
//!         assert_eq!(*total.lock().await, 2);
//!     });
//! });
//! ```

pub mod sync;

pub use crate::future::spawn;

/// Tasks: spawning, yielding, joining, aborting.
pub mod task {
    pub use crate::future::{spawn, yield_now, AbortHandle, JoinError, JoinHandle};
}

/// Virtual time (see [`crate::time`]).
pub mod time {
    pub use crate::time::{
        interval, interval_at, sleep, sleep_until, timeout, timeout_at, Elapsed, Instant, Interval,
        Sleep, Timeout,
    };
    pub use std::time::Duration;

    /// tokio's `time::error`.
    pub mod error {
        pub use crate::time::Elapsed;
    }
}
