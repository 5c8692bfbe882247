//! The first start of the real binary: `ALERTWIRE_API_KEY` works from the very first request the API
//! answers, so a client that waits only for the port to open is never refused its key.

use std::time::{Duration, Instant};

use alertwire_tests::serve_process::{ServeProcess, ServeSettings, free_port};
use alertwire_tests::server::scratch_dir;

const KEY: &str = "first-start-key-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_works_from_the_first_answer() {
    let client = alertwire_tests::http_client(Duration::from_secs(5));
    // Each start on a fresh data directory registers the key; a few starts give a race room to show.
    let mut start = 0;
    let mut port_lost = 0;
    while start < 3 {
        let data_dir = scratch_dir(&format!("first-start-{start}"));
        // A free port can be taken by another test's server before this one binds it; that server
        // answers instead (with its own keys), and this one exits. Such a start is made again.
        let port = free_port();
        let settings = ServeSettings {
            api_key: KEY.to_string(),
            retry_delays: "1s".to_string(),
            http_timeout_secs: 5,
            concurrency: 4,
            log: Default::default(),
        };
        let mut process = ServeProcess::start(&data_dir, port, &settings);
        let deadline = Instant::now() + Duration::from_secs(30);
        // No pause between tries: the first request that connects reaches the API the moment it listens.
        let status = loop {
            match client
                .get(format!("{}/v1/endpoints", process.base))
                .bearer_auth(KEY)
                .send()
                .await
            {
                Ok(response) => break response.status().as_u16(),
                Err(e) => {
                    assert!(Instant::now() < deadline, "alertwire did not come up: {e}");
                    tokio::task::yield_now().await;
                }
            }
        };
        if status != 200 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if process.has_exited() && port_lost < 5 {
                port_lost += 1;
                let _ = std::fs::remove_dir_all(&data_dir);
                continue;
            }
        }
        assert_eq!(
            status, 200,
            "start {start}: the first answer refused the key"
        );
        process.kill();
        let _ = std::fs::remove_dir_all(&data_dir);
        start += 1;
    }
}
