//! Prompt templates: how a question (and the turns before it) becomes the text a model continues.
//!
//! The default is the KoChatGPT tutorial's Alpaca-style template,
//! `### Instruction(명령어):\n{prompt}\n\n### Response(응답):`. SFT, the reward model, PPO, DPO and
//! the playground all render prompts through one [`PromptTemplate`], so a model is always asked
//! in the form it was tuned on.

use std::path::Path;

use crate::error::{Error, Result};

/// The file in a model directory that holds the template the model was tuned with.
pub const TEMPLATE_FILE: &str = "prompt_template.txt";

/// The KoChatGPT tutorial's template.
pub const TUTORIAL_TEMPLATE: &str = "### Instruction(명령어):\n{prompt}\n\n### Response(응답):";

/// Who speaks a chat turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the conversation (OpenAI's `system`).
    System,
    /// The person (`<사람>` in KoChatGPT's conversations).
    User,
    /// The model (`<챗봇>`).
    Assistant,
}

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A turn of `role` saying `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into() }
    }
}

/// A template with one `{prompt}` slot.
///
/// ```
/// use malmoi_rlhf::template::{ChatMessage, PromptTemplate, Role};
///
/// let template = PromptTemplate::default();
/// assert_eq!(template.render("안녕?"), "### Instruction(명령어):\n안녕?\n\n### Response(응답):");
///
/// let chat = [
///     ChatMessage::new(Role::User, "기계 학습이 뭐야?"),
///     ChatMessage::new(Role::Assistant, "데이터에서 배우는 방법입니다."),
///     ChatMessage::new(Role::User, "예를 들어 줘."),
/// ];
/// let prompt = template.render_chat(&chat).unwrap();
/// assert!(prompt.contains("<사람>: 기계 학습이 뭐야?\n<챗봇>: 데이터에서 배우는 방법입니다.\n<사람>: 예를 들어 줘."));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptTemplate {
    before: String,
    after: String,
}

impl Default for PromptTemplate {
    fn default() -> Self {
        Self::new(TUTORIAL_TEMPLATE).expect("the tutorial template has one slot")
    }
}

impl PromptTemplate {
    /// A template from text holding `{prompt}` exactly once.
    pub fn new(template: &str) -> Result<Self> {
        let mut parts = template.split("{prompt}");
        match (parts.next(), parts.next(), parts.next()) {
            (Some(before), Some(after), None) => Ok(Self { before: before.to_owned(), after: after.to_owned() }),
            _ => Err(Error::Template(template.to_owned())),
        }
    }

    /// The text a model continues to answer `prompt`.
    pub fn render(&self, prompt: &str) -> String {
        format!("{}{prompt}{}", self.before, self.after)
    }

    /// The prompt for the next assistant turn of a conversation.
    ///
    /// A conversation that is only one user turn renders as [`render`](Self::render) of it.
    /// Longer ones put every turn in KoChatGPT's own notation (`<사람>: …`, `<챗봇>: …`, one per
    /// line, system messages first as plain lines) into the slot, so the earlier turns are the
    /// context of the last. The last turn must be the user's.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String> {
        let Some(last) = messages.last() else {
            return Err(Error::Input("a conversation needs at least one message".into()));
        };
        if last.role != Role::User {
            return Err(Error::Input("the last message of a conversation must be the user's".into()));
        }
        Ok(self.render(&conversation_text(messages)))
    }

    /// The template's text, `{prompt}` slot included.
    pub fn text(&self) -> String {
        format!("{}{{prompt}}{}", self.before, self.after)
    }

    /// Writes the template into a model directory as [`TEMPLATE_FILE`] (atomically), marking the
    /// model as one tuned to answer prompts in this form.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let path = dir.as_ref().join(TEMPLATE_FILE);
        malmoi_tensor::checkpoint::write_atomically(&path, self.text().as_bytes())?;
        Ok(())
    }

    /// The template saved in a model directory, or `None` for a model that was never tuned on
    /// prompts (a plain language model, which continues text as it is).
    pub fn load(dir: impl AsRef<Path>) -> Result<Option<Self>> {
        let path = dir.as_ref().join(TEMPLATE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::new(&text).map(Some),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }
}

/// What a conversation puts into a template's slot: a single message's content as it is, several
/// in KoChatGPT's notation, one per line (`<사람>: …`, `<챗봇>: …`; system messages as plain
/// lines). SFT pairs made from multi-turn chats carry this text as their prompt, so they render
/// exactly as [`PromptTemplate::render_chat`] renders the same turns.
pub fn conversation_text(messages: &[ChatMessage]) -> String {
    if let [only] = messages {
        return only.content.clone();
    }
    let lines: Vec<String> = messages.iter().map(line).collect();
    lines.join("\n")
}

fn line(message: &ChatMessage) -> String {
    match message.role {
        Role::System => message.content.clone(),
        Role::User => format!("<사람>: {}", message.content),
        Role::Assistant => format!("<챗봇>: {}", message.content),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_round_trips_through_a_model_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(PromptTemplate::load(dir.path()).unwrap(), None);
        let template = PromptTemplate::new("Q: {prompt}\nA:").unwrap();
        template.save(dir.path()).unwrap();
        assert_eq!(PromptTemplate::load(dir.path()).unwrap(), Some(template));
    }

    #[test]
    fn a_template_needs_exactly_one_slot() {
        assert!(PromptTemplate::new("no slot").is_err());
        assert!(PromptTemplate::new("{prompt} and {prompt}").is_err());
        assert_eq!(PromptTemplate::new("Q: {prompt}\nA:").unwrap().render("x"), "Q: x\nA:");
    }

    #[test]
    fn a_chat_must_end_with_the_user() {
        let template = PromptTemplate::default();
        assert!(template.render_chat(&[]).is_err());
        assert!(template.render_chat(&[ChatMessage::new(Role::Assistant, "hi")]).is_err());
        let with_system = [ChatMessage::new(Role::System, "친절하게 답하세요."), ChatMessage::new(Role::User, "안녕")];
        assert_eq!(template.render_chat(&with_system).unwrap(), template.render("친절하게 답하세요.\n<사람>: 안녕"));
    }
}
