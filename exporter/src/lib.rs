//! profcol's exporters.
