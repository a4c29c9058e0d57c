package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
)

// stream writes a streamed response: Server-Sent Events (OpenAI) or
// newline-delimited JSON (Ollama). Nothing is written until the first event,
// so a request refused before generating (busy, prompt too long) still gets
// a proper status and error body. Every write has its own deadline, so a
// client that stops reading cannot hold a slot for longer than that; a failed
// write makes every later one fail, which ends the generation.
type stream struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	sse      bool
	deadline time.Duration

	mu      sync.Mutex // n>1 choices write from several goroutines
	started bool
	err     error // the first write error; sticky
}

func newStream(w http.ResponseWriter, sse bool, deadline time.Duration) *stream {
	return &stream{w: w, rc: http.NewResponseController(w), sse: sse, deadline: deadline}
}

// errStreamClosed is returned by writes after the stream has ended.
var errStreamClosed = errors.New("stream already ended")

// send writes one event holding v as JSON.
func (s *stream) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if s.sse {
		return s.write("data: " + string(b) + "\n\n")
	}
	return s.write(string(b) + "\n")
}

// done writes OpenAI's end-of-stream marker.
func (s *stream) done() error { return s.write("data: [DONE]\n\n") }

// Started reports whether any byte has been written.
func (s *stream) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

func (s *stream) write(text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if !s.started {
		h := s.w.Header()
		if s.sse {
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Content-Type", "application/x-ndjson")
		}
		h.Set("X-Accel-Buffering", "no") // proxies must not hold events back
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	if s.deadline > 0 {
		// Not every ResponseWriter supports deadlines (httptest recorders):
		// then the write simply has none.
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.deadline))
	}
	if _, err := s.w.Write([]byte(text)); err != nil {
		s.err = err
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.err = err
		return err
	}
	return nil
}

// close marks the stream ended; later writes fail. (net/http clears the
// write deadline after the handler returns.)
func (s *stream) close() {
	s.mu.Lock()
	if s.err == nil {
		s.err = errStreamClosed
	}
	s.mu.Unlock()
}
