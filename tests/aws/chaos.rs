//! Nothing lost amid chaos on the AWS path, against moto: alerts are accepted by the service on the
//! DynamoDB store and the SQS queue, the test plays the SQS event source mapping (receive a batch of up
//! to ten, run the deliver function's batch logic, delete what it does not report as a failure), and the
//! deliver "function" is killed mid-batch at random (seeded) moments: the batch runs in a tokio task that
//! is aborted, which is what a Lambda crash looks like to SQS — no batch response, nothing deleted, every
//! message back when its visibility ends. The receiver is the seeded chaos receiver; at the end the same
//! accounting as on the embedded default is printed and must come out clean. The first endpoint folds the
//! errors past the first few of each window into a digest, whose task is held by delayed re-sends until
//! the window ends: the books hold the digests and what they folded.
//!
//! moto does not isolate concurrent writes (see `serialized_writes`), and the run is built so that it
//! never needs to: every write to the table takes its turn (reads and the HTTP attempts stay
//! concurrent); the messages in flight are distinct deliveries (each delivery run has one message, and
//! moto never hands out a message while it is invisible); and the queue's visibility timeout is longer
//! than a batch can take, so no message is in two batches at once. Three batches run at a time, as three
//! concurrent invocations would. Real DynamoDB isolates writes; there the delivery store's conditions
//! are what makes concurrent batches safe.
//!
//! `CHAOS_AWS_ALERTS` (40), `CHAOS_AWS_KILLS` (5) and `CHAOS_SEED` size and seed it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alertwire_shared::aws::dynamodb::DynamoStore;
use alertwire_shared::aws::lambda::deliver_batch::deliver_batch;
use alertwire_shared::delivery::DeliveryStatus;
use alertwire_shared::delivery::retry_policy::RetryPolicy;
use alertwire_shared::endpoint::circuit::CircuitPolicy;
use alertwire_shared::ids::{EndpointId, TenantId};
use alertwire_shared::outbound::sender::HttpSender;
use alertwire_shared::ports::store::{AlertReceipt, DeliveryFilter, DeliveryStore};
use alertwire_shared::service::{Ports, Service};
use alertwire_tests::chaos_accounting::{Accounting, ChaosRun, Numbering, Promised, Stored};
use alertwire_tests::chaos_receiver::ChaosReceiver;
use alertwire_tests::chaos_scenario::{self, ENDPOINTS, env_number};
use alertwire_tests::server::loopback_policy;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::queue_conformance::backends::Sqs;
use crate::serialized_writes::SerializedWrites;

const HTTP_TIMEOUT: Duration = Duration::from_secs(1);
/// Longer than a batch can take (ten attempts at once, each within the HTTP timeout, and the store's
/// writes), so a message is never in two batches at once.
const VISIBILITY: Duration = Duration::from_secs(6);
/// The chance that a batch is chosen to be killed while alerts are still accepted and kills remain to be
/// made; once every alert is accepted, every batch is chosen until the kills are made, because with the
/// digest folding most errors only a few batches are left by then.
const KILL_CHANCE: f64 = 0.4;
/// When a chosen batch is killed, in milliseconds after it began: most batches end within a few hundred
/// milliseconds (a chosen batch that ends first gives its kill back), so later moments rarely kill.
const KILL_MOMENTS_MS: std::ops::Range<u64> = 5..400;
/// Batches in flight at once, as concurrent invocations of the deliver function.
const POLLERS: usize = 3;
/// The first endpoint sends this many errors a window one by one and folds the others into a digest.
const AWS_DIGEST_AFTER: u32 = 8;
/// How long a killed batch's requests already on their way may take to land.
const LAST_REQUESTS_LAND: Duration = Duration::from_millis(500);

/// The kills of a run, shared by the pollers.
struct Kills {
    wanted: usize,
    made: AtomicUsize,
}

impl Kills {
    /// Takes one of the kills still to be made, if any.
    fn claim(&self) -> bool {
        self.made
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |made| {
                (made < self.wanted).then_some(made + 1)
            })
            .is_ok()
    }

    /// Gives back a claimed kill: the batch ended before its moment came.
    fn release(&self) {
        self.made.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Rig {
    sqs: Sqs,
    store: SerializedWrites<DynamoStore>,
    service: Arc<Service>,
    tenant: TenantId,
}

impl Rig {
    async fn new() -> Rig {
        let sqs = Sqs::with_visibility("chaos", VISIBILITY).await;
        let store = SerializedWrites::new(crate::service_rig::fresh_store("chaos").await);
        let ports = Ports {
            keys: Arc::new(store.inner().clone()),
            endpoints: Arc::new(store.inner().clone()),
            alerts: Arc::new(store.clone()),
            deliveries: Arc::new(store.clone()),
            settings: Arc::new(store.inner().clone()),
            incidents: Arc::new(store.inner().clone()),
            maintenance: Arc::new(store.inner().clone()),
            digests: Arc::new(store.inner().clone()),
            queue: Arc::new(sqs.queue.clone()),
        };
        let sender =
            HttpSender::new(Arc::new(loopback_policy()), HTTP_TIMEOUT).expect("an HTTP client");
        let retry = RetryPolicy::parse("0ms").expect("retry delays");
        // The breaker on, with the 100 ms cool-down (at most 6 s) the other chaos runs use, so circuits
        // that open amid the chaos close again within the run.
        let circuit = CircuitPolicy::default()
            .with_cooldown("100ms")
            .expect("a cool-down");
        Rig {
            sqs,
            store,
            service: Arc::new(Service::new(ports, sender, retry).with_circuit_policy(circuit)),
            tenant: TenantId::from("tn_chaos"),
        }
    }

    /// Plays the event source mapping until nothing is pending once every alert is accepted (or the
    /// deadline): each batch runs as its own task, and some, chosen by `moments`, are aborted at a random
    /// moment while `kills` remain to be made.
    async fn poll(
        &self,
        mut moments: StdRng,
        accepted: &AtomicBool,
        kills: &Kills,
        deadline: Instant,
    ) {
        while Instant::now() < deadline {
            let records = self.sqs.receive_batch().await;
            if records.is_empty() {
                if accepted.load(Ordering::SeqCst) && !self.any_pending().await {
                    return;
                }
                continue;
            }
            let batch = {
                let (service, queue, records) = (
                    self.service.clone(),
                    self.sqs.queue.clone(),
                    records.clone(),
                );
                tokio::spawn(async move { deliver_batch(&service, &queue, records).await })
            };
            let chosen = accepted.load(Ordering::SeqCst) || moments.random_bool(KILL_CHANCE);
            if chosen && kills.claim() {
                tokio::time::sleep(Duration::from_millis(moments.random_range(KILL_MOMENTS_MS)))
                    .await;
                if !batch.is_finished() {
                    batch.abort();
                    let _ = batch.await;
                    tokio::time::sleep(LAST_REQUESTS_LAND).await;
                    continue;
                }
                kills.release();
            }
            let failed = batch.await.expect("the batch ran to its end");
            self.sqs.delete_finished(&records, &failed).await;
        }
    }

    async fn any_pending(&self) -> bool {
        let filter = DeliveryFilter {
            status: Some(DeliveryStatus::Pending),
            limit: 1,
            ..DeliveryFilter::default()
        };
        !self
            .store
            .list_deliveries(&self.tenant, &filter)
            .await
            .expect("pending deliveries")
            .is_empty()
    }

    async fn deliveries_of(&self, endpoints: &[EndpointId]) -> Vec<Stored> {
        let mut all = Vec::new();
        for endpoint in endpoints {
            let filter = DeliveryFilter {
                endpoint_id: Some(endpoint.clone()),
                limit: 100_000,
                ..DeliveryFilter::default()
            };
            let deliveries = self
                .store
                .list_deliveries(&self.tenant, &filter)
                .await
                .expect("the deliveries");
            all.extend(deliveries.into_iter().map(|d| Stored {
                id: d.id.0,
                status: d.status,
                attempts: d.attempts,
                digest_delivery_id: d.digest_delivery_id.map(|id| id.0),
            }));
        }
        all
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_batches_killed_mid_batch_lose_nothing_and_every_attempt_is_accounted_for() {
    let alerts = env_number("CHAOS_AWS_ALERTS", 40) as usize;
    let kills_wanted = env_number("CHAOS_AWS_KILLS", 5) as usize;
    let seed = chaos_scenario::seed();
    let started = Instant::now();
    let receiver =
        ChaosReceiver::start(chaos_scenario::receiver_settings(seed, HTTP_TIMEOUT)).await;
    let rig = Arc::new(Rig::new().await);
    let mut endpoints = Vec::new();
    for n in 0..ENDPOINTS {
        let endpoint = rig
            .service
            .create_endpoint(
                &rig.tenant,
                &chaos_scenario::endpoint_folding(&receiver, n, AWS_DIGEST_AFTER),
            )
            .await
            .expect("an endpoint");
        endpoints.push(endpoint.id);
    }

    // Alerts arrive while batches are delivered (and killed).
    let accepted = Arc::new(AtomicBool::new(false));
    let accepting = {
        let (service, tenant, accepted) =
            (rig.service.clone(), rig.tenant.clone(), accepted.clone());
        tokio::spawn(async move {
            let mut receipts: Vec<(usize, AlertReceipt)> = Vec::new();
            for i in 0..alerts {
                let receipt = service
                    .accept_alert(&tenant, &chaos_scenario::alert(i), None)
                    .await
                    .expect("the alert is accepted");
                receipts.push((i, receipt));
            }
            accepted.store(true, Ordering::SeqCst);
            receipts
        })
    };

    let kills = Arc::new(Kills {
        wanted: kills_wanted,
        made: AtomicUsize::new(0),
    });
    // Only a bound on a run that hangs: a run ends as soon as nothing is pending. moto copies the whole
    // table for each TransactWriteItems, so a run's time grows with the square of its alerts: 60 alerts
    // took 3 to 6.5 minutes on two shared cores, 30 took 3.5.
    let deadline = Instant::now() + Duration::from_secs(60 + alerts as u64 * 6);
    let pollers: Vec<_> = (0..POLLERS as u64)
        .map(|n| {
            let (rig, accepted, kills) = (rig.clone(), accepted.clone(), kills.clone());
            let moments = StdRng::seed_from_u64(seed.wrapping_add(n));
            tokio::spawn(async move { rig.poll(moments, &accepted, &kills, deadline).await })
        })
        .collect();
    for poller in pollers {
        poller.await.expect("a poller");
    }
    let kills = kills.made.load(Ordering::SeqCst);

    let receipts = accepting.await.expect("every alert accepted");
    let mut promised = Vec::new();
    for (i, receipt) in &receipts {
        let mut routed = Vec::new();
        for (delivery, endpoint) in &receipt.deliveries {
            let n = endpoints
                .iter()
                .position(|e| e == endpoint)
                .expect("a delivery to one of the endpoints");
            routed.push(n);
            promised.push(Promised {
                id: delivery.0.clone(),
                filtered_by_rule: chaos_scenario::filtered_by_rule(n, *i),
            });
        }
        routed.sort_unstable();
        assert_eq!(
            routed,
            chaos_scenario::routed_endpoints(*i),
            "alert {i}'s receipt"
        );
    }
    let stored = rig.deliveries_of(&endpoints).await;
    let received = receiver.received();
    let books = Accounting::of(&ChaosRun {
        alerts: receipts.len(),
        promised: &promised,
        stored: &stored,
        received: &received,
        kills,
        numbering: Numbering::MaySkip,
        pruned: &[],
    });
    println!(
        "{}",
        books.table(&format!(
            "chaos on the AWS path (DynamoDB + SQS on moto, deliver batches aborted): seed {seed}, {:.1} s",
            started.elapsed().as_secs_f64()
        ))
    );
    assert_eq!(kills, kills_wanted, "the run ended before every kill");
    let routed: usize = (0..alerts)
        .map(|i| chaos_scenario::routed_endpoints(i).len())
        .sum();
    assert_eq!(promised.len(), routed);
    assert!(books.lost.is_empty(), "lost deliveries: {:#?}", books.lost);
    assert!(
        books.unaccounted.is_empty(),
        "unaccounted: {:#?}",
        books.unaccounted
    );
    assert_eq!(
        books.delivered + books.dead + books.filtered,
        promised.len() + books.digests
    );
    assert!(books.folded > 0, "no alert was folded into a digest");
}
