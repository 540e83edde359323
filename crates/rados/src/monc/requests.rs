//! Requests waiting for a monitor's answer: commands by tid, version queries by handle,
//! each with an optional deadline. They survive a change of monitor: everything pending is
//! sent again on the new session.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Where an answer goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

/// The result of a monitor command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandReply {
    /// 0 or a negative errno.
    pub code: i32,
    /// The status text (`ceph` prints it to stderr).
    pub status: String,
    /// The output (`ceph` prints it to stdout).
    pub data: Bytes,
}

/// A command in flight.
#[derive(Debug)]
pub(crate) struct PendingCommand {
    pub(crate) cmd: Vec<String>,
    pub(crate) data: Bytes,
    pub(crate) deadline: Option<Instant>,
    pub(crate) reply: Reply<CommandReply>,
}

/// A version query in flight.
#[derive(Debug)]
pub(crate) struct PendingVersion {
    pub(crate) what: String,
    pub(crate) deadline: Option<Instant>,
    pub(crate) reply: Reply<(u64, u64)>,
}

/// Another message awaiting a monitor's answer of a known type with the same tid
/// (`MPoolOp` -> `MPoolOpReply`, `MGetPoolStats` -> `MGetPoolStatsReply`).
#[derive(Debug)]
pub(crate) struct PendingRaw {
    /// The message, without its tid (set when sent).
    pub(crate) msg: msgr2::Message,
    /// The type of the answer.
    pub(crate) reply_type: u16,
    pub(crate) deadline: Option<Instant>,
    pub(crate) reply: Reply<msgr2::Message>,
}

impl Pending for PendingRaw {
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn fail(self, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

/// Requests keyed by id, with the id counter.
#[derive(Debug)]
pub(crate) struct Table<T> {
    last_id: u64,
    pending: BTreeMap<u64, T>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            last_id: 0,
            pending: BTreeMap::new(),
        }
    }
}

/// What every pending request has.
pub(crate) trait Pending {
    fn deadline(&self) -> Option<Instant>;
    fn fail(self, error: Error);
}

impl Pending for PendingCommand {
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn fail(self, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

impl Pending for PendingVersion {
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn fail(self, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

impl<T: Pending> Table<T> {
    /// Stores a request under the next id.
    pub(crate) fn insert(&mut self, request: T) -> u64 {
        self.last_id += 1;
        self.pending.insert(self.last_id, request);
        self.last_id
    }

    /// Takes the request `id`; id 0 means the oldest (old monitors answered commands with
    /// tid 0, src/mon/MonClient.cc `handle_mon_command_ack`).
    pub(crate) fn take(&mut self, id: u64) -> Option<T> {
        if id == 0 {
            return self.pending.pop_first().map(|(_, r)| r);
        }
        self.pending.remove(&id)
    }

    /// Every pending request, oldest first (to resend them).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.pending.iter().map(|(id, r)| (*id, r))
    }

    /// Number pending.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().filter_map(Pending::deadline).min()
    }

    /// Fails every request whose deadline is past with `error()`. Returns the ids.
    pub(crate) fn expire(&mut self, now: Instant, error: impl Fn() -> Error) -> Vec<u64> {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, r)| r.deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in &due {
            if let Some(r) = self.pending.remove(id) {
                r.fail(error());
            }
        }
        due
    }

    /// Fails every request with `error()`.
    pub(crate) fn fail_all(&mut self, error: impl Fn() -> Error) {
        for (_, r) in std::mem::take(&mut self.pending) {
            r.fail(error());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn command(
        deadline: Option<Instant>,
    ) -> (PendingCommand, oneshot::Receiver<Result<CommandReply>>) {
        let (tx, rx) = oneshot::channel();
        (
            PendingCommand {
                cmd: vec!["{}".into()],
                data: Bytes::new(),
                deadline,
                reply: tx,
            },
            rx,
        )
    }

    #[test]
    fn ids_deadlines_and_tid_zero() {
        let t0 = Instant::now();
        let mut t: Table<PendingCommand> = Table::default();
        let (a, mut ra) = command(Some(t0 + Duration::from_secs(5)));
        let (b, _rb) = command(None);
        let (c, mut rc) = command(Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.insert(a), 1);
        assert_eq!(t.insert(b), 2);
        assert_eq!(t.insert(c), 3);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        let expired = t.expire(t0 + Duration::from_secs(2), || Error::Timeout {
            operation: "monitor command",
            after: Duration::from_secs(1),
        });
        assert_eq!(expired, [3]);
        assert!(matches!(rc.try_recv(), Ok(Err(Error::Timeout { .. }))));
        assert!(ra.try_recv().is_err());
        // tid 0 is the oldest
        let first = t.take(0).unwrap();
        let _ = first.reply.send(Ok(CommandReply {
            code: 0,
            status: String::new(),
            data: Bytes::new(),
        }));
        assert!(matches!(ra.try_recv(), Ok(Ok(_))));
        assert_eq!(t.iter().map(|(id, _)| id).collect::<Vec<_>>(), [2]);
        t.fail_all(|| Error::Shutdown);
        assert_eq!(t.len(), 0);
        assert!(t.take(2).is_none());
    }
}
