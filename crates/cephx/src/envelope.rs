//! CephX's encrypted envelope (src/auth/cephx/CephxProtocol.h `encode_encrypt`,
//! `decode_decrypt` and their `_enc_bl` variants).
//!
//! Plaintext: u8 struct_v (1), le64 magic 0xff009cad8826aa55, then the encoded value. The
//! `_enc_bl` forms are the bare ciphertext; the plain forms wrap it as a bufferlist (le32
//! length first).

use denc::{Decode, Encode, Reader, Writer};
use rand::CryptoRng;
use zeroize::Zeroizing;

use crate::crypto::{Cipher, KeyUsage};
use crate::error::{CephxError, Result};

/// `AUTH_ENC_MAGIC`: proves the decryption used the right key.
pub const AUTH_ENC_MAGIC: u64 = 0xff00_9cad_8826_aa55;

/// The envelope's plaintext around `value`, wiped on drop.
pub(crate) fn envelope_plaintext<T: Encode + ?Sized>(value: &T) -> Result<Zeroizing<Vec<u8>>> {
    let mut w = Writer::new();
    w.put_u8(1);
    w.put_u64(AUTH_ENC_MAGIC);
    value.encode(&mut w);
    Ok(Zeroizing::new(w.finish()?))
}

/// Encrypts `value` in the envelope; returns the bare ciphertext (`encode_encrypt_enc_bl`).
pub fn encode_encrypt_enc_bl<T: Encode + ?Sized, R: CryptoRng + ?Sized>(
    cipher: &Cipher,
    usage: KeyUsage,
    value: &T,
    rng: &mut R,
) -> Result<Vec<u8>> {
    let plain = envelope_plaintext(value)?;
    Ok(cipher.encrypt(usage, &plain, rng))
}

/// Encrypts `value` in the envelope and appends the ciphertext as a bufferlist to `w`
/// (`encode_encrypt`).
pub fn encode_encrypt<T: Encode + ?Sized, R: CryptoRng + ?Sized>(
    w: &mut Writer,
    cipher: &Cipher,
    usage: KeyUsage,
    value: &T,
    rng: &mut R,
) -> Result<()> {
    let ct = encode_encrypt_enc_bl(cipher, usage, value, rng)?;
    w.put_length_prefixed(&ct);
    Ok(())
}

/// Decrypts a bare ciphertext and decodes the value in the envelope
/// (`decode_decrypt_enc_bl`). Bytes after the value are ignored, as Ceph ignores them.
pub fn decode_decrypt_enc_bl<T: Decode>(
    cipher: &Cipher,
    usage: KeyUsage,
    ciphertext: &[u8],
) -> Result<T> {
    let plain = cipher.decrypt(usage, ciphertext)?;
    let mut r = Reader::new(&plain);
    r.named("CephX envelope", |r| {
        let _struct_v = r.u8()?;
        r.u64()
    })
    .map_err(CephxError::from)
    .and_then(|magic| {
        if magic == AUTH_ENC_MAGIC {
            Ok(())
        } else {
            Err(CephxError::BadMagic)
        }
    })?;
    Ok(T::decode(&mut r)?)
}

/// Reads a bufferlist from `r` and decrypts it as [`decode_decrypt_enc_bl`] does
/// (`decode_decrypt`).
pub fn decode_decrypt<T: Decode>(
    cipher: &Cipher,
    usage: KeyUsage,
    r: &mut Reader<'_>,
) -> Result<T> {
    let ciphertext = r.length_prefixed()?;
    decode_decrypt_enc_bl(cipher, usage, ciphertext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{CryptoKey, KeyType};
    use crate::secret::Secret;
    use denc::UTime;

    fn key(t: KeyType) -> Cipher {
        let len = t.secret_len().unwrap();
        CryptoKey::new(t, UTime::default(), Secret::new(vec![0x5a; len]))
            .unwrap()
            .cipher()
            .unwrap()
    }

    #[test]
    fn round_trips_under_both_key_types() {
        let mut rng = rand::rng();
        for t in [KeyType::AES, KeyType::AES256K] {
            let c = key(t);
            let mut w = Writer::new();
            encode_encrypt(
                &mut w,
                &c,
                KeyUsage::AUTHORIZE,
                &0x1122_3344_5566_7788u64,
                &mut rng,
            )
            .unwrap();
            let bytes = w.finish().unwrap();
            let mut r = Reader::new(&bytes);
            let v: u64 = decode_decrypt(&c, KeyUsage::AUTHORIZE, &mut r).unwrap();
            assert_eq!(v, 0x1122_3344_5566_7788);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn aes_envelope_layout() {
        // 1 + 8 + 8 bytes of plaintext pad to 32 bytes of ciphertext; decrypting by hand shows
        // struct_v 1 and the magic.
        let c = key(KeyType::AES);
        let ct = encode_encrypt_enc_bl(&c, KeyUsage::DEFAULT, &7u64, &mut rand::rng()).unwrap();
        assert_eq!(ct.len(), 32);
        let plain = c.decrypt(KeyUsage::DEFAULT, &ct).unwrap();
        assert_eq!(plain[0], 1);
        assert_eq!(plain[1..9], AUTH_ENC_MAGIC.to_le_bytes());
        assert_eq!(plain[9..], 7u64.to_le_bytes());
    }

    #[test]
    fn wrong_key_is_reported() {
        let mut rng = rand::rng();
        let ct = encode_encrypt_enc_bl(&key(KeyType::AES256K), KeyUsage::AUTHORIZE, &1u8, &mut rng)
            .unwrap();
        let other = Cipher::new(KeyType::AES256K, &Secret::new(vec![1; 32])).unwrap();
        assert!(matches!(
            decode_decrypt_enc_bl::<u8>(&other, KeyUsage::AUTHORIZE, &ct),
            Err(CephxError::Decrypt(_))
        ));
        // the identity cipher "decrypts" anything: the magic check catches it
        let none = Cipher::new(KeyType::NONE, &Secret::default()).unwrap();
        assert!(matches!(
            decode_decrypt_enc_bl::<u8>(&none, KeyUsage::AUTHORIZE, &[1; 10]),
            Err(CephxError::BadMagic)
        ));
    }
}
