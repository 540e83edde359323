//! Every CrushWrapper sample of the shared corpus (Ceph 16.2, 18.2, 19.2, 20.3) decodes,
//! re-encodes to the same bytes, and fails cleanly when truncated (except at a trailing
//! section boundary, where Ceph's decoder too stops and the prefix is itself a valid map).

use crush::CrushMap;
use denc::testing::{decode_all, hex, samples};
use denc::{Reader, Writer, features};

fn encode(map: &CrushMap, features: u64) -> Vec<u8> {
    let mut w = Writer::with_features(features);
    denc::Encode::encode(map, &mut w);
    w.finish().unwrap()
}

#[test]
fn corpus_round_trips_and_truncations_fail() {
    let all = samples("CrushWrapper");
    assert!(all.len() >= 40, "expected the corpus' CrushWrapper samples");
    let mut boundary_prefixes = 0;
    for sample in &all {
        let map: CrushMap = decode_all(&sample.bytes, &sample.path);
        let again = encode(&map, features::ALL);
        assert!(
            again == sample.bytes,
            "{}: re-encoding differs\n corpus: {}\n ours:   {}",
            sample.path.display(),
            hex(&sample.bytes),
            hex(&again)
        );
        for cut in 0..sample.bytes.len() {
            let prefix = &sample.bytes[..cut];
            let mut r = Reader::new(prefix);
            if let Ok(short) = <CrushMap as denc::Decode>::decode(&mut r) {
                // only a whole leading part of the encoding may decode, and it must then
                // encode to exactly itself
                assert!(r.is_empty());
                assert_eq!(
                    encode(&short, features::ALL),
                    prefix,
                    "{}: prefix of {cut} bytes decodes to something else",
                    sample.path.display()
                );
                boundary_prefixes += 1;
            }
        }
    }
    println!(
        "{} samples round-tripped; {boundary_prefixes} section-boundary prefixes",
        all.len()
    );
}
