//! Binary encoding of [`CrushMap`]: `CrushWrapper::encode` / `decode` and
//! `decode_crush_bucket` in `src/crush/CrushWrapper.cc`.
//!
//! Layout: le32 magic, le32 max_buckets, le32 max_rules, le32 max_devices; `max_buckets`
//! bucket slots (le32 alg, 0 = empty); `max_rules` rule slots (le32 present flag); the type,
//! item and rule name maps; then optional trailing sections, each decoded only if input
//! remains (tunables one group at a time, device classes, choose_args, MSR tunables).

use std::collections::BTreeMap;

use denc::{Decode, DecodeErrorKind, Encode, Reader, Writer, features};

use crate::map::{CrushMap, Section};
use crate::model::{
    Bucket, BucketKind, CRUSH_MAGIC, ChooseArg, ChooseArgs, Rule, RuleOp, RuleStep, Tunables,
    bucket_alg,
};

type Result<T> = denc::Result<T>;

impl Decode for CrushMap {
    const MIN_LEN: usize = 16;

    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.named("CrushWrapper", decode_map)
    }
}

impl CrushMap {
    /// Decodes a whole binary map (the CRUSH bufferlist of an OSDMap, or the output of
    /// `crushtool -c` / `ceph osd getcrushmap`).
    pub fn decode_from(bytes: &[u8]) -> std::result::Result<CrushMap, crate::CrushError> {
        Ok(denc::decode_exact(bytes)?)
    }
}

fn decode_map(r: &mut Reader<'_>) -> Result<CrushMap> {
    let magic = r.u32()?;
    if magic != CRUSH_MAGIC {
        return Err(r.invalid("magic", u64::from(magic)));
    }
    let max_buckets = r.i32()?;
    let max_rules = r.u32()?;
    // recomputed below from the buckets and names, as crush_finalize does
    let _encoded_max_devices = r.i32()?;

    // Every slot takes at least its le32 tag, so the counts can be checked up front.
    let bucket_slots = u64::try_from(max_buckets)
        .map_err(|_| r.invalid("max_buckets", u64::from(max_buckets.unsigned_abs())))?;
    let bucket_slots = r.check_count(bucket_slots, 4)?;
    let mut buckets = Vec::with_capacity(bucket_slots);
    for _ in 0..bucket_slots {
        buckets.push(r.named("crush_bucket", decode_bucket)?);
    }

    let rule_slots = r.check_count(u64::from(max_rules), 4)?;
    let mut rules = Vec::with_capacity(rule_slots);
    for _ in 0..rule_slots {
        rules.push(r.named("crush_rule", decode_rule)?);
    }

    let type_names = r.named("type_map", decode_name_map)?;
    let item_names = r.named("name_map", decode_name_map)?;
    let rule_names = r.named("rule_name_map", decode_name_map)?;

    let mut map = CrushMap {
        max_devices: 0,
        buckets,
        rules,
        type_names,
        item_names,
        rule_names,
        tunables: Tunables::legacy(),
        class_map: BTreeMap::new(),
        class_names: BTreeMap::new(),
        class_buckets: BTreeMap::new(),
        choose_args: BTreeMap::new(),
        sections: Section::None,
        tail: Vec::new(),
    };

    for section in Section::ALL {
        if r.is_empty() {
            break;
        }
        decode_section(r, &mut map, section)?;
        map.sections = section;
    }
    // Fields a later release may add after the last section we know: Ceph's decoder ignores
    // them; we keep them so the map encodes back to the same bytes.
    map.tail = r.rest().to_vec();

    map.finalize();
    Ok(map)
}

fn decode_section(r: &mut Reader<'_>, map: &mut CrushMap, section: Section) -> Result<()> {
    let t = &mut map.tunables;
    match section {
        Section::None => {}
        Section::LocalTries => {
            t.choose_local_tries = r.u32()?;
            t.choose_local_fallback_tries = r.u32()?;
            t.choose_total_tries = r.u32()?;
        }
        Section::DescendOnce => t.chooseleaf_descend_once = r.u32()?,
        Section::VaryR => t.chooseleaf_vary_r = r.u8()?,
        Section::StrawCalcVersion => t.straw_calc_version = r.u8()?,
        Section::AllowedBucketAlgs => t.allowed_bucket_algs = r.u32()?,
        Section::Stable => t.chooseleaf_stable = r.u8()?,
        Section::Classes => {
            map.class_map = r.named("class_map", |r| r.decode())?;
            map.class_names = r.named("class_name", |r| r.decode())?;
            map.class_buckets = r.named("class_bucket", |r| r.decode())?;
        }
        Section::ChooseArgs => {
            map.choose_args = r.named("choose_args", |r| decode_choose_args(r, &map.buckets))?;
        }
        Section::Msr => {
            t.msr_descents = r.u32()?;
            t.msr_collision_tries = r.u32()?;
        }
    }
    Ok(())
}

/// Smallest encoding of one item of each algorithm: the item id plus its per-item weights.
fn per_item_len(alg: u8) -> usize {
    match alg {
        bucket_alg::LIST | bucket_alg::STRAW => 12,
        bucket_alg::STRAW2 => 8,
        _ => 4,
    }
}

fn decode_bucket(r: &mut Reader<'_>) -> Result<Option<Bucket>> {
    let alg = r.u32()?;
    if alg == 0 {
        return Ok(None);
    }
    if !(1..=5).contains(&alg) {
        return Err(r.invalid("bucket algorithm", u64::from(alg)));
    }
    let id = r.i32()?;
    let bucket_type = r.u16()?;
    let inner_alg = r.u8()?;
    // Ceph allocates by the outer code and decodes by the inner one; they must agree.
    if u32::from(inner_alg) != alg {
        return Err(r.invalid("bucket algorithm (inner)", u64::from(inner_alg)));
    }
    let hash = r.u8()?;
    let weight = r.u32()?;
    let size = r.u32()?;
    let size = r.check_count(u64::from(size), per_item_len(inner_alg))?;
    let items = read_vec(r, size, Reader::i32)?;
    let kind = match inner_alg {
        bucket_alg::UNIFORM => BucketKind::Uniform {
            item_weight: r.u32()?,
        },
        bucket_alg::LIST => {
            let (item_weights, sum_weights) = read_pairs(r, size)?;
            BucketKind::List {
                item_weights,
                sum_weights,
            }
        }
        bucket_alg::TREE => {
            let num_nodes = r.u8()?;
            let count = r.check_count(u64::from(num_nodes), 4)?;
            BucketKind::Tree {
                num_nodes,
                node_weights: read_vec(r, count, Reader::u32)?,
            }
        }
        bucket_alg::STRAW => {
            let (item_weights, straws) = read_pairs(r, size)?;
            BucketKind::Straw {
                item_weights,
                straws,
            }
        }
        _ => BucketKind::Straw2 {
            item_weights: read_vec(r, size, Reader::u32)?,
        },
    };
    Ok(Some(Bucket {
        id,
        bucket_type,
        hash,
        weight,
        items,
        kind,
    }))
}

/// `count` values already checked against the input.
fn read_vec<'a, T>(
    r: &mut Reader<'a>,
    count: usize,
    read: impl Fn(&mut Reader<'a>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(read(r)?);
    }
    Ok(out)
}

/// `count` interleaved (a, b) le32 pairs, split into two vectors.
fn read_pairs(r: &mut Reader<'_>, count: usize) -> Result<(Vec<u32>, Vec<u32>)> {
    let mut a = Vec::with_capacity(count);
    let mut b = Vec::with_capacity(count);
    for _ in 0..count {
        a.push(r.u32()?);
        b.push(r.u32()?);
    }
    Ok((a, b))
}

fn decode_rule(r: &mut Reader<'_>) -> Result<Option<Rule>> {
    if r.u32()? == 0 {
        return Ok(None);
    }
    let len = r.u32()?;
    // the four mask bytes come before the steps
    let ruleset = r.u8()?;
    let rule_type = r.u8()?;
    let min_size = r.u8()?;
    let max_size = r.u8()?;
    let len = r.check_count(u64::from(len), 12)?;
    let steps = read_vec(r, len, |r| {
        Ok(RuleStep {
            op: RuleOp::from_code(r.u32()?),
            arg1: r.i32()?,
            arg2: r.i32()?,
        })
    })?;
    Ok(Some(Rule {
        ruleset,
        rule_type,
        min_size,
        max_size,
        steps,
    }))
}

/// `decode_32_or_64_string_map`: a `map<int32_t, string>` whose keys some old encoders wrote
/// as 64-bit. A zero string length is taken as the high half of such a key, and the real
/// length follows (so an empty name is only representable in that form).
fn decode_name_map(r: &mut Reader<'_>) -> Result<BTreeMap<i32, String>> {
    let count = r.count(8)?;
    let mut out = BTreeMap::new();
    for _ in 0..count {
        let key = r.i32()?;
        let mut len = r.u32()?;
        if len == 0 {
            len = r.u32()?;
        }
        let start = r.clone();
        let len = usize::try_from(len).map_err(|_| r.invalid("name length", u64::from(len)))?;
        let bytes = r.take(len)?;
        let name =
            std::str::from_utf8(bytes).map_err(|_| start.error(DecodeErrorKind::InvalidUtf8))?;
        out.insert(key, name.to_owned());
    }
    Ok(out)
}

fn decode_choose_args(
    r: &mut Reader<'_>,
    buckets: &[Option<Bucket>],
) -> Result<BTreeMap<i64, ChooseArgs>> {
    // each set: le64 id + le32 count; each entry: index + positions + ids count
    let sets = r.count(12)?;
    let mut out = BTreeMap::new();
    for _ in 0..sets {
        let id = r.i64()?;
        let entries = r.count(12)?;
        let mut args = BTreeMap::new();
        for _ in 0..entries {
            let index = r.u32()?;
            let bucket = usize::try_from(index)
                .ok()
                .filter(|i| *i < buckets.len())
                .ok_or_else(|| r.invalid("choose_args bucket index", u64::from(index)))?;
            let positions = r.count(4)?;
            let mut weight_set = Vec::with_capacity(positions);
            for _ in 0..positions {
                let n = r.count(4)?;
                weight_set.push(read_vec(r, n, Reader::u32)?);
            }
            let ids_len = r.count(4)?;
            if ids_len > 0 {
                // Ceph asserts the ids match the bucket's items one for one
                let size = buckets
                    .get(bucket)
                    .and_then(Option::as_ref)
                    .map(|b| b.items.len());
                if size != Some(ids_len) {
                    return Err(r.invalid("choose_args ids size", ids_len as u64));
                }
            }
            let ids = read_vec(r, ids_len, Reader::i32)?;
            args.insert(index, ChooseArg { ids, weight_set });
        }
        out.insert(id, ChooseArgs { args });
    }
    Ok(out)
}

impl Encode for CrushMap {
    fn encode(&self, w: &mut Writer) {
        w.put_u32(CRUSH_MAGIC);
        w.put_len(self.buckets.len());
        w.put_len(self.rules.len());
        w.put_i32(self.max_devices);

        // Peers without choose_args get the first set's position-0 weights baked into the
        // straw2 buckets instead.
        let compat_args = if w.has_features(features::CRUSH_CHOOSE_ARGS) {
            None
        } else {
            self.choose_args.values().next()
        };
        for (index, slot) in self.buckets.iter().enumerate() {
            match slot {
                None => w.put_u32(0),
                Some(bucket) => {
                    let compat = compat_args
                        .and_then(|set| set.args.get(&u32::try_from(index).ok()?))
                        .and_then(|arg| arg.weight_set.first());
                    encode_bucket(w, bucket, compat);
                }
            }
        }

        for slot in &self.rules {
            match slot {
                None => w.put_u32(0),
                Some(rule) => encode_rule(w, rule),
            }
        }

        encode_name_map(w, &self.type_names);
        encode_name_map(w, &self.item_names);
        encode_name_map(w, &self.rule_names);

        for section in Section::ALL {
            if section > self.sections {
                break;
            }
            self.encode_section(w, section);
        }
        if self.sections == Section::Msr && w.has_features(features::CRUSH_MSR) {
            w.put_bytes(&self.tail);
        }
    }
}

impl CrushMap {
    fn encode_section(&self, w: &mut Writer, section: Section) {
        let t = &self.tunables;
        match section {
            Section::None => {}
            Section::LocalTries => {
                w.put_u32(t.choose_local_tries);
                w.put_u32(t.choose_local_fallback_tries);
                w.put_u32(t.choose_total_tries);
            }
            Section::DescendOnce => w.put_u32(t.chooseleaf_descend_once),
            Section::VaryR => w.put_u8(t.chooseleaf_vary_r),
            Section::StrawCalcVersion => w.put_u8(t.straw_calc_version),
            Section::AllowedBucketAlgs => w.put_u32(t.allowed_bucket_algs),
            Section::Stable => {
                if w.has_features(features::CRUSH_TUNABLES5) {
                    w.put_u8(t.chooseleaf_stable);
                }
            }
            Section::Classes => {
                if w.has_features(features::SERVER_LUMINOUS) {
                    w.put(&self.class_map);
                    w.put(&self.class_names);
                    w.put(&self.class_buckets);
                }
            }
            Section::ChooseArgs => {
                if w.has_features(features::SERVER_LUMINOUS) {
                    encode_choose_args(w, &self.choose_args);
                }
            }
            Section::Msr => {
                if w.has_features(features::CRUSH_MSR) {
                    w.put_u32(t.msr_descents);
                    w.put_u32(t.msr_collision_tries);
                }
            }
        }
    }
}

fn encode_bucket(w: &mut Writer, b: &Bucket, compat_weights: Option<&Vec<u32>>) {
    let alg = b.alg();
    w.put_u32(u32::from(alg));
    w.put_i32(b.id);
    w.put_u16(b.bucket_type);
    w.put_u8(alg);
    w.put_u8(b.hash);
    w.put_u32(b.weight);
    w.put_len(b.items.len());
    for item in &b.items {
        w.put_i32(*item);
    }
    let at = |v: &[u32], j: usize| v.get(j).copied().unwrap_or(0);
    match &b.kind {
        BucketKind::Uniform { item_weight } => w.put_u32(*item_weight),
        BucketKind::List {
            item_weights: first,
            sum_weights: second,
        }
        | BucketKind::Straw {
            item_weights: first,
            straws: second,
        } => {
            for j in 0..b.items.len() {
                w.put_u32(at(first, j));
                w.put_u32(at(second, j));
            }
        }
        BucketKind::Tree {
            num_nodes,
            node_weights,
        } => {
            w.put_u8(*num_nodes);
            for j in 0..usize::from(*num_nodes) {
                w.put_u32(at(node_weights, j));
            }
        }
        BucketKind::Straw2 { item_weights } => {
            let weights = compat_weights.unwrap_or(item_weights);
            for j in 0..b.items.len() {
                w.put_u32(at(weights, j));
            }
        }
    }
}

fn encode_rule(w: &mut Writer, rule: &Rule) {
    w.put_u32(1);
    w.put_len(rule.steps.len());
    w.put_u8(rule.ruleset);
    w.put_u8(rule.rule_type);
    w.put_u8(rule.min_size);
    w.put_u8(rule.max_size);
    for step in &rule.steps {
        w.put_u32(step.op.code());
        w.put_i32(step.arg1);
        w.put_i32(step.arg2);
    }
}

/// A `map<int32_t, string>`. An empty name is written in the 64-bit-key form
/// (key, 0, 0), the only form in which the decoder can read it back.
fn encode_name_map(w: &mut Writer, names: &BTreeMap<i32, String>) {
    w.put_len(names.len());
    for (key, name) in names {
        w.put_i32(*key);
        if name.is_empty() {
            w.put_u32(0);
        }
        w.put(name.as_str());
    }
}

fn encode_choose_args(w: &mut Writer, sets: &BTreeMap<i64, ChooseArgs>) {
    w.put_len(sets.len());
    for (id, set) in sets {
        w.put_i64(*id);
        let entries: Vec<_> = set.args.iter().filter(|(_, a)| !a.is_empty()).collect();
        w.put_len(entries.len());
        for (index, arg) in entries {
            w.put_u32(*index);
            w.put_len(arg.weight_set.len());
            for weights in &arg.weight_set {
                w.put(weights);
            }
            w.put(&arg.ids);
        }
    }
}
