//! The API's error answers: RFC 9457 problem documents (`application/problem+json`), and
//! extractors whose rejections become problems too, so that no bad input is answered with a
//! bare text body or a 500.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lb_store::{Problem, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// A problem document. `errors` lists every problem of the input, each naming its field (and
/// its row, for imports).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemBody {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One problem with one field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    pub field: String,
    pub message: String,
}

impl From<Problem> for FieldError {
    fn from(p: Problem) -> FieldError {
        FieldError {
            row: p.row,
            field: p.field,
            message: p.message,
        }
    }
}

/// Every way an API call can fail.
#[derive(Debug)]
pub enum ApiError {
    Invalid(Vec<Problem>),
    Conflict {
        detail: String,
        errors: Vec<Problem>,
    },
    NotFound(String),
    /// The path exists, not with this method (the `Allow` header lists those it has).
    MethodNotAllowed(String),
    Unauthorized,
    UnsupportedMediaType(String),
    TooLarge(usize),
    Unavailable,
    Internal,
}

impl ApiError {
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(vec![Problem::new(field, message.into())])
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::Invalid(problems) => ApiError::Invalid(problems),
            StoreError::EmailTaken { email, existing } => ApiError::Conflict {
                detail: format!("email {email} is already used by contact {existing}"),
                errors: vec![Problem::new(
                    "email",
                    format!("is already used by contact {existing}"),
                )],
            },
            StoreError::AlreadyExists { what } => ApiError::Conflict {
                detail: format!("{what} already exists"),
                errors: vec![Problem::new("name", "already exists".into())],
            },
            StoreError::NotFound { what } => ApiError::NotFound(what),
            err if err.is_unavailable() => {
                tracing::error!(error = %err, "database unavailable");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title, detail, errors) = match self {
            ApiError::Invalid(problems) => {
                let detail = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", "Invalid input", detail, problems)
            }
            ApiError::Conflict { detail, errors } => (StatusCode::CONFLICT, "conflict", "Conflict", detail, errors),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, "not-found", "Not found", format!("{what} not found"), vec![]),
            ApiError::MethodNotAllowed(method) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                format!("this path does not accept {method}; the Allow header lists the methods it does"),
                vec![],
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "send an API key as 'Authorization: Bearer <key>' (create one with `leadbridge api-key create`)".into(),
                vec![],
            ),
            ApiError::UnsupportedMediaType(detail) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type", detail, vec![])
            }
            ApiError::TooLarge(max) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Payload too large",
                format!("the body is larger than {max} bytes"),
                vec![],
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "the database is busy or unreachable; retry shortly".into(),
                vec![],
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "an unexpected error happened; it has been logged".into(),
                vec![],
            ),
        };
        let body = ProblemBody {
            kind: format!("https://leadbridge.invalid/problems/{kind}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors: errors.into_iter().map(FieldError::from).collect(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `axum::Json`, with malformed bodies answered as 422 problems (415 for a wrong content type).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with 'Content-Type: application/json'".into(),
            )),
            // Over the API's body limit: 413 like a form submission, not "invalid input".
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::TooLarge(super::API_MAX_BYTES))
            }
            Err(rejection) => Err(ApiError::invalid("(body)", rejection.body_text())),
        }
    }
}

/// `axum::extract::Path`, with a malformed id answered as a 422 problem.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r: PathRejection| ApiError::invalid("(path)", r.body_text()))
    }
}

/// `axum::extract::Query`, with bad parameters answered as a 422 problem.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|r: QueryRejection| ApiError::invalid("(query)", r.body_text()))
    }
}
