//! Builds a population index of 10,000,000 synthetic people and reports its memory per person,
//! build time, snapshot write and load times, and lookup speed.
//!
//! ```sh
//! cargo run --release -p lienthong-resolve --example index_memory [-- PEOPLE]
//! ```

#[path = "../tests/support/synthetic.rs"]
mod synthetic;

use std::sync::Arc;
use std::time::Instant;

use lienthong_resolve::VietnameseNameNormaliser;
use lienthong_resolve::index::{BlockingKey, PopulationIndex};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let people: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 10_000_000,
    };
    // Generating synthetic people costs time too: measure it alone, then build from the same
    // stream, so the build's own share can be told apart.
    let started = Instant::now();
    let mut population = synthetic::Population::new(1);
    for _ in 0..people {
        std::hint::black_box(population.person());
    }
    let generated_in = started.elapsed();
    let started = Instant::now();
    let mut population = synthetic::Population::new(1);
    let entries = (0..people).map(move |_| population.person());
    let index = PopulationIndex::build(
        entries,
        Arc::new(VietnameseNameNormaliser::default()),
        synthetic::province_map(),
    )?;
    let built_in = started.elapsed();
    let report = index.memory_report();
    println!("people:            {}", index.len());
    println!("memory:            {} bytes", report.total());
    println!("bytes per person:  {:.1}", report.bytes_per_person());
    println!(
        "  columns          {:.1}",
        report.columns as f64 / people as f64
    );
    println!(
        "  pin index        {:.1}",
        report.pin_index as f64 / people as f64
    );
    println!(
        "  superseded       {:.2}",
        report.superseded as f64 / people as f64
    );
    for (key, bytes) in BlockingKey::ALL.iter().zip(report.blocks) {
        println!("  {:<16} {:.1}", key.name(), bytes as f64 / people as f64);
    }
    println!("  names            {} bytes in total", report.names);
    println!("  term counts      {} bytes in total", report.term_counts);
    println!("generate alone:    {generated_in:.2?}");
    println!(
        "generate + build:  {built_in:.2?} (build alone ≈ {:.2?})",
        built_in.saturating_sub(generated_in)
    );
    for stats in index.block_stats() {
        println!(
            "block {:<24} {} blocks, largest {}, a person's block holds {:.1} on average",
            stats.key.name(),
            stats.blocks,
            stats.largest,
            stats.mean_block_of_person
        );
    }

    let started = Instant::now();
    let mut bytes = Vec::new();
    index.write_snapshot(&mut bytes)?;
    println!(
        "snapshot:          {} bytes, written in {:.2?}",
        bytes.len(),
        started.elapsed()
    );
    let started = Instant::now();
    let loaded = PopulationIndex::read_snapshot(
        bytes.as_slice(),
        Arc::new(VietnameseNameNormaliser::default()),
        synthetic::province_map(),
    )?;
    println!("snapshot load:     {:.2?}", started.elapsed());
    drop(bytes);

    let ids: Vec<_> = loaded.people().step_by(97).take(100_000).collect();
    let pins: Vec<_> = ids
        .iter()
        .filter_map(|id| loaded.person(*id).map(|p| p.pin))
        .collect();
    let started = Instant::now();
    let found = pins
        .iter()
        .filter(|pin| loaded.lookup_pin(**pin).is_some())
        .count();
    let elapsed = started.elapsed();
    println!(
        "pin lookups:       {found} in {elapsed:.2?} ({:.0} ns each)",
        elapsed.as_nanos() as f64 / pins.len().max(1) as f64
    );
    Ok(())
}
