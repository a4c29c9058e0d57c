package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
)

// Message is one turn of a chat, as OpenAI's "messages" carry it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatML, the chat format of fine-tuned models: each turn is
// <|im_start|>role\ncontent<|im_end|>\n, and the model writes its answer
// after <|im_start|>assistant\n and ends it with <|im_end|>.
const (
	TokIMStart = "<|im_start|>"
	TokIMEnd   = "<|im_end|>"

	// ChatMLTemplate is the Jinja chat template written into fine-tuned
	// models (tokenizer.chat_template), so chat front ends format
	// conversations as the model was trained.
	ChatMLTemplate = "{% for message in messages %}" +
		"{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

// ChatSpecials are the special tokens of a character vocabulary for chat
// models: unknown characters and the ChatML turn markers.
var ChatSpecials = []string{TokUNK, TokIMStart, TokIMEnd}

// ChatCorpus is a set of chats divided between training and validation.
type ChatCorpus struct {
	Train, Val [][]Message
}

// ReadChats reads a JSONL file (gzipped when it ends in .gz) of chats, one
// {"messages": [{"role": …, "content": …}, …]} object per line. Chat i
// goes to validation when valEvery > 0 and i%valEvery == 0.
func ReadChats(path string, valEvery int) (*ChatCorpus, error) {
	rc, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	chats, err := readChats(rc, path)
	if err != nil {
		return nil, err
	}
	if len(chats) == 0 {
		return nil, fmt.Errorf("train: %s holds no chats", path)
	}
	c := &ChatCorpus{}
	for i, m := range chats {
		if valEvery > 0 && i%valEvery == 0 {
			c.Val = append(c.Val, m)
		} else {
			c.Train = append(c.Train, m)
		}
	}
	return c, nil
}

func readChats(r io.Reader, path string) ([][]Message, error) {
	var chats [][]Message
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var obj struct {
			Messages []Message `json:"messages"`
		}
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			return nil, fmt.Errorf("train: %s:%d: %w", path, line, err)
		}
		if !slices.ContainsFunc(obj.Messages, func(m Message) bool { return m.Role == "assistant" }) {
			return nil, fmt.Errorf("train: %s:%d: a chat needs an assistant turn to learn from", path, line)
		}
		for _, m := range obj.Messages {
			if m.Role == "" || strings.ContainsAny(m.Role, "\n") {
				return nil, fmt.Errorf("train: %s:%d: bad role %q", path, line, m.Role)
			}
		}
		chats = append(chats, obj.Messages)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return chats, nil
}

// WriteChats writes chats as JSONL in the format ReadChats reads.
func WriteChats(w io.Writer, chats [][]Message) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, m := range chats {
		if err := enc.Encode(struct {
			Messages []Message `json:"messages"`
		}{m}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// chatText is a chat's text without the special tokens, for building a
// character vocabulary: each turn as "role\ncontent".
func chatText(msgs []Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(m.Role + "\n" + m.Content)
	}
	return b.String()
}

// EncodeChats turns chats into one token stream in ChatML with, for each
// token, whether it is a training target (the assistant's content and the
// <|im_end|> that ends it), and the offset where each chat starts.
func EncodeChats(v *Vocab, chats [][]Message) (ids []int32, target []bool, starts []int32, err error) {
	start, ok1 := v.ID(TokIMStart)
	end, ok2 := v.ID(TokIMEnd)
	if !ok1 || !ok2 {
		return nil, nil, nil, fmt.Errorf("train: the vocabulary lacks the ChatML tokens %s and %s", TokIMStart, TokIMEnd)
	}
	nl := v.Encode("\n")
	for _, msgs := range chats {
		starts = append(starts, int32(len(ids)))
		for _, m := range msgs {
			learn := m.Role == "assistant"
			ids = append(ids, start)
			ids = append(ids, v.Encode(m.Role+"\n")...)
			content := v.Encode(m.Content)
			ids = append(ids, content...)
			ids = append(ids, end)
			ids = append(ids, nl...)
			target = append(target, make([]bool, len(ids)-len(target))...)
			if learn {
				t := target[len(ids)-len(nl)-1-len(content) : len(ids)-len(nl)]
				for i := range t {
					t[i] = true
				}
			}
		}
	}
	return ids, target, starts, nil
}

// Encode tokenizes both splits in ChatML for fine-tuning.
func (c *ChatCorpus) Encode(v *Vocab) (Tokens, error) {
	var d Tokens
	var err error
	if d.Train, d.TrainTarget, d.TrainStarts, err = EncodeChats(v, c.Train); err != nil {
		return d, err
	}
	d.Val, d.ValTarget, d.ValStarts, err = EncodeChats(v, c.Val)
	return d, err
}

// Texts are the chats' texts (chatText), for a character vocabulary.
func (c *ChatCorpus) Texts() []string {
	var s []string
	for _, m := range c.Train {
		s = append(s, chatText(m))
	}
	return s
}

// IsChatFile reports whether path is a JSONL file (gzipped or not) whose
// first line is a chat: the input of fine-tuning.
func IsChatFile(path string) bool {
	if !strings.EqualFold(filepath.Ext(strings.TrimSuffix(path, ".gz")), ".jsonl") {
		return false
	}
	rc, err := openMaybeGzip(path)
	if err != nil {
		return false
	}
	defer rc.Close()
	line, _ := bufio.NewReader(rc).ReadBytes('\n')
	var obj struct {
		Messages []Message `json:"messages"`
	}
	return json.Unmarshal(line, &obj) == nil && len(obj.Messages) > 0
}
