//! `rbd-rs mon-command '<json>' [-i INFILE] [-o OUTFILE]`: what `ceph` does with a command
//! (src/ceph.in): status text to stderr, output to stdout (or OUTFILE), exit status the
//! errno of the result.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;

use crate::error::{CliError, errno_exit};
use crate::global::GlobalArgs;

/// Arguments of `mon-command`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command: a JSON object such as '{"prefix": "osd pool ls"}' (several arguments
    /// are sent as several strings). With --format json, a "format" is added if missing.
    #[arg(required = true, value_name = "JSON")]
    pub cmd: Vec<String>,
    /// Input data for the command ("-" for stdin).
    #[arg(short = 'i', long = "in-file", value_name = "INFILE")]
    pub input: Option<PathBuf>,
    /// Write the output here instead of stdout.
    #[arg(short = 'o', long = "out-file", value_name = "OUTFILE")]
    pub output: Option<PathBuf>,
}

/// Sends the command and reports like `ceph`.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, CliError> {
    let input = match &args.input {
        None => Bytes::new(),
        Some(p) if p.as_os_str() == "-" => {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
            Bytes::from(buf)
        }
        Some(p) => Bytes::from(std::fs::read(p).map_err(|source| CliError::File {
            path: p.clone(),
            source,
        })?),
    };
    let cmd: Vec<String> = args
        .cmd
        .iter()
        .map(|c| with_format(c, global.format.ceph_name()))
        .collect();
    let rados = global.connect().await?;
    let reply = rados.mon_command_raw(cmd, input).await;
    rados.shutdown().await;
    let reply = reply?;
    if reply.code < 0 {
        eprintln!("Error {}: {}", errno_name(reply.code), reply.status);
    } else if !reply.status.is_empty() {
        eprintln!("{}", reply.status);
    }
    match &args.output {
        Some(path) => std::fs::write(path, &reply.data).map_err(|source| CliError::File {
            path: path.clone(),
            source,
        })?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&reply.data)?;
            if !reply.data.is_empty() && !reply.data.ends_with(b"\n") {
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
    }
    Ok(errno_exit(reply.code))
}

/// The errno's symbolic name, as Python's `errno.errorcode` gives it to `ceph`.
fn errno_name(code: i32) -> String {
    const NAMES: [(u32, &str); 24] = [
        (1, "EPERM"),
        (2, "ENOENT"),
        (5, "EIO"),
        (11, "EAGAIN"),
        (12, "ENOMEM"),
        (13, "EACCES"),
        (16, "EBUSY"),
        (17, "EEXIST"),
        (18, "EXDEV"),
        (19, "ENODEV"),
        (20, "ENOTDIR"),
        (21, "EISDIR"),
        (22, "EINVAL"),
        (27, "EFBIG"),
        (28, "ENOSPC"),
        (30, "EROFS"),
        (33, "EDOM"),
        (34, "ERANGE"),
        (38, "ENOSYS"),
        (39, "ENOTEMPTY"),
        (95, "EOPNOTSUPP"),
        (110, "ETIMEDOUT"),
        (122, "EDQUOT"),
        (125, "ECANCELED"),
    ];
    let n = code.unsigned_abs();
    NAMES
        .iter()
        .find(|(k, _)| *k == n)
        .map_or_else(|| "Unknown".to_owned(), |(_, name)| (*name).to_owned())
}

/// Adds `"format": FORMAT` to a JSON object command that has none.
fn with_format(cmd: &str, format: Option<&str>) -> String {
    let Some(format) = format else {
        return cmd.to_owned();
    };
    match serde_json::from_str::<serde_json::Value>(cmd) {
        Ok(serde_json::Value::Object(mut map)) if !map.contains_key("format") => {
            map.insert("format".into(), serde_json::Value::String(format.into()));
            serde_json::Value::Object(map).to_string()
        }
        _ => cmd.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_added_only_when_missing() {
        assert_eq!(
            with_format(r#"{"prefix":"osd pool ls"}"#, Some("json")),
            r#"{"format":"json","prefix":"osd pool ls"}"#
        );
        let given = r#"{"prefix":"osd pool ls","format":"plain"}"#;
        assert_eq!(with_format(given, Some("json")), given);
        assert_eq!(with_format("not json", Some("json")), "not json");
        assert_eq!(with_format("{}", None), "{}");
        assert_eq!(errno_name(-2), "ENOENT");
        assert_eq!(errno_name(-4242), "Unknown");
    }
}
