//! `rados bench --format json|json-pretty`: what Ceph's JSONFormatter writes for
//! src/common/obj_bencher.cc, streamed as `rados` flushes it (once a second with each
//! progress record, the rest at the end). Every value is a string, as `dump_format` makes
//! it.

use std::io::Write;

/// A streaming writer of Ceph's JSON (compact, or pretty with 4-space indents).
#[derive(Debug, Default)]
pub struct JsonOut {
    pretty: bool,
    buf: String,
    /// Open sections: whether each has an item yet, and its closing bracket.
    open: Vec<(bool, char)>,
}

impl JsonOut {
    /// A writer; `pretty` for `json-pretty`.
    pub fn new(pretty: bool) -> Self {
        JsonOut {
            pretty,
            ..JsonOut::default()
        }
    }

    fn item(&mut self, key: Option<&str>) {
        if let Some((has_items, _)) = self.open.last_mut() {
            if *has_items {
                self.buf.push(',');
            }
            *has_items = true;
            if self.pretty {
                self.buf.push('\n');
                self.indent(self.open.len());
            }
        }
        // keys only name the members of objects (Ceph drops them at the top and in arrays)
        let in_object = self.open.last().is_some_and(|&(_, bracket)| bracket == '}');
        if let Some(k) = key.filter(|_| in_object) {
            self.buf.push('"');
            escape_into(&mut self.buf, k);
            self.buf.push_str(if self.pretty { "\": " } else { "\":" });
        }
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.buf.push_str("    ");
        }
    }

    /// Opens an object (`key` is ignored at the top and inside arrays).
    pub fn open_object(&mut self, key: Option<&str>) {
        self.item(key);
        self.buf.push('{');
        self.open.push((false, '}'));
    }

    /// Opens an array.
    pub fn open_array(&mut self, key: Option<&str>) {
        self.item(key);
        self.buf.push('[');
        self.open.push((false, ']'));
    }

    /// Closes the innermost section.
    pub fn close(&mut self) {
        let Some((has_items, bracket)) = self.open.pop() else {
            return;
        };
        if has_items && self.pretty {
            self.buf.push('\n');
            self.indent(self.open.len());
        }
        self.buf.push(bracket);
    }

    /// A string field.
    pub fn field(&mut self, key: &str, value: &str) {
        self.item(Some(key));
        self.buf.push('"');
        escape_into(&mut self.buf, value);
        self.buf.push('"');
    }

    /// A `%d` field.
    pub fn int(&mut self, key: &str, value: i64) {
        self.field(key, &value.to_string());
    }

    /// A `%f` field.
    pub fn float(&mut self, key: &str, value: f64) {
        self.field(key, &printf_f(value));
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(self.buf.as_bytes())?;
        out.flush()?;
        self.buf.clear();
        Ok(())
    }

    /// Closes whatever is open and writes the end as `rados` does: the pretty formatter's
    /// newline, then `std::endl`.
    pub fn finish(&mut self) -> std::io::Result<()> {
        while !self.open.is_empty() {
            self.close();
        }
        if self.pretty {
            self.buf.push('\n');
        }
        self.buf.push('\n');
        self.flush()
    }
}

/// `printf("%f")`: six decimals; `nan`/`inf` as glibc spells them.
pub fn printf_f(x: f64) -> String {
    if x.is_nan() {
        if x.is_sign_negative() { "-nan" } else { "nan" }.into()
    } else if x.is_infinite() {
        if x < 0.0 { "-inf" } else { "inf" }.into()
    } else {
        format!("{x:.6}")
    }
}

fn escape_into(buf: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            c if u32::from(c) < 0x20 => buf.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => buf.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pretty: bool) -> String {
        let mut j = JsonOut::new(pretty);
        j.open_object(Some("bench"));
        j.open_array(Some("datas"));
        j.open_object(None);
        j.int("sec", 0);
        j.float("avg_bw", 0.0);
        j.close();
        j.close();
        j.float("total_time_run", 1.5);
        j.close();
        j.buf
    }

    #[test]
    fn writes_like_cephs_json_formatter() {
        assert_eq!(
            sample(false),
            r#"{"datas":[{"sec":"0","avg_bw":"0.000000"}],"total_time_run":"1.500000"}"#
        );
        assert_eq!(
            sample(true),
            "{\n    \"datas\": [\n        {\n            \"sec\": \"0\",\n            \"avg_bw\": \"0.000000\"\n        }\n    ],\n    \"total_time_run\": \"1.500000\"\n}"
        );
        assert_eq!(printf_f(f64::NAN), "nan");
        assert_eq!(printf_f(0.0004126), "0.000413");
    }
}
