//! `HttpClient`: a reqwest client built from an `HttpClientConfig`, plus the
//! configured authentication added to each request it sends.

use crate::auth::Auth;
use crate::error::Error;
use crate::reload::Reloader;
use profcol_config::HttpClientConfig;
use reqwest::header::AUTHORIZATION;
use reqwest::redirect::Policy;
use reqwest::{Method, RequestBuilder, Response, Url};
use std::sync::Arc;

/// Redirects followed when `follow_redirects` is on (Go's limit).
const MAX_REDIRECTS: usize = 10;

/// What the embedding component decides rather than the user's config.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Sent as `User-Agent`, e.g. `profcol/0.1.0`.
    pub user_agent: String,
}

/// How many idle keep-alive connections the client keeps, and for how long.
/// The default is reqwest's (any number per host, 90 s). A scraper with
/// thousands of targets wants fewer: every idle connection is a descriptor
/// on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Idle connections kept per host (`scheme://host:port`).
    pub max_idle_per_host: usize,
    /// An idle connection is closed after this long.
    pub idle_timeout: std::time::Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_idle_per_host: usize::MAX,
            idle_timeout: std::time::Duration::from_secs(90),
        }
    }
}

/// A configured client; cheap to clone (all clones share one connection pool
/// and one oauth2 token cache).
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    /// Set when `tls_config` names files that may be rotated.
    reload: Option<Reloader>,
    cfg: HttpClientConfig,
    user_agent: String,
    pool: PoolOptions,
    auth: Auth,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Auth's Debug shows only kinds and file paths, never values.
        f.debug_struct("HttpClient")
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client. Files named by `tls_config` are read now and
    /// checked for changes on every request (the client is rebuilt when they
    /// change); credential files (`bearer_token_file`, `password_file`,
    /// `credentials_file`, `client_secret_file`) are read on every request.
    pub fn new(cfg: &HttpClientConfig, opts: &ClientOptions) -> Result<HttpClient, Error> {
        Self::with_pool(cfg, opts, PoolOptions::default())
    }

    /// [`HttpClient::new`] with a bounded keep-alive pool.
    pub fn with_pool(
        cfg: &HttpClientConfig,
        opts: &ClientOptions,
        pool: PoolOptions,
    ) -> Result<HttpClient, Error> {
        let client = build(cfg, &opts.user_agent, pool)?;
        let auth = Auth::from_config(cfg, &opts.user_agent)?;
        let files = cfg
            .tls_config
            .iter()
            .flat_map(|t| [&t.ca_file, &t.cert_file, &t.key_file])
            .flatten()
            .filter(|f| !f.is_empty())
            .cloned()
            .collect();
        Ok(HttpClient {
            inner: Arc::new(Inner {
                reload: Reloader::new(files, client.clone()),
                client,
                cfg: cfg.clone(),
                user_agent: opts.user_agent.clone(),
                pool,
                auth,
            }),
        })
    }

    /// The reqwest client to use now (rebuilt if TLS files changed).
    async fn current(&self) -> reqwest::Client {
        match &self.inner.reload {
            Some(r) => {
                r.current(|| build(&self.inner.cfg, &self.inner.user_agent, self.inner.pool))
                    .await
            }
            None => self.inner.client.clone(),
        }
    }

    /// A request builder on the inner reqwest client (no auth yet).
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.inner.client.request(method, url)
    }

    /// Adds the configured auth and sends. Credential files are re-read on
    /// every call so rotated secrets take effect without a restart; an oauth2
    /// token is fetched and cached until shortly before it expires. A request
    /// that already carries an `Authorization` header keeps it.
    pub async fn send(&self, req: RequestBuilder) -> Result<Response, Error> {
        let (_, req) = req.build_split();
        let mut req = req.map_err(Error::Request)?;
        if !req.headers().contains_key(AUTHORIZATION) {
            if let Some(value) = self.inner.auth.header().await? {
                req.headers_mut().insert(AUTHORIZATION, value);
            }
        }
        self.current()
            .await
            .execute(req)
            .await
            .map_err(Error::Request)
    }
}

fn build(
    cfg: &HttpClientConfig,
    user_agent: &str,
    pool: PoolOptions,
) -> Result<reqwest::Client, Error> {
    let tls = crate::tls::client_config(cfg.tls_config.as_ref(), "tls_config", cfg.enable_http2)?;
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(user_agent)
        .redirect(if cfg.follow_redirects {
            Policy::limited(MAX_REDIRECTS)
        } else {
            Policy::none()
        })
        .no_proxy()
        .pool_max_idle_per_host(pool.max_idle_per_host)
        .pool_idle_timeout(pool.idle_timeout);
    if !cfg.enable_http2 {
        builder = builder.http1_only();
    }
    for proxy in crate::proxy::build(&cfg.proxy(), "")? {
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(Error::Build)
}
