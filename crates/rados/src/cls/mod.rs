//! Typed clients of object classes (OSD-side methods called through [`crate::IoCtx::exec`]).

pub mod lock;
