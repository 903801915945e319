//! Shapes, hash-consed: every distinct object or array shape is stored once, as the numbers of
//! its members' shapes, so that working out a value's shape is one walk over it (without
//! recursion) and comparing two shapes is comparing two numbers; and their text.

use foldhash::HashMap;
use std::rc::Rc;

use serde_json::Value;

/// The shape number of `null`; then `boolean`, `number` and `string`. Objects and arrays are
/// numbered from [`FIRST_NODE`].
pub(super) const NULL: u32 = 0;
const BOOLEAN: u32 = 1;
const NUMBER: u32 = 2;
const STRING: u32 = 3;
const FIRST_NODE: u32 = 4;
/// The shape of an event without data (never a member's).
pub(super) const ABSENT: u32 = u32::MAX;

/// The largest buffer of a walked object or array kept for the next ones.
const MAX_SPARE: usize = 1024;

/// An object's or an array's shape, by the numbers of its parts: an object's (member name,
/// shape) pairs ordered by name number, an array's element shapes ordered and each once.
#[derive(Debug)]
enum Node {
    Object(Rc<[(u32, u32)]>),
    Array(Rc<[u32]>),
}

/// Every shape seen, each stored once, and the member names they use; with a budget of memory
/// shared with what the caller keeps beside them.
#[derive(Debug)]
pub(super) struct Shapes {
    keys: HashMap<Rc<str>, u32>,
    key_names: Vec<Rc<str>>,
    objects: HashMap<Rc<[(u32, u32)]>, u32>,
    arrays: HashMap<Rc<[u32]>, u32>,
    nodes: Vec<Node>,
    /// The memory that may still be taken, estimated, in bytes.
    left: usize,
    /// Emptied buffers of walked objects and arrays, for the next ones (an event's walk then
    /// allocates nothing for them).
    spare_members: Vec<Vec<(u32, u32)>>,
    spare_items: Vec<Vec<u32>>,
}

/// An object or array of the data whose members are being walked.
enum Frame<'v> {
    Object {
        members: serde_json::map::Iter<'v>,
        shapes: Vec<(u32, u32)>,
        key: u32,
    },
    Array {
        items: std::slice::Iter<'v, Value>,
        shapes: Vec<u32>,
    },
}

impl Frame<'_> {
    fn add(&mut self, shape: u32) {
        match self {
            Frame::Object { shapes, key, .. } => shapes.push((*key, shape)),
            Frame::Array { shapes, .. } => shapes.push(shape),
        }
    }
}

impl Shapes {
    /// A value's shape when it is a scalar, else the frame to walk its members.
    fn enter<'v>(&mut self, value: &'v Value) -> Result<u32, Frame<'v>> {
        match value {
            Value::Null => Ok(NULL),
            Value::Bool(_) => Ok(BOOLEAN),
            Value::Number(_) => Ok(NUMBER),
            Value::String(_) => Ok(STRING),
            Value::Object(members) => Err(Frame::Object {
                members: members.iter(),
                shapes: self.spare_members.pop().unwrap_or_default(),
                key: 0,
            }),
            Value::Array(items) => Err(Frame::Array {
                items: items.iter(),
                shapes: self.spare_items.pop().unwrap_or_default(),
            }),
        }
    }

    /// No shapes yet, with `budget` bytes of memory to take.
    pub(super) fn new(budget: usize) -> Shapes {
        Shapes {
            keys: HashMap::default(),
            key_names: Vec::new(),
            objects: HashMap::default(),
            arrays: HashMap::default(),
            nodes: Vec::new(),
            left: budget,
            spare_members: Vec::new(),
            spare_items: Vec::new(),
        }
    }

    /// The number of `value`'s shape. With `learn`, shapes (and member names) not seen before
    /// are stored; without, or once the memory budget is used up, `None` is returned for them.
    pub(super) fn of(&mut self, value: &Value, learn: bool) -> Option<u32> {
        let mut stack = match self.enter(value) {
            Ok(scalar) => return Some(scalar),
            Err(frame) => vec![frame],
        };
        loop {
            let top = stack.last_mut()?;
            let child = match top {
                Frame::Object { members, key, .. } => match members.next() {
                    Some((name, child)) => {
                        *key = self.key(name, learn)?;
                        Some(child)
                    }
                    None => None,
                },
                Frame::Array { items, .. } => items.next(),
            };
            match child.map(|child| self.enter(child)) {
                Some(Ok(scalar)) => top.add(scalar),
                Some(Err(frame)) => stack.push(frame),
                None => {
                    let frame = stack.pop()?;
                    let shape = self.node(frame, learn)?;
                    match stack.last_mut() {
                        Some(parent) => parent.add(shape),
                        None => return Some(shape),
                    }
                }
            }
        }
    }

    /// The number of a member name.
    fn key(&mut self, name: &str, learn: bool) -> Option<u32> {
        if let Some(&number) = self.keys.get(name) {
            return Some(number);
        }
        if !learn || !self.spend(2 * name.len() + 64) {
            return None;
        }
        let number = u32::try_from(self.key_names.len()).ok()?;
        let name: Rc<str> = Rc::from(name);
        self.key_names.push(Rc::clone(&name));
        self.keys.insert(name, number);
        Some(number)
    }

    /// The number of a walked object's or array's shape.
    fn node(&mut self, frame: Frame<'_>, learn: bool) -> Option<u32> {
        match frame {
            Frame::Object { mut shapes, .. } => {
                shapes.sort_unstable();
                let number = self.object(&shapes, learn);
                if shapes.capacity() <= MAX_SPARE {
                    shapes.clear();
                    self.spare_members.push(shapes);
                }
                number
            }
            Frame::Array { mut shapes, .. } => {
                shapes.sort_unstable();
                shapes.dedup();
                let number = self.array(&shapes, learn);
                if shapes.capacity() <= MAX_SPARE {
                    shapes.clear();
                    self.spare_items.push(shapes);
                }
                number
            }
        }
    }

    /// The number the next new object or array shape gets.
    fn next(&self) -> Option<u32> {
        u32::try_from(self.nodes.len())
            .ok()?
            .checked_add(FIRST_NODE)
            .filter(|&n| n != ABSENT)
    }

    /// The number of the object shape of `members` (ordered).
    fn object(&mut self, members: &[(u32, u32)], learn: bool) -> Option<u32> {
        if let Some(&number) = self.objects.get(members) {
            return Some(number);
        }
        let next = self.next()?;
        if !learn || !self.spend(members.len() * 16 + 96) {
            return None;
        }
        let members: Rc<[(u32, u32)]> = members.into();
        self.objects.insert(Rc::clone(&members), next);
        self.nodes.push(Node::Object(members));
        Some(next)
    }

    /// The number of the array shape of `items` (ordered, each once).
    fn array(&mut self, items: &[u32], learn: bool) -> Option<u32> {
        if let Some(&number) = self.arrays.get(items) {
            return Some(number);
        }
        let next = self.next()?;
        if !learn || !self.spend(items.len() * 8 + 96) {
            return None;
        }
        let items: Rc<[u32]> = items.into();
        self.arrays.insert(Rc::clone(&items), next);
        self.nodes.push(Node::Array(items));
        Some(next)
    }

    /// Takes `bytes` of the memory budget: false (and nothing taken) when they are not left.
    pub(super) fn spend(&mut self, bytes: usize) -> bool {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }

    /// Where a shape comes in an array's union: scalars first, then arrays, then objects,
    /// each in the order first seen.
    fn union_order(&self, shape: u32) -> (u8, u32) {
        match shape.checked_sub(FIRST_NODE) {
            None => (0, shape),
            Some(node) => match self.nodes[node as usize] {
                Node::Array(_) => (1, shape),
                Node::Object(_) => (2, shape),
            },
        }
    }

    /// The text of shape `shape` (see [`ShapeSeen::shape`](super::ShapeSeen::shape)), written
    /// without recursion: at most `limit` bytes and then `…`.
    pub(super) fn render(&self, shape: u32, limit: usize) -> String {
        enum Piece<'a> {
            Shape(u32),
            Text(&'static str),
            Key(&'a str),
        }
        let mut out = String::new();
        let mut todo = vec![Piece::Shape(shape)];
        let mut parts = Vec::new();
        while let Some(piece) = todo.pop() {
            if out.len() >= limit {
                cut(&mut out, limit);
                break;
            }
            let node = match piece {
                Piece::Text(text) => {
                    out.push_str(text);
                    continue;
                }
                Piece::Key(key) => {
                    write_key(&mut out, key, limit);
                    continue;
                }
                Piece::Shape(ABSENT) => {
                    out.push_str("absent");
                    continue;
                }
                Piece::Shape(shape) => match shape.checked_sub(FIRST_NODE) {
                    Some(node) => &self.nodes[node as usize],
                    None => {
                        out.push_str(["null", "boolean", "number", "string"][shape as usize]);
                        continue;
                    }
                },
            };
            parts.clear();
            match node {
                Node::Object(members) => {
                    let mut members: Vec<(&str, u32)> = members
                        .iter()
                        .map(|&(key, shape)| (&*self.key_names[key as usize], shape))
                        .collect();
                    members.sort_unstable();
                    parts.push(Piece::Text("{"));
                    for (i, (key, shape)) in members.into_iter().enumerate() {
                        if i > 0 {
                            parts.push(Piece::Text(", "));
                        }
                        parts.extend([Piece::Key(key), Piece::Text(": "), Piece::Shape(shape)]);
                    }
                    parts.push(Piece::Text("}"));
                }
                Node::Array(items) => {
                    let mut items = items.to_vec();
                    items.sort_unstable_by_key(|&shape| self.union_order(shape));
                    parts.push(Piece::Text("["));
                    for (i, shape) in items.into_iter().enumerate() {
                        if i > 0 {
                            parts.push(Piece::Text(" | "));
                        }
                        parts.push(Piece::Shape(shape));
                    }
                    parts.push(Piece::Text("]"));
                }
            }
            todo.extend(parts.drain(..).rev());
        }
        if out.len() > limit {
            cut(&mut out, limit);
        }
        out
    }
}

/// Cuts `text` to at most `limit` bytes (at a character's boundary) and ends it with `…`.
fn cut(text: &mut String, limit: usize) {
    text.truncate(prefix(text, limit).len());
    text.push('…');
}

/// The longest start of `text` of at most `limit` bytes that ends at a character's boundary.
pub(super) fn prefix(text: &str, limit: usize) -> &str {
    let mut end = limit.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Writes a member name as a shape shows it: as it is when made of letters, digits, `_` and
/// `$`, else as a JSON string (so that no name can pass for punctuation of the shape). Stops
/// soon after the text reaches `limit` bytes (the caller cuts it there).
fn write_key(out: &mut String, key: &str, limit: usize) {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    // Only what can show before the cut is written (a huge name costs no more).
    let key = prefix(key, limit.saturating_sub(out.len()).saturating_add(1));
    if bare {
        out.push_str(key);
    } else {
        // Serializing a string cannot fail.
        out.push_str(&serde_json::to_string(key).unwrap_or_default());
    }
}
