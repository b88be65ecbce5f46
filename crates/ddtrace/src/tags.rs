//! Parsing of `DD_TAGS` and `OTEL_RESOURCE_ATTRIBUTES`.

/// Parses `DD_TAGS`: comma-separated when the value has a comma, else whitespace-separated;
/// each item is `key:value` split at the first `:` (a missing `:` means an empty value), trimmed;
/// items with an empty key are skipped. Later duplicates win (the caller inserts in order).
pub(crate) fn parse_dd_tags(value: &str) -> Vec<(String, String)> {
    let items: Vec<&str> = if value.contains(',') {
        value.split(',').collect()
    } else {
        value.split_whitespace().collect()
    };
    items
        .into_iter()
        .filter_map(|item| {
            let item = item.trim();
            if item.is_empty() {
                return None;
            }
            let (key, val) = item.split_once(':').unwrap_or((item, ""));
            let key = key.trim();
            (!key.is_empty()).then(|| (key.to_owned(), val.trim().to_owned()))
        })
        .collect()
}

/// Removes the credentials (`user:password@`, `token@`) of a URL with a scheme; URLs without
/// a scheme and scp-style URLs (`git@host:path`) are returned unchanged (span-model.md §4).
pub(crate) fn strip_url_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{host}{path}"),
        None => url.to_owned(),
    }
}

/// The most pairs taken from `OTEL_RESOURCE_ATTRIBUTES`.
pub(crate) const MAX_RESOURCE_ATTRIBUTES: usize = 10;

/// Parses `OTEL_RESOURCE_ATTRIBUTES` (`k1=v1,k2=v2`, trimmed, percent-decoded); at most
/// [`MAX_RESOURCE_ATTRIBUTES`] pairs are kept. Returns the pairs and how many were dropped.
pub(crate) fn parse_resource_attributes(value: &str) -> (Vec<(String, String)>, usize) {
    let mut pairs = Vec::new();
    let mut dropped = 0;
    for item in value.split(',') {
        let Some((k, v)) = item.split_once('=') else {
            if !item.trim().is_empty() {
                log::warn!("ddtrace: ignoring OTEL_RESOURCE_ATTRIBUTES entry {item:?}: no '='");
            }
            continue;
        };
        let (k, v) = (percent_decode(k.trim()), percent_decode(v.trim()));
        if k.is_empty() {
            continue;
        }
        if pairs.len() == MAX_RESOURCE_ATTRIBUTES {
            dropped += 1;
            continue;
        }
        pairs.push((k, v));
    }
    (pairs, dropped)
}

/// Decodes `%XX` escapes; malformed escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(v: &str) -> Vec<(String, String)> {
        parse_dd_tags(v)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Every row of the table in config.md §2.1.
    #[test]
    fn dd_tags_table_of_config_2_1() {
        assert_eq!(
            tags("key1:value1,key2:value2"),
            pairs(&[("key1", "value1"), ("key2", "value2")])
        );
        assert_eq!(
            tags("key1:value1 key2:value2"),
            pairs(&[("key1", "value1"), ("key2", "value2")])
        );
        assert_eq!(
            tags("env:test aKey:aVal bKey:bVal cKey:"),
            pairs(&[
                ("env", "test"),
                ("aKey", "aVal"),
                ("bKey", "bVal"),
                ("cKey", "")
            ])
        );
        assert_eq!(
            tags("env:test,aKey:aVal bKey:bVal cKey:"),
            pairs(&[("env", "test"), ("aKey", "aVal bKey:bVal cKey:")])
        );
        assert_eq!(
            tags("env:test     bKey :bVal dKey: dVal cKey:"),
            pairs(&[
                ("env", "test"),
                ("bKey", ""),
                ("dKey", ""),
                ("dVal", ""),
                ("cKey", "")
            ])
        );
        assert_eq!(
            tags("env :test, aKey : aVal bKey:bVal cKey:"),
            pairs(&[("env", "test"), ("aKey", "aVal bKey:bVal cKey:")])
        );
        assert_eq!(
            tags("env:keyWithA:Semicolon bKey:bVal cKey"),
            pairs(&[
                ("env", "keyWithA:Semicolon"),
                ("bKey", "bVal"),
                ("cKey", "")
            ])
        );
        assert_eq!(
            tags("env:keyWith:  , ,   Lots:Of:Semicolons "),
            pairs(&[("env", "keyWith:"), ("Lots", "Of:Semicolons")])
        );
        assert_eq!(tags("a:b,c,d"), pairs(&[("a", "b"), ("c", ""), ("d", "")]));
        assert_eq!(tags("a,1"), pairs(&[("a", ""), ("1", "")]));
        assert_eq!(tags("a:b:c:d"), pairs(&[("a", "b:c:d")]));
        assert_eq!(tags(""), pairs(&[]));
    }

    /// The table of span-model.md §4.
    #[test]
    fn git_url_credentials_are_stripped() {
        assert_eq!(
            strip_url_credentials("https://gitlab-ci-token:AAA_bbb@gitlab.com/DataDog/x.git"),
            "https://gitlab.com/DataDog/x.git"
        );
        assert_eq!(
            strip_url_credentials("ssh://token@gitlab.com/user/project.git"),
            "ssh://gitlab.com/user/project.git"
        );
        assert_eq!(
            strip_url_credentials("git@github.com:user/project.git"),
            "git@github.com:user/project.git"
        );
        assert_eq!(
            strip_url_credentials("gitlab.com/a/b.git"),
            "gitlab.com/a/b.git"
        );
        assert_eq!(
            strip_url_credentials("https://github.com/a/b"),
            "https://github.com/a/b"
        );
    }

    #[test]
    fn resource_attributes_are_trimmed_decoded_and_capped() {
        let (p, dropped) = parse_resource_attributes(
            " deployment.environment = test1 ,service.name=test2,x=a%2Cb,bad,=v,y=%zz",
        );
        assert_eq!(
            p,
            pairs(&[
                ("deployment.environment", "test1"),
                ("service.name", "test2"),
                ("x", "a,b"),
                ("y", "%zz")
            ])
        );
        assert_eq!(dropped, 0);
        let many: Vec<String> = (0..12).map(|i| format!("k{i}=v")).collect();
        let (p, dropped) = parse_resource_attributes(&many.join(","));
        assert_eq!((p.len(), dropped), (10, 2));
    }
}
