//! Key type 2, `aes256k` (Ceph 20, src/auth/Crypto.cc `CryptoAES256KRB5KeyHandler`): RFC 8009's
//! aes256-cts-hmac-sha384-192.
//!
//! * Per usage, two keys are derived from the 32-byte base key with RFC 8009's KDF-HMAC-SHA2:
//!   `HMAC-SHA384(base, 00000001 | usage (be32) | kind | 00 | bits (be32))`, truncated to
//!   `bits`; Ke (kind 0xAA, 256 bits) encrypts, Ki (kind 0x55, 192 bits) authenticates.
//! * Encryption: a random 16-byte confounder is prepended to the plaintext, the result is
//!   encrypted with AES-256-CBC with ciphertext stealing (the CS3 variant: the last two blocks
//!   are always swapped) and a zero IV, and the first 24 bytes of
//!   `HMAC-SHA384(Ki, zero IV | ciphertext)` are appended. Output = 16 + len + 24 bytes.
//! * Decryption checks the HMAC first, then decrypts and drops the confounder.

use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use hmac::Mac;
use zeroize::Zeroizing;

use super::KeyUsage;
use crate::error::{CephxError, Result};

/// Bytes of random confounder in front of every aes256k plaintext.
pub const CONFOUNDER_LEN: usize = 16;
const BLOCK_LEN: usize = 16;
const BASE_KEY_LEN: usize = 32;
const KE_LEN: usize = 32;
const KI_LEN: usize = 24;
/// Truncated HMAC-SHA384 appended to each ciphertext.
const HASH_LEN: usize = 24;
const KIND_KE: u8 = 0xAA;
const KIND_KI: u8 = 0x55;

type HmacSha384 = hmac::Hmac<sha2::Sha384>;

pub(super) struct Aes256Krb5 {
    secret: Zeroizing<Vec<u8>>,
}

/// The two keys derived for one usage.
struct UsageKeys {
    ke: Zeroizing<[u8; KE_LEN]>,
    ki: Zeroizing<[u8; KI_LEN]>,
}

impl Aes256Krb5 {
    pub(super) fn new(secret: &[u8]) -> Result<Self> {
        if secret.len() < BASE_KEY_LEN {
            return Err(CephxError::InvalidKey(
                "aes256k keys need at least 32 bytes",
            ));
        }
        Ok(Aes256Krb5 {
            secret: Zeroizing::new(secret.to_vec()),
        })
    }

    pub(super) fn secret(&self) -> &[u8] {
        &self.secret
    }

    fn usage_keys(&self, usage: KeyUsage) -> UsageKeys {
        let mut ke = Zeroizing::new([0u8; KE_LEN]);
        let mut ki = Zeroizing::new([0u8; KI_LEN]);
        derive(&self.secret, usage, KIND_KE, ke.as_mut_slice());
        derive(&self.secret, usage, KIND_KI, ki.as_mut_slice());
        UsageKeys { ke, ki }
    }

    pub(super) fn encrypt(
        &self,
        usage: KeyUsage,
        plaintext: &[u8],
        confounder: &[u8; CONFOUNDER_LEN],
    ) -> Vec<u8> {
        let keys = self.usage_keys(usage);
        let mut data = Vec::with_capacity(CONFOUNDER_LEN + plaintext.len() + HASH_LEN);
        data.extend_from_slice(confounder);
        data.extend_from_slice(plaintext);
        cts_encrypt(&keys.ke, &mut data);
        let tag = hmac_sha384(&*keys.ki, &[&[0u8; BLOCK_LEN], &data]);
        data.extend_from_slice(tag.get(..HASH_LEN).unwrap_or_default());
        data
    }

    pub(super) fn decrypt(&self, usage: KeyUsage, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.len() < CONFOUNDER_LEN + HASH_LEN {
            return Err(CephxError::Decrypt(
                "aes256k ciphertext shorter than confounder and checksum",
            ));
        }
        let (body, tag) = ciphertext.split_at(ciphertext.len() - HASH_LEN);
        let keys = self.usage_keys(usage);
        let mut mac = <HmacSha384 as hmac::KeyInit>::new_from_slice(&*keys.ki)
            .map_err(|_| CephxError::InvalidKey("aes256k integrity key"))?;
        mac.update(&[0u8; BLOCK_LEN]);
        mac.update(body);
        mac.verify_truncated_left(tag)
            .map_err(|_| CephxError::Decrypt("aes256k checksum mismatch (wrong key or usage?)"))?;
        let mut data = Zeroizing::new(body.to_vec());
        cts_decrypt(&keys.ke, &mut data);
        Ok(Zeroizing::new(
            data.get(CONFOUNDER_LEN..).unwrap_or_default().to_vec(),
        ))
    }
}

/// RFC 8009 KDF-HMAC-SHA2 with SHA-384, as Ceph's `calc_kx` computes it: the label is the
/// usage number (big-endian) followed by the key kind byte.
pub(super) fn derive(base: &[u8], usage: KeyUsage, kind: u8, out: &mut [u8]) {
    let bits = u32::try_from(out.len() * 8).unwrap_or(u32::MAX);
    let mut input = Vec::with_capacity(14);
    input.extend_from_slice(&1u32.to_be_bytes());
    input.extend_from_slice(&usage.0.to_be_bytes());
    input.push(kind);
    input.push(0);
    input.extend_from_slice(&bits.to_be_bytes());
    let full = hmac_sha384(base, &[&input]);
    for (o, k) in out.iter_mut().zip(full.iter()) {
        *o = *k;
    }
}

/// HMAC-SHA384 over the concatenation of `parts`.
fn hmac_sha384(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 48]> {
    let mut out = Zeroizing::new([0u8; 48]);
    // HMAC takes keys of any length: this cannot fail.
    if let Ok(mut mac) = <HmacSha384 as hmac::KeyInit>::new_from_slice(key) {
        for part in parts {
            mac.update(part);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

fn xor_into(dst: &mut aes::Block, src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// Copies up to 16 bytes of `src` into a zero-padded block.
fn block_from(src: &[u8]) -> aes::Block {
    let mut block = aes::Block::default();
    for (d, s) in block.iter_mut().zip(src) {
        *d = *s;
    }
    block
}

/// AES-256-CBC-CS3 encryption in place with a zero IV. `data` holds at least one block (the
/// confounder guarantees it).
fn cts_encrypt(key: &[u8; KE_LEN], data: &mut [u8]) {
    let Ok(aes) = aes::Aes256::new_from_slice(key) else {
        return;
    };
    let len = data.len();
    if len < BLOCK_LEN {
        return;
    }
    // Plain CBC over every block, the last one zero-padded.
    let mut prev = aes::Block::default();
    let mut out: Vec<aes::Block> = Vec::with_capacity(len.div_ceil(BLOCK_LEN));
    for chunk in data.chunks(BLOCK_LEN) {
        let mut block = block_from(chunk);
        xor_into(&mut block, &prev);
        aes.encrypt_block(&mut block);
        prev = block;
        out.push(block);
    }
    // CS3: the final (full) block goes before the stolen, truncated next-to-last one.
    let tail = len - (out.len() - 1) * BLOCK_LEN; // 1..=16 bytes in the last chunk
    if out.len() >= 2 {
        let n = out.len();
        out.swap(n - 2, n - 1);
    }
    let mut written = 0;
    for (i, block) in out.iter().enumerate() {
        let take = if out.len() >= 2 && i == out.len() - 1 {
            tail
        } else {
            BLOCK_LEN
        };
        if let (Some(dst), Some(src)) = (data.get_mut(written..written + take), block.get(..take)) {
            dst.copy_from_slice(src);
        }
        written += take;
    }
    out.iter_mut().for_each(|b| b.fill(0));
}

/// AES-256-CBC-CS3 decryption in place with a zero IV. `data` holds at least one block.
fn cts_decrypt(key: &[u8; KE_LEN], data: &mut [u8]) {
    let Ok(aes) = aes::Aes256::new_from_slice(key) else {
        return;
    };
    let len = data.len();
    if len < BLOCK_LEN {
        return;
    }
    let blocks = len.div_ceil(BLOCK_LEN);
    let tail = len - (blocks - 1) * BLOCK_LEN;
    // Blocks before the last two are plain CBC.
    let plain_end = if blocks >= 2 {
        (blocks - 2) * BLOCK_LEN
    } else {
        0
    };
    let mut prev = aes::Block::default();
    for chunk in data
        .get_mut(..plain_end)
        .unwrap_or_default()
        .chunks_mut(BLOCK_LEN)
    {
        let cipher_block = block_from(chunk);
        let mut block = cipher_block;
        aes.decrypt_block(&mut block);
        xor_into(&mut block, &prev);
        chunk.copy_from_slice(&block);
        prev = cipher_block;
    }
    if blocks < 2 {
        // a single block: plain CBC
        if let Some(chunk) = data.get_mut(..BLOCK_LEN) {
            let mut block = block_from(chunk);
            aes.decrypt_block(&mut block);
            xor_into(&mut block, &prev);
            chunk.copy_from_slice(&block);
        }
        return;
    }
    // Wire order: C[n] (full), then the first `tail` bytes of C[n-1].
    let last_full = block_from(
        data.get(plain_end..plain_end + BLOCK_LEN)
            .unwrap_or_default(),
    );
    let stolen = data
        .get(plain_end + BLOCK_LEN..)
        .unwrap_or_default()
        .to_vec();
    // D(C[n]) = (P[n] | zero padding) ^ C[n-1]; the padding reveals C[n-1]'s missing tail.
    let mut dn = last_full;
    aes.decrypt_block(&mut dn);
    let mut c_prev = dn;
    for (c, s) in c_prev.iter_mut().zip(&stolen) {
        *c = *s;
    }
    let mut p_last = dn;
    xor_into(&mut p_last, &c_prev);
    let mut p_prev = c_prev;
    aes.decrypt_block(&mut p_prev);
    xor_into(&mut p_prev, &prev);
    if let Some(dst) = data.get_mut(plain_end..plain_end + BLOCK_LEN) {
        dst.copy_from_slice(&p_prev);
    }
    if let (Some(dst), Some(src)) = (data.get_mut(plain_end + BLOCK_LEN..), p_last.get(..tail)) {
        dst.copy_from_slice(src);
    }
    for b in [&mut dn, &mut p_last, &mut p_prev, &mut c_prev] {
        b.fill(0);
    }
}
