//! The OSD client ("objecter"): sans-IO pieces (op encodings, targeting, backoffs, the
//! state machine) and the tokio shell that drives them.

pub(crate) mod backoff;
pub(crate) mod client;
pub(crate) mod core;
pub(crate) mod listing;
pub(crate) mod ops;
pub(crate) mod target;
pub(crate) mod throttle;
pub(crate) mod types;

pub(crate) use self::core::OpRequest;
pub(crate) use ops::OutKind;
