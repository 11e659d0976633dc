//! The five grants against the emulator's token endpoint, the token cache, re-authentication
//! on an expired session, and refusals that stop the client (R-CONN-3, R-CONN-6).

use std::io::Write as _;

use lb_emulator::Config;
use lb_salesforce::{
    AuthFailure, Client, Credentials, EndpointKind, Error, GrantKind, JwtKey, PkceLogin,
    SecretString,
};
use secrecy::ExposeSecret;

use crate::helpers::{count, org, org_with};
use crate::keys;

async fn lead_count(client: &Client) -> Result<usize, Error> {
    Ok(client.query_records("SELECT Id FROM Lead").await?.len())
}

#[tokio::test]
async fn password_grant_logs_in_once_and_reuses_the_token() {
    let org = org().await;
    let client = org.client();
    lead_count(&client).await.unwrap();
    lead_count(&client).await.unwrap();
    assert_eq!(
        count(&client, EndpointKind::Token),
        1,
        "the token is cached"
    );
    assert_eq!(count(&client, EndpointKind::Query), 2);
    let session = client.session().await.unwrap();
    assert_eq!(session.grant, GrantKind::Password);
    assert!(session.user_id().is_some());
    assert_eq!(
        session.instance_url.as_str().trim_end_matches('/'),
        org.em.url
    );
}

#[tokio::test]
async fn wrong_security_token_is_refused_once_with_guidance_and_never_retried() {
    // R-CONN-6: a reset token looks exactly like a wrong password to Salesforce.
    let org = org().await;
    let Credentials::Password {
        client_id,
        client_secret,
        username,
        password,
        ..
    } = org.password_credentials()
    else {
        unreachable!()
    };
    let creds = Credentials::Password {
        client_id,
        client_secret,
        username,
        password,
        security_token: SecretString::from("STALE"),
    };
    let client = Client::new(org.config(), creds).unwrap();
    let err = lead_count(&client).await.unwrap_err();
    let Error::Auth(auth) = &err else {
        panic!("expected an auth error, got {err:?}")
    };
    assert_eq!(auth.failure, AuthFailure::BadCredentials);
    assert_eq!(
        (auth.error.as_str(), auth.description.as_str()),
        ("invalid_grant", "authentication failure")
    );
    assert!(err.stops_work());
    let text = err.to_string();
    assert!(
        text.contains("reset the password AND the security token"),
        "{text}"
    );
    assert!(text.contains("Login History"), "{text}");
    // Further calls fail the same way without another login attempt.
    for _ in 0..3 {
        assert!(matches!(lead_count(&client).await, Err(Error::Auth(_))));
    }
    assert_eq!(count(&client, EndpointKind::Token), 1);
    assert_eq!(client.request_counts().total(), 1);
}

#[tokio::test]
async fn expired_password_stops_the_sync_until_new_credentials_are_saved() {
    let org = org().await;
    let client = org.client();
    lead_count(&client).await.unwrap();
    org.fault("expire_password", 0).await;
    let err = lead_count(&client).await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth(a) if a.failure == AuthFailure::BadCredentials),
        "{err:?}"
    );
    // One re-login attempt, then nothing more.
    assert_eq!(count(&client, EndpointKind::Token), 2);
    assert!(lead_count(&client).await.is_err());
    assert_eq!(count(&client, EndpointKind::Token), 2);
    assert!(client.auth_refusal().is_some());

    // The user resets the password and the token, and saves them.
    org.set_password("New-Pass2", "NEWTOKEN").await;
    let Credentials::Password {
        client_id,
        client_secret,
        username,
        ..
    } = org.password_credentials()
    else {
        unreachable!()
    };
    client.set_credentials(Credentials::Password {
        client_id,
        client_secret,
        username,
        password: SecretString::from("New-Pass2"),
        security_token: SecretString::from("NEWTOKEN"),
    });
    assert_eq!(lead_count(&client).await.unwrap(), 0);
    assert!(client.auth_refusal().is_none());
}

#[tokio::test]
async fn expired_session_is_renewed_once_and_the_call_retried() {
    let org = org().await;
    let client = org.client();
    lead_count(&client).await.unwrap();
    org.fault("expire_sessions", 1).await;
    lead_count(&client).await.unwrap();
    assert_eq!(count(&client, EndpointKind::Token), 2);
    assert_eq!(
        count(&client, EndpointKind::Query),
        3,
        "the refused query was sent again once"
    );
}

#[tokio::test]
async fn concurrent_calls_on_an_expired_session_share_one_login() {
    let org = org().await;
    let client = org.client();
    lead_count(&client).await.unwrap();
    // Every session dies at once (as when an admin revokes them).
    org.em.emulator.auth().sessions.clear();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { lead_count(&c).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // Each refused call saw the same stale session; the first re-login served them all.
    assert_eq!(count(&client, EndpointKind::Token), 2);
}

#[tokio::test]
async fn client_credentials_grant_works() {
    let org = org().await;
    let client = Client::new(org.config(), org.client_credentials()).unwrap();
    lead_count(&client).await.unwrap();
    assert_eq!(
        client.session().await.unwrap().grant,
        GrantKind::ClientCredentials
    );
}

#[tokio::test]
async fn wrong_client_secret_is_classified() {
    let org = org().await;
    let creds = Credentials::ClientCredentials {
        client_id: org.client_id(),
        client_secret: SecretString::from("nope"),
    };
    let client = Client::new(org.config(), creds).unwrap();
    let err = lead_count(&client).await.unwrap_err();
    let Error::Auth(a) = err else { panic!() };
    assert!(
        matches!(
            a.failure,
            AuthFailure::BadClientSecret | AuthFailure::BadCredentials
        ),
        "{a:?}"
    );
}

#[tokio::test]
async fn jwt_bearer_signs_with_a_key_file() {
    let org = org_with(Config {
        jwt_certificate_pem: Some(keys::PUBLIC_KEY_PEM.to_owned()),
        ..Config::default()
    })
    .await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(keys::PRIVATE_KEY_PEM.as_bytes()).unwrap();
    let creds = Credentials::JwtBearer {
        client_id: org.client_id(),
        username: org.username(),
        key: JwtKey::File(file.path().to_owned()),
        audience: None,
    };
    let client = Client::new(org.config(), creds).unwrap();
    lead_count(&client).await.unwrap();
    assert_eq!(client.session().await.unwrap().grant, GrantKind::JwtBearer);
}

#[tokio::test]
async fn jwt_for_an_unknown_user_is_refused_as_not_approved() {
    let org = org_with(Config {
        jwt_certificate_pem: Some(keys::PUBLIC_KEY_PEM.to_owned()),
        ..Config::default()
    })
    .await;
    let creds = Credentials::JwtBearer {
        client_id: org.client_id(),
        username: "someone.else@acme.com".into(),
        key: JwtKey::Pem(SecretString::from(keys::PRIVATE_KEY_PEM)),
        audience: None,
    };
    let client = Client::new(org.config(), creds).unwrap();
    let Err(Error::Auth(a)) = lead_count(&client).await else {
        panic!("expected a refusal")
    };
    assert_eq!(a.failure, AuthFailure::NotApproved);
}

#[tokio::test]
async fn authorization_code_with_pkce_then_refresh_token() {
    let org = org().await;
    let redirect = "http://127.0.0.1:9/settings/api_setting/salesforce_authorize";
    let login = PkceLogin::new();
    let url = login.authorize_url(
        &url::Url::parse(&org.em.login_url).unwrap(),
        &org.client_id(),
        redirect,
        &["api", "refresh_token"],
    );
    // The browser's trip: the emulator auto-approves and redirects with `code` and `state`.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(url).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    let creds = login
        .credentials(
            &q["state"],
            SecretString::from(q["code"].clone()),
            &org.client_id(),
            Some(org.secret()),
            redirect,
        )
        .unwrap();
    let client = Client::new(org.config(), creds).unwrap();
    lead_count(&client).await.unwrap();
    let refresh = client.refresh_token().expect("a refresh token to persist");

    // The session dies: the client logs in again with the refresh token (the code is spent).
    org.fault("expire_sessions", 1).await;
    lead_count(&client).await.unwrap();
    assert_eq!(
        client.session().await.unwrap().grant,
        GrantKind::RefreshToken
    );

    // A new client from the stored refresh token alone.
    let again = Client::new(
        org.config(),
        Credentials::RefreshToken {
            client_id: org.client_id(),
            client_secret: Some(org.secret()),
            refresh_token: refresh.clone(),
        },
    )
    .unwrap();
    lead_count(&again).await.unwrap();
    assert!(!refresh.expose_secret().is_empty());
}

#[tokio::test]
async fn revoked_refresh_token_asks_the_user_to_sign_in_again() {
    let org = org().await;
    let creds = Credentials::RefreshToken {
        client_id: org.client_id(),
        client_secret: Some(org.secret()),
        refresh_token: SecretString::from("5Aep861bogus"),
    };
    let client = Client::new(org.config(), creds).unwrap();
    let Err(Error::Auth(a)) = lead_count(&client).await else {
        panic!("expected a refusal")
    };
    assert_eq!(a.failure, AuthFailure::ExpiredRefreshToken);
    assert!(
        a.guidance()
            .join(" ")
            .contains("sign in to Salesforce again")
    );
}
