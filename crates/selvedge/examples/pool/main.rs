//! A connection pool, racy and correct, under the stress harness and then under the model:
//! stress finds *that* the racy pool is wrong (non-zero invariant columns); the model shows
//! exactly *why* (the interleaving, step by step, and a replay string).
//!
//! ```sh
//! cargo run --release --example pool
//! ```
//!
//! It writes `target/pool-stress.json` and `target/pool-latency.svg` beside the printed table.

mod on_selvedge;
mod on_std;
mod story;

use selvedge::stress::markdown_summary;
use selvedge::{explore, Config, Strategy};

fn main() {
    println!(
        "Stress: {} threads x {} iterations, a connection killed every {} iterations\n",
        story::THREADS,
        story::ITERATIONS,
        story::KILL_EVERY
    );
    let racy = story::stress(on_std::pool::Variant::Racy);
    let correct = story::stress(on_std::pool::Variant::Correct);
    println!("{}", markdown_summary(&[&racy, &correct]));
    println!("The correct pool in detail (latency per operation, recovery after a kill):\n");
    println!("{}", correct.to_markdown());

    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    if std::fs::create_dir_all(&target).is_ok() {
        let _ = std::fs::write(target.join("pool-stress.json"), racy.to_json());
        let _ = std::fs::write(target.join("pool-latency.svg"), correct.to_svg());
    }

    println!("The model, on the same pool built from selvedge's primitives:\n");
    for (what, racy_body, correct_body) in [
        (
            "a release that runs twice",
            explore(
                exhaustive(),
                story::released_once(on_selvedge::pool::Variant::Racy),
            ),
            explore(
                exhaustive(),
                story::released_once(on_selvedge::pool::Variant::Correct),
            ),
        ),
        (
            "a drain that hands out a `None` id",
            explore(
                exhaustive(),
                story::events_keep_their_ids(on_selvedge::pool::Variant::Racy),
            ),
            explore(
                exhaustive(),
                story::events_keep_their_ids(on_selvedge::pool::Variant::Correct),
            ),
        ),
    ] {
        println!("== {what} ==\n");
        match racy_body.failure() {
            Some(failure) => println!("{failure}\n"),
            None => println!("racy pool: no failure found ({})\n", racy_body.coverage()),
        }
        println!(
            "correct pool: {} ({} schedules)\n",
            match correct_body.failure() {
                Some(_) => "FAILS".to_string(),
                None => correct_body.coverage(),
            },
            correct_body.schedules()
        );
    }
}

fn exhaustive() -> Config {
    Config {
        strategy: Strategy::Dpor,
        workers: Some(1),
        ..Default::default()
    }
}
