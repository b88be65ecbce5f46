//! The OpenTelemetry → Datadog mapping (`otel-mapping.md` §2–§8), run on the exporter's worker
//! thread by [`PendingChunk::into_chunk`](ddtrace_model::PendingChunk::into_chunk).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use ddtrace_model::{
    AttributeArray, AttributeValue, Span, SpanEvent, SpanLink, Str, TagMap, TraceId, tags,
};
use opentelemetry::trace::{Event, Link, SpanKind, Status};
use opentelemetry::{Array, Key, KeyValue, Value};
use parking_lot::{Mutex, MutexGuard};

use crate::config::BridgeConfig;
use crate::span::{Extras, SpanRecord, StatusCode};

/// Reserved attribute keys (`otel-mapping.md` §4).
pub(crate) const OPERATION_NAME: &str = "operation.name";
pub(crate) const RESOURCE_NAME: &str = "resource.name";
pub(crate) const SERVICE_NAME: &str = "service.name";
pub(crate) const SPAN_TYPE: &str = "span.type";
pub(crate) const ANALYTICS_EVENT: &str = "analytics.event";
pub(crate) const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
pub(crate) const HTTP_STATUS_CODE: &str = "http.status_code";
pub(crate) const HTTP_STATUS_TEXT: &str = "http.status_text";
const EXCEPTION: &str = "exception";

/// The lower-case name of a span kind, as in meta `span.kind` and rule 14.
pub(crate) fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

/// The Datadog operation name of an OTel span (`otel-mapping.md` §2, rules 2–14; rule 1,
/// `operation.name`, is the caller's). `attr` returns the text of an attribute.
pub(crate) fn operation_name<'a>(
    kind: &SpanKind,
    attr: impl Fn(&str) -> Option<Cow<'a, str>>,
) -> Cow<'static, str> {
    let non_empty = |key: &str| attr(key).filter(|v| !v.is_empty());
    let is = |k: SpanKind| std::mem::discriminant(kind) == std::mem::discriminant(&k);
    let (server, client) = (is(SpanKind::Server), is(SpanKind::Client));
    // Attributes are looked up only for the rules that can apply to the kind.
    let name: Cow<'static, str> = 'rules: {
        if server || client {
            let http = attr("http.request.method").is_some() || attr("http.method").is_some();
            if http && server {
                break 'rules "http.server.request".into();
            }
            if http && client {
                break 'rules "http.client.request".into();
            }
        }
        if client {
            if let Some(db) = non_empty("db.system").or_else(|| non_empty("db.system.name")) {
                break 'rules Cow::Owned(format!("{db}.query"));
            }
        }
        if !is(SpanKind::Internal) {
            let op =
                non_empty("messaging.operation").or_else(|| non_empty("messaging.operation.type"));
            if let (Some(system), Some(op)) = (non_empty("messaging.system"), op) {
                break 'rules Cow::Owned(format!("{system}.{op}"));
            }
        }
        let rpc = if server || client {
            non_empty("rpc.system")
        } else {
            None
        };
        if client && rpc.as_deref() == Some("aws-api") {
            break 'rules match non_empty("rpc.service") {
                Some(service) => Cow::Owned(format!("aws.{service}.request")),
                None => "aws.client.request".into(),
            };
        }
        if let Some(rpc) = rpc {
            if client {
                break 'rules Cow::Owned(format!("{rpc}.client.request"));
            }
            if server {
                break 'rules Cow::Owned(format!("{rpc}.server.request"));
            }
        }
        if client {
            if let (Some(p), Some(n)) = (
                non_empty("faas.invoked_provider"),
                non_empty("faas.invoked_name"),
            ) {
                break 'rules Cow::Owned(format!("{p}.{n}.invoke"));
            }
        }
        if server {
            if let Some(trigger) = non_empty("faas.trigger") {
                break 'rules Cow::Owned(format!("{trigger}.invoke"));
            }
        }
        if non_empty("graphql.operation.type").is_some() {
            break 'rules "graphql.server.request".into();
        }
        if server {
            break 'rules match non_empty("network.protocol.name") {
                Some(p) => Cow::Owned(format!("{p}.server.request")),
                None => "server.request".into(),
            };
        }
        if client {
            break 'rules match non_empty("network.protocol.name") {
                Some(p) => Cow::Owned(format!("{p}.client.request")),
                None => "client.request".into(),
            };
        }
        kind_name(kind).into()
    };
    if name.bytes().any(|b| b.is_ascii_uppercase()) || !name.is_ascii() {
        Cow::Owned(name.to_lowercase())
    } else {
        name
    }
}

/// The text of the last attribute named `key` in `attrs`.
pub(crate) fn last_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// Go's `strconv.ParseBool` (`otel-mapping.md` §4, `analytics.event`).
pub(crate) fn parse_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::I64(1) => Some(true),
        Value::I64(0) => Some(false),
        Value::String(s) => match s.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Whether an `error` attribute value is truthy.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::I64(i) => *i != 0,
        Value::F64(f) => *f != 0.0,
        Value::String(s) => parse_bool(value).unwrap_or(!s.as_str().is_empty()),
        _ => false,
    }
}

/// The Datadog span type for a kind when no `span.type` attribute is set (§5).
pub(crate) fn span_type(kind: &SpanKind, db_system: Option<&str>) -> &'static str {
    match kind {
        SpanKind::Server => "web",
        SpanKind::Client => match db_system.map(str::to_ascii_lowercase).as_deref() {
            None => "http",
            Some(
                "mysql" | "postgresql" | "mssql" | "oracle" | "db2" | "sqlite" | "mariadb"
                | "clickhouse" | "cockroachdb" | "redshift" | "other_sql" | "hsqldb" | "h2"
                | "derby" | "firebird" | "informix" | "ingres" | "interbase" | "netezza"
                | "pervasive" | "pointbase" | "sybase" | "teradata" | "vertica" | "trino"
                | "spanner" | "tidb" | "hive" | "intersystems_cache" | "maxdb" | "adabas"
                | "filemaker" | "instantdb" | "edb" | "cache" | "sqlserver",
            ) => "sql",
            Some("redis") => "redis",
            Some("memcached") => "memcached",
            Some("mongodb") => "mongodb",
            Some("elasticsearch") => "elasticsearch",
            Some("opensearch") => "opensearch",
            Some("cassandra") => "cassandra",
            Some(_) => "db",
        },
        _ => "custom",
    }
}

/// A `Str` from a borrowed OTel string (copied).
fn str_of(s: &str) -> Str {
    Str::copy_from(s)
}

/// A `Str` from an owned OTel string value: an owned string is moved, not copied (the API
/// gives no way to tell a static string from an owned one, so static ones are copied).
fn str_from_value(s: opentelemetry::StringValue) -> Str {
    Str::from(String::from(s))
}

/// Most distinct attribute keys kept by the [`Interner`], and the longest one.
const MAX_INTERNED_KEYS: usize = 1024;
const MAX_INTERNED_KEY_LEN: usize = 64;

/// Hasher of short strings, a word at a time (FxHash's mixing).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
}

impl KeyHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The interned keys, and the last key seen at each of [`RECENT`] slots chosen by the
/// address of the key's text: a key with static text (the usual case) is found again with
/// one comparison, without hashing it.
struct KeySet {
    keys: HashSet<&'static str, BuildHasherDefault<KeyHasher>>,
    recent: [&'static str; RECENT],
    values: ValueCache,
}

const RECENT: usize = 64;

impl Default for KeySet {
    fn default() -> Self {
        KeySet {
            keys: HashSet::default(),
            recent: [""; RECENT],
            values: ValueCache::default(),
        }
    }
}

/// Slots of the [`ValueCache`], and the longest value it keeps.
const VALUE_SLOTS: usize = 1024;
const MAX_CACHED_VALUE_LEN: usize = 64;

/// Short string values that repeat (an HTTP method, a route, a database name), shared instead
/// of copied per span: the API gives static text as a `StringValue` that can only be copied
/// out, so without the cache every span pays an allocation and a free per such value. A
/// direct-mapped cache by the hash of the text, bounded (at most [`VALUE_SLOTS`] values of at
/// most [`MAX_CACHED_VALUE_LEN`] bytes, 64 KiB). A value is admitted at its second sighting
/// in a row at its slot, so that values seen once (ids, timestamps) are moved as before and
/// never evict the ones that repeat; shared values also let the v0.5 encoder find them again
/// by address.
struct ValueCache {
    cached: Box<[Option<Arc<str>>]>,
    /// The hash of the last value seen at each slot and not admitted (0: none).
    seen: Box<[u64]>,
}

impl Default for ValueCache {
    fn default() -> Self {
        ValueCache {
            cached: vec![None; VALUE_SLOTS].into_boxed_slice(),
            seen: vec![0; VALUE_SLOTS].into_boxed_slice(),
        }
    }
}

impl ValueCache {
    /// The `Str` of `value`: the cached one when it has been seen, else `value` itself.
    fn get(&mut self, value: opentelemetry::StringValue) -> Str {
        let text = value.as_str();
        if text.is_empty() || text.len() > MAX_CACHED_VALUE_LEN {
            return str_from_value(value);
        }
        let mut h = KeyHasher::default();
        h.write(text.as_bytes());
        let hash = h.finish() | 1;
        let slot = (hash >> 32) as usize % VALUE_SLOTS;
        if let Some(cached) = &self.cached[slot] {
            if **cached == *text {
                return Str::from(Arc::clone(cached));
            }
        }
        if self.seen[slot] == hash {
            let shared: Arc<str> = Arc::from(text);
            self.cached[slot] = Some(Arc::clone(&shared));
            self.seen[slot] = 0;
            return Str::from(shared);
        }
        self.seen[slot] = hash;
        str_from_value(value)
    }
}

fn recent_slot(text: &str) -> usize {
    ((text.as_ptr() as usize >> 3) ^ text.len()) % RECENT
}

/// Attribute keys seen by the mapping, kept for the life of the process so that a key
/// becomes a static `Str`: no allocation, copy or free per attribute on the worker (keys are
/// few and repeat on every span). Bounded: at most [`MAX_INTERNED_KEYS`] keys of at most
/// [`MAX_INTERNED_KEY_LEN`] bytes (64 KiB); other keys are moved or copied as values are.
/// Never waited for: when another thread maps at the same time (or the mapping re-enters
/// itself through a logger that traces), keys are moved or copied instead.
pub(crate) struct Interner(Option<Option<MutexGuard<'static, KeySet>>>);

static INTERNED_KEYS: OnceLock<Mutex<KeySet>> = OnceLock::new();

impl Interner {
    /// The process's key set, locked at the first key if it is free (once per chunk).
    pub(crate) fn new() -> Interner {
        Interner(None)
    }

    /// The process's key set, if this interner could lock it (tried once).
    fn set(&mut self) -> Option<&mut KeySet> {
        self.0
            .get_or_insert_with(|| INTERNED_KEYS.get_or_init(Default::default).try_lock())
            .as_deref_mut()
    }

    /// The `Str` of a string attribute value, taking it (see [`ValueCache`]).
    fn value(&mut self, value: opentelemetry::StringValue) -> Str {
        match self.set() {
            Some(set) => set.values.get(value),
            None => str_from_value(value),
        }
    }

    /// The `Str` of an attribute key, taking it.
    fn key(&mut self, key: Key) -> Str {
        let Some(set) = self.set() else {
            return Str::from(String::from(key));
        };
        let slot = recent_slot(key.as_str());
        if set.recent[slot] == key.as_str() {
            return Str::from_static(set.recent[slot]);
        }
        if let Some(&known) = set.keys.get(key.as_str()) {
            set.recent[slot] = known;
            return Str::from_static(known);
        }
        let text = String::from(key);
        if set.keys.len() < MAX_INTERNED_KEYS && text.len() <= MAX_INTERNED_KEY_LEN {
            let leaked: &'static str = Box::leak(text.into_boxed_str());
            set.keys.insert(leaked);
            return Str::from_static(leaked);
        }
        Str::from(text)
    }
}

/// The texts of the HTTP status codes 100 to 599.
static STATUS_CODES: [[u8; 3]; 500] = {
    let mut table = [[0u8; 3]; 500];
    let mut i = 0;
    while i < 500 {
        let code = i + 100;
        table[i] = [
            b'0' + (code / 100) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
        ];
        i += 1;
    }
    table
};

/// The text of an HTTP status code (100 to 599), without formatting it.
pub(crate) fn status_code_text(code: i64) -> Option<&'static str> {
    let index = usize::try_from(code.checked_sub(100)?).ok()?;
    std::str::from_utf8(STATUS_CODES.get(index)?).ok()
}

/// Sets `key` (or its flattened elements) in meta or metrics by the value's type (§6).
fn set_typed(span: &mut Span, keys: &mut Interner, key: Key, value: Value) {
    match value {
        Value::String(s) => {
            let key = keys.key(key);
            span.set_meta(key, keys.value(s));
        }
        Value::Bool(b) => span.set_meta(keys.key(key), Str::from_static(bool_text(b))),
        Value::I64(i) => span.set_metric(keys.key(key), i as f64),
        Value::F64(f) => span.set_metric(keys.key(key), f),
        Value::Array(array) => {
            let key = key.as_str();
            let mut k = String::with_capacity(key.len() + 4);
            let mut each = |i: usize, set: &mut dyn FnMut(&mut Span, Str)| {
                k.clear();
                let _ = write!(k, "{key}.{i}");
                set(span, Str::from(k.as_str().to_owned()));
            };
            match array {
                Array::Bool(v) => {
                    for (i, b) in v.iter().enumerate() {
                        each(i, &mut |span, k| {
                            span.set_meta(k, Str::from_static(bool_text(*b)))
                        });
                    }
                }
                Array::I64(v) => {
                    for (i, n) in v.iter().enumerate() {
                        each(i, &mut |span, k| span.set_metric(k, *n as f64));
                    }
                }
                Array::F64(v) => {
                    for (i, n) in v.iter().enumerate() {
                        each(i, &mut |span, k| span.set_metric(k, *n));
                    }
                }
                Array::String(v) => {
                    for (i, s) in v.into_iter().enumerate() {
                        let mut s = Some(s);
                        each(i, &mut |span, k| {
                            if let Some(s) = s.take() {
                                span.set_meta(k, str_from_value(s));
                            }
                        });
                    }
                }
                _ => log::debug!("unsupported array attribute {key} dropped"),
            }
        }
        _ => log::debug!("unsupported attribute {} dropped", key.as_str()),
    }
}

pub(crate) fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Text of a value for string-keyed uses (status codes, opname lookups).
fn text_of(value: &Value) -> Cow<'_, str> {
    value.as_str()
}

/// Text of a value, taking it (an owned string is moved).
fn into_text(value: Value) -> String {
    match value {
        Value::String(s) => s.into(),
        other => other.as_str().into_owned(),
    }
}

/// The reserved and special attributes seen while applying a span's attributes.
#[derive(Default)]
struct Reserved {
    operation_name: Option<String>,
    resource: Option<String>,
    service: Option<String>,
    span_type: Option<String>,
    analytics: Option<Option<bool>>,
    error: Option<bool>,
}

/// Applies one attribute, taking it: reserved keys are consumed, the rest become meta or
/// metrics.
fn apply_attribute(span: &mut Span, r: &mut Reserved, keys: &mut Interner, kv: KeyValue) {
    let KeyValue { key, value, .. } = kv;
    match key.as_str() {
        OPERATION_NAME => r.operation_name = Some(into_text(value)),
        RESOURCE_NAME => r.resource = Some(into_text(value)),
        SERVICE_NAME => r.service = Some(into_text(value)),
        SPAN_TYPE => r.span_type = Some(into_text(value)),
        ANALYTICS_EVENT => r.analytics = Some(parse_bool(&value)),
        HTTP_RESPONSE_STATUS_CODE | HTTP_STATUS_CODE => {
            let text = match &value {
                Value::I64(code) => status_code_text(*code).map(Str::from_static),
                _ => None,
            };
            span.set_meta(
                HTTP_STATUS_CODE,
                text.unwrap_or_else(|| Str::from(into_text(value))),
            );
        }
        tags::MANUAL_KEEP | tags::MANUAL_DROP | tags::MANUAL_SAMPLING_PRIORITY => {}
        "error" => r.error = Some(truthy(&value)),
        _ => set_typed(span, keys, key, value),
    }
}

/// An attribute's text as recorded on the span (meta, else a metric printed).
fn recorded_text<'a>(span: &'a Span, key: &str) -> Option<Cow<'a, str>> {
    if let Some(v) = span.meta.get(key) {
        return Some(Cow::Borrowed(v.as_str()));
    }
    span.metrics.get(key).map(|n| Cow::Owned(number_text(*n)))
}

pub(crate) fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// The model form of an event attribute value, taking it.
fn event_value(value: Value) -> Option<AttributeValue> {
    Some(match value {
        Value::String(s) => AttributeValue::String(str_from_value(s)),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::I64(i) => AttributeValue::Int(i),
        Value::F64(f) => AttributeValue::Double(f),
        Value::Array(Array::String(v)) => AttributeValue::Array(AttributeArray::String(
            v.into_iter().map(str_from_value).collect(),
        )),
        Value::Array(Array::Bool(v)) => AttributeValue::Array(AttributeArray::Bool(v)),
        Value::Array(Array::I64(v)) => AttributeValue::Array(AttributeArray::Int(v)),
        Value::Array(Array::F64(v)) => AttributeValue::Array(AttributeArray::Double(v)),
        _ => return None,
    })
}

fn event_of(event: Event, keys: &mut Interner) -> SpanEvent {
    let time = crate::clock::system_time_ns(event.timestamp).max(0) as u64;
    let name = match event.name {
        Cow::Borrowed(name) => Str::from_static(name),
        Cow::Owned(name) => Str::from(name),
    };
    let mut out = SpanEvent::new(name, time);
    for kv in event.attributes {
        let KeyValue { key, value, .. } = kv;
        if let Some(v) = event_value(value) {
            out.attributes.insert(keys.key(key), v);
        }
    }
    out
}

/// Link attributes: stringified and flattened (`span-model.md` §6.3).
fn link_attributes(attrs: &[KeyValue]) -> TagMap<Str> {
    let mut out = TagMap::new();
    for kv in attrs {
        let key = kv.key.as_str();
        match &kv.value {
            Value::Array(array) => {
                let items: Vec<String> = match array {
                    Array::Bool(v) => v.iter().map(|b| bool_text(*b).to_owned()).collect(),
                    Array::I64(v) => v.iter().map(i64::to_string).collect(),
                    Array::F64(v) => v.iter().map(f64::to_string).collect(),
                    Array::String(v) => v.iter().map(|s| s.as_str().to_owned()).collect(),
                    _ => Vec::new(),
                };
                for (i, item) in items.into_iter().enumerate() {
                    out.insert(format!("{key}.{i}"), Str::from(item));
                }
            }
            other => {
                out.insert(str_of(key), str_of(&text_of(other)));
            }
        }
    }
    out
}

pub(crate) fn link_of(link: Link) -> Option<SpanLink> {
    let cx = &link.span_context;
    if !cx.is_valid() {
        return None;
    }
    let trace_id = TraceId::from_u128(u128::from_be_bytes(cx.trace_id().to_bytes()));
    let span_id = ddtrace_model::SpanId::new(u64::from_be_bytes(cx.span_id().to_bytes()))?;
    let mut out = SpanLink::new(trace_id, span_id);
    let header = cx.trace_state().header();
    if !header.is_empty() {
        out.tracestate = Str::from(header);
    }
    out.flags = Some(u32::from(cx.trace_flags().to_u8() & 1));
    out.attributes = link_attributes(&link.attributes);
    Some(out)
}

/// Resource attributes that configure the tracer (service, environment, version) rather than
/// tag each span: the mapping of spans skips them.
pub(crate) fn is_configuration_resource_key(key: &str) -> bool {
    matches!(
        key,
        SERVICE_NAME | "deployment.environment" | "deployment.environment.name" | "service.version"
    )
}

/// Maps one recorded span whose attributes are `attributes` (`count` of them), taking them;
/// top-level marking and the chunk-level tags are the caller's.
pub(crate) fn map_span(
    rec: SpanRecord,
    attributes: impl Iterator<Item = KeyValue>,
    count: usize,
    trace_id: TraceId,
    cfg: &BridgeConfig,
    keys: &mut Interner,
) -> Span {
    let mut span = Span::new(trace_id, rec.span_id, Str::EMPTY);
    let Extras {
        events,
        links,
        error_description,
        inherited_service,
    } = rec.extras.map(|e| *e).unwrap_or_default();
    let status = match rec.status {
        StatusCode::Unset => Status::Unset,
        StatusCode::Ok => Status::Ok,
        StatusCode::Error => Status::Error {
            description: error_description,
        },
    };
    // Room for the attributes and the few tags added here, so the maps do not grow per tag.
    span.meta = TagMap::with_capacity(count + cfg.global_tags.len() + 6);
    span.metrics = TagMap::with_capacity(count / 2 + 4);
    span.parent_id = rec.parent_id;
    span.start = rec.start_ns;
    span.duration = rec.end_ns.saturating_sub(rec.start_ns).max(0);

    for (k, v) in &cfg.global_tags {
        span.set_meta(k.clone(), v.clone());
    }
    let mut reserved = Reserved::default();
    for kv in &cfg.resource_attributes {
        if !is_configuration_resource_key(kv.key.as_str()) {
            apply_attribute(&mut span, &mut reserved, keys, kv.clone());
        }
    }
    // Resource attributes never set reserved fields of spans; only the span's own do.
    reserved = Reserved::default();
    for kv in attributes {
        apply_attribute(&mut span, &mut reserved, keys, kv);
    }

    // Operation name (§2), resource (§3).
    // Empty reserved values count as unset: Datadog spans never have an empty name,
    // resource or service.
    span.name = match reserved.operation_name.filter(|n| !n.is_empty()) {
        Some(name) => Str::from(name),
        None => match operation_name(&rec.kind, |k| recorded_text(&span, k)) {
            Cow::Borrowed(name) => Str::from_static(name),
            Cow::Owned(name) => Str::from(name),
        },
    };
    span.resource = match reserved.resource.filter(|r| !r.is_empty()) {
        Some(r) => Str::from(r),
        None if rec.name.is_empty() => span.name.clone(),
        None => match rec.name {
            Cow::Borrowed(name) => Str::from_static(name),
            Cow::Owned(name) => Str::from(name),
        },
    };

    // Service (§10, span-model.md §3).
    let manual_service = reserved
        .service
        .filter(|s| !s.is_empty())
        .map(Str::from)
        .or(inherited_service);
    if let Some(service) = manual_service {
        span.service = service;
        span.set_meta(tags::SERVICE_SOURCE, "m");
    } else {
        span.service = cfg.service.clone();
    }
    if !span.service.eq_ignore_ascii_case(&cfg.service) {
        span.set_meta(tags::BASE_SERVICE, cfg.service.clone());
    }
    if let Some(env) = &cfg.env {
        span.set_meta(tags::ENV, env.clone());
    }
    if let Some(version) = &cfg.version {
        if span.service == cfg.service {
            span.set_meta(tags::VERSION, version.clone());
        }
    }

    // Type and kind (§5).
    span.span_type = match reserved.span_type {
        Some(t) => Str::from(t),
        // Only client spans' types depend on `db.system`.
        None if !matches!(rec.kind, SpanKind::Client) => {
            Str::from_static(span_type(&rec.kind, None))
        }
        None => {
            let db = recorded_text(&span, "db.system")
                .or_else(|| recorded_text(&span, "db.system.name"))
                .map(Cow::into_owned);
            Str::from_static(span_type(&rec.kind, db.as_deref()))
        }
    };
    span.set_meta(tags::SPAN_KIND, kind_name(&rec.kind));

    if let Some(Some(b)) = reserved.analytics {
        span.set_metric(tags::ANALYTICS_SAMPLE_RATE, if b { 1.0 } else { 0.0 });
    }
    if reserved.error == Some(true) {
        span.error = true;
    }

    // Events (§7.2, §7.3).
    let events: Vec<SpanEvent> = if events.is_empty() {
        Vec::new()
    } else {
        events.into_iter().map(|e| event_of(e, keys)).collect()
    };
    let has_exception = events
        .iter()
        .any(|e| e.name.eq_ignore_ascii_case(EXCEPTION));
    if has_exception {
        span.set_meta(tags::HAS_EXCEPTION_EVENT, "true");
    }

    // Status (§7.1, §7.2).
    match status {
        Status::Ok => span.error = false,
        Status::Error { description } => {
            span.error = true;
            let mut message_from_event = false;
            for event in events
                .iter()
                .filter(|e| e.name.eq_ignore_ascii_case(EXCEPTION))
            {
                for (from, to) in [
                    ("exception.message", tags::ERROR_MESSAGE),
                    ("exception.type", tags::ERROR_TYPE),
                    ("exception.stacktrace", tags::ERROR_STACK),
                ] {
                    if let Some(v) = event.attributes.get(from) {
                        span.set_meta(to, attribute_text(v));
                        message_from_event |= to == tags::ERROR_MESSAGE;
                    }
                }
            }
            if !message_from_event {
                if !description.is_empty() {
                    span.set_meta(tags::ERROR_MESSAGE, Str::from(description.into_owned()));
                } else if !span.meta.contains_key(tags::ERROR_MESSAGE) {
                    if let Some(code) = span.meta.get(HTTP_STATUS_CODE).cloned() {
                        let message = match span.meta.get(HTTP_STATUS_TEXT) {
                            Some(text) => format!("{code} {text}"),
                            None => code.to_string(),
                        };
                        span.set_meta(tags::ERROR_MESSAGE, Str::from(message));
                    }
                }
            }
        }
        Status::Unset => {}
    }
    span.events = events;
    if !links.is_empty() {
        span.links = links.into_iter().filter_map(link_of).collect();
    }
    span
}

/// The text of an event attribute copied into an error tag.
fn attribute_text(v: &AttributeValue) -> Str {
    match v {
        AttributeValue::String(s) => s.clone(),
        AttributeValue::Bool(b) => Str::from_static(bool_text(*b)),
        AttributeValue::Int(i) => Str::from(i.to_string()),
        AttributeValue::Double(f) => Str::from(f.to_string()),
        AttributeValue::Array(_) => Str::EMPTY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_have_their_decimal_text() {
        for code in [100, 200, 418, 599] {
            assert_eq!(status_code_text(code), Some(code.to_string().as_str()));
        }
        for code in [-1, 0, 99, 600, i64::MAX, i64::MIN] {
            assert_eq!(status_code_text(code), None);
        }
    }

    #[test]
    fn repeated_values_are_shared_from_their_second_sighting() {
        let mut cache = ValueCache::default();
        let get = |cache: &mut ValueCache, v: &'static str| cache.get(v.into());
        let first = get(&mut cache, "GET");
        let second = get(&mut cache, "GET");
        let third = get(&mut cache, "GET");
        assert_eq!((first.as_str(), third.as_str()), ("GET", "GET"));
        assert_ne!(first.as_str().as_ptr(), second.as_str().as_ptr());
        assert_eq!(second.as_str().as_ptr(), third.as_str().as_ptr(), "shared");
        // Another value is found again next to it; values seen once never enter.
        for _ in 0..3 {
            assert_eq!(get(&mut cache, "/users/{id}").as_str(), "/users/{id}");
        }
        assert_eq!(
            get(&mut cache, "GET").as_str().as_ptr(),
            third.as_str().as_ptr()
        );
        let cached = cache.cached.iter().flatten().count();
        assert_eq!(cached, 2);
        // An owned value seen once is moved, not copied.
        let owned = String::from("u-1234");
        let address = owned.as_ptr();
        assert_eq!(cache.get(owned.into()).as_str().as_ptr(), address);
        // Long and empty values are never cached.
        let long: &'static str = Box::leak("x".repeat(MAX_CACHED_VALUE_LEN + 1).into_boxed_str());
        for _ in 0..3 {
            assert_eq!(get(&mut cache, long).as_str(), long);
            assert_eq!(get(&mut cache, "").as_str(), "");
        }
        assert_eq!(cache.cached.iter().flatten().count(), 2);
    }

    fn opname(kind: SpanKind, attrs: &[(&'static str, &'static str)]) -> String {
        operation_name(&kind, |k| {
            attrs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| Cow::Borrowed(*v))
        })
        .into_owned()
    }

    #[test]
    fn operation_name_examples_of_section_2() {
        use SpanKind::*;
        type Case<'a> = (SpanKind, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case<'_>] = &[
            (
                Server,
                &[("http.request.method", "GET")],
                "http.server.request",
            ),
            (
                Client,
                &[("http.request.method", "GET")],
                "http.client.request",
            ),
            (Client, &[("db.system", "Redis")], "redis.query"),
            (
                Consumer,
                &[
                    ("messaging.system", "Kafka"),
                    ("messaging.operation", "Receive"),
                ],
                "kafka.receive",
            ),
            (
                Client,
                &[("rpc.system", "aws-api"), ("rpc.service", "S3")],
                "aws.s3.request",
            ),
            (Client, &[("rpc.system", "aws-api")], "aws.client.request"),
            (Server, &[("rpc.system", "GRPC")], "grpc.server.request"),
            (
                Client,
                &[
                    ("faas.invoked_provider", "aws"),
                    ("faas.invoked_name", "My-Function"),
                ],
                "aws.my-function.invoke",
            ),
            (
                Server,
                &[("faas.trigger", "Datasource")],
                "datasource.invoke",
            ),
            (
                Server,
                &[("graphql.operation.type", "query")],
                "graphql.server.request",
            ),
            (
                Server,
                &[("network.protocol.name", "Amqp")],
                "amqp.server.request",
            ),
            (Server, &[], "server.request"),
            (Client, &[], "client.request"),
            (Internal, &[], "internal"),
            (Producer, &[], "producer"),
            (Consumer, &[], "consumer"),
            (Producer, &[("http.request.method", "GET")], "producer"),
        ];
        for (kind, attrs, want) in cases {
            assert_eq!(opname(kind.clone(), attrs), *want, "{kind:?} {attrs:?}");
        }
    }

    #[test]
    fn parse_bool_follows_go() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(&Value::from(t)), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(&Value::from(f)), Some(false), "{f}");
        }
        for bad in ["trUe", "fAlse", "yes", "something-else"] {
            assert_eq!(parse_bool(&Value::from(bad)), None, "{bad}");
        }
        assert_eq!(parse_bool(&Value::Bool(true)), Some(true));
    }

    #[test]
    fn interned_keys_keep_their_text_past_the_bound() {
        let mut keys = Interner::new();
        for round in 0..2 {
            for i in 0..MAX_INTERNED_KEYS + 100 {
                let text = format!("key.{i}");
                assert_eq!(keys.key(Key::new(text.clone())), text.as_str(), "{round}");
            }
            assert_eq!(keys.key(Key::from_static_str("http.route")), "http.route");
            let long = "k".repeat(MAX_INTERNED_KEY_LEN + 1);
            assert_eq!(keys.key(Key::new(long.clone())), long.as_str());
        }
    }

    #[test]
    fn span_types_by_kind() {
        assert_eq!(span_type(&SpanKind::Server, None), "web");
        assert_eq!(span_type(&SpanKind::Client, Some("PostgreSQL")), "sql");
        assert_eq!(span_type(&SpanKind::Client, Some("redis")), "redis");
        assert_eq!(span_type(&SpanKind::Client, Some("couchdb")), "db");
        assert_eq!(span_type(&SpanKind::Client, None), "http");
        assert_eq!(span_type(&SpanKind::Producer, None), "custom");
    }
}
