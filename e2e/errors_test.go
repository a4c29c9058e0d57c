package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"zhiyan/server"
)

// wantAPIError checks err is the SDK's typed *openai.Error with status and,
// when code is not "", that code.
func wantAPIError(t *testing.T, err error, status int, code string) *openai.Error {
	t.Helper()
	var e *openai.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *openai.Error", err, err)
	}
	if e.StatusCode != status || (code != "" && e.Code != code) || e.Message == "" || e.Type == "" {
		t.Fatalf("error %d type %q code %q param %q: %s; want %d %s", e.StatusCode, e.Type, e.Code, e.Param, e.Message, status, code)
	}
	return e
}

func TestOpenAIErrors(t *testing.T) {
	lv := qwenServer(t, server.Config{APIKeys: []string{"sekret"}})
	client := lv.oaClient(option.WithAPIKey("sekret"))
	ctx := context.Background()
	long := strings.Repeat("hello ", 600) // > 512 positions
	tests := []struct {
		name   string
		call   func() error
		status int
		code   string
		param  string
	}{
		{"unknown model", func() error {
			_, err := client.Chat.Completions.New(ctx, greedyParams("nope", 4, openai.UserMessage("hi")))
			return err
		}, 404, "model_not_found", "model"},
		{"unknown model, stream", func() error {
			s := client.Chat.Completions.NewStreaming(ctx, greedyParams("nope", 4, openai.UserMessage("hi")))
			defer s.Close()
			for s.Next() {
			}
			return s.Err()
		}, 404, "model_not_found", "model"},
		{"context length exceeded", func() error {
			_, err := client.Chat.Completions.New(ctx, greedyParams("qwen", 4, openai.UserMessage(long)))
			return err
		}, 400, "context_length_exceeded", "messages"},
		{"context length exceeded, stream", func() error {
			s := client.Chat.Completions.NewStreaming(ctx, greedyParams("qwen", 4, openai.UserMessage(long)))
			defer s.Close()
			for s.Next() {
			}
			return s.Err()
		}, 400, "context_length_exceeded", "messages"},
		{"completion too long", func() error {
			_, err := client.Completions.New(ctx, openai.CompletionNewParams{Model: "qwen", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(long)}})
			return err
		}, 400, "context_length_exceeded", ""},
		{"bad key", func() error {
			bad := lv.oaClient(option.WithAPIKey("wrong"))
			_, err := bad.Models.List(ctx)
			return err
		}, 401, "invalid_api_key", ""},
		{"bad key on chat", func() error {
			bad := lv.oaClient(option.WithAPIKey("wrong"))
			_, err := bad.Chat.Completions.New(ctx, greedyParams("qwen", 4, openai.UserMessage("hi")))
			return err
		}, 401, "invalid_api_key", ""},
		{"temperature out of range", func() error {
			p := greedyParams("qwen", 4, openai.UserMessage("hi"))
			p.Temperature = openai.Float(5)
			_, err := client.Chat.Completions.New(ctx, p)
			return err
		}, 400, "", "temperature"},
		{"tools on a model without a tool format", func() error {
			p := greedyParams("qwen", 4, openai.UserMessage("hi"))
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool("get_weather", weatherSchema)}
			_, err := client.Chat.Completions.New(ctx, p)
			return err
		}, 400, "", "tools"},
		{"embedding input too long", func() error {
			_, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "qwen", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(long)}})
			return err
		}, 400, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := wantAPIError(t, tt.call(), tt.status, tt.code)
			if tt.param != "" && e.Param != tt.param {
				t.Errorf("param %q, want %q", e.Param, tt.param)
			}
		})
	}
}
