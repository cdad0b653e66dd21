//! A seed's fresh weights never change: the trained figures the docs quote (sentiment accuracy,
//! seq2seq exact match, LSTM-LM perplexity) start from them. The fingerprints below were taken
//! from the models as built before they were built from a `VarBuilder` (an rng drawn layer by
//! layer), so they pin today's draw order and distributions too.

use malmoi_seq::lstm_lm::{LstmLm, LstmLmConfig};
use malmoi_seq::sentiment::{ModelConfig, Pooling, SentimentModel};
use malmoi_seq::seq2seq::{AttentionScore, Seq2SeqConfig, Seq2SeqModel};
use malmoi_tensor::nn::{CellKind, Module, RecurrentInit};

/// FNV-1a over every parameter in name order: the name, a zero byte, the little-endian `f32`s.
fn fingerprint(model: &impl Module) -> u64 {
    let mut params: Vec<(String, Vec<f32>)> =
        model.named_parameters().into_iter().map(|(name, t)| (name, t.data().iter().copied().collect())).collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let bytes = params.iter().flat_map(|(name, values)| {
        let name = name.bytes().chain([0]);
        name.chain(values.iter().flat_map(|v| v.to_le_bytes())).collect::<Vec<u8>>()
    });
    bytes.fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[test]
fn sentiment_models_keep_their_fresh_weights() {
    let lecture = ModelConfig::lecture(50);
    let mut stacked = ModelConfig::lecture(30);
    stacked.embedding_dim = 6;
    stacked.encoder.input_size = 6;
    stacked.encoder.hidden_size = 5;
    stacked.encoder.kind = CellKind::Gru;
    stacked.encoder.initialization = RecurrentInit::PyTorch;
    stacked.encoder.num_layers = 2;
    stacked.encoder.bidirectional = true;
    stacked.encoder.dropout = 0.4;
    stacked.pooling = Pooling::MaxOverTime;
    stacked.dropout = 0.3;
    let mut keras_stack = ModelConfig::lecture(25);
    keras_stack.encoder.num_layers = 2;
    keras_stack.encoder.bidirectional = true;
    for (config, seed, expected) in [
        (lecture, 42, 0xbc8e_9667_092d_ae46),
        (stacked, 7, 0xd201_cc66_2ccf_03c4),
        (keras_stack, 0, 0x7760_3871_9c8f_209f),
    ] {
        let model = SentimentModel::new(config.clone(), seed).unwrap();
        assert_eq!(fingerprint(&model), expected, "seed {seed}: {config:?}");
    }
}

#[test]
fn seq2seq_models_keep_their_fresh_weights() {
    let default = Seq2SeqConfig::new(20, 25, 8, 6);
    let gru_dot = Seq2SeqConfig {
        cell: CellKind::Gru,
        bidirectional: false,
        attention: AttentionScore::Dot,
        dropout: 0.3,
        ..default.clone()
    };
    for (config, seed, expected) in [(default, 42, 0x9b4b_6eb6_b66a_cae0), (gru_dot, 5, 0x0802_0a0f_1a87_a786)] {
        let model = Seq2SeqModel::new(config.clone(), seed).unwrap();
        assert_eq!(fingerprint(&model), expected, "seed {seed}: {config:?}");
    }
}

#[test]
fn lstm_language_models_keep_their_fresh_weights() {
    let corpus: Vec<Vec<String>> =
        ["a b c", "a b d", "b c e f"].iter().map(|s| s.split(' ').map(String::from).collect()).collect();
    let vocab = LstmLm::vocabulary(&corpus, 10);
    let config = LstmLmConfig { vocab_size: vocab.len(), embedding_dim: 8, hidden_size: 12, num_layers: 2 };
    assert_eq!(fingerprint(&LstmLm::new(config, vocab, 7).unwrap()), 0x796f_250b_82ae_4161);
}
