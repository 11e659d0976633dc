//! `leadbridge connect` with the OAuth flows other than the seed's username-password one
//! (R-CONN-3): client credentials and JWT bearer through the real binary against an emulated
//! org, and a `--private-key` file that cannot work named as such before anything is sent.

use std::path::Path;
use std::process::{Command, Output};

use secrecy::ExposeSecret;
use serde_json::Value;

fn leadbridge(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbridge"));
    cmd.arg("--data-dir").arg(data_dir);
    for var in [
        "LEADBRIDGE_DATABASE_URL",
        "LEADBRIDGE_CONFIG",
        "LEADBRIDGE_BASE_URL",
        "LEADBRIDGE_SF_CLIENT_SECRET",
        "LEADBRIDGE_SF_USERNAME",
        "LEADBRIDGE_SF_PASSWORD",
        "LEADBRIDGE_SF_SECURITY_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// The emulator's throw-away JWT key pair (its own tests use it too).
fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../emulator/tests/it/fixtures/{name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_works_with_client_credentials_and_with_a_jwt_private_key() {
    let cert = std::fs::read_to_string(fixture("jwt_test_cert.txt")).unwrap();
    let em = lb_emulator::spawn(lb_emulator::Config {
        jwt_certificate_pem: Some(cert),
        ..lb_emulator::Config::default()
    })
    .await
    .unwrap();
    let cfg = em.emulator.config().clone();

    // Client credentials: the consumer key and secret alone, against the org's own URL.
    let dir = tempfile::tempdir().unwrap();
    let out = leadbridge(dir.path())
        .args([
            "connect",
            "--login-url",
            &em.url,
            "--client-id",
            &cfg.client_id,
        ])
        .args(["--client-secret", cfg.client_secret.expose_secret()])
        .args(["--create-fields", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = json_of(&out);
    // `connect --json` and `status --json` name the grant alike (as it is saved).
    assert_eq!(report["grant"], "client_credentials", "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let status = leadbridge(dir.path())
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        json_of(&status)["connection"]["grant"],
        "client_credentials"
    );

    // JWT bearer: consumer key, integration username and the private key.
    let dir = tempfile::tempdir().unwrap();
    let key = fixture("jwt_test_key.txt");
    let out = leadbridge(dir.path())
        .args([
            "connect",
            "--instance-url",
            &em.url,
            "--client-id",
            &cfg.client_id,
        ])
        .args(["--username", &cfg.username, "--private-key"])
        .arg(&key)
        .arg("--create-fields")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("Logged in to "), "{stdout}");
    assert!(
        stdout.contains("  ok      Lead.plezi_url__c (required)\n")
            || stdout.contains("  created Lead.plezi_url__c (required)\n"),
        "{stdout}"
    );
    let out = leadbridge(dir.path())
        .args(["sync", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json_of(&out)["status"], "succeeded");
}

/// A key file that is missing, a certificate, a public key or encrypted is refused with what is
/// wrong and what to give (exit 2), before any call: not reported as Salesforce's refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_key_file_that_cannot_work_is_named_before_anything_is_sent() {
    let em = lb_emulator::spawn(lb_emulator::Config::default())
        .await
        .unwrap();
    let cfg = em.emulator.config().clone();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        path
    };
    let cases = [
        (dir.path().join("missing.pem"), "cannot read --private-key"),
        (
            fixture("jwt_test_cert.txt"),
            "holds a certificate (what is uploaded to the connected app), not a private key",
        ),
        (
            write(
                "pub.pem",
                "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
            ),
            "holds a public key, not a private key",
        ),
        (
            write(
                "enc.pem",
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
            ),
            "is encrypted with a passphrase",
        ),
        (write("notes.txt", "hello"), "holds no PEM private key"),
    ];
    let before = em.emulator.usage().used;
    for (path, expected) in cases {
        let out = leadbridge(dir.path())
            .args([
                "connect",
                "--instance-url",
                &em.url,
                "--client-id",
                &cfg.client_id,
            ])
            .args(["--username", &cfg.username, "--private-key"])
            .arg(&path)
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", path.display());
        assert!(err.contains(expected), "{}: {err}", path.display());
        assert!(
            expected.starts_with("cannot read") || err.contains("give the RSA private key (PEM"),
            "{}: {err}",
            path.display()
        );
        assert!(!err.contains("Salesforce refused"), "{err}");
        assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    }
    assert_eq!(em.emulator.usage().used, before, "nothing was sent");
    let status = leadbridge(dir.path())
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        json_of(&status)["connected"],
        false,
        "nothing was saved: {}",
        text(&status.stdout)
    );
}
