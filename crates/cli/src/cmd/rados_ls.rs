//! `rbd-rs rados -p POOL ls [-|OUTFILE] [--all|--default] [-N NS] [-o FILE]`, as `rados ls`
//! lists (src/tools/rados/rados.cc): one object a line, `NAMESPACE<TAB>` first with
//! `--all`, `<TAB>LOCATOR` after when the object has a locator key; or the JSON array of
//! `--format json|json-pretty`, byte for byte as Ceph's JSONFormatter writes it. Output goes
//! to stdout (no argument or `-`) or to the `--output` file; any other argument is refused
//! as `rados` refuses it.

use std::io::Write;

use rados::{Errno, IoCtx, ObjectEntry};

use crate::error::CliError;
use crate::output::Format;

/// How `ls` was asked for.
pub struct LsRequest<'a> {
    /// `--all` (and no `--default`, no `-N`).
    pub wildcard: bool,
    /// The positional argument (`-` or a file name).
    pub outfile: Option<&'a str>,
    /// `-o` / `--output`.
    pub output: Option<&'a str>,
    /// `--format`.
    pub format: Format,
}

/// Lists the pool. `Ok(Err(()))`: `rados` would exit with status 1 (the message is out).
pub async fn ls(io: &IoCtx, req: &LsRequest<'_>) -> Result<Result<(), ()>, CliError> {
    let use_stdout = req.output.is_none() && req.outfile.is_none_or(|f| f == "-");
    if !use_stdout && req.output.is_none() {
        eprintln!("Please use --output to specify the output file name");
        return Ok(Err(()));
    }
    let mut out: Box<dyn Write> = match req.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|source| CliError::File {
                path: path.into(),
                source,
            })?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut lister = if req.wildcard {
        io.list_all_objects()
    } else {
        io.list_objects()
    };
    let mut json = JsonArray::new(req.format);
    let mut outcome = Ok(());
    loop {
        match lister.next_page().await {
            Ok(Some(page)) => {
                for e in &page {
                    match req.format {
                        Format::Plain => plain_line(&mut out, e, req.wildcard)?,
                        _ => json.item(&mut out, e)?,
                    }
                }
            }
            Ok(None) => break,
            // the iterator of librados ends quietly on ENOENT (a pool deleted meanwhile)
            Err(e) if e.is(Errno::ENOENT) => break,
            Err(e) => {
                // NObjectIteratorImpl throws std::system_error; rados prints what()
                out.flush()?;
                eprintln!("rados_nobjects_list_next2: {}", e.kind().description());
                outcome = Err(());
                break;
            }
        }
    }
    if outcome.is_ok() {
        json.finish(&mut out)?;
    }
    out.flush()?;
    Ok(outcome)
}

fn plain_line(out: &mut dyn Write, e: &ObjectEntry, wildcard: bool) -> std::io::Result<()> {
    if wildcard {
        write!(out, "{}\t", e.nspace)?;
    }
    write!(out, "{}", e.oid)?;
    if !e.locator.is_empty() {
        write!(out, "\t{}", e.locator)?;
    }
    writeln!(out)
}

/// The `objects` array as Ceph's JSONFormatter writes it: compact without a final newline,
/// or pretty with 4-space indents and one.
struct JsonArray {
    pretty: bool,
    active: bool,
    items: usize,
}

impl JsonArray {
    fn new(format: Format) -> Self {
        JsonArray {
            pretty: format == Format::JsonPretty,
            active: format != Format::Plain,
            items: 0,
        }
    }

    fn item(&mut self, out: &mut dyn Write, e: &ObjectEntry) -> std::io::Result<()> {
        if !self.active {
            return Ok(());
        }
        let mut fields = vec![("namespace", &e.nspace), ("name", &e.oid)];
        if !e.locator.is_empty() {
            fields.push(("locator", &e.locator));
        }
        let open = if self.items == 0 { "[" } else { "," };
        self.items += 1;
        if self.pretty {
            write!(out, "{open}\n    {{\n")?;
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("        \"{k}\": \"{}\"", escape(v)))
                .collect();
            write!(out, "{}\n    }}", body.join(",\n"))
        } else {
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("\"{k}\":\"{}\"", escape(v)))
                .collect();
            write!(out, "{open}{{{}}}", body.join(","))
        }
    }

    fn finish(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if !self.active {
            return Ok(());
        }
        match (self.items, self.pretty) {
            (0, false) => write!(out, "[]"),
            (0, true) => writeln!(out, "[]"),
            (_, false) => write!(out, "]"),
            (_, true) => write!(out, "\n]\n"),
        }
    }
}

/// `escape_json_attr` (src/common/escape.cc): quote, backslash, tab and newline escaped,
/// other control characters (and DEL) as `\u00XX`; everything else as it is.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ns: &str, oid: &str, loc: &str) -> ObjectEntry {
        ObjectEntry {
            nspace: ns.into(),
            oid: oid.into(),
            locator: loc.into(),
        }
    }

    fn render(format: Format, entries: &[ObjectEntry]) -> String {
        let mut out = Vec::new();
        let mut j = JsonArray::new(format);
        for e in entries {
            j.item(&mut out, e).unwrap();
        }
        j.finish(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_as_ceph_writes_it() {
        let es = [entry("", "obj2", ""), entry("ns1", "lobj", "key1")];
        assert_eq!(
            render(Format::Json, &es),
            r#"[{"namespace":"","name":"obj2"},{"namespace":"ns1","name":"lobj","locator":"key1"}]"#
        );
        assert_eq!(
            render(Format::JsonPretty, &es[..1]),
            "[\n    {\n        \"namespace\": \"\",\n        \"name\": \"obj2\"\n    }\n]\n"
        );
        assert_eq!(render(Format::Json, &[]), "[]");
        assert_eq!(render(Format::JsonPretty, &[]), "[]\n");
        assert_eq!(render(Format::Plain, &es), "");
        assert_eq!(
            escape("a\"b\\c\td\ne\u{1}\u{7f}/é"),
            "a\\\"b\\\\c\\td\\ne\\u0001\\u007f/é"
        );
    }

    #[test]
    fn plain_lines() {
        let mut out = Vec::new();
        plain_line(&mut out, &entry("ns", "o", "k"), true).unwrap();
        plain_line(&mut out, &entry("ns", "o", ""), false).unwrap();
        assert_eq!(out, b"ns\to\tk\no\n");
    }
}
