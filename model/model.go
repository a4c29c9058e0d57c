// Package model runs transformer language models stored in GGUF files: one
// file per architecture, registered by its general.architecture name, all
// built from the kernel package's operations. It knows nothing of servers,
// tokenizers or sampling.
package model

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"zhiyan/gguf"
	"zhiyan/kernel"
)

// Config holds the hyper-parameters a forward pass needs.
type Config struct {
	Arch       string
	Embd       int // C: embedding width
	Layers     int // L
	Heads      int // H: query heads
	KVHeads    int // KV heads (grouped-query attention when < Heads)
	HeadDim    int // D
	FFN        int // SwiGLU hidden width
	Vocab      int // V
	ContextLen int // trained context length
	RMSEps     float32
	RopeBase   float32
	RopeDim    int     // dimensions rotated per head (n_rot)
	AttnScale  float32 // softmax scale of q·k
}

// network is one architecture's weights and forward pass.
type network interface {
	// forward runs the steps' tokens (validated by Batch.Forward) through
	// the network at their sequences' positions, storing keys and values in
	// their caches and writing the logits or hidden states they ask for.
	forward(b *Batch, steps []Step)
	// matrixGroups lists the weight matrices, grouped as they are applied
	// to one input together, for sizing scratch.
	matrixGroups() [][]*kernel.Matrix
}

type loader func(f *gguf.File, c *Config) (network, error)

var architectures = map[string]loader{}

// register makes an architecture loadable by its GGUF name.
func register(arch string, load loader) { architectures[arch] = load }

// Supported lists the architectures this package can run.
func Supported() []string {
	names := make([]string, 0, len(architectures))
	for n := range architectures {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Model is a loaded network whose weights view the mapped GGUF file.
type Model struct {
	Config Config
	File   *gguf.File
	net    network

	prepack     sync.Once
	packedBytes int
	move        sync.Once
	movedBytes  int
}

// Prepack packs the weights once for batch products, so that decoding
// several sequences together (model.Batch with more than one) does not
// repack them at every step; prompts get a little faster too. It costs heap
// memory (about twice the size of the weights of the types it applies to,
// Q8_0, Q4_0, Q5_0, Q4_1 and Q5_1), which it reports; later calls do nothing.
// Call it before the model is used.
func (m *Model) Prepack() int {
	m.prepack.Do(func() {
		for _, g := range m.net.matrixGroups() {
			for _, mat := range g {
				m.packedBytes += mat.Prepack()
			}
		}
	})
	return m.packedBytes
}

// MoveWeights moves the weight matrices out of the file's map into memory
// of the model's own (gguf.File.Alloc), when the machine has room for them,
// and releases the file's pages: decoding streams every matrix from memory
// at every token, and that memory, in huge pages, streams faster than the
// page cache; on the way the kernels rewrite the types they read faster in
// another layout (kernel.Matrix.MoveTo). Memory use stays the same. It
// reports the bytes moved; later calls do nothing. Call it before the model
// is used.
func (m *Model) MoveWeights() int {
	m.move.Do(func() {
		for _, g := range m.net.matrixGroups() {
			for _, mat := range g {
				buf := m.File.Alloc(len(mat.Data))
				if buf == nil {
					return
				}
				old := mat.Data
				mat.MoveTo(buf)
				m.File.Release(old)
				m.movedBytes += len(buf)
			}
		}
	})
	return m.movedBytes
}

// maxLayers bounds block_count: per-layer tables are sized by it.
const maxLayers = 512

// Load builds the model described by an opened GGUF file. The file must stay
// open while the model is used.
func Load(f *gguf.File) (*Model, error) {
	arch, ok := f.String("general.architecture")
	if !ok {
		return nil, errors.New("model: general.architecture is missing")
	}
	load, ok := architectures[arch]
	if !ok {
		return nil, fmt.Errorf("model: unsupported architecture %q (supported: %s)", arch, strings.Join(Supported(), ", "))
	}
	c, err := readConfig(f, arch)
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", arch, err)
	}
	net, err := load(f, &c)
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", arch, err)
	}
	return &Model{Config: c, File: f, net: net}, nil
}

// readConfig reads the hyper-parameters common to llama-like architectures.
func readConfig(f *gguf.File, arch string) (Config, error) {
	c := Config{Arch: arch}
	key := func(k string) string { return arch + "." + k }
	var err error
	positive := func(k string, dst *int, def int) {
		if err != nil {
			return
		}
		v, ok := f.Uint(key(k))
		if !ok {
			if kv, present := f.Lookup(key(k)); present {
				err = fmt.Errorf("%s: expected a non-negative integer, found %s", key(k), kv.Type)
				return
			}
			if def < 0 {
				err = fmt.Errorf("%s is missing", key(k))
				return
			}
			v = uint64(def)
		}
		if v == 0 || v > 1<<24 {
			err = fmt.Errorf("%s = %d is out of range", key(k), v)
			return
		}
		*dst = int(v)
	}
	positive("embedding_length", &c.Embd, -1)
	positive("block_count", &c.Layers, -1)
	positive("attention.head_count", &c.Heads, -1)
	positive("attention.head_count_kv", &c.KVHeads, c.Heads)
	positive("feed_forward_length", &c.FFN, -1)
	positive("context_length", &c.ContextLen, 4096)
	if err != nil {
		return c, err
	}
	if c.Layers > maxLayers {
		return c, fmt.Errorf("%s = %d exceeds %d layers", key("block_count"), c.Layers, maxLayers)
	}
	// Without attention.key_length the head width is C/H; with it (Qwen3)
	// the query width H*D need not equal C.
	if _, ok := f.Lookup(key("attention.key_length")); !ok && c.Embd%c.Heads != 0 {
		return c, fmt.Errorf("embedding width %d is not a multiple of %d heads", c.Embd, c.Heads)
	}
	positive("attention.key_length", &c.HeadDim, c.Embd/c.Heads)
	positive("rope.dimension_count", &c.RopeDim, c.HeadDim)
	if err != nil {
		return c, err
	}
	if c.Heads%c.KVHeads != 0 {
		return c, fmt.Errorf("%d query heads are not a multiple of %d KV heads", c.Heads, c.KVHeads)
	}
	if v, ok := f.Uint(key("attention.value_length")); ok && int(v) != c.HeadDim {
		return c, fmt.Errorf("value length %d differs from key length %d", v, c.HeadDim)
	}
	if c.RopeDim > c.HeadDim || c.RopeDim%2 != 0 {
		return c, fmt.Errorf("rope dimension %d does not fit head dimension %d", c.RopeDim, c.HeadDim)
	}
	c.RMSEps = 1e-5
	if v, ok := f.Float(key("attention.layer_norm_rms_epsilon")); ok {
		c.RMSEps = float32(v)
	}
	c.RopeBase = 10000
	if v, ok := f.Float(key("rope.freq_base")); ok {
		c.RopeBase = float32(v)
	}
	c.AttnScale = 1 / float32(math.Sqrt(float64(c.HeadDim)))
	if v, ok := f.Float(key("attention.scale")); ok && v != 0 {
		c.AttnScale = float32(v)
	}
	if s, ok := f.String(key("rope.scaling.type")); ok && s != "none" && s != "" {
		return c, fmt.Errorf("rope scaling %q is not supported", s)
	}
	return c, nil
}

// ParamCount is the number of weights in the file's tensors.
func (m *Model) ParamCount() uint64 {
	var n uint64
	for i := range m.File.Tensors {
		n += m.File.Tensors[i].Elements()
	}
	return n
}
