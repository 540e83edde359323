//! `rbd-rs rados -p POOL cleanup [--prefix P] [--run-name NAME] [--all|-N NS]`, as `rados
//! cleanup` does it (src/common/obj_bencher.cc `ObjBencher::clean_up(prefix, ...)` and
//! `clean_up_slow`): list the pool (one namespace, or all of them with `--all`), note which
//! namespaces hold the run's metadata object and which hold objects named with the prefix
//! (default `benchmark_data_HOST`, any pid); then, in each namespace with such objects,
//! remove the objects the metadata names (and the metadata object), or, without metadata,
//! every object with the prefix ("slow linear search").

use std::collections::BTreeSet;
use std::sync::Arc;

use rados::{Errno, IoCtx};
use tokio::task::JoinSet;

/// What the listing found.
#[derive(Debug, Default)]
pub struct Found {
    /// Namespaces holding the run's metadata object.
    pub with_metadata: BTreeSet<String>,
    /// Namespaces holding objects whose name starts with the prefix (in `std::set` order).
    pub with_objects: BTreeSet<String>,
}

/// Lists `io`'s namespace (or every namespace) once.
pub async fn survey(
    io: &IoCtx,
    all_namespaces: bool,
    prefix: &str,
    run_name: &str,
) -> Result<Found, rados::Error> {
    let mut found = Found::default();
    let mut lister = if all_namespaces {
        io.list_all_objects()
    } else {
        io.list_objects()
    };
    loop {
        let page = match lister.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => break,
            // librados's iterator ends quietly on ENOENT
            Err(e) if e.is(Errno::ENOENT) => break,
            Err(e) => return Err(e),
        };
        for e in page {
            if e.oid == run_name {
                found.with_metadata.insert(e.nspace.clone());
            }
            if e.oid.starts_with(prefix) {
                found.with_objects.insert(e.nspace);
            }
        }
    }
    Ok(found)
}

/// `clean_up_slow`: removes every object of `io`'s namespace whose name starts with
/// `prefix`, `concurrency` at a time (missing ones are fine). Returns how many it removed;
/// a failed removal prints `remove got -ERRNO` and ends it with EIO, as in `rados`.
pub async fn remove_matching(io: &IoCtx, prefix: &str, concurrency: usize) -> Result<u64, Errno> {
    let mut names = Vec::new();
    let mut lister = io.list_objects();
    loop {
        match lister.next_page().await {
            Ok(Some(page)) => names.extend(
                page.into_iter()
                    .filter(|e| e.oid.starts_with(prefix))
                    .map(|e| e.oid),
            ),
            Ok(None) => break,
            Err(e) if e.is(Errno::ENOENT) => break,
            Err(e) => return Err(e.kind()),
        }
    }
    let io = Arc::new(io.clone());
    let mut tasks = JoinSet::new();
    let mut names = names.into_iter();
    let mut removed = 0u64;
    let spawn = |tasks: &mut JoinSet<Result<(), rados::Error>>, name: String| {
        let io = Arc::clone(&io);
        tasks.spawn(async move { io.remove(&name).await });
    };
    for name in names.by_ref().take(concurrency.max(1)) {
        spawn(&mut tasks, name);
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok(result) = joined else {
            return Err(Errno::EIO);
        };
        match result {
            Ok(()) => {}
            Err(e) if e.is(Errno::ENOENT) => {}
            Err(e) => {
                eprintln!("remove got {}", e.errno());
                return Err(Errno::EIO);
            }
        }
        removed += 1;
        if let Some(name) = names.next() {
            spawn(&mut tasks, name);
        }
    }
    Ok(removed)
}
