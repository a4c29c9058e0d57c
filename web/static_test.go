package web

import (
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// The UI has no build step: the files in static/ are the source. These
// tests check that what index.html and the scripts load is embedded, and
// that nothing is fetched from elsewhere (the page works offline).
func TestAssetsEmbeddedAndLocal(t *testing.T) {
	ref := regexp.MustCompile(`(?:src|href)="([^"]+)"|from\s+"([^"]+)"|import\s*\(\s*"([^"]+)"`)
	seen := map[string]bool{}
	queue := []string{"index.html"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		b, err := staticFS.ReadFile("static/" + name)
		if err != nil {
			t.Errorf("%s is referenced but not embedded", name)
			continue
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			u := m[1] + m[2] + m[3]
			switch {
			case strings.HasPrefix(u, "/app/static/"):
				queue = append(queue, strings.TrimPrefix(u, "/app/static/"))
			case strings.HasPrefix(u, "./"):
				queue = append(queue, strings.TrimPrefix(u, "./"))
			case strings.Contains(u, "${"):
				// a template literal in a script: not an asset
			default:
				t.Errorf("%s references %q, which is not an embedded asset", name, u)
			}
		}
	}
	for _, want := range []string{"app.js", "api.js", "i18n.js", "markdown.js", "presets.js", "admin.js", "style.css", "icon.svg"} {
		if !seen[want] {
			t.Errorf("%s is not reachable from index.html", want)
		}
	}
	// Every embedded file is used, and none names a remote URL (an SVG's
	// XML namespace is a name, not a fetch).
	err := fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(path, "static/")
		if !seen[name] {
			t.Errorf("%s is embedded but unused", name)
		}
		b, _ := staticFS.ReadFile(path)
		text := strings.ReplaceAll(string(b), `xmlns="http://www.w3.org/2000/svg"`, "")
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9-]+\.[a-z]`).FindString(text); m != "" {
			t.Errorf("%s references a remote URL (%q)", name, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestServesUI(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		path   string
		status int
		ctype  string
	}{
		{"/", 200, "text/html"},
		{"/app/static/app.js", 200, "javascript"},
		{"/app/static/style.css", 200, "text/css"},
		{"/app/static/missing.js", 404, ""},
		{"/app/static/../web.go", 404, ""},
		{"/app/static/%2e%2e/web.go", 404, ""},
		{"/app/nothing", 404, "application/json"},
		{"/elsewhere", 404, ""},
	}
	for _, tt := range tests {
		resp, err := http.Get(e.srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(resp.Header.Get("Content-Type"), tt.ctype) {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), tt.status, tt.ctype)
		}
		if tt.status == 200 {
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("GET %s: Content-Security-Policy %q", tt.path, csp)
			}
			if len(body) == 0 {
				t.Errorf("GET %s: empty body", tt.path)
			}
		}
	}
}
