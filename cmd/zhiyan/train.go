package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/term"

	"zhiyan/bench"
	"zhiyan/internal/progress"
	"zhiyan/store"
	"zhiyan/tensor"
	"zhiyan/train"
)

func trainCmd(args []string, stdout, stderr io.Writer) error {
	const usageLine = "train [flags] DATA (a text file, a .jsonl file or a folder)"
	fs := newFlags("train", usageLine, stderr)
	d := train.DefaultOptions(0)
	out := fs.String("out", "run", "directory for the checkpoint, log, report and model.gguf")
	sft := fs.Bool("sft", false, "fine-tune on chats: DATA is JSONL of {\"messages\": [...]} (OpenAI format); the loss is on the assistant's turns and the model gets a ChatML template")
	initModel := fs.String("init", "", "start from this model's weights, shape and vocabulary (a GGUF written by zhiyan train)")
	resume := fs.Bool("resume", false, "continue the run in --out from its checkpoint (same DATA and --val-every)")
	vocabFile := fs.String("vocab", "", "tokenizer GGUF from 'zhiyan tokenizer train' (default: a character vocabulary of the training text)")
	chars := fs.Int("chars", 3000, "characters in the character vocabulary (most frequent first; 0 = all)")
	specials := fs.String("specials", "", "comma-separated special tokens of the character vocabulary (default: <unk>,<s>,</s>; with --sft: <unk>,<|im_start|>,<|im_end|>)")
	valEvery := fs.Int("val-every", 20, "every N-th document is validation text (0 = none)")
	dim := fs.Int("dim", d.Model.Dim, "model width")
	layers := fs.Int("layers", d.Model.Layers, "layers")
	heads := fs.Int("heads", d.Model.Heads, "attention heads")
	kvHeads := fs.Int("kv-heads", d.Model.KVHeads, "key/value heads (grouped-query attention)")
	ffn := fs.Int("ffn", 0, "SwiGLU width (0 = 8·dim/3 rounded up to a multiple of 4)")
	ctx := fs.Int("ctx", d.Model.Context, "context length (tokens per sequence)")
	batch := fs.Int("batch", d.Batch, "sequences per micro-batch")
	accum := fs.Int("accum", d.Accum, "micro-batches per step (gradient accumulation)")
	steps := fs.Int("steps", d.Steps, "optimizer steps")
	lr := fs.Float64("lr", d.LR, "peak learning rate")
	minLR := fs.Float64("min-lr", d.MinLR, "learning rate at the end of the cosine decay")
	warmup := fs.Int("warmup", d.Warmup, "steps of linear warmup")
	wd := fs.Float64("wd", d.AdamW.WeightDecay, "AdamW weight decay (matrices only)")
	beta2 := fs.Float64("beta2", d.AdamW.Beta2, "AdamW β2")
	clip := fs.Float64("clip", d.Clip, "gradient-norm clip (0 = none)")
	seed := fs.Uint64("seed", d.Seed, "seed of the initial weights and the data order")
	threads := fs.Int("threads", runtime.NumCPU(), "threads (results do not depend on it)")
	evalEvery := fs.Int("eval-every", d.EvalEvery, "steps between validation estimates")
	evalBatches := fs.Int("eval-batches", d.EvalBatches, "micro-batches per validation estimate")
	ckptEvery := fs.Int("checkpoint-every", 250, "steps between checkpoints")
	policy := fs.String("policy", string(d.Monitor.Policy), "on a NaN, spike or divergence: warn, skip (the step) or rollback (to the last good state, with a lower learning rate)")
	typ := fs.String("type", "F32", "type of the exported model's matrices: F32, F16 or Q8_0")
	modelName := fs.String("name", "", "general.name of the exported model (default: DATA's file name)")
	logEvery := fs.Int("log-every", 10, "print every N-th step line (the log file has all)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	ty, err := tensor.ParseType(*typ)
	if err != nil {
		return err
	}
	data, err := readTrainData(pos[0], *sft, *valEvery)
	if err != nil {
		return err
	}
	console := consoleWriter(stdout)

	var t *train.Trainer
	ckpt := filepath.Join(*out, train.FileCheckpoint)
	if *resume {
		// The vocabulary is in the checkpoint; encode the data with it.
		v, err := train.CheckpointVocab(ckpt)
		if err != nil {
			return err
		}
		tokens, err := data.encode(v)
		if err != nil {
			return err
		}
		if t, err = train.LoadCheckpoint(ckpt, tokens, *threads); err != nil {
			return err
		}
	} else {
		if _, err := os.Stat(ckpt); err == nil {
			return fmt.Errorf("%s exists: pass --resume to continue that run, or choose another --out", ckpt)
		}
		var (
			v       *train.Vocab
			weights []float32
			shape   train.Config
		)
		switch {
		case *initModel != "":
			shape, weights, v, err = train.LoadModel(*initModel)
		case *vocabFile != "":
			v, err = train.LoadVocab(*vocabFile)
		default:
			sp := []string{train.TokUNK, train.TokBOS, train.TokEOS}
			if *sft {
				sp = train.ChatSpecials
			}
			if *specials != "" {
				sp = strings.Split(*specials, ",")
			}
			v, err = train.CharVocab(data.text, *chars, sp)
		}
		if err != nil {
			return err
		}
		o := d
		o.Model = train.Config{Vocab: v.Size(), Dim: *dim, Layers: *layers, Heads: *heads, KVHeads: *kvHeads,
			FFN: *ffn, Context: *ctx, NormEps: d.Model.NormEps, RopeBase: d.Model.RopeBase}
		if o.Model.FFN == 0 {
			o.Model.FFN = train.FFNWidth(*dim)
		}
		if weights != nil {
			o.Model = shape
		}
		o.Batch, o.Accum, o.Steps, o.LR, o.MinLR, o.Warmup = *batch, *accum, *steps, *lr, *minLR, *warmup
		o.AdamW.WeightDecay, o.AdamW.Beta2, o.Clip, o.Seed, o.Threads = *wd, *beta2, *clip, *seed, *threads
		o.EvalEvery, o.EvalBatches = *evalEvery, *evalBatches
		o.Monitor.Policy = train.Policy(*policy)
		tokens, err := data.encode(v)
		if err != nil {
			return err
		}
		if t, err = train.NewTrainer(o, v, tokens); err != nil {
			return err
		}
		if weights != nil {
			if err := t.SetWeights(weights); err != nil {
				t.Close()
				return err
			}
		}
	}
	defer t.Close()
	t.Log, t.LogEvery = console, *logEvery
	name := *modelName
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(pos[0]), ".gz")
		name = strings.TrimSuffix(name, filepath.Ext(name))
	}
	tmpl := ""
	if data.chat {
		tmpl = train.ChatMLTemplate
	}
	fmt.Fprint(console, watchHint(*out))
	bar := progress.New(stderr, "train", int64(t.Opt.Steps), "")
	bar.Add(int64(t.Step))
	err = t.RunIn(train.RunOptions{
		Dir: *out, CheckpointEvery: *ckptEvery, Title: "zhiyan train " + filepath.Base(pos[0]),
		Export:   train.ExportOptions{Type: ty, Name: name, ChatTemplate: tmpl},
		Progress: func(done, total int) { bar.Add(int64(done) - bar.Done()) },
	})
	bar.Finish()
	if err != nil {
		if errors.Is(err, train.ErrDiverged) {
			fmt.Fprintf(stdout, "report: %s\n", filepath.Join(*out, "report.html"))
		}
		return err
	}
	// Achieved speed against the machine's float32 FMA peak on as many
	// threads (measured now, so under the same load).
	tok, _ := t.TokensPerSecond()
	gflops := tok * t.Opt.Model.FLOPsPerToken() / 1e9
	peak := bench.FMAPeak(t.Opt.Threads, 3) / 1e9
	fmt.Fprintf(stdout, "speed: %s; FMA peak %.1f GFLOP/s on %d threads (%.1f%%)\n", t.Speed(), peak, t.Opt.Threads, 100*gflops/peak)
	if n := len(t.Evals); n > 0 {
		fmt.Fprintf(stdout, "final validation loss: %.4f\n", t.Evals[n-1].Loss)
		if t.Vocab.IsChars() {
			classes := t.EvaluateClasses(train.CharClass)
			total := 0
			for _, c := range classes {
				total += c.Targets
			}
			for _, c := range classes {
				fmt.Fprintf(stdout, "  %-5s %5.1f%% of targets: loss %.4f, accuracy %.1f%%\n", c.Class,
					100*float64(c.Targets)/float64(total), c.Loss, 100*c.Accuracy)
			}
		}
	}
	fmt.Fprintf(stdout, "model: %s\nreport: %s\n", filepath.Join(*out, train.FileModel), filepath.Join(*out, "report.html"))
	return nil
}

// watchHint says how to follow the run in out live: serve its parent as
// the runs directory (plain `zhiyan serve` when that is the default one).
func watchHint(out string) string {
	abs, err := filepath.Abs(out)
	if err != nil {
		return ""
	}
	parent := filepath.Dir(abs)
	serve := "zhiyan serve --runs " + parent
	if strings.ContainsAny(parent, " \t'\"$") {
		serve = fmt.Sprintf("zhiyan serve --runs %q", parent)
	}
	if home, err := store.DefaultDir(); err == nil {
		if def, err := filepath.Abs(filepath.Join(home, "runs")); err == nil && def == parent {
			serve = "zhiyan serve"
		}
	}
	return fmt.Sprintf("watch it live: %s, then Admin → Training (管理 → 训练) in the web chat\n", serve)
}

// trainData is the training text, read once and encoded with the run's
// vocabulary.
type trainData struct {
	chat   bool
	text   string // of the training split, for a character vocabulary
	encode func(*train.Vocab) (train.Tokens, error)
}

func readTrainData(path string, sft bool, valEvery int) (*trainData, error) {
	if !sft {
		if train.IsChatFile(path) {
			return nil, fmt.Errorf("%s holds chats: pass --sft to fine-tune on them", path)
		}
		c, err := train.ReadCorpus(path, valEvery)
		if err != nil {
			return nil, err
		}
		return &trainData{text: train.JoinDocuments(c.Train),
			encode: func(v *train.Vocab) (train.Tokens, error) { return c.Encode(v), nil }}, nil
	}
	c, err := train.ReadChats(path, valEvery)
	if err != nil {
		return nil, err
	}
	return &trainData{chat: true, text: train.JoinDocuments(c.Texts()), encode: c.Encode}, nil
}

// consoleWriter clears a progress bar's line before each write when w is a
// terminal, so log lines and the bar do not run together.
func consoleWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return clearLine{w}
	}
	return w
}

type clearLine struct{ w io.Writer }

func (c clearLine) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, "\r\x1b[K"); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func tokenizerCmd(args []string, stdout, stderr io.Writer) error {
	const usageLine = "tokenizer train --vocab-size N [--out FILE.gguf] DATA..."
	if len(args) == 0 || args[0] != "train" {
		fmt.Fprintf(stderr, "Usage: zhiyan %s\n", usageLine)
		return errUsage
	}
	fs := newFlags("tokenizer train", usageLine, stderr)
	size := fs.Int("vocab-size", 4096, "tokens: 256 bytes, the learned merges and the special tokens")
	out := fs.String("out", "tokenizer.gguf", "output file (a GGUF holding only the tokenizer)")
	chars := fs.Bool("chars", false, "make a character vocabulary of the vocab-size most frequent characters instead of BPE")
	specials := fs.String("specials", "", "comma-separated special tokens (default: <|endoftext|> for BPE; <unk>,<s>,</s> for characters)")
	valEvery := fs.Int("val-every", 20, "leave out every N-th document (the validation text of 'zhiyan train')")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return errUsage
	}
	if len(pos) == 0 {
		fs.Usage()
		return errUsage
	}
	// Several files make one vocabulary, e.g. a pretraining corpus and the
	// chats the model is then fine-tuned on.
	var docs []string
	for _, p := range pos {
		corpus, err := train.ReadCorpus(p, *valEvery)
		if err != nil {
			return err
		}
		docs = append(docs, corpus.Train...)
	}
	text := train.JoinDocuments(docs)
	var sp []string
	if *specials != "" {
		sp = strings.Split(*specials, ",")
	}
	var v *train.Vocab
	if *chars {
		if sp == nil {
			sp = []string{train.TokUNK, train.TokBOS, train.TokEOS}
		}
		v, err = train.CharVocab(text, *size-len(sp), sp)
	} else {
		if sp == nil {
			sp = []string{train.TokEndOfText}
		}
		bar := progress.New(stderr, "merges", int64(*size-256-len(sp)), "")
		v, err = train.TrainBPE(text, *size, sp, func(done, total int) { bar.Add(int64(done) - bar.Done()) })
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if err := train.SaveVocab(*out, v); err != nil {
		return err
	}
	ids := v.Encode(text)
	fmt.Fprintf(stdout, "%s: %d tokens; the training text is %d tokens (%.2f bytes per token)\n",
		*out, v.Size(), len(ids), float64(len(text))/float64(max(len(ids), 1)))
	return nil
}
