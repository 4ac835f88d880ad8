//! The profcol collector: the CLI, configuration loading and validation,
//! pipeline assembly (receivers → fan-out → exporters), the admin server,
//! self-telemetry and staged shutdown. It wires components; it does not
//! scrape or encode.

pub mod admin;
pub mod alternatives;
pub mod chains;
pub mod cli;
pub mod cluster;
pub mod component_status;
pub mod components;
pub mod convert;
pub mod effective;
pub mod extensions;
pub mod fanout;
pub mod logging;
pub mod memory;
#[cfg(test)]
mod metric_help_tests;
pub mod pipeline;
pub mod process_metrics;
pub mod reload;
pub mod settings;
pub mod shutdown;
pub mod startup_log;
pub mod topology;
