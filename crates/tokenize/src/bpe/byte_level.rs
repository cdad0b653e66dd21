//! GPT-2's reversible map between bytes and printable Unicode characters.
//!
//! Byte-level BPE works on bytes, but vocabularies and merges are stored as text. GPT-2 gives
//! each of the 256 byte values a visible character: printable Latin-1 bytes (`!`..=`~`,
//! `¡`..=`¬`, `®`..=`ÿ`) stand for themselves and the remaining 68 bytes (controls, space,
//! soft hyphen…) are shifted to U+0100.. in order, so a space is `Ġ` (U+0120) and a newline `Ċ`.

/// The largest code point used by the map (byte 0xAD ↦ U+0143).
const MAX_CHAR: usize = 0x143;

const fn is_printable_latin1(b: usize) -> bool {
    (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
}

const fn build_byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut shifted = 0u32;
    let mut b = 0;
    while b < 256 {
        let code = if is_printable_latin1(b) {
            b as u32
        } else {
            shifted += 1;
            0xFF + shifted
        };
        table[b] = match char::from_u32(code) {
            Some(c) => c,
            None => panic!("byte-level map produced an invalid char"),
        };
        b += 1;
    }
    table
}

const fn build_char_to_byte() -> [u16; MAX_CHAR + 1] {
    let mut table = [u16::MAX; MAX_CHAR + 1];
    let mut b = 0;
    while b < 256 {
        table[BYTE_TO_CHAR[b] as usize] = b as u16;
        b += 1;
    }
    table
}

/// `BYTE_TO_CHAR[b]` is the character that stands for byte `b`.
pub const BYTE_TO_CHAR: [char; 256] = build_byte_to_char();

const CHAR_TO_BYTE: [u16; MAX_CHAR + 1] = build_char_to_byte();

/// The byte a byte-level character stands for, or `None` for characters outside the map.
pub fn char_to_byte(c: char) -> Option<u8> {
    CHAR_TO_BYTE.get(c as usize).and_then(|&b| u8::try_from(b).ok())
}

/// Maps bytes to their byte-level characters (`"한 a"` bytes → `"íķľĠa"`).
pub fn bytes_to_symbols(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| BYTE_TO_CHAR[b as usize]).collect()
}

/// Maps a byte-level string back to bytes, or `None` when a character is outside the map.
pub fn symbols_to_bytes(symbols: &str) -> Option<Vec<u8>> {
    symbols.chars().map(char_to_byte).collect()
}

/// The 256 byte-level characters sorted by code point: the initial alphabet of training.
pub fn alphabet() -> Vec<char> {
    let mut chars = BYTE_TO_CHAR.to_vec();
    chars.sort_unstable();
    chars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_symbols_match_gpt2() {
        assert_eq!(BYTE_TO_CHAR[b' ' as usize], 'Ġ');
        assert_eq!(BYTE_TO_CHAR[b'\n' as usize], 'Ċ');
        assert_eq!(BYTE_TO_CHAR[b'a' as usize], 'a');
        assert_eq!(BYTE_TO_CHAR[0], 'Ā');
        assert_eq!(BYTE_TO_CHAR[0xAD], 'Ń');
        assert_eq!(bytes_to_symbols("한".as_bytes()), "íķľ");
    }

    #[test]
    fn map_is_a_bijection() {
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(BYTE_TO_CHAR[b as usize]), Some(b));
        }
        let distinct: std::collections::HashSet<char> = BYTE_TO_CHAR.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
        assert_eq!(char_to_byte('한'), None);
        assert_eq!(symbols_to_bytes("íķľĠa").unwrap(), "한 a".as_bytes());
    }
}
