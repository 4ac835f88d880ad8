//! The attribute actions the `resource` and `attributes` processors share,
//! with the OpenTelemetry Collector's keys and semantics (contrib's
//! `internal/coreinternal/attraction`): `insert`, `update`, `upsert`,
//! `delete`, `hash`, `extract` and `convert`, applied in the order listed.
//!
//! A processor decodes its list into [`ActionConfig`]s, compiles them with
//! [`Actions::compile`] (every problem under its key path), and for each
//! attribute set it edits builds an [`Attrs`], calls [`Actions::apply`] and
//! writes the set back only when `apply` says it changed.
//!
//! ```
//! use profcol_processor::actions::{ActionConfig, Actions, Attrs, Value};
//! let list: Vec<ActionConfig> = profcol_config::yaml::from_str(
//!     "[{key: deployment.environment, value: prod, action: upsert}]",
//! ).unwrap();
//! let actions = Actions::compile(&list, "processors::resource::attributes").unwrap();
//! let mut attrs = Attrs::default();
//! assert!(actions.apply(&mut attrs));
//! assert_eq!(attrs.get("deployment.environment"), Some(&Value::Str("prod".into())));
//! ```

mod apply;
mod attrs;
mod config;
mod convert;
mod hash;
mod value;
mod value_serde;

pub use attrs::{Attr, Attrs};
pub use config::{ActionConfig, Actions};
pub use value::Value;
