//! `UnsafeCell` with loom's closure API: `with` for shared access, `with_mut` for exclusive
//! access. Inside a model, an access that overlaps another task's conflicting access to the
//! same cell (one of them a write) is reported as a `DataRace`.
//!
//! ```
//! use selvedge::cell::UnsafeCell;
//!
//! let cell = UnsafeCell::new(1);
//! cell.with_mut(|p| unsafe { *p += 1 });
//! assert_eq!(cell.with(|p| unsafe { *p }), 2);
//! ```

use std::panic::Location;

use crate::report::FailureKind;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{self, try_with_state, LazyObject, ObjectId};

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
        let token = self.begin(false, Location::caller());
        let result = f(self.data.get());
        self.end(token);
        result
    }

    /// Exclusive access through a raw pointer.
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        let token = self.begin(true, Location::caller());
        let result = f(self.data.get());
        self.end(token);
        result
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn begin(&self, write: bool, at: &'static Location<'static>) -> Option<(ObjectId, bool)> {
        if !runtime::in_model() {
            return None;
        }
        let carried_over = try_with_state(|s| {
            self.object
                .get_tracking(s, ObjectKind::Cell, self.created_at, || ObjectState::Cell {
                    readers: Vec::new(),
                    writer: None,
                })
                .1
        })
        .unwrap_or(false);
        crate::sync::refuse_carried_value(
            carried_over,
            self.zero_sized,
            "UnsafeCell",
            self.created_at,
        );
        try_with_state(|s| {
            let id = self.object.get(s, ObjectKind::Cell, self.created_at, || ObjectState::Cell {
                readers: Vec::new(),
                writer: None,
            });
            let current = s.current;
            let ObjectState::Cell { readers, writer } = s.object(id) else {
                unreachable!("object is not a cell")
            };
            let other = writer
                .filter(|w| w.0 != current)
                .or_else(|| {
                    if write {
                        readers.iter().copied().find(|r| r.0 != current)
                    } else {
                        None
                    }
                });
            if let Some((task, other_at)) = other {
                let name = s.objects[id.index()].name();
                let other_name = s.task_name(task);
                s.fail(
                    FailureKind::DataRace,
                    format!(
                        "{} is accessed at {at} ({}) while {other_name} is still inside its access at {other_at}",
                        name,
                        if write { "with_mut" } else { "with" }
                    ),
                );
                return Some((id, write));
            }
            let ObjectState::Cell { readers, writer } = s.object(id) else {
                unreachable!("object is not a cell")
            };
            if write {
                *writer = Some((current, at));
            } else {
                readers.push((current, at));
            }
            Some((id, write))
        })
        .flatten()
    }

    fn end(&self, token: Option<(ObjectId, bool)>) {
        let Some((id, write)) = token else { return };
        try_with_state(|s| {
            let current = s.current;
            if let ObjectState::Cell { readers, writer } = s.object(id) {
                if write {
                    if writer.is_some_and(|w| w.0 == current) {
                        *writer = None;
                    }
                } else if let Some(i) = readers.iter().position(|r| r.0 == current) {
                    readers.swap_remove(i);
                }
            }
        });
    }
}

unsafe impl<T: ?Sized + Send> Send for UnsafeCell<T> {}
