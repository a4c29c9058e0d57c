package web

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// The UI is plain JavaScript and CSS written for zhiyan: the files in
// static/ are the source and what the binary serves, with no build step.
//
//go:embed static
var staticFS embed.FS

func (a *App) index(w http.ResponseWriter, r *http.Request) {
	a.serveFile(w, r, "index.html")
}

func (a *App) static(w http.ResponseWriter, r *http.Request) {
	a.serveFile(w, r, r.PathValue("file"))
}

func (a *App) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	name = path.Clean(name)
	if !fs.ValidPath(name) || strings.HasPrefix(name, ".") {
		http.NotFound(w, r)
		return
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	securityHeaders(h)
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	// The page always asks for the current assets; they are small.
	h.Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}
