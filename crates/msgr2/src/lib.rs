//! Ceph's messenger v2, sans-IO: banner, frames in crc and secure modes, and the connection
//! state machine; a thin tokio driver behind the `tokio` feature.
