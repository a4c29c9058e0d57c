package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"zhiyan/channel"
)

func TestReadBody(t *testing.T) {
	for _, tt := range []struct {
		body    string
		declare bool
		limit   int64
		err     error
	}{
		{"12345", true, 5, nil},
		{"12345", false, 5, nil},
		{"123456", true, 5, channel.ErrTooLarge},
		{"123456", false, 5, channel.ErrTooLarge},
		{"", true, 0, nil},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		if !tt.declare {
			r.Body = io.NopCloser(strings.NewReader(tt.body))
			r.ContentLength = -1
		}
		b, err := ReadBody(r, tt.limit)
		if !errors.Is(err, tt.err) || (tt.err == nil && (err != nil || string(b) != tt.body)) {
			t.Errorf("ReadBody(%q, declared %v, limit %d) = %q, %v; want %v", tt.body, tt.declare, tt.limit, b, err, tt.err)
		}
	}
}

func TestDoJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, `{"got":%q,"ct":%q,"x":%q}`, b, r.Header.Get("Content-Type"), r.Header.Get("X-Test"))
		case "/err400json":
			w.WriteHeader(400)
			fmt.Fprint(w, `{"code":9}`)
		case "/err500":
			w.WriteHeader(500)
			fmt.Fprint(w, `oops`)
		case "/bad":
			fmt.Fprint(w, `not json`)
		case "/huge":
			fmt.Fprint(w, `{"a":"`+strings.Repeat("x", maxResponse)+`"}`)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	var out map[string]any
	if _, err := DoJSON(ctx, nil, "POST", srv.URL+"/echo", http.Header{"X-Test": {"1"}}, map[string]string{"t": "<&>"}, &out); err != nil {
		t.Fatal(err)
	}
	if out["got"] != `{"t":"<&>"}`+"\n" || out["ct"] != "application/json; charset=utf-8" || out["x"] != "1" {
		t.Fatalf("echo %v", out)
	}
	out = nil
	if status, err := DoJSON(ctx, nil, "GET", srv.URL+"/err400json", nil, nil, &out); err != nil || status != 400 || out["code"] != 9.0 {
		t.Fatalf("400 with JSON: %d, %v, %v", status, out, err)
	}
	for _, p := range []string{"/err500", "/bad", "/huge"} {
		if _, err := DoJSON(ctx, nil, "GET", srv.URL+p, nil, nil, &out); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}
