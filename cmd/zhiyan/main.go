// Command zhiyan runs open-weight language models from GGUF files on the CPU:
// chat in the terminal, inspect and quantize model files, check logits.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

type command struct {
	name    string
	usage   string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"run", "run [MODEL [PROMPT]]", "generate from a prompt, or chat when no prompt is given (no MODEL: the built-in one)", runCmd},
	{"show", "show [--json] MODEL", "describe a model file", showCmd},
	{"pull", "pull [--source hf|modelscope|auto] NAME", "download a model: qwen3:0.6b, hf.co/USER/REPO[:QUANT], modelscope.cn/USER/REPO[:QUANT]", pullCmd},
	{"list", "list [--catalog]", "list downloaded models, or the short names pull knows", listCmd},
	{"rm", "rm NAME...", "delete models", rmCmd},
	{"cp", "cp SOURCE DESTINATION", "give a model another name", cpCmd},
	{"import", "import FILE.gguf NAME", "add a local GGUF file to the models", importCmd},
	{"quantize", "quantize IN.gguf OUT.gguf TYPE", "requantize a model (Q8_0, Q4_0, Q4_K_M, Q6_K, …)", quantizeCmd},
	{"bench", "bench [flags] (MODEL.gguf | --shape SHAPE --type TYPE)", "measure prefill and decode speed against the machine's limits", benchCmd},
	{"serve", "serve [flags] [MODEL ...]", "serve models over HTTP: OpenAI (/v1) and Ollama (/api) APIs", serveCmd},
	{"ps", "ps [--host HOST] [--port PORT]", "list the models a running server has loaded", psCmd},
	{"eval", "eval MODEL.gguf --prompt TEXT [--out LOGITS.f32] | --perplexity FILE", "print token ids and write logits; or measure perplexity", evalCmd},
	{"train", "train [flags] DATA", "train a small Llama model from text (checkpoints, monitor, report, GGUF)", trainCmd},
	{"corpus", "corpus tang [--out DIR]", "prepare the Tang poems of chinese-poetry@2.0.1 and a chat set made from them", corpusCmd},
	{"tokenizer", "tokenizer train --vocab-size N [--out FILE.gguf] DATA...", "train a byte-level BPE (or character) vocabulary", tokenizerCmd},
}

// errUsage marks errors whose message is already the whole story (flag
// parsing has printed the usage).
var errUsage = errors.New("usage")

func main() {
	os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
}

func mainExit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
				return 2
			default:
				// One line: the error names the file and the problem.
				fmt.Fprintf(stderr, "zhiyan %s: %s\n", c.name, strings.ReplaceAll(err.Error(), "\n", " "))
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "zhiyan: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "zhiyan (智言): your own large language model, on your own machine.")
	fmt.Fprintln(w, "\nUsage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  zhiyan %-70s %s\n", c.usage, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'zhiyan COMMAND -h' for a command's flags.")
}

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name, usageLine string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: zhiyan %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterspersed parses flags that may come before or after positional
// arguments, as users type them ("run model.gguf --seed 1 hi").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
