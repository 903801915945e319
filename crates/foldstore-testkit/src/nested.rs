//! Deeply nested JSON text, for the tests of how deep a document may nest.

/// JSON text nested `levels` levels deep (0: the number 7), alternating arrays and objects
/// (`[{"k":[{"k":7}]}]`), built as text: no value of it is made.
pub fn nested_text(levels: usize) -> String {
    let mut open = String::new();
    let mut close = String::new();
    for level in (0..levels).rev() {
        if level % 2 == 0 {
            open.push('[');
            close.insert(0, ']');
        } else {
            open.push_str("{\"k\":");
            close.insert(0, '}');
        }
    }
    format!("{open}7{close}")
}
