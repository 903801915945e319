//! `foldstore demo`: the tutorial's membership database, shared with the library's
//! `memberlist` example so that the two never drift apart.

// The example's domain model offers more operations than the tour uses.
#[allow(dead_code)]
#[path = "../../foldstore/examples/memberlist/model.rs"]
mod model;
#[path = "../../foldstore/examples/memberlist/tour.rs"]
mod tour;

pub use tour::run;
