//! What every listener bounds: how many connections it holds, how many payload checks run at once,
//! and how it waits when accepting fails (out of file descriptors) instead of spinning.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A listener's connection cap. A connection over it is closed at once, never queued.
#[derive(Clone)]
pub struct ConnectionCap(Arc<Semaphore>);

impl ConnectionCap {
    pub fn new(max: usize) -> ConnectionCap {
        ConnectionCap(Arc::new(Semaphore::new(max.max(1))))
    }

    /// A place for one more connection, held until the connection ends; `None` at the cap.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.0).try_acquire_owned().ok()
    }
}

/// At most so many payload checks at once on a listener: a check holds its payload and what it
/// becomes (up to about twenty times its size for HL7 v2), so memory is bounded by this many
/// payloads, not by how many arrive together. Checks run off the async workers.
#[derive(Clone)]
pub struct Checks(Arc<Semaphore>);

impl Checks {
    /// `max` checks at once; 0 for one per core.
    pub fn new(max: usize) -> Checks {
        let max = if max == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            max
        };
        Checks(Arc::new(Semaphore::new(max)))
    }

    /// Runs `check` once a place is free; `None` if it could not run (it panicked).
    pub async fn run<T: Send + 'static>(&self, check: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let _place = self.0.acquire().await.ok()?;
        tokio::task::spawn_blocking(check).await.ok()
    }
}

/// How long a listener waits after a failed accept: from 10 ms, doubling to 1 s while accepting keeps
/// failing (`EMFILE` lasts until connections close), so that the loop neither spins nor stalls.
#[derive(Default)]
pub struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    /// Waits after a failed accept; says so once per run of failures.
    pub async fn failed(&mut self, transport: &str, error: &std::io::Error) {
        if self.failures == 0 {
            tracing::warn!(transport, %error, "cannot accept connections; waiting before trying again");
        }
        let wait = Duration::from_millis(10u64 << self.failures.min(7)).min(Duration::from_secs(1));
        self.failures = self.failures.saturating_add(1);
        tokio::time::sleep(wait).await;
    }

    pub fn accepted(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_admits_up_to_its_size_and_again_when_a_connection_ends() {
        let cap = ConnectionCap::new(2);
        let (first, second) = (cap.admit(), cap.admit());
        assert!(first.is_some() && second.is_some());
        assert!(cap.admit().is_none());
        drop(first);
        assert!(cap.admit().is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_run_at_most_so_many_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let checks = Checks::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (checks, running, most) = (checks.clone(), Arc::clone(&running), Arc::clone(&most));
                tokio::spawn(async move {
                    checks
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_some());
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_accepts_wait_longer_each_time_up_to_a_second() {
        let mut backoff = AcceptBackoff::default();
        let error = std::io::Error::from_raw_os_error(24);
        let started = tokio::time::Instant::now();
        for _ in 0..10 {
            backoff.failed("test", &error).await;
        }
        // 10 + 20 + 40 + ... + 640, then 1 s twice (paused time: no real waiting).
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(10 + 20 + 40 + 80 + 160 + 320 + 640 + 1000 + 1000 + 1000)
        );
        backoff.accepted();
        let again = tokio::time::Instant::now();
        backoff.failed("test", &error).await;
        assert_eq!(again.elapsed(), Duration::from_millis(10));
    }
}
