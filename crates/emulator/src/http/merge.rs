//! SOAP `merge()` on `/services/Soap/u/NN.0` and `/c/NN.0`: the API route Salesforce offers
//! for merging Leads, Contacts and Accounts (there is no REST resource for it). The merge itself
//! is [`crate::state::merge`].
//!
//! Invariants:
//! - Authenticated, gated and counted like `convertLead()` (one API request per call).
//! - Each `request` gets one `result`, in order (`errors`, `id`, `mergedRecordIds`, `success`,
//!   `updatedRelatedIds`); each request is its own transaction, so one failing request does not
//!   undo the others.
//! - At most 200 requests per call.
//! - The master record's type comes from its `type` element (partner API) or its `xsi:type`
//!   attribute (enterprise API); every other child of `masterRecord` but `Id` and
//!   `fieldsToNull` is a value that supersedes the master's; `fieldsToNull` blanks a field.

use serde_json::{Map, Value};

use super::Reply;
use super::convert::{blocks, soap_gate, soap_response};
use super::soap::{element, escape, fault};
use crate::Emulator;
use crate::state::merge::{MergeRequest, Merged};

const MAX_REQUESTS: usize = 200;

/// The `xsi:type` (or any `…:type`) attribute of the first `masterRecord` opening tag.
fn type_attribute(xml: &str) -> Option<String> {
    let mut from = 0;
    while let Some(pos) = xml[from..].find('<') {
        let start = from + pos + 1;
        let end = start + xml[start..].find('>')?;
        let tag = &xml[start..end];
        from = end;
        let mut parts = tag.split_whitespace();
        let qname = parts.next().unwrap_or_default();
        if qname.rsplit(':').next() != Some("masterRecord") {
            continue;
        }
        for attr in parts {
            let Some((name, value)) = attr.split_once('=') else {
                continue;
            };
            if name.rsplit(':').next() == Some("type") {
                let v = value.trim_end_matches('/').trim_matches(['"', '\'']);
                return Some(v.rsplit(':').next().unwrap_or(v).to_owned());
            }
        }
        return None;
    }
    None
}

/// The direct children of `inner` as (local name, text; `None` for `xsi:nil`).
fn children(inner: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = inner;
    while let Some(pos) = rest.find('<') {
        let after = &rest[pos + 1..];
        let Some(end) = after.find('>') else {
            break;
        };
        let tag = &after[..end];
        if tag.starts_with('/') || tag.starts_with('?') || tag.starts_with('!') {
            rest = &after[end + 1..];
            continue;
        }
        let qname = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        let local = qname.rsplit(':').next().unwrap_or_default().to_owned();
        if tag.ends_with('/') {
            out.push((local, None));
            rest = &after[end + 1..];
            continue;
        }
        let close = format!("</{qname}>");
        let body = &after[end + 1..];
        let Some(close_at) = body.find(&close) else {
            break;
        };
        let whole = format!("<{qname}>{}{close}", &body[..close_at]);
        let text = element(&whole, &local).unwrap_or_default();
        let nil = tag.contains("nil=\"true\"") || tag.contains("nil='true'");
        out.push((local, (!nil).then_some(text)));
        rest = &body[close_at + close.len()..];
    }
    out
}

/// Parses one `request` (a `MergeRequest`).
fn parse_request(block: &str) -> MergeRequest {
    let master = blocks(block, "masterRecord")
        .into_iter()
        .next()
        .unwrap_or("");
    let mut req = MergeRequest {
        object: type_attribute(block).unwrap_or_default(),
        ..MergeRequest::default()
    };
    let mut fields = Map::new();
    for (name, value) in children(master) {
        match name.as_str() {
            "type" => req.object = value.unwrap_or_default().trim().to_owned(),
            "Id" => req.master_id = value.unwrap_or_default().trim().to_owned(),
            "fieldsToNull" => {
                if let Some(f) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
                    fields.insert(f, Value::Null);
                }
            }
            _ => {
                fields.insert(name, value.map_or(Value::Null, Value::String));
            }
        }
    }
    req.master_fields = fields;
    req.victim_ids = children(block)
        .into_iter()
        .filter(|(n, _)| n == "recordToMergeIds")
        .filter_map(|(_, v)| v.map(|v| v.trim().to_owned()))
        .filter(|v| !v.is_empty())
        .collect();
    req
}

fn ids_xml(name: &str, ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("<{name}>{}</{name}>", escape(id)))
        .collect()
}

fn result_xml(req: &MergeRequest, outcome: &Result<Merged, lb_wire::ApiError>) -> String {
    match outcome {
        Ok(m) => format!(
            "<result><id>{}</id>{}<success>true</success></result>",
            m.id,
            ids_xml("mergedRecordIds", &m.merged_record_ids)
        ),
        Err(e) => {
            let fields: String = e
                .fields
                .iter()
                .flatten()
                .map(|f| format!("<fields>{}</fields>", escape(f)))
                .collect();
            format!(
                "<result><errors>{fields}<message>{}</message><statusCode>{}</statusCode></errors><id>{}</id><success>false</success></result>",
                escape(&e.message),
                escape(&e.error_code),
                escape(&req.master_id),
            )
        }
    }
}

/// Handles a `merge` envelope.
pub(crate) fn merge(em: &Emulator, xml: &str, enterprise: bool) -> Reply {
    let limit = match soap_gate(em, xml, enterprise, "soap/merge") {
        Ok(l) => l,
        Err(reply) => return reply,
    };
    let requests: Vec<MergeRequest> = blocks(xml, "request")
        .into_iter()
        .map(parse_request)
        .collect();
    if requests.len() > MAX_REQUESTS {
        return fault(
            enterprise,
            "LIMIT_EXCEEDED",
            &format!(
                "Too many merge requests: {} (at most {MAX_REQUESTS} per call)",
                requests.len()
            ),
            false,
        );
    }
    let results: String = {
        let mut org = em.org_mut();
        requests
            .iter()
            .map(|r| result_xml(r, &org.merge(r)))
            .collect()
    };
    soap_response(
        enterprise,
        &limit,
        &format!("<mergeResponse>{results}</mergeResponse>"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_and_enterprise_requests_are_read() {
        let partner = "<env:Body><urn:merge><urn:request><urn:masterRecord><urn1:type>Lead</urn1:type><urn1:Id>00QA</urn1:Id><FirstName>Jo &amp; Al</FirstName><urn1:fieldsToNull>Phone</urn1:fieldsToNull></urn:masterRecord><urn:recordToMergeIds>00QB</urn:recordToMergeIds><urn:recordToMergeIds>00QC</urn:recordToMergeIds></urn:request></urn:merge></env:Body>";
        let reqs: Vec<MergeRequest> = blocks(partner, "request")
            .into_iter()
            .map(parse_request)
            .collect();
        assert_eq!(reqs.len(), 1);
        let r = &reqs[0];
        assert_eq!(r.object, "Lead");
        assert_eq!(r.master_id, "00QA");
        assert_eq!(r.victim_ids, vec!["00QB", "00QC"]);
        assert_eq!(
            r.master_fields["FirstName"],
            Value::String("Jo & Al".into())
        );
        assert_eq!(r.master_fields["Phone"], Value::Null);
        assert_eq!(r.master_fields.len(), 2);

        let enterprise = r#"<Body><merge><request><masterRecord xsi:type="urn1:Contact"><Id>003A</Id></masterRecord><recordToMergeIds>003B</recordToMergeIds></request></merge></Body>"#;
        let r = parse_request(blocks(enterprise, "request")[0]);
        assert_eq!(r.object, "Contact");
        assert_eq!(r.master_id, "003A");
        assert_eq!(r.victim_ids, vec!["003B"]);
        assert!(r.master_fields.is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "",
            "<request>",
            "<request><masterRecord",
            "<<>>",
            "<request><x/></request>",
        ] {
            for b in blocks(s, "request") {
                let _ = parse_request(b);
            }
            let _ = children(s);
            let _ = type_attribute(s);
        }
    }
}
