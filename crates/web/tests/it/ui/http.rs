//! Sign-in, sessions, CSRF and secrets through plain HTTP (no browser).

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use super::{ADMIN, ADMIN_PASSWORD, Stack};

/// A client that keeps cookies and never follows redirects, so each answer can be checked.
struct Visitor {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

impl Page {
    /// The anti-CSRF token of the page's first form.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf input in {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl Visitor {
    fn new(base: &str) -> Visitor {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Visitor {
            http,
            base: base.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = if cookie.is_empty() {
            req
        } else {
            req.header(COOKIE, cookie)
        };
        let reply = req.send().await.unwrap();
        let status = reply.status();
        let location = reply
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> = reply
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status,
            location,
            set_cookies,
            body: reply.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    async fn sign_in(&mut self) -> Page {
        let page = self.get("/sign-in").await;
        let csrf = page.csrf();
        self.post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("next", ""),
            ],
        )
        .await
    }
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_sign_in() {
    let stack = Stack::start().await;
    let mut v = Visitor::new(&stack.base_url);
    for path in [
        "/sync",
        "/settings/salesforce",
        "/settings/mapping",
        "/contacts",
        "/forms",
        "/sync/runs/1",
        "/contacts/1",
        "/contacts/1/sync",
    ] {
        let page = v.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        let expected = format!("/sign-in?next={}", path.replace('/', "%2F"));
        assert_eq!(page.location.as_deref(), Some(expected.as_str()), "{path}");
    }
    let post = v.post("/sync/now", &[("csrf", "x")]).await;
    assert_eq!(
        (post.status, post.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/sign-in"))
    );
    let oauth = v
        .get("/settings/api_setting/salesforce_authorize?code=abc&state=def")
        .await;
    assert_eq!(
        oauth.status,
        StatusCode::SEE_OTHER,
        "the OAuth callback needs the admin's session too"
    );
}

#[tokio::test]
async fn signing_in_sets_an_http_only_same_site_cookie_and_goes_back_where_asked() {
    let stack = Stack::start().await;
    let mut v = Visitor::new(&stack.base_url);
    let page = v.get("/sign-in?next=%2Fforms").await;
    assert!(
        page.body.contains("name=\"next\" value=\"/forms\""),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    let wrong = v
        .post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("username", ADMIN),
                ("password", "not the password"),
                ("next", "/forms"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong username or password."));
    let ok = v
        .post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("next", "/forms"),
            ],
        )
        .await;
    assert_eq!(
        (ok.status, ok.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/forms"))
    );
    let session = ok
        .set_cookies
        .iter()
        .find(|c| c.starts_with("lb_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Path=/"),
        "{session}"
    );
    assert_eq!(v.get("/forms").await.status, StatusCode::OK);

    // Signing out closes the session on the server, not only in the browser.
    let stolen = v.cookies.get("lb_session").cloned().unwrap();
    let forms = v.get("/forms").await;
    let out = v.post("/sign-out", &[("csrf", &forms.csrf())]).await;
    assert_eq!(out.location.as_deref(), Some("/sign-in?notice=signed_out"));
    let mut thief = Visitor::new(&stack.base_url);
    thief.cookies.insert("lb_session".into(), stolen);
    assert_eq!(thief.get("/forms").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_form_posted_without_the_right_csrf_token_is_refused() {
    let stack = Stack::start().await;
    let mut v = Visitor::new(&stack.base_url);
    // Before sign-in: the pre-session token must match its cookie.
    v.get("/sign-in").await;
    let forged = v
        .post(
            "/sign-in",
            &[
                ("csrf", "forged"),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        forged
            .set_cookies
            .iter()
            .all(|c| !c.starts_with("lb_session="))
    );

    assert_eq!(v.sign_in().await.status, StatusCode::SEE_OTHER);
    let form = [
        ("name", "Newsletter"),
        ("mapping", "email = email"),
        ("score_increment", "5"),
    ];
    let missing = v.post("/forms", &form).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(
        missing
            .body
            .contains("This form has expired or did not come from this app."),
        "{}",
        missing.body
    );
    let mut wrong = form.to_vec();
    wrong.push(("csrf", "not-the-session-token"));
    assert_eq!(v.post("/forms", &wrong).await.status, StatusCode::FORBIDDEN);
    assert!(
        stack.store.forms().await.unwrap().is_empty(),
        "nothing was created by a refused form"
    );

    let csrf = v.get("/forms").await.csrf();
    let mut right = form.to_vec();
    right.push(("csrf", &csrf));
    let created = v.post("/forms", &right).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(stack.store.forms().await.unwrap().len(), 1);
}

#[tokio::test]
async fn no_page_or_response_ever_contains_a_stored_secret() {
    let stack = Stack::start().await;
    let c = stack.org_credentials();
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let csrf = v.get("/settings/salesforce").await.csrf();
    let saved = v
        .post(
            "/settings/salesforce",
            &[
                ("csrf", &csrf),
                ("flow", "password"),
                ("login_url", &c.login_url),
                ("client_id", &c.client_id),
                ("client_secret", &c.client_secret),
                ("username", &c.username),
                ("password", &c.password),
                ("security_token", &c.security_token),
            ],
        )
        .await;
    assert_eq!(
        (saved.status, saved.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/settings/salesforce"))
    );
    let names = stack.store.secret_names().await.unwrap();
    assert!(
        names.contains(&"salesforce.password".to_owned()),
        "the credentials were saved: {names:?}"
    );

    let secrets = [
        c.client_secret.as_str(),
        c.password.as_str(),
        c.security_token.as_str(),
    ];
    let mut seen = vec![saved];
    for path in [
        "/settings/salesforce",
        "/settings/mapping",
        "/sync",
        "/contacts",
        "/forms",
        "/sign-in",
    ] {
        seen.push(v.get(path).await);
    }
    let csrf = v.get("/sync").await.csrf();
    seen.push(v.post("/sync/preview", &[("csrf", &csrf)]).await);
    seen.push(
        v.post("/settings/salesforce/fields", &[("csrf", &csrf)])
            .await,
    );
    seen.push(v.get("/settings/salesforce").await);
    let settings = seen.last().unwrap();
    assert!(
        settings.body.contains("id=\"password-set\""),
        "the page says the password is set"
    );
    for page in &seen {
        for secret in secrets {
            assert!(
                !page.body.contains(secret),
                "a page shows a secret: {}",
                page.body
            );
            assert!(!page.set_cookies.iter().any(|c| c.contains(secret)));
            assert!(!page.location.as_deref().unwrap_or("").contains(secret));
        }
    }
}

#[tokio::test]
async fn correcting_the_username_keeps_the_stored_password_and_token() {
    let stack = Stack::start().await;
    let c = stack.org_credentials();
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let csrf = v.get("/settings/salesforce").await.csrf();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("flow", "password"),
        ("login_url", c.login_url.as_str()),
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
        ("username", "wrong@leadbridge.example"),
        ("password", c.password.as_str()),
        ("security_token", c.security_token.as_str()),
    ];
    v.post("/settings/salesforce", &form).await;
    let refused = v.get("/settings/salesforce").await;
    assert!(refused.body.contains("id=\"refused\""), "{}", refused.body);
    assert!(
        refused.body.contains("authentication failure"),
        "the org's exact refusal is shown: {}",
        refused.body
    );

    // Refused credentials were not saved; the first working ones are, then blanks keep them.
    form[5] = ("username", c.username.as_str());
    v.post("/settings/salesforce", &form).await;
    form.retain(|(k, _)| !matches!(*k, "client_secret" | "password" | "security_token"));
    v.post("/settings/salesforce", &form).await;
    let page = v.get("/settings/salesforce").await;
    assert!(
        !page.body.contains("id=\"refused\""),
        "blank secrets kept the stored ones: {}",
        page.body
    );
    assert!(
        page.body.contains("id=\"connected-with-problems\"")
            || page.body.contains("id=\"connected\""),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_runs_page_lists_each_failure_with_the_orgs_code_message_and_a_link() {
    let stack = Stack::start().await;
    stack.connect().await;
    let contact = stack
        .store
        .create_contact(
            serde_json::json!({"email": "dup@example.com", "last_name": "Dup", "company": "Twice Inc"}).as_object().unwrap(),
            lb_store::Origin::User,
        )
        .await
        .unwrap();
    stack
        .control(
            "faults",
            serde_json::json!({"kind": "duplicates_detected", "count": 1}),
        )
        .await;
    let outcome = stack
        .engine
        .run(lb_engine::RunRequest::new(
            lb_engine::Trigger::Manual,
            lb_engine::Scope::Incremental,
        ))
        .await
        .unwrap();
    let run_id = outcome.run_id.unwrap();
    assert!(
        !outcome.failures.is_empty(),
        "the injected refusal is a failure: {outcome:?}"
    );

    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let page = v.get(&format!("/sync/runs/{run_id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let failures = &page.body[page.body.find("id=\"failures\"").expect("a failures table")..];
    assert!(
        failures.contains("<code>DUPLICATES_DETECTED</code>"),
        "{failures}"
    );
    assert!(
        failures.contains(&outcome.failures[0].message.replace('\'', "&#39;"))
            || failures.contains(&outcome.failures[0].message),
        "{failures}"
    );
    assert!(failures.contains("dup@example.com"), "{failures}");
    let link = format!("href=\"/contacts/{}/sync\"", contact.id);
    let lead_link = "/lightning/r/Lead/";
    assert!(
        failures.contains(&link) || failures.contains(lead_link),
        "a link to the record: {failures}"
    );
    let sync = v.get("/sync").await;
    assert!(
        sync.body.contains(&format!("href=\"/sync/runs/{run_id}\"")),
        "the run is in the history"
    );
}

/// R-SYNC-1, R-SYNC-3: a run's page lists each record it skipped (with the reason and a link to
/// the record) and each duplicate group of the org (every record, the one linked, the rule),
/// in the page's language, from what the run recorded.
#[tokio::test]
async fn a_runs_page_lists_its_skips_and_duplicate_groups_with_links() {
    let stack = Stack::start().await;
    stack.connect().await;
    let seeded = stack
        .control(
            "records",
            serde_json::json!({"sobject": "Lead", "records": [
                {"LastName": "Lovelace", "Company": "AE", "Email": "dup.ada@example.com",
                 "CreatedDate": "2025-01-01T00:00:00.000+0000"},
                {"LastName": "King", "Company": "AE2", "Email": "DUP.ada@example.com",
                 "CreatedDate": "2025-02-01T00:00:00.000+0000"},
                {"LastName": "Nobody <b>", "Company": "Ghost"},
            ]}),
        )
        .await;
    let ids: Vec<String> = seeded["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    // A contact here that the org cannot take (no Company, no fallback): a skip on our side.
    let dennis = stack
        .store
        .create_contact(
            serde_json::json!({"email": "dennis@example.com", "last_name": "Ritchie"})
                .as_object()
                .unwrap(),
            lb_store::Origin::User,
        )
        .await
        .unwrap();
    let outcome = stack
        .engine
        .run(lb_engine::RunRequest::new(
            lb_engine::Trigger::Manual,
            lb_engine::Scope::Full,
        ))
        .await
        .unwrap();
    let run_id = outcome.run_id.unwrap();

    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let page = v.get(&format!("/sync/runs/{run_id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    assert!(!body.contains("id=\"no-skips\""), "{body}");
    let skips = &body[body.find("id=\"skips\"").expect("a skips table")..];
    let skips = &skips[..skips.find("</table>").unwrap()];
    let no_email = skips
        .split("<tr>")
        .find(|row| row.contains(&ids[2]))
        .unwrap_or_else(|| panic!("the Lead without email is listed: {skips}"));
    assert!(
        no_email.contains("no email: a record without email is never synced"),
        "{no_email}"
    );
    assert!(
        no_email.contains(&format!("/lightning/r/Lead/{}/view\"", ids[2])),
        "a link to the org record: {no_email}"
    );

    let ours = skips
        .split("<tr>")
        .find(|row| row.contains(&format!("href=\"/contacts/{}\"", dennis.id)))
        .unwrap_or_else(|| panic!("our contact is listed with a link to its page: {skips}"));
    assert!(ours.contains("Company"), "{ours}");
    let groups = &body[body.find("id=\"duplicates\"").expect("a duplicates table")..];
    let groups = &groups[..groups.find("</table>").unwrap()];
    assert_eq!(
        groups.matches("<tr>").count(),
        2,
        "header + one group: {groups}"
    );
    assert!(groups.contains("dup.ada@example.com"), "{groups}");
    for id in &ids[..2] {
        assert!(
            groups.contains(&format!(
                "/lightning/r/Lead/{id}/view\"><code>{id}</code></a>"
            )),
            "{id} in {groups}"
        );
    }
    // The older Lead is the one linked (CreatedDate rule), and only it is marked.
    assert_eq!(groups.matches("badge ok").count(), 1, "{groups}");
    assert!(
        groups.contains(&format!(
            "<code>{}</code></a> <span class=\"badge ok\">linked</span>",
            ids[0]
        )),
        "{groups}"
    );
    assert!(body.contains("id=\"duplicate-rule\""), "{body}");

    // French: the same lists, in French.
    v.cookies.insert("lb_lang".to_owned(), "fr".to_owned());
    let fr_body = v.get(&format!("/sync/runs/{run_id}")).await.body;
    assert!(
        fr_body.contains("sans email : une fiche sans email n&#39;est jamais synchronisée"),
        "{fr_body}"
    );
    assert!(fr_body.contains("reliée</span>"), "{fr_body}");
}

/// The contact page (`plezi_url`'s target, R-FIELD-1) shows personal data: a visitor without a
/// session is sent to sign in and brought back to it; signed in, it is shown, escaped.
#[tokio::test]
async fn the_contact_page_needs_a_session_and_comes_back_after_sign_in() {
    let stack = Stack::start().await;
    let contact = stack
        .store
        .create_contact(
            serde_json::json!({"email": "x@example.com", "first_name": "<script>alert(1)</script>", "company": "A&B"}).as_object().unwrap(),
            lb_store::Origin::User,
        )
        .await
        .unwrap();
    let path = format!("/contacts/{}", contact.id);
    let mut v = Visitor::new(&stack.base_url);
    let anonymous = v.get(&path).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    let next = format!("/sign-in?next={}", path.replace('/', "%2F"));
    assert_eq!(anonymous.location.as_deref(), Some(next.as_str()));
    assert!(!anonymous.body.contains("x@example.com"));

    let form = v.get(&next).await;
    let csrf = form.csrf();
    let signed_in = v
        .post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("next", &path),
            ],
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location.as_deref(), Some(path.as_str()));

    let page = v.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("x@example.com"));
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.body.contains("<script>"));
    assert!(page.body.contains("A&amp;B"));
    assert!(page.body.contains("LEAD — "));
    assert!(page.body.contains("MQL — not reached"));
    assert_eq!(
        v.get("/contacts/424242").await.status,
        StatusCode::NOT_FOUND
    );
    let junk = v.get("/contacts/%3Cb%3E").await;
    assert_eq!(junk.status, StatusCode::NOT_FOUND);
    assert!(!junk.body.contains("<b>"));
}

#[tokio::test]
async fn a_missing_run_is_a_404_page_not_an_error() {
    let stack = Stack::start().await;
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let page = v.get("/sync/runs/999").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("This page does not exist."));
    assert_eq!(
        v.get("/contacts/999/sync").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(v.get("/forms/999").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn missing_fields_can_be_created_from_the_settings_page_after_a_restart() {
    let stack = Stack::start().await;
    // Connected elsewhere (the CLI) without creating the fields: this process has no report.
    let report = stack.connect_with(false).await;
    assert!(report.saved && !report.ok, "{report:?}");
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let sync = v.get("/sync").await;
    assert!(
        sync.body
            .contains("Connected, but required fields are missing in Salesforce"),
        "{}",
        sync.body
    );
    let page = v.get("/settings/salesforce").await;
    let block = &page.body[page
        .body
        .find("id=\"missing-fields\"")
        .expect("the missing fields block")..];
    assert!(
        block.contains("<code>Lead.plezi_url__c</code>")
            && block.contains("<code>Contact.sync_to_plezi__c</code>")
    );
    let created = v
        .post("/settings/salesforce/fields", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(
        created.location.as_deref(),
        Some("/settings/salesforce?notice=fields_created")
    );
    let after = v.get("/settings/salesforce?notice=fields_created").await;
    assert!(after.body.contains("id=\"connected\""), "{}", after.body);
    assert!(!after.body.contains("id=\"missing-fields\""));
    assert!(
        v.get("/sync")
            .await
            .body
            .contains("Connected: the sync runs")
    );
}

#[tokio::test]
async fn a_forms_snippet_posts_to_the_public_endpoint_and_creates_the_contact() {
    let stack = Stack::start().await;
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let csrf = v.get("/forms").await.csrf();
    let created = v
        .post(
            "/forms",
            &[
                ("csrf", &csrf),
                ("name", "Webinar"),
                ("mapping", "work_email = email\nfirst = first_name"),
                ("score_increment", "7"),
            ],
        )
        .await;
    let form_path = created.location.expect("redirect to the form");
    let page = v.get(&form_path).await;
    // The snippet is shown as text (escaped) in a textarea.
    let raw = &page.body[page.body.find("id=\"snippet\"").unwrap()..];
    let raw = &raw[raw.find('>').unwrap() + 1..raw.find("</textarea>").unwrap()];
    let snippet = [
        ("&#34;", "\""),
        ("&quot;", "\""),
        ("&#60;", "<"),
        ("&lt;", "<"),
        ("&#62;", ">"),
        ("&gt;", ">"),
        ("&#39;", "'"),
        ("&#38;", "&"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(raw.to_owned(), |s, (from, to)| s.replace(from, to));
    let action_at = snippet.find("action=\"").unwrap() + "action=\"".len();
    let action = &snippet[action_at..action_at + snippet[action_at..].find('"').unwrap()];
    assert!(action.starts_with(&stack.base_url), "{action}");
    assert!(
        snippet.contains("name=\"work_email\" required"),
        "{snippet}"
    );

    let reply = reqwest::Client::new()
        .post(action)
        .form(&[("work_email", "visitor@example.com"), ("first", "Vera")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let email = lb_store::Email::parse("visitor@example.com").unwrap();
    let contact = stack
        .store
        .contact_by_email(&email)
        .await
        .unwrap()
        .expect("the contact exists");
    assert_eq!(
        (contact.first_name.as_deref(), contact.behaviour_score),
        (Some("Vera"), 7)
    );

    // Its page lists the submission; the contact's page shows the change came from a form.
    let form_page = v.get(&form_path).await;
    assert!(
        form_page.body.contains("visitor@example.com"),
        "{}",
        form_page.body
    );
    let contact_page = v.get(&format!("/contacts/{}/sync", contact.id)).await;
    assert!(
        contact_page.body.contains("a form submission"),
        "{}",
        contact_page.body
    );
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_username_for_a_while() {
    let stack = Stack::start().await;
    let mut v = Visitor::new(&stack.base_url);
    let csrf = v.get("/sign-in").await.csrf();
    for _ in 0..5 {
        let wrong = v
            .post(
                "/sign-in",
                &[
                    ("csrf", &csrf),
                    ("username", ADMIN),
                    ("password", "guess guess guess"),
                ],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    }
    let right = v
        .post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(
        right.body.contains("try again in 15 minutes"),
        "{}",
        right.body
    );
    assert!(
        right
            .set_cookies
            .iter()
            .all(|c| !c.starts_with("lb_session="))
    );
}

#[tokio::test]
async fn client_credentials_flow_connects_and_its_secret_shows_only_as_set() {
    let stack = Stack::start().await;
    let c = stack.org_credentials();
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let csrf = v.get("/settings/salesforce").await.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("flow", "client_credentials"),
        ("login_url", c.login_url.as_str()),
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
    ];
    let saved = v.post("/settings/salesforce", &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let page = v.get("/settings/salesforce").await;
    assert!(
        page.body.contains("id=\"connected-with-problems\""),
        "logged in, fields missing: {}",
        page.body
    );
    assert!(page.body.contains("id=\"client-secret-set\""));
    assert!(!page.body.contains(&c.client_secret));
    let saved = lb_engine::ConnectionSettings::load(&stack.store)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.grant, "client_credentials");

    // Without a secret (none stored for this flow yet) the form says what is missing; nothing
    // is sent to Salesforce.
    let mut v2 = Visitor::new(&stack.base_url);
    v2.sign_in().await;
    let csrf = v2.get("/settings/salesforce").await.csrf();
    let jwt = v2
        .post(
            "/settings/salesforce",
            &[
                ("csrf", &csrf),
                ("flow", "jwt"),
                ("login_url", &c.login_url),
                ("client_id", &c.client_id),
            ],
        )
        .await;
    assert_eq!(jwt.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        jwt.body.contains("The username is required for this flow."),
        "{}",
        jwt.body
    );
}

#[tokio::test]
async fn an_edition_without_the_api_is_refused_in_plain_words() {
    let stack = Stack::start_with(lb_emulator::Config {
        edition: lb_emulator::Edition::Group,
        ..lb_emulator::Config::default()
    })
    .await;
    let c = stack.org_credentials();
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let csrf = v.get("/settings/salesforce").await.csrf();
    v.post(
        "/settings/salesforce",
        &[
            ("csrf", csrf.as_str()),
            ("flow", "password"),
            ("login_url", c.login_url.as_str()),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("username", c.username.as_str()),
            ("password", c.password.as_str()),
            ("security_token", c.security_token.as_str()),
        ],
    )
    .await;
    let page = v.get("/settings/salesforce").await;
    let report = &page.body[page.body.find("id=\"report\"").expect("a report")..];
    assert!(!report.contains("id=\"connected\""), "{report}");
    assert!(report.contains("id=\"no-api-edition\""), "{report}");
    assert!(
        report.contains("Contact Manager, Group and Professional editions do not have it"),
        "{report}"
    );
    assert!(
        report.contains("API_DISABLED_FOR_ORG"),
        "the org's exact answer stays: {report}"
    );
}

#[tokio::test]
async fn the_form_editor_sets_a_checked_redirect_url_and_the_thank_you_page_is_public() {
    let stack = Stack::start().await;
    let mut v = Visitor::new(&stack.base_url);
    assert_eq!(v.sign_in().await.status, StatusCode::SEE_OTHER);
    let csrf = v.get("/forms").await.csrf();
    let bad = v
        .post(
            "/forms",
            &[
                ("csrf", &csrf),
                ("name", "Webinar"),
                ("mapping", "email = email"),
                ("score_increment", "5"),
                ("redirect_url", "javascript:alert(1)"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains("redirect_url: must be an http or https URL"),
        "{}",
        bad.body
    );
    assert!(stack.store.forms().await.unwrap().is_empty());
    let created = v
        .post(
            "/forms",
            &[
                ("csrf", &csrf),
                ("name", "Webinar"),
                ("mapping", "email = email"),
                ("score_increment", "5"),
                ("redirect_url", "https://shop.example/merci"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let form = stack.store.forms().await.unwrap().remove(0);
    assert_eq!(
        form.redirect_url.as_deref(),
        Some("https://shop.example/merci")
    );
    let page = v.get(&format!("/forms/{}", form.id)).await;
    assert!(
        page.body.contains("https://shop.example/merci"),
        "{}",
        page.body
    );

    // Cleared from the form's page: the thank-you page takes over.
    let csrf = page.csrf();
    let cleared = v
        .post(
            &format!("/forms/{}/redirect", form.id),
            &[("csrf", &csrf), ("redirect_url", "")],
        )
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER);
    assert_eq!(stack.store.form(form.id).await.unwrap().redirect_url, None);
    let refused = v
        .post(
            &format!("/forms/{}/redirect", form.id),
            &[("csrf", &csrf), ("redirect_url", "ftp://x.example")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("redirect_url"), "{}", refused.body);

    // A visitor with no session sees the thank-you page, not the sign-in page.
    let mut visitor = Visitor::new(&stack.base_url);
    let thanks = visitor.get(&format!("/forms/{}/thanks", form.id)).await;
    assert_eq!(thanks.status, StatusCode::OK);
    assert!(thanks.body.contains("Thank you"), "{}", thanks.body);
}

/// Issue 6: a contact whose Lead was deleted in Salesforce says so on its pages, the sync page
/// counts such contacts and lists them, and "Sync again" (a CSRF-checked POST) clears the
/// tombstone — in English and in French.
#[tokio::test]
async fn a_contact_whose_lead_was_deleted_says_so_and_can_be_synced_again() {
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    for email in ["ann@example.com", "bob@example.com", "cat@example.com"] {
        let c = stack
            .store
            .create_contact(
                serde_json::json!({ "email": email }).as_object().unwrap(),
                lb_store::Origin::User,
            )
            .await
            .unwrap();
        ids.push(c.id);
    }
    let (ann, bob, cat) = (ids[0], ids[1], ids[2]);
    let run = crate::support::tombstone(
        &stack.store,
        &[(ann, "00Q000000000001AAA"), (bob, "00Q000000000002AAA")],
    )
    .await;
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;

    // The notice on both of the contact's pages; none for a synced contact.
    let sentence = format!(
        "The Salesforce Lead 00Q000000000001AAA was deleted on 2026-11-30 14:05 UTC (run #{run}); this contact is no longer synced."
    );
    let button = format!("action=\"/contacts/{ann}/resync\"");
    for path in [format!("/contacts/{ann}"), format!("/contacts/{ann}/sync")] {
        let page = v.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains(&sentence), "{path}: {}", page.body);
        assert!(page.body.contains(&button), "{path}");
        assert!(page.body.contains(">Sync again</button>"), "{path}");
        assert!(page.body.contains("may create a new Lead"), "{path}");
    }
    for path in [format!("/contacts/{cat}"), format!("/contacts/{cat}/sync")] {
        let page = v.get(&path).await;
        assert!(!page.body.contains("id=\"tombstone\""), "{path}");
    }

    // The sync page counts them and links to the list.
    let sync = v.get("/sync").await;
    assert!(
        sync.body
            .contains("<dd id=\"tombstone-count\"><a href=\"/sync/deleted\">2 contacts</a></dd>"),
        "{}",
        sync.body
    );
    let list = v.get("/sync/deleted").await;
    assert_eq!(list.status, StatusCode::OK);
    for (id, email, org) in [
        (ann, "ann@example.com", "00Q000000000001AAA"),
        (bob, "bob@example.com", "00Q000000000002AAA"),
    ] {
        let row = list
            .body
            .split("<tr class=\"tombstone\"")
            .find(|r| r.contains(&format!("data-contact=\"{id}\"")))
            .unwrap_or_else(|| panic!("no row for {id}: {}", list.body));
        assert!(row.contains(email) && row.contains(org), "{row}");
        assert!(row.contains("2026-11-30 14:05 UTC"), "{row}");
        assert!(row.contains(&format!("href=\"/sync/runs/{run}\"")), "{row}");
        assert!(
            row.contains(&format!("action=\"/contacts/{id}/resync\"")),
            "{row}"
        );
    }

    // Without the form token nothing is cleared.
    let forged = v
        .post(&format!("/contacts/{ann}/resync"), &[("back", "contact")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(stack.store.sync().count_tombstones().await.unwrap(), 2);

    // "Sync again" from the contact page.
    let page = v.get(&format!("/contacts/{ann}")).await;
    let csrf = page.csrf();
    let done = v
        .post(
            &format!("/contacts/{ann}/resync"),
            &[("csrf", &csrf), ("back", "contact")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let back = done.location.unwrap();
    assert_eq!(back, format!("/contacts/{ann}?resync=done"));
    let after = v.get(&back).await;
    assert!(after.body.contains("This contact will be synced again: the next sync may create a new Lead in Salesforce for it."));
    assert!(!after.body.contains("id=\"tombstone\""));
    assert!(
        stack
            .store
            .sync()
            .tombstones_for(&[ann])
            .await
            .unwrap()
            .is_empty()
    );
    // A second click finds nothing to clear and says so.
    let twice = v
        .post(
            &format!("/contacts/{ann}/resync"),
            &[("csrf", &csrf), ("back", "sync")],
        )
        .await;
    assert_eq!(
        twice.location.as_deref(),
        Some(format!("/contacts/{ann}/sync?resync=none").as_str())
    );
    let page = v.get(&format!("/contacts/{ann}/sync?resync=none")).await;
    assert!(page.body.contains("there was nothing to clear"));

    // In French.
    v.cookies.insert("lb_lang".into(), "fr".into());
    let fr = v.get(&format!("/contacts/{bob}")).await;
    assert!(
        fr.body.contains(&format!(
            "Le Lead Salesforce 00Q000000000002AAA a été supprimé le 2026-11-30 14:05 UTC (synchro n°{run}) ; ce contact n"
        )),
        "{}",
        fr.body
    );
    assert!(fr.body.contains(">Synchroniser à nouveau</button>"));
    assert!(fr.body.contains("<html lang=\"fr\">"));
    let sync = v.get("/sync").await;
    assert!(
        sync.body
            .contains("Non synchronisés (supprimés dans Salesforce)")
    );
    assert!(sync.body.contains(">1 contact</a>"));
    // "Sync again" from the list goes back to the list.
    let list = v.get("/sync/deleted").await;
    assert!(list.body.contains("Supprimés dans Salesforce"));
    let csrf = list.csrf();
    let done = v
        .post(
            &format!("/contacts/{bob}/resync"),
            &[("csrf", &csrf), ("back", "list")],
        )
        .await;
    let back = done.location.unwrap();
    assert_eq!(back, format!("/sync/deleted?resync=done&contact={bob}"));
    let list = v.get(&back).await;
    assert!(
        list.body
            .contains(&format!("Le contact #{bob} sera de nouveau synchronisé")),
        "{}",
        list.body
    );
    assert!(list.body.contains("id=\"no-tombstones\""));
    assert_eq!(stack.store.sync().count_tombstones().await.unwrap(), 0);
    // An unknown contact is a 404 page, not a redirect.
    let unknown = v
        .post(
            "/contacts/424242/resync",
            &[("csrf", &csrf), ("back", "list")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// Issue 6: a run that read deletions and merges from Salesforce says on its page what they did
/// — the counts in plain words and one row per contact whose link changed (its page, the
/// deleted record, what happened, the merge's winner and the contact it is linked to) — in
/// English and French; a run without deletions shows no such section.
#[tokio::test]
async fn a_runs_page_says_what_the_orgs_deletions_and_merges_did() {
    let stack = Stack::start().await;
    stack.connect().await;
    let mut ids = Vec::new();
    for name in ["gone", "merged", "loser", "winner"] {
        let c = stack
            .store
            .create_contact(
                serde_json::json!({"email": format!("{name}@example.com"), "last_name": name, "company": "Acme"})
                    .as_object()
                    .unwrap(),
                lb_store::Origin::User,
            )
            .await
            .unwrap();
        ids.push(c.id);
    }
    let [gone, merged, loser, winner] = ids[..] else {
        unreachable!()
    };
    let run = || async {
        stack
            .engine
            .run(lb_engine::RunRequest::new(
                lb_engine::Trigger::Manual,
                lb_engine::Scope::Incremental,
            ))
            .await
            .unwrap()
    };
    let first = run().await;
    assert_eq!(first.status, lb_engine::RunStatus::Succeeded, "{first:?}");
    let links = stack.store.sync().links_by_contacts(&ids).await.unwrap();
    let lead = |id: lb_store::ContactId| {
        links
            .iter()
            .find(|l| l.contact_id == id)
            .map(|l| l.org_id.clone())
            .expect("linked by the first sync")
    };
    let seeded = stack
        .control(
            "records",
            serde_json::json!({"sobject": "Lead", "records": [
                {"LastName": "Master", "Company": "Acme", "Email": "master@example.com"}]}),
        )
        .await;
    let master = seeded["ids"][0].as_str().unwrap().to_owned();
    {
        let mut org = stack.org.emulator.org_mut();
        org.delete(Some("Lead"), &lead(gone)).unwrap();
        for (victim, into) in [(lead(merged), master.clone()), (lead(loser), lead(winner))] {
            org.merge(&lb_emulator::state::merge::MergeRequest {
                object: "Lead".into(),
                master_id: into,
                master_fields: serde_json::Map::new(),
                victim_ids: vec![victim],
            })
            .expect("merged");
        }
    }
    let second = run().await;
    assert_eq!(second.status, lb_engine::RunStatus::Succeeded, "{second:?}");
    let d = &second.counts.deletes;
    assert_eq!(
        (d.read, d.tombstoned, d.relinked, d.duplicates),
        (3, 1, 1, 1),
        "{d:?}"
    );
    let run_id = second.run_id.unwrap();

    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let page = v.get(&format!("/sync/runs/{run_id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    assert!(
        body.contains("<h2 id=\"deletes-title\">Deleted or merged in Salesforce</h2>"),
        "{body}"
    );
    assert!(
        body.contains("<p id=\"deletes-summary\">3 records deleted or merged away in Salesforce: 1 contact no longer synced (its Salesforce record was deleted), 1 contact relinked to the record it was merged into, 1 contact no longer synced (its record was merged into one linked to another contact).</p>"),
        "{body}"
    );
    let table = &body[body.find("id=\"deletes\"").expect("a deletes table")..];
    let table = &table[..table.find("</table>").unwrap()];
    let row = |contact: lb_store::ContactId| {
        table
            .split("<tr>")
            .find(|r| r.contains(&format!("<a href=\"/contacts/{contact}\">#{contact}</a>")))
            .unwrap_or_else(|| panic!("contact {contact} is listed: {table}"))
            .to_owned()
    };
    let tombstoned = row(gone);
    assert!(
        tombstoned.contains(&format!("<code>{}</code>", lead(gone)))
            && tombstoned.contains("<td>Lead</td>")
            && tombstoned.contains("deleted: no longer synced"),
        "{tombstoned}"
    );
    let relinked = row(merged);
    assert!(
        relinked.contains("merged: now linked to the winner")
            && relinked.contains(&format!(
                "/lightning/r/Lead/{master}/view\"><code>{master}</code></a>"
            )),
        "{relinked}"
    );
    let duplicate = row(loser);
    assert!(
        duplicate.contains("merged into a record linked to another contact: no longer synced")
            && duplicate.contains(&format!(
                "(linked to contact <a href=\"/contacts/{winner}\">#{winner}</a>)"
            )),
        "{duplicate}"
    );
    assert_eq!(table.matches("<tr>").count(), 4, "header + 3 rows: {table}");

    v.cookies.insert("lb_lang".to_owned(), "fr".to_owned());
    let fr = v.get(&format!("/sync/runs/{run_id}")).await.body;
    assert!(
        fr.contains("Supprimées ou fusionnées dans Salesforce</h2>"),
        "{fr}"
    );
    assert!(
        fr.contains("3 fiches supprimées ou fusionnées dans Salesforce : 1 contact n&#39;est plus synchronisé (sa fiche Salesforce a été supprimée)"),
        "{fr}"
    );
    assert!(
        fr.contains("supprimée : n&#39;est plus synchronisé"),
        "{fr}"
    );

    // The first run read no deletion: nothing new on its page.
    let before = v
        .get(&format!("/sync/runs/{}", first.run_id.unwrap()))
        .await
        .body;
    assert!(!before.contains("deletes-title"), "{before}");
    assert!(!before.contains("id=\"deletes\""), "{before}");
}

/// Issue 6: the reason a run records for a contact left out because its Lead was deleted in
/// Salesforce is said in French on a French page (Accept-Language), like every other skip
/// reason, and as recorded on an English one.
#[tokio::test]
async fn a_deleted_leads_skip_reason_is_said_in_french() {
    let stack = Stack::start().await;
    stack.connect().await;
    let ann = stack
        .store
        .create_contact(
            serde_json::json!({"email": "ann@example.com", "last_name": "Ann", "company": "Acme"})
                .as_object()
                .unwrap(),
            lb_store::Origin::User,
        )
        .await
        .unwrap()
        .id;
    let run = |scope| async {
        stack
            .engine
            .run(lb_engine::RunRequest::new(
                lb_engine::Trigger::Manual,
                scope,
            ))
            .await
            .unwrap()
    };
    let first = run(lb_engine::Scope::Incremental).await;
    assert_eq!(first.status, lb_engine::RunStatus::Succeeded, "{first:?}");
    let lead = stack.store.sync().links_by_contacts(&[ann]).await.unwrap()[0]
        .org_id
        .clone();
    stack
        .org
        .emulator
        .org_mut()
        .delete(Some("Lead"), &lead)
        .unwrap();
    let second = run(lb_engine::Scope::Incremental).await;
    assert_eq!(second.counts.deletes.tombstoned, 1, "{second:?}");
    // A full resync reads every contact: the tombstoned one is skipped with the reason.
    let full = run(lb_engine::Scope::Full).await;
    assert_eq!(full.status, lb_engine::RunStatus::Succeeded, "{full:?}");
    let run_id = full.run_id.unwrap();

    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let url = format!("{}/sync/runs/{run_id}", stack.base_url);
    let en = v.send(v.http.get(&url)).await.body;
    assert!(
        en.contains(&format!(
            "its Salesforce Lead {lead} was deleted in the org on "
        )),
        "{en}"
    );
    let fr = v
        .send(v.http.get(&url).header("accept-language", "fr-FR,fr;q=0.9"))
        .await
        .body;
    let skips = &fr[fr.find("id=\"skips\"").expect("a skips table")..];
    let skips = &skips[..skips.find("</table>").unwrap()];
    assert!(
        skips.contains(&format!(
            "son Lead Salesforce {lead} a été supprimé dans l&#39;org le "
        )) && skips.contains("aucun Lead n&#39;est recréé"),
        "{skips}"
    );
    assert!(!skips.contains("was deleted in the org"), "{skips}");
}

/// R-FIELD-1: the contact page a salesperson opens from Salesforce (`plezi_url`) speaks the
/// reader's language like the rest of the app (its headings, lifecycle and history were
/// English on a French page) and leads on into the app: the contacts and the contact's sync
/// status.
#[tokio::test]
async fn the_contact_page_speaks_french_and_links_into_the_app() {
    let stack = Stack::start().await;
    let contact = stack
        .store
        .create_contact(
            serde_json::json!({"email": "eve@example.com", "last_name": "Eve"})
                .as_object()
                .unwrap(),
            lb_store::Origin::Form,
        )
        .await
        .unwrap();
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let url = format!("{}/contacts/{}", stack.base_url, contact.id);
    let fr = v
        .send(v.http.get(&url).header("accept-language", "fr"))
        .await
        .body;
    for expected in [
        "<html lang=\"fr\">",
        "<h2>Attributs</h2>",
        "<h2>Cycle de vie</h2>",
        "MQL — pas encore atteinte",
        "<h2>Historique</h2>",
        "<th>Quand</th><th>Champ</th><th>Valeur</th><th>Origine</th>",
        "<td>une soumission de formulaire</td>",
    ] {
        assert!(fr.contains(expected), "{expected}: {fr}");
    }
    for english in ["Attributes", "Lifecycle", "not reached", "History"] {
        assert!(!fr.contains(english), "{english}: {fr}");
    }
    let nav = format!(
        "<p class=\"nav\" id=\"contact-nav\"><a href=\"/contacts\">← Contacts</a> · <a href=\"/contacts/{}/sync\">État de synchronisation</a></p>",
        contact.id
    );
    assert!(fr.contains(&nav), "{fr}");

    let en = v.send(v.http.get(&url)).await.body;
    assert!(
        en.contains("<h2>Attributes</h2>") && en.contains("MQL — not reached"),
        "{en}"
    );
    assert!(en.contains("<td>a form submission</td>"), "{en}");
    assert!(
        en.contains(&format!(
            "<a href=\"/contacts/{}/sync\">Sync status</a>",
            contact.id
        )),
        "{en}"
    ); // An unknown contact is said in French too.
    let missing = v
        .send(
            v.http
                .get(format!("{}/contacts/424242", stack.base_url))
                .header("accept-language", "fr"),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.body.contains("<h1>Contact introuvable</h1>")
            && missing.body.contains("Il n&#39;y a pas de contact 424242."),
        "{}",
        missing.body
    );
}

/// A run's notes (duplicate groups, R-SYNC-3; a tombstone cleared because the org re-created
/// the Lead, issue 6) are said in French on a French run page, one per line, like its skip
/// reasons.
#[tokio::test]
async fn a_runs_notes_are_said_in_french() {
    let stack = Stack::start().await;
    stack.connect().await;
    let ann = stack
        .store
        .create_contact(
            serde_json::json!({"email": "ann@example.com", "last_name": "Ann", "company": "Acme"})
                .as_object()
                .unwrap(),
            lb_store::Origin::User,
        )
        .await
        .unwrap()
        .id;
    let run = || async {
        stack
            .engine
            .run(lb_engine::RunRequest::new(
                lb_engine::Trigger::Manual,
                lb_engine::Scope::Incremental,
            ))
            .await
            .unwrap()
    };
    run().await;
    let lead = stack.store.sync().links_by_contacts(&[ann]).await.unwrap()[0]
        .org_id
        .clone();
    stack
        .org
        .emulator
        .org_mut()
        .delete(Some("Lead"), &lead)
        .unwrap();
    assert_eq!(run().await.counts.deletes.tombstoned, 1);
    // A salesperson creates ann's Lead again, and two Leads share another email.
    stack
        .control(
            "records",
            serde_json::json!({"sobject": "Lead", "records": [
                {"LastName": "Ann", "Company": "Acme", "Email": "ann@example.com"},
                {"LastName": "Dup", "Company": "Acme", "Email": "dup@example.com"},
                {"LastName": "Dup", "Company": "Acme", "Email": "dup@example.com"}]}),
        )
        .await;
    let third = run().await;
    assert_eq!(third.status, lb_engine::RunStatus::Succeeded, "{third:?}");
    let message = third.message.clone().unwrap_or_default();
    assert!(
        message.contains("duplicate group(s)") && message.contains("its tombstone is cleared"),
        "{message}"
    );

    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    v.cookies.insert("lb_lang".to_owned(), "fr".to_owned());
    let fr = v
        .get(&format!("/sync/runs/{}", third.run_id.unwrap()))
        .await
        .body;
    let shown = &fr[fr
        .find("<dd id=\"run-message\">")
        .expect("the run's message")..];
    let shown = &shown[..shown.find("</dd>").unwrap()];
    assert!(
        shown.contains(
            "1 groupe(s) de doublons dans l&#39;org (même email sur plusieurs fiches, R-SYNC-3)"
        ),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "contact {ann} : un Lead avec son email a été créé dans l&#39;org après la suppression de {lead} ; il n&#39;est plus exclu et se synchronise de nouveau"
        )),
        "{shown}"
    );
    assert!(!shown.contains("duplicate group"), "{shown}");
}

/// The sync page's schedule shows the next run like every other time on the page (it showed
/// the scheduler's raw RFC 3339 with nanoseconds), and one contact is "1 contact", not
/// "1 contacts", in the backlog and the count left out of the sync.
#[tokio::test]
async fn the_sync_page_says_the_next_run_and_single_counts_in_plain_words() {
    let stack = Stack::start().await;
    let ann = stack
        .store
        .create_contact(
            serde_json::json!({"email": "ann@example.com", "last_name": "Ann"})
                .as_object()
                .unwrap(),
            lb_store::Origin::User,
        )
        .await
        .unwrap()
        .id;
    crate::support::tombstone(&stack.store, &[(ann, "00Q000000000001AAA")]).await;
    // What a running scheduler (this process: alive) publishes.
    stack
        .store
        .sync()
        .put_state_json(
            "scheduler",
            &serde_json::json!({"pid": std::process::id(), "next_run_at": "2031-05-06T07:08:09.123456789Z"}),
        )
        .await
        .unwrap();
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let en = v.get("/sync").await.body;
    assert!(en.contains("next run 2031-05-06 07:08 UTC</dd>"), "{en}");
    assert!(
        en.contains("<dd id=\"tombstone-count\"><a href=\"/sync/deleted\">1 contact</a></dd>"),
        "{en}"
    );
    let backlog = &en[en.find("<dd id=\"backlog\">").expect("the backlog")..];
    let backlog = &backlog[..backlog.find("</dd>").unwrap()];
    assert!(
        backlog.ends_with(">1 contact changed since the last complete run"),
        "{backlog}"
    );
    v.cookies.insert("lb_lang".to_owned(), "fr".to_owned());
    let fr = v.get("/sync").await.body;
    assert!(
        fr.contains("prochaine synchro 2031-05-06 07:08 UTC</dd>"),
        "{fr}"
    );
    assert!(
        fr.contains("1 contact modifié depuis la dernière synchro complète"),
        "{fr}"
    );
}

/// R-CONN-4: the edition "in plain words" is said in the page's language (it was the English
/// sentence on the French settings page).
#[tokio::test]
async fn the_orgs_edition_is_explained_in_french() {
    let stack = Stack::start().await;
    stack.connect().await;
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let en = v.get("/settings/salesforce").await.body;
    assert!(
        en.contains(
            "<dd id=\"edition\">Developer Edition — Developer Edition includes the Salesforce API.</dd>"
        ),
        "{en}"
    );
    v.cookies.insert("lb_lang".to_owned(), "fr".to_owned());
    let fr = v.get("/settings/salesforce").await.body;
    assert!(
        fr.contains(
            "<dd id=\"edition\">Developer Edition — Developer Edition inclut l&#39;API Salesforce.</dd>"
        ),
        "{fr}"
    );
}

/// A contact's sync page says in plain words, in the page's language, which rule wrote each
/// value (it showed the engine's `Created`, `ConflictResolved(CrmWins)`).
#[tokio::test]
async fn the_rule_behind_each_synced_value_is_said_in_plain_words() {
    let stack = Stack::start().await;
    stack.connect().await;
    let ann = stack
        .store
        .create_contact(
            serde_json::json!({"email": "ann@example.com", "last_name": "Ann", "company": "Acme"})
                .as_object()
                .unwrap(),
            lb_store::Origin::User,
        )
        .await
        .unwrap()
        .id;
    let run = stack
        .engine
        .run(lb_engine::RunRequest::new(
            lb_engine::Trigger::Manual,
            lb_engine::Scope::Incremental,
        ))
        .await
        .unwrap();
    assert_eq!(run.status, lb_engine::RunStatus::Succeeded, "{run:?}");
    let mut v = Visitor::new(&stack.base_url);
    v.sign_in().await;
    let page = format!("/contacts/{ann}/sync");
    let en = v.get(&page).await.body;
    assert!(en.contains("<td>new record</td>"), "{en}");
    assert!(!en.contains("<td>Created</td>"), "{en}");
    v.cookies.insert("lb_lang".to_owned(), "fr".to_owned());
    let fr = v.get(&page).await.body;
    assert!(fr.contains("<td>nouvelle fiche</td>"), "{fr}");
    // French puts a space before the colon; English does not.
    assert!(
        fr.contains("<h1>État de synchronisation\u{a0}: ann@example.com</h1>"),
        "{fr}"
    );
    assert!(en.contains("<h1>Sync status: ann@example.com</h1>"), "{en}");
}

/// A mistyped or outdated address is a page in the reader's language with the way back (it
/// was an empty 404), without a session; an unknown API path stays a bare 404.
#[tokio::test]
async fn an_unknown_address_is_a_page_in_the_readers_language() {
    let stack = Stack::start().await;
    let mut v = Visitor::new(&stack.base_url);
    let fr = v
        .send(
            v.http
                .get(format!("{}/contacts/1/nope", stack.base_url))
                .header("accept-language", "fr"),
        )
        .await;
    assert_eq!(fr.status, StatusCode::NOT_FOUND);
    assert!(
        fr.body.contains("<html lang=\"fr\">")
            && fr
                .body
                .contains("<h1 id=\"not-found\">Cette page n'existe pas.</h1>")
            && fr.body.contains("<a href=\"/\">"),
        "{}",
        fr.body
    );
    let en = v.get("/nope").await;
    assert_eq!(en.status, StatusCode::NOT_FOUND);
    assert!(en.body.contains("This page does not exist."), "{}", en.body);
    let api = v.get("/api/v1/nope").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(!api.body.contains("<html"), "{}", api.body);
    // The pages behind the gate still need a session.
    assert_eq!(v.get("/contacts").await.status, StatusCode::SEE_OTHER);
}
