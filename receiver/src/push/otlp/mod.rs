//! The `otlp` push receiver (being built; see issue #18).

use crate::push::PushHandle;
use crate::Error;
use profcol_config::{ComponentId, Problem};
use profcol_pdata::Consumer;
use profcol_runtime::ComponentContext;
use std::sync::Arc;

/// The component type.
pub const TYPE: &str = "otlp";

/// Checks the receiver's body; problems carry key paths under `path`.
pub fn validate(_body: &serde_yaml::Value, path: &str) -> Result<(), Vec<Problem>> {
    Err(vec![Problem::new(
        path,
        "the otlp receiver is not built yet",
    )])
}

/// Starts the receiver's servers.
pub fn start(
    id: &ComponentId,
    body: &serde_yaml::Value,
    _ctx: ComponentContext,
    _next: Arc<dyn Consumer>,
) -> Result<PushHandle, Error> {
    let path = profcol_config::join_path("receivers", &id.to_string());
    validate(body, &path).map_err(Error::InvalidConfig)?;
    Err(Error::NoRuntime)
}
