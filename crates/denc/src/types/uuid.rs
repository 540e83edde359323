//! `uuid_d` (src/include/uuid.h): cluster fsids and OSD uuids.

use std::fmt;
use std::str::FromStr;

use crate::{Decode, Encode, Reader, Result, Writer};

/// A 16-byte UUID, encoded as its raw bytes in textual order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID.
    pub const NIL: Uuid = Uuid([0; 16]);

    /// True for the all-zero UUID.
    pub fn is_nil(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The text is not a UUID of the form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a UUID: {0:?}")]
pub struct ParseUuidError(pub String);

impl FromStr for Uuid {
    type Err = ParseUuidError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let err = || ParseUuidError(s.to_owned());
        let groups: Vec<&str> = s.split('-').collect();
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lens != [8, 4, 4, 4, 12] {
            return Err(err());
        }
        let hex: String = groups.concat();
        // from_str_radix alone would accept a sign
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err());
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = hex.get(2 * i..2 * i + 2).ok_or_else(err)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| err())?;
        }
        Ok(Uuid(out))
    }
}

impl Decode for Uuid {
    const MIN_LEN: usize = 16;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Uuid(r.array()?))
    }
}

impl Encode for Uuid {
    fn encode(&self, w: &mut Writer) {
        w.put_bytes(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let text = "618f4408-9208-9921-c3e9-44a991122ddc";
        let u: Uuid = text.parse().unwrap();
        assert_eq!(u.to_string(), text);
        assert!("618f4408-9208-9921-c3e9".parse::<Uuid>().is_err());
        assert!(
            "618f4408-9208-9921-c3e9-44a991122dzz"
                .parse::<Uuid>()
                .is_err()
        );
        assert!(
            "+18f4408-9208-9921-c3e9-44a991122ddc"
                .parse::<Uuid>()
                .is_err()
        );
    }
}
