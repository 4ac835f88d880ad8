use super::*;
use std::time::Duration;

#[test]
fn half_of_what_the_reserve_leaves() {
    assert_eq!(slots_for(20_000), 9_488);
    assert_eq!(slots_for(1_024), 64);
    assert_eq!(
        slots_for(u64::MAX),
        usize::try_from((u64::MAX - 1024) / 2).unwrap_or(usize::MAX >> 4)
    );
}

#[test]
fn parts_follow_the_job_counts_above_a_floor_and_add_up() {
    // 16 each, the other 68 by jobs: 67.3 and 0.67, the odd slot to the
    // larger remainder.
    assert_eq!(divide(100, &[1000, 10]), vec![83, 17]);
    assert_eq!(divide(100, &[0, 0, 0]), vec![34, 33, 33]);
    assert_eq!(divide(100, &[50, 0]), vec![84, 16]);
    // Fewer slots than floors: equal parts.
    assert_eq!(divide(10, &[1000, 1, 1]), vec![4, 3, 3]);
    assert_eq!(divide(100, &[7]), vec![100]);
    assert!(divide(5, &[]).is_empty());
    for jobs in [vec![3, 5, 7, 11], vec![1, 0, 10_000], vec![usize::MAX, 1]] {
        let parts = divide(997, &jobs);
        assert_eq!(parts.iter().sum::<usize>(), 997, "{jobs:?}");
        assert!(parts.iter().all(|&p| p >= FLOOR), "{parts:?}");
    }
}

/// Holds `n` slots of `share` for `hold`, each waiting at most `wait`;
/// resolves to how many got none.
fn flood(
    share: &Arc<ScrapeShare>,
    n: usize,
    wait: Duration,
    hold: Duration,
) -> tokio::task::JoinHandle<usize> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let share = share.clone();
        tasks.spawn(async move {
            let Some(slot) = share.acquire(wait).await else {
                return 1;
            };
            tokio::time::sleep(hold).await;
            drop(slot);
            0
        });
    }
    tokio::spawn(async move { tasks.join_all().await.into_iter().sum() })
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_one_receiver_does_not_starve_another() {
    let budget = ScrapeBudget::new(100);
    let big = Arc::new(budget.register("pyroscope_scrape/big"));
    let small = Arc::new(budget.register("pyroscope_scrape/small"));
    big.set_jobs(1000);
    small.set_jobs(10);
    assert_eq!((big.limit(), small.limit()), (83, 17));

    // Every one of big's jobs wants a slot at once and keeps it a minute.
    let refused = flood(&big, 1000, Duration::from_secs(10), Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(big.in_use(), 83);

    // small's scrapes start at once, all ten of them.
    let started = tokio::time::Instant::now();
    let mut slots = Vec::new();
    for _ in 0..10 {
        slots.push(small.acquire(Duration::from_secs(10)).await.unwrap());
    }
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(small.in_use(), 10);

    // big's own excess waited its timeout and is refused (the receiver
    // counts those as concurrency_limit).
    assert_eq!(refused.await.unwrap(), 1000 - 83);
    assert_eq!(big.in_use(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_removed_receiver_leaves_the_whole_budget_to_the_other() {
    let budget = ScrapeBudget::new(100);
    let stays = budget.register("pyroscope_scrape/stays");
    let goes = budget.register("pyroscope_scrape/goes");
    stays.set_jobs(5);
    goes.set_jobs(5);
    assert_eq!((stays.limit(), goes.limit()), (50, 50));
    let held_by_goes: Vec<_> = (0..50).map(|_| goes.try_acquire().unwrap()).collect();
    assert!(goes.try_acquire().is_none());

    drop(goes);
    assert_eq!(stays.limit(), 100);
    let all: Vec<_> = (0..100).map(|_| stays.try_acquire().unwrap()).collect();
    assert!(stays.try_acquire().is_none());
    // The stopped receiver's last scrapes end; nothing comes back to the
    // share that stays.
    drop(held_by_goes);
    assert!(stays.try_acquire().is_none());
    drop(all);
    assert_eq!(stays.in_use(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_share_shrunk_while_its_slots_are_held_never_exceeds_the_new_size() {
    let budget = ScrapeBudget::new(100);
    let first = budget.register("pyroscope_scrape/first");
    first.set_jobs(100);
    let mut held: Vec<_> = (0..80).map(|_| first.try_acquire().unwrap()).collect();

    // A second receiver with nine times the jobs: first shrinks to 16 + 6.8.
    let second = budget.register("pyroscope_scrape/second");
    second.set_jobs(900);
    let limit = first.limit();
    assert_eq!(limit, 23);
    assert_eq!(second.limit(), 77);
    // Free slots went to the second receiver at once.
    let theirs: Vec<_> = (0..20).map(|_| second.try_acquire().unwrap()).collect();

    // 80 held > 23: none more until fewer than 23 are out.
    assert!(first.try_acquire().is_none());
    held.truncate(23);
    assert!(first.try_acquire().is_none());
    assert_eq!(first.in_use(), 23);
    held.truncate(20);
    let three: Vec<_> = (0..3).map(|_| first.try_acquire().unwrap()).collect();
    assert!(first.try_acquire().is_none());

    // Once every slot is back, exactly the new size can be taken.
    drop((held, three));
    assert_eq!(first.in_use(), 0);
    let again: Vec<_> = (0..limit).map(|_| first.try_acquire().unwrap()).collect();
    assert!(first.try_acquire().is_none());
    drop((again, theirs));

    // Growing while slots are still owed: the growth first cancels the debt.
    let held: Vec<_> = (0..23).map(|_| first.try_acquire().unwrap()).collect();
    second.set_jobs(100_000);
    assert_eq!(first.limit(), 16);
    assert!(first.try_acquire().is_none());
    drop(second);
    assert_eq!(first.limit(), 100);
    let more: Vec<_> = (0..77).map(|_| first.try_acquire().unwrap()).collect();
    assert!(first.try_acquire().is_none());
    drop((held, more));
    let all: Vec<_> = (0..100).map(|_| first.try_acquire().unwrap()).collect();
    assert!(first.try_acquire().is_none());
    drop(all);
}

#[test]
fn the_gauge_follows_the_share_and_the_last_instance() {
    let budget = ScrapeBudget::new(100);
    let gauge = Gauge::default();
    let other = budget.register("pyroscope_scrape/other");
    let old = budget.register_with_gauge("pyroscope_scrape/a", Some(gauge.clone()));
    assert_eq!(gauge.get(), 50);
    // A reload's replacement registers beside the old instance.
    let new = budget.register_with_gauge("pyroscope_scrape/a", Some(gauge.clone()));
    assert_eq!(gauge.get(), 33);
    drop(old);
    assert_eq!((gauge.get(), new.limit()), (50, 50));
    drop(new);
    assert_eq!(gauge.get(), 0);
    assert_eq!(other.limit(), 100);
}
