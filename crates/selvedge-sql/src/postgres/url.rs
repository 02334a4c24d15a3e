//! Connection URLs: reading the server's address out of the URL the code under test would
//! use, and writing the same URL pointed at the proxy with a task's `application_name`.
//!
//! Invariant: everything but the host and port is kept as the user wrote it (user, password,
//! database, parameters), so the proxied connection authenticates and behaves exactly as a
//! direct one would.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::error::{Error, ErrorKind};

/// The parts of a `postgres://` URL around its host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UrlTemplate {
    scheme: String,
    /// `user[:password]@`, kept verbatim, or empty.
    userinfo: String,
    /// `/database`, or empty.
    path: String,
    /// The query string without `?`, or empty.
    query: String,
}

/// Splits `url` into the server's address and the rest.
pub(crate) fn parse(url: &str) -> Result<(SocketAddr, UrlTemplate), Error> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::BadUrl,
            format!("cannot proxy `{url}`: {why}; give a URL like `postgresql://user@127.0.0.1:5432/db`"),
        )
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(bad(
            "it is not a URL (key=value connection strings are not supported)",
        ));
    };
    if scheme != "postgres" && scheme != "postgresql" {
        return Err(bad("the scheme must be `postgres://` or `postgresql://`"));
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, query),
        None => (tail, ""),
    };
    if hostport.is_empty() {
        return Err(bad("it names no host (unix sockets are not supported)"));
    }
    if hostport.contains(',') {
        return Err(bad("it names several hosts"));
    }
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let name = param.split_once('=').map_or(param, |(name, _)| name);
        if matches!(name, "host" | "hostaddr" | "port") {
            return Err(bad(&format!(
                "its `{name}` parameter would bypass the proxy"
            )));
        }
        if name == "application_name" {
            return Err(bad(
                "it sets `application_name`, which the proxy uses to tell tasks apart",
            ));
        }
    }
    let with_port = if hostport.starts_with('[') {
        if hostport.ends_with(']') {
            format!("{hostport}:5432")
        } else {
            hostport.to_owned()
        }
    } else if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| bad(&format!("its host `{hostport}` does not resolve ({e})")))?
        .next()
        .ok_or_else(|| bad(&format!("its host `{hostport}` has no address")))?;
    let template = UrlTemplate {
        scheme: scheme.to_owned(),
        userinfo: userinfo.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
    };
    Ok((addr, template))
}

impl UrlTemplate {
    /// The URL pointed at `proxy`, with `application_name` set when a task is named.
    pub(crate) fn render(&self, proxy: SocketAddr, application_name: Option<&str>) -> String {
        let mut url = format!("{}://{}{}{}", self.scheme, self.userinfo, proxy, self.path);
        let mut params: Vec<String> = Vec::new();
        if !self.query.is_empty() {
            params.push(self.query.clone());
        }
        if let Some(name) = application_name {
            params.push(format!("application_name={name}"));
        }
        if !params.is_empty() {
            url.push('?');
            url.push_str(&params.join("&"));
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxied_url_keeps_everything_but_the_address() {
        let (addr, template) =
            parse("postgresql://app:s3cret@127.0.0.1:6543/shop?sslmode=disable").unwrap();
        assert_eq!(addr, "127.0.0.1:6543".parse().unwrap());
        let proxy: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        assert_eq!(
            template.render(proxy, Some("selvedge-task-1-4")),
            "postgresql://app:s3cret@127.0.0.1:7000/shop?sslmode=disable&application_name=selvedge-task-1-4"
        );
        let (addr, template) = parse("postgres://localhost").unwrap();
        assert_eq!(addr.port(), 5432);
        assert_eq!(template.render(proxy, None), "postgres://127.0.0.1:7000");
    }

    #[test]
    fn urls_the_proxy_cannot_serve_are_refused_with_the_reason() {
        let message = |url: &str| parse(url).unwrap_err().to_string();
        assert_eq!(
            message("host=localhost port=5432"),
            "cannot proxy `host=localhost port=5432`: it is not a URL (key=value connection strings are not \
             supported); give a URL like `postgresql://user@127.0.0.1:5432/db`"
        );
        assert!(message("mysql://localhost/db")
            .contains("the scheme must be `postgres://` or `postgresql://`"));
        assert!(message("postgres:///db?host=/var/run/postgresql").contains("names no host"));
        assert!(message("postgres://a,b/db").contains("several hosts"));
        assert!(message("postgres://localhost/db?port=1")
            .contains("`port` parameter would bypass the proxy"));
        assert!(message("postgres://localhost/db?application_name=x").contains("tell tasks apart"));
    }
}
