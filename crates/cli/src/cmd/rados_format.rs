//! How Ceph's `rados` tool prints things: `bufferlist::hexdump` (src/common/buffer.cc),
//! `utime_t`'s stream form and `lssnap`'s date (src/include/utime.h), `prettify` of object
//! names (src/tools/rados/rados.cc). Times print in UTC (`+0000`), which is what `rados`
//! prints on a host whose time zone is UTC.

use std::fmt::Write;

/// `bufferlist::hexdump(out, trailing_newline)`: `hexdump -C`-like rows, runs of identical
/// rows folded into `*`, and (with `trailing_newline`) the length on a last line.
pub fn hexdump(data: &[u8], trailing_newline: bool) -> String {
    let mut out = String::new();
    if data.is_empty() {
        return out;
    }
    const PER: usize = 16;
    let len = data.len();
    let mut last_row_char = 0u8;
    let mut was_same = false;
    let mut did_star = false;
    let mut o = 0usize;
    while o < len {
        if o == 0 {
            last_row_char = data.first().copied().unwrap_or(0);
        }
        if o + PER < len {
            let mut row_is_same = true;
            for (i, &c) in data.iter().skip(o).take(PER).enumerate() {
                if c != last_row_char {
                    if i == 0 {
                        last_row_char = c;
                        was_same = false;
                        did_star = false;
                    } else {
                        row_is_same = false;
                    }
                }
            }
            if row_is_same {
                if was_same {
                    if !did_star {
                        out.push_str("\n*");
                        did_star = true;
                    }
                    o += PER;
                    continue;
                }
                was_same = true;
            } else {
                was_same = false;
                did_star = false;
            }
        }
        if o > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{o:08x} ");
        let row: Vec<u8> = data.iter().skip(o).take(PER).copied().collect();
        for i in 0..PER {
            if i == 8 {
                out.push(' ');
            }
            match row.get(i) {
                Some(b) => {
                    let _ = write!(out, " {b:02x}");
                }
                None => out.push_str("   "),
            }
        }
        out.push_str("  |");
        for &c in &row {
            out.push(if c.is_ascii_graphic() || c == b' ' {
                char::from(c)
            } else {
                '.'
            });
        }
        out.push('|');
        o += PER;
    }
    if trailing_newline {
        let _ = write!(out, "\n{len:08x}\n");
    }
    out
}

/// `prettify`: names with unprintable characters print as `(binary key)`.
pub fn prettify(name: &str) -> String {
    if name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        name.to_owned()
    } else {
        "(binary key)".to_owned()
    }
}

/// The calendar date and time of `secs` since the epoch, in UTC:
/// (year, month, day, hour, minute, second).
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = i64::try_from(secs / 86400).unwrap_or(0);
    let rem = secs % 86400;
    // Howard Hinnant's days-to-civil
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let small = |v: u64| u32::try_from(v).unwrap_or(0);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
        small(rem / 3600),
        small(rem % 3600 / 60),
        small(rem % 60),
    )
}

/// `utime_t`'s `operator<<`: `2024-03-01T12:00:00.000000+0000`, or raw seconds for
/// times within ten years of the epoch (they look relative).
pub fn utime(sec: u32, usec: u32) -> String {
    if u64::from(sec) < 60 * 60 * 24 * 365 * 10 {
        return format!("{sec}.{usec:06}");
    }
    let (y, mo, d, h, mi, s) = civil(u64::from(sec));
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{usec:06}+0000")
}

/// `lssnap`'s stamp: `2024.03.01 12:00:00`.
pub fn snap_stamp(sec: u32) -> String {
    let (y, mo, d, h, mi, s) = civil(u64::from(sec));
    format!("{y:04}.{mo:02}.{d:02} {h:02}:{mi:02}:{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexdump_like_ceph() {
        // the lines below are `rados getomapval` / `listomapvals` output (Pacific)
        assert_eq!(hexdump(b"", true), "");
        assert_eq!(
            hexdump(b"value 7", true),
            concat!(
                "00000000  76 61 6c 75 65 20 37                              |value 7|\n",
                "00000007\n"
            )
        );
        assert_eq!(
            hexdump(&[b'a'; 52], true),
            concat!(
                "00000000  61 61 61 61 61 61 61 61  61 61 61 61 61 61 61 61  |aaaaaaaaaaaaaaaa|\n",
                "*\n",
                "00000030  61 61 61 61                                       |aaaa|\n",
                "00000034\n"
            )
        );
        let mixed: Vec<u8> = (0u8..20).collect();
        assert_eq!(
            hexdump(&mixed, true),
            concat!(
                "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|\n",
                "00000010  10 11 12 13                                       |....|\n",
                "00000014\n"
            )
        );
    }

    #[test]
    fn times_and_names() {
        assert_eq!(utime(1_700_000_000, 0), "2023-11-14T22:13:20.000000+0000");
        assert_eq!(utime(5, 7), "5.000007");
        assert_eq!(snap_stamp(1_709_294_400), "2024.03.01 12:00:00");
        assert_eq!(prettify("obj"), "obj");
        assert_eq!(prettify("a\u{1}b"), "(binary key)");
    }
}
