package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zhiyan/gguf"
	"zhiyan/train"
)

// TestTrainThenFineTune runs the built-in model's recipe in miniature:
// a vocabulary from poems and chats, pretraining, fine-tuning from the
// pretrained model, and a chat model that run can use.
func TestTrainThenFineTune(t *testing.T) {
	dir := t.TempDir()
	var poems, chats strings.Builder
	lines := []string{"床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。", "春眠不覺曉，處處聞啼鳥。", "夜來風雨聲，花落知多少。"}
	for i := range 60 {
		poems.WriteString(lines[i%4] + "\n" + lines[(i+1)%4] + "\n\n")
		chats.WriteString(`{"messages":[{"role":"user","content":"续写：` + lines[i%4] + `"},{"role":"assistant","content":"` + lines[(i+1)%4] + `"}]}` + "\n")
	}
	poemFile, chatFile := filepath.Join(dir, "poems.txt"), filepath.Join(dir, "chats.jsonl")
	for f, s := range map[string]string{poemFile: poems.String(), chatFile: chats.String()} {
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vocab := filepath.Join(dir, "vocab.gguf")
	run := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := zhiyan(t, args...)
		if code != 0 {
			t.Fatalf("zhiyan %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout
	}
	run("tokenizer", "train", "--chars", "--vocab-size", "100", "--specials", "<unk>,<|im_start|>,<|im_end|>", "--out", vocab, poemFile, chatFile)
	tiny := []string{"--dim", "16", "--layers", "1", "--heads", "2", "--kv-heads", "1", "--ctx", "48", "--batch", "2",
		"--steps", "3", "--warmup", "1", "--eval-every", "0", "--threads", "1"}
	run(append([]string{"train", "--vocab", vocab, "--out", filepath.Join(dir, "pre"), poemFile}, tiny...)...)
	if _, _, code := zhiyan(t, "train", "--out", filepath.Join(dir, "x"), chatFile); code == 0 {
		t.Error("pretraining on a chat file without --sft succeeded")
	}
	out := run(append([]string{"train", "--sft", "--init", filepath.Join(dir, "pre", train.FileModel), "--name", "tiny-chat",
		"--type", "F16", "--out", filepath.Join(dir, "sft"), chatFile}, tiny...)...)
	if !strings.Contains(out, "final validation loss") {
		t.Errorf("no final loss in\n%s", out)
	}
	f, err := gguf.Open(filepath.Join(dir, "sft", train.FileModel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if tmpl, _ := f.String("tokenizer.chat_template"); tmpl != train.ChatMLTemplate {
		t.Errorf("chat template %q", tmpl)
	}
	if name, _ := f.String("general.name"); name != "tiny-chat" {
		t.Errorf("general.name %q", name)
	}
}

func TestCorpusChecksIntegrity(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "fake.tgz")
	if err := os.WriteFile(bad, []byte("not the package"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := zhiyan(t, "corpus", "tang", "--tarball", bad, "--out", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "integrity") {
		t.Errorf("exit %d, %q; want a failed integrity check", code, stderr)
	}
}
