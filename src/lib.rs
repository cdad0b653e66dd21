//! # malmoi (말모이)
//!
//! Korean and English text from morphemes to neural models, in Rust. This
//! umbrella crate re-exports the layers so `malmoi::tokenize`, `malmoi::tensor`
//! and `malmoi::embed` are one dependency away, and the dataset readers as
//! [`datasets`] (`malmoi::datasets::nsmc::read_labeled_tsv`), which need no model crate.

pub use malmoi_embed as embed;
pub use malmoi_fs as fs;
pub use malmoi_fs::datasets;
pub use malmoi_lm as lm;
pub use malmoi_rlhf as rlhf;
pub use malmoi_seq as seq;
pub use malmoi_tensor as tensor;
pub use malmoi_tokenize as tokenize;
pub use malmoi_train as train;
pub use malmoi_transformer as transformer;
