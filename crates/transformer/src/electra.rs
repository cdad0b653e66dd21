//! ELECTRA discriminators (KoELECTRA, KcELECTRA): BERT's encoder whose embeddings may be
//! narrower than its hidden states — `embeddings_project` (`embedding_size → hidden_size`)
//! widens them — under `transformers`' `ElectraModel` names, and
//! `ElectraForSequenceClassification`: `classifier.dense`, exact GELU, `classifier.out_proj`
//! over the first token's state (ELECTRA has no pooler).
//!
//! A pre-trained discriminator folder (`ElectraForPreTraining`: `electra.*` and
//! `discriminator_predictions.*`) loads as an [`ElectraModel`], the pre-training head skipped,
//! and becomes a classifier to fine-tune with [`ElectraForSequenceClassification::new`].
//!
//! ```
//! use malmoi_transformer::bert::BertInput;
//! use malmoi_transformer::electra::{ElectraConfig, ElectraForSequenceClassification, ElectraModel};
//!
//! let config: ElectraConfig = serde_json::from_str(r#"{"model_type": "electra", "vocab_size": 30,
//!     "embedding_size": 8, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
//!     "intermediate_size": 32, "max_position_embeddings": 16}"#)?;
//! let electra = ElectraModel::new(config, 0)?;
//! assert!(electra.encoder.embeddings_project.is_some()); // 8 → 16
//! let mut classifier = ElectraForSequenceClassification::new(electra, 2, 0)?;
//! let input = BertInput::pad(&[(vec![2, 7, 9, 3], vec![0; 4])], 0)?;
//! assert_eq!(classifier.predict_proba(&input)?.dim(), (1, 2));
//! let dir = tempfile::tempdir()?;
//! classifier.save_pretrained(dir.path())?; // transformers' AutoModelForSequenceClassification loads it
//! let loaded = ElectraForSequenceClassification::from_pretrained(dir.path(), 2)?;
//! assert_eq!(loaded.num_labels(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bert::{
    BertConfig, BodyShape, EncoderForSequenceClassification, EncoderModel, FamilyConfig, HeadActivation, PositionIds,
};
use crate::error::{Error, Result};

/// `transformers`' `ElectraModel`: the discriminator's encoder.
pub type ElectraModel = EncoderModel<ElectraConfig>;

/// `transformers`' `ElectraForSequenceClassification`: `electra.*` and `classifier.*`.
pub type ElectraForSequenceClassification = EncoderForSequenceClassification<ElectraConfig>;

/// `ElectraConfig`'s keys (the `config.json` of an ELECTRA model directory).
///
/// `summary_*` keys (read only by `ElectraForMultipleChoice`) and other metadata are ignored;
/// keys that change the computation and are not implemented are refused by name
/// ([`crate::config_keys`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElectraConfig {
    /// Width of the embedding tables (`transformers`' default: 128); when it differs from
    /// `hidden_size`, `embeddings_project` maps the embeddings to the hidden width.
    #[serde(default = "embedding_size")]
    pub embedding_size: usize,
    /// The keys shared with BERT (`model_type` `"electra"`).
    #[serde(flatten)]
    pub bert: BertConfig,
}

fn embedding_size() -> usize {
    128
}

impl FamilyConfig for ElectraConfig {
    const MODEL_TYPES: &'static [&'static str] = &["electra"];
    const PREFIX: &'static str = "electra";
    const POOLER: bool = false;
    const HEAD_ACTIVATION: HeadActivation = HeadActivation::Gelu;

    fn parse(json: Value, path: &Path) -> Result<Self> {
        serde_json::from_value(json).map_err(Error::json(path))
    }

    fn keys(&self) -> &BertConfig {
        &self.bert
    }

    fn shape(&self, pooler: bool) -> BodyShape {
        BodyShape { embedding_size: self.embedding_size, positions: PositionIds::Absolute, pooler }
    }

    fn architecture(&self, task: &str) -> String {
        format!("Electra{task}")
    }

    /// The discriminator's and the generator's pre-training heads.
    fn is_other_head(name: &str) -> bool {
        ["discriminator_predictions.", "generator_predictions.", "generator_lm_head."]
            .iter()
            .any(|head| name.starts_with(head))
    }
}
