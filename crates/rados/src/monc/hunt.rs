//! Hunting for a monitor (src/mon/MonClient.cc `_add_conns`, `_start_hunting`,
//! `_finish_hunting`, `_un_backoff`): which monitors to try next, several at once, and how
//! long a round lasts.

use std::collections::BTreeSet;
use std::time::Duration;

use denc::EntityAddr;
use rand::RngExt;
use rand::seq::SliceRandom;

use crate::messages::MonMap;

/// Hunting parameters (`mon_client_hunt_*`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HuntParams {
    /// Base length of a round.
    pub(crate) interval: Duration,
    /// Monitors tried at once (0 = all candidates).
    pub(crate) parallel: usize,
    /// Multiplier growth per round after a lost session.
    pub(crate) backoff: f64,
    /// Multiplier floor.
    pub(crate) min_multiple: f64,
    /// Multiplier ceiling.
    pub(crate) max_multiple: f64,
}

/// A monitor to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Its name in the map.
    pub(crate) name: String,
    /// Its msgr2 address.
    pub(crate) addr: EntityAddr,
}

/// Hunting state, sans-IO (randomness passed in).
#[derive(Debug, Clone)]
pub(crate) struct Hunter {
    params: HuntParams,
    /// Monitors tried since the map last changed.
    tried: BTreeSet<String>,
    multiplier: f64,
    had_a_connection: bool,
}

impl Hunter {
    pub(crate) fn new(params: HuntParams) -> Self {
        Hunter {
            params,
            tried: BTreeSet::new(),
            multiplier: params.min_multiple.max(0.1),
            had_a_connection: false,
        }
    }

    /// How long the current round lasts.
    pub(crate) fn round_length(&self) -> Duration {
        self.params.interval.mul_f64(self.multiplier)
    }

    /// A new round begins: after a lost session, rounds get longer (`_start_hunting`).
    pub(crate) fn start_round(&mut self) {
        if self.had_a_connection {
            self.multiplier = (self.multiplier * self.params.backoff)
                .min(self.params.max_multiple)
                .max(self.params.min_multiple);
        }
    }

    /// A session was established (`_finish_hunting`).
    pub(crate) fn found(&mut self) {
        self.had_a_connection = true;
        self.un_backoff();
    }

    /// Shrinks the multiplier back (on success and on every good keepalive round).
    pub(crate) fn un_backoff(&mut self) {
        self.multiplier = (self.multiplier / self.params.backoff).max(self.params.min_multiple);
    }

    /// The monitor map changed: every monitor is worth trying again.
    pub(crate) fn map_changed(&mut self) {
        self.tried.clear();
    }

    /// The next monitors to dial: among those with a msgr2 address not tried yet, the ones
    /// of the lowest priority value, shuffled (weighted when weights are set), at most
    /// `parallel` of them. When every monitor has been tried, starts over.
    pub(crate) fn next_batch<R: rand::Rng + ?Sized>(
        &mut self,
        monmap: &MonMap,
        rng: &mut R,
    ) -> Vec<Candidate> {
        let mut batch = self.candidates(monmap);
        if batch.is_empty() {
            self.tried.clear();
            batch = self.candidates(monmap);
        }
        let mut chosen = weighted_shuffle(batch, rng);
        let n = match self.params.parallel {
            0 => chosen.len(),
            n => n.min(chosen.len()),
        };
        chosen.truncate(n);
        for (c, _) in &chosen {
            self.tried.insert(c.name.clone());
        }
        chosen.into_iter().map(|(c, _)| c).collect()
    }

    fn candidates(&self, monmap: &MonMap) -> Vec<(Candidate, u16)> {
        let usable: Vec<(u16, Candidate, u16)> = monmap
            .mon_info
            .values()
            .filter(|m| !self.tried.contains(&m.name))
            .filter_map(|m| {
                let addr = *m.public_addrs.msgr2()?;
                Some((
                    m.priority,
                    Candidate {
                        name: m.name.clone(),
                        addr,
                    },
                    m.weight,
                ))
            })
            .collect();
        let Some(best) = usable.iter().map(|(p, _, _)| *p).min() else {
            return Vec::new();
        };
        usable
            .into_iter()
            .filter(|(p, _, _)| *p == best)
            .map(|(_, c, w)| (c, w))
            .collect()
    }
}

/// A uniform shuffle if every weight is 0, else repeated draws proportional to weight
/// (zero weights last).
fn weighted_shuffle<T, R: rand::Rng + ?Sized>(
    mut items: Vec<(T, u16)>,
    rng: &mut R,
) -> Vec<(T, u16)> {
    if items.iter().all(|(_, w)| *w == 0) {
        items.shuffle(rng);
        return items;
    }
    let mut out = Vec::with_capacity(items.len());
    while !items.is_empty() {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let index = if total == 0 {
            rng.random_range(0..items.len())
        } else {
            let mut pick = rng.random_range(0..total);
            items
                .iter()
                .position(|(_, w)| {
                    let w = u64::from(*w);
                    if pick < w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .unwrap_or(0)
        };
        out.push(items.swap_remove(index));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::MonInfo;
    use denc::EntityAddrVec;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn params(parallel: usize) -> HuntParams {
        HuntParams {
            interval: Duration::from_secs(3),
            parallel,
            backoff: 1.5,
            min_multiple: 1.0,
            max_multiple: 10.0,
        }
    }

    fn map(n: usize) -> MonMap {
        MonMap::from_initial((0..n).map(|i| {
            let v2: EntityAddr = format!("v2:10.0.0.{i}:3300/0").parse().unwrap();
            let v1: EntityAddr = format!("v1:10.0.0.{i}:6789/0").parse().unwrap();
            MonInfo::new(format!("m{i}"), EntityAddrVec(vec![v2, v1]))
        }))
    }

    #[test]
    fn rounds_cover_every_monitor_before_repeating() {
        let mut h = Hunter::new(params(2));
        let mut rng = StdRng::seed_from_u64(1);
        let m = map(5);
        let a = h.next_batch(&m, &mut rng);
        let b = h.next_batch(&m, &mut rng);
        let c = h.next_batch(&m, &mut rng);
        assert_eq!((a.len(), b.len(), c.len()), (2, 2, 1));
        let mut all: Vec<String> = a
            .iter()
            .chain(&b)
            .chain(&c)
            .map(|c| c.name.clone())
            .collect();
        all.sort();
        assert_eq!(all, ["m0", "m1", "m2", "m3", "m4"]);
        assert!(a.iter().all(|c| c.addr.is_msgr2()));
        // then it starts over
        assert_eq!(h.next_batch(&m, &mut rng).len(), 2);
        // parallel 0 means all
        let mut h = Hunter::new(params(0));
        assert_eq!(h.next_batch(&m, &mut rng).len(), 5);
    }

    #[test]
    fn order_is_random_and_priorities_come_first() {
        let m = map(4);
        let firsts: BTreeSet<String> = (0..40)
            .map(|seed| {
                let mut h = Hunter::new(params(1));
                h.next_batch(&m, &mut StdRng::seed_from_u64(seed))[0]
                    .name
                    .clone()
            })
            .collect();
        assert_eq!(firsts.len(), 4);
        let mut m = map(3);
        m.mon_info.get_mut("m2").unwrap().priority = 0;
        m.mon_info.get_mut("m0").unwrap().priority = 5;
        m.mon_info.get_mut("m1").unwrap().priority = 5;
        let mut h = Hunter::new(params(3));
        let mut rng = StdRng::seed_from_u64(3);
        let first = h.next_batch(&m, &mut rng);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].name, "m2");
        assert_eq!(h.next_batch(&m, &mut rng).len(), 2);
    }

    #[test]
    fn legacy_only_monitors_are_skipped() {
        let v1: EntityAddr = "v1:10.0.0.9:6789/0".parse().unwrap();
        let m = MonMap::from_initial([MonInfo::new("old", EntityAddrVec(vec![v1]))]);
        let mut h = Hunter::new(params(3));
        assert!(h.next_batch(&m, &mut StdRng::seed_from_u64(0)).is_empty());
    }

    #[test]
    fn backoff_after_a_lost_session() {
        let mut h = Hunter::new(params(3));
        h.start_round();
        assert_eq!(h.round_length(), Duration::from_secs(3));
        h.found();
        for _ in 0..10 {
            h.start_round();
        }
        assert_eq!(h.round_length(), Duration::from_secs(30));
        h.found();
        assert_eq!(h.round_length(), Duration::from_secs(20));
    }

    #[test]
    fn weights_bias_the_order() {
        let mut m = map(2);
        m.mon_info.get_mut("m0").unwrap().weight = 1;
        m.mon_info.get_mut("m1").unwrap().weight = 99;
        let m1_first = (0..200)
            .filter(|seed| {
                let mut h = Hunter::new(params(1));
                h.next_batch(&m, &mut StdRng::seed_from_u64(*seed))[0].name == "m1"
            })
            .count();
        assert!(m1_first > 170, "{m1_first}");
    }
}
