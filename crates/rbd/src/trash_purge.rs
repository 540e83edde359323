//! `rbd_trash_purge_with_progress` (src/librbd/api/Trash.cc `purge`): removes the
//! user-moved trash entries whose deferment ended, and with a usage threshold also as
//! many not-yet-expired ones (earliest deferment end first) as it takes to bring each
//! data pool's usage down to the threshold, judged by `ceph df` and the images' data.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use rados::Errno;
use tracing::debug;

use crate::cls::trash::TrashSource;
use crate::error::{Error, Result};
use crate::image::{Image, OpenMode};
use crate::pool::Rbd;
use crate::trash::TrashEntry;

/// One pool's line of `ceph df --format json` as the threshold needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PoolUsage {
    pub(crate) name: String,
    pub(crate) percent_used: f64,
    pub(crate) max_avail: u64,
    pub(crate) bytes_used: u64,
}

/// The `pools` of a `ceph df` JSON reply.
pub(crate) fn parse_df(json: &[u8]) -> Result<Vec<PoolUsage>> {
    let bad = Error::BadMonReply;
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|_| bad("ceph df json output could not be parsed"))?;
    let pools = v
        .get("pools")
        .and_then(|p| p.as_array())
        .ok_or(bad("ceph df has no pools"))?;
    pools
        .iter()
        .map(|p| {
            let stats = p.get("stats").ok_or(bad("ceph df pool without stats"))?;
            let num = |k: &str| stats.get(k).and_then(|v| v.as_f64());
            let int = |k: &str| stats.get(k).and_then(|v| v.as_u64());
            Ok(PoolUsage {
                name: p
                    .get("name")
                    .and_then(|n| n.as_str())
                    .ok_or(bad("ceph df pool without a name"))?
                    .to_owned(),
                percent_used: num("percent_used").ok_or(bad("ceph df without percent_used"))?,
                max_avail: int("max_avail").ok_or(bad("ceph df without max_avail"))?,
                bytes_used: int("bytes_used").ok_or(bad("ceph df without bytes_used"))?,
            })
        })
        .collect()
}

/// The images to purge for `threshold` (0.0-1.0): for each data pool used above it, the
/// candidates of that pool (`(id, bytes of data)`, earliest deferment end first) until
/// their data covers the excess. `None` when no pool is above the threshold (librbd then
/// purges nothing, not even expired entries).
pub(crate) fn over_threshold(
    usage: &[PoolUsage],
    candidates: &BTreeMap<String, Vec<(String, u64)>>,
    threshold: f64,
) -> Option<BTreeSet<String>> {
    let mut chosen = BTreeSet::new();
    let mut to_free = 0u64;
    for pool in usage {
        let Some(images) = candidates.get(&pool.name) else {
            continue;
        };
        if pool.percent_used <= threshold {
            continue;
        }
        to_free = 0;
        let total = pool.max_avail.saturating_add(pool.bytes_used);
        // as librbd: the excess fraction of the pool's capacity, in bytes
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let excess = (total as f64 * (pool.percent_used - threshold)) as u64;
        for (id, bytes) in images {
            to_free = to_free.saturating_add(*bytes);
            chosen.insert(id.clone());
            if to_free >= excess {
                break;
            }
        }
    }
    (to_free != 0).then_some(chosen)
}

impl Rbd {
    /// Removes the user-moved entries whose deferment ended by `expired_before` (seconds
    /// since the epoch; now when `None`) (`rbd_trash_purge`). Entries that cannot go now
    /// (in use, snapshots...) are retried while others go, then the first such error is
    /// returned. Returns how many were removed.
    pub async fn trash_purge(&self, expired_before: Option<u64>) -> Result<usize> {
        self.trash_purge_with_progress(expired_before, None, |_, _| {})
            .await
    }

    /// [`Rbd::trash_purge`] with a usage `threshold` (0.0-1.0, `rbd trash purge
    /// --threshold`): entries not yet expired go too, earliest deferment end first,
    /// until their data covers each data pool's usage above the threshold. With a
    /// threshold and no pool above it nothing is removed (as librbd). `progress(done,
    /// total)` counts entries.
    pub async fn trash_purge_with_progress(
        &self,
        expired_before: Option<u64>,
        threshold: Option<f64>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<usize> {
        let mut entries: Vec<TrashEntry> = self
            .trash_list()
            .await?
            .into_iter()
            .filter(|e| matches!(e.source, TrashSource::User | TrashSource::UserParent))
            .collect();
        let mut pending = BTreeSet::new();
        if let Some(threshold) = threshold {
            if !(0.0..=1.0).contains(&threshold) {
                return Err(Error::InvalidArgument(
                    "argument 'threshold' is out of valid range",
                ));
            }
            entries.sort_by_key(|e| e.deferment_end_time);
            let usage = self.pool_usage().await?;
            let candidates = self.candidates_by_data_pool(&entries).await?;
            match over_threshold(&usage, &candidates, threshold) {
                Some(ids) => pending = ids,
                None => {
                    debug!(threshold, "pool usage at or below the threshold");
                    return Ok(0);
                }
            }
        }
        let expire = expired_before.unwrap_or_else(|| u64::from(crate::trash::now().sec));
        pending.extend(
            entries
                .iter()
                .filter(|e| expire >= e.deferment_end_time)
                .map(|e| e.id.clone()),
        );
        let total = pending.len() as u64;
        let (mut done, mut removed) = (0u64, 0usize);
        loop {
            let mut moved_on = false;
            let mut first_err = None;
            let mut left = BTreeSet::new();
            for id in pending {
                match self.trash_remove(&id, true).await {
                    Ok(()) => removed += 1,
                    // a parent that went with its last child
                    Err(Error::ImageNotFound(_)) => {}
                    Err(e) if retried_later(&e) => {
                        first_err.get_or_insert(e);
                        left.insert(id);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                moved_on = true;
                done += 1;
                progress(done, total);
            }
            match first_err {
                None => return Ok(removed),
                Some(e) if !moved_on => return Err(e),
                Some(_) => pending = left,
            }
        }
    }

    async fn pool_usage(&self) -> Result<Vec<PoolUsage>> {
        let reply = self
            .ioctx()
            .rados()
            .mon_command(r#"{"prefix": "df", "format": "json"}"#, Bytes::new())
            .await?;
        parse_df(&reply.data)
    }

    /// The entries grouped by the name of their data pool, with the bytes of data each
    /// holds (whole objects, from diff_iterate as librbd counts them), in `entries`' order.
    async fn candidates_by_data_pool(
        &self,
        entries: &[TrashEntry],
    ) -> Result<BTreeMap<String, Vec<(String, u64)>>> {
        let io = self.ioctx();
        let mut out: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
        for e in entries {
            let image =
                match Image::open(io.clone(), e.name.clone(), e.id.clone(), OpenMode::ReadOnly)
                    .await
                {
                    Ok(i) => i,
                    Err(err) if err.is(Errno::ENOENT) => continue,
                    Err(err) => {
                        debug!(id = e.id, %err, "cannot open a trashed image; not counted");
                        continue;
                    }
                };
            let mut bytes = 0u64;
            let size = image.info().size;
            let counted = image
                .diff_iterate(None, 0, size, false, true, |ex| {
                    if ex.exists {
                        bytes = bytes.saturating_add(ex.length);
                    }
                    Ok(())
                })
                .await;
            let data_pool = image.data_ioctx().pool_name().to_owned();
            drop(image);
            if let Err(err) = counted {
                debug!(id = e.id, %err, "cannot count a trashed image's data");
                continue;
            }
            out.entry(data_pool)
                .or_default()
                .push((e.id.clone(), bytes));
        }
        Ok(out)
    }
}

/// Errors that leave an entry for another pass (trash/RemoveRequest's retriable ones).
fn retried_later(e: &Error) -> bool {
    e.is(Errno::ENOTEMPTY) || e.is(Errno::EBUSY) || e.is(Errno::EMLINK) || e.is(Errno(117))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DF: &str = r#"{"stats":{"total_bytes":1},"pools":[
        {"name":"rbd","id":2,"stats":{"stored":10,"objects":3,"kb_used":1,
         "bytes_used":300,"percent_used":0.30000001192092896,"max_avail":700}},
        {"name":"data","id":3,"stats":{"bytes_used":0,"percent_used":0,"max_avail":1000}}]}"#;

    #[test]
    fn df_is_parsed() {
        let u = parse_df(DF.as_bytes()).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].name, "rbd");
        assert_eq!((u[0].bytes_used, u[0].max_avail), (300, 700));
        assert!((u[0].percent_used - 0.3).abs() < 1e-6);
        assert!(matches!(parse_df(b"not json"), Err(Error::BadMonReply(_))));
        assert!(matches!(parse_df(b"{}"), Err(Error::BadMonReply(_))));
        assert!(matches!(
            parse_df(br#"{"pools":[{"name":"x"}]}"#),
            Err(Error::BadMonReply(_))
        ));
    }

    #[test]
    fn threshold_takes_images_until_the_excess_is_covered() {
        let usage = parse_df(DF.as_bytes()).unwrap();
        let mut c = BTreeMap::new();
        c.insert(
            "rbd".to_owned(),
            vec![("a".into(), 50), ("b".into(), 60), ("c".into(), 500)],
        );
        // excess at 0.2: 1000 * 0.1 = 100 bytes: a and b cover it
        let got = over_threshold(&usage, &c, 0.2).unwrap();
        assert_eq!(got, ["a", "b"].iter().map(|s| (*s).to_owned()).collect());
        // at or above the pool's usage: nothing
        assert_eq!(over_threshold(&usage, &c, 0.5), None);
        // images without data free nothing: librbd purges nothing either
        let mut empty = BTreeMap::new();
        empty.insert("rbd".to_owned(), vec![("a".into(), 0)]);
        assert_eq!(over_threshold(&usage, &empty, 0.0), None);
        // a pool whose images are not in the trash is not looked at
        let mut other = BTreeMap::new();
        other.insert("data".to_owned(), vec![("d".into(), 5)]);
        assert_eq!(over_threshold(&usage, &other, 0.0), None);
    }
}
