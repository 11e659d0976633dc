//! `leadbridge fields|states|forms` and `serve --cors-origin` as a user runs them: the real
//! binary on a temporary data directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn leadbridge(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .env("LEADBRIDGE_DATA_DIR", data_dir)
        .env_remove("LEADBRIDGE_DATABASE_URL")
        .env_remove("LEADBRIDGE_MASTER_KEY")
        .env_remove("LEADBRIDGE_BASE_URL")
        .env_remove("LEADBRIDGE_CORS_ORIGINS")
        .args(args)
        .output()
        .expect("run leadbridge")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn fields_and_states_are_listed_added_and_bad_input_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert_eq!(
        json(&leadbridge(&data, &["fields", "list", "--json"])),
        serde_json::json!([])
    );

    let added = leadbridge(
        &data,
        &[
            "fields",
            "add",
            "industry",
            "--type",
            "picklist",
            "--values",
            "retail, banking,saas",
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    assert_eq!(stdout(&added), "added custom field 'industry' (picklist)\n");
    let seats = json(&leadbridge(
        &data,
        &["fields", "add", "seats", "--type", "number", "--json"],
    ));
    assert_eq!(
        (seats["name"].as_str(), seats["kind"].as_str()),
        (Some("seats"), Some("number"))
    );

    let list = json(&leadbridge(
        &data,
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "fields",
            "list",
            "--json",
        ],
    ));
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(
        list[0]["options"],
        serde_json::json!(["retail", "banking", "saas"])
    );
    let table = stdout(&leadbridge(&data, &["fields", "list"]));
    assert!(
        table.contains("industry") && table.contains("retail, banking, saas"),
        "{table}"
    );

    // The field is usable at once.
    let contact = leadbridge(
        &data,
        &[
            "contacts",
            "add",
            "--email",
            "f@example.com",
            "--field",
            "industry=saas",
            "--field",
            "seats=12",
        ],
    );
    assert!(contact.status.success(), "{}", stderr(&contact));

    let twice = leadbridge(&data, &["fields", "add", "seats", "--type", "number"]);
    assert_eq!(twice.status.code(), Some(1), "{}", stderr(&twice));
    assert!(
        stderr(&twice).contains("already exists"),
        "{}",
        stderr(&twice)
    );
    let bad_name = leadbridge(&data, &["fields", "add", "Bad Name", "--type", "text"]);
    assert_eq!(bad_name.status.code(), Some(2));
    assert!(stderr(&bad_name).contains("name"), "{}", stderr(&bad_name));
    let no_values = leadbridge(&data, &["fields", "add", "tier", "--type", "picklist"]);
    assert_eq!(no_values.status.code(), Some(2));
    assert!(
        stderr(&no_values).contains("options") || stderr(&no_values).contains("values"),
        "{}",
        stderr(&no_values)
    );
    let bad_type = leadbridge(&data, &["fields", "add", "tier", "--type", "colour"]);
    assert_eq!(bad_type.status.code(), Some(2));
    assert!(
        stderr(&bad_type).contains("colour"),
        "{}",
        stderr(&bad_type)
    );

    let states = json(&leadbridge(&data, &["states", "list", "--json"]));
    let before = states.as_array().unwrap().len();
    assert!(before > 0);
    let added = leadbridge(&data, &["states", "add", "nurturing"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let states = json(&leadbridge(&data, &["states", "list", "--json"]));
    assert_eq!(states.as_array().unwrap().len(), before + 1);
    assert_eq!(states.as_array().unwrap().last().unwrap(), "nurturing");
    assert!(
        stdout(&leadbridge(&data, &["states", "list"]))
            .lines()
            .any(|l| l == "nurturing")
    );
    assert_eq!(
        leadbridge(&data, &["states", "add", "nurturing"])
            .status
            .code(),
        Some(1)
    );
    let blank = leadbridge(&data, &["states", "add", " "]);
    assert_eq!(blank.status.code(), Some(2));
}

#[test]
fn forms_are_created_listed_and_shown_with_their_snippet() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let created = json(&leadbridge(
        &data,
        &[
            "forms",
            "create",
            "--name",
            "Webinar",
            "--field",
            "your_email=email",
            "--field",
            "first=first_name",
            "--redirect-url",
            "https://shop.example/merci",
            "--base-url",
            "https://app.example",
            "--json",
        ],
    ));
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["redirect_url"], "https://shop.example/merci");
    assert_eq!(
        created["submission_url"],
        format!("https://app.example/api/v1/forms/{id}/submissions")
    );
    assert_eq!(created["mapping"]["your_email"], "email");

    let list = json(&leadbridge(&data, &["forms", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    let table = stdout(&leadbridge(&data, &["forms", "list"]));
    assert!(
        table.contains("Webinar") && table.contains("your_email=email"),
        "{table}"
    );

    let shown = leadbridge(
        &data,
        &[
            "forms",
            "show",
            &id.to_string(),
            "--base-url",
            "https://app.example",
        ],
    );
    assert!(shown.status.success(), "{}", stderr(&shown));
    let text = stdout(&shown);
    let url = format!("https://app.example/api/v1/forms/{id}/submissions");
    assert!(text.contains(&format!("submission URL:  {url}")), "{text}");
    assert!(
        text.contains(&format!("<form method=\"post\" action=\"{url}\"")),
        "{text}"
    );
    assert!(text.contains("name=\"your_email\" required"), "{text}");
    assert!(text.contains("https://shop.example/merci"), "{text}");
    let as_json = json(&leadbridge(
        &data,
        &[
            "forms",
            "show",
            &id.to_string(),
            "--json",
            "--base-url",
            "https://app.example",
        ],
    ));
    assert!(as_json["snippet"].as_str().unwrap().contains(&url));

    let missing = leadbridge(&data, &["forms", "show", "999"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("form 999 not found"),
        "{}",
        stderr(&missing)
    );
    let not_a_number = leadbridge(&data, &["forms", "show", "abc"]);
    assert_eq!(not_a_number.status.code(), Some(2));
    assert!(stderr(&not_a_number).contains("'abc' is not a number"));

    // Bad input: every problem named, nothing created.
    let bad = leadbridge(
        &data,
        &[
            "forms",
            "create",
            "--name",
            "X",
            "--field",
            "first=first_name",
            "--redirect-url",
            "javascript:alert(1)",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    let err = stderr(&bad);
    assert!(
        err.contains("redirect_url") && err.contains("mapping"),
        "{err}"
    );
    let malformed = leadbridge(
        &data,
        &["forms", "create", "--name", "X", "--field", "email"],
    );
    assert_eq!(malformed.status.code(), Some(2));
    assert!(stderr(&malformed).contains("--field 'email' must be INPUT=ATTRIBUTE"));
    let unknown = leadbridge(
        &data,
        &[
            "forms",
            "create",
            "--name",
            "X",
            "--field",
            "e=email",
            "--field",
            "x=shoe_size",
        ],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("shoe_size"),
        "{}",
        stderr(&unknown)
    );
    assert_eq!(
        json(&leadbridge(&data, &["forms", "list", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn serve_answers_cross_origin_calls_for_configured_origins_only() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let bad = leadbridge(
        &data,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cors-origin",
            "https://shop.example/path",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("https://shop.example/path"),
        "{}",
        stderr(&bad)
    );

    let mut server = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .env("LEADBRIDGE_DATA_DIR", &data)
        .env_remove("LEADBRIDGE_MASTER_KEY")
        .env(
            "LEADBRIDGE_CORS_ORIGINS",
            "https://crm.example,https://other.example",
        )
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server output").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split(&[',', ')'][..]).next().unwrap().to_owned();
        }
    };
    let preflight = |path: &str, origin: &str| -> String {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "OPTIONS {path} HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply.to_ascii_lowercase()
    };
    assert!(
        preflight("/api/v1/contacts", "https://crm.example")
            .contains("access-control-allow-origin: https://crm.example")
    );
    assert!(
        !preflight("/api/v1/contacts", "https://evil.example")
            .contains("access-control-allow-origin")
    );
    #[cfg(unix)]
    {
        Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap();
        assert!(server.wait().unwrap().success());
    }
    #[cfg(not(unix))]
    server.kill().unwrap();
}

/// The HTML `forms show` prints offers each input the control its attribute takes: the allowed
/// values of a picklist as a list (a visitor could type a value the submission refuses into a
/// text box), yes/no, number and date controls.
#[test]
fn a_forms_snippet_offers_the_allowed_values_of_picklists_and_typed_controls() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for args in [
        &[
            "fields", "add", "industry", "--type", "picklist", "--values", "saas,r&d",
        ][..],
        &["fields", "add", "newsletter", "--type", "boolean"],
        &["fields", "add", "employees", "--type", "number"],
        &["fields", "add", "renewal", "--type", "date"],
    ] {
        let out = leadbridge(d, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    let created = leadbridge(
        d,
        &[
            "forms",
            "create",
            "--name",
            "Demo",
            "--field",
            "email=email",
            "--field",
            "ind=industry",
            "--field",
            "nl=newsletter",
            "--field",
            "n=employees",
            "--field",
            "r=renewal",
            "--base-url",
            "https://app.example",
        ],
    );
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let shown = leadbridge(
        d,
        &["forms", "show", "1", "--base-url", "https://app.example"],
    );
    let html = stdout(&shown);
    for expected in [
        "<select name=\"ind\">\n      <option value=\"\"></option>\n      <option value=\"saas\">saas</option>\n      <option value=\"r&amp;d\">r&amp;d</option>\n    </select>",
        "<option value=\"true\">yes</option>\n      <option value=\"false\">no</option>",
        "<input type=\"number\" name=\"n\" step=\"any\">",
        "<input type=\"date\" name=\"r\">",
        "<input type=\"email\" name=\"email\" required>",
    ] {
        assert!(html.contains(expected), "{expected}\n{html}");
    }
    let json = json(&leadbridge(d, &["forms", "show", "1", "--json"]));
    assert!(
        json["snippet"]
            .as_str()
            .unwrap()
            .contains("<select name=\"nl\">"),
        "{json}"
    );
}
