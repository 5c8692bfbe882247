//! The queue port's conformance suite: the same test functions, each given a `&dyn TaskQueue` and its
//! backend's side door ([`backends::Backend`]), stamped out for the embedded SQLite queue
//! (`queue_conformance::embedded::*`, always) and for SQS on moto (`queue_conformance::sqs::*`, with the
//! `aws` feature); plus, with `aws` too, the deliver and replay logic of the Lambdas against moto
//! (`deliver_and_replay`).
//!
//! Only behaviour both backends share is asserted. Known differences, deliberately not tested: the
//! embedded queue keeps one message per `Task::dedup_key()` (sending the same task twice keeps one) while
//! an SQS standard queue keeps both and may even deliver one message twice; SQS delays count whole
//! seconds (rounded up) where the embedded queue counts milliseconds; an SQS receive may return fewer
//! messages than are visible.

pub(crate) mod backends;
#[cfg(feature = "aws")]
mod deliver_and_replay;

use std::collections::HashSet;
use std::slice;
use std::time::{Duration, Instant};

use alertwire_shared::delivery::retry_policy::MAX_ATTEMPTS;
use alertwire_shared::ids::{DeliveryId, EndpointId, TenantId};
use alertwire_shared::ports::queue::{ReceivedTask, Task, TaskQueue};
use backends::Backend;

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            use super::backends::{Backend, Embedded};
            $(
                #[tokio::test]
                async fn $test() {
                    let backend = Embedded::new().await;
                    super::$test(backend.queue(), &backend).await;
                }
            )*
        }

        #[cfg(feature = "aws")]
        mod sqs {
            use super::backends::{Backend, Sqs};
            $(
                #[tokio::test]
                async fn $test() {
                    let backend = Sqs::new(stringify!($test)).await;
                    super::$test(backend.queue(), &backend).await;
                }
            )*
        }
    };
}

conformance!(
    a_sent_task_is_received_once_with_receive_count_one,
    a_leased_task_is_invisible_until_retry_later_zero,
    a_leased_task_comes_back_after_the_visibility_timeout,
    the_receive_count_counts_every_receive,
    a_deleted_task_never_comes_back,
    retry_later_delays_the_task,
    after_ten_receives_the_next_receive_moves_the_task_to_the_dead_letter_queue,
    dead_letter_moves_the_task_at_once,
    remove_dead_letters_removes_only_the_given_deliveries,
    an_unreadable_body_is_received_without_a_task,
    batches_larger_than_ten_all_arrive,
    receive_returns_at_most_max,
    a_held_task_comes_back_later_without_its_receive_counted,
);

fn task() -> Task {
    Task::DeliverV1 {
        tenant: TenantId::from("tn_conformance"),
        delivery_id: DeliveryId::generate(),
        run: 0,
        endpoint: None,
        attempts_before: 0,
    }
}

/// Sends one new task and returns it.
async fn send_one(queue: &dyn TaskQueue) -> Task {
    let sent = task();
    queue
        .send_batch(slice::from_ref(&sent))
        .await
        .expect("send");
    sent
}

/// Receives until something comes, or nothing within `within`.
async fn receive_within(queue: &dyn TaskQueue, within: Duration) -> Vec<ReceivedTask> {
    let deadline = Instant::now() + within;
    loop {
        let received = queue.receive(10).await.expect("receive");
        if !received.is_empty() || Instant::now() >= deadline {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Receives until `n` tasks came, panicking after `within`.
async fn receive_n(queue: &dyn TaskQueue, n: usize, within: Duration) -> Vec<ReceivedTask> {
    let deadline = Instant::now() + within;
    let mut all = Vec::new();
    while all.len() < n {
        assert!(
            Instant::now() < deadline,
            "expected {n} tasks within {within:?}, got {}",
            all.len()
        );
        all.extend(receive_within(queue, Duration::from_secs(1)).await);
    }
    all
}

/// The one task expected now.
async fn receive_one(queue: &dyn TaskQueue) -> ReceivedTask {
    let mut received = receive_within(queue, Duration::from_secs(5)).await;
    assert_eq!(received.len(), 1, "expected one task, got {received:?}");
    received.remove(0)
}

async fn a_sent_task_is_received_once_with_receive_count_one(
    queue: &dyn TaskQueue,
    _: &impl Backend,
) {
    let sent = send_one(queue).await;
    let received = receive_one(queue).await;
    assert_eq!(received.task, Some(sent));
    assert_eq!(received.receive_count, 1);
    assert!(!received.receipt.is_empty());
}

async fn a_leased_task_is_invisible_until_retry_later_zero(
    queue: &dyn TaskQueue,
    _: &impl Backend,
) {
    let sent = send_one(queue).await;
    let first = receive_one(queue).await;
    assert!(
        queue.receive(10).await.expect("receive").is_empty(),
        "a leased task is invisible"
    );
    queue
        .retry_later(&first.receipt, Duration::ZERO)
        .await
        .expect("retry_later");
    let again = receive_one(queue).await;
    assert_eq!(again.task, Some(sent));
    assert_eq!(again.receive_count, 2);
}

async fn a_leased_task_comes_back_after_the_visibility_timeout(
    queue: &dyn TaskQueue,
    backend: &impl Backend,
) {
    let sent = send_one(queue).await;
    let leased_at = Instant::now();
    receive_one(queue).await;
    assert!(queue.receive(10).await.expect("receive").is_empty());
    let again = receive_one(queue).await;
    assert!(
        leased_at.elapsed() >= backend.visibility_timeout() - Duration::from_millis(100),
        "it came back after {:?}, before the visibility timeout {:?}",
        leased_at.elapsed(),
        backend.visibility_timeout()
    );
    assert_eq!(again.task, Some(sent));
    assert_eq!(again.receive_count, 2);
}

async fn the_receive_count_counts_every_receive(queue: &dyn TaskQueue, _: &impl Backend) {
    send_one(queue).await;
    for expected in 1..=4 {
        let received = receive_one(queue).await;
        assert_eq!(received.receive_count, expected);
        queue
            .retry_later(&received.receipt, Duration::ZERO)
            .await
            .expect("retry_later");
    }
}

async fn a_deleted_task_never_comes_back(queue: &dyn TaskQueue, backend: &impl Backend) {
    send_one(queue).await;
    let received = receive_one(queue).await;
    queue.delete(&received.receipt).await.expect("delete");
    tokio::time::sleep(backend.visibility_timeout()).await;
    assert!(
        receive_within(queue, Duration::from_secs(1))
            .await
            .is_empty(),
        "a deleted task came back"
    );
    assert!(backend.dead_letters().await.is_empty());
}

async fn retry_later_delays_the_task(queue: &dyn TaskQueue, backend: &impl Backend) {
    let sent = send_one(queue).await;
    let received = receive_one(queue).await;
    let delay = backend.short_delay();
    let delayed_at = Instant::now();
    queue
        .retry_later(&received.receipt, delay)
        .await
        .expect("retry_later");
    assert!(
        queue.receive(10).await.expect("receive").is_empty(),
        "a delayed task is invisible"
    );
    let again = receive_one(queue).await;
    assert!(
        delayed_at.elapsed() >= delay - Duration::from_millis(100),
        "it came back after {:?}, before its delay {delay:?}",
        delayed_at.elapsed()
    );
    assert_eq!(again.task, Some(sent));
    assert_eq!(again.receive_count, 2);
}

async fn a_held_task_comes_back_later_without_its_receive_counted(
    queue: &dyn TaskQueue,
    backend: &impl Backend,
) {
    let sent = Task::deliver(
        TenantId::from("tn_conformance"),
        DeliveryId::generate(),
        0,
        EndpointId::from("ep_slow"),
    );
    queue
        .send_batch(slice::from_ref(&sent))
        .await
        .expect("send");
    let first = receive_one(queue).await;
    queue
        .retry_later(&first.receipt, Duration::ZERO)
        .await
        .expect("retry_later");
    let mut received = receive_one(queue).await;
    assert_eq!(received.attempt_number(), 2);

    let delay = backend.short_delay();
    let held_at = Instant::now();
    queue.hold(&received, delay).await.expect("hold");
    assert!(
        queue.receive(10).await.expect("receive").is_empty(),
        "a held task is invisible"
    );
    received = receive_one(queue).await;
    assert!(
        held_at.elapsed() >= delay - Duration::from_millis(100),
        "it came back after {:?}, before its delay {delay:?}",
        held_at.elapsed()
    );
    // Held more often than the redrive limit allows receives: never dead-lettered, and each receive is
    // still the second attempt, for the same endpoint.
    for _ in 0..=MAX_ATTEMPTS {
        assert_eq!(received.attempt_number(), 2, "{received:?}");
        assert_eq!(
            received.task.as_ref().and_then(Task::endpoint),
            sent.endpoint()
        );
        queue.hold(&received, Duration::ZERO).await.expect("hold");
        received = receive_one(queue).await;
    }
    assert_eq!(
        received.task.as_ref().map(Task::delivery_id),
        Some(sent.delivery_id())
    );
    assert!(
        backend.dead_letters().await.is_empty(),
        "nothing dead-lettered"
    );
}

async fn after_ten_receives_the_next_receive_moves_the_task_to_the_dead_letter_queue(
    queue: &dyn TaskQueue,
    backend: &impl Backend,
) {
    let sent = send_one(queue).await;
    for expected in 1..=MAX_ATTEMPTS {
        let received = receive_one(queue).await;
        assert_eq!(received.receive_count, expected);
        queue
            .retry_later(&received.receipt, Duration::ZERO)
            .await
            .expect("retry_later");
    }
    assert!(
        queue.receive(10).await.expect("receive").is_empty(),
        "the 11th receive returns nothing"
    );
    assert_eq!(
        backend.dead_letters().await,
        vec![sent.delivery_id().clone()]
    );
    tokio::time::sleep(backend.visibility_timeout()).await;
    assert!(queue.receive(10).await.expect("receive").is_empty());
}

async fn dead_letter_moves_the_task_at_once(queue: &dyn TaskQueue, backend: &impl Backend) {
    let sent = send_one(queue).await;
    let received = receive_one(queue).await;
    queue.dead_letter(&received).await.expect("dead_letter");
    assert_eq!(
        backend.dead_letters().await,
        vec![sent.delivery_id().clone()]
    );
    tokio::time::sleep(backend.visibility_timeout()).await;
    assert!(
        receive_within(queue, Duration::from_secs(1))
            .await
            .is_empty(),
        "a dead-lettered task left the delivery queue"
    );
}

async fn remove_dead_letters_removes_only_the_given_deliveries(
    queue: &dyn TaskQueue,
    backend: &impl Backend,
) {
    let (a, b, c) = (task(), task(), task());
    queue
        .send_batch(&[a.clone(), b.clone(), c.clone()])
        .await
        .expect("send");
    for received in receive_n(queue, 3, Duration::from_secs(10)).await {
        queue.dead_letter(&received).await.expect("dead_letter");
    }
    let waiting = send_one(queue).await;

    let ids = |tasks: &[&Task]| -> Vec<DeliveryId> {
        tasks.iter().map(|t| t.delivery_id().clone()).collect()
    };
    let removed = queue
        .remove_dead_letters(&[
            a.delivery_id().clone(),
            c.delivery_id().clone(),
            DeliveryId::generate(),
        ])
        .await
        .expect("remove_dead_letters");
    assert_eq!(removed, 2);
    assert_eq!(backend.dead_letters().await, ids(&[&b]));
    assert_eq!(
        queue
            .remove_dead_letters(&ids(&[&a]))
            .await
            .expect("remove again"),
        0
    );
    assert_eq!(
        queue.remove_dead_letters(&[]).await.expect("remove none"),
        0
    );
    assert_eq!(backend.dead_letters().await, ids(&[&b]));

    let untouched = receive_one(queue).await;
    assert_eq!(
        untouched.task,
        Some(waiting),
        "the delivery queue is untouched"
    );
    assert_eq!(untouched.receive_count, 1);
}

async fn an_unreadable_body_is_received_without_a_task(
    queue: &dyn TaskQueue,
    backend: &impl Backend,
) {
    backend.put_raw("not json at all").await;
    backend
        .put_raw(r#"{"type": "deliver.v9", "delivery_id": "msg_x"}"#)
        .await;
    let received = receive_n(queue, 2, Duration::from_secs(10)).await;
    for unreadable in &received {
        assert_eq!(unreadable.task, None);
        assert_eq!(unreadable.receive_count, 1);
        queue.delete(&unreadable.receipt).await.expect("delete");
    }
    tokio::time::sleep(backend.visibility_timeout()).await;
    assert!(queue.receive(10).await.expect("receive").is_empty());
}

async fn batches_larger_than_ten_all_arrive(queue: &dyn TaskQueue, _: &impl Backend) {
    let sent: Vec<Task> = (0..23).map(|_| task()).collect();
    queue.send_batch(&sent).await.expect("send 23");
    let received = receive_n(queue, sent.len(), Duration::from_secs(15)).await;
    let got: HashSet<&DeliveryId> = received
        .iter()
        .filter_map(|r| r.task.as_ref().map(Task::delivery_id))
        .collect();
    assert_eq!(got, sent.iter().map(Task::delivery_id).collect());
    assert!(received.iter().all(|r| r.receive_count == 1));
}

async fn receive_returns_at_most_max(queue: &dyn TaskQueue, _: &impl Backend) {
    let sent: Vec<Task> = (0..5).map(|_| task()).collect();
    queue.send_batch(&sent).await.expect("send");
    assert!(queue.receive(0).await.expect("receive 0").is_empty());
    let deadline = Instant::now() + Duration::from_secs(5);
    let received = loop {
        let received = queue.receive(2).await.expect("receive 2");
        if !received.is_empty() || Instant::now() >= deadline {
            break received;
        }
    };
    assert!(
        (1..=2).contains(&received.len()),
        "got {} tasks",
        received.len()
    );
}
