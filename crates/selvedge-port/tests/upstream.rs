//! Acceptance: loom 0.7's own test files and shuttle 0.9's public-API test files, renamed to
//! selvedge by `build.rs`, run here unchanged, except the tests `differences.txt` names, each
//! with its reason. `summary` counts them and fails below the bar (see `selvedge_port`).
//!
//! The upstream code is as upstream wrote it: lints that flag it are upstream's business.
#![allow(clippy::all, clippy::pedantic, unreachable_pub, dead_code, unused)]

mod loom_suite {
    include!(concat!(env!("OUT_DIR"), "/loom/mod.rs"));
}

mod shuttle_suite {
    include!(concat!(env!("OUT_DIR"), "/shuttle/mod.rs"));
}

mod lists {
    include!(concat!(env!("OUT_DIR"), "/lists.rs"));
}

#[test]
fn summary() {
    let text = selvedge_port::summarize(&[
        selvedge_port::SuiteLists {
            module: "loom_suite",
            differs: lists::loom_lists::DIFFERS,
            excised: lists::loom_lists::EXCISED,
            excluded_files: lists::loom_lists::EXCLUDED_FILES,
        },
        selvedge_port::SuiteLists {
            module: "shuttle_suite",
            differs: lists::shuttle_lists::DIFFERS,
            excised: lists::shuttle_lists::EXCISED,
            excluded_files: lists::shuttle_lists::EXCLUDED_FILES,
        },
    ]);
    println!("{text}");
}
