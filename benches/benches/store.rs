//! Store operations per second on SQLite (memory, file) and PostgreSQL: create, get by id, and
//! list a page of 100 out of 1,000 tenants. PostgreSQL runs in its own `bench_<random>` database
//! on 127.0.0.1:5432 (override with `MTP_TEST_POSTGRES_URL`), dropped at the end.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mtp_core::{ListParams, NewTenant, Store, TenantFields, Tier};
use mtp_store::SeaStore;
use sea_orm::{ConnectionTrait, Database};
use tokio::runtime::Runtime;

fn pg_base() -> String {
    std::env::var("MTP_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

fn new_tenant(name: String, tier: Tier) -> NewTenant {
    NewTenant {
        name,
        fields: TenantFields::new("Bench tenant", tier, "ops@bench.io"),
    }
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, label: &str, store: &SeaStore) {
    // 1,000 tenants to list from and get.
    let mut ids = Vec::new();
    rt.block_on(async {
        for i in 0..1000 {
            let t = store
                .create_tenant(new_tenant(format!("seed{i:04}"), Tier::ALL[i % 3]))
                .await
                .unwrap();
            ids.push(t.id);
        }
    });
    let counter = AtomicU64::new(0);
    let mut group = c.benchmark_group(format!("store/{label}"));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("create", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            rt.block_on(store.create_tenant(new_tenant(format!("b{n}"), Tier::Pro)))
                .unwrap()
        })
    });
    let mut i = 0usize;
    group.bench_function("get", |b| {
        b.iter(|| {
            i = (i + 1) % ids.len();
            rt.block_on(store.get_tenant(black_box(ids[i]))).unwrap()
        })
    });
    let params = ListParams {
        limit: 100,
        cursor: None,
        tier: None,
        target: None,
    };
    group.bench_function("list_page_100", |b| {
        b.iter(|| {
            let page = rt.block_on(store.list_tenants(black_box(&params))).unwrap();
            assert_eq!(page.items.len(), 100);
            page
        })
    });
    group.finish();
}

fn bench_store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let store = rt.block_on(SeaStore::open("sqlite::memory:")).unwrap();
    bench_backend(c, &rt, "sqlite_memory", &store);

    let dir = std::env::temp_dir().join(format!("mtp-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("mtp.db").display());
    let store = rt.block_on(SeaStore::open(&url)).unwrap();
    bench_backend(c, &rt, "sqlite_file", &store);
    rt.block_on(store.close()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    rt.block_on(async {
        let admin = Database::connect(format!("{}/test", pg_base()))
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        admin.close().await.unwrap();
    });
    let store = rt
        .block_on(SeaStore::open(&format!("{}/{name}", pg_base())))
        .unwrap();
    bench_backend(c, &rt, "postgres", &store);
    rt.block_on(async {
        store.close().await.unwrap();
        let admin = Database::connect(format!("{}/test", pg_base()))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .unwrap();
        admin.close().await.unwrap();
    });
}

criterion_group!(benches, bench_store);
criterion_main!(benches);
