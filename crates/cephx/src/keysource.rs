//! Finding the client's key the way librados does from its `key`, `keyfile` and `keyring`
//! options (src/auth/KeyRing.cc `KeyRing::from_ceph_context`): an inline `key` wins, then a
//! `keyfile`, then the first `keyring` file that exists.

use std::path::{Path, PathBuf};

use denc::AuthName;
use zeroize::Zeroizing;

use crate::error::{CephxError, Result};
use crate::key::CryptoKey;
use crate::keyring::KeyRing;

/// The default of the `keyring` option (src/common/options/CMakeLists.txt `keyring_paths`,
/// Linux).
pub const DEFAULT_KEYRING_SEARCH: &str = "/etc/ceph/$cluster.$name.keyring,/etc/ceph/$cluster.keyring,/etc/ceph/keyring,/etc/ceph/keyring.bin";

/// The default cluster name.
pub const DEFAULT_CLUSTER: &str = "ceph";

/// librados's key options, as read from ceph.conf, the environment or the caller. Empty
/// strings count as unset, as in Ceph.
#[derive(Debug, Clone, Default)]
pub struct KeyOptions<'a> {
    /// `key`: the base64 key itself.
    pub key: Option<&'a str>,
    /// `keyfile`: a file holding just the base64 key.
    pub keyfile: Option<&'a Path>,
    /// `keyring`: comma- or semicolon-separated keyring paths, `$cluster`/`$name`/`$type`/
    /// `$id` expanded; `None` means [`DEFAULT_KEYRING_SEARCH`].
    pub keyring: Option<&'a str>,
    /// The cluster name for `$cluster` (`ceph` if `None`).
    pub cluster: Option<&'a str>,
}

/// The key of `name` according to `options`.
pub fn resolve_key(name: &AuthName, options: &KeyOptions<'_>) -> Result<CryptoKey> {
    if let Some(key) = options.key.filter(|k| !k.is_empty()) {
        return CryptoKey::from_base64(key);
    }
    if let Some(path) = options.keyfile.filter(|p| !p.as_os_str().is_empty()) {
        let text = Zeroizing::new(std::fs::read(path).map_err(|source| CephxError::Io {
            path: path.to_owned(),
            source,
        })?);
        let text = std::str::from_utf8(&text).map_err(|_| CephxError::Base64)?;
        return CryptoKey::from_base64(text);
    }
    let cluster = options.cluster.unwrap_or(DEFAULT_CLUSTER);
    let list = options.keyring.unwrap_or(DEFAULT_KEYRING_SEARCH);
    let searched = keyring_search_paths(list, cluster, name);
    let found = searched
        .iter()
        .find(|p| std::fs::File::open(p).is_ok())
        .ok_or_else(|| CephxError::NoKeyring {
            searched: searched.clone(),
        })?;
    tracing::debug!(path = %found.display(), %name, "cephx: using keyring");
    KeyRing::load(found)?.key(name).cloned()
}

/// The paths of a `keyring` option value, metavariables expanded
/// (`ceph_resolve_file_search` splits on `,` and `;`).
pub fn keyring_search_paths(list: &str, cluster: &str, name: &AuthName) -> Vec<PathBuf> {
    list.split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(expand_metavariables(p, cluster, name)))
        .collect()
}

/// Expands `$cluster`, `$name`, `$type` and `$id` (also as `${...}`); other `$` words are
/// left alone.
pub fn expand_metavariables(text: &str, cluster: &str, name: &AuthName) -> String {
    let full = name.to_string();
    let ty = name.entity_type.to_string();
    let vars: [(&str, &str); 4] = [
        ("cluster", cluster),
        ("name", &full),
        ("type", &ty),
        ("id", &name.id),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        let (head, tail) = rest.split_at(pos);
        out.push_str(head);
        let after = tail.get(1..).unwrap_or_default();
        let (var, consumed) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (inner.get(..end).unwrap_or_default(), end + 3),
                None => ("", 1),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (after.get(..end).unwrap_or_default(), end + 1)
        };
        match vars.iter().find(|(k, _)| *k == var) {
            Some((_, value)) => {
                out.push_str(value);
                rest = tail.get(consumed..).unwrap_or_default();
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
