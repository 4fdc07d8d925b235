//! The error journal's policy: every error response is kept under its `target` tracking id, the
//! newest `capacity` of them, in the store (so `palisade trace` in another process finds them).
//!
//! # Group commit
//!
//! An error response must not wait on the disk, yet its target must be traceable the moment the
//! response is received. So [`Core::record_error`] only appends the record to an in-memory queue
//! (a mutex held for a push) and wakes the journal's writer thread; [`Core::find_error`] looks in
//! that queue first, then in the store (read-your-writes in this process). The writer takes
//! everything queued, writes it in one transaction ([`JournalStore::record_errors`]) and only then
//! removes it from the queue, so a record is always in one of the two places. Records arriving
//! while a batch is written form the next batch: under load, batches grow and the cost per error
//! falls.
//!
//! **Across processes** on one store, a record raised by another process is in that process's
//! queue until its writer commits the batch: the writer starts as soon as a record is queued, so
//! that takes one batch's write time (milliseconds; longer only while the store is busy).
//! [`Core::find_error_shared`] (the admin trace route, `palisade trace`) therefore retries a miss
//! in the store for up to [`PEER_FLUSH_BOUND`] before answering that the target is unknown: a
//! target is traceable on every process once its response is received, provided the raising
//! process's writer commits within that bound. Targets are version-7 UUIDs carrying the moment they
//! were issued, so only a target issued less than that bound ago is waited for: an old or foreign
//! target misses at once.
//!
//! What may be lost: a clean shutdown flushes the queue ([`Core::flush_journal`], also on drop),
//! so a target survives a restart. A `kill -9` (or a power loss) loses the records still queued:
//! the errors of the last few milliseconds (one batch's write time) before the kill. Another
//! process (`palisade trace`) sees a record once its batch is committed, milliseconds later.
//!
//! The queue is bounded ([`QUEUE_HIGH_WATER`]): past it, [`Core::record_error`] tells the caller to
//! wait ([`Core::wait_journal_below_high_water`], on a blocking thread) so a disk slower than the
//! error rate slows the errors instead of growing memory.

use crate::{Core, DomainResult};
use palisade_model::journal::ErrorRecord;
use palisade_store::{Store, StoreError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long a lookup that misses keeps looking in the store for a record another process may
/// still be writing (see the module doc).
pub const PEER_FLUSH_BOUND: Duration = Duration::from_millis(1_000);

/// Records queued beyond which producers wait for the writer.
pub const QUEUE_HIGH_WATER: usize = 16_384;

/// How long the writer waits before trying an unavailable store again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Most records written in one transaction.
const BATCH: usize = 4_096;

/// How long the writer waits, once woken, for more records to write in the same transaction.
const GATHER: Duration = Duration::from_millis(2);

/// The queue and the writer thread, owned by [`Core`].
pub struct JournalQueue {
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct Shared {
    store: Arc<dyn Store>,
    queue: Mutex<Queue>,
    /// Wakes the writer (records queued, or shutdown).
    work: Condvar,
    /// Wakes producers and flushers (a batch was written).
    written: Condvar,
    /// Held while a batch is copied, written and dropped from the queue, and while the journal is
    /// cleared, so a batch in flight cannot come back after a reset.
    batch: Mutex<()>,
    capacity: AtomicUsize,
}

#[derive(Default)]
struct Queue {
    records: VecDeque<ErrorRecord>,
    /// Records ever queued / ever written (or dropped by a clear): a flush waits until the second
    /// reaches what the first was when it began.
    queued: u64,
    done: u64,
    shutdown: bool,
    /// The writer sleeps on `work`: only then does a new record need to wake it (a wake-up is a
    /// system call, on every error response otherwise).
    writer_waiting: bool,
}

impl JournalQueue {
    pub(crate) fn start(store: Arc<dyn Store>) -> Self {
        let shared = Arc::new(Shared {
            store,
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            written: Condvar::new(),
            batch: Mutex::new(()),
            capacity: AtomicUsize::new(usize::MAX),
        });
        let thread_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("palisade-journal".into())
            .spawn(move || thread_shared.run())
            .expect("the journal writer thread starts");
        JournalQueue {
            shared,
            writer: Mutex::new(Some(writer)),
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self) {
        loop {
            {
                let mut queue = self.lock();
                while queue.records.is_empty() && !queue.shutdown {
                    queue.writer_waiting = true;
                    queue = self.work.wait(queue).unwrap_or_else(|e| e.into_inner());
                    queue.writer_waiting = false;
                }
                if queue.records.is_empty() && queue.shutdown {
                    return;
                }
                if !queue.shutdown && queue.records.len() < BATCH {
                    drop(queue);
                    // Gathers the errors of the next moments into the same transaction: one
                    // commit per error cost more than the error itself under load.
                    std::thread::sleep(GATHER);
                }
            }
            if !self.write_batch() {
                // The store is unavailable (a database outage): retry shortly, unless stopping.
                let queue = self.lock();
                if queue.shutdown {
                    return;
                }
                let _ = self.work.wait_timeout(queue, RETRY_AFTER);
            }
        }
    }

    /// Writes the oldest queued records, then drops them from the queue; `false` when the store
    /// was unavailable and they stay queued (still findable) for the next try.
    fn write_batch(&self) -> bool {
        let _batch = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        let records: Vec<ErrorRecord> = self.lock().records.iter().take(BATCH).cloned().collect();
        if records.is_empty() {
            return true;
        }
        let capacity = self.capacity.load(Ordering::Relaxed);
        match self.store.record_errors(&records, capacity) {
            Ok(()) => {}
            Err(StoreError::Unavailable(e)) => {
                // A database outage: the records stay queued and are written when it returns
                // (the errors of the outage itself stay traceable), but the queue stays bounded.
                let mut queue = self.lock();
                let excess = queue.records.len().saturating_sub(QUEUE_HIGH_WATER);
                if excess > 0 {
                    queue.records.drain(..excess);
                    queue.done += excess as u64;
                    tracing::error!(error = %e, dropped = excess, "error journal: store unavailable, oldest records dropped");
                } else {
                    tracing::warn!(error = %e, queued = queue.records.len(), "error journal: store unavailable, records kept queued");
                }
                drop(queue);
                self.written.notify_all();
                return false;
            }
            Err(e) => {
                // Kept in the queue would retry forever on a broken store; the records stay
                // findable nowhere, and the log says so (with the targets, so they can still be
                // told apart).
                let targets: Vec<&str> = records.iter().map(|r| r.target.as_str()).collect();
                tracing::error!(error = %e, ?targets, "error journal write failed");
            }
        }
        let mut queue = self.lock();
        let n = records.len().min(queue.records.len());
        queue.records.drain(..n);
        queue.done += n as u64;
        drop(queue);
        self.written.notify_all();
        true
    }
}

impl Drop for JournalQueue {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
        if let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = writer.join();
        }
    }
}

impl Core {
    /// Keeps an error response's record, dropping the oldest beyond `capacity`. Returns at once
    /// (the record is queued and findable); `true` when the queue is past its high-water mark and
    /// the caller should [`wait_journal_below_high_water`](Core::wait_journal_below_high_water).
    pub fn record_error(&self, record: ErrorRecord, capacity: usize) -> bool {
        let shared = &self.journal.shared;
        shared.capacity.store(capacity, Ordering::Relaxed);
        let mut queue = shared.lock();
        queue.records.push_back(record);
        queue.queued += 1;
        let backlog = queue.records.len() > QUEUE_HIGH_WATER;
        let wake = queue.writer_waiting;
        drop(queue);
        if wake {
            shared.work.notify_one();
        }
        backlog
    }

    /// Blocks until the queue is back under its high-water mark (bounded: at most 10 s).
    pub fn wait_journal_below_high_water(&self) {
        let shared = &self.journal.shared;
        let queue = shared.lock();
        let _ = shared
            .written
            .wait_timeout_while(queue, Duration::from_secs(10), |q| q.records.len() > QUEUE_HIGH_WATER);
    }

    /// Writes every record queued so far to the store (a clean shutdown calls it; the CLI's
    /// `trace` in another process sees them afterwards).
    pub fn flush_journal(&self) {
        let shared = &self.journal.shared;
        let target = shared.lock().queued;
        loop {
            if shared.lock().done >= target {
                return;
            }
            // Written on this thread rather than waited for, so a flush also works while the
            // writer thread is busy or gone. An unavailable store ends the flush: a shutdown
            // during a database outage must not hang.
            if !shared.write_batch() {
                return;
            }
        }
    }

    /// Empties the journal (queued records and the store's), as a reset does; with the batch lock,
    /// so a batch being written cannot reappear afterwards.
    pub(crate) fn with_journal_cleared<T>(&self, clear_store: impl FnOnce() -> DomainResult<T>) -> DomainResult<T> {
        let shared = &self.journal.shared;
        let _batch = shared.batch.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut queue = shared.lock();
            let n = queue.records.len() as u64;
            queue.records.clear();
            queue.done += n;
        }
        shared.written.notify_all();
        clear_store()
    }

    /// The record of an error target (any case), if it is still kept among the newest `capacity`:
    /// the queue first, then the store. Everything stored is older than everything queued, so a
    /// queued record is kept exactly when fewer than `capacity` queued records are newer; a record
    /// not queued is looked up after a flush, so the store has dropped what the queue pushed out.
    pub fn find_error(&self, target: &str) -> DomainResult<Option<ErrorRecord>> {
        let shared = &self.journal.shared;
        let capacity = shared.capacity.load(Ordering::Relaxed);
        {
            let queue = shared.lock();
            // Newest first: the most recent errors are the ones looked up.
            if let Some((newer, record)) = queue
                .records
                .iter()
                .rev()
                .enumerate()
                .find(|(_, r)| r.target.eq_ignore_ascii_case(target))
            {
                return Ok((newer < capacity).then(|| record.clone()));
            }
        }
        self.flush_journal();
        Ok(self.store.find_error(target)?)
    }

    /// [`Core::find_error`], then, on a miss, the store again every few milliseconds for up to
    /// [`PEER_FLUSH_BOUND`], for a record another process on the store may still be writing.
    /// Blocks: call it on a blocking thread.
    pub fn find_error_shared(&self, target: &str) -> DomainResult<Option<ErrorRecord>> {
        if let Some(found) = self.find_error(target)? {
            return Ok(Some(found));
        }
        let Some(wait) = peer_wait(target, wall_clock_ms()) else {
            return Ok(None);
        };
        let started = std::time::Instant::now();
        while started.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(10));
            if let Some(found) = self.store.find_error(target)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

/// How much longer a lookup that missed `target` may wait for another process's writer: what is
/// left of [`PEER_FLUSH_BOUND`] since the target was issued (wall clock: targets are issued on the
/// wall clock, not the emulator's), or `None` when nothing is worth waiting for (the bound has
/// passed, or the text is not a target this program issues). A small allowance covers clock skew
/// between processes on one host.
fn peer_wait(target: &str, now_ms: u64) -> Option<Duration> {
    const SKEW_MS: u64 = 50;
    let issued = palisade_error::target_issued_at_ms(target)?;
    let deadline = issued + PEER_FLUSH_BOUND.as_millis() as u64 + SKEW_MS;
    // A target from the future (beyond the skew allowance) was not issued by a live peer.
    if issued > now_ms + SKEW_MS || deadline <= now_ms {
        return None;
    }
    Some(Duration::from_millis(deadline - now_ms))
}

fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::clock::Clock;
    use palisade_model::time::Timestamp;
    use palisade_store_sqlite::SqliteStore;

    fn record(target: &str) -> ErrorRecord {
        ErrorRecord {
            target: target.into(),
            time: Timestamp(palisade_model::time::fixed_now()),
            tenant_id: None,
            app_id: None,
            method: "GET".into(),
            path: "/".into(),
            status: 404,
            code: "ResourceNotFound".into(),
            message: "m".into(),
            cause: "c".into(),
        }
    }

    fn open(path: &std::path::Path) -> (Arc<dyn Store>, Core) {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).unwrap());
        let core = Core::open(store.clone(), Arc::new(Clock::new()), crate::Settings::default()).unwrap();
        (store, core)
    }

    #[test]
    fn a_queued_record_is_found_before_its_batch_is_written_and_written_by_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let (store, core) = open(&dir.path().join("p.db"));
        // Holding the batch lock stalls the writer thread: the record stays queued.
        let stall = core.journal.shared.batch.lock().unwrap();
        assert!(!core.record_error(record("t-queued"), 100));
        assert!(store.find_error("t-queued").unwrap().is_none(), "not written yet");
        assert_eq!(core.find_error("T-QUEUED").unwrap().unwrap().target, "t-queued");
        drop(stall);
        core.flush_journal();
        assert_eq!(store.find_error("t-queued").unwrap().unwrap().target, "t-queued");
        assert_eq!(core.find_error("t-queued").unwrap().unwrap().target, "t-queued");
    }

    #[test]
    fn records_queued_when_the_core_drops_reach_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        {
            let (_store, core) = open(&path);
            for n in 0..500 {
                core.record_error(record(&format!("t-{n}")), 1_000);
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        use palisade_store::JournalStore;
        for n in [0, 250, 499] {
            assert!(store.find_error(&format!("t-{n}")).unwrap().is_some(), "t-{n}");
        }
    }

    #[test]
    fn a_reset_drops_queued_records_too() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, core) = open(&dir.path().join("p.db"));
        let stall = core.journal.shared.batch.lock().unwrap();
        core.record_error(record("t-reset"), 100);
        drop(stall);
        core.reset_all().unwrap();
        core.flush_journal();
        assert!(core.find_error("t-reset").unwrap().is_none());
    }

    #[test]
    fn only_a_target_issued_within_the_bound_is_waited_for() {
        let target = palisade_error::new_target();
        let issued = palisade_error::target_issued_at_ms(&target).expect("a v7 target");
        let fresh = peer_wait(&target, issued).expect("a fresh target is waited for");
        assert!(
            fresh > PEER_FLUSH_BOUND.saturating_sub(Duration::from_millis(1))
                && fresh <= PEER_FLUSH_BOUND + Duration::from_millis(50)
        );
        let later = peer_wait(&target, issued + 600).expect("still within the bound");
        assert!(later < fresh - Duration::from_millis(500));
        assert_eq!(peer_wait(&target, issued + 2_000), None, "past the bound");
        assert_eq!(
            peer_wait(&target, issued.saturating_sub(10_000)),
            None,
            "from the future"
        );
        // A v4 UUID (not a target of this version) and garbage are not waited for.
        assert_eq!(peer_wait("0b9c1d5e-7c53-4b0e-9a31-6f0f3b6f1a2e", issued), None);
        assert_eq!(peer_wait("not-a-target", issued), None);
    }
}
