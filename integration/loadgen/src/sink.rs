//! An OTLP gRPC `ProfilesService/Export` sink that only counts.
//!
//! It decodes requests into skeleton messages that keep the nesting
//! (request → resource profiles → scope profiles → profiles → samples) and
//! skip everything else, dictionary included: the sink shares two cores with
//! profcol, so it must cost far less than what it measures.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tonic::codegen::{http, BoxFuture, Context, Poll, Service};
use tonic::server::{Grpc, NamedService, UnaryService};

/// `opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest`,
/// only `resource_profiles` (field 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LiteRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_profiles: Vec<LiteResource>,
}

/// `ResourceProfiles`, only `scope_profiles` (field 2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LiteResource {
    #[prost(message, repeated, tag = "2")]
    pub scope_profiles: Vec<LiteScope>,
}

/// `ScopeProfiles`, only `profiles` (field 2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LiteScope {
    #[prost(message, repeated, tag = "2")]
    pub profiles: Vec<LiteProfile>,
}

/// `Profile`, only `samples` (field 2), each kept as an empty message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LiteProfile {
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<LiteSample>,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct LiteSample {}

/// The empty `ExportProfilesServiceResponse` (no partial success).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct LiteResponse {}

/// Running totals; the report snapshots them at the window's edges.
#[derive(Default, Debug)]
pub struct SinkStats {
    pub requests: AtomicU64,
    /// One per label set in a request (profiles of one target that share
    /// a request share one).
    pub resource_profiles: AtomicU64,
    /// One per scraped pprof profile (profcol writes one `ScopeProfiles`
    /// per pprof).
    pub scope_profiles: AtomicU64,
    /// One per pprof sample type.
    pub otlp_profiles: AtomicU64,
    pub samples: AtomicU64,
}

/// Copy of [`SinkStats`] at one instant.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct SinkSnapshot {
    pub requests: u64,
    pub resource_profiles: u64,
    pub scope_profiles: u64,
    pub otlp_profiles: u64,
    pub samples: u64,
}

impl SinkStats {
    pub fn snapshot(&self) -> SinkSnapshot {
        SinkSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            resource_profiles: self.resource_profiles.load(Ordering::Relaxed),
            scope_profiles: self.scope_profiles.load(Ordering::Relaxed),
            otlp_profiles: self.otlp_profiles.load(Ordering::Relaxed),
            samples: self.samples.load(Ordering::Relaxed),
        }
    }
}

impl SinkSnapshot {
    pub fn minus(self, o: SinkSnapshot) -> SinkSnapshot {
        SinkSnapshot {
            requests: self.requests.saturating_sub(o.requests),
            resource_profiles: self.resource_profiles.saturating_sub(o.resource_profiles),
            scope_profiles: self.scope_profiles.saturating_sub(o.scope_profiles),
            otlp_profiles: self.otlp_profiles.saturating_sub(o.otlp_profiles),
            samples: self.samples.saturating_sub(o.samples),
        }
    }
}

const EXPORT_PATH: &str =
    "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export";

#[derive(Clone)]
struct Sink {
    stats: Arc<SinkStats>,
}

struct Export(Arc<SinkStats>);

impl UnaryService<LiteRequest> for Export {
    type Response = LiteResponse;
    type Future = std::future::Ready<Result<tonic::Response<LiteResponse>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<LiteRequest>) -> Self::Future {
        let req = request.into_inner();
        let (mut scopes, mut profiles, mut samples) = (0u64, 0u64, 0u64);
        for r in &req.resource_profiles {
            scopes += r.scope_profiles.len() as u64;
            for s in &r.scope_profiles {
                profiles += s.profiles.len() as u64;
                samples += s
                    .profiles
                    .iter()
                    .map(|p| p.samples.len() as u64)
                    .sum::<u64>();
            }
        }
        let st = &self.0;
        st.requests.fetch_add(1, Ordering::Relaxed);
        st.resource_profiles
            .fetch_add(req.resource_profiles.len() as u64, Ordering::Relaxed);
        st.scope_profiles.fetch_add(scopes, Ordering::Relaxed);
        st.otlp_profiles.fetch_add(profiles, Ordering::Relaxed);
        st.samples.fetch_add(samples, Ordering::Relaxed);
        std::future::ready(Ok(tonic::Response::new(LiteResponse {})))
    }
}

impl<B> Service<http::Request<B>> for Sink
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let stats = self.stats.clone();
        if req.uri().path() != EXPORT_PATH {
            return Box::pin(async move {
                Ok(tonic::Status::unimplemented("only ProfilesService/Export").into_http())
            });
        }
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<LiteResponse, LiteRequest>::default();
            let mut grpc = Grpc::new(codec)
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                .accept_compressed(tonic::codec::CompressionEncoding::Zstd)
                .max_decoding_message_size(1 << 30);
            Ok(grpc.unary(Export(stats), req).await)
        })
    }
}

impl NamedService for Sink {
    const NAME: &'static str =
        "opentelemetry.proto.collector.profiles.v1development.ProfilesService";
}

/// Binds 127.0.0.1:`port` (0 = any) and serves the sink until the process ends.
pub async fn start(port: u16, stats: Arc<SinkStats>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let svc = Sink { stats };
    tokio::spawn(async move {
        let r = tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await;
        if let Err(e) = r {
            eprintln!("loadgen: sink stopped: {e}");
        }
    });
    Ok(addr)
}
