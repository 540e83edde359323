//! Listing a pool as a sans-IO state machine (src/osdc/Objecter.cc `list_nobjects`,
//! `_nlist_reply`, `enumerate_objects`; the OSD side in src/osd/PrimaryLogPG.cc
//! `do_pg_op`, `CEPH_OSD_OP_PGNLS`).
//!
//! With `SORTBITWISE` (required since Luminous) every PG holds one contiguous range of
//! the pool's object order, so a listing is a single position walking that order: each
//! PGNLS goes to the PG the position's hash falls in *in the map of the moment*, and the
//! OSD answers with the objects from there and the next position (an object of the same
//! PG, the first position of the next PG, or the maximum after the last PG). A change of
//! `pg_num` between two requests moves nothing: the position stays meaningful and the
//! next request simply goes to whichever PG now holds it, so no object is listed twice or
//! skipped. (Objecter's `starting_pg_num` bookkeeping only matters without SORTBITWISE.)
//!
//! Entries are buffered until a page is full, and the position a caller sees (the cursor)
//! only moves when a page is handed out: a page being fetched when its caller gives up is
//! not lost, the next call returns it.

use crate::error::{Error, Result};
use crate::list::ObjectEntry;
use crate::messages::{ListPosition, PgNlsResponse};

/// librados's page size (`RADOS_LIST_MAX_ENTRIES`); OSDs answer at most `osd_max_pgls`
/// (1024 by default) per request.
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 1024;

/// One PGNLS to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NextRequest {
    /// The raw placement hash the op targets (the position's hash).
    pub(crate) hash: u32,
    /// How many objects to ask for.
    pub(crate) count: u64,
    /// Where to list from.
    pub(crate) cookie: ListPosition,
}

/// Where a listing of one pool stands.
#[derive(Debug, Clone)]
pub(crate) struct ListState {
    pool: i64,
    page_size: u32,
    /// After the last entry handed out (the cursor).
    returned: ListPosition,
    /// After `pending`: where the next request starts.
    fetched: ListPosition,
    /// Fetched, not handed out yet.
    pending: Vec<ObjectEntry>,
}

impl ListState {
    /// A listing of `pool` from `start`, `page_size` entries a page (at least 1).
    pub(crate) fn new(pool: i64, page_size: u32, start: ListPosition) -> Self {
        ListState {
            pool,
            page_size: page_size.max(1),
            returned: start.clone(),
            fetched: start,
            pending: Vec::new(),
        }
    }

    /// Changes the page size (at least 1).
    pub(crate) fn set_page_size(&mut self, page_size: u32) {
        self.page_size = page_size.max(1);
    }

    /// Starts over from `start`, dropping what is buffered.
    pub(crate) fn seek(&mut self, start: ListPosition) {
        self.returned = start.clone();
        self.fetched = start;
        self.pending.clear();
    }

    /// The position after everything handed out so far.
    pub(crate) fn cursor(&self) -> &ListPosition {
        &self.returned
    }

    /// True once the last page was handed out.
    pub(crate) fn is_done(&self) -> bool {
        self.returned.max
    }

    /// A start position must be the minimum, the maximum, or one of this pool's (an OSD
    /// refuses a cookie outside the PG it is sent to).
    pub(crate) fn check_start(&self) -> Result<()> {
        let p = &self.fetched;
        if p.max || p.is_min() || p.pool == self.pool {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "the listing cursor belongs to another pool",
            ))
        }
    }

    /// The next PGNLS to send, or `None` when a page is ready (full, or the pool done).
    pub(crate) fn next_request(&self) -> Option<NextRequest> {
        let have = u32::try_from(self.pending.len()).unwrap_or(u32::MAX);
        if self.fetched.max || have >= self.page_size {
            return None;
        }
        Some(NextRequest {
            hash: self.fetched.hash,
            count: u64::from(self.page_size - have),
            cookie: self.fetched.clone(),
        })
    }

    /// An OSD's answer to the request [`ListState::next_request`] returned. The handle
    /// must lie after the cookie and in this pool; otherwise the listing would stall or
    /// wander, and the answer is refused.
    pub(crate) fn handle_response(&mut self, response: PgNlsResponse) -> Result<()> {
        let handle = response.handle;
        if !handle.max && handle.pool != self.pool {
            return Err(Error::Protocol(
                "an OSD's listing handle names another pool",
            ));
        }
        if handle <= self.fetched {
            return Err(Error::Protocol("an OSD's listing handle did not advance"));
        }
        tracing::trace!(
            entries = response.entries.len(),
            hash = format_args!("{:#010x}", handle.hash),
            end = handle.max,
            "listing: PGNLS answered"
        );
        self.pending
            .extend(response.entries.into_iter().map(ObjectEntry::from_raw));
        self.fetched = handle;
        Ok(())
    }

    /// The buffered page (possibly short at the end of the pool); `None` once the pool is
    /// done and nothing is left. Call when [`ListState::next_request`] says `None`.
    pub(crate) fn take_page(&mut self) -> Option<Vec<ObjectEntry>> {
        self.returned = self.fetched.clone();
        if self.pending.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.pending))
        }
    }
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
