//! Clients of the `rbd` object class (src/cls/rbd/cls_rbd.cc, cls_rbd_client.cc): input
//! encoders and reply decoders, plain functions so they can be tested and fuzzed without
//! a cluster. [`Method`] names a call; the `decode_*` functions never panic.

pub mod group;
pub mod mirror;
pub mod parent;
pub mod rbd;
pub mod snap;
pub mod trash;

use denc::{Reader, Writer};

use crate::error::{Error, Result};

/// The object class.
pub const CLASS: &str = "rbd";

/// An encoded call: method name and input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// The method name.
    pub name: &'static str,
    /// The encoded input.
    pub input: Vec<u8>,
}

impl Method {
    pub(crate) fn new(name: &'static str, f: impl FnOnce(&mut Writer)) -> Result<Method> {
        let mut w = Writer::new();
        f(&mut w);
        let input = w.finish().map_err(|e| Error::Rados(e.into()))?;
        Ok(Method { name, input })
    }

    /// Runs this call on `oid` (as a single op) and returns its output.
    pub(crate) async fn call(&self, io: &rados::IoCtx, oid: &str) -> Result<bytes::Bytes> {
        Ok(io.exec(oid, CLASS, self.name, &self.input).await?)
    }
}

/// Decodes the whole of `data` with `f`; bytes left over are an error (cls_rbd replies
/// have no trailing fields a client must skip).
pub(crate) fn decode_reply<T>(
    method: &'static str,
    data: &[u8],
    f: impl FnOnce(&mut Reader<'_>) -> denc::Result<T>,
) -> Result<T> {
    let mut r = Reader::new(data);
    let v = f(&mut r).map_err(|source| Error::Decode { method, source })?;
    r.finish()
        .map_err(|source| Error::Decode { method, source })?;
    Ok(v)
}
