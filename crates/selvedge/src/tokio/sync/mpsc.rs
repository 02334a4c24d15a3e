//! tokio's `mpsc` channels, bounded and unbounded, on a model state of queued messages,
//! reserved slots, live senders and whether the receiver still takes messages.
//!
//! An awaited `send`, `reserve` or `recv` is one scheduling point, enabled exactly when it can
//! complete; its grant does the whole operation at that step (queues the message, reserves
//! the slot, takes the message out), and a future dropped after its grant undoes it, so
//! `recv` in a `select!` loses no message, as tokio's does not. Dropping a handle, `close`
//! and a reserved slot's `send` are scheduling points; cloning a sender is not (it cannot
//! change what any other task sees while the clone's source is alive).
//!
//! Invariant: the model's `queued` is the length of the user-side queue after every step.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::runtime::awaiting::Interest;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point_at, with_state, ExecState, ObjectId, OpKind, TaskId};
use crate::tokio::waiting::{object_of, require_model, slot_mut, ExecutionLocal, Owned, Wait};
use crate::trace::Query;

/// The errors of `mpsc` channels, as tokio's `mpsc::error`.
pub mod error {
    use std::fmt;

    send_error!("The receiver is closed or gone; the value comes back.");

    /// Why `try_send` did not send; the value comes back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub enum TrySendError<T> {
        /// The channel is full.
        Full(T),
        /// The receiver is closed or gone.
        Closed(T),
    }

    impl<T> TrySendError<T> {
        /// The value that was not sent.
        pub fn into_inner(self) -> T {
            match self {
                TrySendError::Full(v) | TrySendError::Closed(v) => v,
            }
        }
    }

    impl<T> fmt::Debug for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.write_str("Full(..)"),
                TrySendError::Closed(_) => f.write_str("Closed(..)"),
            }
        }
    }

    impl<T> fmt::Display for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.write_str("no available capacity"),
                TrySendError::Closed(_) => f.write_str("channel closed"),
            }
        }
    }

    impl<T> std::error::Error for TrySendError<T> {}

    impl<T> From<SendError<T>> for TrySendError<T> {
        fn from(e: SendError<T>) -> TrySendError<T> {
            TrySendError::Closed(e.0)
        }
    }

    /// Why `try_recv` returned no message.
    #[derive(PartialEq, Eq, Clone, Copy, Debug)]
    pub enum TryRecvError {
        /// Nothing queued now.
        Empty,
        /// Nothing queued, and nothing ever will be: every sender is gone (or the receiver
        /// was closed).
        Disconnected,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("receiving on an empty channel"),
                TryRecvError::Disconnected => f.write_str("receiving on a closed channel"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{SendError, TryRecvError, TrySendError};

/// What both halves share: the user-side queue and the model object.
struct Chan<T> {
    object: Owned,
    capacity: Option<usize>,
    /// Touched only inside the channel's execution (see `ExecutionLocal`).
    queue: ExecutionLocal<Queue<T>>,
}

struct Queue<T> {
    messages: VecDeque<(u64, T)>,
    next_seq: u64,
}

impl<T> Chan<T> {
    fn queue(&self) -> std::cell::RefMut<'_, Queue<T>> {
        self.queue.borrow_mut()
    }

    #[track_caller]
    fn id(&self, what: &str) -> ObjectId {
        self.object.id(what)
    }
}

#[derive(Clone, Copy)]
struct Counts {
    queued: usize,
    reserved: usize,
    senders: usize,
    receiver_open: bool,
    capacity: Option<usize>,
}

impl Counts {
    fn room(&self) -> bool {
        self.capacity
            .is_none_or(|cap| self.queued + self.reserved < cap)
    }

    /// A receive can complete: a message is there, or none ever will be.
    fn receivable(&self) -> bool {
        self.queued > 0 || (self.reserved == 0 && (self.senders == 0 || !self.receiver_open))
    }
}

fn counts(s: &ExecState, id: ObjectId) -> Counts {
    match s.objects[id.index()].state {
        ObjectState::Mpsc {
            capacity,
            queued,
            reserved,
            senders,
            receiver_open,
        } => Counts {
            queued,
            reserved,
            senders,
            receiver_open,
            capacity,
        },
        _ => unreachable!("object is not an mpsc channel"),
    }
}

fn update(
    s: &mut ExecState,
    id: ObjectId,
    f: impl FnOnce(&mut usize, &mut usize, &mut usize, &mut bool),
) {
    match s.object(id) {
        ObjectState::Mpsc {
            queued,
            reserved,
            senders,
            receiver_open,
            ..
        } => f(queued, reserved, senders, receiver_open),
        _ => unreachable!("object is not an mpsc channel"),
    }
}

#[track_caller]
fn new_chan<T>(what: &str, capacity: Option<usize>) -> Arc<Chan<T>> {
    Arc::new(Chan {
        object: Owned::register(
            what,
            ObjectKind::Mpsc,
            ObjectState::Mpsc {
                capacity,
                queued: 0,
                reserved: 0,
                senders: 1,
                receiver_open: true,
            },
        ),
        capacity,
        queue: ExecutionLocal::new(Queue {
            messages: VecDeque::new(),
            next_seq: 0,
        }),
    })
}

/// A bounded channel holding at most `buffer` messages (inside a model).
///
/// ```
/// use selvedge::tokio::sync::mpsc;
///
/// selvedge::model(|| {
///     let (tx, mut rx) = mpsc::channel(1);
///     let producer = selvedge::future::spawn(async move {
///         for i in 0..3 {
///             tx.send(i).await.unwrap(); // waits while the one slot is full
///         }
///     });
///     selvedge::future::block_on(async {
///         let mut got = Vec::new();
///         while let Some(v) = rx.recv().await {
///             got.push(v);
///         }
///         assert_eq!(got, vec![0, 1, 2]);
///     });
///     selvedge::future::block_on(producer).unwrap();
/// });
/// ```
#[track_caller]
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    assert!(buffer > 0, "mpsc bounded channel requires buffer > 0");
    let chan = new_chan("selvedge::tokio::sync::mpsc::channel", Some(buffer));
    let at = Location::caller();
    (
        Sender {
            chan: chan.clone(),
            at,
        },
        Receiver {
            inner: RecvHalf::new(chan, at),
        },
    )
}

/// A channel with no bound on its queue (inside a model).
#[track_caller]
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let chan = new_chan("selvedge::tokio::sync::mpsc::unbounded_channel", None);
    let at = Location::caller();
    (
        UnboundedSender {
            inner: Sender {
                chan: chan.clone(),
                at,
            },
        },
        UnboundedReceiver {
            inner: RecvHalf::new(chan, at),
        },
    )
}

// --- Sending ------------------------------------------------------------------------------

/// What a waiting `send` or `reserve` carries, and what its grant did.
struct SendSlot<T> {
    chan: *const Chan<T>,
    /// The message (`None` for a `reserve`).
    value: Option<T>,
    /// Set by the grant: `true` if it queued the message (or reserved the slot), `false` if
    /// the receiver was closed.
    done: Option<bool>,
    /// The queued message's number, to take it back if the future is dropped unclaimed.
    seq: u64,
}

// SAFETY: `chan` points to a `Chan<T>` kept alive by the waiting future's `Arc`; it is `Send`
// and `Sync` when `T: Send`, as the message is.
unsafe impl<T: std::marker::Send> std::marker::Send for SendSlot<T> {}

fn can_send(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    let c = counts(s, object_of(interest));
    !c.receiver_open || c.room()
}

fn grant_send<T>(s: &mut ExecState, _: TaskId, interest: &Interest) {
    let id = object_of(interest);
    // SAFETY: registered by `Sending` with a `SendSlot<T>`.
    let slot = unsafe { slot_mut::<SendSlot<T>>(interest) };
    if !counts(s, id).receiver_open {
        slot.done = Some(false);
        return;
    }
    let reserve_only = slot.value.is_none();
    update(s, id, |queued, reserved, _, _| {
        if reserve_only {
            *reserved += 1;
        } else {
            *queued += 1;
        }
    });
    if let Some(value) = slot.value.take() {
        // SAFETY: the future holds an `Arc` of the channel while it waits.
        let chan = unsafe { &*slot.chan };
        let mut queue = chan.queue();
        slot.seq = queue.next_seq;
        queue.next_seq += 1;
        queue.messages.push_back((slot.seq, value));
    }
    slot.done = Some(true);
    s.hb_release(id);
}

/// The wait of a `send` or `reserve` future.
struct Sending<T> {
    chan: Arc<Chan<T>>,
    kind: OpKind,
    at: &'static Location<'static>,
    value: Option<T>,
    wait: Wait<SendSlot<T>>,
}

impl<T> Sending<T> {
    /// `Ready(Ok(()))` once queued (reserved), `Ready(Err(value))` if the receiver is gone.
    fn poll(&mut self, cx: &Context<'_>) -> Poll<Result<(), Option<T>>> {
        require_model("selvedge::tokio::sync::mpsc::Sender");
        if !self.wait.is_waiting() {
            let id = self.chan.id("mpsc::Sender::send");
            let slot = SendSlot {
                chan: Arc::as_ptr(&self.chan),
                value: self.value.take(),
                done: None,
                seq: 0,
            };
            self.wait
                .start(cx, self.kind, id, slot, can_send, grant_send::<T>, self.at);
            return Poll::Pending;
        }
        self.wait.poll(cx).map(|slot| match slot.done {
            Some(true) => Ok(()),
            Some(false) => Err(slot.value),
            None => unreachable!("a granted send has an outcome"),
        })
    }
}

impl<T> Drop for Sending<T> {
    fn drop(&mut self) {
        let Some(slot) = self.wait.cancel() else {
            return;
        };
        if slot.done != Some(true) {
            return;
        }
        // Granted, then dropped before it was polled again (a `select!` took another branch):
        // the message (or reservation) is taken back, as if the send never happened.
        let Some(id) = self.chan.object.live_id() else {
            return;
        };
        let reserve_only = self.kind == OpKind::Reserve;
        let taken_back = if reserve_only {
            None
        } else {
            let mut queue = self.chan.queue();
            let position = queue.messages.iter().position(|(seq, _)| *seq == slot.seq);
            position.and_then(|i| queue.messages.remove(i))
        };
        if reserve_only || taken_back.is_some() {
            with_state("mpsc::Sender::send", |s| {
                update(s, id, |queued, reserved, _, _| {
                    if reserve_only {
                        *reserved -= 1;
                    } else {
                        *queued -= 1;
                    }
                })
            });
        }
        drop(taken_back);
    }
}

/// The sending half of a bounded channel. Cloning it is not a scheduling point; dropping the
/// last clone closes the channel for the receiver.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
    at: &'static Location<'static>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full; fails if the receiver is closed or
    /// gone.
    #[track_caller]
    pub fn send(&self, value: T) -> Send<'_, T> {
        Send {
            _sender: self,
            sending: Sending {
                chan: self.chan.clone(),
                kind: OpKind::Send,
                at: Location::caller(),
                value: Some(value),
                wait: Wait::new(),
            },
        }
    }

    /// Waits for room, and reserves it for a later [`Permit::send`].
    #[track_caller]
    pub fn reserve(&self) -> Reserve<'_, T> {
        Reserve {
            sender: self,
            sending: Sending {
                chan: self.chan.clone(),
                kind: OpKind::Reserve,
                at: Location::caller(),
                value: None,
                wait: Wait::new(),
            },
        }
    }

    /// As [`Sender::reserve`], owning the sender.
    #[track_caller]
    pub fn reserve_owned(self) -> ReserveOwned<T> {
        let sending = Sending {
            chan: self.chan.clone(),
            kind: OpKind::Reserve,
            at: Location::caller(),
            value: None,
            wait: Wait::new(),
        };
        ReserveOwned {
            sender: Some(self),
            sending,
        }
    }

    /// Sends `value` if there is room now.
    #[track_caller]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let at = Location::caller();
        let id = self.chan.id("mpsc::Sender::try_send");
        point_at(OpKind::TrySend, Some(id), at);
        match try_room(id, false) {
            Err(closed) => Err(if closed {
                TrySendError::Closed(value)
            } else {
                TrySendError::Full(value)
            }),
            Ok(()) => {
                push(&self.chan, value);
                Ok(())
            }
        }
    }

    /// Reserves room if there is some now.
    #[track_caller]
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        let at = Location::caller();
        let id = self.chan.id("mpsc::Sender::try_reserve");
        point_at(OpKind::TryReserve, Some(id), at);
        match try_room(id, true) {
            Err(true) => Err(TrySendError::Closed(())),
            Err(false) => Err(TrySendError::Full(())),
            Ok(()) => Ok(Permit {
                chan: &self.chan,
                at,
                used: false,
            }),
        }
    }

    /// As [`Sender::try_reserve`], owning the sender (which comes back on failure).
    #[track_caller]
    pub fn try_reserve_owned(self) -> Result<OwnedPermit<T>, TrySendError<Self>> {
        let at = Location::caller();
        let id = self.chan.id("mpsc::Sender::try_reserve_owned");
        point_at(OpKind::TryReserve, Some(id), at);
        match try_room(id, true) {
            Err(true) => Err(TrySendError::Closed(self)),
            Err(false) => Err(TrySendError::Full(self)),
            Ok(()) => Ok(OwnedPermit {
                sender: Some(self),
                at,
            }),
        }
    }

    /// Sends from a thread of the model, waiting as `send().await` would.
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        crate::future::block_on(self.send(value))
    }

    /// Waits until the receiver is closed or gone.
    #[track_caller]
    pub fn closed(&self) -> Closed<'_> {
        Closed {
            object: &self.chan.object,
            at: Location::caller(),
            wait: Wait::new(),
        }
    }

    /// Is the receiver closed or gone?
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        let id = self.chan.id("mpsc::Sender::is_closed");
        point_at(OpKind::Query(Query::IsClosed), Some(id), Location::caller());
        with_state("mpsc::Sender::is_closed", |s| !counts(s, id).receiver_open)
    }

    /// Free room now: the bound less queued messages and reserved slots.
    #[track_caller]
    pub fn capacity(&self) -> usize {
        let id = self.chan.id("mpsc::Sender::capacity");
        point_at(OpKind::Query(Query::Capacity), Some(id), Location::caller());
        with_state("mpsc::Sender::capacity", |s| {
            let c = counts(s, id);
            c.capacity.unwrap_or(usize::MAX) - c.queued - c.reserved
        })
    }

    /// The channel's bound.
    pub fn max_capacity(&self) -> usize {
        self.chan.capacity.unwrap_or(usize::MAX)
    }

    /// Do both senders feed the same channel?
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// A sender that does not keep the channel open (see [`WeakSender`]).
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            chan: Arc::downgrade(&self.chan),
            object: self.chan.object,
            at: self.at,
        }
    }
}

/// A sender that does not keep the channel open: once every [`Sender`] is gone the receiver
/// sees the channel closed, whatever weak senders are left. [`upgrade`](WeakSender::upgrade)
/// gives a `Sender` while another one still exists.
///
/// ```
/// use selvedge::{future, tokio::sync::mpsc};
///
/// selvedge::model(|| {
///     future::block_on(async {
///         let (tx, mut rx) = mpsc::channel::<u32>(1);
///         let weak = tx.downgrade();
///         weak.upgrade().expect("a sender is left").send(1).await.unwrap();
///         drop(tx);
///         assert!(weak.upgrade().is_none());
///         assert_eq!(rx.recv().await, Some(1));
///         assert_eq!(rx.recv().await, None); // closed: the weak sender does not count
///     });
/// });
/// ```
pub struct WeakSender<T> {
    chan: std::sync::Weak<Chan<T>>,
    /// The channel's model object, so `upgrade` is a step on it even once the channel is gone.
    object: Owned,
    at: &'static Location<'static>,
}

impl<T> WeakSender<T> {
    /// A [`Sender`] if another one still exists, as tokio's; `None` once every sender is gone.
    /// A step on the channel: the answer depends on when the last sender is dropped.
    #[track_caller]
    pub fn upgrade(&self) -> Option<Sender<T>> {
        let id = self.object.id("mpsc::WeakSender::upgrade");
        point_at(OpKind::Query(Query::Upgrade), Some(id), Location::caller());
        // Every sender is counted in the model; the last one's drop (a step ordered against
        // this one) also ends the channel's memory unless the receiver keeps it.
        let chan = self.chan.upgrade()?;
        let alive = with_state("mpsc::WeakSender::upgrade", |s| {
            let alive = counts(s, id).senders > 0;
            if alive {
                update(s, id, |_, _, senders, _| *senders += 1);
            }
            // As tokio's (an acquire load of the sender count): a failed upgrade comes after
            // every sender's drop, and what the senders did before.
            s.hb_acquire(id);
            alive
        });
        // Built only when counted: a `Sender` dropped here would uncount one.
        alive.then(|| Sender { chan, at: self.at })
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        WeakSender {
            chan: self.chan.clone(),
            object: self.object,
            at: self.at,
        }
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::WeakSender").finish_non_exhaustive()
    }
}

/// Takes room (a slot to queue into, or a reservation) if there is some, after the caller's
/// scheduling point; `Err(true)`: the receiver is closed or gone, `Err(false)`: full.
fn try_room(id: ObjectId, reserve: bool) -> Result<(), bool> {
    with_state("selvedge::tokio::sync::mpsc", |s| {
        let c = counts(s, id);
        if !c.receiver_open {
            return Err(true);
        }
        if !c.room() {
            return Err(false);
        }
        update(s, id, |queued, reserved, _, _| {
            if reserve {
                *reserved += 1;
            } else {
                *queued += 1;
            }
        });
        s.hb_release(id);
        Ok(())
    })
}

/// Puts a message whose room was taken into the user-side queue.
fn push<T>(chan: &Chan<T>, value: T) {
    let mut queue = chan.queue();
    let seq = queue.next_seq;
    queue.next_seq += 1;
    queue.messages.push_back((seq, value));
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        if let Some(id) = self.chan.object.live_id() {
            with_state("mpsc::Sender::clone", |s| {
                update(s, id, |_, _, senders, _| *senders += 1)
            });
        }
        Sender {
            chan: self.chan.clone(),
            at: self.at,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(id) = self.chan.object.live_id() else {
            return;
        };
        point_at(OpKind::DropSender, Some(id), self.at);
        with_state("mpsc::Sender::drop", |s| {
            update(s, id, |_, _, senders, _| *senders -= 1);
            s.hb_release(id);
        });
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Sender").finish_non_exhaustive()
    }
}

/// The future of [`Sender::send`].
#[must_use = "futures do nothing unless awaited"]
pub struct Send<'a, T> {
    _sender: &'a Sender<T>,
    sending: Sending<T>,
}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        this.sending
            .poll(cx)
            .map(|r| r.map_err(|value| SendError(value.expect("a refused send keeps its message"))))
    }
}

/// The future of [`Sender::reserve`].
#[must_use = "futures do nothing unless awaited"]
pub struct Reserve<'a, T> {
    sender: &'a Sender<T>,
    sending: Sending<T>,
}

impl<'a, T> Future for Reserve<'a, T> {
    type Output = Result<Permit<'a, T>, SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let (chan, at) = (&this.sender.chan, this.sending.at);
        this.sending.poll(cx).map(|r| match r {
            Ok(()) => Ok(Permit {
                chan,
                at,
                used: false,
            }),
            Err(_) => Err(SendError(())),
        })
    }
}

/// The future of [`Sender::reserve_owned`].
#[must_use = "futures do nothing unless awaited"]
pub struct ReserveOwned<T> {
    sender: Option<Sender<T>>,
    sending: Sending<T>,
}

impl<T> Future for ReserveOwned<T> {
    type Output = Result<OwnedPermit<T>, SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let at = this.sending.at;
        match this.sending.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(OwnedPermit {
                sender: this.sender.take(),
                at,
            })),
            Poll::Ready(Err(_)) => Poll::Ready(Err(SendError(()))),
        }
    }
}

/// Reserved room in a bounded channel: `send` queues a message without waiting; dropping it
/// unused gives the room back.
pub struct Permit<'a, T> {
    chan: &'a Arc<Chan<T>>,
    at: &'static Location<'static>,
    used: bool,
}

impl<T> Permit<'_, T> {
    /// Queues `value` in the reserved room.
    #[track_caller]
    pub fn send(mut self, value: T) {
        self.used = true;
        send_reserved(self.chan, value, Location::caller());
    }
}

/// A reservation's `send`: the reserved slot becomes a queued message (even after the
/// receiver's `close`, as tokio's permits may still send).
fn send_reserved<T>(chan: &Chan<T>, value: T, at: &'static Location<'static>) {
    let id = chan.id("mpsc::Permit::send");
    point_at(OpKind::Send, Some(id), at);
    with_state("mpsc::Permit::send", |s| {
        update(s, id, |queued, reserved, _, _| {
            *reserved -= 1;
            *queued += 1;
        });
        s.hb_release(id);
    });
    push(chan, value);
}

/// A reservation dropped unused gives its room back.
fn release_reserved(object: &Owned, at: &'static Location<'static>) {
    let Some(id) = object.live_id() else {
        return;
    };
    point_at(OpKind::PermitDrop, Some(id), at);
    with_state("mpsc::Permit::drop", |s| {
        update(s, id, |_, reserved, _, _| *reserved -= 1);
        s.hb_release(id);
    });
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        if !self.used {
            release_reserved(&self.chan.object, self.at);
        }
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Permit").finish_non_exhaustive()
    }
}

/// Reserved room that owns its sender.
pub struct OwnedPermit<T> {
    sender: Option<Sender<T>>,
    at: &'static Location<'static>,
}

impl<T> OwnedPermit<T> {
    /// Queues `value` in the reserved room and gives the sender back.
    #[track_caller]
    pub fn send(mut self, value: T) -> Sender<T> {
        let sender = self.sender.take().expect("a permit holds its sender");
        send_reserved(&sender.chan, value, Location::caller());
        sender
    }

    /// Gives the room back unused, and the sender with it.
    pub fn release(mut self) -> Sender<T> {
        let sender = self.sender.take().expect("a permit holds its sender");
        release_reserved(&sender.chan.object, self.at);
        sender
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(sender) = &self.sender {
            release_reserved(&sender.chan.object, self.at);
        }
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::OwnedPermit").finish_non_exhaustive()
    }
}

fn receiver_gone(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    !counts(s, object_of(interest)).receiver_open
}

fn nothing(_: &mut ExecState, _: TaskId, _: &Interest) {}

/// The future of `Sender::closed`: completes once the receiver is closed or gone.
#[must_use = "futures do nothing unless awaited"]
pub struct Closed<'a> {
    object: &'a Owned,
    at: &'static Location<'static>,
    wait: Wait<()>,
}

impl Future for Closed<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        require_model("selvedge::tokio::sync::mpsc::Sender::closed");
        // SAFETY: nothing is structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.wait.is_waiting() {
            return this.wait.poll(cx);
        }
        let id = this.object.id("mpsc::Sender::closed");
        this.wait
            .start(cx, OpKind::Closed, id, (), receiver_gone, nothing, this.at);
        Poll::Pending
    }
}

/// The sending half of an unbounded channel: `send` never waits.
pub struct UnboundedSender<T> {
    inner: Sender<T>,
}

impl<T> UnboundedSender<T> {
    /// Queues `value`; fails if the receiver is closed or gone.
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let id = self.inner.chan.id("mpsc::UnboundedSender::send");
        point_at(OpKind::Send, Some(id), Location::caller());
        match try_room(id, false) {
            Ok(()) => {
                push(&self.inner.chan, value);
                Ok(())
            }
            Err(_) => Err(SendError(value)),
        }
    }

    /// Waits until the receiver is closed or gone.
    #[track_caller]
    pub fn closed(&self) -> Closed<'_> {
        Closed {
            object: &self.inner.chan.object,
            at: Location::caller(),
            wait: Wait::new(),
        }
    }

    /// Is the receiver closed or gone?
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Do both senders feed the same channel?
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// A sender that does not keep the channel open (see [`WeakUnboundedSender`]).
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        WeakUnboundedSender {
            inner: self.inner.downgrade(),
        }
    }
}

/// [`WeakSender`] for an unbounded channel.
pub struct WeakUnboundedSender<T> {
    inner: WeakSender<T>,
}

impl<T> WeakUnboundedSender<T> {
    /// An [`UnboundedSender`] if another one still exists; `None` once every sender is gone.
    #[track_caller]
    pub fn upgrade(&self) -> Option<UnboundedSender<T>> {
        self.inner.upgrade().map(|inner| UnboundedSender { inner })
    }
}

impl<T> Clone for WeakUnboundedSender<T> {
    fn clone(&self) -> Self {
        WeakUnboundedSender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakUnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::WeakUnboundedSender")
            .finish_non_exhaustive()
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        UnboundedSender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::UnboundedSender")
            .finish_non_exhaustive()
    }
}

// --- Receiving ----------------------------------------------------------------------------

/// What a waiting receive takes: up to `limit` messages, put in `taken` by the grant (the
/// first in `first`, so the usual receive of one message allocates nothing).
struct RecvSlot<T> {
    chan: *const Chan<T>,
    limit: usize,
    taken: Taken<T>,
}

/// Messages a receive took, in queue order.
struct Taken<T> {
    first: Option<(u64, T)>,
    rest: Vec<(u64, T)>,
}

impl<T> Taken<T> {
    fn none() -> Taken<T> {
        Taken {
            first: None,
            rest: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn into_values(self) -> impl Iterator<Item = T> {
        self.first.into_iter().chain(self.rest).map(|(_, v)| v)
    }
}

// SAFETY: as for `SendSlot`: the receiver's `Arc` keeps `chan` alive.
unsafe impl<T: std::marker::Send> std::marker::Send for RecvSlot<T> {}

fn can_receive(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    counts(s, object_of(interest)).receivable()
}

fn grant_receive<T>(s: &mut ExecState, _: TaskId, interest: &Interest) {
    let id = object_of(interest);
    // SAFETY: registered by `RecvHalf` with a `RecvSlot<T>`.
    let slot = unsafe { slot_mut::<RecvSlot<T>>(interest) };
    let n = counts(s, id).queued.min(slot.limit);
    update(s, id, |queued, _, _, _| *queued -= n);
    // SAFETY: the receiver holds an `Arc` of the channel while it waits.
    let chan = unsafe { &*slot.chan };
    let mut queue = chan.queue();
    let mut drained = queue.messages.drain(..n);
    slot.taken.first = drained.next();
    slot.taken.rest.extend(drained);
    drop(queue);
    s.hb_acquire(id);
}

/// The receiving half shared by bounded and unbounded channels.
struct RecvHalf<T> {
    chan: Arc<Chan<T>>,
    at: &'static Location<'static>,
    wait: Wait<RecvSlot<T>>,
}

impl<T> RecvHalf<T> {
    fn new(chan: Arc<Chan<T>>, at: &'static Location<'static>) -> RecvHalf<T> {
        RecvHalf {
            chan,
            at,
            wait: Wait::new(),
        }
    }

    /// Polls for up to `limit` messages: `Ready` with none once the channel is closed and
    /// drained.
    fn poll_take(
        &mut self,
        cx: &Context<'_>,
        limit: usize,
        at: &'static Location<'static>,
    ) -> Poll<Taken<T>> {
        require_model("selvedge::tokio::sync::mpsc::Receiver");
        if self.wait.is_waiting() {
            return self.wait.poll(cx).map(|slot| slot.taken);
        }
        let id = self.chan.id("mpsc::Receiver::recv");
        let slot = RecvSlot {
            chan: Arc::as_ptr(&self.chan),
            limit,
            taken: Taken::none(),
        };
        self.wait.start(
            cx,
            OpKind::Recv,
            id,
            slot,
            can_receive,
            grant_receive::<T>,
            at,
        );
        Poll::Pending
    }

    /// A receive future dropped: gives its interest up, putting back messages its grant took.
    fn give_up(&mut self) {
        let Some(slot) = self.wait.cancel() else {
            return;
        };
        if slot.taken.is_empty() {
            return;
        }
        let Some(id) = self.chan.object.live_id() else {
            return;
        };
        let n = slot.taken.len();
        {
            let mut queue = self.chan.queue();
            let Taken { first, rest } = slot.taken;
            for message in rest.into_iter().rev().chain(first) {
                queue.messages.push_front(message);
            }
        }
        with_state("mpsc::Receiver::recv", |s| {
            update(s, id, |queued, _, _, _| *queued += n)
        });
    }

    #[track_caller]
    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let id = self.chan.id("mpsc::Receiver::try_recv");
        point_at(OpKind::TryRecv, Some(id), Location::caller());
        let outcome = with_state("mpsc::Receiver::try_recv", |s| {
            let c = counts(s, id);
            if c.queued > 0 {
                update(s, id, |queued, _, _, _| *queued -= 1);
                s.hb_acquire(id);
                Ok(())
            } else if c.receivable() {
                Err(TryRecvError::Disconnected)
            } else {
                Err(TryRecvError::Empty)
            }
        });
        outcome.map(|()| {
            let message = self.chan.queue().messages.pop_front();
            message.expect("a queued message is there").1
        })
    }

    #[track_caller]
    fn close(&mut self) {
        let id = self.chan.id("mpsc::Receiver::close");
        point_at(OpKind::Close, Some(id), Location::caller());
        with_state("mpsc::Receiver::close", |s| {
            update(s, id, |_, _, _, open| *open = false);
            s.hb_release(id);
        });
    }

    #[track_caller]
    fn query<R>(&self, query: Query, f: impl FnOnce(Counts) -> R) -> R {
        let id = self.chan.id("mpsc::Receiver");
        point_at(OpKind::Query(query), Some(id), Location::caller());
        with_state("mpsc::Receiver", |s| f(counts(s, id)))
    }
}

impl<T> Drop for RecvHalf<T> {
    fn drop(&mut self) {
        self.wait.cancel();
        let Some(id) = self.chan.object.live_id() else {
            return;
        };
        point_at(OpKind::DropReceiver, Some(id), self.at);
        with_state("mpsc::Receiver::drop", |s| {
            update(s, id, |_, _, _, open| *open = false);
            s.hb_release(id);
        });
    }
}

/// The future of `recv`: the next message, or `None` once every sender is gone (or the
/// receiver was closed) and the queue is drained.
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    half: &'a mut RecvHalf<T>,
    at: &'static Location<'static>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // SAFETY: nothing is structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        this.half
            .poll_take(cx, 1, this.at)
            .map(|taken| taken.into_values().next())
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        self.half.give_up();
    }
}

/// The future of `recv_many`: how many messages it appended (0 once closed and drained).
#[must_use = "futures do nothing unless awaited"]
pub struct RecvMany<'a, T> {
    half: &'a mut RecvHalf<T>,
    buffer: &'a mut Vec<T>,
    limit: usize,
    at: &'static Location<'static>,
}

impl<T> Future for RecvMany<'_, T> {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        // SAFETY: nothing is structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.limit == 0 {
            return Poll::Ready(0);
        }
        this.half.poll_take(cx, this.limit, this.at).map(|taken| {
            let n = taken.len();
            this.buffer.extend(taken.into_values());
            n
        })
    }
}

impl<T> Drop for RecvMany<'_, T> {
    fn drop(&mut self) {
        self.half.give_up();
    }
}

macro_rules! receiver_methods {
    () => {
        /// Waits for the next message; `None` once every sender is gone (or the receiver
        /// was closed) and the queue is drained. Cancel-safe: a dropped `recv` loses no
        /// message.
        #[track_caller]
        pub fn recv(&mut self) -> Recv<'_, T> {
            Recv {
                half: &mut self.inner,
                at: Location::caller(),
            }
        }

        /// Waits for messages and appends up to `limit` of them to `buffer`; returns how many
        /// (0 once closed and drained, or if `limit` is 0).
        #[track_caller]
        pub fn recv_many<'a>(
            &'a mut self,
            buffer: &'a mut Vec<T>,
            limit: usize,
        ) -> RecvMany<'a, T> {
            RecvMany {
                half: &mut self.inner,
                buffer,
                limit,
                at: Location::caller(),
            }
        }

        /// Takes the next message if one is queued.
        #[track_caller]
        pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
            self.inner.try_recv()
        }

        /// Receives from a thread of the model, waiting as `recv().await` would.
        #[track_caller]
        pub fn blocking_recv(&mut self) -> Option<T> {
            crate::future::block_on(self.recv())
        }

        /// Polls for the next message (for hand-written futures and streams).
        #[track_caller]
        pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.inner
                .poll_take(cx, 1, Location::caller())
                .map(|taken| taken.into_values().next())
        }

        /// Stops senders from sending; queued messages and reserved slots can still be
        /// received.
        #[track_caller]
        pub fn close(&mut self) {
            self.inner.close()
        }

        /// Closed, or every sender gone?
        #[track_caller]
        pub fn is_closed(&self) -> bool {
            self.inner
                .query(Query::IsClosed, |c| !c.receiver_open || c.senders == 0)
        }

        /// Nothing queued now?
        #[track_caller]
        pub fn is_empty(&self) -> bool {
            self.inner.query(Query::Len, |c| c.queued == 0)
        }

        /// Messages queued now.
        #[track_caller]
        pub fn len(&self) -> usize {
            self.inner.query(Query::Len, |c| c.queued)
        }
    };
}

/// The receiving half of a bounded channel.
pub struct Receiver<T> {
    inner: RecvHalf<T>,
}

impl<T> Receiver<T> {
    receiver_methods!();

    /// Free room now: the bound less queued messages and reserved slots.
    #[track_caller]
    pub fn capacity(&self) -> usize {
        self.inner.query(Query::Capacity, |c| {
            c.capacity.unwrap_or(usize::MAX) - c.queued - c.reserved
        })
    }

    /// The channel's bound.
    pub fn max_capacity(&self) -> usize {
        self.inner.chan.capacity.unwrap_or(usize::MAX)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Receiver").finish_non_exhaustive()
    }
}

/// The receiving half of an unbounded channel.
pub struct UnboundedReceiver<T> {
    inner: RecvHalf<T>,
}

impl<T> UnboundedReceiver<T> {
    receiver_methods!();
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::UnboundedReceiver")
            .finish_non_exhaustive()
    }
}
