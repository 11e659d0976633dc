//! The SOAP partner/enterprise endpoint (`/services/Soap/u/NN.0`, `/services/Soap/c/NN.0`):
//! `login()`, the default login of simple-salesforce and jsforce (§1.9); `convertLead()`
//! (`convert.rs`) and `merge()` (`merge.rs`).
//!
//! Invariants: the response elements are unprefixed in the default namespace (jsforce reads
//! them with regexes on bare tag names) and `result/userId` comes before `userInfo`; faults are
//! HTTP 500 with `sf:`-prefixed detail elements (simple-salesforce reads `sf:exceptionCode`).
//! Other SOAP calls answer a fault naming the unsupported call.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{MAX_VERSION, MIN_VERSION, Reply, read_body};
use crate::Emulator;
use crate::state::GrantKind;

const XML: &str = "text/xml;charset=UTF-8";

/// `login()` is not offered from API 65.0 on (§1.3, help 005132110).
const LAST_SOAP_LOGIN_VERSION: u32 = 64;

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The text of the first element whose local name is `name` (any namespace prefix).
pub(super) fn element(xml: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(pos) = xml[from..].find('<') {
        let start = from + pos + 1;
        let tag_end = start + xml[start..].find('>')?;
        let tag = &xml[start..tag_end];
        from = tag_end;
        if tag.starts_with('/') || tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        let qname = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        let local = qname.rsplit(':').next().unwrap_or_default();
        if local != name {
            continue;
        }
        if tag.ends_with('/') {
            return Some(String::new());
        }
        let close = format!("</{qname}>");
        let body_end = tag_end + 1 + xml[tag_end + 1..].find(&close)?;
        return Some(unescape(&xml[tag_end + 1..body_end]));
    }
    None
}

/// The local name of the first element inside `Body`.
fn operation(xml: &str) -> Option<String> {
    let body_pos = xml.find(":Body").or_else(|| xml.find("<Body"))?;
    let after = &xml[body_pos..];
    let open = after.find('>')? + 1;
    let inner = &after[open..];
    let lt = inner.find('<')?;
    let tag = &inner[lt + 1..];
    let qname = tag
        .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()?;
    Some(qname.rsplit(':').next()?.to_owned())
}

pub(super) fn fault(enterprise: bool, code: &str, message: &str, login_fault: bool) -> Reply {
    let ns = if enterprise {
        "urn:fault.enterprise.soap.sforce.com"
    } else {
        "urn:fault.partner.soap.sforce.com"
    };
    let fault_type = if login_fault {
        "LoginFault"
    } else {
        "UnexpectedErrorFault"
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:sf=\"{ns}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body><soapenv:Fault><faultcode>{fc}</faultcode><faultstring>{code}: {msg}</faultstring><detail><sf:{fault_type} xsi:type=\"sf:{fault_type}\"><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{msg}</sf:exceptionMessage></sf:{fault_type}></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>",
        fc = if enterprise {
            code.to_owned()
        } else {
            format!("sf:{code}")
        },
        msg = escape(message),
    );
    Reply::text(StatusCode::INTERNAL_SERVER_ERROR, XML, xml)
}

/// `POST /services/Soap/{u|c}/{version}`.
pub(crate) async fn endpoint(
    State(em): State<Emulator>,
    Path(version): Path<String>,
    req: Request,
) -> Response {
    let enterprise = req.uri().path().starts_with("/services/Soap/c/");
    let body = match read_body(&em, req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let xml = String::from_utf8_lossy(&body).into_owned();
    // `/services/Soap/u/59.0` or `/services/Soap/u/59.0/00D…` (the serverUrl form).
    let version_num = version.split('/').next().unwrap_or_default();
    let parsed = version_num
        .split_once('.')
        .and_then(|(maj, min)| (min == "0").then_some(maj))
        .and_then(|m| m.parse::<u32>().ok());
    let Some(v) = parsed.filter(|v| (MIN_VERSION..=MAX_VERSION).contains(v)) else {
        return fault(
            enterprise,
            "UNSUPPORTED_API_VERSION",
            &format!("Invalid Api version specified on URL: {version_num}"),
            false,
        )
        .into_response();
    };
    match operation(&xml).as_deref() {
        Some("login") => login(&em, &xml, v, enterprise).into_response(),
        Some("convertLead") => super::convert::convert_lead(&em, &xml, enterprise).into_response(),
        Some("merge") => super::merge::merge(&em, &xml, enterprise).into_response(),
        Some(op) => fault(
            enterprise,
            "INVALID_OPERATION",
            &format!("The emulator does not implement the SOAP call {op}()"),
            false,
        )
        .into_response(),
        None => fault(
            enterprise,
            "INVALID_XML",
            "Could not read the SOAP envelope: no Body element",
            false,
        )
        .into_response(),
    }
}

fn login(em: &Emulator, xml: &str, version: u32, enterprise: bool) -> Reply {
    if version > LAST_SOAP_LOGIN_VERSION {
        return fault(
            enterprise,
            "INVALID_OPERATION",
            &format!(
                "SOAP API login() is not available in API version {version}.0 and later; use OAuth 2.0"
            ),
            false,
        );
    }
    let username = element(xml, "username").unwrap_or_default();
    let password = element(xml, "password").unwrap_or_default();
    let expired = {
        let auth = em.auth();
        if !username.eq_ignore_ascii_case(&auth.username) || !auth.password_matches(&password) {
            return fault(
                enterprise,
                "INVALID_LOGIN",
                "Invalid username, password, security token; or user locked out.",
                true,
            );
        }
        auth.password_expired
    };
    if !em.org().edition.api_enabled() {
        return fault(
            enterprise,
            "API_DISABLED_FOR_ORG",
            "API is not enabled for this Organization or Partner",
            true,
        );
    }
    // With an expired password, SOAP login() succeeds and says so; the session can then only
    // change the password (§1.3).
    let (token, _) = super::oauth::issue(em, GrantKind::SoapLogin, None, None, expired);
    let base = em.base_url();
    let org = em.org();
    let user = org
        .get("User", &org.user_id)
        .ok()
        .cloned()
        .unwrap_or_default();
    let u = |k: &str| escape(user.get(k).and_then(|v| v.as_str()).unwrap_or_default());
    let org15 = &org.org_id[..15];
    let (ns, kind) = if enterprise {
        ("urn:enterprise.soap.sforce.com", "c")
    } else {
        ("urn:partner.soap.sforce.com", "u")
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns=\"{ns}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body><loginResponse><result>\
<metadataServerUrl>{base}/services/Soap/m/{version}.0/{org15}</metadataServerUrl>\
<passwordExpired>{expired}</passwordExpired>\
<sandbox>false</sandbox>\
<serverUrl>{base}/services/Soap/{kind}/{version}.0/{org15}</serverUrl>\
<sessionId>{session}</sessionId>\
<userId>{user_id}</userId>\
<userInfo>\
<accessibilityMode>false</accessibilityMode><chatterExternal>false</chatterExternal><currencySymbol>€</currencySymbol>\
<orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit><orgDefaultCurrencyIsoCode>EUR</orgDefaultCurrencyIsoCode>\
<orgDefaultCurrencyLocale>fr_FR</orgDefaultCurrencyLocale><orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments>\
<orgHasPersonAccounts>false</orgHasPersonAccounts><organizationId>{org_id}</organizationId>\
<organizationMultiCurrency>false</organizationMultiCurrency><organizationName>{org_name}</organizationName>\
<profileId>{profile}</profileId><roleId xsi:nil=\"true\"/><sessionSecondsValid>7200</sessionSecondsValid>\
<userDefaultCurrencyIsoCode xsi:nil=\"true\"/><userEmail>{email}</userEmail><userFullName>{full}</userFullName>\
<userId>{user_id}</userId><userLanguage>{lang}</userLanguage><userLocale>{locale}</userLocale>\
<userName>{uname}</userName><userTimeZone>{tz}</userTimeZone><userType>Standard</userType><userUiSkin>Theme3</userUiSkin>\
</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>",
        session = escape(&token.access_token),
        user_id = org.user_id,
        org_id = org.org_id,
        org_name = escape(&org.org_name),
        profile = u("ProfileId"),
        email = u("Email"),
        full = u("Name"),
        lang = u("LanguageLocaleKey"),
        locale = u("LocaleSidKey"),
        uname = u("Username"),
        tz = u("TimeZoneSidKey"),
    );
    Reply::text(StatusCode::OK, XML, xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_prefixed_and_unprefixed_elements() {
        let xml = r#"<?xml version="1.0"?><env:Envelope xmlns:env="x"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>a@b.c</n1:username><n1:password>p&amp;w</n1:password></n1:login></env:Body></env:Envelope>"#;
        assert_eq!(operation(xml).as_deref(), Some("login"));
        assert_eq!(element(xml, "username").as_deref(), Some("a@b.c"));
        assert_eq!(element(xml, "password").as_deref(), Some("p&w"));
        let plain =
            "<Envelope><Body><login><username>u</username><password/></login></Body></Envelope>";
        assert_eq!(operation(plain).as_deref(), Some("login"));
        assert_eq!(element(plain, "password").as_deref(), Some(""));
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "",
            "<",
            "<a",
            "<Body>",
            "<x:Body><",
            "&#xZZ;<username>&</username>",
            "<username>é&#1234567;</username>",
        ] {
            let _ = operation(s);
            let _ = element(s, "username");
        }
    }
}
