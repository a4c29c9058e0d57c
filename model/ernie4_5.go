package model

import "zhiyan/gguf"

// ERNIE 4.5 (the dense 0.3B) is the plain Llama decoder with the NORM RoPE
// layout (adjacent pairs). Traps: unlike llama, its GGUF conversion does not
// permute the q/k rows, yet NORM is still right, because ERNIE rotates
// adjacent pairs natively; there is no q/k norm. The q/k/v biases are
// optional; an attn_output.bias, if a file has one, is ignored, as llama.cpp's
// graph ignores it.
func init() {
	register("ernie4_5", func(f *gguf.File, c *Config) (network, error) {
		return loadLlama(f, c, decoderOptions{})
	})
}
