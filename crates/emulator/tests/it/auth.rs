//! OAuth grants, SOAP login, sessions and the expired-password fault (salesforce-api.md §1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lb_emulator::Config;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::{Org, V, answer};

const JWT_KEY: &str = include_str!("fixtures/jwt_test_key.txt");
const JWT_CERT: &str = include_str!("fixtures/jwt_test_cert.txt");

#[tokio::test]
async fn password_grant_returns_salesforce_token_fields() {
    let org = Org::start().await;
    let (user, pass, id, secret) = org.creds();
    let a = org
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
    assert_eq!(a.status, 200, "{}", a.text);
    let (org_id, user_id) = {
        let o = org.running.emulator.org();
        (o.org_id.clone(), o.user_id.clone())
    };
    let token = a.body["access_token"].as_str().expect("token");
    assert!(token.starts_with(&format!("{}!", &org_id[..15])), "{token}");
    assert_eq!(a.body["instance_url"], json!(org.running.url));
    assert_eq!(
        a.body["id"],
        json!(format!("{}/id/{org_id}/{user_id}", org.running.url))
    );
    assert_eq!(a.body["token_type"], json!("Bearer"));
    assert!(
        a.body["issued_at"]
            .as_str()
            .expect("issued_at string")
            .parse::<u64>()
            .is_ok()
    );
    assert!(a.body["signature"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        a.body.get("refresh_token").is_none(),
        "the password flow issues no refresh token"
    );
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn bad_credentials_are_refused_exactly_as_salesforce_refuses_them() {
    let org = Org::start().await;
    let (user, pass, id, secret) = org.creds();
    let password_only = pass[..pass.len() - 20].to_owned();
    let failure = json!({"error": "invalid_grant", "error_description": "authentication failure"});
    for (u, p) in [
        (user.as_str(), "wrong"),
        (user.as_str(), password_only.as_str()),
        ("nobody@x.io", pass.as_str()),
    ] {
        let a = org
            .form(
                "/services/oauth2/token",
                &[
                    ("grant_type", "password"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("username", u),
                    ("password", p),
                ],
            )
            .await;
        assert_eq!((a.status, a.body.clone()), (400, failure.clone()));
    }
    let a = org
        .form(
            "/services/oauth2/token",
            &[
                ("grant_type", "password"),
                ("client_id", "nope"),
                ("client_secret", &secret),
                ("username", &user),
                ("password", &pass),
            ],
        )
        .await;
    assert_eq!(
        (a.status, a.body),
        (
            400,
            json!({"error": "invalid_client_id", "error_description": "client identifier invalid"})
        )
    );
    let a = org
        .form(
            "/services/oauth2/token",
            &[
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", "nope"),
                ("username", &user),
                ("password", &pass),
            ],
        )
        .await;
    assert_eq!(
        (a.status, a.body),
        (
            400,
            json!({"error": "invalid_client", "error_description": "invalid client credentials"})
        )
    );
    let a = org
        .form("/services/oauth2/token", &[("grant_type", "magic")])
        .await;
    assert_eq!(
        (a.status, a.body),
        (
            400,
            json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"})
        )
    );
}

#[tokio::test]
async fn client_credentials_accepts_http_basic() {
    let org = Org::start().await;
    let (_, _, id, secret) = org.creds();
    let resp = org
        .http
        .post(org.url("/services/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["scope"], json!("api"));
    let token = a.body["access_token"].as_str().unwrap();
    let resp = org
        .http
        .get(org.url(&format!("{V}/limits")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn authorization_code_with_pkce_then_refresh_then_revoke() {
    let org = Org::start().await;
    let (_, _, id, secret) = org.creds();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let redirect = "http://localhost:8765/callback";
    let resp = org
        .http
        .get(org.url("/services/oauth2/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", redirect),
            ("scope", "api refresh_token"),
            ("state", "xyz"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(redirect));
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz");
    let code = q["code"].clone();

    let wrong = org
        .form(
            "/services/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", &id),
                ("redirect_uri", redirect),
                ("code_verifier", "not-the-verifier"),
            ],
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.body),
        (
            400,
            json!({"error": "invalid_request", "error_description": "invalid code verifier"})
        )
    );

    // The code was consumed by the failed attempt, as a one-time code is: authorize again.
    let resp = org
        .http
        .get(org.url("/services/oauth2/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", redirect),
            ("scope", "api refresh_token"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let ok = org
        .form(
            "/services/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", &id),
                ("client_secret", &secret),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let refresh = ok.body["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let again = org
        .form(
            "/services/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", &id),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ],
        )
        .await;
    assert_eq!(
        (again.status, again.body),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "expired authorization code"})
        )
    );

    let refreshed = org
        .form(
            "/services/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &id),
            ],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let token = refreshed.body["access_token"].as_str().unwrap().to_owned();
    assert!(refreshed.body.get("refresh_token").is_none(), "no rotation");

    let revoked = org
        .form("/services/oauth2/revoke", &[("token", &refresh)])
        .await;
    assert_eq!(revoked.status, 200);
    let after = org
        .form(
            "/services/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &id),
            ],
        )
        .await;
    assert_eq!(
        (after.status, after.body),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "expired access/refresh token"})
        )
    );
    let resp = org
        .http
        .get(org.url(&format!("{V}/limits")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "sessions of a revoked refresh token end"
    );
}

fn jwt(claims: serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(JWT_KEY.as_bytes()).expect("test key");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .expect("signed")
}

#[tokio::test]
async fn jwt_bearer_grant_checks_signature_issuer_subject_and_audience() {
    let org = Org::start_with(Config {
        jwt_certificate_pem: Some(JWT_CERT.to_owned()),
        ..Config::default()
    })
    .await;
    let (user, _, id, _) = org.creds();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 180;
    let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    let good =
        jwt(json!({"iss": id, "sub": user, "aud": "https://login.salesforce.com", "exp": exp}));
    let a = org
        .form(
            "/services/oauth2/token",
            &[("grant_type", grant), ("assertion", &good)],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.body["access_token"].as_str().is_some());

    let stranger = jwt(
        json!({"iss": id, "sub": "someone@else.io", "aud": "https://login.salesforce.com", "exp": exp}),
    );
    let a = org
        .form(
            "/services/oauth2/token",
            &[("grant_type", grant), ("assertion", &stranger)],
        )
        .await;
    assert_eq!(
        (a.status, a.body),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "user hasn't approved this consumer"})
        )
    );

    let tampered = format!("{}x", &good[..good.len() - 1]);
    let a = org
        .form(
            "/services/oauth2/token",
            &[("grant_type", grant), ("assertion", &tampered)],
        )
        .await;
    assert_eq!(
        (a.status, a.body),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "invalid assertion"})
        )
    );

    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iss": id, "sub": user, "aud": "https://login.salesforce.com", "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(b"secret-secret-secret-secret-32by").unwrap(),
    )
    .unwrap();
    let a = org
        .form(
            "/services/oauth2/token",
            &[("grant_type", grant), ("assertion", &hs)],
        )
        .await;
    assert_eq!(a.status, 400, "only RS256 is accepted");
}

#[tokio::test]
async fn userinfo_names_the_user_and_org() {
    let org = Org::start().await;
    let a = org.call("GET", "/services/oauth2/userinfo", None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let o = org.running.emulator.org();
    assert_eq!(a.body["user_id"], json!(o.user_id));
    assert_eq!(a.body["organization_id"], json!(o.org_id));
    assert_eq!(
        a.body["preferred_username"],
        json!("integration@leadbridge.example")
    );
}

fn soap_login(user: &str, pass: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><env:Header><urn:CallOptions><urn:client>test</urn:client></urn:CallOptions></env:Header><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{user}</n1:username><n1:password>{pass}</n1:password></n1:login></env:Body></env:Envelope>"#
    )
}

#[tokio::test]
async fn soap_login_returns_unprefixed_session_elements_usable_for_rest() {
    let org = Org::start().await;
    let (user, pass, _, _) = org.creds();
    let resp = org
        .http
        .post(org.url("/services/Soap/u/59.0"))
        .header("content-type", "text/xml")
        .header("SOAPAction", "login")
        .body(soap_login(&user, &pass))
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let grab = |tag: &str| {
        let open = format!("<{tag}>");
        let start = a
            .text
            .find(&open)
            .unwrap_or_else(|| panic!("no <{tag}> in {}", a.text))
            + open.len();
        a.text[start..start + a.text[start..].find('<').unwrap()].to_owned()
    };
    let session = grab("sessionId");
    let org15 = org.running.emulator.org().org_id[..15].to_owned();
    assert_eq!(
        grab("serverUrl"),
        format!("{}/services/Soap/u/59.0/{org15}", org.running.url)
    );
    assert_eq!(grab("passwordExpired"), "false");
    assert!(
        a.text.find("<userId>").unwrap() < a.text.find("<userInfo>").unwrap(),
        "result/userId first"
    );
    assert!(a.text.contains("<organizationId>"));
    let resp = org
        .http
        .get(org.url(&format!("{V}/sobjects")))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn soap_login_with_bad_password_is_an_invalid_login_fault() {
    let org = Org::start().await;
    let (user, _, _, _) = org.creds();
    let resp = org
        .http
        .post(org.url("/services/Soap/u/59.0"))
        .header("content-type", "text/xml")
        .body(soap_login(&user, "bad"))
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, 500);
    assert!(
        a.text.contains("<faultcode>sf:INVALID_LOGIN</faultcode>"),
        "{}",
        a.text
    );
    assert!(a.text.contains("<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>"));
    assert!(
        a.text
            .contains("<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>")
    );
    let resp = org
        .http
        .post(org.url("/services/Soap/u/66.0"))
        .header("content-type", "text/xml")
        .body(soap_login(&user, "bad"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500, "login() is gone from 65.0 on");
}

#[tokio::test]
async fn missing_or_unknown_session_is_401_invalid_session_id() {
    let org = Org::start().await;
    let resp = org
        .http
        .get(org.url(&format!("{V}/sobjects")))
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(
        (a.status, a.body),
        (
            401,
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        )
    );
    let resp = org
        .http
        .get(org.url(&format!("{V}/sobjects")))
        .bearer_auth("00D000000000000!bogus")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn expired_password_kills_sessions_refuses_login_until_reset() {
    let org = Org::start().await;
    let (user, pass, _, _) = org.creds();
    let a = org
        .control("POST", "faults", Some(json!({"kind": "expire_password"})))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = org.call("GET", &format!("{V}/limits"), None).await;
    assert_eq!(
        (a.status, a.body),
        (
            401,
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        )
    );
    assert_eq!(
        org.password_token().await,
        "",
        "the password grant is refused"
    );

    // SOAP login succeeds and says the password expired; the session cannot do API work.
    let resp = org
        .http
        .post(org.url("/services/Soap/u/59.0"))
        .header("content-type", "text/xml")
        .body(soap_login(&user, &pass))
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, 200);
    assert!(a.text.contains("<passwordExpired>true</passwordExpired>"));

    let a = org
        .control(
            "POST",
            "password",
            Some(json!({"password": "NewPass-2", "security_token": "NEWTOKEN"})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let (_, _, id, secret) = org.creds();
    let a = org
        .form(
            "/services/oauth2/token",
            &[
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("username", &user),
                ("password", "NewPass-2NEWTOKEN"),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
}

#[tokio::test]
async fn identity_url_answers_with_the_session_and_revoked_tokens_stop_working() {
    let org = Org::start().await;
    let (org_id, user_id) = {
        let o = org.running.emulator.org();
        (o.org_id.clone(), o.user_id.clone())
    };
    let a = org
        .call("GET", &format!("/id/{org_id}/{user_id}"), None)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["username"], json!("integration@leadbridge.example"));
    assert_eq!(
        a.body["urls"]["rest"],
        json!(format!("{}/services/data/v{{version}}/", org.running.url))
    );
    let revoked = org
        .form("/services/oauth2/revoke", &[("token", &org.token)])
        .await;
    assert_eq!(revoked.status, 200);
    let a = org.call("GET", &format!("{V}/limits"), None).await;
    assert_eq!(a.status, 401);
    let again = org
        .form("/services/oauth2/revoke", &[("token", &org.token)])
        .await;
    assert_eq!(
        (again.status, again.body),
        (
            400,
            json!({"error": "invalid_token", "error_description": "invalid token"})
        )
    );
}

#[tokio::test]
async fn authorize_with_an_unknown_client_redirects_with_the_error() {
    let org = Org::start().await;
    let resp = org
        .http
        .get(org.url("/services/oauth2/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "nope"),
            ("redirect_uri", "http://localhost/cb"),
            ("state", "s1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(
        (
            q["error"].as_str(),
            q["error_description"].as_str(),
            q["state"].as_str()
        ),
        ("invalid_client_id", "client identifier invalid", "s1")
    );
}
