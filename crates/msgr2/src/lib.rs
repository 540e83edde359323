//! Ceph's messenger v2 (msgr2.1), client side, sans-IO: banner, frames in crc and secure
//! modes, typed control frames, and the connection state machine; a thin tokio driver behind
//! the `tokio` feature.
//!
//! Layers, bottom up:
//!
//! * [`crc`]: Ceph's crc32c convention (raw reflected Castagnoli, no implicit inversion).
//! * [`banner`]: the `ceph v2\n` banner and the msgr2 feature bits.
//! * [`frame`]: preamble, segments, epilogue; [`FrameEncoder`] / [`FrameDecoder`] for crc
//!   and secure (AES-128-GCM) modes, zero-copy on receive.
//! * [`frames`]: every control frame as a typed struct; [`message`]: `MESSAGE` frames.
//! * [`auth`]: the [`AuthClient`] trait the caller implements (CephX lives in another crate)
//!   and [`AuthNone`].
//! * [`connection`]: [`Connection`], the client state machine: bytes in, bytes out, events,
//!   timers; no I/O, no clock, no randomness of its own.
//! * `driver` (feature `tokio`): one task per connection that moves bytes between a
//!   `TcpStream` and a [`Connection`].
//!
//! * [`compression`]: on-wire compression (Quincy+): offered when
//!   [`ConnectionConfig::compression`] asks for it, byte-compatible with Ceph's snappy, zlib,
//!   zstd and lz4 plugins. Real servers compress only with OSD peers, never with clients.
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

pub mod auth;
pub mod banner;
pub mod cephx_auth;
pub mod compression;
pub mod connection;
pub mod crc;
mod crypto;
mod error;
pub mod frame;
pub mod frames;
pub mod message;

#[cfg(feature = "tokio")]
pub mod driver;

#[doc(hidden)]
pub mod fuzzing;

pub use auth::{AuthClient, AuthError, AuthMethod, AuthNone, AuthSuccess, ConMode};
pub use banner::Banner;
pub use compression::{
    CompressionAlgorithm, CompressionMode, CompressionSettings, OnwireCompression,
};
pub use connection::{CloseReason, Connection, ConnectionConfig, Event, SessionInfo};
pub use crypto::{GcmRx, GcmTx, secure_pair};
pub use error::Error;
pub use frame::{
    Frame, FrameDecoder, FrameEncoder, FrameLimits, RecvPoolLimits, RecvPoolStats, SharedRecvPool,
    Tag,
};
pub use frames::ControlFrame;
pub use message::{Message, MsgHeader2};
