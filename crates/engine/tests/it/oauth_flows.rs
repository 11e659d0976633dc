//! The server-to-server OAuth flows end to end through the engine: connect with the JWT bearer
//! flow (the `--private-key FILE` of `leadbridge connect`) and with client credentials against
//! the in-process emulator, then a sync run succeeds both ways — our contact arrives in the org
//! as a Lead, an org Lead arrives here as a contact — on the credentials stored by `connect`.

use std::io::Write;

use lb_engine::RunStatus;
use lb_salesforce::{Credentials, JwtKey, SecretString};
use lb_store::Email;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::support::{World, world, world_with};

/// A throw-away RSA key pair, the same as `lb-salesforce`'s JWT tests (it protects nothing).
mod keys {
    pub const PRIVATE_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCkyK5YGXXIAoJH\n\
eLJqida3vY6Cn2Ncqwp2pYwD4W4r3TAri2PCH6CoiVKlY9ng0NcQtsOgHTzF6zRr\n\
McqezmReA4Ne77f3NDCHGDi9HAOKiv67JAjkbVTqsZsD7QkMieFCMH+k1IcUYjjX\n\
CVLYkIRPMSZ3b1nc/C6vaP/sIqikt0LOiiD0xAdpW7uCmFQWt8Q8Gt7R70b4SjPV\n\
rlct9/jhR7OMrmPzhq6Y9R3PIn1uHDafmdIheERuWJvAmUiQdtDczTKy7cOtZzeB\n\
I2TOVYUp4oapj+DYJQI0w2vAJv61UPmof5Yr8TD0KZWqDIx3ys7bgZy2xov3S6os\n\
DUSssZqXAgMBAAECggEAO7iftz5C+aIvJUgRIZujPiRtKdoqYMN8n1OQUze4fh1E\n\
AAQcu5ZK28opMdfmdxw5Vc1nSPhPtktwTAlXrgaPSaNsUVQAEI/RpqSYq7Ejd2q4\n\
t4pvzpnxVL3ZuKqHxQuToDGDkXGVI0YV45l1dRerXCgsEM1CfFzJbrlXR3WoOUm8\n\
iJ61Pqfq9R7CT2//zbWLFzeGGCr8tZPDj7uerISht/j1mDERGRn9AB1k1YK8NSmj\n\
8oXbkDKG59PsOXERd82IuuRi5c2UPz/bWQGm978FqpMuZrJBseKF5/5f1VhSteOZ\n\
FDF0HXPQNdIY6XJhrZLAQh79wsUSbgrCqVSA4m8+wQKBgQDemyKVLAOMgg0RXnz5\n\
5djJeF/KuRHFSnlhXn2yIz8k8YrfTptw5JDNt2D3NeYMV53FHaUiaUXE3gL5fE/6\n\
VGcZaUZwF9M8AA5TQ5QyerSoKDWVnPW3P4/5W5sxbUwE/WnhuaxsuBJp9MOUMUM9\n\
0Sbaigm3hcmO6mxrw8U+5be8kwKBgQC9gPivQDQA14J911ehm/1+jN0qhM5zciS0\n\
xEiLxtPr23IvXoJASsRR5glczWgNf/guHx+PfhpHaAmKUyVnqVGAASNH+Kbhjptt\n\
wkp54LaIk2KxIwNwK0pd1pxJoamnkNx/v84oV+8vZc7eQQzJhWV3EWlpLosdyC55\n\
8btd6PJwbQKBgEls4GZV40HIb+kHwq9nCi/CPc6PZvYtj4X3dfx5Nc3IwmbP9eOx\n\
8LV6REimhaASkl6/XYXRNYsvM8n5ICRRDMTL/cjhgvJqjk8Wnl5cLRS+VpZn9ICi\n\
PaohdjpCc+29bNxgsygVOzWp340VBrnwMCGroHLhdU9nsaWGKJyLhyRzAoGAIOWv\n\
xjSeEntXEuN8Ofjrc7med1AgytfI2Xytn14/0dUBqIl+kQypshH+FBcwdg9+FPug\n\
LffVNgowhcvTVYCGPnN0HX1j8wofn1k4Npo09daoLloGscVCHrIv5XRkEEvMi3zP\n\
nB9PzWmeFOU0BBPdPmNOak0DJ4Nl1hOJ1E6pL60CgYEAhB9ExtnWUhscKMi7VldQ\n\
aZ3bXfyKq/PuQsifNZFP2JGtATOYuQdhbG2exmh/rVuo0kUhXR5BIIPSO+xcY/6e\n\
/eEPyx10qfN7FZlk5j3KAoaRLRReA/EHfPu0q9+h/k48HMWh6K7BJpD4I+AZKWvG\n\
LaoTrDrf43wr4vZ+dwhzXxc=\n\
-----END PRIVATE KEY-----\n\
";

    pub const PUBLIC_KEY_PEM: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApMiuWBl1yAKCR3iyaonW\n\
t72Ogp9jXKsKdqWMA+FuK90wK4tjwh+gqIlSpWPZ4NDXELbDoB08xes0azHKns5k\n\
XgODXu+39zQwhxg4vRwDior+uyQI5G1U6rGbA+0JDInhQjB/pNSHFGI41wlS2JCE\n\
TzEmd29Z3Pwur2j/7CKopLdCzoog9MQHaVu7gphUFrfEPBre0e9G+Eoz1a5XLff4\n\
4UezjK5j84aumPUdzyJ9bhw2n5nSIXhEblibwJlIkHbQ3M0ysu3DrWc3gSNkzlWF\n\
KeKGqY/g2CUCNMNrwCb+tVD5qH+WK/Ew9CmVqgyMd8rO24GctsaL90uqLA1ErLGa\n\
lwIDAQAB\n\
-----END PUBLIC KEY-----\n\
";
}

/// After a successful connect: a contact of ours and an org Lead, one run, each on the other
/// side. The run uses the credentials `connect` stored (the engine reloads them itself).
async fn sync_both_ways(w: &World, tag: &str) {
    w.add_contact(json!({
        "email": format!("ours.{tag}@example.com"),
        "last_name": "Ours",
        "company": "Acme",
    }))
    .await;
    w.seed_org(
        "Lead",
        vec![json!({
            "LastName": "Theirs",
            "Company": "Globex",
            "Email": format!("theirs.{tag}@example.com"),
        })],
    )
    .await;
    let run = w.sync().await;
    assert_eq!(
        run.status,
        RunStatus::Succeeded,
        "{:?} {:?}",
        run.message,
        run.failures
    );
    let leads = w.org_leads(&format!("ours.{tag}@example.com"));
    assert_eq!(leads.len(), 1, "our contact became one Lead");
    assert_eq!(leads[0]["LastName"], json!("Ours"));
    let imported = w
        .store
        .contact_by_email(&Email::parse(&format!("theirs.{tag}@example.com")).unwrap())
        .await
        .unwrap();
    assert!(imported.is_some(), "the org Lead arrived as a contact");
    // A second run, still on the stored credentials, finds nothing to do.
    let again = w.sync().await;
    assert_eq!(again.status, RunStatus::Succeeded, "{:?}", again.message);
    assert_eq!(again.counts.crm.lead.created, 0);
    w.check_invariants(&[&run, &again]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_with_a_key_file_connects_and_syncs() {
    let w = world_with(lb_emulator::Config {
        jwt_certificate_pem: Some(keys::PUBLIC_KEY_PEM.to_owned()),
        ..lb_emulator::Config::default()
    })
    .await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(keys::PRIVATE_KEY_PEM.as_bytes()).unwrap();
    let cfg = w.em.emulator.config();
    let report = w
        .connect_with(Credentials::JwtBearer {
            client_id: cfg.client_id.clone(),
            username: cfg.username.clone(),
            key: JwtKey::File(file.path().to_owned()),
            audience: None,
        })
        .await;
    assert!(report.ok && report.logged_in && report.saved, "{report:?}");
    // The key was read at connect time and stored: the runs below do not need the file.
    drop(file);
    sync_both_ways(&w, "jwt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_for_a_user_the_app_is_not_approved_for_is_refused() {
    // The key is the trusted one, but the assertion names a user the app was not approved for:
    // nothing is saved.
    let w = world_with(lb_emulator::Config {
        jwt_certificate_pem: Some(keys::PUBLIC_KEY_PEM.to_owned()),
        ..lb_emulator::Config::default()
    })
    .await;
    let cfg = w.em.emulator.config();
    let report = w
        .connect_with(Credentials::JwtBearer {
            client_id: cfg.client_id.clone(),
            username: "someone.else@acme.com".into(),
            key: JwtKey::Pem(SecretString::from(keys::PRIVATE_KEY_PEM)),
            audience: None,
        })
        .await;
    assert!(
        !report.ok && !report.logged_in && !report.saved,
        "{report:?}"
    );
    assert!(report.error.is_some(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_connects_and_syncs() {
    let w = world().await;
    let cfg = w.em.emulator.config();
    let report = w
        .connect_with(Credentials::ClientCredentials {
            client_id: cfg.client_id.clone(),
            client_secret: SecretString::from(cfg.client_secret.expose_secret().to_owned()),
        })
        .await;
    assert!(report.ok && report.logged_in && report.saved, "{report:?}");
    sync_both_ways(&w, "cc").await;
}
