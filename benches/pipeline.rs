//! The pipeline without network: decode a stream event from JSON bytes, select, project to SDK
//! items, dedupe and chunk. `cargo bench --bench pipeline`.

mod common;

// The allocator the function ships with (src/main.rs): most of the pipeline's work is
// allocating and freeing small maps and strings.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ttl_archiver::archive::project::Projection;
use ttl_archiver::{plan_batch, StreamBatch};

fn pipeline(c: &mut Criterion) {
    let projection = Projection {
        ttl_attribute: Some("ExpirationTime".into()),
        ..Default::default()
    };
    let mut group = c.benchmark_group("pipeline");
    for (name, records, json) in common::batches() {
        // The request budget: N distinct keys take exactly ceil(N / 25) requests.
        let plan = plan_batch(&projection, StreamBatch::from_json(&json).unwrap(), 0).unwrap();
        assert_eq!(plan.chunks.len(), records.div_ceil(25));
        assert_eq!(plan.selected, records);
        println!(
            "{name}: {} bytes, {} requests",
            json.len(),
            plan.chunks.len()
        );

        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let batch = StreamBatch::from_json(black_box(&json)).unwrap();
                black_box(plan_batch(&projection, batch, 1_800_000_000).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = pipeline
}
criterion_main!(benches);
