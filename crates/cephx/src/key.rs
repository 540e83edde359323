//! [`CryptoKey`]: a CephX key as Ceph encodes it (src/auth/Crypto.cc `CryptoKey::encode`) and
//! as keyrings carry it (base64 of that encoding: `AQ...` for AES, `Ag...` for aes256k).

use std::fmt;

use base64::Engine as _;
use denc::{Decode, Encode, Reader, UTime, Writer};

use crate::crypto::Cipher;
use crate::error::{CephxError, Result};
use crate::secret::Secret;

/// A key's cipher (`CEPH_CRYPTO_*`, src/include/ceph_fs.h). Unknown values are kept.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct KeyType(pub u16);

impl KeyType {
    /// No encryption.
    pub const NONE: KeyType = KeyType(0);
    /// AES-128-CBC (`aes`), 16-byte secrets: every release.
    pub const AES: KeyType = KeyType(1);
    /// AES-256-CTS-HMAC-SHA384-192 (`aes256k`), 32-byte secrets: Ceph 20 (Tentacle) and later.
    pub const AES256K: KeyType = KeyType(2);

    /// Ceph's name for the type (`CryptoManager::get_key_type_name`).
    pub fn name(self) -> &'static str {
        match self {
            KeyType::NONE => "none",
            KeyType::AES => "aes",
            KeyType::AES256K => "aes256k",
            _ => "???",
        }
    }

    /// The secret length new keys of this type get (`CryptoHandler::create`).
    pub fn secret_len(self) -> Option<usize> {
        match self {
            KeyType::NONE => Some(0),
            KeyType::AES => Some(16),
            KeyType::AES256K => Some(32),
            _ => None,
        }
    }
}

impl fmt::Debug for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A CephX key: type, creation time and secret. The secret is wiped on drop and never
/// printed by `Debug`.
///
/// Wire form: le16 type, utime created, le16 length, secret.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct CryptoKey {
    key_type: KeyType,
    created: UTime,
    secret: Secret,
}

impl CryptoKey {
    /// A key from its parts, checked as Ceph checks a decoded key: an empty secret is an empty
    /// key of any type; otherwise the type must be known and the secret long enough for it.
    pub fn new(key_type: KeyType, created: UTime, secret: Secret) -> Result<Self> {
        if !secret.is_empty() {
            Cipher::new(key_type, &secret)?;
        }
        Ok(CryptoKey {
            key_type,
            created,
            secret,
        })
    }

    /// A fresh random key of `key_type` (as `ceph-authtool --gen-key` makes one).
    pub fn generate<R: rand::CryptoRng + ?Sized>(
        key_type: KeyType,
        created: UTime,
        rng: &mut R,
    ) -> Result<Self> {
        let len = key_type
            .secret_len()
            .ok_or(CephxError::UnsupportedKeyType(key_type.0))?;
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        CryptoKey::new(key_type, created, Secret::new(bytes))
    }

    /// Parses the base64 form found in keyrings, keyfiles and the `key` option. Surrounding
    /// whitespace and newlines are ignored, as Ceph ignores them.
    pub fn from_base64(text: &str) -> Result<Self> {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let compact = zeroize::Zeroizing::new(compact);
        let bytes = zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
                .decode(compact.as_bytes())
                .map_err(|_| CephxError::Base64)?,
        );
        Ok(denc::decode_exact::<CryptoKey>(&bytes)?)
    }

    /// The base64 form (what `ceph auth get-key` prints). It contains the secret.
    pub fn to_base64(&self) -> zeroize::Zeroizing<String> {
        let mut w = Writer::new();
        self.encode(&mut w);
        let bytes = zeroize::Zeroizing::new(w.finish().unwrap_or_default());
        zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*bytes))
    }

    /// The cipher.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// When the key was made.
    pub fn created(&self) -> UTime {
        self.created
    }

    /// The secret bytes.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// True for a key without secret (Ceph's "empty" key).
    pub fn is_empty(&self) -> bool {
        self.secret.is_empty()
    }

    /// The cipher for this key; fails for an empty key.
    pub fn cipher(&self) -> Result<Cipher> {
        if self.secret.is_empty() {
            return Err(CephxError::InvalidKey("the key is empty"));
        }
        Cipher::new(self.key_type, &self.secret)
    }
}

impl fmt::Debug for CryptoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoKey")
            .field("type", &self.key_type)
            .field("created", &self.created)
            .field("secret", &self.secret)
            .finish()
    }
}

impl Decode for CryptoKey {
    const MIN_LEN: usize = 12;
    // src/auth/Crypto.cc CryptoKey::decode
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CryptoKey", |r| {
            let key_type = KeyType(r.u16()?);
            let created = UTime::decode(r)?;
            let len = usize::from(r.u16()?);
            let at = r.clone();
            let secret = Secret::from_slice(r.take(len)?);
            CryptoKey::new(key_type, created, secret)
                .map_err(|_| at.invalid("secret for key type", u64::from(key_type.0)))
        })
    }
}

impl Encode for CryptoKey {
    fn encode(&self, w: &mut Writer) {
        w.put_u16(self.key_type.0);
        self.created.encode(w);
        // secrets come from 16-bit lengths or from generate(): they fit
        w.put_u16(u16::try_from(self.secret.len()).unwrap_or(u16::MAX));
        w.put_bytes(self.secret.expose());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Ceph 16.2.15's `ceph-authtool --gen-print-key`.
    const AUTHTOOL_KEY: &str = "AQB5GwFr2iDOMBAAL4n6fLGzmBepZSh3h4RVeg==";

    #[test]
    fn parses_ceph_authtool_keys() {
        let key = CryptoKey::from_base64(AUTHTOOL_KEY).unwrap();
        assert_eq!(key.key_type(), KeyType::AES);
        assert_eq!(key.created(), UTime::new(1_795_234_681, 818_815_194));
        assert_eq!(
            denc::testing::hex(key.secret().expose()),
            "2f89fa7cb1b39817a96528778784557a"
        );
        assert_eq!(&*key.to_base64(), AUTHTOOL_KEY);
        // a keyfile's trailing newline and stray blanks are fine
        let again = CryptoKey::from_base64(&format!("  {AUTHTOOL_KEY}\n")).unwrap();
        assert_eq!(again, key);
    }

    #[test]
    fn aes256k_keys_start_with_ag() {
        let key = CryptoKey::new(
            KeyType::AES256K,
            UTime::new(1_700_000_000, 5),
            Secret::new((0..32).collect()),
        )
        .unwrap();
        let text = key.to_base64();
        assert!(text.starts_with("Ag"), "{}", &*text);
        assert_eq!(text.len(), 60);
        assert_eq!(CryptoKey::from_base64(&text).unwrap(), key);
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = CryptoKey::from_base64(AUTHTOOL_KEY).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("aes"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
        assert!(!shown.contains("2f89fa7c"), "{shown}");
    }

    #[test]
    fn refuses_bad_keys() {
        assert!(matches!(
            CryptoKey::from_base64("not base64!"),
            Err(CephxError::Base64)
        ));
        // an AES key with a 15-byte secret
        let mut w = Writer::new();
        w.put_u16(1);
        w.put_u64(0);
        w.put_u16(15);
        w.put_bytes(&[0; 15]);
        assert!(denc::decode_exact::<CryptoKey>(&w.finish().unwrap()).is_err());
        // an unknown type with a secret
        let mut w = Writer::new();
        w.put_u16(9);
        w.put_u64(0);
        w.put_u16(16);
        w.put_bytes(&[0; 16]);
        assert!(denc::decode_exact::<CryptoKey>(&w.finish().unwrap()).is_err());
    }

    #[test]
    fn generates_keys_of_each_type() {
        let mut rng = rand::rng();
        for t in [KeyType::AES, KeyType::AES256K] {
            let k = CryptoKey::generate(t, UTime::new(1, 2), &mut rng).unwrap();
            assert_eq!(k.secret().len(), t.secret_len().unwrap());
            assert!(k.cipher().is_ok());
        }
    }
}
