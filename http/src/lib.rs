//! HTTP clients built from `profcol_config::HttpClientConfig`.
