//! The hand-off: an alert's tasks go to a worker that has caught up with the queue in the alert's own
//! commit, leased to it, and are passed to it in memory once that commit is durable. Otherwise a receive
//! leases them in a commit of its own (one of the three an alert's delivery took), after a wake-up and a
//! read of the ready tasks.
//!
//! A task handed off is a leased row like a received one: if the process dies before its attempt is
//! recorded, the next start releases it ([`Database::recover`](super::Database::recover)); if the worker
//! stops with it waiting, its lease runs out and a receive takes it. Tasks are handed off only while the
//! worker's last receive found fewer ready tasks than it asked for, so a backlog is drained in its order
//! and not overtaken by new alerts; and only as many as the worker has room for beyond its slots, so none
//! waits for a slot longer than an attempt takes, well inside its lease.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use crate::ports::queue::ReceivedTask;

/// Where a write finds the worker's hand-off, once a worker has opened it; shared by every clone of a
/// [`Database`](super::Database).
#[derive(Default)]
pub(super) struct HandOff {
    open: Mutex<Option<Opened>>,
}

struct Opened {
    sender: mpsc::Sender<ReceivedTask>,
    /// How long a handed task is leased, in milliseconds (at least one).
    lease_millis: i64,
    caught_up: Arc<AtomicBool>,
}

/// A task's place with the worker, reserved while its write is not committed; given back when dropped
/// unused (the write failed, or the task was queued already).
pub(super) struct Place {
    permit: mpsc::OwnedPermit<ReceivedTask>,
    /// When the lease of a task in this place runs out, in milliseconds since the epoch.
    pub(super) lease_until: i64,
}

impl HandOff {
    /// Opens the hand-off to a worker with room for `room` tasks beside its slots, each leased for
    /// `lease`. A hand-off opened again replaces the one before.
    pub(super) fn open(self: &Arc<Self>, room: usize, lease: Duration) -> HandedTasks {
        let (sender, receiver) = mpsc::channel(room.max(1));
        let caught_up = Arc::new(AtomicBool::new(false));
        let lease_millis = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX).max(1);
        *self.lock() = Some(Opened {
            sender,
            lease_millis,
            caught_up: caught_up.clone(),
        });
        HandedTasks {
            receiver,
            caught_up,
            hand_off: self.clone(),
        }
    }

    /// A place for one task leased from `now` (milliseconds since the epoch), if a worker has caught up
    /// with the queue and has room.
    pub(super) fn reserve(&self, now: i64) -> Option<Place> {
        let open = self.lock();
        let opened = open.as_ref()?;
        if !opened.caught_up.load(Ordering::Acquire) {
            return None;
        }
        let permit = opened.sender.clone().try_reserve_owned().ok()?;
        Some(Place {
            permit,
            lease_until: now.saturating_add(opened.lease_millis),
        })
    }

    fn close(&self, caught_up: &Arc<AtomicBool>) {
        let mut open = self.lock();
        if open
            .as_ref()
            .is_some_and(|o| Arc::ptr_eq(&o.caught_up, caught_up))
        {
            *open = None;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Opened>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a write queued: tasks leased to the worker, to be passed to it once the write commits, and how
/// many went in ready for a receive.
#[derive(Default)]
#[must_use = "handed tasks wait for `pass`, or for their lease to run out"]
pub(super) struct Queued {
    handed: Vec<(Place, ReceivedTask)>,
    ready: usize,
}

impl Queued {
    pub(super) fn handed(&mut self, place: Place, task: ReceivedTask) {
        self.handed.push((place, task));
    }

    pub(super) fn ready(&mut self) {
        self.ready += 1;
    }

    /// After the commit: the handed tasks to the worker, and a wake-up for it if any went in ready.
    pub(super) fn pass(self, wakeup: &Notify) {
        for (place, task) in self.handed {
            place.permit.send(task);
        }
        if self.ready > 0 {
            wakeup.notify_one();
        }
    }
}

/// The worker's end of the hand-off; closes it when dropped, so later writes queue their tasks ready.
pub struct HandedTasks {
    receiver: mpsc::Receiver<ReceivedTask>,
    caught_up: Arc<AtomicBool>,
    hand_off: Arc<HandOff>,
}

impl HandedTasks {
    /// Tells writes whether to hand tasks off: only while the worker's last receive found the queue
    /// drained.
    pub fn set_caught_up(&self, caught_up: bool) {
        self.caught_up.store(caught_up, Ordering::Release);
    }

    /// What [`HandedTasks::set_caught_up`] said last.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// A task handed off and waiting, if any.
    pub fn try_next(&mut self) -> Option<ReceivedTask> {
        self.receiver.try_recv().ok()
    }

    /// The next task handed off; waits for one.
    pub async fn next(&mut self) -> Option<ReceivedTask> {
        self.receiver.recv().await
    }
}

impl Drop for HandedTasks {
    fn drop(&mut self) {
        self.caught_up.store(false, Ordering::Release);
        self.hand_off.close(&self.caught_up);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(n: u32) -> ReceivedTask {
        ReceivedTask {
            task: None,
            receipt: format!("h-{n}"),
            receive_count: 1,
        }
    }

    #[test]
    fn nothing_is_handed_off_before_the_worker_has_caught_up_with_the_queue() {
        let hand_off = Arc::new(HandOff::default());
        assert!(hand_off.reserve(0).is_none(), "no worker");
        let handed = hand_off.open(2, Duration::from_secs(40));
        assert!(hand_off.reserve(0).is_none(), "a backlog may wait");
        handed.set_caught_up(true);
        let place = hand_off.reserve(1_000).expect("room");
        assert_eq!(place.lease_until, 41_000);
    }

    #[tokio::test]
    async fn places_are_bounded_and_given_back_when_unused() {
        let hand_off = Arc::new(HandOff::default());
        let mut handed = hand_off.open(2, Duration::from_secs(1));
        handed.set_caught_up(true);
        let first = hand_off.reserve(0).expect("room");
        let second = hand_off.reserve(0).expect("room");
        assert!(hand_off.reserve(0).is_none(), "full");
        drop(second);
        let third = hand_off.reserve(0).expect("given back");
        let mut queued = Queued::default();
        queued.handed(first, task(1));
        queued.handed(third, task(3));
        queued.pass(&Notify::new());
        assert_eq!(handed.try_next().map(|t| t.receipt), Some("h-1".into()));
        assert_eq!(handed.next().await.map(|t| t.receipt), Some("h-3".into()));
        assert!(handed.try_next().is_none());
    }

    #[test]
    fn a_worker_that_stops_closes_the_hand_off() {
        let hand_off = Arc::new(HandOff::default());
        let handed = hand_off.open(1, Duration::from_secs(1));
        handed.set_caught_up(true);
        let again = hand_off.open(1, Duration::from_secs(1));
        again.set_caught_up(true);
        drop(handed);
        assert!(hand_off.reserve(0).is_some(), "the newer one stays open");
        drop(again);
        assert!(hand_off.reserve(0).is_none());
    }
}
