//! msgr2 on-wire compression (Quincy+): the negotiated algorithms, the client's settings,
//! and per-segment compression byte-compatible with Ceph's compressor plugins.
//!
//! What Ceph does (src/msg/async/frames_v2.cc `asm_compress` / `disassemble_decompress`,
//! compression_onwire.cc, compressor_registry.cc):
//!
//! * After AUTH_SIGNATURE the client sends COMPRESSION_REQUEST(is_compress, preferred
//!   methods) and the server answers COMPRESSION_DONE(is_compress, method). Servers compress
//!   only with OSD peers (`ms_osd_compress_mode`), and in secure mode only if
//!   `ms_compress_secure`; so a client never gets compression from a real cluster.
//! * Once negotiated, every frame whose segments add up to at least the minimum size
//!   (`ms_osd_compress_min_size`) has each non-empty segment compressed on its own with
//!   the chosen algorithm; the preamble then carries the compressed lengths and the flag
//!   `FRAME_EARLY_DATA_COMPRESSED` (0x01). CRCs and encryption cover the compressed bytes.
//!   The receiver decompresses every segment of a flagged frame; unflagged frames pass as is.
//! * Each plugin frames its output its own way (see [`CompressionAlgorithm`]); the
//!   decompressed length comes from that framing (none for zlib). It is checked against the
//!   frame limit before anything is allocated.

use std::fmt;

use crate::error::Error;

/// `Compressor::CompressionAlgorithm` values (src/compressor/Compressor.h) we implement.
/// Brotli (5) is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionAlgorithm {
    /// `COMP_ALG_SNAPPY` (1): a raw snappy block (varint decompressed length first).
    Snappy,
    /// `COMP_ALG_ZLIB` (2): one byte (0 = zlib, 1 = ISA-L) then raw deflate (window -15).
    Zlib,
    /// `COMP_ALG_ZSTD` (3): le32 decompressed length, then a zstd frame.
    Zstd,
    /// `COMP_ALG_LZ4` (4): le32 block count, (le32 decompressed, le32 compressed) per block,
    /// then the LZ4 blocks, each allowed to refer back to the previous ones.
    Lz4,
}

impl CompressionAlgorithm {
    /// Every algorithm we implement, in Ceph's numbering order.
    pub const ALL: [CompressionAlgorithm; 4] = [
        CompressionAlgorithm::Snappy,
        CompressionAlgorithm::Zlib,
        CompressionAlgorithm::Zstd,
        CompressionAlgorithm::Lz4,
    ];

    /// The wire number (`COMP_ALG_*`).
    pub fn id(self) -> u32 {
        match self {
            CompressionAlgorithm::Snappy => 1,
            CompressionAlgorithm::Zlib => 2,
            CompressionAlgorithm::Zstd => 3,
            CompressionAlgorithm::Lz4 => 4,
        }
    }

    /// The algorithm with wire number `id`, if we implement it.
    pub fn from_id(id: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.id() == id)
    }

    /// Ceph's name (`Compressor::get_comp_alg_name`).
    pub fn name(self) -> &'static str {
        match self {
            CompressionAlgorithm::Snappy => "snappy",
            CompressionAlgorithm::Zlib => "zlib",
            CompressionAlgorithm::Zstd => "zstd",
            CompressionAlgorithm::Lz4 => "lz4",
        }
    }

    /// The algorithm called `name`, if we implement it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Compresses one segment as Ceph's plugin for this algorithm does. An empty segment
    /// stays empty (compression_onwire.cc skips it).
    pub fn compress(self, input: &[u8]) -> Result<Vec<u8>, Error> {
        if input.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            CompressionAlgorithm::Snappy => snap::raw::Encoder::new()
                .compress_vec(input)
                .map_err(|_| self.error("snappy refused the input")),
            CompressionAlgorithm::Zlib => zlib_compress(input),
            CompressionAlgorithm::Zstd => {
                let mut out = self.length_prefix(input.len())?;
                out.extend(ruzstd::encoding::compress_to_vec(
                    input,
                    ruzstd::encoding::CompressionLevel::Fastest,
                ));
                Ok(out)
            }
            CompressionAlgorithm::Lz4 => {
                // one block, as Ceph's plugin writes for a contiguous buffer
                let mut out = 1u32.to_le_bytes().to_vec();
                let block = lz4_flex::block::compress(input);
                out.extend(self.length_prefix(input.len())?);
                out.extend(self.length_prefix(block.len())?);
                out.extend(block);
                Ok(out)
            }
        }
    }

    /// Decompresses one segment. `max_len` bounds the output: a declared length above it
    /// is refused before allocating (zlib, which declares none, is stopped when its output
    /// passes it).
    pub fn decompress(self, input: &[u8], max_len: usize) -> Result<Vec<u8>, Error> {
        if input.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            CompressionAlgorithm::Snappy => {
                let len = snap::raw::decompress_len(input)
                    .map_err(|_| self.error("bad snappy length header"))?;
                self.check_len(len, max_len)?;
                let mut out = vec![0; len];
                let n = snap::raw::Decoder::new()
                    .decompress(input, &mut out)
                    .map_err(|_| self.error("corrupt snappy data"))?;
                if n != len {
                    return Err(self.error("snappy output shorter than declared"));
                }
                Ok(out)
            }
            CompressionAlgorithm::Zlib => zlib_decompress(input, max_len),
            CompressionAlgorithm::Zstd => {
                let (len, body) = self.take_le32(input)?;
                self.check_len(len, max_len)?;
                let mut out = vec![0; len];
                let n = ruzstd::decoding::FrameDecoder::new()
                    .decode_all(body, &mut out)
                    .map_err(|_| self.error("corrupt zstd data"))?;
                if n != len {
                    return Err(self.error("zstd output length differs from its prefix"));
                }
                Ok(out)
            }
            CompressionAlgorithm::Lz4 => self.lz4_decompress(input, max_len),
        }
    }

    /// src/compressor/lz4/LZ4Compressor.cc `decompress`: a block table, then the blocks of
    /// one LZ4 stream (each may copy from the output of the blocks before it).
    fn lz4_decompress(self, input: &[u8], max_len: usize) -> Result<Vec<u8>, Error> {
        let (count, mut rest) = self.take_le32(input)?;
        // each table entry takes 8 bytes: a count beyond the input is corrupt
        if count > rest.len() / 8 {
            return Err(self.error("lz4 block count beyond the input"));
        }
        let mut blocks = Vec::with_capacity(count);
        let mut total = 0usize;
        for _ in 0..count {
            let (out_len, r) = self.take_le32(rest)?;
            let (in_len, r) = self.take_le32(r)?;
            rest = r;
            total = total.saturating_add(out_len);
            self.check_len(total, max_len)?;
            blocks.push((out_len, in_len));
        }
        let mut out = vec![0; total];
        let mut done = 0;
        for (out_len, in_len) in blocks {
            if in_len > rest.len() {
                return Err(self.error("lz4 block beyond the input"));
            }
            let (block, r) = rest.split_at(in_len);
            rest = r;
            let (before, after) = out.split_at_mut(done);
            let target = after
                .get_mut(..out_len)
                .ok_or_else(|| self.error("lz4 block table inconsistent"))?;
            // LZ4_decompress_safe_continue: earlier output (up to 64 KiB back) is the dictionary
            let dict = before
                .get(before.len().saturating_sub(64 * 1024)..)
                .unwrap_or_default();
            let n = lz4_flex::block::decompress_into_with_dict(block, target, dict)
                .map_err(|_| self.error("corrupt lz4 block"))?;
            if n != out_len {
                return Err(self.error("lz4 block shorter than declared"));
            }
            done += out_len;
        }
        Ok(out)
    }

    fn length_prefix(self, len: usize) -> Result<Vec<u8>, Error> {
        let len = u32::try_from(len).map_err(|_| self.error("segment longer than 4 GiB"))?;
        Ok(len.to_le_bytes().to_vec())
    }

    fn take_le32(self, input: &[u8]) -> Result<(usize, &[u8]), Error> {
        match input.split_first_chunk::<4>() {
            Some((head, rest)) => Ok((u32::from_le_bytes(*head) as usize, rest)),
            None => Err(self.error("truncated length")),
        }
    }

    fn check_len(self, len: usize, max_len: usize) -> Result<(), Error> {
        if len > max_len {
            return Err(Error::DecompressedTooLarge {
                algorithm: self.name(),
                len: len as u64,
                limit: max_len as u64,
            });
        }
        Ok(())
    }

    fn error(self, reason: &'static str) -> Error {
        Error::Decompress {
            algorithm: self.name(),
            reason,
        }
    }
}

impl fmt::Display for CompressionAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The first byte of Ceph's zlib output: 0 from zlib, 1 from ISA-L; both are raw deflate.
const ZLIB_HEADER_ZLIB: u8 = 0;
const ZLIB_HEADER_ISAL: u8 = 1;
/// `compressor_zlib_level` default.
const ZLIB_LEVEL: u32 = 5;

/// src/compressor/zlib/ZlibCompressor.cc `zlib_compress`: a zero byte, then raw deflate.
fn zlib_compress(input: &[u8]) -> Result<Vec<u8>, Error> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    let mut c = Compress::new(Compression::new(ZLIB_LEVEL), false);
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    out.push(ZLIB_HEADER_ZLIB);
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or_default();
        let status = c
            .compress_vec(rest, &mut out, FlushCompress::Finish)
            .map_err(|_| CompressionAlgorithm::Zlib.error("deflate failed"))?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
    }
}

/// src/compressor/zlib/ZlibCompressor.cc `decompress`: skip the header byte, inflate raw
/// deflate; a stream that ends with input left starts another (Ceph's "multistream").
/// Stricter than Ceph: a stream cut short is an error, not a short result.
fn zlib_decompress(input: &[u8], max_len: usize) -> Result<Vec<u8>, Error> {
    use flate2::{Decompress, FlushDecompress, Status};
    let alg = CompressionAlgorithm::Zlib;
    let Some((&header, mut rest)) = input.split_first() else {
        return Ok(Vec::new());
    };
    if header != ZLIB_HEADER_ZLIB && header != ZLIB_HEADER_ISAL {
        return Err(alg.error("unknown zlib header byte"));
    }
    let mut out: Vec<u8> = Vec::new();
    let mut d = Decompress::new(false);
    loop {
        // grow in steps, never past max_len + 1 (one byte more tells us it is too large)
        if out.len() == out.capacity() {
            let room = (max_len + 1).saturating_sub(out.len());
            if room == 0 {
                return Err(Error::DecompressedTooLarge {
                    algorithm: alg.name(),
                    len: out.len() as u64,
                    limit: max_len as u64,
                });
            }
            out.reserve_exact(room.min(out.len().max(64 * 1024)));
        }
        let before_in = d.total_in();
        let before_out = d.total_out();
        let status = d
            .decompress_vec(rest, &mut out, FlushDecompress::None)
            .map_err(|_| alg.error("corrupt deflate data"))?;
        let used = usize::try_from(d.total_in() - before_in).unwrap_or(usize::MAX);
        rest = rest.get(used..).unwrap_or_default();
        if status == Status::StreamEnd {
            if rest.is_empty() {
                break;
            }
            d.reset(false);
        } else if used == 0 && d.total_out() == before_out && out.len() < out.capacity() {
            // no progress with room to write: the stream ends before its last block
            return Err(alg.error("truncated deflate stream"));
        }
    }
    if out.len() > max_len {
        return Err(Error::DecompressedTooLarge {
            algorithm: alg.name(),
            len: out.len() as u64,
            limit: max_len as u64,
        });
    }
    Ok(out)
}

/// `Compressor::CompressionMode` as `ms_osd_compress_mode` names it. Ceph's messenger
/// treats every mode but `none` alike (compress every frame above the minimum size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressionMode {
    /// `none` (the default): never.
    #[default]
    None,
    /// `passive`.
    Passive,
    /// `aggressive`.
    Aggressive,
    /// `force`.
    Force,
}

impl CompressionMode {
    /// Parses Ceph's names (`Compressor::get_comp_mode_type`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "none" => Some(CompressionMode::None),
            "passive" => Some(CompressionMode::Passive),
            "aggressive" => Some(CompressionMode::Aggressive),
            "force" => Some(CompressionMode::Force),
            _ => None,
        }
    }
}

/// What a client asks for on a connection (src/msg/compressor_registry.cc). Ceph applies
/// the `ms_osd_*` options to OSD peers only; callers set these on OSD connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressionSettings {
    /// `ms_osd_compress_mode` (default `none`).
    pub mode: CompressionMode,
    /// `ms_osd_compression_algorithm`, preferred first (default `snappy`).
    pub methods: Vec<CompressionAlgorithm>,
    /// `ms_osd_compress_min_size`: frames whose segments add up to less are sent as they
    /// are (default 1024).
    pub min_size: u64,
    /// `ms_compress_secure`: also compress in secure mode (default false).
    pub allow_secure: bool,
}

impl Default for CompressionSettings {
    fn default() -> Self {
        CompressionSettings {
            mode: CompressionMode::None,
            methods: vec![CompressionAlgorithm::Snappy],
            min_size: 1024,
            allow_secure: false,
        }
    }
}

impl CompressionSettings {
    /// Parses an algorithm list as `CompressorRegistry::_parse_method_list` does (separators
    /// `;,= \t`); names we do not implement are skipped.
    pub fn parse_methods(list: &str) -> Vec<CompressionAlgorithm> {
        list.split([';', ',', '=', ' ', '\t'])
            .filter(|s| !s.is_empty())
            .filter_map(|name| {
                let alg = CompressionAlgorithm::from_name(name);
                if alg.is_none() && name != "none" {
                    tracing::debug!(name, "compression algorithm not supported, skipped");
                }
                alg
            })
            .collect()
    }

    /// True if compression is wanted on a connection in the given mode
    /// (`CompressorRegistry::get_mode`).
    pub fn wanted(&self, secure: bool) -> bool {
        self.mode != CompressionMode::None && (!secure || self.allow_secure)
    }

    /// The `preferred_methods` of COMPRESSION_REQUEST: our list, or `[0]` (none) if empty,
    /// as Ceph sends.
    pub fn method_ids(&self) -> Vec<u32> {
        if self.methods.is_empty() {
            vec![0]
        } else {
            self.methods.iter().map(|m| m.id()).collect()
        }
    }
}

/// Compression in force on one direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnwireCompression {
    /// The negotiated algorithm.
    pub algorithm: CompressionAlgorithm,
    /// Frames with fewer payload bytes are sent uncompressed (transmit side only).
    pub min_size: u64,
}

#[cfg(test)]
mod tests;
