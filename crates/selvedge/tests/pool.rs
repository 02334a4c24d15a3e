//! The worked example (`examples/pool`), checked: under the stress harness the racy pool shows
//! violations in every invariant column and the correct one none; under the model the racy
//! pool's interleavings are found, reported and replayed, and the correct pool is proved.

#[path = "../examples/pool/on_selvedge.rs"]
mod on_selvedge;
#[path = "../examples/pool/on_std.rs"]
mod on_std;
#[path = "../examples/pool/story.rs"]
mod story;

use selvedge::{explore, Config, FailureKind, Strategy};

#[test]
fn stress_shows_the_racy_pool_breaking_every_invariant() {
    let outcome = story::stress(on_std::pool::Variant::Racy);
    assert_eq!(outcome.threads(), 50);
    assert_eq!(outcome.iterations(), 50 * story::ITERATIONS);
    assert_eq!(
        outcome.fault("kill connection").unwrap().injected,
        50 * story::ITERATIONS / 10
    );
    assert_eq!(outcome.deadlocks(), 0, "{outcome}");
    assert_eq!(outcome.errors(), 0, "{outcome}");
    for column in ["double_releases", "shared_connections", "none_ids"] {
        assert!(
            outcome.violations(column).unwrap() > 0,
            "`{column}` stayed at zero:\n{outcome}"
        );
    }
}

#[test]
fn stress_finds_nothing_wrong_with_the_correct_pool() {
    let outcome = story::stress(on_std::pool::Variant::Correct);
    outcome.assert_clean();
    assert_eq!(outcome.iterations(), 50 * story::ITERATIONS);
    let kills = outcome.fault("kill connection").unwrap();
    assert_eq!(kills.injected, 50 * story::ITERATIONS / 10);
    assert!(kills.recovery.is_some(), "{outcome}");
}

fn exhaustive() -> Config {
    Config {
        strategy: Strategy::Dpor,
        workers: Some(1),
        ..Default::default()
    }
}

#[test]
fn the_model_shows_why_a_release_runs_twice_and_replays_it() {
    let report = explore(
        exhaustive(),
        story::released_once(on_selvedge::pool::Variant::Racy),
    );
    let failure = report.failure().expect("the double release");
    assert_eq!(failure.kind(), FailureKind::Panic);
    assert!(
        failure
            .message()
            .contains("connection 0 is idle twice: released twice"),
        "{failure}"
    );
    let text = failure.to_string();
    assert!(
        text.contains("examples/pool/pool.rs"),
        "the racy window is in the table: {text}"
    );
    let replay = Config {
        strategy: Strategy::Replay(failure.schedule().to_string()),
        ..Default::default()
    };
    let replayed = explore(
        replay,
        story::released_once(on_selvedge::pool::Variant::Racy),
    );
    assert_eq!(
        replayed.failure().map(|f| f.message()),
        Some(failure.message())
    );

    let correct = explore(
        exhaustive(),
        story::released_once(on_selvedge::pool::Variant::Correct),
    );
    assert!(
        correct.complete() && correct.failure().is_none(),
        "{:?}",
        correct.failure()
    );
}

#[test]
fn the_model_shows_why_a_drain_hands_out_a_none_id_and_replays_it() {
    let report = explore(
        exhaustive(),
        story::events_keep_their_ids(on_selvedge::pool::Variant::Racy),
    );
    let failure = report.failure().expect("the None id");
    assert!(
        failure
            .message()
            .contains("an event without a connection id"),
        "{failure}"
    );
    let replay = Config {
        strategy: Strategy::Replay(failure.schedule().to_string()),
        ..Default::default()
    };
    let replayed = explore(
        replay,
        story::events_keep_their_ids(on_selvedge::pool::Variant::Racy),
    );
    assert_eq!(
        replayed.failure().map(|f| f.message()),
        Some(failure.message())
    );

    let correct = explore(
        exhaustive(),
        story::events_keep_their_ids(on_selvedge::pool::Variant::Correct),
    );
    assert!(
        correct.complete() && correct.failure().is_none(),
        "{:?}",
        correct.failure()
    );
}
