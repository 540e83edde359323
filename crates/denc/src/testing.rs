//! Helpers for tests in this and other crates: the shared corpus of real encodings, and
//! checks that every sample decodes, re-encodes exactly and fails cleanly when truncated.
//!
//! The corpus is a copy of ceph/ceph-object-corpus (`<version>/<Type>/<sample>`) found
//! through the `CEPH_OBJECT_CORPUS` environment variable, which the project's test command
//! sets (see `scripts/test`).
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use crate::{Decode, Encode, Reader, Writer};

/// The environment variable naming the corpus directory.
pub const CORPUS_ENV: &str = "CEPH_OBJECT_CORPUS";

/// The Ceph releases whose encodings the corpus holds, as its directory names.
pub const CORPUS_VERSIONS: &[&str] = &[
    "16.2.0-90-g50f1821b4c",
    "18.2.0",
    "19.2.0-404-g78ddc7f9027",
    "20.3.0-4314-g034eb49a9ce",
];

/// One real encoding of a type.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Corpus directory of the Ceph release that wrote it.
    pub version: &'static str,
    /// Where it came from.
    pub path: PathBuf,
    /// The encoded bytes.
    pub bytes: Vec<u8>,
}

/// The corpus directory. Panics, saying how to set it, when `CEPH_OBJECT_CORPUS` is unset or
/// does not point at a corpus.
pub fn corpus_dir() -> PathBuf {
    let hint = "set CEPH_OBJECT_CORPUS to the directory holding the ceph-object-corpus \
                release folders (e.g. ../shared/ceph-object-corpus), or run the tests through \
                scripts/test, which sets it";
    let dir = std::env::var_os(CORPUS_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{CORPUS_ENV} is not set: {hint}"));
    for version in CORPUS_VERSIONS {
        assert!(
            dir.join(version).is_dir(),
            "{CORPUS_ENV}={} has no {version}/ folder: {hint}",
            dir.display()
        );
    }
    dir
}

/// Every sample of Ceph type `type_name` (the corpus folder name, e.g. `pg_pool_t`) for every
/// corpus release. Panics if a release has none: the tests must not pass vacuously.
pub fn samples(type_name: &str) -> Vec<Sample> {
    let dir = corpus_dir();
    let mut out = Vec::new();
    for version in CORPUS_VERSIONS {
        let type_dir = dir.join(version).join(type_name);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&type_dir)
            .unwrap_or_else(|e| panic!("{}: {e}", type_dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        paths.sort();
        assert!(!paths.is_empty(), "no samples in {}", type_dir.display());
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            out.push(Sample {
                version,
                path,
                bytes,
            });
        }
    }
    out
}

/// Decodes `bytes` as a `T` that must use all of them, describing the failure.
pub fn decode_all<T: Decode>(bytes: &[u8], origin: &Path) -> T {
    let mut r = Reader::new(bytes);
    let value =
        T::decode(&mut r).unwrap_or_else(|e| panic!("{}: {e}\n{}", origin.display(), hex(bytes)));
    assert!(
        r.is_empty(),
        "{}: {} bytes left after decoding {}",
        origin.display(),
        r.remaining(),
        std::any::type_name::<T>()
    );
    value
}

/// Every strict prefix of `bytes` must fail to decode as a `T`, cleanly.
pub fn assert_truncations_fail<T: Decode>(bytes: &[u8], origin: &Path) {
    for cut in 0..bytes.len() {
        let mut r = Reader::new(&bytes[..cut]);
        if let Ok(value) = T::decode(&mut r) {
            // a prefix can only be accepted if the decoder would also stop there on the
            // whole input; that contradicts decode_all using every byte
            drop(value);
            panic!(
                "{}: decoding the first {cut} of {} bytes succeeded",
                origin.display(),
                bytes.len()
            );
        }
    }
}

/// Decodes every sample of `type_name`, re-encodes it with `features` and checks the bytes
/// are identical, and checks every truncation fails. Returns the decoded values.
pub fn check_corpus<T: Decode + Encode>(type_name: &str, features: u64) -> Vec<(Sample, T)> {
    let mut out = Vec::new();
    for sample in samples(type_name) {
        let value: T = decode_all(&sample.bytes, &sample.path);
        let mut w = Writer::with_features(features);
        value.encode(&mut w);
        let again = w.finish().unwrap();
        assert!(
            again == sample.bytes,
            "{}: re-encoding differs\n corpus: {}\n ours:   {}",
            sample.path.display(),
            hex(&sample.bytes),
            hex(&again)
        );
        assert_truncations_fail::<T>(&sample.bytes, &sample.path);
        out.push((sample, value));
    }
    out
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A small deterministic generator (xorshift64*) for tests that scatter corruptions and
/// mutations: reproducible, dependency-free.
#[derive(Debug, Clone)]
pub struct TestRng(u64);

impl TestRng {
    /// A generator from a non-zero seed (zero is replaced, as xorshift would stay at zero).
    pub fn new(seed: u64) -> Self {
        TestRng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        // the remainder is below n, so it fits
        usize::try_from(self.next_u64() % n.max(1) as u64).unwrap_or(0)
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64().to_le_bytes()[0]
    }
}

/// One random mutation of `input`, as fuzzers make them: a flipped bit, an interesting byte
/// (0, 0xff, 0x7f, 0x80, 1), a truncation, an inserted or removed byte, or a huge length or
/// count written over four bytes.
pub fn mutate(rng: &mut TestRng, input: &mut Vec<u8>) {
    match rng.below(6) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] = [0, 0xff, 0x7f, 0x80, 1][rng.below(5)];
        }
        2 => {
            let cut = rng.below(input.len() + 1);
            input.truncate(cut);
        }
        3 => {
            let i = rng.below(input.len() + 1);
            let b = rng.byte();
            input.insert(i, b);
        }
        4 if input.len() >= 4 => {
            let i = rng.below(input.len() - 3);
            input[i..i + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        }
        _ if !input.is_empty() => {
            let i = rng.below(input.len());
            input.remove(i);
        }
        _ => {
            let b = rng.byte();
            input.push(b);
        }
    }
}
