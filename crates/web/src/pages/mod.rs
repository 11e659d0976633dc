//! Server-rendered pages of the contact base: the contact page at the stable URL
//! `/contacts/{id}`, the target of Salesforce's `plezi_url` (R-FIELD-1), and the public pages a
//! visitor's browser lands on after posting a form as plain HTML ([`thanks`]).
//!
//! Invariants: every value written into HTML goes through [`escape`]; the contact page shows
//! personal data, so it is routed by `ui::router` behind the sign-in gate, never publicly.

pub(crate) mod contact;
pub(crate) mod thanks;

/// Escapes text for HTML element content and double-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            super::escape(r#"<b a="1">'&'</b>"#),
            "&lt;b a=&quot;1&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
        );
    }
}
