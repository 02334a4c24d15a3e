//! `UnsafeCell` with loom's closure API: `with` for shared access, `with_mut` for exclusive
//! access. Inside a model, two accesses by different tasks, at least one a write, that no
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
/// Here two threads write a cell with nothing ordering the writes, and selvedge reports the
/// race, naming both accesses:
///
/// ```
/// use selvedge::cell::UnsafeCell;
/// use selvedge::sync::Arc;
///
/// struct Racy(UnsafeCell<u32>);
/// // SAFETY (for the example): selvedge checks every access; that is the point.
/// unsafe impl Sync for Racy {}
///
/// let report = selvedge::explore(selvedge::Config::default(), || {
///     let cell = Arc::new(Racy(UnsafeCell::new(0)));
///     let c2 = cell.clone();
///     let t = selvedge::thread::spawn(move || c2.0.with_mut(|p| unsafe { *p += 1 }));
///     cell.0.with_mut(|p| unsafe { *p += 1 });
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

    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Checks the access against happens-before and records it: a conflicting access by
    /// another task that nothing orders before this one is a `DataRace`.
    #[track_caller]
    fn access(&self, write: bool, at: &'static Location<'static>) {
        if !runtime::in_model() {
            return;
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
            // The report words the message from the evidence.
            s.fail(
                FailureKind::DataRace,
                String::new(),
                Evidence::DataRace(race),
            );
        });
    }
}

unsafe impl<T: ?Sized + Send> Send for UnsafeCell<T> {}
