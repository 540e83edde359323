//! The object map (librbd/ObjectMap.cc, object_map/*.cc): two bits per data object in
//! `rbd_object_map.<id>`, kept by the exclusive lock owner, saying which objects may
//! exist. Stored as a `ceph::BitVector<2>` (src/common/bit_vector.hpp) and changed through
//! the `rbd` class (`object_map_load`, `object_map_update`, `object_map_resize`).
//!
//! The codec and the update rules here are plain functions; the I/O is in
//! `exclusive_lock.rs` (loading at lock acquisition) and `io.rs` (updates around writes).

use denc::{Decode, Encode, Reader, Writer, ceph_crc32c};

use crate::cls::Method;
use crate::error::Result;

/// Object states (`OBJECT_*` in src/include/rbd/object_map_types.h).
pub mod state {
    /// The object does not exist.
    pub const NONEXISTENT: u8 = 0;
    /// The object may exist (and, with fast-diff, changed since the last snapshot).
    pub const EXISTS: u8 = 1;
    /// The object is being removed.
    pub const PENDING: u8 = 2;
    /// The object exists and did not change since the last snapshot (fast-diff).
    pub const EXISTS_CLEAN: u8 = 3;
}

/// The most objects an object map may track (`cls::rbd::MAX_OBJECT_MAP_OBJECT_COUNT`);
/// librbd invalidates larger maps.
pub const MAX_OBJECT_COUNT: u64 = 256_000_000;

/// CRCs cover the data in blocks of this many bytes (`BitVector::BLOCK_SIZE`).
const CRC_BLOCK: usize = 4096;
/// Two-bit elements per byte.
const PER_BYTE: u64 = 4;

/// A `ceph::BitVector<2>`: `size` two-bit elements, the first in the high bits of byte 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BitVector2 {
    size: u64,
    data: Vec<u8>,
    /// Whether the encoding carries CRCs (`object_map_load` answers with them;
    /// `object_map_save` inputs go without).
    pub crc: bool,
}

fn data_len(size: u64) -> Option<usize> {
    usize::try_from(size.div_ceil(PER_BYTE)).ok()
}

impl BitVector2 {
    /// `size` elements, all zero (NONEXISTENT), with CRCs.
    pub fn new(size: u64) -> BitVector2 {
        let mut v = BitVector2 {
            size: 0,
            data: Vec::new(),
            crc: true,
        };
        v.resize(size);
        v
    }

    /// Number of elements.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Element `i` (0 past the end).
    pub fn get(&self, i: u64) -> u8 {
        if i >= self.size {
            return 0;
        }
        let byte = usize::try_from(i / PER_BYTE)
            .ok()
            .and_then(|b| self.data.get(b))
            .copied()
            .unwrap_or(0);
        // compute_index: element 0 in the two high bits
        let shift = (PER_BYTE - 1 - i % PER_BYTE) * 2;
        (byte >> shift) & 3
    }

    /// Sets element `i` (ignored past the end).
    pub fn set(&mut self, i: u64, value: u8) {
        if i >= self.size {
            return;
        }
        let shift = (PER_BYTE - 1 - i % PER_BYTE) * 2;
        if let Some(b) = usize::try_from(i / PER_BYTE)
            .ok()
            .and_then(|b| self.data.get_mut(b))
        {
            *b = (*b & !(3 << shift)) | ((value & 3) << shift);
        }
    }

    /// Grows (new elements zero) or shrinks to `size` elements. Sizes past memory are
    /// clamped to what a `usize` holds.
    pub fn resize(&mut self, size: u64) {
        let bytes = data_len(size).unwrap_or(usize::MAX);
        self.data.resize(bytes, 0);
        // clear the unused elements of the last byte when shrinking
        let old = self.size;
        self.size = size;
        if size < old && size % PER_BYTE != 0 {
            for i in size..size.next_multiple_of(PER_BYTE) {
                self.size = i + 1;
                self.set(i, 0);
            }
            self.size = size;
        }
    }
}

impl Encode for BitVector2 {
    // bit_vector.hpp encode: header bufferlist, raw data, footer bufferlist
    fn encode(&self, w: &mut Writer) {
        let mut hw = Writer::new();
        hw.versioned(1, 1, |w| w.put_u64(self.size));
        let header = hw.finish().unwrap_or_default();
        w.put_length_prefixed(&header);
        w.put_bytes(&self.data);
        let mut footer = Vec::new();
        if self.crc {
            let blocks: Vec<u32> = self
                .data
                .chunks(CRC_BLOCK)
                .map(|b| ceph_crc32c(0, b))
                .collect();
            footer.extend_from_slice(&ceph_crc32c(0, &header).to_le_bytes());
            footer.extend_from_slice(&u32::try_from(blocks.len()).unwrap_or(0).to_le_bytes());
            for c in blocks {
                footer.extend_from_slice(&c.to_le_bytes());
            }
        }
        w.put_length_prefixed(&footer);
    }
}

impl Decode for BitVector2 {
    const MIN_LEN: usize = 4 + 14 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("BitVector<2>", |r| {
            let header = r.length_prefixed()?;
            let mut hr = Reader::new(header);
            let size = hr.versioned("BitVector header", 1, |_, r| r.u64())?;
            hr.finish()?;
            let n = data_len(size).ok_or_else(|| r.invalid("size", size))?;
            let data = r.take(n)?.to_vec();
            let footer = r.length_prefixed()?;
            let crc = !footer.is_empty();
            if crc {
                let mut fr = Reader::new(footer);
                if fr.u32()? != ceph_crc32c(0, header) {
                    return Err(fr.error(denc::DecodeErrorKind::Malformed("incorrect header CRC")));
                }
                let _src_size = fr.u32()?;
                let blocks = data.len().div_ceil(CRC_BLOCK);
                if fr.remaining() != blocks * 4 {
                    return Err(
                        fr.error(denc::DecodeErrorKind::Malformed("invalid data block CRCs"))
                    );
                }
                for block in data.chunks(CRC_BLOCK) {
                    if fr.u32()? != ceph_crc32c(0, block) {
                        return Err(
                            fr.error(denc::DecodeErrorKind::Malformed("invalid data block CRC"))
                        );
                    }
                }
            }
            Ok(BitVector2 { size, data, crc })
        })
    }
}

/// Whether an object in state `current` must be changed to reach `new`
/// (ObjectMap::update_required): PENDING only applies to objects that may exist, and
/// NONEXISTENT only follows PENDING.
pub fn update_required(current: u8, new: u8) -> bool {
    !(current == new
        || (new == state::PENDING && current == state::NONEXISTENT)
        || (new == state::NONEXISTENT && current != state::PENDING))
}

/// The half-open ranges of `objects` (sorted or not) whose state in `map` must change to
/// reach `new`, merged where adjacent: one `object_map_update` call each.
pub fn update_ranges(map: &BitVector2, objects: &[u64], new: u8) -> Vec<(u64, u64)> {
    let mut want: Vec<u64> = objects
        .iter()
        .copied()
        .filter(|&o| o < map.len() && update_required(map.get(o), new))
        .collect();
    want.sort_unstable();
    want.dedup();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for o in want {
        match out.last_mut() {
            Some((_, end)) if *end == o => *end = o + 1,
            _ => out.push((o, o + 1)),
        }
    }
    out
}

/// Applies an `object_map_update` to the in-memory copy as cls_rbd applies it on disk.
pub fn apply_update(map: &mut BitVector2, start: u64, end: u64, new: u8, current: Option<u8>) {
    for o in start..end.min(map.len()) {
        let s = map.get(o);
        let matches = match current {
            None => true,
            Some(c) => s == c || (c == state::EXISTS && s == state::EXISTS_CLEAN),
        };
        if matches && s != new {
            map.set(o, new);
        }
    }
}

// ---- class calls ----

/// `object_map_load`: no input; answers the whole map (with CRCs).
pub fn load() -> Result<Method> {
    Method::new("object_map_load", |_| {})
}

/// `object_map_resize`: `object_count` elements, new ones in `default_state`
/// (cls_rbd refuses to drop elements that are not NONEXISTENT: ESTALE). Creates the
/// object when missing.
pub fn resize(object_count: u64, default_state: u8) -> Result<Method> {
    Method::new("object_map_resize", |w| {
        w.put_u64(object_count);
        w.put_u8(default_state);
    })
}

/// `object_map_update`: objects `start..end` go to `new`, only those in `current` when
/// given (EXISTS also matches EXISTS_CLEAN).
pub fn update(start: u64, end: u64, new: u8, current: Option<u8>) -> Result<Method> {
    Method::new("object_map_update", |w| {
        w.put_u64(start);
        w.put_u64(end);
        w.put_u8(new);
        w.put(&current);
    })
}

/// `object_map_save`: replaces the whole map (written without CRCs, as librbd does).
pub fn save(map: &BitVector2) -> Result<Method> {
    let mut copy = map.clone();
    copy.crc = false;
    Method::new("object_map_save", |w| w.put(&copy))
}

/// Decodes an `object_map_load` reply.
pub fn decode_load(data: &[u8]) -> Result<BitVector2> {
    crate::cls::decode_reply("object_map_load", data, |r| r.decode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use denc::testing::{assert_truncations_fail, decode_all, samples};

    #[test]
    fn corpus() {
        let mut n = 0;
        for ty in ["BitVector<2>", "ceph::BitVector<2>"] {
            for s in samples(ty) {
                let v: BitVector2 = decode_all(&s.bytes, &s.path);
                assert_eq!(
                    denc::encode_to_vec(&v).unwrap(),
                    s.bytes,
                    "{}",
                    s.path.display()
                );
                assert_truncations_fail::<BitVector2>(&s.bytes, &s.path);
                n += 1;
            }
        }
        assert!(n >= 40, "{n} samples");
    }

    #[test]
    fn elements_and_crcs() {
        let mut v = BitVector2::new(10);
        v.set(0, state::EXISTS);
        v.set(3, state::PENDING);
        v.set(4, state::EXISTS_CLEAN);
        assert_eq!(v.get(0), 1);
        assert_eq!(v.get(3), 2);
        assert_eq!(v.get(4), 3);
        assert_eq!(v.get(99), 0);
        // element 0 in the high bits: 0b01_00_00_10, then 0b11_00_00_00
        assert_eq!(&v.data[..2], &[0x42, 0xc0]);
        let bytes = denc::encode_to_vec(&v).unwrap();
        assert_eq!(denc::decode_exact::<BitVector2>(&bytes).unwrap(), v);
        // a flipped data bit fails the block CRC
        let mut bad = bytes.clone();
        bad[18] ^= 1;
        assert!(denc::decode_exact::<BitVector2>(&bad).is_err());
        v.resize(1);
        v.resize(8);
        assert_eq!((v.get(0), v.get(3), v.get(4)), (1, 0, 0));
        // a huge size with no data is refused before allocating
        let mut w = Writer::new();
        w.put_length_prefixed(&{
            let mut h = Writer::new();
            h.versioned(1, 1, |w| w.put_u64(u64::MAX));
            h.finish().unwrap()
        });
        assert!(denc::decode_exact::<BitVector2>(&w.finish().unwrap()).is_err());
    }

    #[test]
    fn update_rules() {
        use state::*;
        assert!(update_required(NONEXISTENT, EXISTS));
        assert!(update_required(EXISTS_CLEAN, EXISTS));
        assert!(!update_required(EXISTS, EXISTS));
        assert!(!update_required(NONEXISTENT, PENDING));
        assert!(update_required(EXISTS, PENDING));
        assert!(!update_required(EXISTS, NONEXISTENT));
        assert!(update_required(PENDING, NONEXISTENT));
        let mut m = BitVector2::new(10);
        m.set(2, EXISTS);
        assert_eq!(
            update_ranges(&m, &[5, 1, 2, 3, 4, 9, 12], EXISTS),
            vec![(1, 2), (3, 6), (9, 10)]
        );
        apply_update(&mut m, 0, 4, PENDING, Some(EXISTS));
        assert_eq!((m.get(1), m.get(2)), (NONEXISTENT, PENDING));
        apply_update(&mut m, 0, 10, NONEXISTENT, Some(PENDING));
        assert_eq!(m.get(2), NONEXISTENT);
        let u = update(1, 3, EXISTS, Some(PENDING)).unwrap();
        assert_eq!(u.input.len(), 8 + 8 + 1 + 2);
    }
}
