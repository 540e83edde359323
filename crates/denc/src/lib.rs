//! Ceph's binary encoding ("denc") for a pure-Rust Ceph client.
//!
//! * [`Reader`] and [`Writer`]: a bounds-checked cursor and an appender, with Ceph's versioned
//!   envelope (`ENCODE_START` / `DECODE_START`) as [`Reader::versioned`] and
//!   [`Writer::versioned`].
//! * [`Decode`] and [`Encode`]: implemented for integers, `bool`, strings, bufferlists
//!   ([`bytes::Bytes`]), vectors, maps, sets, pairs and optionals, laid out as Ceph lays
//!   them out (see the table in [`codec`]).
//! * [`types`]: the client-side types every other crate shares (`entity_addr_t`, `pg_t`,
//!   `hobject_t`, `SnapContext`, ...).
//! * [`features`]: Ceph's feature bits, tested as sets.
//!
//! Decoding never panics and never allocates from an unchecked length: every length is
//! checked against the bytes that remain, every element count against the smallest size its
//! elements can have ([`Decode::MIN_LEN`]). Errors name the types being decoded.
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

pub mod codec;
mod crc;
mod error;
pub mod features;
#[doc(hidden)]
pub mod fuzzing;
mod reader;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;
mod writer;

pub use codec::{Decode, Encode};
pub use crc::ceph_crc32c;
pub use error::{DecodeError, DecodeErrorKind, EncodeError, Result};
pub use reader::{Reader, decode_exact};
pub use writer::{Writer, encode_to_vec, encode_with_features};

// The types are used everywhere; re-export them at the root.
pub use types::*;
