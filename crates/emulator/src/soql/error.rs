//! Salesforce-shaped query errors.
//!
//! Salesforce prefixes most query errors with a caret diagram: a newline, an excerpt of the
//! offending line, a caret under the offending token, `ERROR at Row:R:Column:C`, then the
//! sentence. For long lines the excerpt starts about 30 characters before the error, widened
//! back to the start of the word it lands in, and stops about 30 characters after it (seen in
//! captured responses such as `\nImage_Vendor__c FROM Opportunity WHERE Image_Vendor__c LIKE
//! 'Getty%'\n                                       ^\nERROR at Row:1:Column:68\n…`).
//!
//! Provenance of the sentences: "No such column … on entity …", "sObject type … is not
//! supported…", "value of filter criterion for field … must be of type … and should (not) be
//! enclosed in quotes" (caret under the field), "invalid operator on multipicklist field"
//! (INVALID_QUERY_FILTER_OPERATOR), "no viable alternative at character", "unexpected
//! token: '…'", "expecting a left parentheses, found '…'", "Bind variables only allowed in
//! Apex code", "duplicate field selected: X" and "Maximum SOQL offset allowed for apiName X is
//! 2000" (NUMBER_OUTSIDE_VALID_RANGE) are taken from captured Salesforce responses. Assumed by
//! analogy, not captured: the type words for currency/percent ("double"), the other "invalid
//! operator on X field" words, "invalid ID field: X" without a diagram, the error code of the
//! duplicate-field error, and the string-literal and sort error wordings.

use super::SoqlError;

pub(crate) const MALFORMED_QUERY: &str = "MALFORMED_QUERY";
pub(crate) const INVALID_FIELD: &str = "INVALID_FIELD";
pub(crate) const INVALID_TYPE: &str = "INVALID_TYPE";
pub(crate) const INVALID_QUERY_FILTER_OPERATOR: &str = "INVALID_QUERY_FILTER_OPERATOR";
pub(crate) const NUMBER_OUTSIDE_VALID_RANGE: &str = "NUMBER_OUTSIDE_VALID_RANGE";

const CONTEXT: usize = 30;

/// 1-based row and column (in characters) of byte offset `at`.
pub(crate) fn row_col(src: &str, at: usize) -> (usize, usize) {
    let at = at.min(src.len());
    let before = &src[..at];
    let row = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let col = src[line_start..at].chars().count() + 1;
    (row, col)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

/// The caret diagram followed by `sentence`.
pub(crate) fn diagram(src: &str, at: usize, sentence: &str) -> String {
    let at = at.min(src.len());
    let (row, col) = row_col(src, at);
    let line_start = src[..at].rfind('\n').map_or(0, |p| p + 1);
    let line_end = src[at..].find('\n').map_or(src.len(), |p| at + p);
    let line: Vec<char> = src[line_start..line_end].chars().collect();
    let caret = col - 1;
    let mut from = caret.saturating_sub(CONTEXT);
    while from > 0 && from < line.len() && is_word(line[from]) && is_word(line[from - 1]) {
        from -= 1;
    }
    let mut to = (caret + CONTEXT + 1).min(line.len());
    while to < line.len() && to > 0 && is_word(line[to]) && is_word(line[to - 1]) {
        to += 1;
    }
    let excerpt: String = line[from..to].iter().collect();
    let pad = " ".repeat(caret - from);
    format!("\n{excerpt}\n{pad}^\nERROR at Row:{row}:Column:{col}\n{sentence}")
}

pub(crate) fn malformed(src: &str, at: usize, sentence: &str) -> SoqlError {
    SoqlError {
        error_code: MALFORMED_QUERY,
        message: diagram(src, at, sentence),
    }
}

pub(crate) fn with_diagram(code: &'static str, src: &str, at: usize, sentence: &str) -> SoqlError {
    SoqlError {
        error_code: code,
        message: diagram(src, at, sentence),
    }
}

pub(crate) fn plain(code: &'static str, message: String) -> SoqlError {
    SoqlError {
        error_code: code,
        message,
    }
}

/// Features of SOQL that Salesforce has and this emulator deliberately does not model.
pub(crate) fn unsupported(src: &str, at: usize, what: &str) -> SoqlError {
    malformed(
        src,
        at,
        &format!("{what} not supported by the leadbridge Salesforce emulator"),
    )
}
