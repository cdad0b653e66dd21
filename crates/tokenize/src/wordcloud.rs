//! Word clouds rendered as SVG, like Python's `wordcloud` package: the most
//! frequent words drawn largest, placed along a spiral from the centre so
//! that no two overlap, reproducible from a seed.
//!
//! Text width is estimated, not measured (SVG leaves the font to the
//! viewer): Hangul, CJK and other wide glyphs count as 1 em, Latin letters
//! about 0.6 em. The estimate is generous and every box gets padding, so
//! words do not touch in the listed fonts.
//!
//! Sizing: a word's size grows with the square root of its count (so its
//! area grows with the count). The largest size is lowered until the boxes
//! of all words would cover at most 60 % of the canvas, but not below a
//! third of the configured largest size; a word that fits nowhere is tried
//! in the other orientation and at ever smaller sizes, and later words are
//! never drawn larger than it. Words that fit nowhere at the smallest size
//! are left out.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::freq::FreqDist;

/// Fonts that render Hangul on Linux, Windows and macOS, then a fallback.
pub const KOREAN_FONT_FAMILY: &str =
    "'Noto Sans CJK KR', 'Noto Sans KR', 'Malgun Gothic', 'Apple SD Gothic Neo', 'NanumGothic', sans-serif";

/// A qualitative palette (Tableau 10) that reads well on white.
const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#6b6b6b"];

/// Box height in em: the glyphs of common Korean and Latin fonts (Noto
/// Sans CJK, Nanum Gothic, DejaVu Sans) reach from about 0.8 em above the
/// baseline (Hangul, ascenders) to 0.21 em below it (descenders).
const LINE_HEIGHT_EM: f64 = 1.05;
/// Space kept free before and after a word, in em, so that neighbours on
/// one line read as separate words.
const SIDE_MARGIN_EM: f64 = 0.12;
/// Distance from the box centre down to the baseline, in em.
const BASELINE_EM: f64 = 0.31;
/// Share of the canvas the words' boxes may cover: the largest font size is
/// lowered until the boxes of all words fit in it, but not below
/// [`MIN_SHARE_OF_MAX`] of the configured largest size, so that the
/// hierarchy stays readable and the rarest words are left out instead.
const FILL_RATIO: f64 = 0.6;
const MIN_SHARE_OF_MAX: f64 = 1.0 / 3.0;
/// Each failed size is multiplied by this before the next attempt.
const SHRINK: f64 = 0.9;
/// Spiral ring spacing and step along the spiral, in pixels.
const SPIRAL_GAP: f64 = 4.0;
const SPIRAL_STEP: f64 = 3.0;

/// What can go wrong making a word cloud.
#[derive(Debug, thiserror::Error)]
pub enum WordCloudError {
    /// The options cannot produce a picture (e.g. zero width).
    #[error("invalid word cloud options: {0}")]
    InvalidOptions(String),
    /// The SVG file could not be written.
    #[error("cannot write word cloud {}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Word-cloud settings; build with [`WordCloud::new`] and the `with_*` methods.
///
/// ```
/// use malmoi_tokenize::freq::FreqDist;
/// use malmoi_tokenize::wordcloud::WordCloud;
///
/// let fd: FreqDist = "영화 영화 영화 배우 배우 연기 음악 최고".split(' ').collect();
/// let cloud = WordCloud::new().with_size(400, 200).with_seed(7).generate(&fd).unwrap();
/// assert_eq!(cloud.words().len(), 5);
/// assert_eq!(cloud.words()[0].text, "영화"); // most frequent, largest
/// assert!(cloud.to_svg().contains("Noto Sans CJK KR"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WordCloud {
    width: u32,
    height: u32,
    max_words: usize,
    min_font_size: f64,
    max_font_size: Option<f64>,
    scaling: f64,
    prefer_horizontal: f64,
    padding: f64,
    seed: u64,
    font_family: String,
    background: String,
}

impl Default for WordCloud {
    fn default() -> Self {
        Self {
            width: 800,
            height: 400,
            max_words: 200,
            min_font_size: 8.0,
            max_font_size: None,
            scaling: 0.5,
            prefer_horizontal: 0.9,
            padding: 2.0,
            seed: 0,
            font_family: KOREAN_FONT_FAMILY.to_owned(),
            background: "white".to_owned(),
        }
    }
}

impl WordCloud {
    /// 800 × 400 pixels, up to 200 words, seed 0, Korean-capable fonts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Canvas size in pixels.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    setters! {
        /// Draw at most this many of the most frequent words.
        with_max_words => max_words: usize;
        /// Size = min + (max − min) · (count / top count)^scaling. The default
        /// 0.5 makes a word's area roughly proportional to its count; 1 makes
        /// its height proportional; 0 draws every word at the largest size.
        with_scaling => scaling: f64;
        /// Probability that a word is horizontal rather than vertical (0.9).
        with_prefer_horizontal => prefer_horizontal: f64;
        /// Seed of every random choice: start angles, orientations, colours.
        with_seed => seed: u64;
    }

    /// Smallest and largest font size in pixels (largest defaults to 40 %
    /// of the canvas height). Words that fit nowhere at `min` are left out.
    pub fn with_font_sizes(mut self, min: f64, max: f64) -> Self {
        self.min_font_size = min;
        self.max_font_size = Some(max);
        self
    }

    /// CSS font-family list (default [`KOREAN_FONT_FAMILY`]).
    pub fn with_font_family(mut self, family: impl Into<String>) -> Self {
        self.font_family = family.into();
        self
    }

    /// Background colour (any SVG colour; default white).
    pub fn with_background(mut self, colour: impl Into<String>) -> Self {
        self.background = colour.into();
        self
    }

    /// Lays out the most frequent words of `fd`.
    pub fn generate(&self, fd: &FreqDist) -> Result<Layout, WordCloudError> {
        self.generate_from_frequencies(&fd.most_common(self.max_words))
    }

    /// Lays out `(word, count)` pairs; the order of equal counts is kept,
    /// zero counts are ignored.
    pub fn generate_from_frequencies(&self, words: &[(&str, usize)]) -> Result<Layout, WordCloudError> {
        self.validate()?;
        let mut ranked: Vec<(&str, usize)> =
            words.iter().copied().filter(|&(w, n)| n > 0 && !w.trim().is_empty()).collect();
        ranked.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        ranked.truncate(self.max_words);

        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut placer = Placer::new(self.width as f64, self.height as f64);
        let mut placed = Vec::with_capacity(ranked.len());
        let top = ranked.first().map_or(1, |&(_, n)| n) as f64;
        let relative: Vec<f64> = ranked.iter().map(|&(_, n)| n as f64 / top).collect();
        let max_size = self.fitted_max_font_size(&ranked, &relative);
        let mut size_cap = max_size;
        for (&(text, count), &relative) in ranked.iter().zip(&relative) {
            let wanted = self.font_size(relative, max_size).min(size_cap);
            let vertical = rng.random::<f64>() >= self.prefer_horizontal;
            let Some(word) = self.place(&mut placer, &mut rng, text, count, wanted, vertical) else {
                continue;
            };
            size_cap = word.font_size;
            placed.push(word);
        }
        Ok(Layout {
            width: self.width,
            height: self.height,
            font_family: self.font_family.clone(),
            background: self.background.clone(),
            words: placed,
        })
    }

    fn validate(&self) -> Result<(), WordCloudError> {
        let problem = if self.width == 0 || self.height == 0 {
            Some(format!("canvas {}x{} has no area", self.width, self.height))
        } else if !(self.min_font_size > 0.0 && self.min_font_size <= self.max_font_size()) {
            Some(format!("font sizes must satisfy 0 < min ({}) <= max ({})", self.min_font_size, self.max_font_size()))
        } else if !(self.scaling >= 0.0 && (0.0..=1.0).contains(&self.prefer_horizontal)) {
            Some("scaling must be >= 0 and prefer_horizontal in [0, 1]".to_owned())
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(WordCloudError::InvalidOptions(p)))
    }

    fn max_font_size(&self) -> f64 {
        self.max_font_size.unwrap_or(self.height as f64 * 0.4)
    }

    fn font_size(&self, relative: f64, max_size: f64) -> f64 {
        let min = self.min_font_size;
        min + (max_size - min) * relative.powf(self.scaling)
    }

    /// The largest font size (at most the configured one, at least
    /// [`MIN_SHARE_OF_MAX`] of it) at which the boxes of all words cover no
    /// more than [`FILL_RATIO`] of the canvas.
    fn fitted_max_font_size(&self, ranked: &[(&str, usize)], relative: &[f64]) -> f64 {
        let budget = FILL_RATIO * self.width as f64 * self.height as f64;
        let area = |max_size: f64| -> f64 {
            ranked
                .iter()
                .zip(relative)
                .map(|(&(text, _), &r)| {
                    let (w, h) = self.box_size(text_width_em(text), self.font_size(r, max_size));
                    w * h
                })
                .sum()
        };
        let hi = self.max_font_size();
        let (mut lo, mut hi) = (self.min_font_size.max(hi * MIN_SHARE_OF_MAX), hi);
        if area(hi) <= budget {
            return hi;
        }
        // Bisection: area grows with the largest size.
        for _ in 0..30 {
            let mid = (lo + hi) / 2.0;
            if area(mid) <= budget { lo = mid } else { hi = mid }
        }
        lo
    }

    /// Width and height of a horizontal word's box: estimated glyphs, side
    /// margins and padding.
    fn box_size(&self, width_em: f64, size: f64) -> (f64, f64) {
        ((width_em + 2.0 * SIDE_MARGIN_EM) * size + self.padding, LINE_HEIGHT_EM * size + self.padding)
    }

    /// Tries `size`, both orientations, then ever smaller sizes down to the
    /// minimum; `None` when the word fits nowhere.
    fn place(
        &self,
        placer: &mut Placer,
        rng: &mut StdRng,
        text: &str,
        count: usize,
        mut size: f64,
        vertical: bool,
    ) -> Option<PlacedWord> {
        let width_em = text_width_em(text);
        let colour = PALETTE[rng.random_range(0..PALETTE.len())];
        let start_angle = rng.random::<f64>() * std::f64::consts::TAU;
        while size >= self.min_font_size {
            for vertical in [vertical, !vertical] {
                let (mut w, mut h) = self.box_size(width_em, size);
                if vertical {
                    std::mem::swap(&mut w, &mut h);
                }
                if let Some(bbox) = placer.place(w, h, start_angle) {
                    return Some(PlacedWord {
                        text: text.to_owned(),
                        count,
                        font_size: size,
                        vertical,
                        colour: colour.to_owned(),
                        bbox,
                    });
                }
            }
            size *= SHRINK;
        }
        None
    }
}

/// Estimated advance width of `text` in em.
fn text_width_em(text: &str) -> f64 {
    text.chars().map(char_width_em).sum()
}

/// Wide (East Asian) glyphs 1 em; Latin by letter shape, as wide as
/// DejaVu Sans draws it (the widest common fallback); others 0.62 em.
fn char_width_em(c: char) -> f64 {
    match c {
        '\u{1100}'..='\u{11FF}'
        | '\u{2E80}'..='\u{A4CF}'
        | '\u{AC00}'..='\u{D7AF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
        | '\u{FF00}'..='\u{FF60}'
        | '\u{FFE0}'..='\u{FFE6}'
        | '\u{1F300}'..='\u{1FAFF}'
        | '\u{20000}'..='\u{3FFFD}' => 1.0,
        'M' | 'W' | 'm' => 1.0,
        'w' => 0.85,
        'i' | 'j' | 'l' | 'I' | '.' | ',' | ':' | ';' | '\'' | '!' | '|' => 0.3,
        'f' | 't' | 'r' | ' ' | '(' | ')' | '[' | ']' | '-' => 0.42,
        c if c.is_uppercase() => 0.75,
        c if c.is_ascii_digit() => 0.64,
        _ => 0.62,
    }
}

/// An axis-aligned box in canvas pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y1: f64,
}

impl Rect {
    /// Whether the two boxes share any area (touching edges do not).
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    /// Centre point `(x, y)`.
    pub fn centre(&self) -> (f64, f64) {
        ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)
    }
}

/// Finds free spots along an Archimedean spiral stretched to the canvas.
struct Placer {
    width: f64,
    height: f64,
    boxes: Vec<Rect>,
    /// The box that blocked the last candidate: the likeliest to block the next.
    last_hit: usize,
}

impl Placer {
    fn new(width: f64, height: f64) -> Self {
        Self { width, height, boxes: Vec::new(), last_hit: 0 }
    }

    fn place(&mut self, w: f64, h: f64, start_angle: f64) -> Option<Rect> {
        if w > self.width || h > self.height {
            return None;
        }
        let (cx, cy) = (self.width / 2.0, self.height / 2.0);
        let aspect = self.width / self.height;
        let max_radius = (cx / aspect).hypot(cy);
        let (mut angle, mut radius) = (0.0_f64, 0.0_f64);
        while radius <= max_radius {
            let theta = start_angle + angle;
            let (x, y) = (cx + radius * aspect * theta.cos(), cy + radius * theta.sin());
            let rect = Rect { x0: x - w / 2.0, y0: y - h / 2.0, x1: x + w / 2.0, y1: y + h / 2.0 };
            if self.inside(&rect) && self.is_free(&rect) {
                self.boxes.push(rect);
                return Some(rect);
            }
            angle += (SPIRAL_STEP / radius.max(SPIRAL_STEP)).min(0.5);
            radius = SPIRAL_GAP * angle / std::f64::consts::TAU;
        }
        None
    }

    fn inside(&self, r: &Rect) -> bool {
        r.x0 >= 0.0 && r.y0 >= 0.0 && r.x1 <= self.width && r.y1 <= self.height
    }

    fn is_free(&mut self, rect: &Rect) -> bool {
        if self.boxes.get(self.last_hit).is_some_and(|b| b.overlaps(rect)) {
            return false;
        }
        match self.boxes.iter().position(|b| b.overlaps(rect)) {
            Some(hit) => {
                self.last_hit = hit;
                false
            }
            None => true,
        }
    }
}

/// One word as drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedWord {
    /// The word.
    pub text: String,
    /// Its count in the input.
    pub count: usize,
    /// Font size in pixels.
    pub font_size: f64,
    /// Rotated 90° anticlockwise.
    pub vertical: bool,
    /// Fill colour.
    pub colour: String,
    /// The space reserved for it, padding included; no two overlap.
    pub bbox: Rect,
}

/// A finished layout: the words, their sizes and positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    width: u32,
    height: u32,
    font_family: String,
    background: String,
    words: Vec<PlacedWord>,
}

impl Layout {
    /// The placed words, most frequent first.
    pub fn words(&self) -> &[PlacedWord] {
        &self.words
    }

    /// Canvas `(width, height)` in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The SVG document.
    pub fn to_svg(&self) -> String {
        use std::fmt::Write;
        let mut svg = String::with_capacity(256 + 160 * self.words.len());
        let (w, h) = (self.width, self.height);
        let _ =
            writeln!(svg, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#);
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="{}"/>"#, escape_xml(&self.background));
        let _ = writeln!(svg, r#"<g font-family="{}" text-anchor="middle">"#, escape_xml(&self.font_family));
        for word in &self.words {
            let (x, y) = word.bbox.centre();
            let baseline = BASELINE_EM * word.font_size;
            let (tx, ty) = if word.vertical { (x + baseline, y) } else { (x, y + baseline) };
            let rotate =
                if word.vertical { format!(r#" transform="rotate(-90 {tx:.1} {ty:.1})""#) } else { String::new() };
            let _ = writeln!(
                svg,
                r#"<text x="{tx:.1}" y="{ty:.1}" font-size="{:.1}" fill="{}"{rotate}>{}</text>"#,
                word.font_size,
                escape_xml(&word.colour),
                escape_xml(&word.text)
            );
        }
        svg.push_str("</g>\n</svg>\n");
        svg
    }

    /// Writes [`to_svg`](Self::to_svg) to `path` atomically.
    pub fn write_svg(&self, path: impl AsRef<Path>) -> Result<(), WordCloudError> {
        let path = path.as_ref();
        malmoi_fs::write_atomically(path, self.to_svg().as_bytes())
            .map_err(|source| WordCloudError::Io { path: path.to_owned(), source })
    }
}

/// Escapes XML's special characters and drops characters XML 1.0 forbids.
fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_script() {
        assert_eq!(text_width_em("한국어"), 3.0);
        assert!((text_width_em("word") - 2.5).abs() < 0.1);
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_xml("a<b>&\"'\u{0}"), "a&lt;b&gt;&amp;&quot;&apos;");
    }

    #[test]
    fn spiral_fills_outwards_without_overlap() {
        let mut placer = Placer::new(200.0, 100.0);
        let first = placer.place(50.0, 20.0, 0.0).unwrap();
        assert_eq!(first.centre(), (100.0, 50.0));
        let second = placer.place(50.0, 20.0, 0.0).unwrap();
        assert!(!first.overlaps(&second));
        assert!(placer.place(201.0, 10.0, 0.0).is_none());
    }
}
