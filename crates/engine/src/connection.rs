//! Connecting to an org (R-CONN): log in, read the edition in plain words (R-CONN-4), the API
//! version, check the fields of R-FIELD with their types and create the missing ones on request
//! (R-FIELD-5), validate the mapping against the describe, and save the credentials —
//! encrypted in the store's secret store — once they work.
//!
//! Invariants: a secret goes only to the secret store (never to the key/value table, never to
//! a report or a log); credentials that do not work are not saved over working ones; saving
//! new credentials bumps the credentials version, which is what lets a sync paused by refused
//! credentials resume by itself.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lb_core::{Catalog, FieldType, Mapping, OrgField, OrgSchema, SObject, Severity};
use lb_salesforce::{
    Client, ClientConfig, Credentials, CustomFieldKind, CustomFieldSpec, Error as SfError,
    GrantKind, JwtKey, PASSWORD_FLOW_NOTICE, SecretString,
};
use lb_store::{MasterKey, Store};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::EngineError;
use crate::health::Health;
use crate::settings::{SyncSettings, load_mapping};

pub(crate) const CONNECTION_KEY: &str = "connection";
/// Set when credentials are saved while the sync is paused; the scheduler takes it.
pub(crate) const RESUME_KEY: &str = "resume_requested";
/// The path of the web-server flow's callback on the app (R-CONN-3; the seed registers it).
pub const REDIRECT_PATH: &str = "/settings/api_setting/salesforce_authorize";

const SECRET_CLIENT_SECRET: &str = "salesforce.client_secret";
const SECRET_PASSWORD: &str = "salesforce.password";
const SECRET_SECURITY_TOKEN: &str = "salesforce.security_token";
const SECRET_REFRESH_TOKEN: &str = "salesforce.refresh_token";
const SECRET_PRIVATE_KEY: &str = "salesforce.private_key";

/// The non-secret part of a saved connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSettings {
    /// `password`, `client_credentials`, `jwt_bearer` or `refresh_token`.
    pub grant: String,
    pub login_url: String,
    pub instance_url: Option<String>,
    pub client_id: String,
    pub username: Option<String>,
    pub jwt_audience: Option<String>,
    /// Bumped at every save; a refusal is tied to the version it refused.
    pub credentials_version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub saved_at: OffsetDateTime,
    pub org: Option<OrgSummary>,
    /// `Object.Field` → describe type, for the fields the sync reads and writes.
    pub field_types: BTreeMap<String, String>,
}

impl ConnectionSettings {
    pub async fn load(store: &Store) -> Result<Option<ConnectionSettings>, EngineError> {
        Ok(store.sync().state_json(CONNECTION_KEY).await?)
    }

    pub(crate) fn field_type(&self, object: SObject, field: &str) -> Option<&str> {
        self.field_types
            .get(&format!("{}.{field}", object.api_name()))
            .map(String::as_str)
    }

    pub(crate) fn knows_fields(&self) -> bool {
        !self.field_types.is_empty()
    }
}

/// What the org told us about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgSummary {
    pub id: String,
    pub name: String,
    /// In plain words: "Developer Edition".
    pub edition: String,
    /// "Developer Edition includes the Salesforce API."
    pub edition_explained: String,
    pub api_available: bool,
    pub is_sandbox: bool,
    pub api_version: String,
}

/// What `leadbridge connect` asks for.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    pub login_url: String,
    /// Expected instance (checked against the token response when given).
    pub instance_url: Option<String>,
    pub credentials: Credentials,
    /// Create the missing custom fields through the Tooling API (R-FIELD-5).
    pub create_fields: bool,
}

/// A field of R-FIELD and what the org has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldCheck {
    pub object: String,
    pub field: String,
    pub required: bool,
    pub status: FieldStatus,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldStatus {
    Present,
    Missing,
    Created,
    WrongType,
}

/// The answer to `leadbridge connect` (`--json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct ConnectReport {
    /// The connection works and every required field is present: the sync can run.
    pub ok: bool,
    pub logged_in: bool,
    pub saved: bool,
    /// The OAuth flow, named as the saved connection and `status` name it: `password`,
    /// `client_credentials`, `jwt_bearer` or `refresh_token` (web OAuth).
    pub grant: String,
    pub notice: Option<String>,
    pub instance_url: Option<String>,
    pub org: Option<OrgSummary>,
    pub fields: Vec<FieldCheck>,
    /// Problems of the mapping against the org's describe (R-MAP-7).
    pub mapping_problems: Vec<String>,
    /// Why it does not work, word for word, and what to do.
    pub error: Option<String>,
    pub guidance: Vec<String>,
    pub api_requests: u64,
}

struct Required {
    object: SObject,
    name: &'static str,
    label: &'static str,
    required: bool,
    kind: fn() -> CustomFieldKind,
    accepts: &'static [&'static str],
}

/// The fields of R-FIELD: `plezi_url` and `sync_to_plezi` required; `score`, `status`,
/// `campaign` and the lead creation date optional.
fn required_fields() -> Vec<Required> {
    let text = || CustomFieldKind::Text { length: 255 };
    vec![
        Required {
            object: SObject::Lead,
            name: "plezi_url",
            label: "plezi_url",
            required: true,
            kind: text,
            accepts: &["string", "url", "textarea"],
        },
        Required {
            object: SObject::Contact,
            name: "sync_to_plezi",
            label: "sync_to_plezi",
            required: true,
            kind: || CustomFieldKind::Picklist {
                values: vec!["yes".into(), "no".into()],
                restricted: true,
            },
            accepts: &["picklist", "boolean", "string"],
        },
        Required {
            object: SObject::Lead,
            name: "score",
            label: "score",
            required: false,
            kind: text,
            accepts: &["string", "double", "int"],
        },
        Required {
            object: SObject::Lead,
            name: "status",
            label: "status",
            required: false,
            kind: text,
            accepts: &["string", "picklist"],
        },
        Required {
            object: SObject::Lead,
            name: "campaign",
            label: "campaign",
            required: false,
            kind: text,
            accepts: &["string"],
        },
        Required {
            object: SObject::Lead,
            name: "lead_creation_date",
            label: "lead creation date",
            required: false,
            kind: || CustomFieldKind::Date,
            accepts: &["date", "datetime"],
        },
    ]
}

pub(crate) fn client_config(login_url: &str, settings: &SyncSettings) -> ClientConfig {
    let mut config = ClientConfig::new(login_url);
    config.budget.max_share = settings.budget_share;
    config.write_policy.bulk_write_threshold = settings.bulk_write_threshold;
    config
}

fn grant_name(grant: GrantKind) -> &'static str {
    match grant {
        GrantKind::Password => "password",
        GrantKind::ClientCredentials => "client_credentials",
        GrantKind::JwtBearer => "jwt_bearer",
        GrantKind::AuthorizationCode | GrantKind::RefreshToken => "refresh_token",
    }
}

/// Checks `request` against the org and saves it when it works. `Err` only for a local failure
/// (store, key); everything the org says is in the report.
pub async fn connect(
    store: &Store,
    key: &MasterKey,
    request: ConnectRequest,
) -> Result<ConnectReport, EngineError> {
    let settings = SyncSettings::load(store).await?;
    let grant = request.credentials.grant();
    let mut report = ConnectReport {
        ok: false,
        logged_in: false,
        saved: false,
        grant: grant_name(grant).to_owned(),
        notice: (grant == GrantKind::Password).then(|| PASSWORD_FLOW_NOTICE.to_owned()),
        instance_url: None,
        org: None,
        fields: Vec::new(),
        mapping_problems: Vec::new(),
        error: None,
        guidance: Vec::new(),
        api_requests: 0,
    };
    let client = match Client::new(
        client_config(&request.login_url, &settings),
        request.credentials.clone(),
    ) {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(e.to_string());
            return Ok(report);
        }
    };
    let outcome = check(&client, &request, &mut report).await;
    report.api_requests = client.request_counts().api_calls();
    if let Err(e) = outcome {
        if let SfError::Auth(a) = &e {
            report.guidance = a.guidance();
        }
        report.error = Some(e.to_string());
        if !report.logged_in {
            return Ok(report);
        }
    }
    let Some(org) = report.org.clone() else {
        return Ok(report);
    };
    if !org.api_available {
        return Ok(report);
    }
    let mapping = load_mapping(store).await?;
    match mapping_problems(&client, &mapping).await {
        Ok(problems) => report.mapping_problems = problems,
        Err(e) => report.mapping_problems = vec![format!("the mapping could not be checked: {e}")],
    }
    // The login works and the org has the API: save, even if fields are missing (the report
    // says what to do; the sync refuses to run without them).
    let credentials = match client.refresh_token() {
        Some(rt) if grant == GrantKind::AuthorizationCode => match &request.credentials {
            Credentials::AuthorizationCode {
                client_id,
                client_secret,
                ..
            } => Credentials::RefreshToken {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                refresh_token: rt,
            },
            other => other.clone(),
        },
        _ => request.credentials.clone(),
    };
    let field_types = field_types(&client).await.unwrap_or_default();
    save_credentials(
        store,
        key,
        &request.login_url,
        report.instance_url.clone(),
        &credentials,
        Some(org),
        field_types,
    )
    .await?;
    report.saved = true;
    report.ok = report.error.is_none()
        && report.fields.iter().all(|f| {
            !f.required || matches!(f.status, FieldStatus::Present | FieldStatus::Created)
        });
    Ok(report)
}

/// Completes the web-server flow (R-CONN-3) once the browser came back to
/// [`REDIRECT_PATH`] with `code`: exchanges it (with the PKCE verifier kept since the start of
/// the login), checks the org as [`connect`] does and saves the refresh token it yields.
/// For the web layer: verify `state` first (`lb_salesforce::PkceLogin::credentials` does).
pub async fn complete_web_oauth(
    store: &Store,
    key: &MasterKey,
    login_url: &str,
    credentials: Credentials,
) -> Result<ConnectReport, EngineError> {
    if credentials.grant() != GrantKind::AuthorizationCode {
        return Err(EngineError::Invalid(
            "the web sign-in completes with an authorization code".into(),
        ));
    }
    connect(
        store,
        key,
        ConnectRequest {
            login_url: login_url.to_owned(),
            instance_url: None,
            credentials,
            create_fields: false,
        },
    )
    .await
}

async fn check(
    client: &Client,
    request: &ConnectRequest,
    report: &mut ConnectReport,
) -> Result<(), SfError> {
    let session = client.session().await?;
    report.logged_in = true;
    report.instance_url = Some(
        session
            .instance_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
    );
    if let Some(expected) = &request.instance_url {
        let got = session.instance_url.as_str().trim_end_matches('/');
        if got != expected.trim_end_matches('/') {
            report.guidance.push(format!(
                "Salesforce says this org lives at {got}, not {expected}: the sync uses {got}."
            ));
        }
    }
    let version = client.negotiate_version().await?;
    let info = client.org_info().await?;
    report.org = Some(OrgSummary {
        id: info.id.clone(),
        name: info.name.clone(),
        edition: info.edition.label(),
        edition_explained: info.edition.explain(),
        api_available: info.edition.api_available(),
        is_sandbox: info.is_sandbox,
        api_version: version,
    });
    if !info.edition.api_available() {
        report.error = Some(info.edition.explain());
        return Ok(());
    }
    let mut created_any = false;
    for req in required_fields() {
        let api_name = format!("{}__c", req.name);
        let describe = client.describe(req.object.api_name()).await?;
        let found = describe
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&api_name));
        let mut check = FieldCheck {
            object: req.object.api_name().to_owned(),
            field: api_name.clone(),
            required: req.required,
            status: FieldStatus::Missing,
            detail: None,
        };
        match found {
            Some(f) if req.accepts.contains(&f.field_type.as_str()) => {
                check.status = FieldStatus::Present
            }
            Some(f) => {
                check.status = FieldStatus::WrongType;
                check.detail = Some(format!(
                    "is of type {}, expected {}",
                    f.field_type,
                    req.accepts.join(" or ")
                ));
            }
            None if request.create_fields => {
                let spec = CustomFieldSpec {
                    object: req.object.api_name().to_owned(),
                    name: req.name.to_owned(),
                    label: req.label.to_owned(),
                    kind: (req.kind)(),
                    description: Some("Created by leadbridge (R-FIELD-5)".into()),
                };
                match client.ensure_custom_field(&spec).await {
                    Ok(_) => {
                        check.status = FieldStatus::Created;
                        created_any = true;
                    }
                    Err(e) if e.stops_work() => return Err(e),
                    Err(e) => check.detail = Some(format!("could not be created: {e}")),
                }
            }
            None => {
                check.detail = Some(if req.required {
                    "missing: run `leadbridge connect --create-fields` or create it in Setup".into()
                } else {
                    "optional; not mapped until it exists".into()
                })
            }
        }
        report.fields.push(check);
    }
    if created_any {
        client.invalidate_describe("Lead");
        client.invalidate_describe("Contact");
    }
    let missing: Vec<String> = report
        .fields
        .iter()
        .filter(|f| f.required && !matches!(f.status, FieldStatus::Present | FieldStatus::Created))
        .map(|f| {
            format!(
                "{}.{} ({})",
                f.object,
                f.field,
                f.detail.clone().unwrap_or_default()
            )
        })
        .collect();
    if !missing.is_empty() {
        report.error = Some(format!(
            "required fields missing in the org: {}",
            missing.join("; ")
        ));
    }
    Ok(())
}

/// The describe types of both objects, for the values sent and the fields queried.
pub(crate) async fn field_types(client: &Client) -> Result<BTreeMap<String, String>, SfError> {
    let mut out = BTreeMap::new();
    for object in ["Lead", "Contact"] {
        let d = client.describe(object).await?;
        for f in &d.fields {
            out.insert(format!("{object}.{}", f.name), f.field_type.clone());
        }
    }
    Ok(out)
}

/// The org's schema in the core's terms (for mapping validation).
pub(crate) async fn org_schema(client: &Client) -> Result<OrgSchema, SfError> {
    let mut schema = OrgSchema::default();
    for object in [SObject::Lead, SObject::Contact] {
        let d = client.describe(object.api_name()).await?;
        schema = schema.with_object(object, org_fields(&d));
    }
    Ok(schema)
}

/// One object's describe reduced to what the core's mapping validation needs: type, length,
/// active picklist values, createable / updateable. The one place this translation lives, shared
/// by `connect` and the web app's mapping screen.
pub fn org_fields(describe: &lb_salesforce::SObjectDescribe) -> Vec<OrgField> {
    describe
        .fields
        .iter()
        .map(|f| {
            let mut of = OrgField::new(
                &f.name,
                FieldType::from_describe(&f.field_type),
                (f.length > 0).then_some(f.length),
            );
            of.picklist_values = f
                .picklist_values
                .iter()
                .filter(|p| p.active)
                .map(|p| p.value.clone())
                .collect();
            of.createable = f.createable;
            of.updateable = f.updateable;
            of
        })
        .collect()
}

/// Problems of `mapping` against the org (errors and warnings, in plain words).
pub async fn mapping_problems(client: &Client, mapping: &Mapping) -> Result<Vec<String>, SfError> {
    let schema = org_schema(client).await?;
    let validation = lb_core::validate(mapping, &Catalog::standard(), &schema);
    Ok(validation
        .problems
        .iter()
        .map(|p| {
            let level = if p.severity == Severity::Error {
                "error"
            } else {
                "warning"
            };
            format!("{level}: {}: {}", p.attribute, p.kind)
        })
        .collect())
}

async fn save_credentials(
    store: &Store,
    key: &MasterKey,
    login_url: &str,
    instance_url: Option<String>,
    credentials: &Credentials,
    org: Option<OrgSummary>,
    field_types: BTreeMap<String, String>,
) -> Result<(), EngineError> {
    let previous = ConnectionSettings::load(store).await?;
    let version = previous.as_ref().map_or(0, |p| p.credentials_version) + 1;
    for name in [
        SECRET_CLIENT_SECRET,
        SECRET_PASSWORD,
        SECRET_SECURITY_TOKEN,
        SECRET_REFRESH_TOKEN,
        SECRET_PRIVATE_KEY,
    ] {
        store.delete_secret(name).await?;
    }
    let (client_id, username, audience) = match credentials {
        Credentials::Password {
            client_id,
            client_secret,
            username,
            password,
            security_token,
        } => {
            if let Some(s) = client_secret {
                store.put_secret(key, SECRET_CLIENT_SECRET, s).await?;
            }
            store.put_secret(key, SECRET_PASSWORD, password).await?;
            store
                .put_secret(key, SECRET_SECURITY_TOKEN, security_token)
                .await?;
            (client_id.clone(), Some(username.clone()), None)
        }
        Credentials::ClientCredentials {
            client_id,
            client_secret,
        } => {
            store
                .put_secret(key, SECRET_CLIENT_SECRET, client_secret)
                .await?;
            (client_id.clone(), None, None)
        }
        Credentials::JwtBearer {
            client_id,
            username,
            key: jwt,
            audience,
        } => {
            // The key's text is kept (encrypted): the file may move; the sync must not depend on it.
            let pem = match jwt {
                JwtKey::File(path) => {
                    SecretString::from(std::fs::read_to_string(path).map_err(|e| {
                        EngineError::Invalid(format!(
                            "cannot read the private key {}: {e}",
                            path.display()
                        ))
                    })?)
                }
                JwtKey::Pem(p) => p.clone(),
            };
            store.put_secret(key, SECRET_PRIVATE_KEY, &pem).await?;
            (client_id.clone(), Some(username.clone()), audience.clone())
        }
        Credentials::RefreshToken {
            client_id,
            client_secret,
            refresh_token,
        } => {
            if let Some(s) = client_secret {
                store.put_secret(key, SECRET_CLIENT_SECRET, s).await?;
            }
            store
                .put_secret(key, SECRET_REFRESH_TOKEN, refresh_token)
                .await?;
            (client_id.clone(), None, None)
        }
        Credentials::AuthorizationCode { .. } => {
            return Err(EngineError::Invalid(
                "the authorization code is single-use: save the refresh token it gave instead"
                    .into(),
            ));
        }
    };
    let settings = ConnectionSettings {
        grant: grant_name(credentials.grant()).to_owned(),
        login_url: login_url.to_owned(),
        instance_url,
        client_id,
        username,
        jwt_audience: audience,
        credentials_version: version,
        saved_at: OffsetDateTime::now_utc(),
        org,
        field_types,
    };
    store
        .sync()
        .put_state_json(CONNECTION_KEY, &settings)
        .await?;
    // New credentials: whatever paused the sync for the old ones no longer holds. A paused
    // sync is flagged for the scheduler, which resumes it at once (R-CONN-6).
    if Health::load(store).await?.is_paused() {
        store
            .sync()
            .put_state(RESUME_KEY, "credentials saved")
            .await?;
    }
    Health::Healthy {
        since: OffsetDateTime::now_utc(),
    }
    .save(store)
    .await?;
    Ok(())
}

/// The saved connection and its credentials, decrypted (`None`: nothing saved).
pub async fn load_credentials(
    store: &Store,
    key: &MasterKey,
) -> Result<Option<(ConnectionSettings, Credentials)>, EngineError> {
    let Some(settings) = ConnectionSettings::load(store).await? else {
        return Ok(None);
    };
    let secret = |name: &'static str| async move {
        store.secret(key, name).await?.ok_or_else(|| {
            EngineError::Invalid(format!(
                "the saved connection lacks its {name}: run `leadbridge connect` again"
            ))
        })
    };
    let client_secret = store.secret(key, SECRET_CLIENT_SECRET).await?;
    let username = settings.username.clone().unwrap_or_default();
    let credentials = match settings.grant.as_str() {
        "password" => Credentials::Password {
            client_id: settings.client_id.clone(),
            client_secret,
            username,
            password: secret(SECRET_PASSWORD).await?,
            security_token: secret(SECRET_SECURITY_TOKEN).await?,
        },
        "client_credentials" => Credentials::ClientCredentials {
            client_id: settings.client_id.clone(),
            client_secret: secret(SECRET_CLIENT_SECRET).await?,
        },
        "jwt_bearer" => Credentials::JwtBearer {
            client_id: settings.client_id.clone(),
            username,
            key: JwtKey::Pem(secret(SECRET_PRIVATE_KEY).await?),
            audience: settings.jwt_audience.clone(),
        },
        "refresh_token" => Credentials::RefreshToken {
            client_id: settings.client_id.clone(),
            client_secret,
            refresh_token: secret(SECRET_REFRESH_TOKEN).await?,
        },
        other => {
            return Err(EngineError::Invalid(format!(
                "unknown saved login flow '{other}'"
            )));
        }
    };
    Ok(Some((settings, credentials)))
}

/// A JWT key from a file, for `--private-key FILE`.
pub fn jwt_key_file(path: PathBuf) -> JwtKey {
    JwtKey::File(path)
}

/// Hides a secret's value in reports while saying whether one is set.
pub fn redacted(secret: &Option<SecretString>) -> &'static str {
    match secret {
        Some(s) if !s.expose_secret().is_empty() => "(set)",
        _ => "(not set)",
    }
}

/// Whether the stored mapping validates against the org (used by `status`).
pub async fn check_mapping(store: &Store, client: &Client) -> Result<Vec<String>, EngineError> {
    let mapping = load_mapping(store).await?;
    Ok(mapping_problems(client, &mapping).await?)
}
