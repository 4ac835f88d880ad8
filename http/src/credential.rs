//! A secret that is either inline in the config or read from a file on every
//! use, so rotated files take effect without a restart.

use crate::error::Error;
use profcol_config::Secret;

#[derive(Clone)]
pub(crate) enum Credential {
    Inline(Secret),
    File { field: String, path: String },
    Empty,
}

impl Credential {
    /// `field` is the config path of the `_file` key, used in errors.
    pub(crate) fn new(inline: Option<&Secret>, file: Option<&str>, field: &str) -> Self {
        match (inline, file) {
            (Some(s), _) => Credential::Inline(s.clone()),
            (None, Some(p)) => {
                crate::file_mode::warn_if_world_readable(field, p);
                Credential::File {
                    field: field.to_string(),
                    path: p.to_string(),
                }
            }
            (None, None) => Credential::Empty,
        }
    }

    /// The current value; file contents are trimmed of surrounding
    /// whitespace (a trailing newline is the norm in mounted secrets).
    pub(crate) async fn load(&self) -> Result<Secret, Error> {
        match self {
            Credential::Inline(s) => Ok(s.clone()),
            Credential::Empty => Ok(Secret::default()),
            Credential::File { field, path } => match tokio::fs::read_to_string(path).await {
                Ok(text) => Ok(Secret::new(text.trim())),
                Err(source) => Err(Error::ReadFile {
                    field: field.clone(),
                    path: path.clone(),
                    source,
                }),
            },
        }
    }

    /// The config field to name in errors about the value.
    pub(crate) fn describe(&self, inline_field: &str) -> String {
        match self {
            Credential::File { field, path } => format!("{field} {path}"),
            _ => inline_field.to_string(),
        }
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Inline(_) => f.write_str("Inline(<secret>)"),
            Credential::File { path, .. } => write!(f, "File({path})"),
            Credential::Empty => f.write_str("Empty"),
        }
    }
}
