//! `Barrier`: tasks wait until `n` of them have arrived.

use std::panic::Location;

use super::object_id;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point, with_state, LazyObject, ObjectId, OpKind};

/// A barrier for `n` tasks, as `std::sync::Barrier`.
///
/// ```
/// use selvedge::sync::{Arc, Barrier};
///
/// selvedge::check_random(|| {
///     let barrier = Arc::new(Barrier::new(2));
///     let b2 = barrier.clone();
///     let t = selvedge::thread::spawn(move || b2.wait().is_leader());
///     let leader_here = barrier.wait().is_leader();
///     assert!(leader_here != t.join().unwrap(), "exactly one leader");
/// }, 50);
/// ```
#[derive(Debug)]
pub struct Barrier {
    object: LazyObject,
    created_at: &'static Location<'static>,
    n_tasks: usize,
}

/// Returned by `Barrier::wait`: one waiter per generation is the leader.
#[derive(Debug)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    #[track_caller]
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            object: LazyObject::new(),
            created_at: Location::caller(),
            n_tasks: n,
        }
    }

    #[track_caller]
    fn id(&self) -> ObjectId {
        let n_tasks = self.n_tasks;
        object_id(
            &self.object,
            ObjectKind::Barrier,
            self.created_at,
            "selvedge::sync::Barrier::wait",
            || ObjectState::Barrier {
                n_tasks,
                arrived: 0,
                generation: 0,
            },
        )
        .id
    }

    /// Blocks until `n` tasks have called `wait`; the last to arrive is the leader.
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        let id = self.id();
        point(OpKind::BarrierWait, Some(id));
        let waiting_in = with_state("Barrier::wait", |s| {
            s.hb_release(id);
            let ObjectState::Barrier {
                n_tasks,
                arrived,
                generation,
            } = s.object(id)
            else {
                unreachable!("object is not a barrier")
            };
            *arrived += 1;
            if *arrived >= *n_tasks {
                *arrived = 0;
                *generation = generation.wrapping_add(1);
                None
            } else {
                Some(*generation)
            }
        });
        let leader = match waiting_in {
            None => true,
            Some(generation) => {
                point(OpKind::BarrierBlocked(generation), Some(id));
                false
            }
        };
        with_state("Barrier::wait", |s| s.hb_acquire(id));
        BarrierWaitResult(leader)
    }
}
