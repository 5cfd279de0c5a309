//! `lienthong lookup get`: one call to a lookup API, the answer printed as protobuf JSON — for
//! integrators trying their access and for operators checking what a partner sees.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use lienthong_proto::v1::lookup_service_client::LookupServiceClient;
use lienthong_proto::v1::{
    GetAdministrativeUnitRequest, GetCivilServantRequest, GetPersonRequest,
    get_civil_servant_request,
};
use prost::Message;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// What to look up, and as whom.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The lookup API's address.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:50061")]
    pub server: String,
    /// The partner's bearer token (or the LIENTHONG_LOOKUP_TOKEN environment variable).
    #[arg(long, env = "LIENTHONG_LOOKUP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Why the data is needed; recorded in the audit log. Must be a purpose the partner's
    /// policy accepts.
    #[arg(long)]
    pub purpose: String,
    /// CA certificate (PEM) to verify an https:// server with.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub subject: Subject,
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Subject {
    /// A person by personal ID (GetPerson).
    #[arg(long, value_name = "ID")]
    pub person: Option<String>,
    /// A civil servant by personal ID (GetCivilServant).
    #[arg(long = "civil-servant", value_name = "ID")]
    pub civil_servant: Option<String>,
    /// An administrative unit by code (GetAdministrativeUnit).
    #[arg(long, value_name = "CODE")]
    pub unit: Option<String>,
}

async fn channel(args: &GetArgs) -> anyhow::Result<tonic::transport::Channel> {
    let mut endpoint = Endpoint::from_shared(args.server.clone())
        .with_context(|| format!("--server {}", args.server))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30));
    if args.server.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        if let Some(ca) = &args.ca {
            let pem = std::fs::read(ca).with_context(|| format!("--ca {}", ca.display()))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        } else {
            tls = tls.with_enabled_roots();
        }
        if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
            let cert = std::fs::read(cert).with_context(|| format!("--cert {}", cert.display()))?;
            let key = std::fs::read(key).with_context(|| format!("--key {}", key.display()))?;
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        endpoint = endpoint.tls_config(tls)?;
    }
    endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach the lookup API at {}", args.server))
}

fn request<T>(message: T, token: Option<&str>) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .context("the token is not a valid header value")?,
        );
    }
    Ok(request)
}

/// The message as canonical protobuf JSON.
fn to_json<M: Message>(message: &M, name: &str) -> anyhow::Result<String> {
    let pool = prost_reflect::DescriptorPool::decode(lienthong_proto::FILE_DESCRIPTOR_SET)?;
    let descriptor = pool
        .get_message_by_name(name)
        .with_context(|| format!("{name} is not in the descriptor set"))?;
    let dynamic =
        prost_reflect::DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())?;
    Ok(serde_json::to_string_pretty(&dynamic)?)
}

pub async fn run(args: GetArgs) -> anyhow::Result<ExitCode> {
    let mut client = match channel(&args).await {
        Ok(channel) => LookupServiceClient::new(channel),
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(super::exit_dependency());
        }
    };
    let token = args.token.as_deref();
    let purpose = args.purpose.clone();
    let subject = &args.subject;
    let answer = if let Some(id) = &subject.person {
        let call = GetPersonRequest {
            personal_id: id.clone(),
            purpose,
        };
        client
            .get_person(request(call, token)?)
            .await
            .map(|r| to_json(r.get_ref(), "lienthong.v1.GetPersonResponse"))
    } else if let Some(id) = &subject.civil_servant {
        let call = GetCivilServantRequest {
            subject: Some(get_civil_servant_request::Subject::PersonalId(id.clone())),
            purpose,
        };
        client
            .get_civil_servant(request(call, token)?)
            .await
            .map(|r| to_json(r.get_ref(), "lienthong.v1.GetCivilServantResponse"))
    } else {
        let call = GetAdministrativeUnitRequest {
            code: subject.unit.clone().unwrap_or_default(),
            purpose,
            ..Default::default()
        };
        client
            .get_administrative_unit(request(call, token)?)
            .await
            .map(|r| to_json(r.get_ref(), "lienthong.v1.GetAdministrativeUnitResponse"))
    };
    match answer {
        Ok(json) => {
            use std::io::Write as _;
            // A reader that stops early (`| head`) is not an error of ours.
            match writeln!(std::io::stdout().lock(), "{}", json?) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Err(status) => {
            eprintln!(
                "error: {:?}: {}",
                status.code(),
                if status.message().is_empty() {
                    status.code().description()
                } else {
                    status.message()
                }
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
