//! Allocations the model tracks for leaks, as loom's `alloc`: [`Track`] wraps a value, and
//! [`alloc`]/[`dealloc`] track raw allocations; `sync::Arc` tracks its allocation the same way.
//! An execution whose every task finished with one of them still alive fails as
//! `FailureKind::Leak`, naming where it was created.
//!
//! Invariants:
//! - The registry (`Allocations`) is per execution: a handle made in another execution, or
//!   outside any, is not tracked, and its operations change nothing here.
//! - The leak check runs only on an execution that ended with every task finished and no other
//!   failure (an abandoned task's locals are never dropped), and not while a `static`
//!   `OnceLock`/`LazyLock` holds a value in the execution: such a value is never dropped, as a
//!   static's never is, so what it owns would look leaked.
//!
//! ```
//! let report = selvedge::explore(selvedge::Config::default(), || {
//!     let tracked = selvedge::alloc::Track::new(5);
//!     std::mem::forget(tracked);
//! });
//! let failure = report.failure().expect("the forgotten `Track` is a leak");
//! assert_eq!(failure.kind(), selvedge::FailureKind::Leak);
//! ```

use std::collections::BTreeMap;
use std::panic::Location;

use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{try_with_state, ExecState, ObjectId};
use crate::trace::{Evidence, FailureKind, RawFailure};

/// What kind of allocation an entry is, for the leak report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AllocationKind {
    Arc,
    Track,
    Raw,
}

impl AllocationKind {
    fn name(self) -> &'static str {
        match self {
            AllocationKind::Arc => "`Arc`",
            AllocationKind::Track => "`alloc::Track`",
            AllocationKind::Raw => "raw allocation (`alloc::alloc`)",
        }
    }
}

#[derive(Debug)]
struct Allocation {
    kind: AllocationKind,
    created_at: &'static Location<'static>,
    /// Live references (an `Arc`'s strong count; 1 for the others while alive).
    strong: usize,
    /// The object whose happens-before edges an `Arc`'s drops carry.
    object: Option<ObjectId>,
    /// The address it is found by (`Arc::from_raw`, `dealloc`), while alive.
    address: Option<usize>,
}

/// The tracked allocations of one execution.
#[derive(Debug, Default)]
pub(crate) struct Allocations {
    entries: Vec<Allocation>,
    /// Live allocations by address.
    by_address: BTreeMap<usize, u32>,
}

impl Allocations {
    /// Forgets every allocation, keeping the buffer for the next execution on this OS thread.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        // Most executions track none: an empty map is not walked.
        if !self.by_address.is_empty() {
            self.by_address.clear();
        }
    }
}

/// A tracked allocation: which execution it belongs to and its entry there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tracked {
    generation: u64,
    index: u32,
}

/// Starts tracking an allocation in the running execution (`None` outside one). An `Arc` gets
/// an object for its happens-before edges.
pub(crate) fn track(
    kind: AllocationKind,
    created_at: &'static Location<'static>,
    address: Option<usize>,
) -> Option<Tracked> {
    try_with_state(|s| {
        let object = (kind == AllocationKind::Arc)
            .then(|| s.register(ObjectKind::Arc, ObjectState::Plain, created_at));
        let index = s.allocations.entries.len() as u32;
        s.allocations.entries.push(Allocation {
            kind,
            created_at,
            strong: 1,
            object,
            address,
        });
        if let Some(address) = address {
            s.allocations.by_address.insert(address, index);
        }
        Tracked {
            generation: s.generation,
            index,
        }
    })
}

/// Runs `f` on `tracked`'s entry if it belongs to the running execution.
fn with_entry<R>(
    tracked: Option<Tracked>,
    f: impl FnOnce(&mut ExecState, usize) -> R,
) -> Option<R> {
    let tracked = tracked?;
    try_with_state(|s| {
        let index = tracked.index as usize;
        (s.generation == tracked.generation && index < s.allocations.entries.len())
            .then(|| f(s, index))
    })
    .flatten()
}

/// Makes a live allocation findable by `address` (an `Arc` whose address was not known when
/// tracking began).
pub(crate) fn set_address(tracked: Option<Tracked>, address: usize) {
    with_entry(tracked, |s, i| {
        let entry = &mut s.allocations.entries[i];
        if entry.strong > 0 {
            entry.address = Some(address);
            s.allocations.by_address.insert(address, i as u32);
        }
    });
}

/// One more live reference (an `Arc` clone).
pub(crate) fn retain(tracked: Option<Tracked>) {
    with_entry(tracked, |s, i| s.allocations.entries[i].strong += 1);
}

/// One reference fewer. An `Arc`'s drop publishes what its task did (std's `Release`
/// decrement); the last one also learns what every earlier drop published (std's `Acquire`
/// fence before freeing). Returns whether this was the last reference (`None`: untracked).
pub(crate) fn release(tracked: Option<Tracked>) -> Option<bool> {
    with_entry(tracked, |s, i| {
        let entry = &mut s.allocations.entries[i];
        assert!(entry.strong > 0, "a tracked allocation was released twice");
        entry.strong -= 1;
        let last = entry.strong == 0;
        let object = entry.object;
        if last {
            if let Some(address) = entry.address.take() {
                s.allocations.by_address.remove(&address);
            }
        }
        if let Some(object) = object {
            s.hb_release(object);
            if last {
                s.hb_acquire(object);
            }
        }
        last
    })
}

/// Learns what every drop so far published (an inspection that std orders with `Acquire`:
/// `strong_count`, `get_mut`, `try_unwrap`).
pub(crate) fn acquire(tracked: Option<Tracked>) {
    with_entry(tracked, |s, i| {
        if let Some(object) = s.allocations.entries[i].object {
            s.hb_acquire(object);
        }
    });
}

/// The live tracked allocation at `address` in the running execution.
pub(crate) fn find(address: usize) -> Option<Tracked> {
    try_with_state(|s| {
        let index = *s.allocations.by_address.get(&address)?;
        Some(Tracked {
            generation: s.generation,
            index,
        })
    })
    .flatten()
}

/// The leak check at the end of an execution (see the module's invariants): the first
/// allocation still alive becomes a `Leak` failure naming where it was created.
pub(crate) fn check_leaks(s: &mut ExecState) {
    if s.failure.is_some() || !s.tasks.iter().all(|t| t.finished) {
        return;
    }
    let held_by_static = s
        .objects
        .iter()
        .any(|o| matches!(o.state, ObjectState::Once { value: Some(_), .. }));
    if held_by_static {
        return;
    }
    let mut leaked = s.allocations.entries.iter().filter(|a| a.strong > 0);
    let Some(first) = leaked.next() else {
        return;
    };
    let others = leaked.count();
    let references = match (first.kind, first.strong) {
        (AllocationKind::Arc, 1) => " (1 strong reference)".to_string(),
        (AllocationKind::Arc, n) => format!(" ({n} strong references)"),
        _ => String::new(),
    };
    let more = match others {
        0 => String::new(),
        1 => "; 1 other tracked allocation leaked too".to_string(),
        n => format!("; {n} other tracked allocations leaked too"),
    };
    let message = format!(
        "the {} created at {} was still alive when every task had finished{references}: it was \
         leaked (a `mem::forget`, an `into_raw` never given back to `from_raw`, a reference \
         cycle, or a value that is never dropped holds it){more}",
        first.kind.name(),
        first.created_at
    );
    s.failure = Some(RawFailure {
        kind: FailureKind::Leak,
        message,
        task: None,
        blocked: Vec::new(),
        evidence: Evidence::None,
    });
}

/// A value whose allocation the model tracks, as loom's `alloc::Track`: dropping it is what
/// keeps an execution from failing as a `FailureKind::Leak`. Use it to check that a data
/// structure frees what it holds.
///
/// ```
/// use selvedge::alloc::Track;
///
/// selvedge::model(|| {
///     let mut node = Track::new(vec![1]);
///     node.get_mut().push(2);
///     assert_eq!(node.get_ref().len(), 2);
///     assert_eq!(node.into_inner(), vec![1, 2]);
/// });
/// ```
#[derive(Debug)]
pub struct Track<T> {
    value: T,
    tracked: Option<Tracked>,
}

impl<T> Track<T> {
    /// Tracks `value` (inside a model; outside one it is a plain wrapper).
    #[track_caller]
    pub fn new(value: T) -> Track<T> {
        let tracked = track(AllocationKind::Track, Location::caller(), None);
        Track { value, tracked }
    }

    /// The value.
    pub fn get_ref(&self) -> &T {
        &self.value
    }

    /// The value, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// Stops tracking and hands back the value.
    pub fn into_inner(self) -> T {
        let this = std::mem::ManuallyDrop::new(self);
        release(this.tracked);
        // SAFETY: `this` is never used or dropped again; the value is moved out once.
        unsafe { std::ptr::read(&this.value) }
    }
}

impl<T> Drop for Track<T> {
    fn drop(&mut self) {
        release(self.tracked);
    }
}

/// Allocates as `std::alloc::alloc`, tracked by the model: an allocation not given back to
/// [`dealloc`] by the end of the execution is a `FailureKind::Leak`.
///
/// # Safety
/// As `std::alloc::alloc`.
///
/// ```
/// use std::alloc::Layout;
///
/// selvedge::model(|| unsafe {
///     let layout = Layout::new::<u64>();
///     let p = selvedge::alloc::alloc(layout);
///     selvedge::alloc::dealloc(p, layout);
/// });
/// ```
#[track_caller]
pub unsafe fn alloc(layout: std::alloc::Layout) -> *mut u8 {
    // SAFETY: the caller keeps `std::alloc::alloc`'s contract.
    let ptr = unsafe { std::alloc::alloc(layout) };
    if !ptr.is_null() {
        track(AllocationKind::Raw, Location::caller(), Some(ptr as usize));
    }
    ptr
}

/// Allocates zeroed memory as `std::alloc::alloc_zeroed`, tracked as [`alloc`] does.
///
/// # Safety
/// As `std::alloc::alloc_zeroed`.
#[track_caller]
pub unsafe fn alloc_zeroed(layout: std::alloc::Layout) -> *mut u8 {
    // SAFETY: the caller keeps `std::alloc::alloc_zeroed`'s contract.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if !ptr.is_null() {
        track(AllocationKind::Raw, Location::caller(), Some(ptr as usize));
    }
    ptr
}

/// Frees memory from [`alloc`] as `std::alloc::dealloc`, and stops tracking it.
///
/// # Safety
/// As `std::alloc::dealloc`.
pub unsafe fn dealloc(ptr: *mut u8, layout: std::alloc::Layout) {
    release(find(ptr as usize));
    // SAFETY: the caller keeps `std::alloc::dealloc`'s contract.
    unsafe { std::alloc::dealloc(ptr, layout) }
}
