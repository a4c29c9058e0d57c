package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"

	"zhiyan/bench"
	"zhiyan/engine"
	"zhiyan/internal/progress"
	"zhiyan/quantize"
)

func benchCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench [flags] (MODEL.gguf | --shape SHAPE --type TYPE)", stderr)
	shape := fs.String("shape", "", "benchmark a random-weight model of this shape: qwen2.5-0.5b, qwen2.5-1.5b, qwen3-0.6b, ernie4.5-0.3b, hunyuan-0.5b, llama3.2-1b")
	typ := fs.String("type", "Q8_0", "quantization of the --shape model: Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K, F16, …")
	pp := fs.Int("p", 128, "prompt tokens for the prefill test")
	tg := fs.Int("n", 32, "tokens for the decode test")
	reps := fs.Int("r", 3, "repetitions")
	threads := fs.Int("threads", runtime.NumCPU(), "threads")
	parallel := fs.Int("parallel", 0, "measure N concurrent streams through the server's scheduler against one stream")
	asJSON := fs.Bool("json", false, "print JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof reads it)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if (len(pos) == 1) == (*shape != "") || len(pos) > 1 || *pp < 1 || *tg < 1 || *reps < 1 {
		fs.Usage()
		return errUsage
	}
	path, name := "", ""
	if *shape != "" {
		if path, err = benchModel(*shape, *typ, stderr); err != nil {
			return err
		}
		name = *shape + " " + *typ
	} else {
		path, name = pos[0], filepath.Base(pos[0])
	}
	e, err := engine.Open(path)
	if err != nil {
		return err
	}
	defer e.Close()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	c := bench.Config{Prompt: *pp, Gen: *tg, Reps: *reps, Threads: *threads,
		Progress: func(step string) { fmt.Fprintf(stderr, "bench: %s\n", step) }}
	if *parallel > 0 {
		r, err := bench.Parallel(e, name, *parallel, c)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, r)
		}
		fmt.Fprintf(stdout, "model      %s, %d threads, prompts of %d tokens, %d generated per stream\n", r.Model, r.Threads, r.Prompt, r.Gen)
		fmt.Fprintf(stdout, "1 stream   %8.1f tok/s  (min %.1f, max %.1f)\n", r.Single.Median, r.Single.Min, r.Single.Max)
		fmt.Fprintf(stdout, "%d streams  %8.1f tok/s in all  (min %.1f, max %.1f)\n", r.Streams, r.Aggregate.Median, r.Aggregate.Min, r.Aggregate.Max)
		fmt.Fprintf(stdout, "speed-up   %.2f×\n", r.Speedup)
		return nil
	}
	r, err := bench.Run(e.Model, name, c)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, r)
	}
	printReport(stdout, r)
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// benchModel returns the cached random-weight model of a shape, writing it
// first if needed.
func benchModel(shapeName, typeName string, stderr io.Writer) (string, error) {
	s, err := bench.ShapeByName(shapeName)
	if err != nil {
		return "", err
	}
	ft, err := quantize.ParseFileType(typeName)
	if err != nil {
		return "", err
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "zhiyan", "bench")
	path := filepath.Join(dir, s.Name+"-"+ft.Name+".gguf")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bar := progress.New(stderr, "writing "+filepath.Base(path), int64(s.Params()), "")
	err = bench.Synthesize(s, ft, path, 1, func(done, total uint64) { bar.Add(int64(done) - bar.Done()) })
	bar.Finish()
	return path, err
}

func printReport(w io.Writer, r *bench.Report) {
	fmt.Fprintf(w, "model      %s, %d threads (load %s)\n", r.Model, r.Threads, r.LoadAvg)
	fmt.Fprintf(w, "prefill    pp%-4d %8.1f tok/s  (min %.1f, max %.1f)\n", r.Prompt, r.Prefill.Median, r.Prefill.Min, r.Prefill.Max)
	fmt.Fprintf(w, "decode     tg%-4d %8.1f tok/s  (min %.1f, max %.1f)\n", r.Gen, r.Decode.Median, r.Decode.Min, r.Decode.Max)
	fmt.Fprintf(w, "first token       %8.1f ms (prefill of %d tokens)\n", r.TTFT.Median, r.Prompt)
	fmt.Fprintf(w, "bandwidth  %.2f of %.1f GB/s measured (%.0f MB read per token)\n", r.BWEff, r.Bandwidth/1e9, float64(r.BytesPerTok)/1e6)
	fmt.Fprintf(w, "compute    %.2f of %.1f GFLOP/s FMA peak measured\n", r.ComputeEff, r.FMAPeak/1e9)
	fmt.Fprintf(w, "peak RSS   %.0f MB\n", float64(r.PeakRSS)/1e6)
}
