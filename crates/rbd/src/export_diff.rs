//! `export-diff` and `import-diff` of an open image (src/tools/rbd/action/Export.cc
//! `do_export_diff_fd`, Import.cc `do_import_diff_fd`), over the stream codec of
//! `diff_stream.rs`.

use std::io::{Read, Write};

use bytes::Bytes;
use tokio::task::JoinSet;

use crate::diff::DiffExtent;
use crate::diff_stream::{DiffReader, DiffWriter, Record};
use crate::error::{Error, Result};
use crate::image::Image;

/// Extents read at once while exporting.
const READS_IN_FLIGHT: usize = 16;
/// Import writes runs of whole zero blocks of this size as zeroing (`--sparse-size`).
pub const SPARSE_SIZE: usize = 4096;

impl Image {
    /// Writes the changes since user snapshot `from_snap` (or creation) up to what this
    /// handle reads (its snapshot, named as the end snapshot, or the head) as a diff
    /// stream of `format` 1 or 2 (`rbd export-diff`). Changed extents that read as zeros
    /// become zero records. `progress(done, total)` follows the image offsets.
    pub async fn export_diff<W: Write>(
        &self,
        from_snap: Option<&str>,
        whole_object: bool,
        format: u8,
        out: W,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<W> {
        let to_snap = match self.snap_id {
            Some(id) => Some(self.snap_name(id).await?),
            None => None,
        };
        let protected = match (&to_snap, format) {
            (Some(n), 2) => self.is_protected_snap(n).await?,
            _ => false,
        };
        let size = self.info.size;
        let mut w = DiffWriter::new(out, format, from_snap, to_snap.as_deref(), protected, size)?;
        let extents = self.diff(from_snap, 0, size, true, whole_object).await?;
        for batch in extents.chunks(READS_IN_FLIGHT) {
            let mut set = JoinSet::new();
            for (i, e) in batch.iter().enumerate() {
                if e.exists {
                    let img = self.clone();
                    let (o, l) = (e.offset, e.length);
                    set.spawn(async move { (i, img.read(o, l).await) });
                }
            }
            let mut data: Vec<Option<Bytes>> = vec![None; batch.len()];
            while let Some(j) = set.join_next().await {
                let (i, r) = j.map_err(|_| Error::Rados(rados::Error::Shutdown))?;
                if let Some(slot) = data.get_mut(i) {
                    *slot = Some(r?);
                }
            }
            for (e, d) in batch.iter().zip(data) {
                write_extent(&mut w, e, d)?;
                progress(e.offset, size);
            }
        }
        w.finish()
    }

    /// Applies a diff stream (`rbd import-diff`) to this image, open read-write at the
    /// head: its start snapshot must exist here, its end snapshot must not (it is created,
    /// and protected when the stream says so, at the end); the size is set first.
    /// `progress(done, total)` follows the image offsets.
    pub async fn import_diff<R: Read>(
        &mut self,
        input: R,
        format: u8,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<R> {
        let mut r = DiffReader::new(input, format)?;
        let mut to_snap: Option<String> = None;
        let mut protected = false;
        loop {
            match r.next_record()? {
                Record::End => break,
                Record::FromSnap(name) => {
                    if !self.snap_exists(&name).await? {
                        return Err(Error::InvalidArgument(
                            "start snapshot does not exist in the image",
                        ));
                    }
                }
                Record::ToSnap(name) => {
                    if self.snap_exists(&name).await? {
                        return Err(Error::SnapshotExists(name));
                    }
                    to_snap = Some(name);
                }
                Record::Protected(p) => protected = p,
                Record::Size(size) => {
                    if size != self.info.size {
                        self.resize(size, true).await?;
                    }
                }
                Record::Write { offset, data } => {
                    self.write_sparse(offset, Bytes::from(data)).await?;
                    progress(offset, self.info.size);
                }
                Record::Zero { offset, length } => {
                    self.write_zeroes(offset, length).await?;
                    progress(offset, self.info.size);
                }
                Record::Unknown(t) => {
                    tracing::warn!(tag = t, "unrecognized tag in stream; skipped")
                }
            }
        }
        if let Some(name) = to_snap {
            self.create_snap(&name).await?;
            if protected {
                self.protect_snap(&name).await?;
            }
        }
        Ok(r.into_inner())
    }

    /// Writes `data` at `off`, zeroing instead of writing the runs of whole
    /// [`SPARSE_SIZE`] blocks of zeros (`utils::calc_sparse_extent`).
    pub async fn write_sparse(&self, off: u64, data: Bytes) -> Result<()> {
        let mut pos = 0usize;
        while pos < data.len() {
            let zero = is_zero_block(&data, pos);
            let mut end = pos;
            while end < data.len() && is_zero_block(&data, end) == zero {
                end = (end + SPARSE_SIZE).min(data.len());
            }
            let at = off + pos as u64;
            if zero {
                self.write_zeroes(at, (end - pos) as u64).await?;
            } else {
                self.write(at, data.slice(pos..end)).await?;
            }
            pos = end;
        }
        Ok(())
    }
}

fn is_zero_block(data: &[u8], at: usize) -> bool {
    let end = (at + SPARSE_SIZE).min(data.len());
    data.get(at..end).is_some_and(|b| b.iter().all(|&x| x == 0))
}

fn write_extent<W: Write>(
    w: &mut DiffWriter<W>,
    e: &DiffExtent,
    data: Option<Bytes>,
) -> Result<()> {
    match data {
        Some(d) if d.iter().any(|&b| b != 0) => w.write(e.offset, &d),
        _ => w.zero(e.offset, e.length),
    }
}
