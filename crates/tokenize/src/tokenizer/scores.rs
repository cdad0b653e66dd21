//! Unigram scores read as the reference `tokenizers` reads them.
//!
//! Hugging Face's `tokenizers` (and so Python's) parses `tokenizer.json` with `serde_json`'s
//! default float parser, which is fast but not correctly rounded: about one 17-digit float in
//! ten comes out one unit in the last place away from the nearest `f64`. This workspace turns
//! on `serde_json`'s `float_roundtrip` (exact checkpoints and training state need it), and
//! Cargo unifies features, so here the same file would parse to slightly different Unigram
//! scores — enough to break ties between segmentations differently from Python. When this
//! build's parser is the exact one, [`match_reference`] re-derives every Unigram score as the
//! default parser reads its text (Python's `json` writes the shortest text that round-trips,
//! which is also what the exact value prints as), so ids equal Python's either way.

use serde_json::Value;

/// A float whose text the default and the exact parser read differently, and its exact value.
const PROBE: &str = "-0.42867585714285716";
const PROBE_EXACT_BITS: u64 = 13_824_765_994_494_646_926;

/// Rewrites the scores of a Unigram model in `tokenizer` (a parsed `tokenizer.json`) to the
/// values `tokenizers`' own parsing gives them; does nothing when this build already parses
/// floats that way, or for other models.
pub(crate) fn match_reference(tokenizer: &mut Value) {
    let exact_parser = serde_json::from_str::<f64>(PROBE).is_ok_and(|f| f.to_bits() == PROBE_EXACT_BITS);
    let model = &mut tokenizer["model"];
    if !exact_parser || model.get("type").and_then(Value::as_str) != Some("Unigram") {
        return;
    }
    let Some(Value::Array(vocab)) = model.get_mut("vocab") else { return };
    for piece in vocab {
        let Some(score) = piece.get_mut(1) else { continue };
        if let Some(value) = score.as_f64().and_then(|f| default_parse(&format!("{f:?}")))
            && let Some(number) = serde_json::Number::from_f64(value)
        {
            *score = Value::Number(number);
        }
    }
}

/// `serde_json`'s parse of a JSON number without `float_roundtrip`: the decimal digits as an
/// integer (digits past `u64` dropped), then one multiplication or division by a power of ten.
fn default_parse(text: &str) -> Option<f64> {
    let (positive, digits) = match text.strip_prefix('-') {
        Some(rest) => (false, rest),
        None => (true, text),
    };
    let (mantissa, exponent_text) = match digits.find(['e', 'E']) {
        Some(at) => (&digits[..at], Some(&digits[at + 1..])),
        None => (digits, None),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut significand: u64 = 0;
    let mut exponent: i32 = 0;
    let mut overflowed = false;
    for (i, c) in integer.bytes().chain(fraction.bytes()).enumerate() {
        let digit = u64::from(c.checked_sub(b'0').filter(|d| *d < 10)?);
        let in_fraction = i >= integer.len();
        match significand.checked_mul(10).and_then(|s| s.checked_add(digit)) {
            Some(next) if !overflowed => {
                significand = next;
                exponent -= i32::from(in_fraction);
            }
            _ => {
                overflowed = true;
                exponent += i32::from(!in_fraction);
            }
        }
    }
    if let Some(text) = exponent_text {
        exponent = exponent.saturating_add(text.parse::<i32>().ok()?);
    }
    let magnitude = from_parts(significand, exponent)?;
    Some(if positive { magnitude } else { -magnitude })
}

/// `serde_json`'s `f64_from_parts` without `float_roundtrip`.
fn from_parts(significand: u64, mut exponent: i32) -> Option<f64> {
    let mut f = significand as f64;
    loop {
        match Some(exponent.unsigned_abs()).filter(|&e| e <= 308) {
            Some(e) => {
                let pow = 10f64.powi(e as i32);
                if exponent >= 0 {
                    f *= pow;
                } else {
                    f /= pow;
                }
                return f.is_finite().then_some(f);
            }
            None => {
                if f == 0.0 || exponent >= 0 {
                    return (f == 0.0).then_some(0.0);
                }
                f /= 1e308;
                exponent += 308;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_parse_is_reproduced() {
        // The probe: the default parser is one unit in the last place below the exact value.
        assert_eq!(default_parse(PROBE).unwrap().to_bits(), PROBE_EXACT_BITS - 1);
        for (text, value) in [
            ("-10.5", -10.5),
            ("0", 0.0),
            ("1e-7", 1e-7),
            ("-3.25E2", -325.0),
            ("12345678901234567890123", 1.2345678901234568e22),
        ] {
            assert_eq!(default_parse(text), Some(value), "{text}");
        }
        assert_eq!(default_parse("x"), None);
    }
}
