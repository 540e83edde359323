//! Keyrings: Ceph's INI-style key files (src/auth/KeyRing.cc, parsed by src/common/ConfUtils.cc)
//! and, as Pacific still reads them, the old binary form.
//!
//! ```text
//! [client.admin]
//!     key = AQB5GwFrjTByNhAAXD01lq3KjyCxx4fLy6uelg==
//!     caps mon = "allow *"     ; comments start with ';' or '#'
//! ```
//!
//! Keys are normalised as Ceph does it: runs of blanks and underscores become one space, so
//! `caps_mon` is `caps mon`. Values may be quoted with `"` or `'`; a backslash escapes the
//! next character and a backslash at the end of a line continues it on the next. A `[global]`
//! section is ignored; every other section must be an entity name. Settings: `key`, `pending
//! key`, `caps <service>`, `auid` (ignored); anything else is an error, as in Ceph.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use denc::{AuthName, Decode, Reader};
use zeroize::Zeroizing;

use crate::error::{CephxError, Result};
use crate::key::CryptoKey;

/// What a keyring holds for one entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRingEntry {
    /// The key (empty if the section had none).
    pub key: CryptoKey,
    /// A new key being rotated in, if any.
    pub pending_key: Option<CryptoKey>,
    /// Capabilities per service (`mon` -> `allow *`).
    pub caps: BTreeMap<String, String>,
}

/// A keyring: keys and capabilities by entity name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRing {
    entries: BTreeMap<AuthName, KeyRingEntry>,
}

impl KeyRing {
    /// An empty keyring.
    pub fn new() -> Self {
        KeyRing::default()
    }

    /// Reads a keyring file.
    pub fn load(path: impl AsRef<Path>) -> Result<KeyRing> {
        let path = path.as_ref();
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| CephxError::Io {
            path: path.to_owned(),
            source,
        })?);
        KeyRing::parse(&bytes)
    }

    /// Parses keyring bytes: the text form, or else the binary form older releases wrote.
    pub fn parse(bytes: &[u8]) -> Result<KeyRing> {
        let text_result = match std::str::from_utf8(bytes) {
            Ok(text) => KeyRing::from_str(text),
            Err(_) => Err(CephxError::Keyring {
                line: 1,
                reason: "not UTF-8 text",
            }),
        };
        match text_result {
            Ok(ring) => Ok(ring),
            Err(text_err) => decode_binary(bytes).map_err(|_| text_err),
        }
    }

    /// The entry for `name`.
    pub fn get(&self, name: &AuthName) -> Option<&KeyRingEntry> {
        self.entries.get(name)
    }

    /// The key of `name`; an error if there is none (or it is empty).
    pub fn key(&self, name: &AuthName) -> Result<&CryptoKey> {
        self.entries
            .get(name)
            .map(|e| &e.key)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| CephxError::KeyNotFound(name.clone()))
    }

    /// Adds or replaces the entry of `name`.
    pub fn insert(&mut self, name: AuthName, entry: KeyRingEntry) {
        self.entries.insert(name, entry);
    }

    /// Every entry, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&AuthName, &KeyRingEntry)> {
        self.entries.iter()
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if there are no entities.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The text form, as `ceph auth get` prints it (it contains the keys).
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::new());
        for (name, entry) in &self.entries {
            out.push_str(&format!("[{name}]\n"));
            out.push_str("\tkey = ");
            out.push_str(&entry.key.to_base64());
            out.push('\n');
            if let Some(pending) = &entry.pending_key {
                out.push_str("\tpending key = ");
                out.push_str(&pending.to_base64());
                out.push('\n');
            }
            for (service, caps) in &entry.caps {
                let escaped = caps.replace('\\', "\\\\").replace('"', "\\\"");
                out.push_str(&format!("\tcaps {service} = \"{escaped}\"\n"));
            }
        }
        out
    }
}

impl FromStr for KeyRing {
    type Err = CephxError;

    fn from_str(text: &str) -> Result<KeyRing> {
        let mut ring = KeyRing::new();
        // None: before any section or in [global]
        let mut section: Option<AuthName> = None;
        for line in logical_lines(text)? {
            let err = |reason| CephxError::Keyring {
                line: line.number,
                reason,
            };
            let content = trim(&line.chars);
            if content.is_empty() {
                continue;
            }
            if content.first().is_some_and(|c| c.ch == '[' && !c.escaped) {
                let end = content
                    .iter()
                    .rposition(|c| c.ch == ']' && !c.escaped)
                    .filter(|&end| end == content.len() - 1)
                    .ok_or(err("section heading without closing ']'"))?;
                let name: String = content
                    .get(1..end)
                    .unwrap_or_default()
                    .iter()
                    .map(|c| c.ch)
                    .collect();
                if name.is_empty() {
                    return Err(err("empty section name"));
                }
                section = if name == "global" {
                    None
                } else {
                    let parsed = name
                        .parse::<AuthName>()
                        .map_err(|_| err("section name is not an entity name (TYPE.ID)"))?;
                    ring.entries.entry(parsed.clone()).or_default();
                    Some(parsed)
                };
                continue;
            }
            let eq = content
                .iter()
                .position(|c| c.ch == '=' && !c.escaped)
                .ok_or(err("expected 'key = value'"))?;
            let (raw_key, rest) = content.split_at(eq);
            let setting = normalize_key(raw_key);
            if setting.is_empty() {
                return Err(err("empty setting name"));
            }
            let value = Zeroizing::new(
                parse_value(rest.get(1..).unwrap_or_default())
                    .ok_or(err("unterminated or trailing text after quoted value"))?,
            );
            let Some(name) = &section else {
                continue;
            };
            let entry = ring.entries.entry(name.clone()).or_default();
            apply_setting(entry, &setting, &value).map_err(err)?;
        }
        Ok(ring)
    }
}

fn apply_setting(
    entry: &mut KeyRingEntry,
    setting: &str,
    value: &str,
) -> std::result::Result<(), &'static str> {
    match setting {
        "key" => {
            entry.key = CryptoKey::from_base64(value).map_err(|_| "invalid key")?;
        }
        "pending key" => {
            entry.pending_key = Some(CryptoKey::from_base64(value).map_err(|_| "invalid key")?);
        }
        "auid" => {}
        _ => match setting.strip_prefix("caps ") {
            Some(service) if !service.is_empty() => {
                entry.caps.insert(service.to_owned(), value.to_owned());
            }
            _ => return Err("unknown setting (expected key, caps <service> or auid)"),
        },
    }
    Ok(())
}

/// A character and whether a backslash escaped it (escaped characters never delimit).
#[derive(Clone, Copy)]
struct Ch {
    ch: char,
    escaped: bool,
}

struct Line {
    /// 1-based number of the physical line it starts on.
    number: usize,
    chars: Vec<Ch>,
}

/// Splits into logical lines: backslash-newline joins lines, a backslash escapes the next
/// character, unescaped `#` and `;` outside quotes start comments.
fn logical_lines(text: &str) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    let mut current = Line {
        number: 1,
        chars: Vec::new(),
    };
    let mut physical = 1;
    let mut in_comment = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                physical += 1;
                lines.push(std::mem::replace(
                    &mut current,
                    Line {
                        number: physical,
                        chars: Vec::new(),
                    },
                ));
                in_comment = false;
                quote = None;
            }
            _ if in_comment => {}
            '\\' => match chars.next() {
                Some('\n') => physical += 1,
                Some('\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                    physical += 1;
                }
                Some(next) => current.chars.push(Ch {
                    ch: next,
                    escaped: true,
                }),
                None => {
                    return Err(CephxError::Keyring {
                        line: physical,
                        reason: "backslash at the end of the file",
                    });
                }
            },
            '#' | ';' if quote.is_none() => in_comment = true,
            '"' | '\'' => {
                match quote {
                    None => quote = Some(c),
                    Some(q) if q == c => quote = None,
                    Some(_) => {}
                }
                current.chars.push(Ch {
                    ch: c,
                    escaped: false,
                });
            }
            _ => current.chars.push(Ch {
                ch: c,
                escaped: false,
            }),
        }
    }
    lines.push(current);
    Ok(lines)
}

fn is_blank(c: &Ch) -> bool {
    !c.escaped && c.ch.is_whitespace()
}

fn trim(chars: &[Ch]) -> &[Ch] {
    let start = chars
        .iter()
        .position(|c| !is_blank(c))
        .unwrap_or(chars.len());
    let end = chars
        .iter()
        .rposition(|c| !is_blank(c))
        .map_or(start, |e| e + 1);
    chars.get(start..end).unwrap_or_default()
}

/// Ceph's `normalize_key_name` (blank runs become `_`) followed by KeyRing's `_` -> ` `.
fn normalize_key(raw: &[Ch]) -> String {
    let mut out = String::new();
    let mut pending_space = false;
    for c in trim(raw) {
        if is_blank(c) || c.ch == '_' {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c.ch);
    }
    out
}

/// A value: trimmed; if it starts with an unescaped quote, what is inside the quotes, and only
/// blanks may follow the closing quote.
fn parse_value(raw: &[Ch]) -> Option<String> {
    let value = trim(raw);
    match value.first() {
        Some(first) if !first.escaped && (first.ch == '"' || first.ch == '\'') => {
            let rest = value.get(1..).unwrap_or_default();
            let close = rest.iter().position(|c| !c.escaped && c.ch == first.ch)?;
            if close + 1 != rest.len() {
                return None;
            }
            Some(
                rest.get(..close)
                    .unwrap_or_default()
                    .iter()
                    .map(|c| c.ch)
                    .collect(),
            )
        }
        _ => Some(value.iter().map(|c| c.ch).collect()),
    }
}

/// The binary keyring (Pacific's `KeyRing::decode` tries it first): u8 struct_v, then
/// map<EntityName, EntityAuth>; EntityAuth (src/auth/Auth.h) = u8 v, [le64 auid if v >= 2],
/// CryptoKey, map<string, bufferlist holding a string> caps, [CryptoKey pending if v >= 3].
fn decode_binary(bytes: &[u8]) -> Result<KeyRing> {
    let mut r = Reader::new(bytes);
    let _v = r.u8()?;
    let count = r.count(AuthName::MIN_LEN + 1 + CryptoKey::MIN_LEN + 4)?;
    let mut ring = KeyRing::new();
    for _ in 0..count {
        let name = AuthName::decode(&mut r)?;
        let entry = r.named("EntityAuth", |r| {
            let v = r.u8()?;
            if v >= 2 {
                let _auid = r.u64()?;
            }
            let key = CryptoKey::decode(r)?;
            let n = r.count(8)?;
            let mut caps = BTreeMap::new();
            for _ in 0..n {
                let service = String::decode(r)?;
                let bl = r.length_prefixed()?;
                let mut inner = Reader::new(bl);
                caps.insert(service, String::decode(&mut inner)?);
            }
            let pending = if v >= 3 {
                Some(CryptoKey::decode(r)?).filter(|k| !k.is_empty())
            } else {
                None
            };
            Ok(KeyRingEntry {
                key,
                pending_key: pending,
                caps,
            })
        })?;
        ring.entries.insert(name, entry);
    }
    r.finish()?;
    Ok(ring)
}
