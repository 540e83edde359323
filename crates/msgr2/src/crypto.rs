//! Secure mode's AES-128-GCM: keys and nonces from the connection secret, one nonce per GCM
//! operation. Mirrors src/msg/async/crypto_onwire.cc (`create_handler_pair`, the rx/tx
//! handlers) for msgr2.1 ("new nonce format").

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce, Tag};

use crate::Error;

/// AES key length.
const KEY_LEN: usize = 16;
/// GCM IV length (`nonce_t`: le32 fixed + le64 counter).
const NONCE_LEN: usize = 12;
/// Authentication tag length.
pub(crate) const TAG_LEN: usize = 16;

/// The 12-byte GCM IV Ceph uses: le32 `fixed`, le64 `counter`. msgr2.1 bumps the 64-bit
/// counter after every operation (msgr2.0 bumped `fixed`).
#[derive(Clone, Copy, PartialEq, Eq)]
struct GcmNonce {
    fixed: u32,
    counter: u64,
}

impl GcmNonce {
    fn from_bytes(b: [u8; NONCE_LEN]) -> Self {
        let [f0, f1, f2, f3, c @ ..] = b;
        GcmNonce {
            fixed: u32::from_le_bytes([f0, f1, f2, f3]),
            counter: u64::from_le_bytes(c),
        }
    }

    fn to_bytes(self) -> [u8; NONCE_LEN] {
        let mut b = [0u8; NONCE_LEN];
        let (f, c) = b.split_at_mut(4);
        f.copy_from_slice(&self.fixed.to_le_bytes());
        c.copy_from_slice(&self.counter.to_le_bytes());
        b
    }

    fn next(self) -> Self {
        GcmNonce {
            fixed: self.fixed,
            counter: self.counter.wrapping_add(1),
        }
    }
}

/// The sending half of a secure-mode connection.
pub struct GcmTx {
    cipher: Aes128Gcm,
    nonce: GcmNonce,
    initial: GcmNonce,
    used_initial: bool,
}

/// The receiving half of a secure-mode connection.
pub struct GcmRx {
    cipher: Aes128Gcm,
    nonce: GcmNonce,
}

impl std::fmt::Debug for GcmTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print keys or nonces
        f.write_str("GcmTx")
    }
}

impl std::fmt::Debug for GcmRx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GcmRx")
    }
}

impl GcmTx {
    /// Encrypts `buf` in place with the next nonce and returns the tag.
    pub(crate) fn seal(&mut self, buf: &mut [u8]) -> Result<[u8; TAG_LEN], Error> {
        // crypto_onwire.cc reset_tx_handler: refuse to reuse the initial nonce
        if self.nonce == self.initial {
            if self.used_initial {
                return Err(Error::NonceExhausted);
            }
            self.used_initial = true;
        }
        let nonce = Nonce::from(self.nonce.to_bytes());
        self.nonce = self.nonce.next();
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce, &[], buf.into())
            .map_err(|_| Error::Encode("AES-GCM input too long"))?;
        Ok(tag.into())
    }
}

impl GcmRx {
    /// Verifies `tag` and decrypts `buf` in place with the next nonce. The nonce is used up
    /// whether or not the tag verifies (the connection is closed on failure anyway).
    pub(crate) fn open(
        &mut self,
        buf: &mut [u8],
        tag: &[u8],
        part: &'static str,
    ) -> Result<(), Error> {
        let nonce = Nonce::from(self.nonce.to_bytes());
        self.nonce = self.nonce.next();
        let tag = Tag::try_from(tag).map_err(|_| Error::BadAuthTag { part })?;
        self.cipher
            .decrypt_inout_detached(&nonce, &[], buf.into(), &tag)
            .map_err(|_| Error::BadAuthTag { part })
    }
}

/// Builds the receive and transmit halves from a connection secret.
///
/// `connection_secret[0..16)` is the AES key, `[16..28)` the connecting side's receive nonce
/// and `[28..40)` its transmit nonce; the accepting side swaps the two ("crossed" in
/// crypto_onwire.cc). `connecting` is true for clients.
pub fn secure_pair(connection_secret: &[u8], connecting: bool) -> Result<(GcmRx, GcmTx), Error> {
    let too_short = || Error::ConnectionSecretTooShort(connection_secret.len());
    let key = connection_secret.get(..KEY_LEN).ok_or_else(too_short)?;
    let first: [u8; NONCE_LEN] = connection_secret
        .get(KEY_LEN..KEY_LEN + NONCE_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(too_short)?;
    let second: [u8; NONCE_LEN] = connection_secret
        .get(KEY_LEN + NONCE_LEN..KEY_LEN + 2 * NONCE_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(too_short)?;
    let (rx_nonce, tx_nonce) = if connecting {
        (first, second)
    } else {
        (second, first)
    };
    let new_cipher = || Aes128Gcm::new_from_slice(key).map_err(|_| too_short());
    let tx_nonce = GcmNonce::from_bytes(tx_nonce);
    Ok((
        GcmRx {
            cipher: new_cipher()?,
            nonce: GcmNonce::from_bytes(rx_nonce),
        },
        GcmTx {
            cipher: new_cipher()?,
            nonce: tx_nonce,
            initial: tx_nonce,
            used_initial: false,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Vec<u8> {
        (0u8..64).collect()
    }

    #[test]
    fn client_tx_pairs_with_server_rx() {
        let (mut c_rx, mut c_tx) = secure_pair(&secret(), true).unwrap();
        let (mut s_rx, mut s_tx) = secure_pair(&secret(), false).unwrap();
        for round in 0..3u8 {
            let mut msg = [round; 40];
            let tag = c_tx.seal(&mut msg).unwrap();
            assert_ne!(msg, [round; 40]);
            s_rx.open(&mut msg, &tag, "test").unwrap();
            assert_eq!(msg, [round; 40]);

            let mut back = [round ^ 0xff; 17];
            let tag = s_tx.seal(&mut back).unwrap();
            c_rx.open(&mut back, &tag, "test").unwrap();
            assert_eq!(back, [round ^ 0xff; 17]);
        }
    }

    #[test]
    fn nonce_layout_is_le32_fixed_then_le64_counter() {
        let s = secret();
        let (_, tx) = secure_pair(&s, true).unwrap();
        // the connecting side transmits with bytes [28..40)
        assert_eq!(tx.nonce.to_bytes().as_slice(), &s[28..40]);
        assert_eq!(tx.nonce.fixed, u32::from_le_bytes([28, 29, 30, 31]));
        let bumped = tx.nonce.next().to_bytes();
        assert_eq!(&bumped[..4], &s[28..32]);
        assert_eq!(
            u64::from_le_bytes(bumped[4..].try_into().unwrap()),
            u64::from_le_bytes(s[32..40].try_into().unwrap()) + 1
        );
    }

    #[test]
    fn matches_a_gcm_computed_with_the_explicit_nonce() {
        // independent check: encrypt with the nonce taken straight from the secret
        let s = secret();
        let (_, mut tx) = secure_pair(&s, true).unwrap();
        let mut a = *b"sixteen byte msg";
        let tag_a = tx.seal(&mut a).unwrap();
        let cipher = Aes128Gcm::new_from_slice(&s[..16]).unwrap();
        let mut b = *b"sixteen byte msg";
        let nonce = Nonce::try_from(&s[28..40]).unwrap();
        let tag_b = cipher
            .encrypt_inout_detached(&nonce, &[], b.as_mut_slice().into())
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(tag_a.as_slice(), tag_b.as_slice());
    }

    #[test]
    fn wrong_tag_is_rejected() {
        let (_, mut tx) = secure_pair(&secret(), true).unwrap();
        let (mut rx, _) = secure_pair(&secret(), false).unwrap();
        let mut msg = [7u8; 32];
        let mut tag = tx.seal(&mut msg).unwrap();
        tag[0] ^= 1;
        assert!(matches!(
            rx.open(&mut msg, &tag, "preamble"),
            Err(Error::BadAuthTag { part: "preamble" })
        ));
    }

    #[test]
    fn refuses_to_reuse_the_initial_nonce() {
        let mut s = secret();
        // counter = u64::MAX - 1: two operations, then it would wrap to the start... only
        // after 2^64; emulate by making the next nonce equal to the initial one
        s[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        let (_, mut tx) = secure_pair(&s, true).unwrap();
        tx.initial = tx.nonce.next();
        let mut buf = [0u8; 16];
        tx.seal(&mut buf).unwrap();
        tx.seal(&mut buf).unwrap(); // first use of the "initial" nonce
        tx.nonce = tx.initial;
        assert!(matches!(tx.seal(&mut buf), Err(Error::NonceExhausted)));
    }

    #[test]
    fn short_secret_is_refused() {
        assert!(matches!(
            secure_pair(&[0u8; 39], true),
            Err(Error::ConnectionSecretTooShort(39))
        ));
        assert!(secure_pair(&[0u8; 40], true).is_ok());
    }
}
