//! The tokio-shaped primitives (`selvedge::tokio::sync`): each one's semantics as tokio
//! documents them, checked in every schedule; exact DPOR execution counts where the ideal is
//! computable; cancellation of a waiting task releasing what it holds; deadlock reports that
//! say what each task waits for.

mod common;

use std::collections::BTreeSet;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use selvedge::future::{block_on, spawn};
use selvedge::sync::Arc;
use selvedge::tokio::sync::{mpsc, oneshot, Notify, Semaphore};
use selvedge::{explore, time, Config, FailureKind, Report, Strategy};

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

/// The set of values `record` saw over every execution of `body`, which must pass
/// exhaustively.
fn outcomes<T: Ord + Send + 'static>(body: impl Fn(&dyn Fn(T)) + Send + Sync + 'static) -> Vec<T> {
    outcomes_with(Strategy::Dpor, body)
}

/// DPOR's reduction must not lose an outcome: it reaches exactly the outcomes DFS (every
/// interleaving) reaches. Returns them.
fn same_outcomes_as_dfs<T: Ord + Send + std::fmt::Debug + 'static>(
    body: impl Fn(&dyn Fn(T)) + Send + Sync + Clone + 'static,
) -> Vec<T> {
    let reduced = outcomes_with(Strategy::Dpor, body.clone());
    let every = outcomes_with(Strategy::Dfs, body);
    assert_eq!(reduced, every, "DPOR lost outcomes that DFS reaches");
    reduced
}

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

// --- Semaphore ------------------------------------------------------------------------------

#[test]
fn semaphore_permits_are_counted_and_returned() {
    let report = dpor(|| {
        block_on(async {
            let s = Arc::new(Semaphore::new(3));
            let two = s.acquire_many(2).await.unwrap();
            assert_eq!(two.num_permits(), 2);
            assert_eq!(s.available_permits(), 1);
            assert!(matches!(
                s.try_acquire_many(2),
                Err(selvedge::tokio::sync::TryAcquireError::NoPermits)
            ));
            let one = s.clone().try_acquire_owned().unwrap();
            assert_eq!(s.available_permits(), 0);
            drop(two);
            assert_eq!(s.available_permits(), 2);
            one.forget();
            assert_eq!(s.available_permits(), 2);
            s.add_permits(3);
            assert_eq!(s.available_permits(), 5);
            assert_eq!(s.forget_permits(4), 4);
            assert_eq!(s.available_permits(), 1);
        })
    });
    passes_exhaustively(&report);
}

#[test]
fn closing_a_semaphore_fails_its_waiters_and_later_acquisitions() {
    let got = outcomes(|record| {
        let s = Arc::new(Semaphore::new(0));
        let s2 = s.clone();
        let waiter = spawn(async move { s2.acquire().await.is_err() });
        s.close();
        record(block_on(waiter).unwrap());
        assert!(s.try_acquire().is_err());
        assert!(s.is_closed());
    });
    assert_eq!(got, vec![true]);
}

#[test]
fn dpor_explores_each_order_of_arrivals_at_a_fair_semaphore_used_as_a_lock() {
    // Two tasks, three sections each under a one-permit semaphore. tokio's semaphore is fair:
    // an acquisition that finds no permit joins a queue, and a release hands the permit to the
    // oldest waiter, so *when* a task arrives (before or after the other's release) decides
    // who goes next. The model has that queue, so DPOR explores every order of arrivals and
    // releases: 384 executions (every one of them a different interleaving of those steps;
    // DFS runs 3,169), where a lock that any waiter may take needs only the 6!/(3!3!) = 20
    // orders of the sections (`tokio::sync::Mutex`, see `async_model.rs`).
    let body = || {
        let s = Arc::new(Semaphore::new(1));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                spawn(async move {
                    for _ in 0..3 {
                        let _permit = s.acquire().await.unwrap();
                    }
                })
            })
            .collect();
        block_on(async {
            for t in tasks {
                t.await.unwrap();
            }
        });
    };
    let report = dpor(body);
    passes_exhaustively(&report);
    assert_eq!(report.schedules() - report.redundant_schedules(), 384);
    assert_eq!(report.redundant_schedules(), 0);
}

#[test]
fn a_task_that_asks_for_more_permits_behind_a_larger_request_deadlocks_as_in_tokio() {
    // Three permits. A task holds one and will ask for one more; another asks for all three.
    // When the large request comes first, tokio hands it the two free permits and queues it,
    // and the second small request waits behind it: each waits for the other. The model must
    // find that schedule (before the queue, the small request overtook the large one, and
    // this deadlock was never reported).
    let report = dpor(|| {
        let s = Arc::new(Semaphore::new(3));
        block_on(async {
            let held = s.acquire().await.unwrap();
            let s2 = s.clone();
            let all = spawn(async move {
                let _all = s2.acquire_many(3).await.unwrap();
            });
            let more = s.acquire().await.unwrap();
            drop((held, more));
            all.await.unwrap();
        });
    });
    let failure = report.failure().expect("the deadlock is found");
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    let text = failure.to_string();
    assert!(text.contains("await queued acquire"), "{text}");
    assert!(
        text.contains("it asked for 3 and was handed 2"),
        "the large request's share is named: {text}"
    );
    assert!(
        text.contains("it asked for 1 and was handed 0; none are free")
            && text.contains("the earlier requests of async-1 (task 1) (at "),
        "the small request names what it waits behind: {text}"
    );
}

#[test]
fn a_fair_semaphore_serves_waiters_in_the_order_they_arrived() {
    // Two permits, one held by main. The first task asks for two: it is handed the free one
    // and queues (main sees `available_permits` at 0). The second asks for one and queues
    // behind it. Main's release completes the first request; the second gets a permit only
    // when the first gives its two back. So the first always finishes first, in every
    // schedule (a semaphore that let any fitting request through would let the second go
    // first).
    let got = outcomes(|record| {
        let s = Arc::new(Semaphore::new(2));
        let order = Arc::new(StdMutex::new(Vec::new()));
        block_on(async {
            let held = s.acquire().await.unwrap();
            let (s1, o1) = (s.clone(), order.clone());
            let first = spawn(async move {
                let _two = s1.acquire_many(2).await.unwrap();
                o1.lock().unwrap().push("first");
            });
            while s.available_permits() != 0 {
                selvedge::tokio::task::yield_now().await;
            }
            let (s2, o2) = (s.clone(), order.clone());
            let second = spawn(async move {
                let _one = s2.acquire().await.unwrap();
                o2.lock().unwrap().push("second");
            });
            drop(held);
            first.await.unwrap();
            second.await.unwrap();
        });
        record(order.lock().unwrap().clone());
    });
    assert_eq!(got, vec![vec!["first", "second"]]);
}

#[test]
fn a_queued_request_dropped_hands_its_permits_to_the_next_waiter() {
    // Two permits, main holds one. A request for two takes the free one and queues; a request
    // for one queues behind it. The first gives up when main tells it to: its permit goes to
    // the second request, which completes while main still holds its own. (A timeout would
    // not do here: while main spins, every other task waits, so the virtual clock may move
    // and time the first request out before main ever sees it queued.)
    let got = outcomes(|record| {
        let s = Arc::new(Semaphore::new(2));
        block_on(async {
            let _held = s.acquire().await.unwrap();
            let s1 = s.clone();
            let (give_up, told) = oneshot::channel::<()>();
            let first = spawn(async move {
                selvedge::tokio::select! {
                    _ = s1.acquire_many(2) => false,
                    _ = told => true,
                }
            });
            while s.available_permits() != 0 {
                selvedge::tokio::task::yield_now().await;
            }
            let s2 = s.clone();
            let second = spawn(async move { s2.acquire().await.unwrap().num_permits() });
            give_up.send(()).unwrap();
            let gave_up = first.await.unwrap();
            record((gave_up, second.await.unwrap(), s.available_permits()));
        });
    });
    assert_eq!(got, vec![(true, 1, 1)]);
}

#[test]
fn closing_a_semaphore_fails_a_queued_request_even_after_its_permits_were_handed_over() {
    // One permit, held by main; a task queues for it. Main releases (the permit is handed to
    // the task) and closes. As in tokio, the task's acquisition fails if the close came
    // before it ran, and the permit is free again either way.
    let got = outcomes(|record| {
        let s = Arc::new(Semaphore::new(1));
        block_on(async {
            let held = s.acquire().await.unwrap();
            let s1 = s.clone();
            let waiter = spawn(async move { s1.acquire().await.map(|p| p.num_permits()).ok() });
            drop(held);
            s.close();
            let got = waiter.await.unwrap();
            record((got, s.available_permits()));
        });
    });
    assert_eq!(got, vec![(None, 1), (Some(1), 1)]);
}

#[test]
fn aborting_a_task_waiting_for_permits_releases_those_it_holds() {
    let got = outcomes(|record| {
        let s = Arc::new(Semaphore::new(2));
        let s2 = s.clone();
        let task = spawn(async move {
            let _first = s2.acquire().await.unwrap();
            // Waits for three more: never granted, only the abort ends it.
            let _rest = s2.acquire_many(3).await.unwrap();
        });
        task.abort();
        block_on(async {
            assert!(task.await.unwrap_err().is_cancelled());
            // Whatever point the abort landed at, both permits are free again.
            let both = s.acquire_many(2).await.unwrap();
            record(both.num_permits());
        });
    });
    assert_eq!(got, vec![2]);
}

#[test]
fn a_deadlock_on_permits_says_what_the_task_asked_for_and_that_none_are_free() {
    let report = dpor(|| {
        let s = Arc::new(Semaphore::new(1));
        block_on(async {
            let _held = s.acquire().await.unwrap();
            let _never = s.acquire().await.unwrap();
        });
    });
    let failure = report.failure().expect("the self-deadlock is found");
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    let text = failure.to_string();
    assert!(text.contains("await acquire"), "{text}");
    assert!(
        text.contains("waiting for permits of Semaphore#1"),
        "{text}"
    );
    assert!(
        text.contains("it asked for 1 and was handed 0; none are free"),
        "{text}"
    );
}

// --- Notify -----------------------------------------------------------------------------------

#[test]
fn notify_one_with_no_waiter_stores_one_permit() {
    let report = dpor(|| {
        block_on(async {
            let notify = Notify::new();
            notify.notify_one();
            notify.notify_one(); // a second permit is not stored
            notify.notified().await; // takes the permit at once
            let mut second = std::pin::pin!(notify.notified());
            assert!(!second.as_mut().enable(), "no second permit");
            notify.notify_one();
            second.await;
        })
    });
    passes_exhaustively(&report);
}

#[test]
fn notify_waiters_wakes_futures_made_before_it_and_stores_nothing() {
    let report = dpor(|| {
        block_on(async {
            let notify = Notify::new();
            let before = notify.notified(); // made, never polled before the call
            notify.notify_waiters();
            before.await; // completes: it was made before `notify_waiters`
            let mut after = std::pin::pin!(notify.notified());
            assert!(!after.as_mut().enable(), "notify_waiters stores no permit");
        })
    });
    passes_exhaustively(&report);
}

#[test]
fn notify_one_reaches_a_waiter_in_every_order_and_dpor_explores_three() {
    // The notify lands before the `Notified` is made, between making and registering it, or
    // after it waits: three orders of the notify and the waiter's two steps on the `Notify`
    // (its wait step only follows the notify), so three executions.
    let report = dpor(|| {
        let notify = Arc::new(Notify::new());
        let n = notify.clone();
        let waiter = spawn(async move { n.notified().await });
        notify.notify_one();
        block_on(waiter).unwrap();
    });
    passes_exhaustively(&report);
    assert_eq!(report.schedules(), 3);
}

#[test]
fn a_notify_one_taken_by_its_own_notifier_strands_the_other_waiter() {
    // A real tokio bug pattern: the permit `notify_one` stores when nobody waits yet is taken
    // by the next `notified().await` whoever makes it, here the notifier itself.
    let report = dpor(|| {
        let notify = Arc::new(Notify::new());
        let n = notify.clone();
        let waiter = spawn(async move {
            n.notified().await;
            n.notify_one();
        });
        block_on(async {
            notify.notify_one();
            notify.notified().await;
        });
        block_on(waiter).unwrap();
    });
    let failure = report.failure().expect("the stranded waiter is found");
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    let text = failure.to_string();
    assert!(text.contains("await notified"), "{text}");
    assert!(
        text.contains("waiting to be notified on Notify#1"),
        "{text}"
    );
}

#[test]
fn a_dropped_waiter_hands_its_notification_on() {
    let got = outcomes(|record| {
        let notify = Arc::new(Notify::new());
        let (n1, n2) = (notify.clone(), notify.clone());
        // The first waiter gives up after a second of virtual time, notified or not.
        let first = spawn(async move {
            time::timeout(Duration::from_secs(1), n1.notified())
                .await
                .is_ok()
        });
        let second = spawn(async move { n2.notified().await });
        notify.notify_one();
        let first_got_it = block_on(first).unwrap();
        if !first_got_it {
            // The notification went to the second waiter (directly, handed on, or stored).
            block_on(second).unwrap();
        } else {
            notify.notify_one();
            block_on(second).unwrap();
        }
        record(first_got_it);
    });
    assert_eq!(got, vec![false, true]);
}

// --- oneshot ----------------------------------------------------------------------------------

#[test]
fn oneshot_delivers_the_value_or_reports_a_dropped_sender() {
    let got = outcomes(|record| {
        let (tx, rx) = oneshot::channel::<u32>();
        let (tx2, rx2) = oneshot::channel::<u32>();
        let task = spawn(async move {
            tx.send(5).unwrap();
            drop(tx2);
        });
        block_on(async {
            record(rx.await.ok());
            record(rx2.await.ok());
        });
        block_on(task).unwrap();
    });
    assert_eq!(got, vec![None, Some(5)]);
}

#[test]
fn oneshot_send_fails_once_the_receiver_is_closed_and_closed_wakes_the_sender() {
    let report = dpor(|| {
        let (mut tx, mut rx) = oneshot::channel::<u32>();
        let watcher = spawn(async move {
            tx.closed().await;
            assert!(tx.is_closed());
            assert_eq!(tx.send(1), Err(1));
        });
        assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        rx.close();
        block_on(watcher).unwrap();
        assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed));
    });
    passes_exhaustively(&report);
}

// --- mpsc -------------------------------------------------------------------------------------

#[test]
fn a_bounded_channel_delivers_in_order_and_makes_senders_wait_for_room() {
    let report = dpor(|| {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let tx2 = tx.clone();
        let producer = spawn(async move {
            for i in 0..3 {
                tx2.send(i).await.unwrap();
            }
        });
        drop(tx);
        block_on(async {
            let mut got = Vec::new();
            while let Some(v) = rx.recv().await {
                got.push(v);
            }
            assert_eq!(got, vec![0, 1, 2]);
        });
        block_on(producer).unwrap();
    });
    passes_exhaustively(&report);
}

#[test]
fn mpsc_try_send_reserve_and_close_behave_as_tokio_documents() {
    let report = dpor(|| {
        block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(2);
            let permit = tx.reserve().await.unwrap();
            assert_eq!(tx.capacity(), 1);
            tx.try_send(1).unwrap();
            assert!(matches!(
                tx.try_send(2),
                Err(mpsc::error::TrySendError::Full(2))
            ));
            permit.send(0);
            assert_eq!(rx.len(), 2);
            assert_eq!(rx.recv().await, Some(1));
            assert_eq!(rx.try_recv(), Ok(0));
            assert_eq!(rx.try_recv(), Err(mpsc::error::TryRecvError::Empty));
            let kept = tx.try_reserve().unwrap();
            rx.close();
            assert!(tx.is_closed());
            assert!(matches!(
                tx.try_send(3),
                Err(mpsc::error::TrySendError::Closed(3))
            ));
            assert_eq!(tx.send(4).await, Err(mpsc::error::SendError(4)));
            // A slot reserved before the close can still be sent and received.
            kept.send(5);
            assert_eq!(rx.recv().await, Some(5));
            assert_eq!(rx.recv().await, None);
        })
    });
    passes_exhaustively(&report);
}

#[test]
fn dpor_runs_the_ideal_number_of_executions_for_two_senders_and_a_receiver() {
    // Two tasks each send one message on an unbounded channel; the receiver takes two. Every
    // channel operation writes the channel, so a trace is an order of the four operations in
    // which no receive comes before a message is there: the two orders of the sends, times
    // whether the first receive comes before or after the second send: 4.
    let report = dpor(|| {
        let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
        let senders: Vec<_> = (0..2)
            .map(|i| {
                let tx = tx.clone();
                spawn(async move {
                    tx.send(i).unwrap();
                    std::mem::forget(tx); // keep the drops out of the count
                })
            })
            .collect();
        std::mem::forget(tx);
        block_on(async {
            let a = rx.recv().await.unwrap();
            let b = rx.recv().await.unwrap();
            assert_ne!(a, b);
            for s in senders {
                s.await.unwrap();
            }
        });
        std::mem::forget(rx);
    });
    passes_exhaustively(&report);
    assert_eq!(report.schedules(), 4);
}

#[test]
fn recv_many_takes_what_is_queued_up_to_its_limit_and_a_dropped_one_puts_it_back() {
    let report = dpor(|| {
        let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
        let sender = spawn(async move {
            time::sleep(Duration::from_secs(1)).await;
            tx.send(8).unwrap();
            tx.send(9).unwrap();
        });
        block_on(async {
            let mut got = Vec::new();
            // At one second the timer and the messages are due together: in the schedules
            // where both are granted at one step the timer, written first, wins, and the
            // `recv_many` future is dropped after its grant: the messages go back.
            selvedge::tokio::select! {
                _ = time::sleep(Duration::from_secs(1)) => {}
                _ = rx.recv_many(&mut got, 10) => {}
            }
            while got.len() < 2 {
                assert!(rx.recv_many(&mut got, 10).await > 0);
            }
            assert_eq!(got, vec![8, 9]);
            assert_eq!(rx.recv_many(&mut got, 10).await, 0, "closed and drained");
        });
        block_on(sender).unwrap();
    });
    passes_exhaustively(&report);
}

#[test]
fn a_receive_in_a_dropped_future_loses_no_message() {
    let report = dpor(|| {
        let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
        let sender = spawn(async move {
            time::sleep(Duration::from_secs(1)).await;
            tx.send(9).unwrap();
        });
        block_on(async {
            // The receive and the timeout are ready at the same virtual instant in some
            // schedules: when the timeout wins, the message must still be there.
            match time::timeout(Duration::from_secs(1), rx.recv()).await {
                Ok(v) => assert_eq!(v, Some(9)),
                Err(_) => assert_eq!(rx.recv().await, Some(9)),
            }
        });
        block_on(sender).unwrap();
    });
    passes_exhaustively(&report);
}

#[test]
fn a_full_channel_deadlock_says_the_sender_waits_for_the_receiver() {
    let report = dpor(|| {
        let (tx, _rx) = mpsc::channel::<u32>(1);
        block_on(async {
            tx.send(1).await.unwrap();
            tx.send(2).await.unwrap();
        });
    });
    let failure = report.failure().expect("the full channel is found");
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    let text = failure.to_string();
    assert!(text.contains("await send"), "{text}");
    assert!(
        text.contains("waiting for the receiver of mpsc#1"),
        "{text}"
    );
}

#[test]
fn aborting_a_task_blocked_on_a_full_channel_releases_its_permit() {
    let got = outcomes(|record| {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let task = spawn(async move {
            let _slot = tx.reserve().await.unwrap(); // holds the only slot
            tx.send(1).await.unwrap(); // never has room
        });
        task.abort();
        block_on(async {
            assert!(task.await.unwrap_err().is_cancelled());
            // The reserved slot went back and every sender is gone: the channel is closed
            // and empty.
            record(rx.recv().await);
        });
    });
    assert_eq!(got, vec![None]);
}

// --- DPOR loses nothing DFS finds -------------------------------------------------------------

#[test]
fn dpor_reaches_every_outcome_of_permits_taken_in_different_sizes() {
    // Two permits: one task takes both at once, the other one at a time; which finishes
    // first, and what `available_permits` shows in between, depend on the order.
    let got = same_outcomes_as_dfs(|record| {
        let s = Arc::new(Semaphore::new(2));
        let (s1, s2) = (s.clone(), s.clone());
        let big = spawn(async move {
            let _both = s1.acquire_many(2).await.unwrap();
        });
        let small = spawn(async move {
            let _one = s2.acquire().await.unwrap();
            s2.available_permits()
        });
        let seen = s.available_permits();
        block_on(big).unwrap();
        record((seen, block_on(small).unwrap()));
    });
    assert!(got.len() >= 3, "{got:?}");
}

#[test]
fn dpor_reaches_every_outcome_of_two_senders_on_a_full_channel() {
    let got = same_outcomes_as_dfs(|record| {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let tx2 = tx.clone();
        let a = spawn(async move {
            tx.send(1).await.unwrap();
            tx.send(2).await.unwrap();
        });
        let b = spawn(async move { tx2.send(3).await.unwrap() });
        let order = block_on(async {
            let mut order = Vec::new();
            while let Some(v) = rx.recv().await {
                order.push(v);
            }
            order
        });
        block_on(a).unwrap();
        block_on(b).unwrap();
        record(order);
    });
    assert_eq!(got, vec![vec![1, 2, 3], vec![1, 3, 2], vec![3, 1, 2]]);
}

#[test]
fn dpor_reaches_every_outcome_of_notify_one_and_notify_waiters() {
    let got = same_outcomes_as_dfs(|record| {
        let notify = Arc::new(Notify::new());
        let n = notify.clone();
        let waiter = spawn(async move {
            time::timeout(Duration::from_secs(1), n.notified())
                .await
                .is_ok()
        });
        notify.notify_waiters(); // reaches the waiter only if it exists by then
        notify.notify_one(); // a permit if nobody waits
        let woke = block_on(waiter).unwrap();
        let mut again = std::pin::pin!(notify.notified());
        record((woke, again.as_mut().enable()));
    });
    // The waiter always wakes: by `notify_waiters`, by `notify_one`, or by its stored permit;
    // a permit is left over exactly when `notify_waiters` woke it first.
    assert_eq!(got, vec![(true, false), (true, true)]);
}

// --- Bad input ----------------------------------------------------------------------------------

fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("refused");
    common::panic_payload_text(payload.as_ref())
}

#[test]
fn primitives_used_outside_a_model_say_how_to_run_them() {
    let text = panic_text(|| {
        let _ = mpsc::channel::<u32>(1);
    });
    assert!(
        text.contains("`selvedge::tokio::sync::mpsc::channel` was called outside a selvedge model"),
        "{text}"
    );
    assert!(text.contains("selvedge::model(|| ...)"), "{text}");
    let semaphore = Semaphore::new(1);
    let text = panic_text(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(async {
            let _ = semaphore.acquire().await;
        })
    }));
    assert!(text.contains("polled outside a selvedge model"), "{text}");
    assert!(text.contains("selvedge::future::block_on"), "{text}");
}

#[test]
fn a_channel_kept_from_another_execution_is_refused_with_advice() {
    static KEPT: StdMutex<Option<mpsc::UnboundedSender<u32>>> = StdMutex::new(None);
    let report = explore(
        Config {
            strategy: Strategy::Random,
            max_schedules: Some(2),
            ..Default::default()
        },
        || {
            let (tx, _rx) = mpsc::unbounded_channel::<u32>();
            let old = KEPT.lock().unwrap().replace(tx);
            if let Some(old) = old {
                let _ = old.send(1);
            }
        },
    );
    let text = report
        .failure()
        .expect("the second execution is refused")
        .to_string();
    assert!(text.contains("a handle from another execution"), "{text}");
    assert!(text.contains("create them inside the test body"), "{text}");
    std::mem::forget(KEPT.lock().unwrap().take());
}

// --- Auto traits --------------------------------------------------------------------------------

#[test]
fn handles_and_futures_are_send_as_tokio_s_are() {
    // Goal: code that moves these across threads (or bounds them by `Send`) compiles as it
    // does against tokio.
    fn send<T: Send>(_: &T) {}
    fn sync<T: Sync>() {}
    sync::<Semaphore>();
    sync::<Notify>();
    sync::<selvedge::tokio::sync::RwLock<u32>>();
    sync::<selvedge::tokio::sync::OnceCell<u32>>();
    sync::<selvedge::tokio::sync::Barrier>();
    let report = dpor(|| {
        let semaphore = Semaphore::new(1);
        let notify = Notify::new();
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let (utx, mut urx) = mpsc::unbounded_channel::<u32>();
        let (otx, orx) = oneshot::channel::<u32>();
        send(&semaphore.acquire());
        send(&notify.notified());
        send(&tx.send(1));
        send(&tx.reserve());
        send(&rx.recv());
        send(&urx.recv());
        send(&orx);
        send(&otx);
        send(&utx);
        send(&tx);
        send(&rx);
        let (wtx, mut wrx) = selvedge::tokio::sync::watch::channel(0u32);
        send(&wrx.changed());
        send(&wtx);
        let (btx, mut brx) = selvedge::tokio::sync::broadcast::channel::<u32>(1);
        send(&brx.recv());
        send(&btx);
        let lock = selvedge::tokio::sync::RwLock::new(0u32);
        send(&lock.write());
        send(&lock.read());
        let mut set = selvedge::tokio::task::JoinSet::<u32>::new();
        send(&set.join_next());
    });
    passes_exhaustively(&report);
}

// --- Mutex extras -------------------------------------------------------------------------------

static UNIT_LOCK: selvedge::tokio::sync::Mutex<()> = selvedge::tokio::sync::Mutex::const_new(());

#[test]
fn mutex_const_new_try_lock_owned_and_blocking_lock() {
    let report = dpor(|| {
        let m = Arc::new(selvedge::tokio::sync::Mutex::new(1));
        let owned = m.clone().try_lock_owned().unwrap();
        assert!(m.clone().try_lock_owned().is_err());
        drop(owned);
        let m2 = m.clone();
        let thread = selvedge::thread::spawn(move || *m2.blocking_lock() += 1);
        block_on(async { *m.lock().await += 1 });
        thread.join().unwrap();
        assert_eq!(*m.blocking_lock(), 3);
        let _unit = block_on(UNIT_LOCK.lock());
        assert!(UNIT_LOCK.try_lock().is_err());
    });
    passes_exhaustively(&report);
}

#[test]
fn a_report_says_which_waiter_a_notify_one_woke_and_not_no_waiter() {
    // The report inferred "no waiter" for every tokio `notify_one`, even one that woke a
    // waiting task. Here main joins the waiters' queue before the notifier exists, so the
    // notify wakes it in every schedule.
    let report = dpor(|| {
        block_on(async {
            let notify = Arc::new(Notify::new());
            let mut waiting = std::pin::pin!(notify.notified());
            waiting.as_mut().enable();
            let n = notify.clone();
            let notifier = spawn(async move { n.notify_one() });
            waiting.await;
            notifier.await.unwrap();
            panic!("the end");
        })
    });
    let text = report.failure().expect("the end is reached").to_string();
    let row = text
        .lines()
        .find(|l| l.contains(" notify_one"))
        .unwrap_or_else(|| panic!("no notify_one row:\n{text}"));
    assert!(!row.contains("no waiter"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(" may wake ") && l.contains("main (task 0)")),
        "{text}"
    );
}
