//! Whole images with their snapshots in `rbd export --export-format 2`'s file format
//! (doc/dev/rbd-export.rst; src/tools/rbd/action/Export.cc `do_export_v2`, Import.cc
//! `do_import_header` / `do_import_v2`):
//!
//! ```text
//! "rbd image v2\n"  then records  tag u8, le64 length, payload:
//!     'O' order (le64)  'T' features (le64)  'U' stripe unit  'C' stripe count
//!     'M' image-meta key and value (le32-prefixed strings)      ... 'E' (no length)
//! "rbd image diffs v2\n"  le64 count  then that many diff streams in format 2 (one per
//! user snapshot, oldest first, each from the previous one, then the head)
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::cls::snap::SnapshotNamespace;
use crate::copy::CopyOptions;
use crate::create::CreateOptions;
use crate::error::{Error, Result};
use crate::image::{Image, OpenMode};
use crate::pool::Rbd;

/// The file's first line.
pub const IMAGE_BANNER_V2: &[u8] = b"rbd image v2\n";
/// The line before the diff streams.
pub const DIFFS_BANNER_V2: &[u8] = b"rbd image diffs v2\n";

/// Property record tags.
pub mod tag {
    /// Object size order.
    pub const ORDER: u8 = b'O';
    /// Image format (read, never written by `rbd`).
    pub const FORMAT: u8 = b'F';
    /// Feature bits.
    pub const FEATURES: u8 = b'T';
    /// Stripe unit.
    pub const STRIPE_UNIT: u8 = b'U';
    /// Stripe count.
    pub const STRIPE_COUNT: u8 = b'C';
    /// One image-meta pair.
    pub const META: u8 = b'M';
    /// End of the properties.
    pub const END: u8 = b'E';
}

/// The largest property record accepted (image-meta values are small; a bigger length
/// is a corrupt file, not a reason to allocate).
const MAX_RECORD: u64 = 64 << 20;

/// The image properties at the head of an export-format-2 file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageProperties {
    /// Object size order.
    pub order: Option<u64>,
    /// Feature bits.
    pub features: Option<u64>,
    /// Stripe unit.
    pub stripe_unit: Option<u64>,
    /// Stripe count.
    pub stripe_count: Option<u64>,
    /// Image metadata.
    pub metadata: BTreeMap<String, Vec<u8>>,
}

fn io_err(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::BadStream("the export file ends early")
    } else {
        Error::StreamIo(e)
    }
}

fn read_exact<const N: usize>(r: &mut impl Read) -> Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(io_err)?;
    Ok(b)
}

/// Reads `len` bytes, growing the buffer only as bytes arrive (a lying length cannot make
/// us allocate more than the input holds).
fn read_vec(r: &mut impl Read, len: u64) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    let got = r.take(len).read_to_end(&mut v).map_err(io_err)?;
    if got as u64 != len {
        return Err(Error::BadStream("the export file ends early"));
    }
    Ok(v)
}

fn expect_banner(r: &mut impl Read, banner: &'static [u8]) -> Result<()> {
    let got = read_vec(r, banner.len() as u64)?;
    if got != banner {
        return Err(Error::BadStream(
            "invalid banner (not an rbd export-format 2 file)",
        ));
    }
    Ok(())
}

/// Splits an `M` record's payload into key and value (two le32-prefixed strings).
fn meta_pair(payload: &[u8]) -> Result<(String, Vec<u8>)> {
    let mut r = denc::Reader::new(payload);
    let key = r
        .length_prefixed()
        .map_err(|_| Error::BadStream("bad image-meta record"))?;
    let value = r
        .length_prefixed()
        .map_err(|_| Error::BadStream("bad image-meta record"))?;
    let key = String::from_utf8(key.to_vec())
        .map_err(|_| Error::BadStream("image-meta key is not UTF-8"))?;
    Ok((key, value.to_vec()))
}

impl ImageProperties {
    /// Reads the banner and property records up to and including `E`; unknown tags are
    /// skipped by their length, as `rbd import` does.
    pub fn read(r: &mut impl Read) -> Result<ImageProperties> {
        expect_banner(r, IMAGE_BANNER_V2)?;
        let mut p = ImageProperties::default();
        loop {
            let [t] = read_exact::<1>(r)?;
            if t == tag::END {
                return Ok(p);
            }
            let len = u64::from_le_bytes(read_exact::<8>(r)?);
            if len > MAX_RECORD {
                return Err(Error::BadStream("property record too long"));
            }
            let payload = read_vec(r, len)?;
            let num = || -> Result<u64> {
                let b: [u8; 8] = payload
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::BadStream("numeric property is not 8 bytes"))?;
                Ok(u64::from_le_bytes(b))
            };
            match t {
                tag::ORDER => p.order = Some(num()?),
                tag::FEATURES => p.features = Some(num()?),
                tag::STRIPE_UNIT => p.stripe_unit = Some(num()?),
                tag::STRIPE_COUNT => p.stripe_count = Some(num()?),
                tag::META => {
                    let (k, v) = meta_pair(&payload)?;
                    p.metadata.insert(k, v);
                }
                tag::FORMAT => {}
                other => tracing::warn!(tag = other, "unknown property tag skipped"),
            }
        }
    }

    /// The banner and records as `rbd export --export-format 2` writes them.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut b = IMAGE_BANNER_V2.to_vec();
        let mut num = |t: u8, v: Option<u64>| {
            if let Some(v) = v {
                b.push(t);
                b.extend_from_slice(&8u64.to_le_bytes());
                b.extend_from_slice(&v.to_le_bytes());
            }
        };
        num(tag::ORDER, self.order);
        num(tag::FEATURES, self.features);
        num(tag::STRIPE_UNIT, self.stripe_unit);
        num(tag::STRIPE_COUNT, self.stripe_count);
        for (k, v) in &self.metadata {
            let kl = u32::try_from(k.len()).map_err(|_| Error::InvalidArgument("key too long"))?;
            let vl =
                u32::try_from(v.len()).map_err(|_| Error::InvalidArgument("value too long"))?;
            b.push(tag::META);
            b.extend_from_slice(&(k.len() as u64 + v.len() as u64 + 8).to_le_bytes());
            b.extend_from_slice(&kl.to_le_bytes());
            b.extend_from_slice(k.as_bytes());
            b.extend_from_slice(&vl.to_le_bytes());
            b.extend_from_slice(v);
        }
        b.push(tag::END);
        Ok(b)
    }
}

impl Image {
    /// Writes the whole image, its user snapshots included, in export format 2 (`rbd
    /// export --export-format 2`): properties, then one diff per snapshot (oldest first)
    /// and one for the head. `progress(done, total)` counts the diffs.
    pub async fn export_v2<W: Write>(
        &self,
        mut out: W,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<W> {
        let info = &self.info;
        let props = ImageProperties {
            order: Some(u64::from(info.order)),
            features: Some(info.features),
            stripe_unit: Some(info.stripe_unit),
            stripe_count: Some(info.stripe_count),
            metadata: self
                .metadata_list()
                .await?
                .into_iter()
                .map(|(k, v)| (k, v.to_vec()))
                .collect(),
        };
        out.write_all(&props.to_bytes()?)?;
        let snaps: Vec<_> = self
            .snap_list()
            .await?
            .into_iter()
            .filter(|s| s.namespace == SnapshotNamespace::User)
            .collect();
        let total = snaps.len() as u64 + 1;
        out.write_all(DIFFS_BANNER_V2)?;
        out.write_all(&total.to_le_bytes())?;
        let mut from: Option<String> = None;
        for (i, s) in snaps.iter().enumerate() {
            let mut at = self.clone();
            at.set_snap_by_id(Some(s.id)).await?;
            out = at
                .export_diff(from.as_deref(), false, 2, out, |_, _| {})
                .await?;
            from = Some(s.name.clone());
            progress(i as u64 + 1, total);
        }
        let mut head = self.clone();
        head.set_snap_by_id(None).await?;
        out = head
            .export_diff(from.as_deref(), false, 2, out, |_, _| {})
            .await?;
        progress(total, total);
        Ok(out)
    }
}

impl Rbd {
    /// Creates image `name` from an export-format-2 stream (`rbd import --export-format
    /// 2`): the file's order, features and striping unless `opts` says otherwise, its
    /// image metadata, then every diff in turn (snapshots recreated, protected ones
    /// protected). `progress(done, total)` counts the diffs.
    pub async fn import_v2<R: Read>(
        &self,
        name: &str,
        mut input: R,
        opts: &CopyOptions,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<R> {
        let props = ImageProperties::read(&mut input)?;
        let order = match (opts.order, props.order) {
            (Some(o), _) => Some(o),
            (None, Some(o)) => {
                Some(u8::try_from(o).map_err(|_| Error::BadStream("image order out of range"))?)
            }
            (None, None) => None,
        };
        let (stripe_unit, stripe_count) = opts.striping.unwrap_or((
            props.stripe_unit.unwrap_or(0),
            props.stripe_count.unwrap_or(0),
        ));
        let create = CreateOptions {
            size: 0,
            order,
            features: opts
                .features
                .or(props.features)
                .map(crate::copy::askable_features),
            stripe_unit,
            stripe_count,
            data_pool: opts.data_pool.clone(),
        };
        self.create(name, &create).await?;
        let mut image = self.open(name, OpenMode::ReadWrite).await?;
        let r = import_diffs(&mut image, &props, input, &mut progress).await;
        let closed = image.close().await;
        let input = r?;
        closed?;
        Ok(input)
    }
}

async fn import_diffs<R: Read>(
    image: &mut Image,
    props: &ImageProperties,
    mut input: R,
    progress: &mut impl FnMut(u64, u64),
) -> Result<R> {
    for (k, v) in &props.metadata {
        image.metadata_set(k, v).await?;
    }
    expect_banner(&mut input, DIFFS_BANNER_V2)?;
    let count = u64::from_le_bytes(read_exact::<8>(&mut input)?);
    for i in 0..count {
        input = image.import_diff(input, 2, |_, _| {}).await?;
        progress(i + 1, count);
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip_and_reject_garbage() {
        let mut p = ImageProperties {
            order: Some(22),
            features: Some(61),
            stripe_unit: Some(4 << 20),
            stripe_count: Some(1),
            metadata: BTreeMap::new(),
        };
        p.metadata
            .insert("conf_rbd_cache".into(), b"false".to_vec());
        let b = p.to_bytes().unwrap();
        assert_eq!(&b[..13], IMAGE_BANNER_V2);
        assert_eq!(b[13], b'O');
        assert_eq!(ImageProperties::read(&mut &b[..]).unwrap(), p);
        // every truncation fails cleanly
        for n in 0..b.len() {
            assert!(ImageProperties::read(&mut &b[..n]).is_err(), "{n}");
        }
        // an unknown tag is skipped by its length
        let mut u = b[..13].to_vec();
        u.extend_from_slice(&[b'Z', 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, b'E']);
        assert_eq!(
            ImageProperties::read(&mut &u[..]).unwrap(),
            ImageProperties::default()
        );
        // a huge length is refused without allocating
        let mut h = b[..13].to_vec();
        h.push(b'M');
        h.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(ImageProperties::read(&mut &h[..]).is_err());
        assert!(ImageProperties::read(&mut &b"rbd image v1\n"[..]).is_err());
    }
}
