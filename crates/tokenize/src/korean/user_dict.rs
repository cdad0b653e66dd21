//! User dictionary entries (new words such as 챗GPT/NNP or 딥러닝/NNG).
//!
//! An entry gives a surface and a Sejong tag. Like mecab-ko-dic's own
//! `user-dic` tooling, it is given the context ids that `left-id.def` and
//! `right-id.def` assign to that tag (the right id also depends on whether the
//! word ends in a final consonant, 종성), so particles and endings attach to it
//! exactly as to a dictionary word of the same class.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use lindera::dictionary::{DictionaryBuilder, Metadata, UserDictionary};

use super::dictionary::CONTEXT_ID_FILES;
use super::error::KoreanError;

/// Word cost given to user entries unless set with [`UserEntry::cost`]. Low
/// enough that the entry beats splitting it into known pieces.
pub const DEFAULT_USER_COST: i16 = -1000;

/// One user dictionary word.
///
/// ```
/// use malmoi_tokenize::korean::UserEntry;
/// let entry = UserEntry::new("챗GPT", "NNP").cost(-2000);
/// assert_eq!(entry.tag(), "NNP");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    surface: String,
    tag: String,
    cost: i16,
}

impl UserEntry {
    /// An entry for `surface` with the Sejong tag `tag` (NNG, NNP, VV, …).
    pub fn new(surface: impl Into<String>, tag: impl Into<String>) -> Self {
        Self { surface: surface.into(), tag: tag.into(), cost: DEFAULT_USER_COST }
    }

    /// Sets the word cost (lower = preferred; system words cost about 0–8000).
    pub fn cost(mut self, cost: i16) -> Self {
        self.cost = cost;
        self
    }

    /// Reads entries from a file of `surface,TAG` or `surface,TAG,cost` lines
    /// (blank lines and lines starting with `#` are skipped). Errors name
    /// the file and line.
    ///
    /// ```no_run
    /// use malmoi_tokenize::korean::{Analyzer, UserEntry};
    /// // user.csv:  챗GPT,NNP
    /// //            딥러닝,NNG,-2000
    /// let entries = UserEntry::read_csv("user.csv")?;
    /// let analyzer = Analyzer::builder().user_entries(entries).build()?;
    /// # Ok::<(), malmoi_tokenize::korean::KoreanError>(())
    /// ```
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Vec<UserEntry>, KoreanError> {
        let path = path.as_ref();
        let text = fs::read_to_string(path).map_err(|e| KoreanError::io(path, e))?;
        let bad_line = |number: usize, reason: String| KoreanError::MalformedUserDictionary {
            path: path.to_path_buf(),
            line: number,
            reason,
        };
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let entry = match fields.as_slice() {
                [surface, tag] => UserEntry::new(*surface, *tag),
                [surface, tag, cost] => {
                    let cost = cost.parse::<i16>().map_err(|e| bad_line(i + 1, format!("cost {cost:?}: {e}")))?;
                    UserEntry::new(*surface, *tag).cost(cost)
                }
                _ => {
                    return Err(bad_line(i + 1, format!("expected `surface,TAG` or `surface,TAG,cost`, got {line:?}")));
                }
            };
            entries.push(entry);
        }
        Ok(entries)
    }

    /// The surface form.
    pub fn surface(&self) -> &str {
        &self.surface
    }

    /// The Sejong part-of-speech tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

/// The feature → context id tables of mecab-ko-dic (`left-id.def`, `right-id.def`).
struct ContextIds {
    left: HashMap<String, u16>,
    right: HashMap<String, u16>,
}

impl ContextIds {
    fn load(dictionary_dir: &Path) -> Result<Self, KoreanError> {
        let [left, right] = CONTEXT_ID_FILES.map(|name| read_id_def(&dictionary_dir.join(name)));
        Ok(Self { left: left?, right: right? })
    }

    /// (left id, right id) for a word tagged `tag` whose final-consonant flag is `jongseong`.
    fn for_entry(&self, tag: &str, jongseong: char) -> Option<(u16, u16)> {
        let left = *self.left.get(&format!("{tag},*,*,*,*,*,*,*"))?;
        let right = self
            .right
            .get(&format!("{tag},*,{jongseong},*,*,*,*,*"))
            .or_else(|| self.right.get(&format!("{tag},*,*,*,*,*,*,*")))?;
        Some((left, *right))
    }

    fn known_tags(&self) -> Vec<&str> {
        let mut tags: Vec<&str> = self
            .left
            .keys()
            .filter_map(|feature| feature.strip_suffix(",*,*,*,*,*,*,*"))
            .filter(|tag| !tag.contains(['+', ',', '/']))
            .collect();
        tags.sort_unstable();
        tags
    }
}

/// Parses `ID FEATURE` lines.
fn read_id_def(path: &Path) -> Result<HashMap<String, u16>, KoreanError> {
    let text = fs::read_to_string(path).map_err(|e| KoreanError::MalformedDictionary {
        path: path.to_path_buf(),
        reason: format!(
            "needed for user entries and unreadable ({e}); it is copied from the mecab-ko-dic source when malmoi builds the dictionary"
        ),
    })?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let parsed =
                line.split_once(' ').and_then(|(id, feature)| Some((feature.to_string(), id.parse::<u16>().ok()?)));
            parsed.ok_or_else(|| KoreanError::MalformedDictionary {
                path: path.to_path_buf(),
                reason: format!("line {}: expected `ID FEATURE`, got {line:?}", i + 1),
            })
        })
        .collect()
}

/// 'T' when the last character is a Hangul syllable with a final consonant,
/// 'F' otherwise (mecab-ko-dic's 종성 유무 field).
fn jongseong(surface: &str) -> char {
    match surface.chars().last() {
        Some(c @ '가'..='힣') if !(c as u32 - '가' as u32).is_multiple_of(28) => 'T',
        _ => 'F',
    }
}

/// Quotes a CSV field when needed.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value.to_string() }
}

fn check_surface(entry: &UserEntry) -> Result<(), KoreanError> {
    let problem = if entry.surface.trim().is_empty() {
        Some("surface is empty or whitespace")
    } else if entry.surface.chars().any(|c| c.is_whitespace() || c == '\0') {
        Some("surface contains whitespace or NUL")
    } else {
        None
    };
    match problem {
        Some(reason) => Err(KoreanError::UserEntry { surface: entry.surface.clone(), reason: reason.into() }),
        None => Ok(()),
    }
}

/// Compiles `entries` into a lindera user dictionary for the system
/// dictionary in `dictionary_dir` (whose `metadata` is given).
pub(crate) fn build_user_dictionary(
    entries: &[UserEntry],
    dictionary_dir: &Path,
    metadata: &Metadata,
) -> Result<UserDictionary, KoreanError> {
    let ids = ContextIds::load(dictionary_dir)?;
    let mut csv = String::new();
    for entry in entries {
        check_surface(entry)?;
        let flag = jongseong(&entry.surface);
        let (left, right) = ids.for_entry(&entry.tag, flag).ok_or_else(|| KoreanError::UserEntry {
            surface: entry.surface.clone(),
            reason: format!("unknown tag {:?}; known tags: {}", entry.tag, ids.known_tags().join(" ")),
        })?;
        let surface = csv_field(&entry.surface);
        csv.push_str(&format!("{surface},{left},{right},{},{},*,{flag},{surface},*,*,*,*\n", entry.cost, entry.tag));
    }
    DictionaryBuilder::new(metadata.clone()).build_user_dict_from_reader(csv.as_bytes()).map_err(|e| {
        KoreanError::UserEntry {
            surface: entries.first().map(|e| e.surface.clone()).unwrap_or_default(),
            reason: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jongseong_follows_the_last_syllable() {
        assert_eq!(jongseong("딥러닝"), 'T');
        assert_eq!(jongseong("아버지"), 'F');
        assert_eq!(jongseong("챗GPT"), 'F');
    }

    #[test]
    fn csv_fields_with_commas_are_quoted() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("ab"), "ab");
    }
}
