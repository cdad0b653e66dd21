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
    /// The dictionary's type field (`Inflect`, `Compound`, `Preanalysis`, `*`).
    pub kind: &'a str,
    /// The dictionary's expression field (`*` when the entry is not inflected).
    pub expression: &'a str,
    /// Byte range in the analysed text.
    pub start: usize,
    /// End of the byte range (exclusive).
    pub end: usize,
}

impl<'a> Morpheme<'a> {
    /// Appends the morpheme split into its dictionary forms: an inflected or
    /// pre-analysed entry becomes the parts of its expression (걸었 with
    /// `걷/VV/*+었/EP/*` → 걷/VV, 었/EP; 만드 with `만들/VV/*` → 만들/VV),
    /// each spanning the whole surface; any other morpheme is kept as it is.
    pub(crate) fn decompose_into(self, out: &mut Vec<Morpheme<'a>>) {
        if !self.splits() {
            out.push(self);
            return;
        }
        let first = out.len();
        for part in self.expression.split('+') {
            let mut fields = part.split('/');
            let (Some(form), Some(tag)) = (fields.next(), fields.next()) else { continue };
            if form.is_empty() || tag.is_empty() {
                continue;
            }
            out.push(Morpheme { surface: form, tag, kind: "*", expression: "*", ..self });
        }
        if out.len() == first {
            out.push(self); // a malformed expression: keep the entry whole
        }
    }

    /// The first dictionary form and its tag (걸었 `걷/VV/*+었/EP/*` → 걷, VV).
    pub(crate) fn head(&self) -> (&'a str, &'a str) {
        if self.splits() {
            let mut fields = self.expression.split(['/', '+']);
            if let (Some(form), Some(tag)) = (fields.next(), fields.next())
                && !form.is_empty()
                && !tag.is_empty()
            {
                return (form, tag);
            }
        }
        (self.surface, self.tag)
    }

    /// The stem an inflected entry names when it is one other stem (mecab-ko-dic's
    /// 걸 with `걷/VV/*`, 만드 with `만들/VV/*`); `None` for any other morpheme.
    pub(crate) fn changed_stem(&self) -> Option<&'a str> {
        let (lemma, _) = self.head();
        (self.kind == "Inflect" && !self.expression.contains('+') && lemma != self.surface).then_some(lemma)
    }

    /// Whether the entry is inflected or pre-analysed with an expression.
    fn splits(&self) -> bool {
        matches!(self.kind, "Inflect" | "Preanalysis") && self.expression.contains('/')
    }
}
