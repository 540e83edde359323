//! `pg_t` (src/osd/osd_types.h).

use std::fmt;

use crate::{Decode, Encode, Reader, Result, Writer};

/// A placement group: pool id and placement seed, `pg_t`. Printed `1.1c`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgId {
    /// Pool id.
    pub pool: u64,
    /// Placement seed (the PG number within the pool).
    pub seed: u32,
}

impl PgId {
    /// PG `seed` of `pool`.
    pub const fn new(pool: u64, seed: u32) -> Self {
        PgId { pool, seed }
    }
}

impl fmt::Display for PgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:x}", self.pool, self.seed)
    }
}

impl Decode for PgId {
    const MIN_LEN: usize = 17;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.named("pg_t", |r| {
            // u8 version (always 1), le64 pool, le32 seed, le32 "preferred" (always -1)
            r.skip(1)?;
            let pool = r.u64()?;
            let seed = r.u32()?;
            r.skip(4)?;
            Ok(PgId { pool, seed })
        })
    }
}

impl Encode for PgId {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(1);
        w.put_u64(self.pool);
        w.put_u32(self.seed);
        w.put_i32(-1);
    }
}
