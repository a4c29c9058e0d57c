// Package deploy holds deployment examples; its test checks them against
// the module so they do not rot: the systemd unit's keys and the
// Containerfile's build commands.
package deploy

import (
	"bufio"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// unitFile reads a systemd unit: section → key → values (keys may repeat).
func unitFile(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, "\\") {
				t.Fatalf("%s:%d: %q is not KEY=VALUE in a section", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

func TestSystemdUnit(t *testing.T) {
	u := unitFile(t, "zhiyan.service")
	svc := u["Service"]
	one := func(k string) string {
		if len(svc[k]) != 1 {
			t.Errorf("[Service] %s is set %d times, want once", k, len(svc[k]))
			return ""
		}
		return svc[k][0]
	}
	if user := one("User"); user == "" || user == "root" {
		t.Errorf("User=%q: want a dedicated user", user)
	}
	home := ""
	for _, e := range svc["Environment"] {
		if v, ok := strings.CutPrefix(e, "ZHIYAN_HOME="); ok {
			home = v
		}
	}
	if home == "" {
		t.Error("no Environment=ZHIYAN_HOME=…")
	}
	if rw := one("ReadWritePaths"); !slices.Contains(strings.Fields(rw), home) {
		t.Errorf("ReadWritePaths=%q does not hold ZHIYAN_HOME %q", rw, home)
	}
	if one("EnvironmentFile") == "" {
		t.Error("no EnvironmentFile for the API key")
	}
	for k, want := range map[string]string{"NoNewPrivileges": "true", "ProtectSystem": "strict", "ProtectHome": "true", "PrivateTmp": "true"} {
		if got := one(k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	exec := strings.Fields(one("ExecStart"))
	if len(exec) < 3 || !filepath.IsAbs(exec[0]) || filepath.Base(exec[0]) != "zhiyan" || exec[1] != "serve" || !slices.Contains(exec, "--host") {
		t.Errorf("ExecStart=%q: want /…/zhiyan serve --host …", exec)
	}
	if len(u["Install"]["WantedBy"]) == 0 || len(u["Unit"]["Description"]) == 0 {
		t.Error("[Unit] Description or [Install] WantedBy missing")
	}
}

func TestContainerfile(t *testing.T) {
	data, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	root := ".."
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module (\S+)`).FindSubmatch(gomod)
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if module == nil || goVersion == nil {
		t.Fatalf("go.mod lacks module or go lines")
	}
	if !strings.Contains(text, "FROM docker.io/library/golang:"+string(goVersion[1])+" AS build") {
		t.Errorf("the build stage is not golang:%s, the go.mod's version", goVersion[1])
	}
	builds := regexp.MustCompile(`CGO_ENABLED=0 go build [^&]*?-o (\S+) (\./\S+)`).FindAllStringSubmatch(text, -1)
	if len(builds) == 0 || strings.Count(text, "go build") != len(builds) {
		t.Fatalf("every go build must have CGO_ENABLED=0, -o and a ./package: found %d of %d", len(builds), strings.Count(text, "go build"))
	}
	for _, b := range builds {
		dir := filepath.Join(root, filepath.FromSlash(b[2]))
		if !isMain(t, dir) {
			t.Errorf("go build %s: %s is not a main package", b[2], dir)
		}
		if !strings.Contains(text, "/out/"+filepath.Base(b[1])) || !strings.Contains(text, "COPY --from=build /out/") {
			t.Errorf("%s is built but not copied into the runtime image", b[1])
		}
	}
	if !slices.ContainsFunc(builds, func(b []string) bool { return b[2] == "./cmd/zhiyan" }) {
		t.Error("the zhiyan command is not built")
	}
	for _, f := range regexp.MustCompile(`(?m)^COPY (go\.\S+) (go\.\S+) `).FindStringSubmatch(text)[1:] {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("COPY %s: %v", f, err)
		}
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM \S+ AS build$`), regexp.MustCompile(`(?m)^FROM \S+$`), // two stages
		regexp.MustCompile(`(?m)^USER [1-9]\d*(:\d+)?$`), // not root
		regexp.MustCompile(`(?m)^VOLUME \["(/\S+)"\]$`),
		regexp.MustCompile(`(?m)^ENV ZHIYAN_HOME=/\S+$`),
		regexp.MustCompile(`(?m)^EXPOSE 11435$`),
		regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD .*http://127\.0\.0\.1:11435/health`),
		regexp.MustCompile(`(?m)^CMD \["serve", "--host", "0\.0\.0\.0"`),
	} {
		if !want.MatchString(text) {
			t.Errorf("Containerfile lacks %s", want)
		}
	}
	vol := regexp.MustCompile(`(?m)^VOLUME \["(/\S+)"\]$`).FindStringSubmatch(text)
	if vol != nil && !strings.Contains(text, "ENV ZHIYAN_HOME="+vol[1]+"\n") {
		t.Errorf("the volume %s is not ZHIYAN_HOME", vol[1])
	}
}

// isMain reports whether dir holds a main package's non-test Go files.
func isMain(t *testing.T, dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	found := false
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		if af.Name.Name != "main" {
			return false
		}
		found = true
	}
	return found
}
