#![allow(clippy::cast_possible_truncation)] // test data built with narrowing casts

use super::*;

/// Compressible but not trivial: a text-like pattern with a counter.
fn sample(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    let mut i = 0u32;
    while v.len() < len {
        v.extend_from_slice(format!("object-{i:08} rbd_data.1234 ").as_bytes());
        i += 1;
    }
    v.truncate(len);
    v
}

/// Incompressible bytes (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn ids_and_names_match_ceph() {
    let table = [("snappy", 1), ("zlib", 2), ("zstd", 3), ("lz4", 4)];
    for (name, id) in table {
        let a = CompressionAlgorithm::from_name(name).unwrap();
        assert_eq!(a.id(), id);
        assert_eq!(CompressionAlgorithm::from_id(id), Some(a));
        assert_eq!(a.to_string(), name);
    }
    assert_eq!(CompressionAlgorithm::from_id(0), None);
    assert_eq!(
        CompressionAlgorithm::from_id(5),
        None,
        "brotli is not offered"
    );
}

#[test]
fn every_algorithm_round_trips() {
    for alg in CompressionAlgorithm::ALL {
        for input in [
            Vec::new(),
            b"x".to_vec(),
            sample(100),
            sample(5000),
            sample(300_000),
            noise(70_000),
        ] {
            let c = alg.compress(&input).unwrap();
            if input.is_empty() {
                assert!(c.is_empty(), "{alg}: empty stays empty");
            }
            if input.len() >= 5000 && input != noise(input.len()) {
                assert!(
                    c.len() < input.len() / 2,
                    "{alg}: {} -> {}",
                    input.len(),
                    c.len()
                );
            }
            let d = alg.decompress(&c, input.len()).unwrap();
            assert_eq!(d, input, "{alg} len {}", input.len());
        }
    }
}

#[test]
fn framing_matches_the_plugins() {
    let input = sample(4096);
    // zlib: a zero byte then raw deflate (no 0x78 zlib header)
    let z = CompressionAlgorithm::Zlib.compress(&input).unwrap();
    assert_eq!(z[0], 0);
    assert_ne!(z[1], 0x78);
    // zstd: le32 length then the zstd magic
    let z = CompressionAlgorithm::Zstd.compress(&input).unwrap();
    assert_eq!(&z[..4], &4096u32.to_le_bytes());
    assert_eq!(&z[4..8], &[0x28, 0xb5, 0x2f, 0xfd]);
    // lz4: one block: count 1, decompressed 4096, compressed = rest
    let z = CompressionAlgorithm::Lz4.compress(&input).unwrap();
    assert_eq!(&z[..8], &[1, 0, 0, 0, 0, 0x10, 0, 0]);
    assert_eq!(
        u32::from_le_bytes(z[8..12].try_into().unwrap()) as usize,
        z.len() - 12
    );
    // snappy: varint 4096 first
    let z = CompressionAlgorithm::Snappy.compress(&input).unwrap();
    assert_eq!(&z[..2], &[0x80, 0x20]);
}

#[test]
fn lz4_blocks_may_refer_to_earlier_blocks() {
    // what Ceph's plugin writes for a fragmented buffer (LZ4_compress_fast_continue)
    let first = sample(3000);
    let second = sample(3000); // identical: the second block is all back-references
    let b1 = lz4_flex::block::compress(&first);
    // the second block by hand: one match 3000 bytes back (into the first block's output)
    // for all but the last 5 bytes, which LZ4 requires as literals
    let mut b2 = vec![0x0f]; // 0 literals, match length 15 + extension
    b2.extend(3000u16.to_le_bytes());
    b2.extend([255; 11]);
    b2.push((2995 - 4 - 15 - 255 * 11) as u8);
    b2.push(5 << 4); // 5 literals, no match
    b2.extend(&second[2995..]);
    let mut wire = Vec::new();
    wire.extend(2u32.to_le_bytes());
    for (plain, block) in [(&first, &b1), (&second, &b2)] {
        wire.extend((plain.len() as u32).to_le_bytes());
        wire.extend((block.len() as u32).to_le_bytes());
    }
    wire.extend(&b1);
    wire.extend(&b2);
    let out = CompressionAlgorithm::Lz4.decompress(&wire, 6000).unwrap();
    assert_eq!(out, [first, second].concat());
}

#[test]
fn zlib_accepts_isal_header_and_several_streams() {
    let a = sample(2000);
    let b = noise(500);
    let za = CompressionAlgorithm::Zlib.compress(&a).unwrap();
    let zb = CompressionAlgorithm::Zlib.compress(&b).unwrap();
    let mut wire = vec![1u8]; // ISA-L's header byte
    wire.extend(&za[1..]);
    wire.extend(&zb[1..]);
    let out = CompressionAlgorithm::Zlib.decompress(&wire, 2500).unwrap();
    assert_eq!(out, [a, b].concat());
    wire[0] = 7;
    assert!(matches!(
        CompressionAlgorithm::Zlib.decompress(&wire, 2500),
        Err(Error::Decompress { .. })
    ));
}

#[test]
fn declared_lengths_over_the_limit_are_refused_before_allocating() {
    let input = sample(10_000);
    for alg in CompressionAlgorithm::ALL {
        let c = alg.compress(&input).unwrap();
        assert!(alg.decompress(&c, 10_000).is_ok());
        let err = alg.decompress(&c, 9_999).unwrap_err();
        assert!(
            matches!(err, Error::DecompressedTooLarge { .. }),
            "{alg}: {err}"
        );
    }
    // hostile headers claiming ~4 GiB
    let bombs: [(CompressionAlgorithm, Vec<u8>); 3] = [
        (
            CompressionAlgorithm::Snappy,
            vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0],
        ),
        (
            CompressionAlgorithm::Zstd,
            vec![0xff, 0xff, 0xff, 0xff, 0x28, 0xb5, 0x2f, 0xfd],
        ),
        (
            CompressionAlgorithm::Lz4,
            [1u32, u32::MAX, 4]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
    ];
    for (alg, bomb) in bombs {
        let err = alg.decompress(&bomb, 1 << 20).unwrap_err();
        assert!(
            matches!(err, Error::DecompressedTooLarge { .. }),
            "{alg}: {err}"
        );
    }
    // lz4: a block count the input cannot hold
    let err = CompressionAlgorithm::Lz4
        .decompress(&[0xff, 0xff, 0xff, 0xff], 1 << 20)
        .unwrap_err();
    assert!(matches!(err, Error::Decompress { .. }), "{err}");
    // zlib declares nothing: inflation stops at the limit
    let zeros = CompressionAlgorithm::Zlib
        .compress(&vec![0u8; 1 << 20])
        .unwrap();
    assert!(zeros.len() < 2000);
    let err = CompressionAlgorithm::Zlib
        .decompress(&zeros, 100_000)
        .unwrap_err();
    assert!(matches!(err, Error::DecompressedTooLarge { .. }), "{err}");
}

#[test]
fn truncated_or_corrupt_input_is_an_error_not_a_panic() {
    let input = sample(3000);
    for alg in CompressionAlgorithm::ALL {
        let c = alg.compress(&input).unwrap();
        for cut in 1..c.len() {
            if let Ok(out) = alg.decompress(&c[..cut], 1 << 20) {
                assert_ne!(
                    out, input,
                    "{alg}: a cut at {cut} cannot restore everything"
                );
            }
        }
        let mut flipped = c.clone();
        for i in (0..flipped.len()).step_by(7) {
            flipped[i] ^= 0x5a;
            let _ = alg.decompress(&flipped, 1 << 20);
        }
    }
}

#[test]
fn settings_follow_the_registry() {
    let s = CompressionSettings::default();
    assert_eq!(s.mode, CompressionMode::None);
    assert_eq!(s.methods, [CompressionAlgorithm::Snappy]);
    assert_eq!(s.min_size, 1024);
    assert!(!s.wanted(false));
    let force = CompressionSettings {
        mode: CompressionMode::from_name("force").unwrap(),
        ..CompressionSettings::default()
    };
    assert!(force.wanted(false));
    assert!(!force.wanted(true), "ms_compress_secure is off by default");
    assert!(
        CompressionSettings {
            allow_secure: true,
            ..force
        }
        .wanted(true)
    );
    assert_eq!(
        CompressionSettings::parse_methods("zstd, brotli;lz4 =none\tsnappy"),
        [
            CompressionAlgorithm::Zstd,
            CompressionAlgorithm::Lz4,
            CompressionAlgorithm::Snappy
        ]
    );
    let none = CompressionSettings {
        methods: Vec::new(),
        ..CompressionSettings::default()
    };
    assert_eq!(none.method_ids(), [0]);
    assert_eq!(CompressionMode::from_name("fast"), None);
}

/// Frames two Tentacle 20.2.4 OSDs sent each other with `ms_osd_compress_mode = force` and
/// each `ms_osd_compression_algorithm` (captured on lo, see testdata/extract.py): the
/// smallest 2-segment frame and the smallest 4-segment one (a replicated write of a 64 KiB
/// object made of "ceph-compress-test %08d |" records) per algorithm.
const REAL_FRAMES: [(CompressionAlgorithm, &[u8], &[u8]); 4] = [
    (
        CompressionAlgorithm::Snappy,
        include_bytes!("testdata/snappy-2seg.bin"),
        include_bytes!("testdata/snappy-4seg.bin"),
    ),
    (
        CompressionAlgorithm::Zlib,
        include_bytes!("testdata/zlib-2seg.bin"),
        include_bytes!("testdata/zlib-4seg.bin"),
    ),
    (
        CompressionAlgorithm::Zstd,
        include_bytes!("testdata/zstd-2seg.bin"),
        include_bytes!("testdata/zstd-4seg.bin"),
    ),
    (
        CompressionAlgorithm::Lz4,
        include_bytes!("testdata/lz4-2seg.bin"),
        include_bytes!("testdata/lz4-4seg.bin"),
    ),
];

fn decode_real(alg: Option<CompressionAlgorithm>, wire: &[u8]) -> Result<crate::Message, Error> {
    use crate::frame::{FrameDecoder, FrameLimits};
    let mut dec = FrameDecoder::crc(FrameLimits::default());
    dec.set_decompression(alg);
    let mut input = bytes::BytesMut::from(wire);
    let frame = dec.decode(&mut input)?.expect("one whole frame");
    assert!(input.is_empty());
    assert_eq!(frame.tag, crate::frame::Tag::MESSAGE);
    crate::Message::from_frame(frame)
}

#[test]
fn frames_compressed_by_ceph_osds_decode() {
    let record = b"ceph-compress-test 00000100 |";
    for (alg, small, write) in REAL_FRAMES {
        // the compressed flag is set in the preamble
        assert_eq!(small[26] & 1, 1);
        assert!(matches!(
            decode_real(None, small),
            Err(Error::UnexpectedCompression)
        ));
        let m = decode_real(Some(alg), small).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert!(
            m.front.len() + m.middle.len() + m.data.len() >= 512,
            "{alg}"
        );
        let m = decode_real(Some(alg), write).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(m.header.msg_type, 112, "{alg}: MSG_OSD_REPOP");
        let at = m
            .data
            .windows(record.len())
            .position(|w| w == record)
            .unwrap_or_else(|| panic!("{alg}: the object's bytes are in the data segment"));
        assert!(m.data.len() >= 65536, "{alg}: {}", m.data.len());
        // our decompressor agrees with the data Ceph compressed, and our own compression
        // of it decompresses back
        let again = alg.compress(&m.data).unwrap();
        assert_eq!(
            alg.decompress(&again, m.data.len()).unwrap(),
            m.data,
            "{alg}"
        );
        assert!(at < m.data.len());
    }
}

#[test]
fn cut_real_segments_fail_cleanly() {
    for (alg, _, write) in REAL_FRAMES {
        let len = |i: usize| u32::from_le_bytes(write[2 + 6 * i..6 + 6 * i].try_into().unwrap());
        let mut pos = 32 + len(0) as usize + 4;
        let mut segments = vec![&write[32..32 + len(0) as usize]];
        for i in 1..4 {
            segments.push(&write[pos..pos + len(i) as usize]);
            pos += len(i) as usize;
        }
        for seg in segments {
            let full = alg.decompress(seg, 1 << 20).unwrap();
            for cut in (1..seg.len()).step_by(13) {
                if let Ok(out) = alg.decompress(&seg[..cut], 1 << 20) {
                    assert_ne!(out, full, "{alg}: cut at {cut}");
                }
            }
        }
    }
}
