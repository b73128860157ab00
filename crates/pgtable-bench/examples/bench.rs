//! `cargo run --release -p pgtable-bench --example bench [-- --quick] [--json]`:
//! what `pgtable bench` prints, without the command line.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let json = args.iter().any(|a| a == "--json");
    let opts = pgtable_bench::BenchOptions {
        quick,
        ..Default::default()
    };
    let report = pgtable_bench::run(&opts, &mut |line| eprintln!("{line}"));
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
    } else {
        print!("{}", report.render_table());
    }
}
