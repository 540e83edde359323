//! `compare_and_write` (`rbd_compare_and_write`): an atomic compare-then-write of one
//! object's range, done as librbd does it (librbd/io/ImageRequest.cc
//! `ImageCompareAndWriteRequest`, ObjectRequest.cc `ObjectCompareAndWriteRequest`): the
//! range must map to a single object extent inside one stripe unit (`prune_object_extents`,
//! EINVAL otherwise), and one OSD operation carries `CMPEXT` then `WRITE` (or `WRITEFULL`
//! for a whole object), so the write happens only if the compare held.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::image::Image;
use crate::names;
use crate::object_map::state;

impl Image {
    /// Writes `data` at `off` only if the image holds `cmp` there (`rbd_compare_and_write`);
    /// returns the bytes written (the request is cut at the end of the image, as
    /// librbd's `clip_io` cuts it).
    ///
    /// `cmp` and `data` must have the same length, and the range must lie within one
    /// stripe unit of one object (with default striping: within one object), else
    /// [`Error::InvalidArgument`] (EINVAL, as librbd). When the bytes differ, nothing is
    /// written and the error is [`Error::CompareMismatch`] (EILSEQ) with the image offset
    /// of the first differing byte. Unwritten ranges compare as zeros.
    ///
    /// Differences from librbd 16.2 to 20.2: librbd reports the mismatch offset as the
    /// object's start plus the index in the compared buffer (it maps the OSD's buffer
    /// index as if it were an object offset), which is the true offset only when the
    /// compare starts at an object boundary; this reports `off + index`. A zero-length
    /// request returns 0 here (librbd 16.2 aborts on an assertion). librbd before Reef
    /// (16.2, 17.2) also refused requests crossing a 512-byte sector; Reef dropped that
    /// limit, and so does this. When the request runs past the end of the image only the
    /// part inside is compared (as Reef; Pacific compared the whole `cmp`, the bytes past
    /// the end against zeros).
    pub async fn compare_and_write(
        &self,
        off: u64,
        cmp: impl Into<Bytes>,
        data: impl Into<Bytes>,
    ) -> Result<u64> {
        self.check_writable()?;
        let (cmp, data): (Bytes, Bytes) = (cmp.into(), data.into());
        if cmp.len() != data.len() {
            return Err(Error::InvalidArgument(
                "compare and write buffers must have the same length",
            ));
        }
        if cmp.is_empty() {
            return Ok(0);
        }
        self.refresh_if_required().await?;
        let size = self.io_size();
        if off >= size {
            return Err(Error::PastEnd { offset: off, size });
        }
        let len = (cmp.len() as u64).min(size - off);
        let layout = self.info.layout();
        let extents = layout.file_to_extents(off, len);
        let [ex] = extents.as_slice() else {
            return Err(Error::InvalidArgument(
                "compare and write must stay within one object",
            ));
        };
        if ex.offset % layout.stripe_unit + ex.length > layout.stripe_unit {
            return Err(Error::InvalidArgument(
                "compare and write must stay within one stripe unit",
            ));
        }
        // one stripe unit of one object: the object range is the buffer range, in order
        let n = usize::try_from(len).map_err(|_| Error::InvalidArgument("request too large"))?;
        let (cmp, data) = (cmp.slice(..n), data.slice(..n));
        // the exclusive lock, and the object marked EXISTS in the object map, as a write
        let access = self.write_access().await?;
        if let Some(h) = crate::io::held(&access) {
            h.mark(&self.io, &[ex.object_no], state::EXISTS, None)
                .await?;
        }
        // a clone's object must hold the parent's bytes before the compare sees it
        // (CopyupRequest: copyup then cmpext+write, never in one op)
        if let Some(c) = self.clone_writer(crate::io::held(&access)) {
            if c.covers(ex.object_no) {
                c.run(ex.object_no, crate::copyup::ObjectOp::CopyupOnly, true)
                    .await?;
            }
        }
        let oid = names::data_object(&self.info.block_name_prefix, ex.object_no);
        let object_size = self.info.obj_size;
        let op = self
            .write_io()
            .op(oid)
            .set_alloc_hint(object_size, object_size, 0)
            .cmpext(ex.offset, cmp);
        let op = if ex.offset == 0 && ex.length == object_size {
            op.write_full(data)
        } else {
            op.write(ex.offset, data)
        };
        match op.submit().await {
            Ok(_) => Ok(len),
            Err(rados::Error::CompareMismatch { offset, .. }) => Err(Error::CompareMismatch {
                offset: off + offset,
            }),
            Err(e) => Err(e.into()),
        }
    }
}
