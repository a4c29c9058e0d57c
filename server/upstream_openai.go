package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// forwardOpenAI passes an OpenAI request to the upstream's path as it is,
// unknown fields included, but for the model id; the answer comes back as
// the upstream wrote it, streams event by event.
func (s *Server) forwardOpenAI(path string) upstreamFunc {
	return func(w http.ResponseWriter, r *http.Request, u *upstream, body []byte) (any, error) {
		var req map[string]json.RawMessage
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		req["model"], _ = json.Marshal(u.remote())
		c := s.ups.newCall(r.Context(), u)
		defer c.end()
		resp, err := c.post(path, req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		switch {
		case mt == "text/event-stream":
			return nil, s.relaySSE(w, c, resp.Body)
		case mt == "application/json" || mt == "":
			// Read whole for its usage; up to a cap large embeddings fit in.
			data, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamAnswer+1))
			if err != nil {
				return nil, c.failed(err)
			}
			if len(data) > maxUpstreamAnswer {
				return nil, &apiError{status: http.StatusBadGateway, typ: "server_error", code: "upstream_error",
					msg: fmt.Sprintf("upstream error: the answer of model %s is larger than %d MiB", u.Name, maxUpstreamAnswer>>20)}
			}
			s.countUsage(r.Context(), u, data)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.WriteHeader(http.StatusOK)
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			w.Write(data)
			return nil, nil
		}
		c.us.log.Warn("upstream answered an unexpected content type", "model", u.Name, "host", u.host, "type", mt)
		return nil, &apiError{status: http.StatusBadGateway, typ: "server_error", code: "upstream_error",
			msg: fmt.Sprintf("upstream error: the server of model %s answered %q, not JSON", u.Name, mt)}
	}
}

// maxUpstreamAnswer caps an unstreamed upstream answer.
const maxUpstreamAnswer = 256 << 20

// relaySSE copies an upstream's event stream to the client, flushing each
// event. A broken upstream stream ends with an error event (and no [DONE]);
// a client that leaves cancels the upstream request.
func (s *Server) relaySSE(w http.ResponseWriter, c *call, body io.Reader) error {
	st := newStream(w, true, s.cfg.WriteTimeout)
	defer st.close()
	sr := newSSEReader(body)
	for {
		raw, data, err := sr.next()
		if len(raw) > 0 {
			if data != nil {
				s.countUsage(c.parent, c.u, data)
			}
			if werr := st.write(string(raw)); werr != nil {
				return nil // the client is gone; ending the call cancels upstream
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return s.streamFailed(st, dialectOpenAI, c.failed(err))
		}
	}
}

// countUsage adds an answer's (or streamed chunk's) usage to the model's
// counters and the request's API-key quota.
func (s *Server) countUsage(ctx context.Context, u *upstream, data []byte) {
	if !bytes.Contains(data, []byte(`"usage"`)) {
		return
	}
	var v struct {
		Usage *usage `json:"usage"`
	}
	if json.Unmarshal(data, &v) == nil && v.Usage != nil {
		s.metrics.promptTokens(u.Name, v.Usage.PromptTokens)
		s.metrics.generatedTokens(u.Name, v.Usage.CompletionTokens)
		spend(ctx, v.Usage.PromptTokens+v.Usage.CompletionTokens)
	}
}

// sseReader splits a Server-Sent Events stream into events.
type sseReader struct {
	br *bufio.Reader
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{br: bufio.NewReaderSize(r, 64<<10)} }

// errEventTooLarge ends a stream whose event passes maxUpstreamEvent.
var errEventTooLarge = errors.New("upstream sent an event larger than 16 MiB")

// next returns the next event as sent (its lines and the blank line
// ending it) and its data lines' payload joined by '\n' (nil when it has
// none). At the end of the stream it returns what was left with io.EOF.
func (r *sseReader) next() (raw, data []byte, err error) {
	for {
		line, err := r.line()
		raw = append(raw, line...)
		if len(raw) > maxUpstreamEvent {
			return nil, nil, errEventTooLarge
		}
		text := bytes.TrimRight(line, "\r\n")
		switch {
		case len(text) == 0 && len(line) > 0:
			if len(bytes.TrimSpace(raw)) == 0 {
				raw = raw[:0] // blank lines between events
				continue
			}
			return raw, data, nil
		case bytes.HasPrefix(text, []byte("data:")):
			v := bytes.TrimPrefix(text[len("data:"):], []byte(" "))
			if data != nil {
				data = append(data, '\n')
			} else {
				data = []byte{} // an empty payload is still data
			}
			data = append(data, v...)
		}
		if err != nil {
			return raw, data, err
		}
	}
}

// line reads one line, its end included, of any length up to the cap.
func (r *sseReader) line() ([]byte, error) {
	var out []byte
	for {
		b, err := r.br.ReadSlice('\n')
		out = append(out, b...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return out, err
		}
		if len(out) > maxUpstreamEvent {
			return nil, errEventTooLarge
		}
	}
}
