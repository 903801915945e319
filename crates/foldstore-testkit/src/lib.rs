//! What the workspace's tests and its comparison program share, without depending on foldstore
//! (so that foldstore's own tests can use it): the original Node.js package installed from npm,
//! and deeply nested JSON text.

mod nested;
mod original;

pub use nested::nested_text;
pub use original::{install_original, package_json, Original, ORIGINAL_PACKAGE};
