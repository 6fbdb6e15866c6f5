//! Re-indentation of raw JSON exactly like Go's `json.Indent(dst, src, "", "    ")`, which
//! `docker inspect` applies to the daemon's bytes (so key order and escapes are kept).

/// Indents already-valid JSON with four spaces, dropping insignificant whitespace.
pub fn indent(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut depth: usize = 0;
    let mut need_indent = false;
    let mut in_string = false;
    let mut escaped = false;
    for &c in src {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        if need_indent && c != b'}' && c != b']' {
            need_indent = false;
            newline(&mut out, depth);
        }
        match c {
            b'"' => {
                in_string = true;
                out.push(c);
            }
            b'{' | b'[' => {
                out.push(c);
                depth += 1;
                need_indent = true;
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => {
                out.push(c);
                out.push(b' ');
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if need_indent {
                    // empty object or array stays compact
                    need_indent = false;
                } else {
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn newline(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    for _ in 0..depth {
        out.extend_from_slice(b"    ");
    }
}

#[cfg(test)]
mod tests {
    use super::indent;

    fn s(v: &[u8]) -> String {
        String::from_utf8(v.to_vec()).unwrap()
    }

    #[test]
    fn nested() {
        let src = br#"[{"Id":"x","A":[1,2],"E":{},"L":[],"S":"a, b: {c}\"]"}]"#;
        assert_eq!(
            s(&indent(src)),
            "[\n    {\n        \"Id\": \"x\",\n        \"A\": [\n            1,\n            2\n        ],\n        \"E\": {},\n        \"L\": [],\n        \"S\": \"a, b: {c}\\\"]\"\n    }\n]"
        );
    }

    #[test]
    fn drops_existing_whitespace() {
        let src = b"{ \"a\" : null ,\n \"b\":true }\n";
        assert_eq!(s(&indent(src)), "{\n    \"a\": null,\n    \"b\": true\n}");
    }
}
