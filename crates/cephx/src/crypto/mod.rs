//! The ciphers behind CephX keys (src/auth/Crypto.cc): AES-128-CBC for key type 1 (`aes`),
//! AES-256-CTS-HMAC-SHA384-192 (RFC 8009, Kerberos style) for key type 2 (`aes256k`, Ceph 20),
//! and the identity cipher for type 0.

mod aes_cbc;
mod krb5;

use hmac::{KeyInit, Mac};
use rand::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{CephxError, Result};
use crate::key::KeyType;
use crate::secret::Secret;

pub use krb5::CONFOUNDER_LEN;

/// What an encryption is for. `aes256k` derives a distinct key pair per usage so that a
/// ciphertext made for one purpose cannot be replayed as another; AES-128 ignores it.
/// The values are `CEPHX_KEY_USAGE_*` (src/auth/cephx/CephxProtocol.h, Ceph 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyUsage(pub u32);

impl KeyUsage {
    /// The connection secret sent with the AUTH ticket, under the AUTH session key.
    pub const AUTH_CONNECTION_SECRET: KeyUsage = KeyUsage(0x03);
    /// A `CephXServiceTicket` (session key and validity): under the client's key for the
    /// AUTH ticket, under the AUTH session key for other services.
    pub const TICKET_SESSION_KEY: KeyUsage = KeyUsage(0x04);
    /// An encrypted ticket blob, under the previous AUTH session key.
    pub const TICKET_BLOB: KeyUsage = KeyUsage(0x05);
    /// A `CephXAuthorize`, under the ticket's session key.
    pub const AUTHORIZE: KeyUsage = KeyUsage(0x10);
    /// A service's `CephXAuthorizeChallenge`.
    pub const AUTHORIZE_CHALLENGE: KeyUsage = KeyUsage(0x11);
    /// A service's `CephXAuthorizeReply`.
    pub const AUTHORIZE_REPLY: KeyUsage = KeyUsage(0x12);
    /// Rotating service secrets sent to daemons.
    pub const ROTATING_SECRET: KeyUsage = KeyUsage(0x20);
    /// A `CephXServiceTicketInfo` inside a ticket blob, under the service's rotating secret.
    pub const TICKET_INFO: KeyUsage = KeyUsage(0x30);
    /// What `encrypt()` without a usage means in Ceph (`default_usage`): used for the
    /// AES challenge computation only.
    pub const DEFAULT: KeyUsage = KeyUsage(0);
}

/// A key ready to encrypt and decrypt, chosen by the key's type.
pub struct Cipher(Kind);

enum Kind {
    /// `CEPH_CRYPTO_NONE`: the data passes through unchanged (as in Ceph).
    None { secret: Secret },
    /// `CEPH_CRYPTO_AES`.
    Aes(aes_cbc::Aes128Cbc),
    /// `CEPH_CRYPTO_AES256KRB5`.
    Aes256Krb5(krb5::Aes256Krb5),
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            Kind::None { .. } => "none",
            Kind::Aes(_) => "aes",
            Kind::Aes256Krb5(_) => "aes256k",
        };
        write!(f, "Cipher({name})")
    }
}

impl Cipher {
    /// The cipher of a key of type `key_type` with secret `secret`. Refuses secrets shorter
    /// than the type needs (Ceph's `validate_secret`: 16 bytes for AES, 32 for aes256k).
    pub fn new(key_type: KeyType, secret: &Secret) -> Result<Cipher> {
        Ok(Cipher(match key_type {
            KeyType::NONE => Kind::None {
                secret: secret.clone(),
            },
            KeyType::AES => Kind::Aes(aes_cbc::Aes128Cbc::new(secret.expose())?),
            KeyType::AES256K => Kind::Aes256Krb5(krb5::Aes256Krb5::new(secret.expose())?),
            other => return Err(CephxError::UnsupportedKeyType(other.0)),
        }))
    }

    /// The key type this cipher implements.
    pub fn key_type(&self) -> KeyType {
        match self.0 {
            Kind::None { .. } => KeyType::NONE,
            Kind::Aes(_) => KeyType::AES,
            Kind::Aes256Krb5(_) => KeyType::AES256K,
        }
    }

    /// Encrypts `plaintext` for `usage`. `aes256k` draws its 16-byte confounder from `rng`;
    /// AES-128 needs no randomness.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &self,
        usage: KeyUsage,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Vec<u8> {
        let mut confounder = Zeroizing::new([0u8; CONFOUNDER_LEN]);
        if matches!(self.0, Kind::Aes256Krb5(_)) {
            rng.fill_bytes(confounder.as_mut_slice());
        }
        self.encrypt_with_confounder(usage, plaintext, &confounder)
    }

    /// Encrypts with a given confounder (ignored by AES-128): deterministic, for known-answer
    /// tests and for callers that manage randomness themselves.
    pub fn encrypt_with_confounder(
        &self,
        usage: KeyUsage,
        plaintext: &[u8],
        confounder: &[u8; CONFOUNDER_LEN],
    ) -> Vec<u8> {
        match &self.0 {
            Kind::None { .. } => plaintext.to_vec(),
            Kind::Aes(c) => c.encrypt(plaintext),
            Kind::Aes256Krb5(c) => c.encrypt(usage, plaintext, confounder),
        }
    }

    /// Decrypts `ciphertext` made for `usage`, checking padding (AES-128) or the HMAC
    /// (aes256k). The plaintext is wiped when dropped.
    pub fn decrypt(&self, usage: KeyUsage, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        match &self.0 {
            Kind::None { .. } => Ok(Zeroizing::new(ciphertext.to_vec())),
            Kind::Aes(c) => c.decrypt(ciphertext),
            Kind::Aes256Krb5(c) => c.decrypt(usage, ciphertext),
        }
    }

    /// HMAC-SHA256 keyed with the whole secret (`CryptoKeyHandler::hmac_sha256`): msgr2's
    /// AUTH_SIGNATURE and the aes256k challenge answer.
    pub fn hmac_sha256(&self, data: &[u8]) -> [u8; 32] {
        let secret = match &self.0 {
            Kind::None { secret } => secret.expose(),
            Kind::Aes(c) => c.secret(),
            Kind::Aes256Krb5(c) => c.secret(),
        };
        hmac_sha256(secret, data)
    }
}

/// HMAC-SHA256 of `data` keyed with `key` (any length).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length: new_from_slice cannot fail.
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests;
