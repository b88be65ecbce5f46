//! Glob patterns of sampling rules (`sampling.md` §3.3).

use std::fmt;

/// A sampling-rule glob: `*` matches any sequence of characters (including none), `?`
/// exactly one character, every other character itself. Matching ignores ASCII case and must
/// cover the whole text.
///
/// There is no escaping and no character class: `[abc]` matches the five characters `[abc]`.
///
/// ```
/// use ddtrace_sampling::Glob;
///
/// assert!(Glob::new("web.*").matches("WEB.request"));
/// assert!(Glob::new("/?ar").matches("/bar"));
/// assert!(!Glob::new("/ba?r").matches("/bar"));
/// assert!(Glob::new("[abc]").matches("[ABC]"));
/// assert!(!Glob::new("[abc]").matches("a"));
/// assert!(Glob::new("**").is_match_all());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Box<str>,
    kind: Kind,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    /// Only `*`s: matches anything.
    All,
    /// No wildcard: an ASCII-case-insensitive comparison.
    Literal,
    /// Wildcards: the tokens, consecutive stars merged, literals lower-cased.
    Wild(Box<[Token]>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Star,
    One,
    Char(char),
}

impl Glob {
    /// Compiles a pattern. Every string is a valid pattern.
    pub fn new(pattern: &str) -> Self {
        let kind = if !pattern.is_empty() && pattern.bytes().all(|b| b == b'*') {
            Kind::All
        } else if !pattern.contains(['*', '?']) {
            Kind::Literal
        } else {
            let mut tokens: Vec<Token> = Vec::with_capacity(pattern.len());
            for c in pattern.chars() {
                let token = match c {
                    '*' => Token::Star,
                    '?' => Token::One,
                    c => Token::Char(c.to_ascii_lowercase()),
                };
                if token == Token::Star && tokens.last() == Some(&Token::Star) {
                    continue;
                }
                tokens.push(token);
            }
            Kind::Wild(tokens.into_boxed_slice())
        };
        Glob {
            pattern: pattern.into(),
            kind,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern is made of `*` only (`*`, `**`, …) and so matches anything,
    /// including a numeric tag of any value.
    pub fn is_match_all(&self) -> bool {
        matches!(self.kind, Kind::All)
    }

    /// Whether `text` matches the whole pattern (ASCII case ignored).
    pub fn matches(&self, text: &str) -> bool {
        match &self.kind {
            Kind::All => true,
            Kind::Literal => self.pattern.eq_ignore_ascii_case(text),
            Kind::Wild(tokens) => wild_match(tokens, text),
        }
    }
}

/// Iterative matching with a single backtrack point (the last `*` seen): linear in practice,
/// `O(pattern × text)` at worst, no allocation, no recursion.
fn wild_match(tokens: &[Token], text: &str) -> bool {
    let mut p = 0; // index into tokens
    let mut t = 0; // byte offset into text
    let mut backtrack: Option<(usize, usize)> = None; // (token after the star, text offset)
    loop {
        if p < tokens.len() {
            let next = text[t..].chars().next();
            match (tokens[p], next) {
                (Token::Star, _) => {
                    backtrack = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                (Token::One, Some(c)) => {
                    p += 1;
                    t += c.len_utf8();
                    continue;
                }
                (Token::Char(want), Some(c)) if c.to_ascii_lowercase() == want => {
                    p += 1;
                    t += c.len_utf8();
                    continue;
                }
                _ => {}
            }
        } else if t == text.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more character, or fail.
        match backtrack {
            Some((after_star, from)) => match text[from..].chars().next() {
                Some(c) => {
                    let from = from + c.len_utf8();
                    backtrack = Some((after_star, from));
                    p = after_star;
                    t = from;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.pattern)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        // sampling.md §3.3 table (service webserver, name web.request, resource /bar).
        assert!(Glob::new("webserver").matches("webserver"));
        assert!(Glob::new("WEBSERVER").matches("webserver"));
        assert!(Glob::new("web.*").matches("web.request"));
        assert!(Glob::new("/?ar").matches("/bar"));
        assert!(!Glob::new("web.request.non-matching").matches("web.request"));
        assert!(Glob::new("f??").matches("foo"));
        assert!(Glob::new("[abc]").matches("[abc]"));
        assert!(Glob::new("^(foo|bar)[]\\$").matches("^(foo|bar)[]\\$"));
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(Glob::new("web.request*").matches("web.request"));
        assert!(Glob::new("web*server").matches("webserver"));
        assert!(Glob::new("web*server").matches("web-api-server"));
        assert!(!Glob::new("web*server").matches("webserve"));
        assert!(Glob::new("*a*b").matches("xxaxxab"));
        assert!(!Glob::new("*a*b").matches("xxaxxa"));
        assert!(Glob::new("*?").matches("x"));
        assert!(!Glob::new("*?").matches(""));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("").matches(""));
        assert!(!Glob::new("").matches("a"));
        assert!(!Glob::new("?").matches(""));
    }

    #[test]
    fn question_mark_is_one_character_not_one_byte() {
        assert!(Glob::new("caf?").matches("café"));
        assert!(Glob::new("?").matches("é"));
        assert!(!Glob::new("??").matches("é"));
        assert!(Glob::new("*é").matches("café"));
    }

    #[test]
    fn case_folding_is_ascii_only() {
        assert!(Glob::new("ÉTÉ*").matches("ÉTÉ-x"));
        assert!(!Glob::new("été").matches("ÉTÉ"));
        assert!(Glob::new("A?C").matches("abc"));
    }

    #[test]
    fn match_all_is_only_stars() {
        assert!(Glob::new("*").is_match_all());
        assert!(Glob::new("***").is_match_all());
        assert!(!Glob::new("*?").is_match_all());
        assert!(!Glob::new("").is_match_all());
        assert_eq!(Glob::new("a*").as_str(), "a*");
        assert_eq!(format!("{:?}", Glob::new("a*")), "Glob(\"a*\")");
    }
}
