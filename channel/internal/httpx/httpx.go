// Package httpx holds the small HTTP chores the channel packages share:
// reading a bounded request body and calling a JSON API.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"zhiyan/channel"
)

// DefaultClient is used when a channel client has no *http.Client of its own.
var DefaultClient = &http.Client{Timeout: 15 * time.Second}

// maxResponse bounds what an API answer may weigh; the platforms' JSON
// answers are a few hundred bytes.
const maxResponse = 1 << 20

// ReadBody reads r's body, failing with channel.ErrTooLarge beyond limit bytes.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes declared, limit %d", channel.ErrTooLarge, r.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", channel.ErrTooLarge, limit)
	}
	return b, nil
}

// DoJSON sends in (nil: no body) as JSON and decodes the answer into out.
// The answer is decoded whatever the status, since the platforms put their
// error codes in the body; a non-2xx status whose body does not decode is an
// error of its own. The caller checks out's error code.
func DoJSON(ctx context.Context, hc *http.Client, method, url string, header http.Header, in, out any) (status int, err error) {
	if hc == nil {
		hc = DefaultClient
	}
	var body io.Reader
	if in != nil {
		// No HTML escaping: some platform parsers show "\u003c" verbatim.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(in); err != nil {
			return 0, fmt.Errorf("encoding request: %w", err)
		}
		body = &buf
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading answer: %w", err)
	}
	if len(b) > maxResponse {
		return resp.StatusCode, fmt.Errorf("answer larger than %d bytes", maxResponse)
	}
	if err := json.Unmarshal(b, out); err != nil {
		if resp.StatusCode/100 != 2 {
			return resp.StatusCode, fmt.Errorf("HTTP %s: %.200q", resp.Status, b)
		}
		return resp.StatusCode, fmt.Errorf("decoding answer: %w", err)
	}
	return resp.StatusCode, nil
}
