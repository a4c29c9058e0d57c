package model

import "zhiyan/gguf"

// Qwen2 (Qwen2 and Qwen2.5) is the Llama decoder with biases on the q, k and
// v projections and the NEOX RoPE layout; the biases are loaded when present.
func init() {
	register("qwen2", func(f *gguf.File, c *Config) (network, error) { return loadLlama(f, c, decoderOptions{neox: true}) })
}
