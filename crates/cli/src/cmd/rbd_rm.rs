//! What `rbd rm` prints when the removal is refused (src/tools/rbd/action/Remove.cc
//! `execute`): its own lines for snapshots (ENOTEMPTY), watchers (EBUSY) and a group
//! (EMLINK), else `rbd: delete error: (N) text`.

use rados::Errno;
use rbd::cls::snap::SnapshotNamespace;

/// The lines `rbd rm` prints for the refusal `e` of image `image` of `pool`.
pub(super) async fn refusal_text(
    rados: &rados::Rados,
    pool: &rbd::Rbd,
    image: &str,
    e: &rbd::Error,
) -> String {
    let errno = Errno(e.errno().saturating_neg());
    if errno == Errno::ENOTEMPTY {
        // snapshots other than trash ones (kept for clones): the user's to purge
        let user_snaps = match pool.open(image, rbd::OpenMode::ReadOnly).await {
            Ok(img) => {
                let snaps = img.snap_list().await.unwrap_or_default();
                let _ = img.close().await;
                snaps
                    .iter()
                    .any(|s| !matches!(s.namespace, SnapshotNamespace::Trash { .. }))
            }
            Err(_) => false,
        };
        return if user_snaps {
            "rbd: image has snapshots - these must be deleted with 'rbd snap purge' \
             before the image can be removed."
                .to_owned()
        } else {
            "rbd: image has snapshots with linked clones - these must be deleted or \
             flattened before the image can be removed."
                .to_owned()
        };
    }
    if errno == Errno::EBUSY {
        return "rbd: error: image still has watchers\nThis means the image is still open \
                or the client using it crashed. Try again after closing/unmapping it or \
                waiting 30s for the crashed client to timeout."
            .to_owned();
    }
    if errno == Errno::EMLINK {
        let group = match pool.open(image, rbd::OpenMode::ReadOnly).await {
            Ok(img) => {
                let g = img.group_get().await.ok().flatten();
                let _ = img.close().await;
                g
            }
            Err(_) => None,
        };
        let mut out = "rbd: error: image belongs to a group".to_owned();
        if let Some(g) = group {
            let pool_name = rados
                .pool_list()
                .into_iter()
                .find(|(id, _)| *id == g.pool)
                .map_or_else(|| format!("<missing group pool {}>", g.pool), |(_, n)| n);
            out.push_str(&format!(" {pool_name}/"));
            let ns = pool.ioctx().namespace();
            if !ns.is_empty() {
                out.push_str(&format!("{ns}/"));
            }
            out.push_str(&g.name);
        }
        out.push_str("\nRemove the image from the group and try again.");
        return out;
    }
    format!("rbd: delete error: {}", errno.cpp_strerror())
}
