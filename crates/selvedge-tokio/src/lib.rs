//! selvedge's tokio-shaped facade ([`selvedge::tokio`]) at a crate root, so that a Cargo
//! rename swaps tokio for the model in a test build:
//!
//! ```toml
//! [dev-dependencies]
//! tokio = { package = "selvedge-tokio", version = "0.1" }
//! ```
//!
//! Then `tokio::spawn`, `tokio::sync::Mutex`, `tokio::select!` and `#[tokio::test]` in the
//! tests are selvedge's: each `#[tokio::test]` explores every interleaving of its tasks on
//! virtual time. [`selvedge::tokio`] lists what is covered, where the model differs from
//! tokio and what to do about I/O, networking and the file system, which are not modelled.
//!
//! ```
//! #[selvedge_tokio::test]
//! async fn two_tasks_share_a_counter() {
//!     let total = std::sync::Arc::new(selvedge_tokio::sync::Mutex::new(0));
//!     let t = total.clone();
//!     let task = selvedge_tokio::spawn(async move { *t.lock().await += 1 });
//!     *total.lock().await += 1;
//!     task.await.unwrap();
//!     assert_eq!(*total.lock().await, 2);
//! }
//! # fn main() {}
//! ```

pub use selvedge::tokio::*;

/// selvedge itself, for what `#[tokio::test]` expands to when only this crate is a
/// dependency.
#[doc(hidden)]
pub use selvedge as __selvedge;
