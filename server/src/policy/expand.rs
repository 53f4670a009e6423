//! Variable expansion as the engine's classic builder does it for one word (`ADD`/`COPY`
//! sources, `ENV` and `ARG` values, `FROM` names): quotes, the escape character, `$NAME`,
//! `${NAME}`, `${NAME:-word}` and `${NAME:+word}` (with `$` inside the word), nothing else.
//! The policy judges the names a build will really use, so this must read a word exactly as
//! the engine does; where it cannot, it says so and the policy refuses.

/// Why a word could not be expanded; the engine refuses the same words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpandError(pub &'static str);

/// Variables in scope: `NAME=value` entries, the first match wins (as the engine looks them
/// up: the stage's `ENV` first, then its `ARG`s).
pub type Env = [(String, String)];

fn lookup<'a>(env: &'a Env, name: &str) -> &'a str {
    env.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

struct Scanner<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    escape: char,
    env: &'a Env,
}

/// Expand one word with `env`, unset variables being empty (the builder passes no
/// `--build-arg`s, so every `ARG` has its default).
pub fn expand(word: &str, escape: char, env: &Env) -> Result<String, ExpandError> {
    let mut s = Scanner {
        chars: word.chars().peekable(),
        escape,
        env,
    };
    s.until(None)
}

impl Scanner<'_> {
    fn until(&mut self, stop: Option<char>) -> Result<String, ExpandError> {
        let mut out = String::new();
        while let Some(&c) = self.chars.peek() {
            if Some(c) == stop {
                self.chars.next();
                return Ok(out);
            }
            match c {
                '\'' => out.push_str(&self.single_quoted()?),
                '"' => out.push_str(&self.double_quoted()?),
                '$' => out.push_str(&self.dollar()?),
                _ => {
                    self.chars.next();
                    if c == self.escape {
                        match self.chars.next() {
                            Some(n) => out.push(n),
                            None => break,
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
        if stop.is_some() {
            return Err(ExpandError("a `${` is never closed with `}`"));
        }
        Ok(out)
    }

    fn single_quoted(&mut self) -> Result<String, ExpandError> {
        self.chars.next();
        let mut out = String::new();
        loop {
            match self.chars.next() {
                None => return Err(ExpandError("a single quote is never closed")),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, ExpandError> {
        self.chars.next();
        let mut out = String::new();
        loop {
            match self.chars.peek().copied() {
                None => return Err(ExpandError("a double quote is never closed")),
                Some('"') => {
                    self.chars.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.chars.next();
                    let mut ch = c;
                    if c == self.escape {
                        match self.chars.peek().copied() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.chars.next();
                                ch = n;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(&c) = self.chars.peek() {
            if name.is_empty() && c.is_numeric() {
                while let Some(&d) = self.chars.peek() {
                    if !d.is_numeric() {
                        break;
                    }
                    name.push(d);
                    self.chars.next();
                }
                return name;
            }
            if name.is_empty() && is_special_param(c) {
                self.chars.next();
                return c.to_string();
            }
            if !c.is_alphabetic() && !c.is_numeric() && c != '_' {
                break;
            }
            name.push(c);
            self.chars.next();
        }
        name
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        self.chars.next();
        if self.chars.peek() != Some(&'{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(lookup(self.env, &name).to_string());
        }
        self.chars.next();
        match self.chars.peek() {
            None => return Err(ExpandError("a `${` is never closed with `}`")),
            Some('{' | '}' | ':') => return Err(ExpandError("bad substitution")),
            Some(_) => {}
        }
        let name = self.name();
        match self.chars.next() {
            Some('}') => Ok(lookup(self.env, &name).to_string()),
            Some(':') => {
                let modifier = self.chars.next();
                let word = self.until(Some('}'))?;
                let value = lookup(self.env, &name);
                match modifier {
                    Some('+') => Ok(if value.is_empty() {
                        String::new()
                    } else {
                        word
                    }),
                    Some('-') => Ok(if value.is_empty() {
                        word
                    } else {
                        value.to_string()
                    }),
                    _ => Err(ExpandError("unsupported modifier in a `${…}` substitution")),
                }
            }
            _ => Err(ExpandError("missing `:` in a `${…}` substitution")),
        }
    }
}

/// `$*`, `$#`, `$?`, … are single-character names to the builder (always empty here).
fn is_special_param(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        vec![
            ("U".into(), "http://127.0.0.1/".into()),
            ("E".into(), String::new()),
            ("U".into(), "shadowed".into()),
        ]
    }

    #[test]
    fn words_expand_as_the_builder_expands_them() {
        let e = env();
        let x = |w: &str| expand(w, '\\', &e);
        assert_eq!(x("$U").as_deref(), Ok("http://127.0.0.1/"));
        assert_eq!(x("${U}x").as_deref(), Ok("http://127.0.0.1/x"));
        assert_eq!(x("${NOPE:-http://d/}").as_deref(), Ok("http://d/"));
        assert_eq!(x("${E:-d}").as_deref(), Ok("d"));
        assert_eq!(x("${U:+yes}").as_deref(), Ok("yes"));
        assert_eq!(x("${E:+yes}").as_deref(), Ok(""));
        assert_eq!(x("${NOPE:-${U}}").as_deref(), Ok("http://127.0.0.1/"));
        assert_eq!(x("'$U'").as_deref(), Ok("$U"));
        assert_eq!(x("\"$U\"").as_deref(), Ok("http://127.0.0.1/"));
        assert_eq!(x("\\$U").as_deref(), Ok("$U"));
        assert_eq!(x("h\\ttp").as_deref(), Ok("http"));
        assert_eq!(x("\"a\\b\"").as_deref(), Ok("a\\b"));
        assert_eq!(x("$").as_deref(), Ok("$"));
        assert_eq!(x("$1x").as_deref(), Ok("x"));
        assert!(x("${U").is_err());
        assert!(x("${U-d}").is_err());
        assert!(x("${U:?d}").is_err());
        assert!(x("${}").is_err());
        assert!(x("'open").is_err());
        // With the backtick escape, a backslash is an ordinary character.
        assert_eq!(expand("a\\b`$U", '`', &e).as_deref(), Ok("a\\b$U"));
    }
}
