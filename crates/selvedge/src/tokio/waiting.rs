//! What the tokio-shaped primitives share: a future's wait for one interest, with a slot the
//! grant fills in, and objects that belong to the one execution that made them.
//!
//! A primitive's wait step performs the whole operation (takes the permits, moves the message
//! into the queue, takes it out): its grant writes what happened into the waiting future's
//! *slot*, a heap box the interest points to, so the future learns the outcome when polled
//! again whatever ran in between, and a future dropped after its grant can undo exactly that.
//! The step also sets the slot's `granted` flag and removes the interest, so the re-poll reads
//! the flag and borrows no state. A wait keeps its emptied block for its next wait, and gives
//! it to a small per-thread list when dropped (`SPARE_BLOCKS`), so a future that waits once
//! (a `send`) reuses the block of an earlier one instead of allocating.
//!
//! Invariants:
//! - A slot lives from `Wait::start` until the future claims it (`poll`) or gives it up
//!   (`cancel`, drop); the interest that points to it is gone by then, so a grant or readiness
//!   test never reads a freed slot. A wait given up outside its execution (a future kept past
//!   it) cannot know that, and leaks its slot instead.
//! - A wait is polled only in the execution it began in; another execution's poll is refused.
//! - An `Owned` object is used only by the execution that registered it; another execution's
//!   use is refused with a message.

use std::alloc::Layout;
use std::cell::{RefCell, RefMut};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::panic::Location;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use crate::runtime::awaiting::{self, Claim, GrantFn, Interest, ReadyFn};
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{in_model, outside_model, with_state, ObjectId, OpKind};

/// One waiting future's interest and its slot.
pub(crate) struct Wait<S> {
    interest: u64,
    generation: u64,
    slot: Option<NonNull<Block<S>>>,
    /// The block of the last slot, emptied, for the next wait of the same future or handle
    /// (a receiver waits again and again): awaiting does not allocate every time.
    spare: Option<Box<MaybeUninit<Block<S>>>>,
    _owns: PhantomData<Box<S>>,
}

/// A slot and whether its interest was granted, in one heap block. The slot comes first: the
/// interest's argument points to the block, and grants read it as the slot (`slot_mut`).
#[repr(C)]
struct Block<S> {
    slot: S,
    /// Set by the wait step that granted the interest (and removed it): see
    /// `awaiting::register_settled`.
    granted: bool,
}

// SAFETY: the slot is owned like a `Box<S>`.
unsafe impl<S: Send> Send for Wait<S> {}
unsafe impl<S: Sync> Sync for Wait<S> {}

impl<S> Wait<S> {
    pub(crate) const fn new() -> Wait<S> {
        Wait {
            interest: 0,
            generation: 0,
            slot: None,
            spare: None,
            _owns: PhantomData,
        }
    }

    /// Has it registered an interest that it has not claimed or given up yet?
    pub(crate) fn is_waiting(&self) -> bool {
        self.interest != 0
    }

    /// Registers the interest (`kind` on `object`, ready and granted by `ready`/`grant`, which
    /// find `slot` through `slot_of`/`slot_mut`); the future returns `Pending` next.
    // Each argument is a distinct part of the interest; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        &mut self,
        cx: &Context<'_>,
        kind: OpKind,
        object: ObjectId,
        slot: S,
        ready: ReadyFn,
        grant: GrantFn,
        at: &'static Location<'static>,
    ) {
        assert!(!self.is_waiting(), "a future registered twice");
        let spare = self.spare.take().unwrap_or_else(take_spare_block::<S>);
        let block = NonNull::from(Box::leak(spare).write(Block {
            slot,
            granted: false,
        }));
        self.slot = Some(block);
        let wants = awaiting::Wants {
            kind,
            object: Some(object),
            arg: block.as_ptr() as usize as u64,
            deadline: None,
            ready,
            grant,
        };
        // SAFETY: `granted` lives in the block, which is freed only by `take_slot`, after the
        // interest was granted (and removed), claimed or cancelled.
        let settled = unsafe { NonNull::new_unchecked(&raw mut (*block.as_ptr()).granted) };
        (self.interest, self.generation) =
            unsafe { awaiting::register_settled(cx, wants, at, settled) };
    }

    /// Did the wait step grant the interest (and remove it)?
    fn granted(&self) -> bool {
        // SAFETY: the block lives while `slot` is set; the flag is written only by the wait
        // step, which does not run while this future is polled or dropped.
        self.slot
            .is_some_and(|block| unsafe { (*block.as_ptr()).granted })
    }

    /// Polled again: `Ready` with the slot as the grant left it, once granted. A poll in
    /// another execution than the one it waits in is refused with what to do.
    pub(crate) fn poll(&mut self, cx: &Context<'_>) -> Poll<S> {
        // Checked before the flag is read; `claim` checks the waiting case too.
        awaiting::check_same_execution(self.generation);
        if self.granted() {
            self.interest = 0;
            return Poll::Ready(self.take_slot().expect("a granted wait has its slot"));
        }
        match awaiting::claim(self.interest, self.generation, cx) {
            Claim::Waiting => Poll::Pending,
            Claim::Granted => {
                self.interest = 0;
                Poll::Ready(self.take_slot().expect("a granted wait has its slot"))
            }
        }
    }

    /// Gives the interest up: `Some(slot)` if it had been granted (the caller undoes what the
    /// grant did), `None` if it was still waiting or gone with its execution.
    pub(crate) fn cancel(&mut self) -> Option<S> {
        let interest = std::mem::replace(&mut self.interest, 0);
        if interest == 0 {
            return None;
        }
        if crate::runtime::current_generation() != Some(self.generation) {
            // Dropped outside the execution it waits in, which may still run on another OS
            // thread and still hold its interest (and grant into the slot): the block is
            // leaked, neither read nor freed here. (Only a future kept past its execution
            // gets here.)
            self.slot = None;
            return None;
        }
        // A granted interest is gone already; a waiting one is given up.
        let granted = self.granted() || awaiting::cancel(interest, self.generation);
        let slot = self.take_slot();
        if granted {
            slot
        } else {
            None
        }
    }

    fn take_slot(&mut self) -> Option<S> {
        let block = self.slot.take()?.as_ptr();
        // SAFETY: made by `Box::leak` in `start` and taken back once: the slot is moved out,
        // and the block is kept, uninitialised, as the box it came from.
        let value = unsafe { (&raw const (*block).slot).read() };
        self.spare = Some(unsafe { Box::from_raw(block.cast::<MaybeUninit<Block<S>>>()) });
        Some(value)
    }
}

impl<S> Drop for Wait<S> {
    fn drop(&mut self) {
        drop(self.cancel());
        if let Some(spare) = self.spare.take() {
            give_back_block(spare);
        }
    }
}

/// At most this many emptied blocks are kept per OS thread for later waits.
const MAX_SPARE_BLOCKS: usize = 16;

/// Emptied blocks of waits that ended, each with its layout, for the next wait on this OS
/// thread whose block has that layout: a future that waits once (a `send`) would otherwise
/// allocate and free its block every time. Freed with the thread.
struct SpareBlocks(Vec<(Layout, NonNull<u8>)>);

impl Drop for SpareBlocks {
    fn drop(&mut self) {
        for (layout, block) in self.0.drain(..) {
            // SAFETY: allocated by the global allocator with `layout` (a `Box` of it), and
            // owned by this list alone.
            unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
        }
    }
}

thread_local! {
    static SPARE_BLOCKS: RefCell<SpareBlocks> = const { RefCell::new(SpareBlocks(Vec::new())) };
}

/// An uninitialised block for a slot of type `S`: a spare one of the same layout, or a new one.
fn take_spare_block<S>() -> Box<MaybeUninit<Block<S>>> {
    let layout = Layout::new::<Block<S>>();
    let spare = SPARE_BLOCKS
        .try_with(|spares| {
            let mut spares = spares.try_borrow_mut().ok()?;
            let i = spares.0.iter().position(|(l, _)| *l == layout)?;
            Some(spares.0.swap_remove(i).1)
        })
        .ok()
        .flatten();
    match spare {
        // SAFETY: allocated by the global allocator with this very layout (`give_back_block`),
        // and uninitialised memory is a valid `MaybeUninit`.
        Some(block) => unsafe { Box::from_raw(block.as_ptr().cast::<MaybeUninit<Block<S>>>()) },
        None => Box::new_uninit(),
    }
}

/// Keeps an emptied block for a later wait, or frees it when the list is full.
fn give_back_block<S>(block: Box<MaybeUninit<Block<S>>>) {
    // Never zero-sized (`granted` is a byte), so the box did allocate.
    let layout = Layout::new::<Block<S>>();
    let raw = NonNull::from(Box::leak(block)).cast::<u8>();
    let kept = SPARE_BLOCKS
        .try_with(|spares| match spares.try_borrow_mut() {
            Ok(mut spares) if spares.0.len() < MAX_SPARE_BLOCKS => {
                spares.0.push((layout, raw));
                true
            }
            _ => false,
        })
        .unwrap_or(false);
    if !kept {
        // SAFETY: the block was a `Box` of this layout, leaked just above.
        drop(unsafe { Box::from_raw(raw.as_ptr().cast::<MaybeUninit<Block<S>>>()) });
    }
}

/// The slot an interest registered by `Wait::start` points to.
///
/// # Safety
/// `interest` was registered by a `Wait<S>` of this very `S`.
pub(crate) unsafe fn slot_of<S>(interest: &Interest) -> &S {
    // SAFETY: the caller's promise, and the slot outlives its interest (module invariant).
    unsafe { &*(interest.arg as usize as *const S) }
}

/// The slot an interest points to, to write the grant's outcome into.
///
/// # Safety
/// As `slot_of`; and nothing else refers to the slot (the future is not being polled: grants
/// run in its task's wait step).
#[allow(clippy::mut_from_ref)]
pub(crate) unsafe fn slot_mut<S>(interest: &Interest) -> &mut S {
    // SAFETY: see above.
    unsafe { &mut *(interest.arg as usize as *mut S) }
}

/// The object an interest waits on.
pub(crate) fn object_of(interest: &Interest) -> ObjectId {
    interest
        .op
        .object
        .expect("a tokio primitive's interest names its object")
}

/// A model object made inside one execution (a channel): its id there, and which execution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Owned {
    id: ObjectId,
    generation: u64,
}

impl Owned {
    /// Registers a new object in the running execution; outside a model, panics with a
    /// message naming `what`.
    #[track_caller]
    pub(crate) fn register(what: &str, kind: ObjectKind, state: ObjectState) -> Owned {
        Owned::register_at(what, kind, state, Location::caller())
    }

    /// As `register`, for an object created at `at`.
    #[track_caller]
    pub(crate) fn register_at(
        what: &str,
        kind: ObjectKind,
        state: ObjectState,
        at: &'static Location<'static>,
    ) -> Owned {
        if !in_model() {
            outside_model(what);
        }
        with_state(what, |s| Owned {
            id: s.register(kind, state, at),
            generation: s.generation,
        })
    }

    /// The object's id, after checking that it belongs to the running execution.
    #[track_caller]
    pub(crate) fn id(&self, what: &str) -> ObjectId {
        let Some(generation) = crate::runtime::current_generation() else {
            outside_model(what)
        };
        let ours = generation == self.generation;
        assert!(
            ours,
            "`{what}` was used on a handle from another execution: channels and join sets \
             belong to the execution that made them; create them inside the test body and do \
             not keep them in statics"
        );
        self.id
    }

    /// The object's id if it belongs to the running execution (for destructors, which must
    /// not panic when a handle outlives its execution).
    pub(crate) fn live_id(&self) -> Option<ObjectId> {
        (crate::runtime::current_generation() == Some(self.generation)).then_some(self.id)
    }
}

/// User-side data of a model object (a channel's queued values), touched only by the execution
/// that registered the object: every access follows a check that the running execution is the
/// object's (`Owned::id`, `Owned::live_id`) or is a grant of an interest registered after one,
/// so it happens on that execution's OS thread, where only one task runs at a time, and no
/// access spans a scheduling point. So no lock guards it (a `Mutex` cost two atomic operations
/// per access); the `RefCell` still refuses a nested borrow.
pub(crate) struct ExecutionLocal<T>(RefCell<T>);

// SAFETY: see above: one OS thread at a time, and the last owner drops it.
unsafe impl<T: Send> Sync for ExecutionLocal<T> {}

impl<T> ExecutionLocal<T> {
    pub(crate) fn new(value: T) -> ExecutionLocal<T> {
        ExecutionLocal(RefCell::new(value))
    }

    /// The data, for an access that follows the execution check (see the type).
    pub(crate) fn borrow_mut(&self) -> RefMut<'_, T> {
        self.0.borrow_mut()
    }
}

/// Refuses a poll with no model running, naming the primitive.
#[track_caller]
pub(crate) fn require_model(what: &str) {
    if !in_model() {
        crate::time::outside_model_poll(what);
    }
}
