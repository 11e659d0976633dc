//! Test support: the real `leadbridge emulator` process, its control API, and the real clients.
//!
//! Invariants:
//! - The emulator is always the binary Cargo built for this package (`CARGO_BIN_EXE_leadbridge`),
//!   started as a user starts it, one process per test, killed when the handle drops.
//! - A client script's failure (non-zero exit, timeout, unparsable output) fails the test with
//!   the script's stdout/stderr and the emulator's stderr, so the report says what broke.
//! - A missing client is a failure under `CI=true`; elsewhere the test says loudly that it
//!   skipped, and how to install the clients (`bash scripts/test.sh`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

/// How long the emulator may take to print its JSON line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one client scenario may run (bulk jobs poll; the slowest scenario takes a few seconds).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// The emulator's first stdout line: the org's URLs and integration-user credentials.
#[derive(Debug, Clone, Deserialize)]
pub struct OrgInfo {
    pub url: String,
    pub login_url: String,
    pub username: String,
    pub password: String,
    pub security_token: String,
    pub client_id: String,
    pub client_secret: String,
}

/// A running `leadbridge emulator` process.
pub struct Emulator {
    child: Child,
    pub org: OrgInfo,
    /// The whole first line, for tests of extra keys.
    pub first_line: Value,
    stderr: Arc<Mutex<String>>,
    tls: bool,
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn collect(mut reader: impl Read + Send + 'static, sink: Arc<Mutex<String>>) {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

impl Emulator {
    /// `leadbridge emulator --listen 127.0.0.1:0 EXTRA…`, waiting for its JSON line.
    pub fn start(extra: &[&str]) -> Emulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn leadbridge emulator");
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stderr.take().unwrap(), stderr.clone());

        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = tx.send(reader.read_line(&mut line).map(|_| line));
            // Keep draining so the emulator never blocks on a full pipe.
            std::io::copy(&mut reader, &mut std::io::sink()).ok();
        });
        let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                thread::sleep(Duration::from_millis(100));
                panic!(
                    "`leadbridge emulator {}` printed no JSON line ({other:?}); stderr:\n{}",
                    extra.join(" "),
                    stderr.lock().unwrap()
                );
            }
        };
        let first_line: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("first stdout line is not JSON ({e}): {line:?}"));
        let org: OrgInfo = serde_json::from_value(first_line.clone())
            .unwrap_or_else(|e| panic!("first stdout line lacks a required key ({e}): {line}"));
        Emulator {
            child,
            org,
            first_line,
            stderr,
            tls: extra.contains(&"--tls"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `host:port` of the instance URL.
    pub fn host_port(&self) -> String {
        let rest = self.org.url.split("://").nth(1).expect("url has a scheme");
        rest.split('/').next().unwrap().to_string()
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait emulator") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "emulator did not exit within 20 s of SIGTERM; stderr:\n{}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// One request to the emulator (control API or any other path), answered as (status, JSON;
    /// a non-JSON body comes back as a JSON string).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.request(
            method,
            path,
            &[],
            body.map(|b| Body::Json(b.clone())).unwrap_or(Body::None),
        )
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> (u16, Value) {
        let url = format!("{}{}", self.org.url.trim_end_matches('/'), path);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let tls = self.tls;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let client = reqwest::Client::builder()
                .tls_danger_accept_invalid_certs(tls)
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap();
            let mut req = client.request(method, &url);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            req = match body {
                Body::None => req,
                Body::Json(v) => req.json(&v),
                Body::Form(pairs) => req.form(&pairs),
            };
            let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (status, json)
        })
    }

    /// An access token from the OAuth password grant (password + security token).
    pub fn access_token(&self) -> String {
        let org = &self.org;
        let form = vec![
            ("grant_type".to_string(), "password".to_string()),
            ("client_id".to_string(), org.client_id.clone()),
            ("client_secret".to_string(), org.client_secret.clone()),
            ("username".to_string(), org.username.clone()),
            (
                "password".to_string(),
                format!("{}{}", org.password, org.security_token),
            ),
        ];
        let (status, body) = self.request("POST", "/services/oauth2/token", &[], Body::Form(form));
        assert_eq!(status, 200, "password grant: {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// `GET /services/data/v66.0/query?q=SOQL` with a fresh token; returns the JSON answer.
    pub fn query(&self, soql: &str) -> Value {
        let token = self.access_token();
        let auth = format!("Bearer {token}");
        let path = format!("/services/data/v66.0/query?q={}", url_encode(soql));
        let (status, body) = self.request("GET", &path, &[("Authorization", &auth)], Body::None);
        assert_eq!(status, 200, "{soql}: {body}");
        body
    }

    /// Seeds `n` Leads of company `company` through `POST /__emulator/records`.
    pub fn seed_leads(&self, company: &str, n: usize) {
        const CHUNK: usize = 5_000;
        for start in (0..n).step_by(CHUNK) {
            let records: Vec<Value> = (start..n.min(start + CHUNK))
                .map(|i| {
                    serde_json::json!({
                        "LastName": format!("Seed {i:07}"),
                        "FirstName": "Test",
                        "Company": company,
                        "Email": format!("seed{i}@{}.example.com", company.to_lowercase()),
                    })
                })
                .collect();
            let body = serde_json::json!({"sobject": "Lead", "records": records});
            let (status, answer) = self.call("POST", "/__emulator/records", Some(&body));
            assert!(
                (200..300).contains(&status),
                "seeding Leads: {status} {answer}"
            );
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request body for [`Emulator::request`].
pub enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A real Salesforce client the conformance tests drive.
#[derive(Debug, Clone, Copy)]
pub enum Client {
    SimpleSalesforce,
    Jsforce,
}

impl Client {
    /// The interpreter command for this client, or `None` (test skipped) outside CI.
    fn command(self) -> Option<Command> {
        let root = workspace_root();
        let (what, found) = match self {
            Client::SimpleSalesforce => {
                let python = std::env::var_os("LEADBRIDGE_TEST_PYTHON")
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .or_else(|| {
                        Some(root.join(".test-deps/venv/bin/python")).filter(|p| p.exists())
                    });
                let found = python.map(|python| {
                    let mut cmd = Command::new(python);
                    cmd.arg(root.join("tests/clients/simple_salesforce_driver.py"));
                    cmd
                });
                ("simple-salesforce (LEADBRIDGE_TEST_PYTHON)", found)
            }
            Client::Jsforce => {
                let node_path = std::env::var_os("LEADBRIDGE_TEST_NODE_PATH")
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .or_else(|| Some(root.join(".test-deps/node/node_modules")))
                    .filter(|p| p.join("jsforce").is_dir());
                let found = node_path.map(|node_path| {
                    let mut cmd = Command::new("node");
                    cmd.env("NODE_PATH", node_path)
                        .arg(root.join("tests/clients/jsforce_driver.cjs"));
                    cmd
                });
                ("jsforce (LEADBRIDGE_TEST_NODE_PATH)", found)
            }
        };
        if found.is_none() {
            assert!(
                !in_ci(),
                "{what} is not installed, and CI=true forbids skipping: run scripts/test.sh"
            );
            eprintln!("SKIPPED: {what} is not installed; `bash scripts/test.sh` installs it");
        }
        found
    }

    /// Runs one scenario of this client's driver against `emu`; returns its JSON report, or
    /// `None` when the client is not installed (never under CI).
    pub fn run(
        self,
        emu: &Emulator,
        scenario: &str,
        extra_env: &[(&str, String)],
    ) -> Option<Value> {
        let mut cmd = self.command()?;
        let org = &emu.org;
        let ca_cert = emu.first_line["ca_cert"].as_str().unwrap_or("");
        cmd.arg(scenario)
            .env("LB_URL", &org.url)
            .env("LB_LOGIN_URL", &org.login_url)
            .env("LB_USERNAME", &org.username)
            .env("LB_PASSWORD", &org.password)
            .env("LB_SECURITY_TOKEN", &org.security_token)
            .env("LB_CLIENT_ID", &org.client_id)
            .env("LB_CLIENT_SECRET", &org.client_secret)
            .env("LB_TLS", if emu.tls { "1" } else { "0" })
            .env("LB_CA_CERT", ca_cert)
            // Node trusts the emulator's self-signed CA the way a user tells it to.
            .env("NODE_EXTRA_CA_CERTS", ca_cert)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {self:?} driver: {e}"));
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), out.clone());
        collect(child.stderr.take().unwrap(), err.clone());
        let deadline = Instant::now() + SCRIPT_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        };
        thread::sleep(Duration::from_millis(50)); // let the reader threads finish
        let stdout = out.lock().unwrap().clone();
        let stderr = err.lock().unwrap().clone();
        let context = || {
            format!(
                "--- driver stdout ---\n{stdout}\n--- driver stderr ---\n{stderr}\n--- emulator stderr (tail) ---\n{}",
                tail(&emu.stderr(), 4000)
            )
        };
        match status {
            None => panic!(
                "{self:?} scenario `{scenario}` timed out after {SCRIPT_TIMEOUT:?}\n{}",
                context()
            ),
            Some(s) if !s.success() => {
                panic!("{self:?} scenario `{scenario}` failed ({s})\n{}", context())
            }
            Some(_) => {}
        }
        let last = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let report = serde_json::from_str(last).unwrap_or_else(|e| {
            panic!(
                "{self:?} scenario `{scenario}` printed no JSON report ({e})\n{}",
                context()
            )
        });
        Some(report)
    }
}

fn tail(s: &str, max: usize) -> &str {
    let start = s.len().saturating_sub(max);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[start..]
}
