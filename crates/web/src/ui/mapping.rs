//! The mapping screen (R-MAP): our attributes in order (new ones last), for each the org field
//! (a choice among the fields of the org's describe that can hold it), the direction (locked
//! rows for mandatory attributes; score and status only marketing → CRM; nothing ever written
//! to a Contact), value maps for picklists, the conflict policy, and the warnings of the core's
//! validation (free-text CRM fields flowing in, lengths, uncovered picklist values).
//!
//! Saving validates the whole mapping against the org (`lb_core::validate`): with errors nothing
//! is saved and the page says why; otherwise it is saved, and when its hash differs from the
//! last full sync's the page says a full resync is due, with a button (R-SYNC-5).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use lb_core::mapping::is_locked;
use lb_core::{
    Catalog, ConflictPolicy, Direction, FieldType, Mapping, MappingEntry, OrgField, OrgSchema,
    SObject, Severity, ValueMap, ValuePair,
};
use lb_engine::{ConnectionSettings, Health, Watermarks};
use serde::Deserialize;

use super::{Ctx, UiError, UiState, render};

/// Attributes that may only flow marketing → CRM (R-MAP-3).
const ONE_WAY: &[&str] = &["behaviour_score", "state"];

const DIRECTIONS: [(Direction, &str); 4] = [
    (Direction::ToCrm, "to_crm"),
    (Direction::ToMarketing, "to_marketing"),
    (Direction::Both, "both"),
    (Direction::Off, "off"),
];

const CONFLICTS: [(ConflictPolicy, &str); 3] = [
    (ConflictPolicy::MostRecent, "most_recent"),
    (ConflictPolicy::CrmWins, "crm_wins"),
    (ConflictPolicy::MarketingWins, "marketing_wins"),
];

fn direction_code(d: Direction) -> &'static str {
    DIRECTIONS
        .iter()
        .find(|(x, _)| *x == d)
        .map(|(_, c)| *c)
        .unwrap_or("off")
}

/// The directions an entry may take (R-MAP-3, R-SYNC-2).
fn allowed_directions(attribute: &str, object: SObject) -> Vec<Direction> {
    match object {
        SObject::Contact => vec![Direction::ToMarketing, Direction::Off],
        SObject::Lead if ONE_WAY.contains(&attribute) => vec![Direction::ToCrm, Direction::Off],
        SObject::Lead => vec![
            Direction::ToCrm,
            Direction::ToMarketing,
            Direction::Both,
            Direction::Off,
        ],
    }
}

pub(crate) struct Choice {
    value: String,
    label: String,
    selected: bool,
}

pub(crate) struct Row {
    index: usize,
    attribute: String,
    object: String,
    locked: bool,
    field: String,
    field_choices: Vec<Choice>,
    directions: Vec<Choice>,
    conflicts: Vec<Choice>,
    picklist: bool,
    value_map: String,
    problems: Vec<(bool, String)>,
}

#[derive(askama::Template)]
#[template(path = "mapping.html")]
struct MappingPage {
    ctx: Ctx,
    rows: Vec<Row>,
    connected: bool,
    schema_from_org: bool,
    resync_due: bool,
    saved: bool,
    errors: Vec<String>,
    addable: Vec<Choice>,
    add_fields: Vec<Choice>,
}

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    saved: Option<String>,
}

pub(crate) async fn page(
    State(state): State<UiState>,
    ctx: Ctx,
    Query(q): Query<PageQuery>,
) -> Response {
    let mapping = match lb_engine::settings::load_mapping(&state.store).await {
        Ok(m) => m,
        Err(e) => return UiError::Internal(e.to_string()).into_page(ctx),
    };
    let result = show(&state, ctx, &mapping, vec![], q.saved.is_some()).await;
    result.unwrap_or_else(|(e, ctx)| e.into_page(ctx))
}

async fn show(
    state: &UiState,
    ctx: Ctx,
    mapping: &Mapping,
    errors: Vec<String>,
    saved: bool,
) -> Result<Response, (UiError, Ctx)> {
    let (schema, from_org) = match org_schema(state).await {
        Ok(found) => found,
        Err(e) => return Err((e, ctx)),
    };
    let connected = schema.is_some();
    let catalog = Catalog::standard();
    let validation = schema
        .as_ref()
        .map(|s| lb_core::validate(mapping, &catalog, s));
    let resync_due = match Watermarks::load(&state.store).await {
        Ok(w) => w.mapping_hash.is_some_and(|h| h != mapping.hash()),
        Err(e) => return Err((UiError::Internal(e.to_string()), ctx)),
    };
    let rows = mapping
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let problems = validation
                .iter()
                .flat_map(|v| v.problems.iter())
                .filter(|p| p.entry == Some(i))
                .map(|p| (p.severity == Severity::Error, p.kind.to_string()))
                .collect();
            row(&ctx, i, e, schema.as_ref(), &catalog, problems)
        })
        .collect();
    let mapped: Vec<&str> = mapping
        .entries
        .iter()
        .filter(|e| e.object == SObject::Lead)
        .map(|e| e.attribute.as_str())
        .collect();
    let addable = catalog
        .attributes
        .iter()
        .filter(|a| !mapped.contains(&a.name.as_str()))
        .map(|a| Choice {
            value: a.name.clone(),
            label: a.name.clone(),
            selected: false,
        })
        .collect();
    let add_fields = schema
        .as_ref()
        .and_then(|s| s.objects.get(&SObject::Lead))
        .map(|fields| {
            fields
                .iter()
                .filter(|f| f.updateable || f.createable)
                .map(|f| Choice {
                    value: f.name.clone(),
                    label: f.name.clone(),
                    selected: false,
                })
                .collect()
        })
        .unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = MappingPage {
        ctx,
        rows,
        connected,
        schema_from_org: from_org,
        resync_due,
        saved,
        errors,
        addable,
        add_fields,
    };
    Ok((status, render(&page)).into_response())
}

fn row(
    ctx: &Ctx,
    index: usize,
    e: &MappingEntry,
    schema: Option<&OrgSchema>,
    catalog: &Catalog,
    problems: Vec<(bool, String)>,
) -> Row {
    let locked = is_locked(&e.attribute);
    let mut field_choices: Vec<Choice> = schema
        .map(|s| compatible_fields(s, catalog, e))
        .unwrap_or_default()
        .into_iter()
        .map(|name| Choice {
            selected: name.eq_ignore_ascii_case(&e.field),
            label: name.clone(),
            value: name,
        })
        .collect();
    if !field_choices.iter().any(|c| c.selected) {
        // The current field, even if the org lacks it (the problem column says so).
        field_choices.insert(
            0,
            Choice {
                value: e.field.clone(),
                label: e.field.clone(),
                selected: true,
            },
        );
    }
    let directions = allowed_directions(&e.attribute, e.object)
        .into_iter()
        .map(|d| Choice {
            value: direction_code(d).to_owned(),
            label: ctx.t(&format!("map.dir.{}", direction_code(d))).to_owned(),
            selected: d == e.direction,
        })
        .collect();
    let conflicts = CONFLICTS
        .iter()
        .map(|(c, code)| Choice {
            value: (*code).to_owned(),
            label: ctx.t(&format!("map.conflict.{code}")).to_owned(),
            selected: *c == e.conflict,
        })
        .collect();
    let picklist = catalog
        .get(&e.attribute)
        .is_some_and(|a| a.kind == lb_core::AttrKind::Picklist);
    let value_map = e
        .value_map
        .as_ref()
        .map(|m| {
            m.0.iter()
                .map(|p| format!("{} = {}", p.ours, p.theirs))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    Row {
        index,
        attribute: e.attribute.clone(),
        object: e.object.api_name().to_owned(),
        locked,
        field: e.field.clone(),
        field_choices,
        directions,
        conflicts,
        picklist,
        value_map,
        problems,
    }
}

/// The org fields of the entry's object that can hold the attribute: those for which the
/// core's validation finds no type mismatch.
fn compatible_fields(schema: &OrgSchema, catalog: &Catalog, e: &MappingEntry) -> Vec<String> {
    let Some(fields) = schema.objects.get(&e.object) else {
        return vec![];
    };
    fields
        .iter()
        .filter(|f| f.kind != FieldType::Id && f.kind != FieldType::Reference)
        .filter(|f| {
            let mut probe = e.clone();
            probe.field = f.name.clone();
            probe.value_map = None;
            let single = Mapping {
                entries: vec![probe],
            };
            !lb_core::validate(&single, catalog, schema)
                .problems
                .iter()
                .any(|p| {
                    p.entry == Some(0)
                        && matches!(
                            p.kind,
                            lb_core::ProblemKind::TypeMismatch { .. }
                                | lb_core::ProblemKind::MissingField { .. }
                        )
                })
        })
        .map(|f| f.name.clone())
        .collect()
}

/// The org's schema: from a fresh describe when the connection may be used, else from the
/// field types saved with the connection (no request to an org that refused our credentials).
/// `None` when nothing is connected. The flag says whether it came from the org just now.
async fn org_schema(state: &UiState) -> Result<(Option<OrgSchema>, bool), UiError> {
    let saved = ConnectionSettings::load(&state.store)
        .await
        .map_err(|e| UiError::Internal(e.to_string()))?;
    let Some(saved) = saved else {
        return Ok((None, false));
    };
    let health = Health::load(&state.store)
        .await
        .map_err(|e| UiError::Internal(e.to_string()))?;
    if !matches!(health, Health::CredentialsRejected { .. })
        && let Some(client) = state.client().await?
    {
        let mut schema = OrgSchema::default();
        let mut complete = true;
        for object in [SObject::Lead, SObject::Contact] {
            match client.describe(object.api_name()).await {
                Ok(d) => {
                    schema = schema.with_object(object, lb_engine::org_fields(&d));
                }
                Err(err) => {
                    tracing::warn!(%err, "describe failed; using the field types saved with the connection");
                    complete = false;
                    break;
                }
            }
        }
        if complete {
            return Ok((Some(schema), true));
        }
    }
    let mut by_object: HashMap<SObject, Vec<OrgField>> = HashMap::new();
    for (key, kind) in &saved.field_types {
        let Some((object, name)) = key.split_once('.') else {
            continue;
        };
        let object = match object {
            "Lead" => SObject::Lead,
            "Contact" => SObject::Contact,
            _ => continue,
        };
        by_object.entry(object).or_default().push(OrgField::new(
            name,
            FieldType::from_describe(kind),
            None,
        ));
    }
    let schema = by_object
        .into_iter()
        .fold(OrgSchema::default(), |s, (o, f)| s.with_object(o, f));
    Ok((Some(schema), false))
}

/// Reads `ours = theirs` lines into a value map (`None` when empty).
fn parse_value_map(text: &str) -> Result<Option<ValueMap>, String> {
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((ours, theirs)) = line.split_once('=') else {
            return Err(format!("line {}: write `our value = org value`", n + 1));
        };
        pairs.push(ValuePair {
            ours: ours.trim().to_owned(),
            theirs: theirs.trim().to_owned(),
        });
    }
    Ok((!pairs.is_empty()).then_some(ValueMap(pairs)))
}

pub(crate) async fn save(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let form: HashMap<String, String> = pairs.into_iter().collect();
    let current = match lb_engine::settings::load_mapping(&state.store).await {
        Ok(m) => m,
        Err(e) => return UiError::Internal(e.to_string()).into_page(ctx),
    };
    let mut mapping = current.clone();
    let mut errors = Vec::new();
    for (i, entry) in mapping.entries.iter_mut().enumerate() {
        if is_locked(&entry.attribute) {
            continue; // Locked rows are shown, never taken from the form (R-MAP-2).
        }
        if let Some(field) = form
            .get(&format!("field_{i}"))
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
        {
            entry.field = field.to_owned();
        }
        if let Some(code) = form.get(&format!("direction_{i}")) {
            match DIRECTIONS.iter().find(|(_, c)| c == code) {
                Some((d, _)) if allowed_directions(&entry.attribute, entry.object).contains(d) => {
                    entry.direction = *d
                }
                _ => errors.push(format!(
                    "{}: {}",
                    entry.attribute,
                    ctx.t("map.error.direction")
                )),
            }
        }
        if let Some(code) = form.get(&format!("conflict_{i}"))
            && let Some((c, _)) = CONFLICTS.iter().find(|(_, x)| x == code)
        {
            entry.conflict = *c;
        }
        if let Some(text) = form.get(&format!("values_{i}")) {
            match parse_value_map(text) {
                Ok(map) => entry.value_map = map,
                Err(e) => errors.push(format!("{}: {e}", entry.attribute)),
            }
        }
    }
    // A new attribute goes last (R-MAP-4).
    if let Some(attribute) = form
        .get("add_attribute")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    {
        let field = form.get("add_field").map(|f| f.trim()).unwrap_or_default();
        if field.is_empty() {
            errors.push(format!("{attribute}: {}", ctx.t("map.error.add_field")));
        } else {
            let direction = if ONE_WAY.contains(&attribute) {
                Direction::ToCrm
            } else {
                Direction::Both
            };
            if let Err(e) = mapping.push(MappingEntry::new(
                attribute,
                SObject::Lead,
                field,
                direction,
            )) {
                errors.push(e.to_string());
            }
        }
    }
    if errors.is_empty()
        && let Ok((Some(schema), _)) = org_schema(&state).await
    {
        let validation = lb_core::validate(&mapping, &Catalog::standard(), &schema);
        errors.extend(
            validation
                .errors()
                .map(|p| format!("{}: {}", p.attribute, p.kind)),
        );
    }
    if !errors.is_empty() {
        return show(&state, ctx, &mapping, errors, false)
            .await
            .unwrap_or_else(|(e, ctx)| e.into_page(ctx));
    }
    if mapping != current
        && let Err(e) = lb_engine::settings::save_mapping(&state.store, &mapping).await
    {
        return UiError::Internal(e.to_string()).into_page(ctx);
    }
    tracing::info!(hash = %mapping.hash(), "mapping saved");
    Redirect::to("/settings/mapping?saved=1").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_and_status_only_go_to_the_crm_and_contacts_only_come_in() {
        assert_eq!(
            allowed_directions("behaviour_score", SObject::Lead),
            vec![Direction::ToCrm, Direction::Off]
        );
        assert_eq!(
            allowed_directions("state", SObject::Lead),
            vec![Direction::ToCrm, Direction::Off]
        );
        assert_eq!(
            allowed_directions("phone", SObject::Contact),
            vec![Direction::ToMarketing, Direction::Off]
        );
        assert_eq!(allowed_directions("phone", SObject::Lead).len(), 4);
    }

    #[test]
    fn value_map_lines_are_read_in_order() {
        let map = parse_value_map("new = Open - Not Contacted\n\nclosed=Closed - Converted")
            .unwrap()
            .unwrap();
        assert_eq!(
            map.0[1],
            ValuePair {
                ours: "closed".into(),
                theirs: "Closed - Converted".into()
            }
        );
        assert_eq!(parse_value_map("  ").unwrap(), None);
        assert_eq!(
            parse_value_map("oops").unwrap_err(),
            "line 1: write `our value = org value`"
        );
    }

    #[test]
    fn only_fields_that_can_hold_the_value_are_offered() {
        let schema = OrgSchema::seed_org();
        let catalog = Catalog::standard();
        let entry = MappingEntry::new(
            "behaviour_score",
            SObject::Lead,
            "score__c",
            Direction::ToCrm,
        );
        let offered = compatible_fields(&schema, &catalog, &entry);
        assert!(offered.iter().any(|f| f == "score__c"), "{offered:?}");
        assert!(
            !offered.iter().any(|f| f == "Id" || f == "CreatedDate"),
            "{offered:?}"
        );
    }
}
