//! Rough throughput of the frame codec: 4 MiB MESSAGE frames encoded and decoded in crc and
//! secure mode, in memory. `cargo run --release -p msgr2 --example frame_throughput`.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use msgr2::{FrameDecoder, FrameEncoder, FrameLimits, Message, secure_pair};

fn raw_gcm() {
    use aes_gcm::aead::{AeadInOut, KeyInit};
    let cipher = aes_gcm::Aes128Gcm::new_from_slice(&[7u8; 16]).expect("key");
    let mut buf = vec![0u8; 4 << 20];
    let nonce = aes_gcm::Nonce::from([1u8; 12]);
    let t = Instant::now();
    for _ in 0..100 {
        let _ = cipher
            .encrypt_inout_detached(&nonce, &[], buf.as_mut_slice().into())
            .expect("seal");
    }
    let rate = 100.0 * (4 << 20) as f64 / t.elapsed().as_secs_f64() / 1e9;
    println!("raw aes-gcm in place: {rate:.2} GB/s");
}

fn main() {
    raw_gcm();
    let secret: Vec<u8> = (0..64u8).collect();
    let data = Bytes::from(vec![0xa5u8; 4 << 20]);
    let message = Message::new(42, 8, 3, Bytes::from(vec![1u8; 300])).with_data(data);
    let frame = message.to_frame();
    let rounds = 200;
    for secure in [false, true] {
        let (mut enc, mut dec) = if secure {
            let (_, tx) = secure_pair(&secret, true).expect("secret");
            let (rx, _) = secure_pair(&secret, false).expect("secret");
            (
                FrameEncoder::secure(tx),
                FrameDecoder::secure(rx, FrameLimits::default()),
            )
        } else {
            (
                FrameEncoder::crc(),
                FrameDecoder::crc(FrameLimits::default()),
            )
        };
        let mut chunks = Vec::new();
        let mut input = BytesMut::new();
        let mut enc_time = 0.0;
        let mut dec_time = 0.0;
        for _ in 0..rounds {
            chunks.clear();
            let t = Instant::now();
            enc.encode(&frame, &mut chunks).expect("encode");
            enc_time += t.elapsed().as_secs_f64();
            for c in &chunks {
                input.extend_from_slice(c);
            }
            let t = Instant::now();
            let back = dec.decode(&mut input).expect("decode").expect("frame");
            dec_time += t.elapsed().as_secs_f64();
            assert_eq!(back.segments[3].len(), 4 << 20);
        }
        let bytes = (rounds * (4 << 20)) as f64;
        println!(
            "{}: encode {:.2} GB/s, decode {:.2} GB/s",
            if secure { "secure" } else { "crc" },
            bytes / enc_time / 1e9,
            bytes / dec_time / 1e9
        );
    }
}
