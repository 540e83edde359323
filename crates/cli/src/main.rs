//! `rbd-rs`: Ceph's `rbd` and `rados` tools, spelled the same, in pure Rust.

fn main() {
    println!("rbd-rs {}", env!("CARGO_PKG_VERSION"));
}
