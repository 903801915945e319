//! JSON nested deeper than serde_json's own recursion limit: how deep foldstore goes
//! ([`MAX_NESTING`]), measuring a document's depth without parsing it, and reading, writing,
//! cloning and dropping deep values on a stack grown as needed.

use serde::de::{Deserialize, DeserializeOwned};
use serde::Serialize;
use serde_json::{Map, Value};

/// The deepest nesting of arrays and objects that foldstore reads and writes in a commit or
/// snapshot document, counting the document's own levels: a commit's event data starts 3 levels
/// down (the document, its `events` array, the event), so data may be nested up to
/// `MAX_NESTING - 3` levels.
///
/// The original package sets no limit of its own: it writes with `JSON.stringify`, which is
/// recursive and throws a `RangeError` once V8's default stack is used up, and reads with
/// `JSON.parse`, which is not. Measured with `node -e` on Node.js 20.20 (x86-64 Linux):
/// `JSON.stringify` manages 4,173 levels of nested arrays or objects at the top of a script,
/// and `store.log` of @scriptabuild/eventstore 1.3.0 writes event data nested at most 4,113
/// levels (a document of 4,116); `JSON.parse` reads 10,000,000 levels of nested arrays (the
/// most tried). 5,000 levels take every document the original can write, with room to spare.
pub const MAX_NESTING: usize = 5_000;

/// Below this much stack left, deep recursion goes on in a new stack segment.
const RED_ZONE: usize = 64 * 1024;

/// The size of the stack segments that deep recursion grows into.
const STACK_SEGMENT: usize = 1024 * 1024;

/// The stack given to reading a document nested `depth` levels when it is not read by the fast
/// path: values partly built when a document turns out damaged are dropped where the parser
/// stands, which may take a recursion as deep as the document (a few hundred bytes a level).
pub(crate) fn slow_path_stack(depth: usize) -> usize {
    256 * 1024 + depth.saturating_mul(4 * 1024)
}

/// The deepest nesting of arrays and objects in JSON text (0 for a scalar). Strings are
/// skipped; text that is not JSON gets a figure all the same (the openings not yet closed).
pub(crate) fn nesting_depth(bytes: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The check readers and writers make of a document's nesting: its depth, or `Err(depth)` when
/// it is nested deeper than [`MAX_NESTING`].
pub(crate) fn check_nesting(bytes: &[u8]) -> Result<usize, usize> {
    let depth = nesting_depth(bytes);
    if depth > MAX_NESTING {
        Err(depth)
    } else {
        Ok(depth)
    }
}

/// What a reader says of a document nested `depth` levels, deeper than [`MAX_NESTING`].
pub(crate) fn too_deep_to_read(depth: usize) -> String {
    format!(
        "is nested too deep: {depth} levels of arrays and objects, beyond the recursion limit of {MAX_NESTING} levels that foldstore reads and writes"
    )
}

/// What a writer says of a document nested `depth` levels, deeper than [`MAX_NESTING`].
pub(crate) fn too_deep_to_write(what: &str, depth: usize) -> String {
    format!(
        "{what} nested too deep: {depth} levels of arrays and objects, beyond the recursion limit of {MAX_NESTING} levels that foldstore reads and writes (readers would report it as damaged); nothing was written: nest the data less deeply"
    )
}

/// The member name with which serde_json's `Value` reads an object as JSON text held in a
/// string (its `raw_value` feature, which foldstore turns on):
/// `{"$serde_json::private::RawValue":"[1]"}` reads as `[1]`, and with anything but a string
/// as its value, not at all. (The name it gives numbers with its `arbitrary_precision` feature
/// is not refused: written in text it is an ordinary name, and with that feature every number
/// reaches a visitor under it.)
pub(crate) const RAW_VALUE_NAME: &str = "$serde_json::private::RawValue";

/// Finds [`RAW_VALUE_NAME`], quoted as it is in JSON text.
pub(crate) fn raw_value_token() -> &'static memchr::memmem::Finder<'static> {
    static TOKEN: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        memchr::memmem::Finder::new(format!("\"{RAW_VALUE_NAME}\"").as_bytes()).into_owned()
    })
}

/// What is wrong with a document or value holding [`RAW_VALUE_NAME`] where it changes what is
/// read, to follow what holds it ("event #2 ...").
pub(crate) fn raw_value_problem() -> String {
    format!(
        "has a member named {RAW_VALUE_NAME:?}, which JSON readers take for JSON text held in a string: it would not read back as written; rename the member"
    )
}

/// Refuses JSON text (already read once without error, nested as checked) holding an object
/// member named [`RAW_VALUE_NAME`], written plainly or with escapes: `Value` would read such
/// an object as something else than the text says, and the data would be stored changed. The
/// error names the member.
pub(crate) fn refuse_value_tokens(text: &[u8]) -> Result<(), String> {
    // Without a `\u` escape, a name can be one only if its text shows.
    let escaped = memchr::memmem::find(text, b"\\u").is_some();
    if !escaped && memchr::memmem::find(text, b"$serde_json::private::").is_none() {
        return Ok(());
    }
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    deserializer.disable_recursion_limit();
    let mut stacked = serde_stacker::Deserializer::new(&mut deserializer);
    stacked.red_zone = RED_ZONE;
    stacked.stack_size = STACK_SEGMENT;
    serde::de::DeserializeSeed::deserialize(Members, stacked).map_err(|e| e.to_string())
}

/// Walks JSON text, refusing the member name [`RAW_VALUE_NAME`].
#[derive(Clone, Copy)]
struct Members;

impl<'de> serde::de::DeserializeSeed<'de> for Members {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Members {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if name == RAW_VALUE_NAME {
                return Err(serde::de::Error::custom(raw_value_problem()));
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Reads JSON text with no recursion limit, growing the stack as needed. The caller has
/// checked its nesting.
pub(crate) fn from_slice_deep<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    let mut stacked = serde_stacker::Deserializer::new(&mut deserializer);
    stacked.red_zone = RED_ZONE;
    stacked.stack_size = STACK_SEGMENT;
    let value = T::deserialize(stacked)?;
    deserializer.end()?;
    Ok(value)
}

/// Writes compact JSON, growing the stack as needed.
pub(crate) fn to_vec_deep<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::new(&mut out);
    let mut stacked = serde_stacker::Serializer::new(&mut serializer);
    stacked.red_zone = RED_ZONE;
    stacked.stack_size = STACK_SEGMENT;
    value.serialize(stacked)?;
    Ok(out)
}

/// A JSON value to serialize at any depth: objects and arrays are handed to the serializer as
/// collections (`collect_map`, `collect_seq`), for which the stack-growing serializers of
/// [`to_vec_deep`] and [`to_value_deep`] grow the stack at each level. (They do for arrays
/// only when given a `Value` as it is: data nested in objects alone overflowed the stack.)
pub(crate) struct Deep<'a>(pub(crate) &'a Value);

impl Serialize for Deep<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(members) => {
                serializer.collect_map(members.iter().map(|(key, value)| (key, Deep(value))))
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Deep)),
            other => other.serialize(serializer),
        }
    }
}

/// Converts a value into a `serde_json::Value`, growing the stack as needed.
pub(crate) fn to_value_deep<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Value> {
    let mut stacked = serde_stacker::Serializer::new(serde_json::value::Serializer);
    stacked.red_zone = RED_ZONE;
    stacked.stack_size = STACK_SEGMENT;
    value.serialize(stacked)
}

/// Deserializes `T` from `deserializer` on a stack grown as needed, as [`from_value_deep`]
/// does from a value.
pub(crate) fn deserialize_deep<'de, T, D>(deserializer: D) -> serde_json::Result<T>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de, Error = serde_json::Error>,
{
    let mut stacked = serde_stacker::Deserializer::new(deserializer);
    stacked.red_zone = RED_ZONE;
    stacked.stack_size = STACK_SEGMENT;
    T::deserialize(stacked)
}

/// Reads a `serde_json::Value` into `T`, growing the stack as needed.
pub(crate) fn from_value_deep<T: DeserializeOwned>(value: Value) -> serde_json::Result<T> {
    let mut stacked = serde_stacker::Deserializer::new(value);
    stacked.red_zone = RED_ZONE;
    stacked.stack_size = STACK_SEGMENT;
    T::deserialize(stacked)
}

/// Whether a value holds other values (so that dropping or copying it recurses).
fn has_members(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
        _ => false,
    }
}

/// Drops the members of `value` from the deepest up, on a stack grown as needed, so that
/// dropping `value` afterwards recurses at most two levels: `serde_json::Value` drops
/// recursively, which overflows a thread's stack for values nested some thousands of levels.
pub(crate) fn hollow(value: &mut Value) {
    fn hollow_member(member: &mut Value) {
        if has_members(member) {
            stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || hollow(member));
            // Its members hold nothing now: dropping it is shallow.
            *member = Value::Null;
        }
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(hollow_member),
        Value::Object(members) => members.values_mut().for_each(hollow_member),
        _ => {}
    }
}

/// As [`hollow`] for each value of a map.
pub(crate) fn hollow_map(map: &mut Map<String, Value>) {
    map.values_mut().for_each(hollow);
}

/// A copy of `value`, made on a stack grown as needed (`Value::clone` recurses).
pub(crate) fn clone_deep(value: &Value) -> Value {
    fn clone_member(member: &Value) -> Value {
        if has_members(member) {
            stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || clone_deep(member))
        } else {
            member.clone()
        }
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(clone_member).collect()),
        Value::Object(members) => Value::Object(clone_map(members)),
        other => other.clone(),
    }
}

/// As [`clone_deep`] for a map.
pub(crate) fn clone_map(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .map(|(key, member)| {
            let copy = if has_members(member) {
                stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || clone_deep(member))
            } else {
                member.clone()
            };
            (key.clone(), copy)
        })
        .collect()
}
