//! Watches and notifies in the objecter: registration, re-attachment after session resets
//! and primary changes (RECONNECT with the next generation, the old op dropped), pings,
//! lost watches reported once, notifications, notify completion matched by notify id.

use tokio::sync::mpsc;

use super::*;
use crate::messages::osd_types::watch_op;
use crate::messages::{MWatchNotify, watch_event};
use crate::osd::core::linger::{NotifyDone, PING_INTERVAL};
use crate::osd::core::{LingerKind, LingerRequest};
use crate::watch::WatchEvent;

pub(super) type Events = mpsc::UnboundedReceiver<WatchEvent>;
pub(super) type Registered = oneshot::Receiver<Result<()>>;

/// The watch fields of a sent WATCH op: (cookie, op, generation, timeout).
fn watch_fields(m: &MOsdOp) -> (u64, u8, u32, u32) {
    let op = &m.ops[0];
    assert_eq!(op.op, opcode::WATCH);
    let b = &op.body;
    (
        u64::from_le_bytes(b[0..8].try_into().unwrap()),
        b[16],
        u32::from_le_bytes(b[17..21].try_into().unwrap()),
        u32::from_le_bytes(b[21..25].try_into().unwrap()),
    )
}

pub(super) fn watch(h: &mut Harness, oid: &str) -> (u64, Events, Registered) {
    let (events_tx, events) = mpsc::unbounded_channel();
    let (reg_tx, reg) = oneshot::channel();
    let id = h.core.linger_register(
        LingerRequest {
            target: Target::new(
                oid.into(),
                ObjectLocator::new(POOL),
                flag::WRITE | flag::READ,
            ),
            snapid: SnapId::NOSNAP,
            snapc: SnapContext::default(),
            mtime: UTime::new(1, 0),
            kind: LingerKind::Watch {
                timeout: 0,
                events: events_tx,
                registered: Some(reg_tx),
            },
        },
        h.now,
    );
    (id, events, reg)
}

/// A watch on "w" registered with osd.2 as primary: returns it and the connection.
fn registered_watch(h: &mut Harness) -> (u64, Events, ConnId) {
    let (id, events, mut reg) = watch(h, "w");
    let actions = h.actions();
    let msgs = h.connect(actions, PACIFIC);
    assert_eq!(msgs.len(), 1);
    let (conn, m) = &msgs[0];
    assert_eq!(watch_fields(m), (id, watch_op::WATCH, 0, 0));
    assert_eq!(
        m.flags & (flag::WRITE | flag::READ),
        flag::WRITE | flag::READ
    );
    h.core
        .handle_reply(*conn, m.reqid.tid, reply(0, 0, 0, ONDISK));
    assert!(reg.try_recv().unwrap().is_ok());
    (id, events, *conn)
}

#[test]
fn a_watch_registers_once_and_reports_success() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (id, mut events, _) = registered_watch(&mut h);
    assert!(events.try_recv().is_err());
    assert_eq!(h.core.linger_check(id, h.now).unwrap(), Duration::ZERO);
    // the registration op is done: nothing left in flight but the linger itself
    assert_eq!(h.core.in_flight(), 0);
}

#[test]
fn a_failed_registration_fails_the_watch_call() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (_, _, mut reg) = watch(&mut h, "missing");
    let actions = h.actions();
    let msgs = h.connect(actions, PACIFIC);
    let (conn, m) = &msgs[0];
    h.core.handle_reply(
        *conn,
        m.reqid.tid,
        reply(0, 0, Errno::ENOENT.as_result(), ONDISK),
    );
    let err = reg.try_recv().unwrap().unwrap_err();
    assert!(err.is(Errno::ENOENT));
}

#[test]
fn a_session_reset_reattaches_the_watch_with_the_next_generation() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (id, mut events, conn) = registered_watch(&mut h);
    h.core.handle_closed(conn, h.now);
    let actions = h.actions();
    assert_eq!(connects(&actions), [2]);
    let msgs = h.connect(actions, PACIFIC);
    assert_eq!(msgs.len(), 1, "one RECONNECT, no stale op: {msgs:?}");
    let (conn2, m) = &msgs[0];
    assert_eq!(watch_fields(m), (id, watch_op::RECONNECT, 1, 0));
    // a second reset before the answer: only the newest RECONNECT goes out
    h.core.handle_closed(*conn2, h.now);
    let actions = h.actions();
    let msgs = h.connect(actions, PACIFIC);
    assert_eq!(msgs.len(), 1);
    let (conn3, m) = &msgs[0];
    assert_eq!(watch_fields(m), (id, watch_op::RECONNECT, 2, 0));
    h.core
        .handle_reply(*conn3, m.reqid.tid, reply(0, 0, 0, ONDISK));
    assert!(events.try_recv().is_err());
    assert!(h.core.linger_check(id, h.now).is_ok());
}

#[test]
fn a_new_primary_gets_the_watch_and_the_old_op_is_dropped() {
    let m5 = map(5, &[2, 1]);
    let mut h = Harness::new(m5.clone());
    let (id, _, _) = registered_watch(&mut h);
    h.core.handle_map(next(&m5, |m| set_acting(m, &[1, 2])));
    let actions = h.actions();
    assert_eq!(connects(&actions), [1]);
    let msgs = h.connect(actions, PACIFIC);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, h.conn_of(1));
    assert_eq!(watch_fields(&msgs[0].1), (id, watch_op::RECONNECT, 1, 0));
}

#[test]
fn a_failed_reconnect_reports_the_watch_lost_once_as_enotconn() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (id, mut events, conn) = registered_watch(&mut h);
    h.core.handle_closed(conn, h.now);
    let actions = h.actions();
    let msgs = h.connect(actions, PACIFIC);
    let (conn2, m) = &msgs[0];
    h.core.handle_reply(
        *conn2,
        m.reqid.tid,
        reply(0, 0, Errno::ENOENT.as_result(), ONDISK),
    );
    assert_eq!(
        events.try_recv().unwrap(),
        WatchEvent::Error(Errno::ENOTCONN)
    );
    assert!(
        h.core
            .linger_check(id, h.now)
            .unwrap_err()
            .is(Errno::ENOTCONN)
    );
    // a DISCONNECT afterwards is not reported again
    h.core.handle_watch_notify(MWatchNotify {
        cookie: id,
        opcode: watch_event::DISCONNECT,
        ..MWatchNotify::default()
    });
    assert!(events.try_recv().is_err());
}

#[test]
fn pings_keep_the_watch_confirmed_and_a_failed_ping_ends_it() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (id, mut events, conn) = registered_watch(&mut h);
    assert_eq!(h.core.poll_timeout(), Some(h.now + PING_INTERVAL));
    let t1 = h.now + PING_INTERVAL;
    h.core.handle_timeout(t1);
    let msgs = sent(h.actions());
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, conn);
    assert_eq!(watch_fields(&msgs[0].1), (id, watch_op::PING, 0, 0));
    h.core
        .handle_reply(conn, msgs[0].1.reqid.tid, reply(0, 0, 0, ONDISK));
    let later = t1 + Duration::from_secs(2);
    assert_eq!(
        h.core.linger_check(id, later).unwrap(),
        Duration::from_secs(2)
    );
    assert_eq!(h.core.poll_timeout(), Some(t1 + PING_INTERVAL));
    // the OSD no longer knows the watch
    let t2 = t1 + PING_INTERVAL;
    h.core.handle_timeout(t2);
    let msgs = sent(h.actions());
    h.core.handle_reply(
        conn,
        msgs[0].1.reqid.tid,
        reply(0, 0, Errno::ETIMEDOUT.as_result(), ONDISK),
    );
    assert_eq!(
        events.try_recv().unwrap(),
        WatchEvent::Error(Errno::ETIMEDOUT)
    );
    // a broken watch is not pinged any more
    h.core.handle_timeout(t2 + PING_INTERVAL);
    assert!(sent(h.actions()).is_empty());
}

#[test]
fn notifications_and_disconnects_reach_the_watch() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (id, mut events, _) = registered_watch(&mut h);
    h.core.handle_watch_notify(MWatchNotify {
        cookie: id,
        notify_id: 99,
        opcode: watch_event::NOTIFY,
        payload: Bytes::from_static(b"hi"),
        notifier_gid: 4200,
        ..MWatchNotify::default()
    });
    match events.try_recv().unwrap() {
        WatchEvent::Notify(n) => {
            assert_eq!((n.notify_id, n.cookie, n.notifier_gid), (99, id, 4200));
            assert_eq!(&n.payload[..], b"hi");
        }
        other => panic!("{other:?}"),
    }
    // another cookie is not ours
    h.core.handle_watch_notify(MWatchNotify {
        cookie: id + 100,
        opcode: watch_event::NOTIFY,
        ..MWatchNotify::default()
    });
    assert!(events.try_recv().is_err());
    h.core.handle_watch_notify(MWatchNotify {
        cookie: id,
        opcode: watch_event::DISCONNECT,
        ..MWatchNotify::default()
    });
    assert_eq!(
        events.try_recv().unwrap(),
        WatchEvent::Error(Errno::ENOTCONN)
    );
}

#[test]
fn a_cancelled_watch_is_neither_pinged_nor_resent() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (id, mut events, conn) = registered_watch(&mut h);
    h.core.linger_cancel(id);
    assert_eq!(h.core.poll_timeout(), None);
    h.core.handle_closed(conn, h.now);
    let actions = h.actions();
    assert!(h.connect(actions, PACIFIC).is_empty());
    assert!(events.try_recv().is_err());
}

fn notify(h: &mut Harness) -> (u64, oneshot::Receiver<Result<NotifyDone>>) {
    let (tx, rx) = oneshot::channel();
    let id = h.core.linger_register(
        LingerRequest {
            target: Target::new("n".into(), ObjectLocator::new(POOL), flag::READ),
            snapid: SnapId::NOSNAP,
            snapc: SnapContext::default(),
            mtime: UTime::default(),
            kind: LingerKind::Notify {
                payload: Bytes::from_static(b"\x02\0\0\0hi"),
                timeout: 10,
                done: Some(tx),
            },
        },
        h.now,
    );
    (id, rx)
}

fn notify_ack_reply(notify_id: u64) -> MOsdOpReply {
    let mut op = RawOsdOp::new(opcode::NOTIFY);
    op.payload_len = 8;
    MOsdOpReply {
        flags: ONDISK,
        ops: vec![op],
        rvals: vec![0],
        data: Bytes::copy_from_slice(&notify_id.to_le_bytes()),
        ..MOsdOpReply::default()
    }
}

#[test]
fn a_notify_completes_with_the_replies_of_its_own_notify_id() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (id, mut done) = notify(&mut h);
    let actions = h.actions();
    let msgs = h.connect(actions, PACIFIC);
    let (conn, m) = &msgs[0];
    assert_eq!(m.ops[0].op, opcode::NOTIFY);
    assert_eq!(
        u64::from_le_bytes(m.ops[0].body[0..8].try_into().unwrap()),
        id
    );
    // prot_ver 1, timeout 10 s, the payload as a bufferlist
    assert_eq!(&m.data[..], b"\x01\0\0\0\x0a\0\0\0\x06\0\0\0\x02\0\0\0hi");
    h.core
        .handle_reply(*conn, m.reqid.tid, notify_ack_reply(55));
    assert!(done.try_recv().is_err());
    let complete = |notify_id| MWatchNotify {
        cookie: id,
        notify_id,
        opcode: watch_event::NOTIFY_COMPLETE,
        return_code: Errno::ETIMEDOUT.as_result(),
        data: Bytes::from_static(b"data"),
        ..MWatchNotify::default()
    };
    h.core.handle_watch_notify(complete(54));
    assert!(done.try_recv().is_err(), "another notify's completion");
    h.core.handle_watch_notify(complete(55));
    let d = done.try_recv().unwrap().unwrap();
    assert_eq!(d.return_code, Errno::ETIMEDOUT.as_result());
    assert_eq!(&d.data[..], b"data");
}

#[test]
fn a_notify_interrupted_by_a_reset_is_sent_again_whole() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (_, mut done) = notify(&mut h);
    let actions = h.actions();
    let msgs = h.connect(actions, PACIFIC);
    h.core.handle_closed(msgs[0].0, h.now);
    let actions = h.actions();
    let again = h.connect(actions, PACIFIC);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.ops[0].op, opcode::NOTIFY);
    assert_eq!(again[0].1.data, msgs[0].1.data);
    let failed = reply(0, 0, Errno::ENOENT.as_result(), ONDISK);
    h.core
        .handle_reply(again[0].0, again[0].1.reqid.tid, failed);
    assert!(done.try_recv().unwrap().unwrap_err().is(Errno::ENOENT));
}

#[test]
fn shutdown_fails_pending_registrations() {
    let mut h = Harness::new(map(5, &[2, 1]));
    let (_, _, mut reg) = watch(&mut h, "w");
    let (_, mut done) = notify(&mut h);
    h.core.shutdown();
    assert!(matches!(reg.try_recv().unwrap(), Err(Error::Shutdown)));
    assert!(matches!(done.try_recv().unwrap(), Err(Error::Shutdown)));
}

#[test]
fn a_skipped_epoch_reattaches_watches() {
    let m5 = map(5, &[2, 1]);
    let mut h = Harness::new(m5.clone());
    let (id, _, conn) = registered_watch(&mut h);
    let mut m9 = m5.clone();
    m9.epoch = 9;
    h.core.handle_map(Arc::new(m9));
    let msgs = sent(h.actions());
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, conn);
    assert_eq!(watch_fields(&msgs[0].1), (id, watch_op::RECONNECT, 1, 0));
}

#[test]
fn a_replica_change_reattaches_watches_but_does_not_resend_ops() {
    // osd.0 joins the acting set behind the same primary: a new PG interval, in which the
    // OSD forgets watch state; plain ops stay where they are
    let m5 = map(5, &[2, 1]);
    let mut h = Harness::new(m5.clone());
    let (id, _, conn) = registered_watch(&mut h);
    let (_tid, _rx) = h.write("other");
    let _ = sent(h.actions());
    h.core.handle_map(next(&m5, |m| set_acting(m, &[2, 1, 0])));
    let msgs = sent(h.actions());
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].0, conn);
    assert_eq!(watch_fields(&msgs[0].1), (id, watch_op::RECONNECT, 1, 0));
}
