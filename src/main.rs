//! The `adoport` binary: parse arguments, run one subcommand, exit with its code.

mod cli;

/// mimalloc rather than the system's malloc: with it, `plan` and `apply` take ~40 % less
/// CPU (measured in BENCHMARKS.md, "apply"), since mapping allocates and frees millions of
/// small values across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
