//! Ceph's generic command-line options, as `CEPH_ARGS` carries them (src/common/ceph_argparse.cc
//! `env_to_vec`, `ceph_argparse_early_args`, `md_config_t::parse_argv`): `-c/--conf`,
//! `--id/-i`, `--name/-n`, `--cluster`, `-m` (mon_host), `-k` (keyring), and any option as
//! `--option value`, `--option=value` or `--no-option` (false).

use crate::error::ConfigError;

/// Options found in an argument list; later occurrences win, as in Ceph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedArgs {
    /// `-c` / `--conf`: configuration file(s).
    pub conf: Option<String>,
    /// `--id` / `-i`: the id of `client.ID`.
    pub id: Option<String>,
    /// `--name` / `-n`: the full entity name.
    pub name: Option<String>,
    /// `--cluster`.
    pub cluster: Option<String>,
    /// Every other option, normalised (`mon-host` becomes `mon_host`), in order.
    pub options: Vec<(String, String)>,
}

/// Splits `CEPH_ARGS` as Ceph does: on spaces, no quoting.
pub fn split_env(value: &str) -> Vec<String> {
    value
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Option names on the command line may use dashes or underscores.
pub fn normalize_option(name: &str) -> String {
    name.trim().replace('-', "_")
}

/// Parses an argument list. Positional arguments (and everything after `--`) are refused:
/// these lists hold only options.
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<ParsedArgs, ConfigError> {
    let mut out = ParsedArgs::default();
    let mut i = 0;
    let bad = |arg: &str, reason| ConfigError::BadArgument {
        arg: arg.to_owned(),
        reason,
    };
    while let Some(arg) = args.get(i).map(AsRef::as_ref) {
        i += 1;
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_owned())),
            _ => (arg, None),
        };
        // the value: inline, or the next argument
        let value = |i: &mut usize| -> Result<String, ConfigError> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args
                .get(*i)
                .map(AsRef::as_ref)
                .ok_or_else(|| bad(arg, "needs a value"))?;
            *i += 1;
            Ok(v.to_owned())
        };
        match key {
            "-c" | "--conf" => out.conf = Some(value(&mut i)?),
            "-i" | "--id" | "--user" => out.id = Some(value(&mut i)?),
            "-n" | "--name" => out.name = Some(value(&mut i)?),
            "--cluster" => out.cluster = Some(value(&mut i)?),
            "-m" => out.options.push(("mon_host".into(), value(&mut i)?)),
            "-k" => out.options.push(("keyring".into(), value(&mut i)?)),
            "--" => return Err(bad(arg, "positional arguments are not options")),
            long if long.starts_with("--") => {
                let name = normalize_option(long.trim_start_matches("--"));
                if name.is_empty() {
                    return Err(bad(arg, "empty option name"));
                }
                if inline.is_none() {
                    if let Some(negated) = name.strip_prefix("no_") {
                        out.options.push((negated.to_owned(), "false".into()));
                        continue;
                    }
                }
                // `--flag` alone (last, or followed by another option) means true
                let next_is_value = inline.is_some()
                    || args
                        .get(i)
                        .map(AsRef::as_ref)
                        .is_some_and(|n| !n.starts_with("--"));
                let v = if next_is_value {
                    value(&mut i)?
                } else {
                    "true".to_owned()
                };
                out.options.push((name, v));
            }
            short if short.starts_with('-') => return Err(bad(arg, "unknown option")),
            _ => return Err(bad(arg, "positional arguments are not options")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceph_args_spellings() {
        let args = split_env(
            "  --id bob  -m 10.0.0.1:3300 --keyring=/k -c /etc/ceph/x.conf --mon-op-timeout 5 \
             --no-ms-crc-data --debug-ms=1 --log-to-stderr",
        );
        let p = parse_args(&args).unwrap();
        assert_eq!(p.id.as_deref(), Some("bob"));
        assert_eq!(p.conf.as_deref(), Some("/etc/ceph/x.conf"));
        assert_eq!(
            p.options,
            [
                ("mon_host".to_string(), "10.0.0.1:3300".to_string()),
                ("keyring".into(), "/k".into()),
                ("mon_op_timeout".into(), "5".into()),
                ("ms_crc_data".into(), "false".into()),
                ("debug_ms".into(), "1".into()),
                ("log_to_stderr".into(), "true".into()),
            ]
        );
        let p = parse_args(&["-n", "client.x", "-i", "y", "--cluster", "c", "-k", "/kr"]).unwrap();
        assert_eq!(p.name.as_deref(), Some("client.x"));
        assert_eq!(p.id.as_deref(), Some("y"));
        assert_eq!(p.cluster.as_deref(), Some("c"));
        assert_eq!(p.options, [("keyring".to_string(), "/kr".to_string())]);
    }

    #[test]
    fn refuses_what_is_not_an_option() {
        assert!(parse_args(&["--id"]).is_err());
        assert!(parse_args(&["status"]).is_err());
        assert!(parse_args(&["-x", "1"]).is_err());
        assert!(parse_args(&["--", "a"]).is_err());
        assert_eq!(parse_args::<&str>(&[]).unwrap(), ParsedArgs::default());
    }
}
