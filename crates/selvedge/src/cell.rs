//! `UnsafeCell` with loom's closure API (`with` for shared access, `with_mut` for exclusive
//! access) and loom's guards (`get`, `get_mut`), and loom's checked `Cell` on top of it. Inside a model, two accesses by different tasks, at least one a write, that no
//! synchronisation orders (see `runtime::happens_before`) are reported as a `DataRace`, in
//! whatever order they happened to run.
//!
//! ```
//! use selvedge::cell::UnsafeCell;
//!
//! let cell = UnsafeCell::new(1);
//! cell.with_mut(|p| unsafe { *p += 1 });
//! assert_eq!(cell.with(|p| unsafe { *p }), 2);
//! ```

use std::panic::Location;

use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{self, with_state, LazyObject, OpKind};
use crate::trace::{CellAccess, DataRace, Evidence, FailureKind, ObjectRef};

/// A cell whose every access is checked for data races inside a model, as loom's.
///
/// It is `Sync`, as checked accesses make it safe to share (each access is a raw pointer the
/// caller dereferences in `unsafe` code). Here two threads write a cell with nothing ordering
/// the writes, and selvedge reports the race, naming both accesses:
///
/// ```
/// use selvedge::cell::UnsafeCell;
/// use selvedge::sync::Arc;
///
/// let report = selvedge::explore(selvedge::Config::default(), || {
///     let cell = Arc::new(UnsafeCell::new(0));
///     let c2 = cell.clone();
///     let t = selvedge::thread::spawn(move || c2.with_mut(|p| unsafe { *p += 1 }));
///     cell.with_mut(|p| unsafe { *p += 1 });
///     t.join().unwrap();
/// });
/// let failure = report.failure().expect("the unordered writes race");
/// assert_eq!(failure.kind(), selvedge::FailureKind::DataRace);
/// ```
#[derive(Debug)]
pub struct UnsafeCell<T: ?Sized> {
    object: LazyObject,
    created_at: &'static Location<'static>,
    zero_sized: bool,
    data: std::cell::UnsafeCell<T>,
}

impl<T> UnsafeCell<T> {
    #[track_caller]
    pub const fn new(data: T) -> UnsafeCell<T> {
        UnsafeCell {
            object: LazyObject::new(),
            created_at: Location::caller(),
            zero_sized: std::mem::size_of::<T>() == 0,
            data: std::cell::UnsafeCell::new(data),
        }
    }

    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> UnsafeCell<T> {
    /// Shared access through a raw pointer.
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.access(false, Location::caller());
        f(self.data.get())
    }

    /// Exclusive access through a raw pointer.
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.access(true, Location::caller());
        f(self.data.get())
    }

    /// Shared access through a guard, as loom's `get`: the access begins now and is checked
    /// again when the guard is dropped, so a guard kept across another task's conflicting
    /// access is a data race.
    ///
    /// ```
    /// let cell = selvedge::cell::UnsafeCell::new(3);
    /// let ptr = cell.get();
    /// assert_eq!(unsafe { *ptr.deref() }, 3);
    /// ```
    #[track_caller]
    pub fn get(&self) -> ConstPtr<T> {
        ConstPtr {
            access: self.access(false, Location::caller()),
            ptr: self.data.get(),
        }
    }

    /// Exclusive access through a guard, as loom's `get_mut`: checked now and again when the
    /// guard is dropped (see [`UnsafeCell::get`]). For `&mut self`, std's `get_mut`, use
    /// `with_mut`, which needs no guard.
    ///
    /// ```
    /// let cell = selvedge::cell::UnsafeCell::new(3);
    /// let ptr = cell.get_mut();
    /// unsafe { *ptr.deref() += 1 };
    /// drop(ptr);
    /// assert_eq!(cell.into_inner(), 4);
    /// ```
    #[track_caller]
    pub fn get_mut(&self) -> MutPtr<T> {
        MutPtr {
            access: self.access(true, Location::caller()),
            ptr: self.data.get(),
        }
    }

    /// Checks the access against happens-before and records it (see [`check_access`]).
    /// Returns where the access was recorded, for a guard to check again when dropped.
    #[track_caller]
    fn access(&self, write: bool, at: &'static Location<'static>) -> Option<GuardedAccess> {
        if !runtime::in_model() {
            return None;
        }
        let registered = with_state("UnsafeCell", |s| {
            self.object
                .get(s, ObjectKind::Cell, self.created_at, || ObjectState::Plain)
        });
        let id = registered.id;
        // Outside the state borrow: the panic hook must be able to record this panic.
        if registered.shared {
            crate::sync::refuse_shared_value(self.zero_sized, "UnsafeCell", self.created_at);
        }
        with_state("UnsafeCell", |s| {
            check_access(s, id, write, at);
            Some(GuardedAccess {
                generation: s.generation,
                object: id,
                write,
                at,
            })
        })
    }
}

/// Records a plain (non-atomic) access to object `id` by the current task and checks it
/// against happens-before: a conflicting access by another task that nothing orders before
/// this one is a `DataRace`, worded by the report from the evidence.
pub(crate) fn check_access(
    s: &mut runtime::ExecState,
    id: runtime::ObjectId,
    write: bool,
    at: &'static Location<'static>,
) {
    let task = s.current;
    let kind = if write {
        OpKind::CellWrite
    } else {
        OpKind::CellRead
    };
    runtime::record_event(s, kind, Some(id), at);
    let hb = s.hb.get_or_insert_with(Default::default);
    let Some(earlier) = hb.access(task, id, write, at) else {
        return;
    };
    report_race(s, id, write, at, earlier);
}

/// Records the data race between the current task's access and `earlier`.
pub(crate) fn report_race(
    s: &mut runtime::ExecState,
    id: runtime::ObjectId,
    write: bool,
    at: &'static Location<'static>,
    earlier: crate::runtime::happens_before::Access,
) {
    let task = s.current;
    let object = &s.objects[id.index()];
    let race = DataRace {
        cell: ObjectRef {
            name: object.name(),
            created_at: object.created_at,
        },
        access: CellAccess {
            task_name: s.task_name(task),
            write,
            at,
        },
        earlier: CellAccess {
            task_name: s.task_name(earlier.task),
            write: earlier.write,
            at: earlier.at,
        },
    };
    s.fail(
        FailureKind::DataRace,
        String::new(),
        Evidence::DataRace(race),
    );
}

/// An access a guard (`ConstPtr`, `MutPtr`) holds open: checked again when the guard drops,
/// if that happens in the same execution.
#[derive(Clone, Copy, Debug)]
struct GuardedAccess {
    generation: u64,
    object: runtime::ObjectId,
    write: bool,
    at: &'static Location<'static>,
}

impl GuardedAccess {
    fn end(self) {
        runtime::try_with_state(|s| {
            if s.generation == self.generation && s.in_task() {
                check_access(s, self.object, self.write, self.at);
            }
        });
    }
}

unsafe impl<T: ?Sized + Send> Send for UnsafeCell<T> {}
// SAFETY: every access is through a raw pointer the caller dereferences in `unsafe` code, and
// inside a model every access is checked for data races (loom's users share cells so).
unsafe impl<T: ?Sized + Send> Sync for UnsafeCell<T> {}

impl<T: Default> Default for UnsafeCell<T> {
    #[track_caller]
    fn default() -> UnsafeCell<T> {
        UnsafeCell::new(T::default())
    }
}

impl<T> From<T> for UnsafeCell<T> {
    #[track_caller]
    fn from(value: T) -> UnsafeCell<T> {
        UnsafeCell::new(value)
    }
}

/// A checked shared access to an [`UnsafeCell`] (loom's `ConstPtr`), from
/// [`UnsafeCell::get`]; the access lasts until the guard is dropped. As loom's, it does not
/// borrow the cell: keeping it past the cell's life is the caller's mistake.
#[derive(Debug)]
pub struct ConstPtr<T: ?Sized> {
    access: Option<GuardedAccess>,
    ptr: *const T,
}

impl<T: ?Sized> ConstPtr<T> {
    /// The value.
    ///
    /// # Safety
    /// As dereferencing a `*const T`; the reference must not outlive the guard.
    pub unsafe fn deref(&self) -> &T {
        // SAFETY: per this function's contract.
        unsafe { &*self.ptr }
    }

    /// Runs `f` with the raw pointer, which must not escape `f`.
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.ptr)
    }
}

impl<T: ?Sized> Drop for ConstPtr<T> {
    fn drop(&mut self) {
        if let Some(access) = self.access {
            access.end();
        }
    }
}

/// A checked exclusive access to an [`UnsafeCell`] (loom's `MutPtr`), from
/// [`UnsafeCell::get_mut`]; the access lasts until the guard is dropped. As loom's, it does
/// not borrow the cell.
#[derive(Debug)]
pub struct MutPtr<T: ?Sized> {
    access: Option<GuardedAccess>,
    ptr: *mut T,
}

impl<T: ?Sized> MutPtr<T> {
    /// The value, mutably.
    ///
    /// # Safety
    /// As dereferencing a `*mut T`; the reference must not outlive the guard, nor alias
    /// another.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn deref(&self) -> &mut T {
        // SAFETY: per this function's contract.
        unsafe { &mut *self.ptr }
    }

    /// Runs `f` with the raw pointer, which must not escape `f`.
    pub fn with<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.ptr)
    }
}

impl<T: ?Sized> Drop for MutPtr<T> {
    fn drop(&mut self) {
        if let Some(access) = self.access {
            access.end();
        }
    }
}

/// A `std::cell::Cell` whose every access is checked for data races inside a model, as
/// loom's `cell::Cell` (built on [`UnsafeCell`]). Like std's, it is not `Sync`; inside a
/// model it can still be shared through an `Rc` moved into a model thread.
///
/// ```
/// let c = selvedge::cell::Cell::new(1);
/// c.set(2);
/// assert_eq!(c.replace(3), 2);
/// assert_eq!(c.get(), 3);
/// ```
#[derive(Debug)]
pub struct Cell<T> {
    cell: UnsafeCell<T>,
    _not_sync: std::marker::PhantomData<std::cell::Cell<()>>,
}

impl<T> Cell<T> {
    #[track_caller]
    pub const fn new(value: T) -> Cell<T> {
        Cell {
            cell: UnsafeCell::new(value),
            _not_sync: std::marker::PhantomData,
        }
    }

    /// Writes `value`, dropping the old one.
    #[track_caller]
    pub fn set(&self, value: T) {
        drop(self.replace(value));
    }

    /// Swaps the values of two cells.
    #[track_caller]
    pub fn swap(&self, other: &Cell<T>) {
        if std::ptr::eq(self, other) {
            return;
        }
        self.cell.with_mut(|a| {
            other.cell.with_mut(|b| {
                // SAFETY: two distinct cells, each accessed exclusively (checked).
                unsafe { std::ptr::swap(a, b) }
            })
        });
    }

    /// Writes `value` and returns the old one.
    #[track_caller]
    pub fn replace(&self, value: T) -> T {
        // SAFETY: exclusive access (checked); no reference into the cell escapes.
        self.cell
            .with_mut(|p| unsafe { std::mem::replace(&mut *p, value) })
    }

    /// A copy of the value.
    #[track_caller]
    pub fn get(&self) -> T
    where
        T: Copy,
    {
        // SAFETY: shared access (checked), copied out.
        self.cell.with(|p| unsafe { *p })
    }

    /// Takes the value, leaving `Default::default()`.
    #[track_caller]
    pub fn take(&self) -> T
    where
        T: Default,
    {
        self.replace(T::default())
    }

    pub fn into_inner(self) -> T {
        self.cell.into_inner()
    }
}

impl<T: Default> Default for Cell<T> {
    #[track_caller]
    fn default() -> Cell<T> {
        Cell::new(T::default())
    }
}

impl<T: Copy> Clone for Cell<T> {
    #[track_caller]
    fn clone(&self) -> Cell<T> {
        Cell::new(self.get())
    }
}

impl<T> From<T> for Cell<T> {
    #[track_caller]
    fn from(value: T) -> Cell<T> {
        Cell::new(value)
    }
}

impl<T: PartialEq + Copy> PartialEq for Cell<T> {
    fn eq(&self, other: &Cell<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq + Copy> Eq for Cell<T> {}

impl<T: PartialOrd + Copy> PartialOrd for Cell<T> {
    fn partial_cmp(&self, other: &Cell<T>) -> Option<std::cmp::Ordering> {
        self.get().partial_cmp(&other.get())
    }
}

impl<T: Ord + Copy> Ord for Cell<T> {
    fn cmp(&self, other: &Cell<T>) -> std::cmp::Ordering {
        self.get().cmp(&other.get())
    }
}
