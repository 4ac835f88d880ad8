//! Command-line interface: run (default), `validate`, `components`,
//! `print-config`, `convert`.

use crate::settings::{self, Settings};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "profcol",
    version,
    about = "A profile collector: scrapes pprof endpoints, exports OTLP profiles and Pyroscope pushes."
)]
pub struct Cli {
    /// A YAML config file, or a URI as the OpenTelemetry Collector takes it: `file:PATH`,
    /// `env:VAR` (YAML in the variable) or `yaml:key::path: value`; repeat to merge several in
    /// order (maps merge, lists replace). Without any, profcol runs its embedded default pipeline.
    #[arg(long = "config", short = 'c', global = true, value_name = "FILE|URI")]
    pub configs: Vec<String>,
    /// Overrides one key after merging, e.g. `--set exporters.debug.verbosity=detailed`
    /// (use `::` as separator when an id contains dots).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Checks the configuration and prints every problem with its key path.
    Validate,
    /// Lists the built-in receiver, processor, exporter and extension types.
    Components,
    /// Prints the effective merged configuration, secrets redacted.
    PrintConfig,
    /// Converts pprof files to OTLP, OTLP JSON, pprof or folded stacks.
    Convert(crate::convert::ConvertArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Some(Command::Components) => {
            print!("{}", crate::components::listing());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Convert(args)) => crate::convert::run(args).map(|_| ExitCode::SUCCESS),
        Some(Command::Validate) => match settings::load(&cli.configs, &cli.sets) {
            Ok(s) => {
                println!("{}: configuration is valid", s.source_names());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Some(Command::PrintConfig) => {
            let s = settings::load(&cli.configs, &cli.sets)?;
            print!("{}", crate::effective::yaml(&s)?);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let s: Settings = settings::load(&cli.configs, &cli.sets)?;
            crate::pipeline::run_until_signal(s)
        }
    }
}
