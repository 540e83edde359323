//! How `rbd` prints: sizes (`byte_u_t`, src/include/types.h), ctime timestamps, the `ls
//! -l` table (TextTable) and `info` (src/tools/rbd/action/Info.cc, List.cc).

use std::fmt::Write as _;

use serde::Serialize;

/// `byte_u_t`: binary units, an integer when exact, else the most decimals (2, 1, 0)
/// that keep the text within 7 characters.
pub fn byte_u(v: u64) -> String {
    const UNITS: [&str; 7] = [" B", " KiB", " MiB", " GiB", " TiB", " PiB", " EiB"];
    let mut n = v;
    let mut index = 0usize;
    while n >= 1024 && index < 6 {
        n /= 1024;
        index += 1;
    }
    let unit = UNITS.get(index).copied().unwrap_or(" EiB");
    let mult = 1u64 << (10 * index);
    if index == 0 || v % mult == 0 {
        return format!("{n}{unit}");
    }
    #[allow(clippy::cast_precision_loss)]
    let x = v as f64 / mult as f64;
    for precision in [2usize, 1] {
        let s = format!("{x:.precision$}{unit}");
        if s.len() <= 7 {
            return s;
        }
    }
    format!("{x:.0}{unit}")
}

/// Parses a size as `rbd --size` does: a number with an optional B/K/M/G/T/P/E suffix
/// (binary units; `KiB`, `KB` spellings too); a bare number means MiB when `bare_mib`.
pub fn parse_size(s: &str, bare_mib: bool) -> Option<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(digits);
    let n: u64 = num.parse().ok()?;
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" => {
            return if bare_mib {
                n.checked_mul(1 << 20)
            } else {
                Some(n)
            };
        }
        "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        "P" | "PB" | "PIB" => 50,
        "E" | "EB" | "EIB" => 60,
        _ => return None,
    };
    let v = n.checked_mul(1u64 << shift)?;
    // strict_iecstrtoll: the value must fit an int64
    (v <= i64::MAX as u64).then_some(v)
}

/// `ctime` text of a Unix time (UTC): `Sat Nov 21 07:38:08 2026`.
pub fn ctime(secs: u32) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = u64::from(secs);
    let days = secs / 86400;
    let rem = secs % 86400;
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let weekday = DAYS
        .get(usize::try_from(days % 7).unwrap_or(0))
        .copied()
        .unwrap_or("");
    // civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mname = MONTHS
        .get(usize::try_from(month - 1).unwrap_or(0))
        .copied()
        .unwrap_or("");
    format!("{weekday} {mname} {day:>2} {h:02}:{mi:02}:{s:02} {year}")
}

/// `rbd info --format json`.
#[derive(Debug, Serialize)]
pub struct InfoJson {
    /// Name.
    pub name: String,
    /// Id.
    pub id: String,
    /// Size.
    pub size: u64,
    /// Objects.
    pub objects: u64,
    /// Order.
    pub order: u8,
    /// Object size.
    pub object_size: u64,
    /// Snapshots.
    pub snapshot_count: usize,
    /// Data pool, if separate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_pool: Option<String>,
    /// Object prefix.
    pub block_name_prefix: String,
    /// Always 2.
    pub format: u8,
    /// Feature names.
    pub features: Vec<&'static str>,
    /// Operation feature names.
    pub op_features: Vec<&'static str>,
    /// Flag names.
    pub flags: Vec<&'static str>,
    /// Created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_timestamp: Option<String>,
    /// Accessed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_timestamp: Option<String>,
    /// Modified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modify_timestamp: Option<String>,
    /// Whether the snapshot is protected ("true"/"false"; `info image@snap` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected: Option<&'static str>,
    /// The snapshot limit, when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_limit: Option<u64>,
    /// The parent (clones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentJson>,
    /// Stripe unit (striping images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_unit: Option<u64>,
    /// Stripe count (striping images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_count: Option<u64>,
    /// The journal's id (journaling images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    /// Mirroring (journaling images, and images with mirroring enabled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirroring: Option<MirroringJson>,
}

/// The `mirroring` section of `rbd info` (tools/rbd/action/Info.cc).
#[derive(Debug, serde::Serialize)]
pub struct MirroringJson {
    /// `journal` or `snapshot`.
    pub mode: &'static str,
    /// `enabled`, `disabled`, `disabling`.
    pub state: &'static str,
    /// Global image id (not when disabled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_id: Option<String>,
    /// Primary (not when disabled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

impl MirroringJson {
    /// Info.cc's section for `info`: `None` when it prints none.
    pub fn new(features: u64, info: &rbd::MirrorImageInfo) -> Option<MirroringJson> {
        let disabled = info.state == rbd::cls::mirror::MirrorImageState::Disabled;
        if features & rbd::features::JOURNALING == 0 && disabled {
            return None;
        }
        Some(MirroringJson {
            mode: info.mode.name(),
            state: info.state.name(),
            global_id: (!disabled).then(|| info.global_id.clone()),
            primary: (!disabled).then_some(info.primary),
        })
    }
}

impl InfoJson {
    /// From an image's info (`data_pool`: the data pool's name when separate).
    pub fn new(info: &rbd::ImageInfo, data_pool: Option<String>) -> InfoJson {
        let ts = |t: denc::UTime| (t.sec != 0).then(|| ctime(t.sec));
        let striping = info.features & rbd::features::STRIPINGV2 != 0;
        InfoJson {
            name: info.name.clone(),
            id: info.id.clone(),
            size: info.size,
            objects: info.num_objs,
            order: info.order,
            object_size: info.obj_size,
            snapshot_count: info.snap_context.snaps.len(),
            data_pool,
            block_name_prefix: info.block_name_prefix.clone(),
            format: 2,
            features: rbd::features::names(info.features),
            op_features: rbd::features::op::names(info.op_features),
            flags: rbd::features::flags::names(info.flags),
            create_timestamp: ts(info.create_timestamp),
            access_timestamp: ts(info.access_timestamp),
            modify_timestamp: ts(info.modify_timestamp),
            protected: None,
            snapshot_limit: None,
            parent: None,
            stripe_unit: striping.then_some(info.stripe_unit),
            stripe_count: striping.then_some(info.stripe_count),
            journal: (info.features & rbd::features::JOURNALING != 0).then(|| info.id.clone()),
            mirroring: None,
        }
    }

    /// The plain text `rbd info` prints.
    pub fn plain(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "rbd image '{}':", self.name);
        let _ = writeln!(
            o,
            "\tsize {} in {} objects",
            byte_u(self.size),
            self.objects
        );
        let _ = writeln!(
            o,
            "\torder {} ({} objects)",
            self.order,
            byte_u(self.object_size)
        );
        let _ = writeln!(o, "\tsnapshot_count: {}", self.snapshot_count);
        let _ = writeln!(o, "\tid: {}", self.id);
        if let Some(p) = &self.data_pool {
            let _ = writeln!(o, "\tdata_pool: {p}");
        }
        let _ = writeln!(o, "\tblock_name_prefix: {}", self.block_name_prefix);
        let _ = writeln!(o, "\tformat: 2");
        let _ = writeln!(o, "\tfeatures: {}", self.features.join(", "));
        let _ = writeln!(o, "\top_features: {}", self.op_features.join(", "));
        let _ = writeln!(o, "\tflags: {}", self.flags.join(", "));
        for (k, v) in [
            ("create_timestamp", &self.create_timestamp),
            ("access_timestamp", &self.access_timestamp),
            ("modify_timestamp", &self.modify_timestamp),
        ] {
            if let Some(v) = v {
                let _ = writeln!(o, "\t{k}: {v}");
            }
        }
        if let Some(p) = self.protected {
            let _ = writeln!(
                o,
                "\tprotected: {}",
                if p == "true" { "True" } else { "False" }
            );
        }
        if let Some(l) = self.snapshot_limit {
            let _ = writeln!(o, "\tsnapshot_limit: {l}");
        }
        if let Some(p) = &self.parent {
            let ns = if p.pool_namespace.is_empty() {
                String::new()
            } else {
                format!("{}/", p.pool_namespace)
            };
            let _ = write!(o, "\tparent: {}/{ns}{}@{}", p.pool, p.image, p.snapshot);
            if p.trash {
                let _ = write!(o, " (trash {})", p.id);
            }
            let _ = writeln!(o);
            let _ = writeln!(o, "\toverlap: {}", byte_u(p.overlap));
        }
        if let (Some(su), Some(sc)) = (self.stripe_unit, self.stripe_count) {
            let _ = writeln!(o, "\tstripe unit: {}", byte_u(su));
            let _ = writeln!(o, "\tstripe count: {sc}");
        }
        if let Some(j) = &self.journal {
            let _ = writeln!(o, "\tjournal: {j}");
        }
        if let Some(m) = &self.mirroring {
            let _ = writeln!(o, "\tmirroring state: {}", m.state);
            if let (Some(g), Some(p)) = (&m.global_id, m.primary) {
                let _ = writeln!(o, "\tmirroring mode: {}", m.mode);
                let _ = writeln!(o, "\tmirroring global id: {g}");
                let _ = writeln!(o, "\tmirroring primary: {p}");
            }
        }
        o
    }
}

/// The `mirroring` section of `rbd info` for `image`; a failure to read it (journal-mode
/// mirroring's primary flag is not read by this client) is reported and the section left out.
pub async fn mirroring_of(image: &rbd::Image) -> Option<MirroringJson> {
    match image.mirror_image_get_info().await {
        Ok(m) => MirroringJson::new(image.info().features, &m),
        Err(e) => {
            eprintln!("rbd: getting mirror image info failed: {e}");
            None
        }
    }
}

/// The `parent` section of `rbd info`.
#[derive(Debug, Serialize)]
pub struct ParentJson {
    /// Pool name.
    pub pool: String,
    /// Namespace.
    pub pool_namespace: String,
    /// Image name.
    pub image: String,
    /// Image id.
    pub id: String,
    /// Snapshot name.
    pub snapshot: String,
    /// In the trash.
    pub trash: bool,
    /// Overlap in bytes.
    pub overlap: u64,
}

impl From<rbd::ParentImage> for ParentJson {
    fn from(p: rbd::ParentImage) -> ParentJson {
        ParentJson {
            pool: p.pool_name,
            pool_namespace: p.pool_namespace,
            image: p.image_name,
            id: p.image_id,
            snapshot: p.snap_name,
            trash: p.trash,
            overlap: p.overlap,
        }
    }
}

/// A TextTable: columns two spaces apart, each as wide as its widest cell; `right`
/// columns right-aligned (headers are always left-aligned).
pub fn table(headers: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String], header: bool| {
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            if !header && right.get(i).copied().unwrap_or(false) {
                let _ = write!(out, "{cell:>w$}");
            } else {
                let _ = write!(out, "{cell:<w$}");
            }
        }
        out.push('\n');
    };
    let hdr: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    line(&mut out, &hdr, true);
    for row in rows {
        line(&mut out, row, false);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times() {
        assert_eq!(byte_u(10 << 30), "10 GiB");
        assert_eq!(byte_u(0), "0 B");
        assert_eq!(byte_u(1536 << 20), "1.5 GiB");
        assert_eq!(byte_u(8192), "8 KiB");
        // "10.00 KiB" and "10.0 KiB" are longer than 7 characters
        assert_eq!(byte_u(10239), "10 KiB");
        assert_eq!(parse_size("10G", true), Some(10 << 30));
        assert_eq!(parse_size("100", true), Some(100 << 20));
        assert_eq!(parse_size("8K", false), Some(8192));
        assert_eq!(parse_size("20000P", true), None);
        assert_eq!(ctime(1_795_246_688), "Sat Nov 21 07:38:08 2026");
        assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
    }

    #[test]
    fn ls_table() {
        let rows = vec![
            vec![
                "t1".into(),
                "10 GiB".into(),
                String::new(),
                "2".into(),
                String::new(),
                String::new(),
            ],
            vec![
                "t2".into(),
                "100 MiB".into(),
                String::new(),
                "2".into(),
                String::new(),
                String::new(),
            ],
        ];
        let t = table(
            &["NAME", "SIZE", "PARENT", "FMT", "PROT", "LOCK"],
            &[false, true, false, true, false, false],
            &rows,
        );
        assert_eq!(
            t,
            "NAME  SIZE     PARENT  FMT  PROT  LOCK\n\
             t1     10 GiB            2            \n\
             t2    100 MiB            2            \n"
        );
    }
}
