package model

import (
	"fmt"
	"math"

	"zhiyan/gguf"
)

// Hunyuan dense (0.5B–7B) is the Llama decoder with the NEOX RoPE layout and
// a per-head RMSNorm of queries and keys applied AFTER RoPE: the opposite
// order to Qwen3. Traps: the converter folds Hunyuan's NTK "alpha" scaling
// into rope.freq_base, but a file that carries rope.scaling.alpha instead
// gets base·alpha^(D/(D−2)) here, as llama.cpp computes it; multi-section
// RoPE (rope.dimension_sections, for the vision variant) is not supported.
func init() {
	register("hunyuan-dense", func(f *gguf.File, c *Config) (network, error) {
		key := func(k string) string { return c.Arch + "." + k }
		if s, ok := f.Int32s(key("rope.dimension_sections")); ok && len(s) >= 2 && s[0] > 0 && s[1] > 0 {
			return nil, fmt.Errorf("multi-section RoPE (%s = %v) is not supported", key("rope.dimension_sections"), s)
		}
		if alpha, ok := f.Float(key("rope.scaling.alpha")); ok && alpha > 0 {
			d := float32(c.HeadDim)
			c.RopeBase *= float32(math.Pow(float64(float32(alpha)), float64(d/(d-2))))
		}
		return loadLlama(f, c, decoderOptions{neox: true, qkNorm: qkNormAfterRope})
	})
}
