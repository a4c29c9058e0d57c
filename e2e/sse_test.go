package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// streamResult is one streamed chat request as a raw HTTP client saw it.
type streamResult struct {
	status     int
	retryAfter string
	errBody    []byte        // the body of a refusal
	content    string        // concatenated deltas of choice 0
	finish     string        // its finish_reason
	usage      bool          // a usage chunk arrived (include_usage)
	events     int           // data events before [DONE]
	ttft       time.Duration // request sent → first content delta
	total      time.Duration // request sent → body read
}

// postStream sends a streamed chat request and checks the stream strictly
// on the wire: SSE framing ("data: …" events ended by a blank line), every
// payload valid UTF-8 and a chat.completion.chunk object, exactly one
// finish_reason, then "data: [DONE]" and the end of the body. A refusal
// must be a JSON error with its status before any body byte.
func postStream(ctx context.Context, hc *http.Client, url string, body map[string]any) (streamResult, error) {
	var res streamResult
	b, err := json.Marshal(body)
	if err != nil {
		return res, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(b))
	if err != nil {
		return res, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return res, fmt.Errorf("transport: %w", err)
	}
	defer resp.Body.Close()
	res.status, res.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	if resp.StatusCode != http.StatusOK {
		res.errBody, err = io.ReadAll(resp.Body)
		if err != nil {
			return res, fmt.Errorf("reading a %d body: %w", resp.StatusCode, err)
		}
		res.total = time.Since(start)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			return res, fmt.Errorf("status %d with Content-Type %q: %q", resp.StatusCode, ct, res.errBody)
		}
		return res, checkOpenAIError(res.errBody)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		return res, fmt.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	r := bufio.NewReader(resp.Body)
	var content strings.Builder
	done := false
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			break
		}
		if err != nil {
			return res, fmt.Errorf("after %d events: %w (partial line %q)", res.events, err, line)
		}
		if done {
			return res, fmt.Errorf("bytes after [DONE]: %q", line)
		}
		blank, err := r.ReadString('\n')
		if err != nil || blank != "\n" {
			return res, fmt.Errorf("event %q not ended by a blank line (next %q, %v)", line, blank, err)
		}
		payload, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "data: ")
		if !ok {
			return res, fmt.Errorf("line %q is not a data field", line)
		}
		if !utf8.ValidString(payload) {
			return res, fmt.Errorf("event %d is not valid UTF-8: %q", res.events, payload)
		}
		if payload == "[DONE]" {
			done = true
			continue
		}
		res.events++
		var chunk struct {
			Object  string          `json:"object"`
			Error   json.RawMessage `json:"error"`
			Usage   json.RawMessage `json:"usage"`
			Choices []struct {
				Index int `json:"index"`
				Delta struct {
					Content *string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(payload), &chunk); err != nil {
			return res, fmt.Errorf("event %d is not JSON: %v: %q", res.events, err, payload)
		}
		if chunk.Error != nil {
			return res, fmt.Errorf("error event mid-stream: %s", payload)
		}
		if chunk.Object != "chat.completion.chunk" {
			return res, fmt.Errorf("event object %q: %s", chunk.Object, payload)
		}
		if len(chunk.Usage) > 0 && string(chunk.Usage) != "null" {
			if len(chunk.Choices) != 0 {
				return res, fmt.Errorf("usage beside choices: %s", payload)
			}
			res.usage = true
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				return res, fmt.Errorf("choice index %d: %s", ch.Index, payload)
			}
			if ch.Delta.Content != nil && *ch.Delta.Content != "" {
				if content.Len() == 0 {
					res.ttft = time.Since(start)
				}
				content.WriteString(*ch.Delta.Content)
			}
			if ch.FinishReason != nil {
				if res.finish != "" {
					return res, fmt.Errorf("second finish_reason: %s", payload)
				}
				res.finish = *ch.FinishReason
			}
		}
	}
	res.content, res.total = content.String(), time.Since(start)
	switch {
	case !done:
		return res, errors.New("the stream ended without [DONE]")
	case res.finish == "":
		return res, errors.New("the stream ended without a finish_reason")
	case !utf8.ValidString(res.content):
		return res, fmt.Errorf("content %q is not valid UTF-8", res.content)
	}
	return res, nil
}

// checkOpenAIError checks body is exactly {"error":{message,type,param,code}}.
func checkOpenAIError(body []byte) error {
	var e map[string]map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Errorf("error body %q: %v", body, err)
	}
	inner, ok := e["error"]
	if !ok || len(e) != 1 {
		return fmt.Errorf("error body %s: want exactly {\"error\":{…}}", body)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := inner[k]; !ok {
			return fmt.Errorf("error body %s lacks %q", body, k)
		}
	}
	if m, _ := inner["message"].(string); m == "" {
		return fmt.Errorf("error body %s has no message", body)
	}
	return nil
}
