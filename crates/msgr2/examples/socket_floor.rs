//! The least client CPU a large op can cost in crc mode on this machine: the bytes moved
//! through a loopback TCP socket plus one crc32c pass over them, and nothing else (no
//! frames, no Ceph, no allocation per op, one reused buffer). `scripts/bench-rbd` runs it
//! beside `rbd bench` and `rbd-rs bench` so that their CPU per op can be set against this
//! floor, measured the same way (user + system seconds of the client process).
//!
//! ```text
//! socket_floor serve PORT                 # the peer: streams to readers, drains writers;
//!                                         # port 0: any free one, printed as "port N"
//! socket_floor read|write PORT SIZE COUNT # the client: COUNT ops of SIZE bytes
//! ```
//!
//! The client prints a line in `rbd bench`'s format ("elapsed: ... ops: ... ops/sec: ...
//! bytes/sec: ... MiB/s") so the bench script parses it like the others. The peer's own
//! CPU is not counted, as the OSDs' is not; on loopback some of the receiving side's kernel
//! work runs in the sender's context either way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Instant;

/// A request: one byte (`r` to receive, `w` to send), then the op size and count (le64).
const REQUEST_LEN: usize = 17;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", port] => serve(parse(port)),
        [mode @ ("read" | "write"), port, size, count] => {
            client(mode, parse(port), parse_size(size), parse(count))
        }
        _ => {
            eprintln!("usage: socket_floor serve PORT | socket_floor read|write PORT SIZE COUNT");
            std::process::exit(2);
        }
    };
    if let Err(error) = result {
        eprintln!("socket_floor: {error}");
        std::process::exit(1);
    }
}

fn parse<T: std::str::FromStr>(s: &str) -> T {
    s.parse().unwrap_or_else(|_| {
        eprintln!("socket_floor: not a number: {s}");
        std::process::exit(2)
    })
}

/// `4M`, `4K` or a byte count.
fn parse_size(s: &str) -> usize {
    let (digits, shift) = match s.strip_suffix(['M', 'm']) {
        Some(d) => (d, 20),
        None => match s.strip_suffix(['K', 'k']) {
            Some(d) => (d, 10),
            None => (s, 0),
        },
    };
    parse::<usize>(digits) << shift
}

fn serve(port: u16) -> io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    println!("port {}", listener.local_addr()?.port());
    io::stdout().flush()?;
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(error) = peer(stream) {
                eprintln!("socket_floor serve: {error}");
            }
        });
    }
    Ok(())
}

/// Serves one client: sends it `count` ops of `size` bytes, or reads what it sends.
fn peer(mut stream: TcpStream) -> io::Result<()> {
    let mut request = [0u8; REQUEST_LEN];
    stream.read_exact(&mut request)?;
    let [mode, rest @ ..] = request;
    let size = usize::try_from(u64::from_le_bytes(rest[..8].try_into().unwrap())).unwrap();
    let count = u64::from_le_bytes(rest[8..].try_into().unwrap());
    let mut buf = vec![0xa5u8; size];
    match mode {
        b'r' => {
            for _ in 0..count {
                stream.write_all(&buf)?;
            }
        }
        _ => while stream.read(&mut buf)? > 0 {},
    }
    Ok(())
}

fn client(mode: &str, port: u16, size: usize, count: u64) -> io::Result<()> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    let mut request = [0u8; REQUEST_LEN];
    request[0] = mode.as_bytes()[0];
    request[1..9].copy_from_slice(&(size as u64).to_le_bytes());
    request[9..].copy_from_slice(&count.to_le_bytes());
    stream.write_all(&request)?;
    let mut buf = vec![0x5au8; size];
    let mut crcs = 0u32;
    let start = Instant::now();
    for _ in 0..count {
        if mode == "read" {
            stream.read_exact(&mut buf)?;
            crcs = crcs.wrapping_add(crc_fast::crc32_iscsi(&buf));
        } else {
            crcs = crcs.wrapping_add(crc_fast::crc32_iscsi(&buf));
            stream.write_all(&buf)?;
        }
    }
    stream.shutdown(std::net::Shutdown::Write)?;
    // a writer waits for the peer to have drained everything
    while stream.read(&mut buf)? > 0 {}
    let secs = start.elapsed().as_secs_f64();
    let ops = count as f64;
    println!(
        "elapsed: {secs:.2}  ops: {count}  ops/sec: {:.2}  bytes/sec: {:.2} MiB/s  (crcs {crcs:08x})",
        ops / secs,
        ops * size as f64 / secs / f64::from(1 << 20),
    );
    Ok(())
}
