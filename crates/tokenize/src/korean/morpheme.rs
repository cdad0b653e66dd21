//! One analysed morpheme and the layout of the mecab-ko-dic entry it is read from.

/// Index of the reading field (`만드`) among a ko-dic entry's detail fields
/// (tag, meaning, 종성, reading, type, first tag, last tag, expression).
pub(crate) const READING_FIELD: usize = 3;
/// Index of the type field (`Inflect`) among a ko-dic entry's detail fields.
pub(crate) const TYPE_FIELD: usize = 4;
/// Index of the expression field (`타/VV/*+았/EP/*`) among a ko-dic entry's detail fields.
pub(crate) const EXPRESSION_FIELD: usize = 7;

/// One analysed morpheme, borrowing the text and the dictionary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Morpheme<'a> {
    /// The morpheme as it appears in the text.
    pub surface: &'a str,
    /// Its Sejong tag, possibly compound (`VV+EP`).
    pub tag: &'a str,
    /// The dictionary's expression field (`*` when the entry is not inflected).
    pub expression: &'a str,
    /// Byte range in the analysed text.
    pub start: usize,
    /// End of the byte range (exclusive).
    pub end: usize,
}
