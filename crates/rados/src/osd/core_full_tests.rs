//! Ops an OSD drops without a reply while it or their pool is full (failsafe-full, or
//! sent before the map that marked the pool full): resent while the pool is full and at
//! the first map where it no longer is (Objecter's `force_resend_writes`).

use super::*;

/// A map after `m` where pool [`POOL`] is full (`full`) or not.
fn with_full(m: &OsdMap, full: bool) -> Arc<OsdMap> {
    next(m, |n| {
        if let Some(p) = n.pools.get_mut(&POOL) {
            if full {
                p.flags |= PgPool::FLAG_FULL;
            } else {
                p.flags &= !PgPool::FLAG_FULL;
            }
        }
    })
}

impl Harness {
    /// Submits a class method call sent as a read (as `IoCtx::exec` sends one).
    fn call(&mut self, oid: &str, flags: u32) -> (u64, Rx) {
        let mut op = RawOsdOp::cls(3, 17, 0);
        op.payload_len = 20;
        self.submit_op(oid, flags, op, Bytes::from_static(b"rbdobject_map_update"))
    }

    /// Applies `m`; returns (tid, retry_attempt) of each op sent.
    fn apply(&mut self, m: &Arc<OsdMap>) -> Vec<(u64, i32)> {
        self.core.handle_map(Arc::clone(m));
        sent(self.actions())
            .into_iter()
            .map(|(_, op)| (op.reqid.tid, op.retry_attempt))
            .collect()
    }
}

#[test]
fn a_call_dropped_while_full_is_resent_when_the_pool_is_no_longer_full() {
    // the stall seen in a flatten: an object_map_update (a write method, sent as a read)
    // reached an OSD past its failsafe ratio and was dropped; the pool was then marked
    // full and unfull, and nothing resent it
    let mut h = Harness::new(map(5, &[0, 1]));
    let (tid, mut rx) = h.call("rbd_object_map.1", flag::READ);
    let a = h.actions();
    assert_eq!(h.connect(a, PACIFIC).len(), 1);
    let full = with_full(h.core.map(), true);
    assert_eq!(h.apply(&full), [(tid, 1)]);
    let unfull = with_full(&full, false);
    assert_eq!(h.apply(&unfull), [(tid, 2)]);
    // a quiet map after that: nothing more
    let quiet = next(&unfull, |_| {});
    assert!(h.apply(&quiet).is_empty());
    assert!(rx.try_recv().is_err());
}

#[test]
fn rwordered_ops_are_resent_and_plain_reads_are_not() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let (ordered, _o) = h.submit("a", flag::READ | flag::RWORDERED);
    let (_read, _r) = h.submit("b", flag::READ);
    let (_tried, _t) = h.call("c", flag::READ | flag::FULL_TRY);
    let a = h.actions();
    assert_eq!(h.connect(a, PACIFIC).len(), 3);
    let full = with_full(h.core.map(), true);
    assert_eq!(h.apply(&full), [(ordered, 1)]);
    assert_eq!(h.apply(&with_full(&full, false)), [(ordered, 2)]);
}

#[test]
fn a_write_sent_before_full_is_held_while_full_and_resent_once_after() {
    let mut h = Harness::new(map(5, &[0, 1]));
    let (tid, _rx) = h.write("w");
    let a = h.actions();
    assert_eq!(h.connect(a, PACIFIC).len(), 1);
    // full: the write leaves its session (paused), nothing is sent
    let full = with_full(h.core.map(), true);
    assert!(h.apply(&full).is_empty());
    let still = next(&full, |_| {});
    assert!(h.apply(&still).is_empty());
    // unfull: sent again exactly once
    assert_eq!(h.apply(&with_full(&still, false)), [(tid, 1)]);
}

#[test]
fn a_watch_registration_is_not_resent_with_its_tid_but_sent_again_on_unpause() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (id, _events, _reg) = super::linger::watch(&mut h, "w");
    let a = h.actions();
    let first = h.connect(a, PACIFIC);
    assert_eq!(first.len(), 1);
    let full = with_full(h.core.map(), true);
    assert!(h.apply(&full).is_empty());
    // unpaused: a new registration op (new tid, attempt 0), the old one dropped
    let sent = h.apply(&with_full(&full, false));
    assert_eq!(sent.len(), 1);
    assert_ne!(sent[0].0, first[0].1.reqid.tid);
    assert_eq!(sent[0].1, 0);
    assert!(h.core.lingers.contains_key(&id));
    assert_eq!(h.core.in_flight(), 1);
}
