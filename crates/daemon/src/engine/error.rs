use thiserror::Error;

/// Errors of the daemon core, classified the way the Docker API reports them.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidParameter(String),
    /// The request asked for a state the object is already in (HTTP 304).
    #[error("{0}")]
    NotModified(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, EngineError>;

impl From<pouch_store::StoreError> for EngineError {
    fn from(e: pouch_store::StoreError) -> Self {
        match e {
            pouch_store::StoreError::NameInUse(n) => {
                EngineError::Conflict(format!("name {n} is already in use"))
            }
            other => EngineError::Internal(other.to_string()),
        }
    }
}

impl From<std::io::Error> for EngineError {
    fn from(e: std::io::Error) -> Self {
        EngineError::Internal(e.to_string())
    }
}

/// `Err(Internal(context: error))` for any displayable error.
pub fn internal(context: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(format!("{context}: {e}"))
}

impl From<super::filters::FilterError> for EngineError {
    fn from(e: super::filters::FilterError) -> Self {
        match e {
            super::filters::FilterError::NoSuchContainer(_) => EngineError::NotFound(e.to_string()),
            other => EngineError::InvalidParameter(other.to_string()),
        }
    }
}
