//! The self-signed certificate for `--tls`: a throw-away CA and a server certificate it signs
//! for `localhost`, `127.0.0.1` and the bound IP. Clients trust the CA's PEM (written next to the
//! state file); a CA-plus-leaf pair is what strict verifiers (rustls/webpki, Python 3.13's
//! `VERIFY_X509_STRICT`) accept, where a bare self-signed leaf is refused by some of them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use secrecy::SecretString;

use crate::Error;

/// A generated chain: `cert_pem` is what the server presents (leaf then CA); `ca_pem` is what
/// clients trust; the key never leaves memory.
pub(crate) struct Generated {
    pub cert_pem: String,
    pub ca_pem: String,
    pub key_pem: SecretString,
}

pub(crate) fn self_signed(addr: SocketAddr) -> Result<Generated, Error> {
    let err = |e: rcgen::Error| Error::Tls(e.to_string());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "leadbridge emulator CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?).map_err(err)?;

    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let ip = addr.ip().to_string();
    if !names.contains(&ip) && !addr.ip().is_unspecified() {
        names.push(ip);
    }
    let mut leaf = CertificateParams::new(names).map_err(err)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(err)?;
    let cert = leaf.signed_by(&key, &ca).map_err(err)?;
    let ca_pem = ca.pem();
    Ok(Generated {
        cert_pem: format!("{}{}", cert.pem(), ca_pem),
        ca_pem,
        key_pem: SecretString::from(key.serialize_pem()),
    })
}

/// `<state>.cert.pem` next to the state file, else a per-port file in the temp directory.
pub(crate) fn default_cert_path(state_file: Option<&Path>, addr: SocketAddr) -> PathBuf {
    match state_file {
        Some(p) => {
            let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
            name.push(".cert.pem");
            p.with_file_name(name)
        }
        None => std::env::temp_dir().join(format!("leadbridge-emulator-{}.cert.pem", addr.port())),
    }
}
