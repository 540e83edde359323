//! How image bytes map onto objects: the layout arithmetic of src/osdc/Striper.cc
//! (`file_to_extents`, `get_num_objects`) for RBD's (stripe unit, stripe count, object
//! size) layouts.
//!
//! Image data is cut into stripe units; consecutive units go round-robin over
//! `stripe_count` objects (an "object set"), one row ("stripe") at a time, until each
//! object of the set holds `object_size / stripe_unit` units; then the next set starts.

use crate::error::{Error, Result};

/// A striping layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Bytes per object (`1 << order`).
    pub object_size: u64,
    /// Bytes per stripe unit (divides `object_size`).
    pub stripe_unit: u64,
    /// Objects per object set.
    pub stripe_count: u64,
}

/// One object's part of an image range: a contiguous range of the object, and where its
/// pieces go in the caller's buffer, in object order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectExtent {
    /// The object number (the suffix of its name).
    pub object_no: u64,
    /// Offset in the object.
    pub offset: u64,
    /// Length in the object.
    pub length: u64,
    /// `(buffer offset, length)` pieces; their lengths add up to `length`.
    pub buffer_extents: Vec<(u64, u64)>,
}

impl Layout {
    /// A layout; checks what librbd checks (`validate_striping`): the stripe unit divides
    /// the object size and is at least 512 bytes, the count is not zero.
    pub fn new(object_size: u64, stripe_unit: u64, stripe_count: u64) -> Result<Layout> {
        if object_size == 0 || stripe_unit == 0 || stripe_count == 0 {
            return Err(Error::InvalidArgument(
                "object size, stripe unit and stripe count must not be zero",
            ));
        }
        if stripe_unit > object_size || object_size % stripe_unit != 0 {
            return Err(Error::InvalidArgument(
                "stripe unit is not a factor of the object size",
            ));
        }
        if stripe_unit < 512 && stripe_unit != object_size {
            return Err(Error::InvalidArgument(
                "stripe unit must be at least 512 bytes",
            ));
        }
        Ok(Layout {
            object_size,
            stripe_unit,
            stripe_count,
        })
    }

    /// Objects of `1 << order` bytes, no striping.
    pub fn simple(order: u8) -> Layout {
        let object_size = 1u64 << order.min(63);
        Layout {
            object_size,
            stripe_unit: object_size,
            stripe_count: 1,
        }
    }

    /// Bytes in one object set (`file_layout_t::get_period`).
    pub fn period(&self) -> u64 {
        self.object_size.saturating_mul(self.stripe_count)
    }

    /// How many objects an image of `size` bytes spans (`Striper::get_num_objects`).
    pub fn num_objects(&self, size: u64) -> u64 {
        let period = self.period();
        let num_periods = size.div_ceil(period);
        let remainder = size % period;
        let su = self.stripe_unit;
        let sc = self.stripe_count;
        // a partial last set leaves the objects its single partial row never reached empty
        let missing = if remainder > 0 && remainder < sc.saturating_mul(su) {
            sc - remainder.div_ceil(su)
        } else {
            0
        };
        num_periods.saturating_mul(sc).saturating_sub(missing)
    }

    /// Where image offset `off` lives: (object number, offset in object).
    pub fn locate(&self, off: u64) -> (u64, u64) {
        let su = self.stripe_unit;
        let sc = self.stripe_count;
        let stripes_per_object = self.object_size / su;
        let blockno = off / su;
        let stripeno = blockno / sc;
        let stripepos = blockno % sc;
        let objectsetno = stripeno / stripes_per_object;
        let object_no = objectsetno * sc + stripepos;
        let block_start = (stripeno % stripes_per_object) * su;
        (object_no, block_start + off % su)
    }

    /// The objects image range `off..off + len` covers (`Striper::file_to_extents`),
    /// ordered by object number. Buffer offsets start at 0 for `off`.
    pub fn file_to_extents(&self, off: u64, len: u64) -> Vec<ObjectExtent> {
        let mut out: Vec<ObjectExtent> = Vec::new();
        let su = self.stripe_unit;
        let mut cur = off;
        let mut left = len;
        while left > 0 {
            let (object_no, x_offset) = self.locate(cur);
            let x_len = left.min(su - cur % su);
            let buf_off = cur - off;
            // the pieces of one object in a contiguous image range are contiguous in
            // the object (successive rows of the set), so they extend one extent
            match out.iter_mut().find(|e| e.object_no == object_no) {
                Some(e) if e.offset + e.length == x_offset => {
                    e.length += x_len;
                    match e.buffer_extents.last_mut() {
                        Some(last) if last.0 + last.1 == buf_off => last.1 += x_len,
                        _ => e.buffer_extents.push((buf_off, x_len)),
                    }
                }
                _ => out.push(ObjectExtent {
                    object_no,
                    offset: x_offset,
                    length: x_len,
                    buffer_extents: vec![(buf_off, x_len)],
                }),
            }
            cur += x_len;
            left -= x_len;
        }
        out.sort_by_key(|e| e.object_no);
        out
    }

    /// The image ranges that bytes `off..off + len` of object `object_no` hold
    /// (`Striper::extent_to_file`), in object order as `(image offset, length)`; pieces
    /// adjacent in the image are merged. The range is cut at the object's end.
    pub fn object_to_file(&self, object_no: u64, off: u64, len: u64) -> Vec<(u64, u64)> {
        let su = self.stripe_unit.max(1);
        let sc = self.stripe_count.max(1);
        let stripes_per_object = self.object_size / su;
        let first_stripe = (object_no / sc).saturating_mul(stripes_per_object);
        let stripepos = object_no % sc;
        let end = off.saturating_add(len).min(self.object_size);
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut cur = off;
        while cur < end {
            let in_unit = cur % su;
            let n = (su - in_unit).min(end - cur);
            let stripeno = first_stripe.saturating_add(cur / su);
            let image_off = stripeno
                .saturating_mul(sc)
                .saturating_add(stripepos)
                .saturating_mul(su)
                .saturating_add(in_unit);
            match out.last_mut() {
                Some(last) if last.0 + last.1 == image_off => last.1 += n,
                _ => out.push((image_off, n)),
            }
            cur += n;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_layout() {
        let l = Layout::simple(22);
        assert_eq!(l.num_objects(10 << 30), 2560);
        assert_eq!(l.num_objects(1), 1);
        assert_eq!(l.num_objects(0), 0);
        let ex = l.file_to_extents((4 << 20) - 10, 20);
        assert_eq!(
            ex,
            vec![
                ObjectExtent {
                    object_no: 0,
                    offset: (4 << 20) - 10,
                    length: 10,
                    buffer_extents: vec![(0, 10)]
                },
                ObjectExtent {
                    object_no: 1,
                    offset: 0,
                    length: 10,
                    buffer_extents: vec![(10, 10)]
                },
            ]
        );
    }

    #[test]
    fn striped_layout_by_hand() {
        // 1 MiB objects, 8 KiB units, 3 objects per set: `rbd info` says 102 objects for
        // 100 MiB (period 3 MiB: 33 full sets = 99 objects, 1 MiB left fills 3 more)
        let l = Layout::new(1 << 20, 8192, 3).unwrap();
        assert_eq!(l.num_objects(100 << 20), 102);
        // 8 KiB into a 3 MiB set of units: 8 KiB left -> one object of the last set only
        assert_eq!(l.num_objects((3 << 20) + 8192), 4);
        assert_eq!(l.num_objects((3 << 20) + 8193), 5);
        assert_eq!(l.locate(0), (0, 0));
        assert_eq!(l.locate(8192), (1, 0));
        assert_eq!(l.locate(2 * 8192 + 5), (2, 5));
        assert_eq!(l.locate(3 * 8192), (0, 8192));
        // second object set starts after 3 MiB
        assert_eq!(l.locate(3 << 20), (3, 0));
        // 4 units' worth from 4 KiB: object 0 gets the second half of unit 0 and all of
        // unit 3 (its second row), object 1 units 1 and half of 4, object 2 unit 2
        let ex = l.file_to_extents(4096, 4 * 8192);
        assert_eq!(ex.len(), 3);
        assert_eq!(ex[0].object_no, 0);
        assert_eq!((ex[0].offset, ex[0].length), (4096, 12288));
        assert_eq!(ex[0].buffer_extents, vec![(0, 4096), (20480, 8192)]);
        assert_eq!((ex[1].offset, ex[1].length), (0, 12288));
        assert_eq!(ex[1].buffer_extents, vec![(4096, 8192), (28672, 4096)]);
        assert_eq!((ex[2].offset, ex[2].length), (0, 8192));
        assert_eq!(ex[2].buffer_extents, vec![(12288, 8192)]);
        let total: u64 = ex.iter().map(|e| e.length).sum();
        assert_eq!(total, 4 * 8192);
    }

    #[test]
    fn every_byte_maps_once() {
        let l = Layout::new(16384, 1024, 5).unwrap();
        let len = 16384 * 5 * 2 + 3000;
        let mut seen = std::collections::HashSet::new();
        for e in l.file_to_extents(700, len) {
            let mut o = e.offset;
            for (b, n) in e.buffer_extents {
                for i in 0..n {
                    assert_eq!(l.locate(700 + b + i), (e.object_no, o + i));
                    assert!(seen.insert(b + i));
                }
                o += n;
            }
        }
        assert_eq!(seen.len() as u64, len);
    }

    #[test]
    fn objects_map_back_to_the_image() {
        for l in [
            Layout::new(16384, 1024, 5).unwrap(),
            Layout::simple(14),
            Layout::new(16384, 4096, 1).unwrap(),
        ] {
            for object_no in [0, 3, 7, 12] {
                let mut at = 100;
                let pieces = l.object_to_file(object_no, 100, 20000);
                for (img, n) in pieces {
                    for i in [0, n / 2, n - 1] {
                        assert_eq!(l.locate(img + i), (object_no, at + i));
                    }
                    at += n;
                }
                // cut at the object's end
                assert_eq!(at, 16384);
            }
        }
        assert_eq!(
            Layout::simple(12).object_to_file(2, 0, 4096),
            vec![(8192, 4096)]
        );
    }

    #[test]
    fn validation() {
        assert!(Layout::new(1 << 22, 3000, 2).is_err());
        assert!(Layout::new(1 << 22, 256, 2).is_err());
        assert!(Layout::new(1 << 22, 1 << 23, 2).is_err());
        assert!(Layout::new(1 << 22, 1 << 16, 0).is_err());
    }
}
