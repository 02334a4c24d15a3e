//! Channels, mirroring `std::sync::mpsc`: unbounded `channel`, bounded `sync_channel`
//! (capacity 0 is a rendezvous: `send` returns once the message is received), and
//! disconnection when every sender or the receiver is dropped.
//!
//! ```
//! use selvedge::sync::mpsc;
//!
//! selvedge::check_random(|| {
//!     let (tx, rx) = mpsc::sync_channel(0);
//!     let t = selvedge::thread::spawn(move || tx.send(7).unwrap());
//!     assert_eq!(rx.recv().unwrap(), 7);
//!     t.join().unwrap();
//!     assert!(rx.recv().is_err(), "the sender is gone");
//! }, 50);
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point, try_with_state, with_state, ObjectId, OpKind};

struct Channel<T> {
    id: ObjectId,
    generation: u64,
    messages: StdMutex<VecDeque<T>>,
}

impl<T> Channel<T> {
    #[track_caller]
    fn new(capacity: Option<usize>) -> Arc<Channel<T>> {
        let at = Location::caller();
        let (id, generation) = with_state("selvedge::sync::mpsc::channel", |s| {
            let id = s.register(
                ObjectKind::Channel,
                ObjectState::Channel {
                    capacity,
                    len: 0,
                    senders: 1,
                    receiver_alive: true,
                    receiver_waiting: false,
                    sent: 0,
                    received: 0,
                },
                at,
            );
            (id, s.generation)
        });
        Arc::new(Channel {
            id,
            generation,
            messages: StdMutex::new(VecDeque::new()),
        })
    }

    /// Runs `f` on the channel's model state, if its execution is still running.
    fn with_model<R>(&self, f: impl FnOnce(&mut ChannelState<'_>) -> R) -> Option<R> {
        try_with_state(|s| {
            if s.generation != self.generation {
                return None;
            }
            let ObjectState::Channel {
                capacity,
                len,
                senders,
                receiver_alive,
                receiver_waiting,
                sent,
                received,
            } = s.object(self.id)
            else {
                unreachable!("object is not a channel")
            };
            Some(f(&mut ChannelState {
                capacity: *capacity,
                len,
                senders,
                receiver_alive,
                receiver_waiting,
                sent,
                received,
            }))
        })
        .flatten()
    }

    #[track_caller]
    fn send(&self, value: T) -> Result<(), SendError<T>> {
        point(OpKind::Send, Some(self.id));
        let ticket = self.with_model(|c| {
            if !*c.receiver_alive {
                return None;
            }
            *c.len += 1;
            *c.sent += 1;
            Some((*c.sent - 1, c.capacity == Some(0)))
        });
        let Some(Some((ticket, rendezvous))) = ticket else {
            return Err(SendError(value));
        };
        self.messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(value);
        with_state("Sender::send", |s| s.hb_release(self.id));
        if rendezvous {
            point(OpKind::SendWait(ticket), Some(self.id));
        }
        Ok(())
    }

    fn pop(&self) -> Option<T> {
        let taken = self.with_model(|c| {
            if *c.len == 0 {
                return false;
            }
            *c.len -= 1;
            *c.received += 1;
            true
        });
        if taken == Some(true) {
            with_state("Receiver::recv", |s| s.hb_acquire(self.id));
            let value = self
                .messages
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            assert!(
                value.is_some(),
                "the model counted a message the queue lacks"
            );
            value
        } else {
            None
        }
    }

    fn disconnected(&self) -> bool {
        self.with_model(|c| *c.senders == 0).unwrap_or(true)
    }
}

struct ChannelState<'a> {
    capacity: Option<usize>,
    len: &'a mut usize,
    senders: &'a mut usize,
    receiver_alive: &'a mut bool,
    /// The receiver is in `recv` (a rendezvous `try_send` may hand it a message).
    receiver_waiting: &'a mut bool,
    sent: &'a mut u64,
    received: &'a mut u64,
}

/// Creates an unbounded channel.
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Channel::new(None);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// Creates a channel holding at most `bound` messages; 0 makes every send a rendezvous.
#[track_caller]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let chan = Channel::new(Some(bound));
    (SyncSender { chan: chan.clone() }, Receiver { chan })
}

/// The sending half of `channel`.
pub struct Sender<T> {
    chan: Arc<Channel<T>>,
}

/// The sending half of `sync_channel`.
pub struct SyncSender<T> {
    chan: Arc<Channel<T>>,
}

/// The receiving half of a channel.
pub struct Receiver<T> {
    chan: Arc<Channel<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`; fails (giving it back) once the receiver is gone.
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.send(value)
    }
}

impl<T> SyncSender<T> {
    /// Sends `value`, blocking while the channel is full (or, for capacity 0, until it is
    /// received).
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.send(value)
    }

    /// Sends `value` if there is room now (for capacity 0: if a receiver is waiting in
    /// `recv`), without blocking.
    #[track_caller]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let chan = &self.chan;
        point(OpKind::TrySend, Some(chan.id));
        let accepted = chan.with_model(|c| {
            if !*c.receiver_alive {
                return Err(false);
            }
            let room = match c.capacity {
                Some(0) => *c.receiver_waiting && *c.len == 0,
                Some(cap) => *c.len < cap,
                None => true,
            };
            if !room {
                return Err(true);
            }
            *c.len += 1;
            *c.sent += 1;
            Ok(())
        });
        match accepted {
            Some(Ok(())) => {
                chan.messages
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back(value);
                with_state("SyncSender::try_send", |s| s.hb_release(chan.id));
                Ok(())
            }
            Some(Err(true)) => Err(TrySendError::Full(value)),
            _ => Err(TrySendError::Disconnected(value)),
        }
    }
}

fn clone_sender<T>(chan: &Arc<Channel<T>>) -> Arc<Channel<T>> {
    chan.with_model(|c| *c.senders += 1);
    chan.clone()
}

fn drop_sender<T>(chan: &Channel<T>) {
    chan.with_model(|c| {
        assert!(*c.senders > 0, "more senders dropped than created");
        *c.senders -= 1;
    });
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            chan: clone_sender(&self.chan),
        }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender {
            chan: clone_sender(&self.chan),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        drop_sender(&self.chan);
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        drop_sender(&self.chan);
    }
}

impl<T> Receiver<T> {
    /// Waits for a message; fails once the channel is empty and every sender is gone.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        // Waiting is channel state, so a rendezvous `try_send` sees it without looking at tasks.
        self.chan.with_model(|c| *c.receiver_waiting = true);
        point(OpKind::Recv, Some(self.chan.id));
        self.chan.with_model(|c| *c.receiver_waiting = false);
        self.chan.pop().ok_or(RecvError)
    }

    /// Takes a message if one is queued, without blocking.
    #[track_caller]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        point(OpKind::TryRecv, Some(self.chan.id));
        match self.chan.pop() {
            Some(v) => Ok(v),
            None if self.chan.disconnected() => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Takes a message, or gives up once `timeout` has passed on the virtual clock (which
    /// moves only when every task is blocked). A message and the deadline arriving at the same
    /// virtual instant are explored in both orders.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = with_state("Receiver::recv_timeout", |s| {
            crate::runtime::deadline_after(s, timeout)
        });
        crate::runtime::point_until(
            OpKind::RecvTimeout,
            Some(self.chan.id),
            deadline,
            std::panic::Location::caller(),
        );
        match self.chan.pop() {
            Some(v) => Ok(v),
            None if self.chan.disconnected() => Err(RecvTimeoutError::Disconnected),
            None => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Blocking iterator over messages until disconnection.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// Iterator over the messages queued now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.with_model(|c| *c.receiver_alive = false);
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

/// Owning blocking iterator over messages until disconnection.
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SyncSender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}
