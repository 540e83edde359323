//! Subscription bookkeeping (src/mon/MonSub.cc): what we want, what we have sent, and the
//! start epochs that move forward as maps arrive, so that a new session resubscribes from
//! where we are.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::messages::{SUBSCRIBE_ONETIME, SubscribeItem};

/// Subscriptions, sans-IO.
#[derive(Debug, Clone, Default)]
pub(crate) struct Subscriptions {
    /// Sent to the current monitor.
    sent: BTreeMap<String, SubscribeItem>,
    /// Wanted but not sent yet.
    new: BTreeMap<String, SubscribeItem>,
    /// When the last renewal went out (only legacy monitors ack and need renewals).
    renew_sent: Option<Instant>,
    renew_after: Option<Instant>,
}

impl Subscriptions {
    /// True if something is waiting to be sent.
    pub(crate) fn have_new(&self) -> bool {
        !self.new.is_empty()
    }

    /// What to put in the next `MMonSubscribe`.
    pub(crate) fn pending(&self) -> BTreeMap<String, SubscribeItem> {
        self.new.clone()
    }

    /// The start epoch requested for `what` (0 if not subscribed).
    #[cfg(test)]
    pub(crate) fn start(&self, what: &str) -> u64 {
        self.new
            .get(what)
            .or_else(|| self.sent.get(what))
            .map_or(0, |s| s.start)
    }

    /// True if `what` is wanted or subscribed.
    #[cfg(test)]
    pub(crate) fn contains(&self, what: &str) -> bool {
        self.new.contains_key(what) || self.sent.contains_key(what)
    }

    /// The pending subscriptions were sent (`MonSub::renewed`).
    pub(crate) fn renewed(&mut self, now: Instant) {
        if self.renew_sent.is_none() {
            self.renew_sent = Some(now);
        }
        let new = std::mem::take(&mut self.new);
        self.sent.extend(new);
    }

    /// A legacy monitor acknowledged them: renew at half the interval.
    pub(crate) fn acked(&mut self, interval_secs: u32) {
        if let Some(sent) = self.renew_sent.take() {
            self.renew_after = Some(sent + Duration::from_secs(u64::from(interval_secs)) / 2);
        }
    }

    /// True once a legacy monitor's subscription interval is half over.
    pub(crate) fn need_renew(&self, now: Instant) -> bool {
        self.renew_after.is_some_and(|t| now > t)
    }

    /// A new session: everything sent must be sent again. True if there is something to
    /// send.
    pub(crate) fn reload(&mut self) -> bool {
        for (what, item) in &self.sent {
            self.new.entry(what.clone()).or_insert(*item);
        }
        self.have_new()
    }

    /// Version `have` of `what` arrived: the next start is `have + 1`, and a one-time
    /// subscription that is satisfied is dropped.
    pub(crate) fn got(&mut self, what: &str, have: u64) {
        let table = if self.new.contains_key(what) {
            &mut self.new
        } else {
            &mut self.sent
        };
        if let Some(item) = table.get_mut(what) {
            if item.start <= have {
                if item.flags & SUBSCRIBE_ONETIME != 0 {
                    table.remove(what);
                } else {
                    item.start = have.saturating_add(1);
                }
            }
        }
    }

    /// Wants `what` from `start` with `flags`. True if that changes anything (then send).
    pub(crate) fn want(&mut self, what: &str, start: u64, flags: u8) -> bool {
        let item = SubscribeItem { start, flags };
        if self.new.get(what) == Some(&item) || self.sent.get(what) == Some(&item) {
            return false;
        }
        self.new.insert(what.to_owned(), item);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_move_forward_and_survive_a_new_session() {
        let mut s = Subscriptions::default();
        let now = Instant::now();
        assert!(s.want("monmap", 0, 0));
        assert!(s.want("osdmap", 0, 0));
        assert!(!s.want("osdmap", 0, 0));
        assert_eq!(s.pending().len(), 2);
        s.renewed(now);
        assert!(!s.have_new());
        s.got("osdmap", 12);
        s.got("monmap", 1);
        assert_eq!(s.start("osdmap"), 13);
        assert_eq!(s.start("monmap"), 2);
        // a map older than the start changes nothing
        s.got("osdmap", 5);
        assert_eq!(s.start("osdmap"), 13);
        // reconnect: resubscribe from where we are
        assert!(s.reload());
        let p = s.pending();
        assert_eq!(
            p["osdmap"],
            SubscribeItem {
                start: 13,
                flags: 0
            }
        );
        assert_eq!(p["monmap"], SubscribeItem { start: 2, flags: 0 });
        s.renewed(now);
        assert!(!s.reload() || s.have_new());
    }

    #[test]
    fn onetime_subscriptions_end_when_satisfied() {
        let mut s = Subscriptions::default();
        s.want("osdmap", 0, SUBSCRIBE_ONETIME);
        s.got("osdmap", 3);
        assert!(!s.contains("osdmap"));
        s.want("osdmap", 10, SUBSCRIBE_ONETIME);
        s.renewed(Instant::now());
        s.got("osdmap", 9);
        assert!(s.contains("osdmap"));
        s.got("osdmap", 10);
        assert!(!s.contains("osdmap"));
    }

    #[test]
    fn legacy_renewal_at_half_the_interval() {
        let mut s = Subscriptions::default();
        let t0 = Instant::now();
        s.want("monmap", 0, 0);
        s.renewed(t0);
        assert!(!s.need_renew(t0 + Duration::from_secs(1000)));
        s.acked(300);
        assert!(!s.need_renew(t0 + Duration::from_secs(150)));
        assert!(s.need_renew(t0 + Duration::from_secs(151)));
    }
}
