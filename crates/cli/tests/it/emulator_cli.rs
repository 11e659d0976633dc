//! `leadbridge emulator` as a process: its first stdout line, its shutdown on SIGTERM, and its
//! `--state` file across a restart (issue 2, "The emulator").

use serde_json::json;

use crate::support::Emulator;

#[test]
fn first_stdout_line_is_one_json_object_with_url_and_credentials() {
    let emu = Emulator::start(&[]);
    let org = &emu.org;
    assert!(org.url.starts_with("http://127.0.0.1:"), "url: {}", org.url);
    assert_ne!(
        emu.host_port(),
        "127.0.0.1:0",
        "the real port is printed, not the one asked for"
    );
    assert!(
        org.login_url.starts_with("http://127.0.0.1:"),
        "login_url: {}",
        org.login_url
    );
    for (key, value) in [
        ("username", &org.username),
        ("password", &org.password),
        ("security_token", &org.security_token),
        ("client_id", &org.client_id),
        ("client_secret", &org.client_secret),
    ] {
        assert!(!value.is_empty(), "{key} is empty in {}", emu.first_line);
    }
    // The versions list needs no authentication and covers 31.0 up to at least 66.0.
    let (status, versions) = emu.call("GET", "/services/data/", None);
    assert_eq!(status, 200, "{versions}");
    let versions: Vec<&str> = versions
        .as_array()
        .expect("versions array")
        .iter()
        .map(|v| v["version"].as_str().expect("version string"))
        .collect();
    assert_eq!(versions.first(), Some(&"31.0"), "{versions:?}");
    assert!(versions.contains(&"66.0"), "{versions:?}");
}

#[test]
fn sigterm_stops_the_emulator_with_success() {
    let emu = Emulator::start(&[]);
    let status = emu.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn state_file_keeps_records_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    let state = state.to_str().unwrap();

    let first = Emulator::start(&["--state", state]);
    first.seed_leads("StateCo", 3);
    let before =
        first.query("SELECT Id, LastName FROM Lead WHERE Company = 'StateCo' ORDER BY LastName");
    assert_eq!(before["totalSize"], json!(3), "{before}");
    assert!(first.terminate().success());
    assert!(
        std::path::Path::new(state).exists(),
        "no state file written on SIGTERM"
    );

    let second = Emulator::start(&["--state", state]);
    let after =
        second.query("SELECT Id, LastName FROM Lead WHERE Company = 'StateCo' ORDER BY LastName");
    assert_eq!(
        after["records"], before["records"],
        "records differ after the restart"
    );
}

#[test]
fn control_api_counts_api_requests() {
    let emu = Emulator::start(&[]);
    let (status, _) = emu.call("POST", "/__emulator/reset", None);
    assert!((200..300).contains(&status), "reset: {status}");
    let (_, before) = emu.call("GET", "/__emulator/stats", None);
    let before = before["api_requests"]
        .as_u64()
        .expect("api_requests is a number");
    emu.query("SELECT COUNT() FROM Lead"); // one token grant, one query
    let (_, after) = emu.call("GET", "/__emulator/stats", None);
    let after = after["api_requests"]
        .as_u64()
        .expect("api_requests is a number");
    assert!(
        after > before,
        "api_requests did not grow: {before} -> {after}"
    );
    assert!(
        after - before <= 2,
        "one grant and one query counted as {} requests",
        after - before
    );
}

#[test]
fn a_busy_port_is_reported_once_with_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .args(["emulator", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert_eq!(err.matches("Address already in use").count(), 1, "{err}");
}
