//! Errors the API store returns, one variant per upstream status reason.

use crate::api::objects::ObjectKey;
use crate::api::validation::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 404 NotFound.
    #[error("{key} not found")]
    NotFound { key: ObjectKey },
    /// 409 AlreadyExists: create of a name that exists.
    #[error("{key} already exists")]
    AlreadyExists { key: ObjectKey },
    /// 409 Conflict: the update carried a stale resourceVersion. Re-read and retry.
    #[error(
        "Operation cannot be fulfilled on {key}: the object has been modified (resourceVersion {given}, current {current}); please apply your changes to the latest version and try again"
    )]
    Conflict {
        key: ObjectKey,
        given: u64,
        current: u64,
    },
    /// 422 Invalid: validation failed.
    #[error("{key} is invalid: {}", .errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid {
        key: ObjectKey,
        errors: Vec<FieldError>,
    },
    /// 404 on the namespace of a namespaced create.
    #[error("namespaces \"{namespace}\" not found")]
    NamespaceNotFound { namespace: String },
    /// 503 ServiceUnavailable: the control plane is down (a scenario's
    /// `controlPlaneOutage`). Transient: retry later.
    #[error("the server is currently unable to handle the request (control-plane outage)")]
    ServiceUnavailable,
    /// The store holds its configured maximum of objects.
    #[error("object limit reached: the store holds {limit} objects")]
    TooManyObjects { limit: usize },
    /// generateName could not find a free name in the bounded number of attempts.
    #[error("could not generate a unique name for prefix {prefix:?}")]
    NameGenerationFailed { prefix: String },
    /// 429 TooManyRequests: the Eviction API refused because of a PodDisruptionBudget.
    /// Retry later (kubectl drain retries after 5 s). `cause` is the status cause upstream
    /// attaches (`DisruptionBudget`: "The disruption budget web needs 2 healthy pods and has
    /// 2 currently").
    #[error("{message}")]
    TooManyRequests { message: String, cause: String },
    /// 403 Forbidden (the Eviction API: a PodDisruptionBudget in a state that forbids it).
    #[error("{message}")]
    Forbidden { message: String },
    /// 500 InternalError (the Eviction API: more than one PodDisruptionBudget for a pod).
    #[error("{message}")]
    InternalError { message: String },
}

impl ApiError {
    /// The HTTP status code the API server answers with.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::NamespaceNotFound { .. } => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Forbidden { .. } => 403,
            ApiError::InternalError { .. }
            | ApiError::TooManyObjects { .. }
            | ApiError::NameGenerationFailed { .. } => 500,
            ApiError::ServiceUnavailable => 503,
        }
    }
}
