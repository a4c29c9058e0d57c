package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"zhiyan/bot"
	"zhiyan/builtin"
	"zhiyan/db"
	"zhiyan/server"
	"zhiyan/server/guard"
	"zhiyan/store"
)

// stopServe, when set (by tests), stops `zhiyan serve` like a signal.
var stopServe chan struct{}

// shutdownGrace is how long in-flight requests may run after a signal.
const shutdownGrace = 10 * time.Second

func serveCmd(args []string, stdout, stderr io.Writer) error {
	const usageLine = "serve [flags] [MODEL ...]"
	fs := newFlags("serve", usageLine, stderr)
	host := fs.String("host", envOr("ZHIYAN_HOST", "127.0.0.1"), "address to listen on (env ZHIYAN_HOST); other than loopback needs an API key")
	port := fs.String("port", envOr("ZHIYAN_PORT", "11435"), "port to listen on, 0 for any free one (env ZHIYAN_PORT)")
	storeDir := fs.String("models", "", modelsFlagHelp+"; every model in it is served")
	ggufDir := fs.String("gguf-dir", "", "also serve every .gguf file in this directory, named by its file name")
	parallel := fs.Int("parallel", 0, "sequences each model decodes together (default 4)")
	ctxLen := fs.Int("ctx", 0, "context length per sequence (default: the model's, at most 4096)")
	threads := fs.Int("threads", 0, "threads per model (default: every core)")
	keepAlive := fs.Duration("keep-alive", server.DefaultKeepAlive, "how long a model stays loaded after its last request; 0 unloads at once, negative never")
	maxLoaded := fs.Int("max-loaded", 1, "models kept in memory at once")
	var keys, hosts, origins listFlag
	fs.Var(&keys, "api-key", "require this API key as 'Authorization: Bearer KEY' (repeatable; env ZHIYAN_API_KEY, or ZHIYAN_API_KEYS comma-separated)")
	fs.Var(&hosts, "allow-host", "also accept this Host header, e.g. a reverse proxy's name (repeatable)")
	fs.Var(&origins, "allow-origin", "let web pages from this origin call the API, e.g. https://app.example (repeatable)")
	var upstreams, upstreamKeys listFlag
	fs.Var(&upstreams, "upstream", "serve model NAME from an OpenAI-compatible server (vLLM, SGLang, zhiyan): NAME=URL or NAME=URL#REMOTE-MODEL, URL like http://10.0.0.5:8000/v1 (repeatable)")
	fs.Var(&upstreamKeys, "upstream-key", "API key for upstream NAME: NAME=KEY (repeatable; better env ZHIYAN_UPSTREAM_KEY_<NAME>, NAME in capitals, other characters '_')")
	upstreamTimeout := fs.Duration("upstream-timeout", server.DefaultUpstreamTimeout, "how long an upstream may stay silent (before answering or between streamed events); 0 or less waits for ever")
	dsn := fs.String("db", os.Getenv("ZHIYAN_DB"), "accounts and conversations database: postgres://… for PostgreSQL, else a SQLite file (default: zhiyan.db in the models directory; env ZHIYAN_DB)")
	noWeb := fs.Bool("no-web", false, "serve only the APIs: no web chat, no accounts")
	noAutoPull := fs.Bool("no-auto-pull", false, "answer 404 for a model not downloaded yet instead of pulling it on first use")
	configPath := fs.String("config", os.Getenv("ZHIYAN_CONFIG"), "TOML configuration file: its [channels] section serves the chat-platform bots under /channel/ (see the README; env ZHIYAN_CONFIG)")
	requireAuth := fs.Bool("require-auth", false, "require an API key or a signed-in session on /v1 and /api even on loopback")
	runsDir := fs.String("runs", "", "directory of training runs (zhiyan train --out DIR/NAME) that administrators watch live in the web chat (default: runs in the models directory)")
	secure := fs.Bool("secure-cookies", false, "mark cookies Secure (when users reach zhiyan over HTTPS, e.g. behind a proxy)")
	verbose := fs.Bool("verbose", false, "log debug details")
	args, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if k := os.Getenv("ZHIYAN_API_KEY"); k != "" {
		keys = append(keys, k)
	}
	for _, k := range strings.Split(os.Getenv("ZHIYAN_API_KEYS"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if p, err := strconv.Atoi(*port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("port %q is not a port number", *port)
	}
	addr := net.JoinHostPort(*host, *port)
	if *noWeb {
		if err := guard.RequireKeyOffLoopback(addr, len(keys)); err != nil {
			return fmt.Errorf("%w (give --api-key KEY or set ZHIYAN_API_KEY)", err)
		}
	} else if guard.RequireKeyOffLoopback(addr, 0) != nil {
		// On a network, the accounts' keys and sessions guard the APIs.
		*requireAuth = true
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ups, err := upstreamConfig(upstreams, upstreamKeys, os.Getenv)
	if err != nil {
		return err
	}
	if *upstreamTimeout <= 0 {
		*upstreamTimeout = -1 // the server's "no limit"
	}
	if err := checkStoreDir(*storeDir); err != nil {
		return err
	}
	st, err := store.Open(*storeDir)
	if err != nil {
		return err
	}
	files, err := serveModels(args, *storeDir, stderr)
	if err != nil {
		return err
	}
	if len(args) == 0 && *ggufDir == "" {
		// Named nothing: serve the store, with the built-in model in it.
		if _, err := builtin.Install(st); err != nil {
			return err
		}
	}
	var channels *bot.Config
	if *configPath != "" {
		cfg, err := loadServeConfig(*configPath)
		if err != nil {
			return err
		}
		if channels, err = cfg.Channels.bots(); err != nil {
			return fmt.Errorf("%s: %w", *configPath, err)
		}
		if channels != nil && *noWeb {
			return fmt.Errorf("the chat-platform bots need the accounts database: drop --no-web")
		}
	}
	var database *db.DB
	if !*noWeb {
		if *dsn == "" {
			*dsn = filepath.Join(st.Root(), "zhiyan.db")
		}
		if database, err = db.Open(context.Background(), *dsn); err != nil {
			return err
		}
		defer database.Close()
		if *runsDir == "" {
			*runsDir = filepath.Join(st.Root(), "runs")
		}
		if *runsDir, err = filepath.Abs(*runsDir); err != nil {
			return err
		}
	}
	srv, err := server.New(server.Config{
		DB: database, SecureCookies: *secure, RequireAuth: *requireAuth, Channels: channels, RunsDir: *runsDir,
		Addr: addr, Models: files, ModelDir: *ggufDir, Store: st, AutoPull: !*noAutoPull,
		Parallel: *parallel, Context: *ctxLen, Threads: *threads,
		KeepAlive: *keepAlive, MaxLoaded: *maxLoaded,
		APIKeys: keys, AllowedHosts: hosts, AllowedOrigins: origins,
		Upstreams: ups, UpstreamTimeout: *upstreamTimeout,
		Logger: log,
	})
	if err != nil {
		return err
	}
	if list, err := st.List(); err == nil && onlyBuiltin(list) && len(files) == 0 && *ggufDir == "" && len(ups) == 0 {
		log.Info("serving only the small built-in model: pull a real one with 'zhiyan pull qwen3:0.6b' (zhiyan list --catalog shows more) or POST /api/pull", "store", st.Root())
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "zhiyan serving on http://%s\n", l.Addr())
	link, err := srv.SetupLink(context.Background(), "http://"+l.Addr().String())
	if err != nil {
		l.Close()
		return err
	}
	if link != "" {
		fmt.Fprintf(stdout, "first start: create the administrator at %s (the link works once)\n", link)
	}
	return serveUntilSignal(srv, l, stderr)
}

// checkStoreDir refuses a directory of loose .gguf files as the store:
// --models used to mean that, and the store would fill it with its own
// subdirectories.
func checkStoreDir(dir string) error {
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "manifests")); err == nil {
		return nil
	}
	if ggufs, _ := filepath.Glob(filepath.Join(dir, "*.gguf")); len(ggufs) > 0 {
		return fmt.Errorf("%s holds .gguf files but is not a model store: serve them with --gguf-dir %s (--models is the store, as in zhiyan pull)", dir, dir)
	}
	return nil
}

// serveModels sorts the MODEL arguments: files are served by their base
// names (returned), names are the store's and are pulled now if missing,
// as run does, so the first request does not wait for a download.
func serveModels(args []string, storeDir string, stderr io.Writer) ([]string, error) {
	var files []string
	for _, arg := range args {
		if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
			files = append(files, arg)
			continue
		}
		if _, err := modelPath(arg, storeDir, true, stderr); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// serveUntilSignal serves until SIGINT or SIGTERM, then shuts down
// gracefully; a second signal stops waiting for in-flight requests.
func serveUntilSignal(srv *server.Server, l net.Listener, stderr io.Writer) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case err := <-served:
		return err
	case <-sig:
	case <-stopServe:
	}
	fmt.Fprintln(stderr, "zhiyan serve: shutting down (in-flight requests may finish; signal again to stop now)")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := srv.Shutdown(ctx)
	if serr := <-served; serr != nil {
		return serr
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "zhiyan serve: requests still running were ended")
		return nil
	}
	return err
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// onlyBuiltin reports a store holding nothing but the built-in model.
func onlyBuiltin(list []store.Model) bool {
	for _, m := range list {
		if !strings.HasPrefix(m.Name, builtin.Name+":") {
			return false
		}
	}
	return true
}
