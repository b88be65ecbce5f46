//! The protocol's endpoints, implemented with the OpenTelemetry global API as an
//! application would use it.
//!
//! Datadog-style spans (`/trace/span/*`) are OTel spans carrying the reserved attributes of the
//! OTel → Datadog mapping: `operation.name` (the Datadog operation name), `resource.name`,
//! `service.name`, `span.type`, `error`, `manual.keep` / `manual.drop`.
//!
//! Spans and extracted contexts share one id space (a span id). The app keeps its own notion
//! of the current span: starting a span makes it current, finishing one makes its parent
//! current.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::baggage::BaggageExt;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{Link, SpanContext, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::http::Request;
use crate::install::Tracing;
use crate::json::{TagKind, attributes, flatten_tag, otel_value, text};

/// How long a `/trace/span/flush` waits for the agent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A span the app started, with the id of the span or context it was started under.
#[derive(Debug)]
struct SpanEntry {
    /// The span, plus the baggage set on it.
    cx: Context,
    parent: Option<u64>,
}

/// What the commands built so far.
#[derive(Debug, Default)]
struct State {
    spans: HashMap<u64, SpanEntry>,
    extracted: HashMap<u64, Context>,
    current: Option<u64>,
}

/// The server's state and the installed tracer.
#[derive(Debug)]
pub(crate) struct App {
    tracing: Tracing,
    tracer: BoxedTracer,
    state: Mutex<State>,
    /// Spans still open when a flush cleared the state: kept alive, so that they are never
    /// ended (a span the test never finished must not reach the agent later).
    abandoned: Mutex<Vec<Context>>,
    config_json: String,
}

/// A failed command: an HTTP status and a message (sent as `{"error": message}`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    status: u16,
    message: String,
}

impl Failure {
    /// A 400: the request is malformed.
    fn bad(message: impl Into<String>) -> Self {
        Failure {
            status: 400,
            message: message.into(),
        }
    }

    /// A 404: no span or context has this id.
    fn unknown(id: u64) -> Self {
        Failure {
            status: 404,
            message: format!("no span or extracted context with id {id}"),
        }
    }

    /// A 501: the request is valid but the OTel API cannot carry it out.
    fn unsupported(message: impl Into<String>) -> Self {
        Failure {
            status: 501,
            message: message.into(),
        }
    }
}

/// A handler's outcome: the JSON answer, or a failure.
type Handled = Result<String, Failure>;

/// The JSON body of an error answer.
pub(crate) fn error_body(message: &str) -> String {
    json!({ "error": message }).to_string()
}

/// The fields of a request body.
struct Args<'a>(&'a Map<String, Json>);

impl Args<'_> {
    /// The field `key`, `null` counting as absent.
    fn get(&self, key: &str) -> Option<&Json> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// An optional id field.
    fn opt_id(&self, key: &str) -> Result<Option<u64>, Failure> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| Failure::bad(format!("`{key}` must be an unsigned 64-bit integer"))),
        }
    }

    /// A required id field.
    fn id(&self, key: &str) -> Result<u64, Failure> {
        self.opt_id(key)?
            .ok_or_else(|| Failure::bad(format!("`{key}` is required")))
    }

    /// An optional string field.
    fn opt_str(&self, key: &str) -> Result<Option<&str>, Failure> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| Failure::bad(format!("`{key}` must be a string"))),
        }
    }

    /// A required string field.
    fn str(&self, key: &str) -> Result<&str, Failure> {
        self.opt_str(key)?
            .ok_or_else(|| Failure::bad(format!("`{key}` is required")))
    }

    /// `parent_id` of a start: absent, null or 0 (an invalid span id) means a new root.
    fn parent_id(&self) -> Result<Option<u64>, Failure> {
        Ok(self.opt_id("parent_id")?.filter(|id| *id != 0))
    }

    /// A timestamp in microseconds since the Unix epoch.
    fn opt_time(&self, key: &str) -> Result<Option<SystemTime>, Failure> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|us| Some(UNIX_EPOCH + Duration::from_micros(us)))
                .ok_or_else(|| {
                    Failure::bad(format!("`{key}` must be microseconds since the epoch"))
                }),
        }
    }

    /// An `attributes`-style object field as OTel key-values.
    fn attributes(&self, key: &str) -> Result<Vec<KeyValue>, Failure> {
        attributes(self.get(key)).map_err(Failure::bad)
    }
}

/// The ids of the span in `cx`, as the start and current-span answers give them.
#[derive(Debug, Serialize)]
struct SpanIds {
    span_id: u64,
    /// The full 128-bit trace id (the suite masks it to 64 bits).
    trace_id: u128,
}

impl SpanIds {
    /// The ids of the span in `cx`.
    fn of(cx: &Context) -> Self {
        let span = cx.span();
        let sc = span.span_context();
        SpanIds {
            span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
            trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
        }
    }

    /// `0`/`0`: no current span.
    fn none() -> Self {
        SpanIds {
            span_id: 0,
            trace_id: 0,
        }
    }

    /// The answer body.
    fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// Headers collected by an injection, names lower-case, in injection order.
#[derive(Debug, Default)]
struct HeaderInjector(Vec<(String, String)>);

impl Injector for HeaderInjector {
    fn set(&mut self, key: &str, value: String) {
        let key = key.to_ascii_lowercase();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }
}

/// Incoming headers; a name may repeat (all its values are kept), names match in any case.
#[derive(Debug)]
struct HeaderExtractor(Vec<(String, String)>);

impl Extractor for HeaderExtractor {
    /// The field `key`, `null` counting as absent.
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for (k, _) in &self.0 {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        keys
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let all: Vec<&str> = self
            .0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect();
        (!all.is_empty()).then_some(all)
    }
}

/// `cx` with its baggage changed by `edit` (items as key/value text).
fn edit_baggage(cx: &Context, edit: impl FnOnce(&mut Vec<(String, String)>)) -> Context {
    let mut items: Vec<(String, String)> = cx
        .baggage()
        .iter()
        .map(|(k, (v, _))| (k.as_str().to_owned(), v.as_str().to_owned()))
        .collect();
    edit(&mut items);
    cx.with_baggage(items.into_iter().map(|(k, v)| KeyValue::new(k, v)))
}

/// The exception type reported by `record_exception` (the request gives only a message).
#[derive(Debug)]
struct RecordedException;

impl App {
    /// The app over an installed tracer.
    pub(crate) fn new(tracing: Tracing) -> Self {
        let config_json = config_json(tracing.config());
        App {
            tracing,
            tracer: global::tracer("ddtrace-parametric"),
            state: Mutex::new(State::default()),
            abandoned: Mutex::new(Vec::new()),
            config_json,
        }
    }

    /// The state, even if a handler panicked while holding it.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers one request: a status and a JSON body.
    pub(crate) fn handle(&self, req: &Request) -> (u16, String) {
        type Handler = fn(&App, &Args<'_>) -> Handled;
        let (method, handler): (&str, Handler) = match req.path.as_str() {
            "/trace/span/start" => ("POST", App::span_start),
            "/trace/span/finish" => ("POST", App::span_finish),
            "/trace/span/current" => ("GET", App::current_span),
            "/trace/span/set_resource" => ("POST", App::span_set_resource),
            "/trace/span/set_meta" => ("POST", App::span_set_meta),
            "/trace/span/set_metric" => ("POST", App::span_set_metric),
            "/trace/span/set_baggage" => ("POST", App::span_set_baggage),
            "/trace/span/get_baggage" => ("GET", App::span_get_baggage),
            "/trace/span/get_all_baggage" => ("GET", App::span_get_all_baggage),
            "/trace/span/remove_baggage" => ("POST", App::span_remove_baggage),
            "/trace/span/remove_all_baggage" => ("POST", App::span_remove_all_baggage),
            "/trace/span/manual_keep" => ("POST", App::span_manual_keep),
            "/trace/span/manual_drop" => ("POST", App::span_manual_drop),
            "/trace/span/error" => ("POST", App::span_error),
            "/trace/span/add_link" => ("POST", App::span_add_link),
            "/trace/span/add_event" => ("POST", App::span_add_event),
            "/trace/span/inject_headers" => ("POST", App::inject_headers),
            "/trace/span/extract_headers" => ("POST", App::extract_headers),
            "/trace/span/flush" => ("POST", App::span_flush),
            "/trace/stats/flush" => ("POST", App::stats_flush),
            "/trace/config" => ("GET", App::config),
            "/trace/agent/ensure_agent_info" => ("GET", App::ensure_agent_info),
            "/trace/crash" => ("GET", App::crash),
            "/trace/otel/start_span" => ("POST", App::otel_start_span),
            "/trace/otel/end_span" => ("POST", App::otel_end_span),
            "/trace/otel/set_attributes" => ("POST", App::otel_set_attributes),
            "/trace/otel/set_name" => ("POST", App::otel_set_name),
            "/trace/otel/set_status" => ("POST", App::otel_set_status),
            "/trace/otel/add_event" => ("POST", App::otel_add_event),
            "/trace/otel/record_exception" => ("POST", App::otel_record_exception),
            "/trace/otel/is_recording" => ("POST", App::otel_is_recording),
            "/trace/otel/span_context" => ("POST", App::otel_span_context),
            "/trace/otel/current_span" => ("GET", App::current_span),
            "/trace/otel/flush" => ("POST", App::otel_flush),
            "/trace/otel/otel_set_baggage" => ("POST", App::otel_set_baggage),
            "/log/otel/flush" => ("POST", App::log_flush),
            _ => return (404, error_body(&format!("no endpoint {}", req.path))),
        };
        if req.method != method {
            return (
                405,
                error_body(&format!(
                    "{} expects {method}, got {}",
                    req.path, req.method
                )),
            );
        }
        let body: Json = if req.body.iter().all(u8::is_ascii_whitespace) {
            Json::Object(Map::new())
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => return (400, error_body(&format!("the body is not JSON: {e}"))),
            }
        };
        let Json::Object(fields) = &body else {
            return (400, error_body("the body must be a JSON object"));
        };
        match handler(self, &Args(fields)) {
            Ok(body) => (200, body),
            Err(f) => {
                log::warn!("{} failed ({}): {}", req.path, f.status, f.message);
                (f.status, error_body(&f.message))
            }
        }
    }

    /// The context stored under `id`: a span first, then an extracted context.
    fn context_of(st: &State, id: u64) -> Result<Context, Failure> {
        match st.spans.get(&id) {
            Some(e) => Ok(e.cx.clone()),
            None => st.extracted.get(&id).cloned().ok_or(Failure::unknown(id)),
        }
    }

    /// The context stored under `id`, to replace it.
    fn context_mut(st: &mut State, id: u64) -> Result<&mut Context, Failure> {
        match st.spans.get_mut(&id) {
            Some(e) => Ok(&mut e.cx),
            None => st.extracted.get_mut(&id).ok_or(Failure::unknown(id)),
        }
    }

    /// The parent context of a new span: a new root when `parent_id` is absent.
    fn parent_context(st: &State, parent_id: Option<u64>) -> Result<Context, Failure> {
        match parent_id {
            None => Ok(Context::new()),
            Some(id) => Self::context_of(st, id),
        }
    }

    /// The span context of a link target (a span or an extracted context).
    fn link_target(st: &State, id: u64) -> Result<SpanContext, Failure> {
        let cx = Self::context_of(st, id)?;
        let sc = cx.span().span_context().clone();
        Ok(sc)
    }

    /// Starts a span under `parent_id` and makes it current.
    fn start(
        &self,
        st: &mut State,
        parent_id: Option<u64>,
        builder: opentelemetry::trace::SpanBuilder,
    ) -> Result<Context, Failure> {
        let parent_cx = Self::parent_context(st, parent_id)?;
        let span = self.tracer.build_with_context(builder, &parent_cx);
        let cx = parent_cx.with_span(span);
        let ids = SpanIds::of(&cx);
        st.spans.insert(
            ids.span_id,
            SpanEntry {
                cx: cx.clone(),
                parent: parent_id,
            },
        );
        st.current = Some(ids.span_id);
        Ok(cx)
    }

    /// Runs `f` on the span `id` (a span the app started).
    fn with_span(&self, id: u64, f: impl FnOnce(&Context)) -> Handled {
        let st = self.lock();
        let entry = st.spans.get(&id).ok_or(Failure::unknown(id))?;
        f(&entry.cx);
        Ok("{}".to_owned())
    }

    /// Ends the span `id` (at `at`, or now) and makes its parent current.
    fn end(&self, id: u64, at: Option<SystemTime>) -> Handled {
        let mut st = self.lock();
        let entry = st.spans.get(&id).ok_or(Failure::unknown(id))?;
        match at {
            Some(t) => entry.cx.span().end_with_timestamp(t),
            None => entry.cx.span().end(),
        }
        let parent = entry.parent.filter(|p| st.spans.contains_key(p));
        st.current = parent;
        Ok("{}".to_owned())
    }

    // ---- Datadog-style spans ----

    /// Handles `POST /trace/span/start`.
    fn span_start(&self, a: &Args<'_>) -> Handled {
        let name = a.str("name")?.to_owned();
        let parent_id = a.parent_id()?;
        let mut attrs = vec![KeyValue::new("operation.name", name.clone())];
        for (field, key) in [
            ("service", "service.name"),
            ("resource", "resource.name"),
            ("type", "span.type"),
        ] {
            if let Some(v) = a.opt_str(field)?.filter(|v| !v.is_empty()) {
                attrs.push(KeyValue::new(key, v.to_owned()));
            }
        }
        match a.get("span_tags") {
            None => {}
            Some(Json::Array(tags)) => {
                for tag in tags {
                    let (Some(key), Some(value)) = (tag.get(0).and_then(Json::as_str), tag.get(1))
                    else {
                        return Err(Failure::bad(
                            "`span_tags` entries must be [key, value] pairs",
                        ));
                    };
                    if let Some(kvs) =
                        flatten_tag(key, value, TagKind::Meta).map_err(Failure::bad)?
                    {
                        attrs.extend(kvs);
                    }
                }
            }
            Some(_) => {
                return Err(Failure::bad(
                    "`span_tags` must be a list of [key, value] pairs",
                ));
            }
        }
        let builder = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_attributes(attrs);
        let mut st = self.lock();
        let cx = self.start(&mut st, parent_id, builder)?;
        Ok(SpanIds::of(&cx).json())
    }

    /// Handles `POST /trace/span/finish`.
    fn span_finish(&self, a: &Args<'_>) -> Handled {
        self.end(a.id("span_id")?, None)
    }

    /// Handles `GET /trace/span/current` and `GET /trace/otel/current_span`.
    fn current_span(&self, _a: &Args<'_>) -> Handled {
        let st = self.lock();
        let ids = st
            .current
            .and_then(|id| st.spans.get(&id))
            .map_or_else(SpanIds::none, |e| SpanIds::of(&e.cx));
        Ok(ids.json())
    }

    /// Handles `POST /trace/span/set_resource`.
    fn span_set_resource(&self, a: &Args<'_>) -> Handled {
        let resource = a.str("resource")?.to_owned();
        self.with_span(a.id("span_id")?, |cx| {
            cx.span()
                .set_attribute(KeyValue::new("resource.name", resource));
        })
    }

    /// `set_meta` / `set_metric`: flattened tags as attributes; a `null` value is a 501.
    fn set_tag(&self, a: &Args<'_>, kind: TagKind) -> Handled {
        let id = a.id("span_id")?;
        let key = a.str("key")?;
        let value = a.0.get("value").unwrap_or(&Json::Null);
        let Some(kvs) = flatten_tag(key, value, kind).map_err(Failure::bad)? else {
            return Err(Failure::unsupported(format!(
                "removing tag {key:?}: the OpenTelemetry span API cannot remove an attribute"
            )));
        };
        self.with_span(id, |cx| cx.span().set_attributes(kvs))
    }

    /// Handles `POST /trace/span/set_meta`.
    fn span_set_meta(&self, a: &Args<'_>) -> Handled {
        self.set_tag(a, TagKind::Meta)
    }

    /// Handles `POST /trace/span/set_metric`.
    fn span_set_metric(&self, a: &Args<'_>) -> Handled {
        self.set_tag(a, TagKind::Metric)
    }

    /// Handles `POST /trace/span/set_baggage`.
    fn span_set_baggage(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let key = a.str("key")?.to_owned();
        let value = a.str("value")?.to_owned();
        let mut st = self.lock();
        let cx = Self::context_mut(&mut st, id)?;
        *cx = edit_baggage(cx, |items| {
            items.retain(|(k, _)| *k != key);
            items.push((key, value));
        });
        Ok("{}".to_owned())
    }

    /// Handles `GET /trace/span/get_baggage`.
    fn span_get_baggage(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let key = a.str("key")?;
        let st = self.lock();
        let cx = Self::context_of(&st, id)?;
        let value = cx.baggage().get(key).map(|v| v.as_str().to_owned());
        Ok(json!({ "baggage": value }).to_string())
    }

    /// Handles `GET /trace/span/get_all_baggage`.
    fn span_get_all_baggage(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let st = self.lock();
        let cx = Self::context_of(&st, id)?;
        let all: Map<String, Json> = cx
            .baggage()
            .iter()
            .map(|(k, (v, _))| (k.as_str().to_owned(), Json::String(v.as_str().to_owned())))
            .collect();
        Ok(json!({ "baggage": all }).to_string())
    }

    /// Handles `POST /trace/span/remove_baggage`.
    fn span_remove_baggage(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let key = a.str("key")?;
        let mut st = self.lock();
        let cx = Self::context_mut(&mut st, id)?;
        *cx = edit_baggage(cx, |items| items.retain(|(k, _)| k != key));
        Ok("{}".to_owned())
    }

    /// Handles `POST /trace/span/remove_all_baggage`.
    fn span_remove_all_baggage(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let mut st = self.lock();
        let cx = Self::context_mut(&mut st, id)?;
        *cx = cx.with_cleared_baggage();
        Ok("{}".to_owned())
    }

    /// Handles `POST /trace/span/manual_keep`.
    fn span_manual_keep(&self, a: &Args<'_>) -> Handled {
        self.with_span(a.id("span_id")?, |cx| {
            cx.span().set_attribute(KeyValue::new("manual.keep", true));
        })
    }

    /// Handles `POST /trace/span/manual_drop`.
    fn span_manual_drop(&self, a: &Args<'_>) -> Handled {
        self.with_span(a.id("span_id")?, |cx| {
            cx.span().set_attribute(KeyValue::new("manual.drop", true));
        })
    }

    /// Handles `POST /trace/span/error`.
    fn span_error(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let mut attrs = vec![KeyValue::new("error", true)];
        for (field, key) in [
            ("type", "error.type"),
            ("message", "error.message"),
            ("stack", "error.stack"),
        ] {
            if let Some(v) = a.opt_str(field)? {
                attrs.push(KeyValue::new(key, v.to_owned()));
            }
        }
        self.with_span(id, |cx| cx.span().set_attributes(attrs))
    }

    /// Handles `POST /trace/span/add_link`.
    fn span_add_link(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let target = a.id("parent_id")?;
        let attrs = a.attributes("attributes")?;
        let st = self.lock();
        let sc = Self::link_target(&st, target)?;
        let entry = st.spans.get(&id).ok_or(Failure::unknown(id))?;
        entry.cx.span().add_link(sc, attrs);
        Ok("{}".to_owned())
    }

    /// Handles `POST /trace/span/add_event`.
    fn span_add_event(&self, a: &Args<'_>) -> Handled {
        self.add_event(a)
    }

    /// Handles `POST /trace/span/inject_headers`.
    fn inject_headers(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let cx = Self::context_of(&self.lock(), id)?;
        let mut headers = HeaderInjector::default();
        global::get_text_map_propagator(|p| p.inject_context(&cx, &mut headers));
        Ok(json!({ "http_headers": headers.0 }).to_string())
    }

    /// Handles `POST /trace/span/extract_headers`.
    fn extract_headers(&self, a: &Args<'_>) -> Handled {
        let Some(Json::Array(list)) = a.get("http_headers") else {
            return Err(Failure::bad(
                "`http_headers` must be a list of [name, value] pairs",
            ));
        };
        let mut headers = Vec::with_capacity(list.len());
        for pair in list {
            let (Some(name), Some(value)) = (
                pair.get(0).and_then(Json::as_str),
                pair.get(1).and_then(Json::as_str),
            ) else {
                return Err(Failure::bad(
                    "`http_headers` entries must be [name, value] strings",
                ));
            };
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
        let carrier = HeaderExtractor(headers);
        let cx =
            global::get_text_map_propagator(|p| p.extract_with_context(&Context::new(), &carrier));
        let sc = cx.span().span_context().clone();
        let mut st = self.lock();
        let id = if sc.is_valid() {
            u64::from_be_bytes(sc.span_id().to_bytes())
        } else {
            // No span context (baggage only, or a restarted/ignored trace): a fresh id that
            // still leads a later start to this context.
            loop {
                let id = ddtrace::model::SpanId::generate().get();
                if !st.spans.contains_key(&id) && !st.extracted.contains_key(&id) {
                    break id;
                }
            }
        };
        st.extracted.insert(id, cx);
        Ok(json!({ "span_id": id }).to_string())
    }

    /// Flushes the tracer, then forgets every span and context. Spans still open are kept
    /// alive unended (dropping them would end them).
    fn flush_and_clear(&self, timeout: Duration) -> Result<(), String> {
        let result = self.tracing.force_flush(timeout);
        let old = std::mem::take(&mut *self.lock());
        let open = old
            .spans
            .into_values()
            .filter(|e| e.cx.span().is_recording())
            .map(|e| e.cx);
        self.abandoned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(open);
        result
    }

    /// Handles `POST /trace/span/flush`.
    fn span_flush(&self, _a: &Args<'_>) -> Handled {
        self.flush_and_clear(FLUSH_TIMEOUT).map_err(|e| Failure {
            status: 500,
            message: format!("flush failed: {e}"),
        })?;
        Ok("{}".to_owned())
    }

    /// Handles `POST /trace/stats/flush`.
    fn stats_flush(&self, _a: &Args<'_>) -> Handled {
        // The library computes no client-side stats: nothing to flush.
        Ok("{}".to_owned())
    }

    /// Handles `GET /trace/config`.
    fn config(&self, _a: &Args<'_>) -> Handled {
        Ok(self.config_json.clone())
    }

    /// Handles `GET /trace/agent/ensure_agent_info`.
    fn ensure_agent_info(&self, _a: &Args<'_>) -> Handled {
        if self.tracing.wait_for_agent_info(FLUSH_TIMEOUT) {
            Ok(json!({ "ready": true }).to_string())
        } else {
            Err(Failure {
                status: 503,
                message: "the agent's /info has not been read yet".to_owned(),
            })
        }
    }

    /// Handles `GET /trace/crash`.
    fn crash(&self, _a: &Args<'_>) -> Handled {
        log::warn!("/trace/crash: aborting the process");
        std::process::abort()
    }

    // ---- OpenTelemetry spans ----

    /// Handles `POST /trace/otel/start_span`.
    fn otel_start_span(&self, a: &Args<'_>) -> Handled {
        let name = a.str("name")?.to_owned();
        let parent_id = a.parent_id()?;
        let kind = match a.get("span_kind").map(|k| k.as_u64()) {
            None | Some(Some(0)) => SpanKind::Internal,
            Some(Some(1)) => SpanKind::Server,
            Some(Some(2)) => SpanKind::Client,
            Some(Some(3)) => SpanKind::Producer,
            Some(Some(4)) => SpanKind::Consumer,
            Some(_) => return Err(Failure::bad("`span_kind` must be 0 to 4")),
        };
        let start = a.opt_time("timestamp")?;
        let attrs = a.attributes("attributes")?;
        let mut events = Vec::new();
        for event in list(a, "events")? {
            let e = Args(as_object(event, "events")?);
            let at = e.opt_time("timestamp")?.unwrap_or_else(SystemTime::now);
            events.push((e.str("name")?.to_owned(), at, e.attributes("attributes")?));
        }
        let mut st = self.lock();
        let mut links = Vec::new();
        for link in list(a, "links")? {
            let l = Args(as_object(link, "links")?);
            let sc = Self::link_target(&st, l.id("parent_id")?)?;
            links.push(Link::new(sc, l.attributes("attributes")?, 0));
        }
        let mut builder = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attrs)
            .with_links(links);
        if let Some(t) = start {
            builder = builder.with_start_time(t);
        }
        let cx = self.start(&mut st, parent_id, builder)?;
        for (name, at, attrs) in events {
            cx.span().add_event_with_timestamp(name, at, attrs);
        }
        Ok(SpanIds::of(&cx).json())
    }

    /// Handles `POST /trace/otel/end_span`.
    fn otel_end_span(&self, a: &Args<'_>) -> Handled {
        self.end(a.id("id")?, a.opt_time("timestamp")?)
    }

    /// Handles `POST /trace/otel/set_attributes`.
    fn otel_set_attributes(&self, a: &Args<'_>) -> Handled {
        let attrs = a.attributes("attributes")?;
        self.with_span(a.id("span_id")?, |cx| cx.span().set_attributes(attrs))
    }

    /// Handles `POST /trace/otel/set_name`.
    fn otel_set_name(&self, a: &Args<'_>) -> Handled {
        let name = a.str("name")?.to_owned();
        self.with_span(a.id("span_id")?, |cx| cx.span().update_name(name))
    }

    /// Handles `POST /trace/otel/set_status`.
    fn otel_set_status(&self, a: &Args<'_>) -> Handled {
        let code = a.str("code")?;
        let description = a.opt_str("description")?.unwrap_or_default().to_owned();
        let status = match code.to_ascii_uppercase().as_str() {
            "UNSET" => Status::Unset,
            "OK" => Status::Ok,
            "ERROR" => Status::error(description),
            _ => return Err(Failure::bad("`code` must be UNSET, OK or ERROR")),
        };
        self.with_span(a.id("span_id")?, |cx| cx.span().set_status(status))
    }

    /// `add_event` of either API (µs timestamp, now when absent).
    fn add_event(&self, a: &Args<'_>) -> Handled {
        let name = a.str("name")?.to_owned();
        let at = a.opt_time("timestamp")?.unwrap_or_else(SystemTime::now);
        let attrs = a.attributes("attributes")?;
        self.with_span(a.id("span_id")?, |cx| {
            cx.span().add_event_with_timestamp(name, at, attrs);
        })
    }

    /// Handles `POST /trace/otel/add_event`.
    fn otel_add_event(&self, a: &Args<'_>) -> Handled {
        self.add_event(a)
    }

    /// Handles `POST /trace/otel/record_exception`.
    fn otel_record_exception(&self, a: &Args<'_>) -> Handled {
        let message = a.str("message")?.to_owned();
        let overrides = a.attributes("attributes")?;
        let type_name = std::any::type_name::<RecordedException>();
        let mut attrs: Vec<KeyValue> = [
            KeyValue::new(
                "exception.type",
                type_name.rsplit("::").next().unwrap_or(type_name),
            ),
            KeyValue::new("exception.message", message),
            KeyValue::new("exception.escaped", false),
        ]
        .into_iter()
        .filter(|kv| overrides.iter().all(|o| o.key != kv.key))
        .collect();
        attrs.extend(overrides);
        self.with_span(a.id("span_id")?, |cx| {
            cx.span().add_event("exception", attrs)
        })
    }

    /// Handles `POST /trace/otel/is_recording`.
    fn otel_is_recording(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let st = self.lock();
        let entry = st.spans.get(&id).ok_or(Failure::unknown(id))?;
        Ok(json!({ "is_recording": entry.cx.span().is_recording() }).to_string())
    }

    /// Handles `POST /trace/otel/span_context`.
    fn otel_span_context(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let cx = Self::context_of(&self.lock(), id)?;
        let span = cx.span();
        let sc = span.span_context();
        Ok(json!({
            "span_id": u64::from_be_bytes(sc.span_id().to_bytes()),
            "trace_id": format!("{:032x}", u128::from_be_bytes(sc.trace_id().to_bytes())),
            "trace_flags": format!("{:02x}", sc.trace_flags().to_u8()),
            "trace_state": sc.trace_state().header(),
            "remote": sc.is_remote(),
        })
        .to_string())
    }

    /// Handles `POST /trace/otel/flush`.
    fn otel_flush(&self, a: &Args<'_>) -> Handled {
        let seconds = match a.get("seconds") {
            None => FLUSH_TIMEOUT.as_secs(),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| Failure::bad("`seconds` must be a non-negative integer"))?,
        };
        let result = self.flush_and_clear(Duration::from_secs(seconds.clamp(1, 60)));
        if let Err(e) = &result {
            log::warn!("/trace/otel/flush: {e}");
        }
        Ok(json!({ "success": result.is_ok() }).to_string())
    }

    /// Handles `POST /trace/otel/otel_set_baggage`.
    fn otel_set_baggage(&self, a: &Args<'_>) -> Handled {
        let id = a.id("span_id")?;
        let key = a.str("key")?.to_owned();
        let value = match a.get("value") {
            Some(v) => otel_value(v).map_err(Failure::bad)?.map(|v| text(&v)),
            None => None,
        }
        .ok_or_else(|| Failure::bad("`value` is required"))?;
        let mut st = self.lock();
        let cx = Self::context_mut(&mut st, id)?;
        *cx = edit_baggage(cx, |items| {
            items.retain(|(k, _)| *k != key);
            items.push((key.clone(), value));
        });
        let read = cx.baggage().get(&key).map(|v| v.as_str().to_owned());
        Ok(json!({ "value": read }).to_string())
    }

    /// Handles `POST /log/otel/flush`.
    fn log_flush(&self, _a: &Args<'_>) -> Handled {
        Ok(json!({ "success": true, "message": "this library has no OpenTelemetry logs pipeline" }).to_string())
    }

    /// Flushes and stops the tracer (SIGTERM). Spans never finished are not sent: they are
    /// dropped only after the shutdown, which counts them as dropped.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        let result = self.tracing.shutdown(timeout);
        let old = std::mem::take(&mut *self.lock());
        let abandoned = std::mem::take(
            &mut *self
                .abandoned
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        drop((old, abandoned));
        result
    }
}

/// The list in field `key` (absent or null: empty).
fn list<'a>(a: &Args<'a>, key: &str) -> Result<&'a [Json], Failure> {
    match a.0.get(key) {
        None | Some(Json::Null) => Ok(&[]),
        Some(Json::Array(items)) => Ok(items),
        Some(_) => Err(Failure::bad(format!("`{key}` must be a list"))),
    }
}

/// `v` as an object, a list entry of `field`.
fn as_object<'a>(v: &'a Json, field: &str) -> Result<&'a Map<String, Json>, Failure> {
    v.as_object()
        .ok_or_else(|| Failure::bad(format!("`{field}` entries must be objects")))
}

/// The `/trace/config` answer: the facade's configuration snapshot, which has exactly the
/// protocol's keys in its order.
/// Written by hand because `serde_json::Map` would sort the keys.
fn config_json(config: &ddtrace::Config) -> String {
    let entries: Vec<String> = config
        .snapshot()
        .into_iter()
        .map(|(k, v)| format!("{}:{}", Json::from(k), Json::from(v)))
        .collect();
    format!("{{\"config\":{{{}}}}}", entries.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &'static [(&'static str, &'static str)]) -> ddtrace::Config {
        ddtrace::Config::builder_from_lookup(move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .build()
        .expect("config")
    }

    #[test]
    fn config_answer_keeps_the_snapshot_order_and_values() {
        let c = config(&[
            ("DD_SERVICE", "svc"),
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("DD_DOGSTATSD_URL", "udp://[::1]:9125"),
        ]);
        let text = config_json(&c);
        let parsed: Json = serde_json::from_str(&text).expect("valid JSON");
        let mut last = 0;
        let snapshot = c.snapshot();
        for (key, _) in &snapshot {
            let at = text.find(&format!("\"{key}\":")).expect(key);
            assert!(at > last, "{key} out of order in {text}");
            last = at;
        }
        let cfg = &parsed["config"];
        assert_eq!(cfg.as_object().map(|m| m.len()), Some(19));
        assert_eq!(cfg["dd_service"], "svc");
        assert_eq!(cfg["dd_trace_sample_rate"], "0.25");
        assert_eq!(cfg["dd_trace_sample_ignore_parent"], "true");
        assert_eq!(
            (&cfg["dd_dogstatsd_host"], &cfg["dd_dogstatsd_port"]),
            (&json!("::1"), &json!("9125"))
        );
        assert_eq!(cfg["dd_env"], Json::Null);
    }

    #[test]
    fn header_carriers() {
        let carrier = HeaderExtractor(vec![
            ("tracestate".into(), "a=1".into()),
            ("traceparent".into(), "x".into()),
            ("tracestate".into(), "b=2".into()),
        ]);
        assert_eq!(carrier.get("TraceState"), Some("a=1"));
        assert_eq!(carrier.get_all("tracestate"), Some(vec!["a=1", "b=2"]));
        assert_eq!(carrier.get_all("baggage"), None);
        assert_eq!(carrier.keys(), vec!["tracestate", "traceparent"]);

        let mut out = HeaderInjector::default();
        out.set("X-Datadog-Trace-Id", "1".into());
        out.set("traceparent", "t".into());
        out.set("x-datadog-trace-id", "2".into());
        assert_eq!(
            out.0,
            vec![
                ("x-datadog-trace-id".into(), "2".into()),
                ("traceparent".into(), "t".into())
            ]
        );
    }

    #[test]
    fn baggage_edits_keep_the_span() {
        let cx = Context::new().with_baggage([KeyValue::new("a", "1"), KeyValue::new("b", "2")]);
        let cx = edit_baggage(&cx, |items| {
            items.retain(|(k, _)| k != "a");
            items.push(("c".into(), "3".into()));
        });
        let mut got: Vec<(String, String)> = cx
            .baggage()
            .iter()
            .map(|(k, (v, _))| (k.to_string(), v.to_string()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![("b".into(), "2".into()), ("c".into(), "3".into())]
        );
    }

    fn call(app: &App, method: &str, path: &str, body: Json) -> (u16, Json) {
        let req = Request {
            method: method.to_owned(),
            path: path.to_owned(),
            body: body.to_string().into_bytes(),
        };
        let (status, text) = app.handle(&req);
        // Integer trace ids may exceed what serde_json keeps exactly; the tests here only
        // read other fields.
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}")),
        )
    }

    #[test]
    fn commands_on_extracted_contexts_and_baggage() {
        let tracing = crate::install::Tracing::from_guard(
            ddtrace::install(config(&[("OTEL_TRACES_EXPORTER", "none")])).expect("install"),
        );
        let app = App::new(tracing);
        let (status, ex) = call(
            &app,
            "POST",
            "/trace/span/extract_headers",
            json!({"http_headers": [["Baggage", "k=v,drop=me"]]}),
        );
        assert_eq!(status, 200, "{ex}");
        let ex_id = ex["span_id"]
            .as_u64()
            .expect("a synthetic id for a baggage-only context");
        let get = |id: u64, key: &str| {
            call(
                &app,
                "GET",
                "/trace/span/get_baggage",
                json!({"span_id": id, "key": key}),
            )
            .1["baggage"]
                .clone()
        };
        assert_eq!(get(ex_id, "k"), "v");
        let (_, set) = call(
            &app,
            "POST",
            "/trace/otel/otel_set_baggage",
            json!({"span_id": ex_id, "key": "n", "value": 5}),
        );
        assert_eq!(set["value"], "5");
        assert_eq!(
            call(
                &app,
                "POST",
                "/trace/span/remove_baggage",
                json!({"span_id": ex_id, "key": "drop"})
            )
            .0,
            200
        );
        let (_, span) = call(
            &app,
            "POST",
            "/trace/span/start",
            json!({"name": "op", "parent_id": ex_id}),
        );
        let span_id = span["span_id"].as_u64().expect("span id");
        assert_eq!(get(span_id, "k"), "v");
        assert_eq!(get(span_id, "n"), "5");
        assert_eq!(get(span_id, "drop"), Json::Null);
        assert_eq!(
            call(
                &app,
                "POST",
                "/trace/span/remove_all_baggage",
                json!({"span_id": span_id})
            )
            .0,
            200
        );
        let (_, all) = call(
            &app,
            "GET",
            "/trace/span/get_all_baggage",
            json!({"span_id": span_id}),
        );
        assert_eq!(all["baggage"], json!({}));
        let (_, inj) = call(
            &app,
            "POST",
            "/trace/span/inject_headers",
            json!({"span_id": span_id}),
        );
        let names: Vec<&str> = inj["http_headers"]
            .as_array()
            .expect("headers")
            .iter()
            .filter_map(|h| h[0].as_str())
            .collect();
        assert!(
            names.contains(&"x-datadog-trace-id") && !names.contains(&"baggage"),
            "{inj}"
        );

        assert_eq!(
            call(
                &app,
                "POST",
                "/trace/span/manual_drop",
                json!({"span_id": span_id})
            )
            .0,
            200
        );
        let (_, rec) = call(
            &app,
            "POST",
            "/trace/otel/is_recording",
            json!({"span_id": span_id}),
        );
        assert_eq!(rec["is_recording"], true);
        assert_eq!(
            call(&app, "POST", "/trace/otel/end_span", json!({"id": span_id})).0,
            200
        );
        assert_eq!(
            call(&app, "POST", "/trace/otel/end_span", json!({"id": span_id})).0,
            200,
            "a second end is allowed"
        );
        let (_, rec) = call(
            &app,
            "POST",
            "/trace/otel/is_recording",
            json!({"span_id": span_id}),
        );
        assert_eq!(rec["is_recording"], false);
        let (_, cur) = call(&app, "GET", "/trace/otel/current_span", json!({}));
        assert_eq!(
            cur["span_id"], 0,
            "the parent is an extracted context, not a span"
        );
        let (_, sc) = call(
            &app,
            "POST",
            "/trace/otel/span_context",
            json!({"span_id": ex_id}),
        );
        assert_eq!(
            (sc["span_id"].as_u64(), &sc["remote"]),
            (Some(0), &json!(false)),
            "{sc}"
        );

        assert_eq!(
            call(&app, "POST", "/log/otel/flush", json!({"seconds": 1})).1["success"],
            true
        );
        assert_eq!(
            call(&app, "POST", "/trace/otel/flush", json!({"seconds": 1})).1["success"],
            true
        );
        assert_eq!(
            call(
                &app,
                "POST",
                "/trace/span/set_resource",
                json!({"span_id": span_id, "resource": "r"})
            )
            .0,
            404,
            "forgotten after flush"
        );
        assert_eq!(
            call(&app, "POST", "/trace/remote-config/apply", json!({})).0,
            404
        );
        app.shutdown(Duration::from_secs(1)).expect("shutdown");
    }
}
