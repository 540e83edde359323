//! The listing walk against a simulated pool whose OSDs answer PGNLS as
//! `PrimaryLogPG::do_pg_op` does (bounds check, `objects_list_partial`, namespace filter,
//! handle at the next object or the start of the next PG), with `pg_num` changing between
//! requests.

use std::collections::BTreeSet;

use denc::SnapId;
use osdmap::hash::{cbits, pg_mask, stable_mod};

use super::*;
use crate::list::ALL_NAMESPACES;
use crate::messages::ListEntry;

const POOL: i64 = 7;

/// `pg_t::get_split_bits`.
fn split_bits(seed: u32, pg_num: u32) -> u32 {
    if pg_num == 1 {
        return 0;
    }
    let p = cbits(pg_num);
    let half = 1u32 << (p - 1);
    if seed % half < pg_num % half {
        p
    } else {
        p - 1
    }
}

/// `pg_t::get_hobj_start`.
fn pg_start(seed: u32) -> ListPosition {
    ListPosition {
        hash: seed,
        pool: POOL,
        ..ListPosition::default()
    }
}

/// `pg_t::get_hobj_end`.
fn pg_end(seed: u32, pg_num: u32) -> ListPosition {
    let bits = split_bits(seed, pg_num);
    let rev_start = u64::from(seed.reverse_bits());
    let rev_end = (rev_start | (0xffff_ffffu64 >> bits)) + 1;
    match u32::try_from(rev_end) {
        Ok(rev) => ListPosition {
            hash: rev.reverse_bits(),
            snap: SnapId::NOSNAP,
            pool: POOL,
            ..ListPosition::default()
        },
        Err(_) => ListPosition::max(),
    }
}

/// A pool's objects (sorted) and its current `pg_num`.
struct FakePool {
    objects: Vec<ListPosition>,
    pg_num: u32,
    requests: usize,
}

impl FakePool {
    /// `n` objects over namespaces "", "a", "b", a few with locator keys and clones.
    fn new(n: u32, pg_num: u32) -> Self {
        let mut x: u32 = 0x9e37_79b9;
        let mut objects = Vec::new();
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let nspace = ["", "a", "b"][(i % 3) as usize];
            let key = if i % 7 == 0 {
                format!("key{}", i % 5)
            } else {
                String::new()
            };
            let head = ListPosition {
                key: key.into_bytes(),
                oid: format!("obj{i}").into_bytes(),
                snap: SnapId::NOSNAP,
                hash: x,
                max: false,
                nspace: nspace.as_bytes().to_vec(),
                pool: POOL,
            };
            if i % 11 == 0 {
                // a clone: never listed
                objects.push(ListPosition {
                    snap: SnapId(3),
                    ..head.clone()
                });
            }
            objects.push(head);
        }
        objects.sort();
        FakePool {
            objects,
            pg_num,
            requests: 0,
        }
    }

    /// What the primary of the PG `hash` falls in answers (`do_pg_op`, PGNLS).
    fn pgnls(&mut self, req: &NextRequest, nspace: &str) -> PgNlsResponse {
        self.requests += 1;
        let seed = stable_mod(req.hash, self.pg_num, pg_mask(self.pg_num));
        let (start, end) = (pg_start(seed), pg_end(seed, self.pg_num));
        let lower = &req.cookie;
        // "this should only happen with a buggy client": EINVAL
        assert!(
            (lower.is_min() || *lower >= start) && (lower.max || *lower < end),
            "cookie {lower:?} outside PG {seed:x} of {}",
            self.pg_num
        );
        let in_pg: Vec<&ListPosition> = self
            .objects
            .iter()
            .filter(|o| stable_mod(o.hash, self.pg_num, pg_mask(self.pg_num)) == seed)
            .filter(|o| *o >= lower)
            .collect();
        let count = usize::try_from(req.count).unwrap();
        let listed = &in_pg[..count.min(in_pg.len())];
        let next = in_pg.get(count).map(|o| (*o).clone());
        let entries = listed
            .iter()
            .filter(|o| o.snap == SnapId::NOSNAP)
            .filter(|o| nspace == ALL_NAMESPACES || o.nspace == nspace.as_bytes())
            .map(|o| ListEntry {
                nspace: o.nspace.clone(),
                oid: o.oid.clone(),
                locator: o.key.clone(),
            })
            .collect();
        PgNlsResponse {
            handle: next.unwrap_or(end),
            entries,
        }
    }

    fn expected(&self, nspace: &str) -> Vec<ObjectEntry> {
        self.objects
            .iter()
            .filter(|o| o.snap == SnapId::NOSNAP)
            .filter(|o| nspace == ALL_NAMESPACES || o.nspace == nspace.as_bytes())
            .map(|o| ObjectEntry {
                nspace: String::from_utf8(o.nspace.clone()).unwrap(),
                oid: String::from_utf8(o.oid.clone()).unwrap(),
                locator: String::from_utf8(o.key.clone()).unwrap(),
            })
            .collect()
    }
}

/// Runs a listing to the end; `between_pages` may change the pool after each page.
fn walk(
    pool: &mut FakePool,
    state: &mut ListState,
    nspace: &str,
    mut between_pages: impl FnMut(usize, &mut FakePool),
) -> Vec<ObjectEntry> {
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        while let Some(req) = state.next_request() {
            let resp = pool.pgnls(&req, nspace);
            state.handle_response(resp).unwrap();
        }
        match state.take_page() {
            Some(page) => {
                assert!(!page.is_empty());
                all.extend(page);
                pages += 1;
                between_pages(pages, pool);
            }
            None => break,
        }
    }
    assert!(state.is_done());
    assert!(state.take_page().is_none());
    all
}

#[test]
fn walks_every_pg_in_object_order() {
    for pg_num in [1, 8, 12, 32] {
        for page in [1, 3, 64, 1024] {
            for nspace in ["", "a", ALL_NAMESPACES] {
                let mut pool = FakePool::new(300, pg_num);
                let mut state = ListState::new(POOL, page, ListPosition::min());
                let got = walk(&mut pool, &mut state, nspace, |_, _| {});
                assert_eq!(got, pool.expected(nspace), "pg_num {pg_num} page {page}");
                // every PG was asked at least once
                assert!(pool.requests >= pg_num as usize);
            }
        }
    }
}

#[test]
fn an_empty_pool_takes_one_request_per_pg() {
    let mut pool = FakePool::new(0, 16);
    let mut state = ListState::new(POOL, 10, ListPosition::min());
    assert!(walk(&mut pool, &mut state, "", |_, _| {}).is_empty());
    assert_eq!(pool.requests, 16);
}

#[test]
fn pg_num_changes_between_pages_list_everything_once() {
    // splits (8 -> 16, 8 -> 12), merges (16 -> 8, 12 -> 5) and back again, after every
    // few pages
    for (from, to) in [(8, 16), (8, 12), (16, 8), (12, 5), (1, 32), (32, 1)] {
        for every in [1, 2, 5] {
            let mut pool = FakePool::new(400, from);
            let mut state = ListState::new(POOL, 7, ListPosition::min());
            let got = walk(&mut pool, &mut state, ALL_NAMESPACES, |n, p| {
                if n % every == 0 {
                    p.pg_num = if p.pg_num == from { to } else { from };
                }
            });
            let want = pool.expected(ALL_NAMESPACES);
            let unique: BTreeSet<&ObjectEntry> = got.iter().collect();
            assert_eq!(unique.len(), got.len(), "{from}->{to}: duplicates");
            assert_eq!(got, want, "{from}->{to} every {every}");
        }
    }
}

#[test]
fn a_cursor_resumes_exactly_where_it_was_taken() {
    let mut pool = FakePool::new(250, 32);
    let want = pool.expected("");
    for stop_after in [1, 4, 9] {
        let mut state = ListState::new(POOL, 10, ListPosition::min());
        let mut first = Vec::new();
        for _ in 0..stop_after {
            while let Some(req) = state.next_request() {
                let resp = pool.pgnls(&req, "");
                state.handle_response(resp).unwrap();
            }
            first.extend(state.take_page().unwrap());
        }
        // through the cursor's string form, into a fresh state
        let cursor = crate::list::ListCursor::from(state.cursor().clone());
        let text = cursor.to_string();
        let back: crate::list::ListCursor = text.parse().unwrap();
        assert_eq!(back, cursor);
        let mut resumed = ListState::new(POOL, 13, back.position().clone());
        resumed.check_start().unwrap();
        let rest = walk(&mut pool, &mut resumed, "", |_, _| {});
        first.extend(rest);
        assert_eq!(first, want, "stopped after {stop_after} pages");
    }
}

#[test]
fn an_abandoned_page_is_handed_out_next_time() {
    let mut pool = FakePool::new(100, 8);
    let mut state = ListState::new(POOL, 20, ListPosition::min());
    // two answers arrive, then the caller gives up before the page is complete
    for _ in 0..2 {
        let req = state.next_request().unwrap();
        let resp = pool.pgnls(&req, "");
        state.handle_response(resp).unwrap();
    }
    assert!(state.cursor().is_min(), "nothing handed out yet");
    let got = walk(&mut pool, &mut state, "", |_, _| {});
    assert_eq!(got, pool.expected(""));
}

#[test]
fn requests_ask_for_what_the_page_lacks() {
    let mut state = ListState::new(POOL, 5, ListPosition::min());
    let req = state.next_request().unwrap();
    assert_eq!((req.hash, req.count), (0, 5));
    assert!(req.cookie.is_min());
    let entry = |name: &str| ListEntry {
        oid: name.as_bytes().to_vec(),
        ..ListEntry::default()
    };
    state
        .handle_response(PgNlsResponse {
            handle: pg_end(0, 8),
            entries: vec![entry("x"), entry("y")],
        })
        .unwrap();
    let req = state.next_request().unwrap();
    assert_eq!(
        (req.hash, req.count),
        (4, 3),
        "PG 4 follows PG 0 in object order"
    );
    state.set_page_size(2);
    assert!(state.next_request().is_none());
    assert_eq!(state.take_page().unwrap().len(), 2);
    assert_eq!(state.cursor(), &pg_end(0, 8));
    state.seek(ListPosition::max());
    assert!(state.next_request().is_none());
    assert!(state.take_page().is_none());
    assert!(state.is_done());
}

#[test]
fn bad_handles_and_foreign_cursors_are_refused() {
    let mut state = ListState::new(POOL, 5, pg_end(0, 8));
    // a handle that does not advance
    let stuck = PgNlsResponse {
        handle: pg_end(0, 8),
        entries: Vec::new(),
    };
    assert!(matches!(
        state.handle_response(stuck),
        Err(Error::Protocol(_))
    ));
    let backwards = PgNlsResponse {
        handle: ListPosition::min(),
        entries: Vec::new(),
    };
    assert!(state.handle_response(backwards).is_err());
    let foreign = PgNlsResponse {
        handle: ListPosition {
            pool: POOL + 1,
            ..pg_end(0, 8)
        },
        entries: Vec::new(),
    };
    assert!(state.handle_response(foreign).is_err());
    // a cursor of another pool
    let other = ListState::new(
        POOL,
        5,
        ListPosition {
            pool: 1,
            ..pg_end(0, 8)
        },
    );
    assert!(matches!(
        other.check_start(),
        Err(Error::InvalidArgument(_))
    ));
    assert!(
        ListState::new(POOL, 5, ListPosition::max())
            .check_start()
            .is_ok()
    );
}

#[test]
fn pg_ends_follow_object_order() {
    // the end of each PG is the start of the next one in object order, and the last is max
    for pg_num in [1u32, 2, 5, 8, 12, 32, 100] {
        let mut seen = BTreeSet::new();
        let mut at = ListPosition::min();
        loop {
            let seed = stable_mod(at.hash, pg_num, pg_mask(pg_num));
            assert!(seen.insert(seed), "PG {seed:x} twice for pg_num {pg_num}");
            at = pg_end(seed, pg_num);
            if at.max {
                break;
            }
            assert_eq!(stable_mod(at.hash, pg_num, pg_mask(pg_num)), at.hash);
        }
        assert_eq!(seen.len(), pg_num as usize);
    }
}
