package model

import "zhiyan/gguf"

// Qwen3 is the Llama decoder with a per-head RMSNorm of queries and keys
// (attn_q_norm, attn_k_norm: D weights, the model's eps) applied BEFORE RoPE,
// and the NEOX RoPE layout. Traps: the head width comes from
// attention.key_length, so the query width H*D differs from the embedding
// width (0.6B: 16×128 = 2048 against 1024); the released models have no q/k/v
// biases, which are still loaded when present, as llama.cpp does.
func init() {
	register("qwen3", func(f *gguf.File, c *Config) (network, error) {
		return loadLlama(f, c, decoderOptions{neox: true, qkNorm: qkNormBeforeRope})
	})
}
