//! A small connection pool, in a correct and a racy variant, written once against a `sync`
//! facade (`super::sync`, `super::thread`): `on_std.rs` gives it std's primitives for real
//! threads under the stress harness, `on_selvedge.rs` gives it selvedge's for the model.
//!
//! The pool lends `CAPACITY` connections. A connection can be killed (the server closed it):
//! the pool reclaims it from whoever holds it and reconnects it on its next checkout. Using a
//! connection leaves an event for it, which `drain` hands out with the connection's id.
//!
//! The racy variant has the two bugs of the AMQP client whose benchmark page this project
//! started from: a release that can run twice (the owner's and the kill's, each checking
//! "still leased?" and returning the connection in two steps), so one connection ends up idle
//! twice and is lent to two threads at once; and a drain that resolves connection ids after
//! letting go of the lock, so a kill in between hands out an event with a `None` id (their
//! `KeyError: None`). The correct variant does each in one critical section and tells a stale
//! release from a live one by the connection's generation.

use super::sync::{Condvar, Mutex};
use super::thread;

/// Which implementation a pool runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    Correct,
    Racy,
}

/// A connection lent out: its slot, and the slot's generation when it was lent (a kill bumps
/// it). Two leases with the same slot and generation alive at once are one connection lent
/// twice.
#[derive(Debug)]
pub(crate) struct Lease {
    pub(crate) slot: usize,
    pub(crate) generation: u64,
}

/// An event for a connection, as `drain` hands it out: `connection` is the id of the
/// connection it belongs to; a `None` there is the bug (the consumer looks it up and fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) connection: Option<u64>,
}

struct State {
    /// Slots ready to lend.
    idle: Vec<usize>,
    /// Per slot: whether it is lent out.
    leased: Vec<bool>,
    /// Per slot: the live connection's id, `None` after a kill until reconnected.
    connection: Vec<Option<u64>>,
    /// Per slot: bumped at every kill, so a release from before the kill is recognised.
    generation: Vec<u64>,
    /// Slots with an event waiting to be drained.
    events: Vec<usize>,
    next_connection_id: u64,
}

pub(crate) struct Pool {
    variant: Variant,
    state: Mutex<State>,
    returned: Condvar,
}

impl Pool {
    pub(crate) fn new(variant: Variant, capacity: usize) -> Pool {
        Pool {
            variant,
            state: Mutex::new(State {
                idle: (0..capacity).collect(),
                leased: vec![false; capacity],
                connection: (0..capacity as u64).map(Some).collect(),
                generation: vec![0; capacity],
                events: Vec::new(),
                next_connection_id: capacity as u64,
            }),
            returned: Condvar::new(),
        }
    }

    /// Lends an idle connection, waiting for one if needed; a killed one is reconnected first.
    pub(crate) fn checkout(&self) -> Lease {
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(slot) = state.idle.pop() {
                state.leased[slot] = true;
                if state.connection[slot].is_none() {
                    // Reconnecting: a round trip to the server.
                    state.connection[slot] = Some(state.next_connection_id);
                    state.next_connection_id += 1;
                    thread::yield_now();
                }
                return Lease {
                    slot,
                    generation: state.generation[slot],
                };
            }
            state = self.returned.wait(state).unwrap();
        }
    }

    /// Uses the leased connection: the server will answer with an event for it.
    pub(crate) fn publish(&self, lease: &Lease) {
        let mut state = self.state.lock().unwrap();
        if state.generation[lease.slot] == lease.generation {
            state.events.push(lease.slot);
        }
    }

    /// Gives a connection back.
    pub(crate) fn release(&self, lease: Lease) {
        match self.variant {
            Variant::Correct => {
                let mut state = self.state.lock().unwrap();
                // A kill since the checkout already took the connection back.
                if state.generation[lease.slot] == lease.generation && state.leased[lease.slot] {
                    state.leased[lease.slot] = false;
                    state.idle.push(lease.slot);
                    self.returned.notify_one();
                }
            }
            Variant::Racy => self.racy_return(lease.slot),
        }
    }

    /// The server closes the connection in `slot`: the pool takes it back from its holder.
    pub(crate) fn kill(&self, slot: usize) {
        match self.variant {
            Variant::Correct => {
                let mut state = self.state.lock().unwrap();
                state.connection[slot] = None;
                state.generation[slot] += 1;
                if state.leased[slot] {
                    state.leased[slot] = false;
                    state.idle.push(slot);
                    self.returned.notify_one();
                }
            }
            Variant::Racy => {
                {
                    let mut state = self.state.lock().unwrap();
                    state.connection[slot] = None;
                    state.generation[slot] += 1;
                }
                self.racy_return(slot);
            }
        }
    }

    /// Checks "still leased?", lets go of the lock, then returns the slot: two callers (the
    /// owner and a kill) can both pass the check.
    fn racy_return(&self, slot: usize) {
        let leased = self.state.lock().unwrap().leased[slot];
        selvedge::syncpoint!("release: checked, not yet returned");
        if leased {
            let mut state = self.state.lock().unwrap();
            state.leased[slot] = false;
            state.idle.push(slot);
            self.returned.notify_one();
        }
    }

    /// Hands out the waiting events with their connections' ids.
    pub(crate) fn drain(&self) -> Vec<Event> {
        match self.variant {
            Variant::Correct => {
                let mut state = self.state.lock().unwrap();
                let slots = std::mem::take(&mut state.events);
                // Events of a connection killed since are dropped with it.
                slots
                    .into_iter()
                    .filter_map(|slot| {
                        state.connection[slot].map(|id| Event {
                            connection: Some(id),
                        })
                    })
                    .collect()
            }
            Variant::Racy => {
                let slots = std::mem::take(&mut self.state.lock().unwrap().events);
                selvedge::syncpoint!("drain: events taken, ids not yet looked up");
                slots
                    .into_iter()
                    .map(|slot| Event {
                        connection: self.state.lock().unwrap().connection[slot],
                    })
                    .collect()
            }
        }
    }

    /// How many slots are idle more than once: each is a connection released twice.
    pub(crate) fn idle_duplicates(&self) -> usize {
        let state = self.state.lock().unwrap();
        let mut idle = state.idle.clone();
        idle.sort_unstable();
        let before = idle.len();
        idle.dedup();
        before - idle.len()
    }
}
