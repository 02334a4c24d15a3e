//! What `syncpoint!` does at run time: nothing outside a selvedge run (one relaxed load of
//! `ACTIVE`), a scheduling point inside a model, and a turn boundary inside the orchestra —
//! blocking for threads, awaited for async tasks; on a thread with a `syncpoint_hook` (the
//! stress harness's), the hook hears it first.
//!
//! `syncpoint!()` evaluates to a [`Syncpoint`]. As a statement (`syncpoint!();`) the value is
//! dropped at once and its `Drop` takes the point, blocking the calling thread until its task
//! has the turn again. In async code `syncpoint!().await` turns it into a future instead, which
//! waits for the turn without holding the runtime's worker thread.
//!
//! Invariant: `ACTIVE` is above zero while any exploration runs (`explore_with` holds an
//! `Active`), while any orchestra task thread lives and while any thread has a syncpoint hook; only then does a syncpoint read a
//! thread-local. Everything a thread a run started can see was counted before it started.

use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// Explorations running, plus live orchestra task threads.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Counts one exploration (or orchestra task thread) in `ACTIVE` while it lives.
pub(crate) struct Active(());

impl Active {
    pub(crate) fn enter() -> Active {
        ACTIVE.fetch_add(1, Ordering::Relaxed);
        Active(())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Is any selvedge run active in this process? The whole cost of a syncpoint outside one.
#[inline(always)]
pub(crate) fn any_run_active() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0
}

/// A syncpoint, as `syncpoint!()` makes it: taken when dropped (blocking), or awaited.
///
/// Outside any selvedge run, dropping it costs one relaxed atomic load; awaiting it returns at
/// once. Inside a model it is a scheduling point; inside the orchestra, the calling task's turn
/// ends here and the call returns when the task has the turn again.
///
/// ```
/// // As a statement: blocks (in a thread) until this task's next turn.
/// selvedge::syncpoint!();
/// // In async code: waits for the turn without blocking the runtime's thread.
/// async fn step() {
///     selvedge::syncpoint!("before commit").await;
/// }
/// ```
pub struct Syncpoint {
    name: Option<&'static str>,
    location: &'static Location<'static>,
    /// Turned into a future: the drop must not take the point as well.
    taken: bool,
}

impl Syncpoint {
    #[doc(hidden)]
    #[inline(always)]
    pub fn new(name: Option<&'static str>, location: &'static Location<'static>) -> Syncpoint {
        Syncpoint {
            name,
            location,
            taken: false,
        }
    }
}

impl Drop for Syncpoint {
    #[inline(always)]
    fn drop(&mut self) {
        if any_run_active() && !self.taken {
            take_blocking(self.name, None, self.location);
        }
    }
}

/// The slow path of a blocking syncpoint: inside a model or an orchestra task.
#[cold]
#[inline(never)]
pub(crate) fn take_blocking(
    name: Option<&'static str>,
    detail: Option<&str>,
    location: &'static Location<'static>,
) {
    if crate::runtime::in_model() {
        crate::runtime::point_at(crate::runtime::OpKind::Syncpoint, None, location);
        return;
    }
    crate::syncpoint_hook::passed(name, location);
    crate::orchestra::syncpoint_blocking(name, detail, location);
}

impl IntoFuture for Syncpoint {
    type Output = ();
    type IntoFuture = SyncpointFuture;

    fn into_future(mut self) -> SyncpointFuture {
        self.taken = true;
        SyncpointFuture {
            name: self.name,
            location: self.location,
            waiting: None,
        }
    }
}

/// `syncpoint!().await`: waits for the calling async task's next turn without blocking the
/// runtime's worker thread; ready at once outside the orchestra.
#[must_use = "futures do nothing unless awaited"]
pub struct SyncpointFuture {
    name: Option<&'static str>,
    location: &'static Location<'static>,
    waiting: Option<crate::orchestra::Waiting>,
}

impl Future for SyncpointFuture {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !any_run_active() {
            return Poll::Ready(());
        }
        if self.waiting.is_none() {
            if crate::runtime::in_model() {
                crate::runtime::point_at(crate::runtime::OpKind::Syncpoint, None, self.location);
                return Poll::Ready(());
            }
            crate::syncpoint_hook::passed(self.name, self.location);
            match crate::orchestra::arrive_async(self.name, self.location) {
                Some(waiting) => self.waiting = Some(waiting),
                None => return Poll::Ready(()),
            }
        }
        let waiting = self.waiting.as_ref().expect("set above");
        crate::orchestra::poll_turn(waiting, cx)
    }
}
