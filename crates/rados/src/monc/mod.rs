//! The monitor client: sans-IO pieces (subscriptions, hunting, request tables, the OSD map
//! tracker and the state machine that ties them together) and the tokio task that drives
//! them.

pub(crate) mod core;
pub(crate) mod hunt;
pub(crate) mod maps;
pub(crate) mod requests;
pub(crate) mod subs;
pub(crate) mod task;

pub use requests::CommandReply;
