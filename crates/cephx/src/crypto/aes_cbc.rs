//! Key type 1: AES-128-CBC with Ceph's fixed IV and PKCS#7 padding
//! (src/auth/Crypto.cc `CryptoAESKeyHandler`).

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use zeroize::Zeroizing;

use crate::error::{CephxError, Result};

/// `CEPH_AES_IV`: every AES encryption in CephX uses this IV (src/include/ceph_fs.h).
pub const CEPH_AES_IV: &[u8; 16] = b"cephsageyudagreg";

const KEY_LEN: usize = 16;
const BLOCK_LEN: usize = 16;

/// An AES-128 key. Ceph accepts secrets of 16 bytes or more and uses the first 16 for AES;
/// the whole secret keys HMACs.
pub(super) struct Aes128Cbc {
    secret: Zeroizing<Vec<u8>>,
}

impl Aes128Cbc {
    pub(super) fn new(secret: &[u8]) -> Result<Self> {
        if secret.len() < KEY_LEN {
            return Err(CephxError::InvalidKey("AES keys need at least 16 bytes"));
        }
        Ok(Aes128Cbc {
            secret: Zeroizing::new(secret.to_vec()),
        })
    }

    pub(super) fn secret(&self) -> &[u8] {
        &self.secret
    }

    fn key(&self) -> &[u8] {
        self.secret.get(..KEY_LEN).unwrap_or_default()
    }

    /// Always adds 1..=16 bytes of padding, so the output is a whole number of blocks.
    pub(super) fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let padded_len = (plaintext.len() / BLOCK_LEN + 1) * BLOCK_LEN;
        let mut buf = vec![0u8; padded_len];
        if let Some(head) = buf.get_mut(..plaintext.len()) {
            head.copy_from_slice(plaintext);
        }
        let Ok(enc) = cbc::Encryptor::<aes::Aes128>::new_from_slices(self.key(), CEPH_AES_IV)
        else {
            // key() is 16 bytes by construction
            return Vec::new();
        };
        match enc.encrypt_padded::<Pkcs7>(&mut buf, plaintext.len()) {
            Ok(ct) => ct.to_vec(),
            // the buffer has room for the padding by construction
            Err(_) => Vec::new(),
        }
    }

    /// Decrypts and strips the padding, which must be well formed (1..=16 bytes, all equal to
    /// the count). Ceph only clamps the count; anything Ceph itself encrypted passes both.
    pub(super) fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.is_empty() || ciphertext.len() % BLOCK_LEN != 0 {
            return Err(CephxError::Decrypt(
                "AES ciphertext is not a non-empty multiple of 16 bytes",
            ));
        }
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let dec = cbc::Decryptor::<aes::Aes128>::new_from_slices(self.key(), CEPH_AES_IV)
            .map_err(|_| CephxError::InvalidKey("AES keys need at least 16 bytes"))?;
        let len = dec
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map_err(|_| CephxError::Decrypt("bad PKCS#7 padding (wrong key?)"))?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}
