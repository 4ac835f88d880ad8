//! The proxy of a client (or of the oauth2 token fetch): `proxy_url` with
//! `no_proxy`, or `proxy_from_environment`, plus `proxy_connect_header`.
//!
//! The `proxy_connect_header` headers go on the CONNECT request that opens a
//! tunnel for `https` URLs only, as in Go: plain `http` requests forwarded
//! through the proxy go through a second proxy entry without them (reqwest
//! would otherwise add them to every proxied request). SOCKS proxies have no
//! CONNECT request, so that combination is refused at build time.

use crate::error::Error;
use crate::no_proxy::NoProxy;
use profcol_config::http_client::ProxyConfig;
use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{Proxy, Url};

/// Picks the proxy for a target URL, or none.
type Select = std::sync::Arc<dyn Fn(&Url) -> Option<Url> + Send + Sync>;

/// The proxies to add to a client, tried in order (none: direct).
/// `prefix` is the config path of the block (`""` or `"oauth2"`).
pub(crate) fn build(p: &ProxyConfig, prefix: &str) -> Result<Vec<Proxy>, Error> {
    build_with_env(p, prefix, |k| std::env::var(k).ok())
}

pub(crate) fn build_with_env(
    p: &ProxyConfig,
    prefix: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Proxy>, Error> {
    let field = |name: &str| profcol_config::join_path(prefix, name);
    let headers = connect_headers(p, &field("proxy_connect_header"))?;
    let select: Select = if let Some(raw) = &p.proxy_url {
        let url = Url::parse(raw)
            .map_err(|e| Error::invalid(field("proxy_url"), format!("invalid URL: {e}")))?;
        check_scheme(&url, &headers, &field("proxy_url"))?;
        let rules = p.no_proxy.as_deref().map(NoProxy::parse);
        std::sync::Arc::new(move |target: &Url| match &rules {
            Some(r) if r.bypass(target) => None,
            _ => Some(url.clone()),
        })
    } else if p.proxy_from_environment {
        let from_env = |names: [&str; 2]| -> Result<Option<Url>, Error> {
            let Some(raw) = names.iter().find_map(|n| env(n).filter(|v| !v.is_empty())) else {
                return Ok(None);
            };
            let url = parse_env_proxy(&raw).ok_or_else(|| {
                Error::invalid(
                    field("proxy_from_environment"),
                    format!("{} is not a valid proxy URL", names[0]),
                )
            })?;
            check_scheme(
                &url,
                &headers,
                &format!("{} (proxy_from_environment)", names[0]),
            )?;
            Ok(Some(url))
        };
        let http = from_env(["HTTP_PROXY", "http_proxy"])?;
        let https = from_env(["HTTPS_PROXY", "https_proxy"])?;
        if http.is_none() && https.is_none() {
            return Ok(Vec::new());
        }
        let rules = NoProxy::parse(
            &env("NO_PROXY")
                .or_else(|| env("no_proxy"))
                .unwrap_or_default(),
        );
        std::sync::Arc::new(move |target: &Url| {
            let chosen = match target.scheme() {
                "http" => http.as_ref(),
                "https" => https.as_ref(),
                _ => None,
            }?;
            (!rules.bypass(target)).then(|| chosen.clone())
        })
    } else {
        return Ok(Vec::new());
    };
    if headers.is_empty() {
        return Ok(vec![Proxy::custom(move |t: &Url| select(t))]);
    }
    let tunnel = select.clone();
    Ok(vec![
        Proxy::custom(move |t: &Url| (t.scheme() == "https").then(|| tunnel(t)).flatten())
            .headers(headers),
        Proxy::custom(move |t: &Url| (t.scheme() != "https").then(|| select(t)).flatten()),
    ])
}

/// Go's rule: a value without a scheme (`proxy:3128`) means `http://`.
fn parse_env_proxy(raw: &str) -> Option<Url> {
    match Url::parse(raw) {
        Ok(u) if u.has_host() => Some(u),
        _ if raw.contains("://") => None,
        _ => Url::parse(&format!("http://{raw}"))
            .ok()
            .filter(Url::has_host),
    }
}

fn check_scheme(url: &Url, headers: &HeaderMap, field: &str) -> Result<(), Error> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        "socks5" | "socks5h" if headers.is_empty() => Ok(()),
        "socks5" | "socks5h" => Err(Error::Unsupported {
            field: field.to_string(),
            message:
                "proxy_connect_header cannot be sent to a SOCKS proxy (it has no CONNECT request)"
                    .into(),
        }),
        other => Err(Error::invalid(
            field,
            format!("unsupported proxy scheme {other:?} (use http, https or socks5)"),
        )),
    }
}

fn connect_headers(p: &ProxyConfig, field: &str) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::new();
    for (name, values) in &p.proxy_connect_header {
        let key = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::invalid(format!("{field}::{name}"), "not a valid HTTP header name")
        })?;
        for v in values {
            let value = crate::auth::sensitive(
                v.expose().as_bytes().to_vec(),
                &format!("{field}::{name}"),
            )?;
            map.append(key.clone(), value);
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_config::Secret;
    use std::collections::HashMap;

    #[test]
    fn env_values_without_scheme_are_http() {
        assert_eq!(
            parse_env_proxy("proxy:3128").unwrap().as_str(),
            "http://proxy:3128/"
        );
        assert_eq!(parse_env_proxy("https://p:1").unwrap().scheme(), "https");
        assert!(parse_env_proxy("").is_none());
    }

    #[test]
    fn nothing_configured_means_no_proxy() {
        let p = ProxyConfig {
            proxy_from_environment: true,
            ..Default::default()
        };
        assert!(build_with_env(&p, "", |_| None).unwrap().is_empty());
        assert!(build(&ProxyConfig::default(), "").unwrap().is_empty());
    }

    #[test]
    fn bad_values_name_the_field_but_not_the_secret() {
        let mut p = ProxyConfig {
            proxy_url: Some("socks5://127.0.0.1:1080".into()),
            ..Default::default()
        };
        assert_eq!(build(&p, "").unwrap().len(), 1);
        p.proxy_connect_header
            .insert("X-Token".into(), vec![Secret::new("hunter2")]);
        let e = build(&p, "oauth2").unwrap_err().to_string();
        assert!(
            e.starts_with("oauth2::proxy_url: proxy_connect_header cannot"),
            "{e}"
        );
        p.proxy_url = Some("http://127.0.0.1:3128".into());
        p.proxy_connect_header
            .insert("X-Bad".into(), vec![Secret::new("hunter2\n")]);
        let e = build(&p, "").unwrap_err().to_string();
        assert_eq!(e, "proxy_connect_header::X-Bad: contains characters that are not allowed in an HTTP header");
        let vars: HashMap<&str, &str> = [("https_proxy", "http://[::1")].into();
        let env = ProxyConfig {
            proxy_from_environment: true,
            ..Default::default()
        };
        let e = build_with_env(&env, "", |k| vars.get(k).map(|v| v.to_string())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "proxy_from_environment: HTTPS_PROXY is not a valid proxy URL"
        );
    }
}
