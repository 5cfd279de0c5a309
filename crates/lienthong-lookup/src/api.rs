//! The gRPC services: `LookupService`, `CodeListService` and `ResolveService` (delegated to the
//! resolver). Every call is authenticated (client certificate or bearer token), checked against
//! the caller's sharing policy, filtered to the granted fields and audited before it answers.
//!
//! Status codes: UNAUTHENTICATED without valid credentials; PERMISSION_DENIED when the policy
//! does not grant the entity or the purpose; INVALID_ARGUMENT with a `BadRequest` detail naming
//! the field; NOT_FOUND; UNAVAILABLE when the store, the audit log or the resolver cannot be
//! reached (no data leaves without its audit record).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::Stream;
use lienthong_audit::AuditEvent;
use lienthong_policy::{Entity, Grant, Policies, PolicySet};
use lienthong_proto::v1 as pb;
use lienthong_proto::v1::code_list_service_server::CodeListService;
use lienthong_proto::v1::lookup_service_server::LookupService;
use lienthong_proto::v1::resolve_service_server::ResolveService;
use lienthong_runtime::Metrics;
use lienthong_runtime::grpc::Credentials;
use lienthong_store::{CivilServantQuery, Store, Subject};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::audit::Auditor;
use crate::resolver::ResolverClient;
use crate::units::{self, UnitError, Units};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

/// `lienthong_lookup_calls_total{method,result}` and `lienthong_lookup_call_seconds{method}`.
#[derive(Debug, Clone)]
pub struct LookupMetrics {
    calls: Family<CallLabels, Counter>,
    seconds: Family<MethodLabels, Histogram>,
}

impl LookupMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let calls = Family::<CallLabels, Counter>::default();
        let seconds = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0,
            ])
        });
        metrics.register(
            "lookup_calls",
            "Lookup API calls, by method and result (ok, not_found, permission_denied, ...)",
            calls.clone(),
        );
        metrics.register(
            "lookup_call_seconds",
            "Lookup API call duration, audit included",
            seconds.clone(),
        );
        Self { calls, seconds }
    }

    /// `method` is the full gRPC path; the label is its last part (`GetPerson`).
    fn observe(&self, method: &str, result: &str, started: Instant) {
        let method = method.rsplit('/').next().unwrap_or(method);
        self.calls
            .get_or_create(&CallLabels {
                method: method.to_owned(),
                result: result.to_owned(),
            })
            .inc();
        self.seconds
            .get_or_create(&MethodLabels {
                method: method.to_owned(),
            })
            .observe(started.elapsed().as_secs_f64());
    }

    /// Calls counted so far for `method` with `result`.
    pub fn calls(&self, method: &str, result: &str) -> u64 {
        self.calls
            .get_or_create(&CallLabels {
                method: method.to_owned(),
                result: result.to_owned(),
            })
            .get()
    }
}

/// The result label and audit result of a status code.
fn result_of(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::NotFound => "not_found",
        Code::PermissionDenied => "permission_denied",
        Code::Unauthenticated => "unauthenticated",
        Code::InvalidArgument => "invalid_argument",
        Code::Unavailable => "unavailable",
        Code::DeadlineExceeded => "deadline_exceeded",
        _ => "error",
    }
}

fn bad_request(field: &str, message: impl Into<String>) -> Status {
    let message = message.into();
    Status::with_error_details(
        Code::InvalidArgument,
        format!("{field}: {message}"),
        ErrorDetails::with_bad_request_violation(field, message),
    )
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> Status {
    tracing::warn!(%error, "{what} unavailable");
    Status::unavailable(format!("{what} is unavailable, try again later"))
}

/// The partner recorded in the audit log for a caller no policy recognised.
pub const UNAUTHENTICATED_CALLER: &str = "(unauthenticated)";

/// One call in progress: who asked, what for, and what it will be audited with.
struct Call {
    method: &'static str,
    started: Instant,
    /// The policy set the call was authenticated with (a reload during the call does not
    /// change what it may see) and the caller's partner id (empty before authentication).
    policies: Arc<PolicySet>,
    partner: String,
    subject: Option<String>,
    purpose: String,
    fields: Vec<String>,
    detail: String,
}

/// What the caller's policy grants of `entity` for the call's purpose.
fn authorize<'a>(
    policies: &'a PolicySet,
    call: &Call,
    entity: Entity,
) -> Result<Grant<'a>, Status> {
    let partner = policies
        .partner(&call.partner)
        .ok_or_else(|| Status::permission_denied("the caller has no sharing policy"))?;
    partner
        .authorize(entity, &call.purpose)
        .map_err(|denied| Status::permission_denied(denied.to_string()))
}

#[derive(Debug)]
struct Inner {
    store: Store,
    policies: Arc<Policies>,
    auditor: Auditor,
    units: Units,
    resolver: Option<ResolverClient>,
    max_page_size: u32,
    metrics: LookupMetrics,
}

/// The lookup services over one store, policy set, audit log and resolver.
#[derive(Debug, Clone)]
pub struct LookupApi {
    inner: Arc<Inner>,
}

impl LookupApi {
    pub fn new(
        store: Store,
        policies: Arc<Policies>,
        auditor: Auditor,
        units: Units,
        resolver: Option<ResolverClient>,
        max_page_size: u32,
        metrics: LookupMetrics,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                policies,
                auditor,
                units,
                resolver,
                max_page_size,
                metrics,
            }),
        }
    }

    /// Authenticates the caller of `request`. An unauthenticated call is audited and refused.
    async fn begin<T>(&self, method: &'static str, request: &Request<T>) -> Result<Call, Status> {
        let credentials = Credentials::of(request);
        let policies = self.inner.policies.current();
        let partner = if !credentials.certificate_names.is_empty() {
            policies.by_certificate(&credentials.certificate_names)
        } else if let Some(token) = &credentials.bearer_token {
            policies.by_token(token)
        } else {
            None
        }
        .map(|p| p.id().to_owned());
        let mut call = Call {
            method,
            started: Instant::now(),
            policies,
            partner: partner.clone().unwrap_or_default(),
            subject: None,
            purpose: String::new(),
            fields: Vec::new(),
            detail: String::new(),
        };
        match partner {
            Some(_) => Ok(call),
            None => {
                let why = if credentials.is_empty() {
                    "no client certificate or bearer token"
                } else {
                    "the credentials belong to no partner"
                };
                call.detail = why.to_owned();
                let refused: Result<(), Status> = Err(Status::unauthenticated(why));
                // UNAUTHENTICATED, or UNAVAILABLE when even the refusal cannot be audited.
                Err(self
                    .finish(call, refused)
                    .await
                    .err()
                    .unwrap_or_else(|| Status::unauthenticated(why)))
            }
        }
    }

    /// Audits the call with its outcome and answers. A call whose audit record cannot be
    /// written answers UNAVAILABLE instead of its data.
    async fn finish<T>(
        &self,
        call: Call,
        outcome: Result<T, Status>,
    ) -> Result<Response<T>, Status> {
        let code = outcome.as_ref().map_or_else(Status::code, |_| Code::Ok);
        let result = result_of(code);
        let event = AuditEvent {
            // Partner ids are lower-case letters, digits, '-' and '_': this cannot be one.
            partner: if call.partner.is_empty() {
                UNAUTHENTICATED_CALLER.to_owned()
            } else {
                call.partner.clone()
            },
            method: call.method.to_owned(),
            subject: call.subject.clone(),
            fields: if code == Code::Ok {
                call.fields.clone()
            } else {
                Vec::new()
            },
            purpose: call.purpose.clone(),
            result: result.to_owned(),
            detail: match &outcome {
                Err(status) if call.detail.is_empty() => status.message().to_owned(),
                _ => call.detail.clone(),
            },
            at: chrono::Utc::now(),
        };
        let answer = match self.inner.auditor.record(event).await {
            Ok(()) => outcome.map(Response::new),
            Err(e) => Err(unavailable("the audit log", e)),
        };
        let final_code = answer.as_ref().map_or_else(Status::code, |_| Code::Ok);
        self.inner
            .metrics
            .observe(call.method, result_of(final_code), call.started);
        answer
    }

    fn purpose(call: &mut Call, purpose: &str) -> Result<(), Status> {
        let purpose = purpose.trim();
        if purpose.is_empty() {
            return Err(bad_request(
                "purpose",
                "required: why the data is needed (recorded in the audit log)",
            ));
        }
        call.purpose = purpose.to_owned();
        Ok(())
    }

    async fn get_person_inner(
        &self,
        call: &mut Call,
        request: pb::GetPersonRequest,
    ) -> Result<pb::GetPersonResponse, Status> {
        let personal_id = personal_id(&request.personal_id)?;
        call.subject = Some(personal_id.clone());
        Self::purpose(call, &request.purpose)?;
        let policies = call.policies.clone();
        let grant = authorize(&policies, call, Entity::Person)?;
        let person = self
            .inner
            .store
            .person(&personal_id)
            .await
            .map_err(|e| unavailable("the store", e))?;
        let Some(view) = person else {
            return Err(Status::not_found(format!(
                "no person with personal ID {personal_id}"
            )));
        };
        let mut resolved = pb::ResolvedPerson {
            record: Some(view.person),
            resolution: view.resolution,
        };
        let masked_fields = grant.apply(&mut resolved);
        call.fields = grant.fields();
        Ok(pb::GetPersonResponse {
            person: resolved.record,
            resolution: resolved.resolution,
            redirected_from: view.redirected_from.unwrap_or_default(),
            masked_fields,
        })
    }

    async fn get_civil_servant_inner(
        &self,
        call: &mut Call,
        request: pb::GetCivilServantRequest,
    ) -> Result<pb::GetCivilServantResponse, Status> {
        use pb::get_civil_servant_request::Subject as Asked;
        let subject = match request.subject {
            Some(Asked::PersonalId(id)) => {
                let id = personal_id(&id)?;
                call.subject = Some(id.clone());
                Subject::PersonalId(id)
            }
            Some(Asked::RecordId(id)) if !id.trim().is_empty() => {
                call.detail = format!("record_id={}", id.trim());
                Subject::RecordId(id.trim().to_owned())
            }
            Some(Asked::RecordId(_)) => return Err(bad_request("record_id", "must not be empty")),
            None => {
                return Err(bad_request("subject", "required: personal_id or record_id"));
            }
        };
        Self::purpose(call, &request.purpose)?;
        let policies = call.policies.clone();
        let grant = authorize(&policies, call, Entity::CivilServant)?;
        let found = self
            .inner
            .store
            .civil_servant(&subject)
            .await
            .map_err(|e| unavailable("the store", e))?;
        let Some(view) = found else {
            return Err(Status::not_found("no such civil servant"));
        };
        if call.subject.is_none() {
            let person = view.civil_servant.person.as_ref();
            call.subject = person
                .map(|p| p.personal_id.clone())
                .filter(|id| !id.is_empty());
        }
        let mut resolved = pb::ResolvedCivilServant {
            record: Some(view.civil_servant),
            resolution: view.resolution,
        };
        let masked_fields = grant.apply(&mut resolved);
        call.fields = grant.fields();
        Ok(pb::GetCivilServantResponse {
            civil_servant: resolved.record,
            resolution: resolved.resolution,
            masked_fields,
        })
    }

    async fn search_inner(
        &self,
        call: &mut Call,
        request: pb::SearchCivilServantsRequest,
    ) -> Result<pb::SearchCivilServantsResponse, Status> {
        Self::purpose(call, &request.purpose)?;
        let page_size = match request.page_size {
            0 => 50,
            n if n < 0 || n as u32 > self.inner.max_page_size => {
                return Err(bad_request(
                    "page_size",
                    format!("must be between 1 and {}", self.inner.max_page_size),
                ));
            }
            n => n as u32,
        };
        let birth_date = match request.birth_date {
            Some(d) if d != pb::Date::default() => Some(
                chrono::NaiveDate::from_ymd_opt(d.year, d.month as u32, d.day as u32)
                    .ok_or_else(|| bad_request("birth_date", "not a valid calendar date"))?,
            ),
            _ => None,
        };
        let name = request.name.trim();
        let organisation = request.organisation_id.trim();
        if name.is_empty() && organisation.is_empty() && birth_date.is_none() {
            return Err(bad_request(
                "organisation_id",
                "a search needs at least one of organisation_id, name, birth_date",
            ));
        }
        let query = CivilServantQuery {
            organisation_id: (!organisation.is_empty()).then(|| organisation.to_owned()),
            name_prefix: (!name.is_empty()).then(|| name.to_owned()),
            birth_date,
            page_size,
            page_token: (!request.page_token.is_empty()).then_some(request.page_token),
        };
        call.detail = format!(
            "organisation_id={organisation} name={name} birth_date={}",
            birth_date.map(|d| d.to_string()).unwrap_or_default()
        );
        let policies = call.policies.clone();
        let grant = authorize(&policies, call, Entity::CivilServant)?;
        let page = self
            .inner
            .store
            .search_civil_servants(&query)
            .await
            .map_err(|e| match e {
                lienthong_store::StoreError::InvalidPageToken => {
                    bad_request("page_token", "not a token this service issued")
                }
                e => unavailable("the store", e),
            })?;
        let mut masked = std::collections::BTreeSet::new();
        let civil_servants = page
            .items
            .into_iter()
            .map(|view| {
                let mut resolved = pb::ResolvedCivilServant {
                    record: Some(view.civil_servant),
                    resolution: None,
                };
                masked.extend(grant.apply(&mut resolved));
                resolved.record.unwrap_or_default()
            })
            .collect::<Vec<_>>();
        call.fields = grant.fields();
        call.detail = format!("{} results; {}", civil_servants.len(), call.detail);
        Ok(pb::SearchCivilServantsResponse {
            civil_servants,
            next_page_token: page.next_page_token.unwrap_or_default(),
            masked_fields: masked.into_iter().collect(),
        })
    }

    fn unit_inner(
        call: &mut Call,
        units: &Units,
        request: &pb::GetAdministrativeUnitRequest,
    ) -> Result<pb::GetAdministrativeUnitResponse, Status> {
        Self::purpose(call, &request.purpose)?;
        call.detail = format!("code={} code_system={}", request.code, request.code_system);
        let day = units::as_of(request.as_of.as_ref())
            .map_err(|e| bad_request("as_of", e.to_string()))?;
        let policies = call.policies.clone();
        let grant = authorize(&policies, call, Entity::AdministrativeUnit)?;
        call.fields = grant.fields();
        units
            .unit(&request.code, &request.code_system, day)
            .map_err(unit_status)
    }

    async fn resolve_inner(
        &self,
        call: &mut Call,
        request: pb::ResolveRequest,
        deadline: Option<std::time::Duration>,
    ) -> Result<pb::ResolveResponse, Status> {
        let stated = request
            .person
            .as_ref()
            .map(|p| p.personal_id.trim().to_owned())
            .filter(|id| !id.is_empty());
        call.subject = stated;
        Self::purpose(call, &request.purpose)?;
        if request.person.is_none() {
            return Err(bad_request("person", "required"));
        }
        let policies = call.policies.clone();
        call.fields = authorize(&policies, call, Entity::Person)?.fields();
        let Some(mut client) = self.inner.resolver.clone() else {
            return Err(Status::unavailable(
                "identity resolution is not configured on this server ([lookup] resolver)",
            ));
        };
        let mut forwarded = Request::new(request);
        if let Some(deadline) = deadline {
            forwarded.set_timeout(deadline);
        }
        match client.resolve(forwarded).await {
            Ok(answer) => Ok(answer.into_inner()),
            Err(status) if status.code() == Code::InvalidArgument => Err(status),
            Err(status) => Err(unavailable("the resolver", status.message())),
        }
    }
}

/// A 12-digit personal ID, or INVALID_ARGUMENT saying what is wrong with it.
fn personal_id(raw: &str) -> Result<String, Status> {
    let raw = raw.trim();
    lienthong_vietnamese::pin::PersonalId::parse(raw)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| bad_request("personal_id", e.to_string()))
}

fn unit_status(error: UnitError) -> Status {
    match error {
        UnitError::NotFound { .. } => Status::not_found(error.to_string()),
        UnitError::MissingCode => bad_request("code", error.to_string()),
        UnitError::InvalidDate => bad_request("as_of", error.to_string()),
        UnitError::NotAUnitSystem(_) | UnitError::UnknownSystem(_) => {
            bad_request("code_system", error.to_string())
        }
    }
}

/// The caller's deadline from the `grpc-timeout` header.
fn deadline_of<T>(request: &Request<T>) -> Option<std::time::Duration> {
    let value = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => std::time::Duration::from_secs(amount * 3600),
        "M" => std::time::Duration::from_secs(amount * 60),
        "S" => std::time::Duration::from_secs(amount),
        "m" => std::time::Duration::from_millis(amount),
        "u" => std::time::Duration::from_micros(amount),
        "n" => std::time::Duration::from_nanos(amount),
        _ => return None,
    })
}

#[tonic::async_trait]
impl LookupService for LookupApi {
    async fn get_person(
        &self,
        request: Request<pb::GetPersonRequest>,
    ) -> Result<Response<pb::GetPersonResponse>, Status> {
        let mut call = self
            .begin("lienthong.v1.LookupService/GetPerson", &request)
            .await?;
        let outcome = self.get_person_inner(&mut call, request.into_inner()).await;
        self.finish(call, outcome).await
    }

    async fn get_civil_servant(
        &self,
        request: Request<pb::GetCivilServantRequest>,
    ) -> Result<Response<pb::GetCivilServantResponse>, Status> {
        let mut call = self
            .begin("lienthong.v1.LookupService/GetCivilServant", &request)
            .await?;
        let outcome = self
            .get_civil_servant_inner(&mut call, request.into_inner())
            .await;
        self.finish(call, outcome).await
    }

    async fn search_civil_servants(
        &self,
        request: Request<pb::SearchCivilServantsRequest>,
    ) -> Result<Response<pb::SearchCivilServantsResponse>, Status> {
        let mut call = self
            .begin("lienthong.v1.LookupService/SearchCivilServants", &request)
            .await?;
        let outcome = self.search_inner(&mut call, request.into_inner()).await;
        self.finish(call, outcome).await
    }

    async fn get_administrative_unit(
        &self,
        request: Request<pb::GetAdministrativeUnitRequest>,
    ) -> Result<Response<pb::GetAdministrativeUnitResponse>, Status> {
        let mut call = self
            .begin("lienthong.v1.LookupService/GetAdministrativeUnit", &request)
            .await?;
        let outcome = Self::unit_inner(&mut call, &self.inner.units, request.get_ref());
        self.finish(call, outcome).await
    }
}

#[tonic::async_trait]
impl CodeListService for LookupApi {
    async fn list_code_lists(
        &self,
        request: Request<pb::ListCodeListsRequest>,
    ) -> Result<Response<pb::ListCodeListsResponse>, Status> {
        let call = self
            .begin("lienthong.v1.CodeListService/ListCodeLists", &request)
            .await?;
        let outcome = Ok(pb::ListCodeListsResponse {
            code_lists: self.inner.units.code_lists(),
        });
        self.finish(call, outcome).await
    }

    async fn get_code_list(
        &self,
        request: Request<pb::GetCodeListRequest>,
    ) -> Result<Response<pb::GetCodeListResponse>, Status> {
        let mut call = self
            .begin("lienthong.v1.CodeListService/GetCodeList", &request)
            .await?;
        let request = request.into_inner();
        call.detail = format!("code_system={}", request.code_system);
        let outcome = (|| {
            let as_of = match request.as_of {
                Some(d) if d != pb::Date::default() => {
                    Some(units::as_of(Some(&d)).map_err(|e| bad_request("as_of", e.to_string()))?)
                }
                _ => None,
            };
            let list = self
                .inner
                .units
                .code_list(&request.code_system, as_of)
                .map_err(|e| match e {
                    UnitError::UnknownSystem(_) => Status::not_found(e.to_string()),
                    e => unit_status(e),
                })?;
            Ok(pb::GetCodeListResponse {
                code_list: Some(list),
            })
        })();
        self.finish(call, outcome).await
    }

    async fn lookup_code(
        &self,
        request: Request<pb::LookupCodeRequest>,
    ) -> Result<Response<pb::LookupCodeResponse>, Status> {
        let mut call = self
            .begin("lienthong.v1.CodeListService/LookupCode", &request)
            .await?;
        let request = request.into_inner();
        call.detail = format!("code_system={} code={}", request.code_system, request.code);
        let outcome = units::as_of(request.as_of.as_ref())
            .map_err(|e| bad_request("as_of", e.to_string()))
            .and_then(|day| {
                self.inner
                    .units
                    .code(&request.code_system, &request.code, day)
                    .map_err(|e| match e {
                        UnitError::UnknownSystem(_) => Status::not_found(e.to_string()),
                        e => unit_status(e),
                    })
            });
        self.finish(call, outcome).await
    }
}

type ResolveStream = Pin<Box<dyn Stream<Item = Result<pb::ResolveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ResolveService for LookupApi {
    async fn resolve(
        &self,
        request: Request<pb::ResolveRequest>,
    ) -> Result<Response<pb::ResolveResponse>, Status> {
        let mut call = self
            .begin("lienthong.v1.ResolveService/Resolve", &request)
            .await?;
        let deadline = deadline_of(&request);
        let outcome = self
            .resolve_inner(&mut call, request.into_inner(), deadline)
            .await;
        self.finish(call, outcome).await
    }

    type ResolveBatchStream = ResolveStream;

    async fn resolve_batch(
        &self,
        request: Request<Streaming<pb::ResolveRequest>>,
    ) -> Result<Response<Self::ResolveBatchStream>, Status> {
        // Authenticate the stream once; every request in it is authorized and audited.
        let first = self
            .begin("lienthong.v1.ResolveService/ResolveBatch", &request)
            .await?;
        let (policies, partner) = (first.policies.clone(), first.partner.clone());
        let mut requests = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::ResolveResponse, Status>>(64);
        let api = self.clone();
        tokio::spawn(async move {
            loop {
                let next = match requests.message().await {
                    Ok(Some(request)) => {
                        let mut call = Call {
                            method: "lienthong.v1.ResolveService/ResolveBatch",
                            started: Instant::now(),
                            policies: policies.clone(),
                            partner: partner.clone(),
                            subject: None,
                            purpose: String::new(),
                            fields: Vec::new(),
                            detail: request.request_id.clone(),
                        };
                        let outcome = api.resolve_inner(&mut call, request, None).await;
                        api.finish(call, outcome).await.map(Response::into_inner)
                    }
                    Ok(None) => break,
                    Err(status) => Err(status),
                };
                let failed = next.is_err();
                if tx.send(next).await.is_err() || failed {
                    break;
                }
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_ids_are_checked_with_a_reason() {
        assert_eq!(personal_id(" 001099012345 ").unwrap(), "001099012345");
        let status = personal_id("0010990123").unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let violations = details.bad_request().unwrap().field_violations.clone();
        assert_eq!(violations[0].field, "personal_id");
    }

    #[test]
    fn grpc_timeouts_are_read_in_every_unit() {
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert("grpc-timeout", "250m".parse().unwrap());
        assert_eq!(
            deadline_of(&request),
            Some(std::time::Duration::from_millis(250))
        );
        request
            .metadata_mut()
            .insert("grpc-timeout", "3S".parse().unwrap());
        assert_eq!(
            deadline_of(&request),
            Some(std::time::Duration::from_secs(3))
        );
        request
            .metadata_mut()
            .insert("grpc-timeout", "x".parse().unwrap());
        assert_eq!(deadline_of(&request), None);
    }

    #[test]
    fn every_status_has_a_result_label() {
        assert_eq!(result_of(Code::Ok), "ok");
        assert_eq!(result_of(Code::PermissionDenied), "permission_denied");
        assert_eq!(result_of(Code::Internal), "error");
    }
}
