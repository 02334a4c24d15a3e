//! PostgreSQL: a wire-protocol proxy that makes every statement of an orchestrated connection a
//! syncpoint ([`Proxy`]), and a throwaway server for tests ([`TempCluster`]).
//!
//! Invariant: the proxy and the cluster know nothing of each other; a test hands the proxy the
//! cluster's URL like any other.

mod cluster;
mod protocol;
mod proxy;
mod url;

pub use cluster::{ClusterBuilder, TempCluster};
pub use proxy::Proxy;
