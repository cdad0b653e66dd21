//! RoBERTa and XLM-R (KLUE-RoBERTa, XLM-RoBERTa): BERT's encoder whose positions start after
//! the padding id — [`PositionIds::AfterPadding`], `transformers`'
//! `create_position_ids_from_input_ids` — with one token type, under `transformers`'
//! `RobertaModel` names, and `RobertaForSequenceClassification`: `classifier.dense`, tanh,
//! `classifier.out_proj` over `<s>` (the classifier has no pooler; a stored one is skipped).
//! XLM-R is the same architecture with `model_type` `"xlm-roberta"`, saved as
//! `XLMRobertaForSequenceClassification`.
//!
//! A pre-trained masked-LM folder (`roberta.*`, `lm_head.*`) loads as a [`RobertaModel`], the
//! head skipped, and becomes a classifier to fine-tune with
//! [`RobertaForSequenceClassification::new`].
//!
//! ```
//! use malmoi_transformer::bert::{BertInput, PositionIds};
//! use malmoi_transformer::roberta::{RobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaModel};
//!
//! let config: RobertaConfig = serde_json::from_str(r#"{"model_type": "xlm-roberta", "vocab_size": 30,
//!     "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
//!     "max_position_embeddings": 18, "type_vocab_size": 1, "layer_norm_eps": 1e-5}"#)?;
//! assert_eq!(config.bert.pad_token_id, 1); // transformers' default for RoBERTa
//! let xlmr = XLMRobertaModel::new(config, 0)?;
//! assert_eq!(xlmr.encoder.positions(), PositionIds::AfterPadding { padding_idx: 1 });
//! let classifier = XLMRobertaForSequenceClassification::new(xlmr, 3, 0)?;
//! let input = BertInput::pad(&[(vec![0, 7, 9, 2], vec![0; 4]), (vec![0, 5, 2], vec![0; 3])], 1)?;
//! assert_eq!(classifier.forward(&input)?.shape(), [2, 3]);
//! let too_long = BertInput::pad(&[(vec![5; 17], vec![0; 17])], 1)?; // 18 positions take 16 tokens
//! assert!(classifier.forward(&too_long).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bert::{
    BertConfig, BodyShape, EncoderForSequenceClassification, EncoderModel, FamilyConfig, HeadActivation, PositionIds,
};
use crate::error::{Error, Result};

/// `transformers`' `RobertaModel` (with its pooler, when stored).
pub type RobertaModel = EncoderModel<RobertaConfig>;

/// `transformers`' `RobertaForSequenceClassification`: `roberta.*` and `classifier.*`.
pub type RobertaForSequenceClassification = EncoderForSequenceClassification<RobertaConfig>;

/// `transformers`' `XLMRobertaModel`: RoBERTa's architecture, `model_type` `"xlm-roberta"`.
pub type XLMRobertaModel = RobertaModel;

/// `transformers`' `XLMRobertaForSequenceClassification`: RoBERTa's classifier, `model_type`
/// `"xlm-roberta"`.
pub type XLMRobertaForSequenceClassification = RobertaForSequenceClassification;

/// `RobertaConfig`'s and `XLMRobertaConfig`'s keys (the `config.json` of a RoBERTa or XLM-R
/// model directory): BERT's, `pad_token_id` defaulting to 1 as in `transformers`.
///
/// Metadata is ignored; keys that change the computation and are not implemented are refused
/// by name ([`crate::config_keys`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobertaConfig {
    /// The keys shared with BERT (`model_type` `"roberta"` or `"xlm-roberta"`).
    #[serde(flatten)]
    pub bert: BertConfig,
}

/// RoBERTa's padding id when `config.json` does not name one.
const PAD_TOKEN_ID: u32 = 1;

impl<'de> Deserialize<'de> for RobertaConfig {
    /// BERT's keys, with RoBERTa's default `pad_token_id`.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let mut json = serde_json::Map::<String, Value>::deserialize(deserializer)?;
        json.entry("pad_token_id").or_insert(Value::from(PAD_TOKEN_ID));
        let bert = serde_json::from_value(Value::Object(json)).map_err(serde::de::Error::custom)?;
        Ok(RobertaConfig { bert })
    }
}

impl FamilyConfig for RobertaConfig {
    const MODEL_TYPES: &'static [&'static str] = &["roberta", "xlm-roberta"];
    const PREFIX: &'static str = "roberta";
    const POOLER: bool = true;
    const HEAD_ACTIVATION: HeadActivation = HeadActivation::Tanh;

    fn parse(json: Value, path: &Path) -> Result<Self> {
        serde_json::from_value(json).map_err(Error::json(path))
    }

    fn keys(&self) -> &BertConfig {
        &self.bert
    }

    fn shape(&self, pooler: bool) -> BodyShape {
        let positions = PositionIds::AfterPadding { padding_idx: self.bert.pad_token_id };
        BodyShape { embedding_size: self.bert.hidden_size, positions, pooler }
    }

    fn architecture(&self, task: &str) -> String {
        let family = if self.bert.model_type == "xlm-roberta" { "XLMRoberta" } else { "Roberta" };
        format!("{family}{task}")
    }

    /// The masked-LM head.
    fn is_other_head(name: &str) -> bool {
        name.starts_with("lm_head.")
    }
}
