//! The processor crate's error.

use profcol_config::Problem;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The processor's config did not decode or validate.
    #[error("{}", problems(.0))]
    Config(Vec<Problem>),
}

fn problems(list: &[Problem]) -> String {
    list.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
