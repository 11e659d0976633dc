//! `leadbridge contacts|api-key|serve` as a user runs them (issue 4): the real binary on a
//! temporary data directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn leadbridge(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .env("LEADBRIDGE_DATA_DIR", data_dir)
        .env_remove("LEADBRIDGE_DATABASE_URL")
        .env_remove("LEADBRIDGE_MASTER_KEY")
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

#[test]
fn contacts_add_import_list_show_export_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let added = leadbridge(
        &data,
        &[
            "contacts",
            "add",
            "--email",
            "Jo@Example.com",
            "--first-name",
            "Jo",
            "--behaviour-score",
            "12",
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    assert_eq!(stdout(&added), "created contact 1 <jo@example.com>\n");
    assert!(
        data.join("leadbridge.db").is_file(),
        "the data directory is created on first start"
    );

    let bad = leadbridge(
        &data,
        &[
            "contacts",
            "add",
            "--email",
            "nope",
            "--behaviour-score",
            "60",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    let err = stderr(&bad);
    assert!(
        err.contains("behaviour_score: '60' is not a whole number between 0 and 50"),
        "{err}"
    );
    assert!(err.contains("email: "), "{err}");

    let csv = tmp.path().join("in.csv");
    std::fs::write(&csv, "email,first_name,company,state\njo@example.com,,Acme,engaged\nmax@example.com,Max,Initech,\nbroken,X,,\n").unwrap();
    let import = leadbridge(
        &data,
        &["contacts", "import", csv.to_str().unwrap(), "--json"],
    );
    assert_eq!(
        import.status.code(),
        Some(1),
        "rejected rows make the exit code 1: {}",
        stderr(&import)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(&import)).unwrap();
    assert_eq!(
        (
            report["created"].as_u64(),
            report["updated"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(report["rejections"][0]["row"], 4);
    assert_eq!(report["rejections"][0]["problems"][0]["field"], "email");

    let list = leadbridge(&data, &["contacts", "list", "--json"]);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (
            lines[0]["email"].as_str(),
            lines[0]["company"].as_str(),
            lines[0]["state"].as_str()
        ),
        (Some("jo@example.com"), Some("Acme"), Some("engaged"))
    );

    let show = leadbridge(&data, &["contacts", "show", "MAX@example.com", "--json"]);
    let max: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(max["first_name"], "Max");
    assert_eq!(max["last_changes"]["company"]["origin"], "import");
    let missing = leadbridge(&data, &["contacts", "show", "999"]);
    assert_eq!(missing.status.code(), Some(1));

    let export = leadbridge(&data, &["contacts", "export"]);
    let text = stdout(&export);
    assert!(text.starts_with("email,first_name,last_name,company,job_title,phone,behaviour_score,state,lifecycle_stage,source,medium,campaign,created_at\n"));
    assert!(
        text.contains("\njo@example.com,Jo,,Acme,,,12,engaged,lead,"),
        "{text}"
    );
}

#[test]
fn contacts_list_json_is_one_array_even_empty_or_paged_through() {
    let dir = tempfile::tempdir().unwrap();
    let empty = leadbridge(dir.path(), &["contacts", "list", "--json"]);
    assert_eq!(empty.status.code(), Some(0), "{}", stderr(&empty));
    assert_eq!(stdout(&empty), "[]\n");
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        let added = leadbridge(dir.path(), &["contacts", "add", "--email", email]);
        assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    }
    for args in [
        &["contacts", "list", "--json"][..],
        &["contacts", "list", "--json", "--all"],
    ] {
        let list = leadbridge(dir.path(), args);
        let all: Vec<serde_json::Value> = serde_json::from_str(&stdout(&list)).unwrap();
        let emails: Vec<&str> = all.iter().map(|c| c["email"].as_str().unwrap()).collect();
        assert_eq!(
            emails,
            ["a@example.com", "b@example.com", "c@example.com"],
            "{args:?}"
        );
    }
}

#[test]
fn serve_answers_the_api_with_a_cli_created_key_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let key = leadbridge(&data, &["api-key", "create", "--name", "ci"]);
    assert!(key.status.success(), "{}", stderr(&key));
    let token = stdout(&key).trim().to_owned();
    assert!(token.starts_with("lbk_"));

    let mut server = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .env("LEADBRIDGE_DATA_DIR", &data)
        .env_remove("LEADBRIDGE_MASTER_KEY")
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
    let get = |path: &str, token: &str| -> String {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    };
    assert!(get("/api/v1/contacts", &token).starts_with("HTTP/1.1 200"));
    assert!(get("/api/v1/contacts", "lbk_wrong").starts_with("HTTP/1.1 401"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the key file is created on first start, private"
        );
        Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap();
        assert!(server.wait().unwrap().success());
    }
    #[cfg(not(unix))]
    server.kill().unwrap();
}

/// `api-key list --json` is one parseable array (never a token); revoking an unknown or
/// already revoked key says so and exits 1, like any other "not found".
#[test]
fn api_keys_are_listed_as_json_and_an_unknown_key_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let empty = leadbridge(&data, &["api-key", "list", "--json"]);
    assert_eq!(empty.status.code(), Some(0), "{}", stderr(&empty));
    assert_eq!(stdout(&empty).trim(), "[]");
    let none = leadbridge(&data, &["api-key", "list"]);
    assert!(
        stdout(&none).starts_with("no API keys"),
        "{}",
        stdout(&none)
    );

    let created = leadbridge(&data, &["api-key", "create", "--name", "zapier"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let token = stdout(&created).trim().to_owned();
    let listed = leadbridge(&data, &["api-key", "list", "--json"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let keys: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
    assert_eq!(keys[0]["id"], 1);
    assert_eq!(keys[0]["name"], "zapier");
    assert_eq!(keys[0]["revoked_at"], serde_json::Value::Null);
    assert!(
        token.starts_with(keys[0]["prefix"].as_str().unwrap()),
        "{keys}"
    );
    assert!(
        !stdout(&listed).contains(&token),
        "the token is never listed"
    );
    let table = stdout(&leadbridge(&data, &["api-key", "list"]));
    let header = table.lines().next().unwrap();
    let row = table.lines().nth(1).unwrap();
    assert_eq!(
        header.find("LAST USED"),
        row.find(" -").map(|at| at + 1),
        "columns line up: {table}"
    );

    let revoked = leadbridge(&data, &["api-key", "revoke", "1"]);
    assert_eq!(revoked.status.code(), Some(0), "{}", stderr(&revoked));
    for id in ["1", "99"] {
        let again = leadbridge(&data, &["api-key", "revoke", id]);
        assert_eq!(again.status.code(), Some(1), "{id}: {}", stderr(&again));
        assert!(
            stderr(&again).contains(&format!("no active API key {id}")),
            "{}",
            stderr(&again)
        );
    }
    let listed = leadbridge(&data, &["api-key", "list", "--json"]);
    let keys: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert!(keys[0]["revoked_at"].is_string(), "{keys}");
}

/// A data directory that cannot be made is named with the system's reason, said once (the
/// reason used to be repeated after each cause that quoted it).
#[test]
fn an_unusable_data_directory_is_named_with_its_reason_once() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = leadbridge(&file.join("data"), &["contacts", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains(&file.join("data").display().to_string()),
        "{err}"
    );
    let reason = std::io::Error::from_raw_os_error(20).to_string();
    assert_eq!(err.matches(&reason).count(), 1, "{err}");
}

/// An import whose header is refused says what to do about it: a file saved with ';' between
/// columns, a custom field not defined yet. Headers written as labels are read as their column.
#[test]
fn a_refused_import_header_comes_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cases = [
        (
            "email;first_name\nann@example.com;Ann\n",
            "hint: the header looks separated by ';'",
        ),
        (
            "email,industry\nann@example.com,saas\n",
            "hint: a custom field's column is imported once the field exists: `leadbridge fields add NAME",
        ),
    ];
    for (i, (csv, hint)) in cases.into_iter().enumerate() {
        let file = tmp.path().join(format!("{i}.csv"));
        std::fs::write(&file, csv).unwrap();
        let out = leadbridge(&data, &["contacts", "import", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("unknown column"), "{}", stderr(&out));
        assert!(stderr(&out).contains(hint), "{hint}\n{}", stderr(&out));
    }
    let count = leadbridge(&data, &["contacts", "list", "--json"]);
    assert_eq!(stdout(&count).trim(), "[]", "nothing imported");
    // A spreadsheet's headers ("Email", "First Name", "Job-Title") are the columns they spell.
    let file = tmp.path().join("labels.csv");
    std::fs::write(
        &file,
        "Email,First Name,Job-Title\nann@example.com,Ann,CTO\n",
    )
    .unwrap();
    let out = leadbridge(&data, &["contacts", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let show = leadbridge(&data, &["contacts", "show", "ann@example.com", "--json"]);
    let c: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(
        (c["first_name"].as_str(), c["job_title"].as_str()),
        (Some("Ann"), Some("CTO"))
    );
}
