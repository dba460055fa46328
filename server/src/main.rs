//! # hepq: SQL over high-energy-physics data
//!
//! The `hepq` binary: `hepq sql` (one-shot queries, scripts and an interactive shell),
//! `hepq demo` (builds a demo warehouse and runs a guided tour), `hepq generate` (the demo
//! data generator) and `hepq serve` (the PostgreSQL wire-protocol server). Every command builds its engine session through `hepq-sql`.
//!
//! Modules: [`cli`] holds the subcommands, output formats, shell and progress bars;
//! [`generate`] the deterministic demo data generators; [`pg`] the PostgreSQL server.

mod cli;
mod generate;
mod pg;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, no backtrace: the message names the path, table or SQL position.
            let message = e.to_string();
            let one_line: Vec<&str> = message.lines().filter(|l| !l.trim().is_empty()).collect();
            eprintln!("Error: {}", one_line.join(" "));
            ExitCode::FAILURE
        }
    }
}
