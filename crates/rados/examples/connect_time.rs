//! Measures how long connecting takes (monitor authentication plus the first monitor and
//! OSD maps), the way `Rados::connect` does it, over several runs:
//!
//! ```text
//! CEPH_CONF=/path/to/ceph.conf cargo run --release -p rados --example connect_time -- [RUNS]
//! ```
//!
//! Prints one line per run and the medians, in milliseconds: of `Rados::connect` alone, and
//! of reading the configuration and keyring plus connecting.

use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), rados::Error> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let mut connect = Vec::with_capacity(runs);
    let mut total = Vec::with_capacity(runs);
    for run in 0..runs {
        let started = Instant::now();
        let config = rados::ClientConfig::from_env()?;
        let configured = Instant::now();
        let client = rados::Rados::connect(config).await?;
        let done = Instant::now();
        let epoch = client.osdmap().epoch;
        client.shutdown().await;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        println!(
            "run {run}: connect {:.2} ms, config+connect {:.2} ms (osdmap e{epoch})",
            ms(done - configured),
            ms(done - started)
        );
        connect.push(ms(done - configured));
        total.push(ms(done - started));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or_default()
    };
    println!(
        "median connect {:.2} ms, config+connect {:.2} ms over {runs} runs",
        median(&mut connect),
        median(&mut total)
    );
    Ok(())
}
