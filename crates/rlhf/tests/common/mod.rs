//! What the trainer tests share.

use malmoi_transformer::GptConfig;

/// A one-layer GPT small enough for a test: 16 positions, 2 heads, width 16.
pub fn tiny_config(vocab_size: usize, dropout: f32) -> GptConfig {
    GptConfig { vocab_size, block_size: 16, n_layer: 1, n_head: 2, n_embd: 16, dropout, ..GptConfig::default() }
}
