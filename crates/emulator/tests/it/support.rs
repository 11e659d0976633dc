//! One running emulator per test, a reqwest client, and helpers that return (status, JSON).

use lb_emulator::{Config, RunningEmulator};
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const V: &str = "/services/data/v66.0";

pub struct Org {
    pub running: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Org {
    pub async fn start() -> Org {
        Org::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Org {
        let running = lb_emulator::spawn(config).await.expect("emulator starts");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut org = Org {
            running,
            http,
            token: String::new(),
        };
        org.token = org.password_token().await;
        org
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.running.url, path)
    }

    pub fn creds(&self) -> (String, String, String, String) {
        let banner = self.running.banner();
        let s = |k: &str| banner[k].as_str().unwrap_or_default().to_owned();
        (
            s("username"),
            format!("{}{}", s("password"), s("security_token")),
            s("client_id"),
            s("client_secret"),
        )
    }

    /// A session from the OAuth password grant.
    pub async fn password_token(&self) -> String {
        let (user, pass, id, secret) = self.creds();
        let a = self
            .form(
                "/services/oauth2/token",
                &[
                    ("grant_type", "password"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("username", &user),
                    ("password", &pass),
                ],
            )
            .await;
        a.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        let resp = self
            .http
            .post(self.url(path))
            .form(pairs)
            .send()
            .await
            .expect("request");
        answer(resp).await
    }

    /// An authenticated request with an optional JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.expect("request")).await
    }

    /// A request with a raw body and content type.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body);
        answer(req.send().await.expect("request")).await
    }

    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, self.url(&format!("/__emulator/{path}")));
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.expect("request")).await
    }

    /// Creates a Lead and returns its id.
    pub async fn lead(&self, last: &str, company: &str, email: &str) -> String {
        let a = self
            .call(
                "POST",
                &format!("{V}/sobjects/Lead"),
                Some(serde_json::json!({"LastName": last, "Company": company, "Email": email})),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.text);
        a.body["id"].as_str().expect("id").to_owned()
    }
}

pub async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}
