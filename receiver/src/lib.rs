//! profcol's receivers.
