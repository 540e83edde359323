//! Output formats, as Ceph's tools offer them (`--format plain|json|json-pretty`).

use std::io::Write;

use serde::Serialize;

use crate::error::CliError;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people.
    Plain,
    /// Compact JSON.
    Json,
    /// Indented JSON.
    JsonPretty,
}

impl Format {
    /// The `format` value Ceph's commands take for this format (`None` for plain).
    pub fn ceph_name(self) -> Option<&'static str> {
        match self {
            Format::Plain => None,
            Format::Json => Some("json"),
            Format::JsonPretty => Some("json-pretty"),
        }
    }
}

/// Prints `value` to stdout in `format` (plain uses its `Display`).
pub fn print<T: Serialize + std::fmt::Display>(format: Format, value: &T) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Plain => write!(out, "{value}")?,
        Format::Json => {
            serde_json::to_writer(&mut out, value)?;
            writeln!(out)?;
        }
        Format::JsonPretty => {
            serde_json::to_writer_pretty(&mut out, value)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}
