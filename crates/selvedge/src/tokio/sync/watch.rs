//! tokio's `watch` channel: one value that a sender replaces and receivers look at, each
//! receiver remembering the last version it saw.
//!
//! A send, `subscribe` and dropping a handle are scheduling points that write the channel;
//! `borrow` is a read (borrows commute); `changed().await` is one scheduling point, a read,
//! enabled once a version this receiver has not seen is there or the sender is gone. As
//! tokio's send waits for the value's read lock, a send waits while another task holds a
//! `Ref` across a scheduling point, and a task that sends while holding one deadlocks.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::Location;
use std::sync::{Arc, RwLock as StdRwLock};
use std::task::Poll;

use crate::runtime::awaiting::Interest;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point_at, trace_len, with_state, ExecState, ObjectId, OpKind, TaskId};
use crate::tokio::waiting::{object_of, require_model, slot_mut, Owned, Wait};
use crate::trace::Query;

/// The errors of `watch` channels, as tokio's `watch::error`.
pub mod error {
    use std::fmt;

    send_error!("Every receiver is gone; the value comes back.");

    /// The sender is gone (and no version is left unseen).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RecvError(pub(super) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}
}

use error::{RecvError, SendError};

struct Shared<T> {
    object: Owned,
    value: StdRwLock<T>,
}

impl<T> Shared<T> {
    #[track_caller]
    fn id(&self, what: &str) -> ObjectId {
        self.object.id(what)
    }
}

#[derive(Clone, Copy)]
struct Seen {
    version: u64,
    sender_alive: bool,
    receivers: usize,
}

fn seen(s: &ExecState, id: ObjectId) -> Seen {
    match s.objects[id.index()].state {
        ObjectState::Watch {
            version,
            sender_alive,
            receivers,
            ..
        } => Seen {
            version,
            sender_alive,
            receivers,
        },
        _ => unreachable!("object is not a watch channel"),
    }
}

fn update(
    s: &mut ExecState,
    id: ObjectId,
    f: impl FnOnce(&mut u64, &mut bool, &mut usize, &mut usize),
) {
    match s.object(id) {
        ObjectState::Watch {
            version,
            sender_alive,
            receivers,
            borrows,
        } => f(version, sender_alive, receivers, borrows),
        _ => unreachable!("object is not a watch channel"),
    }
}

/// A watch channel holding `init` (inside a model).
///
/// ```
/// use selvedge::tokio::sync::watch;
///
/// selvedge::model(|| {
///     let (tx, mut rx) = watch::channel(0);
///     let task = selvedge::future::spawn(async move {
///         tx.send(1).unwrap();
///     });
///     selvedge::future::block_on(async {
///         // Sees 1, whether the send came before or after it started waiting.
///         rx.changed().await.unwrap();
///         assert_eq!(*rx.borrow_and_update(), 1);
///     });
///     selvedge::future::block_on(task).unwrap();
/// });
/// ```
#[track_caller]
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let object = Owned::register(
        "selvedge::tokio::sync::watch::channel",
        ObjectKind::Watch,
        ObjectState::Watch {
            version: 0,
            sender_alive: true,
            receivers: 1,
            borrows: 0,
        },
    );
    let shared = Arc::new(Shared {
        object,
        value: StdRwLock::new(init),
    });
    let at = Location::caller();
    (
        Sender {
            shared: shared.clone(),
            at,
        },
        Receiver {
            shared,
            seen: 0,
            at,
        },
    )
}

/// A look at the current value. Hold it briefly: while it is alive across a scheduling
/// point, senders wait.
pub struct Ref<'a, T> {
    guard: std::sync::RwLockReadGuard<'a, T>,
    id: ObjectId,
    changed: bool,
    taken_at_trace: usize,
    at: &'static Location<'static>,
}

impl<T> Ref<'_, T> {
    /// Was the value new to the receiver that borrowed it (always `false` from a sender)?
    pub fn has_changed(&self) -> bool {
        self.changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Drop for Ref<'_, T> {
    fn drop(&mut self) {
        let id = self.id;
        if crate::runtime::try_with_state(|_| ()).is_none() {
            return;
        }
        // Held across a scheduling point, other tasks may have seen it (a send waits for
        // it): its end is a step of its own.
        if trace_len() != self.taken_at_trace {
            point_at(OpKind::RefDrop, Some(id), self.at);
        }
        with_state("watch::Ref::drop", |s| {
            update(s, id, |_, _, _, borrows| *borrows -= 1)
        });
    }
}

/// Takes a look at the value, at a scheduling point that reads the channel.
fn look<'a, T>(
    shared: &'a Shared<T>,
    query: Query,
    seen_version: Option<&mut u64>,
    at: &'static Location<'static>,
) -> Ref<'a, T> {
    let id = shared.id("watch::borrow");
    point_at(OpKind::Query(query), Some(id), at);
    let version = with_state("watch::borrow", |s| {
        update(s, id, |_, _, _, borrows| *borrows += 1);
        s.hb_acquire(id);
        seen(s, id).version
    });
    let changed = match seen_version {
        Some(mine) => {
            let changed = *mine != version;
            if query == Query::BorrowAndUpdate {
                *mine = version;
            }
            changed
        }
        None => false,
    };
    Ref {
        guard: shared.value.read().unwrap_or_else(|e| e.into_inner()),
        id,
        changed,
        taken_at_trace: trace_len(),
        at,
    }
}

/// The sending half.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
    at: &'static Location<'static>,
}

impl<T> Sender<T> {
    /// Replaces the value and marks it new, unless every receiver is gone (then `value`
    /// comes back).
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let at = Location::caller();
        let id = self.shared.id("watch::Sender::send");
        point_at(OpKind::Send, Some(id), at);
        if with_state("watch::Sender::send", |s| seen(s, id).receivers) == 0 {
            return Err(SendError(value));
        }
        let old = self.replace(id, value);
        drop(old);
        Ok(())
    }

    /// Replaces the value whether or not any receiver is left; returns the old one.
    #[track_caller]
    pub fn send_replace(&self, value: T) -> T {
        let id = self.shared.id("watch::Sender::send_replace");
        point_at(OpKind::Send, Some(id), Location::caller());
        self.replace(id, value)
    }

    /// Changes the value in place and marks it new.
    #[track_caller]
    pub fn send_modify<F: FnOnce(&mut T)>(&self, modify: F) {
        self.send_if_modified_at(
            |value| {
                modify(value);
                true
            },
            Location::caller(),
        );
    }

    /// Changes the value in place; marks it new only if `modify` returns `true`.
    #[track_caller]
    pub fn send_if_modified<F: FnOnce(&mut T) -> bool>(&self, modify: F) -> bool {
        self.send_if_modified_at(modify, Location::caller())
    }

    fn send_if_modified_at<F: FnOnce(&mut T) -> bool>(
        &self,
        modify: F,
        at: &'static Location<'static>,
    ) -> bool {
        let id = self.shared.id("watch::Sender::send_modify");
        point_at(OpKind::Send, Some(id), at);
        let modified = {
            let mut value = self.shared.value.write().unwrap_or_else(|e| e.into_inner());
            modify(&mut value)
        };
        if modified {
            with_state("watch::Sender::send_modify", |s| {
                update(s, id, |version, _, _, _| *version += 1);
                s.hb_release(id);
            });
        }
        modified
    }

    /// Stores `value` as a new version, after the caller's scheduling point.
    fn replace(&self, id: ObjectId, value: T) -> T {
        let old = {
            let mut slot = self.shared.value.write().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *slot, value)
        };
        with_state("watch::Sender::send", |s| {
            update(s, id, |version, _, _, _| *version += 1);
            s.hb_release(id);
        });
        old
    }

    /// A look at the current value.
    #[track_caller]
    pub fn borrow(&self) -> Ref<'_, T> {
        look(&self.shared, Query::Borrow, None, Location::caller())
    }

    /// A new receiver that has seen the current value.
    #[track_caller]
    pub fn subscribe(&self) -> Receiver<T> {
        let id = self.shared.id("watch::Sender::subscribe");
        point_at(OpKind::Subscribe, Some(id), Location::caller());
        let version = with_state("watch::Sender::subscribe", |s| {
            update(s, id, |_, _, receivers, _| *receivers += 1);
            seen(s, id).version
        });
        Receiver {
            shared: self.shared.clone(),
            seen: version,
            at: self.at,
        }
    }

    /// Live receivers now.
    #[track_caller]
    pub fn receiver_count(&self) -> usize {
        let id = self.shared.id("watch::Sender::receiver_count");
        point_at(
            OpKind::Query(Query::ReceiverCount),
            Some(id),
            Location::caller(),
        );
        with_state("watch::Sender::receiver_count", |s| seen(s, id).receivers)
    }

    /// Is every receiver gone?
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        let id = self.shared.id("watch::Sender::is_closed");
        point_at(OpKind::Query(Query::IsClosed), Some(id), Location::caller());
        with_state("watch::Sender::is_closed", |s| seen(s, id).receivers == 0)
    }

    /// Waits until every receiver is gone.
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        let at = Location::caller();
        let mut wait = Wait::<()>::new();
        std::future::poll_fn(move |cx| {
            require_model("selvedge::tokio::sync::watch::Sender::closed");
            if wait.is_waiting() {
                return wait.poll(cx);
            }
            let id = self.shared.id("watch::Sender::closed");
            wait.start(cx, OpKind::Closed, id, (), no_receivers, nothing, at);
            Poll::Pending
        })
    }
}

fn no_receivers(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    seen(s, object_of(interest)).receivers == 0
}

fn nothing(_: &mut ExecState, _: TaskId, _: &Interest) {}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(id) = self.shared.object.live_id() else {
            return;
        };
        point_at(OpKind::DropSender, Some(id), self.at);
        with_state("watch::Sender::drop", |s| {
            update(s, id, |_, alive, _, _| *alive = false);
            s.hb_release(id);
        });
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Sender").finish_non_exhaustive()
    }
}

/// A receiving half: sees the latest value, and waits for new ones. Cloning it is not a
/// scheduling point.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver has seen.
    seen: u64,
    at: &'static Location<'static>,
}

/// What a `changed` wait saw at its grant: the version.
struct ChangedSlot {
    seen: u64,
    now: Option<u64>,
}

fn has_news(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    // SAFETY: registered by `Receiver::changed` with a `ChangedSlot`.
    let mine = unsafe { crate::tokio::waiting::slot_of::<ChangedSlot>(interest) }.seen;
    let now = seen(s, object_of(interest));
    now.version != mine || !now.sender_alive
}

fn see(s: &mut ExecState, _: TaskId, interest: &Interest) {
    let id = object_of(interest);
    // SAFETY: registered by `Receiver::changed` with a `ChangedSlot`.
    let slot = unsafe { slot_mut::<ChangedSlot>(interest) };
    slot.now = Some(seen(s, id).version);
    s.hb_acquire(id);
}

impl<T> Receiver<T> {
    /// A look at the current value (the version is not marked seen).
    #[track_caller]
    pub fn borrow(&self) -> Ref<'_, T> {
        let mut mine = self.seen;
        look(
            &self.shared,
            Query::Borrow,
            Some(&mut mine),
            Location::caller(),
        )
    }

    /// A look at the current value, marking its version seen.
    #[track_caller]
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        look(
            &self.shared,
            Query::BorrowAndUpdate,
            Some(&mut self.seen),
            Location::caller(),
        )
    }

    /// Is there a version this receiver has not seen? Errs once the sender is gone.
    #[track_caller]
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let id = self.shared.id("watch::Receiver::has_changed");
        point_at(
            OpKind::Query(Query::HasChanged),
            Some(id),
            Location::caller(),
        );
        let now = with_state("watch::Receiver::has_changed", |s| seen(s, id));
        if !now.sender_alive {
            return Err(RecvError(()));
        }
        Ok(now.version != self.seen)
    }

    /// Marks the current version unseen.
    pub fn mark_changed(&mut self) {
        self.seen = self.seen.wrapping_sub(1);
    }

    /// Waits for a version this receiver has not seen, and marks it seen; errs once the
    /// sender is gone with nothing new.
    #[track_caller]
    pub fn changed(&mut self) -> impl Future<Output = Result<(), RecvError>> + '_ {
        let at = Location::caller();
        let mut wait = Wait::<ChangedSlot>::new();
        std::future::poll_fn(move |cx| {
            require_model("selvedge::tokio::sync::watch::Receiver::changed");
            if wait.is_waiting() {
                return wait.poll(cx).map(|slot| {
                    let now = slot.now.expect("a granted wait saw the version");
                    if now != self.seen {
                        self.seen = now;
                        Ok(())
                    } else {
                        Err(RecvError(()))
                    }
                });
            }
            let id = self.shared.id("watch::Receiver::changed");
            let slot = ChangedSlot {
                seen: self.seen,
                now: None,
            };
            wait.start(cx, OpKind::Changed, id, slot, has_news, see, at);
            Poll::Pending
        })
    }

    /// Waits until the value satisfies `condition` (checked on the current value first), and
    /// returns a look at it.
    #[track_caller]
    pub fn wait_for<'a, F: FnMut(&T) -> bool + 'a>(
        &'a mut self,
        mut condition: F,
    ) -> impl Future<Output = Result<Ref<'a, T>, RecvError>> + 'a {
        let at = Location::caller();
        async move {
            loop {
                {
                    let mut mine = self.seen;
                    let look_now = look(&self.shared, Query::BorrowAndUpdate, Some(&mut mine), at);
                    if condition(&look_now) {
                        drop(look_now);
                        self.seen = mine;
                        return Ok(look(&self.shared, Query::Borrow, None, at));
                    }
                    self.seen = mine;
                }
                self.changed().await?;
            }
        }
    }

    /// Do both receivers watch the same channel?
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        if let Some(id) = self.shared.object.live_id() {
            with_state("watch::Receiver::clone", |s| {
                update(s, id, |_, _, receivers, _| *receivers += 1)
            });
        }
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
            at: self.at,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let Some(id) = self.shared.object.live_id() else {
            return;
        };
        point_at(OpKind::DropReceiver, Some(id), self.at);
        with_state("watch::Receiver::drop", |s| {
            update(s, id, |_, _, receivers, _| *receivers -= 1);
            s.hb_release(id);
        });
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Receiver").finish_non_exhaustive()
    }
}
