//! SOAP `convertLead()` on `/services/Soap/u/NN.0` (salesforce-api.md §12.5): the one API route
//! Salesforce offers for converting Leads (there is no REST resource for it).
//!
//! Invariants:
//! - The call is authenticated by `SessionHeader/sessionId` (an OAuth access token or a SOAP
//!   session), refused without API access, and counted once against the daily allowance.
//! - Each `leadConverts` entry gets one `result`, in order, with `success` and `errors`; one
//!   failing entry does not undo the others (the SOAP default, no `AllOrNoneHeader`).
//! - At most 200 entries per call.

use axum::http::StatusCode;

use super::Reply;
use super::soap::{element, escape, fault};
use crate::Emulator;
use crate::state::convert::{Converted, LeadConvert};

const XML: &str = "text/xml;charset=UTF-8";
const MAX_CONVERTS: usize = 200;

/// The inner texts of every element whose local name is `name` (any prefix), in order.
pub(super) fn blocks<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = xml[from..].find('<') {
        let start = from + pos + 1;
        let Some(end) = xml[start..].find('>').map(|e| start + e) else {
            break;
        };
        let tag = &xml[start..end];
        from = end;
        if tag.starts_with('/') || tag.ends_with('/') {
            continue;
        }
        let qname = tag
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default();
        if qname.rsplit(':').next() != Some(name) {
            continue;
        }
        let close = format!("</{qname}>");
        let Some(body_end) = xml[end + 1..].find(&close).map(|e| end + 1 + e) else {
            break;
        };
        out.push(&xml[end + 1..body_end]);
        from = body_end + close.len();
    }
    out
}

fn flag(block: &str, name: &str) -> bool {
    element(block, name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn opt(block: &str, name: &str) -> Option<String> {
    element(block, name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Parses one `leadConverts` entry.
fn parse_entry(block: &str) -> LeadConvert {
    LeadConvert {
        lead_id: opt(block, "leadId").unwrap_or_default(),
        converted_status: opt(block, "convertedStatus"),
        account_id: opt(block, "accountId"),
        contact_id: opt(block, "contactId"),
        owner_id: opt(block, "ownerId"),
        overwrite_lead_source: flag(block, "overwriteLeadSource"),
        do_not_create_opportunity: flag(block, "doNotCreateOpportunity"),
    }
}

fn nil(name: &str) -> String {
    format!("<{name} xsi:nil=\"true\"/>")
}

fn result_xml(entry: &LeadConvert, outcome: &Result<Converted, lb_wire::ApiError>) -> String {
    match outcome {
        Ok(c) => format!(
            "<result><accountId>{}</accountId><contactId>{}</contactId><leadId>{}</leadId>{}<success>true</success></result>",
            c.account_id,
            c.contact_id,
            c.lead_id,
            nil("opportunityId")
        ),
        Err(e) => {
            let fields: String = e
                .fields
                .iter()
                .flatten()
                .map(|f| format!("<fields>{}</fields>", escape(f)))
                .collect();
            format!(
                "<result>{}{}<errors>{fields}<message>{}</message><statusCode>{}</statusCode></errors><leadId>{}</leadId>{}<success>false</success></result>",
                nil("accountId"),
                nil("contactId"),
                escape(&e.message),
                escape(&e.error_code),
                escape(&entry.lead_id),
                nil("opportunityId")
            )
        }
    }
}

/// The checks every data call through SOAP passes: a live session from `SessionHeader`, API
/// access, one request charged to the daily allowance as `endpoint`. Returns the
/// `LimitInfoHeader` numbers (used, max).
pub(super) fn soap_gate(
    em: &Emulator,
    xml: &str,
    enterprise: bool,
    endpoint: &str,
) -> Result<(String, String), Reply> {
    let token = element(xml, "sessionId")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let session = em.auth().sessions.get(&token).map(|s| s.password_expired);
    match session {
        None => {
            return Err(fault(
                enterprise,
                "INVALID_SESSION_ID",
                "Invalid Session ID found in SessionHeader: Illegal Session",
                false,
            ));
        }
        Some(true) => {
            return Err(fault(
                enterprise,
                "INVALID_OPERATION_WITH_EXPIRED_PASSWORD",
                "The users password has expired, you must call SetPassword before attempting any other API operations",
                false,
            ));
        }
        Some(false) => {}
    }
    if !em.org().edition.api_enabled() {
        return Err(fault(
            enterprise,
            "API_DISABLED_FOR_ORG",
            "API is not enabled for this Organization or Partner",
            false,
        ));
    }
    let limit = {
        let mut usage = em.usage();
        usage.charge(endpoint).map(|_| usage.limit_info())
    };
    let Ok(limit_info) = limit else {
        return Err(fault(
            enterprise,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
            false,
        ));
    };
    Ok(limit_info
        .trim_start_matches("api-usage=")
        .split_once('/')
        .map(|(u, m)| (u.to_owned(), m.to_owned()))
        .unwrap_or_default())
}

/// A SOAP response envelope around `body`, with the `LimitInfoHeader`.
pub(super) fn soap_response(enterprise: bool, (used, max): &(String, String), body: &str) -> Reply {
    let ns = if enterprise {
        "urn:enterprise.soap.sforce.com"
    } else {
        "urn:partner.soap.sforce.com"
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns=\"{ns}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Header><LimitInfoHeader><limitInfo><current>{used}</current><limit>{max}</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    );
    Reply::text(StatusCode::OK, XML, xml)
}

/// Handles a `convertLead` envelope.
pub(crate) fn convert_lead(em: &Emulator, xml: &str, enterprise: bool) -> Reply {
    let limit = match soap_gate(em, xml, enterprise, "soap/convertLead") {
        Ok(l) => l,
        Err(reply) => return reply,
    };
    let entries: Vec<LeadConvert> = blocks(xml, "leadConverts")
        .into_iter()
        .map(parse_entry)
        .collect();
    if entries.len() > MAX_CONVERTS {
        return fault(
            enterprise,
            "LIMIT_EXCEEDED",
            &format!(
                "Too many leadConverts: {} (at most {MAX_CONVERTS} per call)",
                entries.len()
            ),
            false,
        );
    }
    let results: String = {
        let mut org = em.org_mut();
        entries
            .iter()
            .map(|e| result_xml(e, &org.convert_lead(e)))
            .collect()
    };
    soap_response(
        enterprise,
        &limit,
        &format!("<convertLeadResponse>{results}</convertLeadResponse>"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_with_any_prefix_and_in_order() {
        let xml = "<e:Body><urn:convertLead><urn:leadConverts><urn:leadId>00QA</urn:leadId><urn:convertedStatus>Closed - Converted</urn:convertedStatus><urn:doNotCreateOpportunity>true</urn:doNotCreateOpportunity></urn:leadConverts><leadConverts><leadId>00QB</leadId><overwriteLeadSource>TRUE</overwriteLeadSource></leadConverts></urn:convertLead></e:Body>";
        let entries: Vec<LeadConvert> = blocks(xml, "leadConverts")
            .into_iter()
            .map(parse_entry)
            .collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].lead_id, "00QA");
        assert_eq!(
            entries[0].converted_status.as_deref(),
            Some("Closed - Converted")
        );
        assert!(entries[0].do_not_create_opportunity);
        assert_eq!(entries[1].lead_id, "00QB");
        assert!(entries[1].overwrite_lead_source);
        assert_eq!(entries[1].converted_status, None);
    }

    #[test]
    fn garbage_yields_no_entries() {
        assert!(blocks("<leadConverts><leadId>x", "leadConverts").is_empty());
        assert!(blocks("<<<>>", "leadConverts").is_empty());
    }
}
