//! The seed, walked in headless Chromium (Debian's `chromium` + `chromium-driver`): sign in,
//! Settings > Salesforce, the emulator's credentials, "Update configuration", create the missing
//! fields, the mapping (one direction changed), preview, sync, the run and the Lead in the org;
//! then the password expires in the org, the next sync shows "credentials rejected", new
//! credentials bring it back. Every page visited is saved to `target/screenshots/`. Also: a form
//! embedded on another origin, posted by script (CORS) and as plain HTML (the thank-you page).
//!
//! `LEADBRIDGE_TEST_CHROMEDRIVER` / `LEADBRIDGE_TEST_CHROMIUM` override the binaries' paths.
//! Without a chromedriver the test fails when `CI` is set (nothing may be skipped there) and
//! says it skipped otherwise.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::{ADMIN, ADMIN_PASSWORD, Stack};

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> Option<Driver> {
    let path = std::env::var("LEADBRIDGE_TEST_CHROMEDRIVER")
        .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if !std::path::Path::new(&path).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver not found at {path}: install Debian's chromium and chromium-driver (scripts/test.sh does)"
        );
        eprintln!(
            "SKIPPED: browser test, no chromedriver at {path} (apt-get install chromium chromium-driver)"
        );
        return None;
    }
    let port = free_port();
    let child = Command::new(&path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {path}: {e}"));
    let driver = Driver { child, port };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port}");
}

async fn browser(driver: &Driver, lang: &str) -> Client {
    let chromium =
        std::env::var("LEADBRIDGE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1400", format!("--lang={lang}")],
            "prefs": {"intl.accept_languages": lang},
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

/// Saves screenshots in order and keeps every page's HTML for the secret check.
struct Camera {
    dir: PathBuf,
    shot: usize,
    pages: Vec<(String, String)>,
}

impl Camera {
    fn new() -> Camera {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")));
        let dir = target.join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        Camera {
            dir,
            shot: 0,
            pages: Vec::new(),
        }
    }

    /// Removes earlier screenshots numbered in `range` (this test's), so the folder shows one run.
    fn clear(&self, range: std::ops::Range<usize>) {
        for entry in std::fs::read_dir(&self.dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let n = name.split('-').next().and_then(|n| n.parse::<usize>().ok());
            if n.is_some_and(|n| range.contains(&n)) && name.ends_with(".png") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    async fn snap(&mut self, c: &Client, name: &str) {
        self.shot += 1;
        c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(self.dir.join(format!("{:02}-{name}.png", self.shot)), png).unwrap();
        self.pages
            .push((name.to_owned(), c.source().await.unwrap()));
    }
}

async fn text(c: &Client, css: &str) -> String {
    let url = c.current_url().await.unwrap();
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} not on {url}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn fill(c: &Client, id: &str, value: &str) {
    let input = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    input.clear().await.unwrap();
    if !value.is_empty() {
        input.send_keys(value).await.unwrap();
    }
}

/// Clicks a button or link that loads a page, and waits until the new page is there: the old
/// document carries a marker the new one lacks, and the new one finished loading.
async fn click(c: &Client, id: &str) {
    mark_page(c).await;
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .click()
        .await
        .unwrap();
    wait_for_new_page(c).await;
}

/// Clicks something that does not load a page (a radio button).
async fn tick(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn mark_page(c: &Client) {
    c.execute("window.__lbOldPage = true", vec![])
        .await
        .unwrap();
}

async fn wait_for_new_page(c: &Client) {
    for _ in 0..400 {
        let state = c
            .execute(
                "return (window.__lbOldPage === true ? 'old' : document.readyState)",
                vec![],
            )
            .await;
        if let Ok(state) = state
            && state == "complete"
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no new page after the click");
}

async fn path(c: &Client) -> String {
    let url = c.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Reloads the sync page until the newest run has ended; returns its status class.
async fn wait_for_run(c: &Client, base: &str) -> String {
    for _ in 0..150 {
        c.goto(&format!("{base}/sync")).await.unwrap();
        if c.find(Locator::Id("running")).await.is_err()
            && let Ok(row) = c.find(Locator::Css("#runs tr.run")).await
        {
            return row.attr("data-status").await.unwrap().unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the run did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_walk_in_a_real_browser_with_expired_password_and_recovery() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let stack = Stack::start().await;
    let base = stack.base_url.clone();
    let creds = stack.org_credentials();
    // Our side: a contact to push; the org's side: a Lead without email (skipped, R-SYNC-1).
    let marie = stack
        .store
        .create_contact(
            json!({"email": "marie.curie@example.com", "first_name": "Marie", "last_name": "Curie", "company": "Radium SA", "behaviour_score": 30})
                .as_object()
                .unwrap(),
            lb_store::Origin::User,
        )
        .await
        .unwrap();
    stack
        .control(
            "records",
            json!({"sobject": "Lead", "records": [{"LastName": "Nomail", "Company": "Ghost Ltd"}]}),
        )
        .await;

    let c = browser(&driver, "en-US").await;
    let mut cam = Camera::new();
    cam.clear(1..50);

    // Without a session, the settings page sends us to sign in, then back.
    c.goto(&format!("{base}/settings/salesforce"))
        .await
        .unwrap();
    assert_eq!(path(&c).await, "/sign-in?next=%2Fsettings%2Fsalesforce");
    cam.snap(&c, "sign-in").await;
    fill(&c, "username", ADMIN).await;
    fill(&c, "password", ADMIN_PASSWORD).await;
    click(&c, "sign-in").await;
    assert_eq!(path(&c).await, "/settings/salesforce");
    assert_eq!(
        text(&c, "#health-title").await,
        "Not connected to Salesforce"
    );
    cam.snap(&c, "settings-salesforce-empty").await;

    // The seed's flow: consumer key/secret, username, password + security token.
    tick(&c, "flow-password").await;
    assert!(
        text(&c, "#password-flow-notice")
            .await
            .contains("2027-02-20")
    );
    fill(&c, "login_url", &creds.login_url).await;
    fill(&c, "client_id", &creds.client_id).await;
    fill(&c, "client_secret", &creds.client_secret).await;
    fill(&c, "sf_username", &creds.username).await;
    fill(&c, "sf_password", &creds.password).await;
    fill(&c, "security_token", &creds.security_token).await;
    cam.snap(&c, "settings-salesforce-filled").await;
    click(&c, "update-configuration").await;
    assert_eq!(path(&c).await, "/settings/salesforce");
    assert!(
        c.find(Locator::Id("connected-with-problems")).await.is_ok(),
        "signed in, fields missing"
    );
    assert!(text(&c, "#fields").await.contains("plezi_url__c"));
    assert!(text(&c, "#fields").await.contains("missing"));
    assert!(
        text(&c, "#edition").await.contains("Developer"),
        "{}",
        text(&c, "#edition").await
    );
    assert_eq!(text(&c, "#api-version").await, lb_salesforce::API_VERSION);
    assert!(
        c.find(Locator::Id("password-set")).await.is_ok(),
        "secrets show as set, never their value"
    );
    cam.snap(&c, "settings-salesforce-fields-missing").await;

    click(&c, "create-fields").await;
    assert_eq!(path(&c).await, "/settings/salesforce?notice=fields_created");
    assert!(
        c.find(Locator::Id("connected")).await.is_ok(),
        "{}",
        text(&c, "#report").await
    );
    assert!(
        !text(&c, "#fields").await.contains("missing"),
        "{}",
        text(&c, "#fields").await
    );
    cam.snap(&c, "settings-salesforce-connected").await;

    // The mapping: change the direction of the phone on Leads (both ways → to Salesforce).
    click(&c, "to-mapping").await;
    assert_eq!(path(&c).await, "/settings/mapping");
    let email_row = c.find(Locator::Id("direction-email-Lead")).await.unwrap();
    assert_eq!(
        email_row.attr("disabled").await.unwrap().as_deref(),
        Some("true"),
        "email is locked (R-MAP-2)"
    );
    let score_options = text(&c, "#direction-behaviour_score-Lead").await;
    assert!(
        !score_options.contains("Salesforce → marketing") && !score_options.contains("both"),
        "{score_options}"
    );
    cam.snap(&c, "mapping").await;
    c.find(Locator::Css("#direction-phone-Lead option[value='to_crm']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&c, "save-mapping").await;
    if path(&c).await != "/settings/mapping?saved=1" {
        panic!("mapping not saved: {}", text(&c, "#mapping-errors").await);
    }
    let saved = lb_engine::settings::load_mapping(&stack.store)
        .await
        .unwrap();
    assert_eq!(
        saved
            .entry("phone", lb_core::SObject::Lead)
            .unwrap()
            .direction,
        lb_core::Direction::ToCrm
    );
    cam.snap(&c, "mapping-saved").await;

    // Preview: readable, and nothing written.
    c.goto(&format!("{base}/sync")).await.unwrap();
    cam.snap(&c, "sync-before-first-run").await;
    click(&c, "preview").await;
    let preview = text(&c, "main").await;
    assert!(
        preview.contains("Create a Lead in Salesforce")
            && preview.contains("marie.curie@example.com"),
        "{preview}"
    );
    assert!(
        text(&c, "#skips").await.contains("no email"),
        "{}",
        text(&c, "#skips").await
    );
    let skip_link = c
        .find(Locator::Css("#skips a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        skip_link.starts_with(&stack.org.url) && skip_link.contains("/lightning/r/Lead/"),
        "{skip_link}"
    );
    cam.snap(&c, "preview").await;
    let before = stack
        .org_query(
            "SELECT Id FROM Lead WHERE Email = 'marie.curie@example.com'",
            &creds.password,
            &creds.security_token,
        )
        .await;
    assert_eq!(before["totalSize"], 0, "the preview wrote nothing");

    // Sync now, the run in the history, its detail, the Lead in the org.
    click(&c, "sync-now").await;
    assert_eq!(wait_for_run(&c, &base).await, "ok");
    assert!(
        c.find(Locator::Css("#runs-chart")).await.is_ok(),
        "the history has its chart"
    );
    cam.snap(&c, "sync-after-run").await;
    mark_page(&c).await;
    c.find(Locator::Css("#runs tr.run a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_new_page(&c).await;
    assert_eq!(text(&c, "#org-created").await, "1");
    cam.snap(&c, "run-detail").await;
    let leads = stack
        .org_query(
            "SELECT Id, plezi_url__c, score__c FROM Lead WHERE Email = 'marie.curie@example.com'",
            &creds.password,
            &creds.security_token,
        )
        .await;
    assert_eq!(leads["totalSize"], 1, "{leads}");
    let lead_id = leads["records"][0]["Id"].as_str().unwrap().to_owned();
    assert_eq!(
        leads["records"][0]["plezi_url__c"],
        format!("{base}/contacts/{}", marie.id)
    );
    c.goto(&format!("{base}/contacts")).await.unwrap();
    cam.snap(&c, "contacts").await;
    c.goto(&format!("{base}/contacts/{}/sync", marie.id))
        .await
        .unwrap();
    assert_eq!(text(&c, "#links .org-id").await, lead_id);
    assert!(text(&c, "#provenance").await.contains("behaviour_score"));
    cam.snap(&c, "contact-sync-status").await;

    // A free-text CRM field flowing in is allowed but warned about (R-MAP-5); a mapping change
    // after a full sync makes a full resync due, offered with a button (R-SYNC-5).
    c.goto(&format!("{base}/settings/mapping")).await.unwrap();
    c.find(Locator::Css(
        "#direction-job_title-Lead option[value='both']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    click(&c, "save-mapping").await;
    if path(&c).await != "/settings/mapping?saved=1" {
        panic!("mapping not saved: {}", text(&c, "#mapping-errors").await);
    }
    let job_title_row = text(&c, "#problems-job_title-Lead").await;
    assert!(
        job_title_row.to_lowercase().contains("free"),
        "the free-text warning: {job_title_row}"
    );
    assert!(text(&c, "#resync-due").await.contains("full resync"));
    cam.snap(&c, "mapping-resync-due").await;
    click(&c, "full-resync").await;
    assert_eq!(wait_for_run(&c, &base).await, "ok");
    assert!(
        text(&c, "#runs tr.run").await.contains("full"),
        "{}",
        text(&c, "#runs tr.run").await
    );
    assert!(
        c.find(Locator::Id("resync-due")).await.is_err(),
        "the full resync settled it"
    );

    // The #1 field failure: the password expires; the next sync stops and says so.
    stack
        .control("faults", json!({"kind": "expire_password"}))
        .await;
    c.goto(&format!("{base}/sync")).await.unwrap();
    click(&c, "sync-now").await;
    let status = wait_for_run(&c, &base).await;
    assert_eq!(status, "warn", "the run is paused, not failed");
    assert_eq!(
        text(&c, "#health-title").await,
        "Credentials rejected: the sync is paused"
    );
    let what = text(&c, "#health-what").await;
    assert!(
        what.contains("invalid_grant"),
        "Salesforce's exact words: {what}"
    );
    assert!(
        text(&c, "#health-do")
            .await
            .to_lowercase()
            .contains("password")
    );
    cam.snap(&c, "sync-credentials-rejected").await;

    // New password and token, entered in the settings: connected again, the sync resumes.
    // A change made while paused is kept and sent after recovery (R-CONN-6: nothing lost).
    stack
        .store
        .update_contact(
            marie.id,
            json!({"company": "Institut du Radium"})
                .as_object()
                .unwrap(),
            lb_store::Origin::User,
        )
        .await
        .unwrap();
    let (new_password, new_token) = ("Renewed-Pass-2", "NEWTOKEN9876543210ZY");
    stack
        .control(
            "password",
            json!({"password": new_password, "security_token": new_token}),
        )
        .await;
    click(&c, "enter-new-credentials").await;
    assert_eq!(path(&c).await, "/settings/salesforce");
    assert!(
        text(&c, "#alert")
            .await
            .contains("Salesforce refused the credentials"),
        "every page says it"
    );
    assert!(
        c.find(Locator::Id("report")).await.is_err(),
        "the earlier \"connected\" report is not shown any more"
    );
    cam.snap(&c, "settings-credentials-rejected").await;
    fill(&c, "sf_password", new_password).await;
    fill(&c, "security_token", new_token).await;
    click(&c, "update-configuration").await;
    assert!(
        c.find(Locator::Id("connected")).await.is_ok(),
        "{}",
        text(&c, "#report").await
    );
    assert!(
        c.find(Locator::Id("alert")).await.is_err(),
        "the alert is gone"
    );
    cam.snap(&c, "settings-recovered").await;
    c.goto(&format!("{base}/sync")).await.unwrap();
    assert_eq!(text(&c, "#health-title").await, "Connected: the sync runs");
    click(&c, "sync-now").await;
    assert_eq!(wait_for_run(&c, &base).await, "ok");
    assert_eq!(text(&c, "#health-title").await, "Connected: the sync runs");
    assert_eq!(
        text(&c, "#runs tr.run td:nth-child(6)").await,
        "1",
        "the change made while paused went out"
    );
    let lead = stack
        .org_query(
            &format!("SELECT Company FROM Lead WHERE Id = '{lead_id}'"),
            new_password,
            new_token,
        )
        .await;
    assert_eq!(
        lead["records"][0]["Company"], "Institut du Radium",
        "{lead}"
    );
    cam.snap(&c, "sync-recovered").await;

    // Forms: create one and see its snippet.
    c.goto(&format!("{base}/forms")).await.unwrap();
    cam.snap(&c, "forms").await;
    fill(&c, "form-name", "Webinar sign-up").await;
    click(&c, "create-form").await;
    let snippet = c
        .find(Locator::Id("snippet"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        snippet.contains(&format!("action=\"{base}/api/v1/forms/")),
        "{snippet}"
    );
    cam.snap(&c, "form-snippet").await;

    // The same app in French, by the language switch.
    c.goto(&format!("{base}/sync")).await.unwrap();
    click(&c, "switch-language").await;
    assert_eq!(
        text(&c, "#health-title").await,
        "Connecté : la synchronisation fonctionne"
    );
    cam.snap(&c, "sync-fr").await;
    c.goto(&format!("{base}/settings/salesforce"))
        .await
        .unwrap();
    cam.snap(&c, "settings-salesforce-fr").await;
    c.goto(&format!("{base}/settings/mapping")).await.unwrap();
    cam.snap(&c, "mapping-fr").await;

    // No page shown contained a stored secret.
    for (name, html) in &cam.pages {
        for secret in [
            &creds.client_secret,
            &creds.password,
            &creds.security_token,
            &new_password.to_owned(),
            &new_token.to_owned(),
        ] {
            assert!(
                !html.contains(secret.as_str()),
                "page {name} shows a secret"
            );
        }
    }
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_salesforce_goes_through_the_seeds_callback_with_pkce() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let stack = Stack::start().await;
    let base = stack.base_url.clone();
    let creds = stack.org_credentials();
    let c = browser(&driver, "fr-FR").await;
    let mut cam = Camera {
        dir: Camera::new().dir,
        shot: 50,
        pages: Vec::new(),
    };

    c.goto(&format!("{base}/sign-in")).await.unwrap();
    assert_eq!(
        text(&c, "h1").await,
        "Connexion",
        "the browser's language (Accept-Language: fr-FR)"
    );
    cam.snap(&c, "oauth-sign-in-fr").await;
    fill(&c, "username", ADMIN).await;
    fill(&c, "password", ADMIN_PASSWORD).await;
    click(&c, "sign-in").await;
    c.goto(&format!("{base}/settings/salesforce"))
        .await
        .unwrap();
    assert!(
        text(&c, "#callback-url")
            .await
            .ends_with("/settings/api_setting/salesforce_authorize")
    );
    tick(&c, "flow-web_oauth").await;
    fill(&c, "login_url", &creds.login_url).await;
    fill(&c, "client_id", &creds.client_id).await;
    fill(&c, "client_secret", &creds.client_secret).await;
    // Through Salesforce's authorize page (the emulator approves at once) and back.
    click(&c, "update-configuration").await;
    assert_eq!(path(&c).await, "/settings/salesforce?notice=oauth_done");
    let report = text(&c, "#report").await;
    assert!(c.find(Locator::Id("refused")).await.is_err(), "{report}");
    assert!(
        report.contains("plezi_url__c"),
        "the fields are checked: {report}"
    );
    let saved = lb_engine::ConnectionSettings::load(&stack.store)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        saved.grant, "refresh_token",
        "the web flow keeps a refresh token, not a password"
    );
    assert!(
        stack
            .store
            .secret_names()
            .await
            .unwrap()
            .contains(&"salesforce.refresh_token".to_owned())
    );
    cam.snap(&c, "oauth-connected-fr").await;

    // A forged callback (unknown state) is refused before anything is sent to Salesforce.
    c.goto(&format!(
        "{base}/settings/api_setting/salesforce_authorize?code=forged&state=forged"
    ))
    .await
    .unwrap();
    assert!(
        text(&c, "#org-error")
            .await
            .contains("10 dernières minutes"),
        "{}",
        text(&c, "#org-error").await
    );
    cam.snap(&c, "oauth-forged-callback-fr").await;
    c.close().await.unwrap();
}

/// A marketer's page on another origin (another port): the form's snippet pasted as is, and a
/// script that posts JSON to the submission URL and tries to read the API with a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_embedded_on_another_site_posts_by_script_and_as_plain_html() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let stack = Stack::start().await;
    let base = stack.base_url.clone();
    let mapping = [("mail", "email"), ("first", "first_name")]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    let form = stack
        .store
        .create_form(&lb_store::NewForm {
            name: "Webinar".into(),
            mapping,
            score_increment: None,
        })
        .await
        .unwrap();
    let (_, key) = stack.store.create_api_key("browser").await.unwrap();
    let submit_url = format!("{base}/api/v1/forms/{}/submissions", form.id);
    let page = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head><body>
{snippet}
<button id="by-script" type="button" onclick="send()">script</button>
<p id="result"></p><p id="read"></p>
<script>
function send() {{
  fetch({submit:?}, {{method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{mail: "script@example.com", first: "Scripted"}})}})
    .then(r => r.json().then(b => {{ document.getElementById("result").textContent = r.status + " " + b.contact_id; }}))
    .catch(e => {{ document.getElementById("result").textContent = "blocked"; }});
  fetch({contacts:?}, {{headers: {{"Authorization": "Bearer " + {key:?}}}}})
    .then(r => {{ document.getElementById("read").textContent = "read " + r.status; }})
    .catch(e => {{ document.getElementById("read").textContent = "blocked"; }});
}}
</script></body></html>"#,
        snippet = lb_web::ui::form_snippet(&base, &form, &stack.store.schema().await.unwrap()),
        submit = submit_url,
        contacts = format!("{base}/api/v1/contacts"),
        key = secrecy::ExposeSecret::expose_secret(&key),
    );
    let shop = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop_url = format!("http://{}", shop.local_addr().unwrap());
    let site = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(shop, site).await;
    });

    let c = browser(&driver, "fr-FR").await;
    c.goto(&shop_url).await.unwrap();
    tick(&c, "by-script").await;
    let mut result = String::new();
    let mut read = String::new();
    for _ in 0..200 {
        result = text(&c, "#result").await;
        read = text(&c, "#read").await;
        if !result.is_empty() && !read.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        result.starts_with("201 "),
        "the submission from another origin: {result}"
    );
    assert_eq!(
        read, "blocked",
        "the API-key routes are not readable from another origin"
    );
    let email = |e: &str| lb_store::Email::parse(e).unwrap();
    let scripted = stack
        .store
        .contact_by_email(&email("script@example.com"))
        .await
        .unwrap()
        .expect("the scripted submission's contact");
    assert_eq!(scripted.first_name.as_deref(), Some("Scripted"));

    // The pasted snippet, submitted as a visitor does: the thank-you page, in French.
    c.find(Locator::Css("input[name=mail]"))
        .await
        .unwrap()
        .send_keys("plain@example.com")
        .await
        .unwrap();
    mark_page(&c).await;
    c.find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_new_page(&c).await;
    assert_eq!(path(&c).await, format!("/forms/{}/thanks", form.id));
    assert_eq!(text(&c, "h1").await, "Merci");
    assert!(
        stack
            .store
            .contact_by_email(&email("plain@example.com"))
            .await
            .unwrap()
            .is_some()
    );
    c.close().await.unwrap();
}
