//! Forms: the list, creating one (inputs mapped to contact attributes), and the embeddable HTML
//! snippet that posts to the public submission endpoint.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use lb_store::{FieldKind, Form, NewForm, StoreError};
use serde::Deserialize;

use super::{Ctx, UiError, UiState, render, when};

/// Where a form's snippet posts (the public endpoint of the contact base's API).
pub(crate) fn submission_path(form_id: i64) -> String {
    format!("/api/v1/forms/{form_id}/submissions")
}

const DEFAULT_MAPPING: &str =
    "email = email\nfirst_name = first_name\nlast_name = last_name\ncompany = company";

#[derive(askama::Template)]
#[template(path = "forms.html")]
struct FormsPage {
    ctx: Ctx,
    forms: Vec<FormRow>,
    name: String,
    mapping: String,
    score_increment: String,
    redirect_url: String,
    problems: Vec<String>,
}

struct FormRow {
    id: i64,
    name: String,
    inputs: String,
    score_increment: i64,
    redirect_url: Option<String>,
    created: String,
}

impl FormRow {
    fn of(f: &Form) -> FormRow {
        FormRow {
            id: f.id,
            name: f.name.clone(),
            inputs: f
                .mapping
                .iter()
                .map(|(i, a)| format!("{i} → {a}"))
                .collect::<Vec<_>>()
                .join(", "),
            score_increment: f.score_increment,
            redirect_url: f.redirect_url.clone(),
            created: when(f.created_at),
        }
    }
}

pub(crate) async fn list(State(state): State<UiState>, ctx: Ctx) -> Response {
    page(
        &state,
        ctx,
        String::new(),
        DEFAULT_MAPPING.to_owned(),
        lb_store::DEFAULT_SCORE_INCREMENT.to_string(),
        String::new(),
        vec![],
    )
    .await
}

async fn page(
    state: &UiState,
    ctx: Ctx,
    name: String,
    mapping: String,
    score_increment: String,
    redirect_url: String,
    problems: Vec<String>,
) -> Response {
    match state.store.forms().await {
        Ok(forms) => {
            let forms = forms.iter().map(FormRow::of).collect();
            let status = if problems.is_empty() {
                axum::http::StatusCode::OK
            } else {
                axum::http::StatusCode::UNPROCESSABLE_ENTITY
            };
            (
                status,
                render(&FormsPage {
                    ctx,
                    forms,
                    name,
                    mapping,
                    score_increment,
                    redirect_url,
                    problems,
                }),
            )
                .into_response()
        }
        Err(err) => UiError::from(err).into_page(ctx),
    }
}

#[derive(Deserialize)]
pub(crate) struct NewFormInput {
    name: String,
    mapping: String,
    score_increment: String,
    #[serde(default)]
    redirect_url: String,
}

/// Reads `input = attribute` lines; the problems name the line.
fn parse_mapping(text: &str) -> Result<BTreeMap<String, String>, Vec<String>> {
    let mut mapping = BTreeMap::new();
    let mut problems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((input, attr)) if !input.trim().is_empty() && !attr.trim().is_empty() => {
                if mapping
                    .insert(input.trim().to_owned(), attr.trim().to_owned())
                    .is_some()
                {
                    problems.push(format!(
                        "line {}: the input '{}' is listed twice",
                        n + 1,
                        input.trim()
                    ));
                }
            }
            _ => problems.push(format!("line {}: write `input_name = attribute`", n + 1)),
        }
    }
    if problems.is_empty() {
        Ok(mapping)
    } else {
        Err(problems)
    }
}

pub(crate) async fn create(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(input): axum::Form<NewFormInput>,
) -> Response {
    let mut problems = Vec::new();
    let score = match input.score_increment.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                problems.push(format!("score_increment: '{raw}' is not a whole number"));
                None
            }
        },
    };
    let mapping = parse_mapping(&input.mapping).unwrap_or_else(|p| {
        problems.extend(p);
        BTreeMap::new()
    });
    if problems.is_empty() {
        let new = NewForm {
            name: input.name.clone(),
            mapping,
            score_increment: score,
        };
        match state
            .store
            .create_form_with_redirect(&new, Some(&input.redirect_url))
            .await
        {
            Ok(form) => return Redirect::to(&format!("/forms/{}", form.id)).into_response(),
            Err(StoreError::Invalid(p)) => problems.extend(p.iter().map(ToString::to_string)),
            Err(err) => return UiError::from(err).into_page(ctx),
        }
    }
    page(
        &state,
        ctx,
        input.name,
        input.mapping,
        input.score_increment,
        input.redirect_url,
        problems,
    )
    .await
}

#[derive(askama::Template)]
#[template(path = "form.html")]
struct FormPage {
    ctx: Ctx,
    form: FormRow,
    thanks_path: String,
    redirect_input: String,
    problems: Vec<String>,
    snippet: String,
    submissions: Vec<(String, i64, String)>,
}

pub(crate) async fn show(State(state): State<UiState>, ctx: Ctx, Path(id): Path<i64>) -> Response {
    detail(&state, ctx, id, None, vec![]).await
}

#[derive(Deserialize)]
pub(crate) struct RedirectInput {
    #[serde(default)]
    redirect_url: String,
}

/// Sets or clears a form's redirect URL; a bad URL re-shows the page naming the problem.
pub(crate) async fn set_redirect(
    State(state): State<UiState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    axum::Form(input): axum::Form<RedirectInput>,
) -> Response {
    match state
        .store
        .set_form_redirect_url(id, Some(&input.redirect_url))
        .await
    {
        Ok(_) => Redirect::to(&format!("/forms/{id}")).into_response(),
        Err(StoreError::Invalid(p)) => {
            let problems = p.iter().map(ToString::to_string).collect();
            detail(&state, ctx, id, Some(input.redirect_url), problems).await
        }
        Err(err) => UiError::from(err).into_page(ctx),
    }
}

async fn detail(
    state: &UiState,
    ctx: Ctx,
    id: i64,
    redirect_input: Option<String>,
    problems: Vec<String>,
) -> Response {
    let (form, submissions) =
        match tokio::try_join!(state.store.form(id), state.store.submissions(id, None, 20)) {
            Ok(found) => found,
            Err(err) => return UiError::from(err).into_page(ctx),
        };
    let schema = match state.store.schema().await {
        Ok(schema) => schema,
        Err(err) => return UiError::from(err).into_page(ctx),
    };
    let snippet = snippet(&state.base_url, &form, &schema);
    let submissions = submissions
        .iter()
        .map(|s| {
            let email = form
                .mapping
                .iter()
                .find(|(_, a)| a.as_str() == "email")
                .and_then(|(input, _)| s.payload.get(input))
                .cloned()
                .unwrap_or_default();
            (when(s.submitted_at), s.contact_id.0, email)
        })
        .collect();
    let status = if problems.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = render(&FormPage {
        ctx,
        thanks_path: crate::pages::thanks::path(form.id),
        redirect_input: redirect_input
            .or_else(|| form.redirect_url.clone())
            .unwrap_or_default(),
        problems,
        form: FormRow::of(&form),
        snippet,
        submissions,
    });
    (status, page).into_response()
}

/// The HTML a marketer pastes into a web page: a plain form posting to the public endpoint.
/// Each input is the control its attribute takes, from `schema`'s custom fields: a list of the
/// allowed values for a picklist, so a visitor cannot type a value the submission would
/// refuse; a number, date or yes/no control for those kinds; email and phone keyboards.
/// (A form cannot set the score, state or lifecycle stage.)
pub fn snippet(base_url: &str, form: &Form, schema: &lb_store::Schema) -> String {
    let mut html = format!(
        "<form method=\"post\" action=\"{}{}\" accept-charset=\"utf-8\">\n",
        base_url,
        submission_path(form.id)
    );
    for (input, attribute) in &form.mapping {
        let field = schema.fields.iter().find(|f| &f.name == attribute);
        let label = field
            .map(|f| f.label.clone())
            .unwrap_or_else(|| attribute.replace('_', " "));
        let name = escape(input);
        let control = match (attribute.as_str(), field.map(|f| f.kind)) {
            ("email", _) => format!("<input type=\"email\" name=\"{name}\" required>"),
            ("phone", _) => format!("<input type=\"tel\" name=\"{name}\">"),
            (_, Some(FieldKind::Picklist)) => select(
                &name,
                field
                    .into_iter()
                    .flat_map(|f| f.options.iter().map(|o| (o.as_str(), o.as_str()))),
            ),
            (_, Some(FieldKind::Boolean)) => {
                select(&name, [("true", "yes"), ("false", "no")].into_iter())
            }
            (_, Some(FieldKind::Number)) => {
                format!("<input type=\"number\" name=\"{name}\" step=\"any\">")
            }
            (_, Some(FieldKind::Date)) => format!("<input type=\"date\" name=\"{name}\">"),
            _ => format!("<input type=\"text\" name=\"{name}\">"),
        };
        html.push_str(&format!(
            "  <label>{}\n    {control}\n  </label>\n",
            escape(&label)
        ));
    }
    html.push_str("  <button type=\"submit\">Send</button>\n</form>\n");
    html
}

/// A `<select>` of `(value, text)` options after an empty one (nothing chosen: the value is
/// left alone).
fn select<'a>(name: &str, options: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut html = format!("<select name=\"{name}\">\n      <option value=\"\"></option>\n");
    for (value, text) in options {
        html.push_str(&format!(
            "      <option value=\"{}\">{}</option>\n",
            escape(value),
            escape(text)
        ));
    }
    html.push_str("    </select>");
    html
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_lines_are_read_and_bad_lines_named() {
        let ok = parse_mapping("email = email\n\n first = first_name ").unwrap();
        assert_eq!(ok.get("first").map(String::as_str), Some("first_name"));
        assert_eq!(
            parse_mapping("email\nemail = email\nemail = email").unwrap_err(),
            vec![
                "line 1: write `input_name = attribute`".to_owned(),
                "line 3: the input 'email' is listed twice".to_owned()
            ]
        );
    }

    #[test]
    fn snippet_posts_to_the_public_endpoint_with_escaped_inputs() {
        let form = Form {
            id: 7,
            name: "Demo".into(),
            mapping: [("e\"mail".to_owned(), "email".to_owned())].into(),
            score_increment: 5,
            redirect_url: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let schema = lb_store::Schema {
            states: vec!["new".into()],
            fields: Vec::new(),
        };
        let html = snippet("https://app.example", &form, &schema);
        assert!(
            html.starts_with(
                "<form method=\"post\" action=\"https://app.example/api/v1/forms/7/submissions\""
            ),
            "{html}"
        );
        assert!(html.contains("name=\"e&quot;mail\" required"), "{html}");
    }
}
