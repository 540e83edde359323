//! Watch upkeep shared by the header watch loops (the exclusive lock's and
//! [`crate::header_state::HeaderWatch`]'s): watching again after a lost watch, and handing
//! the watch over at close, each wait bounded so that neither can keep an image from
//! closing or from ever watching again.

use std::time::Duration;

use rados::{IoCtx, Watch};
use tokio::sync::oneshot;
use tracing::{debug, warn};

/// How long a close waits for the watch loop to hand its watch over (it is between two
/// notifies, or re-watching, at most this long unless an op of it never completes; the
/// loop then drops the watch, which unwatches in the background).
const HANDOVER_WAIT: Duration = Duration::from_secs(30);

/// Stops a header watch loop through `stop` and removes its watch.
pub(crate) async fn unwatch_on_stop(stop: oneshot::Sender<oneshot::Sender<Watch>>) {
    let (tx, rx) = oneshot::channel();
    if stop.send(tx).is_err() {
        return;
    }
    match tokio::time::timeout(HANDOVER_WAIT, rx).await {
        Ok(Ok(watch)) => {
            if let Err(e) = watch.unwatch().await {
                debug!(error = %e, "unwatch failed");
            }
        }
        Ok(Err(_)) => {}
        Err(_) => warn!("the header watch loop did not stop in time; unwatching in the background"),
    }
}

/// How long one attempt to watch the header again may wait for the OSD's answer before
/// it is given up and tried again (a registration that is never answered, e.g. lost
/// while its PG moved, must not keep the image from ever watching again).
const REWATCH_ATTEMPT: Duration = Duration::from_secs(30);

/// The stop channel of a header watch loop: `close` sends where the loop hands its watch.
pub(crate) type StopRequest = oneshot::Receiver<oneshot::Sender<Watch>>;

/// Hands `watch` to the closer that asked for it (if the image was dropped instead, the
/// watch unwatches on drop).
pub(crate) fn hand_over(
    reply: Result<oneshot::Sender<Watch>, oneshot::error::RecvError>,
    watch: Watch,
) {
    if let Ok(tx) = reply {
        let _ = tx.send(watch);
    }
}

/// After `lost` was lost: a new watch of `header`, or `None` when the loop should end: the
/// image was closed meanwhile (the lost watch is handed over, unwatching it is harmless,
/// rather than the close waiting for a re-watch) or is no longer `wanted`. Otherwise `lost`
/// is dropped here, which unwatches it in the background.
pub(crate) async fn rewatch_unless_closed(
    io: &IoCtx,
    header: &str,
    lost: Watch,
    stop: &mut StopRequest,
    wanted: impl Fn() -> bool,
) -> Option<Watch> {
    tokio::select! {
        reply = stop => {
            hand_over(reply, lost);
            None
        }
        new = rewatch(io, header, wanted) => new,
    }
}

/// Watches `header` again, retrying every second after a failed or unanswered attempt,
/// while `wanted()` (false once the image is gone: `None`).
async fn rewatch(io: &IoCtx, header: &str, wanted: impl Fn() -> bool) -> Option<Watch> {
    loop {
        match tokio::time::timeout(REWATCH_ATTEMPT, io.watch(header)).await {
            Ok(Ok(w)) => return Some(w),
            Ok(Err(e)) => debug!(header, error = %e, "re-watch failed"),
            Err(_) => debug!(header, "re-watch unanswered; trying again"),
        }
        if !wanted() {
            return None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
