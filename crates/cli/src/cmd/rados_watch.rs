//! `rados watch|notify|listwatchers` (src/tools/rados/rados.cc): a watch that prints every
//! notification and acknowledges it with the payload it received until a line arrives
//! on stdin; a notify of an encoded string with a 10 s timeout, printing every reply and
//! every watcher that timed out; the watchers of an object.

use std::time::Duration;

use bytes::Bytes;
use rados::{IoCtx, WatchEvent};

use super::rados::{Outcome, fail, strerror};
use super::rados_format::hexdump;
use crate::error::CliError;

/// `rados notify`'s timeout (`notify2(..., 10000, ...)`).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Watches `obj` until stdin yields a line (or ends).
pub(super) async fn watch(io: &IoCtx, obj: &str) -> Result<Outcome, CliError> {
    let mut watch = match io.watch(obj).await {
        Ok(w) => w,
        Err(e) => return Ok(fail(format!("error calling watch: {}", strerror(&e)))),
    };
    println!("press enter to exit...");
    let mut enter = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    });
    loop {
        tokio::select! {
            _ = &mut enter => break,
            event = watch.next_event() => match event {
                Some(WatchEvent::Notify(n)) => {
                    println!(
                        "NOTIFY cookie {} notify_id {} from {}",
                        n.cookie, n.notify_id, n.notifier_gid
                    );
                    print!("{}", hexdump(&n.payload, true));
                    // like rados, answer with what was received
                    if let Err(e) = watch.ack(&n, n.payload.clone()).await {
                        tracing::warn!(error = %e, "notify ack failed");
                    }
                }
                Some(WatchEvent::Error(errno)) => {
                    println!("ERROR cookie {} err {}", watch.cookie(), errno.cpp_strerror());
                }
                None => break,
            },
        }
    }
    if let Err(e) = watch.unwatch().await {
        tracing::debug!(error = %e, "unwatch failed");
    }
    Ok(Ok(()))
}

/// Notifies `obj` with `msg` (encoded as a Ceph string) and prints the replies.
pub(super) async fn notify(io: &IoCtx, obj: &str, msg: &str) -> Result<Outcome, CliError> {
    let mut payload = Vec::with_capacity(4 + msg.len());
    let len = u32::try_from(msg.len()).map_err(|_| CliError::Usage("message too long"))?;
    payload.extend_from_slice(&len.to_le_bytes());
    payload.extend_from_slice(msg.as_bytes());
    let result = match io.notify(obj, Bytes::from(payload), NOTIFY_TIMEOUT).await {
        Ok(r) => r,
        Err(e) => return Ok(fail(format!("error calling notify: {}", strerror(&e)))),
    };
    let outcome = if result.timed_out() {
        fail(format!(
            "error calling notify: {}",
            rados::Errno::ETIMEDOUT.cpp_strerror()
        ))
    } else {
        Ok(())
    };
    let mut acks = result.acks.clone();
    acks.sort_by_key(|a| (a.gid, a.cookie));
    for a in &acks {
        println!(
            "reply client.{} cookie {} : {} bytes",
            a.gid,
            a.cookie,
            a.reply.len()
        );
        print!("{}", hexdump(&a.reply, true));
    }
    let mut missed = result.missed.clone();
    missed.sort_unstable();
    for (gid, cookie) in missed {
        println!("timeout client.{gid} cookie {cookie}");
    }
    Ok(outcome)
}

/// Prints the watchers of `obj` (`watcher=ADDR client.GID cookie=COOKIE`).
pub(super) async fn listwatchers(io: &IoCtx, pool: &str, obj: &str) -> Result<Outcome, CliError> {
    match io.list_watchers(obj).await {
        Ok(watchers) => {
            for w in watchers {
                println!(
                    "watcher={} client.{} cookie={}",
                    w.addr, w.name.num, w.cookie
                );
            }
            Ok(Ok(()))
        }
        Err(e) => Ok(fail(format!(
            "error listing watchers {pool}/{obj}: {}",
            strerror(&e)
        ))),
    }
}
