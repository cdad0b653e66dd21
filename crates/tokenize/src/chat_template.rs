//! Chat templates: the Jinja template a checkpoint ships in `tokenizer_config.json` (or
//! `chat_template.jinja`) that turns a conversation into the exact prompt text the model was
//! tuned on — `transformers`' `apply_chat_template(messages, tokenize=False,
//! add_generation_prompt=…)`.
//!
//! Rendering uses minijinja configured as `transformers` configures Jinja: `trim_blocks`,
//! `lstrip_blocks`, loop controls, Python string methods (`.strip()`, `.startswith()`, …),
//! `raise_exception(msg)`, `strftime_now(fmt)` and a `tojson` that writes as Python's
//! `json.dumps`. The special tokens (`bos_token`, `eos_token`, …) are in the context. Template
//! execution is bounded (fuel), so a hostile template cannot loop forever.
//!
//! ```
//! use malmoi_tokenize::chat_template::{ChatMessage, ChatTemplate};
//!
//! let template = ChatTemplate::new(
//!     "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}\
//!      {% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
//! )?;
//! let prompt = template.render(&[ChatMessage::user("안녕?")], true, &Default::default())?;
//! assert_eq!(prompt, "<|im_start|>user\n안녕?<|im_end|>\n<|im_start|>assistant\n");
//! # Ok::<(), malmoi_tokenize::chat_template::ChatTemplateError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Value as JinjaValue, ValueKind};
use minijinja::{Environment, Error as JinjaError, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The file `transformers` writes a tokenizer's settings to.
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
/// The file `transformers` 4.43+ writes a chat template to, beside the tokenizer config.
pub const CHAT_TEMPLATE_FILE: &str = "chat_template.jinja";

/// Instructions a template may execute per render: ample for any real conversation, a bound
/// for a template that would loop forever.
const FUEL: u64 = 5_000_000;

/// What can go wrong reading or rendering a chat template.
#[derive(Debug, thiserror::Error)]
pub enum ChatTemplateError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `tokenizer_config.json` is not the JSON expected.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// The template does not compile.
    #[error("chat template does not compile: {0}")]
    Syntax(String),
    /// Rendering failed: the template raised (`raise_exception`), used something undefined, or
    /// ran out of fuel.
    #[error("chat template failed to render: {0}")]
    Render(String),
    /// The checkpoint has no chat template.
    #[error("no chat template{0}")]
    Missing(String),
}

type Result<T> = std::result::Result<T, ChatTemplateError>;

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant` (templates may accept others, such as `tool`).
    pub role: String,
    /// The text of the turn.
    pub content: String,
}

impl ChatMessage {
    /// A turn of `role`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage { role: role.into(), content: content.into() }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// A user turn.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An assistant turn.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// The special tokens a template sees by name (`bos_token`, `eos_token`, …).
pub type SpecialTokens = BTreeMap<String, String>;

/// A compiled chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    source: String,
    env: Environment<'static>,
}

impl ChatTemplate {
    /// Compiles `source`.
    ///
    /// # Errors
    /// [`ChatTemplateError::Syntax`] with minijinja's message (line and reason).
    pub fn new(source: impl Into<String>) -> Result<Self> {
        let source = source.into();
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).keep_trailing_newline(false).build();
        env.set_syntax(syntax.map_err(|e| ChatTemplateError::Syntax(describe(&e)))?);
        env.set_fuel(Some(FUEL));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_filter("tojson", tojson);
        env.add_template_owned("chat", source.clone()).map_err(|e| ChatTemplateError::Syntax(describe(&e)))?;
        Ok(ChatTemplate { source, env })
    }

    /// The template's source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The prompt text for `messages`; with `add_generation_prompt` it ends where the
    /// assistant's next turn begins. `special` supplies `bos_token`, `eos_token` and the like.
    ///
    /// # Errors
    /// [`ChatTemplateError::Render`] with the template's own message when it raises (a role
    /// it does not accept, turns out of order) or fails.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        special: &SpecialTokens,
    ) -> Result<String> {
        self.render_value(JinjaValue::from(minijinja::value::Serde(messages)), None, add_generation_prompt, special)
    }

    /// [`render`](Self::render) for messages given as JSON text (with fields beyond `role` and
    /// `content`, such as `tool_calls`) and tool definitions (JSON schemas, or `null`), as
    /// `apply_chat_template(messages, tools=…)` takes them. Objects keep their key order, so a
    /// template that writes them with `tojson` gives Python's text.
    ///
    /// # Errors
    /// [`ChatTemplateError::Render`] for JSON that does not parse, and as [`render`](Self::render).
    pub fn render_json(
        &self,
        messages: &str,
        tools: Option<&str>,
        add_generation_prompt: bool,
        special: &SpecialTokens,
    ) -> Result<String> {
        let parse = |text: &str| -> Result<JinjaValue> {
            let parsed: Ordered =
                serde_json::from_str(text).map_err(|e| ChatTemplateError::Render(format!("JSON: {e}")))?;
            Ok(JinjaValue::from(minijinja::value::Serde(parsed)))
        };
        let tools = tools.map(parse).transpose()?.filter(|t| !t.is_none());
        self.render_value(parse(messages)?, tools, add_generation_prompt, special)
    }

    fn render_value(
        &self,
        messages: JinjaValue,
        tools: Option<JinjaValue>,
        add_generation_prompt: bool,
        special: &SpecialTokens,
    ) -> Result<String> {
        let template = self.env.get_template("chat").expect("added in new");
        let mut context: BTreeMap<&str, JinjaValue> =
            special.iter().map(|(k, v)| (k.as_str(), JinjaValue::from(v.as_str()))).collect();
        context.insert("messages", messages);
        context.insert("add_generation_prompt", JinjaValue::from(add_generation_prompt));
        context.insert("tools", tools.unwrap_or(JinjaValue::from(())));
        template.render(context).map_err(|e| ChatTemplateError::Render(describe(&e)))
    }
}

/// A tokenizer's settings from `tokenizer_config.json` that change what a prompt becomes: the
/// chat template and the special tokens it uses, and whether a BOS / EOS token is added.
/// Other keys (`model_max_length`, `clean_up_tokenization_spaces`, `tokenizer_class`, …)
/// are metadata here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenizerConfig {
    /// The default chat template, if any.
    pub chat_template: Option<String>,
    /// Named templates (`tool_use`, `rag`, …) when the file lists several.
    pub named_templates: BTreeMap<String, String>,
    /// `bos_token`, `eos_token`, `unk_token`, `pad_token`, `sep_token`, `cls_token`,
    /// `mask_token` as their text.
    pub special_tokens: SpecialTokens,
    /// Whether encoding a prompt adds the BOS token (Llama's `add_bos_token`).
    pub add_bos_token: Option<bool>,
    /// Whether encoding adds the EOS token.
    pub add_eos_token: Option<bool>,
}

impl TokenizerConfig {
    /// Reads `tokenizer_config.json` and `chat_template.jinja` in a model directory; a
    /// directory with neither gives the empty config.
    ///
    /// # Errors
    /// [`ChatTemplateError::Io`] / [`ChatTemplateError::Config`] naming the file and field.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let path = dir.join(TOKENIZER_CONFIG_FILE);
        let mut config = if path.is_file() {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| ChatTemplateError::Io { path: path.clone(), source })?;
            let json: Value = serde_json::from_str(&text)
                .map_err(|e| ChatTemplateError::Config { path: path.clone(), reason: e.to_string() })?;
            Self::from_json(&json).map_err(|reason| ChatTemplateError::Config { path: path.clone(), reason })?
        } else {
            TokenizerConfig::default()
        };
        let jinja = dir.join(CHAT_TEMPLATE_FILE);
        if jinja.is_file() {
            let template =
                std::fs::read_to_string(&jinja).map_err(|source| ChatTemplateError::Io { path: jinja, source })?;
            config.chat_template = Some(template);
        }
        Ok(config)
    }

    /// The settings in a parsed `tokenizer_config.json`.
    ///
    /// # Errors
    /// A message naming the field that has an unexpected type.
    pub fn from_json(json: &Value) -> std::result::Result<Self, String> {
        let mut config = TokenizerConfig::default();
        match json.get("chat_template") {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) => config.chat_template = Some(t.clone()),
            Some(Value::Array(named)) => {
                for entry in named {
                    let (Some(name), Some(template)) =
                        (entry.get("name").and_then(Value::as_str), entry.get("template").and_then(Value::as_str))
                    else {
                        return Err("chat_template: each entry needs a name and a template".into());
                    };
                    config.named_templates.insert(name.into(), template.into());
                }
                config.chat_template = config.named_templates.get("default").cloned();
            }
            Some(other) => return Err(format!("chat_template: expected a string or a list, got {other}")),
        }
        for key in ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"] {
            if let Some(token) = token_text(json.get(key)).map_err(|e| format!("{key}: {e}"))? {
                config.special_tokens.insert(key.into(), token);
            }
        }
        for (key, slot) in [("add_bos_token", &mut config.add_bos_token), ("add_eos_token", &mut config.add_eos_token)]
        {
            *slot = match json.get(key) {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(other) => return Err(format!("{key}: expected true or false, got {other}")),
            };
        }
        Ok(config)
    }

    /// The compiled default template, or the one called `name`.
    ///
    /// # Errors
    /// [`ChatTemplateError::Missing`] when there is none; [`ChatTemplateError::Syntax`].
    pub fn template(&self, name: Option<&str>) -> Result<ChatTemplate> {
        let source = match name {
            None => self.chat_template.as_ref(),
            Some(name) => self.named_templates.get(name),
        };
        let source = source
            .ok_or_else(|| ChatTemplateError::Missing(name.map_or(String::new(), |n| format!(" named {n:?}"))))?;
        ChatTemplate::new(source.clone())
    }
}

/// JSON parsed with the order of object keys kept (serde_json's map sorts them); serialized
/// into a template value in that order.
#[derive(Deserialize, Serialize)]
#[serde(untagged)]
enum Ordered {
    Null(()),
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<Ordered>),
    Object(indexmap::IndexMap<String, Ordered>),
}

/// A special token's text: a string, or an `AddedToken` object's `content`.
fn token_text(value: Option<&Value>) -> std::result::Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Object(o)) => match o.get("content") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            _ => Err("an added-token object without a content string".into()),
        },
        Some(other) => Err(format!("expected a string, got {other}")),
    }
}

fn raise_exception(message: String) -> std::result::Result<JinjaValue, JinjaError> {
    Err(JinjaError::new(ErrorKind::InvalidOperation, message))
}

/// `strftime_now(format)`: the current UTC time in a C `strftime` format (the common codes).
fn strftime_now(format: String) -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let secs = seconds.rem_euclid(86_400);
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&year.to_string()),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('B') => out.push_str(MONTHS[month as usize - 1]),
            Some('b') => out.push_str(&MONTHS[month as usize - 1][..3]),
            Some('H') => out.push_str(&format!("{:02}", secs / 3600)),
            Some('M') => out.push_str(&format!("{:02}", secs / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", secs % 60)),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `tojson` as `transformers` defines it: `json.dumps(x, ensure_ascii=False, indent=indent)`
/// with Python's separators (`", "` and `": "`).
fn tojson(value: JinjaValue, kwargs: Kwargs) -> std::result::Result<JinjaValue, JinjaError> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let mut out = String::new();
    python_json(&value, indent, 0, &mut out)?;
    Ok(JinjaValue::from_safe_string(out))
}

/// Writes `value` as Python's `json.dumps` would, keeping the order of mappings.
fn python_json(
    value: &JinjaValue,
    indent: Option<usize>,
    depth: usize,
    out: &mut String,
) -> std::result::Result<(), JinjaError> {
    let newline = |out: &mut String, depth: usize| {
        if let Some(width) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(width * depth));
        }
    };
    let separator = if indent.is_some() { "," } else { ", " };
    let (open, close, is_map) = match value.kind() {
        ValueKind::Undefined | ValueKind::None => {
            out.push_str("null");
            return Ok(());
        }
        ValueKind::Bool => {
            out.push_str(if value.is_true() { "true" } else { "false" });
            return Ok(());
        }
        ValueKind::Number => {
            out.push_str(&value.to_string());
            return Ok(());
        }
        ValueKind::String => {
            out.push_str(&Value::from(value.as_str().unwrap_or_default()).to_string());
            return Ok(());
        }
        ValueKind::Map => ('{', '}', true),
        ValueKind::Seq | ValueKind::Iterable => ('[', ']', false),
        other => return Err(JinjaError::new(ErrorKind::InvalidOperation, format!("tojson cannot write a {other}"))),
    };
    out.push(open);
    let items: Vec<JinjaValue> = value.try_iter()?.collect();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        newline(out, depth + 1);
        if is_map {
            python_json(&JinjaValue::from(item.to_string()), indent, depth + 1, out)?;
            out.push_str(": ");
            python_json(&value.get_item(item)?, indent, depth + 1, out)?;
        } else {
            python_json(item, indent, depth + 1, out)?;
        }
    }
    if !items.is_empty() {
        newline(out, depth);
    }
    out.push(close);
    Ok(())
}

/// minijinja's error with its detail and line.
fn describe(error: &JinjaError) -> String {
    let mut text = error.detail().map_or_else(|| error.kind().to_string(), str::to_string);
    if let Some(line) = error.line() {
        text.push_str(&format!(" (line {line})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raise_exception_surfaces_its_message() {
        let template =
            ChatTemplate::new("{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}")
                .unwrap();
        let err = template.render(&[ChatMessage::assistant("x")], false, &SpecialTokens::new()).unwrap_err();
        assert!(err.to_string().contains("user first"), "{err}");
    }

    #[test]
    fn an_endless_template_runs_out_of_fuel() {
        let template =
            ChatTemplate::new("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}")
                .unwrap();
        assert!(matches!(template.render(&[], false, &SpecialTokens::new()), Err(ChatTemplateError::Render(_))));
    }

    #[test]
    fn tojson_writes_as_python() {
        let template = ChatTemplate::new("{{ messages[0] | tojson }}").unwrap();
        let out = template.render(&[ChatMessage::user("한국어")], false, &SpecialTokens::new()).unwrap();
        assert_eq!(out, r#"{"role": "user", "content": "한국어"}"#);
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_453), (2025, 12, 31));
    }
}
