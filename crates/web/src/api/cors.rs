//! Cross-origin requests (CORS) to the API.
//!
//! A marketer embeds a form on their own site; its script posts to
//! `POST /api/v1/forms/{id}/submissions` from that site's origin. That route (and its
//! preflight) is answered for **any** origin, without credentials: it needs no API key and
//! reads no cookie. Every other API route is answered with CORS headers only for the origins the
//! operator configured (`serve --cors-origin`, `LEADBRIDGE_CORS_ORIGINS`, `cors_origins` in the
//! config file); none by default, so a browser on another site cannot read the API's answers.
//! Credentials (cookies) are never allowed: the API authenticates with a bearer header.

use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer of the API, for the configured `origins` (`*`: any).
pub fn layer(origins: &[String]) -> CorsLayer {
    let origins: Arc<[String]> = origins.iter().cloned().collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            is_public_submission(parts) || allowed(&origins, origin)
        }))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(PREFLIGHT_MAX_AGE)
}

fn allowed(origins: &[String], origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    origins
        .iter()
        .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
}

/// `POST /api/v1/forms/{id}/submissions`, or the preflight of one.
fn is_public_submission(parts: &Parts) -> bool {
    let method = if parts.method == Method::OPTIONS {
        match parts
            .headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        {
            Some(requested) => requested,
            None => return false,
        }
    } else {
        parts.method.clone()
    };
    method == Method::POST && is_submission_path(parts.uri.path())
}

fn is_submission_path(path: &str) -> bool {
    path.strip_prefix("/api/v1/forms/")
        .and_then(|rest| rest.strip_suffix("/submissions"))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks one configured origin: `*`, or `scheme://host[:port]` with scheme http or https and
/// nothing after it (a trailing `/` is dropped). Returns it as browsers send it in `Origin`.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw == "*" {
        return Ok(raw.to_owned());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("'{raw}' is not an origin URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("'{raw}': an origin is http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(format!(
            "'{raw}': an origin is scheme://host[:port] and nothing more (e.g. https://shop.example)"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_submission_path_of_a_numeric_form_is_public() {
        assert!(is_submission_path("/api/v1/forms/12/submissions"));
        for path in [
            "/api/v1/forms/x/submissions",
            "/api/v1/forms//submissions",
            "/api/v1/forms/12",
            "/api/v1/forms/12/submissions/3",
            "/api/v1/contacts",
        ] {
            assert!(!is_submission_path(path), "{path}");
        }
    }

    #[test]
    fn origins_are_checked_and_normalised() {
        assert_eq!(
            parse_origin("https://Shop.Example/").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            parse_origin("http://localhost:3000").unwrap(),
            "http://localhost:3000"
        );
        assert_eq!(parse_origin(" * ").unwrap(), "*");
        for bad in [
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/path",
            "https://u:p@shop.example",
            "https://shop.example/?q=1",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
