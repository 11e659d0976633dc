//! The text parts of a `multipart/form-data` body (RFC 7578), enough for an HTML form posted
//! with `enctype="multipart/form-data"`: file parts are left out (a form maps inputs to text
//! attributes), every problem is named.

/// `(name, value)` of each text part, in order.
pub(crate) fn text_fields(
    content_type: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    let boundary = param(content_type, "boundary")
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or("multipart/form-data without a boundary parameter")?;
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut rest = match find(body, delimiter.as_bytes()) {
        Some(at) => &body[at + delimiter.len()..],
        None => return Err("the multipart body has no part".into()),
    };
    let mut fields = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(fields);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("malformed multipart body (a boundary is not followed by a line break)")?;
        let end = find(rest, next_delimiter.as_bytes())
            .ok_or("malformed multipart body (the closing boundary is missing)")?;
        let part = &rest[..end];
        rest = &rest[end + next_delimiter.len()..];
        let split = find(part, b"\r\n\r\n")
            .ok_or("malformed multipart part (no blank line after its headers)")?;
        let head = std::str::from_utf8(&part[..split])
            .map_err(|_| "a multipart part's headers are not UTF-8")?;
        let disposition = head
            .split("\r\n")
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then_some(value)
            })
            .ok_or("a multipart part has no Content-Disposition")?;
        let name = param(disposition, "name").ok_or("a multipart part has no name")?;
        if param(disposition, "filename").is_some() {
            continue;
        }
        let value = std::str::from_utf8(&part[split + 4..])
            .map_err(|_| format!("the value of '{name}' is not UTF-8 text"))?;
        fields.push((name, value.to_owned()));
    }
}

/// The value of `key=value` / `key="value"` among `;`-separated parameters.
fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case(key) {
            return None;
        }
        let v = v.trim();
        Some(
            match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => v.to_owned(),
            },
        )
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::text_fields;

    const CT: &str = "multipart/form-data; boundary=----x1";

    #[test]
    fn text_parts_are_read_and_files_left_out() {
        let body = "------x1\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nann@example.com\r\n\
                    ------x1\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\n\
                    ------x1\r\ncontent-disposition: form-data; name=\"note\"\r\n\r\ntwo\r\nlines\r\n------x1--\r\n";
        assert_eq!(
            text_fields(CT, body.as_bytes()).unwrap(),
            vec![
                ("email".to_owned(), "ann@example.com".to_owned()),
                ("note".to_owned(), "two\r\nlines".to_owned())
            ]
        );
    }

    #[test]
    fn malformed_bodies_are_named() {
        assert!(
            text_fields("multipart/form-data", b"")
                .unwrap_err()
                .contains("boundary")
        );
        let unclosed = "------x1\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv";
        assert!(
            text_fields(CT, unclosed.as_bytes())
                .unwrap_err()
                .contains("closing")
        );
        let bad =
            b"------x1\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xff\r\n------x1--";
        assert!(text_fields(CT, bad).unwrap_err().contains("'a'"));
    }
}
