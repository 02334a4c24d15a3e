//! The rest of the tokio facade: `RwLock`, `Barrier`, `OnceCell`, `watch`, `broadcast`,
//! `JoinSet`, `task_local!`, and the `select!`, `join!`, `try_join!` and `pin!` macros, each
//! checked in every schedule; exact DPOR counts where the ideal is computable; and, for each
//! primitive, that DPOR reaches every outcome that plain DFS (no reduction) reaches.

use std::collections::BTreeSet;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use selvedge::future::{block_on, spawn};
use selvedge::sync::Arc;
use selvedge::tokio::sync::{broadcast, mpsc, watch, Barrier, OnceCell, RwLock};
use selvedge::tokio::task::JoinSet;
use selvedge::{explore, time, tokio, Config, FailureKind, Report, Strategy};

fn run(strategy: Strategy, f: impl Fn() + Send + Sync + 'static) -> Report {
    explore(
        Config {
            strategy,
            ..Default::default()
        },
        f,
    )
}

fn dpor(f: impl Fn() + Send + Sync + 'static) -> Report {
    run(Strategy::Dpor, f)
}

#[track_caller]
fn passes_exhaustively(report: &Report) {
    assert!(report.failure().is_none(), "{}", report.failure().unwrap());
    assert!(report.error().is_none(), "{:?}", report.error());
    assert!(report.complete(), "{}", report.coverage());
}

/// The values `record` saw over every execution of `body` under `strategy`, which must pass
/// exhaustively.
fn outcomes_with<T: Ord + Send + 'static>(
    strategy: Strategy,
    body: impl Fn(&dyn Fn(T)) + Send + Sync + 'static,
) -> Vec<T> {
    let seen = Arc::new(StdMutex::new(BTreeSet::new()));
    let sink = seen.clone();
    let report = run(strategy, move || {
        let record = |v: T| {
            sink.lock().unwrap().insert(v);
        };
        body(&record);
    });
    passes_exhaustively(&report);
    let mut seen = seen.lock().unwrap();
    std::mem::take(&mut *seen).into_iter().collect()
}

fn outcomes<T: Ord + Send + 'static>(body: impl Fn(&dyn Fn(T)) + Send + Sync + 'static) -> Vec<T> {
    outcomes_with(Strategy::Dpor, body)
}

/// DPOR's reduction must not lose an outcome: it reaches exactly the outcomes DFS (every
/// interleaving) reaches. Returns them.
fn same_outcomes_as_dfs<T: Ord + Send + Clone + std::fmt::Debug + 'static>(
    body: impl Fn(&dyn Fn(T)) + Send + Sync + Clone + 'static,
) -> Vec<T> {
    let reduced = outcomes_with(Strategy::Dpor, body.clone());
    let every = outcomes_with(Strategy::Dfs, body);
    assert_eq!(reduced, every, "DPOR lost outcomes that DFS reaches");
    reduced
}

// --- RwLock ---------------------------------------------------------------------------------

#[test]
fn rwlock_readers_share_writers_exclude_and_guards_downgrade() {
    let report = dpor(|| {
        block_on(async {
            let lock = Arc::new(RwLock::new(0));
            let r1 = lock.read().await;
            let r2 = lock.clone().read_owned().await;
            assert!(lock.try_write().is_err());
            drop((r1, r2));
            let mut w = lock.write().await;
            *w += 1;
            assert!(lock.try_read().is_err());
            let r = w.downgrade();
            assert_eq!(*r, 1);
            assert!(
                lock.try_read().is_ok(),
                "a downgraded guard lets readers in"
            );
            assert!(lock.try_write().is_err());
        })
    });
    passes_exhaustively(&report);
}

#[test]
fn dpor_runs_the_ideal_number_of_executions_for_rwlock_writers() {
    // Two tasks, three write sections each: 6! / (3! 3!) = 20 orders.
    let writers = dpor(|| {
        let lock = Arc::new(RwLock::new(0u32));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let lock = lock.clone();
                spawn(async move {
                    for _ in 0..3 {
                        *lock.write().await += 1;
                    }
                })
            })
            .collect();
        block_on(async {
            for t in tasks {
                t.await.unwrap();
            }
        });
    });
    passes_exhaustively(&writers);
    assert_eq!(writers.schedules(), 20);
}

#[test]
fn dpor_reaches_every_outcome_of_readers_and_a_writer() {
    let got = same_outcomes_as_dfs(|record| {
        let lock = Arc::new(RwLock::new(0));
        let (l1, l2) = (lock.clone(), lock.clone());
        let writer = spawn(async move {
            *l1.write().await = 1;
        });
        let reader = spawn(async move {
            let first = *l2.read().await;
            let second = *l2.read().await;
            (first, second)
        });
        let seen_by_main = *block_on(lock.read());
        block_on(writer).unwrap();
        record((block_on(reader).unwrap(), seen_by_main));
    });
    assert_eq!(
        got,
        vec![
            ((0, 0), 0),
            ((0, 0), 1),
            ((0, 1), 0),
            ((0, 1), 1),
            ((1, 1), 0),
            ((1, 1), 1)
        ]
    );
}

#[test]
fn a_reader_that_reads_again_while_a_writer_waits_deadlocks_as_with_tokio() {
    let report = dpor(|| {
        let lock = Arc::new(RwLock::new(0));
        let l2 = lock.clone();
        let writer = spawn(async move {
            *l2.write().await += 1;
        });
        block_on(async {
            let _first = lock.read().await;
            selvedge::future::yield_now().await;
            let _second = lock.read().await; // queues behind the waiting writer
        });
        block_on(writer).unwrap();
    });
    let failure = report
        .failure()
        .expect("the recursive read deadlock is found");
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    let text = failure.to_string();
    assert!(text.contains("await read"), "{text}");
    assert!(text.contains("await write"), "{text}");
}

#[test]
fn aborting_a_task_waiting_for_a_write_lock_releases_its_read_lock() {
    let got = outcomes(|record| {
        let a = Arc::new(RwLock::new(0));
        let b = Arc::new(RwLock::new(0));
        let (a2, b2) = (a.clone(), b.clone());
        let _b_held = block_on(b.clone().read_owned());
        let task = spawn(async move {
            let _a = a2.read().await;
            let _never = b2.write().await; // main holds a read of `b` throughout
        });
        task.abort();
        block_on(async {
            assert!(task.await.unwrap_err().is_cancelled());
            *a.write().await += 1; // the task's read of `a` is gone
            record(*a.read().await);
        });
    });
    assert_eq!(got, vec![1]);
}

// --- Barrier --------------------------------------------------------------------------------

#[test]
fn a_barrier_releases_its_tasks_together_with_one_leader_per_round() {
    let got = same_outcomes_as_dfs(|record| {
        let barrier = Arc::new(Barrier::new(2));
        let arrived = Arc::new(selvedge::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let (barrier, arrived) = (barrier.clone(), arrived.clone());
                spawn(async move {
                    arrived.fetch_add(1, selvedge::sync::atomic::Ordering::SeqCst);
                    let leader = barrier.wait().await.is_leader();
                    // Nobody leaves before both arrived.
                    assert_eq!(arrived.load(selvedge::sync::atomic::Ordering::SeqCst), 2);
                    leader
                })
            })
            .collect();
        let leaders: Vec<bool> = tasks.into_iter().map(|t| block_on(t).unwrap()).collect();
        assert_eq!(leaders.iter().filter(|l| **l).count(), 1);
        record(leaders);
    });
    assert_eq!(got, vec![vec![false, true], vec![true, false]]);
}

#[test]
fn dpor_runs_the_ideal_number_of_executions_for_a_barrier() {
    // Two tasks arrive at a two-task barrier: the two orders of the arrivals (the first to
    // arrive waits, the second leads) are the only traces.
    let report = dpor(|| {
        let barrier = Arc::new(Barrier::new(2));
        let b = barrier.clone();
        let task = spawn(async move { b.wait().await.is_leader() });
        let here = block_on(barrier.wait()).is_leader();
        assert_ne!(here, block_on(task).unwrap());
    });
    passes_exhaustively(&report);
    assert_eq!(report.schedules(), 2);
}

// --- OnceCell -------------------------------------------------------------------------------

static GLOBAL: OnceCell<u32> = OnceCell::const_new();

#[test]
fn once_cell_initialises_once_and_every_caller_sees_the_winner() {
    let got = same_outcomes_as_dfs(|record| {
        let cell = Arc::new(OnceCell::new());
        let c = cell.clone();
        let task = spawn(async move { *c.get_or_init(|| async { 1 }).await });
        let here = block_on(async { *cell.get_or_init(|| async { 2 }).await });
        let there = block_on(task).unwrap();
        assert_eq!(here, there);
        assert_eq!(cell.get(), Some(&here));
        record(here);
    });
    assert_eq!(got, vec![1, 2]);
}

#[test]
fn a_static_once_cell_starts_empty_in_every_execution() {
    let report = dpor(|| {
        assert!(!GLOBAL.initialized(), "no execution sees another's value");
        let task = spawn(async { *GLOBAL.get_or_init(|| async { 7 }).await });
        assert_eq!(block_on(task).unwrap(), 7);
        assert!(GLOBAL.set(8).unwrap_err().is_already_init_err());
    });
    passes_exhaustively(&report);
    assert!(report.schedules() >= 1);
}

#[test]
fn a_failed_or_cancelled_initialiser_lets_another_caller_initialise() {
    let got = outcomes(|record| {
        let cell = Arc::new(OnceCell::<u32>::new());
        let c = cell.clone();
        // Starts initialising, then waits forever inside the initialiser: only the abort
        // ends it, and the right to initialise goes back.
        let stuck = spawn(async move {
            c.get_or_init(std::future::pending).await;
        });
        stuck.abort();
        block_on(async {
            let failed: Result<&u32, &str> = cell.get_or_try_init(|| async { Err("no") }).await;
            assert_eq!(failed, Err("no"));
            record(*cell.get_or_init(|| async { 3 }).await);
        });
        assert!(block_on(stuck).unwrap_err().is_cancelled());
    });
    assert_eq!(got, vec![3]);
}

// --- watch ----------------------------------------------------------------------------------

#[test]
fn watch_receivers_see_the_latest_value_and_changed_marks_it_seen() {
    let got = same_outcomes_as_dfs(|record| {
        let (tx, mut rx) = watch::channel(0u32);
        let sender = spawn(async move {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        block_on(async {
            let mut seen = Vec::new();
            while rx.changed().await.is_ok() {
                seen.push(*rx.borrow_and_update());
            }
            // Every value seen is newer than the last; the latest is always seen.
            assert_eq!(seen.last(), Some(&2));
            assert!(seen.windows(2).all(|w| w[0] < w[1]));
            record(seen);
        });
        block_on(sender).unwrap();
    });
    assert_eq!(got, vec![vec![1, 2], vec![2]]);
}

#[test]
fn watch_send_fails_without_receivers_and_closed_wakes_the_sender() {
    let report = dpor(|| {
        let (tx, rx) = watch::channel(0u32);
        let sender = spawn(async move {
            tx.closed().await;
            assert!(tx.is_closed());
            assert_eq!(tx.send(5), Err(watch::error::SendError(5)));
            assert_eq!(tx.send_replace(6), 0);
            assert_eq!(*tx.borrow(), 6);
            let rx2 = tx.subscribe();
            assert_eq!(tx.receiver_count(), 1);
            drop(rx2);
        });
        drop(rx);
        block_on(sender).unwrap();
    });
    passes_exhaustively(&report);
}

#[test]
fn a_task_that_sends_while_holding_a_watch_borrow_deadlocks() {
    let report = dpor(|| {
        let (tx, _rx) = watch::channel(0u32);
        block_on(async {
            let held = tx.borrow();
            selvedge::future::yield_now().await;
            tx.send(*held + 1).unwrap(); // tokio's send waits for the borrow's read lock
        });
    });
    let failure = report.failure().expect("the self-deadlock is found");
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    assert!(failure.to_string().contains("send"), "{failure}");
}

#[test]
fn aborting_a_task_waiting_for_a_watch_change_leaves_the_channel_usable() {
    let got = outcomes(|record| {
        let (tx, mut rx) = watch::channel(0u32);
        let mut rx2 = rx.clone();
        let waiter = spawn(async move {
            let _ = rx2.changed().await;
            std::future::pending::<()>().await;
        });
        waiter.abort();
        tx.send(1).unwrap();
        block_on(async {
            assert!(waiter.await.unwrap_err().is_cancelled());
            rx.changed().await.unwrap();
            record(*rx.borrow());
        });
    });
    assert_eq!(got, vec![1]);
}

// --- broadcast ------------------------------------------------------------------------------

#[test]
fn a_lagging_broadcast_receiver_gets_lagged_then_the_oldest_kept_message() {
    let got = same_outcomes_as_dfs(|record| {
        let (tx, mut slow) = broadcast::channel::<u32>(2);
        let mut fast = tx.subscribe();
        let sender = spawn(async move {
            for i in 0..4 {
                tx.send(i).unwrap();
            }
        });
        block_on(async {
            // The fast receiver keeps up as far as the schedule lets it.
            let mut fast_got = Vec::new();
            loop {
                match fast.recv().await {
                    Ok(v) => fast_got.push(v),
                    Err(broadcast::error::RecvError::Lagged(_)) => fast_got.push(99),
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            assert!(fast_got.ends_with(&[2, 3]), "{fast_got:?}");
        });
        block_on(sender).unwrap();
        // The slow one read nothing until every message was sent: it lost the first two.
        block_on(async {
            assert_eq!(
                slow.recv().await,
                Err(broadcast::error::RecvError::Lagged(2))
            );
            assert_eq!(slow.recv().await, Ok(2));
            assert_eq!(slow.recv().await, Ok(3));
            assert_eq!(slow.recv().await, Err(broadcast::error::RecvError::Closed));
        });
        record(());
    });
    assert_eq!(got.len(), 1);
}

#[test]
fn broadcast_capacity_rounds_up_to_a_power_of_two_as_tokio_does() {
    let report = dpor(|| {
        let (tx, mut rx) = broadcast::channel::<u32>(3); // four slots
        for i in 0..4 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.len(), 4);
        assert_eq!(rx.try_recv(), Ok(0));
        tx.send(4).unwrap();
        tx.send(5).unwrap();
        assert_eq!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(1))
        );
        drop(tx);
        let rest: Vec<u32> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(rest, vec![2, 3, 4, 5]);
        assert_eq!(rx.try_recv(), Err(broadcast::error::TryRecvError::Closed));
    });
    passes_exhaustively(&report);
}

#[test]
fn broadcast_receives_commute_so_two_receivers_cost_one_execution_per_send_order() {
    // One task sends one message; two receivers each take it. Receives only read the
    // channel and all follow the send, so there is one trace. DPOR also tries to start a
    // receiver before the send (its first poll is a step of its own, and the receive after it
    // races with the send); that attempt cannot be completed, since the receive would block,
    // and is abandoned as redundant: one execution and one redundant attempt.
    let report = dpor(|| {
        let (tx, mut a) = broadcast::channel::<u32>(4);
        let mut b = tx.subscribe();
        // (Dropping a receiver writes the channel: forgotten, to count receives alone.)
        let ra = spawn(async move {
            let v = a.recv().await.unwrap();
            std::mem::forget(a);
            v
        });
        let rb = spawn(async move {
            let v = b.recv().await.unwrap();
            std::mem::forget(b);
            v
        });
        tx.send(1).unwrap();
        std::mem::forget(tx);
        assert_eq!(block_on(ra).unwrap() + block_on(rb).unwrap(), 2);
    });
    passes_exhaustively(&report);
    assert_eq!(report.schedules(), 2);
    assert_eq!(report.redundant_schedules(), 1);
}

// --- JoinSet --------------------------------------------------------------------------------

#[test]
fn a_join_set_returns_outputs_in_completion_order() {
    let got = same_outcomes_as_dfs(|record| {
        let order = block_on(async {
            let mut set = JoinSet::new();
            for i in 0..2u32 {
                set.spawn(async move { i });
            }
            assert_eq!(set.len(), 2);
            let mut order = Vec::new();
            while let Some(output) = set.join_next().await {
                order.push(output.unwrap());
            }
            assert!(set.is_empty());
            order
        });
        record(order);
    });
    assert_eq!(got, vec![vec![0, 1], vec![1, 0]]);
}

#[test]
fn dpor_runs_the_ideal_number_of_executions_for_a_join_set() {
    // Two tasks complete into a set that joins both. Completions and joins all write the
    // set, and a join follows a completion: the two orders of the completions, times whether
    // the first join comes before or after the second completion: 4.
    let report = dpor(|| {
        block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async { 1u32 });
            set.spawn(async { 2u32 });
            let mut sum = 0;
            while let Some(v) = set.join_next().await {
                sum += v.unwrap();
            }
            assert_eq!(sum, 3);
        })
    });
    passes_exhaustively(&report);
    assert_eq!(report.schedules(), 4);
}

#[test]
fn aborted_members_of_a_join_set_come_back_cancelled_and_dropping_it_aborts_the_rest() {
    let got = outcomes(|record| {
        block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async {
                std::future::pending::<()>().await;
            });
            set.spawn(async {});
            set.abort_all();
            let mut cancelled = 0;
            while let Some(output) = set.join_next().await {
                if let Err(e) = output {
                    assert!(e.is_cancelled());
                    cancelled += 1;
                }
            }
            // The pending task is cancelled. The other is cancelled too when the abort
            // comes before its first poll (a spawned future is not polled at its spawn), and
            // otherwise finished: its completion is not an await, so the abort cannot stop it.
            record(cancelled);
            let mut rest = JoinSet::new();
            rest.spawn(std::future::pending::<()>());
            drop(rest); // aborts it: nothing is left waiting at the end of the execution
        })
    });
    assert_eq!(got, vec![1, 2]);
}

// --- task_local! ----------------------------------------------------------------------------

selvedge::tokio::task_local! {
    static REQUEST: u32;
}

#[test]
fn a_task_local_is_seen_only_inside_its_scope_and_its_task() {
    let report = dpor(|| {
        let other = spawn(REQUEST.scope(2, async {
            selvedge::future::yield_now().await;
            REQUEST.get()
        }));
        let here = block_on(REQUEST.scope(1, async {
            selvedge::future::yield_now().await;
            let inner = REQUEST.sync_scope(5, || REQUEST.get());
            assert_eq!(inner, 5);
            REQUEST.get()
        }));
        assert_eq!(here, 1);
        assert_eq!(block_on(other).unwrap(), 2);
        assert!(REQUEST.try_with(|_| ()).is_err(), "unset outside its scope");
    });
    passes_exhaustively(&report);
}

// --- select!, join!, try_join!, pin! --------------------------------------------------------

#[test]
fn select_between_a_receive_and_a_timeout_is_explored_both_ways() {
    let got = same_outcomes_as_dfs(|record| {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let sender = spawn(async move {
            time::sleep(Duration::from_secs(1)).await;
            let _ = tx.send(7).await;
        });
        let got = block_on(async {
            tokio::select! {
                Some(v) = rx.recv() => Some(v),
                _ = time::sleep(Duration::from_secs(1)) => None,
            }
        });
        record(got);
        drop(rx);
        block_on(sender).unwrap();
    });
    assert_eq!(got, vec![None, Some(7)]);
}

#[test]
fn select_polls_in_written_order_so_the_first_ready_branch_written_wins() {
    let report = dpor(|| {
        block_on(async {
            let (tx1, mut rx1) = mpsc::unbounded_channel::<u32>();
            let (tx2, mut rx2) = mpsc::unbounded_channel::<u32>();
            tx1.send(1).unwrap();
            tx2.send(2).unwrap();
            // Both receives are granted at the same step: the first written wins, and the
            // other's message stays queued (its future is dropped, its grant undone).
            let first = tokio::select! {
                Some(v) = rx2.recv() => v,
                Some(v) = rx1.recv() => v,
            };
            assert_eq!(first, 2);
            let second = tokio::select! {
                biased;
                Some(v) = rx1.recv() => v,
                Some(v) = rx2.recv() => v,
            };
            assert_eq!(second, 1);
            assert_eq!(rx2.try_recv(), Err(mpsc::error::TryRecvError::Empty));
        })
    });
    passes_exhaustively(&report);
}

#[test]
fn select_preconditions_patterns_else_and_control_flow_in_handlers() {
    let report = dpor(|| {
        block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
            for i in 0..3 {
                tx.send(i).unwrap();
            }
            drop(tx);
            let mut got = Vec::new();
            let mut done = false;
            loop {
                tokio::select! {
                    // Disabled by its precondition once `done`.
                    msg = rx.recv(), if !done => match msg {
                        Some(v) => got.push(v),
                        None => done = true,
                    },
                    // Every branch disabled: `else` runs, and `break` leaves the loop.
                    else => break,
                }
            }
            assert_eq!(got, vec![0, 1, 2]);
            // A branch whose output does not match its pattern is disabled; the other wins.
            let (tx2, mut rx2) = mpsc::unbounded_channel::<u32>();
            drop(tx2);
            let which = tokio::select! {
                Some(_) = rx2.recv() => "message",
                _ = time::sleep(Duration::from_millis(5)) => "timer",
            };
            assert_eq!(which, "timer");
            // `return` and `continue` in handlers act on the enclosing async block and loop.
            let early = async {
                let mut tries = 0;
                loop {
                    tries += 1;
                    tokio::select! {
                        _ = std::future::ready(()), if tries == 3 => return tries,
                        else => continue,
                    }
                }
            };
            assert_eq!(early.await, 3);
        })
    });
    passes_exhaustively(&report);
}

/// Every strategy, for the `select!` cases below: a false failure under any is a bug.
fn passes_under_every_strategy(f: impl Fn() + Send + Sync + Clone + 'static) {
    for strategy in [
        Strategy::Dpor,
        Strategy::Dfs,
        Strategy::Random,
        Strategy::Pct { depth: 3 },
        Strategy::Pos,
    ] {
        let report = explore(
            Config {
                strategy: strategy.clone(),
                max_schedules: Some(2_000),
                ..Default::default()
            },
            f.clone(),
        );
        assert!(
            report.failure().is_none(),
            "{strategy:?}: {}",
            report.failure().unwrap()
        );
        assert!(
            report.error().is_none(),
            "{strategy:?}: {:?}",
            report.error()
        );
    }
}

#[test]
fn a_select_handler_may_lock_what_a_losing_branch_waited_for() {
    // tokio drops every branch future before the handler runs: the losing `lock()` gives back
    // the lock it may have been granted, and the handler's own `lock()` then gets it. With the
    // losing future still alive, the handler waited for the task itself (a false deadlock).
    passes_under_every_strategy(|| {
        block_on(async {
            let m = Arc::new(tokio::sync::Mutex::new(0));
            let n = Arc::new(tokio::sync::Notify::new());
            let g = m.lock().await;
            let (m2, n2) = (m.clone(), n.clone());
            let t = spawn(async move {
                tokio::select! {
                    _ = n2.notified() => { *m2.lock().await += 1; }
                    mut g = m2.lock() => { *g += 10; }
                }
            });
            tokio::task::yield_now().await;
            n.notify_one();
            drop(g);
            t.await.unwrap();
            let v = *m.lock().await;
            assert!(v == 1 || v == 10, "{v}");
        })
    });
}

#[test]
fn a_select_handler_sees_the_permits_a_losing_branch_gave_back() {
    passes_under_every_strategy(|| {
        block_on(async {
            let sem = Arc::new(tokio::sync::Semaphore::new(0));
            let n = Arc::new(tokio::sync::Notify::new());
            let (s2, n2) = (sem.clone(), n.clone());
            let t = spawn(async move {
                tokio::select! {
                    _ = n2.notified() => { s2.try_acquire().is_ok() }
                    _p = s2.acquire() => { true }
                }
            });
            tokio::task::yield_now().await;
            // The permit comes first: whichever branch wins, the handler finds it free (the
            // notified branch's handler only once the losing acquire gave it back).
            sem.add_permits(1);
            n.notify_one();
            assert!(
                t.await.unwrap(),
                "the permit was free but try_acquire failed"
            );
        })
    });
}

#[test]
fn a_select_handler_may_use_what_a_losing_branch_borrowed() {
    // Compiles only if the `rx.recv()` future (which borrows `rx` mutably and has a `Drop`)
    // is gone before the handler runs, as in tokio.
    passes_under_every_strategy(|| {
        block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
            let (stop_tx, mut stop_rx) = watch::channel(false);
            let producer = spawn(async move {
                tx.send(1).unwrap();
                tx.send(2).unwrap();
                stop_tx.send(true).unwrap();
                // Kept until the consumer has drained: the channel stays open meanwhile.
                tx
            });
            let mut seen = Vec::new();
            loop {
                tokio::select! {
                    _ = stop_rx.changed() => {
                        while let Ok(m) = rx.try_recv() {
                            seen.push(m);
                        }
                        break;
                    }
                    m = rx.recv() => match m {
                        Some(m) => seen.push(m),
                        None => break,
                    },
                }
            }
            let _tx = producer.await.unwrap();
            // Sent before the stop: every message is seen, from one branch or the other.
            assert_eq!(seen, vec![1, 2]);
        })
    });
}

#[test]
fn select_with_every_branch_disabled_and_no_else_panics_with_advice() {
    let report = dpor(|| {
        block_on(async {
            let _: () = tokio::select! {
                _ = std::future::ready(()), if false => (),
            };
        })
    });
    let failure = report.failure().expect("the panic is reported");
    assert!(
        failure.message().contains("no `else` branch"),
        "{}",
        failure.message()
    );
}

#[test]
fn join_and_try_join_poll_every_future_and_try_join_stops_at_the_first_error() {
    let report = dpor(|| {
        block_on(async {
            let lock = Arc::new(tokio::sync::Mutex::new(0));
            let (a, b) = tokio::join!(
                async {
                    *lock.lock().await += 1;
                    1
                },
                async {
                    *lock.lock().await += 1;
                    2
                }
            );
            assert_eq!((a, b, *lock.lock().await), (1, 2, 2));
            let ok: Result<(u32, u32), &str> = tokio::try_join!(async { Ok(1) }, async { Ok(2) });
            assert_eq!(ok, Ok((1, 2)));
            let err: Result<(u32, u32), &str> = tokio::try_join!(
                async { Err("first") },
                std::future::pending::<Result<u32, &str>>()
            );
            assert_eq!(err, Err("first"));
            let sleep = time::sleep(Duration::from_secs(1));
            tokio::pin!(sleep);
            sleep.as_mut().await;
        })
    });
    passes_exhaustively(&report);
}

// --- Cancellation of a task waiting on each primitive ---------------------------------------

/// A task takes a `tokio::sync::Mutex` guard, then waits on a primitive that never lets it
/// go on; main aborts it. In every schedule the task ends cancelled and its guard is released
/// (main takes the lock), wherever the abort landed. `wait` makes the waiting future and what
/// must stay alive meanwhile (a sender that never sends).
fn aborting_a_waiter_releases_its_guard<K: 'static>(
    wait: impl Fn() -> (K, std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>)
        + Send
        + Sync
        + 'static,
) {
    let report = dpor(move || {
        let lock = Arc::new(tokio::sync::Mutex::new(0));
        let l2 = lock.clone();
        let (keep, waiting) = wait();
        let task = spawn(async move {
            let mut guard = l2.lock().await;
            *guard += 1;
            waiting.await;
            unreachable!("nothing lets the waiter go on");
        });
        task.abort();
        block_on(async {
            assert!(task.await.unwrap_err().is_cancelled());
            *lock.lock().await += 10;
        });
        drop(keep);
    });
    passes_exhaustively(&report);
}

#[test]
fn aborting_a_task_waiting_on_any_primitive_releases_what_it_holds() {
    aborting_a_waiter_releases_its_guard(|| {
        let notify = Arc::new(tokio::sync::Notify::new());
        let n = notify.clone();
        (notify, Box::pin(async move { n.notified().await }))
    });
    aborting_a_waiter_releases_its_guard(|| {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        (
            tx,
            Box::pin(async move {
                let _ = rx.await;
            }),
        )
    });
    aborting_a_waiter_releases_its_guard(|| {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        (
            tx,
            Box::pin(async move {
                let _ = rx.recv().await;
            }),
        )
    });
    aborting_a_waiter_releases_its_guard(|| {
        let (tx, mut rx) = broadcast::channel::<u32>(1);
        (
            tx,
            Box::pin(async move {
                let _ = rx.recv().await;
            }),
        )
    });
    aborting_a_waiter_releases_its_guard(|| {
        let (tx, mut rx) = watch::channel(0u32);
        (
            tx,
            Box::pin(async move {
                let _ = rx.changed().await;
            }),
        )
    });
    aborting_a_waiter_releases_its_guard(|| {
        let barrier = Arc::new(Barrier::new(2));
        let b = barrier.clone();
        (
            barrier,
            Box::pin(async move {
                let _ = b.wait().await;
            }),
        )
    });
    aborting_a_waiter_releases_its_guard(|| {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(0));
        let s = semaphore.clone();
        (
            semaphore,
            Box::pin(async move {
                let _ = s.acquire().await;
            }),
        )
    });
    aborting_a_waiter_releases_its_guard(|| {
        let lock = Arc::new(RwLock::new(0));
        let held = lock.clone().try_read_owned().unwrap();
        let l = lock.clone();
        (
            held,
            Box::pin(async move {
                let _ = l.write().await;
            }),
        )
    });
    aborting_a_waiter_releases_its_guard(|| {
        (
            (),
            Box::pin(async move {
                let mut set = JoinSet::new();
                set.spawn(std::future::pending::<()>());
                let _ = set.join_next().await;
            }),
        )
    });
}

// --- Determinism ----------------------------------------------------------------------------

#[test]
fn tokio_facade_schedules_are_deterministic() {
    // Goal: the same seed gives the same schedules, byte for byte, through every primitive.
    let run = || {
        explore(
            Config {
                strategy: Strategy::Random,
                seed: 11,
                max_schedules: Some(60),
                ..Default::default()
            },
            || {
                let (tx, mut rx) = mpsc::channel::<u32>(1);
                let (wtx, mut wrx) = watch::channel(0u32);
                let semaphore = Arc::new(tokio::sync::Semaphore::new(1));
                let notify = Arc::new(tokio::sync::Notify::new());
                let (s, n) = (semaphore.clone(), notify.clone());
                let producer = spawn(async move {
                    for i in 0..3 {
                        let _permit = s.acquire().await.unwrap();
                        tx.send(i).await.unwrap();
                        wtx.send(i).unwrap();
                    }
                    n.notify_one();
                });
                block_on(async {
                    let mut set = JoinSet::new();
                    set.spawn(async move { while wrx.changed().await.is_ok() {} });
                    loop {
                        let next = tokio::select! {
                            v = rx.recv() => v,
                            _ = time::sleep(Duration::from_millis(5)) => Some(0),
                        };
                        if next.is_none() {
                            break;
                        }
                    }
                    notify.notified().await;
                    while set.join_next().await.is_some() {}
                    producer.await.unwrap();
                    assert_eq!(semaphore.available_permits(), 1);
                });
            },
        )
    };
    let (first, second) = (run(), run());
    passes_or_sampled(&first);
    assert_eq!(first.schedules(), 60);
    assert_eq!(first.digest(), second.digest());
}

#[track_caller]
fn passes_or_sampled(report: &Report) {
    assert!(report.failure().is_none(), "{}", report.failure().unwrap());
    assert!(report.error().is_none(), "{:?}", report.error());
}

#[test]
fn an_interval_catches_up_delays_or_skips_after_a_late_tick_as_tokio_does() {
    // Goal: `MissedTickBehavior` decides when the tick after a late one is due, with tokio's
    // formulas and its 5 ms tolerance, on the virtual clock.
    use selvedge::tokio::time::{Instant, MissedTickBehavior};
    fn ticks_after_a_busy_stretch(behavior: MissedTickBehavior, busy_ms: u64) -> Vec<u64> {
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let out = seen.clone();
        let report = run(Strategy::Dfs, move || {
            let seen = seen.clone();
            block_on(async move {
                let ms = Duration::from_millis;
                let start = Instant::now();
                let mut ticks = tokio::time::interval(ms(10));
                ticks.set_missed_tick_behavior(behavior);
                assert_eq!(ticks.missed_tick_behavior(), behavior);
                ticks.tick().await;
                tokio::time::sleep(ms(busy_ms)).await;
                let mut due = Vec::new();
                for _ in 0..4 {
                    let tick = ticks.tick().await;
                    // (when it was due, when it completed), in milliseconds from the start
                    let at = |i: Instant| (i - start).as_millis() as u64;
                    due.push(at(tick) * 1000 + at(Instant::now()));
                }
                *seen.lock().unwrap() = due;
            });
        });
        passes_exhaustively(&report);
        let due = out.lock().unwrap().clone();
        due
    }
    // due * 1000 + completed: busy until 35 ms, past the ticks due at 10, 20 and 30.
    assert_eq!(
        ticks_after_a_busy_stretch(MissedTickBehavior::Burst, 35),
        [10_035, 20_035, 30_035, 40_040]
    );
    assert_eq!(
        ticks_after_a_busy_stretch(MissedTickBehavior::Delay, 35),
        [10_035, 45_045, 55_055, 65_065]
    );
    assert_eq!(
        ticks_after_a_busy_stretch(MissedTickBehavior::Skip, 35),
        [10_035, 40_040, 50_050, 60_060]
    );
    // Late by 4 ms only: on time, whatever the behaviour.
    assert_eq!(
        ticks_after_a_busy_stretch(MissedTickBehavior::Delay, 14),
        [10_014, 20_020, 30_030, 40_040]
    );
}

#[test]
fn an_interval_resets_to_now_after_a_delay_or_at_a_deadline() {
    use selvedge::tokio::time::Instant;
    passes_exhaustively(&run(Strategy::Dfs, || {
        block_on(async {
            let ms = Duration::from_millis;
            let start = Instant::now();
            let mut ticks = tokio::time::interval(ms(10));
            assert_eq!(ticks.tick().await, start);
            ticks.reset_after(ms(3));
            assert_eq!(ticks.tick().await, start + ms(3));
            ticks.reset_immediately();
            assert_eq!(ticks.tick().await, start + ms(3));
            ticks.reset_at(start + ms(50));
            assert_eq!(ticks.tick().await, start + ms(50));
            ticks.reset();
            assert_eq!(ticks.tick().await, start + ms(60));
            assert_eq!(ticks.period(), ms(10));
        });
    }));
}

#[test]
fn a_weak_sender_upgrades_only_while_a_sender_is_left_and_dpor_orders_it_against_the_drop() {
    // Goal: `WeakSender::upgrade` reads whether a sender is left, so it is a step ordered
    // against the last sender's drop: both answers are reached, as DFS reaches them, and a
    // channel with only weak senders left is closed for the receiver.
    let got = same_outcomes_as_dfs(|record| {
        let (tx, mut rx) = mpsc::channel::<u32>(2);
        let weak = tx.downgrade();
        let dropper = spawn(async move { drop(tx) });
        let upgraded = spawn(async move {
            match weak.upgrade() {
                Some(tx) => tx.send(7).await.is_ok(),
                None => false,
            }
        });
        block_on(dropper).unwrap();
        let sent = block_on(upgraded).unwrap();
        let received = block_on(async {
            let mut all = Vec::new();
            while let Some(v) = rx.recv().await {
                all.push(v);
            }
            all
        });
        assert_eq!(received.len(), usize::from(sent), "a send lost or invented");
        record(sent);
    });
    assert_eq!(got, vec![false, true]);
    // The unbounded channel's weak sender, too.
    passes_exhaustively(&dpor(|| {
        block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
            let weak = tx.downgrade();
            weak.clone().upgrade().unwrap().send(1).unwrap();
            drop(tx);
            assert!(weak.upgrade().is_none());
            assert_eq!(rx.recv().await, Some(1));
            assert_eq!(rx.recv().await, None);
        });
    }));
}

#[test]
fn a_mapped_mutex_guard_holds_the_lock_until_it_is_dropped() {
    // Goal: `MutexGuard::map` (and the owned and `try_map` forms) keep the same lock: another
    // task never sees the value while a mapped guard lives, and dropping it unlocks.
    use selvedge::tokio::sync::{MappedMutexGuard, Mutex, MutexGuard, OwnedMutexGuard};
    let got = same_outcomes_as_dfs(|record| {
        let pair = Arc::new(Mutex::new((0u32, 0u32)));
        let other = pair.clone();
        let writer = spawn(async move {
            let mut first = MutexGuard::map(other.lock().await, |(a, _)| a);
            *first += 1;
            // Mapped again: still the same lock, held until this guard drops.
            let mut again = MappedMutexGuard::map(first, |a| a);
            *again += 1;
        });
        let seen = block_on(async {
            let owned = pair.clone().lock_owned().await;
            let second = OwnedMutexGuard::map(owned, |(a, _)| a);
            *second
        });
        block_on(writer).unwrap();
        let after = block_on(async {
            let guard = pair.lock().await;
            match MutexGuard::try_map(guard, |(a, _)| (*a > 100).then_some(a)) {
                Ok(_) => unreachable!("the value is 2"),
                Err(guard) => guard.0,
            }
        });
        record((seen, after));
    });
    // The reader sees the writer's two increments both or neither, never one.
    assert_eq!(got, vec![(0, 2), (2, 2)]);
}

#[test]
fn mapped_rwlock_guards_hold_their_lock_until_dropped() {
    // Goal: `RwLockReadGuard::map` keeps the shared lock and `RwLockWriteGuard::map` the
    // exclusive one: a reader sees the writer's two updates both or neither.
    use selvedge::tokio::sync::{RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard};
    let got = same_outcomes_as_dfs(|record| {
        let pair = Arc::new(RwLock::new((0u32, 0u32)));
        let other = pair.clone();
        let writer = spawn(async move {
            let mut whole = RwLockWriteGuard::map(other.write().await, |pair| pair);
            whole.0 += 1;
            let mut second = RwLockMappedWriteGuard::map(whole, |(_, b)| b);
            *second += 1;
        });
        let seen = block_on(async {
            let first = RwLockReadGuard::map(pair.read().await, |(a, _)| a);
            let a = *first;
            let whole = RwLockReadGuard::try_map(first, |_| None::<&u32>);
            assert!(
                whole.is_err(),
                "try_map found nothing: the guard comes back"
            );
            (a, pair.try_write().is_err())
        });
        block_on(writer).unwrap();
        let (a, b) = *block_on(pair.read());
        assert_eq!((a, b), (1, 1));
        record(seen);
    });
    // While the mapped read guard lived, no writer could get in.
    assert_eq!(got, vec![(0, true), (1, true)]);
}

#[test]
fn a_guard_handed_to_another_task_unlocks_there() {
    // Goal: guards are `Send`, and a task may hand one to a task it spawns, as with tokio.
    // Found in review: the unlock asserted that the task dropping the guard had locked it,
    // a false failure on correct code.
    use selvedge::tokio::sync::{Mutex, OwnedMutexGuard};
    passes_exhaustively(&dpor(|| {
        block_on(async {
            let m = Arc::new(Mutex::new(0u32));
            let guard = OwnedMutexGuard::map(m.clone().lock_owned().await, |v| v);
            spawn(async move {
                let mut guard = guard;
                *guard += 1;
            })
            .await
            .unwrap();
            assert_eq!(*m.lock().await, 1);

            let lock = Arc::new(RwLock::new(0u32));
            let read = lock.clone().read_owned().await;
            let other = lock.clone();
            let reader = spawn(async move {
                let _second = other.read().await; // a reader of its own meanwhile
                drop(read);
            });
            reader.await.unwrap();
            let write = lock.clone().write_owned().await;
            spawn(async move {
                let mut write = write;
                *write += 1;
            })
            .await
            .unwrap();
            assert_eq!(*lock.read().await, 1);
        });
    }));
}

#[test]
fn a_failed_weak_upgrade_comes_after_the_senders_drops_as_in_tokio() {
    // Goal: tokio's upgrade reads the sender count with acquire ordering, so a `None` is
    // ordered after the last sender's drop and what came before it. Found in review: selvedge
    // reported a data race tokio's ordering rules out.
    passes_exhaustively(&dpor(|| {
        let cell = Arc::new(selvedge::cell::UnsafeCell::new(0u32));
        let (tx, _rx) = mpsc::channel::<u32>(1);
        let weak = tx.downgrade();
        let writer_cell = cell.clone();
        let writer = spawn(async move {
            writer_cell.with_mut(|p| unsafe { *p = 1 });
            drop(tx);
        });
        block_on(async {
            if weak.upgrade().is_none() {
                assert_eq!(cell.with(|p| unsafe { *p }), 1);
            }
        });
        block_on(writer).unwrap();
    }));
}

#[test]
fn a_sleep_until_a_past_instant_is_ready_at_once() {
    use selvedge::tokio::time::Instant;
    passes_exhaustively(&dpor(|| {
        block_on(async {
            let start = Instant::now();
            tokio::time::sleep(Duration::from_millis(10)).await;
            tokio::time::sleep_until(start).await;
            assert_eq!(start.elapsed(), Duration::from_millis(10));
        });
    }));
}

#[test]
fn a_loop_of_sleeps_already_due_takes_steps_and_never_hangs() {
    // A zero sleep is due at once: no step. Before the budget, this loop on a `std` flag (which
    // selvedge cannot see) never reached a scheduling point and the test hung. Now every 128th
    // due sleep is a step: the random strategy soon runs the setter; DPOR, whose first schedule
    // keeps running main, reports the busy-wait as a livelock that says to yield, as it does a
    // thread's spin loop without `spin_loop()`. With `yield_now().await`, DPOR passes.
    fn body(yield_in_loop: bool) {
        block_on(async move {
            use std::sync::atomic::{AtomicBool, Ordering};
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let setter = spawn(async move { f.store(true, Ordering::SeqCst) });
            while !flag.load(Ordering::SeqCst) {
                if yield_in_loop {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(Duration::ZERO).await;
                }
            }
            setter.await.unwrap();
        })
    }
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let config = |strategy| Config {
            strategy,
            max_schedules: Some(200),
            max_steps: 2_000,
            ..Default::default()
        };
        let random = explore(config(Strategy::Random), || body(false));
        assert!(random.failure().is_none(), "{}", random.failure().unwrap());
        let dpor = explore(config(Strategy::Dpor), || body(false));
        let failure = dpor
            .failure()
            .expect("an unhinted busy-wait is a livelock to DPOR");
        assert_eq!(failure.kind(), FailureKind::Livelock, "{failure}");
        assert!(failure.message().contains("yield_now().await"), "{failure}");
        let hinted = explore(config(Strategy::Dpor), || body(true));
        assert!(hinted.failure().is_none(), "{}", hinted.failure().unwrap());
        assert!(hinted.complete(), "{}", hinted.coverage());
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(60))
        .expect("a loop of zero sleeps never reached a scheduling point (hung)");
}

#[test]
fn the_budget_step_of_due_sleeps_hides_no_order() {
    // The budget step must leave the task runnable: as a yield it parked the task until
    // another moved, so a task whose 128th zero sleep came before its store could never
    // store before main's load, and DFS and DPOR passed "complete" on this bug.
    for strategy in [Strategy::Dfs, Strategy::Dpor] {
        let report = run(strategy.clone(), || {
            block_on(async {
                let x = Arc::new(selvedge::sync::atomic::AtomicUsize::new(0));
                let x2 = x.clone();
                let h = spawn(async move {
                    for _ in 0..128 {
                        tokio::time::sleep(Duration::ZERO).await;
                    }
                    x2.store(1, std::sync::atomic::Ordering::SeqCst);
                });
                assert_eq!(
                    x.load(std::sync::atomic::Ordering::SeqCst),
                    0,
                    "the spawned task finished first"
                );
                h.await.unwrap();
            })
        });
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{strategy:?} missed the order ({})", report.coverage()));
        assert!(
            failure
                .message()
                .contains("the spawned task finished first"),
            "{failure}"
        );
    }
}

#[test]
fn many_sleeps_already_due_are_no_livelock() {
    // Budget steps that parked counted as futile yields: 10,000 zero sleeps (or a burst of
    // missed interval ticks) while the others waited were reported as a livelock.
    for strategy in [Strategy::Dfs, Strategy::Dpor, Strategy::Random] {
        let report = explore(
            Config {
                strategy: strategy.clone(),
                max_schedules: Some(3),
                ..Default::default()
            },
            || {
                block_on(async {
                    let sleeper = spawn(async {
                        for _ in 0..10_000 {
                            tokio::time::sleep(Duration::ZERO).await;
                        }
                        7
                    });
                    let ticker = spawn(async {
                        let mut ticks = tokio::time::interval(Duration::from_micros(1));
                        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                        ticks.tick().await;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        for _ in 0..10_000 {
                            ticks.tick().await;
                        }
                    });
                    assert_eq!(sleeper.await.unwrap(), 7);
                    ticker.await.unwrap();
                })
            },
        );
        assert!(
            report.failure().is_none(),
            "{strategy:?}: {}",
            report.failure().unwrap()
        );
    }
}

#[test]
fn dpor_reaches_what_dfs_reaches_when_budget_steps_are_the_only_preemptions() {
    let got = same_outcomes_as_dfs(|record| {
        block_on(async {
            let x = Arc::new(selvedge::sync::atomic::AtomicUsize::new(0));
            let x2 = x.clone();
            let h = spawn(async move {
                for i in 1..=2 {
                    for _ in 0..128 {
                        tokio::time::sleep(Duration::ZERO).await;
                    }
                    x2.store(i, std::sync::atomic::Ordering::Relaxed);
                }
            });
            let mut seen = Vec::new();
            for _ in 0..2 {
                for _ in 0..128 {
                    tokio::time::sleep(Duration::ZERO).await;
                }
                seen.push(x.load(std::sync::atomic::Ordering::Relaxed));
            }
            h.await.unwrap();
            record(seen);
        })
    });
    // Main may read before, between and after the stores.
    assert!(
        got.contains(&vec![0, 0]) && got.contains(&vec![2, 2]),
        "{got:?}"
    );
}

#[test]
fn owned_mapped_guards_map_again_and_try_map_gives_the_guard_back() {
    use selvedge::tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};
    passes_exhaustively(&dpor(|| {
        block_on(async {
            // tokio's owned guards take a std `Arc`.
            let m = std::sync::Arc::new(Mutex::new((1u32, 2u32)));
            let refused =
                OwnedMutexGuard::try_map(m.clone().lock_owned().await, |_| None::<&mut u32>);
            let guard = refused.expect_err("nothing found: the guard comes back");
            let pair = OwnedMutexGuard::map(guard, |pair| pair);
            assert!(std::sync::Arc::ptr_eq(
                OwnedMappedMutexGuard::mutex(&pair),
                &m
            ));
            let mut second = OwnedMappedMutexGuard::map(pair, |(_, b)| b);
            *second += 1;
            let second = OwnedMappedMutexGuard::try_map(second, |_| None::<&mut u32>)
                .expect_err("the guard comes back");
            assert!(m.try_lock().is_err(), "still locked by the mapped guard");
            drop(second);
            assert_eq!(*m.lock().await, (1, 3));
        });
    }));
}
