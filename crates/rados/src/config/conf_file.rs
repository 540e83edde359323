//! Ceph's INI configuration format (src/common/ConfUtils.cc): `[section]` headings,
//! `key = value` lines, `#` and `;` comments anywhere outside quotes, backslash escapes and
//! line continuations, single or double quoted values. Key names are normalised (spaces and
//! dashes become underscores); within a section the last line for a key wins.

use std::collections::BTreeMap;

use crate::error::ConfigError;

/// Ceph refuses configuration files larger than this (`MAX_CONFIG_FILE_SZ`).
pub const MAX_CONFIG_FILE_SIZE: usize = 256 * 1024 * 1024;

/// A parsed configuration file: sections of normalised keys and their values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfFile {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

/// A key as Ceph stores it (`ConfFile::normalize_key_name`): trimmed, each run of
/// whitespace one underscore, so `mon host` is `mon_host`. Dashes stay: Ceph does not read
/// `mon-host` in a file as `mon_host`.
pub fn normalize_key(key: &str) -> String {
    key.split_whitespace().collect::<Vec<_>>().join("_")
}

/// A key as our code asks for it: `mon host`, `mon-host` and `mon_host` all mean the
/// option `mon_host`.
fn lookup_key(key: &str) -> String {
    normalize_key(key).replace('-', "_")
}

impl ConfFile {
    /// Parses configuration text. `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ConfFile, ConfigError> {
        if text.len() > MAX_CONFIG_FILE_SIZE {
            return Err(ConfigError::Syntax {
                origin: origin.to_owned(),
                line: 0,
                reason: "file larger than 256 MiB",
            });
        }
        let mut conf = ConfFile::default();
        let mut section: Option<String> = None;
        let mut logical = String::new();
        let mut first_line = 0;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            if logical.is_empty() {
                first_line = line_no;
            }
            // a backslash at the very end continues the line
            if let Some(stripped) = raw.strip_suffix('\\') {
                if !stripped.ends_with('\\') {
                    logical.push_str(stripped);
                    continue;
                }
            }
            logical.push_str(raw);
            let line = std::mem::take(&mut logical);
            let syntax = |reason| ConfigError::Syntax {
                origin: origin.to_owned(),
                line: first_line,
                reason,
            };
            let content = strip_comment(&line);
            let content = content.trim();
            if content.is_empty() {
                continue;
            }
            if let Some(rest) = content.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .ok_or_else(|| syntax("unterminated section heading"))?;
                let name = name.trim();
                if name.is_empty() {
                    return Err(syntax("empty section name"));
                }
                conf.sections.entry(name.to_owned()).or_default();
                section = Some(name.to_owned());
                continue;
            }
            let (key, value) = content
                .split_once('=')
                .ok_or_else(|| syntax("expected key = value"))?;
            let key = normalize_key(key);
            if key.is_empty() || key.contains('[') {
                return Err(syntax("invalid key"));
            }
            let value = unquote(value.trim()).ok_or_else(|| syntax("unterminated quote"))?;
            // lines before any heading belong to [global], as in Ceph
            let name = section.clone().unwrap_or_else(|| "global".to_owned());
            conf.sections.entry(name).or_default().insert(key, value);
        }
        Ok(conf)
    }

    /// The value of `key` in `section`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)
            .and_then(|s| s.get(&lookup_key(key)))
            .map(String::as_str)
    }

    /// The value of `key` for a client named `name` (`client.admin`): the first of the
    /// sections `[client.admin]`, `[client]`, `[global]` that sets it.
    pub fn get_for(&self, name: &str, key: &str) -> Option<&str> {
        let kind = name.split('.').next().unwrap_or(name);
        [name, kind, "global"]
            .into_iter()
            .find_map(|section| self.get(section, key))
    }

    /// The section names.
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.keys().map(String::as_str)
    }

    /// The normalised keys and values of `section`.
    pub fn section(&self, section: &str) -> impl Iterator<Item = (&str, &str)> {
        self.sections
            .get(section)
            .into_iter()
            .flat_map(|s| s.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// Everything before the first `#` or `;` that is not escaped or inside quotes.
fn strip_comment(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '"' | '\'' if quote.is_none() => {
                quote = Some(c);
                out.push(c);
            }
            q if Some(q) == quote => {
                quote = None;
                out.push(c);
            }
            '#' | ';' if quote.is_none() => break,
            _ => out.push(c),
        }
    }
    out
}

/// Removes surrounding quotes and resolves backslash escapes; `None` for an unterminated quote.
fn unquote(value: &str) -> Option<String> {
    let inner = match value.chars().next() {
        Some(q @ ('"' | '\'')) => value.get(1..)?.strip_suffix(q)?,
        _ => value,
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
# written by a test
fsid = 618f4408-9208-9921-c3e9-44a991122ddc
[global]
mon host = [v2:127.0.0.1:3300/0,v1:127.0.0.1:6789/0] ; trailing comment
auth-client-required = cephx
   log file = "/var/log/ceph # not a comment.log"

[client]
keyring = /tmp/c/keyring
ms_client_mode = secure \
  crc
[client.admin]
keyring = '/tmp/admin.keyring'
escaped = a\#b
"#;

    #[test]
    fn parses_ceph_ini() {
        let conf = ConfFile::parse(SAMPLE, "sample").unwrap();
        assert_eq!(
            conf.get("global", "mon_host"),
            Some("[v2:127.0.0.1:3300/0,v1:127.0.0.1:6789/0]")
        );
        assert_eq!(
            conf.get("global", "mon-host"),
            conf.get("global", "mon host")
        );
        // written with a dash, Ceph does not take it for the option
        assert_eq!(conf.get("global", "auth_client_required"), None);
        assert_eq!(
            conf.section("global")
                .find(|(k, _)| *k == "auth-client-required")
                .map(|(_, v)| v),
            Some("cephx")
        );
        assert_eq!(
            conf.get("global", "log_file"),
            Some("/var/log/ceph # not a comment.log")
        );
        assert_eq!(
            conf.get("global", "fsid"),
            Some("618f4408-9208-9921-c3e9-44a991122ddc")
        );
        assert_eq!(conf.get("client", "ms_client_mode"), Some("secure   crc"));
        assert_eq!(conf.get("client.admin", "escaped"), Some("a#b"));
    }

    #[test]
    fn name_specific_sections_win() {
        let conf = ConfFile::parse(SAMPLE, "sample").unwrap();
        assert_eq!(
            conf.get_for("client.admin", "keyring"),
            Some("/tmp/admin.keyring")
        );
        assert_eq!(
            conf.get_for("client.bob", "keyring"),
            Some("/tmp/c/keyring")
        );
        assert_eq!(
            conf.get_for("client.bob", "log file"),
            Some("/var/log/ceph # not a comment.log")
        );
        assert_eq!(conf.get_for("osd.0", "keyring"), None);
    }

    #[test]
    fn reports_syntax_errors_with_line_numbers() {
        let err = ConfFile::parse("[global]\nno equals sign\n", "bad.conf").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Syntax {
                origin: "bad.conf".into(),
                line: 2,
                reason: "expected key = value"
            }
        );
        assert!(ConfFile::parse("[global\n", "x").is_err());
        assert!(ConfFile::parse("a = \"open\n", "x").is_err());
    }
}
